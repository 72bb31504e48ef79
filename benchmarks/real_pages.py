"""Real scanned pages end to end: held-out Hooker letters (PAGE XML) and CREMMA wills (ALTO).

    .venv/bin/python benchmarks/real_pages.py [--engines glyph,line,auto] [--split held-out|training]
                                              [--collections hooker,cremma] [--out DIR] [--record]

Each page is read as `hcrbatch run` reads it and scored by `hcrbatch eval-pages`'s own code
(`hcrbatch.evalpages`): CER and WER raw and corrected, line segmentation F1 by ink overlap, pages
with writing read as empty, reading-order errors. `held-out` (the default) is the pages the shipped
line model's manifest lists as held out from its training (10 % of each collection, by page); no
change is tuned on them. `training` is the other pages, for tuning.

Beside each collection's end-to-end CER, the line engine's line-by-line CER on the same pages' lines
(each transcribed line's own image from ../shared/data/<collection>-lines, corrected by the
lexicon), so that the gap is what page handling costs. With `--ocrmypdf`, OCRmyPDF + Tesseract on
the same pages in the same run, its text layer's lines scored by the same code. Per-page rows go to
OUT/<collection>-<engine>/.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
from lxml import etree
from PIL import Image

from hcrbatch.config import Config, CorrectConfig, IngestConfig, RecognizeConfig
from hcrbatch.elements import BBox, Char, Line, PageResult, Word
from hcrbatch.evalpages import evaluate_folder, held_out_pages, score_page, total, transcribed_images, write_scores
from hcrbatch.engines import make_engine
from hcrbatch.groundtruth import transcription_of

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from lines import line_level  # noqa: E402
from results import record  # noqa: E402
from run import ocrmypdf_version  # noqa: E402

DATA = HERE.parent.parent / "shared" / "data"
COLLECTIONS = {"hooker": "en", "cremma": "fr"}


def split_images(collection: str, split: str, held: set[str], every: int = 1) -> list[Path]:
    """The transcribed page images of `collection` in `split`: the line model's held-out pages (`held`)
    or the others, every `every`th in name order; a page whose transcription holds no text (a CREMMA
    will's envelope) is then left out, as `eval-pages` leaves it out."""
    folder = DATA / f"{collection}-pages"
    names = sorted(p.stem for p in folder.glob("*.xml"))
    chosen = [folder / f"{name}.jpg" for name in names if (name in held) == (split == "held-out")][::every]
    return [image for image in chosen if transcription_of(image).has_text]


def line_by_line(collection: str, pages: set[str], lang: str, models_dir: Path, char_lm: str) -> float:
    """The line engine's corrected CER on the transcribed line images of `pages`, decoded as the
    pipeline decodes them (with the character language model `char_lm` names)."""
    from hcrbatch.train.linedata import read_line_folder

    samples = [s for s in read_line_folder(DATA / f"{collection}-lines") if s.page.split("/", 1)[1] in pages]
    cfg = RecognizeConfig(models_dir=models_dir, char_lm=char_lm)
    reader = make_engine(replace(cfg, engine="line"), lang).reader
    _, corrected, _ = line_level(reader, samples, lang)
    return corrected.cer


TESSERACT_LANG = {"en": "eng", "fr": "fra"}


def ocrmypdf_page(image: Path, out: Path, lang: str, dpi: int) -> PageResult:
    """The page through OCRmyPDF (Tesseract), its text layer's lines and words read back with
    poppler's `pdftotext -bbox-layout` and put in the image's pixels."""
    pdf = out / f"{image.stem}.pdf"
    subprocess.run(["ocrmypdf", "-q", "-l", TESSERACT_LANG[lang], "--image-dpi", str(dpi), "--output-type", "pdf",
                    str(image), str(pdf)], check=False, capture_output=True)  # fmt: skip
    width, height = Image.open(image).size
    if not pdf.is_file():
        return PageResult(0, width, height, dpi, 0.0, ())
    layout = subprocess.run(["pdftotext", "-bbox-layout", str(pdf), "-"], capture_output=True, text=True).stdout
    root = etree.fromstring(layout.encode(), etree.HTMLParser())
    page = root.find(".//page")
    scale = width / float(page.get("width"))
    lines = []
    for line in root.iter("line"):
        words = []
        for word in line.iter("word"):
            box = BBox(*(int(float(word.get(k)) * scale) for k in ("xmin", "ymin", "xmax", "ymax")))
            text = word.text or ""
            if text:
                words.append(Word(box, tuple(Char(box, (c,), (1.0,)) for c in text), text))
        if words:
            lines.append(Line(BBox.enclosing([w.bbox for w in words]), tuple(words), engine="tesseract"))
    return PageResult(0, width, height, dpi, 0.0, tuple(lines))


def ocrmypdf_scores(folder: Path, pages: set[str], lang: str, out: Path) -> list:
    out.mkdir(parents=True, exist_ok=True)
    scores = []
    for file, gt in transcribed_images(Config(folder, out), only=pages):
        result = ocrmypdf_page(file.path, out, lang, IngestConfig.dpi)
        gray = np.asarray(Image.open(file.path).convert("L"))
        scores.append(score_page(gt, result, gray, str(file.relative)))
    return scores


def confidence_ranks_pages(scores: list) -> str:
    """Spearman's rank correlation of the pages' mean confidence with their CER: near -1 where
    confidence tells the pages read worst, near 0 where it tells nothing ('' without confidences, as
    OCRmyPDF's text layer has none)."""
    pages = pd.DataFrame([(s.mean_confidence, s.cer) for s in scores if s.mean_confidence is not None])
    correlation = pages[0].rank().corr(pages[1].rank()) if len(pages) >= 3 else float("nan")
    return "" if np.isnan(correlation) else f"{correlation:+.2f}"  # none where every page has one confidence


def row(collection: str, engine: str, scores: list, line_cer: float) -> str:
    all_pages = total(scores)
    return (
        f"| {collection} | {engine} | {len(scores)} | {all_pages.cer:.2%} | {all_pages.cer_raw:.2%} | "
        f"{all_pages.wer:.2%} | {all_pages.wer_raw:.2%} | {all_pages.line_f1:.3f} | "
        f"{sum(s.read_as_empty for s in scores)} | {sum(s.row()['suspect'] for s in scores)} | "
        f"{all_pages.reading_order_errors} | {confidence_ranks_pages(scores)} | {line_cer:.2%} | "
        f"{all_pages.cer - line_cer:+.2%} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", default="glyph,line,auto")
    parser.add_argument("--collections", default=",".join(COLLECTIONS))
    parser.add_argument("--split", choices=["held-out", "training"], default="held-out")
    parser.add_argument("--out", type=Path, default=HERE / "data" / "real-pages")
    parser.add_argument("--every", type=int, default=1, help="only every Nth page of the split (quicker trials)")
    parser.add_argument("--ocrmypdf", action="store_true", help="also OCRmyPDF + Tesseract on the same pages")
    parser.add_argument("--models-dir", type=Path, default=RecognizeConfig.models_dir)
    parser.add_argument("--char-lm", default=RecognizeConfig.char_lm, help="as hcrbatch run's --char-lm")
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args()
    held = held_out_pages(Config(DATA, args.out, recognize=RecognizeConfig(models_dir=args.models_dir)))
    rows = []
    for collection in args.collections.split(","):
        lang = COLLECTIONS[collection]
        folder = DATA / f"{collection}-pages"
        pages = {image.stem for image in split_images(collection, args.split, held, args.every)}
        line_cer = line_by_line(collection, pages, lang, args.models_dir, args.char_lm)
        for engine in args.engines.split(","):
            cfg = Config(folder, args.out, workers=1, recognize=RecognizeConfig(engine=engine, models_dir=args.models_dir, char_lm=args.char_lm),
                         correct=CorrectConfig(lang=lang))  # fmt: skip
            scores = evaluate_folder(cfg, only=pages)
            write_scores(scores, args.out / f"{collection}-{engine}")
            rows.append(row(collection, engine, scores, line_cer))
            print(rows[-1], flush=True)
        if args.ocrmypdf:
            scores = ocrmypdf_scores(folder, pages, lang, args.out / f"{collection}-ocrmypdf")
            write_scores(scores, args.out / f"{collection}-ocrmypdf")
            rows.append(row(collection, f"OCRmyPDF {ocrmypdf_version()} + Tesseract", scores, line_cer))
            print(rows[-1], flush=True)
    header = (
        "| collection | engine | pages | CER | CER raw | WER | WER raw | line F1 | read as empty | flagged suspect | "
        "reading-order errors | confidence-CER rank correlation | line-by-line CER | gap |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    )
    table = header + "\n" + "\n".join(rows)
    print(table)
    if args.record:
        record(" ".join(["python benchmarks/real_pages.py", *sys.argv[1:]]), table, f"; {args.split} pages")


if __name__ == "__main__":
    main()

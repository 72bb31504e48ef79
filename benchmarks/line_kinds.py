"""The line-kind classifier (`--engine auto`'s choice of Tesseract), on lines it never trained on.

    .venv/bin/python benchmarks/line_kinds.py [--record]

1. Confusion matrix on test lines: print set in the FreeFont faces (never trained on), real
   handwritten lines of the pages the line model holds out, and lines rendered in handwriting fonts
   (a seed never trained on); each line's kind by the manifest's threshold, and how many of the
   lines called print Tesseract is then sure of (`tesseract_min_confidence`): what auto gives it.
2. On the held-out real pages (Hooker letters, CREMMA wills), read as the pipeline reads them: how
   many segmented lines are called print, and how many of those Tesseract takes, with their text
   (letterheads and printed forms are print; any handwriting there is an error).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from hcrbatch.config import Config, RecognizeConfig
from hcrbatch.elements import BBox
from hcrbatch.engines import EnginePage
from hcrbatch.evalpages import held_out_pages, transcribed_images
from hcrbatch.ingest import iter_pages
from hcrbatch.linekind import LineKindClassifier, line_kind_manifest
from hcrbatch.lineengine import line_crops
from hcrbatch.preprocess import preprocess
from hcrbatch.tesseract import TesseractReader
from hcrbatch.train.linedata import read_line_folder
from hcrbatch.train.linekinds import TEST_FONT_PREFIX, print_fonts, print_lines
from hcrbatch.train.synthlines import synthetic_lines

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from results import record  # noqa: E402

DATA = HERE.parent.parent / "shared" / "data"
COLLECTIONS = {"hooker": "en", "cremma": "fr"}


def test_lines(held: set[str]) -> dict[str, list]:
    fonts = [f for f in print_fonts() if f.name.startswith(TEST_FONT_PREFIX)]
    real = [s for c in COLLECTIONS for s in read_line_folder(DATA / f"{c}-lines") if s.page.split("/", 1)[1] in held]
    return {
        "print (FreeFont, never trained on)": print_lines(600, fonts, seed=7),
        "handwriting (real, held-out pages)": real,
        "handwriting (fonts, unseen seed)": synthetic_lines(300, seed=7),
    }


def confusion_table(classifier: LineKindClassifier, tesseract: TesseractReader, groups: dict[str, list]) -> str:
    rows = []
    for name, samples in groups.items():
        probabilities = classifier.print_probabilities([s.image for s in samples])
        called = sum(p >= classifier.print_threshold for p in probabilities)
        taken = 0
        for sample, p in zip(samples, probabilities):
            if classifier.worth_reading(p):
                h, w = sample.image.shape
                taken += classifier.gives_tesseract(p, tesseract.read_line(sample.image, BBox(0, 0, w, h), 300)[1])
        rows.append(
            f"| {name} | {len(samples)} | {called} ({called / len(samples):.1%}) | {taken} ({taken / len(samples):.1%}) |"
        )
    return (
        f"print threshold {classifier.print_threshold} with Tesseract's word confidence at least "
        f"{classifier.tesseract_min_confidence}, or {classifier.consider_threshold} with at least "
        f"{classifier.tesseract_sure_confidence}\n\n"
        "| test lines | lines | called print | read by Tesseract |\n|---|---|---|---|\n" + "\n".join(rows)
    )


def real_pages_table(classifier: LineKindClassifier, held: set[str]) -> tuple[str, list]:
    rows, examples = [], []
    for collection, lang in COLLECTIONS.items():
        cfg = Config(DATA / f"{collection}-pages", Path("unused"))
        reader = TesseractReader(lang)
        lines = called = taken = 0
        started = time.monotonic()
        pages = transcribed_images(cfg, only=held)
        for file, _ in pages:
            page = next(iter_pages(file.path, cfg.ingest))
            read = EnginePage(preprocess(page, cfg.preprocess), 0, page.dpi, cfg.segment)
            gray = read.clean.gray
            crops = line_crops(list(read.segmentation.lines), gray)
            probabilities = classifier.print_probabilities([gray[b.top : b.bottom, b.left : b.right] for b in crops])
            lines += len(crops)
            for crop, p in zip(crops, probabilities):
                called += p >= classifier.print_threshold
                if not classifier.worth_reading(p):
                    continue
                words, confidence = reader.read_line(gray, crop, page.dpi)
                if words and classifier.gives_tesseract(p, confidence):
                    taken += 1
                    examples.append(f"{collection} {file.path.stem}: {' '.join(w.text for w in words)[:70]!r}")
        seconds = (time.monotonic() - started) / max(1, len(pages))
        rows.append(f"| {collection} | {len(pages)} | {lines} | {called} | {taken} | {seconds:.1f} |")
    table = (
        "| held-out real pages | pages | segmented lines | called print | read by Tesseract | s/page (segmenting included) |\n"
        "|---|---|---|---|---|---|\n" + "\n".join(rows)
    )
    return table, examples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models-dir", type=Path, default=RecognizeConfig.models_dir)
    parser.add_argument("--model", default=RecognizeConfig.line_kind_model)
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args()
    classifier = LineKindClassifier(line_kind_manifest(args.models_dir, args.model))
    tesseract = TesseractReader("en")
    held = held_out_pages(Config(DATA, Path("unused")))
    confusion = confusion_table(classifier, tesseract, test_lines(held))
    print(confusion, flush=True)
    pages, examples = real_pages_table(classifier, held)
    print(pages)
    print("\n".join(examples))
    body = (
        confusion
        + "\n\n"
        + pages
        + ("\n\nLines Tesseract read:\n\n" + "\n".join(f"- {e}" for e in examples) if examples else "")
    )
    if args.record:
        record(" ".join(["python benchmarks/line_kinds.py", *sys.argv[1:]]), body, "; line-kind classifier")


if __name__ == "__main__":
    main()

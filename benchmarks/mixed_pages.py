"""Pages that mix print, typescript and handwriting: CER per kind of line, for each engine and auto.

    .venv/bin/python benchmarks/mixed_pages.py [--pages 12] [--engines glyph,line,tesseract,auto]
                                               [--ocrmypdf] [--record]

Each page is drawn here, as a letter of the collections looks: a printed letterhead (FreeSerif or
FreeSans, capitals and a smaller address line), a typed body (FreeMono, a typewriter face), and
handwritten lines, which are real lines: transcribed line images of the Hooker letters' pages that
the shipped line model holds out (so no model here has seen them), set onto the page with their own
paper. FreeFont is the family the line-kind classifier never trains on, so print here is in faces
it has not seen. Every line is its own annotated region, so `hcrbatch.evalpages.score_page` scores
each kind of line inside its own regions (lines read elsewhere count for no kind). Also the
line-kind classifier's confusion matrix on the segmented lines of these pages (a line takes the kind
of the region holding most of its box) and seconds per page.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from hcrbatch.config import Config, CorrectConfig, RecognizeConfig
from hcrbatch.elements import BBox, PageImage
from hcrbatch.evalpages import held_out_pages, score_page, total
from hcrbatch.groundtruth import GTLine, GTPage, GTRegion
from hcrbatch.api import Reader
from hcrbatch.train.linedata import read_line_folder

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from results import record  # noqa: E402

DATA = HERE.parent.parent / "shared" / "data"
FONTS = Path("/usr/share/fonts/truetype/freefont")
KINDS = ("print", "typed", "handwritten")
DPI = 300
HANDWRITING_HEIGHT = 170  # rows of a line image on the page: writing about twice the typescript's height
LETTERHEADS = ["ROYAL BOTANIC GARDENS, KEW", "THE LINNEAN SOCIETY OF LONDON", "BRITISH MUSEUM (NATURAL HISTORY)",
               "OFFICE OF THE COLONIAL SECRETARY", "UNIVERSITY COLLEGE, LONDON"]  # fmt: skip
ADDRESSES = ["Burlington House, Piccadilly, W.", "Cromwell Road, London, S.W.", "Gower Street, London, W.C.",
             "Richmond, Surrey.", "Downing Street, S.W."]  # fmt: skip
BODY = (
    "Dear Sir, I am directed to acknowledge the receipt of your letter of the 14th instant, and to inform "
    "you that the specimens referred to therein have been forwarded to the Herbarium for examination. "
    "The Director desires me to add that a report upon them will be sent to you as soon as the work now in "
    "hand permits, and that he will be glad to receive any further collections you may be able to make "
    "during the coming season. I am, Sir, your obedient servant."
)


def wrap(text: str, font: ImageFont.FreeTypeFont, width: int) -> list[str]:
    lines, current = [], ""
    for word in text.split():
        trial = f"{current} {word}".strip()
        if font.getlength(trial) > width and current:
            lines.append(current)
            current = word
        else:
            current = trial
    return [*lines, current] if current else lines


def draw_mixed_page(rng: np.random.Generator, handwritten: list) -> tuple[np.ndarray, list[tuple[str, str, BBox]]]:
    """A 300-dpi A4 page and its lines as (kind, text, box)."""
    width, height = 2480, 3508
    page = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(page)
    truth: list[tuple[str, str, BBox]] = []
    y = 180
    serif = "FreeSerifBold.ttf" if rng.random() < 0.5 else "FreeSansBold.ttf"
    head = ImageFont.truetype(str(FONTS / serif), int(rng.integers(56, 72)))
    small = ImageFont.truetype(str(FONTS / serif.replace("Bold", "")), int(rng.integers(38, 46)))
    for text, font in ((str(rng.choice(LETTERHEADS)), head), (str(rng.choice(ADDRESSES)), small)):
        x = (width - font.getlength(text)) / 2
        draw.text((x, y), text, font=font, fill=15)
        truth.append(("print", text, BBox(*draw.textbbox((x, y), text, font=font))))
        y += int(font.size * 1.8)
    y += 120
    mono = ImageFont.truetype(str(FONTS / "FreeMono.ttf"), int(rng.integers(44, 52)))
    body = " ".join(BODY.split()[int(rng.integers(0, 20)) :])
    for text in wrap(body, mono, width - 500)[: int(rng.integers(4, 8))]:
        draw.text((250, y), text, font=mono, fill=int(rng.integers(20, 70)))
        truth.append(("typed", text, BBox(*draw.textbbox((250, y), text, font=mono))))
        y += int(mono.size * 1.9)
    y += 150
    pixels = np.asarray(page).copy()
    for sample in handwritten:
        image = sample.image.astype(np.float32)  # its paper brought to the page's white, as written on it
        image = np.clip(image * 255 / max(np.percentile(image, 90), 1), 0, 255).astype(np.uint8)
        scale = min(HANDWRITING_HEIGHT / image.shape[0], (width - 400) / image.shape[1])
        image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
        h, w = image.shape
        if y + h > height - 150:
            break
        x = 200 + int(rng.integers(0, 100))
        np.minimum(pixels[y : y + h, x : x + w], image, out=pixels[y : y + h, x : x + w])
        ink = np.argwhere(image < np.percentile(image, 90) - 40)
        top, left = ink.min(axis=0) if len(ink) else (0, 0)
        bottom, right = ink.max(axis=0) + 1 if len(ink) else (h, w)
        truth.append(("handwritten", sample.text, BBox(x + int(left), y + int(top), x + int(right), y + int(bottom))))
        y += int(h * 1.05)
    noisy = pixels.astype(np.float32) * rng.uniform(0.9, 0.97) + rng.normal(0, 4, pixels.shape)
    noisy = cv2.GaussianBlur(noisy, (0, 0), 0.7)
    return np.clip(noisy, 0, 255).astype(np.uint8), truth


def ground_truth(truth: list[tuple[str, str, BBox]], kind: str, shape: tuple[int, int]) -> GTPage:
    """The page's lines of `kind`, each its own region, as eval-pages reads a transcription."""
    regions = []
    for i, (line_kind, text, box) in enumerate(truth):
        if line_kind != kind:
            continue
        pad = max(6, box.height // 4)
        outline = ((box.left - pad, box.top - pad), (box.right + pad, box.top - pad),
                   (box.right + pad, box.bottom + pad), (box.left - pad, box.bottom + pad))  # fmt: skip
        line = GTLine(f"l{i}", outline, (), text, kind)
        regions.append(GTRegion(f"r{i}", outline, (line,), kind))
    return GTPage(Path("drawn.xml"), "drawn.png", shape[1], shape[0], tuple(regions), "drawn")


def held_out_handwriting() -> list:
    held = held_out_pages(Config(DATA, Path("unused")))
    return [s for s in read_line_folder(DATA / "hooker-lines") if s.page.split("/", 1)[1] in held]


def make_pages(count: int, seed: int) -> list[tuple[np.ndarray, list]]:
    rng = np.random.default_rng(seed)
    lines = held_out_handwriting()
    pages = []
    for _ in range(count):
        chosen = [lines[i] for i in rng.choice(len(lines), size=int(rng.integers(3, 7)), replace=False)]
        pages.append(draw_mixed_page(rng, chosen))
    return pages


def ocrmypdf_result(pixels: np.ndarray):
    sys.path.insert(0, str(HERE))
    from real_pages import ocrmypdf_page

    with tempfile.TemporaryDirectory() as scratch:
        image = Path(scratch) / "page.png"
        Image.fromarray(pixels).save(image, dpi=(DPI, DPI))
        return ocrmypdf_page(image, Path(scratch), "en", DPI)


def kind_of(box: BBox, truth: list[tuple[str, str, BBox]]) -> str | None:
    overlaps = [(max(0, min(box.bottom, t.bottom) - max(box.top, t.top)), kind) for kind, _, t in truth]
    best = max(overlaps, default=(0, None))
    return best[1] if best[0] > 0.5 * box.height else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=12)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--engines", default="glyph,line,tesseract,auto")
    parser.add_argument("--ocrmypdf", action="store_true", help="also OCRmyPDF + Tesseract on the same pages")
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args()
    pages = make_pages(args.pages, args.seed)
    engines = args.engines.split(",") + (["ocrmypdf"] if args.ocrmypdf else [])
    rows, confusion = [], {}
    for engine in engines:
        scores = {kind: [] for kind in KINDS}
        started = time.monotonic()
        if engine != "ocrmypdf":
            cfg = Config(Path("."), Path("unused"), workers=1, recognize=RecognizeConfig(engine=engine),
                         correct=CorrectConfig(lang="en"))  # fmt: skip
            reader = Reader(cfg)
        for n, (pixels, truth) in enumerate(pages):
            if engine == "ocrmypdf":
                result = ocrmypdf_result(pixels)
            else:
                result = reader.read_page(PageImage(Path(f"mixed-{n}.png"), 0, pixels, DPI))
            for kind in KINDS:
                scores[kind].append(score_page(ground_truth(truth, kind, pixels.shape), result, pixels, f"mixed-{n}"))
            if engine == "auto":
                for line in result.lines:
                    kind = kind_of(line.bbox, truth)
                    if kind and line.words:
                        said = "Tesseract" if line.engine == "tesseract" else "our engines"
                        confusion[(kind, said)] = confusion.get((kind, said), 0) + 1
        seconds = (time.monotonic() - started) / len(pages)
        name = "OCRmyPDF + Tesseract" if engine == "ocrmypdf" else f"--engine {engine}"
        cells = " | ".join(f"{total(scores[kind]).cer:.2%}" for kind in KINDS)
        every = total([s for kind in KINDS for s in scores[kind]]).cer
        rows.append(f"| {name} | {cells} | {every:.2%} | {seconds:.1f} |")
        print(rows[-1], flush=True)
    table = (
        f"{len(pages)} drawn pages (seed {args.seed}), {sum(len(t) for _, t in pages)} lines; CER after correction "
        "inside each kind's lines\n\n| engine | print | typed | handwritten | all lines | s/page |\n|---|---|---|---|---|---|\n"
        + "\n".join(rows)
    )
    if confusion:
        table += (
            "\n\n`--engine auto`, which engine read each segmented line, by the kind of line it lies on:\n\n"
            "| line kind | read by Tesseract | read by our engines |\n|---|---|---|\n"
            + "\n".join(
                f"| {kind} | {confusion.get((kind, 'Tesseract'), 0)} | {confusion.get((kind, 'our engines'), 0)} |"
                for kind in KINDS
            )
        )
    print(table)
    if args.record:
        record(
            " ".join(["python benchmarks/mixed_pages.py", *sys.argv[1:]]), table, "; mixed print, typed, handwritten"
        )


if __name__ == "__main__":
    main()

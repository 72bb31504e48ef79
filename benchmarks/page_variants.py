"""Do real pages read as well at other resolutions and in colour? Training pages, rescaled or tinted.

    .venv/bin/python benchmarks/page_variants.py [--variants x1.0,x1.5,x0.75,sepia] [--every 8] [--record]

Every `--every`th training page of the Hooker letters and the CREMMA wills (never the held-out ones),
read as `hcrbatch run` reads it (`--engine auto`) as scanned (`x1.0`), resized by a factor with its DPI
scaled alike (`x1.5`: a finer scan, `x0.75`: a coarser one), or tinted sepia as a colour scan of old
paper is (`sepia`), and scored by `eval-pages`' code against its transcription (rescaled with the page).
Other collections are scanned at other resolutions and in colour: a reading that holds across these
is a property of the pipeline, not of one archive's scanner.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

from hcrbatch.api import Reader
from hcrbatch.config import Config, CorrectConfig, IngestConfig
from hcrbatch.elements import PageImage
from hcrbatch.evalpages import held_out_pages, score_page, total
from hcrbatch.groundtruth import transcription_of
from hcrbatch.ingest import iter_pages
from hcrbatch.preprocess import to_gray

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from real_pages import split_images  # noqa: E402
from results import record  # noqa: E402

DATA = HERE.parent.parent / "shared" / "data"
COLLECTIONS = {"hooker": "en", "cremma": "fr"}


def variant_of(pixels: np.ndarray, dpi: float, variant: str) -> tuple[np.ndarray, float]:
    """The page as `variant` scans it: `x<factor>` resized, `sepia` tinted."""
    if variant.startswith("x"):
        factor = float(variant[1:])
        interpolation = cv2.INTER_CUBIC if factor > 1 else cv2.INTER_AREA
        return cv2.resize(pixels, None, fx=factor, fy=factor, interpolation=interpolation), dpi * factor
    if variant == "sepia":
        gray = to_gray(pixels).astype(np.float32)
        tinted = [gray * 0.95 + 10, gray * 0.85 + 15, gray * 0.65 + 20]  # red, green, blue
        return np.clip(np.stack(tinted, axis=-1), 0, 255).astype(np.uint8), dpi
    raise SystemExit(f"unknown variant {variant}: x<factor> or sepia")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", default="x1.0,x1.5,x0.75,sepia")
    parser.add_argument("--every", type=int, default=8)
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args()
    held = held_out_pages(Config(DATA, Path("unused")))
    rows = []
    for collection, lang in COLLECTIONS.items():
        paths = split_images(collection, "training", held, args.every)
        reader = Reader(Config(Path("."), Path("unused"), workers=1, correct=CorrectConfig(lang=lang)))
        cells = []
        for variant in args.variants.split(","):
            scores = []
            for path in paths:
                page = next(iter_pages(path, IngestConfig()))
                pixels, dpi = variant_of(page.pixels, page.dpi, variant)
                result = reader.read_page(PageImage(path, 0, pixels, dpi))
                scores.append(score_page(transcription_of(path), result, to_gray(pixels), path.name))
            cells.append(f"{total(scores).cer:.2%}")
            print(collection, variant, cells[-1], flush=True)
        rows.append(f"| {collection} | {len(paths)} | " + " | ".join(cells) + " |")
    header = "| collection | training pages | " + " | ".join(f"CER {v}" for v in args.variants.split(",")) + " |"
    table = "\n".join([header, "|---" * (len(args.variants.split(",")) + 2) + "|", *rows])
    print(table)
    if args.record:
        record(" ".join(["python benchmarks/page_variants.py", *sys.argv[1:]]), table, " (--engine auto)")


if __name__ == "__main__":
    main()

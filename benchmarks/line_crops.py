"""How much margin should a segmented line's crop have? The line model on lines framed like our crops.

    .venv/bin/python benchmarks/line_crops.py [--model lines] [--record]

The pipeline crops each line from the page to the segmenter's box (the extent of the line's ink)
plus `LINE_PAD` of its height above and below. Here each of the line model's *validation* lines
(never trained on, never a test line) has the neighbours' cut-off strokes painted out, is cut to its
ink's extent, and is padded by each candidate margin (paper added where the image ends); best-path
CER of each framing, against the images as the data's makers cut them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

from hcrbatch.config import RecognizeConfig
from hcrbatch.linereader import LineRecognizer, line_crop_box
from hcrbatch.elements import BBox
from hcrbatch.metrics import edit_distance, normalise_text
from hcrbatch.modelstore import load_manifest
from hcrbatch.train.linepages import without_neighbours

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from lines import validation_lines  # noqa: E402
from results import record  # noqa: E402

PADS = (0.0, 0.03, 0.05, 0.08, 0.12, 0.25)


def framed(image: np.ndarray, pad: float) -> np.ndarray:
    """The line cut to its ink's rows, plus `pad` of that height above and below, as the pipeline's
    crop would be (paper added beyond the image)."""
    _, ink = cv2.threshold(image, 0, 1, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    rows = np.flatnonzero(ink.any(axis=1))
    margin = image.shape[0]
    sheet = np.full((image.shape[0] + 2 * margin, image.shape[1]), int(np.percentile(image, 90)), np.uint8)
    sheet[margin : margin + image.shape[0]] = image
    box = BBox(0, int(rows[0]) + margin, image.shape[1], int(rows[-1]) + 1 + margin)
    crop = line_crop_box(box, sheet.shape[1], sheet.shape[0], pad)
    return sheet[crop.top : crop.bottom, crop.left : crop.right]


def cer(reader: LineRecognizer, images: list[np.ndarray], truths: list[str]) -> float:
    readings = reader.read(images)
    hypotheses = [normalise_text("".join(c.labels[0] for c in r.chars)) for r in readings]
    return sum(edit_distance(t, h) for t, h in zip(truths, hypotheses)) / sum(map(len, truths))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="lines")
    parser.add_argument("--record", action="store_true", help="append the table to benchmarks/RESULTS.md")
    args = parser.parse_args()
    manifest = load_manifest(RecognizeConfig().models_dir, args.model)
    validation = validation_lines(int(manifest.extra.get("split_seed", 0)), int(manifest.extra.get("seed", 0)))
    reader = LineRecognizer(manifest, RecognizeConfig(line_batch_size=32))
    truths = [normalise_text(s.text) for s in validation]
    cleaned = [without_neighbours(s.image) for s in validation]
    rows = ["| framing | best-path CER |", "|---|---|"]
    rows.append(f"| as cut by the data's makers | {cer(reader, cleaned, truths):.2%} |")
    for pad in PADS:
        rows.append(
            f"| ink extent + {pad:g} of its height | {cer(reader, [framed(i, pad) for i in cleaned], truths):.2%} |"
        )
        print(rows[-1], flush=True)
    table = "\n".join(rows)
    print(table)
    if args.record:
        record(f"python benchmarks/line_crops.py --model {args.model}", table, f"; {len(validation)} validation lines")


if __name__ == "__main__":
    main()

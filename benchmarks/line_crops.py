"""How much margin should a segmented line's crop have? The line model on lines framed like our crops.

    .venv/bin/python benchmarks/line_crops.py [--models-dir DIR] [--model lines] [--shifts] [--record]

The pipeline crops each line from the page to the segmenter's box (the extent of the line's ink)
plus `LINE_PAD` of its height above and below. Here each of the line model's *validation* lines
(never trained on, never a test line) has the neighbours' cut-off strokes painted out, is cut to its
ink's extent, and is padded by each candidate margin (paper added where the image ends); best-path
CER of each framing, against the images as the data's makers cut them.

With `--shifts`, instead: how much the reading depends on where the writing sits in the crop. The
validation lines as cut, moved up or down by a few of the network's 64 rows, or scaled in height
about their middle; and the reading of the probabilities averaged over the unmoved and the two moved
framings (test-time averaging, which the pipeline does not do: it would triple the line engine's
time).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

from hcrbatch.config import RecognizeConfig
from hcrbatch.lineengine import LineRecognizer, best_path, line_crop_box, line_probabilities, normalise_line
from hcrbatch.elements import BBox
from hcrbatch.metrics import edit_distance, normalise_text
from hcrbatch.modelstore import load_manifest
from hcrbatch.train.linepages import without_neighbours

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from lines import validation_lines  # noqa: E402
from results import record  # noqa: E402

PADS = (0.0, 0.03, 0.05, 0.08, 0.12, 0.25)
SHIFTS = (3, 6)  # rows of the network's 64
SCALES = (0.92, 1.08)


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


def probabilities(reader: LineRecognizer, normalised: list[np.ndarray]) -> list[np.ndarray]:
    return line_probabilities(reader._predict, normalised, 32)


def cer(reader: LineRecognizer, probs: list[np.ndarray], truths: list[str]) -> float:
    """Best-path CER: edits summed over the lines, over the truths' length."""
    hypotheses = [normalise_text(best_path(p, reader.manifest.charset)) for p in probs]
    return sum(edit_distance(t, h) for t, h in zip(truths, hypotheses)) / sum(map(len, truths))


def moved(image: np.ndarray, rows: int) -> np.ndarray:
    """A normalised line (ink white on black) moved down by `rows` (up when negative)."""
    out = np.zeros_like(image)
    if rows >= 0:
        out[rows:] = image[: image.shape[0] - rows]
    else:
        out[:rows] = image[-rows:]
    return out


def scaled(image: np.ndarray, factor: float) -> np.ndarray:
    """A normalised line scaled in height by `factor` about its middle row, its width kept."""
    height, width = image.shape
    matrix = np.float32([[1, 0, 0], [0, factor, (1 - factor) * height / 2]])
    return cv2.warpAffine(image, matrix, (width, height), flags=cv2.INTER_AREA)


def sensitivity(reader: LineRecognizer, images: list[np.ndarray], truths: list[str]) -> list[str]:
    """Rows of best-path CER with the writing moved or scaled in the network's input."""
    normalised = [normalise_line(i) for i in images]

    def rate(probs: list[np.ndarray]) -> float:
        return cer(reader, probs, truths)

    as_cut = probabilities(reader, normalised)
    rows = [f"| as cut | {rate(as_cut):.2%} |"]
    for shift in SHIFTS:
        up = probabilities(reader, [moved(i, -shift) for i in normalised])
        down = probabilities(reader, [moved(i, shift) for i in normalised])
        rows.append(f"| moved {shift} rows up / down | {rate(up):.2%} / {rate(down):.2%} |")
        averaged = [(a + b + c) / 3 for a, b, c in zip(as_cut, up, down)]
        rows.append(f"| mean probabilities of as cut, {shift} up and {shift} down | {rate(averaged):.2%} |")
    for factor in SCALES:
        rate_scaled = rate(probabilities(reader, [scaled(i, factor) for i in normalised]))
        rows.append(f"| height scaled by {factor:g} | {rate_scaled:.2%} |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="lines")
    parser.add_argument("--models-dir", type=Path, help="where the model is (default: the shipped models/)")
    parser.add_argument("--shifts", action="store_true", help="only the moved and scaled framings' table")
    parser.add_argument("--record", action="store_true", help="append the table to the day's log, benchmarks/log/")
    args = parser.parse_args()
    models_dir = args.models_dir or RecognizeConfig.models_dir
    manifest = load_manifest(models_dir, args.model)
    validation = validation_lines(int(manifest.extra.get("split_seed", 0)), int(manifest.extra.get("seed", 0)))
    reader = LineRecognizer(manifest, RecognizeConfig(models_dir=models_dir, line_batch_size=32))
    truths = [normalise_text(s.text) for s in validation]
    if args.shifts:
        rows = ["| the writing in the network's 64-row input | best-path CER |", "|---|---|"]
        rows += sensitivity(reader, [s.image for s in validation], truths)
    else:
        cleaned = [without_neighbours(s.image) for s in validation]
        rows = ["| framing | best-path CER |", "|---|---|"]
        as_cut = probabilities(reader, [normalise_line(i) for i in cleaned])
        rows.append(f"| as cut by the data's makers | {cer(reader, as_cut, truths):.2%} |")
        for pad in PADS:
            framings = probabilities(reader, [normalise_line(framed(i, pad)) for i in cleaned])
            rows.append(f"| ink extent + {pad:g} of its height | {cer(reader, framings, truths):.2%} |")
            print(rows[-1], flush=True)
    table = "\n".join(rows)
    print(table)
    if args.record:
        flags = (f" --models-dir {args.models_dir}" if args.models_dir else "") + (" --shifts" if args.shifts else "")
        record(
            f"python benchmarks/line_crops.py --model {args.model}{flags}",
            table,
            f"; {len(validation)} validation lines",
        )


if __name__ == "__main__":
    main()

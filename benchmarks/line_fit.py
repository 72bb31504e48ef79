"""How much of the line model's error is on lines it was trained on? Fitting against generalising.

    .venv/bin/python benchmarks/line_fit.py [--models-dir DIR] [--model lines] [--train-lines 500] [--record]

Best-path CER and WER, per folder, on a seeded sample of the lines the model was fitted on, on its
validation lines (only watched the loss on) and on its held-out pages' lines, all as the data's
makers cut them. A model that reads its own training lines about as badly as new ones is short of
capacity or training; one that reads them far better than new ones is short of data (or of
augmentation that stands in for it).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from hcrbatch.config import RecognizeConfig
from hcrbatch.lineengine import LineRecognizer, best_path, line_probabilities, normalise_line
from hcrbatch.modelstore import load_manifest
from hcrbatch.train.linedata import LineSample
from hcrbatch.train.lines import validation_split

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from lines import FOLDERS, rates, split_lines  # noqa: E402
from results import record  # noqa: E402
from run import ErrorCount  # noqa: E402


def errors_by_folder(reader: LineRecognizer, samples: list[LineSample]) -> dict[str, ErrorCount]:
    probs = line_probabilities(reader._predict, [normalise_line(s.image) for s in samples], 32)
    counts = {folder: ErrorCount() for folder in FOLDERS}
    for sample, line_probs in zip(samples, probs):
        counts[sample.page.split("/", 1)[0]].add(sample.text, best_path(line_probs, reader.manifest.charset))
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models-dir", type=Path, help="where the model is (default: the shipped models/)")
    parser.add_argument("--model", default="lines")
    parser.add_argument("--train-lines", type=int, default=500, help="training lines sampled (seed 0)")
    parser.add_argument("--record", action="store_true", help="append the table to the day's log, benchmarks/log/")
    args = parser.parse_args()
    models_dir = args.models_dir or RecognizeConfig.models_dir
    manifest = load_manifest(models_dir, args.model)
    reader = LineRecognizer(manifest, RecognizeConfig(models_dir=models_dir, line_batch_size=32))
    train, held_out = split_lines(int(manifest.extra.get("split_seed", 0)))
    fitted, validation = validation_split(train, int(manifest.extra.get("seed", 0)))
    sample = [fitted[i] for i in sorted(np.random.default_rng(0).permutation(len(fitted))[: args.train_lines])]
    rows = ["| lines | folder | lines | best-path CER | WER |", "|---|---|---|---|---|"]
    for name, samples in (
        ("trained on (sample)", sample),
        ("validation", validation),
        ("held-out pages", held_out),
    ):
        for folder, errors in errors_by_folder(reader, samples).items():
            count = sum(s.page.startswith(folder + "/") for s in samples)
            rows.append(f"| {name} | {folder} | {count} | {rates(errors)} |")
    table = "\n".join(rows)
    print(table)
    if args.record:
        flags = f" --models-dir {args.models_dir}" if args.models_dir else ""
        record(f"python benchmarks/line_fit.py --model {args.model}{flags} --train-lines {args.train_lines}", table)


if __name__ == "__main__":
    main()

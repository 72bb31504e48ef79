"""Character CNN inference throughput at several batch sizes, and the model's size.

    .venv/bin/python benchmarks/char_throughput.py [--model charcnn] [--record]

Times the compiled call that `hcrbatch run` uses (CharRecognizer.probabilities) on random glyph
batches, after a warm-up; reports chars/second for batch 1, 64, 1024 and
the device TensorFlow chose (GPU when one is visible).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import time
from pathlib import Path

import numpy as np

from hcrbatch.config import RecognizeConfig
from hcrbatch.recognize import CharRecognizer

HERE = Path(__file__).resolve().parent


def chars_per_second(recognizer: CharRecognizer, batch: int, seconds: float = 5.0) -> float:
    glyphs = np.random.default_rng(0).random((batch, 28, 28, 1), dtype=np.float32)
    recognizer.probabilities(glyphs)  # warm-up: builds the graph
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        recognizer.probabilities(glyphs)
        done += batch
    return done / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="charcnn")
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args()
    import tensorflow as tf

    recognizer = CharRecognizer.from_config(RecognizeConfig(model=args.model))
    device = "GPU" if tf.config.list_physical_devices("GPU") else "CPU"
    params = recognizer.model.count_params()
    size_mb = recognizer.manifest.weights.stat().st_size / 2**20
    rows = ["| batch | chars/s |", "|---|---|"]
    for batch in (1, 64, 1024):
        rows.append(f"| {batch} | {chars_per_second(recognizer, batch):,.0f} |")
    table = "\n".join(rows)
    summary = f"model {args.model}: {params:,} parameters, {size_mb:.1f} MiB on disk; device {device}"
    print(summary)
    print(table)
    if args.record:
        machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
        with open(HERE / "RESULTS.md", "a", encoding="utf-8") as fh:
            fh.write(
                f"\n`python benchmarks/char_throughput.py` on {dt.date.today()}, {machine}. {summary}.\n\n{table}\n"
            )


if __name__ == "__main__":
    main()

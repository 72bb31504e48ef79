"""What a training step of the line model costs with each sequence head, on this machine.

    .venv/bin/python benchmarks/line_heads.py [--width 1024] [--batch 16] [--steps 3] [--record]

Builds the line model with each `--head` (conv, lstm, lstm2) (`hcrbatch.train.lines.build_line_model`,
105 characters, as the shipped charset), compiles it as `train-lines` does (Adam, the sparse CTC
loss) and times `train_on_batch` on random lines of one width after a first, traced step. Random
pixels and labels: the cost of a step does not depend on what is written.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from results import record  # noqa: E402

CHARACTERS = 105


def seconds_per_step(head: str, width: int, batch: int, steps: int) -> tuple[float, int]:
    """(mean seconds of a training step, parameters) for the model with `head`."""
    import keras

    from hcrbatch.lineengine import LINE_HEIGHT
    from hcrbatch.train.lines import build_line_model, ctc_loss

    model = build_line_model(CHARACTERS, head)
    model.compile(optimizer=keras.optimizers.Adam(3e-4), loss=ctc_loss)
    rng = np.random.default_rng(0)
    lines = rng.random((batch, LINE_HEIGHT, width, 1), dtype=np.float32)
    labels = rng.integers(1, CHARACTERS + 1, (batch, width // 16)).astype(np.int32)
    model.train_on_batch(lines, labels)  # traces the step
    started = time.perf_counter()
    for _ in range(steps):
        model.train_on_batch(lines, labels)
    return (time.perf_counter() - started) / steps, model.count_params()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--width", type=int, default=1024, help="line width in px at 64 px high")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--record", action="store_true", help="append the table to the day's log, benchmarks/log/")
    args = parser.parse_args()
    rows = ["| head | parameters | seconds per training step |", "|---|---|---|"]
    for head in ("conv", "lstm", "lstm2"):
        seconds, parameters = seconds_per_step(head, args.width, args.batch, args.steps)
        rows.append(f"| {head} | {parameters:,} | {seconds:.2f} |")
    table = "\n".join(rows)
    print(table)
    if args.record:
        record(
            f"python benchmarks/line_heads.py --width {args.width} --batch {args.batch} --steps {args.steps}",
            table,
            f"; batches of {args.batch} lines {args.width} px wide, no GPU",
        )


if __name__ == "__main__":
    main()

"""Does pre-training on synthetic lines help the line recognizer? Real lines scarce, with and without.

    .venv/bin/python benchmarks/synthetic_lines.py [--real 1000] [--epochs 8] [--synthetic 4000]
                                                   [--pre-epochs 2] [--record]

Arms, all through the CLI (`hcrbatch train-lines`), into benchmarks/out/synthetic-lines/, seed 0:
1. real only: --real lines drawn from the training pages of ../shared/data/hooker-lines and
   cremma-lines (`--limit`), --epochs epochs;
2. pre-trained: --synthetic rendered lines alone for --pre-epochs epochs; its CER on the real
   held-out lines says how far rendered fonts are from the real hands;
3. fine-tuned: the pre-trained model, then the same real lines for the same --epochs
   (`--init-from`, the learning rate cut to 3e-4).
Every arm is tested on the same held-out pages (856 real lines; best-path CER and WER from the
manifest). Models already trained there with the same name are reused.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from results import record  # noqa: E402

DATA = HERE.parent.parent / "shared" / "data"
OUT = HERE / "out" / "synthetic-lines"
REAL = ["--data", DATA / "hooker-lines", "--data", DATA / "cremma-lines"]


def train_once(name: str, *args: object) -> dict:
    """`hcrbatch train-lines ... --name NAME` unless its manifest is already there; the manifest."""
    manifest = OUT / "models" / f"{name}.json"
    if not manifest.is_file():
        command = [sys.executable, "-m", "hcrbatch", "train-lines", *map(str, args), "--name", name, "--seed", "0",
                   "--patience", "0", "--models-dir", str(OUT / "models"), "--work-dir", str(OUT / "work"),
                   "-q", "--log-file", str(OUT / "log.txt")]  # fmt: skip
        started = time.time()
        subprocess.run(command, check=True)
        print(f"{name}: {time.time() - started:.0f} s")
    return json.loads(manifest.read_text())


def held_out_cer(name: str) -> dict:
    """The pre-trained model's CER on the real held-out lines (its manifest holds synthetic ones)."""
    from hcrbatch.modelstore import load_keras_model, load_manifest
    from hcrbatch.train.lines import evaluate_lines
    from lines import split_lines

    manifest = load_manifest(OUT / "models", name)
    return evaluate_lines(load_keras_model(manifest), split_lines(split_seed=0)[1], manifest.charset)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--real", type=int, default=1000, help="real training lines")
    parser.add_argument("--epochs", type=int, default=8, help="epochs on the real lines")
    parser.add_argument("--synthetic", type=int, default=4000, help="synthetic lines to pre-train on")
    parser.add_argument("--pre-epochs", type=int, default=2, help="epochs of pre-training")
    parser.add_argument("--record", action="store_true", help="append the table to the day's log, benchmarks/log/")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    real = [*REAL, "--limit", args.real, "--epochs", args.epochs]
    pre_name = f"synthetic-{args.synthetic}-{args.pre_epochs}"
    arms = {
        f"{args.real} real lines, {args.epochs} epochs": train_once(f"real-{args.real}-{args.epochs}", *real),
        f"{args.synthetic} synthetic lines alone, {args.pre_epochs} epochs": (
            train_once(pre_name, "--synthetic", args.synthetic, "--epochs", args.pre_epochs)
        ),
        f"the same, then fine-tuned on the {args.real} real lines for {args.epochs} epochs": train_once(
            f"{pre_name}-then-real-{args.real}-{args.epochs}", *real, "--init-from", pre_name, "--learning-rate", 3e-4
        ),
    }
    rows = ["| training | held-out CER | WER | Hooker CER | CREMMA CER | training time |", "|---|---|---|---|---|---|"]
    for label, manifest in arms.items():
        metrics = manifest["metrics"]
        if "hooker-lines" not in metrics:  # pre-trained alone: tested on synthetic pages; read the real ones
            metrics = {"held_out": held_out_cer(manifest["name"]), "hooker-lines": {}, "cremma-lines": {}}
        cells = [metrics["held_out"]["cer"], metrics["held_out"]["wer"]]
        cells += [metrics[folder].get("cer") for folder in ("hooker-lines", "cremma-lines")]
        text = " | ".join("–" if c is None else f"{c:.2%}" for c in cells)
        rows.append(f"| {label} | {text} | {manifest['training_seconds'] / 60:.1f} min |")
    table = "\n".join(rows)
    print(table)
    if args.record:
        command = "python benchmarks/synthetic_lines.py " + " ".join(sys.argv[1:]).replace("--record", "").strip()
        record(command.strip(), table, "; seed 0, best path, the 856 real held-out lines")


if __name__ == "__main__":
    main()

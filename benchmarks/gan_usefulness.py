"""Does the GAN help when real data is scarce? The recognizer on 5 % of the training rows, with and without top-up.

    .venv/bin/python benchmarks/gan_usefulness.py [--fraction 0.05] [--epochs 10] [--gan-epochs 15]
                                                  [--elastic-alpha 34] [--record]

Steps, all through the CLI, into benchmarks/out/usefulness/:
1. `hcrbatch gan train` on the same 5 % of the EMNIST training rows (the held-out ByClass rows are
   never used), so the GAN knows no more than the recognizer it helps;
2. `hcrbatch train` on those rows alone (no font renderings or page glyphs, fixed epochs at a fixed rate:
   --patience 0 --schedule plateau --page-glyphs 0, seed 0);
3. the same with `--balance gan`, topping every class up to --balance-to rows (default: the mean);
4. with `--elastic-alpha A`, the same rows again with elastic distortion of strength A instead of
   the GAN: the other way to make more of few rows;
5. each evaluated on the held-out ByClass rows (`hcrbatch eval`'s code).
Models already trained under benchmarks/out/usefulness/models (same settings) are reused.
`--gan NAME` skips step 1 and uses a generator from models/ instead (the shipped one saw all the
training rows, so that comparison is no longer like for like; the output says so).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from results import record  # noqa: E402

REPO = HERE.parent
EMNIST = REPO.parent / "shared" / "data" / "emnist"
OUT = HERE / "out" / "usefulness"


def training_rows() -> int:
    """How many rows `hcrbatch train --data EMNIST --font-samples 0` trains on (held-out rows excluded)."""
    from hcrbatch.config import TrainConfig
    from hcrbatch.train.glyphdata import load_training_data

    return len(load_training_data(TrainConfig(data=(EMNIST,), font_samples=0))[0])


def hcrbatch(*args: object) -> float:
    started = time.time()
    cmd = [sys.executable, "-m", "hcrbatch", *map(str, args), "-q", "--log-file", str(OUT / "log.txt")]
    subprocess.run(cmd, check=True)
    return time.time() - started


def hcrbatch_once(models: Path, name: str, *args: object) -> float:
    """Run an hcrbatch training unless its model is already there (same name, same settings)."""
    if (models / f"{name}.json").is_file():
        print(f"reusing {models / name}.keras")
        return float(json.loads((models / f"{name}.json").read_text()).get("training_seconds", 0.0))
    return hcrbatch(*args)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fraction", type=float, default=0.05)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--gan-epochs", type=int, default=15)
    parser.add_argument("--balance-to", type=int, default=0)
    parser.add_argument("--gan", help="use this generator from models/ instead of training one on the same rows")
    parser.add_argument("--judge", action="store_true",
                        help="keep only generated glyphs the base model (same rows) reads as their class")  # fmt: skip
    parser.add_argument("--elastic-alpha", type=float, default=0.0, help="also train with this elastic distortion")
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args()
    from hcrbatch.config import DEFAULT_MODELS_DIR
    from hcrbatch.train.evaluate import evaluate_model

    OUT.mkdir(parents=True, exist_ok=True)
    models = OUT / "models"
    limit = int(round(training_rows() * args.fraction))
    common = ["--data", EMNIST, "--limit", limit, "--font-samples", 0, "--seed", 0, "--work-dir", OUT / "work"]
    if args.gan:
        gan_models, gan_name, gan_note = DEFAULT_MODELS_DIR, args.gan, f"shipped generator {args.gan} (saw all rows)"
    else:
        gan_models, gan_name = models, f"gan-small-{args.gan_epochs}"
        seconds = hcrbatch_once(models, gan_name, "gan", "train", *common, "--epochs", args.gan_epochs,
                                "--name", gan_name, "--models-dir", models)  # fmt: skip
        gan_note = f"GAN trained on the same {limit} rows ({args.gan_epochs} epochs)"
    results = {}
    top_up = "gan-top-up" + (f"-to{args.balance_to}" if args.balance_to else "") + ("-judged" if args.judge else "")
    top_up += f"-{gan_name}"
    arms = [(f"base-{args.epochs}", []), (f"{top_up}-{args.epochs}", ["--balance", "gan", "--gan", gan_name])]
    if args.elastic_alpha:
        arms.append((f"elastic{args.elastic_alpha:g}-{args.epochs}", ["--elastic-alpha", args.elastic_alpha]))
    for name, extra in arms:
        if "--balance" in extra:
            extra += ["--balance-to", args.balance_to] if args.balance_to else []
            extra += ["--gan-judge", f"base-{args.epochs}"] if args.judge else []
            if gan_models != models:  # `hcrbatch train` looks for the generator in its --models-dir
                models.mkdir(parents=True, exist_ok=True)
                for suffix in (".json", ".keras"):
                    shutil.copy2(gan_models / f"{gan_name}{suffix}", models / f"{gan_name}{suffix}")
        seconds = hcrbatch_once(models, name, "train", *common, "--epochs", args.epochs, "--patience", 0,
                                "--schedule", "plateau", "--page-glyphs", 0, "--name", name, "--models-dir", models,
                                *extra)  # fmt: skip
        summary = evaluate_model(EMNIST, models, name).summary()
        results[name] = (summary, seconds)
        print(name, {k: round(v, 4) for k, v in summary.items()}, f"{seconds:.0f} s")

    rows = ["| training data | 62-class | 47-class | digits | training time |", "|---|---|---|---|---|"]
    labels = {}
    for name, (s, seconds) in results.items():
        labels[name] = ("GAN top-up" if "top-up" in name else
                        f"elastic distortion (alpha {args.elastic_alpha:g})" if name.startswith("elastic") else "")  # fmt: skip
        label = f"{limit} real rows" + (f" + {labels[name]}" if labels[name] else "")
        rows.append(f"| {label} | {s['accuracy_62']:.2%} | {s['accuracy_47_balanced_merge']:.2%} | "
                    f"{s['accuracy_digits']:.2%} | {seconds / 60:.1f} min |")  # fmt: skip
    base = results[f"base-{args.epochs}"][0]["accuracy_62"]
    table = "\n".join(rows)
    verdict = " ".join(
        f"{labels[name][0].upper() + labels[name][1:]} changes 62-class held-out accuracy by "
        f"{(s['accuracy_62'] - base) * 100:+.2f} points" + (f"; {gan_note}." if "top-up" in name else ".")
        for name, (s, _) in results.items()
        if labels[name]
    )
    print(table, verdict, sep="\n")
    if args.record:
        command = "python benchmarks/gan_usefulness.py " + " ".join(sys.argv[1:]).replace("--record", "").strip()
        record(command.strip(), f"{table}\n\n{verdict}", f"; {args.epochs} epochs each, seed 0, held-out ByClass rows")


if __name__ == "__main__":
    main()

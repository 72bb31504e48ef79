"""The line model trained on a lent GPU machine that has JAX, but neither TensorFlow nor OpenCV,
and takes at most 64 MiB of files and 10 minutes a call.

    make lines-gpu-pack     # here: .gpu/lines.npz, the training lines as the line engine reads them
    # there, from the repository root (the device tool carries the working tree and .gpu/):
    KERAS_BACKEND=jax python -m hcrbatch.train.gpulines train .gpu/lines.npz --out $OUT --minutes 8
    # here: the returned lines-gpu.keras and lines-gpu.json into a models folder, then judged on the
    # held-out real pages: benchmarks/real_pages.py --models-dir DIR --line-model lines-gpu

`pack` takes every line of the transcribed folders but those of the pages the shipped line model
holds out (its manifest's `held_out_pages`: never trained on, anywhere), normalised as the line
engine reads them (`normalise_line`: 64 px high, ink white on black), in one compressed file with
their widths, transcriptions and pages. Ink levels are stored in 256 steps, or in 16 or 8 where
that is what fits `--max-mib` (fewer steps compress far better: the paper's faint grain becomes
0); if even 8 do not fit, whole pages are left out, evenly. The pack records both.

`train` imports numpy, Keras and `hcrbatch.linenet` only. It holds out one packed page in twenty
for validation, trains on width-bucketed batches, saves the model with the best validation loss to
OUT after every epoch and stops before `--minutes` run out, so a call cut short still returns a
model; beside it a manifest in the shipped models' format (the held-out pages it never saw
included), so that hcrbatch here reads it with `--line-model`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import time
from pathlib import Path

import numpy as np

NAME = "lines-gpu"
VALIDATION_EVERY = 20  # one packed page in this many is validation


GREY_LEVELS = (256, 16, 8)  # tried in turn until the pack fits: fewer levels compress far better


def pack(folders: list[Path], held_out: set[str], out: Path, max_bytes: int) -> dict:
    """Write the pack; returns its summary (also stored in it)."""
    from hcrbatch.lineengine import normalise_line
    from hcrbatch.train.lines import read_training_folder

    samples = [s for folder in folders for s in read_training_folder(folder) if s.page not in held_out and s.text]
    pages = sorted({s.page for s in samples})
    images = {id(s): normalise_line(s.image) for s in samples}
    for levels in GREY_LEVELS:
        if len(blob := _pack_bytes(samples, images, levels, 0, held_out)) <= max_bytes:
            break
    kept = pages
    while len(blob) > max_bytes:  # even the fewest grey levels are too many bytes: whole pages go, evenly
        keep = min(len(kept) - 1, int(len(kept) * max_bytes / len(blob) * 0.97))
        kept = [kept[i] for i in np.linspace(0, len(kept) - 1, keep).round().astype(int)]
        chosen = set(kept)
        blob = _pack_bytes([s for s in samples if s.page in chosen], images, levels, len(pages) - keep, held_out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(blob)
    return json.loads(str(np.load(out)["summary"]))


def _pack_bytes(samples: list, images: dict, levels: int, pages_left_out: int, held_out: set[str]) -> bytes:
    """The pack's bytes: each line's ink level (0 to 1) stored in `levels` steps as uint8."""
    widths = np.array([images[id(s)].shape[1] for s in samples], np.int32)
    summary = {
        "lines": len(samples),
        "pages": len({s.page for s in samples}),
        "pages_left_out_for_size": pages_left_out,
        "grey_levels": levels,
        "folders": sorted({s.page.split("/", 1)[0] for s in samples}),
    }
    pixels = np.concatenate([images[id(s)] for s in samples], axis=1)
    buffer = io.BytesIO()
    np.savez_compressed(
        buffer,
        pixels=np.round(pixels * (levels - 1)).astype(np.uint8),
        levels=np.array(levels),
        widths=widths,
        texts=np.array([s.text for s in samples]),
        pages=np.array([s.page for s in samples]),
        held_out_pages=np.array(sorted(held_out) or [""]),
        summary=np.array(json.dumps(summary)),
    )
    return buffer.getvalue()


def _greedy_cer(model, images: list[np.ndarray], texts: list[str], charset: str) -> float:
    """Character error rate of best-path decoding on the validation lines."""
    from hcrbatch.linenet import make_batch
    from hcrbatch.metrics import edit_distance

    errors = 0
    for start in range(0, len(images), 32):
        probabilities = np.asarray(model.predict(make_batch(images[start : start + 32]), verbose=0))
        for row, text in zip(probabilities, texts[start : start + 32]):
            best = row.argmax(-1)
            kept = [k for i, k in enumerate(best) if k and (i == 0 or k != best[i - 1])]
            errors += edit_distance(text, "".join(charset[k - 1] for k in kept))
    return round(errors / max(1, sum(len(t) for t in texts)), 4)


def train(pack_file: Path, out: Path, minutes: float, head: str, epochs: int, batch_size: int, seed: int) -> Path:
    import keras

    from hcrbatch.modelstore import LINE_RECOGNIZER
    from hcrbatch.linenet import (
        DOWNSAMPLE,
        HEADS,
        LINE_HEIGHT,
        build_line_model,
        ctc_loss,
        fits_ctc,
        width_bucketed_batches,
    )

    started = time.monotonic()
    data = np.load(pack_file)
    offsets = np.concatenate([[0], np.cumsum(data["widths"])])
    texts, pages = [str(t) for t in data["texts"]], [str(p) for p in data["pages"]]
    scale = 1.0 / (int(data["levels"]) - 1)
    images = [data["pixels"][:, a:b].astype(np.float32) * scale for a, b in zip(offsets[:-1], offsets[1:])]
    charset = "".join(sorted({c for t in texts for c in t}))
    lookup = {c: i + 1 for i, c in enumerate(charset)}
    labels = [[lookup[c] for c in t] for t in texts]
    fits = [fits_ctc(img.shape[1], lab) for img, lab in zip(images, labels)]
    validation_pages = set(sorted(set(pages))[::VALIDATION_EVERY])
    fit = [i for i in range(len(images)) if fits[i] and pages[i] not in validation_pages]
    val = [i for i in range(len(images)) if fits[i] and pages[i] in validation_pages]

    keras.utils.set_random_seed(seed)
    model = build_line_model(len(charset), head)
    model.compile(optimizer=keras.optimizers.Adam(1e-3, clipnorm=5.0), loss=ctc_loss)
    out.mkdir(parents=True, exist_ok=True)
    weights = out / f"{NAME}.keras"
    budget = minutes * 60

    class StopInTime(keras.callbacks.Callback):
        """Ends training when another epoch as long as the longest so far would pass the budget."""

        def on_train_begin(self, logs=None):
            self.longest, self.epoch_started = 0.0, time.monotonic()

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch_started = time.monotonic()

        def on_epoch_end(self, epoch, logs=None):
            self.longest = max(self.longest, time.monotonic() - self.epoch_started)
            if time.monotonic() - started + self.longest > budget:
                self.model.stop_training = True

    history = model.fit(
        width_bucketed_batches([images[i] for i in fit], [labels[i] for i in fit], batch_size, seed),
        validation_data=width_bucketed_batches([images[i] for i in val], [labels[i] for i in val], batch_size, seed),
        epochs=epochs,
        callbacks=[
            keras.callbacks.ModelCheckpoint(str(weights), monitor="val_loss", save_best_only=True),
            keras.callbacks.CSVLogger(str(out / "history.csv")),
            StopInTime(),
        ],
        verbose=2,
    )
    best = keras.models.load_model(weights, compile=False)
    summary = json.loads(str(data["summary"]))
    manifest = {
        "name": NAME,
        "version": f"0.1.0+{dt.date.today():%Y%m%d}",
        "task": LINE_RECOGNIZER,
        "kind": "line recognizer (CNN + CTC)",
        "head": head,
        "head_description": HEADS[head],
        "learning_rate": {"initial": 1e-3, "schedule": "constant", "batch_size": batch_size},
        "augmentation": "none",
        "weights": weights.name,
        "charset": charset,
        "input_size": [LINE_HEIGHT, 0],
        "downsample": DOWNSAMPLE,
        "normalisation": "hcrbatch.lineengine.normalise_line: ink white on black in [0, 1], 64 px high, aspect kept",
        "training_data": [f"{pack_file.name}: {summary['lines']} lines of {summary['pages']} pages of "
                          f"{', '.join(summary['folders'])} (pages left out to fit the pack: "
                          f"{summary['pages_left_out_for_size']})", f"validation: every {VALIDATION_EVERY}th page"],
        "epochs_run": len(history.history["loss"]),
        "epochs_max": epochs,
        "seed": seed,
        "held_out_pages": [str(p) for p in data["held_out_pages"] if str(p)],
        "training_seconds": round(time.monotonic() - started, 1),
        "trained_on": f"Keras {keras.__version__}, backend {keras.backend.backend()}",
        "metrics": {"validation": {"lines": len(val), "cer": _greedy_cer(best, [images[i] for i in val],
                                                                         [texts[i] for i in val], charset)}},
    }  # fmt: skip
    (out / f"{NAME}.json").write_text(json.dumps(manifest, indent=1, ensure_ascii=False), encoding="utf-8")
    return weights


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    packing = commands.add_parser("pack", help="pack the training lines (here)")
    packing.add_argument("--data", type=Path, action="append", required=True, help="transcribed folder; repeatable")
    packing.add_argument("--held-out-from", type=Path, required=True, help="the manifest whose held_out_pages stay out")
    packing.add_argument("--out", type=Path, required=True)
    packing.add_argument("--max-mib", type=float, default=60.0)
    training = commands.add_parser("train", help="train on a pack (there)")
    training.add_argument("pack", type=Path)
    training.add_argument("--out", type=Path, required=True)
    training.add_argument("--minutes", type=float, default=8.0)
    training.add_argument("--head", default="lstm2", choices=["conv", "lstm", "lstm2"])
    training.add_argument("--epochs", type=int, default=200)
    training.add_argument("--batch-size", type=int, default=32)
    training.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.command == "pack":
        held_out = json.loads(args.held_out_from.read_text(encoding="utf-8")).get("held_out_pages", [])
        summary = pack(args.data, set(held_out), args.out, int(args.max_mib * 2**20))
        print(json.dumps({**summary, "bytes": args.out.stat().st_size}))
    else:
        print(train(args.pack, args.out, args.minutes, args.head, args.epochs, args.batch_size, args.seed))


if __name__ == "__main__":
    main()

"""The shipped networks' own throughput (no decoding, no page work) on whichever Keras backend runs them.

    .venv/bin/python benchmarks/network_throughput.py --save-widths benchmarks/out/widths.json \\
        --reference benchmarks/out/reference.npz [--record]
    KERAS_BACKEND=jax python benchmarks/network_throughput.py --widths widths.json \\
        --reference reference.npz --out results.md          # e.g. on a GPU machine without TensorFlow

`hcrbatch run` calls the networks through TensorFlow (a `tf.function`), which uses a GPU when one is
visible. A GPU machine may have Keras 3 and JAX or PyTorch but no TensorFlow (the device machine this
project is lent has no TensorFlow build for its CUDA, and none can be fetched there): the same `.keras`
files load under any Keras 3 backend, so this script times them there, compiled as that backend
compiles (`jax.jit`, `tf.function`; PyTorch runs eagerly).

- Character CNN: chars/second on random 28x28 glyph batches of 1, 64, 1024 and 8192 (the call
  `CharRecognizer.probabilities` makes for each `--batch-size` chunk).
- Line network: lines/second over the held-out lines' widths (benchmarks/lines.py's lines, at 64 px high),
  sorted by width and batched as `LineRecognizer` batches them, each batch padded to a multiple of
  `--pad` px (so that a compiling backend builds a few dozen shapes, not one per width).
- Times include copying the batch to the device and the result back to the host.
- The machine's own float32 matrix-multiply rate, measured by a probe through the same backend and
  call (a 1024 x 1024 dense layer on 1024 rows), and the character CNN's rate at batch 1024 in the
  same unit (its convolutions' and dense layers' operations a glyph), as a share of the probe.
- `--reference`: writes each network's output on fixed inputs (when the file is missing), or compares
  with it (max absolute difference of the probabilities), so a GPU backend is checked against TensorFlow.
- `--rnn-loop`: the line network's LSTM runs Keras's own loop, not cuDNN's. On an H200, Keras 3.15.1's
  cuDNN LSTM path on JAX gave this model's probabilities up to 0.93 away from TensorFlow's; the loop
  agreed within 1e-3 (benchmarks/log/, session 16).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402  (after the log level, which TensorFlow reads on import)

from hcrbatch.lineengine import LINE_HEIGHT, make_batch  # noqa: E402

MODELS = Path(__file__).resolve().parent.parent / "models"


def without_cudnn(model) -> None:
    """Recurrent layers run Keras' own loop, not cuDNN's kernel (the `--rnn-loop` option)."""
    for layer in model.layers:
        for rnn in (layer, getattr(layer, "forward_layer", None), getattr(layer, "backward_layer", None)):
            if hasattr(rnn, "use_cudnn"):
                rnn.use_cudnn = False


def compiled(model, input_shape: tuple):
    """The model's inference call, compiled as its backend compiles, from a host array to a host array."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        spec = tf.TensorSpec([None, *input_shape], tf.float32)
        call = tf.function(lambda x: model(x, training=False), input_signature=[spec])
        return lambda x: call(x).numpy()
    if backend == "jax":
        import jax

        trainable = [v.value for v in model.trainable_variables]
        fixed = [v.value for v in model.non_trainable_variables]
        call = jax.jit(lambda t, f, x: model.stateless_call(t, f, x, training=False)[0])
        return lambda x: np.asarray(call(trainable, fixed, x))
    if backend == "torch":
        import torch

        def call(x):
            with torch.no_grad():
                return keras.ops.convert_to_numpy(model(x, training=False))

        return call
    raise SystemExit(f"no compiled call for the {backend} backend")


def device_name() -> str:
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        return str(jax.devices()[0].device_kind)
    if backend == "torch":
        import torch

        return torch.cuda.get_device_name() if torch.cuda.is_available() else "CPU"
    import tensorflow as tf

    return "GPU" if tf.config.list_physical_devices("GPU") else "CPU"


def rate(call, batches: list[np.ndarray], seconds: float) -> float:
    """Items per second over repeated passes through `batches`, after one untimed pass (compilation)."""
    for x in batches:
        call(x)
    done, started = 0, time.perf_counter()
    while True:
        for x in batches:
            call(x)
            done += len(x)
        if time.perf_counter() - started >= seconds:
            return done / (time.perf_counter() - started)


def flops_per_item(model) -> int:
    """Floating-point operations one input costs the model's convolutions and dense layers (a
    multiply and an add per weight use); pooling, normalisation and activations are left out."""
    total = 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            height, width, channels = layer.output.shape[1:]
            kernel = np.prod(layer.kernel.shape[:3])
            total += 2 * height * width * channels * kernel
        elif isinstance(layer, keras.layers.Dense):
            total += 2 * int(np.prod(layer.kernel.shape))
    return int(total)


def matmul_flops(seconds: float, size: int = 1024) -> float:
    """The machine's own float32 matrix-multiply rate through the same backend and call: a
    size x size dense layer on a batch of `size` rows (2 size^2 operations a row)."""
    probe = keras.Sequential([keras.Input((size,)), keras.layers.Dense(size, use_bias=False)])
    rows = np.random.default_rng(1).random((size, size), dtype=np.float32)
    return rate(compiled(probe, (size,)), [rows], seconds) * 2 * size**2


def line_batches(widths: list[int], batch: int, pad: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Random line images of the given widths, width-sorted into batches padded to a multiple of `pad`."""
    images = [rng.random((LINE_HEIGHT, w), dtype=np.float32) for w in sorted(widths)]
    return [make_batch(images[i : i + batch], pad_to=pad) for i in range(0, len(images), batch)]


def held_out_widths() -> list[int]:
    """Widths at 64 px high of benchmarks/lines.py's held-out lines (needs ../shared/data)."""
    from lines import held_out_lines

    held = held_out_lines(0)
    return [round(s.image.shape[1] * LINE_HEIGHT / s.image.shape[0]) for lines in held.values() for s in lines]


def check_reference(path: Path, outputs: dict[str, np.ndarray], inputs: dict[str, np.ndarray]) -> str:
    if not path.exists():
        np.savez_compressed(
            path, **{f"in_{k}": v for k, v in inputs.items()}, **{f"out_{k}": v for k, v in outputs.items()}
        )
        return f"reference outputs written to {path}"
    ref = np.load(path)
    diffs = {k: float(np.abs(v - ref[f"out_{k}"]).max()) for k, v in outputs.items()}
    return "max |p - p_reference| " + ", ".join(f"{k} {d:.1e}" for k, d in diffs.items())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--widths", type=Path, help="JSON list of line widths (default: the held-out lines')")
    parser.add_argument("--save-widths", type=Path, help="write the widths used here as JSON")
    parser.add_argument("--reference", type=Path, help="write, or compare with, outputs on fixed inputs (.npz)")
    parser.add_argument("--pad", type=int, default=64, help="line batches padded to a multiple of this width")
    parser.add_argument("--seconds", type=float, default=3.0, help="timed seconds per row")
    parser.add_argument(
        "--rnn-loop", action="store_true", help="recurrent layers without cuDNN (see benchmarks/log/, session 16)"
    )
    parser.add_argument("--record", action="store_true", help="append the table to the day's log, benchmarks/log/")
    parser.add_argument("--out", type=Path, help="also write the table, with its command line, to this file")
    args = parser.parse_args()

    widths = json.loads(args.widths.read_text()) if args.widths else held_out_widths()
    if args.save_widths:
        args.save_widths.write_text(json.dumps(widths))
    chars = keras.models.load_model(MODELS / "charcnn.keras", compile=False)
    lines = keras.models.load_model(MODELS / "lines.keras", compile=False)
    if args.rnn_loop:
        without_cudnn(lines)
    char_call, line_call = compiled(chars, (28, 28, 1)), compiled(lines, (LINE_HEIGHT, None, 1))

    rng = np.random.default_rng(0)
    inputs = {"chars": rng.random((256, 28, 28, 1), dtype=np.float32)}
    inputs["lines"] = make_batch([rng.random((LINE_HEIGHT, w), dtype=np.float32) for w in (300, 900, 1500)])
    check = ""
    if args.reference:
        check = check_reference(
            args.reference, {"chars": char_call(inputs["chars"]), "lines": line_call(inputs["lines"])}, inputs
        )
        print(check, flush=True)

    rows = ["| network | batch | items/s |", "|---|---|---|"]
    char_rates = {}
    for batch in (1, 64, 1024, 8192):
        glyphs = rng.random((batch, 28, 28, 1), dtype=np.float32)
        char_rates[batch] = rate(char_call, [glyphs], args.seconds)
        rows.append(f"| character CNN (chars/s) | {batch} | {char_rates[batch]:,.0f} |")
        print(rows[-1], flush=True)
    probe = matmul_flops(args.seconds)
    cnn = char_rates[1024] * flops_per_item(chars)
    rows.append(f"| 1024 x 1024 float32 matmul probe (GFLOP/s) | 1024 | {probe / 1e9:,.1f} |")
    rows.append(f"| character CNN (GFLOP/s; share of the probe) | 1024 | {cnn / 1e9:,.1f} ({cnn / probe:.0%}) |")
    print(*rows[-2:], sep="\n", flush=True)
    for batch in (1, 64, 256):
        # batch 1 times a 128-line sample, as benchmarks/lines.py does; larger batches every held-out line
        sample = widths[:128] if batch == 1 else widths
        speed = rate(line_call, line_batches(sample, batch, args.pad, rng), args.seconds)
        rows.append(f"| line network (lines/s) | {batch} | {speed:,.1f} |")
        print(rows[-1], flush=True)

    table = "\n".join(rows)
    sizes = ", ".join(
        f"{name} {model.count_params():,} parameters, {(MODELS / f'{name}.keras').stat().st_size / 2**20:.1f} MiB"
        for name, model in (("charcnn", chars), ("lines", lines))
    )
    context = (
        f"; Keras {keras.__version__}, backend {keras.backend.backend()}, device {device_name()}; {sizes}; "
        f"{len(widths)} line widths (mean {np.mean(widths):.0f} px), batches padded to {args.pad} px"
        + ("; recurrent layers without cuDNN" if args.rnn_loop else "")
        + (f"; {check}" if check else "")
    )
    command = "python benchmarks/network_throughput.py " + " ".join(sys.argv[1:])
    if args.record:
        from results import record

        record(command, table, context)
    if args.out:
        from results import machine

        args.out.write_text(f"`{command}` on {time.strftime('%Y-%m-%d')}, {machine()}{context}:\n\n{table}\n")
    print(context.lstrip("; "))


if __name__ == "__main__":
    main()

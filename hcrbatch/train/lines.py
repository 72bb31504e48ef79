"""The line recognizer: a convolutional network read out with CTC, trained on whole text lines.

Cursive cannot be cut into characters, so this model reads a line image left to right: a stack of
convolutions turns a 64-px-high line into a sequence of column features (one per 4 px), and a CTC
output layer gives, per column, the probability of each character or of "nothing" (the blank).
The sequence head is either more (dilated, 1-D) convolutions — fully convolutional, fast on a CPU —
or a bidirectional LSTM (`--head lstm`), which sees the whole line; the manifest records which.

Data: folders of line images with a `labels.tsv` (`file<TAB>transcription`), as in
../shared/data/hooker-lines and cremma-lines. The held-out test set is chosen by page (the file
name before its last `_`), never by line, so no page is both trained and tested on.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from pathlib import Path

import cv2
import numpy as np

from hcrbatch.config import LineTrainConfig
from hcrbatch.errors import ConfigError
from hcrbatch.lineengine import best_path, line_probabilities, normalise_line
from hcrbatch.linenet import (
    DOWNSAMPLE,
    HEADS,
    LINE_HEIGHT,
    build_line_model,
    ctc_loss,
    fits_ctc,
    width_bucketed_batches,
)
from hcrbatch.metrics import edit_distance, normalise_text
from hcrbatch.modelstore import (
    LINE_RECOGNIZER,
    refuse_to_replace,
    TrainingClock,
    epochs_done,
    fit_schedule,
    load_keras_model,
    import_tensorflow,
    load_manifest,
    model_version,
    save_keras_model,
    write_manifest,
)
from hcrbatch.train.augment import elastic_distort
from hcrbatch.train.linedata import LineSample, held_out_as, read_line_folder, split_by_page
from hcrbatch.train.linepages import page_crops
from hcrbatch.train.synthlines import line_fonts, synthetic_lines
from hcrbatch.train.transcribed import transcribed_lines

log = logging.getLogger(__name__)

# Smoothness of the elastic distortion of training lines (`--elastic-alpha`): at 10 px on a
# 64-px-high line the pen wobbles over about half a letter (seen on real lines); at 6 px, letters broke
# at half the strength.
LINE_ELASTIC_SIGMA = 10.0


def read_training_folder(folder: Path) -> list[LineSample]:
    """A folder of line images with labels.tsv, or of page scans with PAGE or ALTO transcriptions
    (`hcrbatch.train.transcribed`)."""
    if (Path(folder) / "labels.tsv").is_file():
        return read_line_folder(folder)
    return transcribed_lines(folder)


def encode(text: str, lookup: dict[str, int]) -> list[int]:
    return [lookup[c] for c in text if c in lookup]


def augment(
    image: np.ndarray, rng: np.random.Generator, elastic_alpha: float = 0.0, vertical_jitter: float = 0.0
) -> np.ndarray:
    """Slant, width and stroke jitter: lines of other hands, on the same text; with `elastic_alpha`,
    also an elastic distortion of a strength drawn from [0, elastic_alpha] (the wobble of a pen);
    with `vertical_jitter`, the writing scaled in height and moved up or down by up to that share of
    the line's height (the pipeline's crops sit a few rows off the polygons the lines were cut to)."""
    h, w = image.shape
    shear = rng.uniform(-0.3, 0.3)
    scale = rng.uniform(0.85, 1.15)
    height, shift = 1.0, 0.0
    if vertical_jitter:
        height = rng.uniform(1 - vertical_jitter, 1 + vertical_jitter)
        shift = rng.uniform(-vertical_jitter, vertical_jitter) * h
    matrix = np.array([[scale, shear, -shear * h / 2], [0, height, (1 - height) * h / 2 + shift]], np.float32)
    out_w = max(DOWNSAMPLE, int(w * scale + abs(shear) * h))
    warped = cv2.warpAffine(image, matrix, (out_w, h), flags=cv2.INTER_LINEAR)
    grow = int(rng.integers(-1, 2))
    if grow > 0:
        warped = cv2.dilate(warped, np.ones((2, 2), np.uint8))
    elif grow < 0:
        warped = cv2.erode(warped, np.ones((2, 1), np.uint8))
    if elastic_alpha:
        strength = rng.uniform(0, elastic_alpha)
        warped = elastic_distort(warped[None], rng, alpha=strength, sigma=LINE_ELASTIC_SIGMA)[0]
    return warped


def line_batches(
    samples,
    lookup,
    batch_size: int,
    seed: int,
    augmented: bool,
    elastic_alpha: float = 0.0,
    vertical_jitter: float = 0.0,
):
    """A Keras dataset of width-bucketed (images, padded labels) batches, reshuffled each epoch;
    `augmented` ones are warped anew each epoch (`augment`)."""
    images = [normalise_line(s.image) for s in samples]
    labels = [encode(s.text, lookup) for s in samples]
    keep = [i for i, (img, lab) in enumerate(zip(images, labels)) if lab and fits_ctc(img.shape[1], lab)]
    if len(keep) < len(samples):
        log.info("left out %d of %d lines too narrow for their transcription", len(samples) - len(keep), len(samples))
    images, labels = [images[i] for i in keep], [labels[i] for i in keep]
    transform = (lambda image, rng: augment(image, rng, elastic_alpha, vertical_jitter)) if augmented else None
    return width_bucketed_batches(images, labels, batch_size, seed, transform)


def evaluate_lines(model, samples: list[LineSample], charset: str, batch_size: int = 32) -> dict[str, float]:
    """Character and word error rates of best-path decoding: edits summed over the lines, divided by
    the length of the truth (line by line, so each edit distance stays the size of a line)."""
    if not samples:
        return {}
    images = [normalise_line(s.image) for s in samples]
    probabilities = line_probabilities(functools.partial(model.predict, verbose=0), images, batch_size)
    predicted = [best_path(p, charset) for p in probabilities]
    truths = [normalise_text(s.text) for s in samples]
    hypotheses = [normalise_text(p) for p in predicted]
    char_errors = sum(edit_distance(t, h) for t, h in zip(truths, hypotheses))
    word_errors = sum(edit_distance(t.split(), h.split()) for t, h in zip(truths, hypotheses))
    return {
        "lines": len(samples),
        "cer": round(char_errors / max(1, sum(len(t) for t in truths)), 4),
        "wer": round(word_errors / max(1, sum(len(t.split()) for t in truths)), 4),
    }


def layer_shapes(model) -> list[tuple]:
    """Each layer's type and weight shapes; of the output layer, only its input width (its output
    width is the charset's size)."""
    return [
        (type(layer).__name__, layer.weights[0].shape[0] if layer.name == "ctc" else [w.shape for w in layer.weights])
        for layer in model.layers
    ]


def transfer_weights(source, source_charset: str, target, target_charset: str) -> tuple[int, str]:
    """Start `target` from a trained line model: every layer's weights are copied in order, and the
    output layer's columns follow their characters, so fine-tuning data may bring characters the
    source never saw (they start untrained) or lack some it had. A source with another sequence head
    gives only its convolutional backbone (up to "features"); the head and output start fresh.
    Returns (characters carried over, what was carried)."""
    source_shapes, target_shapes = layer_shapes(source), layer_shapes(target)
    backbone = [layer.name for layer in target.layers].index("features") + 1
    if source_shapes == target_shapes:
        carried, copied = "all layers", len(target.layers)
    elif source_shapes[:backbone] == target_shapes[:backbone]:
        carried, copied = "convolutional backbone", backbone
    else:
        raise ConfigError(f"cannot start from {source.name}: its layers differ from those of {target.name}")
    for a, b in zip(source.layers[:copied], target.layers[:copied]):
        if b.name != "ctc":
            b.set_weights(a.get_weights())
    if carried != "all layers":
        return 0, carried
    kernel, bias = source.get_layer("ctc").get_weights()
    new_kernel, new_bias = target.get_layer("ctc").get_weights()
    columns = {c: i + 1 for i, c in enumerate(source_charset)} | {"": 0}  # column 0 is the blank
    shared = 0
    for j, char in enumerate(["", *target_charset]):
        if char in columns:
            new_kernel[:, j], new_bias[j] = kernel[:, columns[char]], bias[columns[char]]
            shared += bool(char)
    target.get_layer("ctc").set_weights([new_kernel, new_bias])
    return shared, carried


def validation_split(train: list[LineSample], seed: int) -> tuple[list[LineSample], list[LineSample]]:
    """(fit, validation): a seeded 5 % of the training lines that only watch the loss, never trained
    on; benchmarks/auto_rule.py tunes `--engine auto` on them."""
    order = np.random.default_rng(seed).permutation(len(train))
    n_val = max(1, len(train) // 20)
    return [train[i] for i in order[n_val:]], [train[i] for i in order[:n_val]]


def start_from(model, charset: str, cfg: LineTrainConfig) -> dict:
    """Load `cfg.init_from`'s weights into `model`; what the manifest records of that start."""
    source = load_manifest(cfg.models_dir, cfg.init_from, LINE_RECOGNIZER)
    shared, carried = transfer_weights(load_keras_model(source), source.charset, model, charset)
    log.info(
        "starting from %s %s: %s, %d of %d output characters",
        source.name,
        source.version,
        carried,
        shared,
        len(charset),
    )
    return {
        "name": source.name,
        "version": source.version,
        "head": source.extra.get("head", "conv"),
        "carried": carried,
        "epochs_run": source.extra.get("epochs_run"),
        "training_seconds": source.extra.get("training_seconds"),
        "training_data": list(source.training_data),
        "held_out": source.metrics.get("held_out", {}),
    }


def has_gpu() -> bool:
    """Whether Keras's backend (TensorFlow, JAX or PyTorch) computes on a GPU."""
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        return bool(import_tensorflow().config.list_physical_devices("GPU"))
    if backend == "jax":
        import jax

        return jax.default_backend() == "gpu"
    if backend == "torch":
        import torch

        return torch.cuda.is_available()
    return False


def train_line_model(cfg: LineTrainConfig, verbose: int = 2) -> Path:
    """Train (resuming from `work_dir`), evaluate on the held-out pages, save the model and manifest."""
    import keras

    refuse_to_replace(cfg.models_dir, cfg.name, cfg.overwrite)
    keras.utils.set_random_seed(cfg.seed)
    if has_gpu():
        keras.mixed_precision.set_global_policy("mixed_float16")
    clock = TrainingClock(Path(cfg.work_dir) / cfg.name / "backup")  # before the data: reading it is part of the time
    if not cfg.data and not cfg.synthetic:
        raise ConfigError("nothing to train on: give --data folders of real lines, --synthetic N, or both")
    samples, described = [], []
    for folder in cfg.data:
        part = read_training_folder(Path(folder))
        samples += part
        described.append(f"{Path(folder).name}: {len(part)} lines")
    synthetic = []
    if cfg.synthetic:
        synthetic = synthetic_lines(cfg.synthetic, cfg.seed)
        fonts = ", ".join(p.stem for p in line_fonts())
        described.append(f"synthetic: {cfg.synthetic} lines (seed {cfg.seed}) rendered in {fonts}")
    inherited = load_manifest(cfg.models_dir, cfg.init_from).extra.get("held_out_pages", []) if cfg.init_from else []
    stems = {page.rsplit("/", 1)[-1] for page in inherited}
    if any(s.page.rsplit("/", 1)[-1] in stems for s in samples):  # a fine-tuned model keeps its source's test pages
        train, test = held_out_as(samples, inherited)
        described.append(
            f"held out by page: the {len(stems)} pages {cfg.init_from} "
            f"held out: {len(train)} train / {len(test)} test lines"
        )
    else:
        if samples:  # real lines are the test set; synthetic ones only add to training
            train, test = split_by_page(samples, cfg.test_fraction, cfg.split_seed)
        else:  # pre-training on synthetic lines alone: whole synthetic pages are held out
            train, test, synthetic = *split_by_page(synthetic, cfg.test_fraction, cfg.split_seed), []
        described.append(
            f"held out by page (seed {cfg.split_seed}, {cfg.test_fraction:.0%} of each folder's pages): "
            f"{len(train)} train / {len(test)} test lines"
        )
    if cfg.limit:
        train = [train[i] for i in sorted(np.random.default_rng(cfg.seed).permutation(len(train))[: cfg.limit])]
    fit, val = validation_split(train, cfg.seed)
    if cfg.page_crops:
        crops = list(page_crops(fit))
        described.append(
            f"page crops: {len(crops)} lines as our segmentation cut them from the training lines' pages, "
            "rebuilt by stacking those lines"
        )
        fit += crops
    fit += synthetic
    charset = "".join(sorted({c for s in fit for c in s.text}))
    lookup = {c: i + 1 for i, c in enumerate(charset)}
    log.info(
        "line model: %d train, %d validation, %d test lines; %d characters", len(fit), len(val), len(test), len(charset)
    )

    work = Path(cfg.work_dir) / cfg.name
    work.mkdir(parents=True, exist_ok=True)
    batches = line_batches(
        fit, lookup, cfg.batch_size, cfg.seed, augmented=True,
        elastic_alpha=cfg.elastic_alpha, vertical_jitter=cfg.vertical_jitter,
    )  # fmt: skip
    learning_rate, callbacks = fit_schedule(
        work,
        clock,
        initial_rate=cfg.learning_rate,
        schedule=cfg.schedule,
        total_steps=cfg.epochs * len(batches),
        patience=cfg.patience,
        plateau_patience=max(1, cfg.patience // 2),
    )
    model = build_line_model(len(charset), cfg.head)
    started_from = start_from(model, charset, cfg) if cfg.init_from else None
    model.compile(optimizer=keras.optimizers.Adam(learning_rate, clipnorm=5.0), loss=ctc_loss)
    model.fit(
        batches,
        validation_data=line_batches(val, lookup, cfg.batch_size, cfg.seed, augmented=False),
        epochs=cfg.epochs,
        callbacks=callbacks,
        verbose=verbose,
    )
    metrics = {"held_out": evaluate_lines(model, test, charset)}
    for folder in sorted({s.page.split("/", 1)[0] for s in test}):
        metrics[folder] = evaluate_lines(model, [s for s in test if s.page.startswith(folder + "/")], charset)
    log.info("held-out line metrics: %s", metrics)

    weights = save_keras_model(model, cfg.models_dir, cfg.name)
    manifest = {
        "name": cfg.name,
        "version": model_version(),
        "task": LINE_RECOGNIZER,
        "kind": "line recognizer (CNN + CTC)",
        "head": cfg.head,
        "head_description": HEADS[cfg.head],
        "learning_rate": {"initial": cfg.learning_rate, "schedule": cfg.schedule, "batch_size": cfg.batch_size},
        "augmentation": "slant, width and stroke jitter"
        + (
            f", elastic distortion (alpha up to {cfg.elastic_alpha:g}, sigma {LINE_ELASTIC_SIGMA:g})"
            if cfg.elastic_alpha
            else ""
        )
        + (
            f", height and position jitter (up to {cfg.vertical_jitter:.0%} of the line)" if cfg.vertical_jitter else ""
        ),
        "weights": weights.name,
        "charset": charset,
        "input_size": [LINE_HEIGHT, 0],
        "downsample": DOWNSAMPLE,
        "normalisation": "hcrbatch.lineengine.normalise_line: ink white on black in [0, 1], 64 px high, aspect kept",
        "training_data": described,
        "epochs_run": epochs_done(model, len(batches)),
        "epochs_max": cfg.epochs,
        "seed": cfg.seed,
        "split_seed": cfg.split_seed,
        "held_out_pages": sorted({s.page for s in test}),
        "training_seconds": clock.seconds,
        **({"initialised_from": started_from} if started_from else {}),
        "metrics": metrics,
        "date": dt.date.today().isoformat(),
    }
    return write_manifest(cfg.models_dir, manifest)

"""The character CNN: architecture, training with checkpoints and early stopping, and evaluation."""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from pathlib import Path

import numpy as np

from hcrbatch.config import TrainConfig
from hcrbatch.glyphs import INPUT_SIZE, SOFTEN_SIGMA
from hcrbatch.metrics import balanced_merge
from hcrbatch.modelstore import (
    GLYPH_CLASSIFIER,
    refuse_to_replace,
    TrainingClock,
    adjust_priors,
    epochs_done,
    fit_schedule,
    load_keras_model,
    load_manifest,
    model_version,
    save_keras_model,
    write_manifest,
)
from hcrbatch.train.augment import ELASTIC_SIGMA, elastic_distort
from hcrbatch.train.datasets import (
    GlyphSet,
    class_shares,
)
from hcrbatch.train.evaluate import Evaluation
from hcrbatch.train.glyphdata import add_source, describe_sources, load_training_data, ordered_charset
from hcrbatch.train.text import random_text

log = logging.getLogger(__name__)

PROSE_PARAGRAPHS = 3000  # about 1.8 M characters (2 s): even a digit's share in prose is counted from thousands


def build_model(n_classes: int):
    """A VGG-style CNN with batch norm and dropout; affine augmentation runs only while training."""
    import keras
    from keras import layers

    def conv(x, filters):
        x = layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization(momentum=0.9)(x)
        return layers.Activation("relu")(x)

    inputs = keras.Input((INPUT_SIZE, INPUT_SIZE, 1), name="glyph")
    x = layers.RandomRotation(0.03, fill_mode="constant")(inputs)
    x = layers.RandomZoom(0.1, fill_mode="constant")(x)
    x = layers.RandomTranslation(0.08, 0.08, fill_mode="constant")(x)
    x = conv(conv(x, 32), 32)
    x = layers.MaxPooling2D()(x)
    x = conv(conv(x, 64), 64)
    x = layers.MaxPooling2D()(x)
    x = conv(conv(x, 128), 128)
    x = layers.MaxPooling2D()(x)
    x = layers.Flatten()(x)
    x = layers.Dropout(0.3)(x)
    x = layers.Dense(256, use_bias=False)(x)
    x = layers.BatchNormalization(momentum=0.9)(x)
    x = layers.Activation("relu", name="features")(x)
    x = layers.Dropout(0.4)(x)
    outputs = layers.Dense(n_classes, activation="softmax", dtype="float32", name="classes")(x)
    return keras.Model(inputs, outputs, name="charcnn")


def elastic_batches(images: np.ndarray, labels: np.ndarray, alpha: float, batch_size: int, seed: int):
    """A Keras dataset of shuffled, elastically distorted batches; new fields and a new order every
    epoch, from `seed`. Distortion happens here, outside the model, so saved models hold no custom layer."""
    import keras

    class Distorted(keras.utils.PyDataset):
        def __init__(self):
            super().__init__()
            self.epoch = 0
            self.order = np.random.default_rng([seed, 0]).permutation(len(labels))

        def __len__(self):
            return -(-len(labels) // batch_size)

        def __getitem__(self, index):
            rows = self.order[index * batch_size : (index + 1) * batch_size]
            rng = np.random.default_rng([seed, self.epoch, index])
            return elastic_distort(images[rows], rng, alpha)[..., None], labels[rows]

        def on_epoch_end(self):
            self.epoch += 1
            self.order = np.random.default_rng([seed, self.epoch]).permutation(len(labels))

    return Distorted()


def gan_top_up(train: GlyphSet, cfg: TrainConfig) -> GlyphSet:
    """Generated glyphs that bring every class the generator knows up to `balance_to` rows (default: the mean)."""
    from hcrbatch.train.gan import GlyphGenerator, top_up_counts

    generator = GlyphGenerator.load(cfg.models_dir, cfg.gan)
    _, counts = np.unique(train.labels, return_counts=True)
    target = cfg.balance_to or int(round(counts.mean()))
    wanted = top_up_counts(train.labels, generator.charset, target)
    log.info("GAN top-up to %d rows per class: %d glyphs for %d classes", target, sum(wanted.values()), len(wanted))
    glyphs = generator.glyph_set(
        wanted, cfg.seed, judge_acceptance(cfg.models_dir, cfg.gan_judge) if cfg.gan_judge else None
    )
    log.info("GAN top-up: %d of %d glyphs kept", len(glyphs), sum(wanted.values()))
    return glyphs


def judge_acceptance(models_dir: Path, name: str):
    """A filter keeping generated glyphs that character model `name` reads as their class, up to
    EMNIST-Balanced's case merges (o and O look alike: the line's geometry tells them apart, not the glyph)."""
    manifest = load_manifest(models_dir, name, GLYPH_CLASSIFIER)
    model = load_keras_model(manifest)
    weights = manifest.log_prior_weights()

    def accept(images: np.ndarray, char: str) -> np.ndarray:
        probs = adjust_priors(model.predict(images[..., None], batch_size=1024, verbose=0), weights)
        read = [balanced_merge(manifest.charset[i]) for i in probs.argmax(axis=1)]
        return np.array([r == balanced_merge(char) for r in read], bool)

    return accept


def prior_correction(real: np.ndarray, trained: np.ndarray) -> dict[str, float]:
    """log(real share / trained share) per class that generated rows changed: added to the network's
    log-probabilities, it gives back the class frequencies of the real data (logit adjustment, Menon
    et al. 2021), so topping up rare classes teaches their shapes without making them likelier."""
    floor = 0.5 / len(real)  # a class with no real rows keeps a small prior rather than none
    ratios = log_share_ratios(dict(zip(*class_shares(real))), trained, floor)
    return {c: r for c, r in ratios.items() if abs(r) > 1e-3}


def prose_prior(trained: np.ndarray, seed: int, paragraphs: int = PROSE_PARAGRAPHS) -> dict[str, float]:
    """log(prose share / trained share) per class, prose being what `synthlines.random_text` writes
    (English and French words at their frequencies, with names, dates and numbers).

    Added to the network's log-probabilities, it makes each class as likely as it is in running text,
    which is what a page holds; the training rows' own mix (EMNIST's forms: many digits) suits
    isolated characters. One network, a prior per use: `hcrbatch run --char-prior prose|training`.
    """
    # imported here: synthlines imports this module

    rng = np.random.default_rng(seed)
    classes = set(trained.tolist())
    counts = Counter(c for _ in range(paragraphs) for c in random_text(rng, 600) if c in classes)
    total = sum(counts.values())
    floor = 0.5 / total  # a class prose never writes keeps a small prior rather than none
    return log_share_ratios({c: n / total for c, n in counts.items()}, trained, floor)


def log_share_ratios(target: dict[str, float], trained: np.ndarray, floor: float) -> dict[str, float]:
    """log(target share / trained share) for each class of `trained`, a target share under `floor`
    counting as `floor`."""
    labels, shares = class_shares(trained)
    return {str(c): round(float(np.log(max(target.get(c, 0.0), floor) / s)), 4) for c, s in zip(labels, shares)}


def evaluate(model, images: np.ndarray, labels: np.ndarray, charset: str, log_weights: np.ndarray) -> dict[str, float]:
    if not len(labels):
        return {}
    probs = adjust_priors(model.predict(images[..., None], batch_size=1024, verbose=0), log_weights)
    summary = Evaluation.from_probabilities(list(labels), probs, charset).summary()
    return {"test_rows": summary.pop("rows")} | {k: None if np.isnan(v) else round(v, 4) for k, v in summary.items()}


def train_char_model(cfg: TrainConfig, verbose: int = 2) -> Path:
    """Train, evaluate on the held-out rows, save `<name>.keras` and its manifest; return the manifest path."""
    import keras
    import tensorflow as tf

    refuse_to_replace(cfg.models_dir, cfg.name, cfg.overwrite)
    keras.utils.set_random_seed(cfg.seed)
    tf.config.experimental.enable_op_determinism()
    if tf.config.list_physical_devices("GPU"):
        keras.mixed_precision.set_global_policy("mixed_float16")
    clock = TrainingClock(Path(cfg.work_dir) / cfg.name / "backup")  # before the data: reading it is part of the time
    train, test, described, origins = load_training_data(cfg)
    real_labels = train.labels
    if cfg.balance == "gan":
        generated = gan_top_up(train, cfg)
        if len(generated):
            train = add_source(train, generated, origins, "GAN")
            described.append(
                f"{generated.source}: {len(generated)} generated glyphs topping up {len(set(generated.labels))} "
                "classes; prior_correction restores the real class frequencies"
            )
    corrections = prior_correction(real_labels, train.labels) if cfg.balance == "gan" else {}
    prose = prose_prior(train.labels, cfg.seed)
    charset = ordered_charset(set(train.labels) | set(test.labels))
    log_weights = np.array([corrections.get(c, 0.0) for c in charset])
    lookup = {c: i for i, c in enumerate(charset)}
    y_train = np.array([lookup[c] for c in train.labels], np.int32)
    order = np.random.default_rng(cfg.seed).permutation(len(train))
    n_val = max(1, len(order) // 20)
    val_idx, fit_idx = order[:n_val], order[n_val:]
    log.info("training on %d glyphs, validating on %d, %d classes", len(fit_idx), n_val, len(charset))

    work = Path(cfg.work_dir) / cfg.name
    work.mkdir(parents=True, exist_ok=True)
    steps_per_epoch = -(-len(fit_idx) // cfg.batch_size)
    learning_rate, callbacks = fit_schedule(
        work,
        clock,
        initial_rate=cfg.learning_rate,
        schedule=cfg.schedule,
        total_steps=cfg.epochs * steps_per_epoch,
        patience=cfg.patience,
        plateau_patience=max(1, cfg.patience - 1),
    )
    model = build_model(len(charset))
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    validation = (train.images[val_idx, ..., None], y_train[val_idx])
    if cfg.elastic_alpha:
        batches = elastic_batches(train.images[fit_idx], y_train[fit_idx], cfg.elastic_alpha, cfg.batch_size, cfg.seed)
        model.fit(batches, validation_data=validation, epochs=cfg.epochs, callbacks=callbacks, verbose=verbose)
    else:
        model.fit(
            train.images[fit_idx, ..., None],
            y_train[fit_idx],
            validation_data=validation,
            epochs=cfg.epochs,
            batch_size=cfg.batch_size,
            callbacks=callbacks,
            verbose=verbose,
        )
    metrics = evaluate(model, test.images, test.labels, charset, log_weights)
    log.info("held-out metrics: %s", metrics)

    weights = save_keras_model(model, cfg.models_dir, cfg.name)
    manifest = {
        "name": cfg.name,
        "version": model_version(),
        "task": GLYPH_CLASSIFIER,
        "kind": "glyph classifier (VGG-style CNN, batch norm, dropout)",
        "augmentation": "random rotation, zoom and shift"
        + (
            f"; elastic distortion (alpha {cfg.elastic_alpha:g}, sigma {ELASTIC_SIGMA:g} px)"
            if cfg.elastic_alpha
            else ""
        ),
        "learning_rate": {"initial": cfg.learning_rate, "schedule": cfg.schedule, "batch_size": cfg.batch_size},
        "weights": weights.name,
        "charset": charset,
        "input_size": [INPUT_SIZE, INPUT_SIZE],
        "normalisation": "hcrbatch.glyphs.normalise_glyph: white ink on black, binarised, ink box 24 px, "
        f"mass-centred in 28x28, thin strokes thickened, Gaussian edge sigma {SOFTEN_SIGMA:g} px",
        "training_data": described,
        "class_sources": describe_sources(origins, charset),
        **({"prior_correction": corrections} if corrections else {}),
        "prose_prior": prose,
        "epochs_run": epochs_done(model, steps_per_epoch),
        "epochs_max": cfg.epochs,
        "seed": cfg.seed,
        "split_seed": cfg.split_seed,
        "train_rows": int(len(fit_idx)),
        "training_seconds": clock.seconds,
        "metrics": metrics,
        "date": dt.date.today().isoformat(),
    }
    return write_manifest(cfg.models_dir, manifest)

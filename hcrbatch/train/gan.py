"""A class-conditional GAN that writes single handwritten characters.

Why this design (also written into the manifest): a DCGAN-style generator that receives the class
twice (joined to the latent vector, and as one-hot planes beside its 7×7 features), against a
discriminator with spectral normalisation and hinge loss — the pairing that trains stably on small
images without tuning — which reads the class through a projection head (Miyato & Koyama 2018,
"cGANs with projection discriminator") and an auxiliary classifier (AC-GAN, weight `AUX_WEIGHT`).
The two class heads are left unnormalised: under spectral normalisation their outputs stayed too
small to carry the class, and the first trial generated the same shapes for every label (1.7 %
class fidelity after 600 steps; 25 % once unconstrained). AC-GAN alone is known to collapse a class
to its easiest shape, so its weight is half the adversarial loss's. Classes are sampled uniformly
while training, so rare letters are learnt as well as frequent ones.

Images are exactly what `hcrbatch.glyphs.normalise_glyph` makes (white ink on black, 28×28, [0, 1]),
so generated characters can join the recognizer's training data and be laid out on pages by
`hcrbatch.synth.GlyphHand`.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from hcrbatch.atomic import atomic_path, atomic_write_bytes
from hcrbatch.config import GanConfig
from hcrbatch.errors import ConfigError, ModelError
from hcrbatch.glyphs import INPUT_SIZE, normalise_glyph
from hcrbatch.modelstore import (
    CHARACTER_GENERATOR,
    refuse_to_replace,
    ModelManifest,
    load_keras_model,
    load_manifest,
    model_version,
    save_keras_model,
    write_manifest,
)
from hcrbatch.train.datasets import GlyphSet, encode_label
from hcrbatch.train.glyphdata import describe_sources, load_training_data, ordered_charset

log = logging.getLogger(__name__)

LATENT_DIM = 64
AUX_WEIGHT = 0.5
DESIGN = (
    "conditional DCGAN generator (one-hot class joined to a 64-d latent and tiled beside the 7x7x128 features; "
    "stride-2 transposed convolutions 64, 32 -> 28x28 sigmoid) against a discriminator of five spectral-normalised "
    "convolutions with hinge loss, a projection head for the class and an auxiliary classifier (weight 0.5), both "
    "unnormalised; Adam 2e-4 (beta1 0, beta2 0.9); classes sampled uniformly. Chosen because SN + hinge trains "
    "stably without tuning and the two class heads keep look-alike classes apart."
)


def build_generator(n_classes: int, latent_dim: int = LATENT_DIM):
    """The class enters twice: joined to the latent vector, and as one-hot planes beside the 7×7 features."""
    import keras
    from keras import layers

    noise = keras.Input((latent_dim,), name="noise")
    label = keras.Input((), dtype="int32", name="label")
    onehot = layers.CategoryEncoding(n_classes, output_mode="one_hot", name="onehot")(label)
    x = layers.Concatenate()([noise, onehot])
    x = layers.Dense(7 * 7 * 128, use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    x = layers.ReLU()(x)
    x = layers.Reshape((7, 7, 128))(x)
    planes = layers.UpSampling2D(7)(layers.Reshape((1, 1, n_classes))(onehot))
    x = layers.Concatenate()([x, planes])
    for filters in (64, 32):
        x = layers.Conv2DTranspose(filters, 4, strides=2, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization()(x)
        x = layers.ReLU()(x)
    x = layers.Conv2D(1, 3, padding="same", activation="sigmoid", dtype="float32", name="glyph")(x)
    return keras.Model([noise, label], x, name="generator")


def build_discriminator(n_classes: int):
    """Returns a model giving (realness score, class logits) for an image and its conditioned class.
    The class heads are not spectral-normalised (see the module's docstring)."""
    import keras
    from keras import layers

    def sn(layer):
        return layers.SpectralNormalization(layer)

    image = keras.Input((INPUT_SIZE, INPUT_SIZE, 1), name="glyph")
    label = keras.Input((), dtype="int32", name="label")
    x = layers.Rescaling(2.0, offset=-1.0)(image)
    for filters, stride in ((32, 1), (32, 2), (64, 1), (64, 2), (128, 1)):
        x = sn(layers.Conv2D(filters, 3 if stride == 1 else 4, strides=stride, padding="same"))(x)
        x = layers.LeakyReLU(0.2)(x)
    features = layers.Flatten()(x)
    onehot = layers.CategoryEncoding(n_classes, output_mode="one_hot", name="onehot")(label)
    class_vector = layers.Dense(features.shape[-1], use_bias=False, name="projection")(onehot)
    projection = layers.Dot(axes=1)([features, class_vector])
    realness = layers.Add(name="realness")([sn(layers.Dense(1))(features), projection])
    logits = layers.Dense(n_classes, name="class_logits")(features)
    return keras.Model([image, label], [realness, logits], name="discriminator")


def _make_gan_class():
    import keras
    import tensorflow as tf

    class ConditionalGAN(keras.Model):
        """Alternates one discriminator and one generator step per batch (hinge loss + auxiliary CE)."""

        def __init__(self, generator, discriminator, latent_dim: int, seed: int, **kwargs):
            super().__init__(**kwargs)
            self.generator = generator
            self.discriminator = discriminator
            self.latent_dim = latent_dim
            self.noise_seed = keras.random.SeedGenerator(seed)

        def compile(self, g_optimizer, d_optimizer):
            super().compile()
            self.g_optimizer = g_optimizer
            self.d_optimizer = d_optimizer

        def call(self, inputs, training=False):
            return self.generator(inputs, training=training)

        def train_step(self, data):
            images, labels = data
            batch = tf.shape(images)[0]
            ce = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
            noise = keras.random.normal((batch, self.latent_dim), seed=self.noise_seed)
            fake = self.generator([noise, labels], training=True)
            with tf.GradientTape() as tape:
                real_score, real_logits = self.discriminator([images, labels], training=True)
                fake_score, _ = self.discriminator([fake, labels], training=True)
                hinge = tf.reduce_mean(tf.nn.relu(1.0 - real_score)) + tf.reduce_mean(tf.nn.relu(1.0 + fake_score))
                d_loss = hinge + AUX_WEIGHT * ce(labels, real_logits)
            grads = tape.gradient(d_loss, self.discriminator.trainable_weights)
            self.d_optimizer.apply_gradients(zip(grads, self.discriminator.trainable_weights))

            noise = keras.random.normal((batch, self.latent_dim), seed=self.noise_seed)
            with tf.GradientTape() as tape:
                fake = self.generator([noise, labels], training=True)
                fake_score, fake_logits = self.discriminator([fake, labels], training=True)
                g_loss = -tf.reduce_mean(fake_score) + AUX_WEIGHT * ce(labels, fake_logits)
            grads = tape.gradient(g_loss, self.generator.trainable_weights)
            self.g_optimizer.apply_gradients(zip(grads, self.generator.trainable_weights))
            return {"d_loss": d_loss, "g_loss": g_loss, "d_real": tf.reduce_mean(real_score),
                    "d_fake": tf.reduce_mean(fake_score)}  # fmt: skip

    return ConditionalGAN


def balanced_batches(glyphs: GlyphSet, charset: str, batch_size: int, steps: int, seed: int):
    """A Keras dataset of `steps` batches per epoch, each class drawn equally often, rows at random."""
    import keras

    lookup = {c: i for i, c in enumerate(charset)}
    y = np.array([lookup[c] for c in glyphs.labels], np.int32)
    rows_of = [np.flatnonzero(y == k) for k in range(len(charset))]
    present = np.array([k for k, rows in enumerate(rows_of) if len(rows)])

    class Balanced(keras.utils.PyDataset):
        def __init__(self):
            super().__init__()
            self.epoch = 0

        def __len__(self):
            return steps

        def __getitem__(self, index):
            rng = np.random.default_rng([seed, self.epoch, index])
            classes = rng.choice(present, batch_size)
            rows = np.array([rows_of[k][rng.integers(len(rows_of[k]))] for k in classes])
            return glyphs.images[rows, ..., None], y[rows]

        def on_epoch_end(self):
            self.epoch += 1

    return Balanced()


def sample_grid(generator, charset: str, per_class: int, seed: int) -> np.ndarray:
    """One row per class, `per_class` samples across: dark ink on light paper, uint8."""
    images = generate(generator, np.repeat(np.arange(len(charset)), per_class), seed)
    rows = [np.hstack(list(images[k * per_class : (k + 1) * per_class])) for k in range(len(charset))]
    return (255 - np.vstack(rows) * 255).astype(np.uint8)


def generate(generator, labels: np.ndarray, seed: int, batch_size: int = 1024) -> np.ndarray:
    """Generated N×28×28 float32 images for class indices `labels`, reproducible from `seed`."""
    noise = np.random.default_rng(seed).standard_normal((len(labels), generator.input[0].shape[-1]))
    out = [
        generator(
            [noise[i : i + batch_size].astype(np.float32), labels[i : i + batch_size].astype(np.int32)], training=False
        )
        for i in range(0, len(labels), batch_size)
    ]
    if not out:
        return np.zeros((0, INPUT_SIZE, INPUT_SIZE), np.float32)
    return np.concatenate([np.asarray(o) for o in out])[..., 0]


def train_gan(cfg: GanConfig, verbose: int = 2) -> Path:
    """Train the GAN (resuming from `work_dir` if interrupted), save the generator and its manifest."""
    import keras

    refuse_to_replace(cfg.models_dir, cfg.name, cfg.overwrite)
    keras.utils.set_random_seed(cfg.seed)
    started = time.time()
    train, _, described, origins = load_training_data(cfg.data_config())
    charset = ordered_charset(set(train.labels))
    log.info("GAN: %d training glyphs, %d classes", len(train), len(charset))
    work = Path(cfg.work_dir) / cfg.name
    (work / "grids").mkdir(parents=True, exist_ok=True)

    generator = build_generator(len(charset))
    gan = _make_gan_class()(generator, build_discriminator(len(charset)), LATENT_DIM, cfg.seed)
    gan.compile(
        g_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.0, beta_2=0.9),
        d_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.0, beta_2=0.9),
    )
    gan([np.zeros((1, LATENT_DIM), np.float32), np.zeros((1,), np.int32)])
    gan.g_optimizer.build(gan.generator.trainable_variables)
    gan.d_optimizer.build(gan.discriminator.trainable_variables)
    checkpoint = work / "checkpoint.weights.h5"
    done_epochs = _load_checkpoint(gan, checkpoint)
    data = balanced_batches(train, charset, cfg.batch_size, cfg.steps_per_epoch, cfg.seed)
    data.epoch = done_epochs

    class EpochEnd(keras.callbacks.Callback):
        """Checkpoint (weights and both optimizers) and a sample grid after every epoch."""

        def on_epoch_end(self, epoch, logs=None):
            with atomic_path(checkpoint, suffix=".weights.h5") as tmp:
                gan.save_weights(tmp)
            atomic_write_bytes(checkpoint.with_suffix(".epoch"), str(epoch + 1).encode())
            path = work / "grids" / f"epoch-{epoch + 1:03d}.png"
            write_png(path, sample_grid(generator, charset, 10, cfg.seed))
            log.info("epoch %d/%d: %s; grid %s", epoch + 1, cfg.epochs, _format(logs), path)

    if done_epochs < cfg.epochs:
        gan.fit(
            data,
            epochs=cfg.epochs,
            initial_epoch=done_epochs,
            callbacks=[keras.callbacks.CSVLogger(str(work / "history.csv"), append=True), EpochEnd()],
            verbose=verbose,
        )

    weights = save_keras_model(generator, cfg.models_dir, cfg.name)
    manifest = {
        "name": cfg.name,
        "version": model_version(),
        "task": CHARACTER_GENERATOR,
        "kind": "conditional GAN generator",
        "design": DESIGN,
        "weights": weights.name,
        "charset": charset,
        "input_size": [INPUT_SIZE, INPUT_SIZE],
        "latent_dim": LATENT_DIM,
        "normalisation": "outputs what hcrbatch.glyphs.normalise_glyph makes: white ink on black, 28x28, [0, 1]",
        "training_data": described,
        "class_sources": describe_sources(origins, charset),
        "epochs": cfg.epochs,
        "steps_per_epoch": cfg.steps_per_epoch,
        "batch_size": cfg.batch_size,
        "seed": cfg.seed,
        "train_rows": len(train),
        "training_seconds": round(time.time() - started, 1),
        "metrics": {"final_losses": _last_losses(work / "history.csv")},
        "date": dt.date.today().isoformat(),
    }
    return write_manifest(cfg.models_dir, manifest)


def _load_checkpoint(gan, checkpoint: Path) -> int:
    """Restore an interrupted run; returns the number of epochs it had finished (0 for a new run)."""
    epoch_file = checkpoint.with_suffix(".epoch")
    if not (checkpoint.is_file() and epoch_file.is_file()):
        return 0
    gan.load_weights(checkpoint)
    done = int(epoch_file.read_text())
    log.info("resuming from %s after epoch %d", checkpoint, done)
    return done


def _last_losses(history_csv: Path) -> dict[str, float]:
    import pandas as pd

    if not history_csv.is_file():
        return {}
    last = pd.read_csv(history_csv).iloc[-1]
    return {k: round(float(v), 4) for k, v in last.items() if k != "epoch" and pd.notna(v)}  # NaN is no JSON


def _format(logs) -> str:
    return ", ".join(f"{k} {float(v):.3f}" for k, v in (logs or {}).items())


@dataclass
class GlyphGenerator:
    """A trained generator with its manifest: writes images of any character in its charset."""

    manifest: ModelManifest
    model: object

    @classmethod
    def load(cls, models_dir: Path, name: str) -> GlyphGenerator:
        manifest = load_manifest(models_dir, name, CHARACTER_GENERATOR)
        return cls(manifest, load_keras_model(manifest))

    @property
    def charset(self) -> str:
        return self.manifest.charset

    def sample(self, chars: str, per_class: int, seed: int) -> dict[str, np.ndarray]:
        """`per_class` images of each character, passed through `normalise_glyph` like any training image."""
        unknown = sorted(set(chars) - set(self.charset))
        if unknown:
            raise ConfigError(f"generator {self.manifest.name} cannot write {''.join(unknown)!r}")
        labels = np.repeat([self.charset.index(c) for c in chars], per_class)
        images = generate(self.model, labels, seed)
        normalised = np.stack([normalise_glyph(img) for img in images]) if len(images) else images
        return {c: normalised[i * per_class : (i + 1) * per_class] for i, c in enumerate(chars)}

    def glyph_bank(self, per_class: int, seed: int) -> dict[str, np.ndarray]:
        """`per_class` uint8 images (white ink on black) of every character: what `synth.GlyphHand` writes with."""
        return {c: (images * 255).astype(np.uint8) for c, images in self.sample(self.charset, per_class, seed).items()}

    def glyph_set(self, wanted: dict[str, int], seed: int, accept: Callable | None = None) -> GlyphSet:
        """A GlyphSet with `wanted[c]` generated images of each character c. With `accept(images, c)`
        (a boolean mask), three times as many are drawn and only accepted ones kept, up to the count."""
        images, labels = [], []
        for i, (char, count) in enumerate(sorted(wanted.items())):
            if count <= 0:
                continue
            drawn = self.sample(char, count * (3 if accept else 1), seed + i)[char]
            kept = drawn[accept(drawn, char)][:count] if accept else drawn
            images.append(kept)
            labels.extend([char] * len(kept))
        if not images:
            return GlyphSet.concat([], f"gan:{self.manifest.name}")
        return GlyphSet(np.concatenate(images), np.array(labels, dtype=object), f"gan:{self.manifest.name}")


def write_samples(generator: GlyphGenerator, chars: str, per_class: int, out_dir: Path, seed: int) -> int:
    """Write `out_dir/<label>/NNNN.png` (dark ink on light paper), the layout `hcrbatch train --data` reads."""
    written = 0
    for char, images in generator.sample(chars, per_class, seed).items():
        folder = Path(out_dir) / encode_label(char)
        folder.mkdir(parents=True, exist_ok=True)
        for i, image in enumerate(images):
            write_png(folder / f"{i:05d}.png", (255 - image * 255).astype(np.uint8))
            written += 1
    return written


def write_png(path: Path, pixels: np.ndarray) -> None:
    ok, png = cv2.imencode(".png", pixels)
    if not ok:
        raise ModelError(f"could not encode {path.name}")
    atomic_write_bytes(path, png.tobytes())


def top_up_counts(labels: np.ndarray, charset: str, target: int) -> dict[str, int]:
    """How many generated images each class of `charset` needs to reach `target` rows."""
    present, counts = np.unique(labels, return_counts=True)
    have = dict(zip(present, counts))
    return {c: target - int(have.get(c, 0)) for c in charset if have.get(c, 0) < target}

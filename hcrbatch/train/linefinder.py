"""`hcrbatch train-line-finder`: the learned line density (`hcrbatch.linefinder`) from transcribed pages.

Each page with PAGE or ALTO beside its image (never one of the line model's held-out pages) is
cleaned as `hcrbatch run` cleans it and shown to the network at LETTER_HEIGHT pixels a letter
(`finder_input`). What it learns to give is, for each transcribed line apart, that line's own writing
blurred along the line as the ridge rules blur the page's (`segment.RIDGE_ALONG`, `RIDGE_ACROSS`),
scaled to 1 where it is densest: the ridges found on its map are where the rules would find them on
a page holding that line alone. A pixel of writing belongs to the transcribed line whose outline
holds it and whose letters' middle (a quarter of a letter height above its baseline) is nearest:
the outlines of neighbouring lines overlap. Only what lies in the transcription's annotated regions
is learned from (a will's margin notes and stamps, left untranscribed, are neither line nor not).
Every VALIDATION_EVERY-th page of each folder, by name, is not trained on: its loss chooses the epoch.
"""

from __future__ import annotations

import datetime as dt
import logging
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from hcrbatch.config import Config, IngestConfig, LineFinderTrainConfig, PreprocessConfig
from hcrbatch.errors import ConfigError
from hcrbatch.evalpages import scaled, transcribed_images
from hcrbatch.groundtruth import GTPage
from hcrbatch.ingest import iter_pages
from hcrbatch.linefinder import PLANES, finder_input
from hcrbatch.metrics import normalise_text
from hcrbatch.modelstore import (
    LINE_FINDER,
    LINE_RECOGNIZER,
    load_manifest,
    TrainingClock,
    fit_schedule,
    model_version,
    refuse_to_replace,
    save_keras_model,
    write_manifest,
)
from hcrbatch.preprocess import preprocess
from hcrbatch.segment import RIDGE_ACROSS, RIDGE_ALONG, page_writing

log = logging.getLogger(__name__)

LETTER_HEIGHT = 12.0  # pixels a letter is high where the network reads the page
FLOOR = 0.25  # the network's density under which no line is (chosen on the validation pages, log 2026-12-07)
# pages it finds lines on: those `--engine auto` takes for joined-up script (the line model's rule),
# the kind it learns from; on hand-printed pages (separate letters) it read worse than the rules
JOINED_INK = 0.15
VALIDATION_EVERY = 3
PATCH = 192  # the side of the square pieces of pages trained on (about 16 letter heights)
LETTER_MIDDLE = 0.25  # letter heights above the baseline: where a line's letters are thickest


@dataclass(frozen=True)
class PageSample:
    """A page as the network sees it, what it should give there, and where that is known (0/1)."""

    view: np.ndarray  # uint8, rows x columns x planes
    target: np.ndarray  # uint8, 255 = a line's densest writing
    weight: np.ndarray  # uint8

    def save(self, path: Path) -> None:
        np.savez_compressed(path, view=self.view, target=self.target, weight=self.weight)

    @classmethod
    def load(cls, path: Path) -> PageSample:
        with np.load(path) as stored:
            return cls(stored["view"], stored["target"], stored["weight"])


def _owners(polygons: list[np.ndarray], middles: list[np.ndarray], shape: tuple[int, int]) -> np.ndarray:
    """Each pixel's line (1-based; 0 for none): of the outlines holding it, the one whose letters'
    middle row (`middles`, one row a column) is nearest."""
    rows = np.arange(shape[0], dtype=np.float32)[:, None]
    nearest = np.full(shape, np.inf, np.float32)
    owner = np.zeros(shape, np.int32)
    for number, (polygon, middle) in enumerate(zip(polygons, middles), 1):
        inside = np.zeros(shape, np.uint8)
        cv2.fillPoly(inside, [np.round(polygon).astype(np.int32)], 1)
        distance = np.abs(rows - middle[None, :])
        take = inside.astype(bool) & (distance < nearest)
        nearest[take], owner[take] = distance[take], number
    return owner


def page_sample(path: Path, gt: GTPage) -> PageSample:
    """`path`'s page cleaned as `run` cleans it, scaled to LETTER_HEIGHT, with its lines' target."""
    page = next(iter_pages(path, IngestConfig()))
    clean = preprocess(page, PreprocessConfig())
    writing, height = page_writing(clean.ink)
    view = finder_input(PLANES, writing, clean.ink, clean.gray, height, LETTER_HEIGHT)
    shape = view.shape[:2]
    scale = LETTER_HEIGHT / height
    to_view = clean.to_clean * scale  # page pixels -> the deskewed frame -> the network's view

    def placed(points) -> np.ndarray:
        return np.asarray(points, np.float64) @ to_view[:, :2].T + to_view[:, 2]

    lines = [line for line in scaled(gt, page.width, page.height) if normalise_text(line.text)]
    polygons = [placed(line.polygon) for line in lines]
    middles = []
    for line, polygon in zip(lines, polygons):
        if len(line.baseline) >= 2:
            base = placed(line.baseline)
            base = base[np.argsort(base[:, 0])]
            middles.append(np.interp(np.arange(shape[1]), base[:, 0], base[:, 1]) - LETTER_MIDDLE * LETTER_HEIGHT)
        else:  # no baseline: the outline's middle
            middles.append(np.full(shape[1], polygon[:, 1].mean()))
    owner = _owners(polygons, middles, shape)
    target = np.zeros(shape, np.float32)
    for number in range(1, len(lines) + 1):
        own = view[..., 0] * (owner == number)
        if not own.any():
            continue
        density = cv2.GaussianBlur(own, (0, 0), sigmaX=RIDGE_ALONG * LETTER_HEIGHT, sigmaY=RIDGE_ACROSS * LETTER_HEIGHT)
        target = np.maximum(target, np.clip(density / np.percentile(density[density > 0], 99), 0, 1))
    annotated = (owner > 0).astype(np.uint8)
    sx, sy = page.width / max(gt.width, 1), page.height / max(gt.height, 1)
    for region in gt.regions:
        if len(region.polygon) >= 3 and any(normalise_text(line.text) for line in region.lines):
            outline = placed([(x * sx, y * sy) for x, y in region.polygon])
            cv2.fillPoly(annotated, [np.round(outline).astype(np.int32)], 1)
    reach = np.ones((int(2 * LETTER_HEIGHT) | 1, int(4 * LETTER_HEIGHT) | 1), np.uint8)  # the blur spills past
    return PageSample(
        np.round(view * 255).astype(np.uint8),
        np.round(target * 255).astype(np.uint8),
        cv2.dilate(annotated, reach),
    )


def _sample_job(job: tuple[Path, GTPage, str, Path]) -> str:
    path, gt, name, cache = job
    page_sample(path, gt).save(cache)
    return name


def training_pages(cfg: LineFinderTrainConfig) -> tuple[list[tuple[Path, GTPage, str]], list[str]]:
    """((image, transcription, name) of every page to learn from, names of those that validate),
    the line model's held-out pages left out; names are folder/stem."""
    held = {page.rsplit("/", 1)[-1] for page in line_manifest_held_out(cfg)}
    pages, validation = [], []
    for folder in cfg.data:
        found = [(f, gt) for f, gt in transcribed_images(Config(folder, folder)) if f.path.stem not in held]
        found.sort(key=lambda item: str(item[0].relative))
        for i, (f, gt) in enumerate(found):
            name = f"{folder.name}/{f.path.stem}"
            pages.append((f.path, gt, name))
            if i % VALIDATION_EVERY == 0:
                validation.append(name)
    if len(pages) < 2:
        raise ConfigError(
            "train-line-finder needs at least two transcribed pages (images with PAGE or ALTO beside them)"
        )
    return pages, validation


def line_manifest_held_out(cfg: LineFinderTrainConfig) -> list[str]:
    """The pages the line model `cfg.line_model` holds out (its test pages, never trained on here);
    none for no line model ("")."""
    if not cfg.line_model:
        return []
    return list(load_manifest(cfg.models_dir, cfg.line_model, LINE_RECOGNIZER).extra.get("held_out_pages", []))


def build_network(planes: int):
    """A small U-shaped network: two halvings, then convolutions dilated along the line (a receptive
    field of about 15 letter heights along it, 5 across), and back up to the page's size."""
    import keras
    from keras import layers

    def conv(x, filters: int, dilation=(1, 1)):
        return layers.Conv2D(filters, 3, padding="same", dilation_rate=dilation, activation="relu")(x)

    page = keras.Input((None, None, planes))
    full = conv(conv(page, 16), 16)
    half = conv(conv(layers.MaxPooling2D(2)(full), 32), 32)
    x = conv(layers.MaxPooling2D(2)(half), 48)
    for dilation in ((1, 2), (1, 4), (2, 8), (1, 16), (2, 2)):
        x = conv(x, 48, dilation)
    x = conv(layers.Concatenate()([layers.UpSampling2D(2)(x), half]), 32)
    x = conv(layers.Concatenate()([layers.UpSampling2D(2)(x), full]), 16)
    return keras.Model(page, layers.Conv2D(1, 1, activation="sigmoid")(x), name="linefinder")


def weighted_cross_entropy(truth, predicted):
    """Binary cross-entropy with soft targets, over the pixels whose weight (truth's 2nd plane) is 1."""
    from keras import ops

    target, weight = truth[..., :1], truth[..., 1:]
    p = ops.clip(predicted, 1e-6, 1 - 1e-6)
    loss = -(target * ops.log(p) + (1 - target) * ops.log(1 - p))
    return ops.sum(weight * loss) / (ops.sum(weight) + 1.0)


def _patches_dataset():
    import keras

    class Patches(keras.utils.PyDataset):
        """Square pieces of pages drawn at random, half of them mirrored left to right; seeded by the
        batch's number and, unless `same_each_epoch` (validation: its loss compares epochs), the epoch's."""

        def __init__(self, pages: list[PageSample], steps: int, batch: int, seed: int, same_each_epoch: bool = False):
            super().__init__()
            self.pages, self.steps, self.batch, self.seed = pages, steps, batch, seed
            self.same_each_epoch, self.epoch = same_each_epoch, 0

        def __len__(self) -> int:
            return self.steps

        def on_epoch_end(self) -> None:
            if not self.same_each_epoch:
                self.epoch += 1

        def __getitem__(self, index: int):
            rng = np.random.default_rng([self.seed, self.epoch, index])
            views, truths = [], []
            for _ in range(self.batch):
                page = self.pages[rng.integers(len(self.pages))]
                stack = np.dstack([page.view, page.target, page.weight * 255]).astype(np.float32) / 255
                rows, cols = stack.shape[:2]
                stack = np.pad(stack, ((0, max(0, PATCH - rows)), (0, max(0, PATCH - cols)), (0, 0)))
                top = rng.integers(stack.shape[0] - PATCH + 1)
                left = rng.integers(stack.shape[1] - PATCH + 1)
                piece = stack[top : top + PATCH, left : left + PATCH]
                if rng.random() < 0.5:
                    piece = piece[:, ::-1]
                views.append(piece[..., : len(PLANES)])
                truths.append(piece[..., len(PLANES) :])
            return np.asarray(views), np.asarray(truths)

    return Patches


def train_line_finder(cfg: LineFinderTrainConfig, verbose: int = 2) -> Path:
    """Train, and write `<name>.keras` and its manifest; the manifest's path."""
    import keras

    refuse_to_replace(cfg.models_dir, cfg.name, cfg.overwrite)
    keras.utils.set_random_seed(cfg.seed)
    pages, validation = training_pages(cfg)
    cache = cfg.work_dir / "pages"
    cache.mkdir(parents=True, exist_ok=True)
    stored = {name: cache / (name.replace("/", "__") + ".npz") for _, _, name in pages}
    jobs = [(path, gt, name, stored[name]) for path, gt, name in pages if not stored[name].is_file()]
    log.info("%d pages (%d to prepare), %d of them validate", len(pages), len(jobs), len(validation))
    with ProcessPoolExecutor(max(1, cfg.workers)) as pool:
        for done in pool.map(_sample_job, jobs, chunksize=2):
            log.debug("prepared %s", done)
    samples = {name: PageSample.load(path) for name, path in stored.items()}
    learn = [samples[name] for name in samples if name not in validation]
    check = [samples[name] for name in validation]
    patches = _patches_dataset()
    network = build_network(len(PLANES))
    clock = TrainingClock(cfg.work_dir / "backup")
    rate, callbacks = fit_schedule(
        cfg.work_dir, clock, initial_rate=cfg.learning_rate, schedule="plateau",
        total_steps=cfg.epochs * cfg.steps_per_epoch, patience=cfg.epochs, plateau_patience=2,
    )  # fmt: skip
    network.compile(keras.optimizers.Adam(rate), weighted_cross_entropy)
    history = network.fit(
        patches(learn, cfg.steps_per_epoch, cfg.batch_size, cfg.seed),
        validation_data=patches(check, max(1, cfg.steps_per_epoch // 2), cfg.batch_size, cfg.seed + 1, True),
        epochs=cfg.epochs,
        callbacks=callbacks,
        verbose=verbose,
    )
    weights = save_keras_model(network, cfg.models_dir, cfg.name)
    losses = history.history.get("val_loss", [])
    manifest = {
        "name": cfg.name,
        "version": model_version(),
        "task": LINE_FINDER,
        "kind": "U-shaped CNN (two halvings, convolutions dilated along the line), a density map of the page",
        "weights": weights.name,
        "charset": "l",
        "input_size": [LETTER_HEIGHT],
        "normalisation": "hcrbatch.linefinder.finder_input: the page scaled to letter_height pixels a letter",
        "letter_height": LETTER_HEIGHT,
        "planes": list(PLANES),
        "floor": FLOOR,
        "joined_ink": JOINED_INK,
        "training_data": [
            *(f"{folder.name}: transcribed pages (PAGE/ALTO), their annotated regions" for folder in cfg.data),
            f"{len(learn)} pages trained on, {len(check)} validating (every {VALIDATION_EVERY}rd of a folder)",
            f"held out: the pages {cfg.line_model} holds out, never seen here",
        ],
        "metrics": {
            "validation_loss": round(float(min(losses)), 4) if losses else None,
            "epochs": len(history.history.get("loss", [])),
            "training_seconds": clock.seconds,
        },
        "validation_pages": sorted(validation),
        "held_out_pages": line_manifest_held_out(cfg),
        "trained": dt.date.today().isoformat(),
    }
    return write_manifest(cfg.models_dir, manifest)

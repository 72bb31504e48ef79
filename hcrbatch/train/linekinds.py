"""`hcrbatch train-line-kind`: the print-or-handwriting line classifier (`hcrbatch.linekind`).

Handwriting: the real transcribed lines of `--data` (their line model's held-out pages left out)
and lines rendered in handwriting fonts (`synthlines`). Print: lines rendered in the print and
typewriter fonts Debian ships, set straight and rigid as type is, on the same scanned paper as the
rendered handwriting, so that "rendered" is no cue for "print". The FreeFont family is never trained
on: the print test lines are set in it, so the print figures are for fonts the model has not seen.

The manifest keeps the threshold on a line's print probability and how sure Tesseract must be of a
line `auto` gives it (`tesseract_min_confidence`); and a lower threshold (`consider_threshold`) at
which a line goes to Tesseract all the same when it is sure of it (`tesseract_sure_confidence`):
thin typescript the classifier doubts, which Tesseract reads at 0.95. Both thresholds are chosen on
validation lines, never the test ones, for the checks together: at most MAX_FALSE_PRINT of the
handwritten lines may end up read by Tesseract.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw

from hcrbatch.config import LineKindTrainConfig
from hcrbatch.elements import BBox
from hcrbatch.errors import ConfigError
from hcrbatch.linekind import LINE_KIND_HEIGHT, WINDOW_WIDTH, band_probabilities, kind_input, windows
from hcrbatch.modelstore import (
    LINE_KIND_CLASSIFIER,
    refuse_to_replace,
    load_keras_model,
    load_manifest,
    model_version,
    save_keras_model,
    write_manifest,
)
from hcrbatch.train.linedata import LineSample, held_out_as
from hcrbatch.train.lines import read_training_folder
from hcrbatch.train.synthlines import (
    LINE_IMAGE_HEIGHT,
    font_covers,
    load_font,
    middle_line,
    on_scanned_paper,
    synthetic_lines,
    with_pen_jitter,
)
from hcrbatch.train.text import random_text

log = logging.getLogger(__name__)

PRINT_FONT_GLOBS = (
    "truetype/dejavu/DejaVuSerif*.ttf",
    "truetype/dejavu/DejaVuSans*.ttf",
    "truetype/liberation/*.ttf",
    "truetype/freefont/*.ttf",
    "opentype/urw-base35/C059-*.otf",
    "opentype/urw-base35/P052-*.otf",
    "opentype/urw-base35/Nimbus*.otf",
    "opentype/urw-base35/URWBookman-*.otf",
    "opentype/urw-base35/URWGothic-*.otf",
)
TEST_FONT_PREFIX = "Free"  # FreeMono, FreeSans, FreeSerif: test lines only
MAX_FALSE_PRINT = 0.005  # of validation handwritten lines, the most that may end up read by Tesseract
CONSIDER_FROM = 0.05  # the lowest print probability at which Tesseract's own certainty may decide
WINDOWS_PER_LINE = 3  # random windows of each training line per epoch's sample
PRINT = 1.0
HANDWRITING = 0.0


def print_fonts(root: Path = Path("/usr/share/fonts")) -> list[Path]:
    return sorted({path for pattern in PRINT_FONT_GLOBS for path in root.glob(pattern)})


def render_print_line(text: str, font_path: Path, rng: np.random.Generator, neighbours: tuple[str, str]) -> np.ndarray:
    """`text` set in the font on a straight baseline, LINE_IMAGE_HEIGHT high, with the bottoms and
    tops of the lines above and below, a slight tilt, worn or heavy type, on scanned paper."""
    font = load_font(Path(font_path), int(rng.integers(34, 64)))
    if rng.random() < 0.15:
        text = text.upper()  # letterheads, headings, typed capitals
    pitch = int(LINE_IMAGE_HEIGHT * rng.uniform(0.7, 1.1))
    width = int(max(font.getlength(t) for t in (text, *neighbours)) + font.size * 2)
    height = LINE_IMAGE_HEIGHT + 2 * pitch
    canvas = Image.new("L", (width, height), 0)
    draw = ImageDraw.Draw(canvas)
    spacing = rng.uniform(0, 0.08) * font.size  # letter-spaced headings and typescript
    for row, line in enumerate((neighbours[0], text, neighbours[1])):
        x = font.size * 0.5
        for char in line:
            draw.text((x, row * pitch + LINE_IMAGE_HEIGHT * 0.62), char, font=font, fill=255, anchor="ls")
            x += font.getlength(char) + spacing
    ink = np.asarray(canvas, np.float32)
    tilt = cv2.getRotationMatrix2D((width / 2, height / 2), rng.uniform(-1.5, 1.5), 1.0)
    ink = cv2.warpAffine(ink, tilt, (width, height), flags=cv2.INTER_LINEAR)
    ink = with_pen_jitter(ink, rng)
    if rng.random() < 0.4:  # a worn ribbon, uneven inking: parts of strokes fade
        wear = cv2.GaussianBlur(rng.random(ink.shape).astype(np.float32), (0, 0), rng.uniform(1, 3))
        ink *= np.clip((wear - wear.mean()) / max(wear.std(), 1e-6) * 0.5 + rng.uniform(0.6, 1.0), 0, 1)
    return on_scanned_paper(middle_line(ink, pitch, rng), rng)


def print_lines(count: int, fonts: list[Path], seed: int) -> list[LineSample]:
    """`count` rendered print lines spread over `fonts` (page names "print/<font>")."""
    if not fonts:
        raise ConfigError("no print fonts installed (apt-get install fonts-dejavu fonts-liberation fonts-urw-base35 fonts-freefont-ttf)")  # fmt: skip
    rng = np.random.default_rng([seed, 11])
    samples: list[LineSample] = []
    while len(samples) < count:
        path = fonts[len(samples) % len(fonts)]
        text = random_text(rng, int(rng.integers(8, 70)))
        if not font_covers(load_font(path, 48), text):
            continue
        neighbours = tuple(random_text(rng, 70) if rng.random() < 0.7 else "" for _ in range(2))
        image = render_print_line(text, path, rng, neighbours)
        samples.append(LineSample(image, text, f"print/{path.stem}"))
    return samples


@dataclass(frozen=True)
class KindSet:
    """Line images and their kind (PRINT or HANDWRITING), with where each came from."""

    images: list[np.ndarray]  # as the classifier reads them (`kind_input`)
    kinds: np.ndarray
    sources: list[str]
    raw: list[np.ndarray]  # the grey line images, as Tesseract reads them

    @staticmethod
    def of(print_samples: list[LineSample], handwritten: list[LineSample]) -> KindSet:
        samples = print_samples + handwritten
        kinds = np.array([PRINT] * len(print_samples) + [HANDWRITING] * len(handwritten), np.float32)
        sources = [s.page.split("/", 1)[0] for s in samples]
        return KindSet([kind_input(s.image) for s in samples], kinds, sources, [s.image for s in samples])


def window_batch(data: KindSet, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Up to WINDOWS_PER_LINE random inked windows of each line, with its kind."""
    x, y = [], []
    for ink, kind in zip(data.images, data.kinds):
        cuts = windows(ink)
        for i in rng.permutation(len(cuts))[:WINDOWS_PER_LINE]:
            x.append(cuts[i])
            y.append(kind)
    return np.stack(x)[..., None].astype(np.float32), np.array(y, np.float32)


def build_kind_model():
    """Four convolution blocks and a global average: about 60k weights, a millisecond a line on a CPU.
    Keras layers only, so it trains under any Keras backend."""
    import keras
    from keras import layers

    inputs = keras.Input((LINE_KIND_HEIGHT, WINDOW_WIDTH, 1))
    x = inputs
    for filters in (16, 32, 64):
        x = layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
        x = layers.MaxPooling2D(2)(x)
    x = layers.Conv2D(64, 3, padding="same", activation="relu")(x)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(0.3)(x)
    return keras.Model(inputs, layers.Dense(1, activation="sigmoid")(x), name="linekind")


def confusion(probs: np.ndarray, kinds: np.ndarray, threshold: float) -> dict[str, int]:
    said_print = probs >= threshold
    return {
        "print_as_print": int(np.sum(said_print & (kinds == PRINT))),
        "print_as_handwriting": int(np.sum(~said_print & (kinds == PRINT))),
        "handwriting_as_print": int(np.sum(said_print & (kinds == HANDWRITING))),
        "handwriting_as_handwriting": int(np.sum(~said_print & (kinds == HANDWRITING))),
    }


def tesseract_confidences(images: list[np.ndarray], rows: np.ndarray) -> np.ndarray:
    """Tesseract's mean word confidence on each line image in `rows` (0 for the others)."""
    from hcrbatch.tesseract import TesseractReader

    reader = TesseractReader("en")
    confidences = np.zeros(len(images))
    for i in np.flatnonzero(rows):
        height, width = images[i].shape
        confidences[i] = reader.read_line(images[i], BBox(0, 0, width, height), 300)[1]
    return confidences


def tesseract_reads(probs, confidences, threshold: float, least: float, consider: float, sure: float) -> np.ndarray:
    """Which lines `--engine auto` gives Tesseract (`hcrbatch.linekind.LineKindClassifier.gives_tesseract`)."""
    return ((probs >= threshold) & (confidences >= least)) | ((probs >= consider) & (confidences >= sure))


def choose_thresholds(probs: np.ndarray, kinds: np.ndarray, confidences: np.ndarray, least: float,
                      sure: float) -> tuple[float, float]:  # fmt: skip
    """(print_threshold, consider_threshold): the lowest print threshold, from 0.5 up, and then the
    lowest threshold under it for lines Tesseract is `sure` of, at which at most MAX_FALSE_PRINT of
    the handwritten lines would be read by Tesseract. Thresholds for the classifier and Tesseract's
    confidence together, as `--engine auto` uses them."""
    handwritten = kinds == HANDWRITING
    allowed = MAX_FALSE_PRINT * handwritten.sum()

    def false_print(threshold: float, consider: float) -> int:
        return int(np.sum(handwritten & tesseract_reads(probs, confidences, threshold, least, consider, sure)))

    threshold = next((t for t in np.round(np.arange(0.5, 1.0, 0.01), 2) if false_print(t, t) <= allowed), 1.0)
    consider = next((c for c in np.round(np.arange(CONSIDER_FROM, threshold, 0.01), 2)
                     if false_print(threshold, c) <= allowed), threshold)  # fmt: skip
    return float(threshold), float(consider)


def train_line_kind(cfg: LineKindTrainConfig, verbose: int = 2) -> Path:
    import keras

    refuse_to_replace(cfg.models_dir, cfg.name, cfg.overwrite or cfg.retune)
    keras.utils.set_random_seed(cfg.seed)
    held_pages = load_manifest(cfg.models_dir, cfg.line_model).extra.get("held_out_pages", []) if cfg.line_model else []
    real = [s for folder in cfg.data for s in read_training_folder(Path(folder))]
    real_train, real_test = held_out_as(real, held_pages)
    rng = np.random.default_rng(cfg.seed)
    order = rng.permutation(len(real_train))
    cut = len(order) // 10
    real_val, real_fit = [real_train[i] for i in order[:cut]], [real_train[i] for i in order[cut:]]

    fonts = print_fonts()
    train_fonts = [f for f in fonts if not f.name.startswith(TEST_FONT_PREFIX)]
    test_fonts = [f for f in fonts if f.name.startswith(TEST_FONT_PREFIX)]
    if not train_fonts or not test_fonts:
        raise ConfigError("print fonts for training and for testing are both needed (apt-get install fonts-dejavu "
                          "fonts-liberation fonts-urw-base35 fonts-freefont-ttf)")  # fmt: skip
    fit = None if cfg.retune else KindSet.of(print_lines(cfg.print_lines, train_fonts, cfg.seed),
                                             real_fit + synthetic_lines(cfg.synthetic_lines, cfg.seed))  # fmt: skip
    val = KindSet.of(print_lines(cfg.print_lines // 10, train_fonts, cfg.seed + 1),
                     real_val + synthetic_lines(cfg.synthetic_lines // 10, cfg.seed + 1))  # fmt: skip
    test = KindSet.of(print_lines(cfg.print_lines // 10, test_fonts, cfg.seed + 2),
                      real_test + synthetic_lines(cfg.synthetic_lines // 10, cfg.seed + 2))  # fmt: skip
    log.info("line kinds: %d validation, %d test lines", len(val.kinds), len(test.kinds))

    if fit is None:  # --retune: the trained model, its threshold chosen again
        model = load_keras_model(load_manifest(cfg.models_dir, cfg.name))
    else:
        model = build_kind_model()
        model.compile(optimizer=keras.optimizers.Adam(cfg.learning_rate), loss="binary_crossentropy",
                      metrics=["accuracy"])  # fmt: skip
        for epoch in range(cfg.epochs):  # new random windows of every line each epoch
            x, y = window_batch(fit, np.random.default_rng([cfg.seed, epoch]))
            model.fit(x, y, batch_size=cfg.batch_size, epochs=epoch + 1, initial_epoch=epoch, shuffle=True,
                      validation_data=window_batch(val, np.random.default_rng([cfg.seed, 99])), verbose=verbose)  # fmt: skip

    val_probs = np.array(band_probabilities(model, val.images))
    confidences = tesseract_confidences(val.raw, val_probs >= CONSIDER_FROM)
    threshold, consider = choose_thresholds(
        val_probs, val.kinds, confidences, cfg.tesseract_min_confidence, cfg.tesseract_sure_confidence
    )
    test_probs = np.array(band_probabilities(model, test.images))
    metrics = {"threshold_from": "validation lines", "test": confusion(test_probs, test.kinds, threshold)}
    for source in sorted(set(test.sources)):
        rows = np.array([s == source for s in test.sources])
        metrics[f"test {source}"] = confusion(test_probs[rows], test.kinds[rows], threshold)
    log.info("line kind test figures: %s", metrics)
    weights = (
        Path(cfg.models_dir) / f"{cfg.name}.keras" if cfg.retune else save_keras_model(model, cfg.models_dir, cfg.name)
    )
    manifest = {
        "name": cfg.name,
        "version": model_version(),
        "task": LINE_KIND_CLASSIFIER,
        "kind": "window CNN (4 convolutions, global average), mean over a line's windows",
        "weights": weights.name,
        "charset": "ph",  # the two kinds, print and handwriting (the loader wants a charset)
        "input_size": [LINE_KIND_HEIGHT, WINDOW_WIDTH],
        "normalisation": "hcrbatch.linekind.kind_input: normalise_line halved to 32 px, windows of 256 columns",
        "training_data": [
            *(f"{Path(folder).name}: real handwritten lines" for folder in cfg.data),
            f"held out: the {len(held_pages)} pages {cfg.line_model} holds out ({len(real_test)} lines, test only)",
            f"{cfg.print_lines} print lines in {', '.join(f.stem for f in train_fonts)}",
            f"{cfg.synthetic_lines} handwriting lines rendered in handwriting fonts (train/synthlines.py)",
            f"test print lines in fonts never trained on: {', '.join(f.stem for f in test_fonts)}",
        ],
        "held_out_pages": sorted({s.page for s in real_test}),
        "print_threshold": threshold,
        "consider_threshold": consider,
        "tesseract_sure_confidence": cfg.tesseract_sure_confidence,
        "tesseract_min_confidence": cfg.tesseract_min_confidence,
        "tesseract_contest_confidence": cfg.tesseract_contest_confidence,
        "epochs": cfg.epochs,
        "seed": cfg.seed,
        "metrics": metrics,
        "date": dt.date.today().isoformat(),
    }
    return write_manifest(cfg.models_dir, manifest)

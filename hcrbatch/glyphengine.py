"""The character CNN at inference: all glyphs of a page classified in large batches, top-k kept.

The only module that imports TensorFlow at run time. TensorFlow places the model on a GPU when
one is visible, so the same code batches on the GPU there and on the CPU elsewhere.
"""

from __future__ import annotations

import logging

import numpy as np

from hcrbatch.casing import Reading, apply_line_case
from hcrbatch.config import RecognizeConfig
from hcrbatch.elements import Alternative, Char, CleanPage, Line, LineEvidence, PageResult, Segmentation, Word
from hcrbatch.errors import ModelError
from hcrbatch.glyphs import normalise_batch
from hcrbatch.modelstore import (
    GLYPH_CLASSIFIER,
    ModelManifest,
    adjust_priors,
    import_tensorflow,
    load_keras_model,
    load_manifest,
)

log = logging.getLogger(__name__)


class CharRecognizer:
    """A loaded character model plus its manifest; load once, reuse for every page."""

    def __init__(self, manifest: ModelManifest, cfg: RecognizeConfig) -> None:
        tf = import_tensorflow()

        self.manifest = manifest
        self.cfg = cfg
        self.model = load_keras_model(manifest)
        classes = self.model.output_shape[-1]
        if classes != len(manifest.charset):
            raise ModelError(
                f"{manifest.weights} predicts {classes} classes but its manifest charset has {len(manifest.charset)}"
            )
        if tuple(self.model.input_shape[1:3]) != tuple(manifest.input_size):
            raise ModelError(f"{manifest.weights} input {self.model.input_shape} differs from manifest")
        self.log_weights = manifest.log_prior_weights(cfg.char_prior)
        self.evidence_weights = manifest.log_prior_weights("training")
        if cfg.char_prior == "prose" and "prose_prior" not in manifest.extra:
            log.info("model %s records no prose prior: glyphs are read with its training prior", manifest.name)
        height, width = manifest.input_size
        spec = tf.TensorSpec([None, height, width, 1], tf.float32)
        self._predict = tf.function(lambda x: self.model(x, training=False), input_signature=[spec])
        gpus = tf.config.list_physical_devices("GPU")
        log.info("model %s %s on %s", manifest.name, manifest.version, "GPU" if gpus else "CPU")

    @classmethod
    def from_config(cls, cfg: RecognizeConfig) -> CharRecognizer:
        return cls(load_manifest(cfg.models_dir, cfg.model, GLYPH_CLASSIFIER), cfg)

    def probabilities(self, batch: np.ndarray) -> np.ndarray:
        """The network's class probabilities (its training prior) for a normalised N×H×W×1 batch,
        run in chunks of the batch size."""
        chunks = [
            self._predict(batch[start : start + self.cfg.batch_size]).numpy()
            for start in range(0, len(batch), self.cfg.batch_size)
        ]
        if not chunks:
            return np.zeros((0, len(self.manifest.charset)), np.float32)
        return np.concatenate(chunks)

    def classify(self, glyphs: list[np.ndarray]) -> list[Reading]:
        """Top-k (labels, probabilities) for each glyph image, in order, under the configured class
        prior; an empty list gives []."""
        return self.classify_with_evidence(glyphs)[0]

    def classify_with_evidence(self, glyphs: list[np.ndarray]) -> tuple[list[Reading], list[Reading]]:
        """`classify`'s readings, and the same glyphs' readings under the training prior: the shape
        evidence that `--engine auto` weighs against the line engine (prose's prior makes the glyph
        engine sure of common letters on the fragments it cuts from joined-up script)."""
        if not glyphs:
            return [], []
        probs = self.probabilities(normalise_batch(glyphs))
        readings = self.top_readings(adjust_priors(probs, self.log_weights))
        if np.array_equal(self.evidence_weights, self.log_weights):
            return readings, readings
        return readings, self.top_readings(adjust_priors(probs, self.evidence_weights))

    def top_readings(self, probs: np.ndarray) -> list[Reading]:
        k = min(self.cfg.top_k, len(self.manifest.charset))
        top = np.argsort(-probs, axis=1)[:, :k]
        charset = self.manifest.charset
        return [
            (tuple(charset[i] for i in indices), tuple(float(row[i]) for i in indices))
            for row, indices in zip(probs, top)
        ]


def recognize_page(
    segmentation: Segmentation, clean: CleanPage, recognizer: CharRecognizer, index: int, dpi: float
) -> PageResult:
    """Classify every glyph of the page, and of the other cuts the segmenter offers, in one batched
    call, and build the page's lines and words."""
    glyphs = [g for line in segmentation.lines for word in line.words for g in word.glyphs]
    others = [g for line in segmentation.lines for w in line.words for alt in w.alternatives for g in alt.glyphs]
    flat, evidence = recognizer.classify_with_evidence([segmentation.glyph_image(g) for g in glyphs + others])
    primary, extra, shapes = iter(flat[: len(glyphs)]), iter(flat[len(glyphs) :]), iter(evidence[: len(glyphs)])
    lines = []
    for line in segmentation.lines:
        boxes = [g.bbox for word in line.words for g in word.glyphs]
        readings = [next(primary) for _ in boxes]
        shape_readings = apply_line_case(boxes, [next(shapes) for _ in boxes], reference=(boxes, readings))
        cased = iter(apply_line_case(boxes, readings))
        alt_boxes = [g.bbox for word in line.words for alt in word.alternatives for g in alt.glyphs]
        alt_readings = [next(extra) for _ in alt_boxes]
        alt_cased = iter(apply_line_case(alt_boxes, alt_readings, reference=(boxes, readings)))
        words = []
        for word in line.words:
            chars = tuple(Char(clean.to_page(glyph.bbox), *next(cased)) for glyph in word.glyphs)
            alternatives = tuple(
                Alternative(
                    alt.start, alt.end, tuple(Char(clean.to_page(g.bbox), *next(alt_cased)) for g in alt.glyphs)
                )
                for alt in word.alternatives
            )
            raw = "".join(c.text for c in chars)
            words.append(Word(clean.to_page(word.bbox), chars, raw, alternatives=alternatives))
        shape_confidence = float(np.mean([probs[0] for _, probs in shape_readings])) if boxes else 0.0
        lines.append(
            Line(clean.to_page(line.bbox), tuple(words), evidence=LineEvidence(shape_confidence=shape_confidence))
        )
    return PageResult(index, clean.page_width, clean.page_height, dpi, clean.skew_degrees, tuple(lines))

"""Print or handwriting, a line at a time: which engine `--engine auto` gives a line to.

A small CNN (`hcrbatch train-line-kind`) looks at a line's band of ink (`kind_input`), LINE_KIND_HEIGHT
rows high, in windows of WINDOW_WIDTH columns: a few letters' worth, where
print shows its regular strokes, straight baseline and repeated shapes. A line's probability of
being print is the mean over its inked windows. The decision threshold, and how sure Tesseract
must be of a line it is given, live in the model's manifest.
"""

from __future__ import annotations

import cv2
import numpy as np

from hcrbatch.lineengine import ink_level
from hcrbatch.modelstore import LINE_KIND_CLASSIFIER, ModelManifest, load_keras_model, load_manifest, manifest_path

LINE_KIND_HEIGHT = 32
WINDOW_WIDTH = 256
INK_BAND = 0.9  # the share of a line's ink, by rows, that sets its band
BAND_MARGIN = 0.25  # of the band's height, kept above and below it
MIN_WINDOW_INK = 0.01  # mean ink level below which a window (a gap, the end of a line) does not vote


def kind_input(gray: np.ndarray) -> np.ndarray:
    """A grey line crop as the classifier reads it: its ink in [0, 1] (`ink_level`), cut to the band
    of rows holding the middle INK_BAND of it with BAND_MARGIN of that band above and below, and
    scaled to LINE_KIND_HEIGHT rows. The band makes the writing the same size whatever the crop's
    framing: a box around the ink, one line spacing, a transcriber's polygon, or bits of the lines
    above and below (a first model read on the full crop took typescript framed tighter than its
    training lines for handwriting)."""
    ink = ink_level(gray)
    rows = np.cumsum(ink.sum(axis=1))
    if rows[-1] > 0:
        low, high = (1 - INK_BAND) / 2, (1 + INK_BAND) / 2
        top, bottom = int(np.searchsorted(rows, low * rows[-1])), int(np.searchsorted(rows, high * rows[-1])) + 1
        margin = int(round(BAND_MARGIN * (bottom - top)))
        ink = ink[max(0, top - margin) : bottom + margin]
    width = max(1, int(round(ink.shape[1] * LINE_KIND_HEIGHT / ink.shape[0])))
    return cv2.resize(ink, (width, LINE_KIND_HEIGHT), interpolation=cv2.INTER_AREA)


def windows(ink: np.ndarray) -> list[np.ndarray]:
    """The line's inked windows of WINDOW_WIDTH columns, side by side, the last one flush with the
    line's end; a line narrower than a window is padded with paper."""
    if ink.shape[1] < WINDOW_WIDTH:
        ink = np.pad(ink, ((0, 0), (0, WINDOW_WIDTH - ink.shape[1])))
    starts = list(range(0, ink.shape[1] - WINDOW_WIDTH + 1, WINDOW_WIDTH))
    if starts[-1] + WINDOW_WIDTH < ink.shape[1]:
        starts.append(ink.shape[1] - WINDOW_WIDTH)
    cuts = [ink[:, s : s + WINDOW_WIDTH] for s in starts]
    return [cut for cut in cuts if cut.mean() >= MIN_WINDOW_INK]


def band_probabilities(model, bands: list[np.ndarray], batch_size: int = 256) -> list[float]:
    """Each line's print probability from its band of ink (`kind_input`): the mean over its inked
    windows, all lines' windows classified together in batches; 0 for a line with none."""
    cuts = [windows(band) for band in bands]
    flat = [w for line in cuts for w in line]
    if not flat:
        return [0.0] * len(bands)
    batch = np.stack(flat)[..., None].astype(np.float32)
    probs = np.concatenate(
        [
            np.asarray(model(batch[i : i + batch_size], training=False)).reshape(-1)
            for i in range(0, len(batch), batch_size)
        ]
    )
    out, start = [], 0
    for line in cuts:
        out.append(float(probs[start : start + len(line)].mean()) if line else 0.0)
        start += len(line)
    return out


def line_kind_manifest(models_dir, name: str, required: bool = True) -> ModelManifest | None:
    if not required and not manifest_path(models_dir, name).is_file():
        return None
    return load_manifest(models_dir, name, LINE_KIND_CLASSIFIER)


class LineKindClassifier:
    def __init__(self, manifest: ModelManifest, batch_size: int = 256) -> None:
        self.manifest = manifest
        self.batch_size = batch_size
        self.print_threshold = float(manifest.extra["print_threshold"])
        self.tesseract_min_confidence = float(manifest.extra["tesseract_min_confidence"])
        # a line below the print threshold but above this goes to Tesseract when it is sure of it
        self.consider_threshold = float(manifest.extra.get("consider_threshold", self.print_threshold))
        self.tesseract_sure_confidence = float(manifest.extra.get("tesseract_sure_confidence", 1.0))
        # the most Tesseract's mean word confidence reaches on real handwritten lines
        self.tesseract_contest_confidence = float(
            manifest.extra.get("tesseract_contest_confidence", self.tesseract_min_confidence)
        )
        self.model = load_keras_model(manifest)

    def print_probabilities(self, crops: list[np.ndarray]) -> list[float]:
        """Each grey line crop's probability of being print (0 for a crop with no inked window)."""
        return band_probabilities(self.model, [kind_input(crop) for crop in crops], self.batch_size)

    def worth_reading(self, probability: float) -> bool:
        """Whether Tesseract should read a line of this print probability at all."""
        return probability >= min(self.print_threshold, self.consider_threshold)

    def contests(self, probability: float, confidence: float) -> bool:
        """Whether a line Tesseract read with this mean word confidence, too low for `gives_tesseract`,
        may still be Tesseract's against the handwriting engines' reading (`engines.AutoEngine`):
        one called print that Tesseract reads more surely than it ever reads handwriting."""
        return probability >= self.print_threshold and confidence > self.tesseract_contest_confidence

    def gives_tesseract(self, probability: float, confidence: float) -> bool:
        """Whether a line Tesseract read with this mean word confidence is Tesseract's: a line
        called print that Tesseract is sure enough of, or one the classifier doubts that Tesseract
        is sure of (thin typescript)."""
        if probability >= self.print_threshold and confidence >= self.tesseract_min_confidence:
            return True
        return probability >= self.consider_threshold and confidence >= self.tesseract_sure_confidence

"""The one normalisation that turns any glyph image into what the character CNN was trained on.

EMNIST style: white ink on black, the ink's bounding box scaled (aspect kept) so its longest side is
24 px, centred in a 28×28 frame by its centre of mass, strokes thickened to EMNIST's width when a
thin pen at high resolution would shrink them to hairlines. Every source is first made binary and,
once scaled, blurred to the soft edge of EMNIST's rows: a crop cut from a binarised page has hard
edges, an EMNIST row and a font rendering soft ones of their own, and a network that saw soft edges
in training read hard ones as another hand (benchmarks/log/2026-11-30.md). Training applies it
to EMNIST images and inference to crops from scanned pages, so both reach the network looking alike.
"""

from __future__ import annotations

import cv2
import numpy as np

INPUT_SIZE = 28
INK_BOX = 24
TARGET_STROKE = 2.6  # EMNIST's median stroke width at 28×28, in pixels
INK_THRESHOLD = 0.5
SOFTEN_SIGMA = 1.0  # px at 28×28: the soft edge of EMNIST's rows (chosen on auto_rule.py's tuning pages)


def stroke_width(ink: np.ndarray) -> float:
    """Mean stroke width of a binary glyph: for a stroke of width w the mean distance to the edge is w/4."""
    padded = np.pad(ink.astype(np.uint8), 1)  # a crop that is all ink still has an edge
    dist = cv2.distanceTransform(padded, cv2.DIST_L2, 3)
    inside = dist[padded > 0]
    return float(4.0 * inside.mean()) if inside.size else 0.0


def normalise_glyph(glyph: np.ndarray) -> np.ndarray:
    """Return a float32 INPUT_SIZE×INPUT_SIZE array in [0, 1] from an ink>0 glyph image (any size)."""
    ink = np.asarray(glyph)
    if ink.dtype != np.uint8:
        ink = (np.clip(ink, 0, 1) * 255).astype(np.uint8) if ink.dtype.kind == "f" else ink.astype(np.uint8) * 255
    out = np.zeros((INPUT_SIZE, INPUT_SIZE), np.float32)
    rows = np.flatnonzero(ink.max(axis=1) > 127 * INK_THRESHOLD)
    cols = np.flatnonzero(ink.max(axis=0) > 127 * INK_THRESHOLD)
    if rows.size == 0 or cols.size == 0:
        return out
    crop = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    height, width = crop.shape
    scale = INK_BOX / max(height, width)
    binary = crop > 127
    crop = np.where(binary, 255, 0).astype(np.uint8)  # every source alike: no anti-aliasing of its own
    thin_by = TARGET_STROKE - stroke_width(binary) * scale
    if thin_by > 0.5 and scale < 1.0:
        radius = max(1, int(round(thin_by / scale / 2)))
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
        crop = cv2.dilate(np.pad(crop, radius), kernel)
        height, width = crop.shape
        scale = INK_BOX / max(height, width)
    new_h = max(1, int(round(height * scale)))
    new_w = max(1, int(round(width * scale)))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    small = cv2.resize(crop, (new_w, new_h), interpolation=interp).astype(np.float32) / 255.0
    total = small.sum()
    if total <= 0:
        return out
    cy = (small.sum(axis=1) * np.arange(new_h)).sum() / total
    cx = (small.sum(axis=0) * np.arange(new_w)).sum() / total
    top = int(round((INPUT_SIZE - 1) / 2 - cy))
    left = int(round((INPUT_SIZE - 1) / 2 - cx))
    top = min(max(top, 0), INPUT_SIZE - new_h)
    left = min(max(left, 0), INPUT_SIZE - new_w)
    out[top : top + new_h, left : left + new_w] = small
    out = cv2.GaussianBlur(out, (0, 0), SOFTEN_SIGMA)
    return out / max(float(out.max()), 1e-6)


def normalise_batch(glyphs: list[np.ndarray]) -> np.ndarray:
    """Stack normalised glyphs as an N×28×28×1 float32 batch (N may be 0)."""
    batch = np.zeros((len(glyphs), INPUT_SIZE, INPUT_SIZE, 1), np.float32)
    for i, glyph in enumerate(glyphs):
        batch[i, :, :, 0] = normalise_glyph(glyph)
    return batch

"""What a glyph can be, from where it sits on its line.

The CNN sees every glyph scaled to 28×28, so c/C, o/O/0, s/S/5, i/I/l, p/P and a comma and a
small f look alike to it. Their height against the line's x-height and cap height, and how far they
reach below the baseline, tell them apart. This re-weighs the labels the CNN proposed for a glyph
by how well each label's usual place on a line (x-height, cap height, descender, mark on the
baseline) fits the glyph's box; it never adds a label, so correction still chooses only among
readings of the ink.
"""

from __future__ import annotations

import math

import numpy as np

from hcrbatch.elements import BBox

Reading = tuple[tuple[str, ...], tuple[float, ...]]

TALL = set("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789bdfhkl")  # reach the cap height, sit on the baseline
SHORT = set("acemnorsuvwxz")  # x-height tall, on the baseline
DESCENDING = set("gpqy")  # reach below the baseline
BASELINE_MARKS = set(".,")  # small, at the baseline
SAME_SHAPE = set("cmosuvwxzp")  # the two cases differ only in size or descent: the CNN cannot tell them
# i, j and t (dot and stem heights vary between hands) and other marks carry no expectation.
X_HEIGHT_LETTERS = set("aenr")  # unambiguous lower case letters that show the x-height
DESCENDERS = set("gjpqy,;")
SHARPNESS = 5.0  # how fast geometry's belief grows with distance from a decision threshold
FLOOR = 0.02  # geometry never rules a label out entirely: a line's metrics can be wrong


def _line_metrics(boxes: list[BBox], readings: list[Reading]) -> tuple[float, float, float] | None:
    """(baseline, x-height, cap height) of a line, or None when the line does not show both heights."""
    tops = [b.top for b, r in zip(boxes, readings) if r[0][0].isalnum() and r[0][0] not in DESCENDERS]
    bottoms = [b.bottom for b, r in zip(boxes, readings) if r[0][0].isalnum() and r[0][0] not in DESCENDERS]
    if len(bottoms) < 3:
        return None
    baseline = float(np.median(bottoms))
    x_tops = [b.top for b, r in zip(boxes, readings) if r[0][0] in X_HEIGHT_LETTERS]
    if len(x_tops) < 2:
        return None
    x_height = baseline - float(np.median(x_tops))
    cap_height = baseline - float(np.percentile(tops, 10))
    if cap_height - x_height < 0.2 * cap_height or x_height <= 0:
        return None
    return baseline, x_height, cap_height


def _sigmoid(distance: float) -> float:
    """The logistic function written with tanh, which cannot overflow: on a line whose x-height
    came out a pixel high, distances of hundreds of x-heights are real, and exp() overflowed."""
    return 0.5 * (1 + math.tanh(SHARPNESS * distance / 2))


def _fit(label: str, tall: float, descends: float, small: float) -> float:
    """How well a label's usual place on a line fits beliefs that the glyph is tall, descends, is small."""
    if label in TALL:
        belief = tall
    elif label in SHORT:
        belief = (1 - tall) * (1 - descends) * (1 - small)
    elif label in DESCENDING:
        belief = descends
    elif label in BASELINE_MARKS:
        belief = small
    else:
        return 1.0
    return FLOOR + (1 - FLOOR) * belief


def _with_both_cases(reading: Reading) -> dict[str, float]:
    """The CNN's split between the cases of a same-shape letter is a guess from class frequencies:
    the pair's joint probability is shared equally between the two, for geometry to decide."""
    probs = dict(zip(*reading))
    for label in reading[0]:
        if label.lower() in SAME_SHAPE:
            lower, upper = label.lower(), label.upper()
            probs[lower] = probs[upper] = (probs.get(lower, 0.0) + probs.get(upper, 0.0)) / 2
    return probs


def reweigh(reading: Reading, tall: float, descends: float, small: float) -> Reading:
    """Multiply each label's probability by its fit and renormalise to the reading's total mass;
    the reading keeps its number of labels."""
    probs = _with_both_cases(reading)
    weighted = {label: p * _fit(label, tall, descends, small) for label, p in probs.items()}
    total, new_total = sum(reading[1]), sum(weighted.values())
    if new_total <= 0:
        return reading
    ranked = sorted(weighted.items(), key=lambda item: -item[1])[: len(reading[0])]
    return tuple(label for label, _ in ranked), tuple(w * total / new_total for _, w in ranked)


def apply_line_case(
    boxes: list[BBox], readings: list[Reading], reference: tuple[list[BBox], list[Reading]] | None = None
) -> list[Reading]:
    """Re-weigh each glyph's readings on one line from its height and descent; the line's metrics
    come from `reference` (the line's own glyphs) when given, else from these glyphs."""
    metrics = _line_metrics(*(reference or (boxes, readings)))
    if metrics is None:
        return readings
    baseline, x_height, cap_height = metrics
    threshold = (x_height + cap_height) / 2
    half_gap = (cap_height - x_height) / 2
    out = []
    for box, reading in zip(boxes, readings):
        height = baseline - box.top
        tall = _sigmoid((height - threshold) / half_gap)
        descends = _sigmoid((box.bottom - baseline) / (0.25 * x_height) - 1)
        small = _sigmoid((0.5 * x_height - height) / (0.25 * x_height))
        out.append(reweigh(reading, tall, descends, small))
    return out

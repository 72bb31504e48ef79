"""Letter case from where a glyph sits on its line.

The CNN sees every glyph scaled to 28×28, so c/C, o/O, s/S, p/P... look alike to it. Their height
against the line's x-height and cap height (and, for p and y, a descender below the baseline) tells
them apart. This moves probability between the two cases of a letter the CNN proposed; it never
adds another letter, so correction still chooses only among readings of the ink.
"""

from __future__ import annotations

import math

import numpy as np

from hcrbatch.elements import BBox

Reading = tuple[tuple[str, ...], tuple[float, ...]]

SAME_SHAPE_BY_HEIGHT = set("cmosuvwxz")  # lower case is x-height tall, capitals cap-height tall
SAME_SHAPE_BY_DESCENDER = set("py")  # lower case descends below the baseline
SAME_SHAPE = SAME_SHAPE_BY_HEIGHT | SAME_SHAPE_BY_DESCENDER
X_HEIGHT_LETTERS = set("aenr")  # unambiguous lower case letters that show the x-height
DESCENDERS = set("gjpqy,;")
SHARPNESS = 5.0  # how fast geometry's belief grows with distance from the decision threshold


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


def _prefer(reading: Reading, lower: str, lower_belief: float, k: int) -> Reading:
    """Split the pair's joint probability between its cases by `lower_belief`."""
    probs = dict(zip(*reading))
    upper = lower.upper()
    joint = probs.get(lower, 0.0) + probs.get(upper, 0.0)
    probs[lower], probs[upper] = joint * lower_belief, joint * (1 - lower_belief)
    ranked = sorted(probs.items(), key=lambda item: -item[1])[:k]
    return tuple(label for label, _ in ranked), tuple(p for _, p in ranked)


def apply_line_case(boxes: list[BBox], readings: list[Reading]) -> list[Reading]:
    """Re-weigh the case of same-shape letters on one line from their height and descent."""
    metrics = _line_metrics(boxes, readings)
    if metrics is None:
        return readings
    baseline, x_height, cap_height = metrics
    threshold = (x_height + cap_height) / 2
    half_gap = (cap_height - x_height) / 2
    out = []
    for box, reading in zip(boxes, readings):
        # the best same-shape letter among the readings: a glyph read '5' first may be an s
        letter = next((label.lower() for label in reading[0] if label.lower() in SAME_SHAPE), "")
        if letter in SAME_SHAPE_BY_HEIGHT:
            distance = (threshold - (baseline - box.top)) / half_gap
        elif letter in SAME_SHAPE_BY_DESCENDER:
            distance = (box.bottom - baseline) / (0.25 * x_height) - 1
        else:
            out.append(reading)
            continue
        belief = 1 / (1 + math.exp(-SHARPNESS * distance))
        out.append(_prefer(reading, letter, belief, len(reading[0])))
    return out

"""Accuracy and error-rate measures shared by `hcrbatch eval`, training and the benchmarks."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np

# EMNIST Balanced's 47 classes merge these letters' cases.
CASE_MERGED = set("cijklmopsuvwxyz")


def balanced_merge(char: str) -> str:
    """Map a character to its EMNIST-Balanced class (lowercase merged letters read as capitals)."""
    return char.upper() if char in CASE_MERGED else char


def accuracy(truth: Sequence[str], predicted: Sequence[str]) -> float:
    if len(truth) != len(predicted):
        raise ValueError("truth and prediction differ in length")
    return sum(t == p for t, p in zip(truth, predicted)) / len(truth) if truth else 0.0


def merged_accuracy(truth: Sequence[str], predicted: Sequence[str]) -> float:
    return accuracy([balanced_merge(t) for t in truth], [balanced_merge(p) for p in predicted])


def confusion_pairs(truth: Sequence[str], predicted: Sequence[str], top: int = 10) -> list[tuple[str, str, int]]:
    counts = Counter((t, p) for t, p in zip(truth, predicted) if t != p)
    return [(t, p, n) for (t, p), n in counts.most_common(top)]


def edit_distance(a: Sequence, b: Sequence) -> int:
    """Levenshtein distance over characters (strings) or tokens (lists)."""
    previous = list(range(len(b) + 1))
    for i, item_a in enumerate(a, 1):
        current = [i]
        for j, item_b in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (item_a != item_b)))
        previous = current
    return previous[-1]


def matched_items(truth: Sequence, found: Sequence) -> list[bool]:
    """For each item of `found`, whether a least-cost alignment with `truth` (Levenshtein's) pairs
    it with an equal item: a word read right, as word error rate counts it."""
    cost = np.zeros((len(truth) + 1, len(found) + 1), np.int32)
    cost[:, 0], cost[0, :] = np.arange(len(truth) + 1), np.arange(len(found) + 1)
    for i, item_t in enumerate(truth, 1):
        for j, item_f in enumerate(found, 1):
            cost[i, j] = min(cost[i - 1, j] + 1, cost[i, j - 1] + 1, cost[i - 1, j - 1] + (item_t != item_f))
    right = [False] * len(found)
    i, j = len(truth), len(found)
    while i and j:
        if cost[i, j] == cost[i - 1, j - 1] + (truth[i - 1] != found[j - 1]):
            right[j - 1] = truth[i - 1] == found[j - 1]
            i, j = i - 1, j - 1
        elif cost[i, j] == cost[i, j - 1] + 1:
            j -= 1
        else:
            i -= 1
    return right


def normalise_text(text: str) -> str:
    return " ".join(text.split())


def cer(truth: str, hypothesis: str) -> float:
    """Character error rate on whitespace-normalised text."""
    truth, hypothesis = normalise_text(truth), normalise_text(hypothesis)
    return edit_distance(truth, hypothesis) / max(len(truth), 1)


def wer(truth: str, hypothesis: str) -> float:
    truth_words, hyp_words = truth.split(), hypothesis.split()
    return edit_distance(truth_words, hyp_words) / max(len(truth_words), 1)


def box_f1(truth: Sequence, predicted: Sequence, threshold: float = 0.5) -> tuple[float, float, float]:
    """(precision, recall, F1) of predicted boxes against true ones; a match is a one-to-one pairing
    with IoU >= threshold, made greedily from the best-overlapping pairs."""
    pairs = sorted(
        ((t.iou(p), i, j) for i, t in enumerate(truth) for j, p in enumerate(predicted)),
        reverse=True,
    )
    used_t, used_p, matched = set(), set(), 0
    for score, i, j in pairs:
        if score < threshold:
            break
        if i not in used_t and j not in used_p:
            used_t.add(i)
            used_p.add(j)
            matched += 1
    precision = matched / len(predicted) if predicted else float(not truth)
    recall = matched / len(truth) if truth else float(not predicted)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1

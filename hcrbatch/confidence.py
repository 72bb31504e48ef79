"""A word's confidence as the probability that it is right.

What a recognizer says of its characters is not how often its words are right. The line engine's
character posteriors are near 1 for most letters of a word it reads wrong (one doubtful letter in
six sure ones still averages 0.85), and the glyph engine's softmax is sure of letters on a cursive
page it reads as noise. So each engine's words get a logistic regression over what is known of a
word when it is read — its characters' mean and least confidence (as log-odds), its length,
whether the corrector changed it, whether it is a word of the language (`--lang`'s word list: a
misreading is seldom one), and its line's mean confidence (a garbled line's words are seldom
right) — fitted on pages someone transcribed and the model never saw (`hcrbatch calibrate`) to
whether the word was read right, as word error rate counts it. The fitted weights live in the
engine model's manifest (`word_confidence`), so a retrained model is calibrated anew or not at
all; a word whose engine has no calibration keeps its characters' mean confidence.

The fit is a few lines of Newton's method rather than scikit-learn: seven weights, and a
dependency of its own would be larger than the rest of this module.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from hcrbatch.elements import Line, PageResult, Word
from hcrbatch.errors import ModelError
from hcrbatch.lexicon import is_known_word

FEATURES = ("mean_log_odds", "least_log_odds", "log_length", "corrected", "known_word", "line_mean_log_odds")
SURE = 1e-4  # character confidences are clipped this far from 0 and 1 before their log-odds
RIDGE = 1e-2  # the fit's L2 penalty per word, which keeps weights finite where a feature separates the words


def _log_odds(p: float) -> float:
    p = min(max(p, SURE), 1 - SURE)
    return math.log(p / (1 - p))


def word_features(word: Word, line: Line, lang: str) -> list[float]:
    """What is known of `word`, read in `line` of a `lang` page, in FEATURES' order."""
    read = [w.mean_confidence for w in line.words if w.chars]
    return [
        _log_odds(word.mean_confidence),
        _log_odds(word.min_confidence),
        math.log(1 + len(word.text)),
        float(bool(word.corrected_by) and word.text != word.raw_text),
        float(is_known_word(word.text, lang)),
        sum(map(_log_odds, read)) / len(read) if read else 0.0,
    ]


@dataclass(frozen=True)
class WordCalibration:
    """One engine's map from a word's features to the probability that it is right."""

    engine: str  # the `Line.engine` whose words it calibrates
    weights: tuple[float, ...]  # the intercept, then one per FEATURES
    words: int = 0  # how many words it was fitted on
    fitted_on: str = ""  # what they were

    def probability(self, word: Word, line: Line, lang: str) -> float:
        """How likely `word`, read in `line` of a `lang` page, is right (0 for a word of no characters)."""
        return self.probability_of(word_features(word, line, lang)) if word.chars else 0.0

    def probability_of(self, features: Sequence[float]) -> float:
        score = self.weights[0] + float(np.dot(self.weights[1:], features))
        return 1 / (1 + math.exp(-min(max(score, -30.0), 30.0)))

    def to_dict(self) -> dict:
        return {
            "engine": self.engine, "features": list(FEATURES), "weights": [round(w, 6) for w in self.weights],
            "words": self.words, "fitted_on": self.fitted_on,
        }  # fmt: skip

    @staticmethod
    def from_dict(data: Mapping, source: str) -> WordCalibration:
        if list(data.get("features", ())) != list(FEATURES) or len(data.get("weights", ())) != len(FEATURES) + 1:
            raise ModelError(f"{source}: its word_confidence was fitted on other features than {', '.join(FEATURES)}")
        return WordCalibration(
            data["engine"],
            tuple(float(w) for w in data["weights"]),
            int(data.get("words", 0)),
            data.get("fitted_on", ""),
        )


def fit(
    engine: str, features: Sequence[Sequence[float]], right: Sequence[bool], fitted_on: str = ""
) -> WordCalibration:
    """Logistic regression of `right` on the words' `features` (`word_features`), by Newton's method."""
    if len(features) != len(right) or not len(features):
        raise ValueError("fit needs as many outcomes as words, and some words")
    x = np.hstack([np.ones((len(features), 1)), np.asarray(features, np.float64)])
    y = np.asarray(right, np.float64)
    penalty = RIDGE * len(features) * np.eye(x.shape[1])
    penalty[0, 0] = 0.0  # the intercept is not shrunk
    weights = np.zeros(x.shape[1])
    for _ in range(50):
        p = 1 / (1 + np.exp(-np.clip(x @ weights, -30, 30)))
        gradient = x.T @ (p - y) + penalty @ weights
        hessian = (x * (p * (1 - p))[:, None]).T @ x + penalty
        step = np.linalg.solve(hessian, gradient)
        weights -= step
        if np.abs(step).max() < 1e-8:
            break
    return WordCalibration(engine, tuple(float(w) for w in weights), len(features), fitted_on)


FEWEST_WORDS = 200  # an engine that read fewer words of the transcribed pages is not calibrated from them


def fit_engines(outcomes: Sequence[tuple[str, Sequence[float], bool]], fitted_on: str) -> list[WordCalibration]:
    """A calibration per engine that read at least FEWEST_WORDS of the (engine, features, right)
    outcomes (`samples`)."""
    by_engine: dict[str, list[tuple[Sequence[float], bool]]] = {}
    for engine, features, right in outcomes:
        by_engine.setdefault(engine, []).append((features, right))
    return [
        fit(engine, [f for f, _ in pairs], [r for _, r in pairs], fitted_on)
        for engine, pairs in sorted(by_engine.items())
        if len(pairs) >= FEWEST_WORDS
    ]


def samples(outcomes: Sequence[tuple[Line, Word, bool]], lang: str) -> list[tuple[str, list[float], bool]]:
    """(engine, features, right) of each word with characters among (line, word, right) outcomes
    of `lang` pages (`hcrbatch.evalpages.word_outcomes`)."""
    return [(line.engine, word_features(word, line, lang), right) for line, word, right in outcomes if word.chars]


def calibrate_page(result: PageResult, calibrations: Mapping[str, WordCalibration], lang: str) -> PageResult:
    """`result`, a `lang` page, with each word's `calibrated` probability, by its line's engine's calibration."""
    if not calibrations:
        return result
    lines = tuple(
        replace(line, words=tuple(replace(w, calibrated=round(cal.probability(w, line, lang), 4)) for w in line.words))
        if (cal := calibrations.get(line.engine))
        else line
        for line in result.lines
    )
    return replace(result, lines=lines)


def reliability(probabilities: Sequence[float], right: Sequence[bool], bins: int = 10) -> tuple[float, list[tuple]]:
    """The expected calibration error (the words' mean gap between confidence and how often they are
    right, over equal-width bins), and per bin (low, high, words, mean confidence, share right)."""
    p, y = np.asarray(probabilities, np.float64), np.asarray(right, np.float64)
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    table, gap = [], 0.0
    for k in range(bins):
        inside = which == k
        if inside.any():
            table.append((edges[k], edges[k + 1], int(inside.sum()), float(p[inside].mean()), float(y[inside].mean())))
            gap += inside.sum() * abs(p[inside].mean() - y[inside].mean())
    return gap / max(len(p), 1), table

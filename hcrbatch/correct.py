"""Context correction: choose, per word, the likeliest spelling among the recognizer's own candidates.

A corrector may only pick a path through the character lattice (each character one of its top-k
labels), so the text always comes from the ink. The raw reading stays in each Word's chars.
"""

from __future__ import annotations

import functools
import heapq
import math
from dataclasses import replace
from typing import Protocol

from hcrbatch.config import CorrectConfig
from hcrbatch.elements import Line, PageResult, Word


class Corrector(Protocol):
    name: str

    def correct_word(self, word: Word) -> Word: ...


class NullCorrector:
    """`--correct none`: the raw reading, unchanged."""

    name = "none"

    def correct_word(self, word: Word) -> Word:
        return word


def lattice_paths(word: Word, beam: int) -> list[tuple[float, str]]:
    """The `beam` most probable spellings of the word by visual evidence alone: (log p, text)."""
    paths: list[tuple[float, str]] = [(0.0, "")]
    for char in word.chars:
        extended = [
            (score + math.log(max(p, 1e-9)), text + label)
            for score, text in paths
            for label, p in zip(char.labels, char.probs)
        ]
        paths = heapq.nlargest(beam, extended)
    return paths


def case_prior(text: str) -> float:
    """log prior of the word's case pattern: lower, Capitalised or UPPER are how people write."""
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return 0.0
    if all(c.islower() for c in letters) or all(c.isupper() for c in letters):
        return 0.0
    if letters[0].isupper() and all(c.islower() for c in letters[1:]):
        return 0.0
    return -4.0


def script_switches(text: str) -> int:
    """How often a word switches between letters and digits (sch001: 1, XQ7Z: 2, 1887: 0)."""
    kinds = [c.isdigit() for c in text if c.isalnum()]
    return sum(a != b for a, b in zip(kinds, kinds[1:]))


class LexiconCorrector:
    """Word-frequency lexicon (wordfreq) rescoring of the lattice's best spellings.

    Words with no letters (numbers, codes) are left as read; a spelling out of the lexicon can still
    win where the visual evidence is strong, so unknown names survive.
    """

    name = "lexicon"
    beam = 64
    lexicon_weight = 1.0
    out_of_lexicon = math.log(1e-8)
    switch_penalty = 3.0  # per letter/digit switch in a spelling out of the lexicon

    def __init__(self, lang: str) -> None:
        from wordfreq import available_languages, word_frequency

        if lang not in available_languages():
            from hcrbatch.errors import ConfigError

            raise ConfigError(f"--lang {lang}: wordfreq has no word list for it")
        self.lang = lang
        self._frequency = functools.lru_cache(maxsize=200_000)(lambda word: word_frequency(word, lang))

    def log_frequency(self, text: str) -> float:
        core = text.strip(".,;:!?\"'()").lower()
        if not core or not any(c.isalpha() for c in core):
            return self.out_of_lexicon
        freq = self._frequency(core)
        if freq > 0:
            return math.log(freq)
        return self.out_of_lexicon - self.switch_penalty * script_switches(core)

    def correct_word(self, word: Word) -> Word:
        raw = word.raw_text
        if not any(c.isalpha() for c in raw):
            return word
        best_text, best_score = raw, -math.inf
        for visual, text in lattice_paths(word, self.beam):
            score = visual + self.lexicon_weight * self.log_frequency(text) + case_prior(text)
            if score > best_score:
                best_text, best_score = text, score
        if best_text == word.text:
            return word
        return replace(word, text=best_text, corrected_by=self.name)


def make_corrector(cfg: CorrectConfig) -> Corrector:
    if cfg.method == "none":
        return NullCorrector()
    return LexiconCorrector(cfg.lang)


def correct_page(page: PageResult, corrector: Corrector) -> PageResult:
    lines = tuple(Line(line.bbox, tuple(corrector.correct_word(w) for w in line.words)) for line in page.lines)
    return replace(page, lines=lines)

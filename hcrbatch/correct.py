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

from hcrbatch.elements import Char, PageResult, Word
from hcrbatch.lexicon import WordModel, check_language


class Corrector(Protocol):
    """Chooses each word's text among its readings; works a page at a time so that a corrector
    can read a line in the context of the lines before it."""

    name: str

    def correct_page(self, page: PageResult) -> PageResult: ...


class NullCorrector:
    """`--correct none`: the raw reading, unchanged."""

    name = "none"

    def correct_page(self, page: PageResult) -> PageResult:
        return page


ALTERNATIVE_CUT_PRIOR = math.log(0.01)  # a path through another cut must earn it: the segmenter's cut is likelier


def lattice_paths(word: Word, beam: int) -> list[tuple[float, str]]:
    """The most probable spellings of the word by visual evidence alone, best first: (log p, text).

    The lattice runs over glyph positions: each glyph is a step with its top-k labels, and each
    other cut the segmenter offered (`Word.alternatives`) is a step over the glyphs it replaces,
    at a fixed prior cost. The segmenter's own cut keeps a beam of its own, so that other cuts add
    spellings without pushing out any it would have offered alone. A spelling reached by several
    paths keeps its best score. A word the line engine read brings its own spellings (its CTC beam).
    """
    if word.spellings:
        return sorted(((score, text) for text, score in word.spellings), reverse=True)[:beam]
    best: dict[str, float] = {}
    for alternatives in ((), word.alternatives) if word.alternatives else ((),):
        for score, text in _beam(word, alternatives, beam):
            best[text] = max(score, best.get(text, -math.inf))
    return sorted(((score, text) for text, score in best.items()), reverse=True)


def _beam(word: Word, alternatives: tuple, beam: int) -> list[tuple[float, str]]:
    steps: dict[int, list[tuple[int, tuple[Char, ...], float]]] = {}
    for i, char in enumerate(word.chars):
        steps.setdefault(i, []).append((i + 1, (char,), 0.0))
    for alt in alternatives:
        if 0 <= alt.start < alt.end <= len(word.chars) and alt.chars:
            steps.setdefault(alt.start, []).append((alt.end, alt.chars, ALTERNATIVE_CUT_PRIOR))
    reached: dict[int, list[tuple[float, str]]] = {0: [(0.0, "")]}
    for position in range(len(word.chars)):
        paths = heapq.nlargest(beam, reached.pop(position, []))
        for end, chars, prior in steps.get(position, []):
            extended = [(score + prior, text) for score, text in paths]
            for char in chars:
                extended = heapq.nlargest(
                    beam,
                    (
                        (score + math.log(max(p, 1e-9)), text + label)
                        for score, text in extended
                        for label, p in zip(char.labels, char.probs)
                    ),
                )
            reached.setdefault(end, []).extend(extended)
    return reached.get(len(word.chars), [(0.0, "")])


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


class LexiconCorrector:
    """Rescoring of the lattice's best spellings by a word language model (hcrbatch.lexicon).

    Words with no letters (numbers, dates, codes) are left as read; a spelling out of the lexicon
    can still win where the visual evidence is strong, so unknown names survive.
    """

    name = "lexicon"
    beam = 64
    lm_weight = 1.0

    def __init__(self, lang: str) -> None:
        check_language(lang)  # a usage error at once, not at the first word
        self.lang = lang

    @functools.cached_property
    def model(self) -> WordModel:
        """The word model, built (seconds) at the first word that has spellings to choose among: a
        page the line engine read with its character language model brings one spelling a word."""
        return WordModel(self.lang)

    def candidates(self, word: Word) -> list[tuple[float, str]]:
        """(score, spelling) for the lattice's best spellings, best first."""
        paths = lattice_paths(word, self.beam)
        if len(paths) == 1:
            return paths
        scored = [
            (visual + self.lm_weight * self.model.log_prob(text) + case_prior(text), text) for visual, text in paths
        ]
        return sorted(scored, reverse=True)

    def correct_word(self, word: Word) -> Word:
        if not any(c.isalpha() for c in word.raw_text):
            return word
        best = self.candidates(word)[0][1]
        if best == word.text:
            return word
        return replace(word, text=best, corrected_by=self.name)

    def correct_page(self, page: PageResult) -> PageResult:
        lines = tuple(replace(line, words=tuple(self.correct_word(w) for w in line.words)) for line in page.lines)
        return replace(page, lines=lines)

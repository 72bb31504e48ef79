"""Text to write on synthetic lines and pages: words drawn at their frequency in English and French
(wordfreq), with the numbers, dates, abbreviations and punctuation letters have."""

from __future__ import annotations

from functools import cache

import numpy as np

LANGUAGES = ("en", "fr")
VOCABULARY = 20_000  # most frequent words per language
MONTHS = {
    "en": "January February March April May June July August September October November December".split(),  # noqa: SIM905
    "fr": "janvier février mars avril mai juin juillet août septembre octobre novembre décembre".split(),  # noqa: SIM905
}


@cache
def vocabulary(lang: str) -> tuple[list[str], np.ndarray]:
    """The language's most frequent words (letters and apostrophes only) and their cumulative
    probabilities, as `Generator.choice(p=...)` computes them on every call (150 µs for 20,000 words)."""
    from wordfreq import top_n_list, word_frequency

    words = [w for w in top_n_list(lang, VOCABULARY) if w.replace("'", "").replace("’", "").isalpha()]
    cumulative = np.array([word_frequency(w, lang) for w in words]).cumsum()
    return words, cumulative / cumulative[-1]


def draw_word(lang: str, rng: np.random.Generator) -> str:
    """A word at its frequency: the very draw of `rng.choice(len(words), p=probabilities)`, one
    uniform number looked up in the cached cumulative probabilities, 150 times faster."""
    words, cumulative = vocabulary(lang)
    return str(words[cumulative.searchsorted(rng.random(), side="right")])


def random_token(lang: str, rng: np.random.Generator) -> str:
    """A number, a date or an abbreviation, as letters have them."""
    kind = rng.integers(0, 4)
    if kind == 0:
        return str(int(rng.integers(1, 10 ** int(rng.integers(1, 5)))))
    if kind == 1:
        return f"{rng.integers(1, 29)} {MONTHS[lang][rng.integers(0, 12)]} {rng.integers(1800, 1930)}"
    if kind == 2:
        return f"{rng.integers(1, 29)}/{rng.integers(1, 13)}/{rng.integers(0, 100):02d}"
    return str(rng.choice(["Mr.", "Mrs.", "Dr.", "St.", "&", "M.", "Mme", "No.", "£5", "1er", "etc."]))


def punctuate(token: str, rng: np.random.Generator) -> tuple[str, bool]:
    """`token` with the mark prose might put after or around it, and whether that ends a sentence."""
    roll = rng.random()
    if roll < 0.08:
        return token + ",", False
    if roll < 0.12:
        return token + str(rng.choice([".", ".", ";", ":", "?", "!"])), True
    if roll < 0.13:
        return (f"({token})" if rng.random() < 0.5 else f'"{token}"'), False
    return token, False


def random_text(rng: np.random.Generator, max_chars: int) -> str:
    """A run of words (from one language) of at most `max_chars` characters, punctuated like prose."""
    lang = str(rng.choice(LANGUAGES))
    tokens: list[str] = []
    capital = rng.random() < 0.5
    while True:
        if rng.random() < 0.06:
            token = random_token(lang, rng)
        else:
            token = draw_word(lang, rng)
            if capital or rng.random() < 0.04:
                token = token[:1].upper() + token[1:]
        token, capital = punctuate(token, rng)
        if tokens and len(" ".join([*tokens, token])) > max_chars:
            return " ".join(tokens)
        tokens.append(token)

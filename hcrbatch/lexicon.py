"""The default language model: word frequencies from wordfreq, and a character n-gram trained on the
same word list for words the lexicon does not hold (names, rare words).

Both are probabilities of one word, so an in-lexicon spelling and an unknown one compare fairly:
P(w) = f(w) for a known word, and P(w) = p_unknown · P_ngram(w) otherwise. Nothing is downloaded:
wordfreq ships its lists inside the wheel.
"""

from __future__ import annotations

import functools
import math
from collections import Counter, defaultdict

from hcrbatch.errors import ConfigError

BOUNDARY = "\x02"  # pads a word's start and marks its end for the n-gram


class CharNgram:
    """Interpolated (Witten–Bell) character n-gram over lower-cased words."""

    def __init__(self, words: dict[str, float], order: int = 4) -> None:
        self.order = order
        self.counts: list[dict[str, Counter]] = [defaultdict(Counter) for _ in range(order)]
        alphabet: set[str] = set()
        for word, weight in words.items():
            padded = BOUNDARY * (order - 1) + word + BOUNDARY
            alphabet.update(word)
            for i in range(order - 1, len(padded)):
                for n in range(order):
                    self.counts[n][padded[i - n : i]][padded[i]] += weight
        self.vocabulary = len(alphabet) + 1
        self.totals = [{h: sum(c.values()) for h, c in level.items()} for level in self.counts]

    @functools.lru_cache(maxsize=500_000)  # noqa: B019  (one model per process, queried per candidate)
    def log_prob(self, word: str) -> float:
        padded = BOUNDARY * (self.order - 1) + word + BOUNDARY
        return sum(
            math.log(self._prob(padded[i - self.order + 1 : i], padded[i])) for i in range(self.order - 1, len(padded))
        )

    def _prob(self, history: str, char: str) -> float:
        prob = 1.0 / (self.vocabulary * 20)  # unseen characters (digits, symbols) stay possible but rare
        for n in range(self.order):
            h = history[len(history) - n :] if n else ""
            following = self.counts[n].get(h)
            if not following:
                continue
            total, types = self.totals[n][h], len(following)
            prob = (following.get(char, 0.0) + types * prob) / (total + types)
        return prob


def word_core(word: str) -> str:
    """`word` as the lexicon looks it up: lower case, without the punctuation around it."""
    return word.strip(".,;:!?\"'()").lower()


@functools.lru_cache(maxsize=200_000)
def single_word_frequency(word: str, lang: str) -> float:
    """wordfreq's frequency of `word` if it is one word: wordfreq splits "kmm&ws" or "2:hp" into
    tokens and returns the frequency of the phrase, which would make a symbol look like a word."""
    from wordfreq import tokenize, word_frequency

    return word_frequency(word, lang) if tokenize(word, lang) == [word] else 0.0


@functools.cache
def language_problem(lang: str) -> str | None:
    """Why `--lang lang` cannot be read with, or None: wordfreq has no list for it, or needs a
    tokenizer (jieba for Chinese, MeCab for Japanese and Korean) that is not installed."""
    from wordfreq import available_languages, tokenize

    if lang not in available_languages():
        return "wordfreq has no word list for it"
    try:
        tokenize("word", lang)
    except ModuleNotFoundError as exc:
        return f"wordfreq needs the {exc.name} package to split its text into words, and it is not installed"
    return None


def usable_languages() -> list[str]:
    from wordfreq import available_languages

    return [lang for lang in sorted(available_languages()) if language_problem(lang) is None]


def check_language(lang: str) -> None:
    """A ConfigError (a usage error) naming the languages that can be read, if `lang` is not one."""
    problem = language_problem(lang)
    if problem:
        raise ConfigError(f"--lang {lang}: {problem}; --lang takes: {', '.join(usable_languages())}")


def has_word_list(lang: str) -> bool:
    return language_problem(lang) is None


def is_known_word(word: str, lang: str) -> bool:
    """Whether `word` (punctuation around it aside) is in the language's word list; False for a
    language wordfreq has none for."""
    core = word_core(word)
    return bool(core) and has_word_list(lang) and single_word_frequency(core, lang) > 0


class WordModel:
    """log P(word) for a language, from wordfreq, with the n-gram for unknown words."""

    def __init__(self, lang: str, n_words: int = 50_000, p_unknown: float = 0.02) -> None:
        from wordfreq import top_n_list, word_frequency

        check_language(lang)
        self.lang = lang
        self.log_unknown = math.log(p_unknown)
        words = {w: math.sqrt(word_frequency(w, lang)) for w in top_n_list(lang, n_words) if w.isalpha()}
        self.ngram = CharNgram(words)

    def log_prob(self, word: str) -> float:
        """Log-probability of a word as written (case-insensitive); punctuation around it is ignored."""
        core = word_core(word)
        if not core:
            return 0.0
        freq = single_word_frequency(core, self.lang)
        if freq > 0:
            return math.log(freq)
        return self.log_unknown + self.ngram.log_prob(core)

"""Character n-gram language models for the line engine's CTC beam search.

The model is interpolated Kneser–Ney over the characters of whole transcribed lines, trained by
`hcrbatch train-charlm` on the line model's training pages and written as an ARPA file, the format
KenLM reads; flashlight-text's CTC decoder (`hcrbatch.ctcdecode`) queries it through its bundled
KenLM. We count and smooth ourselves because the pip builds of KenLM query models but do not build
them (`lmplz` is a separate C++ tool), and a character model of a few hundred thousand n-grams
takes seconds in Python.

A line is a sentence (`<s>` … `</s>`); each character is a word of the ARPA vocabulary, the space
written as `SPACE_TOKEN`, so that a decoder whose word separator is that token scores spaces too.
"""

from __future__ import annotations

import gzip
import math
from collections import Counter, defaultdict
from collections.abc import Iterable
from pathlib import Path

from hcrbatch.errors import ConfigError

SPACE_TOKEN = "|"
BOS, EOS, UNK = "<s>", "</s>", "<unk>"
Ngram = tuple[str, ...]


def line_tokens(text: str) -> list[str]:
    """The ARPA words of one line of text: its characters, with spaces as SPACE_TOKEN."""
    return [SPACE_TOKEN if c == " " else c for c in " ".join(text.split())]


def count_ngrams(lines: Iterable[str], order: int) -> list[Counter]:
    """counts[n][g]: how often the n-gram g (n = 1..order) occurs, lines padded by <s> and </s>."""
    counts: list[Counter] = [Counter() for _ in range(order + 1)]
    for text in lines:
        seq = [BOS, *line_tokens(text), EOS]
        for end in range(1, len(seq)):
            for n in range(1, min(order, end + 1) + 1):
                counts[n][tuple(seq[end - n + 1 : end + 1])] += 1
    counts[1][(BOS,)] = 0  # a context only: nothing predicts the start of a line
    return counts


def adjusted_counts(counts: list[Counter]) -> list[Counter]:
    """Kneser–Ney's counts: below the highest order, how many distinct characters precede an
    n-gram (its continuation count), except for n-grams that begin a line, which keep their own."""
    order = len(counts) - 1
    adjusted = [Counter() for _ in range(order + 1)]
    adjusted[order] = Counter(counts[order])
    for n in range(1, order):
        for gram in counts[n + 1]:
            adjusted[n][gram[1:]] += 1
        for gram, count in counts[n].items():
            if gram[0] == BOS:
                adjusted[n][gram] = count
    return adjusted


def discount(level: Counter) -> float:
    """The absolute discount D = n1 / (n1 + 2 n2) of Ney et al. (n_k: n-grams with count k)."""
    ones = sum(1 for c in level.values() if c == 1)
    twos = sum(1 for c in level.values() if c == 2)
    return min(max(ones / (ones + 2 * twos), 0.1), 0.9) if ones + twos else 0.5


def kneser_ney(lines: Iterable[str], order: int, min_count: int = 2) -> tuple[list[dict[Ngram, float]], list[dict]]:
    """(probabilities, backoff weights) per order, both as plain (not log) numbers.

    Probabilities are interpolated with the lower orders; n-grams of order 3 and up seen fewer than
    `min_count` times are left out (their mass goes to the backoff weight, recomputed so that each
    context's distribution still sums to one), which keeps the file small.
    """
    if order < 2:
        raise ConfigError(f"a character language model needs order 2 or more, not {order}")
    counts = count_ngrams(lines, order)
    if not counts[1]:
        raise ConfigError("no text to train a character language model on")
    adjusted = adjusted_counts(counts)
    vocabulary = [g for g in counts[1] if g != (BOS,)] + [(UNK,)]
    probs: list[dict[Ngram, float]] = [{} for _ in range(order + 1)]
    for n in range(1, order + 1):
        d = discount(adjusted[n])
        totals: dict[Ngram, float] = defaultdict(float)
        types: dict[Ngram, int] = defaultdict(int)
        for gram, count in adjusted[n].items():
            if count > 0:
                totals[gram[:-1]] += count
                types[gram[:-1]] += 1
        grams = vocabulary if n == 1 else [g for g in adjusted[n] if counts[n][g] >= (min_count if n >= 3 else 1)]
        for gram in grams:
            context = gram[:-1]
            total = totals[context]
            lower = 1.0 / len(vocabulary) if n == 1 else probs[n - 1][gram[1:]]
            own = max(adjusted[n][gram] - d, 0.0) / total
            probs[n][gram] = own + d * types[context] / total * lower
    probs[1][(BOS,)] = 0.0
    return probs, backoff_weights(probs)


def backoff_weights(probs: list[dict[Ngram, float]]) -> list[dict[Ngram, float]]:
    """For every stored context h: the weight that makes P(· | h) sum to one over the characters
    h was not stored with, which then get the shorter context's probability."""
    order = len(probs) - 1
    weights: list[dict[Ngram, float]] = [{} for _ in range(order + 1)]
    for n in range(2, order + 1):
        stored: dict[Ngram, float] = defaultdict(float)
        lower: dict[Ngram, float] = defaultdict(float)
        for gram, p in probs[n].items():
            stored[gram[:-1]] += p
            lower[gram[:-1]] += probs[n - 1][gram[1:]]
        for context in stored:
            weights[n - 1][context] = max(1.0 - stored[context], 1e-12) / max(1.0 - lower[context], 1e-12)
    return weights


def _log10(p: float) -> str:
    return f"{math.log10(p):.6f}" if p > 0 else "-99"


def write_arpa(path: Path, probs: list[dict[Ngram, float]], weights: list[dict[Ngram, float]]) -> None:
    """The model as an ARPA file (gzip-compressed when `path` ends in .gz)."""
    order = len(probs) - 1
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "wt", encoding="utf-8") as fh:
        fh.write("\\data\\\n")
        for n in range(1, order + 1):
            fh.write(f"ngram {n}={len(probs[n])}\n")
        for n in range(1, order + 1):
            fh.write(f"\n\\{n}-grams:\n")
            for gram in sorted(probs[n]):
                line = f"{_log10(probs[n][gram])}\t{' '.join(gram)}"
                if n < order and gram in weights[n]:
                    line += f"\t{math.log10(weights[n][gram]):.6f}"
                fh.write(line + "\n")
        fh.write("\n\\end\\\n")


def line_log_prob(text: str, probs: list[dict[Ngram, float]], weights: list[dict[Ngram, float]]) -> float:
    """Natural log probability of a line under the model, by ARPA back-off: what KenLM computes,
    for tests and perplexity."""
    order = len(probs) - 1
    seq = [BOS, *line_tokens(text), EOS]
    total = 0.0
    for end in range(1, len(seq)):
        history = tuple(seq[max(0, end - order + 1) : end])
        token = seq[end] if (seq[end],) in probs[1] else UNK
        penalty = 0.0
        while (*history, token) not in probs[len(history) + 1]:
            penalty += math.log(weights[len(history)].get(history, 1.0))
            history = history[1:]
        total += penalty + math.log(probs[len(history) + 1][(*history, token)])
    return total

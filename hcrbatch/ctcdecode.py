"""The line engine's CTC beam search with a character language model.

flashlight-text's lexicon-free decoder searches the line model's per-step outputs with a character
n-gram (`hcrbatch.charlm`) queried through the KenLM it bundles: each path's score is its CTC
log-probability plus `weight` times its language-model log-probability, plus `space_score` per
space. Only the `beam_tokens` likeliest labels of each step are searched, so the decoder never writes
a character the recognizer did not offer there. The result is a label per step, which the line
engine aligns like a best path (`lineengine.align`): characters keep their columns on the page.

Which model reads a page: with `--char-lm auto`, every installed one (`charlm-*`) decodes the page's
lines and the best-scoring reads it (`choose_decoding`); a named one; or none (`--char-lm none`:
best-path decoding).
"""

from __future__ import annotations

import contextlib
import copy
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hcrbatch.charlm import SPACE_TOKEN
from hcrbatch.errors import ModelError
from hcrbatch.modelstore import CHARACTER_LM, ModelManifest, load_manifest

BLANK_TOKEN = "<blank>"  # never in the language model's vocabulary; the decoder does not score it


@dataclass(frozen=True)
class LmSearch:
    """How the beam search weighs the language model; tuned per model (benchmarks/char_lm.py) and
    kept in its manifest ("search")."""

    weight: float = 0.5
    space_score: float = 0.0
    beam: int = 32
    beam_tokens: int = 8
    threshold: float = 25.0


def char_lm_manifests(models_dir: Path, name: str, lang: str) -> list[ModelManifest]:
    """The character language models `name` asks for: "auto", every one installed (`charlm-*`),
    `charlm-<lang>` first, to compete for each page (`choose_decoding`); "none", none; any other
    name, that model alone (an error if it is not there or not a language model)."""
    if name == "none":
        return []
    if name != "auto":
        return [load_manifest(models_dir, name, CHARACTER_LM)]
    names = sorted(p.stem for p in Path(models_dir).glob("charlm-*.json"))
    names.sort(key=lambda n: n != f"charlm-{lang}")
    return [load_manifest(models_dir, n, CHARACTER_LM) for n in names]


def choose_decoding(
    probabilities: list[np.ndarray], decoders: list[LmBeamDecoder]
) -> tuple[LmBeamDecoder | None, list[np.ndarray] | None]:
    """(decoder, a path per line) for one page: each decoder reads all the page's lines and the one
    whose searches score highest in total reads the page, so a page is read with the language it is
    written in whatever `--lang` says (on the held-out pages of both collections, the right one every
    time; line by line it was right 95 % of the time, so the page decides). (None, None) without one."""
    best: tuple[float, LmBeamDecoder | None, list[np.ndarray] | None] = (-np.inf, None, None)
    for decoder in decoders:
        decoded = [decoder.decode(probs) for probs in probabilities]
        total = sum(score for _, score in decoded)
        if best[1] is None or total > best[0]:
            best = (total, decoder, [path for path, _ in decoded])
    return best[1], best[2]


@contextlib.contextmanager
def _stderr_silenced():
    """KenLM reports its loading progress on the process's stderr, which a quiet run must not see."""
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


class LmBeamDecoder:
    """One loaded language model and decoder for a line model's labels (blank first, then `charset`)."""

    def __init__(self, manifest: ModelManifest, charset: str, search: LmSearch | None = None) -> None:
        from flashlight.lib.text.decoder.kenlm import KenLM
        from flashlight.lib.text.dictionary import Dictionary

        if " " not in charset:
            raise ModelError("the line model's charset has no space: a character language model needs one")
        try:
            self.search = search or LmSearch(**manifest.extra.get("search", {}))
        except TypeError as exc:
            raise ModelError(f"{manifest.weights}: bad 'search' settings in its manifest: {exc}") from exc
        self.manifest = manifest
        tokens = [BLANK_TOKEN, *(SPACE_TOKEN if c == " " else c for c in charset)]
        try:
            with _stderr_silenced():
                self._lm = KenLM(str(manifest.weights), Dictionary(tokens))
        except RuntimeError as exc:
            raise ModelError(f"cannot load the language model {manifest.weights}: {exc}") from exc
        self._charset = charset
        self._decoders = threading.local()  # a search holds its hypotheses: one decoder a thread (`--threads`)

    def _make_decoder(self, search: LmSearch):
        from flashlight.lib.text.decoder import CriterionType, LexiconFreeDecoder, LexiconFreeDecoderOptions

        options = LexiconFreeDecoderOptions(
            beam_size=search.beam,
            beam_size_token=min(search.beam_tokens, len(self._charset) + 1),
            beam_threshold=search.threshold,
            lm_weight=search.weight,
            sil_score=search.space_score,
            log_add=False,
            criterion_type=CriterionType.CTC,
        )
        return LexiconFreeDecoder(options, self._lm, self._charset.index(" ") + 1, 0, [])

    def with_search(self, search: LmSearch) -> LmBeamDecoder:
        """The same loaded language model, searched with other settings (for tuning)."""
        other = copy.copy(self)
        other.search = search
        other._decoders = threading.local()
        return other

    @property
    def _decoder(self):
        """This thread's decoder over the shared language model (KenLM's queries are read-only)."""
        decoder = getattr(self._decoders, "decoder", None)
        if decoder is None:
            decoder = self._decoders.decoder = self._make_decoder(self.search)
        return decoder

    def path(self, probs: np.ndarray) -> np.ndarray:
        """The label (blank = 0) the best-scoring path takes at each step of one line's probabilities."""
        return self.decode(probs)[0]

    def decode(self, probs: np.ndarray) -> tuple[np.ndarray, float]:
        """(the best path's label per step, its search score: CTC plus weighted language model)."""
        if len(probs) == 0:
            return np.zeros(0, np.int64), 0.0
        emissions = np.ascontiguousarray(np.log(np.maximum(probs, 1e-9)), dtype=np.float32)
        results = self._decoder.decode(emissions.ctypes.data, emissions.shape[0], emissions.shape[1])
        # the decoder pads the path with a space each side
        return np.asarray(results[0].tokens[1:-1], np.int64), float(results[0].score)

"""The line engine's CTC beam search with a character language model.

flashlight-text's lexicon-free decoder searches the line model's per-step outputs with a character
n-gram (`hcrbatch.charlm`) queried through the KenLM it bundles: each path's score is its CTC
log-probability plus `weight` times its language-model log-probability, plus `space_score` per
space. Only the `beam_tokens` likeliest labels of each step are searched, so the decoder never writes
a character the recognizer did not offer there. The result is a label per step, which the line
engine aligns like a best path (`linereader.align`): characters keep their columns on the page.

The language model is chosen by language: `charlm-<lang>` in the models folder (`--char-lm auto`),
a named one, or none (`--char-lm none`: best-path decoding).
"""

from __future__ import annotations

import contextlib
import copy
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hcrbatch.charlm import SPACE_TOKEN
from hcrbatch.errors import ModelError
from hcrbatch.modelstore import ModelManifest, load_manifest, manifest_path

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


def char_lm_manifest(models_dir: Path, name: str, lang: str) -> ModelManifest | None:
    """The character language model `name` asks for: "auto", `charlm-<lang>` where one is
    installed; "none", none; any other name, that model (an error if it is not there)."""
    if name == "none":
        return None
    if name == "auto":
        name = f"charlm-{lang}"
        if not manifest_path(models_dir, name).is_file():
            return None
    manifest = load_manifest(models_dir, name)
    if manifest.extra.get("task") != "character language model":
        raise ModelError(f"{manifest.weights}: not a character language model (its manifest's task)")
    return manifest


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
        self._decoder = self._make_decoder(self.search)

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
        other._decoder = self._make_decoder(search)
        return other

    def path(self, probs: np.ndarray) -> np.ndarray:
        """The label (blank = 0) the best-scoring path takes at each step of one line's probabilities."""
        if len(probs) == 0:
            return np.zeros(0, np.int64)
        emissions = np.ascontiguousarray(np.log(np.maximum(probs, 1e-9)), dtype=np.float32)
        results = self._decoder.decode(emissions.ctypes.data, emissions.shape[0], emissions.shape[1])
        return np.asarray(results[0].tokens[1:-1], np.int64)  # the decoder pads the path with a space each side

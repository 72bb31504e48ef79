"""Correctors chosen by name (`--correct`) from one registry, as the engines are (`hcrbatch.engines`).

Each is built once per worker (the lexicon and the LLM take seconds to load). To add one: a class
with `name` and `correct_page(page) -> PageResult` (`hcrbatch.correct.Corrector`) and one
`register(...)` call here.
"""

from __future__ import annotations

from collections.abc import Callable

from hcrbatch.config import CorrectConfig
from hcrbatch.correct import Corrector, LexiconCorrector, NullCorrector
from hcrbatch.errors import ConfigError

CORRECTORS: dict[str, Callable[[CorrectConfig], Corrector]] = {}


def register(name: str, build: Callable[[CorrectConfig], Corrector]) -> None:
    CORRECTORS[name] = build


def make_corrector(cfg: CorrectConfig) -> Corrector:
    try:
        build = CORRECTORS[cfg.method]
    except KeyError:
        raise ConfigError(f"unknown corrector {cfg.method!r}; known: {', '.join(sorted(CORRECTORS))}") from None
    return build(cfg)


def _llm(cfg: CorrectConfig) -> Corrector:
    from hcrbatch.llm import LlmCorrector  # llama-cpp-python, an optional extra

    return LlmCorrector(cfg, LexiconCorrector(cfg.lang))


register("none", lambda cfg: NullCorrector())
register("lexicon", lambda cfg: LexiconCorrector(cfg.lang))
register("llm", _llm)

"""Recognition engines behind one interface, chosen by name (`--engine`) from one registry.

An engine turns a cleaned page into a `PageResult`: `read(page: EnginePage) -> PageResult`. The
registry maps each name to how its models are found (without loading them: the batch's settings
digest and provenance need them before any worker starts) and how it is built. Only the engine
asked for is built, and it builds only what it reads with: `--engine line` never loads the
character CNN, `--engine tesseract` neither network. `auto` composes the others, as docTR's
predictor composes a detector and a recognizer. To add an engine: a class with `models` and
`read`, and one `register(...)` call (docs/engines.md).
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

import numpy as np

from hcrbatch.config import RecognizeConfig, SegmentConfig
from hcrbatch.ctcdecode import char_lm_manifests
from hcrbatch.confidence import WordCalibration
from hcrbatch.elements import BBox, CleanPage, Line, LineEvidence, PageResult, Segmentation
from hcrbatch.errors import ConfigError, ModelError
from hcrbatch.modelstore import (
    GLYPH_CLASSIFIER,
    LINE_RECOGNIZER,
    ModelManifest,
    limit_tensorflow_threads,
    load_manifest,
    manifest_path,
    write_manifest,
)
from hcrbatch.segment import LineFinder, segment

log = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class EnginePage:
    """What an engine reads: the cleaned page, and its segmentation, made only if an engine asks."""

    clean: CleanPage
    index: int
    dpi: float
    segment_config: SegmentConfig = SegmentConfig()
    line_finder: LineFinder | None = None  # the learned line density segmentation finds lines on

    @functools.cached_property
    def segmentation(self) -> Segmentation:
        return segment(self.clean, self.segment_config, self.line_finder)

    def keeping(self, kept: list[int]) -> EnginePage:
        """The page as if only its segmented lines `kept` had been found: what auto's handwriting
        engines read once Tesseract has taken the print."""
        narrowed = EnginePage(self.clean, self.index, self.dpi, self.segment_config, self.line_finder)
        whole = self.segmentation
        narrowed.__dict__["segmentation"] = replace(whole, lines=tuple(whole.lines[i] for i in kept))  # the cache
        return narrowed

    def stamps_set_aside(self) -> tuple[BBox, ...]:
        """The stamps segmentation kept out of every line, where an engine asked for it (Tesseract
        alone reads the page whole, stamps and all)."""
        found = self.__dict__.get("segmentation")
        return found.stamps if found is not None else ()

    def empty_result(self, lines: tuple[Line, ...] = ()) -> PageResult:
        clean = self.clean
        return PageResult(self.index, clean.page_width, clean.page_height, self.dpi, clean.skew_degrees, lines)


class Engine(Protocol):
    models: tuple[str, ...]  # "name version" of everything it reads with, for the outputs' provenance

    def read(self, page: EnginePage) -> PageResult: ...


@dataclass(frozen=True)
class EngineSpec:
    # what the engine reads with, found but not loaded: its manifests, and a text naming anything
    # else that changes its readings (a Tesseract version); both go into the settings digest
    manifests: Callable[[RecognizeConfig, str], list[ModelManifest]]
    build: Callable[[RecognizeConfig, str], Engine]  # (config, language) -> engine, its models loaded
    fingerprint: Callable[[RecognizeConfig, str], str] = lambda cfg, lang: ""
    segments: bool = True  # reads our segmentation of the page (Tesseract alone lays out its own lines)


ENGINES: dict[str, EngineSpec] = {}


def register(name: str, spec: EngineSpec) -> None:
    ENGINES[name] = spec


def engine_spec(cfg: RecognizeConfig) -> EngineSpec:
    try:
        return ENGINES[cfg.engine]
    except KeyError:
        raise ConfigError(f"unknown engine {cfg.engine!r}; known: {', '.join(sorted(ENGINES))}") from None


def make_engine(cfg: RecognizeConfig, lang: str, threads: int = 0) -> Engine:
    """The engine `cfg` names, its models loaded; `threads` (0: TensorFlow's own choice) caps the CPU
    threads its networks use, set before any of them loads, as TensorFlow requires."""
    spec = engine_spec(cfg)
    if threads and any(m.weights.suffix == ".keras" for m in spec.manifests(cfg, lang)):
        limit_tensorflow_threads(threads)
    return spec.build(cfg, lang)


def engine_digest(cfg: RecognizeConfig, lang: str) -> str:
    """Content hashes of everything the engine reads with: a retrained model redoes earlier outputs."""
    spec = engine_spec(cfg)
    return "".join(m.digest() for m in spec.manifests(cfg, lang)) + spec.fingerprint(cfg, lang)


def word_calibrations(cfg: RecognizeConfig, lang: str) -> dict[str, WordCalibration]:
    """Each engine's word-confidence calibration, from the manifests of the models `cfg`'s engine
    reads with (`hcrbatch.confidence`); an engine whose model has none is not in it."""
    found = {}
    for manifest in engine_spec(cfg).manifests(cfg, lang):
        if "word_confidence" in manifest.extra:
            calibration = WordCalibration.from_dict(manifest.extra["word_confidence"], str(manifest.weights))
            found[calibration.engine] = calibration
    return found


CALIBRATED_MODELS: dict[str, Callable[[RecognizeConfig], str]] = {
    "glyph": lambda cfg: cfg.model,
    "line": lambda cfg: cfg.line_model,
}  # an engine's words are calibrated in its model's manifest; Tesseract's keep Tesseract's own confidence


def store_calibrations(cfg: RecognizeConfig, calibrations: list[WordCalibration], overwrite: bool) -> list[Path]:
    """Each calibration written into its engine's model manifest (`word_confidence`), refused where
    one is there already unless `overwrite`; those of engines without a model of ours are left out."""
    written = []
    for calibration in calibrations:
        if calibration.engine not in CALIBRATED_MODELS:
            continue
        path = manifest_path(cfg.models_dir, CALIBRATED_MODELS[calibration.engine](cfg))
        manifest = json.loads(path.read_text(encoding="utf-8"))
        if "word_confidence" in manifest and not overwrite:
            raise ConfigError(f"{path} has a word_confidence calibration: --overwrite to replace it")
        manifest["word_confidence"] = calibration.to_dict()
        written.append(write_manifest(cfg.models_dir, manifest))
    return written


def letters_beyond_alphabet(cfg: RecognizeConfig, lang: str) -> tuple[float, str]:
    """How much of `lang`'s writing (its 500 commonest words, by frequency) is in letters none of
    the engine's recognizers has in its charset, and the commonest of those letters: a Cyrillic or
    Greek page read by Latin models comes out as nonsense, not as a failure."""
    from wordfreq import top_n_list, word_frequency

    names = {cfg.model, cfg.line_model}
    alphabet = set().union(*(set(m.charset) for m in engine_spec(cfg).manifests(cfg, lang) if m.name in names))
    if not alphabet:
        return 0.0, ""
    letters: dict[str, float] = {}
    for word in top_n_list(lang, 500):
        for letter in filter(str.isalpha, word):
            letters[letter] = letters.get(letter, 0.0) + word_frequency(word, lang)
    missing = {c: n for c, n in letters.items() if c not in alphabet}
    share = sum(missing.values()) / max(sum(letters.values()), 1e-12)
    return share, "".join(sorted(missing, key=missing.get, reverse=True)[:8])


def refuse_to_recalibrate(cfg: RecognizeConfig, lang: str, overwrite: bool) -> None:
    """Before pages are read for `hcrbatch calibrate`: no model of the engine may hold a calibration
    already, unless `overwrite`, so that an hour's reading does not end in a refusal."""
    for manifest in engine_spec(cfg).manifests(cfg, lang):
        if "word_confidence" in manifest.extra and not overwrite:
            raise ConfigError(
                f"{manifest_path(cfg.models_dir, manifest.name)} has a word_confidence calibration: --overwrite to replace it"
            )


def _named(manifest: ModelManifest) -> str:
    return f"{manifest.name} {manifest.version}"


# --- glyph: characters cut by the segmenter and classified by the character CNN ---


class GlyphEngine:
    def __init__(self, recognizer) -> None:  # a glyphengine.CharRecognizer
        self.recognizer = recognizer
        self.models = (_named(recognizer.manifest),)

    def read(self, page: EnginePage) -> PageResult:
        from hcrbatch.glyphengine import recognize_page

        return recognize_page(page.segmentation, page.clean, self.recognizer, page.index, page.dpi)


def _glyph_manifests(cfg: RecognizeConfig, lang: str) -> list[ModelManifest]:
    return [load_manifest(cfg.models_dir, cfg.model, GLYPH_CLASSIFIER)]


def _build_glyph(cfg: RecognizeConfig, lang: str) -> GlyphEngine:
    from hcrbatch.glyphengine import CharRecognizer

    return GlyphEngine(CharRecognizer.from_config(cfg))


# --- line: whole lines through the CTC line model, decoded with a character language model ---


def line_manifest(cfg: RecognizeConfig, required: bool = True) -> ModelManifest | None:
    """The line model `cfg` names; None when it is not installed and not `required` (auto)."""
    if not required and not manifest_path(cfg.models_dir, cfg.line_model).is_file():
        return None
    return load_manifest(cfg.models_dir, cfg.line_model, LINE_RECOGNIZER)


class LineEngine:
    def __init__(self, reader) -> None:  # a lineengine.LineRecognizer
        self.reader = reader
        self.models = (_named(reader.manifest), *(_named(d.manifest) for d in reader.lm_decoders))

    def read(self, page: EnginePage) -> PageResult:
        from hcrbatch.lineengine import read_lines

        return read_lines(page.segmentation, page.clean, self.reader, page.index, page.dpi)


def _line_manifests(cfg: RecognizeConfig, lang: str, required: bool = True) -> list[ModelManifest]:
    line = line_manifest(cfg, required)
    return [line, *char_lm_manifests(cfg.models_dir, cfg.char_lm, lang)] if line else []


def _build_line(cfg: RecognizeConfig, lang: str, required: bool = True) -> LineEngine | None:
    from hcrbatch.lineengine import LineRecognizer

    line = line_manifest(cfg, required)
    if line is None:
        return None
    return LineEngine(LineRecognizer(line, cfg, tuple(char_lm_manifests(cfg.models_dir, cfg.char_lm, lang))))


# --- tesseract: printed and typewritten text, Tesseract's own page layout ---


class TesseractEngine:
    def __init__(self, reader) -> None:  # a tesseract.TesseractReader
        self.reader = reader
        self.models = (reader.name,)

    def read(self, page: EnginePage) -> PageResult:
        from hcrbatch.tesseract import page_lines

        return page.empty_result(page_lines(self.reader, page.clean.gray, page.dpi, page.clean.to_page))


def _tesseract_fingerprint(cfg: RecognizeConfig, lang: str) -> str:
    from hcrbatch.tesseract import tessdata_dir, tesseract_language

    code = tesseract_language(lang)
    data = tessdata_dir(code) / f"{code.split('+')[0]}.traineddata"
    return f"tesseract:{code}:{data.stat().st_size}"


def _build_tesseract(cfg: RecognizeConfig, lang: str) -> TesseractEngine:
    from hcrbatch.tesseract import TesseractReader

    return TesseractEngine(TesseractReader(lang))


# --- auto: the glyph and line engines together, a line at a time ---


@dataclass(frozen=True)
class AutoRule:
    """Which lines `--engine auto` takes from the line engine, given each line's mean character
    confidence under both engines, (glyph, line).

    A page is written one way, so the page decides first: it is the line engine's page when at
    least `joined_ink` of its letter ink is joined-up script (`hcrbatch.segment.joined_ink`) or the
    median over its lines of (line - glyph confidence) exceeds `page_margin`; there the glyph
    engine keeps only lines it is surer of by more than `glyph_margin`. On any other page the line
    engine takes only lines it is surer of by more than `line_margin` (a signature on a printed
    form). Lines the line engine reads as nothing (confidence 0: the cut-off strokes of a
    neighbouring line, specks) do not vote; on the line engine's page they stay empty unless the
    glyph engine is surer of them by `glyph_margin` (its readings of such slivers are noise).
    Why not "the more confident wins" everywhere: the glyph engine is confidently wrong on
    joined-up script, and line by line confidence cannot tell cursive from a hard hand-printed
    hand, while a page's lines together can, and the shape of its ink more surely still: the
    votes of a short page (a postcard, a page of two lines) are few and noisy. The thresholds
    depend on how the two models are calibrated, so they live in the line model's manifest
    ("auto"), tuned by benchmarks/auto_rule.py; without them no page is the line engine's
    (`page_margin` 1.0, `joined_ink` above any share).
    """

    page_margin: float = 1.0
    glyph_margin: float = 0.0
    line_margin: float = 0.0
    joined_ink: float = 2.0

    @classmethod
    def of(cls, manifest: ModelManifest) -> AutoRule:
        try:
            return cls(**manifest.extra.get("auto", {}))
        except TypeError as exc:
            raise ModelError(f"{manifest.weights}: bad 'auto' thresholds in its manifest: {exc}") from exc

    def line_engine_alone(self, joined_ink: float) -> bool:
        """Whether a page's ink alone gives all its lines to the line engine, so that the glyph engine
        need not read it: a page of joined-up script where the glyph engine would have to be surer
        of a line by a whole unit of confidence (`glyph_margin` 1, the shipped rule), which a
        confidence in [0, 1] never is but for a reading of 1 against the line engine's nothing."""
        return joined_ink >= self.joined_ink and self.glyph_margin >= 1.0

    def takes_line(self, confidences: list[tuple[float, float]], joined_ink: float = 0.0) -> list[bool]:
        votes = [line - glyph for glyph, line in confidences if line > 0]
        if joined_ink >= self.joined_ink or (votes and float(np.median(votes)) > self.page_margin):
            return [line > glyph - self.glyph_margin for glyph, line in confidences]
        return [line > glyph + self.line_margin for glyph, line in confidences]


def line_confidence(line: Line) -> float:
    """What `AutoRule` compares between the engines: the mean confidence of a line's characters, for
    the glyph engine under its training prior (`LineEvidence.shape_confidence`) where measured."""
    if line.evidence.shape_confidence is not None:
        return line.evidence.shape_confidence
    chars = [c.confidence for w in line.words for c in w.chars]
    return float(np.mean(chars)) if chars else 0.0


class PrintedLines:
    """The lines the line-kind classifier calls print (or doubts), read by Tesseract, each kept where
    Tesseract is sure enough of its words (`LineKindClassifier.gives_tesseract`): on handwriting its
    words' confidence stays low even where the classifier errs, so a handwritten line stays with
    our engines. A line the classifier calls print that Tesseract reads less surely (worn
    typescript, a smudged ribbon, a carbon copy) is contested: auto keeps Tesseract's reading where
    the line engine is less sure of its own (`AutoEngine`)."""

    def __init__(self, classifier, tesseract) -> None:  # linekind.LineKindClassifier, tesseract.TesseractReader
        self.classifier, self.tesseract = classifier, tesseract
        self.models = (_named(classifier.manifest), tesseract.name)

    def read(self, page: EnginePage) -> tuple[list[float], dict[int, Line], dict[int, tuple[Line, float]]]:
        """Each segmented line's print probability, Tesseract's lines by their index, and the
        contested ones by their index with Tesseract's mean word confidence."""
        from hcrbatch.lineengine import line_crops
        from hcrbatch.tesseract import mapped_word

        gray, lines = page.clean.gray, page.segmentation.lines
        crops = line_crops(list(lines), gray)
        probabilities = self.classifier.print_probabilities([gray[b.top : b.bottom, b.left : b.right] for b in crops])
        read, contested = {}, {}
        for i, (line, crop, probability) in enumerate(zip(lines, crops, probabilities)):
            if not self.classifier.worth_reading(probability):
                continue
            words, confidence = self.tesseract.read_line(gray, crop, page.dpi)
            if not words:
                continue
            tesseract_line = Line(
                page.clean.to_page(line.bbox),
                tuple(mapped_word(w, page.clean.to_page) for w in words),
                "tesseract",
                LineEvidence(print_probability=probability),
            )
            if self.classifier.gives_tesseract(probability, confidence):
                read[i] = tesseract_line
            elif self.classifier.contests(probability, confidence):
                contested[i] = (tesseract_line, confidence)
        return probabilities, read, contested


class AutoEngine:
    """Each segmented line read once: with `printed`, the lines it finds print are Tesseract's; the
    others are read by the glyph and the line engine, each kept from the one `rule` gives it (the
    glyph engine alone when no line model is installed). The print goes first so that a typed page
    costs Tesseract's time, not three engines', and a typed line does not vote on which engine's
    page it is; a page of joined-up script the rule gives wholly to the line engine is not read by
    the glyph engine at all (`AutoRule.line_engine_alone`). A line the classifier calls print that
    Tesseract reads less surely than it takes print on its own is read by the handwriting engines
    too; where the line engine reads it, it stays Tesseract's if Tesseract's mean word confidence
    is at least the probability, by the line engine's calibration (`calibrations`), that its words
    are right: on worn typescript the line engine, which never learned print, reads words of its
    lexicon into the gaps of letters it cannot read ("as to a" for a name), less surely than
    Tesseract reads them. The glyph engine learned letters one by one, as print sets them, and
    keeps such a line: on hand-printed pages it reads better than Tesseract (`auto_kinds.py`).
    Where our engines read nothing the line is a sliver of another and stays empty."""

    def __init__(
        self,
        glyph: GlyphEngine,
        line: LineEngine | None,
        rule: AutoRule,
        printed: PrintedLines | None = None,
        calibrations: dict[str, WordCalibration] | None = None,
        lang: str = "en",
    ) -> None:
        self.glyph, self.line, self.rule, self.printed = glyph, line, rule, printed
        self.calibrations, self.lang = calibrations or {}, lang
        self.models = glyph.models + (line.models if line else ()) + (printed.models if printed else ())

    def read(self, page: EnginePage) -> PageResult:
        count = len(page.segmentation.lines)
        probabilities, by_tesseract, contested = self.printed.read(page) if self.printed else ([None] * count, {}, {})
        rest = [i for i in range(count) if i not in by_tesseract]
        handwritten = dict(zip(rest, self._handwriting(page.keeping(rest) if by_tesseract else page) if rest else ()))
        for i, (tesseract_line, confidence) in contested.items():
            if handwritten[i].engine == "line" and 0 < self._sureness(handwritten[i]) <= confidence:
                by_tesseract[i] = tesseract_line
        lines = [
            by_tesseract[i] if i in by_tesseract else handwritten[i].with_evidence(print_probability=probabilities[i])
            for i in range(count)
        ]
        return page.empty_result(tuple(lines))

    def _sureness(self, line: Line) -> float:
        """The mean probability that an engine's words in `line` are right, by its calibration (its
        characters' mean confidence where it has none); 0 for a line of no words."""
        calibration = self.calibrations.get(line.engine)
        words = [w for w in line.words if w.chars]
        if not words:
            return 0.0
        if calibration is None:
            return float(np.mean([w.mean_confidence for w in words]))
        return float(np.mean([calibration.probability(w, line, self.lang) for w in words]))

    def _handwriting(self, page: EnginePage) -> list[Line]:
        if self.line is not None and self.rule.line_engine_alone(page.segmentation.joined_ink):
            return list(self.line.read(page).lines)
        lines = list(self.glyph.read(page).lines)
        if self.line is not None:
            by_line = self.line.read(page).lines
            takes_line = self.rule.takes_line(
                [(line_confidence(g), line_confidence(r)) for g, r in zip(lines, by_line)],
                page.segmentation.joined_ink,
            )
            lines = [r if take else g for g, r, take in zip(lines, by_line, takes_line)]
        return lines


def _line_kind_manifest(cfg: RecognizeConfig, lang: str) -> ModelManifest | None:
    """The line-kind classifier auto uses, when it and Tesseract's data for `lang` are installed."""
    from hcrbatch.linekind import line_kind_manifest
    from hcrbatch.tesseract import tesseract_available

    if cfg.line_kind_model == "none":
        return None
    manifest = line_kind_manifest(cfg.models_dir, cfg.line_kind_model, required=False)
    return manifest if manifest is not None and tesseract_available(lang) else None


def _auto_manifests(cfg: RecognizeConfig, lang: str) -> list[ModelManifest]:
    kind = _line_kind_manifest(cfg, lang)
    return _glyph_manifests(cfg, lang) + _line_manifests(cfg, lang, required=False) + ([kind] if kind else [])


def _auto_fingerprint(cfg: RecognizeConfig, lang: str) -> str:
    return _tesseract_fingerprint(cfg, lang) if _line_kind_manifest(cfg, lang) else ""


def _build_auto(cfg: RecognizeConfig, lang: str) -> AutoEngine:
    from hcrbatch.linekind import LineKindClassifier
    from hcrbatch.tesseract import TesseractReader

    line = _build_line(cfg, lang, required=False)
    kind = _line_kind_manifest(cfg, lang)
    printed = PrintedLines(LineKindClassifier(kind), TesseractReader(lang)) if kind else None
    log.info(
        "engine auto: %s%s",
        f"glyph and line model {cfg.line_model}" if line else "glyph only (no line model)",
        "; printed lines by Tesseract"
        if printed
        else "; no line-kind model or no Tesseract: every line read as handwriting",
    )
    rule = AutoRule.of(line.reader.manifest) if line else AutoRule()
    return AutoEngine(_build_glyph(cfg, lang), line, rule, printed, word_calibrations(cfg, lang), lang)


register("glyph", EngineSpec(_glyph_manifests, _build_glyph))
register("line", EngineSpec(_line_manifests, _build_line))
register("tesseract", EngineSpec(lambda cfg, lang: [], _build_tesseract, _tesseract_fingerprint, segments=False))
register("auto", EngineSpec(_auto_manifests, _build_auto, _auto_fingerprint))

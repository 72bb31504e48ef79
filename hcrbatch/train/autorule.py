"""`hcrbatch tune-auto`: choose `--engine auto`'s rule (`hcrbatch.engines.AutoRule`) for a line model
and store it in the model's manifest, where the engine reads it.

When should a line's reading come from the line engine rather than the glyph engine? Every rule on
a grid is scored by raw CER (no correction) on tuning pages that no benchmark figure uses:
- cursive: pages rebuilt from the line model's *validation* lines (`validation_split`: seen only to
  watch the loss, never trained on; the held-out test pages stay unseen);
- hand-printed: pages in held-out EMNIST hands, handwriting fonts and the GAN's hand
  (`hcrbatch.train.handpages`, seed 3; the benchmarks read other seeds).
Chosen among the rules that leave every kind of hand-printed page no worse than the glyph engine
alone and keep every hand-printed tuning page's median at least SAFETY below `page_margin` and its
joined ink at least JOINED_SAFETY below `joined_ink` (a printed page that crosses either would be
read by the wrong engine throughout; a cramped hand touches more letters than the tuning hands do):
of those within NEAR of the lowest cursive CER, the one with the largest `line_margin` (a few
tuning pages cannot show every printed hand), then the lowest cursive CER, then the lowest
`joined_ink` (the more cursive pages the shape of their ink decides, the fewer are left to the
votes of a few lines).
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import logging
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from hcrbatch.config import SUPPORTED_SUFFIXES, IngestConfig, LineTrainConfig, PreprocessConfig, RecognizeConfig
from hcrbatch.elements import PageImage
from hcrbatch.engines import AutoEngine, AutoRule, EnginePage, line_confidence, make_engine
from hcrbatch.errors import ConfigError
from hcrbatch.metrics import edit_distance, normalise_text
from hcrbatch.modelstore import LINE_RECOGNIZER, load_manifest, manifest_path, write_manifest
from hcrbatch.preprocess import preprocess
from hcrbatch.train.handpages import make_pages
from hcrbatch.train.linedata import LineSample, read_line_folder, split_by_page
from hcrbatch.train.linepages import page_from_lines
from hcrbatch.train.lines import validation_split

log = logging.getLogger(__name__)

PAGE_MARGIN = (-0.35, -0.3, -0.28, -0.25, -0.22, -0.2, -0.18, -0.15, -0.1, 0.0, 0.1, 1.0)  # 1.0: no line pages
GLYPH_MARGIN = (0.0, 0.1, 0.2, 0.3, 0.4, 0.6, 1.0)
LINE_MARGIN = (0.0, 0.1, 0.2, 0.3, 0.5, 1.0)  # 1.0: never on a glyph page
JOINED_INK = (0.15, 0.2, 0.3, 0.5, AutoRule.joined_ink)  # the last: the ink's shape never decides
SAFETY = 0.05
JOINED_SAFETY = 0.1
NEAR = 0.01
PRINTED_SEED = 3  # the hand-printed tuning pages' seed, which no benchmark figure reads
PRINTED_PAGES = {
    "emnist": ("printed (EMNIST hands)", 10),
    "fonts": ("printed (fonts)", 6),
    "gan": ("printed (GAN hand)", 6),
}


@dataclass
class LinePair:
    """One segmented line as both engines read it (raw text and mean character confidence)."""

    glyph_confidence: float
    line_confidence: float
    glyph_text: str
    line_text: str


@dataclass(eq=False)
class TuningPage:
    kind: str
    truth: str  # the page's text, line after line
    lines: list[LinePair] = field(default_factory=list)
    joined_ink: float = 0.0
    counted: dict[tuple[bool, ...], tuple[int, int]] = field(default_factory=dict)  # errors by choice of lines

    def errors(self, takes: list[bool]) -> tuple[int, int]:
        """(character errors, truth length) with the line engine's reading where `takes`: lines that
        match no true line (a sliver of a neighbour's strokes, specks) count as the errors they add."""
        key = tuple(takes)  # many rules choose the same lines: count each choice once
        if key not in self.counted:
            texts = [p.line_text if take else p.glyph_text for p, take in zip(self.lines, takes)]
            truth = normalise_text(self.truth)
            self.counted[key] = edit_distance(truth, normalise_text("\n".join(texts))), len(truth)
        return self.counted[key]

    def errors_by(self, rule: AutoRule | None, engine: str = "") -> tuple[int, int]:
        """Errors with `rule` choosing each line, or one engine throughout."""
        if engine:
            return self.errors([engine == "line"] * len(self.lines))
        return self.errors(
            rule.takes_line([(p.glyph_confidence, p.line_confidence) for p in self.lines], self.joined_ink)
        )


def cer(pages: list[TuningPage], kind: str, rule: AutoRule | None, engine: str = "") -> float:
    counts = [p.errors_by(rule, engine) for p in pages if p.kind == kind]
    return sum(e for e, _ in counts) / max(1, sum(n for _, n in counts))


def validation_lines(folders: list[Path], split_seed: int, seed: int) -> list[LineSample]:
    """The lines of `folders` that `train-lines` (with this split and seed) only watched the loss on."""
    samples = [s for folder in folders for s in read_line_folder(folder)]
    training, _ = split_by_page(samples, LineTrainConfig.test_fraction, split_seed)
    return validation_split(training, seed)[1]


def cursive_pages(lines: list[LineSample]) -> list[tuple[TuningPage, PageImage]]:
    by_page: dict[str, list[LineSample]] = {}
    for s in lines:
        by_page.setdefault(s.page, []).append(s)
    pages = []
    for i, page_lines in enumerate(by_page.values()):
        page, _ = page_from_lines(page_lines, i)
        pages.append((TuningPage("cursive", "\n".join(s.text for s in page_lines)), page))
    return pages


def printed_pages(hand: str, count: int, work_dir: Path, emnist: Path | None) -> list[tuple[TuningPage, PageImage]]:
    """`count` hand-printed pages in `hand`, written once as documents in `work_dir` and read back
    as `run` reads them."""
    from hcrbatch.ingest import iter_pages

    kind = PRINTED_PAGES[hand][0]
    folder = work_dir / f"{hand}-{count}p-seed{PRINTED_SEED}"
    if not folder.exists():
        make_pages(folder, count, PRINTED_SEED, pages_per_doc=count // 2, hand=hand, emnist=emnist)
    pages = []
    for doc in sorted(p for p in folder.iterdir() if ".gt." not in p.name and p.suffix in SUPPORTED_SUFFIXES):
        truths = doc.with_name(doc.stem + ".gt.txt").read_text(encoding="utf-8").split("\f")
        pages += [(TuningPage(kind, truth), page) for truth, page in zip(truths, iter_pages(doc, IngestConfig()))]
    return pages


def read_both(engine: AutoEngine, tuning: TuningPage, page: PageImage) -> TuningPage:
    read = EnginePage(preprocess(page, PreprocessConfig()), page.index, page.dpi)
    glyph, line = engine.glyph.read(read), engine.line.read(read)
    tuning.joined_ink = read.segmentation.joined_ink
    tuning.lines = [
        LinePair(
            line_confidence(g),
            line_confidence(r),
            " ".join(w.raw_text for w in g.words),
            " ".join(w.raw_text for w in r.words),
        )  # fmt: skip
        for g, r in zip(glyph.lines, line.lines)
    ]
    return tuning


def describe(rule: AutoRule) -> str:
    shape = f", joined_ink {rule.joined_ink:g}" if rule.joined_ink < AutoRule.joined_ink else ""
    return (
        f"page_margin {rule.page_margin:g}, glyph_margin {rule.glyph_margin:g}, line_margin {rule.line_margin:g}{shape}"
    )


@dataclass
class Tuning:
    """The rule chosen, and the table (the engines alone and the best rules) and summary that say why."""

    chosen: AutoRule
    table: str
    summary: str


def read_tuning_pages(
    cfg: RecognizeConfig, line_folders: list[Path], emnist: Path | None, work_dir: Path, printed: dict[str, int]
) -> list[TuningPage]:
    """The tuning pages, read by both engines of `cfg`'s line model."""
    manifest = load_manifest(cfg.models_dir, cfg.line_model, LINE_RECOGNIZER)
    split_seed, seed = int(manifest.extra.get("split_seed", 0)), int(manifest.extra.get("seed", 0))
    sources = cursive_pages(validation_lines(line_folders, split_seed, seed))
    for hand, count in printed.items():
        sources += printed_pages(hand, count, work_dir, emnist)
    engine = make_engine(replace(cfg, engine="auto", line_kind_model="none"), "en")
    if not isinstance(engine, AutoEngine) or engine.line is None:
        raise ConfigError(f"no line model {cfg.line_model} to tune --engine auto for")
    log.info("reading %d tuning pages with the glyph and the line engine", len(sources))
    return [read_both(engine, tuning, page) for tuning, page in sources]


def choose_rule(pages: list[TuningPage]) -> Tuning:
    kinds = list(dict.fromkeys(p.kind for p in pages))
    if "cursive" not in kinds or len(kinds) < 2:
        raise ConfigError("tuning needs cursive pages and hand-printed ones")
    rows = ["| choice | " + " | ".join(f"{k} CER" for k in kinds) + " |", "|---" * (len(kinds) + 1) + "|"]
    for engine in ("glyph", "line"):
        rows.append(
            f"| {engine} engine alone | " + " | ".join(f"{cer(pages, k, None, engine):.2%}" for k in kinds) + " |"
        )
    glyph_alone = {k: cer(pages, k, None, "glyph") for k in kinds}
    printed = [page for page in pages if page.kind != "cursive"]
    medians = [
        float(np.median([p.line_confidence - p.glyph_confidence for p in page.lines])) for page in printed if page.lines
    ]
    joined = [page.joined_ink for page in printed]
    scored = {}
    for margins in itertools.product(PAGE_MARGIN, GLYPH_MARGIN, LINE_MARGIN, JOINED_INK):
        rule = AutoRule(*margins)
        scored[rule] = {k: cer(pages, k, rule) for k in kinds}
    fair = [
        r
        for r, s in scored.items()
        if all(s[k] <= glyph_alone[k] + 1e-9 for k in kinds if k != "cursive")
        and max(medians, default=-1.0) <= r.page_margin - SAFETY
        and max(joined) <= r.joined_ink - JOINED_SAFETY
    ]
    if not fair:
        raise ConfigError(
            "no rule on the grid keeps the hand-printed tuning pages as well read as the glyph engine alone"
        )
    lowest = min(scored[r]["cursive"] for r in fair)
    near = [r for r in fair if scored[r]["cursive"] <= lowest + NEAR]
    best = min(near, key=lambda r: (-r.line_margin, scored[r]["cursive"], r.joined_ink, r.page_margin, r.glyph_margin))
    by_votes = min(
        (r for r in fair if r.joined_ink == AutoRule.joined_ink), key=lambda r: scored[r]["cursive"], default=None
    )
    choices = [
        ("without thresholds (the more confident wins each line)", AutoRule()),
        (f"chosen ({describe(best)})", best),
    ]
    if by_votes is not None:
        choices.append((f"best by the votes alone, as before the joined-ink rule ({describe(by_votes)})", by_votes))
    for label, rule in choices:
        rows.append(f"| auto, {label} | " + " | ".join(f"{scored[rule][k]:.2%}" for k in kinds) + " |")
    for line_margin in LINE_MARGIN:  # what caution on hand-printed pages costs cursive pages
        options = [r for r in fair if r.line_margin == line_margin]
        if options:
            rule = min(options, key=lambda r: scored[r]["cursive"])
            rows.append(f"| auto, best with line_margin {line_margin:g} ({describe(rule)}) | "
                        + " | ".join(f"{scored[rule][k]:.2%}" for k in kinds) + " |")  # fmt: skip
    lines_read = {k: sum(len(p.lines) for p in pages if p.kind == k) for k in kinds}
    summary = (
        f"Tuning pages: {', '.join(f'{k}: {sum(p.kind == k for p in pages)} pages, {lines_read[k]} lines' for k in kinds)}; "
        f"{len(scored)} rules (page_margin, glyph_margin, line_margin, joined_ink) tried, {len(fair)} keep printed "
        f"pages no worse than the glyph engine, their medians (at most {max(medians, default=-1.0):.3f}) {SAFETY} below "
        f"page_margin and their joined ink (at most {max(joined):.3f}; cursive pages' median "
        f"{np.median([p.joined_ink for p in pages if p.kind == 'cursive']):.3f}) {JOINED_SAFETY} below joined_ink; "
        f"{len(near)} within {NEAR:.0%} of the lowest cursive CER, of which the largest line_margin."
    )
    return Tuning(best, "\n".join(rows), summary)


def refuse_to_retune(cfg: RecognizeConfig, overwrite: bool) -> None:
    """A rule the line model's manifest holds is replaced only when asked (`--overwrite`)."""
    path = manifest_path(cfg.models_dir, cfg.line_model)
    if not overwrite and "auto" in load_manifest(cfg.models_dir, cfg.line_model, LINE_RECOGNIZER).extra:
        raise ConfigError(f"{path} holds an --engine auto rule: --overwrite to replace it")


def store_rule(cfg: RecognizeConfig, tuning: Tuning, overwrite: bool) -> Path:
    """The chosen rule written into the line model's manifest ("auto", and "auto_tuning" saying how)."""
    refuse_to_retune(cfg, overwrite)
    path = manifest_path(cfg.models_dir, cfg.line_model)
    raw = json.loads(path.read_text(encoding="utf-8"))
    rule = tuning.chosen
    raw["auto"] = {"page_margin": rule.page_margin, "glyph_margin": rule.glyph_margin,
                   "line_margin": rule.line_margin, "joined_ink": rule.joined_ink}  # fmt: skip
    raw["auto_tuning"] = f"hcrbatch tune-auto on {dt.date.today()}: {tuning.summary}"
    return write_manifest(cfg.models_dir, raw)

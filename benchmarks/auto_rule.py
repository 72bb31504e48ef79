"""Tune `--engine auto`: when should a line's reading come from the line engine rather than the glyph engine?

    .venv/bin/python benchmarks/auto_rule.py [--model lines] [--char-prior prose|training] [--write] [--record]

The rule (`hcrbatch.engines.AutoRule`): a page is the line engine's when at least `joined_ink`
of its letter ink lies in joined-up strokes (`hcrbatch.segment.joined_ink`) or the median over its
lines of (line - glyph mean character confidence) exceeds `page_margin`; there the glyph engine
keeps only lines it is surer of by more than `glyph_margin`; elsewhere the line engine takes only
lines it is surer of by more than `line_margin`. Every rule on a grid is scored by raw CER (no
correction) on tuning pages that no benchmark figure uses:
- cursive: pages rebuilt from the line model's *validation* lines (`validation_split`: seen only to
  watch the loss, never trained on; the held-out test pages of benchmarks/lines.py stay unseen);
- hand-printed: EMNIST-hand, font-hand and GAN-hand pages with seed 3 (benchmarks/run.py and
  lines.py read seed 0; the GAN's hand is the one the glyph engine is least sure of).
Chosen among the rules that leave every kind of printed page no worse than the glyph engine alone
and keep every printed tuning page's median at least SAFETY below `page_margin` and its joined ink
at least JOINED_SAFETY below `joined_ink` (a printed page that crosses either would be read by the
wrong engine throughout; a cramped hand touches more letters than the tuning hands do): of those
within NEAR of the lowest cursive CER, the one with the largest `line_margin` (a few tuning pages
cannot show every printed hand; the shipped samples lost lines to the line engine at 0), then the
lowest cursive CER, then the lowest `joined_ink` (the more cursive pages the shape of their ink
decides, the fewer are left to the votes of a few lines). `--write` stores it
in `models/<model>.json` under "auto".
`--char-prior training` scores the rules with the glyph engine reading under its training prior
instead of prose's (a diagnosis of how the prior moves the engines' vote; `--write` keeps to the default).
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hcrbatch.config import Config, RecognizeConfig
from hcrbatch.elements import PageImage
from hcrbatch.engines import AutoRule, EnginePage, line_confidence
from hcrbatch.metrics import edit_distance, normalise_text
from hcrbatch.modelstore import load_manifest, write_manifest
from hcrbatch.pipeline import build_processor
from hcrbatch.preprocess import preprocess
from hcrbatch.train.linepages import page_from_lines

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from lines import printed_pages, validation_lines  # noqa: E402
from results import record  # noqa: E402

PAGE_MARGIN = (-0.35, -0.3, -0.28, -0.25, -0.22, -0.2, -0.18, -0.15, -0.1, 0.0, 0.1, 1.0)  # 1.0: no line pages
GLYPH_MARGIN = (0.0, 0.1, 0.2, 0.3, 0.4, 0.6, 1.0)
LINE_MARGIN = (0.0, 0.1, 0.2, 0.3, 0.5, 1.0)  # 1.0: never on a glyph page
JOINED_INK = (0.15, 0.2, 0.3, 0.5, AutoRule.joined_ink)  # the last: the ink's shape never decides
SAFETY = 0.05
JOINED_SAFETY = 0.1
NEAR = 0.01


@dataclass
class LinePair:
    """One segmented line as both engines read it (raw text and mean character confidence)."""

    glyph_confidence: float
    line_confidence: float
    glyph_text: str
    line_text: str


@dataclass
class TuningPage:
    kind: str
    truth: str  # the page's text, line after line
    lines: list[LinePair] | None = None
    joined_ink: float = 0.0


def cursive_pages(split_seed: int, seed: int) -> list[tuple[TuningPage, PageImage]]:
    by_page: dict[str, list] = {}
    for s in validation_lines(split_seed, seed):
        by_page.setdefault(s.page, []).append(s)
    pages = []
    for i, lines in enumerate(by_page.values()):
        page, _ = page_from_lines(lines, i)
        pages.append((TuningPage("cursive", "\n".join(s.text for s in lines)), page))
    return pages


def printed_tuning_pages(kind: str, hand: str, count: int) -> list[tuple[TuningPage, PageImage]]:
    """Hand-printed pages of seed 3, which no benchmark figure reads."""
    return [
        (TuningPage(kind, truth), page)
        for truth, page, _ in printed_pages(count, seed=3, hand=hand, pages_per_doc=count // 2)
    ]


def read_both(processor, tuning: TuningPage, page: PageImage) -> TuningPage:
    read = EnginePage(preprocess(page, processor.cfg.preprocess), page.index, page.dpi, processor.cfg.segment)
    glyph, line = processor.engine.glyph.read(read), processor.engine.line.read(read)
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


def errors(tuning: TuningPage, rule: AutoRule | None, engine: str = "") -> tuple[int, int]:
    """(character errors, truth length) with `rule` choosing each line, or one engine throughout."""
    pairs = tuning.lines
    takes = (
        [engine == "line"] * len(pairs)
        if engine
        else rule.takes_line([(p.glyph_confidence, p.line_confidence) for p in pairs], tuning.joined_ink)
    )
    key = (id(tuning), tuple(takes))  # many rules choose the same lines: count each choice once
    if key not in COUNTED:
        COUNTED[key] = count_errors(tuning, takes)
    return COUNTED[key]


COUNTED: dict[tuple, tuple[int, int]] = {}


def count_errors(tuning: TuningPage, takes: list[bool]) -> tuple[int, int]:
    """The page's text, as the rule reads it line after line, against its truth: lines that match no
    true line (a sliver of a neighbour's strokes, specks) count as the errors they add to the page."""
    texts = [p.line_text if take else p.glyph_text for p, take in zip(tuning.lines, takes)]
    truth = normalise_text(tuning.truth)
    return edit_distance(truth, normalise_text("\n".join(texts))), len(truth)


def cer(pages: list[TuningPage], kind: str, **how) -> float:
    counts = [errors(p, **how) for p in pages if p.kind == kind]
    return sum(e for e, _ in counts) / max(1, sum(n for _, n in counts))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="lines")
    parser.add_argument("--char-prior", choices=["prose", "training"], default=RecognizeConfig.char_prior,
                        help="the class prior the glyph engine reads with (hcrbatch run --char-prior)")  # fmt: skip
    parser.add_argument("--write", action="store_true", help="store the chosen rule in the line model's manifest")
    parser.add_argument("--record", action="store_true", help="append the table to the day's log, benchmarks/log/")
    args = parser.parse_args()
    if args.write and args.char_prior != RecognizeConfig.char_prior:
        parser.error("--write tunes the rule for hcrbatch run's default --char-prior only")
    manifest = load_manifest(RecognizeConfig().models_dir, args.model)
    processor = build_processor(
        Config(
            Path("."),
            Path("unused"),
            recognize=RecognizeConfig(engine="auto", line_model=args.model, char_prior=args.char_prior),
        ),
        settings="benchmark",
    )
    sources = cursive_pages(int(manifest.extra.get("split_seed", 0)), int(manifest.extra.get("seed", 0)))
    sources += printed_tuning_pages("printed (EMNIST hands)", "emnist", 10)
    sources += printed_tuning_pages("printed (fonts)", "fonts", 6) + printed_tuning_pages(
        "printed (GAN hand)", "gan", 6
    )
    pages = [read_both(processor, tuning, page) for tuning, page in sources]
    kinds = list(dict.fromkeys(p.kind for p in pages))

    header = "| choice | " + " | ".join(f"{k} CER" for k in kinds) + " |"
    rows = [header, "|---" * (len(kinds) + 1) + "|"]
    for engine in ("glyph", "line"):
        rows.append(
            f"| {engine} engine alone | "
            + " | ".join(f"{cer(pages, k, rule=None, engine=engine):.2%}" for k in kinds)
            + " |"
        )
    glyph_alone = {k: cer(pages, k, rule=None, engine="glyph") for k in kinds}
    printed_medians = [
        float(np.median([p.line_confidence - p.glyph_confidence for p in page.lines]))
        for page in pages
        if page.kind != "cursive" and page.lines
    ]
    printed_joined = [page.joined_ink for page in pages if page.kind != "cursive"]
    scored = {}
    for margins in itertools.product(PAGE_MARGIN, GLYPH_MARGIN, LINE_MARGIN, JOINED_INK):
        rule = AutoRule(*margins)
        scored[rule] = {k: cer(pages, k, rule=rule) for k in kinds}
    fair = [
        r
        for r, s in scored.items()
        if all(s[k] <= glyph_alone[k] + 1e-9 for k in kinds if k != "cursive")
        and max(printed_medians) <= r.page_margin - SAFETY
        and max(printed_joined) <= r.joined_ink - JOINED_SAFETY
    ]
    lowest = min(scored[r]["cursive"] for r in fair)
    near = [r for r in fair if scored[r]["cursive"] <= lowest + NEAR]
    best = min(near, key=lambda r: (-r.line_margin, scored[r]["cursive"], r.joined_ink, r.page_margin, r.glyph_margin))
    by_votes = min((r for r in fair if r.joined_ink == AutoRule.joined_ink), key=lambda r: scored[r]["cursive"])
    for label, rule in (
        ("without thresholds (the more confident wins each line)", AutoRule()),
        (f"chosen ({describe(best)})", best),
        (f"best by the votes alone, as before the joined-ink rule ({describe(by_votes)})", by_votes),
    ):
        rows.append(f"| auto, {label} | " + " | ".join(f"{scored[rule][k]:.2%}" for k in kinds) + " |")
    for line_margin in LINE_MARGIN:  # what caution on hand-printed pages costs cursive pages
        options = [r for r in fair if r.line_margin == line_margin]
        if options:
            rule = min(options, key=lambda r: scored[r]["cursive"])
            rows.append(f"| auto, best with line_margin {line_margin:g} ({describe(rule)}) | "
                        + " | ".join(f"{scored[rule][k]:.2%}" for k in kinds) + " |")  # fmt: skip
    lines_read = {k: sum(len(p.lines) for p in pages if p.kind == k) for k in kinds}
    table = "\n".join(rows)
    summary = (
        f"Tuning pages: {', '.join(f'{k}: {sum(p.kind == k for p in pages)} pages, {lines_read[k]} lines' for k in kinds)}; "
        f"{len(scored)} rules (page_margin, glyph_margin, line_margin, joined_ink) tried, {len(fair)} keep printed "
        f"pages no worse than the glyph engine, their medians (at most {max(printed_medians):.3f}) {SAFETY} below "
        f"page_margin and their joined ink (at most {max(printed_joined):.3f}; cursive pages' median "
        f"{np.median([p.joined_ink for p in pages if p.kind == 'cursive']):.3f}) {JOINED_SAFETY} below joined_ink; "
        f"{len(near)} within {NEAR:.0%} of the lowest cursive CER, of which the largest line_margin."
    )
    print(table, summary, sep="\n\n")
    if args.write:
        path = RecognizeConfig().models_dir / f"{args.model}.json"
        raw = json.loads(path.read_text(encoding="utf-8"))
        raw["auto"] = {
            "page_margin": best.page_margin,
            "glyph_margin": best.glyph_margin,
            "line_margin": best.line_margin,
            "joined_ink": best.joined_ink,
        }
        raw["auto_tuning"] = f"benchmarks/auto_rule.py on {dt.date.today()}: {summary}"
        write_manifest(RecognizeConfig().models_dir, raw)
        print(f"wrote {path}")
    if args.record:
        record(
            f"python benchmarks/auto_rule.py --model {args.model} --char-prior {args.char_prior}",
            f"{table}\n\n{summary}",
            " (raw CER, no correction)",
        )


if __name__ == "__main__":
    main()

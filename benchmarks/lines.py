"""The line engine on real cursive: held-out Hooker and CREMMA lines and pages, against the glyph engine.

    .venv/bin/python benchmarks/lines.py [--model lines] [--printed 20] [--speed-lines 128] [--quick] [--record]

Needs ../shared/data/hooker-lines and cremma-lines. The held-out set is the one `hcrbatch
train-lines` kept out (whole pages, the split seed in the model's manifest), so none of it was
trained on.

- Line by line: each ground-truth line image through the line model; CER/WER of the best path and
  of the lexicon's choice among each word's beam-searched spellings (`--lang en` for Hooker, `fr`
  for CREMMA).
- End to end: each held-out page rebuilt from its line images stacked in order on one sheet, then
  read by the whole pipeline (binarisation, deskew, our line segmentation, recognition, lexicon
  correction) with `--engine glyph`, `line` and `auto`; text compared in reading order, page by page.
  The same for the hand-printed pages of benchmarks/run.py (held-out EMNIST writers), where `auto`
  must not lose to the glyph engine.
- The gap between the two: the line engine's corrected CER page by page, from the page's
  ground-truth line images (joined in order) and from the rebuilt page end to end, on all pages,
  on those our segmentation got exactly right (every line found once, nothing else), and the rest.
- Speed: lines per second through `LineRecognizer.read` (normalisation, network, alignment, beam
  search) at batch 1 and 64.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hcrbatch.config import (
    Config,
    CorrectConfig,
    IngestConfig,
    LineTrainConfig,
    PreprocessConfig,
    RecognizeConfig,
    SUPPORTED_SUFFIXES,
)
from hcrbatch.correct import LexiconCorrector
from hcrbatch.elements import BBox, PageImage
from hcrbatch.ingest import iter_pages
from hcrbatch.lineengine import LINE_HEIGHT, LineRecognizer, words_from_alignment
from hcrbatch.modelstore import load_manifest
from hcrbatch.api import Reader
from hcrbatch.preprocess import preprocess
from hcrbatch.train.linepages import lines_by_page, page_from_lines
from hcrbatch.train.linedata import LineSample, read_line_folder, split_by_page
from hcrbatch.train.lines import validation_split

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from make_pages import make_pages  # noqa: E402
from results import record  # noqa: E402
from run import ErrorCount  # noqa: E402

DATA = HERE.parent.parent / "shared" / "data"
FOLDERS = {"hooker-lines": "en", "cremma-lines": "fr"}


def rates(errors: ErrorCount) -> str:
    return f"{errors.cer:.2%} | {errors.wer:.2%}"


def split_lines(split_seed: int) -> tuple[list[LineSample], list[LineSample]]:
    """(training, held-out) lines of both folders, split by page as `hcrbatch train-lines` splits them."""
    samples = [s for folder in FOLDERS for s in read_line_folder(DATA / folder)]
    return split_by_page(samples, LineTrainConfig.test_fraction, split_seed)


def held_out_lines(split_seed: int) -> dict[str, list[LineSample]]:
    _, test = split_lines(split_seed)
    return {folder: [s for s in test if s.page.startswith(folder + "/")] for folder in FOLDERS}


def validation_lines(split_seed: int, seed: int) -> list[LineSample]:
    """The lines `train-lines` only watched the loss on: never trained on, never a test line."""
    return validation_split(split_lines(split_seed)[0], seed)[1]


def line_level(
    reader: LineRecognizer, samples: list[LineSample], lang: str
) -> tuple[ErrorCount, ErrorCount, list[str]]:
    """(best path, lexicon over the beam) errors over ground-truth line images, and the lexicon's
    text of each line."""
    lexicon = LexiconCorrector(lang)
    blank = preprocess(PageImage(None, 0, np.full((64, 64), 255, np.uint8), 300.0), PreprocessConfig(deskew=False))
    best, corrected, texts = ErrorCount(), ErrorCount(), []
    for sample, reading in zip(samples, reader.read([s.image for s in samples])):
        height, width = sample.image.shape
        words = words_from_alignment(reading, BBox(0, 0, width, height), LINE_HEIGHT / height, blank)
        best.add(sample.text, " ".join(w.raw_text for w in words))
        texts.append(" ".join(lexicon.correct_word(w).text for w in words))
        corrected.add(sample.text, texts[-1])
    return best, corrected, texts


class LineCounts:
    """Line segmentation against the known line bands: a band is found when exactly one segmented
    line has its centre in it; precision over segmented lines, recall over bands."""

    def __init__(self) -> None:
        self.found = self.segmented = self.bands = 0

    def add(self, bands: list[tuple[int, int]], centres: list[float]) -> bool:
        """Count one page; whether its segmentation was exact (every band found, nothing else)."""
        found = sum(sum(top <= c < bottom for c in centres) == 1 for top, bottom in bands)
        self.found += found
        self.segmented += len(centres)
        self.bands += len(bands)
        return found == len(bands) == len(centres)

    def __str__(self) -> str:
        precision, recall = self.found / max(self.segmented, 1), self.found / max(self.bands, 1)
        return f"{precision:.3f} | {recall:.3f} | {2 * precision * recall / max(precision + recall, 1e-9):.3f}"


def joined_by_page(samples: list[LineSample], texts: list[str]) -> list[str]:
    """Per-line texts joined into page texts, in rebuilt_pages' order."""
    pages: dict[str, list[str]] = {}
    for sample, text in zip(samples, texts):
        pages.setdefault(sample.page, []).append(text)
    return ["\n".join(lines) for lines in pages.values()]


def rebuilt_pages(samples: list[LineSample]) -> list[tuple[str, PageImage, list[tuple[int, int]]]]:
    """(truth, page, line bands) for each page the held-out lines come from."""
    return [
        ("\n".join(s.text for s in lines), *page_from_lines(lines, i)) for i, lines in enumerate(lines_by_page(samples))
    ]


def documents(folder: Path) -> list[Path]:
    """The documents of a make_pages.py folder, without their ground-truth files."""
    return sorted(p for p in folder.iterdir() if ".gt." not in p.name and p.suffix in SUPPORTED_SUFFIXES)


def printed_pages_folder(pages: int, seed: int = 0, hand: str = "emnist", pages_per_doc: int = 5) -> Path:
    """The make_pages.py folder of those pages, written the first time it is asked for."""
    folder = HERE / "data" / f"{hand}-{pages}p-seed{seed}"
    if not folder.exists():
        make_pages(folder, pages, seed, pages_per_doc=pages_per_doc, hand=hand)
    return folder


def printed_pages(
    pages: int, seed: int = 0, hand: str = "emnist", pages_per_doc: int = 5
) -> list[tuple[str, PageImage, list[tuple[int, int]]]]:
    """(truth, page, no bands) for hand-printed benchmark pages; by default benchmarks/run.py's
    (held-out EMNIST writers, seed 0)."""
    folder = printed_pages_folder(pages, seed, hand, pages_per_doc)
    out = []
    for doc in documents(folder):
        truths = doc.with_name(doc.stem + ".gt.txt").read_text(encoding="utf-8").split("\f")
        out += [(truth, page, []) for truth, page in zip(truths, iter_pages(doc, IngestConfig()))]
    return out


@dataclass
class PageReadings:
    """What each engine read on a set of pages, page by page, and where segmentation was exact."""

    truths: list[str]
    raw: dict[str, list[str]] = field(default_factory=dict)
    corrected: dict[str, list[str]] = field(default_factory=dict)
    exact: list[bool] = field(default_factory=list)
    counts: LineCounts = field(default_factory=LineCounts)
    line_engine_pages: int = 0  # pages on which `auto` took most lines from the line engine

    def errors(self, engine: str, corrected: bool = True, pages: list[int] | None = None) -> ErrorCount:
        texts = (self.corrected if corrected else self.raw)[engine]
        count = ErrorCount()
        for i in range(len(self.truths)) if pages is None else pages:
            count.add(self.truths[i], texts[i])
        return count


def end_to_end(
    pages,
    lang: str,
    model: str = RecognizeConfig.line_model,
    engines: tuple[str, ...] = ("glyph", "line", "auto"),
    models_dir: Path = RecognizeConfig.models_dir,
    char_model: str = RecognizeConfig.model,
) -> PageReadings:
    """Each page read by the whole pipeline with each engine; line segmentation checked where the
    pages' line bands are known."""
    readings = PageReadings([truth for truth, _, _ in pages])
    for engine in engines:
        cfg = Config(
            Path("."),
            Path("unused"),
            recognize=RecognizeConfig(engine=engine, model=char_model, line_model=model, models_dir=models_dir),
            correct=CorrectConfig(lang=lang),
        )
        reader = Reader(cfg)
        readings.raw[engine], readings.corrected[engine] = [], []
        for _, page, bands in pages:
            result = reader.read_page(page)
            if engine == "glyph" and bands:
                readings.exact.append(readings.counts.add(bands, [line.bbox.center_y for line in result.lines]))
            by_line_engine = sum(line.engine == "line" for line in result.lines)
            if engine == "auto" and by_line_engine * 2 > len(result.lines):
                readings.line_engine_pages += 1
            readings.raw[engine].append(" ".join(w.raw_text for w in result.words))
            readings.corrected[engine].append(result.text)
    return readings


def gap_rows(name: str, readings: PageReadings, line_texts: list[str]) -> list[str]:
    """Where end-to-end loses to line by line: the line engine's corrected page text against the
    same model's reading of the page's ground-truth line images (joined in order, same metric), on
    the pages our segmentation got exactly right and on the others."""
    by_line = PageReadings(readings.truths, corrected={"line": line_texts})
    exact = [i for i, ok in enumerate(readings.exact) if ok]
    other = [i for i, ok in enumerate(readings.exact) if not ok]
    rows = []
    for label, pages in (("all", None), ("segmented exactly", exact), ("the others", other)):
        if pages == []:
            continue
        count = len(readings.truths) if pages is None else len(pages)
        rows.append(f"| {name} | {label} | {count} | {by_line.errors('line', pages=pages).cer:.2%} | "
                    f"{readings.errors('line', pages=pages).cer:.2%} |")  # fmt: skip
    return rows


def lines_per_second(reader: LineRecognizer, images: list[np.ndarray], batch: int) -> float:
    reader.cfg = RecognizeConfig(line_batch_size=batch, top_k=reader.cfg.top_k)
    reader.read(images[: max(batch, 4)])  # warm up: trace the network once
    started = time.perf_counter()
    reader.read(images)
    return len(images) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="lines")
    parser.add_argument("--speed-lines", type=int, default=128,
                        help="lines timed at each batch size (0: no timing, while other work shares the CPU)")  # fmt: skip
    parser.add_argument("--printed", type=int, default=20, help="hand-printed pages (benchmarks/run.py's) to read")
    parser.add_argument("--quick", action="store_true", help="two held-out pages of each: a check that all runs")
    parser.add_argument("--record", action="store_true", help="append the tables to the day's log, benchmarks/log/")
    args = parser.parse_args()
    manifest = load_manifest(RecognizeConfig().models_dir, args.model)
    reader = LineRecognizer(manifest, RecognizeConfig(line_batch_size=64))
    held = held_out_lines(int(manifest.extra.get("split_seed", 0)))
    if args.quick:
        for folder, samples in held.items():
            keep = sorted({s.page for s in samples})[:2]
            held[folder] = [s for s in samples if s.page in keep]
        args.printed = 3

    rows = ["| data | lines | best path CER | WER | lexicon over the beam CER | WER |", "|---|---|---|---|---|---|"]
    line_texts = {}
    for folder, lang in FOLDERS.items():
        best, corrected, line_texts[folder] = line_level(reader, held[folder], lang)
        rows.append(f"| {folder} (held-out pages) | {len(held[folder])} | {rates(best)} | {rates(corrected)} |")
    line_table = "\n".join(rows)
    print(line_table, flush=True)

    rows = ["| data | pages | engine | raw CER | WER | corrected CER | WER |", "|---|---|---|---|---|---|---|"]
    segmentation = ["| data | line precision | recall | F1 |", "|---|---|---|---|"]
    decisions = ["| data | pages | read mostly by the line engine under `auto` |", "|---|---|---|"]
    gap = ["| data | which pages | pages | ground-truth lines, joined | end to end |", "|---|---|---|---|---|"]
    sets = {f"{folder} (rebuilt)": (rebuilt_pages(held[folder]), lang, folder) for folder, lang in FOLDERS.items()}
    sets[f"hand-printed, run.py's {args.printed} pages"] = (printed_pages(args.printed), "en", None)
    for name, (pages, lang, folder) in sets.items():
        readings = end_to_end(pages, lang, args.model)
        for engine in readings.raw:
            raw, corrected = readings.errors(engine, corrected=False), readings.errors(engine)
            rows.append(f"| {name} | {len(pages)} | {engine} | {rates(raw)} | {rates(corrected)} |")
        decisions.append(f"| {name} | {len(pages)} | {readings.line_engine_pages} |")
        if folder:
            segmentation.append(f"| {name} | {readings.counts} |")
            gap += gap_rows(name, readings, joined_by_page(held[folder], line_texts[folder]))
    page_table = (
        "\n".join(rows) + "\n\nWhich engine `auto` gave each page (most of its lines):\n\n" + "\n".join(decisions)
        + "\n\nLine segmentation of those pages:\n\n" + "\n".join(segmentation)
        + "\n\nThe line engine's corrected CER, page by page, reading the page's ground-truth line images "
        "against reading the rebuilt page end to end:\n\n" + "\n".join(gap)
    )  # fmt: skip
    print(page_table, flush=True)

    images = [s.image for folder in FOLDERS for s in held[folder]][: args.speed_lines]
    if images:
        speed = {batch: lines_per_second(reader, images, batch) for batch in (1, 64)}
        speed_line = ", ".join(f"batch {b}: {v:.1f} lines/s" for b, v in speed.items())
        speed_line = (
            f"Speed ({len(images)} held-out lines, mean width "
            f"{np.mean([i.shape[1] * LINE_HEIGHT / i.shape[0] for i in images]):.0f} px at 64 px high): {speed_line}"
        )
    else:
        speed_line = "Speed: not timed (--speed-lines 0)."
    print(speed_line)
    if args.record:
        record(
            f"python benchmarks/lines.py --model {args.model} --speed-lines {args.speed_lines} --printed {args.printed}",
            f"Line by line (ground-truth line images):\n\n{line_table}\n\nEnd to end (pages rebuilt from the "
            f"held-out lines, our segmentation):\n\n{page_table}\n\n{speed_line}",
        )


if __name__ == "__main__":
    main()

"""Seconds a page in each stage of `hcrbatch run`, on real scanned letters.

    .venv/bin/python benchmarks/stage_time.py [--pages 20] [--engine auto|glyph|line] [--record]

The first --pages Hooker letter scans (../shared/data/hooker-pages, gray JPEG, 200 dpi), each read
as `DocumentProcessor` reads a page, one process, TensorFlow's own thread count, every stage timed
on its own: decode (the JPEG into pixels), preprocess (frame, contrast, binarisation, deskew),
segment (lines, words, glyphs), recognise (the engine on that segmentation: its networks, decoding
and alignment), correct (the lexicon), calibrate (word confidence), sideways (blocks of writing
that run up or down the page found, read turned, and the page read again where one reads better so:
`DocumentProcessor.with_sideways`), render (the page's one-page PDF). Loading the models is timed once, apart. Mean and share of the page's total; the first page
is left out (it warms TensorFlow's functions up).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from results import record  # noqa: E402

from hcrbatch.confidence import calibrate_page  # noqa: E402
from hcrbatch.config import Config, IngestConfig, RecognizeConfig  # noqa: E402
from hcrbatch.engines import EnginePage  # noqa: E402
from hcrbatch.ingest import iter_pages  # noqa: E402
from hcrbatch.pipeline import build_processor  # noqa: E402
from hcrbatch.preprocess import preprocess  # noqa: E402
from hcrbatch.render import write_page_pdf  # noqa: E402

DATA = HERE.parent.parent / "shared" / "data" / "hooker-pages"
STAGES = ("decode", "preprocess", "segment", "recognise", "correct", "calibrate", "sideways", "render")


class Laps:
    """Seconds from one lap to the next, by stage."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.clock = time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.seconds[stage] = now - self.clock
        self.clock = now


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=20)
    parser.add_argument("--engine", default="auto", choices=["auto", "glyph", "line"])
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="hcrbatch-stages-"))
    cfg = Config(DATA, scratch, ingest=IngestConfig(dpi=200), recognize=RecognizeConfig(engine=args.engine))
    started = time.perf_counter()
    processor = build_processor(cfg, settings="stage-time")
    loading = time.perf_counter() - started
    seconds: dict[str, list[float]] = defaultdict(list)
    for n, scan in enumerate(sorted(DATA.glob("*.jpg"))[: args.pages]):
        laps = Laps()
        lap = laps.lap
        (page,) = list(iter_pages(scan, cfg.ingest))
        lap("decode")
        clean = preprocess(page, cfg.preprocess)
        lap("preprocess")
        engine_page = EnginePage(clean, page.index, page.dpi, cfg.segment, processor.line_finder)
        _ = engine_page.segmentation  # kept on the page: the engine reads this one
        lap("segment")
        result = processor.engine.read(engine_page)
        lap("recognise")
        result = processor.corrector.correct_page(result)
        lap("correct")
        result = calibrate_page(result, processor.calibrations, cfg.correct.lang)
        lap("calibrate")
        _, result = processor.with_sideways(clean, page, engine_page, result)
        lap("sideways")
        write_page_pdf(scratch / f"{n}.pdf", page, result)
        lap("render")
        if n:  # the first page warms TensorFlow's functions up
            for stage, value in laps.seconds.items():
                seconds[stage].append(value)
    pages = len(seconds["decode"])
    total = sum(sum(values) for values in seconds.values()) / pages
    rows = [f"| {stage} | {sum(seconds[stage]) / pages:.3f} | {sum(seconds[stage]) / pages / total:.0%} |"
            for stage in STAGES]  # fmt: skip
    table = (
        f"`--engine {args.engine}`, {pages} pages timed (the first of {pages + 1} left out); models loaded in "
        f"{loading:.1f} s\n\n| stage | seconds a page | share |\n|---|---|---|\n"
        + "\n".join(rows)
        + f"\n| all | {total:.3f} | 100% |"
    )
    print(table)
    if args.record:
        record(" ".join(["python benchmarks/stage_time.py", *sys.argv[1:]]), table)


if __name__ == "__main__":
    main()

"""Blank sheets through `hcrbatch run`: seconds per page and words read where there are none.

    .venv/bin/python benchmarks/blank_pages.py --pages 4 [--record]

An archive's letters have blank backs. The sheets are synth.render_page with nothing to write (paper
grain, sensor noise, a small rotation), saved as one 300-DPI scanned-style PDF (JPEG pages) like
the benchmark pages; every word read on them is an error.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from hcrbatch.synth import GlyphHand, render_page

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from make_pages import save_document  # noqa: E402
from results import record  # noqa: E402
from throughput import timed_run  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--record", action="store_true", help="append the result to the day's log, benchmarks/log/")
    args = parser.parse_args()

    data = HERE / "data" / f"blank-{args.pages}p-seed{args.seed}"
    if not data.exists():
        rng = np.random.default_rng(args.seed)
        nothing = GlyphHand({}, cap_height=45)  # writes no word: the page is paper only
        data.mkdir(parents=True)
        save_document(data / "blank.pdf", [render_page([], nothing, rng, dpi=300) for _ in range(args.pages)])
    out = HERE / "out" / data.name
    shutil.rmtree(out, ignore_errors=True)
    seconds, peak, code = timed_run([sys.executable, "-m", "hcrbatch", "run", str(data), str(out), "-q"])
    report = pd.read_csv(out / "hcrbatch-report.csv", keep_default_na=False)
    pages, words = int(report["pages"].sum()), int(report["words"].sum())
    table = (
        "| blank pages | words read | seconds | seconds per page | peak MiB | status |\n|---|---|---|---|---|---|\n"
        f"| {pages} | {words} | {seconds:.1f} | {seconds / max(pages, 1):.1f} | {peak / 2**20:.0f} | exit {code} |"
    )
    print(table)
    if args.record:
        record(f"python benchmarks/blank_pages.py --pages {args.pages}", table)


if __name__ == "__main__":
    main()

"""Line segmentation alone on real cursive: pages rebuilt from the Hooker and CREMMA line images.

    .venv/bin/python benchmarks/segmentation.py [--record]

Needs ../shared/data/hooker-lines and cremma-lines. Each page is rebuilt from its line images
stacked in order (lines.py's `rebuilt_pages`), so where every line lies is known; the page goes
through preprocessing and `hcrbatch.segment.segment` with the default settings, and a line counts
as found when exactly one segmented line has its centre in its rows. Precision is over segmented
lines, recall over true lines; a page is exact when every line is found and nothing else.

Segmentation learns nothing from data, so the training pages of the shipped line model's split are
a fair place to tune it: they are reported apart from the held-out pages, which the line figures
in RESULTS.md use. The pages rebuilt from only the validation lines (one or two lines each, the
cursive pages `auto_rule.py` tunes on) show how it does on short pages. No recognition runs; a
few minutes on two cores.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hcrbatch.api import segment_page
from hcrbatch.config import RecognizeConfig
from hcrbatch.modelstore import load_manifest
from hcrbatch.train.lines import validation_split

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from lines import FOLDERS, LineCounts, rebuilt_pages, split_lines  # noqa: E402
from results import record  # noqa: E402


def measure(samples) -> tuple[LineCounts, int, int]:
    """Line counts over the pages the samples come from, exact pages, pages."""
    counts, exact = LineCounts(), 0
    pages = rebuilt_pages(samples)
    for _, page, bands in pages:
        clean, segmentation = segment_page(page)
        lines = segmentation.lines  # boxes in the deskewed frame, bands in the page's
        exact += counts.add(bands, [clean.to_page(line.bbox).center_y for line in lines])
    return counts, exact, len(pages)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--record", action="store_true", help="append the table to the day's log, benchmarks/log/")
    args = parser.parse_args()
    manifest = load_manifest(RecognizeConfig().models_dir, "lines")  # whose split the line figures use
    train, test = split_lines(int(manifest.extra.get("split_seed", 0)))
    validation = validation_split(train, int(manifest.extra.get("seed", 0)))[
        1
    ]  # lines.validation_lines' set, folders read once
    rows = ["| data | pages | line precision | recall | F1 | pages segmented exactly |", "|---|---|---|---|---|---|"]
    for folder in FOLDERS:
        splits = (("training pages", train), ("validation lines' pages", validation), ("held-out pages", test))
        for split, samples in splits:
            counts, exact, pages = measure([s for s in samples if s.page.startswith(folder + "/")])
            rows.append(f"| {folder}, {split} | {pages} | {counts} | {exact} |")
            print(rows[-1], flush=True)
    if args.record:
        record("python benchmarks/segmentation.py", "\n".join(rows))


if __name__ == "__main__":
    main()

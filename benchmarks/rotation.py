"""Does `--rotate-pages` find how a page was turned? Held-out real pages and the samples, each way.

    .venv/bin/python benchmarks/rotation.py [--pages 4] [--split held-out|training] [--record]

The first N held-out (or training) pages of the Hooker letters and the CREMMA wills (name order)
and the shipped image samples, each turned 0°, 90°, 180° and 270° clockwise, read with
`--engine auto --rotate-pages` as `hcrbatch run` reads them (`DocumentProcessor.read_upright`):
how many come out read at the turn that makes them upright, and the seconds a page took against
the same page read once without the option.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from hcrbatch.api import Reader
from hcrbatch.config import Config, CorrectConfig, IngestConfig, PreprocessConfig
from hcrbatch.elements import PageImage
from hcrbatch.evalpages import held_out_pages
from hcrbatch.ingest import iter_pages

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from results import record  # noqa: E402

DATA = HERE.parent.parent / "shared" / "data"
COLLECTIONS = {"hooker": "en", "cremma": "fr"}


def pages(count: int, split: str) -> list[tuple[str, str, Path]]:
    """(collection, language, image) of the first `count` pages of `split` of each collection, and the samples."""
    found = []
    for collection, lang in COLLECTIONS.items():
        folder = DATA / f"{collection}-pages"
        held = held_out_pages(Config(folder, Path(".")))
        images = sorted(
            p
            for p in folder.iterdir()
            if (p.stem in held) == (split == "held-out") and p.suffix.lower() in (".jpg", ".jpeg", ".png")
        )
        found += [(collection, lang, p) for p in images[:count]]
    samples = HERE.parent / "samples"
    found += [("samples", "en", p) for p in sorted(samples.rglob("*.png")) + sorted(samples.rglob("*.tif"))]
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=4, help="pages of each collection")
    parser.add_argument("--split", choices=("held-out", "training"), default="held-out")
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args()
    readers: dict[tuple[str, bool], Reader] = {}
    rows: dict[str, list] = {}
    for collection, lang, path in pages(args.pages, args.split):
        for rotate in (False, True):
            key = (lang, rotate)
            if key not in readers:
                cfg = Config(Path("."), Path("."), correct=CorrectConfig(lang=lang),
                             preprocess=PreprocessConfig(rotate_pages=rotate))  # fmt: skip
                readers[key] = Reader(cfg)
        first = next(iter_pages(path, IngestConfig()))
        upright = first.pixels
        started = time.monotonic()
        readers[(lang, False)].read_page(first)
        once = time.monotonic() - started
        for turn in range(4):
            turned = np.ascontiguousarray(np.rot90(upright, -turn))  # turned `turn` quarters clockwise
            started = time.monotonic()
            page, _ = readers[(lang, True)].read_upright(PageImage(path, 0, turned, first.dpi))
            seconds = time.monotonic() - started
            right = (turn + page.turned) % 4 == 0
            rows.setdefault(collection, []).append((turn, right, seconds / once))
            print(collection, path.name, turn * 90, "->", page.turned * 90, "right" if right else "WRONG", flush=True)
    lines = ["| pages | turned 0° | 90° | 180° | 270° | time against one reading |", "|---|---|---|---|---|---|"]
    for collection, found in rows.items():
        cells = []
        for turn in range(4):
            mine = [right for t, right, _ in found if t == turn]
            cells.append(f"{sum(mine)} of {len(mine)}")
        lines.append(f"| {collection} | {' | '.join(cells)} | {np.mean([r for *_, r in found]):.1f}× |")
    table = "\n".join(lines)
    print(table)
    if args.record:
        record(" ".join(["python benchmarks/rotation.py", *sys.argv[1:]]), table)


if __name__ == "__main__":
    main()

"""Line segmentation alone on real scanned pages, against their PAGE/ALTO lines (no recognition).

    .venv/bin/python benchmarks/real_segmentation.py [--split training|held-out] [--collections hooker,cremma]
                                                     [--line-finder NAME|rules] [--worst 10] [--record]

Each page is preprocessed and segmented as `hcrbatch run` does, and its lines (word boxes in page
pixels) are matched with the transcription's by `hcrbatch.evalpages` (ink IoU above 0.5, inside
the annotated regions): precision, recall, F1, and the pages where no line at all was found. Fast
(no network), so it is what segmentation changes are tuned with, on the `training` pages (those
the shipped line model trained on); `held-out` pages are for reporting only.
"""

from __future__ import annotations

import argparse
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from hcrbatch.api import segment_page
from hcrbatch.config import Config, IngestConfig, SegmentConfig
from hcrbatch.elements import Char, Line, PageResult, Word
from hcrbatch.evalpages import PageScore, held_out_pages, score_page, total, transcribed_images
from hcrbatch.ingest import iter_pages
from hcrbatch.preprocess import to_gray

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from results import record  # noqa: E402

DATA = HERE.parent.parent / "shared" / "data"


def segmented(path: Path, finder: str) -> tuple[PageResult, object]:
    """The page's segmented lines as a PageResult whose words carry their boxes and no reading."""
    page = next(iter_pages(path, IngestConfig()))
    clean, segmentation = segment_page(page, segment_cfg=SegmentConfig(line_finder=finder))
    lines = []
    for line in segmentation.lines:
        words = []
        for word in line.words:
            box = clean.to_page(word.bbox)
            words.append(Word(box, (Char(box, ("x",), (1.0,)),), "x"))
        lines.append(Line(clean.to_page(line.bbox), tuple(words)))
    return PageResult(0, page.width, page.height, page.dpi, clean.skew_degrees, tuple(lines)), to_gray(page.pixels)


def score(job) -> PageScore:
    path, gt, name, finder = job
    result, gray = segmented(path, finder)
    return score_page(gt, result, gray, name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", choices=["training", "held-out"], default="training")
    parser.add_argument("--collections", default="hooker,cremma")
    parser.add_argument("--line-finder", default=SegmentConfig.line_finder, help="the shipped finder, or 'rules'")
    parser.add_argument("--worst", type=int, default=0, help="also list this many pages of lowest F1")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--every", type=int, default=1, help="only every Nth page of the split (quicker trials)")
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args()
    held = held_out_pages(Config(DATA, DATA))
    rows = []
    for collection in args.collections.split(","):
        folder = DATA / f"{collection}-pages"
        cfg = Config(folder, folder)
        names = {p.stem for p in folder.glob("*.xml")}
        pages = names & held if args.split == "held-out" else names - held
        found = transcribed_images(cfg, only=pages)[:: args.every]
        jobs = [(f.path, gt, str(f.relative), args.line_finder) for f, gt in found]
        with ProcessPoolExecutor(args.workers) as pool:
            scores = list(pool.map(score, jobs, chunksize=4))
        t = total(scores)
        nothing = sum(s.read_lines == 0 and s.gt_lines > 0 for s in scores)
        rows.append(
            f"| {collection} | {args.line_finder} | {args.split} | {len(scores)} | {t.line_precision:.3f} | {t.line_recall:.3f} | "
            f"{t.line_f1:.3f} | {t.lines_merged} | {t.lines_split} | {t.lines_missed} | {t.lines_extra} | {nothing} | "
            f"{t.lines_outside} |"
        )
        print(rows[-1], flush=True)
        for s in sorted(scores, key=lambda s: s.line_f1)[: args.worst]:
            print(f"    {s.image}: F1 {s.line_f1:.3f} ({s.matched_lines}/{s.gt_lines} lines, {s.read_lines} read)")
    table = (
        "| collection | line finder | pages | n | line precision | line recall | line F1 | transcribed lines merged | split | "
        "missed | read lines matching none | pages with no line found | lines outside the annotated regions |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|\n" + "\n".join(rows)
    )
    print(table)
    if args.record:
        record(" ".join(["python benchmarks/real_segmentation.py", *sys.argv[1:]]), table)


if __name__ == "__main__":
    main()

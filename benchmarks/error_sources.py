"""Where end-to-end errors on real pages come from: lines found well, or lines found badly.

    .venv/bin/python benchmarks/error_sources.py [--split training|held-out] [--every 3] [--record]

Each page is read as `hcrbatch run` reads it (`--engine auto`) and its lines grouped with the
transcription's as `eval-pages` groups them (by shared ink): one to one, several transcribed lines in
one read line (merged), one in several (split), tangles of both, transcribed lines nothing was read
on (missed), read lines on no transcribed line (extra). For each kind: how many character errors it
adds to the page's CER, and the CER within it. The one-to-one lines' CER set beside the line model's
on the transcribed line images says how much of the gap to line-by-line is the crops' framing of
well-found lines, and the rest is segmentation.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

from hcrbatch.api import Reader
from hcrbatch.config import Config, CorrectConfig, IngestConfig
from hcrbatch.evalpages import compare, held_out_pages
from hcrbatch.groundtruth import transcription_of
from hcrbatch.ingest import iter_pages
from hcrbatch.metrics import edit_distance, normalise_text
from hcrbatch.preprocess import to_gray

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from real_pages import split_images  # noqa: E402
from results import record  # noqa: E402

DATA = HERE.parent.parent / "shared" / "data"
COLLECTIONS = {"hooker": "en", "cremma": "fr"}
KINDS = ("one to one", "merged", "split", "tangle", "missed", "extra")


def kind_of(truth: list[int], found: list[int]) -> str:
    if not truth:
        return "extra"
    if not found:
        return "missed"
    if len(truth) == 1 and len(found) == 1:
        return "one to one"
    if len(found) == 1:
        return "merged"
    return "split" if len(truth) == 1 else "tangle"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", choices=["training", "held-out"], default="training")
    parser.add_argument("--every", type=int, default=3)
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args()
    held = held_out_pages(Config(DATA, Path("unused")))
    rows = []
    for collection, lang in COLLECTIONS.items():
        paths = split_images(collection, args.split, held, args.every)
        reader = Reader(Config(Path("."), Path("unused"), workers=1, correct=CorrectConfig(lang=lang)))
        errors, chars, groups = Counter(), Counter(), Counter()
        for path in paths:
            page = next(iter_pages(path, IngestConfig()))
            seen = compare(transcription_of(path), reader.read_page(page), to_gray(page.pixels))
            read = [normalise_text(line.text) for line in seen.scored]
            for truth, found in seen.groups:
                kind = kind_of(truth, found)
                text = " ".join(seen.texts[i] for i in truth)
                errors[kind] += edit_distance(text, " ".join(read[j] for j in found))
                chars[kind] += len(text)
                groups[kind] += 1
        whole = sum(chars.values())
        cells = [f"{errors[k] / whole:.2%} ({groups[k]}; {errors[k] / chars[k]:.1%} within)" if chars[k] else
                 f"{errors[k] / whole:.2%} ({groups[k]})" for k in KINDS]  # fmt: skip
        rows.append(f"| {collection} | {len(paths)} | {sum(errors.values()) / whole:.2%} | " + " | ".join(cells) + " |")
        print(rows[-1], flush=True)
    table = "\n".join(
        [
            f"| collection | {args.split} pages | CER | " + " | ".join(KINDS) + " |",
            "|---" * (len(KINDS) + 3) + "|",
            *rows,
        ]
    )
    print(table)
    if args.record:
        record(" ".join(["python benchmarks/error_sources.py", *sys.argv[1:]]), table,
               " (points of CER each kind of line group adds; groups; CER within)")  # fmt: skip


if __name__ == "__main__":
    main()

"""Write benchmark documents with ground truth: hand-printed pages with known text.

    .venv/bin/python benchmarks/make_pages.py OUT_DIR --pages 20 [--seed 0] [--pages-per-doc 5] [--hand fonts|emnist|gan]

`--hand fonts` (default) writes with Debian's handwriting fonts Breip, breipfont and Delphine
(which the character model saw in training); `--hand emnist` assembles words from real handwritten
characters the model never trained on: the held-out 10 % of ../shared/data/emnist's ByClass rows
(the same seeded split as `hcrbatch train`, seed 0), each scaled to its letter's place on the line;
those pages also carry character boxes. `--hand gan` does the same with characters the shipped GAN
generator (models/chargan) writes, 60 per class drawn for each run.

Text is words drawn by frequency from wordfreq with names, numbers and punctuation, or, with
`--text FILE`, real prose: a labels.tsv of line transcriptions (as in ../shared/data/hooker-lines;
the lines of one page, the file name before its last `_`, become one paragraph) or a plain text file
(one paragraph per line). The text is read at run time and written only into the ignored data folder. Each page varies font, size, slant, baseline, spacing, ink and paper noise and a small
rotation; documents alternate between multi-page PDF (300 DPI), multi-page TIFF and PNG (200–300
DPI). Beside each document: `<name>.gt.txt` (pages separated by form feeds) and `<name>.gt.json`
(per page: DPI, size, lines with their words and boxes). Deterministic for a seed; keep it out of git. The drawing is `hcrbatch.train.handpages`'s, which
`hcrbatch tune-auto` tunes on.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from hcrbatch.train import handpages
from hcrbatch.train.handpages import HANDS, make_page, save_document  # noqa: F401 - the benchmarks' drawing

EMNIST = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "emnist"


def held_out_glyphs() -> dict:
    """../shared's EMNIST ByClass rows `hcrbatch train --seed 0` holds out, by character."""
    return handpages.held_out_glyphs(EMNIST)


def make_pages(out: Path, pages: int, seed: int = 0, pages_per_doc: int = 5, text: Path | None = None,
               hand: str = "fonts") -> list[Path]:  # fmt: skip
    """`hcrbatch.train.handpages.make_pages` with ../shared's EMNIST."""
    return handpages.make_pages(out, pages, seed, pages_per_doc, text, hand, EMNIST)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path)
    parser.add_argument("--pages", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--pages-per-doc", type=int, default=5)
    parser.add_argument("--text", type=Path, help="real text: a labels.tsv of transcribed lines, or a .txt")
    parser.add_argument("--hand", choices=HANDS, default="fonts")
    args = parser.parse_args()
    for path in make_pages(args.out, args.pages, args.seed, args.pages_per_doc, args.text, args.hand):
        print(path)


if __name__ == "__main__":
    main()

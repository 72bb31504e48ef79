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
(per page: DPI, size, lines with their words and boxes). Deterministic for a seed; keep it out of git.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen.canvas import Canvas
from wordfreq import top_n_list

from hcrbatch.config import DEFAULT_MODELS_DIR
from hcrbatch.synth import FontHand, GlyphHand, Hand, SyntheticPage, render_page
from hcrbatch.train.datasets import held_out_split, read_idx, read_mapping
from hcrbatch.train.fonts import handwriting_fonts
from hcrbatch.train.gan import GlyphGenerator

REPO = Path(__file__).resolve().parent.parent
EMNIST = REPO.parent / "shared" / "data" / "emnist"
BYCLASS = "emnist-byclass-testA"

NAMES = ["Hooker", "Darwin", "Mary", "Thomas", "London", "Kew", "Paris", "Smith", "Baker", "Turner"]


def sentence(rng: np.random.Generator, words: list[str], weights: np.ndarray) -> str:
    picked = list(rng.choice(words, int(rng.integers(5, 12)), p=weights))
    if rng.random() < 0.3:
        picked.insert(int(rng.integers(0, len(picked))), str(rng.choice(NAMES)))
    if rng.random() < 0.2:
        picked.insert(int(rng.integers(0, len(picked))), str(int(rng.integers(2, 1999))))
    picked[0] = picked[0].capitalize()
    return " ".join(picked) + str(rng.choice([".", ".", ".", ",", ";", "?"]))


def fonts_for_print() -> list[str]:
    """Fonts whose letters stand apart (hand-printing); joined-up and oddly shaped ones are left out."""
    keep = ("Breip.ttf", "breipfont.ttf", "Delphine.ttf")
    found = [str(f) for f in handwriting_fonts() if f.name in keep]
    if not found:
        sys.exit("handwriting fonts missing: apt-get install fonts-breip fonts-sjfonts")
    return found


def read_paragraphs(path: Path) -> list[str]:
    """Paragraphs of real text: from a labels.tsv of transcribed lines (grouped by page) or plain text."""
    lines = path.read_text(encoding="utf-8").splitlines()
    if path.suffix != ".tsv":
        return [line.strip() for line in lines if line.strip()]
    pages: dict[str, list[str]] = {}
    for line in lines:
        name, _, text = line.partition("\t")
        if text.strip():
            pages.setdefault(name.rsplit("_", 1)[0], []).append(text.strip())
    return [" ".join(texts) for texts in pages.values()]


def held_out_glyphs(folder: Path = EMNIST, seed: int = 0) -> dict[str, np.ndarray]:
    """The ByClass rows `hcrbatch train --seed 0` holds out, by character (white ink on black)."""
    images = read_idx(folder / f"{BYCLASS}-images-idx3-ubyte.gz")
    labels = read_idx(folder / f"{BYCLASS}-labels-idx1-ubyte.gz")
    mapping = read_mapping(folder / f"{BYCLASS}-mapping.txt")
    _, test = held_out_split(len(labels), seed)
    chars = np.array([mapping[int(i)] for i in labels[test]])
    return {c: images[test][chars == c] for c in np.unique(chars)}


def choose_hand(kind: str, rng: np.random.Generator, dpi: int, glyphs: dict[str, np.ndarray] | None) -> Hand:
    if kind in ("emnist", "gan"):
        return GlyphHand(glyphs, cap_height=int(dpi * rng.uniform(0.13, 0.17)))
    font = str(rng.choice(fonts_for_print()))
    return FontHand(font, int(float(rng.uniform(0.16, 0.22)) * dpi * 1.6))


def make_page(
    rng: np.random.Generator,
    dpi: int,
    vocabulary: tuple[list[str], np.ndarray],
    prose: list[str],
    hand: str = "fonts",
    glyphs: dict[str, np.ndarray] | None = None,
) -> SyntheticPage:
    words, weights = vocabulary
    if prose:
        start = int(rng.integers(0, len(prose)))
        paragraphs = [prose[(start + i) % len(prose)] for i in range(3)]
    else:
        paragraphs = [" ".join(sentence(rng, words, weights) for _ in range(int(rng.integers(2, 4)))) for _ in range(4)]
    if hand == "emnist":  # marks a GlyphHand cannot draw
        paragraphs = [p.replace(";", ",").replace("?", ".") for p in paragraphs]
    return render_page(paragraphs, choose_hand(hand, rng, dpi, glyphs), rng, dpi=dpi, page_inches=(8.5, 11.0))


def save_truth(path: Path, pages: list[SyntheticPage]) -> None:
    base = path.with_suffix("")
    base.with_name(base.name + ".gt.txt").write_text("\f".join(p.text + "\n" for p in pages), encoding="utf-8")
    truth = {"pages": [p.truth() for p in pages]}
    base.with_name(base.name + ".gt.json").write_text(json.dumps(truth) + "\n", encoding="utf-8")


def save_document(path: Path, pages: list[SyntheticPage]) -> None:
    images = [Image.fromarray(p.pixels) for p in pages]
    if path.suffix == ".pdf":
        canvas = Canvas(str(path), invariant=1)
        for page, image in zip(pages, images):
            buffer = io.BytesIO()
            image.save(buffer, "JPEG", quality=88)
            buffer.seek(0)
            size = (page.pixels.shape[1] / page.dpi * 72, page.pixels.shape[0] / page.dpi * 72)
            canvas.setPageSize(size)
            canvas.drawImage(ImageReader(buffer), 0, 0, *size)
            canvas.showPage()
        canvas.save()
    elif path.suffix == ".tif":
        images[0].save(path, save_all=True, append_images=images[1:], compression="tiff_adobe_deflate",
                       dpi=(pages[0].dpi, pages[0].dpi))  # fmt: skip
    else:
        images[0].save(path, dpi=(pages[0].dpi, pages[0].dpi))
    save_truth(path, pages)


def make_pages(
    out: Path, pages: int, seed: int = 0, pages_per_doc: int = 5, text: Path | None = None, hand: str = "fonts"
) -> list[Path]:
    rng = np.random.default_rng(seed)
    if hand == "gan":
        glyphs = GlyphGenerator.load(DEFAULT_MODELS_DIR, "chargan").glyph_bank(per_class=60, seed=seed)
    else:
        glyphs = held_out_glyphs() if hand == "emnist" else None
    prose = read_paragraphs(text) if text else []
    top = [w for w in top_n_list("en", 5000) if w.isalpha()]
    weights = 1.0 / np.arange(1, len(top) + 1) ** 0.8
    vocabulary = (top, weights / weights.sum())
    out.mkdir(parents=True, exist_ok=True)
    written, done, index = [], 0, 0
    while done < pages:
        kind = (".pdf", ".tif", ".png")[index % 3]
        count = 1 if kind == ".png" else min(pages_per_doc, pages - done)
        dpi = 300 if kind == ".pdf" else int(rng.choice([200, 250, 300]))
        path = out / f"doc-{index:03d}{kind}"
        save_document(path, [make_page(rng, dpi, vocabulary, prose, hand, glyphs) for _ in range(count)])
        written.append(path)
        done += count
        index += 1
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path)
    parser.add_argument("--pages", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--pages-per-doc", type=int, default=5)
    parser.add_argument("--text", type=Path, help="real text: a labels.tsv of transcribed lines, or a .txt")
    parser.add_argument("--hand", choices=["fonts", "emnist", "gan"], default="fonts")
    args = parser.parse_args()
    for path in make_pages(args.out, args.pages, args.seed, args.pages_per_doc, args.text, args.hand):
        print(path)


if __name__ == "__main__":
    main()

"""Hand-printed pages with known text: what `hcrbatch tune-auto` tunes `--engine auto` on for the
glyph engine's side, and what the benchmarks read (benchmarks/make_pages.py writes them to disk).

Text is words drawn by frequency from wordfreq with names, numbers and punctuation, or real prose
(`read_paragraphs`). Hands: Debian's handwriting fonts whose letters stand apart ("fonts"), real
handwritten characters the character model never trained on (EMNIST ByClass's held-out rows,
"emnist"), or characters the GAN generator writes ("gan"). Each page varies font, size, slant,
baseline, spacing, ink and paper noise and a small rotation (`hcrbatch.synth.render_page`).
Deterministic for a seed.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np

from hcrbatch.config import DEFAULT_MODELS_DIR
from hcrbatch.errors import ConfigError
from hcrbatch.synth import FontHand, GlyphHand, Hand, SyntheticPage, render_page
from hcrbatch.train.datasets import held_out_split, read_idx, read_mapping
from hcrbatch.train.fonts import handwriting_fonts

BYCLASS = "emnist-byclass-testA"
HANDS = ("fonts", "emnist", "gan")
NAMES = ["Hooker", "Darwin", "Mary", "Thomas", "London", "Kew", "Paris", "Smith", "Baker", "Turner"]
PRINT_FONTS = ("Breip.ttf", "breipfont.ttf", "Delphine.ttf")  # letters that stand apart: hand-printing


def vocabulary() -> tuple[list[str], np.ndarray]:
    """English words by frequency (wordfreq's 5,000 commonest, letters only) and their weights."""
    from wordfreq import top_n_list

    top = [w for w in top_n_list("en", 5000) if w.isalpha()]
    weights = 1.0 / np.arange(1, len(top) + 1) ** 0.8
    return top, weights / weights.sum()


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
    found = [str(f) for f in handwriting_fonts() if f.name in PRINT_FONTS]
    if not found:
        raise ConfigError("handwriting fonts missing: apt-get install fonts-breip fonts-sjfonts")
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


def held_out_glyphs(folder: Path, seed: int = 0) -> dict[str, np.ndarray]:
    """The EMNIST ByClass rows `hcrbatch train --seed 0` holds out, by character (white ink on black)."""
    images = read_idx(folder / f"{BYCLASS}-images-idx3-ubyte.gz")
    labels = read_idx(folder / f"{BYCLASS}-labels-idx1-ubyte.gz")
    mapping = read_mapping(folder / f"{BYCLASS}-mapping.txt")
    _, test = held_out_split(len(labels), seed)
    chars = np.array([mapping[int(i)] for i in labels[test]])
    return {c: images[test][chars == c] for c in np.unique(chars)}


def hand_glyphs(hand: str, seed: int, emnist: Path | None, models_dir: Path = DEFAULT_MODELS_DIR):
    """The characters a hand writes with: None for fonts; EMNIST's held-out rows; or the GAN's."""
    if hand == "gan":
        from hcrbatch.train.gan import GlyphGenerator

        return GlyphGenerator.load(models_dir, "chargan").glyph_bank(per_class=60, seed=seed)
    if hand == "emnist":
        if emnist is None:
            raise ConfigError("EMNIST-hand pages need the EMNIST folder (--emnist)")
        return held_out_glyphs(emnist)
    return None


def choose_hand(kind: str, rng: np.random.Generator, dpi: int, glyphs: dict[str, np.ndarray] | None) -> Hand:
    if kind in ("emnist", "gan"):
        return GlyphHand(glyphs, cap_height=int(dpi * rng.uniform(0.13, 0.17)))
    font = str(rng.choice(fonts_for_print()))
    return FontHand(font, int(float(rng.uniform(0.16, 0.22)) * dpi * 1.6))


def make_page(
    rng: np.random.Generator,
    dpi: int,
    words: tuple[list[str], np.ndarray],
    prose: list[str],
    hand: str = "fonts",
    glyphs: dict[str, np.ndarray] | None = None,
) -> SyntheticPage:
    """One page of three or four paragraphs in `hand`."""
    vocab, weights = words
    if prose:
        start = int(rng.integers(0, len(prose)))
        paragraphs = [prose[(start + i) % len(prose)] for i in range(3)]
    else:
        paragraphs = [" ".join(sentence(rng, vocab, weights) for _ in range(int(rng.integers(2, 4)))) for _ in range(4)]
    if hand == "emnist":  # marks a GlyphHand cannot draw
        paragraphs = [p.replace(";", ",").replace("?", ".") for p in paragraphs]
    return render_page(paragraphs, choose_hand(hand, rng, dpi, glyphs), rng, dpi=dpi, page_inches=(8.5, 11.0))


def save_truth(path: Path, pages: list[SyntheticPage]) -> None:
    base = path.with_suffix("")
    base.with_name(base.name + ".gt.txt").write_text("\f".join(p.text + "\n" for p in pages), encoding="utf-8")
    truth = {"pages": [p.truth() for p in pages]}
    base.with_name(base.name + ".gt.json").write_text(json.dumps(truth) + "\n", encoding="utf-8")


def save_document(path: Path, pages: list[SyntheticPage]) -> None:
    """Pages as a multi-page PDF (JPEG images, as scanners write them), TIFF or PNG, with their truth beside."""
    from PIL import Image
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen.canvas import Canvas

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
    out: Path,
    pages: int,
    seed: int = 0,
    pages_per_doc: int = 5,
    text: Path | None = None,
    hand: str = "fonts",
    emnist: Path | None = None,
) -> list[Path]:
    """Documents of hand-printed pages in `out`: multi-page PDF (300 DPI), multi-page TIFF and PNG
    (200-300 DPI) in turn, each with `<name>.gt.txt` (pages separated by form feeds) and
    `<name>.gt.json` (per page: DPI, size, lines with their words and boxes)."""
    rng = np.random.default_rng(seed)
    glyphs = hand_glyphs(hand, seed, emnist)
    prose = read_paragraphs(text) if text else []
    words = vocabulary()
    out.mkdir(parents=True, exist_ok=True)
    written, done, index = [], 0, 0
    while done < pages:
        kind = (".pdf", ".tif", ".png")[index % 3]
        count = 1 if kind == ".png" else min(pages_per_doc, pages - done)
        dpi = 300 if kind == ".pdf" else int(rng.choice([200, 250, 300]))
        path = out / f"doc-{index:03d}{kind}"
        save_document(path, [make_page(rng, dpi, words, prose, hand, glyphs) for _ in range(count)])
        written.append(path)
        done += count
        index += 1
    return written

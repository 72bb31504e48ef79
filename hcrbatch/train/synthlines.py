"""Synthetic text lines for pre-training the line recognizer: real words written in handwriting fonts.

Transcribed handwriting is scarce (8,354 lines in ../shared/data); rendered lines are not. The text
is drawn from wordfreq's frequency lists in the real lines' languages (English and French), with
capitals, punctuation, numbers and dates mixed in as letters have them. Each word is drawn whole,
so a cursive font keeps its joins, along a curved baseline with jittered size, spacing and slant;
then the line gets a stroke width, an elastic warp, bits of the lines above and below (a real line
crop has them), paper and ink noise, blur and JPEG artefacts. Lines come out 96 px high, dark ink
on light paper, like ../shared/data's line images.
"""

from __future__ import annotations

import logging
from functools import cache
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from hcrbatch.errors import ConfigError
from hcrbatch.train.augment import elastic_distort
from hcrbatch.train.fonts import HANDWRITING_FONT_GLOBS, handwriting_fonts
from hcrbatch.train.linedata import LineSample
from hcrbatch.train.text import random_text

log = logging.getLogger(__name__)

LINE_IMAGE_HEIGHT = 96  # as the real line images
# Hand-printing fonts (fonts.py) and joined-up script: Debian's fonts-kristi and fonts-dancingscript.
LINE_FONT_GLOBS = (
    *HANDWRITING_FONT_GLOBS,
    "/usr/share/fonts/truetype/kristi/*.ttf",
    "/usr/share/fonts/opentype/dancingscript/*.otf",
)
LINES_PER_PAGE = 20  # synthetic lines are grouped in "pages" so that split_by_page can hold some out


def line_fonts() -> list[Path]:
    return handwriting_fonts(LINE_FONT_GLOBS)


@cache
def load_font(path: Path, size: int) -> ImageFont.FreeTypeFont:
    """Each font file and size is read once, not once per rendered line."""
    return ImageFont.truetype(str(path), size)


@cache
def missing_glyph(path: Path, size: int) -> tuple:
    mask = load_font(path, size).getmask("\U000f0000")  # a private-use code point: no font here has it
    return mask.size, bytes(mask)


def font_covers(font: ImageFont.FreeTypeFont, text: str) -> bool:
    """Whether the font has a glyph for every character of `text` (a missing one draws as .notdef)."""
    notdef = missing_glyph(Path(font.path), font.size)
    for char in set(text) - {" "}:
        mask = font.getmask(char)
        if mask.getbbox() is None or (mask.size, bytes(mask)) == notdef:
            return False
    return True


def draw_words(text: str, font: ImageFont.FreeTypeFont, rng: np.random.Generator, height: int) -> np.ndarray:
    """White ink on black: the words of `text` along a gently curved baseline at mid-height."""
    words = text.split()
    space = font.size * rng.uniform(0.25, 0.6)
    widths = [font.getlength(w) for w in words]
    width = int(sum(widths) + space * len(words) + font.size * 2)
    canvas = Image.new("L", (width, height), 0)
    draw = ImageDraw.Draw(canvas)
    curve = rng.uniform(-0.04, 0.04) * font.size  # baseline rises or sags by up to ~4 % of the size per word
    x = font.size * 0.5
    for i, (word, w) in enumerate(zip(words, widths)):
        bend = curve * (i - len(words) / 2) ** 2 / max(1, len(words) / 2) + rng.normal(0, font.size * 0.03)
        draw.text((x, height * 0.62 + bend), word, font=font, fill=255, anchor="ls")
        x += w + space * rng.uniform(0.7, 1.3)
    return np.asarray(canvas)


def render_line(
    text: str, font_path: Path, rng: np.random.Generator, neighbours: tuple[str, str] = ("", "")
) -> np.ndarray:
    """`text` written in the font, LINE_IMAGE_HEIGHT high, dark ink on light paper; `neighbours`
    (the lines above and below) show only their descenders and ascenders, as in a real line crop."""
    font = load_font(Path(font_path), int(rng.integers(50, 72)))
    pitch = int(LINE_IMAGE_HEIGHT * rng.uniform(0.7, 1.0))
    rows = [draw_words(t, font, rng, LINE_IMAGE_HEIGHT) if t else None for t in (neighbours[0], text, neighbours[1])]
    width = rows[1].shape[1]
    ink = np.zeros((LINE_IMAGE_HEIGHT + 2 * pitch, width), np.float32)
    for i, row in enumerate(rows):
        if row is not None:
            w = min(width, row.shape[1])
            np.maximum(ink[i * pitch : i * pitch + LINE_IMAGE_HEIGHT, :w], row[:, :w], out=ink[i * pitch : i * pitch + LINE_IMAGE_HEIGHT, :w])  # fmt: skip
    shear = rng.uniform(-0.35, 0.25)
    h = ink.shape[0]
    matrix = np.array([[1, shear, -shear * h / 2], [0, 1, 0]], np.float32)
    ink = cv2.warpAffine(ink, matrix, (width + int(abs(shear) * h / 2), h), flags=cv2.INTER_LINEAR)
    ink = with_pen_jitter(ink, rng)
    ink = elastic_distort(ink[None], rng, alpha=rng.uniform(0, 150), sigma=8)[0]
    return on_scanned_paper(middle_line(ink, pitch, rng), rng)


def with_pen_jitter(ink: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The strokes a pixel or two heavier, one lighter, or as they are."""
    pen = int(rng.integers(-1, 3))
    if pen > 0:
        return cv2.dilate(ink, np.ones((pen + 1, pen + 1), np.uint8))
    if pen < 0:
        return cv2.erode(ink, np.ones((2, 2), np.uint8))
    return ink


def middle_line(ink: np.ndarray, pitch: int, rng: np.random.Generator) -> np.ndarray:
    """Of three rows of writing `pitch` apart, the middle one's LINE_IMAGE_HEIGHT rows (moved a little
    up or down), cut to its writing's columns with a margin, as a line crop frames it."""
    top = pitch + int(rng.normal(0, LINE_IMAGE_HEIGHT * 0.04))
    ink = ink[max(0, top) : max(0, top) + LINE_IMAGE_HEIGHT]
    cols = np.flatnonzero(ink[LINE_IMAGE_HEIGHT // 4 : -LINE_IMAGE_HEIGHT // 4].max(axis=0) > 60)
    if cols.size:
        margin = int(rng.integers(4, 30))
        ink = ink[:, max(0, cols[0] - margin) : cols[-1] + margin]
    return ink


def on_scanned_paper(ink: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """White-on-black `ink` as a scan shows it: dark ink of varying strength on noisy, blurred paper,
    JPEG-compressed; gray uint8."""
    h, w = ink.shape
    paper = rng.uniform(170, 245) + rng.normal(0, rng.uniform(2, 10), (h, w))
    paper = cv2.GaussianBlur(paper.astype(np.float32), (0, 0), 1.5)
    ink_level = rng.uniform(10, 90)
    page = paper - (ink / 255.0) * rng.uniform(0.7, 1.0) * (paper - ink_level)
    page = cv2.GaussianBlur(page, (0, 0), rng.uniform(0.3, 1.2)) + rng.normal(0, 3, (h, w))
    page = np.clip(page, 0, 255).astype(np.uint8)
    quality = int(rng.integers(30, 95))
    return cv2.imdecode(cv2.imencode(".jpg", page, [cv2.IMWRITE_JPEG_QUALITY, quality])[1], cv2.IMREAD_GRAYSCALE)


def synthetic_lines(count: int, seed: int) -> list[LineSample]:
    """`count` rendered lines, spread over the installed handwriting fonts, grouped in pages of
    LINES_PER_PAGE (folder "synthetic") so that the page split can hold whole pages out."""
    fonts = line_fonts()
    if not fonts:
        raise ConfigError("no handwriting fonts installed for synthetic lines (apt install fonts-kristi fonts-dancingscript fonts-breip ...)")  # fmt: skip
    rng = np.random.default_rng([seed, 7])
    samples: list[LineSample] = []
    while len(samples) < count:
        path = fonts[len(samples) % len(fonts)]
        text = random_text(rng, int(rng.integers(8, 60)))
        font = load_font(path, 48)
        if not font_covers(font, text):
            continue
        neighbours = tuple(random_text(rng, 60) if rng.random() < 0.7 else "" for _ in range(2))
        neighbours = tuple(t if font_covers(font, t) else "" for t in neighbours)
        image = render_line(text, path, rng, neighbours)
        samples.append(LineSample(image, text, f"synthetic/{len(samples) // LINES_PER_PAGE:05d}"))
    log.info("rendered %d synthetic lines in %d fonts", count, len(fonts))
    return samples

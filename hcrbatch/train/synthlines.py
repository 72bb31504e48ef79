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
from hcrbatch.train.charcnn import elastic_distort
from hcrbatch.train.fonts import HANDWRITING_FONT_GLOBS, handwriting_fonts
from hcrbatch.train.lines import LineSample

log = logging.getLogger(__name__)

LINE_IMAGE_HEIGHT = 96  # as the real line images
# Hand-printing fonts (fonts.py) and joined-up script: Debian's fonts-kristi and fonts-dancingscript.
LINE_FONT_GLOBS = (
    *HANDWRITING_FONT_GLOBS,
    "/usr/share/fonts/truetype/kristi/*.ttf",
    "/usr/share/fonts/opentype/dancingscript/*.otf",
)
LANGUAGES = ("en", "fr")
VOCABULARY = 20_000  # most frequent words per language
LINES_PER_PAGE = 20  # synthetic lines are grouped in "pages" so that split_by_page can hold some out
MONTHS = {
    "en": "January February March April May June July August September October November December".split(),  # noqa: SIM905
    "fr": "janvier février mars avril mai juin juillet août septembre octobre novembre décembre".split(),  # noqa: SIM905
}


def line_fonts() -> list[Path]:
    return handwriting_fonts(LINE_FONT_GLOBS)


@cache
def vocabulary(lang: str) -> tuple[list[str], np.ndarray]:
    """The language's most frequent words (letters and apostrophes only) and their cumulative
    probabilities, as `Generator.choice(p=...)` computes them on every call (150 µs for 20,000 words)."""
    from wordfreq import top_n_list, word_frequency

    words = [w for w in top_n_list(lang, VOCABULARY) if w.replace("'", "").replace("’", "").isalpha()]
    cumulative = np.array([word_frequency(w, lang) for w in words]).cumsum()
    return words, cumulative / cumulative[-1]


def draw_word(lang: str, rng: np.random.Generator) -> str:
    """A word at its frequency: the very draw of `rng.choice(len(words), p=probabilities)`, one
    uniform number looked up in the cached cumulative probabilities, 150 times faster."""
    words, cumulative = vocabulary(lang)
    return str(words[cumulative.searchsorted(rng.random(), side="right")])


def random_token(lang: str, rng: np.random.Generator) -> str:
    """A number, a date or an abbreviation, as letters have them."""
    kind = rng.integers(0, 4)
    if kind == 0:
        return str(int(rng.integers(1, 10 ** int(rng.integers(1, 5)))))
    if kind == 1:
        return f"{rng.integers(1, 29)} {MONTHS[lang][rng.integers(0, 12)]} {rng.integers(1800, 1930)}"
    if kind == 2:
        return f"{rng.integers(1, 29)}/{rng.integers(1, 13)}/{rng.integers(0, 100):02d}"
    return str(rng.choice(["Mr.", "Mrs.", "Dr.", "St.", "&", "M.", "Mme", "No.", "£5", "1er", "etc."]))


def punctuate(token: str, rng: np.random.Generator) -> tuple[str, bool]:
    """`token` with the mark prose might put after or around it, and whether that ends a sentence."""
    roll = rng.random()
    if roll < 0.08:
        return token + ",", False
    if roll < 0.12:
        return token + str(rng.choice([".", ".", ";", ":", "?", "!"])), True
    if roll < 0.13:
        return (f"({token})" if rng.random() < 0.5 else f'"{token}"'), False
    return token, False


def random_text(rng: np.random.Generator, max_chars: int) -> str:
    """A run of words (from one language) of at most `max_chars` characters, punctuated like prose."""
    lang = str(rng.choice(LANGUAGES))
    tokens: list[str] = []
    capital = rng.random() < 0.5
    while True:
        if rng.random() < 0.06:
            token = random_token(lang, rng)
        else:
            token = draw_word(lang, rng)
            if capital or rng.random() < 0.04:
                token = token[:1].upper() + token[1:]
        token, capital = punctuate(token, rng)
        if tokens and len(" ".join([*tokens, token])) > max_chars:
            return " ".join(tokens)
        tokens.append(token)


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
    pen = int(rng.integers(-1, 3))
    if pen > 0:
        ink = cv2.dilate(ink, np.ones((pen + 1, pen + 1), np.uint8))
    elif pen < 0:
        ink = cv2.erode(ink, np.ones((2, 2), np.uint8))
    ink = elastic_distort(ink[None], rng, alpha=rng.uniform(0, 150), sigma=8)[0]
    top = pitch + int(rng.normal(0, LINE_IMAGE_HEIGHT * 0.04))
    ink = ink[max(0, top) : max(0, top) + LINE_IMAGE_HEIGHT]
    cols = np.flatnonzero(ink[LINE_IMAGE_HEIGHT // 4 : -LINE_IMAGE_HEIGHT // 4].max(axis=0) > 60)
    if cols.size:
        margin = int(rng.integers(4, 30))
        ink = ink[:, max(0, cols[0] - margin) : cols[-1] + margin]
    return on_scanned_paper(ink, rng)


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

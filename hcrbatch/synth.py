"""Scanned-style hand-printed pages with known text, written by a "hand".

A hand writes one word as ink: `FontHand` from a handwriting font, `GlyphHand` from images of
single handwritten characters (real ones such as held-out EMNIST rows, or generated ones), each
scaled to its letter's place on the line. `render_page` lays the words out with jitter in size,
slant, baseline and spacing, then adds paper texture, ink variation, blur and a small rotation, and
returns the ground truth (text; line, word and, where the hand knows them, character boxes).
Used for the demo documents in `samples/` and the benchmark pages.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from hcrbatch.elements import BBox


@dataclass(frozen=True)
class TruthWord:
    text: str
    bbox: BBox
    chars: tuple[tuple[str, BBox], ...] = ()  # (character, ink box); empty when the hand cannot tell


@dataclass(frozen=True)
class TruthLine:
    words: tuple[TruthWord, ...]

    @property
    def text(self) -> str:
        return " ".join(w.text for w in self.words)

    @property
    def bbox(self) -> BBox:
        return BBox.enclosing([w.bbox for w in self.words])


@dataclass(frozen=True, eq=False)
class SyntheticPage:
    pixels: np.ndarray  # H×W uint8 gray, dark ink on light paper
    dpi: int
    lines: tuple[TruthLine, ...] = field(default_factory=tuple)

    @property
    def text(self) -> str:
        return "\n".join(line.text for line in self.lines)

    def truth(self) -> dict:
        return {
            "dpi": self.dpi,
            "width": int(self.pixels.shape[1]),
            "height": int(self.pixels.shape[0]),
            "lines": [
                {
                    "text": line.text,
                    "bbox": list(_box_tuple(line.bbox)),
                    "words": [
                        {"text": w.text, "bbox": list(_box_tuple(w.bbox))}
                        | ({"chars": [{"text": t, "bbox": list(_box_tuple(b))} for t, b in w.chars]} if w.chars else {})
                        for w in line.words
                    ],
                }
                for line in self.lines
            ],
        }


def _box_tuple(box: BBox) -> tuple[int, int, int, int]:
    return box.left, box.top, box.right, box.bottom


@dataclass(frozen=True)
class WordInk:
    ink: np.ndarray  # float, ink 0..255 on black
    baseline: float  # row of the writing line within `ink`
    chars: tuple[tuple[str, BBox], ...] = ()  # character boxes within `ink`, if known


class Hand(Protocol):
    size: int  # nominal letter size in pixels: sets line pitch, margins and word spacing

    def write(self, word: str, rng: np.random.Generator) -> WordInk | None:
        """The word's ink, or None if this hand cannot write it."""


def _shear(ink: np.ndarray, shear: float) -> np.ndarray:
    h, w = ink.shape
    matrix = np.array([[1, shear, -shear * h / 2], [0, 1, 0]], np.float32)
    return cv2.warpAffine(ink, matrix, (w, h), flags=cv2.INTER_LINEAR)


class FontHand:
    """Letters of a TrueType handwriting font, each drawn with jittered spacing, then slanted."""

    def __init__(self, font_path: str, size: int) -> None:
        self.font_path = font_path
        self.size = size

    def write(self, word: str, rng: np.random.Generator) -> WordInk:
        font = ImageFont.truetype(self.font_path, max(8, int(self.size * rng.uniform(0.92, 1.08))))
        size = font.size
        width = int(sum(font.getlength(c) for c in word) + size * (0.25 * len(word) + 1))
        canvas = Image.new("L", (width, int(size * 2)), 0)
        draw = ImageDraw.Draw(canvas)
        x = size * 0.3
        for char in word:
            draw.text((x, size * 0.4 + rng.normal(0, size * 0.02)), char, font=font, fill=255)
            x += font.getlength(char) + size * rng.uniform(0.06, 0.16)
        ink = _shear(np.asarray(canvas), rng.uniform(-0.18, 0.12))
        return WordInk(ink * rng.uniform(0.75, 1.0), size * 0.4 + font.getmetrics()[0])


# Where a letter sits on the line, as (height, depth below the baseline) in x-heights.
X_HEIGHT = 0.6  # of the cap height
TALL = set("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZbdfhklt!?&")
DESCENDING = set("gpqy;")
MARKS = {".": 0.0, ",": 0.22, "'": -1.3, "-": -0.45}  # punctuation: depth below the baseline


class GlyphHand:
    """Words assembled from images of single handwritten characters (white ink on black, any size).

    EMNIST-style images have lost their letter's size; each is cropped to its ink and scaled to the
    place its class takes on a line (cap height, x-height, descender), so that a page reads like
    hand-printing. A few punctuation marks are drawn as strokes. Character boxes come with the ink.
    """

    def __init__(self, glyphs: Mapping[str, np.ndarray], cap_height: int) -> None:
        self.glyphs = {label: stack for label, stack in glyphs.items() if len(stack)}
        self.cap_height = cap_height
        self.size = int(cap_height * 1.6)

    def can_write(self, word: str) -> bool:
        return all(c in self.glyphs or c in MARKS for c in word)

    def _letter(self, char: str, cap: float, rng: np.random.Generator) -> tuple[np.ndarray, float]:
        """Ink of one letter and how far it reaches below the baseline, in pixels."""
        xh = cap * X_HEIGHT
        if char in MARKS:  # dots and dashes: a glyph image has lost their size, so they are drawn
            return _mark(char, cap, rng), MARKS[char] * xh
        stack = self.glyphs[char]
        image = stack[int(rng.integers(0, len(stack)))]
        rows, cols = np.flatnonzero(image.max(axis=1) > 60), np.flatnonzero(image.max(axis=0) > 60)
        crop = image[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1].astype(np.float32)
        if char in DESCENDING:
            height, depth = xh * 1.5, xh * 0.5
        elif char == "j":
            height, depth = xh * 1.8, xh * 0.5
        elif char == "i":
            height, depth = cap * 0.85, 0.0
        elif char in TALL:
            height, depth = cap * (0.85 if char == "t" else 1.0), 0.0
        elif char in "()/":
            height, depth = cap * 1.15, xh * 0.25
        elif char == '"':
            height, depth = cap * 0.35, -cap * 0.65
        else:
            height, depth = xh, 0.0
        height *= rng.uniform(0.93, 1.07)
        width = max(2, round(crop.shape[1] * height / crop.shape[0]))
        ink = cv2.resize(crop, (width, max(2, round(height))), interpolation=cv2.INTER_CUBIC)
        return np.clip(ink, 0, 255), depth

    def write(self, word: str, rng: np.random.Generator) -> WordInk | None:
        if not self.can_write(word):
            return None
        cap = self.cap_height * rng.uniform(0.92, 1.08)
        letters = [(char, *self._letter(char, cap, rng)) for char in word]
        pad = int(cap * 0.3)
        baseline = pad + cap * 1.1
        width = int(sum(ink.shape[1] for _, ink, _ in letters) + cap * 0.25 * len(letters)) + 2 * pad
        canvas = np.zeros((int(baseline + cap * 0.6 + pad), width), np.float32)
        boxes, x = [], pad
        for char, ink, depth in letters:
            h, w = ink.shape
            top = int(round(baseline + depth - h + rng.normal(0, cap * 0.02)))
            region = canvas[top : top + h, x : x + w]
            np.maximum(region, ink[: region.shape[0], : region.shape[1]], out=region)
            boxes.append((char, (x, top, x + w, top + h)))
            x += w + int(cap * rng.uniform(0.08, 0.2))
        shear = rng.uniform(-0.18, 0.12)
        canvas = _shear(canvas, shear)
        mid = canvas.shape[0] / 2
        chars = []
        for char, (left, top, right, bottom) in boxes:
            moved = [left + shear * (top - mid), left + shear * (bottom - mid)]
            moved += [right + shear * (top - mid), right + shear * (bottom - mid)]
            chars.append((char, BBox(int(min(moved)), top, int(max(moved)) + 1, bottom)))
        return WordInk(canvas * rng.uniform(0.75, 1.0), baseline, _tight(tuple(chars), canvas))


def _tight(chars: tuple[tuple[str, BBox], ...], ink: np.ndarray) -> tuple[tuple[str, BBox], ...]:
    """Shrink each character's box to the ink inside it."""
    tight = []
    for char, box in chars:
        box = box.clip(ink.shape[1], ink.shape[0])
        patch = ink[box.top : box.bottom, box.left : box.right] > 60
        rows, cols = np.flatnonzero(patch.any(axis=1)), np.flatnonzero(patch.any(axis=0))
        if rows.size:
            box = BBox(box.left + int(cols[0]), box.top + int(rows[0]), box.left + int(cols[-1]) + 1,
                       box.top + int(rows[-1]) + 1)  # fmt: skip
        tight.append((char, box))
    return tuple(tight)


def _mark(char: str, cap: float, rng: np.random.Generator) -> np.ndarray:
    """A punctuation mark drawn as a pen stroke (EMNIST has none)."""
    pen = max(2, int(cap * rng.uniform(0.09, 0.13)))
    if char == "-":
        ink = np.zeros((pen + 4, int(cap * 0.45)), np.float32)
        cv2.line(ink, (1, ink.shape[0] // 2), (ink.shape[1] - 2, ink.shape[0] // 2), 255.0, pen)
    elif char == ".":
        ink = np.zeros((2 * pen + 2, 2 * pen + 2), np.float32)
        cv2.circle(ink, (pen + 1, pen + 1), pen - 1, 255.0, -1)
    else:  # "," and "'": a dot with a tail, or a short stroke
        height = int(cap * (0.4 if char == "," else 0.35))
        ink = np.zeros((height, 2 * pen + 4), np.float32)
        cv2.line(ink, (pen + 2, pen), (pen // 2 + 1, height - pen // 2 - 1), 255.0, pen)
    return ink


def render_page(
    paragraphs: list[str],
    hand: Hand,
    rng: np.random.Generator,
    dpi: int = 300,
    page_inches: tuple[float, float] = (8.5, 11.0),
    rotate_degrees: float = 1.0,
) -> SyntheticPage:
    """Write each paragraph of `paragraphs` from a new line, wrapping words at the right margin.

    Text that does not fit on the page is left out, and so is a word the hand cannot write; the
    returned ground truth holds exactly the words drawn, with their ink boxes.
    """
    width, height = int(page_inches[0] * dpi), int(page_inches[1] * dpi)
    ink = np.zeros((height, width), np.float32)
    base_size = hand.size
    margin = int(0.8 * dpi)
    line_pitch = base_size * rng.uniform(1.45, 1.6)
    baseline = margin + base_size
    truth_lines: list[TruthLine] = []
    words: list[TruthWord] = []

    def new_line() -> float:
        nonlocal baseline, words
        if words:
            truth_lines.append(TruthLine(tuple(words)))
            baseline += line_pitch
        words = []
        return margin + rng.uniform(0, 0.1 * dpi)

    for paragraph in paragraphs:
        x = new_line()
        for word in paragraph.split():
            written = hand.write(word, rng)
            if written is None:
                continue
            glyphs = written.ink
            rows = np.flatnonzero(glyphs.max(axis=1) > 60)
            cols = np.flatnonzero(glyphs.max(axis=0) > 60)
            if rows.size == 0:
                continue
            glyphs = glyphs[:, cols[0] : cols[-1] + 1]
            h, w = glyphs.shape
            if x + w > width - margin // 2 and words:
                x = new_line()
            top = int(baseline - written.baseline + rng.normal(0, base_size * 0.025))
            left = int(x)
            if top + h > height - margin // 2 or left + w > width:
                break
            region = ink[top : top + h, left : left + w]
            np.maximum(region, glyphs, out=region)
            chars = tuple((c, b.shifted(left - int(cols[0]), top)) for c, b in written.chars)
            words.append(TruthWord(word, BBox(left, top + int(rows[0]), left + w, top + int(rows[-1]) + 1), chars))
            x += w + base_size * rng.uniform(0.45, 0.7)
    new_line()
    angle = rng.uniform(-rotate_degrees, rotate_degrees)
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), angle, 1.0)
    ink = cv2.warpAffine(ink, matrix, (width, height), flags=cv2.INTER_LINEAR)
    truth_lines = [
        TruthLine(tuple(
            TruthWord(w.text, _rotate_box(w.bbox, matrix, width, height),
                      tuple((c, _rotate_box(b, matrix, width, height)) for c, b in w.chars))
            for w in line.words))
        for line in truth_lines
    ]  # fmt: skip
    paper = rng.uniform(225, 245) + rng.normal(0, 6, (height, width))
    paper = cv2.GaussianBlur(paper.astype(np.float32), (0, 0), 1.2)
    ink_level = rng.uniform(20, 60)
    page = paper - (ink / 255.0) * (paper - ink_level)
    page = cv2.GaussianBlur(page, (0, 0), 0.6) + rng.normal(0, 4, (height, width))
    return SyntheticPage(np.clip(page, 0, 255).astype(np.uint8), dpi, tuple(truth_lines))


def _rotate_box(box: BBox, matrix: np.ndarray, width: int, height: int) -> BBox:
    return box.mapped(matrix).clip(width, height)

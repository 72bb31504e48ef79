"""Scanned-style hand-printed pages with known text, drawn from handwriting fonts.

Used to make the demo documents in `samples/` and benchmark pages: every word gets its own size,
slant, baseline and spacing jitter, then paper texture, ink variation, blur and a small page
rotation are applied, and the ground truth (text, line and word boxes) is returned beside the image.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from hcrbatch.elements import BBox


@dataclass(frozen=True)
class TruthWord:
    text: str
    bbox: BBox


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
                    "words": [{"text": w.text, "bbox": list(_box_tuple(w.bbox))} for w in line.words],
                }
                for line in self.lines
            ],
        }


def _box_tuple(box: BBox) -> tuple[int, int, int, int]:
    return box.left, box.top, box.right, box.bottom


def _render_word(word: str, font: ImageFont.FreeTypeFont, rng: np.random.Generator) -> np.ndarray:
    """Ink (255) of one word on black, letters drawn one by one with jittered spacing, then slanted."""
    size = font.size
    width = int(sum(font.getlength(c) for c in word) + size * (0.25 * len(word) + 1))
    canvas = Image.new("L", (width, int(size * 2)), 0)
    draw = ImageDraw.Draw(canvas)
    x = size * 0.3
    for char in word:
        draw.text((x, size * 0.4 + rng.normal(0, size * 0.02)), char, font=font, fill=255)
        x += font.getlength(char) + size * rng.uniform(0.06, 0.16)
    ink = np.asarray(canvas)
    shear = rng.uniform(-0.18, 0.12)
    h, w = ink.shape
    matrix = np.array([[1, shear, -shear * h / 2], [0, 1, 0]], np.float32)
    return cv2.warpAffine(ink, matrix, (w, h), flags=cv2.INTER_LINEAR)


def render_page(
    paragraphs: list[str],
    font_path: str,
    rng: np.random.Generator,
    dpi: int = 300,
    page_inches: tuple[float, float] = (8.5, 11.0),
    letter_height_inches: float = 0.2,
    rotate_degrees: float = 1.0,
) -> SyntheticPage:
    """Draw each paragraph of `paragraphs` from a new line, wrapping words at the right margin.

    Text that does not fit on the page is left out; the returned ground truth holds exactly the
    words drawn, with their ink boxes.
    """
    width, height = int(page_inches[0] * dpi), int(page_inches[1] * dpi)
    ink = np.zeros((height, width), np.float32)
    base_size = int(letter_height_inches * dpi * 1.6)
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
            font = ImageFont.truetype(font_path, max(8, int(base_size * rng.uniform(0.92, 1.08))))
            glyphs = _render_word(word, font, rng) * rng.uniform(0.75, 1.0)
            rows = np.flatnonzero(glyphs.max(axis=1) > 60)
            cols = np.flatnonzero(glyphs.max(axis=0) > 60)
            if rows.size == 0:
                continue
            glyphs = glyphs[:, cols[0] : cols[-1] + 1]
            h, w = glyphs.shape
            if x + w > width - margin // 2 and words:
                x = new_line()
            baseline_in_canvas = font.size * 0.4 + font.getmetrics()[0]
            top = int(baseline - baseline_in_canvas + rng.normal(0, base_size * 0.025))
            left = int(x)
            if top + h > height - margin // 2 or left + w > width:
                break
            region = ink[top : top + h, left : left + w]
            np.maximum(region, glyphs, out=region)
            words.append(TruthWord(word, BBox(left, top + int(rows[0]), left + w, top + int(rows[-1]) + 1)))
            x += w + base_size * rng.uniform(0.45, 0.7)
    new_line()
    angle = rng.uniform(-rotate_degrees, rotate_degrees)
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), angle, 1.0)
    ink = cv2.warpAffine(ink, matrix, (width, height), flags=cv2.INTER_LINEAR)
    truth_lines = [
        TruthLine(tuple(TruthWord(w.text, _rotate_box(w.bbox, matrix, width, height)) for w in line.words))
        for line in truth_lines
    ]
    paper = rng.uniform(225, 245) + rng.normal(0, 6, (height, width))
    paper = cv2.GaussianBlur(paper.astype(np.float32), (0, 0), 1.2)
    ink_level = rng.uniform(20, 60)
    page = paper - (ink / 255.0) * (paper - ink_level)
    page = cv2.GaussianBlur(page, (0, 0), 0.6) + rng.normal(0, 4, (height, width))
    return SyntheticPage(np.clip(page, 0, 255).astype(np.uint8), dpi, tuple(truth_lines))


def _rotate_box(box: BBox, matrix: np.ndarray, width: int, height: int) -> BBox:
    corners = np.array(
        [[box.left, box.top], [box.right, box.top], [box.left, box.bottom], [box.right, box.bottom]], float
    )
    mapped = corners @ matrix[:, :2].T + matrix[:, 2]
    left, top = np.floor(mapped.min(axis=0)).astype(int)
    right, bottom = np.ceil(mapped.max(axis=0)).astype(int)
    return BBox(int(left), int(top), int(right), int(bottom)).clip(width, height)

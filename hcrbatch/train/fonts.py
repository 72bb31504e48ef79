"""Character images rendered from Debian's handwriting fonts, with random affine jitter.

They give the classes EMNIST lacks (punctuation) and a second style of hand-printing.
"""

from __future__ import annotations

import glob
import math
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from hcrbatch.glyphs import normalise_glyph
from hcrbatch.train.datasets import GlyphSet

# Debian packages: fonts-dkg-handwriting fonts-sjfonts fonts-breip fonts-ecolier-court. (fonts-femkeklaver
# is left out: its capitals and digits are hollow outlines, not handwriting.)
HANDWRITING_FONT_GLOBS = (
    "/usr/share/fonts/truetype/fifthhorseman/dkg*.ttf",
    "/usr/share/fonts/truetype/sjfonts/*.ttf",
    "/usr/share/fonts/truetype/breip/*.ttf",
    "/usr/share/fonts/truetype/ecolier-court/*.ttf",
)


def handwriting_fonts(patterns: tuple[str, ...] = HANDWRITING_FONT_GLOBS) -> list[Path]:
    return sorted(Path(p) for pattern in patterns for p in glob.glob(pattern))


def render_char(char: str, font: ImageFont.FreeTypeFont, rng: np.random.Generator) -> np.ndarray:
    """White-on-black rendering of one character, sheared, rotated and stroke-jittered."""
    left, top, right, bottom = font.getbbox(char)
    pad = font.size // 2
    size = max(right - left, bottom - top) + 2 * pad
    canvas = Image.new("L", (size, size), 0)
    x = (size - (right - left)) // 2 - left
    y = (size - (bottom - top)) // 2 - top
    ImageDraw.Draw(canvas).text((x, y), char, font=font, fill=255)
    img = np.asarray(canvas)
    shear = rng.uniform(-0.3, 0.3)
    angle = math.radians(rng.uniform(-8, 8))
    scale_x = rng.uniform(0.85, 1.15)
    c, s = math.cos(angle), math.sin(angle)
    matrix = np.array([[c * scale_x, -s + shear, 0], [s, c, 0]], np.float32)
    center = np.array([size / 2, size / 2])
    matrix[:, 2] = center - matrix[:, :2] @ center
    img = cv2.warpAffine(img, matrix, (size, size), flags=cv2.INTER_LINEAR)
    grow = int(rng.integers(-1, 3))
    if grow > 0:
        img = cv2.dilate(img, np.ones((grow + 1, grow + 1), np.uint8))
    elif grow < 0:
        eroded = cv2.erode(img, np.ones((2, 2), np.uint8))
        img = eroded if eroded.max() > 127 else img
    return img


def render_font_glyphs(charset: str, per_class: int, seed: int) -> GlyphSet:
    """`per_class` renderings of every character, spread evenly over the installed fonts."""
    fonts = handwriting_fonts()
    if not fonts:
        return GlyphSet.concat([], "fonts")
    rng = np.random.default_rng(seed)
    loaded = [ImageFont.truetype(str(path), size) for path in fonts for size in (40, 56)]
    images, labels = [], []
    for char in charset:
        for i in range(per_class):
            glyph = render_char(char, loaded[i % len(loaded)], rng)
            if glyph.max() > 127:
                images.append(normalise_glyph(glyph))
                labels.append(char)
    return GlyphSet(np.stack(images), np.array(labels, dtype=object), "fonts:" + ",".join(p.name for p in fonts))

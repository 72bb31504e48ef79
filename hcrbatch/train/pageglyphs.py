"""Training glyphs as the pipeline sees them: characters laid out as pages and cut by hcrbatch's own segmenter.

A glyph read from a scanned page has been binarised, cut out of its line by the segmenter and
normalised; an EMNIST row went through none of that, and the network reads glyphs cut from pages
of held-out EMNIST characters far worse than the same characters as rows (benchmarks/log/
2026-11-30.md). Here training characters are written as pages (`synth.GlyphHand`: each glyph scaled to
its letter's place on the line, words in the training rows' class mix or prose, paper noise, a small
rotation), the pages go through preprocessing and segmentation as a scan would, and every cut glyph
that matches a true character box becomes a training glyph with that character's label.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Literal

import numpy as np

from hcrbatch.api import segment_page
from hcrbatch.elements import BBox, PageImage
from hcrbatch.glyphs import normalise_glyph
from hcrbatch.synth import GlyphHand, render_page
from hcrbatch.train.datasets import GlyphSet, class_shares
from hcrbatch.train.text import punctuate, random_text

log = logging.getLogger(__name__)

MATCH_IOU = 0.5  # a cut glyph stands for a true character when their boxes overlap this much


def cut_glyphs(page: PageImage, chars: list[tuple[str, BBox]]) -> tuple[list[np.ndarray], list[str]]:
    """The segmenter's glyphs on `page` that match a true (label, box), as ink crops, with their labels;
    a character the segmenter merged with a neighbour or broke apart has no match and is left out."""
    clean, seg = segment_page(page)
    glyphs = [(clean.to_page(g.bbox), g) for line in seg.lines for word in line.words for g in word.glyphs]
    crops, labels = [], []
    for label, box in chars:
        best = max(glyphs, key=lambda found: found[0].iou(box), default=None)
        if best is not None and best[0].iou(box) >= MATCH_IOU:
            crops.append(seg.glyph_image(best[1]))
            labels.append(label)
    return crops, labels


def glyph_stacks(pool: GlyphSet) -> dict[str, np.ndarray]:
    """`pool`'s glyphs by label, as the 0-255 images `synth.GlyphHand` writes with."""
    return {str(c): (pool.images[pool.labels == c] * 255).astype(np.uint8) for c in np.unique(pool.labels)}


def class_mix_text(rng: np.random.Generator, shares: tuple[np.ndarray, np.ndarray], max_chars: int) -> str:
    """Words of 1-7 characters drawn at the class `shares` (`class_shares`), punctuated like prose, at
    most `max_chars` long.

    Prose is mostly lower-case letters, so its glyphs would move the network's class prior away from
    the training rows' (a lone `1` read as `l`); these words keep the rows' prior, and prose's commas
    and full stops as a page shows them. Pages of prose are then read with prose's prior added at
    inference (`charcnn.prose_prior`), so one network serves isolated characters and running text
    (benchmarks/log/, sessions 13 and 14).
    """
    classes, probabilities = shares
    drawn = rng.choice(classes, size=max_chars, p=probabilities)
    words, start = [], 0
    while True:
        end = start + int(rng.integers(1, 8))
        word, _ = punctuate("".join(drawn[start:end]), rng)
        if len(" ".join([*words, word])) > max_chars:
            return " ".join(words)
        words.append(word)
        start = end


def page_glyphs(pool: GlyphSet, pages: int, seed: int, text: Literal["prose", "class-mix"] = "class-mix") -> GlyphSet:
    """Glyphs cut from `pages` pages written with the glyphs of `pool` (normalised, white on black),
    in prose or in words drawn at `pool`'s class frequencies (`class_mix_text`)."""
    stacks = glyph_stacks(pool)
    shares = class_shares(pool.labels)
    rng = np.random.default_rng([seed, 1])
    images, labels, written = [], [], 0
    for index in range(pages):
        dpi = int(rng.choice([200, 250, 300]))
        hand = GlyphHand(stacks, cap_height=int(dpi * rng.uniform(0.13, 0.17)))
        if text == "prose":
            paragraphs = [random_text(rng, 600) for _ in range(4)]
        else:
            paragraphs = [class_mix_text(rng, shares, 600) for _ in range(4)]
        page = render_page(paragraphs, hand, rng, dpi=dpi)
        chars = [(c, box) for line in page.lines for word in line.words for c, box in word.chars]
        crops, found = cut_glyphs(PageImage(Path(f"page-glyphs-{index}"), index, page.pixels, dpi), chars)
        images += [normalise_glyph(crop) for crop in crops]
        labels += found
        written += len(chars)
    log.info("page glyphs: %d of %d characters on %d pages cut as written", len(labels), written, pages)
    if not images:
        return GlyphSet.concat([], "page glyphs")
    return GlyphSet(np.stack(images), np.array(labels, dtype=object), "page glyphs")

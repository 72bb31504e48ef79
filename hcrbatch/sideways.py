"""Writing that runs up or down the page: a note up a letter's margin, a clerk's line up a will's edge.

Segmentation finds lines that run across the page; a block of sideways writing comes out as short
lines cutting across its lines, read as nonsense, or is lost. Each stretch of writing shows which
way its lines run in its line density (as `segment._line_density` blurs it): blurred along its lines,
writing keeps crests as dense as its letters; blurred across them, it smears into the gaps between
lines. Where, over a few letter heights, the writing's crests are denser blurred down the page than
across it, its components are taken for sideways and gathered into blocks (`sideways_blocks`). Each
block is then read as a page of its own turned a quarter either way (`turned_block`;
`pipeline.DocumentProcessor.with_sideways`) and kept only where that reads more characters likely
right than the page's own reading of it, so that a block the evidence takes wrongly for sideways (a
tall capital, a flourish, a stamp) is read where it lies, with its page.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np

from hcrbatch.elements import BBox, CleanPage
from hcrbatch.segment import writing_components

WORK_HEIGHT = 8.0  # pixels a letter is high on the copy the evidence is measured on: its blurs need no more
ALONG = 1.5  # letter heights: the blur along a supposed line (`segment.RIDGE_ALONG`) ...
ACROSS = 0.4  # ... and across it (`segment.RIDGE_ACROSS`)
CREST = 0.8  # letter heights: a crest is the densest place within this distance across the supposed line
NEIGHBOURHOOD = 1.5  # letter heights: each component's evidence is that of the writing this near it
BLOCK_GAP = 1.5  # letter heights: sideways writing this close is one block
BLOCK_LONG = 4.0  # letter heights: a block shorter than this down the page is no line of sideways writing
BLOCK_REACH = 1.0  # letter heights: ink mostly this near a block's sideways writing is the block's
BLOCK_MARGIN = 0.5  # letter heights of paper kept round a block's ink


@dataclass(frozen=True, eq=False)
class SidewaysBlock:
    """Writing whose lines run down the page: its box on the clean page, its ink (255) in it, and
    which of that ink the evidence took for sideways itself (the rest lies among it, within BLOCK_REACH)."""

    box: BBox
    ink: np.ndarray
    sideways: np.ndarray  # bool, the box's size


def _across_evidence(writing: np.ndarray, height: float) -> np.ndarray:
    """Per pixel, log(crest of the writing blurred across the page / crest blurred down it),
    averaged over the writing NEIGHBOURHOOD letter heights round: above 0 where lines run across
    the page, below 0 where they run down it."""
    across = cv2.GaussianBlur(writing, (0, 0), sigmaX=ALONG * height, sigmaY=ACROSS * height)
    down = cv2.GaussianBlur(writing, (0, 0), sigmaX=ACROSS * height, sigmaY=ALONG * height)
    reach = max(3, int(CREST * height)) | 1
    crest_across = cv2.dilate(across, np.ones((reach, 1), np.float32))
    crest_down = cv2.dilate(down, np.ones((1, reach), np.float32))
    floor = 1e-3  # of a density in [0, 1]: far from writing, neither way
    ratio = np.log((crest_across + floor) / (crest_down + floor)) * writing
    weight = cv2.GaussianBlur(writing, (0, 0), NEIGHBOURHOOD * height)
    return cv2.GaussianBlur(ratio, (0, 0), NEIGHBOURHOOD * height) / np.maximum(weight, 1e-6)


def sideways_blocks(ink: np.ndarray) -> list[SidewaysBlock]:
    """The blocks of writing on the clean page `ink` whose lines run down the page, left to right.
    Found on a copy shrunk until a letter is WORK_HEIGHT pixels high; a component too small to be
    seen there (a dot, a comma) goes with the block its box lies in."""
    labels, is_writing, height = writing_components(ink)
    if not is_writing.any():
        return []
    scale = min(1.0, WORK_HEIGHT / height)
    small_size = (max(1, round(ink.shape[1] * scale)), max(1, round(ink.shape[0] * scale)))
    small_labels = cv2.resize(labels, small_size, interpolation=cv2.INTER_NEAREST)
    small = cv2.resize(is_writing[labels].astype(np.float32), small_size, interpolation=cv2.INTER_AREA)
    evidence = _across_evidence(small, height * scale)
    # a writing component goes the way the evidence under its ink says, as a whole
    votes = np.bincount(small_labels.ravel(), weights=(evidence * small).ravel(), minlength=len(is_writing))
    down = is_writing & (votes < 0)
    if not down.any():
        return []
    gap = max(3, round(BLOCK_GAP * height * scale)) | 1
    shape = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (gap, gap))
    closed = cv2.morphologyEx(down[small_labels].astype(np.uint8), cv2.MORPH_CLOSE, shape)
    count, blocks, stats, _ = cv2.connectedComponentsWithStats(closed, connectivity=8)
    size = np.bincount(small_labels.ravel(), minlength=len(is_writing))
    reach = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (max(3, round(2 * BLOCK_REACH * height * scale)) | 1,) * 2)
    margin = round(BLOCK_MARGIN * height)
    found = []
    for k in range(1, count):
        left, top, width, tall = (int(v / scale) for v in stats[k, :4])
        if tall < BLOCK_LONG * height:
            continue
        # the ink mostly inside it, whichever way its own evidence went (a word among sideways
        # words is sideways), and every piece too small to be seen on the shrunk copy in its box
        region = cv2.dilate((blocks == k).astype(np.uint8), reach) > 0
        inside = np.bincount(small_labels[region], minlength=len(is_writing))
        held = (inside * 2 > size) | (size == 0)
        held[0] = False
        # looked for in the block's box widened by a letter height beyond its reach: what the
        # shrunk copy's rounding and a component lying partly outside add
        grow = round((BLOCK_REACH + 1) * height + 1 / scale)
        area = BBox(left - grow, top - grow, left + width + grow, top + tall + grow).clip(ink.shape[1], ink.shape[0])
        own = held[labels[area.top : area.bottom, area.left : area.right]]
        rows, columns = np.nonzero(own)
        if not len(rows):
            continue
        box = BBox(
            area.left + int(columns.min()) - margin,
            area.top + int(rows.min()) - margin,
            area.left + int(columns.max()) + 1 + margin,
            area.top + int(rows.max()) + 1 + margin,
        ).clip(ink.shape[1], ink.shape[0])
        own_sideways = down[labels[area.top : area.bottom, area.left : area.right]] & own
        block_ink = np.where(_moved(own, area, box), 255, 0).astype(np.uint8)
        found.append(SidewaysBlock(box, block_ink, _moved(own_sideways, area, box)))
    return sorted(found, key=lambda b: (b.box.left, b.box.top))


def _moved(mask: np.ndarray, area: BBox, box: BBox) -> np.ndarray:
    """`mask`, of the page's `area`, on its `box` instead: cut where it runs outside, False where it did not reach."""
    whole = box.union(area)
    placed = np.zeros((whole.height, whole.width), bool)
    placed[area.top - whole.top : area.bottom - whole.top, area.left - whole.left : area.right - whole.left] = mask
    return placed[box.top - whole.top : box.bottom - whole.top, box.left - whole.left : box.right - whole.left]


def leaving_out(block: SidewaysBlock, boxes: list[BBox]) -> SidewaysBlock | None:
    """The block without the pieces of its ink that lie mostly inside `boxes` (of the clean page)
    and that the evidence did not take for sideways themselves: the words the page's reading
    across is sure of, at the ends of lines crowded against a note. None where nothing is left."""
    count, labels = cv2.connectedComponents(block.ink, connectivity=8)
    covered = np.zeros(block.ink.shape, bool)
    for box in boxes:
        inside = box.shifted(-block.box.left, -block.box.top).clip(block.box.width, block.box.height)
        covered[inside.top : inside.bottom, inside.left : inside.right] = True
    size = np.bincount(labels.ravel(), minlength=count)
    dropped = (np.bincount(labels[covered], minlength=count) * 2 > size) & (
        np.bincount(labels[block.sideways], minlength=count) * 2 < size
    )
    dropped[0] = True
    kept = ~dropped[labels]
    if not kept.any():
        return None
    return replace(block, ink=np.where(kept, block.ink, 0).astype(np.uint8), sideways=block.sideways & kept)


def _quarter_turn(quarters: int, width: int, height: int) -> np.ndarray:
    """The 3×3 affine taking pixel centres of a `width` × `height` image to the image turned
    `quarters` quarter turns clockwise (as np.rot90(image, -quarters))."""
    turns = {
        0: [[1, 0, 0], [0, 1, 0]],
        1: [[0, -1, height - 1], [1, 0, 0]],
        2: [[-1, 0, width - 1], [0, -1, height - 1]],
        3: [[0, 1, 0], [-1, 0, width - 1]],
    }
    return np.vstack([np.array(turns[quarters % 4], np.float64), [0, 0, 1]])


def turned_block(clean: CleanPage, block: SidewaysBlock, quarters: int) -> CleanPage:
    """The block as a page of its own, turned `quarters` quarter turns clockwise: its ink only, the
    page's grey under it, and its boxes mapped back to the original page (`CleanPage.to_page`)."""
    ink = np.ascontiguousarray(np.rot90(block.ink, -quarters))
    crop = np.array([[1, 0, -block.box.left], [0, 1, -block.box.top], [0, 0, 1]], np.float64)
    to_page = np.vstack([clean.to_clean, [0, 0, 1]])
    to_block = _quarter_turn(quarters, block.box.width, block.box.height) @ crop @ to_page
    return replace(clean, ink=ink, marks=ink > 0, to_clean=to_block[:2])


def without_blocks(clean: CleanPage, blocks: list[SidewaysBlock]) -> CleanPage:
    """The page with these blocks' ink taken out: what is left is read as lines across the page."""
    ink = clean.ink.copy()
    for block in blocks:
        window = ink[block.box.top : block.box.bottom, block.box.left : block.box.right]
        window[block.ink > 0] = 0
    return replace(clean, ink=ink)

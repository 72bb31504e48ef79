"""Lines, then words, then characters, from the connected components of the ink.

Broken strokes and i-dots are merged into their letter, touching letters are cut at the thinnest
column near where the typical letter width says a cut belongs. Boxes are in the deskewed frame.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Protocol

import cv2
import numpy as np

from hcrbatch.config import SegmentConfig
from hcrbatch.elements import BBox, CleanPage, GlyphAlternative, GlyphBox, LineBox, Segmentation, WordBox


@dataclass
class _Component:
    label: int
    bbox: BBox
    area: int
    ink_row: float  # the row of the ink's centre of mass


def _components(ink: np.ndarray) -> tuple[np.ndarray, list[_Component]]:
    count, labels, stats, centroids = cv2.connectedComponentsWithStats(ink, connectivity=8)
    comps = [
        _Component(i, BBox(int(x), int(y), int(x + w), int(y + h)), int(area), float(centroids[i][1]))
        for i, (x, y, w, h, area) in enumerate(stats)
        if i > 0
    ]
    return labels, comps


LETTER_STROKES = 4.0  # a component with less ink than this many squares of the pen's width is a dot or speck


def _stroke_width(ink: np.ndarray) -> float:
    """The pen's width: the median length of the horizontal runs of ink. Specks (many, but each a
    few short runs) and blots (long runs, but few) barely move it."""
    steps = np.diff(np.pad(ink > 0, ((0, 0), (1, 1))).astype(np.int8), axis=1)
    starts, ends = np.nonzero(steps == 1), np.nonzero(steps == -1)
    return float(np.median(ends[1] - starts[1])) if len(starts[1]) else 1.0


def _letter_area(pen: float) -> float:
    """The least area of a letter; a dot, a comma's head or a speck is smaller. Scaled by the pen,
    not by the components' own sizes, which the specks of a noisy scan (hundreds of them) pull down
    and the blots of a dark one push up."""
    return LETTER_STROKES * pen**2


def _typical_height(comps: list[_Component]) -> float:
    """Median height of the components that are letters rather than dots and commas."""
    areas = np.array([c.area for c in comps])
    big = [c.bbox.height for c in comps if c.area >= 0.3 * np.median(areas)]
    return float(np.median(big)) if big else float(np.median([c.bbox.height for c in comps]))


JOINED_WIDTH = 2.0  # letter heights: a component wider than this is letters joined by the pen
JOINED_LOW = 0.5  # letter heights: a lower component is a ruling or a dash, not a word
JOINED_SPAN = 0.3  # of its columns: the least a joined-up word inks across the middle of its height


def joined_ink(labels: np.ndarray, comps: list[_Component], letter_area: float) -> float:
    """The share of a page's letter ink in joined-up words: components far wider than the page's
    letters are high, and inked across most of their middle rows. Joined-up script writes whole
    words in one stroke (0.2 to 0.9 of the ink on the cursive pages of the benchmarks); hand-printing
    leaves each letter apart but for a few touching pairs (at most 0.05 there). A ruling is too low
    to count, and a box drawn round a form's field has ink in its middle rows at its two sides only.
    Heights are of components with a letter's ink: the specks of a noisy scan would shrink them."""
    letters = [c for c in comps if c.area >= letter_area]
    if not letters:
        return 0.0
    height = float(np.median([c.bbox.height for c in letters]))
    joined = 0
    for c in letters:
        b = c.bbox
        if b.width > JOINED_WIDTH * height and b.height >= JOINED_LOW * height:
            middle = labels[b.top + b.height // 4 : b.bottom - b.height // 4, b.left : b.right] == c.label
            if middle.any(axis=0).mean() >= JOINED_SPAN:
                joined += c.area
    return joined / sum(c.area for c in letters)


# Line finding. Lines are found where the writing is densest: the page's letters (no brackets,
# rulings, outlines or frames) blurred much more along a line than across it leave a ridge along
# each line's x-height band, whatever the line's slope or curve, and however its ascenders and
# descenders touch its neighbours'. Ridge pieces are chained left to right into lines, and each
# letter joins the line whose ridge it holds. Sizes are in letter heights (`_letter_height`).
NOT_TEXT_TALL = 3.0  # a narrow or sparse component taller than this is no writing (`_is_not_writing`) ...
DROPPED_TALL = 5.0  # ... and taller than this joins no line at all (a margin bracket, a frame, an outline)
NARROW = 0.5  # of its height: a tall component narrower than this is a bracket or a rule
SPARSE = 0.05  # of its box: a tall component with less ink than this is an outline or a frame
RULING_WIDE = 6.0  # a component wider than this ...
RULING_INK = 0.8  # ... with less ink per column than this many pen widths is a single stroke: a ruling, an outline
RIDGE_ALONG = 1.5  # the blur's deviation along the line: joins a word's letters and close words
RIDGE_ACROSS = 0.4  # ... and across it: keeps neighbouring lines apart
RIDGE_WINDOW = 0.8  # a ridge is the densest row within this many rows (in letter heights) of its column
RIDGE_FLOOR = 0.08  # of the page's densest writing (99th percentile): fainter ridges are not lines
RIDGE_SHORTEST = 1.0  # a ridge piece shorter than this is a speck's or a dot's
CHAIN_GAP = 4.0  # ridge pieces this far apart along a line, ...
CHAIN_STEP = 0.5  # ... and this close in height where they meet, are one line;
CHAIN_GAP_SPACING = 2.0  # or, in line spacings (`_ridge_spacing`), this far apart ...
CHAIN_STEP_SPACING = 0.35  # ... and this close: faint or broken writing has small letters, not close lines
PARALLEL = 0.8  # ridge pieces over each other this close are crests of one line
STACKED_LONG = 3.0  # ridge pieces this long, over each other PARALLEL or more apart, are two lines' bodies
RIDGE_HOLD = 0.3  # a component holds a ridge when its ink lies within half this of the ridge's row
JOIN_NEAR = 1.0  # a component on no ridge joins the nearest ridge above or below within this distance
SPLIT_SHARE = 0.2  # of the ridge a component holds: where two lines have this much each, it is cut between them
SLIVER_MASS = 0.25  # of the typical line's ink (`_join_slivers`): a line with less is a sliver ...
SLIVER_HEIGHT = 0.6  # ... when lower than this share of the typical line's height ...
SLIVER_NARROW = 1.0  # ... or narrower than this (a blot, a dash), ...
SLIVER_GAP = 1.0  # ... and joins the nearest line above or below it within this gap, ...
SLIVER_REACH = CHAIN_GAP  # ... that reaches within this distance of it along the page
FRAME_BAND = 0.5  # letter heights: of ink dropped as no writing, what lies this near a line's ridge, ...
FRAME_WORD_INK = 1.5  # ... in pieces a letter height wide with this many pen widths of ink a column, is writing
BESIDE_BAND = 0.6  # of the lower line's height: two lines sharing this much of their band, no farther apart
# along the page than ridge pieces are chained (`_chain_reach`) ...
BESIDE_ROWS = PARALLEL  # ... and their ridges this close in height, are one line
BESIDE_SAME = 0.9  # ... or sharing this much of the taller's band, whatever their ridges
GUTTER_LINES = 5  # lines crossing a stretch of the page, at least, ...
GUTTER_SHARE = 0.8  # ... this share of which have no word there, ...
GUTTER_WIDE = 1.0  # ... this many letter heights wide: a gutter between columns (`_in_columns`) ...
COLUMN_WIDE = 8.0  # ... of writing at least this many letter heights wide (a table's cells are narrower)
STAMP_CLOSE = 0.5  # letter heights: ink closed this much (`_stamps`), ...
STAMP_SIDE = 3.0  # ... a shape at least this many letter heights each way, ...
STAMP_ASPECT = 1.6  # ... at most this much longer one way than the other, ...
STAMP_FILL = 0.55  # ... filling this much of its box (a disc fills 0.79), ...
STAMP_PAGE = 0.5  # ... within this share of the page's width and height ...
STAMP_PIECES = 8  # ... round at least this many pieces of ink, ...
STAMP_SOLID = 0.75  # ... closed over this much of its outline ...
STAMP_RING = 0.9  # ... or ringed by one piece spanning this much of it each way, is a stamp,
STAMP_SHARE = 0.5  # ... unless it holds more than this share of the page's letter ink
STAMP_WORK_CLOSE = 5  # pixels: the closing is done on a copy shrunk until it is this wide
FINER_PEN = 0.6  # of the page's pen: ink left out of every line, written at most this fine, ...
FINER_LETTERS = 4  # ... is looked at again for lines of its own of at least this many letters ...
FINER_HEIGHT = 0.25  # ... each at least this high (in the page's letter heights): specks are not letters


def _letter_height(comps: list[_Component], letter_area: float) -> float:
    """The height of the page's writing: the median height of the components with a letter's ink
    (a letter of hand-printing, a word of joined-up script), so that the many specks of a noisy
    scan do not count. (Weighted by ink, the few large words of a page read CREMMA's lines as fewer.)"""
    letters = [c for c in comps if c.area >= letter_area]
    if not letters:
        return float(np.median([c.bbox.height for c in comps]))
    return float(np.median([c.bbox.height for c in letters]))


def _is_not_writing(comp: _Component, height: float, pen: float, tall: float = NOT_TEXT_TALL) -> bool:
    """A long single stroke along the page (a ruling, an underline, the edge of an outline drawn
    round the text: one pen width of ink per column, where a word crosses each column several
    times), or a stroke far taller than the writing that is narrow (a bracket in the margin, a
    rule down it) or mostly empty (an outline, a frame): written words, however tall, are wider
    than high and inked across."""
    box = comp.bbox
    if box.width > RULING_WIDE * height > box.height and comp.area < RULING_INK * pen * box.width:
        return True
    return box.height > tall * height and (box.width < NARROW * box.height or comp.area < SPARSE * box.area)


BLUR_STEP = 8.0  # pixels of the along-the-line blur's deviation kept per column of the narrowed copy (`_line_density`)


def _line_density(writing: np.ndarray, along: float, across: float) -> np.ndarray:
    """`writing` blurred by a Gaussian of deviation `along` across the page and `across` down it.
    The blur along the line is a few letter heights wide, so it is made on a copy narrowed until
    the deviation is BLUR_STEP columns, then widened back: a page's blur in a tenth of the time
    (OpenCV's cost grows with the kernel), with rows, where the ridges are found, kept whole."""
    height, width = writing.shape
    step = max(1, int(along / BLUR_STEP))
    if step == 1:
        return cv2.GaussianBlur(writing, (0, 0), sigmaX=along, sigmaY=across)
    narrow = cv2.resize(writing, (max(1, round(width / step)), height), interpolation=cv2.INTER_AREA)
    scale = narrow.shape[1] / width
    # narrowing averages `step` columns, a box of variance step**2 / 12: the Gaussian makes up the rest
    sigma = np.sqrt(max(along**2 - step**2 / 12, 1.0)) * scale
    blurred = cv2.GaussianBlur(narrow, (0, 0), sigmaX=sigma, sigmaY=across)
    return cv2.resize(blurred, (width, height), interpolation=cv2.INTER_LINEAR)


def _writing_labels(comps: list[_Component], count: int, letter_area: float, height: float, pen: float) -> np.ndarray:
    """Per label of `count`, True for components with a letter's ink that are no ruling, bracket or
    frame (`_is_not_writing`)."""
    writing = np.zeros(count, bool)
    for c in comps:
        if c.area >= letter_area and not _is_not_writing(c, height, pen):
            writing[c.label] = True
    return writing


def _writing(labels: np.ndarray, comps: list[_Component], letter_area: float, height: float, pen: float) -> np.ndarray:
    """1.0 where the page's ink is writing (`_writing_labels`); float32, the page's size."""
    return _writing_labels(comps, int(labels.max()) + 1, letter_area, height, pen)[labels].astype(np.float32)


def writing_components(ink: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """The ink's component labels, which of them are writing (per label, `_writing_labels`) and the
    letter height, as `segment` measures them."""
    labels, comps = _components(ink)
    if not comps:
        return labels, np.zeros(1, bool), 1.0
    pen = _stroke_width(ink)
    letter_area = _letter_area(pen)
    height = _letter_height(comps, letter_area)
    return labels, _writing_labels(comps, int(labels.max()) + 1, letter_area, height, pen), height


def page_writing(ink: np.ndarray) -> tuple[np.ndarray, float]:
    """The page's writing (`_writing`) and its letter height, as `segment` measures them: what a
    learned line density (`hcrbatch.linefinder`) is given and scaled by."""
    labels, writing, height = writing_components(ink)
    return writing[labels].astype(np.float32), height


LineDensity = Callable[[np.ndarray, float], np.ndarray]  # (the page's writing, its letter height) -> density


class LineFinder(Protocol):
    """A learned line density (`hcrbatch.linefinder.LineFinder`), for pages whose share of joined-up
    ink (`joined_ink`) is at least its `joined_ink`: the script it learned from."""

    joined_ink: float

    def density(self, writing: np.ndarray, ink: np.ndarray, gray: np.ndarray, height: float) -> np.ndarray: ...


def _ridges(
    labels: np.ndarray,
    comps: list[_Component],
    letter_area: float,
    height: float,
    pen: float,
    learned: LineDensity | None = None,
) -> np.ndarray:
    """A label image of the ridge pieces of the page's writing (0 elsewhere): the crests of its
    line density, the writing blurred along the line or, given `learned`, a learned one."""
    writing = _writing(labels, comps, letter_area, height, pen)
    if learned is not None:
        density = learned(writing, height)
    else:
        density = _line_density(writing, RIDGE_ALONG * height, RIDGE_ACROSS * height)
    if not density.any():
        return np.zeros(labels.shape, np.int32)
    window = np.ones((max(3, int(RIDGE_WINDOW * height)) | 1, 1), np.float32)
    floor = RIDGE_FLOOR * np.percentile(density[density > 0], 99)
    crest = (density >= cv2.dilate(density, window)) & (density > floor)
    crest = cv2.dilate(crest.astype(np.uint8), np.ones((1, max(3, int(height / 2)) | 1), np.uint8))
    count, pieces, stats, _ = cv2.connectedComponentsWithStats(crest, connectivity=8)
    short = np.flatnonzero(stats[:, cv2.CC_STAT_WIDTH] < RIDGE_SHORTEST * height)
    pieces[np.isin(pieces, short)] = 0
    return pieces


@dataclass(frozen=True)
class _Ridge:
    label: int
    left: int
    right: int
    left_row: float  # the ridge's row at its left end
    right_row: float

    def row_at(self, column: float) -> float:
        share = (column - self.left) / max(self.right - self.left, 1)
        return self.left_row + share * (self.right_row - self.left_row)

    def rows_to(self, other: _Ridge) -> float | None:
        """How far below this piece `other` runs, at the middle of the columns both span; None
        where they span no column together."""
        left, right = max(self.left, other.left), min(self.right, other.right)
        if right <= left:
            return None
        return other.row_at((left + right) / 2) - self.row_at((left + right) / 2)


def _ridge_ends(pieces: np.ndarray, height: float) -> list[_Ridge]:
    out = []
    reach = max(1, int(height))
    count, _, stats, _ = cv2.connectedComponentsWithStats((pieces > 0).astype(np.uint8), connectivity=8)
    for x, y, w, h, _ in stats[1:]:
        window = pieces[y : y + h, x : x + w]
        for label in np.unique(window[window > 0]):
            rows, cols = np.nonzero(window == label)
            left, right = int(cols.min()), int(cols.max()) + 1
            out.append(
                _Ridge(
                    int(label),
                    x + left,
                    x + right,
                    y + float(np.median(rows[cols < left + reach])),
                    y + float(np.median(rows[cols >= right - reach])),
                )
            )
    return out


def _ridge_spacing(ridges: list[_Ridge], height: float) -> float | None:
    """The page's line spacing: the median distance from a ridge piece to the nearest piece below
    it that it overlaps along the page (pieces nearer than PARALLEL are crests of one line); None
    where no piece lies over another (a single line)."""
    below = []
    for a in ridges:
        distances = [d for b in ridges if (d := a.rows_to(b)) is not None and d >= PARALLEL * height]
        if distances:
            below.append(min(distances))
    return float(np.median(below)) if below else None


def _chain_reach(ridges: list[_Ridge], height: float) -> tuple[float, float]:
    """How far apart along the page (pixels) and how far off in height ridge pieces may be to be
    one line (`_chain_ridges`): CHAIN_GAP and CHAIN_STEP letter heights, or CHAIN_GAP_SPACING and
    CHAIN_STEP_SPACING of the page's line spacing where those are wider."""
    spacing = _ridge_spacing(ridges, height) or 0.0
    return max(CHAIN_GAP * height, CHAIN_GAP_SPACING * spacing), max(CHAIN_STEP * height, CHAIN_STEP_SPACING * spacing)


def _chain_ridges(ridges: list[_Ridge], height: float, reach: tuple[float, float]) -> dict[int, int]:
    """Ridge label -> line number: pieces that follow each other along a line (within `reach`,
    `_chain_reach`: the letter height of faint or broken writing is its fragments', so the page's
    line spacing counts too), each joined to its nearest follower, and pieces side by side less than PARALLEL
    apart (two crests of one line), the nearest first. Never two lines over each other: pieces
    are not joined where that would put in one line two pieces STACKED_LONG or longer that run
    over each other (more than a letter height along the page) PARALLEL or more apart, so that a
    word written between two lines, near enough to each to be a crest of it, joins the nearer and
    does not make the two one (a row of loops under a line, shorter, still joins it)."""
    longest_gap, highest_step = reach
    links = []
    for a in ridges:
        for b in ridges:
            gap = b.left - a.right
            if b.left > a.left and -height <= gap <= longest_gap:
                step = abs(b.left_row - a.right_row)
                if step < highest_step:
                    links.append((max(gap, 0) + 3 * step, a.label, b.label))
    follower: dict[int, int] = {}
    leader: dict[int, int] = {}
    for _, a, b in sorted(links):
        if a not in follower and b not in leader:
            follower[a], leader[b] = b, a
    parent = {r.label: r.label for r in ridges}
    members = {r.label: [r] for r in ridges}

    def stacked(p: _Ridge, q: _Ridge) -> bool:
        if min(p.right - p.left, q.right - q.left) < STACKED_LONG * height:
            return False
        if min(p.right, q.right) - max(p.left, q.left) <= height:
            return False
        return abs(p.rows_to(q)) >= PARALLEL * height

    def join(a: int, b: int) -> None:
        ra, rb = _root(parent, a), _root(parent, b)
        if ra == rb or any(stacked(p, q) for p in members[ra] for q in members[rb]):
            return
        parent[rb] = ra
        members[ra] += members.pop(rb)

    for a, b in follower.items():
        join(a, b)
    beside = []
    for a in ridges:  # two crests of one line (its x-height band and a row of loops), side by side
        for b in ridges:
            apart = a.rows_to(b)
            if a.label < b.label and apart is not None and abs(apart) < PARALLEL * height:
                beside.append((abs(apart), a.label, b.label))
    for _, a, b in sorted(beside):
        join(a, b)
    roots = sorted({_root(parent, r.label) for r in ridges})
    return {r.label: roots.index(_root(parent, r.label)) + 1 for r in ridges}


def _root(parent, item: int) -> int:
    """`item`'s group in a union-find forest `parent` (a dict or a list, each item's parent), halving
    the path on the way."""
    while parent[item] != item:
        parent[item] = parent[parent[item]]
        item = parent[item]
    return item


def _split_across_lines(
    comp: _Component, labels: np.ndarray, line_map: np.ndarray, lines: list[int], next_label: int
) -> list[tuple[int, _Component]]:
    """A component that holds the ridges of several lines (a descender run into the loop of a
    word below) cut into one part per line, each pixel to the line of the nearest ridge; parts
    after the first get new labels in `labels`."""
    b = comp.bbox
    own = labels[b.top : b.bottom, b.left : b.right] == comp.label
    window = line_map[b.top : b.bottom, b.left : b.right]
    seeds = np.isin(window, lines) & own
    _, nearest = cv2.distanceTransformWithLabels(
        (~seeds).astype(np.uint8), cv2.DIST_L2, 3, labelType=cv2.DIST_LABEL_PIXEL
    )
    seed_rows, seed_cols = np.nonzero(seeds)
    seed_line = np.zeros(len(seed_rows) + 1, np.int32)
    seed_line[nearest[seeds]] = window[seed_rows, seed_cols]  # the label of each seed pixel -> its line
    owner = np.where(own, seed_line[nearest], 0)
    parts = []
    for line in lines:
        rows, cols = np.nonzero(owner == line)
        if not rows.size:
            continue
        label = comp.label if not parts else next_label + len(parts) - 1
        if parts:
            labels[b.top + rows, b.left + cols] = label
        box = BBox(
            b.left + int(cols.min()), b.top + int(rows.min()), b.left + int(cols.max()) + 1, b.top + int(rows.max()) + 1
        )
        parts.append((line, _Component(label, box, int(rows.size), b.top + float(rows.mean()))))
    return parts


def _assign_to_lines(
    labels: np.ndarray,
    comps: list[_Component],
    letter_area: float,
    height: float,
    pen: float,
    learned: LineDensity | None = None,
) -> list[tuple[list[_Component], float]]:
    """The page's components grouped into lines, each with the row of its ridge, by the ridge they hold most of (`_ridges`), or
    the nearest ridge above or below them within JOIN_NEAR (an i's dot, a comma; a speck farther
    off joins none: within 0.6 letter heights only, the benchmarks' hand-printed pages lost their
    dots, char F1 0.964 -> 0.951); what is not writing (a margin bracket, a ruling, a frame) joins none. A component on
    the ridges of several lines is cut between them (`_split_across_lines`; `labels` changes)."""
    pieces = _ridges(labels, comps, letter_area, height, pen, learned)
    lookup = np.zeros(int(pieces.max()) + 1, np.int32)
    ridges = _ridge_ends(pieces, height)
    chain_reach = _chain_reach(ridges, height)
    for label, line in _chain_ridges(ridges, height, chain_reach).items():
        lookup[label] = line
    line_map = lookup[pieces]
    kernel = np.ones((max(1, int(RIDGE_HOLD * height)) | 1, 1), np.uint8)
    thick = cv2.dilate(line_map.astype(np.float32), kernel).astype(np.int32)  # line numbers, a few hundred at most
    lines: dict[int, list[_Component]] = {}
    next_label = int(labels.max()) + 1
    for comp in comps:
        b = comp.bbox
        if _is_not_writing(comp, height, pen, DROPPED_TALL):
            parts = _words_on_a_frame(comp, labels, line_map, height, pen, next_label)
            next_label += len(parts)
            for line, part in parts:
                lines.setdefault(line, []).append(part)
            continue
        window = thick[b.top : b.bottom, b.left : b.right]
        held = np.bincount(window[(labels[b.top : b.bottom, b.left : b.right] == comp.label) & (window > 0)])
        shared = [int(line) for line in np.flatnonzero(held) if held[line] >= SPLIT_SHARE * held.sum()]
        if len(shared) > 1 and comp.area >= letter_area:
            parts = _split_across_lines(comp, labels, thick, shared, next_label)
            next_label += len(parts) - 1
            for line, part in parts:
                lines.setdefault(line, []).append(part)
            continue
        if held.sum():
            lines.setdefault(int(held.argmax()), []).append(comp)
            continue
        reach = JOIN_NEAR * height  # only the rows within reach are looked at: a page's height is costly
        top = max(0, int(np.floor(comp.ink_row - reach)))
        rows, cols = np.nonzero(line_map[top : int(np.ceil(comp.ink_row + reach)) + 1, b.left : b.right])
        if rows.size:
            rows += top
            nearest = int(np.argmin(np.abs(rows - comp.ink_row)))
            if abs(rows[nearest] - comp.ink_row) < reach:
                lines.setdefault(int(line_map[rows[nearest], b.left + cols[nearest]]), []).append(comp)

    rows, cols = np.nonzero(line_map)
    numbers = line_map[rows, cols]
    ridge_row = {int(n): float(np.median(rows[numbers == n])) for n in lines}
    return _join_slivers(
        _join_side_by_side([(members, ridge_row[n]) for n, members in lines.items()], height, chain_reach[0]), height
    )


def _words_on_a_frame(
    comp: _Component, labels: np.ndarray, line_map: np.ndarray, height: float, pen: float, next_label: int
) -> list[tuple[int, _Component]]:
    """The words written into a component dropped as no writing (`_is_not_writing`: an outline drawn
    round a will's text, a margin bracket): a word whose pen ran into the outline is one piece of
    ink with it, and was dropped with it. Its part within FRAME_BAND of a line's ridge, or of where
    the ridge would run on within the chaining gap (the ridge of writing stops where the dropped ink
    begins), cut into pieces; a piece a letter height wide or more that crosses its columns more
    than once (FRAME_WORD_INK: where the outline's own single stroke crosses a line's band, it does
    not) joins that line, under a new label from `next_label` on in `labels`."""
    b = comp.bbox
    reach, along = max(1, int(FRAME_BAND * height)), int(CHAIN_GAP * height)
    top, bottom = max(0, b.top - reach), min(labels.shape[0], b.bottom + reach)
    left, right = max(0, b.left - along), min(labels.shape[1], b.right + along)
    window = line_map[top:bottom, left:right].astype(np.float32)
    band = cv2.dilate(window, np.ones((2 * reach + 1, 2 * along + 1), np.uint8)).astype(np.int32)
    band = band[b.top - top : b.top - top + b.height, b.left - left : b.left - left + b.width]
    owner = np.where(labels[b.top : b.bottom, b.left : b.right] == comp.label, band, 0)
    out = []
    for line in np.unique(owner[owner > 0]):
        count, pieces, stats, _ = cv2.connectedComponentsWithStats((owner == line).astype(np.uint8), connectivity=8)
        for k in range(1, count):
            x, y, w, h, area = (int(v) for v in stats[k])
            if w < height or area < FRAME_WORD_INK * pen * w:
                continue
            rows, cols = np.nonzero(pieces == k)
            label = next_label + len(out)
            labels[b.top + rows, b.left + cols] = label
            box = BBox(b.left + x, b.top + y, b.left + x + w, b.top + y + h)
            out.append((int(line), _Component(label, box, area, b.top + float(rows.mean()))))
    return out


def _stamps(ink: np.ndarray, comps: list[_Component], height: float, letter_area: float) -> dict[BBox, set[int]]:
    """The stamps on the page, each with the labels of the components inside it. A seal or a stamp
    struck on the page (a will's timbre fiscal, an archive's receipt stamp) is compact, round or
    square, many times the letter height each way, small beside the page, and either solid with
    print and drawing once its ink is closed by half a letter height, or held in a ring or frame of
    one stroke. Its pieces are no line of the page's text: put into the nearest line, they read as
    noise at its start. Writing closed so becomes bands along the page, or blocks whose lines touch
    at their ascenders and descenders; a block's outline may fill its box as a stamp's does, but the
    gaps between its lines stay open inside it, and no stroke rings it. (Every other CREMMA will and
    seven Hooker letters: tax stamps closed to 0.79-1.00 of their outline, ringed stamps had a ring
    spanning 0.89-0.99 of them; blocks of writing closed to 0.15-0.69 and spanned four fifths of the
    page or more. Faint oval archive stamps whose ring is broken are left to be read as before.)
    A short note written so close that it closes solid is told by its share of the page's letters:
    a stamp beside the writing holds few of them. A page bearing a stamp alone is read as before."""
    scale = min(1.0, STAMP_WORK_CLOSE / (STAMP_CLOSE * height))  # judged on a copy: a page-wide closing is slow
    small = cv2.resize(ink, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else ink
    size = max(3, round(STAMP_CLOSE * height * scale)) | 1
    closed = cv2.morphologyEx(
        (small > 0).astype(np.uint8), cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
    )
    outlines, _ = cv2.findContours(closed, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    stamps: dict[BBox, set[int]] = {}
    for outline in outlines:
        x, y, w, h = (v / scale for v in cv2.boundingRect(outline))
        if min(w, h) < STAMP_SIDE * height or max(w, h) > STAMP_ASPECT * min(w, h):
            continue
        if w > STAMP_PAGE * ink.shape[1] or h > STAMP_PAGE * ink.shape[0]:
            continue
        area = cv2.contourArea(outline)
        if area / scale**2 < STAMP_FILL * w * h:
            continue
        box = BBox(int(x), int(y), int(np.ceil(x + w)), int(np.ceil(y + h)))
        inside = [c for c in comps if box.left <= c.bbox.left and c.bbox.right <= box.right
                  and box.top <= c.bbox.top and c.bbox.bottom <= box.bottom]  # fmt: skip
        if len(inside) < STAMP_PIECES:
            continue
        within = np.zeros(closed.shape, np.uint8)
        cv2.drawContours(within, [outline], -1, 1, cv2.FILLED)
        solid = np.count_nonzero(closed & within) >= STAMP_SOLID * np.count_nonzero(within)
        ringed = any(c.bbox.width >= STAMP_RING * w and c.bbox.height >= STAMP_RING * h for c in inside)
        if solid or ringed:
            stamps[box] = {c.label for c in inside}
    letters = {c.label: c.area for c in comps if c.area >= letter_area}
    for box, pieces in list(stamps.items()):
        if sum(letters.get(label, 0) for label in pieces) > STAMP_SHARE * sum(letters.values()):
            del stamps[box]  # most of the page's writing: a note written close, not a stamp beside it
    return stamps


def _finer_writing(
    labels: np.ndarray, comps: list[_Component], lines: list[tuple[list[_Component], float]], pen: float, height: float
) -> list[tuple[list[_Component], float]]:
    """Lines written with a finer pen than the page's hand, which the page's own measures took for
    specks: the printed letterhead of a written letter, a stamp's words, a note in pencil. A letter's
    least area is the page's pen squared (`_letter_area`), so beside a broad nib a printed capital has
    too little ink to count as writing, makes no ridge, and its line was dropped whole. The ink left
    out of every line is measured again by its own pen and letter height, and what it holds of lines
    (FINER_LETTERS letters at least) clear of the page's lines joins the page: within a line's box,
    such ink is the line's own hairlines and flourishes, which made a second line over the first."""
    taken = {c.label for members, _ in lines for c in members}
    left = [c for c in comps if c.label not in taken and c.bbox.height >= FINER_HEIGHT * height]
    if len(left) < FINER_LETTERS:
        return []
    window = BBox.enclosing([c.bbox for c in left])
    own = np.isin(labels[window.top : window.bottom, window.left : window.right], [c.label for c in left])
    fine_pen = _stroke_width(own)
    if fine_pen > FINER_PEN * pen:
        return []
    letter_area = _letter_area(fine_pen)
    if sum(c.area >= letter_area for c in left) < FINER_LETTERS:
        return []
    found = _assign_to_lines(labels, left, letter_area, _letter_height(left, letter_area), fine_pen)
    boxes = [BBox.enclosing([c.bbox for c in members]) for members, _ in lines]
    return [
        (members, row)
        for members, row in found
        if sum(c.area >= letter_area for c in members) >= FINER_LETTERS
        and not any(box.iou(BBox.enclosing([c.bbox for c in members])) > 0 for box in boxes)
    ]


def _join_side_by_side(
    lines: list[tuple[list[_Component], float]], height: float, longest_gap: float
) -> list[tuple[list[_Component], float]]:
    """Two lines on one band, end to end or overlapping along the page, are one line whose ridge broke
    (as `_chain_ridges` takes pieces over each other closer than PARALLEL for one line's crests):
    writing larger than the page's letter height (a letterhead's capitals, a will's first line) bends
    its ridge more than a letter height, so its pieces were not chained; a will's words written wide
    apart broke it too. Lines farther apart than ridge pieces are chained (`longest_gap`, pixels:
    a marginal note) stay apart. Two lines sharing BESIDE_SAME of the taller's band are one line
    whatever their ridges: the learned line density gave a printed letterhead's capitals, twice the
    page's letter height, two ridges a letter height apart, and each of their lines was read whole
    by Tesseract. The joined line keeps the ridge of its inkiest part."""
    boxes = [BBox.enclosing([c.bbox for c in line]) for line, _ in lines]
    ink = [sum(c.area for c in line) for line, _ in lines]
    parent = list(range(len(lines)))
    for i, j in itertools.combinations(range(len(lines)), 2):
        a, b = boxes[i], boxes[j]
        shared = min(a.bottom, b.bottom) - max(a.top, b.top)
        apart = max(b.left - a.right, a.left - b.right)
        level = abs(lines[i][1] - lines[j][1]) <= BESIDE_ROWS * height or shared >= BESIDE_SAME * max(
            a.height, b.height
        )
        if level and shared >= BESIDE_BAND * min(a.height, b.height) and apart <= longest_gap:
            parent[_root(parent, j)] = _root(parent, i)
    joined: dict[int, list[int]] = {}
    for i in range(len(lines)):
        joined.setdefault(_root(parent, i), []).append(i)
    return [
        ([c for i in members for c in lines[i][0]], lines[max(members, key=ink.__getitem__)][1])
        for members in joined.values()
    ]


def _join_slivers(lines: list[tuple[list[_Component], float]], height: float) -> list[tuple[list[_Component], float]]:
    """A line with little ink, lower than full lines, just above or below a line beside it (the
    tail of a blot, a detached loop, a few specks that made a ridge of their own) is part of it.
    Full lines are measured by the typical line: the one holding the median of the page's line ink,
    not the median line, which on a page of many slivers is itself a sliver (a will's accents and
    loops: the median line of a CREMMA page held a tenth of a written line's ink)."""
    if len(lines) < 2:
        return lines
    ink = [sum(c.area for c in line) for line, _ in lines]
    boxes = [BBox.enclosing([c.bbox for c in line]) for line, _ in lines]
    by_ink = np.argsort(ink, kind="stable")
    typical = by_ink[np.searchsorted(np.cumsum(np.asarray(ink)[by_ink]), sum(ink) / 2)]
    typical_ink, typical_height = float(ink[typical]), float(boxes[typical].height)
    target = list(range(len(lines)))
    for i in sorted(range(len(lines)), key=ink.__getitem__):
        if ink[i] >= SLIVER_MASS * typical_ink:
            break
        if boxes[i].height >= SLIVER_HEIGHT * typical_height and boxes[i].width >= SLIVER_NARROW * height:
            continue  # a short line as high as the others: a date, a signature, a page number
        near = [
            (max(boxes[j].top - boxes[i].bottom, boxes[i].top - boxes[j].bottom), j)
            for j in range(len(lines))
            if j != i
            and target[j] == j
            and max(boxes[j].left - boxes[i].right, boxes[i].left - boxes[j].right) <= SLIVER_REACH * height
        ]
        gap, j = min(near, default=(np.inf, i))
        if gap <= SLIVER_GAP * height:
            target[i] = j
            boxes[j] = boxes[j].union(boxes[i])
    joined: dict[int, list[_Component]] = {}
    for i, (line, _) in enumerate(lines):
        root = i
        while target[root] != root:
            root = target[root]
        joined.setdefault(root, []).extend(line)
    return [(comps, lines[root][1]) for root, comps in joined.items()]


def _group_glyphs(comps: list[_Component], line_height: float) -> list[list[_Component]]:
    """Merge components stacked over each other (broken strokes) into one glyph, then give each
    dot above the line's middle (i, j, accents) to the nearest glyph below it."""
    comps = sorted(comps, key=lambda c: c.bbox.left)
    line_mid = float(np.median([c.bbox.center_y for c in comps]))
    is_dot = [c.bbox.height < 0.4 * line_height and c.bbox.bottom < line_mid for c in comps]
    groups: list[list[_Component]] = []
    for comp, dot in zip(comps, is_dot):
        if dot:
            continue
        if groups:
            prev = BBox.enclosing([c.bbox for c in groups[-1]])
            overlap = min(prev.right, comp.bbox.right) - max(prev.left, comp.bbox.left)
            narrower = max(1, min(prev.width, comp.bbox.width))
            stacked = (
                comp.bbox.bottom <= prev.top + 0.3 * prev.height or comp.bbox.top >= prev.bottom - 0.3 * prev.height
            )
            if overlap >= 0.6 * narrower or (stacked and overlap >= 0.3 * narrower):
                groups[-1].append(comp)
                continue
        groups.append([comp])
    for comp, dot in zip(comps, is_dot):
        if not dot:
            continue
        centre = (comp.bbox.left + comp.bbox.right) / 2
        distances = [
            abs(centre - (BBox.enclosing([c.bbox for c in g]).left + BBox.enclosing([c.bbox for c in g]).right) / 2)
            for g in groups
        ]
        nearest = int(np.argmin(distances)) if distances else -1
        if nearest >= 0 and distances[nearest] < 0.5 * line_height:
            groups[nearest].append(comp)
        else:
            groups.append([comp])
    groups.sort(key=lambda g: min(c.bbox.left for c in g))
    return groups


def _split_touching(glyph: GlyphBox, labels: np.ndarray, typical_width: float, char_height: float) -> list[GlyphBox]:
    """Cut a glyph far wider than tall (letters that touch) at its thinnest columns.

    Single letters rarely exceed 1.7× their height (m, w are about 1.5×); the number of pieces comes
    from the page's typical letter width, capped by the glyph's own height. Short glyphs (dashes,
    underlines) are never cut.
    """
    box = glyph.bbox
    if box.width < 1.7 * box.height or box.height < 0.6 * char_height:
        return [glyph]
    letter_width = min(typical_width, 0.8 * box.height)
    pieces = int(round(box.width / letter_width))
    if pieces < 2:
        return [glyph]
    return _cut(glyph, labels, pieces, letter_width)


def _cut(glyph: GlyphBox, labels: np.ndarray, pieces: int, letter_width: float) -> list[GlyphBox]:
    """Cut a glyph into `pieces` at the thinnest columns near equal spacing."""
    box = glyph.bbox
    mask = np.isin(labels[box.top : box.bottom, box.left : box.right], glyph.components)
    columns = mask.sum(axis=0)
    cuts = [0]
    for k in range(1, pieces):
        guess = k * box.width // pieces
        lo = max(cuts[-1] + 2, guess - int(letter_width / 3))
        hi = min(box.width - 2, guess + int(letter_width / 3))
        cuts.append(lo + int(np.argmin(columns[lo:hi])) if hi > lo else guess)
    cuts.append(box.width)
    out = []
    for a, b in zip(cuts[:-1], cuts[1:]):
        rows = np.flatnonzero(mask[:, a:b].any(axis=1))
        if b > a and rows.size:
            piece = BBox(box.left + a, box.top + int(rows[0]), box.left + b, box.top + int(rows[-1]) + 1)
            out.append(GlyphBox(piece, glyph.components))
    return out or [glyph]


def cut_alternatives(glyphs: list[GlyphBox], labels: np.ndarray, line_height: float) -> list[GlyphAlternative]:
    """The cuts a corrector may prefer to the segmenter's own, for the lattice to weigh:
    two neighbours close enough and narrow enough together to be one letter (a broken stroke, a cut
    that should not have been made) become one glyph; a glyph wide for one letter yet not cut (two
    touching letters, `rn` for `m`) becomes two."""
    out = []
    for i, (a, b) in enumerate(zip(glyphs, glyphs[1:])):
        union = BBox.enclosing([a.bbox, b.bbox])
        gap = b.bbox.left - a.bbox.right
        if gap <= 0.12 * line_height and union.width <= 1.2 * union.height and union.height >= 0.5 * line_height:
            components = tuple(dict.fromkeys(a.components + b.components))
            out.append(GlyphAlternative(i, i + 2, (GlyphBox(union, components),)))
    for i, glyph in enumerate(glyphs):
        box = glyph.bbox
        if box.width >= 1.1 * box.height and box.height >= 0.6 * line_height:
            pieces = _cut(glyph, labels, 2, box.width / 2)
            if len(pieces) == 2 and min(p.bbox.width for p in pieces) >= 0.25 * box.height:
                out.append(GlyphAlternative(i, i + 1, tuple(pieces)))
    return out


def word_gap_threshold(gaps: list[int], base: float) -> float:
    """The gap that separates words on one line.

    `base` (word_gap × letter height) serves when the gaps do not fall into two clear groups; when
    they do (letter spacing and word spacing, as in most hands), the boundary between the groups is
    used, kept within 0.6–2× of `base`.
    """
    if len(gaps) < 4:
        return base
    ordered = np.sort(np.asarray(gaps, np.float64))
    best_cost, best_split = math.inf, 0
    for split in range(1, len(ordered)):
        low, high = ordered[:split], ordered[split:]
        cost = low.var() * len(low) + high.var() * len(high)
        if cost < best_cost:
            best_cost, best_split = cost, split
    low, high = ordered[:best_split], ordered[best_split:]
    if high.mean() < 2 * max(low.mean(), 1.0) or high.min() - low.max() < 0.1 * base:
        return base
    return float(np.clip((low.max() + high.min()) / 2, 0.6 * base, 2 * base))


def _split_words(glyphs: list[GlyphBox], base_gap: float) -> list[WordBox]:
    gaps, right_edge = [], glyphs[0].bbox.right
    for glyph in glyphs[1:]:
        gaps.append(glyph.bbox.left - right_edge)
        right_edge = max(right_edge, glyph.bbox.right)
    limit = word_gap_threshold(gaps, base_gap)
    words: list[list[GlyphBox]] = [[glyphs[0]]]
    for glyph, gap in zip(glyphs[1:], gaps):
        if gap > limit:
            words.append([glyph])
        else:
            words[-1].append(glyph)
    return [WordBox(BBox.enclosing([g.bbox for g in w]), tuple(w)) for w in words]


def segment(page: CleanPage, cfg: SegmentConfig, finder: LineFinder | None = None) -> Segmentation:
    """The page's lines, words and glyphs; its lines are found on `finder`'s learned line density
    where one is given and the page is written in the joined-up script it learned from, else on the
    writing blurred along the line (hand-printing: separate letters). Lines in a finer pen than the
    page's hand (`_finer_writing`) are looked for on the blur: the network reads the page's hand."""
    labels, comps = _components(page.ink)
    if not comps:
        return Segmentation((), labels)
    pen = _stroke_width(page.ink)
    letter_area = _letter_area(pen)
    char_height = _typical_height(comps)
    height = _letter_height(comps, letter_area)
    stamps = _stamps(page.ink, comps, height, letter_area)
    stamped = set().union(*stamps.values())
    text = [c for c in comps if c.label not in stamped]
    joined = joined_ink(labels, text, letter_area)  # before lines cut the components that join them
    learned = None
    if finder is not None and joined >= finder.joined_ink:
        learned = lambda writing, h: finder.density(writing, page.ink, page.gray, h)  # noqa: E731
    line_comps = _assign_to_lines(labels, text, letter_area, height, pen, learned)
    line_comps += _finer_writing(labels, text, line_comps, pen, height)
    if not line_comps:
        return Segmentation((), labels, joined, tuple(stamps))
    grouped = [_group_glyphs(line, char_height) for line, _ in line_comps]
    boxes = [BBox.enclosing([c.bbox for c in g]) for groups in grouped for g in groups]
    single = [b.width for b in boxes if b.width < 1.3 * b.height and b.height > 0.5 * char_height]
    typical_width = float(np.median(single)) if single else 0.8 * char_height
    lines = []
    for groups, (_, ridge_row) in zip(grouped, line_comps):
        glyphs = [GlyphBox(BBox.enclosing([c.bbox for c in g]), tuple(c.label for c in g)) for g in groups]
        if cfg.split_touching:
            glyphs = [piece for g in glyphs for piece in _split_touching(g, labels, typical_width, char_height)]
        line_height = float(np.median([g.bbox.height for g in glyphs]))
        words = _split_words(glyphs, cfg.word_gap * max(line_height, 0.6 * char_height))
        if cfg.cut_alternatives:
            words = [
                replace(w, alternatives=tuple(cut_alternatives(list(w.glyphs), labels, line_height))) for w in words
            ]
        lines.append(LineBox(BBox.enclosing([w.bbox for w in words]), tuple(words), ridge_row))
    return Segmentation(tuple(_in_columns(lines, height)), labels, joined, tuple(stamps))


def _in_columns(lines: list[LineBox], height: float) -> list[LineBox]:
    """The page's lines in reading order, cut at the gutters between columns of writing: a stretch
    of the page GUTTER_WIDE letter heights wide where most of the lines crossing it (GUTTER_SHARE,
    at least GUTTER_LINES of them) have no word, between columns at least COLUMN_WIDE letter
    heights wide. Two columns' lines, written at about the same heights, were chained into one line
    across the page, read left column, right column, left column; on a letter a word gap falls there
    on one line or two, not on most; a table's cells (a word or a figure each) stay read row by row.
    Each column's lines are read top to bottom, the columns left to right; lines above and below
    the rows the columns share keep their place."""
    by_middle = sorted(lines, key=lambda line: line.middle)
    if len(lines) < GUTTER_LINES:
        return by_middle
    left = min(line.bbox.left for line in lines)
    width = max(line.bbox.right for line in lines) - left
    crossing = np.zeros((len(lines), width), bool)
    worded = np.zeros((len(lines), width), bool)
    for i, line in enumerate(lines):
        crossing[i, line.bbox.left - left : line.bbox.right - left] = True
        for word in line.words:
            worded[i, word.bbox.left - left : word.bbox.right - left] = True
    crossed = crossing.sum(axis=0)
    is_gap = (crossed >= GUTTER_LINES) & ((crossing & ~worded).sum(axis=0) >= GUTTER_SHARE * crossed)
    steps = np.diff(np.concatenate([[0], is_gap.astype(np.int8), [0]]))
    candidates = [
        left + int(start + end) // 2
        for start, end in zip(np.nonzero(steps == 1)[0], np.nonzero(steps == -1)[0])
        if end - start >= GUTTER_WIDE * height
    ]
    edges = [left, *candidates, left + width]
    gutters = [
        gutter
        for before, gutter, after in zip(edges, edges[1:], edges[2:])
        if min(gutter - before, after - gutter) >= COLUMN_WIDE * height
    ]
    pieces = [_cut_at(line, gutters) for line in lines]
    cut = [piece for parts in pieces if len(parts) > 1 for piece in parts]
    if not cut:
        return by_middle
    top, bottom = min(p.bbox.top for p in cut), max(p.bbox.bottom for p in cut)

    def place(line: LineBox) -> tuple[int, int, float]:
        """Lines above the columns, then column by column, then lines below them."""
        band = 0 if line.bbox.center_y < top else 2 if line.bbox.center_y > bottom else 1
        column = _column(line.bbox, gutters) if band == 1 else 0
        return band, column, line.middle

    return sorted((piece for parts in pieces for piece in parts), key=place)


def _cut_at(line: LineBox, gutters: list[int]) -> list[LineBox]:
    """The line in pieces, one per stretch between `gutters` holding any of its words; a piece's
    ridge moves with its words' middle from the line's (two columns' lines chained into one seldom
    lie at one height)."""
    groups: dict[int, list[WordBox]] = {}
    for word in line.words:
        groups.setdefault(_column(word.bbox, gutters), []).append(word)
    if len(groups) < 2:
        return [line]
    whole = float(np.median([w.bbox.center_y for w in line.words]))
    return [
        LineBox(
            BBox.enclosing([w.bbox for w in words]),
            tuple(words),
            line.middle + float(np.median([w.bbox.center_y for w in words])) - whole,
        )
        for _, words in sorted(groups.items())
    ]


def _column(box: BBox, gutters: list[int]) -> int:
    """Which column (between the sorted `gutters`, from 0 at the left) a box's middle lies in."""
    return bisect.bisect_left(gutters, box.center_x)

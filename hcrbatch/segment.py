"""Lines, then words, then characters, from the connected components of the ink.

Broken strokes and i-dots are merged into their letter, touching letters are cut at the thinnest
column near where the typical letter width says a cut belongs. Boxes are in the deskewed frame.
"""

from __future__ import annotations

import math
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, replace

import cv2
import numpy as np

from hcrbatch.config import SegmentConfig
from hcrbatch.elements import BBox
from hcrbatch.preprocess import CleanPage


@dataclass(frozen=True)
class GlyphBox:
    bbox: BBox
    components: tuple[int, ...]  # labels in Segmentation.labels that make up this glyph


@dataclass(frozen=True)
class GlyphAlternative:
    """glyphs[start:end] of a word may instead be these glyphs (see `cut_alternatives`)."""

    start: int
    end: int
    glyphs: tuple[GlyphBox, ...]


@dataclass(frozen=True)
class WordBox:
    bbox: BBox
    glyphs: tuple[GlyphBox, ...]
    alternatives: tuple[GlyphAlternative, ...] = ()


@dataclass(frozen=True)
class LineBox:
    bbox: BBox
    words: tuple[WordBox, ...]
    middle: float  # the row its writing centres on (`_ink_middle`); a stroke reaching into a neighbour stretches the box, not this


@dataclass(frozen=True, eq=False)
class Segmentation:
    lines: tuple[LineBox, ...]
    labels: np.ndarray  # connected-component label image of the clean page
    joined_ink: float = 0.0  # see `joined_ink`: near 0 on hand-printing, most of the ink in joined-up script

    def glyph_image(self, glyph: GlyphBox) -> np.ndarray:
        """The glyph's own ink (255) inside its box; ink of neighbours overlapping the box is left out."""
        b = glyph.bbox
        window = self.labels[b.top : b.bottom, b.left : b.right]
        return np.where(np.isin(window, glyph.components), 255, 0).astype(np.uint8)


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


# Rows whose smoothed ink is under this share of a full line's are gaps between lines: low enough
# that a short line (a date, a signature, a page number) is still a line of its own; the slivers
# this lets through are joined to their line by _merge_slivers.
LINE_INK = 0.03
SLIVER_MASS = 0.25  # of the median line's ink: less is a sliver, not a line
SLIVER_GAP = 1.0  # of the character height: a sliver this close to a line belongs to it
SLIVER_HEIGHT = 0.6  # of the median line's height: a band this high is a short line, however little its ink


def _line_bands(ink: np.ndarray, char_height: float, pen: float) -> list[tuple[int, int]]:
    """Row ranges of text lines from the smoothed horizontal ink profile; tall bands are split."""
    profile = (ink > 0).sum(axis=1).astype(np.float64)
    window = max(3, int(char_height / 3) | 1)
    smooth = np.convolve(profile, np.ones(window) / window, mode="same")
    if smooth.max() <= 0:
        return []
    threshold = LINE_INK * np.percentile(smooth[smooth > 0], 90)
    above = smooth > threshold
    bands, start = [], None
    for row, on in enumerate(np.append(above, False)):
        if on and start is None:
            start = row
        elif not on and start is not None:
            bands.append((start, row))
            start = None
    bands = [b for b in bands if b[1] - b[0] >= 0.4 * char_height] or bands
    found = set(bands)
    pitch = _line_pitch(smooth, char_height, pen)
    bands = _split_tall_bands(bands, smooth, char_height, pitch)
    # cut at the profile's own spacing, a piece is a line as much as a band found whole, and a line
    # stays cut at its new top edges; the median-band guess may cut a loop off
    pieces = set(bands) - found if pitch else set()
    cuts = {top for top, _ in pieces} - {top for top, _ in found}
    if len(bands) < VALLEY_PAGE_BANDS:
        bands = [part for band in bands for part in _split_at_valleys(band, smooth, char_height)]
    return _merge_slivers(bands, profile, char_height, cuts, whole=found | pieces)


VALLEY_DEPTH = 0.3  # of the lower of the ink peaks on either side: a row this empty parts two lines
VALLEY_PART = 1.2  # character heights: the least a line cut off at a valley may be
VALLEY_PAGE_BANDS = 3  # pages with fewer bands have no spacing of their own to cut merged lines at


def _split_at_valleys(band: tuple[int, int], smooth: np.ndarray, char_height: float) -> list[tuple[int, int]]:
    """Cut a band at its emptiest row while that row holds far less ink than the lines above and
    below it: lines that touch where a few descenders meet ascenders, on a page too short for a
    line spacing to show (a will of five lines)."""
    top, bottom = band
    margin = int(VALLEY_PART * char_height)
    if bottom - top <= 2 * margin:
        return [band]
    row = top + margin + int(np.argmin(smooth[top + margin : bottom - margin]))
    if smooth[row] >= VALLEY_DEPTH * min(smooth[top:row].max(), smooth[row:bottom].max()):
        return [band]
    return _split_at_valleys((top, row), smooth, char_height) + _split_at_valleys((row, bottom), smooth, char_height)


def _merge_slivers(
    bands: list[tuple[int, int]],
    profile: np.ndarray,
    char_height: float,
    cuts: AbstractSet[int] = frozenset(),
    whole: AbstractSet[tuple[int, int]] = frozenset(),
) -> list[tuple[int, int]]:
    """Join a band with little ink that nearly touches a neighbour to that neighbour: on cursive
    pages the loops of ascenders and descenders, dots and specks between two lines leave slivers
    of profile that are not lines of their own, and lower than lines are. A short line stays: one
    standing apart (a page number); one the profile found `whole`, or cut off at the profile's own
    spacing (with any sliver it took in since), and about as high as the page's full lines (a date
    or a signature under the text, one short word touching the line above: on the benchmarks'
    training pages, 88 in 100 of the bands this high that were joined as slivers belonged to
    another line); and one parted from its neighbour at a `cuts` row, where the
    spacing of the page's ink profile put a line's edge (a one-word title whose tails touch the
    line below). Pieces cut at the median-band guess (a page with no spacing of its own) may
    still be joined back."""
    bands, whole = list(bands), set(whole)
    while len(bands) > 1:
        mass = [float(profile[a:b].sum()) for a, b in bands]
        typical = float(np.median(mass))
        full = [b - a for (a, b), m in zip(bands, mass) if m >= SLIVER_MASS * typical]  # specks make low bands
        line_height = SLIVER_HEIGHT * float(np.median(full))
        merged = False
        for i in sorted(range(len(bands)), key=mass.__getitem__):
            if mass[i] >= SLIVER_MASS * typical:
                break
            if bands[i] in whole and bands[i][1] - bands[i][0] >= line_height:
                continue
            gaps = [(bands[i][0] - bands[j][1], j) for j in (i - 1,) if j >= 0 and bands[i][0] not in cuts]
            gaps += [(bands[j][0] - bands[i][1], j) for j in (i + 1,) if j < len(bands) and bands[j][0] not in cuts]
            gap, j = min(gaps, default=(np.inf, i))
            if gap <= SLIVER_GAP * char_height:
                lo, hi = min(i, j), max(i, j)
                joined = (bands[lo][0], bands[hi][1])
                if bands[j] in whole:  # a line that took in a sliver is still the line the profile found
                    whole.add(joined)
                bands[lo : hi + 1] = [joined]
                merged = True
                break
        if not merged:
            break
    return bands


PITCH_DETREND = 4.0  # character heights: profile changes slower than this are not line spacing
PITCH_MAX = 6.0  # character heights: the widest line spacing looked for
PITCH_HARMONIC = 0.7  # a peak this near the highest is the spacing; the higher ones are its multiples
PITCH_CORRELATION = 0.2  # a weaker repeat than this is no regular spacing
PITCH_MIN_STROKES = 9.0  # pen widths: a shorter repeat is the strokes of one line, not its spacing
TALL_BAND_BY_PITCH = 1.5  # line spacings: a band this tall holds more than one line
TALL_BAND = 2.2  # median bands, where the page gives no spacing (a median that merged lines inflate)


def _line_pitch(smooth: np.ndarray, char_height: float, pen: float) -> float | None:
    """Rows from one text line to the next: the first strong peak of the ink profile's
    autocorrelation after its first trough, the profile's slow changes (a dense half page, a
    blank one) taken out first. None where the page has no regular spacing to find (a few lines,
    lines at odd distances)."""
    window = min(int(PITCH_DETREND * char_height), len(smooth) - 1) | 1
    if len(smooth) < 3 * char_height or window < 3:
        return None
    centred = smooth - np.convolve(smooth, np.ones(window) / window, mode="same")
    energy = float(np.dot(centred, centred))
    if energy <= 0:
        return None
    corr = np.correlate(centred, centred, mode="full")[len(centred) - 1 :] / energy
    rising = np.flatnonzero(np.diff(corr) >= 0)  # the first trough ends the fall from lag 0
    if not len(rising):
        return None
    trough, last = int(rising[0]), min(len(corr) // 2, int(PITCH_MAX * char_height))
    if last <= trough + 2:
        return None
    span = corr[trough:last]
    peaks = [k for k in range(1, len(span) - 1) if span[k - 1] <= span[k] >= span[k + 1]]
    strong = [k for k in peaks if span[k] >= PITCH_HARMONIC * span.max()]
    if not strong or span[strong[0]] < PITCH_CORRELATION or trough + strong[0] < PITCH_MIN_STROKES * pen:
        return None
    return float(trough + strong[0])


def middle_spacings(spans: list[tuple[float, float]]) -> np.ndarray:
    """Distances between the middles of neighbouring row spans (lines, bands), top to bottom."""
    return np.diff(sorted((top + bottom) / 2 for top, bottom in spans))


def _split_tall_bands(
    bands: list[tuple[int, int]], smooth: np.ndarray, char_height: float, pitch: float | None
) -> list[tuple[int, int]]:
    """Cut bands that hold several touching lines at the profile's lowest rows near where the line
    spacing puts the gaps. The spacing is the profile's own (`pitch`) where it has one; else,
    with three bands or more, the median distance between their middles (no less than the median
    band: the profile's autocorrelation finds no spacing on many cursive pages whose lines mostly
    stand apart); else the median band, which fails when most lines of a page have merged."""
    median_band = float(np.median([b - a for a, b in bands])) if bands else 0.0
    if not pitch and len(bands) >= 3:
        # the bands' own spacing: merged pairs lengthen only a few of the distances
        pitch = max(float(np.median(middle_spacings(bands))), median_band)
    typical, tall = (pitch, TALL_BAND_BY_PITCH) if pitch else (median_band, TALL_BAND)
    out = []
    for top, bottom in bands:
        pieces = int(round((bottom - top) / typical)) if typical else 1
        if pieces < 2 or bottom - top < tall * max(typical, char_height):
            out.append((top, bottom))
            continue
        cuts = [top]
        for k in range(1, pieces):
            guess = top + k * (bottom - top) // pieces
            lo, hi = max(top + 1, guess - int(typical / 3)), min(bottom - 1, guess + int(typical / 3))
            cuts.append(lo + int(np.argmin(smooth[lo:hi])) if hi > lo else guess)
        cuts.append(bottom)
        out.extend(zip(cuts[:-1], cuts[1:]))
    return out


def _assign_to_lines(
    comps: list[_Component], bands: list[tuple[int, int]], letter_area: float
) -> list[list[_Component]]:
    """Each component joins the band that holds its ink's centre of mass (where a letter with a
    long descender or ascender has most of its ink, whatever its box overlaps), else the band
    holding most of its rows, else the nearest band if it is a letter; a dot or speck in no band
    (between lines, in a margin) joins none: added to a line, it stretched the line's box, and the
    line engine's crop, far from the line's ink."""
    lines: list[list[_Component]] = [[] for _ in bands]
    for comp in comps:
        best = next((i for i, (a, b) in enumerate(bands) if a <= comp.ink_row < b), None)
        if best is None:
            overlaps = [min(comp.bbox.bottom, b) - max(comp.bbox.top, a) for a, b in bands]
            best = int(np.argmax(overlaps))
            if overlaps[best] <= 0:
                if comp.area < letter_area:
                    continue
                best = int(np.argmin([abs(comp.bbox.center_y - (a + b) / 2) for a, b in bands]))
        lines[best].append(comp)
    return [line for line in lines if line]


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


def _ink_middle(comps: list[_Component]) -> float:
    """The median row of a line's ink, by its components' centres of mass weighted by their ink: a
    bracket, a flourish or a descender that reaches into the next line is a minority of the ink."""
    comps = sorted(comps, key=lambda c: c.ink_row)
    ink = np.cumsum([c.area for c in comps])
    return comps[int(np.searchsorted(ink, ink[-1] / 2))].ink_row


def segment(page: CleanPage, cfg: SegmentConfig) -> Segmentation:
    labels, comps = _components(page.ink)
    if not comps:
        return Segmentation((), labels)
    pen = _stroke_width(page.ink)
    letter_area = _letter_area(pen)
    char_height = _typical_height(comps)
    bands = _line_bands(page.ink, char_height, pen)
    line_comps = _assign_to_lines(comps, bands, letter_area) if bands else [comps]
    grouped = [_group_glyphs(line, char_height) for line in line_comps]
    boxes = [BBox.enclosing([c.bbox for c in g]) for groups in grouped for g in groups]
    single = [b.width for b in boxes if b.width < 1.3 * b.height and b.height > 0.5 * char_height]
    typical_width = float(np.median(single)) if single else 0.8 * char_height
    lines = []
    for groups in grouped:
        glyphs = [GlyphBox(BBox.enclosing([c.bbox for c in g]), tuple(c.label for c in g)) for g in groups]
        if cfg.split_touching:
            glyphs = [piece for g in glyphs for piece in _split_touching(g, labels, typical_width, char_height)]
        line_height = float(np.median([g.bbox.height for g in glyphs]))
        words = _split_words(glyphs, cfg.word_gap * max(line_height, 0.6 * char_height))
        if cfg.cut_alternatives:
            words = [
                replace(w, alternatives=tuple(cut_alternatives(list(w.glyphs), labels, line_height))) for w in words
            ]
        middle = _ink_middle([c for g in groups for c in g])
        lines.append(LineBox(BBox.enclosing([w.bbox for w in words]), tuple(words), middle))
    lines.sort(key=lambda line: line.middle)
    return Segmentation(tuple(lines), labels, joined_ink(labels, comps, letter_area))

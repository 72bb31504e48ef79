"""Pages whose reading cannot be right: writing that was not read, an image that stops short, or
more text than the ink holds.

The first two keep a page from coming out empty, or short, in silence.

A page's marks (what stands out of its paper by more than the paper's own noise, on the sheet and
not its frame: `CleanPage.marks`) are compared with what the reading accounts for, the marks inside
the boxes of the lines it read words on (each line's words enclosed, not the words' own boxes, which
leave out the strokes between words, underlines and flourishes). Stamps and seals the segmentation
set aside are no writing, and their marks are not counted. A blank page
has next to no marks and is never suspect; a page whose read lines hold under UNREAD_SUSPECT of its
marks lost most of its writing (a border that fooled the binarisation, lines segmentation lost, an
engine that read them as nothing). Stamps, seals, show-through and notes in the margin are marks
too: on the real training pages (benchmarks/real_segmentation.py's), read right, the lines held
from 0.52 (a will with a seal and registration stamps) to 0.99 of the marks (every third training
page, segmented lines as read).
"""

from __future__ import annotations

import numpy as np

from hcrbatch.elements import BBox, CleanPage, PageResult

# the least share of a page's pixels that its marks must cover for it to be judged at all: a few
# written words (a page number, a signature alone cover less; blank sheets, after the noise test,
# next to nothing)
WRITTEN_PAGE = 0.002
UNREAD_SUSPECT = 0.3  # a page whose read lines hold less than this share of its marks is suspect


def marks_read(clean: CleanPage, result: PageResult, stamps: tuple[BBox, ...] = ()) -> float | None:
    """The share of the page's marks inside the lines words were read on (in the deskewed frame),
    less the marks of the `stamps` segmentation set aside (deskewed frame), which are no writing to
    read; None where the page has too few marks to be judged (WRITTEN_PAGE)."""
    height, width = clean.marks.shape
    marks = clean.marks
    if stamps:
        marks = marks.copy()
        for box in stamps:
            marks[box.top : box.bottom, box.left : box.right] = False
    total = int(np.count_nonzero(marks))
    if total < WRITTEN_PAGE * marks.size:
        return None
    read = np.zeros(clean.marks.shape, bool)
    for line in result.lines:
        if not line.words:
            continue
        b = BBox.enclosing([w.bbox for w in line.words]).mapped(clean.to_clean).clip(width, height)
        read[b.top : b.bottom, b.left : b.right] = True
    return round(int(np.count_nonzero(marks & read)) / total, 4)


def is_suspect(page: PageResult) -> bool:
    """Most of the page's writing was not read, or its image stops short (`cut_short`)."""
    return (page.marks_read is not None and page.marks_read < UNREAD_SUSPECT) or page.cut_short > 0


CUT_SHORT_LEAST = 0.05  # of the page's height: a flat band at its foot this tall or taller
FLAT_SPREAD = 2  # grey levels a row of the band may span (a decoder's fill, not paper, which has grain)
OTHER_THAN_PAPER = 10  # grey levels the band's fill lies above the paper's median level


def cut_short(gray: np.ndarray) -> float:
    """The share of the page's height at its foot that is one flat fill unlike its paper: what a
    decoder leaves where an image's data ends early (a truncated image stream in a PDF, which
    poppler renders without a word, as white). 0.0 where there is none. A scan's paper has grain,
    a born-digital page's blank foot is its paper's own white, and a scanner bed or a border
    painted black is darker than the paper, so none is taken for one."""
    height = gray.shape[0]
    spread = gray.max(axis=1).astype(np.int16) - gray.min(axis=1)
    level = gray.mean(axis=1)
    rows = 0
    while rows < height and spread[-1 - rows] <= FLAT_SPREAD and abs(level[-1 - rows] - level[-1]) <= 1:
        rows += 1
    if rows < CUT_SHORT_LEAST * height or rows == height:
        return 0.0
    paper = float(np.median(level[: height - rows]))
    return round(rows / height, 4) if level[-1] - paper > OTHER_THAN_PAPER else 0.0


# Characters read per line height of line width: the transcribed real lines have 3.2 (Hooker) and
# 2.5 (CREMMA) at the median and 5.3 and 3.8 at the 99th and 90th percentiles; print has 2-3. A
# page read at more than OVERREAD on the whole has text where its ink has none: texture, ruling or
# decoration read as characters.
OVERREAD = 8.0


def characters_per_height(page: PageResult) -> float | None:
    """The characters read per line height of the read lines' widths; None with nothing read."""
    chars = widths = 0.0
    for line in page.lines:
        if line.words:
            box = BBox.enclosing([w.bbox for w in line.words])
            chars += sum(len(w.text) for w in line.words)
            widths += box.width / max(box.height, 1)
    return chars / widths if widths else None


def is_overread(page: PageResult) -> bool:
    density = characters_per_height(page)
    return density is not None and density > OVERREAD

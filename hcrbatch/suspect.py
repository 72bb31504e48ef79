"""Pages whose writing was not read: the check that keeps a page from coming out empty in silence.

A page's marks (what stands out of its paper by more than the paper's own noise, on the sheet and
not its frame: `CleanPage.marks`) are compared with what the reading accounts for, the marks inside
the boxes of the words it read. A blank page has next to no marks and is never suspect; a page with
writing whose words hold under half of its marks lost most of its writing (a border that fooled the
binarisation, lines that segmentation merged away, an engine that read them as nothing).
"""

from __future__ import annotations

import numpy as np

from hcrbatch.elements import PageResult
from hcrbatch.preprocess import CleanPage

# the least share of a page's pixels that its marks must cover for it to be judged at all: a few
# written words (a page number, a signature alone cover less; blank sheets, after the noise test,
# next to nothing)
WRITTEN_PAGE = 0.002
UNREAD_SUSPECT = 0.5  # a page whose read words hold less than this share of its marks is suspect


def marks_read(clean: CleanPage, result: PageResult) -> float | None:
    """The share of the page's marks inside the words read (in the deskewed frame); None where
    the page has too few marks to be judged (WRITTEN_PAGE)."""
    total = int(np.count_nonzero(clean.marks))
    if total < WRITTEN_PAGE * clean.marks.size:
        return None
    height, width = clean.marks.shape
    read = np.zeros(clean.marks.shape, bool)
    for word in result.words:
        b = word.bbox.mapped(clean.to_clean).clip(width, height)
        read[b.top : b.bottom, b.left : b.right] = True
    return round(int(np.count_nonzero(clean.marks & read)) / total, 4)


def is_suspect(page: PageResult) -> bool:
    return page.marks_read is not None and page.marks_read < UNREAD_SUSPECT

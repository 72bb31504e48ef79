"""Pages rebuilt from transcribed line images, and the line crops our own segmentation cuts from them.

The line datasets give each line as its own image, cut by the data's makers. The pipeline reads
lines it cut itself from a page (`segment`, then `lineengine.line_crop_box`), framed a little
differently: around the segmented line's ridge, as tall as its own writing within a spacing or so
(`lineengine.line_crops(reading=True)`), with the neighbours' strokes the page holds. Stacking a page's line images in order rebuilds a page whose line positions are known, so
the benchmarks can score our segmentation on it, and training can add the crops the pipeline would
take from it, each with its line's transcription (`hcrbatch train-lines --page-crops`).
"""

from __future__ import annotations

from collections.abc import Iterator

import cv2
import numpy as np

from hcrbatch.api import segment_page
from hcrbatch.elements import PageImage
from hcrbatch.lineengine import line_crops
from hcrbatch.train.linedata import LineSample

# Of a segmented line's rows, the share that must lie in the one known line band it is matched to:
# a band holding two lines' ink (about half in each) is not a crop of either.
CROP_BAND_SHARE = 0.6


def without_neighbours(image: np.ndarray) -> np.ndarray:
    """The line image with the cut-off strokes of the lines above and below painted out: ink that
    touches the top or bottom edge and does not reach the middle row. Stacked as they are, those
    strokes would appear twice on the rebuilt page (once whole in their own line's image)."""
    _, ink = cv2.threshold(image, 0, 255, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    height, middle = image.shape[0], image.shape[0] // 2
    out = image.copy()
    paper = int(np.percentile(image, 90))
    for i in range(1, count):
        top, bottom = stats[i, cv2.CC_STAT_TOP], stats[i, cv2.CC_STAT_TOP] + stats[i, cv2.CC_STAT_HEIGHT]
        if (top == 0 and bottom <= middle) or (bottom == height and top > middle):
            out[cv2.dilate((labels == i).astype(np.uint8), np.ones((5, 5), np.uint8)) > 0] = paper
    return out


def page_from_lines(lines: list[LineSample], index: int) -> tuple[PageImage, list[tuple[int, int]]]:
    """The page's line images (neighbours' strokes painted out) stacked in order on one sheet of
    their paper's grey, and the rows (top, bottom) each line image covers."""
    width = max(s.image.shape[1] for s in lines) + 200
    paper = int(np.median([np.percentile(s.image, 90) for s in lines]))
    sheet = np.full((sum(s.image.shape[0] for s in lines) + 200, width), paper, np.uint8)
    top, bands = 100, []
    for s in lines:
        sheet[top : top + s.image.shape[0], 100 : 100 + s.image.shape[1]] = without_neighbours(s.image)
        bands.append((top, top + s.image.shape[0]))
        top += s.image.shape[0]
    return PageImage(None, index, sheet, 300.0), bands


def lines_by_page(samples: list[LineSample]) -> list[list[LineSample]]:
    """The samples grouped by the page they come from, pages and lines in the samples' order."""
    pages: dict[str, list[LineSample]] = {}
    for s in samples:
        pages.setdefault(s.page, []).append(s)
    return list(pages.values())


def page_crops(samples: list[LineSample]) -> Iterator[LineSample]:
    """For each page of `samples`, rebuilt from its lines and segmented as `hcrbatch run` would
    (default preprocessing and segmentation), the line engine's crop of each segmented line that
    matches one known line, with that line's text. A line is matched when its band holds the middle
    of exactly one segmented line and most of that line's rows (CROP_BAND_SHARE); merged, split or
    missed lines give no crop."""
    for index, lines in enumerate(lines_by_page(samples)):
        page, bands = page_from_lines(lines, index)
        clean, segmentation = segment_page(page)
        found = list(segmentation.lines)
        crops = line_crops(found, clean.gray, reading=True)
        on_page = [clean.to_page(line.bbox) for line in found]
        for sample, (top, bottom) in zip(lines, bands):
            inside = [i for i, box in enumerate(on_page) if top <= box.center_y < bottom]
            if len(inside) != 1:
                continue
            box = on_page[inside[0]]
            if min(bottom, box.bottom) - max(top, box.top) < CROP_BAND_SHARE * box.height:
                continue
            crop = crops[inside[0]]
            yield LineSample(
                clean.gray[crop.top : crop.bottom, crop.left : crop.right].copy(), sample.text, sample.page
            )

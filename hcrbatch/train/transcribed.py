"""Training lines from transcribed page scans: folders of page images with PAGE or ALTO beside them.

The line engine reads lines our own segmentation cut from a real page, framed by
`lineengine.line_crops`: their neighbours' strokes, the page's show-through and margins included.
Each transcribed page gives two kinds of training line:

- our crop of each segmented line that matches one transcribed line (ink IoU above 0.5, as
  `hcrbatch eval-pages` matches them), with that line's text: the lines as the engine sees them;
- each transcribed line's own outline, its box 4 px wider each way (as the line datasets were
  cut), so that a line our segmentation misses still teaches its writing.
"""

from __future__ import annotations

import logging
import unicodedata
from pathlib import Path

from hcrbatch.api import segment_page
from hcrbatch.config import Config, IngestConfig
from hcrbatch.elements import BBox
from hcrbatch.errors import ConfigError
from hcrbatch.evalpages import boxes_ink, match_lines, polygon_ink, scaled, scoring_ink, transcribed_images
from hcrbatch.ingest import iter_pages
from hcrbatch.lineengine import line_crops
from hcrbatch.metrics import normalise_text
from hcrbatch.preprocess import to_gray
from hcrbatch.train.linedata import LineSample

log = logging.getLogger(__name__)

OUTLINE_PAD = 4  # px round a transcribed line's outline, as ../shared/data/*-lines were cut


def transcribed_lines(folder: Path) -> list[LineSample]:
    """Both kinds of training line from every transcribed page under `folder`; each sample's page
    is `<folder name>/<image stem>`."""
    folder = Path(folder)
    samples: list[LineSample] = []
    cut = outlined = 0
    for file, gt in transcribed_images(Config(folder, folder)):
        page = next(iter_pages(file.path, IngestConfig()))
        name = f"{folder.name}/{file.path.stem}"
        truth = [line for line in scaled(gt, page.width, page.height) if normalise_text(line.text)]
        texts = [unicodedata.normalize("NFC", normalise_text(line.text)) for line in truth]
        clean, segmentation = segment_page(page)
        for line, text in zip(truth, texts):
            xs, ys = [x for x, _ in line.polygon], [y for _, y in line.polygon]
            box = BBox(int(min(xs)) - OUTLINE_PAD, int(min(ys)) - OUTLINE_PAD, int(max(xs)) + OUTLINE_PAD,
                       int(max(ys)) + OUTLINE_PAD).clip(page.width, page.height)  # fmt: skip
            if box.width > 1 and box.height > 1:
                samples.append(
                    LineSample(clean.source_gray[box.top : box.bottom, box.left : box.right].copy(), text, name)
                )
                outlined += 1
        found = list(segmentation.lines)
        ink = scoring_ink(to_gray(page.pixels))
        read = [boxes_ink(ink, [clean.to_page(w.bbox) for w in line.words]) for line in found]
        crops = line_crops(found, clean.gray, reading=True)
        for i, j in match_lines([polygon_ink(ink, line.polygon) for line in truth], read):
            crop = crops[j]
            samples.append(
                LineSample(clean.gray[crop.top : crop.bottom, crop.left : crop.right].copy(), texts[i], name)
            )
            cut += 1
    log.info("%s: %d lines cut by our segmentation, %d by their transcribed outlines", folder, cut, outlined)
    if not samples:
        raise ConfigError(f"{folder}: its transcriptions hold no lines with text")
    return samples

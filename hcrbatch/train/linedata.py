"""Transcribed text lines as the line trainers read them: a folder of line images with labels.tsv,
and the split that holds whole pages out (a leaf: it imports no trainer)."""

from __future__ import annotations

import logging
import math
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from hcrbatch.errors import ConfigError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LineSample:
    image: np.ndarray  # gray uint8, dark ink on light paper, any size
    text: str
    page: str  # the document page it comes from: the file name before its last "_"


def label_rows(folder: Path) -> list[tuple[str, str]]:
    """(image file name, transcription) of each line `folder/labels.tsv` lists with text; NFC."""
    labels = Path(folder) / "labels.tsv"
    if not labels.is_file():
        raise ConfigError(f"{folder}: no labels.tsv (expected lines of file<TAB>transcription)")
    rows = []
    for row in labels.read_text(encoding="utf-8").splitlines():
        name, tab, text = row.partition("\t")
        text = unicodedata.normalize("NFC", text.strip())
        if tab and text:
            rows.append((name, text))
    return rows


def read_line_folder(folder: Path) -> list[LineSample]:
    """Every line listed in `folder/labels.tsv` whose image can be read; text NFC-normalised."""
    samples = []
    for name, text in label_rows(folder):
        image = cv2.imread(str(Path(folder) / name), cv2.IMREAD_GRAYSCALE)
        if image is None:
            log.warning("skipping unreadable %s", Path(folder) / name)
            continue
        samples.append(LineSample(image, text, f"{Path(folder).name}/{Path(name).stem.rsplit('_', 1)[0]}"))
    if not samples:
        raise ConfigError(f"{folder}: no readable lines")
    return samples


def held_out_as(samples: list[LineSample], pages: list[str]) -> tuple[list[LineSample], list[LineSample]]:
    """(train, test): the samples of the pages named (by file stem, whatever their folder) held out,
    so that a model fine-tuned from another is tested on, and never trained on, the other's test pages."""
    held = {page.rsplit("/", 1)[-1] for page in pages}
    train = [s for s in samples if s.page.rsplit("/", 1)[-1] not in held]
    return train, [s for s in samples if s.page.rsplit("/", 1)[-1] in held]


def split_by_page(samples: list[LineSample], fraction: float, seed: int) -> tuple[list[LineSample], list[LineSample]]:
    """(train, test): a seeded `fraction` of each folder's pages (at least one) is held out whole."""
    train, test = [], []
    folders = sorted({s.page.split("/", 1)[0] for s in samples})
    for folder in folders:
        pages = sorted({s.page for s in samples if s.page.startswith(folder + "/")})
        order = np.random.default_rng(seed).permutation(len(pages))
        held = {pages[i] for i in order[: max(1, math.ceil(len(pages) * fraction))]}
        for s in samples:
            if s.page.startswith(folder + "/"):
                (test if s.page in held else train).append(s)
    return train, test

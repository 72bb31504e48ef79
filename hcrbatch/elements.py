"""The typed values that flow between stages, all in one place: pixels in (PageImage), the
cleaned page and its segmentation (CleanPage, Segmentation of LineBox/WordBox/GlyphBox), boxes and
readings out (PageResult of Line/Word/Char, which serialise themselves for checkpoints).

Boxes are in pixels, origin top-left, right/bottom exclusive: a reading's in the original page
image, a segmentation's in the cleaned page's deskewed frame (`CleanPage.to_page` maps them back).
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

import cv2
import numpy as np


@dataclass(frozen=True)
class BBox:
    left: int
    top: int
    right: int
    bottom: int

    def __post_init__(self) -> None:
        if self.right < self.left or self.bottom < self.top:
            raise ValueError(f"inverted box {self}")

    @property
    def width(self) -> int:
        return self.right - self.left

    @property
    def height(self) -> int:
        return self.bottom - self.top

    @property
    def area(self) -> int:
        return self.width * self.height

    @property
    def center_x(self) -> float:
        return (self.left + self.right) / 2

    @property
    def center_y(self) -> float:
        return (self.top + self.bottom) / 2

    def union(self, other: BBox) -> BBox:
        return BBox(
            min(self.left, other.left),
            min(self.top, other.top),
            max(self.right, other.right),
            max(self.bottom, other.bottom),
        )

    def iou(self, other: BBox) -> float:
        w = min(self.right, other.right) - max(self.left, other.left)
        h = min(self.bottom, other.bottom) - max(self.top, other.top)
        if w <= 0 or h <= 0:
            return 0.0
        inter = w * h
        return inter / (self.area + other.area - inter)

    def mapped(self, matrix: np.ndarray) -> BBox:
        """The smallest box holding this one's corners after a 2×3 affine transform (rotation, shear)."""
        corners = np.array(
            [[self.left, self.top], [self.right, self.top], [self.left, self.bottom], [self.right, self.bottom]],
            np.float64,
        )
        moved = corners @ np.asarray(matrix, np.float64)[:, :2].T + np.asarray(matrix, np.float64)[:, 2]
        left, top = np.floor(moved.min(axis=0)).astype(int)
        right, bottom = np.ceil(moved.max(axis=0)).astype(int)
        return BBox(int(left), int(top), int(right), int(bottom))

    def shifted(self, dx: int, dy: int) -> BBox:
        return BBox(self.left + dx, self.top + dy, self.right + dx, self.bottom + dy)

    def clip(self, width: int, height: int) -> BBox:
        return BBox(
            min(max(self.left, 0), width),
            min(max(self.top, 0), height),
            min(max(self.right, 0), width),
            min(max(self.bottom, 0), height),
        )

    def to_list(self) -> list[int]:
        return [self.left, self.top, self.right, self.bottom]

    @staticmethod
    def from_list(values: list[int]) -> BBox:
        return BBox(*values)

    @staticmethod
    def enclosing(boxes: list[BBox] | tuple[BBox, ...]) -> BBox:
        out = boxes[0]
        for box in boxes[1:]:
            out = out.union(box)
        return out


@dataclass(frozen=True, eq=False)
class PageImage:
    """One page as read from its file, before any processing."""

    source: Path
    index: int  # 0-based page number inside the file
    pixels: np.ndarray  # H×W gray or H×W×3 RGB, uint8, exactly as decoded
    dpi: float
    turned: int = 0  # quarter turns clockwise given to the page as shown to read it upright (--rotate-pages)

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])


# --- the preprocessed page and its segmentation: boxes in the deskewed frame ---


@dataclass(frozen=True, eq=False)
class CleanPage:
    ink: np.ndarray  # uint8, 255 = ink, in the deskewed frame
    marks: np.ndarray  # bool, deskewed frame: whatever stands out of the paper on the sheet (`stands_out_of_paper`)
    source_gray: np.ndarray  # uint8, contrast-normalised page in the original frame (paper light)
    skew_degrees: float  # the page's text was rotated by this much (counter-clockwise positive)
    to_clean: np.ndarray  # 2×3 affine: original page pixels -> deskewed frame
    page_width: int
    page_height: int

    @functools.cached_property
    def gray(self) -> np.ndarray:
        """The grey page in the deskewed frame, what the line engine reads; rotated only when asked
        for, since the glyph engine alone never needs it."""
        height, width = self.ink.shape
        if self.source_gray.shape == (height, width) and np.array_equal(self.to_clean, np.eye(2, 3)):
            return self.source_gray
        return cv2.warpAffine(self.source_gray, self.to_clean, (width, height), flags=cv2.INTER_LINEAR, borderValue=255)

    def to_page(self, box: BBox) -> BBox:
        """The smallest original-page box holding `box` of the deskewed frame."""
        inverse = cv2.invertAffineTransform(self.to_clean)
        return box.mapped(inverse).clip(self.page_width, self.page_height)


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
    middle: float  # the row its writing centres on (its ridge, `_ridges`); a stroke reaching into a neighbour stretches the box, not this


@dataclass(frozen=True, eq=False)
class Segmentation:
    lines: tuple[LineBox, ...]
    labels: np.ndarray  # connected-component label image of the clean page
    joined_ink: float = 0.0  # see `joined_ink`: near 0 on hand-printing, most of the ink in joined-up script
    stamps: tuple[BBox, ...] = ()  # stamps and seals struck on the page (`segment._stamps`): no line's ink

    def glyph_image(self, glyph: GlyphBox) -> np.ndarray:
        """The glyph's own ink (255) inside its box; ink of neighbours overlapping the box is left out."""
        b = glyph.bbox
        window = self.labels[b.top : b.bottom, b.left : b.right]
        return np.where(np.isin(window, glyph.components), 255, 0).astype(np.uint8)


# --- readings: boxes in the original page's pixels ---


@dataclass(frozen=True)
class Char:
    """One glyph with the recognizer's top-k readings, best first."""

    bbox: BBox
    labels: tuple[str, ...]
    probs: tuple[float, ...]

    def __post_init__(self) -> None:
        if len(self.labels) != len(self.probs) or not self.labels:
            raise ValueError("a Char needs as many probabilities as labels, at least one")

    @property
    def text(self) -> str:
        return self.labels[0]

    @property
    def confidence(self) -> float:
        return self.probs[0]

    def to_dict(self) -> dict:
        return {"bbox": self.bbox.to_list(), "labels": list(self.labels), "probs": list(self.probs)}

    @staticmethod
    def from_dict(data: dict) -> Char:
        return Char(BBox.from_list(data["bbox"]), tuple(data["labels"]), tuple(data["probs"]))


@dataclass(frozen=True)
class Alternative:
    """Another cut of part of a word: its chars[start:end] read as these glyphs instead (a glyph
    the segmenter cut that may be one letter, or one it kept whole that may be two)."""

    start: int
    end: int
    chars: tuple[Char, ...]

    def to_dict(self) -> dict:
        return {"start": self.start, "end": self.end, "chars": [c.to_dict() for c in self.chars]}

    @staticmethod
    def from_dict(data: dict) -> Alternative:
        return Alternative(data["start"], data["end"], tuple(Char.from_dict(c) for c in data["chars"]))


@dataclass(frozen=True)
class Word:
    bbox: BBox
    chars: tuple[Char, ...]
    text: str  # after correction
    corrected_by: str = ""  # name of the corrector that changed it, "" when unchanged
    alternatives: tuple[Alternative, ...] = ()  # other segmentations a corrector may choose
    # whole-word readings (text, visual log-probability), best first: the line engine's CTC beam
    # search, which may add or drop letters, so a corrector chooses among these instead of `chars`
    spellings: tuple[tuple[str, float], ...] = ()
    # the probability that `text` is right, from the engine's calibration (`hcrbatch.confidence`);
    # None where its model has none
    calibrated: float | None = None

    @property
    def confidence(self) -> float:
        """What outputs report and `--low-confidence` flags: the calibrated probability where there
        is one, else the characters' mean confidence."""
        return self.calibrated if self.calibrated is not None else self.mean_confidence

    @property
    def raw_text(self) -> str:
        return "".join(c.text for c in self.chars)

    @property
    def mean_confidence(self) -> float:
        return float(np.mean([c.confidence for c in self.chars])) if self.chars else 0.0

    @property
    def min_confidence(self) -> float:
        return min((c.confidence for c in self.chars), default=0.0)

    def to_dict(self) -> dict:
        return {
            "bbox": self.bbox.to_list(), "text": self.text, "corrected_by": self.corrected_by,
            "chars": [c.to_dict() for c in self.chars],
            "alternatives": [a.to_dict() for a in self.alternatives],
            "spellings": [list(spelling) for spelling in self.spellings], "calibrated": self.calibrated,
        }  # fmt: skip

    @staticmethod
    def from_dict(data: dict) -> Word:
        return Word(
            BBox.from_list(data["bbox"]),
            tuple(Char.from_dict(c) for c in data["chars"]),
            data["text"],
            data["corrected_by"],
            tuple(Alternative.from_dict(a) for a in data["alternatives"]),
            tuple((text, score) for text, score in data["spellings"]),
            data.get("calibrated"),
        )


@dataclass(frozen=True)
class LineEvidence:
    """What the engines measured of a line besides its reading: what `--engine auto` weighs and the
    outputs report. A new measure is a field here (with its line in `to_dict`), not in `Line`."""

    # glyph engine: mean confidence of its characters under the model's training prior rather than
    # the reading's, the shape evidence that `--engine auto` weighs; None where not measured
    shape_confidence: float | None = None
    # `--engine auto`: the line-kind classifier's probability that the line is print (Tesseract's
    # when it reads it); None where not measured
    print_probability: float | None = None

    def to_dict(self) -> dict:
        return {"shape_confidence": self.shape_confidence, "print_probability": self.print_probability}

    @staticmethod
    def from_dict(data: dict) -> LineEvidence:
        return LineEvidence(data.get("shape_confidence"), data.get("print_probability"))


@dataclass(frozen=True)
class Line:
    bbox: BBox
    words: tuple[Word, ...]
    engine: str = "glyph"  # which engine read it: "glyph" (characters), "line" (CTC line model) or "tesseract"
    evidence: LineEvidence = LineEvidence()
    # quarter turns clockwise that bring its writing upright on the page as read: 1 for writing
    # that runs up the page, 3 down it (`hcrbatch.sideways`); its boxes are the page's all the same
    turned: int = 0

    @property
    def text(self) -> str:
        return " ".join(w.text for w in self.words)

    def with_evidence(self, **measures: float | None) -> Line:
        """The line with these `LineEvidence` measures set."""
        return replace(self, evidence=replace(self.evidence, **measures))

    def to_dict(self) -> dict:
        return {
            "bbox": self.bbox.to_list(), "engine": self.engine, "evidence": self.evidence.to_dict(),
            "turned": self.turned, "words": [w.to_dict() for w in self.words],
        }  # fmt: skip

    @staticmethod
    def from_dict(data: dict) -> Line:
        return Line(
            BBox.from_list(data["bbox"]),
            tuple(Word.from_dict(w) for w in data["words"]),
            data["engine"],
            LineEvidence.from_dict(data.get("evidence", data)),  # a checkpoint of 2026-12-06 kept them on the line
            data.get("turned", 0),
        )


@dataclass(frozen=True)
class PageResult:
    index: int
    width: int
    height: int
    dpi: float
    skew_degrees: float
    lines: tuple[Line, ...] = field(default_factory=tuple)
    # the share of the page's marks inside the lines read (`hcrbatch.suspect`); None on a page with
    # too few marks to judge (blank, or a page number alone)
    marks_read: float | None = None
    # quarter turns clockwise the page as shown was given before it was read (`PageImage.turned`):
    # its width, height and boxes are those of the turned page
    turned: int = 0
    # the share of the page's height at its foot that its image does not reach (`suspect.cut_short`)
    cut_short: float = 0.0
    # stamps and seals on the page, which no line holds (`Segmentation.stamps`), in page pixels
    stamps: tuple[BBox, ...] = ()

    @property
    def words(self) -> list[Word]:
        return [w for line in self.lines for w in line.words]

    @property
    def text(self) -> str:
        return "\n".join(line.text for line in self.lines)

    def to_dict(self) -> dict:
        """Plain JSON types, for the resume checkpoints; `from_dict` gives back an equal page."""
        return {
            "index": self.index, "width": self.width, "height": self.height, "dpi": self.dpi,
            "skew_degrees": self.skew_degrees, "marks_read": self.marks_read, "turned": self.turned,
            "cut_short": self.cut_short, "lines": [line.to_dict() for line in self.lines],
            "stamps": [box.to_list() for box in self.stamps],
        }  # fmt: skip

    @staticmethod
    def from_dict(data: dict) -> PageResult:
        lines = tuple(Line.from_dict(line) for line in data["lines"])
        return PageResult(data["index"], data["width"], data["height"], data["dpi"], data["skew_degrees"], lines,
                          data.get("marks_read"), data.get("turned", 0), data.get("cut_short", 0.0),
                          tuple(BBox.from_list(box) for box in data.get("stamps", ())))  # fmt: skip


Status = Literal["ok", "skipped", "failed"]


@dataclass(frozen=True)
class FileOutcome:
    """One row of the batch report."""

    path: str  # relative to the input folder, POSIX separators
    status: Status
    reason: str = ""
    pages: int = 0
    words: int = 0
    chars: int = 0
    mean_confidence: float | None = None
    low_confidence_words: int = 0
    suspect_pages: str = ""  # pages (1-based, ";"-separated) with writing that was mostly not read
    overread_pages: str = ""  # pages read as more characters than their lines' ink can hold
    seconds: float = 0.0


@dataclass(frozen=True)
class DocumentInfo:
    """What the formats say about where a reading came from."""

    source: str  # the input file's name
    software: str  # "hcrbatch 0.1.0"
    models: tuple[str, ...]  # "name version" of each model that read it
    created: str  # ISO 8601 UTC time of the reading

    @staticmethod
    def now(source: str, software: str, models: tuple[str, ...]) -> DocumentInfo:
        created = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
        return DocumentInfo(source, software, models, created)

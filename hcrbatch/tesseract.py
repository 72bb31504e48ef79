"""Tesseract, the engine for printed and typewritten text, through tesserocr (in-process, no temp files).

Tesseract reads print far better than any handwriting model and cannot read handwriting; hcrbatch
uses it for print rather than competing with it. Its words come back as the same `Word`/`Char`
elements the other engines make, boxed on the page, each character's confidence Tesseract's own
(0-100, as a fraction). Tesseract already weighs its readings by its own dictionary, so each word
carries its reading as its one spelling and the corrector leaves it alone.

The language data are the distribution's (`apt-get install tesseract-ocr-eng`); the wheel's
bundled library does not know where they are, so they are looked for where Debian and Ubuntu put
them, or under $TESSDATA_PREFIX.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import cv2
import numpy as np

from hcrbatch.elements import BBox, Char, Line, Word
from hcrbatch.errors import ModelError

TESSDATA_GLOBS = ("/usr/share/tesseract-ocr/*/tessdata", "/usr/share/tessdata", "/usr/local/share/tessdata")
# our --lang codes (the lexicon's and language models') to Tesseract's; any other is passed as given
LANGUAGES = {"en": "eng", "fr": "fra", "de": "deu", "es": "spa", "it": "ita", "nl": "nld", "la": "lat"}
PAGE_LAYOUT = 3  # Tesseract's PSM_AUTO: it finds the blocks and lines itself
SINGLE_LINE = 7  # PSM_SINGLE_LINE: the box holds one line, as our segmenter cut it
# paper set around a line before Tesseract reads it, in line heights: a line cut tight to its ink
# (our crops keep 2 px) loses Tesseract a third of its typed lines (benchmarks/mixed_pages.py: clean
# FreeMono lines read at word confidence 0.13-0.77 as garbage, at 0.96 verbatim with this margin)
LINE_MARGIN = 0.5


def tesseract_language(lang: str) -> str:
    return LANGUAGES.get(lang, lang)


def tessdata_dir(lang: str) -> Path:
    """The folder holding `<lang>.traineddata`; ModelError naming the package to install if none does."""
    candidates = [Path(os.environ["TESSDATA_PREFIX"])] if os.environ.get("TESSDATA_PREFIX") else []
    for pattern in TESSDATA_GLOBS:
        candidates += sorted(Path("/").glob(pattern.lstrip("/")), reverse=True)
    for folder in candidates:
        if all((folder / f"{code}.traineddata").is_file() for code in lang.split("+")):
            return folder
    raise ModelError(
        f"Tesseract language data {lang!r} not found (looked in $TESSDATA_PREFIX and {', '.join(TESSDATA_GLOBS)}): "
        f"apt-get install tesseract-ocr-{lang.split('+')[0]}"
    )


def tesseract_available(lang: str) -> bool:
    try:
        import tesserocr  # noqa: F401

        tessdata_dir(tesseract_language(lang))
    except (ImportError, ModelError):
        return False
    return True


class TesseractReader:
    """One Tesseract instance for a worker's life (loading a language takes ~0.2 s)."""

    def __init__(self, lang: str) -> None:
        try:
            import tesserocr
        except ImportError as exc:
            raise ModelError("tesserocr is not installed: pip install tesserocr") from exc
        self._tesserocr = tesserocr
        self.lang = tesseract_language(lang)
        self.version = tesserocr.tesseract_version().split()[1]
        self._api = tesserocr.PyTessBaseAPI(path=str(tessdata_dir(self.lang)) + "/", lang=self.lang)
        self._lock = threading.Lock()  # one image in the API at a time: pages read by threads take turns

    @property
    def name(self) -> str:
        return f"tesseract {self.version} ({self.lang})"

    def read_page(self, gray: np.ndarray, dpi: float) -> list[tuple[BBox, tuple[Word, ...]]]:
        """Tesseract's own lines of the whole grey page, each with its box and words."""
        with self._lock:
            self._set_image(gray, dpi, PAGE_LAYOUT)
            return self._lines()

    def read_line(self, gray: np.ndarray, box: BBox, dpi: float) -> tuple[tuple[Word, ...], float]:
        """The words Tesseract reads in `box` of the grey page, taken as one line (boxes in the
        page's pixels), and its mean word confidence (0 when it reads nothing)."""
        crop = gray[box.top : box.bottom, box.left : box.right]
        margin = max(1, round(LINE_MARGIN * box.height))
        paper = int(np.percentile(crop, 95)) if crop.size else 255
        with self._lock:
            self._set_image(
                cv2.copyMakeBorder(crop, *(margin,) * 4, cv2.BORDER_CONSTANT, value=paper), dpi, SINGLE_LINE
            )
            words = tuple(word for _, line in self._lines() for word in line)
            confidences = self._api.AllWordConfidences()
        dx, dy = box.left - margin, box.top - margin
        words = tuple(mapped_word(w, lambda b: b.shifted(dx, dy).clip(gray.shape[1], gray.shape[0])) for w in words)
        return words, (float(np.mean(confidences)) / 100 if words and confidences else 0.0)

    def _set_image(self, gray: np.ndarray, dpi: float, layout: int) -> None:
        from PIL import Image

        self._api.SetPageSegMode(layout)
        self._api.SetImage(Image.fromarray(np.ascontiguousarray(gray)))
        self._api.SetSourceResolution(int(round(dpi)))

    def _lines(self) -> list[tuple[BBox, tuple[Word, ...]]]:
        """Words grouped by Tesseract's text lines, characters by its symbols; nothing for a line
        of no text (Tesseract reports an empty word where it saw a speck). A character's confidence
        is at most its word's: Tesseract's LSTM is sure of single symbols it reads in handwriting
        (median 0.45, a quarter above 0.93, on real handwritten lines) but not of the words they make
        (none above 0.4), so the word's is what says a reading may be wrong."""
        tesserocr = self._tesserocr
        ril = tesserocr.RIL
        self._api.Recognize()
        lines: list[tuple[BBox, list[Word]]] = []
        chars: list[Char] = []
        word_box: BBox | None = None
        word_confidence = 0.0

        def finish_word() -> None:
            if chars and word_box is not None and lines:
                text = "".join(c.text for c in chars)
                lines[-1][1].append(Word(word_box, tuple(chars), text, spellings=((text, 0.0),)))

        for symbol in tesserocr.iterate_level(self._api.GetIterator(), ril.SYMBOL):
            if symbol.IsAtBeginningOf(ril.WORD):
                finish_word()  # into the line it began in, before a new line starts
                if symbol.IsAtBeginningOf(ril.TEXTLINE):
                    lines.append((_box(symbol.BoundingBox(ril.TEXTLINE)), []))
                chars, word_box = [], _box(symbol.BoundingBox(ril.WORD))
                word_confidence = symbol.Confidence(ril.WORD) / 100
            try:
                text, box = symbol.GetUTF8Text(ril.SYMBOL), symbol.BoundingBox(ril.SYMBOL)
            except RuntimeError:  # "No text returned": an empty symbol
                continue
            if text and text.strip() and box is not None:
                confidence = min(symbol.Confidence(ril.SYMBOL) / 100, word_confidence)
                chars.append(Char(_box(box), (text,), (round(confidence, 4),)))
        finish_word()
        return [(box, tuple(words)) for box, words in lines if words]

    def close(self) -> None:
        self._api.End()


def _box(corners: tuple[int, int, int, int] | None) -> BBox:
    left, top, right, bottom = corners or (0, 0, 0, 0)
    return BBox(left, top, right, bottom)


def page_lines(reader: TesseractReader, gray: np.ndarray, dpi: float, to_page) -> tuple[Line, ...]:
    """The page read by Tesseract alone, its lines and words mapped to the original page by `to_page`."""
    return tuple(
        Line(to_page(box), tuple(mapped_word(word, to_page) for word in words), engine="tesseract")
        for box, words in reader.read_page(gray, dpi)
    )


def mapped_word(word: Word, to_page) -> Word:
    chars = tuple(Char(to_page(c.bbox), c.labels, c.probs) for c in word.chars)
    return Word(to_page(word.bbox), chars, word.text, spellings=word.spellings)

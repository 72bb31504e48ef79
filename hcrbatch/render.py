"""Searchable PDF (page image + invisible text layer) and plain text, read only from PageResult.

Pixels become PDF points in one place, `px_to_pt`. Each word is one text object in render mode 3
(invisible), its font size set by the box height and its horizontal scale stretched to the box
width, so a viewer highlights the ink that was read.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from PIL import Image
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas

from hcrbatch.atomic import atomic_output, atomic_write_text
from hcrbatch.elements import PageImage, PageResult, Word

TEXT_FONT = "Helvetica"
DESCENT = 0.21  # Helvetica's descender as a fraction of the font size


def px_to_pt(pixels: float, dpi: float) -> float:
    return pixels / dpi * 72.0


def _pdf_safe(text: str) -> str:
    """Helvetica in reportlab encodes Latin-1; anything else is replaced, not dropped."""
    return text.encode("latin-1", "replace").decode("latin-1")


def _draw_word(canvas: Canvas, word: Word, next_left: int | None, page_height_pt: float, dpi: float) -> None:
    """One text object: the word stretched over its box, then (within a line) a space stretched
    over the gap to the next word, so text extraction keeps the line together in reading order."""
    text = _pdf_safe(word.text)
    box = word.bbox
    if not text or box.width == 0 or box.height == 0:
        return
    font_size = max(px_to_pt(box.height, dpi) / (1 + DESCENT), 1.0)
    natural = stringWidth(text, TEXT_FONT, font_size)
    obj = canvas.beginText()
    obj.setTextRenderMode(3)
    obj.setFont(TEXT_FONT, font_size)
    obj.setHorizScale(100.0 * px_to_pt(box.width, dpi) / natural)
    baseline = page_height_pt - px_to_pt(box.bottom, dpi) + DESCENT * font_size
    obj.setTextOrigin(px_to_pt(box.left, dpi), baseline)
    obj.textOut(text)
    if next_left is not None and next_left > box.right:
        space = stringWidth(" ", TEXT_FONT, font_size)
        obj.setHorizScale(100.0 * px_to_pt(next_left - box.right, dpi) / space)
        obj.textOut(" ")
    canvas.drawText(obj)


def draw_page(canvas: Canvas, page: PageImage, result: PageResult) -> None:
    width_pt, height_pt = px_to_pt(page.width, page.dpi), px_to_pt(page.height, page.dpi)
    canvas.setPageSize((width_pt, height_pt))
    canvas.drawImage(ImageReader(Image.fromarray(page.pixels)), 0, 0, width_pt, height_pt)
    for line in result.lines:
        lefts = [w.bbox.left for w in line.words[1:]] + [None]
        for word, next_left in zip(line.words, lefts):
            _draw_word(canvas, word, next_left, height_pt, page.dpi)
    canvas.showPage()


def write_searchable_pdf(path: Path, pages: Iterable[tuple[PageImage, PageResult]], title: str) -> int:
    """Write the PDF atomically, consuming pages one at a time; return the page count."""
    count = 0
    with atomic_output(path, "wb") as fh:
        canvas = Canvas(fh, invariant=1, pageCompression=1)
        canvas.setTitle(title)
        canvas.setCreator("hcrbatch")
        for page, result in pages:
            draw_page(canvas, page, result)
            count += 1
        canvas.save()
    return count


def write_text(path: Path, results: list[PageResult]) -> None:
    """Plain UTF-8 text: lines in reading order, pages separated by a form feed."""
    atomic_write_text(path, "\f".join(r.text + "\n" for r in results))

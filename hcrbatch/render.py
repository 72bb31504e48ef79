"""Searchable PDF (page image + invisible text layer) and plain text, read only from PageResult.

Pixels become PDF points in one place, `px_to_pt`. Each word is one text object in render mode 3
(invisible), horizontally stretched to the word's box; a line's words share one font size and a
baseline fitted to the ink, so a viewer highlights the ink that was read and extraction keeps
lines whole.
"""

from __future__ import annotations

import contextlib
import itertools
import errno
from dataclasses import replace
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
from PIL import Image
from reportlab import rl_config
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

from hcrbatch.atomic import atomic_output, atomic_path, atomic_write_text
from hcrbatch.elements import BBox, DocumentInfo, Line, PageImage, PageResult, Word
from hcrbatch.errors import CorruptFileError
from hcrbatch.ingest import EXIF_ORIENTATION
from hcrbatch.pdfa import make_pdfa, pdfa_problems

TEXT_FONT = "Helvetica"
# PDF/A embeds every font: Bitstream Vera, which reportlab ships, embedded as the subset a page uses
EMBEDDED_FONT = "HcrbatchVera"
ASCENT = 0.72  # Helvetica's ascender height (of b, d, h, l) as a fraction of the font size
DESCENDERS = set("gjpqy,;")
JOIN_GROUP = 256  # page PDFs open at once while joining; well under the usual limit of 1024 open files


def px_to_pt(pixels: float, dpi: float) -> float:
    return pixels / dpi * 72.0


def _pdf_safe(text: str) -> str:
    """Helvetica in reportlab encodes Latin-1; anything else is replaced, not dropped."""
    return text.encode("latin-1", "replace").decode("latin-1")


def fitted_baseline(line: Line) -> tuple[float, float]:
    """(slope, intercept) of the line's baseline in page pixels, y = intercept + slope * x: a straight
    fit through the bottoms of its letters without descenders, so it follows any skew left in the
    page. The PDF text layer and the ALTO, PAGE and hOCR baselines are this one line."""
    chars = [c for w in line.words for c in w.chars if c.text not in DESCENDERS] or [
        c for w in line.words for c in w.chars
    ]
    if not chars:
        return 0.0, float(line.bbox.bottom)
    xs = np.array([(c.bbox.left + c.bbox.right) / 2 for c in chars], np.float64)
    bottoms = np.array([c.bbox.bottom for c in chars], np.float64)
    if len(chars) >= 3 and np.ptp(xs) > 0:
        slope, intercept = np.polyfit(xs, bottoms, 1)
        return float(slope), float(intercept)
    return 0.0, float(np.median(bottoms))


def turned_box(box: BBox, quarters: int, width: int, height: int) -> BBox:
    """`box` of a `width` × `height` page, on that page turned `quarters` quarter turns clockwise."""
    quarters %= 4
    if quarters == 1:
        return BBox(height - box.bottom, box.left, height - box.top, box.right)
    if quarters == 2:
        return BBox(width - box.right, height - box.bottom, width - box.left, height - box.top)
    if quarters == 3:
        return BBox(box.top, width - box.right, box.bottom, width - box.left)
    return box


def point_turned_back(x: float, y: float, quarters: int, width: int, height: int) -> tuple[float, float]:
    """A point of a `width` × `height` page turned `quarters` quarter turns clockwise, back on that page."""
    quarters %= 4
    if quarters == 1:
        return y, height - x
    if quarters == 2:
        return width - x, height - y
    if quarters == 3:
        return width - y, x
    return x, y


def upright(line: Line, width: int, height: int) -> tuple[Line, int, int]:
    """A line written sideways (`Line.turned`) as it lies on the `width` × `height` page turned to
    bring it upright, and that page's width and height; any other line as it is. Its geometry
    (baseline, font size) is measured there, as on any line, and turned back to be drawn."""
    quarters = line.turned % 4
    if not quarters:
        return line, width, height

    def turn(box: BBox) -> BBox:
        return turned_box(box, quarters, width, height)

    words = tuple(
        replace(w, bbox=turn(w.bbox), chars=tuple(replace(c, bbox=turn(c.bbox)) for c in w.chars)) for w in line.words
    )
    turned = replace(line, bbox=turn(line.bbox), words=words, turned=0)
    return (turned, height, width) if quarters % 2 else (turned, width, height)


def baseline_ends(line: Line, width: int, height: int) -> tuple[tuple[float, float], tuple[float, float]]:
    """Where the line's fitted baseline (`fitted_baseline`) starts and ends on the `width` × `height`
    page, in the order its writing runs: left to right, or up or down the page for a sideways line."""
    level, _, _ = upright(line, width, height)
    slope, intercept = fitted_baseline(level)
    left, right = level.bbox.left, level.bbox.right
    ends = (left, intercept + slope * left), (right, intercept + slope * right)
    start, end = (point_turned_back(x, y, line.turned, width, height) for x, y in ends)
    return start, end


def line_geometry(line: Line, dpi: float, page_height_pt: float) -> tuple[float, Callable[[float], float]]:
    """One font size for the line, and its baseline (in PDF points) as a function of x (in pixels).

    Text extraction (pdftotext, viewers' search) joins words into a line when they share a size and
    a baseline; sizing each word to its own box makes a word with a descender drop out of its line.
    """
    slope, intercept = fitted_baseline(line)
    ascent = float(
        np.percentile([intercept + slope * (w.bbox.left + w.bbox.right) / 2 - w.bbox.top for w in line.words], 75)
    )
    font_size = max(px_to_pt(ascent, dpi) / ASCENT, 1.0)

    def baseline(x: float) -> float:
        return page_height_pt - px_to_pt(intercept + slope * x, dpi)

    return font_size, baseline


def text_font(embedded: bool) -> str:
    """The text layer's font: Helvetica (a standard font, not embedded), or Vera embedded."""
    if not embedded:
        return TEXT_FONT
    if EMBEDDED_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont(EMBEDDED_FONT, "Vera.ttf"))
    return EMBEDDED_FONT


def _draw_word(
    canvas: Canvas, word: Word, next_left: int | None, font_size: float, baseline_pt: float, dpi: float, font: str
) -> None:
    """One text object: the word stretched over its box, then (within a line) a space stretched
    over the gap to the next word, so text extraction keeps the line together in reading order."""
    text = _pdf_safe(word.text)
    box = word.bbox
    if not text or box.width == 0:
        return
    natural = stringWidth(text, font, font_size)
    obj = canvas.beginText()
    obj.setTextRenderMode(3)
    obj.setFont(font, font_size)
    obj.setHorizScale(100.0 * px_to_pt(box.width, dpi) / natural)
    obj.setTextOrigin(px_to_pt(box.left, dpi), baseline_pt)
    obj.textOut(text)
    if next_left is not None and next_left > box.right:
        space = stringWidth(" ", font, font_size)
        obj.setHorizScale(100.0 * px_to_pt(next_left - box.right, dpi) / space)
        obj.textOut(" ")
    canvas.drawText(obj)


def page_image(page: PageImage) -> str | ImageReader:
    """What is drawn under the text layer: a JPEG scan's own file, embedded as it is (the scan
    itself, at its own size: reportlab passes JPEG data through), unless its EXIF or --rotate-pages turns it (the
    page was read upright); else the decoded pixels, which reportlab compresses losslessly."""
    if (
        page.source is not None
        and page.index == 0
        and not page.turned
        and page.source.suffix.lower() in (".jpg", ".jpeg")
    ):
        with contextlib.suppress(OSError), Image.open(page.source) as img:
            upright = img.getexif().get(EXIF_ORIENTATION, 1) == 1
            if img.format == "JPEG" and img.mode in ("L", "RGB") and upright and img.size == (page.width, page.height):
                return str(page.source)
    return ImageReader(Image.fromarray(page.pixels))


@contextlib.contextmanager
def _binary_streams() -> Iterator[None]:
    """reportlab ASCII85-encodes every stream unless its global setting says otherwise: a quarter
    more bytes, and its pure-Python encoder took about a quarter of a run's time."""
    saved = rl_config.useA85
    rl_config.useA85 = 0
    try:
        yield
    finally:
        rl_config.useA85 = saved


def draw_page(
    canvas: Canvas, page: PageImage, result: PageResult, with_image: bool = True, font: str = TEXT_FONT
) -> None:
    width_pt, height_pt = px_to_pt(page.width, page.dpi), px_to_pt(page.height, page.dpi)
    canvas.setPageSize((width_pt, height_pt))
    if with_image:
        canvas.drawImage(page_image(page), 0, 0, width_pt, height_pt)
    for line in result.lines:
        if not line.words:
            continue
        if not line.turned % 4:
            _draw_line(canvas, line, page.dpi, height_pt, font)
            continue
        # a sideways line is drawn level on the page turned upright for it, turned back with it
        level, _, level_height = upright(line, page.width, page.height)
        canvas.saveState()
        canvas.transform(*_turned_back(line.turned, width_pt, height_pt))
        _draw_line(canvas, level, page.dpi, px_to_pt(level_height, page.dpi), font)
        canvas.restoreState()
    canvas.showPage()


def _turned_back(quarters: int, width_pt: float, height_pt: float) -> tuple[float, ...]:
    """The PDF transform (a, b, c, d, e, f) from the page turned `quarters` quarter turns clockwise
    to the page itself, in points (PDF's y runs up the page)."""
    return {
        1: (0, 1, -1, 0, width_pt, 0),
        2: (-1, 0, 0, -1, width_pt, height_pt),
        3: (0, -1, 1, 0, 0, height_pt),
    }[quarters % 4]


def _draw_line(canvas: Canvas, line: Line, dpi: float, height_pt: float, font: str) -> None:
    font_size, baseline = line_geometry(line, dpi, height_pt)
    lefts = [w.bbox.left for w in line.words[1:]] + [None]
    for word, next_left in zip(line.words, lefts):
        centre = (word.bbox.left + word.bbox.right) / 2
        _draw_word(canvas, word, next_left, font_size, baseline(centre), dpi, font)


def write_page_pdf(
    path: Path, page: PageImage, result: PageResult, with_image: bool = True, embed_font: bool = False
) -> None:
    """One page's PDF, written atomically; `join_pdfs` makes the document from these. Without its
    image (a PDF input's page), the text layer alone, for `join_pdfs` to lay on the original page.
    `embed_font`: the text layer's font embedded, as PDF/A requires.

    reportlab keeps a whole document in memory until it saves, so a document is built page by
    page on disk instead: memory stays that of one page however long the document is, and a
    resumed run reuses the pages already rendered.
    """
    with atomic_output(path, "wb") as fh, _binary_streams():
        font = text_font(embed_font)
        canvas = Canvas(fh, invariant=1, pageCompression=1, initialFontName=font)  # no other font in the page
        canvas.setCreator("hcrbatch")
        draw_page(canvas, page, result, with_image, font)
        canvas.save()


def join_pdfs(
    parts: list[Path],
    path: Path,
    scratch: Path,
    info: DocumentInfo,
    original: Path | None = None,
    turns: Sequence[int] = (),
    pdfa_profile: bytes | None = None,
) -> None:
    """The document's PDF, written atomically by pikepdf (qpdf): the one-page PDFs `parts` in order,
    or, for a PDF input (`original`), the original document itself with each part, a text layer
    alone, overlaid on its page. The original's pages keep their own content, image encoding, page
    boxes and rotation (qpdf places each layer upright on the page as shown, as pdftoppm drew it
    for reading); its outline and metadata stay. Title, creator and dates go into the Info
    dictionary and the XMP metadata. Long documents are joined in groups of JOIN_GROUP under
    `scratch`, so that no more files are open at once than a system allows (qpdf reads each part's
    streams when it writes). An original page read turned (`turns`, quarter turns clockwise per
    page, `--rotate-pages`) is shown turned the same way (its /Rotate), so that it shows upright
    under its layer; its content is not touched. With `pdfa_profile` (an sRGB ICC profile) the
    document is made PDF/A-2b and checked to be so before it is kept (`hcrbatch.pdfa`)."""
    import pikepdf

    if not parts:
        raise ValueError("a document needs at least one page")
    pages = len(parts)  # one each: what the joined document must hold
    if len(parts) > JOIN_GROUP:
        scratch.mkdir(parents=True, exist_ok=True)
        groups = [parts[i : i + JOIN_GROUP] for i in range(0, len(parts), JOIN_GROUP)]
        joined = [scratch / f"{path.stem}-{n:05d}.pdf" for n in range(len(groups))]
        for group, target in zip(groups, joined):
            join_pdfs(group, target, scratch / "deeper", info)
        parts = joined
    with contextlib.ExitStack() as stack:
        try:
            layers = [page for part in parts for page in stack.enter_context(pikepdf.open(part)).pages]
            if original is None:
                document = stack.enter_context(pikepdf.new())
                document.pages.extend(layers)
            else:
                try:
                    document = stack.enter_context(pikepdf.open(original))
                except pikepdf.PdfError as exc:  # the input's fault, not the output folder's: this file fails alone
                    raise CorruptFileError(f"its PDF cannot be opened to add the text layer: {exc}") from exc
                if len(document.pages) != pages:
                    raise OSError(f"{original} has {len(document.pages)} pages, its text layers {pages}")
                for page, layer, turn in itertools.zip_longest(document.pages, layers, turns[:pages], fillvalue=0):
                    if turn:
                        page.Rotate = (int(page.obj.get("/Rotate", 0)) + 90 * turn) % 360
                    form = document.copy_foreign(layer.as_form_xobject())
                    page.add_overlay(form, pikepdf.Rectangle(page.mediabox))
        except pikepdf.PdfError as exc:
            raise OSError(f"cannot join {len(parts)} page PDFs: {exc}") from exc
        _set_metadata(document, info)
        if pdfa_profile is not None:
            make_pdfa(document, pdfa_profile)
        with atomic_path(path) as tmp:
            document.save(tmp)
            if pdfa_profile is not None and (problems := pdfa_problems(tmp)):
                raise RuntimeError(f"the PDF/A written fails its check: {'; '.join(problems)}")
            if _page_count(tmp) != pages:  # a short file written without an error (disk full)
                raise OSError(
                    errno.ENOSPC, f"an incomplete PDF was written joining {len(parts)} page PDFs (disk full?)"
                )


def _set_metadata(document, info: DocumentInfo) -> None:
    """Title, creator tool and dates in the XMP metadata, mirrored into the Info dictionary."""
    with document.open_metadata(set_pikepdf_as_editor=False) as meta:
        meta["dc:title"] = info.source
        meta["xmp:CreatorTool"] = f"{info.software} ({', '.join(info.models)})" if info.models else info.software
        meta["xmp:MetadataDate"] = info.created
        meta["xmp:ModifyDate"] = info.created
        if "xmp:CreateDate" not in meta:
            meta["xmp:CreateDate"] = info.created
        meta["pdf:Producer"] = f"{info.software} with pikepdf"


def _page_count(pdf: Path) -> int:
    """Pages of a written PDF; 0 when it cannot be read back."""
    import pikepdf

    try:
        with pikepdf.open(pdf) as document:
            return len(document.pages)
    except pikepdf.PdfError:
        return 0


def write_text(path: Path, results: list[PageResult]) -> None:
    """Plain UTF-8 text: lines in reading order, pages separated by a form feed."""
    atomic_write_text(path, "\f".join(r.text + "\n" for r in results))

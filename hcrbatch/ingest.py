"""PDFs (via pdf2image/poppler) and images (via Pillow) to PageImage, one page at a time."""

from __future__ import annotations

import logging
import subprocess
from collections.abc import Container, Iterator
from pathlib import Path

import numpy as np
from pdf2image import convert_from_path, pdfinfo_from_path
from pdf2image.exceptions import PDFInfoNotInstalledError, PDFPageCountError, PDFSyntaxError
from PIL import Image, ImageOps, UnidentifiedImageError

from hcrbatch.config import IngestConfig
from hcrbatch.elements import PageImage
from hcrbatch.errors import (
    CorruptFileError,
    EmptyFileError,
    EncryptedPdfError,
    HcrError,
    InputFileError,
    TooLargeError,
)

log = logging.getLogger(__name__)


def _pdf_info(path: Path) -> dict:
    try:
        return pdfinfo_from_path(str(path))
    except PDFInfoNotInstalledError as exc:
        raise HcrError("pdfinfo not found: install poppler-utils (apt-get install poppler-utils)") from exc
    except (PDFPageCountError, PDFSyntaxError, ValueError) as exc:
        message = str(exc)
        if "password" in message.lower() or "encrypt" in message.lower():
            raise EncryptedPdfError() from exc
        if "Invalid page count 0" in message:  # pdfinfo then complains of its own page range
            raise CorruptFileError("PDF has no pages") from exc
        first_line = message.strip().splitlines()[-1] if message.strip() else type(exc).__name__
        raise CorruptFileError(f"unreadable PDF: {first_line}") from exc


def _check_pixels(width: float, height: float, cfg: IngestConfig) -> None:
    pixels = int(width) * int(height)
    if pixels > cfg.max_pixels:
        raise TooLargeError(pixels, cfg.max_pixels)


def count_pages(path: Path) -> int:
    """Number of pages, read from the file's header without decoding pixels."""
    if path.stat().st_size == 0:
        raise EmptyFileError()
    if path.suffix.lower() == ".pdf":
        return int(_pdf_info(path).get("Pages", 0))
    with _open_image(path) as img:
        return int(getattr(img, "n_frames", 1))


def _open_image(path: Path) -> Image.Image:
    """The image, its header read: Pillow's own decompression-bomb limit (89.5 Mpx) is lifted while
    it opens, because `--max-pixels` (`_check_pixels`, before any frame is decoded) is the one limit
    a user sets and meets."""
    limit = Image.MAX_IMAGE_PIXELS
    try:
        Image.MAX_IMAGE_PIXELS = None
        return Image.open(path)
    except UnidentifiedImageError as exc:
        raise CorruptFileError(f"not an image Pillow can read ({path.suffix} file with other content)") from exc
    finally:
        Image.MAX_IMAGE_PIXELS = limit


def _pdf_pages(path: Path, cfg: IngestConfig, skip: Container[int]) -> Iterator[PageImage]:
    info = _pdf_info(path)
    pages = int(info.get("Pages", 0))
    if pages == 0:
        raise CorruptFileError("PDF has no pages")
    sizes = _page_sizes_points(path, pages)
    for number in range(1, pages + 1):
        if number - 1 in skip:
            continue
        if number in sizes:
            width, height = sizes[number]
            _check_pixels(width / 72 * cfg.dpi, height / 72 * cfg.dpi, cfg)
        try:
            images = convert_from_path(str(path), dpi=cfg.dpi, first_page=number, last_page=number)
        except (PDFPageCountError, PDFSyntaxError) as exc:
            raise CorruptFileError(f"page {number} cannot be rendered: {str(exc).strip()[:200]}") from exc
        if not images:
            raise CorruptFileError(f"page {number} cannot be rendered")
        yield PageImage(path, number - 1, _gray_if_colourless(np.asarray(images[0].convert("RGB"))), float(cfg.dpi))


def _gray_if_colourless(rgb: np.ndarray) -> np.ndarray:
    """poppler renders every page as RGB; a page with no colour is kept as gray (a third of the bytes)."""
    if (rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all():
        return np.ascontiguousarray(rgb[..., 0])
    return rgb


def _page_sizes_points(path: Path, pages: int) -> dict[int, tuple[float, float]]:
    """Each page's size in points as pdftoppm renders it: its MediaBox (`pdfinfo -box` prints
    "Page    3 MediaBox:   0.00   0.00 612.00 792.00"). pdfinfo's "size" is the CropBox, which a
    PDF may make far smaller than what is rendered."""
    try:
        listing = subprocess.run(["pdfinfo", "-box", "-f", "1", "-l", str(pages), str(path)],
                                 capture_output=True, text=True, errors="replace", timeout=120).stdout  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return {}
    sizes = {}
    for line in listing.splitlines():
        words = line.split()
        if len(words) == 7 and words[0] == "Page" and words[2] == "MediaBox:":
            try:
                x0, y0, x1, y1 = map(float, words[3:])
                sizes[int(words[1])] = (abs(x1 - x0), abs(y1 - y0))
            except ValueError:
                continue
    return sizes


def _image_dpi(img: Image.Image, default: int) -> float:
    dpi = img.info.get("dpi")
    try:
        value = float(dpi[0]) if dpi else 0.0
    except (TypeError, ValueError):
        value = 0.0
    return value if 50 <= value <= 2400 else float(default)


def _image_pages(path: Path, cfg: IngestConfig, skip: Container[int]) -> Iterator[PageImage]:
    with _open_image(path) as img:
        frames = int(getattr(img, "n_frames", 1))
        for index in range(frames):
            if index in skip:
                continue
            try:
                img.seek(index)
                _check_pixels(img.width, img.height, cfg)
                # a photo's EXIF orientation turns it upright, as viewers show it
                upright = ImageOps.exif_transpose(img) if img.getexif().get(EXIF_ORIENTATION, 1) != 1 else img
                pixels = np.asarray(_on_white(_eight_bit(upright)))
            except InputFileError:
                raise
            except (OSError, ValueError, SyntaxError) as exc:
                raise CorruptFileError(f"page {index + 1} cannot be decoded: {exc}") from exc
            yield PageImage(path, index, pixels, _image_dpi(img, cfg.dpi))


EXIF_ORIENTATION = 0x0112


def _eight_bit(img: Image.Image) -> Image.Image:
    """The frame as 8-bit gray or RGB, keeping its transparency (LA, RGBA) for `_on_white`."""
    if img.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
        return _scale_to_8bit(img)
    if img.mode in ("LA", "RGBA", "PA") or (img.mode == "P" and "transparency" in img.info):
        return img.convert("LA" if img.mode == "LA" else "RGBA")
    return img.convert("L" if img.mode in ("1", "L") else "RGB")


def _on_white(img: Image.Image) -> Image.Image:
    """Transparent parts on white paper, as a viewer shows them: ink on a transparent sheet would
    otherwise become ink on black (its transparent pixels' own colour), a page read as empty."""
    if img.mode not in ("LA", "RGBA"):
        return img
    paper = Image.new(img.mode, img.size, (255, 255) if img.mode == "LA" else (255, 255, 255, 255))
    return Image.alpha_composite(paper.convert("RGBA"), img.convert("RGBA")).convert("L" if img.mode == "LA" else "RGB")


def _scale_to_8bit(img: Image.Image) -> Image.Image:
    """16-bit and float scans: stretch their range to 8-bit gray."""
    data = np.asarray(img, dtype=np.float64)
    low, high = float(data.min()), float(data.max())
    scaled = (data - low) / (high - low) * 255 if high > low else np.zeros_like(data)
    return Image.fromarray(scaled.astype(np.uint8))


def iter_pages(path: Path, cfg: IngestConfig, skip: Container[int] = frozenset()) -> Iterator[PageImage]:
    """Yield the pages of one file in order, leaving out the indices in `skip` (pages a resumed run
    has already done) without decoding them; only one page's pixels are held at a time."""
    if path.stat().st_size == 0:
        raise EmptyFileError()
    if path.suffix.lower() == ".pdf":
        yield from _pdf_pages(path, cfg, skip)
    else:
        yield from _image_pages(path, cfg, skip)

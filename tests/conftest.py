"""Fixtures that make real inputs (OpenCV pages, reportlab PDFs, TIFFs, broken files) and a tiny model."""

from __future__ import annotations

import string
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner, Result
from PIL import Image
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen.canvas import Canvas

from hcrbatch.cli import cli

REPO = Path(__file__).resolve().parent.parent
TINY_CHARSET = string.digits + string.ascii_uppercase + string.ascii_lowercase


def draw_page(lines: list[str], size: tuple[int, int] = (1200, 900), angle: float = 0.0) -> np.ndarray:
    """A white page with dark hand-printed-looking text (OpenCV's Hershey fonts), optionally rotated."""
    width, height = size
    page = np.full((height, width), 245, np.uint8)
    for row, text in enumerate(lines):
        cv2.putText(page, text, (80, 160 + row * 140), cv2.FONT_HERSHEY_SIMPLEX, 2.2, 25, 5, cv2.LINE_AA)
    if angle:
        matrix = cv2.getRotationMatrix2D((width / 2, height / 2), angle, 1.0)
        page = cv2.warpAffine(page, matrix, (width, height), borderValue=245)
    return page


def draw_stamp(page: np.ndarray, centre: tuple[int, int] = (230, 260)) -> np.ndarray:
    """A tax stamp struck on `page` (in place): a ring, print round it, a figure and a value inside."""
    cv2.circle(page, centre, 130, 40, 3)
    for k, letter in enumerate("REPUBLIQUE FRANCAISE"):
        angle = np.pi * (1.1 + 0.8 * k / 19)
        x, y = centre[0] + 105 * np.cos(angle), centre[1] + 105 * np.sin(angle)
        cv2.putText(page, letter, (int(x) - 6, int(y) + 6), cv2.FONT_HERSHEY_SIMPLEX, 0.5, 40, 1, cv2.LINE_AA)
    cv2.ellipse(page, (centre[0] - 30, centre[1] + 10), (25, 70), 0, 0, 360, 50, -1)
    cv2.putText(page, "2f 10", (centre[0] + 5, centre[1] - 10), cv2.FONT_HERSHEY_SIMPLEX, 0.9, 40, 2, cv2.LINE_AA)
    cv2.putText(page, "cen 50", (centre[0] + 5, centre[1] + 40), cv2.FONT_HERSHEY_SIMPLEX, 0.9, 40, 2, cv2.LINE_AA)
    return page


def blank_paper(size: tuple[int, int] = (1200, 900), seed: int = 0) -> np.ndarray:
    """A blank sheet as a scanner sees it: grain blurred into mottling, plus sensor noise."""
    rng = np.random.default_rng(seed)
    grain = cv2.GaussianBlur(rng.normal(232, 6, size[::-1]).astype(np.float32), (0, 0), 1.2)
    return np.clip(grain + rng.normal(0, 4, size[::-1]), 0, 255).astype(np.uint8)


def write_png(path: Path, pixels: np.ndarray, dpi: int = 200) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path, dpi=(dpi, dpi))
    return path


def write_tiff(path: Path, pages: list[np.ndarray], dpi: int = 200) -> Path:
    images = [Image.fromarray(p) for p in pages]
    images[0].save(path, save_all=True, append_images=images[1:], compression="tiff_adobe_deflate", dpi=(dpi, dpi))
    return path


def write_pdf(path: Path, pages: list[np.ndarray], dpi: int = 200, encrypt: str | None = None) -> Path:
    """A scanned-style PDF: each page an image at its physical size."""
    canvas = Canvas(str(path), encrypt=encrypt)
    for pixels in pages:
        width, height = pixels.shape[1] / dpi * 72, pixels.shape[0] / dpi * 72
        canvas.setPageSize((width, height))
        canvas.drawImage(ImageReader(Image.fromarray(pixels)), 0, 0, width, height)
        canvas.showPage()
    canvas.save()
    return path


LABELLED_CLASSES = "0137AHbe.-"


@pytest.fixture(scope="session")
def labelled_folder(tmp_path_factory) -> Path:
    """30 jittered drawings of each of LABELLED_CLASSES as DIR/<label>/*.png, dark ink on light paper."""
    from hcrbatch.train.datasets import encode_label

    folder = tmp_path_factory.mktemp("chars")
    rng = np.random.default_rng(0)
    fonts = [cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_DUPLEX, cv2.FONT_HERSHEY_SCRIPT_SIMPLEX]
    for char in LABELLED_CLASSES:
        target = folder / encode_label(char)
        target.mkdir()
        for i in range(30):
            img = np.full((64, 64), 235, np.uint8)
            org = (14 + int(rng.integers(-3, 4)), 48 + int(rng.integers(-3, 4)))
            cv2.putText(img, char, org, fonts[i % 3], 1.4, 20, int(rng.integers(2, 5)), cv2.LINE_AA)
            cv2.imwrite(str(target / f"{i:02d}.png"), img)
    return folder


@pytest.fixture(scope="session")
def tiny_models_dir(tmp_path_factory) -> Path:
    """An untrained but real Keras model with a manifest: exercises the real loading path quickly."""
    import keras

    from hcrbatch.modelstore import write_manifest
    from hcrbatch.train.charcnn import build_model

    models = tmp_path_factory.mktemp("models")
    keras.utils.set_random_seed(0)
    model = build_model(len(TINY_CHARSET))
    model.save(models / "tiny.keras")
    write_manifest(
        models,
        {
            "name": "tiny",
            "version": "test",
            "charset": TINY_CHARSET,
            "input_size": [28, 28],
            "normalisation": "hcrbatch.glyphs.normalise_glyph",
            "training_data": ["none: random weights for tests"],
            "metrics": {},
        },
    )
    return models


def unquote(cell: str) -> str:
    """Undo the CSV's spreadsheet guard (a leading ' before =, +, -, @)."""
    return cell[1:] if cell[:1] == "'" and cell[1:2] in ("=", "+", "-", "@") else cell


@pytest.fixture
def run_cli(tiny_models_dir):
    """Invoke `hcrbatch run IN OUT ...` in-process with the tiny model; returns the click Result."""

    def invoke(in_dir: Path, out_dir: Path, *args: str, model: bool = True) -> Result:
        extra = ["--models-dir", str(tiny_models_dir), "--model", "tiny"] if model else []
        argv = ["run", str(in_dir), str(out_dir), "--workers", "1", "--quiet", *extra, *args]
        return CliRunner().invoke(cli, argv, catch_exceptions=False)

    return invoke


@pytest.fixture
def sample_folder(tmp_path) -> Path:
    """One PDF (two pages), one PNG and one multi-page TIFF in nested folders."""
    folder = tmp_path / "in"
    page_a = draw_page(["HELLO WORLD", "the quick fox"])
    page_b = draw_page(["SECOND PAGE", "jumps 1887"])
    (folder / "sub").mkdir(parents=True)
    write_pdf(folder / "letter.pdf", [page_a, page_b])
    write_png(folder / "sub" / "note.png", page_a)
    write_tiff(folder / "sub" / "register.tif", [page_b, page_a])
    return folder

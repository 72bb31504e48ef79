import numpy as np
import pytest

from conftest import draw_page, write_pdf, write_png, write_tiff
from hcrbatch.config import IngestConfig
from hcrbatch.errors import CorruptFileError, EmptyFileError, EncryptedPdfError, TooLargeError
from hcrbatch.ingest import count_pages, iter_pages


def test_pdf_pages_one_at_a_time_at_requested_dpi(tmp_path):
    pdf = write_pdf(tmp_path / "a.pdf", [draw_page(["ONE"]), draw_page(["TWO"], size=(900, 600))], dpi=200)
    pages = iter_pages(pdf, IngestConfig(dpi=100))
    first = next(pages)
    assert (first.index, first.dpi, first.pixels.shape) == (0, 100.0, (450, 600))
    second = next(pages)
    assert (second.index, second.pixels.shape) == (1, (300, 450))
    assert next(pages, None) is None
    assert count_pages(pdf) == 2


def test_gray_pdf_pages_stay_gray(tmp_path):
    pdf = write_pdf(tmp_path / "a.pdf", [draw_page(["ONE"])])
    assert next(iter_pages(pdf, IngestConfig(dpi=100))).pixels.ndim == 2


def test_multipage_tiff_keeps_dpi_and_pixels(tmp_path):
    pages = [draw_page(["A"]), draw_page(["B"], size=(800, 700))]
    tif = write_tiff(tmp_path / "a.tif", pages, dpi=150)
    read = list(iter_pages(tif, IngestConfig()))
    assert [p.dpi for p in read] == [150.0, 150.0]
    assert np.array_equal(read[1].pixels, pages[1])


def test_pages_a_resumed_run_has_done_are_not_decoded(tmp_path):
    pages = [draw_page(["A"]), draw_page(["B"]), draw_page(["C"])]
    tif = write_tiff(tmp_path / "a.tif", pages, dpi=150)
    pdf = write_pdf(tmp_path / "a.pdf", pages)
    assert [p.index for p in iter_pages(tif, IngestConfig(), skip={0, 2})] == [1]
    assert [p.index for p in iter_pages(pdf, IngestConfig(dpi=50), skip={1})] == [0, 2]


def test_image_without_dpi_gets_the_configured_dpi(tmp_path):
    from PIL import Image

    path = tmp_path / "a.png"
    Image.fromarray(draw_page(["A"])).save(path)
    assert next(iter_pages(path, IngestConfig(dpi=240))).dpi == 240.0


@pytest.mark.parametrize(
    "make, error, words",
    [
        (lambda p: p.write_bytes(b""), EmptyFileError, "empty"),
        (lambda p: p.write_text("just some text, not a picture"), CorruptFileError, "not an image"),
    ],
)
def test_bad_images_raise_clear_errors(tmp_path, make, error, words):
    path = tmp_path / "bad.png"
    make(path)
    with pytest.raises(error, match=words):
        list(iter_pages(path, IngestConfig()))


def test_corrupt_pdf(tmp_path):
    good = write_pdf(tmp_path / "good.pdf", [draw_page(["A"])]).read_bytes()
    bad = tmp_path / "bad.pdf"
    bad.write_bytes(good[: len(good) // 3])
    with pytest.raises(CorruptFileError):
        list(iter_pages(bad, IngestConfig()))


def test_encrypted_pdf_names_the_fix(tmp_path):
    pdf = write_pdf(tmp_path / "locked.pdf", [draw_page(["A"])], encrypt="secret")
    with pytest.raises(EncryptedPdfError, match="qpdf --decrypt"):
        list(iter_pages(pdf, IngestConfig()))


def test_too_many_pixels_refused_before_decoding(tmp_path):
    png = write_png(tmp_path / "big.png", draw_page(["A"]))
    with pytest.raises(TooLargeError, match="too large"):
        list(iter_pages(png, IngestConfig(max_pixels=1000)))
    pdf = write_pdf(tmp_path / "big.pdf", [draw_page(["A"])])
    with pytest.raises(TooLargeError):
        list(iter_pages(pdf, IngestConfig(max_pixels=1000)))

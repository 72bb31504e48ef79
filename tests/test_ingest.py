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


def test_a_pdf_of_no_pages_says_so(tmp_path):
    import pikepdf

    with pikepdf.new() as pdf:
        pdf.save(tmp_path / "empty.pdf")
    with pytest.raises(CorruptFileError, match="^PDF has no pages$"):
        list(iter_pages(tmp_path / "empty.pdf", IngestConfig()))


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


def test_max_pixels_is_the_only_pixel_limit(tmp_path):
    """A 96-megapixel scan is above Pillow's own decompression-bomb limit (89.5 M) and below ours."""
    from PIL import Image

    png = tmp_path / "atlas.png"
    Image.new("L", (9800, 9800), 255).save(png)
    [page] = iter_pages(png, IngestConfig(max_pixels=100_000_000))
    assert page.pixels.shape == (9800, 9800)
    with pytest.raises(TooLargeError):
        list(iter_pages(png, IngestConfig(max_pixels=90_000_000)))


def test_the_pixel_limit_binds_the_box_a_pdf_page_is_rendered_from(tmp_path):
    """pdftoppm renders a page's MediaBox; a CropBox a hundredth of its area must not let it by."""
    import pikepdf

    pdf = write_pdf(tmp_path / "boxes.pdf", [draw_page(["A"])])
    with pikepdf.open(pdf, allow_overwriting_input=True) as document:
        width, height = (float(v) for v in document.pages[0].mediabox[2:])
        document.pages[0].obj.MediaBox = pikepdf.Array([0, 0, 10 * width, 10 * height])
        document.pages[0].obj.CropBox = pikepdf.Array([0, 0, width, height])
        document.save(pdf)
    shown = int(width / 72 * 200) * int(height / 72 * 200)  # what the CropBox would give at 200 dpi
    with pytest.raises(TooLargeError):
        list(iter_pages(pdf, IngestConfig(dpi=200, max_pixels=10 * shown)))


@pytest.mark.parametrize("mode", ["RGBA", "LA"])
def test_ink_on_a_transparent_sheet_is_read_on_white_paper(tmp_path, mode):
    from PIL import Image

    channels = np.zeros((100, 200, 4 if mode == "RGBA" else 2), np.uint8)  # transparent black everywhere
    channels[40:60, 20:180, -1] = 255  # but for an opaque black stroke
    Image.fromarray(channels, mode).save(tmp_path / "ink.png")
    pixels = next(iter_pages(tmp_path / "ink.png", IngestConfig())).pixels
    assert pixels[0, 0].min() == 255 and pixels[50, 100].max() == 0


def test_a_photo_is_turned_as_its_exif_orientation_says(tmp_path):
    from PIL import Image

    page = np.full((100, 200), 255, np.uint8)
    page[:, :20] = 0  # a dark left edge
    image = Image.fromarray(page)
    exif = image.getexif()
    exif[0x0112] = 6  # stored turned: view it rotated 90° clockwise
    image.save(tmp_path / "photo.jpg", exif=exif, quality=95)
    pixels = next(iter_pages(tmp_path / "photo.jpg", IngestConfig())).pixels
    assert pixels.shape == (200, 100) and pixels[:20].mean() < 60 and pixels[-20:].mean() > 200  # edge now on top


def test_a_16_bit_big_endian_tiff_keeps_dark_ink_on_light_paper(tmp_path):
    from PIL import Image

    values = np.full((100, 200), 60000, ">u2")
    values[40:60, 20:180] = 1000
    Image.frombytes("I;16B", (200, 100), values.tobytes()).save(tmp_path / "scan.tif")
    pixels = next(iter_pages(tmp_path / "scan.tif", IngestConfig())).pixels
    assert pixels[50, 100] < 30 and pixels[5, 5] > 225

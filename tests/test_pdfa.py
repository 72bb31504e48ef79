"""`--output-type pdfa`: every kind of input becomes a PDF that meets the PDF/A-2b requirements
`hcrbatch.pdfa` checks, a PDF input keeps its own pages where PDF/A allows them, and the check
itself finds what an ordinary PDF lacks."""

import subprocess

import pandas as pd
import pikepdf
import pytest
from PIL import Image
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen.canvas import Canvas

from conftest import draw_page, write_pdf, write_png
from hcrbatch import pdfa
from hcrbatch.errors import ExitCode
from hcrbatch.pdfa import original_problems, pdfa_problems

pytestmark = pytest.mark.skipif(not pdfa.SRGB_PROFILE.exists(), reason="apt-get install icc-profiles-free")


def _typed_pdf(path, pixels, dpi=200):
    """A PDF whose page has a scan and a line of text in Helvetica, a font it does not embed."""
    canvas = Canvas(str(path))
    width, height = pixels.shape[1] / dpi * 72, pixels.shape[0] / dpi * 72
    canvas.setPageSize((width, height))
    canvas.drawImage(ImageReader(Image.fromarray(pixels)), 0, 0, width, height)
    canvas.setFont("Helvetica", 10)
    canvas.drawString(20, 20, "Received with thanks")
    canvas.showPage()
    canvas.save()
    return path


def _image_streams(pdf, decoded: bool = False) -> list[bytes]:
    with pikepdf.open(pdf) as document:
        images = [image for page in document.pages for image in page.get_images().values()]
        return [image.read_bytes() if decoded else image.read_raw_bytes() for image in images]


@pytest.fixture
def inputs(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    write_png(folder / "note.png", draw_page(["HELLO WORLD"]))
    Image.fromarray(draw_page(["SECOND NOTE"])).save(folder / "photo.jpg", quality=90, dpi=(200, 200))
    first, last = Image.fromarray(draw_page(["FIRST PAGE"])), Image.fromarray(draw_page(["LAST PAGE"]))
    first.save(folder / "scanned.pdf", save_all=True, append_images=[last], resolution=200)  # a scanner's: images only
    _typed_pdf(folder / "typed.pdf", draw_page(["TYPED LETTER"]))
    return folder


def test_every_kind_of_input_becomes_a_pdfa_that_passes_the_checks(run_cli, inputs, tmp_path):
    out = tmp_path / "out"
    assert run_cli(inputs, out, "--output-type", "pdfa").exit_code == ExitCode.OK
    for name in ["note.pdf", "photo.pdf", "scanned.pdf", "typed.pdf"]:
        assert pdfa_problems(out / name) == [], name
        with pikepdf.open(out / name) as document:
            assert document.check_pdf_syntax() == [], name  # qpdf's own structural check
            meta = document.open_metadata()
            assert (meta["pdfaid:part"], meta["pdfaid:conformance"]) == ("2", "B")
            assert meta["dc:title"] == name.replace(".pdf", "." + {"note": "png", "photo": "jpg"}.get(name[:-4], "pdf"))
    # a scanned PDF keeps its own pages, their image bytes unchanged; the JPEG is embedded as it is
    assert _image_streams(out / "scanned.pdf") == _image_streams(inputs / "scanned.pdf")
    assert _image_streams(out / "photo.pdf") == [(inputs / "photo.jpg").read_bytes()]
    # the typed PDF's unembedded Helvetica cannot stay: its page is the image read, under the text layer
    assert _image_streams(out / "typed.pdf", decoded=True) != _image_streams(inputs / "typed.pdf", decoded=True)
    words = pd.read_csv(out / "scanned.csv")
    text = subprocess.run(["pdftotext", str(out / "scanned.pdf"), "-"], capture_output=True, text=True).stdout
    assert words["text"].notna().all() and all(word in text for word in words["text"])


def test_a_plain_pdf_run_followed_by_a_pdfa_run_redoes_the_files(run_cli, inputs, tmp_path):
    out = tmp_path / "out"
    assert run_cli(inputs, out, "--glob", "note.png").exit_code == ExitCode.OK
    assert "the XMP metadata does not say PDF/A-2b" in pdfa_problems(out / "note.pdf")
    assert run_cli(inputs, out, "--glob", "note.png", "--output-type", "pdfa").exit_code == ExitCode.OK
    assert set(pd.read_csv(out / "hcrbatch-report.csv")["status"]) == {"ok"}
    assert pdfa_problems(out / "note.pdf") == []


def test_the_check_finds_what_an_ordinary_pdf_lacks(inputs):
    problems = pdfa_problems(inputs / "typed.pdf")
    assert "font Helvetica not embedded" in problems
    assert "0 PDF/A output intents (one is needed)" in problems
    assert "no XMP metadata" in problems
    assert original_problems(inputs / "typed.pdf") == ["font Helvetica not embedded"]
    assert original_problems(inputs / "scanned.pdf") == []


def test_only_a_font_that_shows_visible_text_must_be_embedded(tmp_path):
    # reportlab selects Helvetica on every page, showing nothing with it
    assert original_problems(write_pdf(tmp_path / "plain.pdf", [draw_page(["A"], size=(300, 200))])) == []
    canvas = Canvas(str(tmp_path / "ocr.pdf"))
    text = canvas.beginText(20, 20)
    text.setTextRenderMode(3)  # an earlier OCR's invisible layer
    text.textOut("hidden words")
    canvas.drawText(text)
    canvas.showPage()
    canvas.save()
    assert original_problems(tmp_path / "ocr.pdf") == []


def test_without_an_srgb_profile_pdfa_is_refused_before_any_file(run_cli, inputs, tmp_path, monkeypatch):
    monkeypatch.setattr(pdfa, "SRGB_PROFILE", tmp_path / "missing.icc")
    result = run_cli(inputs, tmp_path / "out", "--output-type", "pdfa")
    assert result.exit_code == ExitCode.USAGE and "icc-profiles-free" in result.output
    assert not (tmp_path / "out" / "note.pdf").exists()

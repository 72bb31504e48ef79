import subprocess
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hcrbatch.elements import BBox, Char, DocumentInfo, FileOutcome, Line, PageImage, PageResult, Word
import hcrbatch.render
from hcrbatch.render import join_pdfs, write_page_pdf, write_text
from hcrbatch.report import spreadsheet_safe, write_batch_report, write_document_csv


INFO = DocumentInfo("letter.png", "hcrbatch 0.1.0", ("lines 1",), "2026-12-02T10:00:00Z")


def make_word(text: str, box: BBox) -> Word:
    chars = tuple(Char(box, (c,), (0.9,)) for c in text)
    return Word(box, chars, text)


def two_line_page(index: int = 0) -> tuple[PageImage, PageResult]:
    pixels = np.full((600, 800), 250, np.uint8)
    words = [
        [make_word("alpha", BBox(50, 100, 250, 160)), make_word("beta", BBox(280, 100, 430, 160))],
        [make_word("gamma", BBox(50, 300, 260, 360))],
    ]
    lines = tuple(Line(BBox.enclosing([w.bbox for w in ws]), tuple(ws)) for ws in words)
    return PageImage(None, index, pixels, 200.0), PageResult(index, 800, 600, 200.0, 0.0, lines)


def write_document(pdf, pages, scratch):
    parts = []
    for page, result in pages:
        parts.append(scratch / f"page-{page.index}.pdf")
        write_page_pdf(parts[-1], page, result)
    join_pdfs(parts, pdf, scratch / "join", INFO)


def pdf_words(pdf) -> list[str]:
    return subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout.split()


def test_pdf_text_layer_is_searchable_in_order_and_placed_on_the_words(tmp_path):
    pdf = tmp_path / "out.pdf"
    write_document(pdf, [two_line_page(0), two_line_page(1)], tmp_path)
    assert pdf_words(pdf) == ["alpha", "beta", "gamma", "alpha", "beta", "gamma"]
    bbox_html = subprocess.run(["pdftotext", "-bbox", "-f", "1", "-l", "1", str(pdf), "-"],
                               capture_output=True, text=True, check=True).stdout  # fmt: skip
    # 'beta' spans x 280..430 px at 200 DPI = 100.8..154.8 pt
    line = next(row for row in bbox_html.splitlines() if ">beta<" in row)
    xmin = float(line.split('xMin="')[1].split('"')[0])
    xmax = float(line.split('xMax="')[1].split('"')[0])
    assert xmin == pytest.approx(100.8, abs=1.5) and xmax == pytest.approx(154.8, abs=1.5)


@pytest.mark.parametrize("quarters", [1, 3])
def test_a_line_written_up_or_down_the_page_is_laid_on_its_ink_in_the_text_layer(tmp_path, quarters):
    """A note up (or down) the margin, read turned: extraction finds its word, and its box on the
    page is the tall, narrow box of its ink, not a level word."""
    page, result = two_line_page()
    box = BBox(600, 150, 660, 450)  # 60 px wide, 300 px high
    steps = range(5) if quarters == 1 else range(4, -1, -1)  # letters stacked up, or down, the page
    chars = tuple(Char(BBox(600, 450 - 60 * (i + 1), 660, 450 - 60 * i), (c,), (0.9,)) for i, c in zip(steps, "delta"))
    note = Line(box, (Word(box, chars, "delta"),), turned=quarters)
    pdf = tmp_path / "out.pdf"
    write_page_pdf(pdf, page, replace(result, lines=result.lines + (note,)))
    assert "delta" in pdf_words(pdf)
    html = subprocess.run(["pdftotext", "-bbox", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    row = next(row for row in html.splitlines() if ">delta<" in row)
    found = [float(row.split(f'{key}="')[1].split('"')[0]) for key in ("xMin", "yMin", "xMax", "yMax")]
    left, top, right, bottom = (v * 72 / 200 for v in (600, 150, 660, 450))  # pixels at 200 DPI, in points
    assert found[1] == pytest.approx(top, abs=3) and found[3] == pytest.approx(bottom, abs=3)  # along its writing
    assert left - 10 < found[0] < found[2] < right + 10  # across it, the font's descent beyond its letters' feet


def test_pdf_page_image_keeps_its_pixel_size(tmp_path):
    pdf = tmp_path / "out.pdf"
    write_page_pdf(pdf, *two_line_page())
    listing = subprocess.run(["pdfimages", "-list", str(pdf)], capture_output=True, text=True, check=True).stdout
    row = listing.splitlines()[2].split()
    assert (int(row[3]), int(row[4])) == (800, 600)


def test_a_jpeg_scan_is_embedded_as_it_is_and_no_stream_is_ascii85_encoded(tmp_path):
    import cv2

    page, result = two_line_page()
    scan = tmp_path / "scan.jpg"
    cv2.imwrite(
        str(scan), np.tile(np.arange(800, dtype=np.uint8)[None, :] // 4, (600, 1)), [cv2.IMWRITE_JPEG_QUALITY, 60]
    )
    pdf = tmp_path / "out.pdf"
    write_page_pdf(pdf, PageImage(scan, 0, cv2.imread(str(scan), cv2.IMREAD_GRAYSCALE), 200.0), result)
    data = pdf.read_bytes()
    assert scan.read_bytes() in data and b"ASCII85" not in data
    assert len(data) < scan.stat().st_size + 5000
    write_page_pdf(pdf, page, result)  # pixels only (a PNG, a PDF page): compressed losslessly, still not ASCII85
    assert b"ASCII85" not in pdf.read_bytes() and b"FlateDecode" in pdf.read_bytes()


def test_long_documents_are_joined_in_groups_in_page_order(tmp_path, monkeypatch):
    monkeypatch.setattr(hcrbatch.render, "JOIN_GROUP", 2)
    pdf = tmp_path / "out.pdf"
    write_document(pdf, [two_line_page(i) for i in range(5)], tmp_path)
    assert pdf_words(pdf) == ["alpha", "beta", "gamma"] * 5
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    assert "Pages:           5" in info


def test_no_half_written_pdf_when_joining_fails(tmp_path):
    good, bad = tmp_path / "good.pdf", tmp_path / "bad.pdf"
    write_page_pdf(good, *two_line_page())
    bad.write_bytes(b"%PDF-1.4 truncated")
    with pytest.raises(OSError, match="cannot join 2 page PDFs"):
        join_pdfs([good, bad], tmp_path / "out.pdf", tmp_path / "join", INFO)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.pdf", "good.pdf"]


def test_a_join_written_short_without_an_error_is_an_error_and_leaves_nothing(tmp_path, monkeypatch):
    import pikepdf

    parts = [tmp_path / "p1.pdf", tmp_path / "p2.pdf"]
    for part in parts:
        write_page_pdf(part, *two_line_page())

    def disk_full(self, target, *args, **kwargs):  # a full disk: a cut-off file, and no error
        Path(target).write_bytes(parts[0].read_bytes()[:300])

    monkeypatch.setattr(pikepdf.Pdf, "save", disk_full)
    with pytest.raises(OSError, match="incomplete"):
        join_pdfs(parts, tmp_path / "out.pdf", tmp_path / "join", INFO)
    assert not (tmp_path / "out.pdf").exists() and not list(tmp_path.glob(".out.pdf*"))


def test_a_pdf_input_that_cannot_be_reopened_fails_as_that_input_and_leaves_nothing(tmp_path):
    from hcrbatch.errors import InputFileError

    layer = tmp_path / "layer.pdf"
    write_page_pdf(layer, *two_line_page(), with_image=False)
    original = tmp_path / "scan.pdf"
    original.write_bytes(b"%PDF-1.4 not really")
    with pytest.raises(InputFileError, match="cannot be opened to add the text layer"):
        join_pdfs([layer], tmp_path / "out.pdf", tmp_path / "join", INFO, original=original)
    assert not (tmp_path / "out.pdf").exists() and not list(tmp_path.glob(".out.pdf*"))


def test_the_joined_pdf_is_valid_and_says_what_made_it(tmp_path):
    import pikepdf

    pdf = tmp_path / "out.pdf"
    write_document(pdf, [two_line_page(0), two_line_page(1)], tmp_path)
    with pikepdf.open(pdf) as document:
        assert document.check_pdf_syntax() == []  # qpdf's own structural check
        meta = document.open_metadata()
        assert meta["dc:title"] == "letter.png" and meta["xmp:CreatorTool"] == "hcrbatch 0.1.0 (lines 1)"
        assert str(document.docinfo["/Title"]) == "letter.png"
        assert str(document.docinfo["/Creator"]) == "hcrbatch 0.1.0 (lines 1)"


def test_a_pdf_input_keeps_its_own_pages_with_the_text_layer_on_each_as_shown(tmp_path):
    """The original's content stays byte for byte (its scan is not rasterised again), and the text
    lands where the words were read on the page as shown: on a page with a crop box, and on a page
    turned by /Rotate (read upright, as pdftoppm draws it)."""
    import pikepdf
    from pdf2image import convert_from_path
    from reportlab.pdfgen.canvas import Canvas

    import cv2

    scan = tmp_path / "scan.jpg"
    cv2.imwrite(str(scan), np.tile(np.arange(400, dtype=np.uint8)[None, :] // 2, (300, 1)))
    original = tmp_path / "scan.pdf"
    canvas = Canvas(str(original))
    for _ in range(2):
        canvas.setPageSize((576, 432))  # 8 x 6 in
        canvas.drawImage(str(scan), 0, 0, 576, 432)
        canvas.showPage()
    canvas.save()
    with pikepdf.open(original, allow_overwriting_input=True) as document:
        document.pages[0].obj.CropBox = pikepdf.Array([10, 10, 566, 422])
        document.pages[1].Rotate = 90
        document.save(original)
        streams = [page.obj.Contents.read_bytes() for page in document.pages]
        scans = [image.read_raw_bytes() for page in document.pages for image in page.get_images().values()]
    parts = []
    for index in range(2):  # each page read as the pipeline reads it: rasterised at 100 dpi
        pixels = np.asarray(convert_from_path(str(original), dpi=100, first_page=index + 1, last_page=index + 1)[0])
        height, width = pixels.shape[:2]
        box = BBox(width // 4, height // 2, width // 2, height // 2 + 40)
        result = PageResult(index, width, height, 100.0, 0.0, (Line(box, (make_word("found", box),)),))
        parts.append(tmp_path / f"layer-{index}.pdf")
        write_page_pdf(parts[-1], PageImage(original, index, pixels, 100.0), result, with_image=False)
        with pikepdf.open(parts[-1]) as layer:
            assert not layer.pages[0].get_images()  # the text alone
    out = tmp_path / "out.pdf"
    join_pdfs(parts, out, tmp_path / "join", INFO, original=original)
    with pikepdf.open(out) as document:
        assert document.check_pdf_syntax() == []
        assert document.pages[1].Rotate == 90
        for page, stream, jpeg in zip(document.pages, streams, scans):
            assert stream in page.obj.Contents.read_bytes()  # the page's own drawing, then the layer
            assert [image.read_raw_bytes() for image in page.get_images().values()] == [jpeg]  # the scan as it was
    for index in range(2):
        html = subprocess.run(["pdftotext", "-bbox", "-f", str(index + 1), "-l", str(index + 1), str(out), "-"],
                              capture_output=True, text=True, check=True).stdout  # fmt: skip
        row = next(row for row in html.splitlines() if ">found<" in row)
        x_min = float(row.split('xMin="')[1].split('"')[0])
        y_min = float(row.split('yMin="')[1].split('"')[0])
        shown = (576, 432) if index == 0 else (432, 576)  # as shown: the turned page stands upright
        # the word's box (pdftotext gives it on the page as shown): a quarter across, half way down the page as pdftoppm drew it for reading
        assert x_min == pytest.approx(shown[0] / 4, abs=3)
        assert y_min == pytest.approx(shown[1] / 2, abs=8)


def test_word_csv_round_trips_through_pandas(tmp_path):
    _, result = two_line_page()
    result = replace(result, lines=(result.lines[0].with_evidence(print_probability=0.91234), result.lines[1]))
    path = tmp_path / "doc.csv"
    write_document_csv(path, [result], "letters/1903/kew.pdf")
    assert path.read_bytes().startswith("\ufeffdocument,page,".encode())  # a BOM, for Excel
    frame = pd.read_csv(path)
    assert list(frame.columns)[:2] == ["document", "page"]  # pandas skips the BOM
    assert set(frame["document"]) == {"letters/1903/kew.pdf"}
    assert list(frame["text"]) == ["alpha", "beta", "gamma"]
    assert list(frame["print_probability"].fillna(-1)) == [0.9123, 0.9123, -1]  # empty where not measured
    assert list(frame["line"]) == [1, 1, 2] and list(frame["word"]) == [1, 2, 1]
    assert frame["mean_confidence"].between(0, 1).all()
    assert set(zip(frame["page_width"], frame["page_height"], frame["dpi"])) == {(800, 600, 200.0)}
    write_text(tmp_path / "doc.txt", [result])
    assert (tmp_path / "doc.txt").read_text() == "alpha beta\ngamma\n"


def test_cells_a_spreadsheet_would_execute_are_quoted():
    assert spreadsheet_safe("=SUM(A1)") == "'=SUM(A1)"
    assert spreadsheet_safe("+44") == "'+44"
    assert spreadsheet_safe("-5") == "-5"
    assert spreadsheet_safe("-rf") == "'-rf"
    assert spreadsheet_safe("plain") == "plain"


def test_batch_report_is_sorted_utf8(tmp_path):
    path = tmp_path / "report.csv"
    write_batch_report(path, [FileOutcome("b/é.png", "ok", pages=1), FileOutcome("a.pdf", "failed", "empty file")])
    frame = pd.read_csv(path, encoding="utf-8")
    assert list(frame["path"]) == ["a.pdf", "b/é.png"]
    assert list(frame["status"]) == ["failed", "ok"]

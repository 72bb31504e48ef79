import subprocess
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hcrbatch.elements import BBox, Char, FileOutcome, Line, PageImage, PageResult, Word
import hcrbatch.render
from hcrbatch.render import join_pdfs, write_page_pdf, write_text
from hcrbatch.report import spreadsheet_safe, write_batch_report, write_document_csv


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
    join_pdfs(parts, pdf, scratch / "join")


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
    with pytest.raises(OSError, match="pdfunite"):
        join_pdfs([good, bad], tmp_path / "out.pdf", tmp_path / "join")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.pdf", "good.pdf"]


def test_a_join_that_pdfunite_reports_done_but_left_short_is_an_error_and_leaves_nothing(tmp_path, monkeypatch):
    parts = [tmp_path / "p1.pdf", tmp_path / "p2.pdf"]
    for part in parts:
        write_page_pdf(part, *two_line_page())
    real_run = subprocess.run

    def disk_full(cmd, *args, **kwargs):  # pdfunite on a full disk: a cut-off file, exit 0
        if cmd[0] == "pdfunite":
            Path(cmd[-1]).write_bytes(parts[0].read_bytes()[:300])
            return subprocess.CompletedProcess(cmd, 0, "", "")
        return real_run(cmd, *args, **kwargs)

    monkeypatch.setattr(hcrbatch.render.subprocess, "run", disk_full)
    with pytest.raises(OSError, match="incomplete"):
        join_pdfs(parts, tmp_path / "out.pdf", tmp_path / "join")
    assert not (tmp_path / "out.pdf").exists() and not list(tmp_path.glob(".out.pdf*"))


def test_word_csv_round_trips_through_pandas(tmp_path):
    _, result = two_line_page()
    result = replace(result, lines=(replace(result.lines[0], print_probability=0.91234), result.lines[1]))
    path = tmp_path / "doc.csv"
    write_document_csv(path, [result])
    frame = pd.read_csv(path)
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

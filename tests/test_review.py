"""The review page: what it keeps of each page, and the page itself as a browser shows it."""

import base64
import re
import shutil
import subprocess

import cv2
import numpy as np
import pytest

from conftest import draw_page, write_pdf, write_png
from hcrbatch.elements import BBox, Char, FileOutcome, Line, PageResult, Word
from hcrbatch.review import FLAGGED_PER_PAGE, HISTOGRAM_BINS, PageReview, ReviewedFile, page_review, render


def word(text: str, confidence: float, left: int = 0) -> Word:
    box = BBox(left, 10, left + 20, 30)
    return Word(box, tuple(Char(box, (c,), (confidence,)) for c in text), text)


def test_a_pages_review_keeps_its_least_confident_words_first_and_counts_all_of_them():
    words = tuple(word(f"w{k}", 0.05 * k, 30 * k) for k in range(20))  # confidences 0 to 0.95
    page = PageResult(2, 1000, 800, 300.0, 0.0, (Line(BBox(0, 10, 600, 30), words),))
    review = page_review(page, low_confidence=0.6)
    assert review.page == 3 and review.words == 20
    assert review.low_confidence_words == 12  # 0.0 ... 0.55
    assert [w.text for w in review.flagged] == [f"w{k}" for k in range(FLAGGED_PER_PAGE)]
    assert review.flagged[1].bbox == (30, 10, 50, 30)
    assert sum(review.histogram) == 20 and len(review.histogram) == HISTOGRAM_BINS
    assert PageReview.from_dict(review.to_dict()) == review


def test_the_review_escapes_what_it_shows_and_puts_failed_files_first():
    hostile = FileOutcome("<script>alert(1)</script>.png", "ok", pages=1, words=1, mean_confidence=0.9)
    broken = FileOutcome("broken.pdf", "failed", "not a PDF: <damaged>")
    page = PageReview(1, 1, 0.2, 1, False, False, (), (1,) + (0,) * (HISTOGRAM_BINS - 1))
    files = [ReviewedFile(hostile, None, {"pdf": "<script>alert(1)</script>.pdf"}, (page,)),
             ReviewedFile(broken, None, {}, ())]  # fmt: skip
    text = render(files, [(files[0], page)], {}, 0.6)
    assert "<script>" not in text and "&lt;script&gt;" in text and "not a PDF: &lt;damaged&gt;" in text
    assert text.index("broken.pdf") < text.index("alert(1)</script>.png".replace("<", "&lt;").replace(">", "&gt;"))
    assert 'href="%3Cscript%3Ealert%281%29%3C/script%3E.pdf#page=1"' in text


@pytest.fixture
def reviewed_batch(run_cli, tmp_path):
    """A batch with a two-page PDF, an image and a broken file, read by the untrained model (its
    every word is doubtful), then run again with nothing left to do."""
    folder = tmp_path / "in"
    folder.mkdir()
    write_pdf(folder / "letters.pdf", [draw_page(["DEAR SIR"]), draw_page(["YOURS TRULY"])])
    write_png(folder / "note.png", draw_page(["NOTE"]))
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4 not really")
    out = tmp_path / "out"
    assert run_cli(folder, out, "--engine", "glyph").exit_code == 3  # a file failed
    (out / "hcrbatch-review.html").unlink()
    assert run_cli(folder, out, "--engine", "glyph").exit_code == 3  # the review is written again
    return out


def test_the_review_shows_files_and_pages_worst_first_with_their_words_images(reviewed_batch):
    text = (reviewed_batch / "hcrbatch-review.html").read_text(encoding="utf-8")
    rows = re.findall(r"<tr class=\"(\w+)\"><td>(.*?)</td>", text)
    assert [status for status, _ in rows] == ["failed", "skipped", "skipped"]  # done earlier, still shown
    assert "broken.pdf" in rows[0][1]
    assert '<a href="letters.pdf#page=2">letters.pdf, page 2</a>' in text
    assert '<a href="note.pdf#page=1">note.png, page 1</a>' in text
    images = re.findall(r'<img src="data:image/png;base64,([^"]+)"', text)
    assert len(images) >= 3  # DEAR, SIR, YOURS, TRULY, NOTE: each doubtful
    for encoded in images:
        snippet = cv2.imdecode(np.frombuffer(base64.b64decode(encoded), np.uint8), cv2.IMREAD_GRAYSCALE)
        assert snippet.shape[0] == 40 and snippet.min() < 100 < snippet.max()  # ink on paper
    assert "<svg" in text and "http" not in text.replace("http://www.w3.org/2000/svg", "")  # self-contained


def test_a_browser_renders_the_review(reviewed_batch, tmp_path):
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    assert browser, "the review is checked in Chromium: `make system-deps` installs it"
    url = (reviewed_batch / "hcrbatch-review.html").as_uri()
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--window-size=1100,1600"]
    dom = subprocess.run([browser, *flags, "--dump-dom", url], capture_output=True, text=True, timeout=120).stdout
    assert dom.count('<tr class="failed">') == 1 and dom.count('<tr class="skipped">') == 2
    assert 'id="histogram"' in dom and dom.count('<tr class="word">') == dom.count("<img ") >= 3
    shot = tmp_path / "review.png"
    subprocess.run([browser, *flags, f"--screenshot={shot}", url], capture_output=True, timeout=120, check=True)
    pixels = cv2.imread(str(shot), cv2.IMREAD_COLOR)
    assert pixels.shape[:2] == (1600, 1100)
    blue = (pixels[:, :, 0] > 150) & (pixels[:, :, 2] < 100)  # the histogram's bars and the links
    red = (pixels[:, :, 2] > 150) & (pixels[:, :, 0] < 100)  # the bars under the threshold
    assert blue.sum() > 200 and red.sum() > 200

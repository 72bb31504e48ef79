"""Pages whose reading cannot be right are flagged: writing that came out (nearly) empty, or more text than its ink holds; a blank page, framed or not, is not."""

import cv2
import numpy as np
import pandas as pd

from conftest import blank_paper, draw_page, draw_stamp, write_png
from hcrbatch.config import PreprocessConfig, SegmentConfig
from hcrbatch.elements import BBox, Char, Line, PageImage, PageResult, Segmentation, Word
from hcrbatch.errors import ExitCode
from hcrbatch.preprocess import preprocess
from hcrbatch.segment import segment
from hcrbatch.suspect import characters_per_height, is_overread, is_suspect, marks_read


def framed(page: np.ndarray, border: int = 90) -> np.ndarray:
    """The page as a scanner with a dark bed sees it: a black border round the sheet, darker
    than any ink, and an uneven paper edge."""
    out = page.copy()
    out[:border] = out[-border:] = 18
    out[:, :border] = out[:, -border:] = 18
    cv2.line(out, (border, border + 40), (border + 30, out.shape[0] - border), 18, 25)  # a torn edge
    return out


def written_page() -> np.ndarray:
    return draw_page(["DEAR SIR", "HERE IS MY LETTER", "YOURS TRULY"])


def test_a_written_pages_marks_are_read_and_a_blank_pages_are_too_few_to_judge():
    clean = preprocess(PageImage(None, 0, written_page(), 300.0), PreprocessConfig())
    nothing = PageResult(0, 1200, 900, 300.0, 0.0, ())
    assert marks_read(clean, nothing) == 0.0
    everything = Word(BBox(0, 0, 1200, 900), (Char(BBox(0, 0, 1200, 900), ("x",), (1.0,)),), "x")
    assert marks_read(clean, PageResult(0, 1200, 900, 300.0, 0.0, (Line(everything.bbox, (everything,)),))) == 1.0
    for blank in (blank_paper(), framed(blank_paper())):
        assert marks_read(preprocess(PageImage(None, 0, blank, 300.0), PreprocessConfig()), nothing) is None
    assert not is_suspect(PageResult(0, 1, 1, 300.0, 0.0, (), None))


def test_a_dark_bordered_written_page_is_read_and_blank_pages_framed_or_not_are_empty_and_not_flagged(
    run_cli, tmp_path
):
    folder = tmp_path / "in"
    write_png(folder / "bordered.png", framed(written_page()))
    write_png(folder / "blank-bordered.png", framed(blank_paper()))
    write_png(folder / "blank.png", blank_paper())
    out = tmp_path / "out"
    assert run_cli(folder, out).exit_code == ExitCode.OK
    rows = pd.read_csv(out / "hcrbatch-report.csv", keep_default_na=False).set_index("path")
    assert rows.loc["bordered.png", "words"] >= 6  # the writing inside the border is found
    assert rows.loc["blank-bordered.png", "words"] == 0 and rows.loc["blank.png", "words"] == 0
    assert (rows["suspect_pages"] == "").all()


def test_a_written_page_read_as_nothing_is_flagged_in_the_report_and_on_stderr(run_cli, tmp_path, monkeypatch):
    import hcrbatch.engines as engines

    monkeypatch.setattr(engines, "segment", lambda clean, cfg, finder: Segmentation((), np.zeros((1, 1), np.int32)))
    folder = tmp_path / "in"
    write_png(folder / "letter.png", written_page())
    write_png(folder / "blank.png", blank_paper())
    out = tmp_path / "out"
    result = run_cli(folder, out)  # --quiet: warnings still reach stderr
    assert result.exit_code == ExitCode.OK  # the page was processed; it is flagged, not failed
    rows = pd.read_csv(out / "hcrbatch-report.csv", keep_default_na=False).set_index("path")
    assert rows.loc["letter.png", "suspect_pages"] == "1" and rows.loc["letter.png", "words"] == 0
    assert rows.loc["blank.png", "suspect_pages"] == ""
    assert "letter.png: page 1: most of its writing was not read" in result.stderr


def test_more_characters_than_a_lines_ink_can_hold_is_overread():
    def page(text: str, width: int) -> PageResult:
        box = BBox(0, 0, width, 40)
        word = Word(box, tuple(Char(box, (c,), (0.9,)) for c in text), text)
        return PageResult(0, 1000, 1000, 300, 0.0, (Line(box, (word,)),))

    assert characters_per_height(page("x" * 30, 400)) == 3.0  # writing: about 3 per line height
    assert not is_overread(page("x" * 30, 400))
    assert is_overread(page("x" * 90, 400))  # 9 per line height: specks or ruling read as text
    assert characters_per_height(PageResult(0, 10, 10, 300, 0.0)) is None and not is_overread(
        PageResult(0, 10, 10, 300, 0.0)
    )


def test_an_overread_page_is_named_in_the_report_and_on_stderr(tmp_path, monkeypatch, caplog):
    from hcrbatch.config import Config, RecognizeConfig
    from hcrbatch.engines import ENGINES, EngineSpec
    from hcrbatch.pipeline import run_batch

    class Texture:
        models = ()

        def read(self, page):
            box = BBox(10, 10, 410, 50)
            word = Word(box, tuple(Char(box, ("i",), (0.5,)) for _ in range(120)), "i" * 120)
            return page.empty_result((Line(box, (word,)),))

    monkeypatch.setitem(ENGINES, "texture", EngineSpec(lambda cfg, lang: [], lambda cfg, lang: Texture()))
    write_png(tmp_path / "in" / "ruled.png", blank_paper())
    cfg = Config(tmp_path / "in", tmp_path / "out", workers=1, recognize=RecognizeConfig(engine="texture"))
    assert run_batch(cfg).counts["ok"] == 1
    rows = pd.read_csv(tmp_path / "out" / "hcrbatch-report.csv", keep_default_na=False).set_index("path")
    assert str(rows.loc["ruled.png", "overread_pages"]) == "1"
    assert "ruled.png: page 1: read as 12.0 characters per line height" in caplog.text


def ruled_sheet(border: bool) -> np.ndarray:
    """A blank sheet ruled for writing, with a margin rule, and with `border` a printed border of
    small diamonds along its top and bottom."""
    page = blank_paper((1700, 2200))
    for y in range(300, 2000, 90):
        cv2.line(page, (150, y), (1550, y), 120, 2)
    cv2.line(page, (260, 200), (260, 2100), 150, 2)
    for x in range(100, 1600, 40) if border else ():
        diamond = np.array([[x, 120], [x + 12, 108], [x + 24, 120], [x + 12, 132]])
        cv2.fillPoly(page, [diamond, diamond + [0, 1960]], 60)
    return page


def test_ruling_and_decoration_are_read_as_no_words_and_a_ruled_blank_sheet_is_not_flagged(run_cli, tmp_path):
    folder = tmp_path / "in"
    write_png(folder / "ruled.png", ruled_sheet(border=False))
    write_png(folder / "bordered.png", ruled_sheet(border=True))
    out = tmp_path / "out"
    assert run_cli(folder, out).exit_code == ExitCode.OK
    rows = pd.read_csv(out / "hcrbatch-report.csv", keep_default_na=False).set_index("path")
    assert rows.loc["ruled.png", "words"] == 0 and rows.loc["bordered.png", "words"] == 0
    assert rows.loc["ruled.png", "suspect_pages"] == ""  # the rules are the paper's, not writing


def test_a_pdf_page_whose_image_stops_short_is_flagged_and_whole_pages_are_not(tmp_path):
    """A JPEG stream cut to a third, as a damaged PDF holds it: poppler renders the rest as a flat
    fill without a word; a scan's grainy paper, a dark scanner bed and a born-digital page's white
    foot are not taken for one."""
    import pikepdf
    from PIL import Image

    from hcrbatch.config import IngestConfig
    from hcrbatch.ingest import iter_pages
    from hcrbatch.preprocess import to_gray
    from hcrbatch.suspect import cut_short

    scan = np.minimum(blank_paper(), written_page())
    Image.fromarray(scan).save(tmp_path / "scan.pdf", resolution=200)
    with pikepdf.open(tmp_path / "scan.pdf", allow_overwriting_input=True) as pdf:
        [image] = pdf.pages[0].get_images().values()
        data = image.read_raw_bytes()
        image.write(data[: len(data) // 3], filter=image.Filter)
        pdf.save(tmp_path / "scan.pdf")
    [page] = iter_pages(tmp_path / "scan.pdf", IngestConfig(dpi=100))
    assert cut_short(to_gray(page.pixels)) > 0.3
    assert is_suspect(PageResult(0, 10, 10, 100.0, 0.0, cut_short=0.4))
    assert cut_short(scan) == cut_short(framed(scan)) == cut_short(written_page()) == 0.0


def test_a_stamp_beside_the_writing_is_no_writing_left_unread():
    letter = draw_stamp(written_page(), centre=(1000, 650))
    clean = preprocess(PageImage(None, 0, letter, 300.0), PreprocessConfig())
    found = segment(clean, SegmentConfig())
    assert len(found.stamps) == 1 and len(found.lines) == 3
    lines = tuple(Line(box, (Word(box, (Char(box, ("x",), (1.0,)),), "x"),)) for box in (ln.bbox for ln in found.lines))
    read = PageResult(0, 1200, 900, 300.0, 0.0, lines)
    assert marks_read(clean, read, found.stamps) > 0.9 > marks_read(clean, read)  # the stamp's marks not counted

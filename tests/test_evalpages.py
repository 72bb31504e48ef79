"""Scoring a page's reading against its transcription, and `hcrbatch eval-pages` end to end."""

import logging
from dataclasses import replace

import cv2
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from conftest import write_png
from hcrbatch.cli import cli
from hcrbatch.elements import BBox, Char, Line, PageResult, Word
from hcrbatch.config import Config
from hcrbatch.evalpages import misplaced, score_page, total, transcribed_images
from hcrbatch.groundtruth import GTLine, GTPage, GTRegion

TEXTS = ["HOUSE OF", "MANY ROOMS", "LATER NOTE"]
ROWS = [(100, 170), (250, 320), (400, 470)]  # the rows each text line is drawn in


def drawn_page() -> np.ndarray:
    page = np.full((600, 900), 240, np.uint8)
    for text, (_, bottom) in zip(TEXTS, ROWS):
        cv2.putText(page, text, (60, bottom - 10), cv2.FONT_HERSHEY_SIMPLEX, 2.0, 20, 5, cv2.LINE_AA)
    return page


def rectangle(left, top, right, bottom):
    return ((left, top), (right, top), (right, bottom), (left, bottom))


def transcription(annotated_lines: int = 3) -> GTPage:
    """The drawn page's transcription; with 2 annotated lines, the third (a later note) lies outside
    the one annotated region, as a clerk's note on a will does."""
    lines = tuple(
        GTLine(f"l{i}", rectangle(50, top - 10, 850, bottom + 10), (), text)
        for i, (text, (top, bottom)) in enumerate(zip(TEXTS[:annotated_lines], ROWS))
    )
    region_bottom = ROWS[annotated_lines - 1][1] + 20
    return GTPage(None, "page.png", 900, 600, (GTRegion("r", rectangle(40, 80, 860, region_bottom), lines),), "test")


def read_line(text: str, top: int, bottom: int) -> Line:
    """A line as an engine returns it: one word box per word over the drawn row."""
    words, left = [], 60
    for word in text.split():
        right = left + 60 * len(word)
        chars = tuple(Char(BBox(left, top, right, bottom), (c,), (0.9,)) for c in word)
        words.append(Word(BBox(left, top, right, bottom), chars, word))
        left = right + 40
    return Line(BBox.enclosing([w.bbox for w in words]), tuple(words))


def result(*lines: Line) -> PageResult:
    return PageResult(0, 900, 600, 300.0, 0.0, lines)


def test_a_page_read_right_scores_no_errors_and_every_line_matched():
    read = result(*(read_line(t, top, bottom) for t, (top, bottom) in zip(TEXTS, ROWS)))
    score = score_page(transcription(), read, drawn_page(), "page.png")
    assert (score.gt_lines, score.read_lines, score.matched_lines) == (3, 3, 3)
    assert score.cer == 0 and score.wer == 0 and score.line_f1 == 1.0
    assert score.reading_order_errors == 0 and not score.read_as_empty
    assert score.mean_confidence == pytest.approx(0.9)


def test_two_lines_read_as_one_cost_segmentation_not_their_text():
    merged = read_line("HOUSE OF MANY ROOMS", ROWS[0][0], ROWS[1][1])
    score = score_page(transcription(), result(merged, read_line(TEXTS[2], *ROWS[2])), drawn_page(), "page.png")
    # the merged line is still mostly the longer of the two; the shorter one goes unmatched
    assert score.matched_lines == 2 and score.line_recall == pytest.approx(2 / 3) and score.line_precision == 1.0
    assert score.char_errors == 0  # the merged line's text is compared with both lines' joined
    assert (score.lines_merged, score.lines_split, score.lines_missed, score.lines_extra) == (2, 0, 0, 0)


def test_a_line_read_in_pieces_is_split_and_a_speck_read_apart_is_extra():
    top, bottom = ROWS[0]
    columns = np.flatnonzero((drawn_page()[top:bottom] < 128).any(axis=0))
    middle = (columns[0] + columns[-1]) // 2

    def piece(text: str, box: BBox) -> Line:
        return Line(box, (Word(box, tuple(Char(box, (c,), (0.9,)) for c in text), text),))

    halves = [
        piece("HOUSE", BBox(int(columns[0]), top, int(middle), bottom)),
        piece("OF", BBox(int(middle), top, int(columns[-1]) + 1, bottom)),
    ]
    page = drawn_page()
    cv2.circle(page, (800, 360), 6, 20, -1)  # a blot between the second and third lines
    speck = piece("x", BBox(790, 350, 811, 371))
    rest = [read_line(t, *r) for t, r in zip(TEXTS[1:], ROWS[1:])]
    score = score_page(transcription(), result(*halves, speck, *rest), page, "page.png")
    assert (score.lines_merged, score.lines_split, score.lines_missed, score.lines_extra) == (0, 1, 0, 1)


def test_a_missed_line_is_deleted_a_misread_one_costs_its_edits_and_misorder_is_counted_apart():
    misread = read_line("HOUSE OR", *ROWS[0])
    score = score_page(transcription(), result(read_line(TEXTS[1], *ROWS[1]), misread), drawn_page(), "p.png")
    assert score.gt_chars == sum(len(t) for t in TEXTS)
    assert score.char_errors == len(TEXTS[2]) + 1  # the third line wholly, and F for R
    assert score.word_errors == 2 + 1
    assert score.reading_order_errors == 1  # the first line was read after the second
    assert score.char_errors_raw == score.char_errors  # nothing was corrected


def test_only_lines_inside_the_annotated_regions_are_scored():
    read = result(*(read_line(t, top, bottom) for t, (top, bottom) in zip(TEXTS, ROWS)))
    score = score_page(transcription(annotated_lines=2), read, drawn_page(), "page.png")
    assert (score.gt_lines, score.read_lines, score.lines_outside) == (2, 2, 1)
    assert score.cer == 0 and score.scope == "annotated regions"


def test_a_region_outlined_but_left_untranscribed_is_not_in_scope():
    """A will's stamp or clerk's note outlined as a region of its own, with no text: not annotated."""
    gt = transcription(annotated_lines=2)
    stamp = GTRegion("stamp", rectangle(40, ROWS[2][0] - 20, 860, ROWS[2][1] + 20), ())
    read = result(*(read_line(t, top, bottom) for t, (top, bottom) in zip(TEXTS, ROWS)))
    score = score_page(replace(gt, regions=(*gt.regions, stamp)), read, drawn_page(), "page.png")
    assert (score.gt_lines, score.read_lines, score.lines_outside) == (2, 2, 1)
    assert score.cer == 0


def test_lines_an_export_left_outside_their_region_are_still_in_scope():
    """A will whose lines hang from the small region of its page number: the lines are annotated."""
    gt = transcription()
    (region,) = gt.regions
    page_number = replace(region, polygon=rectangle(700, 20, 860, 60))
    read = result(*(read_line(t, top, bottom) for t, (top, bottom) in zip(TEXTS, ROWS)))
    score = score_page(replace(gt, regions=(page_number,)), read, drawn_page(), "page.png")
    assert (score.gt_lines, score.read_lines, score.matched_lines, score.lines_outside) == (3, 3, 3, 0)
    assert score.cer == 0


def test_a_page_read_as_nothing_is_flagged_and_totals_sum_the_pages_counts():
    empty = score_page(transcription(), result(), drawn_page(), "empty.png")
    assert empty.read_as_empty and empty.cer == 1.0 and empty.line_f1 == 0.0 and empty.mean_confidence is None
    right = score_page(transcription(), result(*(read_line(t, *r) for t, r in zip(TEXTS, ROWS))), drawn_page(), "r")
    both = total([empty, right])
    assert both.gt_chars == 2 * right.gt_chars and both.cer == pytest.approx(0.5)
    assert both.mean_confidence == pytest.approx(0.9)


def test_misplaced_counts_the_items_that_must_move():
    assert misplaced([0, 1, 2, 3]) == 0
    assert misplaced([1, 0, 2, 3]) == 1
    assert misplaced([3, 0, 1, 2]) == 1
    assert misplaced([3, 2, 1, 0]) == 3


def write_page_xml(path, lines):
    body = "".join(
        f'<TextLine id="l{i}"><Coords points="{" ".join(f"{x},{y}" for x, y in polygon)}"/>'
        f"<TextEquiv><Unicode>{text}</Unicode></TextEquiv></TextLine>"
        for i, (polygon, text) in enumerate(lines)
    )
    path.write_text(
        '<PcGts xmlns="http://schema.primaresearch.org/PAGE/gts/pagecontent/2019-07-15">'
        f'<Page imageFilename="{path.stem}.png" imageWidth="900" imageHeight="600">'
        f'<TextRegion id="r"><Coords points="0,0 900,0 900,600 0,600"/>{body}</TextRegion></Page></PcGts>'
    )


@pytest.mark.slow
def test_eval_pages_reads_a_folder_of_transcribed_scans_and_writes_its_scores(tiny_models_dir, tmp_path):
    folder = tmp_path / "sample"
    write_png(folder / "letter.png", drawn_page())
    write_page_xml(
        folder / "letter.xml", [(rectangle(50, t - 10, 850, b + 10), text) for text, (t, b) in zip(TEXTS, ROWS)]
    )
    write_png(folder / "untranscribed.png", drawn_page())  # no XML: not scored
    out = tmp_path / "scores"
    argv = ["eval-pages", str(folder), "--out", str(out), "--models-dir", str(tiny_models_dir), "--model", "tiny",
            "--engine", "glyph", "--correct", "none"]  # fmt: skip
    run = CliRunner().invoke(cli, argv, catch_exceptions=False)
    assert run.exit_code == 0, run.output
    assert "pages: 1, scored inside: annotated regions" in run.output
    rows = pd.read_csv(out / "pages.csv", keep_default_na=False)
    assert list(rows["image"]) == ["letter.png", "all pages"]
    assert rows.loc[0, "gt_lines"] == 3 and rows.loc[0, "line_f1"] == 1.0  # the drawn lines are found
    assert rows.loc[0, "gt_chars"] == sum(len(t) for t in TEXTS)
    assert 0 < rows.loc[0, "cer"] <= 1  # an untrained model reads something, and wrongly
    assert (out / "cer-vs-confidence.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    quiet = CliRunner().invoke(cli, [*argv, "--quiet"], catch_exceptions=False)
    assert quiet.exit_code == 0 and quiet.output == ""


def test_eval_pages_without_transcriptions_is_a_usage_error(tmp_path):
    write_png(tmp_path / "in" / "a.png", drawn_page())
    run = CliRunner().invoke(cli, ["eval-pages", str(tmp_path / "in"), "--out", str(tmp_path / "o")])
    assert run.exit_code == 2 and "no transcribed pages" in run.output


def test_a_page_whose_transcription_holds_no_text_is_left_out_with_a_warning(tmp_path, caplog):
    write_png(tmp_path / "letter.png", drawn_page())
    write_page_xml(tmp_path / "letter.xml", [(rectangle(50, 90, 850, 150), TEXTS[0])])
    write_png(tmp_path / "not-yet.png", drawn_page())  # exported before anyone transcribed it
    write_page_xml(tmp_path / "not-yet.xml", [])
    with caplog.at_level(logging.WARNING, logger="hcrbatch.evalpages"):
        pages = transcribed_images(Config(tmp_path, tmp_path))
    assert [file.path.name for file, _ in pages] == ["letter.png"]
    assert "not-yet.png: its transcription holds no text" in caplog.text

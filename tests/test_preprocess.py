import cv2
import numpy as np
import pytest

from conftest import blank_paper, draw_page
from hcrbatch.config import PreprocessConfig
from hcrbatch.elements import BBox, PageImage
from hcrbatch.preprocess import binarize_sauvola, is_negative, normalise_contrast, preprocess

LINES = ["THE QUICK BROWN", "FOX JUMPS OVER", "THE LAZY DOG", "AND RUNS AWAY"]


@pytest.mark.parametrize("angle", [-9.0, -3.0, 0.0, 2.5, 12.0])
def test_deskew_finds_the_rotation(angle):
    page = PageImage(None, 0, draw_page(LINES, angle=angle), 300.0)
    clean = preprocess(page, PreprocessConfig())
    # draw_page rotates counter-clockwise by `angle`; deskew must undo it
    assert clean.skew_degrees == pytest.approx(-angle, abs=0.4)


def test_boxes_map_back_inside_the_page():
    page = PageImage(None, 0, draw_page(LINES, angle=7.0), 300.0)
    clean = preprocess(page, PreprocessConfig())
    box = clean.to_page(BBox(0, 0, clean.ink.shape[1], clean.ink.shape[0]))
    assert box == BBox(0, 0, page.width, page.height)


def test_contrast_stretch_and_sauvola_on_faded_ink():
    page = draw_page(["FADED"])
    faded = (150 + page.astype(np.float32) * 0.35).astype(np.uint8)  # ink 159, paper 235
    stretched = normalise_contrast(faded)
    assert stretched.min() == 0 and stretched.max() == 255
    ink = binarize_sauvola(stretched)
    truth = (page < 128).mean()
    assert truth * 0.7 < (ink > 0).mean() < truth * 1.3


def test_specks_are_removed_and_text_kept():
    pixels = draw_page(["TEXT"])
    rng = np.random.default_rng(0)
    ys, xs = rng.integers(400, 880, 200), rng.integers(0, 1200, 200)
    pixels[ys, xs] = 0  # single-pixel dirt below the text
    clean = preprocess(PageImage(None, 0, pixels, 300.0), PreprocessConfig(deskew=False))
    assert clean.ink[400:, :].sum() == 0
    assert clean.ink[:300, :].sum() > 0


@pytest.mark.parametrize("angle", [0.0, 4.0])
def test_grey_page_lies_in_the_deskewed_frame_of_the_ink(angle):
    clean = preprocess(PageImage(None, 0, draw_page(["HELLO WORLD", "the quick fox"], angle=angle), 300.0),
                       PreprocessConfig())  # fmt: skip
    assert clean.gray.shape == clean.ink.shape and clean.gray.dtype == np.uint8
    assert np.median(clean.gray[clean.ink > 0]) < 80 and np.median(clean.gray[clean.ink == 0]) > 200


@pytest.mark.parametrize("binarize", ["otsu", "sauvola"])
def test_a_blank_sheet_has_no_ink(binarize):
    # stretched to full contrast and thresholded, its grain used to become ink on half the pixels
    clean = preprocess(PageImage(None, 0, blank_paper(), 300.0), PreprocessConfig(binarize=binarize))
    assert not clean.ink.any() and clean.skew_degrees == 0.0


@pytest.mark.parametrize("binarize", ["otsu", "sauvola"])
def test_a_lone_page_number_on_blank_paper_is_kept(binarize):
    pixels = blank_paper()
    cv2.putText(pixels, "7", (580, 500), cv2.FONT_HERSHEY_SIMPLEX, 1.5, 40, 4, cv2.LINE_AA)
    clean = preprocess(PageImage(None, 0, pixels, 300.0), PreprocessConfig(binarize=binarize, deskew=False))
    ys, xs = np.nonzero(clean.ink)
    assert len(ys) > 200  # the mark's strokes, and nothing of the paper around it
    assert 570 <= xs.min() <= xs.max() <= 620 and 450 <= ys.min() <= ys.max() <= 510


def test_a_stroke_that_fades_keeps_its_faint_stretch_and_faint_marks_alone_are_not_ink():
    """Pale ink on grain of deviation ~4.5 levels: sure ink stands out by 6 deviations (27 levels),
    the stroke's faded stretch by 4.5 (20)."""
    page = blank_paper().astype(np.int16)

    def stroke(start: int, end: int, row: int, darkness: int) -> None:  # a wavy pen stroke, not a ruling
        xs = np.arange(start, end)
        points = np.stack([xs, row + 12 * np.sin(xs / 15)], axis=1).astype(np.int32)
        cv2.polylines(page, [points], False, 232 - darkness, 5)

    stroke(100, 400, 300, 34)  # pale ink ...
    stroke(400, 800, 300, 20)  # ... running on fainter
    stroke(100, 800, 600, 20)  # the same faintness alone: a smudge, grain
    clean = preprocess(
        PageImage(None, 0, np.clip(page, 0, 255).astype(np.uint8), 200.0), PreprocessConfig(deskew=False)
    )
    assert clean.ink[280:320, 450:780].any(axis=0).mean() > 0.9  # the faded stretch is ink, unbroken
    assert not clean.ink[570:630].any()  # a mark still (smoothed, it stands out), for the suspect check
    assert clean.marks[570:630].any()


def test_writing_on_a_woven_sheet_stands_out_of_its_weave():
    """Linen paper: threads a pixel or two wide, dark and light, deviating by more than the ink's
    contrast pixel by pixel. The writing is among the page's marks, which the suspect check asks
    the reading to account for, and the bare weave is not."""
    rng = np.random.default_rng(3)
    rows, cols = np.mgrid[0:900, 0:1200]
    weave = 40 * np.sin(rows * 2.1) * np.sin(cols * 1.9) + rng.normal(0, 12, (900, 1200))
    page = np.clip(200 + weave, 0, 255).astype(np.uint8)
    cv2.putText(page, "Yours sincerely", (100, 300), cv2.FONT_HERSHEY_SCRIPT_SIMPLEX, 3, 60, 7, cv2.LINE_AA)
    clean = preprocess(PageImage(None, 0, page, 300.0), PreprocessConfig(deskew=False))
    assert clean.marks[200:340, 100:900].any(axis=0).mean() > 0.5  # the writing
    assert not clean.marks[500:].any() and not clean.ink[500:].any()  # the weave alone


def test_a_negative_scan_is_read_as_the_page_it_shows():
    from test_suspect import framed

    page = draw_page(["WHITE ON BLACK", "MICROFILM"])
    negative = 255 - page
    assert is_negative(negative) and not is_negative(page)
    assert not is_negative(framed(page)) and not is_negative(framed(blank_paper()))  # a dark scanner bed
    assert not is_negative(np.full((900, 1200), 20, np.uint8))  # a black sheet has no light writing
    read = preprocess(PageImage(None, 0, negative, 200.0), PreprocessConfig()).ink > 0
    shown = preprocess(PageImage(None, 0, page, 200.0), PreprocessConfig()).ink > 0
    assert (read & shown).sum() > 0.95 * max(read.sum(), shown.sum())


def test_the_lines_axis_tells_a_page_turned_a_quarter():
    from hcrbatch.preprocess import line_axis

    ink = preprocess(PageImage(None, 0, draw_page(["THE FIRST LINE", "THE SECOND", "AND A THIRD"]), 200.0),
                     PreprocessConfig()).ink  # fmt: skip
    assert line_axis(ink) == "rows" and line_axis(np.rot90(ink)) == "columns" and line_axis(np.rot90(ink, 2)) == "rows"
    assert line_axis(np.zeros((900, 1200), np.uint8)) == "rows"

import cv2
import numpy as np
import pytest

from conftest import draw_page
from hcrbatch.config import PreprocessConfig, SegmentConfig
from hcrbatch.elements import PageImage
from hcrbatch.linereader import line_crops
from hcrbatch.preprocess import preprocess
from hcrbatch.segment import _line_pitch, _split_tall_bands, segment


def segment_lines(lines, **page_args):
    page = PageImage(None, 0, draw_page(lines, **page_args), 300.0)
    clean = preprocess(page, PreprocessConfig())
    return clean, segment(clean, SegmentConfig())


def test_lines_and_words_in_reading_order():
    lines = ["HELLO WORLD", "THREE WORDS HERE", "ONE", "A B C D"]
    _, seg = segment_lines(lines, size=(1400, 900))
    assert [len(line.words) for line in seg.lines] == [2, 3, 1, 4]
    tops = [line.bbox.top for line in seg.lines]
    assert tops == sorted(tops)
    for line in seg.lines:
        lefts = [w.bbox.left for w in line.words]
        assert lefts == sorted(lefts)


def test_every_glyph_of_printed_capitals_found():
    _, seg = segment_lines(["HELLO WORLD", "NUMBER 1887"])
    glyphs = [[len(w.glyphs) for w in line.words] for line in seg.lines]
    assert glyphs == [[5, 5], [6, 4]]


def test_i_dots_join_their_stems():
    _, seg = segment_lines(["mini   jiji"])  # Hershey's space is narrower than a hand's
    assert [len(w.glyphs) for w in seg.lines[0].words] == [4, 4]


def test_touching_letters_are_split():
    page = np.full((300, 1500), 245, np.uint8)
    for i in range(3):  # three separate rings: the page's typical letter
        cv2.ellipse(page, (100 + i * 170, 150), (62, 80), 0, 0, 360, 20, 12)
    for i in range(4):  # four rings joined by thin ligatures, as a hand joins letters: one component
        cv2.ellipse(page, (800 + i * 150, 150), (62, 80), 0, 0, 360, 20, 12)
        if i:
            cv2.line(page, (800 + i * 150 - 90, 150), (800 + i * 150 - 60, 150), 20, 3)
    clean = preprocess(PageImage(None, 0, page, 300.0), PreprocessConfig(deskew=False))
    seg = segment(clean, SegmentConfig())
    assert [len(w.glyphs) for w in seg.lines[0].words] == [3, 4]
    assert all(100 < g.bbox.width < 160 for g in seg.lines[0].words[1].glyphs)


def test_glyph_boxes_lie_inside_words_lines_and_page():
    clean, seg = segment_lines(["BOXES INSIDE", "the page"], angle=4.0)
    h, w = clean.ink.shape
    for line in seg.lines:
        for word in line.words:
            assert line.bbox.left <= word.bbox.left and word.bbox.right <= line.bbox.right
            for glyph in word.glyphs:
                b = glyph.bbox
                assert 0 <= b.left < b.right <= w and 0 <= b.top < b.bottom <= h
                assert word.bbox.left <= b.left and b.right <= word.bbox.right
                assert seg.glyph_image(glyph).any()


def test_a_dash_is_one_glyph():
    _, seg = segment_lines(["TWENTY - ONE"])
    assert [len(w.glyphs) for w in seg.lines[0].words] == [6, 1, 3]


def test_blank_page_gives_no_lines():
    page = PageImage(None, 0, np.full((400, 400), 240, np.uint8), 300.0)
    assert segment(preprocess(page, PreprocessConfig()), SegmentConfig()).lines == ()


def only_word(page: np.ndarray):
    clean = preprocess(PageImage(None, 0, page, 300.0), PreprocessConfig(deskew=False))
    (line,) = segment(clean, SegmentConfig()).lines
    (word,) = line.words
    return word


def inside(inner, outer) -> bool:
    return (
        outer.left <= inner.left
        and outer.top <= inner.top
        and inner.right <= outer.right
        and inner.bottom <= outer.bottom
    )


def test_a_broken_letter_is_offered_whole():
    page = np.full((300, 400), 245, np.uint8)
    for x in (100, 150):  # an "H" whose bar does not reach the right stem
        cv2.line(page, (x, 100), (x, 190), 20, 6)
    cv2.line(page, (100, 145), (140, 145), 20, 6)
    word = only_word(page)
    assert len(word.glyphs) == 2
    (merge,) = word.alternatives
    assert (merge.start, merge.end, len(merge.glyphs)) == (0, 2, 1)
    assert all(inside(g.bbox, merge.glyphs[0].bbox) for g in word.glyphs)


def test_a_glyph_wide_for_one_letter_is_offered_as_two():
    page = np.full((300, 400), 245, np.uint8)
    for x in (120, 200):  # two "o"s joined at the foot, 1.5 times wider than tall: not cut by the segmenter
        cv2.ellipse(page, (x, 150), (30, 45), 0, 0, 360, 20, 7)
    cv2.line(page, (130, 190), (190, 190), 20, 7)
    word = only_word(page)
    assert len(word.glyphs) == 1
    (split,) = word.alternatives
    assert (split.start, split.end, len(split.glyphs)) == (0, 1, 2)
    left, right = split.glyphs
    assert left.bbox.right <= right.bbox.left and 150 <= left.bbox.right <= 170  # cut in the joining stroke
    assert inside(left.bbox, word.glyphs[0].bbox) and inside(right.bbox, word.glyphs[0].bbox)


def test_other_cuts_can_be_turned_off():
    clean, _ = segment_lines(["mom"])
    seg = segment(clean, SegmentConfig(cut_alternatives=False))
    assert all(not w.alternatives for line in seg.lines for w in line.words)


def test_loops_and_dots_between_cursive_lines_join_a_line_but_a_short_line_stands_alone():
    page = np.full((900, 1200), 245, np.uint8)
    for top in (100, 300):  # two lines of joined-up "handwriting": a wavy stroke along a baseline
        xs = np.arange(100, 1100)
        ys = (top + 40 + 12 * np.sin(xs / 9.0)).astype(np.int32)
        cv2.polylines(page, [np.stack([xs, ys], axis=1)], False, 20, 4)
        for x in range(150, 1050, 120):
            cv2.ellipse(page, (x, top + 14), (8, 14), 0, 0, 360, 20, 3)  # ascender loops
    for x in range(200, 1000, 150):  # descender tails and specks below the first line
        cv2.line(page, (x, 185), (x + 6, 198), 20, 3)
    cv2.putText(page, "21/95", (540, 700), cv2.FONT_HERSHEY_SIMPLEX, 1.2, 20, 3)  # a short line: a date
    clean = preprocess(PageImage(None, 0, page, 300.0), PreprocessConfig(deskew=False))
    lines = segment(clean, SegmentConfig()).lines
    assert [round(line.bbox.center_y, -2) for line in lines] == [100, 300, 700]


def cursive_block(tops: list[int], width: int = 1200, height: int = 900) -> np.ndarray:
    """Lines of "handwriting" (short wavy letters, some with an ascender loop, some with a
    descender) packed so tightly that the tails of each line reach below the tops of the
    loops of the next: no row between two lines is free of ink."""
    page = np.full((height, width), 245, np.uint8)
    for top in tops:
        for i, x in enumerate(range(100, width - 100, 50)):
            xs = np.arange(x, x + 40)
            ys = (top + 40 + 6 * np.sin(xs / 7.0)).astype(np.int32)
            cv2.polylines(page, [np.stack([xs, ys], axis=1)], False, 20, 4)
            if i % 3 == 0:
                cv2.ellipse(page, (x + 20, top + 15), (7, 25), 0, 0, 360, 20, 3)
            elif i % 3 == 1:
                cv2.line(page, (x + 20, int(ys[20])), (x + 26, top + 100), 20, 3)
    return page


def test_touching_cursive_lines_are_cut_at_their_spacing():
    tops = [100, 190, 280, 370, 460, 550, 640]
    clean = preprocess(PageImage(None, 0, cursive_block(tops), 300.0), PreprocessConfig(deskew=False))
    assert (clean.ink[130:690] > 0).any(axis=1).all()  # no blank row: the ink profile alone cannot part them
    lines = segment(clean, SegmentConfig()).lines
    assert len(lines) == len(tops)
    for line, top in zip(lines, tops):
        assert abs(line.bbox.center_y - (top + 40)) < 30


def test_specks_between_lines_join_no_line():
    page = draw_page(["HELLO WORLD", "NUMBER 1887"])
    for x in range(100, 1100, 50):
        cv2.circle(page, (x, 225), 2, 40, -1)  # specks halfway between the lines, larger than despeckling removes
    clean = preprocess(PageImage(None, 0, page, 300.0), PreprocessConfig(deskew=False))
    lines = segment(clean, SegmentConfig()).lines
    assert len(lines) == 2
    assert lines[0].bbox.bottom < 215 and lines[1].bbox.top > 235


def test_line_spacing_is_read_from_the_profile_but_not_from_the_strokes_of_one_line():
    rows = np.arange(1200)
    lines = np.where((rows % 96) < 60, 200.0, 5.0)  # a line every 96 rows
    strokes = np.where((rows % 20) < 8, 200.0, 5.0)  # bars 20 rows apart: the strokes of big letters
    assert _line_pitch(lines, char_height=40, pen=5) == 96
    assert _line_pitch(strokes, char_height=40, pen=5) is None  # 20 rows is 4 pen widths


def test_without_a_profile_spacing_two_merged_lines_are_cut_at_the_spacing_of_the_others():
    rows = np.arange(800)
    smooth = np.where((rows % 96) < 60, 200.0, 5.0)  # a line every 96 rows, 60 rows of ink each
    bands = [(k * 96, k * 96 + 60) for k in range(7)]
    bands[3:5] = [(288, 444)]  # lines 3 and 4 touch: one band
    split = _split_tall_bands(bands, smooth, char_height=40, pitch=None)
    assert len(split) == 7 and split[3][0] == 288 and 348 <= split[3][1] <= 384 and split[4][1] == 444
    # the median band alone (60 rows) would have cut the pair in three


def test_a_short_page_of_touching_lines_is_cut_at_its_ink_valleys():
    page = np.full((480, 1300), 245, np.uint8)
    tops = [100, 190, 280]
    for top, width in zip(tops, [1100, 400, 700]):  # lines of unequal length: no regular ink profile
        xs = np.arange(100, 100 + width)
        ys = (top + 40 + 10 * np.sin(xs / 8.0)).astype(np.int32)
        cv2.polylines(page, [np.stack([xs, ys], axis=1)], False, 20, 4)
        for x in range(130, 80 + width, 90):
            cv2.ellipse(page, (x, top + 12), (8, 20), 0, 0, 360, 20, 3)  # ascender loops
        for x in range(160, 80 + width, 250):
            cv2.line(page, (x, top + 50), (x + 8, top + 112), 20, 3)  # a descender into the next line's loops
    clean = preprocess(PageImage(None, 0, page, 300.0), PreprocessConfig(deskew=False))
    assert (clean.ink[130:330] > 0).any(axis=1).all()  # no blank row between the lines
    lines = segment(clean, SegmentConfig()).lines
    assert [round(line.bbox.center_y - top, -1) for line, top in zip(lines, tops)] == [50, 50, 50]
    assert len(lines) == 3  # two bands before: the first two lines as one


def joined_up_words(page: np.ndarray, top: int, lefts: list[int], width: int = 240) -> None:
    """Words of "joined-up script": one wavy stroke each, with ascender loops the stroke runs through."""
    for left in lefts:
        xs = np.arange(left, left + width)
        ys = (top + 40 + 10 * np.sin(xs / 7.0)).astype(np.int32)
        cv2.polylines(page, [np.stack([xs, ys], axis=1)], False, 20, 4)
        for x in range(left + 30, left + width - 20, 70):
            cv2.ellipse(page, (x, top + 22), (7, 22), 0, 0, 360, 20, 3)


def test_joined_up_script_is_told_from_hand_printing_by_the_shape_of_its_ink():
    cursive = np.full((900, 1200), 245, np.uint8)
    for top in (100, 250, 400, 550):
        joined_up_words(cursive, top, [100, 400, 700])
    printed = draw_page(["HELLO WORLD", "NUMBER 1887", "ONE TWO"])
    cv2.line(printed, (60, 185), (1100, 185), 20, 3)  # a ruling under the first line
    cv2.rectangle(printed, (60, 240), (700, 320), 20, 3)  # a box round the second, as on a form
    joined = {}
    for name, pixels in (("cursive", cursive), ("printed", printed)):
        clean = preprocess(PageImage(None, 0, pixels, 300.0), PreprocessConfig(deskew=False))
        joined[name] = segment(clean, SegmentConfig()).joined_ink
    assert joined["cursive"] > 0.8
    assert joined["printed"] < 0.05  # neither the ruling nor the box counts as joined-up writing


def test_a_short_title_whose_tails_touch_the_line_below_stays_a_line_of_its_own():
    tops = [100, 190, 280, 370, 460, 550, 640]
    page = cursive_block(tops[1:])
    xs = np.arange(100, 260)  # the title: one short word, a sixth of a line's ink
    cv2.polylines(page, [np.stack([xs, (tops[0] + 40 + 6 * np.sin(xs / 7.0)).astype(np.int32)], axis=1)], False, 20, 4)
    for x in (130, 220):
        cv2.line(page, (x, tops[0] + 40), (x + 6, tops[0] + 100), 20, 3)  # its tails reach the line below
    clean = preprocess(PageImage(None, 0, page, 300.0), PreprocessConfig(deskew=False))
    assert (clean.ink[140:690] > 0).any(axis=1).all()  # no blank row parts it from the rest
    lines = segment(clean, SegmentConfig()).lines
    assert len(lines) == len(tops)
    assert abs(lines[0].bbox.center_y - (tops[0] + 40)) < 30 and lines[0].bbox.right < 300


def test_a_short_line_cut_off_at_the_spacing_is_not_a_sliver_of_the_line_below():
    tops = [100, 190, 280, 370, 460, 550, 640]
    page = cursive_block([top for top in tops if top != 370])
    xs = np.arange(100, 200)  # one short word, its loop touching the tails of the line above
    cv2.polylines(page, [np.stack([xs, (370 + 40 + 6 * np.sin(xs / 7.0)).astype(np.int32)], axis=1)], False, 20, 4)
    cv2.ellipse(page, (140, 370 + 15), (7, 25), 0, 0, 360, 20, 3)
    clean = preprocess(PageImage(None, 0, page, 300.0), PreprocessConfig(deskew=False))
    assert (clean.ink[130:418] > 0).any(axis=1).all() and not (clean.ink[420:445] > 0).any()  # apart only below
    lines = segment(clean, SegmentConfig()).lines
    assert len(lines) == len(tops)
    assert abs(lines[3].bbox.center_y - (370 + 40)) < 30 and lines[3].bbox.right < 250


@pytest.mark.parametrize("blot", [False, True], ids=["date", "date with a blot that joins it first"])
def test_a_short_line_as_high_as_the_others_is_not_a_sliver_of_the_line_above(blot):
    page = np.full((800, 1400), 245, np.uint8)
    for baseline in (160, 300, 440, 580):
        cv2.putText(page, "HELLO WORLD, AGAIN AND AGAIN", (60, baseline), cv2.FONT_HERSHEY_SIMPLEX, 2.0, 25, 5)
    cv2.putText(page, "1887", (60, 655), cv2.FONT_HERSHEY_SIMPLEX, 2.0, 25, 5)  # a date close under the text
    if blot:  # a sliver under the date: joined to it, the date must still count as a line the profile found
        cv2.line(page, (300, 692), (304, 714), 25, 14)
    clean = preprocess(PageImage(None, 0, page, 300.0), PreprocessConfig(deskew=False))
    lines = segment(clean, SegmentConfig()).lines
    assert len(lines) == 5
    assert lines[-1].bbox.top > 600 and lines[-2].bbox.bottom < 600


def test_a_bracket_reaching_into_the_next_line_stretches_the_box_but_not_the_lines_middle():
    page = np.full((900, 1200), 245, np.uint8)
    tops = [100, 220, 340, 460, 580]
    for top in tops:  # words of joined-up "handwriting", ink centred 40 rows below each top
        for x in range(150, 1050, 180):
            xs = np.arange(x, x + 140)
            ys = (top + 40 + 12 * np.sin(xs / 9.0)).astype(np.int32)
            cv2.polylines(page, [np.stack([xs, ys], axis=1)], False, 20, 4)
    cv2.ellipse(page, (130, 400), (15, 75), 0, 100, 260, 20, 4)  # a bracket from line 3 down into line 4
    clean = preprocess(PageImage(None, 0, page, 300.0), PreprocessConfig(deskew=False))
    lines = segment(clean, SegmentConfig()).lines
    assert len(lines) == len(tops)
    assert max(line.bbox.height for line in lines) > 110  # the bracket's line reaches into the next
    assert [abs(line.middle - (top + 40)) < 10 for line, top in zip(lines, tops)] == [True] * len(tops)
    crops = line_crops(list(lines), clean.gray)
    assert [abs(crop.center_y - (top + 40)) < 12 for crop, top in zip(crops, tops)] == [True] * len(tops)

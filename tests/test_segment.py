import cv2
import numpy as np
import pytest

from conftest import draw_page, draw_stamp
from hcrbatch.config import PreprocessConfig, SegmentConfig
from hcrbatch.elements import BBox, PageImage
from hcrbatch.lineengine import line_crops
from hcrbatch.preprocess import preprocess
from hcrbatch.segment import (
    CHAIN_GAP,
    _chain_reach,
    _chain_ridges,
    _Component,
    _join_side_by_side,
    _join_slivers,
    _line_density,
    _Ridge,
    segment,
)


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


def cursive_words(page: np.ndarray, middle, lefts: range, width: int = 140) -> None:
    """Words of joined-up "handwriting" whose ink centres on the row `middle(x)` gives."""
    for x in lefts:
        xs = np.arange(x, x + width)
        ys = (np.array([middle(v) for v in xs]) + 12 * np.sin(xs / 9.0)).astype(np.int32)
        cv2.polylines(page, [np.stack([xs, ys], axis=1)], False, 20, 4)


def test_a_margin_bracket_across_lines_joins_none_and_the_lines_stay_apart():
    page = np.full((900, 1200), 245, np.uint8)
    tops = [100, 220, 340, 460, 580]
    for top in tops:
        cursive_words(page, lambda x, top=top: top + 40, range(150, 1050, 180))
    cv2.ellipse(page, (110, 400), (25, 260), 0, 100, 260, 20, 4)  # a bracket in the margin over four lines
    cv2.line(page, (60, 80), (60, 700), 20, 3)  # and a ruled margin
    clean = preprocess(PageImage(None, 0, page, 300.0), PreprocessConfig(deskew=False))
    lines = segment(clean, SegmentConfig()).lines
    assert len(lines) == len(tops)
    assert [abs(line.middle - (top + 40)) < 10 for line, top in zip(lines, tops)] == [True] * len(tops)
    assert all(line.bbox.left >= 140 and line.bbox.height < 60 for line in lines)  # neither joined a line
    crops = line_crops(list(lines), clean.gray)
    assert [abs(crop.center_y - (top + 40)) < 12 for crop, top in zip(crops, tops)] == [True] * len(tops)


def test_lines_that_slope_and_curve_across_the_page_are_followed():
    page = np.full((1000, 1400), 245, np.uint8)
    starts = [150, 290, 430, 570, 710]
    for start in starts:  # each line climbs 60 rows over the page and sags in the middle
        cursive_words(
            page, lambda x, start=start: start - 0.05 * x + 25 * np.sin(np.pi * x / 1400), range(80, 1250, 165)
        )
    clean = preprocess(PageImage(None, 0, page, 300.0), PreprocessConfig(deskew=False))
    lines = segment(clean, SegmentConfig()).lines
    assert len(lines) == len(starts)
    assert all(len(line.words) == 8 for line in lines)  # no word went to the line above or below


@pytest.mark.parametrize("marks", ["ruled paper", "an outline round the text"])
def test_the_ruling_of_the_paper_and_an_outline_round_the_text_make_no_lines(marks):
    page = np.full((900, 1300), 245, np.uint8)
    if marks == "ruled paper":
        for row in range(150, 800, 70):
            cv2.line(page, (20, row), (1280, row), 150, 2)  # ruled every 70 rows, through the writing
    else:  # a balloon drawn round the will, as some writers did
        outline = np.array([[150, 120], [600, 90], [1150, 130], [1180, 560], [700, 600], [140, 540]], np.int32)
        cv2.polylines(page, [outline], True, 20, 3)
    tops = [160, 300, 440]
    for top in tops:
        cursive_words(page, lambda x, top=top: top + 40, range(200, 1000, 180))
    clean = preprocess(PageImage(None, 0, page, 300.0), PreprocessConfig(deskew=False))
    lines = segment(clean, SegmentConfig()).lines
    assert len(lines) == len(tops)
    assert all(line.bbox.left >= 190 and line.bbox.right <= 1070 and line.bbox.height < 60 for line in lines)


def test_a_word_written_into_an_outline_round_the_text_stays_in_its_line():
    """A will's last word written into the wavering outline drawn round its text (`appartement`,
    AN_0268-0) was one piece of ink with the outline and was dropped with it as no writing: the line
    ended a word short. The outline's own stroke, where it crosses a line, joins none."""
    page = np.full((900, 1300), 245, np.uint8)
    angles = np.linspace(0, 2 * np.pi, 400, endpoint=False)
    radius = 1 + 0.02 * np.sin(7 * angles)  # drawn by hand: it wavers
    outline = np.stack([610 + 470 * radius * np.cos(angles), 345 + 270 * radius * np.sin(angles)], axis=1)
    cv2.polylines(page, [outline.astype(np.int32)], True, 20, 3)
    tops = [160, 300, 440]
    for top in tops:  # each line's last word (920-1080) runs into the outline, the first and third lines' first too
        for loops in (0, 10):  # joined-up letters cross each column more than once
            cursive_words(page, lambda x, top=top, loops=loops: top + 40 + loops, range(200, 1000, 180), width=160)
    clean = preprocess(PageImage(None, 0, page, 300.0), PreprocessConfig(deskew=False))
    lines = segment(clean, SegmentConfig()).lines
    assert len(lines) == len(tops)
    assert all(175 <= line.bbox.left <= 200 and 1075 <= line.bbox.right <= 1095 for line in lines)
    assert all(line.bbox.height < 60 for line in lines)


def test_a_word_whose_descender_runs_into_the_line_below_is_cut_between_them():
    page = np.full((600, 1200), 245, np.uint8)
    for top in (100, 190):
        cursive_words(page, lambda x, top=top: top + 40, range(100, 1000, 180))
    cv2.line(page, (300, 140), (310, 232), 20, 4)  # a descender of the first line into a word of the second
    clean = preprocess(PageImage(None, 0, page, 300.0), PreprocessConfig(deskew=False))
    lines = segment(clean, SegmentConfig()).lines
    assert len(lines) == 2
    assert lines[0].bbox.bottom < 215 and lines[1].bbox.top > 160  # each has its own part of the joined strokes


def test_a_page_of_many_slivers_joins_them_to_the_lines_they_lie_on():
    """A will's accents, loops and t-bars that made ridges of their own outnumber its lines: the
    typical line is the one holding the median of the ink, not the median line (itself a sliver)."""
    full = [([_Component(i, BBox(100, top, 1100, top + 60), 5000, top + 30.0)], top + 30.0) for i, top in
            enumerate((100, 200, 300), start=1)]  # fmt: skip
    slivers = [
        ([_Component(10 + i, BBox(150 + 100 * i, 105, 180 + 100 * i, 125), 300, 115.0)], 115.0) for i in range(8)
    ]
    lines = _join_slivers(full + slivers, 25.0)
    assert sorted(len(members) for members, _ in lines) == [1, 1, 9]


def test_pieces_of_a_faint_line_are_chained_at_the_page_s_line_spacing():
    """Faint writing breaks into fragments, so its letter height (20) is small beside its line
    spacing (100): two pieces of one line 100 columns apart and 12 rows off each other are one line."""
    ridges = [
        _Ridge(1, 0, 700, 0.0, 0.0),
        _Ridge(2, 0, 300, 100.0, 100.0),
        _Ridge(3, 400, 700, 112.0, 112.0),
        _Ridge(4, 0, 700, 200.0, 200.0),
    ]
    lines = _chain_ridges(ridges, 20.0, _chain_reach(ridges, 20.0))
    assert lines[2] == lines[3] and len({lines[1], lines[2], lines[4]}) == 3


def test_a_word_written_between_two_lines_joins_one_of_them_and_never_makes_them_one():
    """A Hooker letter's interlinear `further`, 0.75 and 0.7 letter heights from the lines above and
    below (each less than PARALLEL: near enough to be a crest of either), made the two lines one, read
    as one line of three. A row of loops under a line, a short piece, still joins it."""
    height = 57.0
    ridges = [
        _Ridge(1, 100, 1400, 187.0, 187.0),  # been to show an immense saving
        _Ridge(2, 886, 1090, 230.0, 230.0),  # further, between the lines
        _Ridge(3, 60, 1450, 270.0, 270.0),  # as set off against the wages of very
        _Ridge(4, 300, 400, 310.0, 310.0),  # a row of loops under it
    ]
    lines = _chain_ridges(ridges, height, _chain_reach(ridges, height))
    assert lines[1] != lines[3]
    assert lines[2] == lines[3]  # the nearer
    assert lines[4] == lines[3]


def test_pieces_of_one_line_on_one_band_are_joined_and_lines_a_gap_apart_or_a_line_below_are_not():
    """A letterhead's capitals, twice the page's letter height, bent their ridge: `THE LI` and
    `NNEAN SOCIETY` came out as two lines, overlapping along the page, read out of order. A will's
    last words three letter heights after the rest (`Je vous demande   de rester bien`) were a line
    of their own too; a note farther off than ridge pieces are chained stays apart."""

    def line(label, left, right, top, bottom, ridge):
        return [_Component(label, BBox(left, top, right, bottom), (right - left) * 10, (top + bottom) / 2)], ridge

    height = 22.0
    pieces = [line(1, 612, 847, 188, 237, 211.0), line(2, 822, 1868, 187, 238, 210.0)]
    words = line(5, 1934, 2100, 190, 236, 212.0)  # three letter heights along the page
    beside = line(3, 2200, 2400, 190, 236, 212.0)  # a note five letter heights along
    below = line(4, 600, 1900, 220, 270, 246.0)  # the next line, its capitals reaching up into the first
    joined = _join_side_by_side([*pieces, words, beside, below], height, CHAIN_GAP * height)
    assert sorted(sorted(c.label for c in members) for members, _ in joined) == [[1, 2, 5], [3], [4]]
    assert [ridge for members, ridge in joined if len(members) == 3] == [210.0]  # the inkiest piece's ridge


def test_a_printed_letterhead_above_broad_nibbed_writing_is_a_line_of_its_own():
    page = np.full((900, 1300), 240, np.uint8)
    cv2.putText(page, "THE CAMP, SUNNINGDALE", (760, 90), cv2.FONT_HERSHEY_SIMPLEX, 0.8, 30, 2, cv2.LINE_AA)
    for row, text in enumerate(["Dear Hooker, thank", "you for the plants", "sent from Kew"]):
        cv2.putText(page, text, (80, 330 + row * 150), cv2.FONT_HERSHEY_SCRIPT_SIMPLEX, 2.4, 25, 9, cv2.LINE_AA)
    for x in range(100, 1200, 60):
        cv2.circle(page, (x, 200), 2, 40, -1)  # specks between the letterhead and the letter: no line
    clean = preprocess(PageImage(None, 0, page, 300.0), PreprocessConfig(deskew=False))
    lines = segment(clean, SegmentConfig()).lines
    assert len(lines) == 4
    letterhead = lines[0].bbox
    assert letterhead.left > 740 and letterhead.bottom < 110 and len(lines[0].words) == 3
    assert all(line.bbox.top > 230 for line in lines[1:])


def test_a_stamp_struck_beside_the_writing_makes_no_line_and_joins_none():
    page = np.full((900, 1300), 240, np.uint8)
    for row, text in enumerate(["Je soussigne Andre", "ne a Marolles le", "dix huit Mai 1890"]):
        cv2.putText(page, text, (420, 200 + row * 110), cv2.FONT_HERSHEY_SCRIPT_SIMPLEX, 2.0, 25, 6, cv2.LINE_AA)
    draw_stamp(page)
    clean = preprocess(PageImage(None, 0, page, 300.0), PreprocessConfig(deskew=False))
    found = segment(clean, SegmentConfig())
    assert len(found.lines) == 3
    assert all(line.bbox.left > 380 for line in found.lines)  # nothing of the stamp went into a line
    (stamp,) = found.stamps
    assert stamp.left < 110 and stamp.right > 350 and stamp.top < 140 and stamp.bottom > 380


def test_a_short_note_written_so_close_it_closes_solid_is_writing_not_a_stamp():
    page = np.full((1400, 1800), 240, np.uint8)
    note = [
        "Je legue tout",
        "a ma femme ce",
        "que je laisse",
        "a mon deces,",
        "sans reserve",
        "Fait a Paris",
        "le dix aout",
    ]
    for row, text in enumerate(note):  # square, and its lines touch: closed, it fills its outline as a stamp does
        cv2.putText(page, text, (200, 300 + row * 40), cv2.FONT_HERSHEY_SCRIPT_SIMPLEX, 1.9, 25, 8, cv2.LINE_AA)
    clean = preprocess(PageImage(None, 0, page, 300.0), PreprocessConfig(deskew=False))
    found = segment(clean, SegmentConfig())
    assert found.stamps == () and len(found.lines) == len(note)


def test_the_line_density_blurred_on_a_narrowed_copy_is_the_full_gaussian_blur():
    rng = np.random.default_rng(0)
    writing = np.zeros((600, 1500), np.float32)
    for row in (100, 250, 400):  # three lines of letter-sized blobs with gaps between words
        for left in rng.integers(50, 1400, 40):
            writing[row - 15 : row + 15, left : left + 20] = 1
    along, across = 1.5 * 40, 0.4 * 40  # a 40-pixel letter height
    exact = cv2.GaussianBlur(writing, (0, 0), sigmaX=along, sigmaY=across)
    fast = _line_density(writing, along, across)
    assert fast.shape == exact.shape
    middle = slice(int(2 * along), -int(2 * along))  # at the edges the narrowed copy reflects a wider column
    assert np.abs(fast - exact)[:, middle].max() < 0.01 * exact.max()
    assert np.abs(fast - exact).max() < 0.05 * exact.max()
    # the ridges' rows: each column's densest row is where it was
    assert np.array_equal(fast[:, middle].argmax(axis=0), exact[:, middle].argmax(axis=0))


def test_two_columns_of_writing_are_read_column_by_column_and_a_table_row_by_row():
    """Two columns' lines at about the same heights were chained into one line across the gutter
    and read left, right, left; a table's narrow cells, their gaps as aligned, stay rows."""
    page = np.full((1000, 1700), 245, np.uint8)
    left_middles, right_middles = [140, 260, 380, 500, 620, 740], [160, 280, 400, 520, 640, 760]
    for middle in left_middles:
        cursive_words(page, lambda x, m=middle: m, [100, 290, 480], width=160)
    for middle in right_middles:
        cursive_words(page, lambda x, m=middle: m, [910, 1100, 1290, 1480], width=150)
    clean = preprocess(PageImage(None, 0, page, 300.0), PreprocessConfig(deskew=False))
    lines = segment(clean, SegmentConfig()).lines
    assert all(line.bbox.right < 800 or line.bbox.left > 800 for line in lines)  # none crosses the gutter
    assert [line.bbox.left < 800 for line in lines] == [True] * 6 + [False] * 6  # left column first
    assert [abs(line.middle - m) < 12 for line, m in zip(lines, left_middles + right_middles)] == [True] * 12

    table = np.full((900, 1200), 245, np.uint8)
    for middle in [140, 260, 380, 500, 620]:
        cursive_words(table, lambda x, m=middle: m, range(150, 1050, 180))
    clean = preprocess(PageImage(None, 0, table, 300.0), PreprocessConfig(deskew=False))
    assert [len(line.words) for line in segment(clean, SegmentConfig()).lines] == [5] * 5


def test_two_lines_on_one_band_whatever_their_ridges_are_one_line():
    """The learned density gave a letterhead's capitals, twice the page's letter height, two ridges
    a letter height apart; each line's crop held the whole letterhead and it was read twice."""

    def line(label, left, right, top, bottom, ridge):
        return [_Component(label, BBox(left, top, right, bottom), (right - left) * 10, (top + bottom) / 2)], ridge

    height = 30.0
    capitals = [line(1, 540, 1941, 184, 239, 199.0), line(2, 1112, 1649, 185, 239, 224.0)]
    below = line(3, 540, 1941, 230, 290, 262.0)  # the next line: it shares a little of their band
    joined = _join_side_by_side([*capitals, below], height, CHAIN_GAP * height)
    assert sorted(sorted(c.label for c in members) for members, _ in joined) == [[1, 2], [3]]

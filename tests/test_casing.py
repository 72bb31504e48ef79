from hcrbatch.casing import apply_line_case
from hcrbatch.elements import BBox

BASELINE = 100


def glyph(left: int, top: int, bottom: int = BASELINE) -> BBox:
    return BBox(left, top, left + 20, bottom)


def reading(*pairs):
    return tuple(p[0] for p in pairs), tuple(p[1] for p in pairs)


def test_x_height_o_becomes_lower_and_cap_height_s_upper():
    # "Sun on": capitals reach y=40 (cap height 60), x-height letters reach y=70 (x-height 30)
    boxes = [glyph(0, 40), glyph(30, 70), glyph(60, 70), glyph(100, 70), glyph(130, 70)]
    readings = [
        reading(("s", 0.6), ("S", 0.4)),  # tall: should become S
        reading(("u", 0.9)),
        reading(("n", 0.9)),
        reading(("O", 0.7), ("o", 0.2), ("0", 0.1)),  # short: should become o
        reading(("n", 0.9)),
    ]
    out = apply_line_case(boxes, readings)
    assert out[0][0][0] == "S" and out[3][0][0] == "o"
    labels, probs = out[3]
    assert set(labels) == {"o", "O", "0"}  # no label added or dropped
    assert probs[labels.index("0")] < 0.1  # a cap-height digit does not fit an x-height glyph either
    assert abs(sum(out[3][1]) - 1.0) < 1e-9  # probability moved between labels, none created


def test_an_x_height_glyph_read_as_a_digit_becomes_the_short_letter():
    boxes = [glyph(0, 40), glyph(30, 70), glyph(60, 70), glyph(90, 70)]
    readings = [
        reading(("T", 0.9)),
        reading(("a", 0.9)),
        reading(("5", 0.8), ("S", 0.15), ("s", 0.05)),
        reading(("e", 0.9)),
    ]
    labels, probs = apply_line_case(boxes, readings)[2]
    assert labels[0] == "s" and labels[-1] == "S" and abs(sum(probs) - 1.0) < 1e-9


def test_a_small_mark_on_the_baseline_is_punctuation_and_a_dotless_short_i_is_lower_case():
    # "an, in": the comma is small and dips below the baseline; the i (dot lost) is x-height tall
    boxes = [glyph(0, 70), glyph(30, 70), BBox(55, 90, 62, 108), glyph(90, 70), glyph(120, 70), glyph(150, 40)]
    readings = [
        reading(("a", 0.9)),
        reading(("n", 0.9)),
        reading(("f", 0.6), (",", 0.3), ("1", 0.1)),
        reading(("I", 0.6), ("l", 0.2), ("i", 0.2)),
        reading(("n", 0.9)),
        reading(("T", 0.9)),
    ]
    out = apply_line_case(boxes, readings)
    assert out[2][0][0] == "," and out[3][0][0] == "i"


def test_descending_p_is_lower_case():
    boxes = [glyph(0, 70), glyph(30, 70, bottom=125), glyph(60, 40), glyph(90, 70)]
    readings = [reading(("a", 0.9)), reading(("P", 0.6), ("p", 0.3)), reading(("T", 0.9)), reading(("e", 0.9))]
    assert apply_line_case(boxes, readings)[1][0][0] == "p"


def test_line_without_both_heights_is_left_alone():
    boxes = [glyph(0, 70), glyph(30, 70)]
    readings = [reading(("O", 0.6), ("o", 0.4)), reading(("S", 0.6), ("s", 0.4))]
    assert apply_line_case(boxes, readings) == readings


def test_a_line_with_a_one_pixel_x_height_is_read_without_overflow():
    # x-height letters reaching y=99 over a baseline at 100: a tall glyph is 300 x-heights tall
    boxes = [glyph(0, 40), glyph(30, 99), glyph(60, 99), glyph(90, -200, 400)]
    readings = [reading(("T", 0.9)), reading(("a", 0.9)), reading(("e", 0.9)), reading(("S", 0.5), ("s", 0.5))]
    labels, probs = apply_line_case(boxes, readings)[3]
    assert set(labels) == {"S", "s"} and abs(sum(probs) - 1.0) < 1e-9

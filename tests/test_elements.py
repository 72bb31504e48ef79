import pytest
from hypothesis import given
from hypothesis import strategies as st

from hcrbatch.elements import BBox, Char


def test_bbox_rejects_inverted_boxes():
    with pytest.raises(ValueError):
        BBox(10, 0, 5, 5)


@given(
    st.lists(st.tuples(st.integers(0, 500), st.integers(0, 500), st.integers(0, 50), st.integers(0, 50)), min_size=1)
)
def test_enclosing_box_contains_every_box(raw):
    boxes = [BBox(x, y, x + w, y + h) for x, y, w, h in raw]
    outer = BBox.enclosing(boxes)
    for box in boxes:
        assert outer.left <= box.left and outer.top <= box.top
        assert outer.right >= box.right and outer.bottom >= box.bottom


def test_iou():
    a = BBox(0, 0, 10, 10)
    assert a.iou(a) == 1.0
    assert a.iou(BBox(5, 0, 15, 10)) == pytest.approx(50 / 150)
    assert a.iou(BBox(20, 20, 30, 30)) == 0.0


def test_char_needs_matching_labels_and_probs():
    with pytest.raises(ValueError):
        Char(BBox(0, 0, 1, 1), ("a", "b"), (0.5,))

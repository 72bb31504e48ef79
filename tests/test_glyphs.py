import cv2
import numpy as np

from hcrbatch.glyphs import INPUT_SIZE, normalize_batch, normalize_glyph, stroke_width


def ring(size: int, thickness: int) -> np.ndarray:
    img = np.zeros((size, size), np.uint8)
    cv2.circle(img, (size // 2, size // 2), size // 3, 255, thickness)
    return img


def test_output_is_a_centred_28x28_in_unit_range():
    out = normalize_glyph(ring(200, 20))
    assert out.shape == (INPUT_SIZE, INPUT_SIZE) and out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 1.0
    ys, xs = np.nonzero(out > 0.5)
    assert abs(ys.mean() - 13.5) < 1.5 and abs(xs.mean() - 13.5) < 1.5
    assert (ys.max() - ys.min()) >= 20  # longest side scaled to about 24 px


def test_aspect_ratio_is_kept():
    bar = np.zeros((200, 40), np.uint8)
    bar[:, :] = 255
    out = normalize_glyph(bar) > 0.5
    cols = np.flatnonzero(out.any(axis=0))
    assert cols.size <= 7


def test_thin_pen_at_high_resolution_is_thickened_to_emnist_width():
    thin, thick = normalize_glyph(ring(300, 3)), normalize_glyph(ring(300, 30))
    assert stroke_width(thin > 0.5) >= 1.8
    assert abs(stroke_width(thin > 0.5) - stroke_width(thick > 0.5)) < 2.5


def test_empty_glyph_and_empty_batch():
    assert not normalize_glyph(np.zeros((10, 10), np.uint8)).any()
    assert normalize_batch([]).shape == (0, INPUT_SIZE, INPUT_SIZE, 1)

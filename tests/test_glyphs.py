import cv2
import numpy as np

from hcrbatch.glyphs import INPUT_SIZE, normalise_batch, normalise_glyph, stroke_width


def ring(size: int, thickness: int) -> np.ndarray:
    img = np.zeros((size, size), np.uint8)
    cv2.circle(img, (size // 2, size // 2), size // 3, 255, thickness)
    return img


def test_output_is_a_centred_28x28_in_unit_range():
    out = normalise_glyph(ring(200, 20))
    assert out.shape == (INPUT_SIZE, INPUT_SIZE) and out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 1.0
    ys, xs = np.nonzero(out > 0.5)
    assert abs(ys.mean() - 13.5) < 1.5 and abs(xs.mean() - 13.5) < 1.5
    assert (ys.max() - ys.min()) >= 20  # longest side scaled to about 24 px


def test_aspect_ratio_is_kept():
    bar = np.zeros((200, 40), np.uint8)
    bar[:, :] = 255
    out = normalise_glyph(bar) > 0.5
    cols = np.flatnonzero(out.any(axis=0))
    assert cols.size <= 7


def test_thin_pen_at_high_resolution_is_thickened_to_emnist_width():
    thin, thick = normalise_glyph(ring(300, 3)), normalise_glyph(ring(300, 30))
    assert stroke_width(thin > 0.5) >= 1.8
    assert abs(stroke_width(thin > 0.5) - stroke_width(thick > 0.5)) < 2.5


def test_empty_glyph_and_empty_batch():
    assert not normalise_glyph(np.zeros((10, 10), np.uint8)).any()
    assert normalise_batch([]).shape == (0, INPUT_SIZE, INPUT_SIZE, 1)


def edge_share(glyph: np.ndarray) -> float:
    """Share of the inked pixels that are grey edge rather than solid ink."""
    return float(((glyph > 0.1) & (glyph < 0.9)).sum() / max((glyph > 0.1).sum(), 1))


def test_binary_crop_gets_the_soft_edges_of_a_training_glyph():
    """A crop cut from a binarised page has hard edges, EMNIST's rows soft ones; read as they come,
    hard edges made the network see another writer (benchmarks/RESULTS.md, 2026-11-30). Both leave
    normalisation with the same soft edge."""
    soft = normalise_glyph(cv2.GaussianBlur(ring(60, 6), (0, 0), 1.5))
    for binary in (ring(60, 6), ring(30, 3)):
        assert edge_share(normalise_glyph(binary)) > 0.8 * edge_share(soft)

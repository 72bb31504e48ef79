"""Grayscale, contrast normalisation, binarisation, deskew and speckle removal.

Segmentation and recognition work on the deskewed ink image; `CleanPage.to_page` maps their boxes
back to the original page's pixels, which is where the PDF text layer and the CSV place them.
"""

from __future__ import annotations


import cv2
import numpy as np

from hcrbatch.config import PreprocessConfig
from hcrbatch.elements import CleanPage, PageImage

SKEW_WORK_WIDTH = 1000  # skew is estimated on a copy this wide: enough for 0.1° resolution
PAPER_WORK_SIZE = 600  # the paper's own grey level is estimated on a copy this large (longer side)
PAPER_WINDOW_INCHES = 0.6  # ... as the median over a window this wide: far wider than a pen stroke
INK_NOISE_SIGMAS = 6.0  # ink is darker than the paper around it by more than this many deviations of its noise
MIN_INK_CONTRAST = 16  # ... and by at least this many grey levels (a clean digital page has no noise)
INK_GROWTH_SIGMAS = 4.0  # fainter ink joined to such ink counts down to this many (3 and 4 measured alike)
GRAIN_INCHES = 0.005  # marks are also judged on the page smoothed this much: finer than a stroke, coarser than a weave
FRAME_WORK_SIZE = 800  # the scanner's dark border is found on a copy this large (longer side)
FRAME_DARKNESS = 0.5  # of the paper's grey level: darker is scanner bed, a paper edge or a gutter, when thick
FRAME_THICKNESS = 1 / 60  # of the page's shorter side: the least width of a frame (pen strokes are far thinner)
RULING_LENGTH = 0.1  # of the page's width (height): a straight run of ink this long ...
RULING_INCHES = 1.0  # ... and this long is a ruling, not writing
NEGATIVE_SHEET = 0.1  # a page whose light part keeps less than this under a frame-wide opening is a negative
AXIS_WORK_SIZE = 400  # the lines' axis is judged on the ink squeezed into a square this large
COLUMNS_MARGIN = 1.2  # ... and taken to run down the page only where that profile has this many more gaps
FRAME_SPAN = 0.8  # of the page's width or height: a thick dark band this long is a frame wherever it lies


def _work_copy(gray: np.ndarray, size: int) -> np.ndarray:
    """`gray` shrunk so that its longer side is at most `size`, for judging the page as a whole."""
    scale = min(1.0, size / max(gray.shape))
    return cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else gray


def _frame_kernel(shape: tuple[int, ...]) -> np.ndarray:
    """A square wider than any pen stroke: FRAME_THICKNESS of the shorter side, odd, at least 3."""
    return np.ones((max(3, round(min(shape) * FRAME_THICKNESS)) | 1,) * 2, np.uint8)


def paper_frame(gray: np.ndarray) -> np.ndarray:
    """What of the image is not the sheet itself: the scanner's bed, a dark paper edge, a gutter.

    Dark areas thicker than any pen stroke that touch the image's edge or run along most of it,
    and everything outside the largest bright area (the sheet, holes and all). A global threshold
    would split such a page into border and paper and leave the writing on the paper's side, so
    the page read as empty; a frame's edge would read as a line of ink."""
    height, width = gray.shape
    small = _work_copy(gray, FRAME_WORK_SIZE)
    otsu, _ = cv2.threshold(cv2.GaussianBlur(small, (5, 5), 0), 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    dark = (small < min(otsu, FRAME_DARKNESS * np.percentile(small, 75))).astype(np.uint8)
    kernel = _frame_kernel(small.shape)
    thick = cv2.morphologyEx(dark, cv2.MORPH_OPEN, kernel)
    if not thick.any():
        return np.zeros(gray.shape, bool)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(1 - thick, connectivity=4)
    sheet = labels == 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    outside = np.pad(~sheet, 1, constant_values=True).astype(np.uint8)
    cv2.floodFill(outside, None, (0, 0), 2)  # what the sheet encloses (writing, stamps) is on the sheet
    frame = outside[1:-1, 1:-1] == 2
    count, labels, stats, _ = cv2.connectedComponentsWithStats(thick, connectivity=8)
    rows, cols = small.shape
    for i in range(1, count):
        x, y, w, h = stats[i, :4]
        if x == 0 or y == 0 or x + w == cols or y + h == rows or w >= FRAME_SPAN * cols or h >= FRAME_SPAN * rows:
            frame |= labels == i
    frame = cv2.dilate(frame.astype(np.uint8), kernel)  # and the blurred edge between frame and sheet
    return cv2.resize(frame, (width, height), interpolation=cv2.INTER_NEAREST).astype(bool)


def is_negative(gray: np.ndarray) -> bool:
    """Whether the page is light writing on dark paper (a negative or a microfilm scan): its
    light part is all strokes, with no sheet in it. A page on a dark scanner bed has a light area
    far thicker than any stroke (the sheet), and a blank dark image has no light part at all."""
    small = _work_copy(gray, FRAME_WORK_SIZE)
    _, light = cv2.threshold(cv2.GaussianBlur(small, (5, 5), 0), 0, 1, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    if not 0 < light.mean() < 0.5 or small[light > 0].mean() - small[light == 0].mean() < MIN_INK_CONTRAST:
        return False  # mostly light, or no light marks that stand out
    sheet = cv2.morphologyEx(light, cv2.MORPH_OPEN, _frame_kernel(small.shape))
    return sheet.sum() < NEGATIVE_SHEET * light.sum()


def rulings(ink: np.ndarray, dpi: float) -> np.ndarray:
    """The straight lines ruled across a sheet (ruled paper, a margin rule, a form's lines, a thin
    frame): runs of ink along a row or a column longer than an inch and than RULING_LENGTH of the
    page, which no stroke of writing is. Writing crosses them, and left in they join every letter
    they cross into one component."""
    height, width = ink.shape
    least = RULING_INCHES * dpi
    along = cv2.morphologyEx(ink, cv2.MORPH_OPEN, np.ones((1, int(max(least, RULING_LENGTH * width))), np.uint8))
    down = cv2.morphologyEx(ink, cv2.MORPH_OPEN, np.ones((int(max(least, RULING_LENGTH * height)), 1), np.uint8))
    return (along | down) > 0


def to_gray(pixels: np.ndarray) -> np.ndarray:
    return pixels if pixels.ndim == 2 else cv2.cvtColor(pixels, cv2.COLOR_RGB2GRAY)


def normalise_contrast(gray: np.ndarray, sheet: np.ndarray | None = None) -> np.ndarray:
    """Stretch ink (0.05th percentile: pages can be 99 % paper) to paper (99th) over 0..255,
    so faded ink and grey paper binarise alike; the levels are the `sheet`'s where given."""
    values = gray[sheet] if sheet is not None and sheet.any() else gray.ravel()
    cumulative = np.cumsum(np.bincount(values, minlength=256)) / values.size
    low, high = (float(np.searchsorted(cumulative, q)) for q in (0.0005, 0.99))  # percentiles, O(n)
    if high - low < 1:
        return gray.copy()
    stretched = (gray.astype(np.float32) - low) * (255.0 / (high - low))
    return np.clip(stretched, 0, 255).astype(np.uint8)


def binarize_otsu(gray: np.ndarray, sheet: np.ndarray | None = None) -> np.ndarray:
    """Otsu's threshold, chosen from the `sheet`'s pixels where given (a dark frame would be the dark class)."""
    blurred = cv2.GaussianBlur(gray, (3, 3), 0)
    values = blurred[sheet] if sheet is not None and sheet.any() else blurred
    threshold, _ = cv2.threshold(values.reshape(-1, 1), 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    return np.where(blurred <= threshold, 255, 0).astype(np.uint8)


def binarize_sauvola(gray: np.ndarray, window: int = 31, k: float = 0.2) -> np.ndarray:
    """Sauvola's local threshold T = m·(1 + k·(s/128 − 1)), from box-filtered moments (OpenCV only)."""
    img = gray.astype(np.float32)  # float32: a 600 DPI A3 page is 70 M pixels
    mean = cv2.boxFilter(img, -1, (window, window), borderType=cv2.BORDER_REFLECT)
    sq_mean = cv2.boxFilter(img * img, -1, (window, window), borderType=cv2.BORDER_REFLECT)
    std = np.sqrt(np.maximum(sq_mean - mean * mean, 0))
    threshold = mean * (1 + k * (std / 128.0 - 1))
    return np.where(img < threshold, 255, 0).astype(np.uint8)


def contrast_over_paper(gray: np.ndarray, dpi: float) -> np.ndarray:
    """How much darker each pixel is than the paper around it (int16); the paper's level is a wide
    median, so uneven lighting and grey paper do not count as contrast."""
    height, width = gray.shape
    scale = min(1.0, PAPER_WORK_SIZE / max(height, width))
    small = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else gray
    window = min(255, int(max(3, PAPER_WINDOW_INCHES * dpi * scale)) // 2 * 2 + 1)  # odd, as medianBlur needs
    paper = cv2.resize(cv2.medianBlur(small, window), (width, height), interpolation=cv2.INTER_LINEAR)
    return paper.astype(np.int16) - gray.astype(np.int16)


def stands_out_of_paper(gray: np.ndarray, dpi: float, sheet: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Pixels that paper noise cannot explain: darker than the paper around them by more than
    INK_NOISE_SIGMAS robust deviations (MAD) of the contrast over the `sheet` (a frame painted as
    paper has none, and would shrink the deviation until the grain passed for ink); then those and
    the ones that stand out so on the page smoothed over GRAIN_INCHES (see below).

    Contrast stretching and a global threshold read a blank sheet's grain as ink on half its pixels
    (thousands of specks for the segmenter); this mask lets only real marks through. A stroke that
    fades (a dry pen, pale ink on a grainy sheet) keeps its fainter stretches, down to
    INK_GROWTH_SIGMAS, where they run on from ink that is sure (hysteresis): without them a faded
    line came apart into specks and was read in pieces or lost, and grain, which holds no sure
    ink, still grows nothing. On woven (linen) paper the threads, a pixel or two each, deviate so
    much that no stroke stands out of them pixel by pixel, and a written page came out blank; on
    the page smoothed over less than a stroke is wide, the weave averages out and the strokes do
    not. The smoothed judgement is the suspect check's (`hcrbatch.suspect`), so that such a page is
    flagged instead of passing for blank; the ink keeps the first: as ink, the smoothed judgement
    read the woven pages no better (the line model reads the weave in its crops too) and seeded
    faint smooth marks such as show-through (more lines merged on the Hooker training pages).
    """
    contrast = contrast_over_paper(gray, dpi)
    smoothed = contrast_over_paper(cv2.GaussianBlur(gray, (0, 0), GRAIN_INCHES * dpi), dpi)
    centre, sigma = _noise(contrast, sheet)
    faint = contrast > centre + max(INK_GROWTH_SIGMAS * sigma, MIN_INK_CONTRAST / 2)
    sure = contrast > centre + max(INK_NOISE_SIGMAS * sigma, MIN_INK_CONTRAST)
    smoothed_centre, smoothed_sigma = _noise(smoothed, sheet)
    smoothed_sure = smoothed > smoothed_centre + max(INK_NOISE_SIGMAS * smoothed_sigma, MIN_INK_CONTRAST)
    pixel_marks, all_marks = grown(faint, sure, sure | smoothed_sure)
    return pixel_marks, all_marks


def _noise(contrast: np.ndarray, sheet: np.ndarray | None) -> tuple[float, float]:
    """The median contrast over the `sheet` and its robust deviation (MAD)."""
    sample = contrast[::4, ::4]  # a median needs no more; keeps it a few ms
    if sheet is not None and sheet[::4, ::4].any():
        sample = sample[sheet[::4, ::4]]
    sample = sample.astype(np.float32)
    centre = float(np.median(sample))
    return centre, 1.4826 * float(np.median(np.abs(sample - centre)))


def grown(reach: np.ndarray, *seeds: np.ndarray) -> list[np.ndarray]:
    """For each of `seeds`, the pixels of `reach` connected (8-neighbours) to one of its pixels,
    which lie within it (hysteresis); `reach` is labelled once for all of them."""
    count, labels = cv2.connectedComponents(reach.astype(np.uint8), connectivity=8)
    out = []
    for seed in seeds:
        keep = np.zeros(count, bool)
        keep[labels[seed]] = True
        keep[0] = False
        out.append(keep[labels])
    return out


def _projection_score(ink_small: np.ndarray, angle: float) -> float:
    h, w = ink_small.shape
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    rotated = cv2.warpAffine(ink_small, matrix, (w, h), flags=cv2.INTER_NEAREST)
    profile = rotated.sum(axis=1, dtype=np.float64)
    return float(np.square(np.diff(profile)).sum())


def estimate_skew(ink: np.ndarray, max_degrees: float) -> float:
    """Angle that makes text lines horizontal: maximises the sharpness of the row-ink profile."""
    if not ink.any():
        return 0.0
    scale = min(1.0, SKEW_WORK_WIDTH / ink.shape[1])
    small = cv2.resize(ink, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else ink
    small = (small > 0).astype(np.float32)
    coarse = np.arange(-max_degrees, max_degrees + 1e-9, 0.5)
    best = max(coarse, key=lambda a: _projection_score(small, a))
    fine = np.arange(best - 0.5, best + 0.5 + 1e-9, 0.1)
    return float(round(max(fine, key=lambda a: _projection_score(small, a)), 2))


def line_axis(ink: np.ndarray) -> str:
    """ "rows" where the ink's text lines run across the page, "columns" where they run down it (a
    page turned a quarter): across the lines, the ink profile falls near empty between each two
    of them, and is the sharper; along them it seldom does. "columns" where the profile down the
    page has COLUMNS_MARGIN times the share of near-empty places or the sharpness of the profile
    across it. A page taken for turned that is not costs a third reading (`read_upright`)."""
    if not ink.any():
        return "rows"
    small = cv2.resize((ink > 0).astype(np.float32), (AXIS_WORK_SIZE, AXIS_WORK_SIZE), interpolation=cv2.INTER_AREA)

    def near_empty(profile: np.ndarray) -> float:
        smooth = np.convolve(profile, np.ones(3) / 3, mode="same")
        return float((smooth < 0.1 * np.percentile(smooth, 95)).mean())

    gaps_across, gaps_down = near_empty(small.sum(axis=1)), near_empty(small.sum(axis=0))
    # and the profile's sharpness, which tells a page of many small lines better
    sharp_across, sharp_down = _projection_score(small, 0.0), _projection_score(np.ascontiguousarray(small.T), 0.0)
    turned = gaps_down > COLUMNS_MARGIN * gaps_across or sharp_down > COLUMNS_MARGIN * sharp_across
    return "columns" if turned else "rows"


def despeckle(ink: np.ndarray, dpi: float) -> np.ndarray:
    """Remove specks smaller than a pen dot (about 6 px at 300 DPI)."""
    min_area = max(2, int(round(6 * (dpi / 300) ** 2)))
    count, labels, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    keep = stats[:, cv2.CC_STAT_AREA] >= min_area
    keep[0] = False
    return np.where(keep[labels], 255, 0).astype(np.uint8)


def rotation_keeping_corners(width: int, height: int, degrees: float) -> tuple[np.ndarray, int, int]:
    """Rotation about the centre into a canvas large enough that no corner is cut."""
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), degrees, 1.0)
    cos, sin = abs(matrix[0, 0]), abs(matrix[0, 1])
    new_w = int(np.ceil(height * sin + width * cos))
    new_h = int(np.ceil(height * cos + width * sin))
    matrix[0, 2] += new_w / 2 - width / 2
    matrix[1, 2] += new_h / 2 - height / 2
    return matrix, new_w, new_h


def preprocess(page: PageImage, cfg: PreprocessConfig) -> CleanPage:
    raw = to_gray(page.pixels)
    if is_negative(raw):
        raw = 255 - raw
    frame = paper_frame(raw)
    sheet = ~frame
    if frame.any():  # the frame painted as paper: it must not darken the paper's level nor count as ink
        raw = raw.copy()
        raw[frame] = int(np.median(raw[sheet])) if sheet.any() else 255
    gray = normalise_contrast(raw, sheet)
    ink = binarize_sauvola(gray) if cfg.binarize == "sauvola" else binarize_otsu(gray, sheet)
    marks, with_smoothed = stands_out_of_paper(raw, page.dpi, sheet)
    ink[~(marks & sheet)] = 0
    marks = with_smoothed & sheet  # what the suspect check asks the reading to account for
    ruled = rulings(ink, page.dpi)
    ink[ruled] = 0
    # nor are the rules marks that writing should explain: a blank ruled sheet is a blank page
    marks &= ~cv2.dilate(ruled.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    if cfg.despeckle:
        ink = despeckle(ink, page.dpi)
    angle = estimate_skew(ink, cfg.max_skew_degrees) if cfg.deskew else 0.0
    if abs(angle) < 0.05:
        identity = np.array([[1, 0, 0], [0, 1, 0]], np.float64)
        return CleanPage(ink, marks, gray, 0.0, identity, page.width, page.height)
    matrix, new_w, new_h = rotation_keeping_corners(page.width, page.height, angle)
    rotated = cv2.warpAffine(ink, matrix, (new_w, new_h), flags=cv2.INTER_NEAREST)
    rotated_marks = cv2.warpAffine(marks.astype(np.uint8), matrix, (new_w, new_h), flags=cv2.INTER_NEAREST) > 0
    return CleanPage(rotated, rotated_marks, gray, angle, matrix, page.width, page.height)

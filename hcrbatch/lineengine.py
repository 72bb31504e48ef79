"""The line engine at inference: whole text lines read by the CTC line model, in width-bucketed batches.

For each line the segmenter found, the page's grey image is cropped around it and read without
cutting it into characters. Best-path decoding gives the text; each character's run of CTC steps
gives its columns, so characters and words get boxes on the page (the PDF text layer stays aligned)
and each character keeps its top-k readings at its most confident step (its confidence in the CSV).
Each word's likeliest spellings, by a CTC beam search over its steps, are what the corrector
chooses from (with a character language model, the search's one spelling, `ctcdecode`).
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass, field, replace

import cv2
import numpy as np

from hcrbatch.config import RecognizeConfig
from hcrbatch.ctcdecode import LmBeamDecoder, choose_decoding
from hcrbatch.elements import BBox, Char, CleanPage, Line, LineBox, PageResult, Segmentation, Word
from hcrbatch.errors import ModelError
from hcrbatch.linenet import DOWNSAMPLE, LINE_HEIGHT, make_batch
from hcrbatch.modelstore import ModelManifest, import_tensorflow, load_keras_model

log = logging.getLogger(__name__)

# Of the line's height, added above and below the segmenter's box (the ink's extent): the training
# lines' ink fills ~90 % of their height, and a crop framed looser shows the model smaller writing.
# Chosen by benchmarks/line_crops.py on the line model's validation lines (benchmarks/log/).
LINE_PAD = 0.05
BEAM_WIDTH = 16  # CTC beam search over each word's steps
SPELLINGS = 8  # spellings of each word offered to the corrector


def ink_level(gray: np.ndarray) -> np.ndarray:
    """White ink on black in [0, 1]: contrast stretched between the paper's and the ink's grey."""
    gray = np.asarray(gray, np.float32)
    paper, ink = np.percentile(gray, 90), np.percentile(gray, 2)
    return np.clip((paper - gray) / max(paper - ink, 1.0), 0, 1)


def normalise_line(gray: np.ndarray) -> np.ndarray:
    """A line image as the network sees it: `ink_level`, LINE_HEIGHT high, aspect kept."""
    width = max(DOWNSAMPLE, int(round(gray.shape[1] * LINE_HEIGHT / gray.shape[0])))
    return cv2.resize(ink_level(gray), (width, LINE_HEIGHT), interpolation=cv2.INTER_AREA)


@dataclass(frozen=True)
class AlignedChar:
    labels: tuple[str, ...]
    probs: tuple[float, ...]
    start: int  # first column of the normalised line image it covers
    end: int  # one past its last column


def align(probs: np.ndarray, charset: str, top_k: int, path: np.ndarray | None = None) -> list[AlignedChar]:
    """The characters of one line's `path` (a label per step, blank = 0; the best path when None)
    with the columns of their CTC runs. Each keeps the top-k readings of its most confident step,
    the label the path chose first."""
    best = probs.argmax(axis=-1) if path is None else path
    chars = []
    step = 0
    while step < len(best):
        label = best[step]
        end = step
        while end + 1 < len(best) and best[end + 1] == label:
            end += 1
        if label != 0:
            peak = step + int(np.argmax(probs[step : end + 1, label]))
            dist = probs[peak, 1:] / max(float(probs[peak, 1:].sum()), 1e-9)
            top = [label - 1, *(i for i in np.argsort(-dist)[:top_k] if i != label - 1)][:top_k]
            chars.append(
                AlignedChar(
                    tuple(charset[i] for i in top),
                    tuple(float(dist[i]) for i in top),
                    step * DOWNSAMPLE,
                    (end + 1) * DOWNSAMPLE,
                )
            )
        step = end + 1
    return chars


@dataclass(frozen=True)
class LineReading:
    chars: list[AlignedChar]  # best path
    words: int  # how many words the best path has
    spellings: list[tuple[tuple[str, float], ...]] = field(default_factory=list)  # per word, best first


def best_path(probs: np.ndarray, charset: str) -> str:
    """The likeliest label per step, repeats collapsed, blanks dropped."""
    return "".join(c.labels[0] for c in align(probs, charset, 1))


def word_spans(chars: list[AlignedChar], steps: int) -> list[tuple[int, int]]:
    """The CTC steps of each word of the best path (words split at spaces): from the end of the
    space before it to the start of the space after it, so its edges may be read otherwise too."""
    spans, start, inside = [], 0, False
    for char in chars:
        if char.labels[0] == " ":
            if inside:
                spans.append((start, char.start // DOWNSAMPLE))
            start, inside = char.end // DOWNSAMPLE, False
        else:
            inside = True
    if inside:
        spans.append((start, steps))
    return spans


def word_spellings(
    segments: list[np.ndarray], charset: str, count: int = SPELLINGS
) -> list[tuple[tuple[str, float], ...]]:
    """The `count` likeliest spellings of each word segment (its CTC probabilities) with their log
    probability, best first, by TensorFlow's CTC prefix beam search: every spelling is a reading of
    the network's own output, which the corrector may then weigh by the language. Spellings with a
    space are left out: a word stays one word."""
    import tensorflow as tf

    if not segments:
        return []
    longest = max(len(seg) for seg in segments)
    # TensorFlow's decoder wants time-major logits with the blank last; log-probabilities are logits
    logits = np.zeros((longest, len(segments), segments[0].shape[1]), np.float32)
    for i, seg in enumerate(segments):
        log_probs = np.log(seg + 1e-9)
        logits[: len(seg), i] = np.concatenate([log_probs[:, 1:], log_probs[:, :1]], axis=1)
    decoded, scores = tf.nn.ctc_beam_search_decoder(
        logits, np.array([len(seg) for seg in segments], np.int32), beam_width=BEAM_WIDTH, top_paths=count
    )
    texts: list[list[str]] = [[""] * count for _ in segments]
    for path, sparse in enumerate(decoded):
        for (row, _), label in zip(sparse.indices.numpy(), sparse.values.numpy()):
            texts[row][path] += charset[label]
    out = []
    for row_texts, row_scores in zip(texts, scores.numpy()):
        found: dict[str, float] = {}
        for text, score in zip(row_texts, row_scores):
            if text and " " not in text and np.isfinite(score) and text not in found:
                found[text] = round(float(score), 4)
        out.append(tuple(found.items()))
    return out


class LineRecognizer:
    """A loaded line model; `read` takes grey line crops and returns their aligned characters."""

    def __init__(self, manifest: ModelManifest, cfg: RecognizeConfig, lms: tuple[ModelManifest, ...] = ()) -> None:
        tf = import_tensorflow()

        self.manifest = manifest
        self.cfg = cfg
        self.model = load_keras_model(manifest)
        if self.model.output_shape[-1] != len(manifest.charset) + 1:
            raise ModelError(f"{manifest.weights}: output size differs from its charset plus the CTC blank")
        spec = tf.TensorSpec([None, LINE_HEIGHT, None, 1], tf.float32)
        self._predict = tf.function(lambda x: self.model(x, training=False), input_signature=[spec])
        self.lm_decoders = [LmBeamDecoder(lm, manifest.charset) for lm in lms]

    def read(self, crops: list[np.ndarray]) -> list[LineReading]:
        """Each crop's aligned characters and its words' spellings, in order."""
        images = [normalise_line(crop) for crop in crops]
        probabilities = line_probabilities(self._predict, images, self.cfg.line_batch_size)
        decoder, paths = choose_decoding(probabilities, self.lm_decoders)
        if decoder is not None and len(self.lm_decoders) > 1:
            log.debug("page read with the language model %s", decoder.manifest.name)
        return line_readings(probabilities, self.manifest.charset, self.cfg.top_k, paths)


def line_readings(
    probabilities: list[np.ndarray], charset: str, top_k: int, paths: list[np.ndarray] | None = None
) -> list[LineReading]:
    """Lines decoded from their CTC probabilities. With `paths` (a character language model's beam
    search over each line, `ctcdecode`), each word's one spelling is what the search chose: on
    held-out lines the lexicon's choice among a word's context-free spellings undid more than it
    mended (benchmarks/char_lm.py). Without one, the best path, and each word's likeliest spellings by a
    CTC beam search over its own steps, for the corrector to choose from."""
    readings, segments = [], []
    for i, probs in enumerate(probabilities):
        if paths is not None:
            chars = align(probs, charset, top_k, paths[i])
            words = "".join(c.labels[0] for c in chars).split()
            readings.append(LineReading(chars, len(words), [((word, 0.0),) for word in words]))
        else:
            chars = align(probs, charset, top_k)
            spans = word_spans(chars, len(probs))
            segments += [probs[start:end] for start, end in spans]
            readings.append(LineReading(chars, len(spans)))
    if not segments:
        return readings
    spellings = iter(word_spellings(segments, charset))
    return [r if r.spellings else replace(r, spellings=[next(spellings) for _ in range(r.words)]) for r in readings]


def line_probabilities(predict, images: list[np.ndarray], batch_size: int) -> list[np.ndarray]:
    """Per-step CTC probabilities of each normalised line, in order, its padding cut off; lines of
    similar width are batched together, so little of each batch is padding."""
    out: list[np.ndarray] = [np.zeros((0, 0))] * len(images)
    order = np.argsort([img.shape[1] for img in images], kind="stable")
    for start in range(0, len(order), max(1, batch_size)):
        rows = order[start : start + max(1, batch_size)]
        for i, probs in zip(rows, np.asarray(predict(make_batch([images[i] for i in rows])))):
            out[i] = probs[: -(-images[i].shape[1] // DOWNSAMPLE)]
    return out


SPACING_SPREAD = 0.5  # of the median: lines whose spacings vary more than this have no one spacing
SPACING_CROP_MAX = 2.0  # median line box heights: the tallest a crop one spacing high may be
# What the line engine reads of a line on a regularly spaced page: its own box (ascenders to
# descenders) and a tenth of a spacing, kept within 0.9 to 1.4 spacings (a stroke reaching into a
# neighbour, or a line of small letters, does not change the size of the writing much). The training
# lines are their transcribed outlines' boxes, which follow each line's own writing; the whole
# framing, not these bounds, is what matters (benchmarks/log/2026-12-07.md, fifth session).
READING_MARGIN = 0.1
READING_ROWS = (0.9, 1.4)


def line_spacing(lines: list[LineBox]) -> float | None:
    """Rows from one segmented line to the next: the median distance between neighbouring lines'
    middles (`LineBox.middle`, where their writing is), where at least three lines are spaced
    regularly (the middle half of the distances within SPACING_SPREAD of the median); None
    otherwise (a few lines, marginalia, columns). At most SPACING_CROP_MAX median line heights, so
    that a crop one spacing high does not shrink the lines of a widely spaced page (a form, double
    spacing) to a sliver of it."""
    if len(lines) < 3:
        return None
    q1, median, q3 = np.percentile(np.diff(sorted(line.middle for line in lines)), [25, 50, 75])
    if median <= 0 or q3 - q1 > SPACING_SPREAD * median:
        return None
    return float(min(median, SPACING_CROP_MAX * np.median([line.bbox.height for line in lines])))


def reading_rows(box: BBox, spacing: float) -> float:
    """How many rows the line engine reads of a line `box` on a page of regular `spacing`: the
    line's own height (`READING_MARGIN`, `READING_ROWS`)."""
    low, high = READING_ROWS
    return float(np.clip(box.height + READING_MARGIN * spacing, low * spacing, high * spacing))


def line_crop_box(
    box: BBox,
    width: int,
    height: int,
    pad_fraction: float = LINE_PAD,
    spacing: float | None = None,
    middle: float | None = None,
    rows: float | None = None,
) -> BBox:
    """A segmented line's part of the page: its box, a little wider and taller; where the page has a
    regular line spacing (`line_spacing`), `rows` high (one spacing by default) around `middle` (the
    box's middle by default) instead: a box that a long descender or a touching neighbour stretched
    would otherwise change the size of the writing the network sees."""
    pad = int(round(pad_fraction * box.height))
    if spacing:
        middle = box.center_y if middle is None else middle
        rows = rows or spacing
        return BBox(box.left - pad, round(middle - rows / 2), box.right + pad, round(middle + rows / 2)).clip(
            width, height
        )
    return BBox(box.left - pad, box.top - pad, box.right + pad, box.bottom + pad).clip(width, height)


def line_crops(lines: list[LineBox], gray: np.ndarray, reading: bool = False) -> list[BBox]:
    """Each of a page's segmented lines' band (`line_crop_box`: one line spacing high where the page
    has one), which word boxes, Tesseract and the line-kind classifier take; with `reading`, what the
    line engine reads, and `--page-crops` training cuts: the band made as tall as the line's own
    writing (`reading_rows`). Both centre on the line's ridge (`LineBox.middle`), its x-height band:
    a stroke reaching into a neighbouring line (a bracket, a flourish) stretches the box, not the
    ridge, and on the training pages this read better than the box's middle (benchmarks/real_pages.py)."""
    height, width = gray.shape
    spacing = line_spacing(lines)
    return [
        line_crop_box(
            line.bbox,
            width,
            height,
            spacing=spacing,
            middle=line.middle,
            rows=reading_rows(line.bbox, spacing) if reading and spacing else None,
        )
        for line in lines
    ]


def ink_columns(line: LineBox) -> list[tuple[int, int]]:
    """The column spans (deskewed frame) of the line's own pieces of ink, as the segmenter cut them."""
    return [(g.bbox.left, g.bbox.right) for word in line.words for g in word.glyphs]


def widened_to_ink(cores: list[tuple[int, int]], ink: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Each word's columns widened over the pieces of ink its characters fall on, never past the
    middle of the gap to a neighbouring word. A CTC character is a spike of one or two steps inside
    its letter, so a word cut from its first character's spike to its last character's misses half
    a letter at each end, and a word of one letter is a sliver: the text layer would select a part of
    the word, and an archive's ALTO would place it there."""
    out = []
    for k, (left, right) in enumerate(cores):
        low = (cores[k - 1][1] + left) // 2 if k else -1 << 30
        high = -(-(right + cores[k + 1][0]) // 2) if k + 1 < len(cores) else 1 << 30
        touching = [(a, b) for a, b in ink if a < right and b > left]
        out.append(
            (max(low, min([left] + [a for a, _ in touching])), min(high, max([right] + [b for _, b in touching])))
        )
    return out


def words_from_alignment(
    reading: LineReading,
    crop: BBox,
    scale: float,
    clean: CleanPage,
    ink: list[tuple[int, int]] = (),
    band: tuple[int, int] | None = None,
) -> tuple[Word, ...]:
    """Words (split at spaces) with page boxes: columns of the normalised line mapped back through
    the crop, each word's widened over the line's `ink` (column spans) its characters fall on; their
    rows the line's `band` (top, bottom), the crop's by default."""
    top, bottom = band or (crop.top, crop.bottom)
    groups, current = [], []
    for char in reading.chars + [AlignedChar((" ",), (1.0,), 0, 0)]:
        if char.labels[0] != " ":
            current.append(char)
        elif current:
            groups.append(current)
            current = []
    boxes = [
        [BBox(crop.left + int(c.start / scale), top, crop.left + int(np.ceil(c.end / scale)), bottom) for c in group]
        for group in groups
    ]
    spans = widened_to_ink([(b[0].left, b[-1].right) for b in boxes], list(ink))
    words = []
    for group, chars, (left, right), spellings in zip(
        groups, boxes, spans, itertools.chain(reading.spellings, itertools.repeat(()))
    ):
        chars[0] = replace(chars[0], left=left)
        chars[-1] = replace(chars[-1], right=right)  # the same box as the first for a word of one letter
        elements = tuple(Char(clean.to_page(b), c.labels, c.probs) for b, c in zip(chars, group))
        text = "".join(c.labels[0] for c in group)
        words.append(Word(clean.to_page(BBox.enclosing(chars)), elements, text, spellings=spellings))
    return tuple(words)


def read_lines(
    segmentation: Segmentation, clean: CleanPage, reader: LineRecognizer, index: int, dpi: float
) -> PageResult:
    """The page with each segmented line read by the line engine: what it reads of a line is framed
    to the line's own writing (`line_crops(reading=True)`); its words' boxes keep the line's band."""
    segmented = list(segmentation.lines)
    crops = line_crops(segmented, clean.gray, reading=True)
    readings = reader.read([clean.gray[b.top : b.bottom, b.left : b.right] for b in crops])
    lines = tuple(
        Line(
            clean.to_page(line.bbox),
            words_from_alignment(
                reading, crop, LINE_HEIGHT / max(crop.height, 1), clean, ink_columns(line), (band.top, band.bottom)
            ),
            engine="line",
        )
        for line, crop, band, reading in zip(segmented, crops, line_crops(segmented, clean.gray), readings)
    )
    return PageResult(index, clean.page_width, clean.page_height, dpi, clean.skew_degrees, lines)

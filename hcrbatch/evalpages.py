"""How well the pipeline reads pages someone has already transcribed (PAGE or ALTO beside the images).

`hcrbatch eval-pages` and the benchmarks' real-page figures both come from here. Each page is read
exactly as `hcrbatch run` reads it, and its lines are compared with the transcription's by their
ink (the page's dark pixels inside the transcription's polygon, and inside the read line's word
boxes): transcribers draw a line's outline anywhere from its x-height band to its ascenders and
descenders, while the ink is the same whatever the outline.

- Line segmentation: precision, recall and F1 of one-to-one matches (ink IoU above 0.5).
- CER and WER, raw (the recognizer's reading) and corrected, over groups of lines that share most
  of either's ink: a line read right is a group of one on each side; two lines read as one are
  compared with that one, their texts joined; a line no read line overlaps is wholly deleted, a
  read line overlapping no transcribed line wholly inserted. Reading order does not enter these,
  so that a misplaced line is counted once, in `reading_order_errors`: the number of matched lines
  that would have to move for the reading to follow the transcription's order.

Where the transcription annotates regions (CREMMA's wills annotate the will's own text and leave a
clerk's notes out), only read lines inside those regions are scored (`scope`); the lines read
outside them are counted apart (`lines_outside`), not as errors.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Collection, Iterable
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
from tqdm import tqdm

from hcrbatch.config import Config
from hcrbatch.discover import InputFile, discover
from hcrbatch.elements import BBox, Line, PageResult, Word
from hcrbatch.engines import line_manifest
from hcrbatch.errors import ConfigError, InputFileError
from hcrbatch.groundtruth import GTLine, GTPage, transcription_of
from hcrbatch.ingest import iter_pages
from hcrbatch.api import Reader
from hcrbatch.metrics import edit_distance, matched_items, normalise_text
from hcrbatch.preprocess import to_gray
from hcrbatch.suspect import UNREAD_SUSPECT
from hcrbatch.report import write_csv

log = logging.getLogger(__name__)

LINE_MATCH_IOU = 0.5  # a read and a transcribed line are one line when their ink overlaps more than this (IoU)
GROUP_SHARE = 0.5  # of the smaller line's ink: lines sharing this much are compared as one group
INSIDE_REGION = 0.5  # of a read line's ink: the least that must lie in annotated regions for it to be scored


@dataclass(frozen=True)
class PageScore:
    """One page's figures; the rates are derived from the counts, so pages sum into totals."""

    image: str
    ground_truth: str  # the format, e.g. "PAGE 2013-07-15"
    scope: str  # "annotated regions" or "whole page"
    gt_lines: int
    read_lines: int  # lines read inside the scope
    matched_lines: int
    lines_outside: int  # lines read outside the annotated regions, not scored
    gt_chars: int
    char_errors_raw: int
    char_errors: int
    gt_words: int
    word_errors_raw: int
    word_errors: int
    reading_order_errors: int
    lines_merged: int  # transcribed lines read together with another in one line
    lines_split: int  # transcribed lines read in several pieces
    lines_missed: int  # transcribed lines no read line shares ink with
    lines_extra: int  # read lines in scope that share ink with no transcribed line
    words: int
    mean_confidence: float | None  # mean confidence of the scored words (`Word.confidence`)
    marks_read: float | None = None  # the page's marks inside the lines read (`hcrbatch.suspect`)
    seconds: float = 0.0

    @property
    def cer(self) -> float:
        return self.char_errors / max(self.gt_chars, 1)

    @property
    def cer_raw(self) -> float:
        return self.char_errors_raw / max(self.gt_chars, 1)

    @property
    def wer(self) -> float:
        return self.word_errors / max(self.gt_words, 1)

    @property
    def wer_raw(self) -> float:
        return self.word_errors_raw / max(self.gt_words, 1)

    @property
    def line_precision(self) -> float:
        return self.matched_lines / self.read_lines if self.read_lines else float(not self.gt_lines)

    @property
    def line_recall(self) -> float:
        return self.matched_lines / self.gt_lines if self.gt_lines else float(not self.read_lines)

    @property
    def line_f1(self) -> float:
        p, r = self.line_precision, self.line_recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def read_as_empty(self) -> bool:
        """The transcription has text here and the pipeline read nothing in the scope."""
        return self.gt_chars > 0 and self.words == 0

    def row(self) -> dict:
        rates = {name: round(getattr(self, name), 4) for name in RATE_COLUMNS}
        suspect = self.marks_read is not None and self.marks_read < UNREAD_SUSPECT
        return {**asdict(self), **rates, "read_as_empty": self.read_as_empty, "suspect": suspect}


RATE_COLUMNS = ("cer", "cer_raw", "wer", "wer_raw", "line_precision", "line_recall", "line_f1")
COUNT_COLUMNS = [f.name for f in fields(PageScore) if f.type == "int"]


def scoring_ink(gray: np.ndarray) -> np.ndarray:
    """The ink lines are compared by: darker than the page around it (OpenCV's adaptive threshold).
    Fixed here, apart from the pipeline's own binarisation, so that a change to the pipeline
    cannot change what it is measured against."""
    return cv2.adaptiveThreshold(gray, 1, cv2.ADAPTIVE_THRESH_GAUSSIAN_C, cv2.THRESH_BINARY_INV, 51, 15).astype(bool)


def polygon_ink(ink: np.ndarray, polygon) -> np.ndarray:
    """Flat indices (sorted) of the ink pixels inside a polygon."""
    points = np.round(np.asarray(polygon, np.float64)).astype(np.int32)
    height, width = ink.shape
    left, top = np.clip(points.min(axis=0), 0, [width, height])
    right, bottom = np.clip(points.max(axis=0) + 1, 0, [width, height])
    if right <= left or bottom <= top:
        return np.zeros(0, np.int64)
    mask = np.zeros((bottom - top, right - left), np.uint8)
    cv2.fillPoly(mask, [points - [left, top]], 1)
    rows, cols = np.nonzero(mask.astype(bool) & ink[top:bottom, left:right])
    return np.sort((rows + top).astype(np.int64) * width + cols + left)


def boxes_ink(ink: np.ndarray, boxes: list[BBox]) -> np.ndarray:
    """Flat indices (sorted) of the ink pixels inside any of `boxes`."""
    height, width = ink.shape
    found = []
    for b in boxes:
        b = b.clip(width, height)
        rows, cols = np.nonzero(ink[b.top : b.bottom, b.left : b.right])
        found.append((rows + b.top).astype(np.int64) * width + cols + b.left)
    return np.unique(np.concatenate(found)) if found else np.zeros(0, np.int64)


def line_ink(ink: np.ndarray, line: Line) -> np.ndarray:
    """The ink of a read line: inside its word boxes (its box where it has no words)."""
    return boxes_ink(ink, [w.bbox for w in line.words] or [line.bbox])


def _sharing(truth: list[np.ndarray], found: list[np.ndarray]) -> list[tuple[int, int, int]]:
    """(i, j, pixels shared) for every pair of ink sets that share any; sets whose index ranges
    (rows, as the indices are flat and sorted) do not meet are not compared."""
    spans = [(f[0], f[-1]) if len(f) else (0, -1) for f in found]
    out = []
    for i, t in enumerate(truth):
        if not len(t):
            continue
        for j, f in enumerate(found):
            if spans[j][0] <= t[-1] and t[0] <= spans[j][1]:
                shared = len(np.intersect1d(t, f, assume_unique=True))
                if shared:
                    out.append((i, j, shared))
    return out


def match_lines(
    truth: list[np.ndarray], found: list[np.ndarray], threshold: float = LINE_MATCH_IOU
) -> list[tuple[int, int]]:
    """One-to-one (truth index, found index) pairs of lines given as ink pixel sets, greedily from
    the best-overlapping, ink IoU above `threshold`. Ink, not outlines: transcribers draw a line's
    outline anywhere from its x-height to its ascenders and descenders, the ink is the same."""
    pairs = [(shared / (len(truth[i]) + len(found[j]) - shared), i, j) for i, j, shared in _sharing(truth, found)]
    used_t, used_f, out = set(), set(), []
    for iou, i, j in sorted(pairs, reverse=True):
        if iou <= threshold:
            break
        if i not in used_t and j not in used_f:
            used_t.add(i)
            used_f.add(j)
            out.append((i, j))
    return sorted(out)


def line_groups(truth: list[np.ndarray], found: list[np.ndarray]) -> list[tuple[list[int], list[int]]]:
    """Transcribed and read lines (ink pixel sets) grouped where they share most of either's ink
    (GROUP_SHARE): one to one where segmentation is right; two transcribed lines and the one read
    line that merged them; a transcribed line and the pieces it was split into. A line of either
    side that shares with none is a group of its own. Each group's texts are compared joined."""
    parent = list(range(len(truth) + len(found)))

    def root(k: int) -> int:
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    for i, j, shared in _sharing(truth, found):
        if shared >= GROUP_SHARE * min(len(truth[i]), len(found[j])):
            parent[root(i)] = root(len(truth) + j)
    groups: dict[int, tuple[list[int], list[int]]] = {}
    for k in range(len(parent)):
        side = groups.setdefault(root(k), ([], []))
        side[0 if k < len(truth) else 1].append(k if k < len(truth) else k - len(truth))
    return sorted(groups.values(), key=lambda g: (min(g[0], default=len(truth)), min(g[1], default=0)))


def segmentation_errors(groups: list[tuple[list[int], list[int]]]) -> dict[str, int]:
    """What went wrong in each group of lines (`line_groups`), counted in transcribed lines where
    there are some: merged with another, split into pieces (both, in a tangle of several each),
    missed; and the read lines that share ink with no transcribed line."""
    counts = dict.fromkeys(("lines_merged", "lines_split", "lines_missed", "lines_extra"), 0)
    for truth, found in groups:
        if not found:
            counts["lines_missed"] += len(truth)
        elif not truth:
            counts["lines_extra"] += len(found)
        else:
            counts["lines_merged"] += len(truth) if len(truth) > 1 else 0
            counts["lines_split"] += len(truth) if len(found) > 1 else 0
    return counts


def misplaced(order: list[int]) -> int:
    """How many items of `order` must move to sort it: its length less its longest increasing run."""
    tails: list[int] = []
    for value in order:
        k = int(np.searchsorted(tails, value))
        tails[k : k + 1] = [value]
    return len(order) - len(tails)


def scaled(gt: GTPage, width: int, height: int) -> list[GTLine]:
    """The transcription's lines in the image's pixels (an export may describe the page at another size)."""
    sx, sy = width / max(gt.width, 1), height / max(gt.height, 1)
    if math.isclose(sx, 1, abs_tol=1e-3) and math.isclose(sy, 1, abs_tol=1e-3):
        return gt.lines
    return [
        GTLine(
            line.id,
            tuple((x * sx, y * sy) for x, y in line.polygon),
            tuple((x * sx, y * sy) for x, y in line.baseline),
            line.text,
            line.kind,
        )
        for line in gt.lines
    ]


def annotated_ink(gt: GTPage, ink: np.ndarray) -> np.ndarray | None:
    """Flat indices of the ink inside the transcription's annotated regions: those with an outline
    and transcribed text (a stamp's or a clerk's note's region outlined but left untranscribed, as
    CREMMA's wills have, is not annotated text), and inside its transcribed lines' own outlines,
    which an export may leave outside their region (a will whose 18 lines hang from the small
    region of its page number); None where there are none."""
    height, width = ink.shape
    sx, sy = width / max(gt.width, 1), height / max(gt.height, 1)
    transcribed = [r for r in gt.regions if any(normalise_text(line.text) for line in r.lines)]
    outlines = [r.polygon for r in transcribed] + [
        line.polygon for r in transcribed for line in r.lines if normalise_text(line.text)
    ]
    inside = [polygon_ink(ink, [(x * sx, y * sy) for x, y in outline]) for outline in outlines if len(outline) >= 3]
    return np.unique(np.concatenate(inside)) if inside else None


@dataclass(frozen=True)
class Comparison:
    """A read page set against its transcription: the lines in scope on each side, by their ink."""

    texts: list[str]  # the transcribed lines' normalised texts
    truth_ink: list[np.ndarray]
    read: list[Line]  # every line read with words
    scored: list[Line]  # those in scope
    found_ink: list[np.ndarray]  # the scored lines' ink
    groups: list[tuple[list[int], list[int]]]  # `line_groups` of truth_ink and found_ink
    annotated: bool  # only the annotated regions are in scope


def compare(gt: GTPage, result: PageResult, gray: np.ndarray) -> Comparison:
    """`result`'s lines matched with `gt`'s by the ink of `gray`, the page image."""
    ink = scoring_ink(gray)
    truth = [line for line in scaled(gt, result.width, result.height) if normalise_text(line.text)]
    region_ink = annotated_ink(gt, ink)
    read = [line for line in result.lines if line.words]
    read_ink = [line_ink(ink, line) for line in read]
    if region_ink is not None:
        inside = [len(np.intersect1d(f, region_ink, assume_unique=True)) >= INSIDE_REGION * len(f) for f in read_ink]
    else:
        inside = [True] * len(read)
    found = [f for f, keep in zip(read_ink, inside) if keep]
    truth_ink = [polygon_ink(ink, line.polygon) for line in truth]
    return Comparison(
        texts=[normalise_text(line.text) for line in truth],
        truth_ink=truth_ink,
        read=read,
        scored=[line for line, keep in zip(read, inside) if keep],
        found_ink=found,
        groups=line_groups(truth_ink, found),
        annotated=region_ink is not None,
    )


def score_page(gt: GTPage, result: PageResult, gray: np.ndarray, image: str, seconds: float = 0.0) -> PageScore:
    """`result` scored against `gt`; `gray` is the page image, whose ink the lines are matched by."""
    seen = compare(gt, result, gray)
    texts, scored, groups = seen.texts, seen.scored, seen.groups
    pairs = match_lines(seen.truth_ink, seen.found_ink)
    raw = [normalise_text(" ".join(w.raw_text for w in line.words)) for line in scored]
    corrected = [normalise_text(line.text) for line in scored]

    def errors(readings: list[str], unit: Callable[[str], list | str]) -> int:
        return sum(
            edit_distance(unit(" ".join(texts[i] for i in t)), unit(" ".join(readings[j] for j in f)))
            for t, f in groups
        )

    words = [w for line in scored for w in line.words]
    return PageScore(
        image=image,
        ground_truth=gt.format,
        scope="annotated regions" if seen.annotated else "whole page",
        gt_lines=len(texts),
        read_lines=len(scored),
        matched_lines=len(pairs),
        lines_outside=len(seen.read) - len(scored),
        gt_chars=sum(len(t) for t in texts),
        char_errors_raw=errors(raw, str),
        char_errors=errors(corrected, str),
        gt_words=sum(len(t.split()) for t in texts),
        word_errors_raw=errors(raw, str.split),
        word_errors=errors(corrected, str.split),
        reading_order_errors=misplaced([j for _, j in sorted(pairs)]),
        **segmentation_errors(groups),
        words=len(words),
        mean_confidence=round(float(np.mean([w.confidence for w in words])), 4) if words else None,
        marks_read=result.marks_read,
        seconds=round(seconds, 3),
    )


def word_outcomes(gt: GTPage, result: PageResult, gray: np.ndarray) -> list[tuple[Line, Word, bool]]:
    """Each word read in scope, with its line, and whether it is right: paired with the same word
    by a least-cost alignment of its group of lines' words with the transcription's (a word of a
    read line that shares ink with no transcribed line is wrong)."""
    seen = compare(gt, result, gray)
    out = []
    for t, f in seen.groups:
        truth = " ".join(seen.texts[i] for i in t).split()
        read = [(seen.scored[j], word) for j in f for word in seen.scored[j].words]
        right = matched_items(truth, [normalise_text(word.text) for _, word in read])
        out.extend((line, word, ok) for (line, word), ok in zip(read, right))
    return out


def total(scores: Iterable[PageScore], image: str = "all pages") -> PageScore:
    """The pages' counts summed into one score (rates over all their characters, not a mean of rates)."""
    scores = list(scores)
    counts = {name: sum(getattr(s, name) for s in scores) for name in COUNT_COLUMNS}
    chars = sum(s.mean_confidence * s.words for s in scores if s.mean_confidence is not None)
    return PageScore(
        image=image,
        ground_truth=", ".join(sorted({s.ground_truth for s in scores})),
        scope=", ".join(sorted({s.scope for s in scores})),
        mean_confidence=round(chars / counts["words"], 4) if counts["words"] else None,
        seconds=round(sum(s.seconds for s in scores), 3),
        **counts,
    )


def write_scores(scores: list[PageScore], out_dir: Path) -> list[Path]:
    """pages.csv (a row per page and one for all), and cer-vs-confidence.png."""
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = [s.row() for s in scores] + [total(scores).row()]
    pages_csv = out_dir / "pages.csv"
    write_csv(pages_csv, pd.DataFrame(rows))
    plot = out_dir / "cer-vs-confidence.png"
    plot_cer_against_confidence(scores, plot)
    return [pages_csv, plot]


def plot_cer_against_confidence(scores: list[PageScore], path: Path) -> None:
    """Each page's corrected CER against its words' mean confidence: whether confidence can
    tell an archivist which pages to check by hand."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    from hcrbatch.atomic import atomic_output

    shown = [s for s in scores if s.mean_confidence is not None]
    figure, axes = plt.subplots(figsize=(6, 4.5), dpi=100)
    axes.scatter([s.mean_confidence for s in shown], [s.cer for s in shown], s=14, alpha=0.7)
    empty = [s for s in scores if s.mean_confidence is None]
    if empty:
        axes.scatter([0.0] * len(empty), [s.cer for s in empty], s=20, marker="x", color="red", label="read as empty")
        axes.legend(loc="upper right")
    axes.set_xlabel("mean word confidence of the page")
    axes.set_ylabel("CER (corrected)")
    axes.set_xlim(-0.02, 1.02)
    axes.set_ylim(0, max([1.0] + [s.cer for s in scores]) * 1.02)
    axes.grid(alpha=0.3)
    axes.set_title(f"{len(scores)} pages")
    figure.tight_layout()
    with atomic_output(path, "wb") as fh:
        figure.savefig(fh, format="png")
    plt.close(figure)


def held_out_pages(cfg: Config) -> set[str]:
    """The names (file stems) of the pages the line model's manifest lists as held out from its training."""
    manifest = line_manifest(cfg.recognize)
    names = manifest.extra.get("held_out_pages")
    if not names:
        raise ConfigError(f"{manifest.weights}: its manifest lists no held_out_pages to select")
    return {name.rsplit("/", 1)[-1] for name in names}


def transcribed_images(cfg: Config, only: Collection[str] | None = None) -> list[tuple[InputFile, GTPage]]:
    """The images under the input folder (`cfg.glob` applies) that have a PAGE or ALTO
    transcription holding text; with `only`, those whose file stem, or path relative to the input
    folder, it holds. A transcription without text (`GTPage.has_text`) is a page not yet
    transcribed or a blank one: either way there is nothing to score a reading against, and the
    page is named in a warning and left out, not scored as if all it read were wrong."""
    files = [
        f
        for f in discover(cfg.input_dir, cfg.glob, cfg.recursive)
        if only is None or f.path.stem in only or str(f.relative) in only
    ]
    pages = []
    for file in files:
        gt = transcription_of(file.path)
        if gt is None:
            continue
        if not gt.has_text:
            log.warning("%s: its transcription holds no text: left out", file.relative)
            continue
        pages.append((file, gt))
    if not pages:
        raise ConfigError(f"no transcribed pages under {cfg.input_dir}: images with PAGE or ALTO XML beside them")
    return pages


def evaluate_folder(
    cfg: Config, only: Collection[str] | None = None, outcomes: list[tuple[str, Line, Word, bool]] | None = None
) -> list[PageScore]:
    """Every transcribed page under `cfg.input_dir` (those named in `only`, if given) read with the
    pipeline `cfg` sets up, and scored; where `outcomes` is given, each word read is added to it
    with its page (as in the scores), its line and whether it is right (`word_outcomes`)."""
    pages = transcribed_images(cfg, only)
    reader = Reader(cfg)
    scores = []
    for file, gt in tqdm(pages, unit="page", desc="pages", disable=not cfg.progress):
        started = time.monotonic()
        try:
            page = next(iter_pages(file.path, cfg.ingest))
        except InputFileError as exc:
            log.warning("%s: not scored: %s", file.relative, exc)
            continue
        result = reader.read_page(page)
        gray = to_gray(page.pixels)
        scores.append(score_page(gt, result, gray, str(file.relative), time.monotonic() - started))
        if outcomes is not None:
            outcomes.extend((str(file.relative), *outcome) for outcome in word_outcomes(gt, result, gray))
    return scores


def summary_lines(scores: list[PageScore]) -> list[str]:
    """What `hcrbatch eval-pages` prints: the totals an archivist decides on."""
    all_pages = total(scores)
    empty = [s.image for s in scores if s.read_as_empty]
    suspect = [s for s in scores if s.row()["suspect"]]
    return [
        f"pages: {len(scores)}, scored inside: {all_pages.scope}",
        f"CER: {all_pages.cer:.2%} corrected, {all_pages.cer_raw:.2%} raw; "
        f"WER: {all_pages.wer:.2%} corrected, {all_pages.wer_raw:.2%} raw",
        f"lines: F1 {all_pages.line_f1:.3f} (precision {all_pages.line_precision:.3f}, "
        f"recall {all_pages.line_recall:.3f}); reading-order errors: {all_pages.reading_order_errors}",
        f"pages with writing read as empty: {len(empty)}" + (f" ({', '.join(empty)})" if empty else ""),
        f"pages flagged as suspect (most of their marks not read): {len(suspect)}, their CER "
        + (
            f"{total(suspect).cer:.2%}, the others' {total(s for s in scores if s not in suspect).cer:.2%}"
            if suspect
            else "-"
        ),
    ]

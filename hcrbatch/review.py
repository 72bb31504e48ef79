"""`OUT_DIR/hcrbatch-review.html`: what an archivist opens to check a batch.

One self-contained file (styles, the confidence histogram as inline SVG and the word images as data
URIs), written at the end of every run from the state of the whole output folder, not only what the
run itself did: the files and pages worst first, and on each page its low-confidence words with the
image of each, the raw and the corrected reading, and a link to the page in the searchable PDF.

A finished file's done record keeps a `PageReview` of each page (its figures and at most
`FLAGGED_PER_PAGE` of its least confident words, with their boxes) — small, so a batch of a hundred
thousand pages keeps its review without keeping its readings. Word images are cut only for the
pages the review shows, from the inputs as they are when it is written.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import json
import logging
import os
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import quote

import cv2
import numpy as np

from hcrbatch.atomic import atomic_write_text
from hcrbatch.config import IngestConfig
from hcrbatch.elements import BBox, FileOutcome, PageResult
from hcrbatch.suspect import is_overread, is_suspect

log = logging.getLogger(__name__)

REVIEW_NAME = "hcrbatch-review.html"
FLAGGED_PER_PAGE = 12  # the least confident words a page's review keeps
PAGES_SHOWN = 60  # the worst pages shown with their words' images
HISTOGRAM_BINS = 10
SNIPPET_HEIGHT = 40  # px a word's image is scaled to


@dataclass(frozen=True)
class FlaggedWord:
    text: str
    raw_text: str
    confidence: float
    bbox: tuple[int, int, int, int]  # left, top, right, bottom in the page's pixels as read
    turned: int = 0  # its line's `Line.turned`: its image is shown turned upright


@dataclass(frozen=True)
class PageReview:
    """What the review needs of one page, kept in its file's done record."""

    page: int  # 1-based
    words: int
    mean_confidence: float | None
    low_confidence_words: int
    suspect: bool  # most of its writing was not read
    overread: bool  # texture or ruling read as text
    flagged: tuple[FlaggedWord, ...]  # its low-confidence words, least confident first
    histogram: tuple[int, ...]  # its words by confidence, in HISTOGRAM_BINS equal bins of [0, 1]
    turned: int = 0  # quarter turns clockwise the page was read at (`PageResult.turned`): its boxes' frame

    def to_dict(self) -> dict:
        return asdict(self)

    @staticmethod
    def from_dict(data: dict) -> PageReview:
        flagged = tuple(
            FlaggedWord(w["text"], w["raw_text"], w["confidence"], tuple(w["bbox"]), w.get("turned", 0))
            for w in data["flagged"]
        )
        return PageReview(**{**data, "flagged": flagged, "histogram": tuple(data["histogram"])})

    @property
    def attention(self) -> tuple:
        """Sort key, most in need of a person first: pages flagged, then the least confident."""
        return (not (self.suspect or self.overread), self.mean_confidence if self.mean_confidence is not None else 0.0)


def page_review(page: PageResult, low_confidence: float) -> PageReview:
    """`page`'s review: its words below `low_confidence`, least confident first (at most FLAGGED_PER_PAGE)."""
    turns = {id(w): line.turned for line in page.lines for w in line.words}
    words = [w for w in page.words if w.chars]
    confidences = [w.confidence for w in words]
    low = sorted((w for w in words if w.confidence < low_confidence), key=lambda w: w.confidence)
    counts, _ = np.histogram(confidences, bins=HISTOGRAM_BINS, range=(0.0, 1.0))
    return PageReview(
        page=page.index + 1,
        words=len(words),
        mean_confidence=round(float(np.mean(confidences)), 4) if words else None,
        low_confidence_words=len(low),
        suspect=is_suspect(page),
        overread=is_overread(page),
        flagged=tuple(
            FlaggedWord(w.text, w.raw_text, round(w.confidence, 4), tuple(w.bbox.to_list()), turns[id(w)])
            for w in low[:FLAGGED_PER_PAGE]
        ),
        histogram=tuple(int(c) for c in counts),
        turned=page.turned,
    )


@dataclass(frozen=True)
class ReviewedFile:
    outcome: FileOutcome
    source: Path | None  # the input, to cut word images from; None where the record has none
    outputs: dict[str, str]  # format -> output path relative to OUT_DIR
    pages: tuple[PageReview, ...]


def reviewed_files(state_dir: Path, report: Sequence[FileOutcome]) -> list[ReviewedFile]:
    """The batch report's rows, each with its file's page reviews from its done record (under
    `state_dir`/done) where it has one; failed rows have none."""
    records = {}
    for path in sorted((state_dir / "done").rglob("*.json")):
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
            records[record["outcome"]["path"]] = record
        except (OSError, ValueError, KeyError, TypeError):
            continue
    found = []
    for outcome in report:
        record = records.get(outcome.path, {}) if outcome.status != "failed" else {}
        review = record.get("review", {})
        try:
            pages = tuple(PageReview.from_dict(p) for p in review.get("pages", ()))
        except (KeyError, TypeError, ValueError):
            pages = ()
        source = Path(review["source"]) if review.get("source") else None
        found.append(ReviewedFile(outcome, source, dict(review.get("outputs", {})), pages))
    return found


def word_images(source: Path, ingest: IngestConfig, pages: dict[int, PageReview]) -> dict[tuple[int, int], str]:
    """(page, word number) -> a data URI of the word's image, for the flagged words of `pages` of
    `source`; empty where the input cannot be read now."""
    from hcrbatch.ingest import iter_pages

    images = {}
    try:
        wanted = {p - 1 for p in pages}
        for page in iter_pages(source, ingest, skip=_AllBut(wanted)):
            review = pages[page.index + 1]
            pixels = np.rot90(page.pixels, -review.turned) if review.turned else page.pixels
            for k, word in enumerate(review.flagged):
                images[(review.page, k)] = _snippet(pixels, BBox(*word.bbox), word.turned)
            if page.index >= max(wanted):
                break
    except Exception as exc:  # the review goes on without the images of an input gone or changed
        log.info("review: no word images from %s: %s", source, exc)
    return images


class _AllBut:
    """A `skip` container for `iter_pages`: every page index but those wanted."""

    def __init__(self, wanted: set[int]) -> None:
        self.wanted = wanted

    def __contains__(self, index: object) -> bool:
        return index not in self.wanted


def _snippet(pixels: np.ndarray, box: BBox, turned: int = 0) -> str:
    height, width = pixels.shape[:2]
    margin = max(2, (box.width if turned % 2 else box.height) // 6)  # a sixth of its letters' height
    crop = pixels[max(0, box.top - margin) : min(height, box.bottom + margin),
                  max(0, box.left - margin) : min(width, box.right + margin)]  # fmt: skip
    if crop.size == 0:
        return ""
    crop = np.rot90(crop, -turned) if turned % 4 else crop
    scale = SNIPPET_HEIGHT / crop.shape[0]
    crop = cv2.resize(crop, (max(1, round(crop.shape[1] * scale)), SNIPPET_HEIGHT), interpolation=cv2.INTER_AREA)
    if crop.ndim == 3:
        crop = cv2.cvtColor(crop, cv2.COLOR_RGB2BGR)
    ok, encoded = cv2.imencode(".png", crop)
    return "data:image/png;base64," + base64.b64encode(encoded.tobytes()).decode("ascii") if ok else ""


def review_is_current(output_dir: Path, state_dir: Path) -> bool:
    """Whether the review page was written after every file's done record: a re-run that only
    skipped files keeps it rather than cut its word images again."""
    try:
        written = (output_dir / REVIEW_NAME).stat().st_mtime
    except OSError:
        return False
    return all(path.stat().st_mtime <= written for path in (state_dir / "done").rglob("*.json"))


def write_review(output_dir: Path, state_dir: Path, report: Sequence[FileOutcome], ingest: IngestConfig,
                 low_confidence: float) -> Path:  # fmt: skip
    """Write OUT_DIR/hcrbatch-review.html for the batch `report` describes."""
    files = reviewed_files(state_dir, report)
    pages = sorted(((f, p) for f in files for p in f.pages), key=lambda fp: fp[1].attention)[:PAGES_SHOWN]
    images: dict[tuple[str, int, int], str] = {}
    for reviewed in files:
        shown = {p.page: p for f, p in pages if f is reviewed and p.flagged}
        if shown and reviewed.source is not None:
            for (page, k), uri in word_images(reviewed.source, ingest, shown).items():
                images[(reviewed.outcome.path, page, k)] = uri
    path = output_dir / REVIEW_NAME
    atomic_write_text(path, render(files, pages, images, low_confidence))
    return path


STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }
table { border-collapse: collapse; margin-bottom: 1.5em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; vertical-align: middle; }
th { background: #f0f0f0; }
.failed { background: #fde2e2; } .flag { color: #b00; font-weight: bold; }
.page { border: 1px solid #bbb; border-radius: 4px; padding: 0.5em 1em; margin: 1em 0; }
.word img { height: 40px; border: 1px solid #ddd; background: #fff; }
.conf { font-variant-numeric: tabular-nums; }
"""


def render(files: Sequence[ReviewedFile], pages: Sequence[tuple[ReviewedFile, PageReview]],
           images: dict[tuple[str, int, int], str], low_confidence: float) -> str:  # fmt: skip
    """The review page's HTML."""
    e = html.escape
    counts = {status: sum(f.outcome.status == status for f in files) for status in ("ok", "skipped", "failed")}
    histogram = [sum(p.histogram[b] for f in files for p in f.pages) for b in range(HISTOGRAM_BINS)]
    ranked = sorted(files, key=_file_attention)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8"><title>hcrbatch review</title>',
        f"<style>{STYLE}</style></head><body>",
        "<h1>hcrbatch review</h1>",
        f'<p id="summary">{len(files)} files: {counts["ok"]} read, {counts["skipped"]} done earlier, '
        f"{counts['failed']} failed; {sum(f.outcome.pages for f in files)} pages, {sum(histogram)} words, of them "
        f"{sum(f.outcome.low_confidence_words or 0 for f in files)} under the low-confidence threshold "
        f"({low_confidence:g}). A word's confidence is the probability it is right where its model is "
        f"calibrated. Written {dt.datetime.now().astimezone().isoformat(timespec='seconds')}.</p>",
        "<h2>Word confidence</h2>",
        _histogram_svg(histogram, low_confidence),
        "<h2>Files, worst first</h2>",
        '<table id="files"><tr><th>file</th><th>status</th><th>pages</th><th>words</th><th>mean confidence</th>'
        "<th>low-confidence words</th><th>suspect pages</th><th>reason</th></tr>",
    ]
    for f in ranked:
        o = f.outcome
        link = f.outputs.get("pdf") or f.outputs.get("txt")
        name = f'<a href="{e(_href(link))}">{e(o.path)}</a>' if link else e(o.path)
        parts.append(
            f'<tr class="{"failed" if o.status == "failed" else o.status}"><td>{name}</td><td>{e(o.status)}</td>'
            f"<td>{o.pages}</td><td>{o.words}</td><td class='conf'>{_number(o.mean_confidence)}</td>"
            f"<td>{o.low_confidence_words}</td><td>{e(str(o.suspect_pages or ''))}</td><td>{e(o.reason)}</td></tr>"
        )
    parts.append("</table>")
    parts.append(f"<h2>Pages, worst first</h2><p>The {len(pages)} pages most in need of a look, each with its "
                 f"least confident words (at most {FLAGGED_PER_PAGE}).</p>")  # fmt: skip
    for f, p in pages:
        pdf = f.outputs.get("pdf")
        title = f"{e(f.outcome.path)}, page {p.page}"
        heading = f'<a href="{e(_href(pdf))}#page={p.page}">{title}</a>' if pdf else title
        flags = [flag for flag, on in (("most of its writing was not read", p.suspect),
                                       ("texture or ruling read as text", p.overread)) if on]  # fmt: skip
        parts.append(
            f'<div class="page"><h3>{heading}</h3><p>{p.words} words, mean confidence '
            f"<span class='conf'>{_number(p.mean_confidence)}</span>, {p.low_confidence_words} under "
            f"{low_confidence:g}{''.join(f' <span class=flag>{e(flag)}</span>' for flag in flags)}</p>"
        )
        if p.flagged:
            parts.append(
                "<table class='words'><tr><th>image</th><th>read</th><th>corrected</th><th>confidence</th></tr>"
            )
            for k, word in enumerate(p.flagged):
                uri = images.get((f.outcome.path, p.page, k), "")
                image = f'<img src="{uri}" alt="{e(word.text)}">' if uri else "(no image)"
                parts.append(
                    f"<tr class='word'><td>{image}</td><td>{e(word.raw_text)}</td><td>{e(word.text)}</td>"
                    f"<td class='conf'>{word.confidence:.2f}</td></tr>"
                )
            parts.append("</table>")
        parts.append("</div>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _file_attention(f: ReviewedFile) -> tuple:
    o = f.outcome
    suspect = len(str(o.suspect_pages or "").split(";")) if o.suspect_pages else 0
    return (o.status != "failed", -suspect, o.mean_confidence if o.mean_confidence is not None else 0.0, o.path)


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"


def _href(relative: str) -> str:
    """A link to an output, by its bytes on disk (a name that is not UTF-8 keeps its odd bytes)."""
    return quote(os.fsencode(relative))


def _histogram_svg(counts: Iterable[int], threshold: float) -> str:
    counts = list(counts)
    width, height, bar = 420, 160, 40
    top = max(counts + [1])
    bars = []
    for b, n in enumerate(counts):
        h = round((height - 30) * n / top)
        x = b * bar + 10
        colour = "#c0392b" if (b + 1) / len(counts) <= threshold + 1e-9 else "#2e86c1"
        bars.append(f'<rect x="{x}" y="{height - 20 - h}" width="{bar - 4}" height="{h}" fill="{colour}">'
                    f"<title>{b / len(counts):.1f}–{(b + 1) / len(counts):.1f}: {n} words</title></rect>"
                    f'<text x="{x}" y="{height - 5}" font-size="10">{b / len(counts):.1f}</text>')  # fmt: skip
    marker = round(10 + threshold * len(counts) * bar) - 2
    bars.append(f'<line x1="{marker}" y1="0" x2="{marker}" y2="{height - 18}" stroke="#555" stroke-dasharray="4 3"/>'
                f'<text x="{marker + 4}" y="12" font-size="11">low-confidence threshold</text>')  # fmt: skip
    return (f'<svg id="histogram" xmlns="http://www.w3.org/2000/svg" width="{width + 20}" height="{height}" '
            f'role="img" aria-label="words by confidence">{"".join(bars)}</svg>'
            "<p>Words by confidence: red, under the low-confidence threshold.</p>")  # fmt: skip

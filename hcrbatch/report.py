"""CSV reports that open cleanly in a spreadsheet: one per document (a row per word), one per batch."""

from __future__ import annotations

from dataclasses import asdict, fields
from pathlib import Path

import pandas as pd

from hcrbatch.atomic import atomic_output
from hcrbatch.elements import FileOutcome, PageResult

WORD_COLUMNS = [
    "document", "page", "line", "word", "left", "top", "right", "bottom",
    "raw_text", "text", "corrected_by", "confidence", "mean_confidence", "min_confidence", "engine", "print_probability",
    "page_width", "page_height", "dpi",
]  # fmt: skip
BATCH_COLUMNS = [f.name for f in fields(FileOutcome)]
FORMULA_STARTS = ("=", "+", "@", "\t", "\r")


def spreadsheet_safe(text: str) -> str:
    """Prefix cells a spreadsheet would run as a formula (`=`, `+`, `@`, non-numeric `-`) with `'`."""
    if text.startswith(FORMULA_STARTS) or (text.startswith("-") and not _is_number(text)):
        return "'" + text
    return text


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def word_rows(results: list[PageResult], document: str = "") -> pd.DataFrame:
    rows = [
        {
            "document": spreadsheet_safe(document),  # the input, relative to the input folder
            "page": page.index + 1,
            "line": line_no,
            "word": word_no,
            "left": word.bbox.left,
            "top": word.bbox.top,
            "right": word.bbox.right,
            "bottom": word.bbox.bottom,
            "raw_text": spreadsheet_safe(word.raw_text),
            "text": spreadsheet_safe(word.text),
            "corrected_by": word.corrected_by,
            # the probability that `text` is right (calibrated), else the characters' mean
            "confidence": round(word.confidence, 4),
            "mean_confidence": round(word.mean_confidence, 4),
            "min_confidence": round(word.min_confidence, 4),
            "engine": line.engine,
            # auto's line-kind classifier: how likely the line is print (empty where not measured)
            "print_probability": None if (kind := line.evidence.print_probability) is None else round(kind, 4),
            "page_width": page.width,  # the page image's pixels, in which the boxes are given
            "page_height": page.height,
            "dpi": round(page.dpi, 2),
        }
        for page in results
        for line_no, line in enumerate(page.lines, 1)
        for word_no, word in enumerate(line.words, 1)
    ]
    return pd.DataFrame(rows, columns=WORD_COLUMNS)


def write_csv(path: Path, frame: pd.DataFrame) -> None:
    """UTF-8 with a byte-order mark: without one Excel reads a CSV in the system's code page and
    garbles every accent; LibreOffice, pandas and `csv` with encoding "utf-8-sig" skip it."""
    with atomic_output(path, "w", encoding="utf-8-sig") as fh:
        frame.to_csv(fh, index=False, lineterminator="\n")


def write_document_csv(path: Path, results: list[PageResult], document: str = "") -> None:
    write_csv(path, word_rows(results, document))


def read_batch_report(path: Path) -> pd.DataFrame:
    """The rows a report already holds, as written; none where there is no report or it is not one."""
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, ValueError):
        return pd.DataFrame(columns=BATCH_COLUMNS)
    if "path" not in frame.columns or not set(frame.columns) <= set(BATCH_COLUMNS):
        return pd.DataFrame(columns=BATCH_COLUMNS)
    return frame.reindex(columns=BATCH_COLUMNS, fill_value="")  # a column added since: empty


def write_batch_report(
    path: Path, outcomes: list[FileOutcome], earlier: pd.DataFrame | None = None
) -> list[FileOutcome]:
    """A row per input, sorted by path: this run's outcomes, and the `earlier` rows (an earlier run's
    report) of inputs this run did not reach, so that the report describes the whole output folder
    after a run that was interrupted or chose some files with --glob. Returns its rows."""
    rows = [asdict(o) for o in sorted(outcomes, key=lambda o: o.path)]
    frame = pd.DataFrame(rows, columns=BATCH_COLUMNS)
    frame["path"] = frame["path"].map(spreadsheet_safe)
    reported = list(outcomes)
    if earlier is not None and len(earlier):
        kept = earlier[~earlier["path"].isin(set(frame["path"]))]
        frame = pd.concat([frame.astype(object), kept], ignore_index=True).sort_values("path", kind="stable")
        reported += [outcome_from_row(row) for row in kept.to_dict("records")]
    write_csv(path, frame)
    return sorted(reported, key=lambda o: o.path)


def outcome_from_row(row: dict[str, str]) -> FileOutcome:
    """A report row, as `read_batch_report` reads it, back as the outcome it was written from."""

    def number(key: str, kind: type) -> float | int:
        try:
            return kind(float(row.get(key) or 0))
        except ValueError:
            return kind(0)

    cell = str(row.get("path", ""))
    path = cell[1:] if cell.startswith("'") and spreadsheet_safe(cell[1:]) == cell else cell
    confidence = row.get("mean_confidence") or ""
    return FileOutcome(
        path=path, status=row.get("status") or "failed", reason=row.get("reason") or "",
        pages=number("pages", int), words=number("words", int), chars=number("chars", int),
        mean_confidence=number("mean_confidence", float) if confidence else None,
        low_confidence_words=number("low_confidence_words", int), suspect_pages=row.get("suspect_pages") or "",
        overread_pages=row.get("overread_pages") or "", seconds=number("seconds", float),
    )  # fmt: skip

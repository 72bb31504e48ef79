"""What lets a re-run skip finished files and resume interrupted ones.

Under `OUT_DIR/.hcrbatch/`: `done/<rel>.json` is written last for each finished input (its content
hash, the settings digest, its report row and its pages' review); `work/<rel>/<digest>/page-NNNN.json` and
`page-NNNN.pdf` hold each recognised and rendered page of a file still in progress, so a killed run
neither reads nor renders those pages again.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

from hcrbatch.atomic import atomic_write_text
from hcrbatch.elements import FileOutcome, PageResult

STATE_DIR = ".hcrbatch"


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def page_to_json(page: PageResult) -> str:
    return json.dumps(page.to_dict(), ensure_ascii=False)


def page_from_json(text: str) -> PageResult:
    return PageResult.from_dict(json.loads(text))


class FileState:
    """The resume state of one input file inside the output folder."""

    def __init__(
        self, output_dir: Path, stem_path: str, input_digest: str, settings: str, with_pdf: bool = True
    ) -> None:
        state = Path(output_dir) / STATE_DIR
        self.done_path = state / "done" / f"{stem_path}.json"
        self.work_dir = state / "work" / stem_path / f"{input_digest[:16]}-{settings}"
        self.input_digest = input_digest
        self.settings = settings
        self.with_pdf = with_pdf  # whether each finished page also has its PDF

    def finished_outcome(self, outputs: Callable[[int], list[Path]]) -> FileOutcome | None:
        """The recorded outcome if this exact input was finished with these settings and its outputs
        (`outputs(pages)`, for a document of that many pages) are there as they were written: the
        same size and modification time (a file edited, truncated or replaced since is redone)."""
        try:
            done = json.loads(self.done_path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            return None
        if done.get("input_sha256") != self.input_digest or done.get("settings") != self.settings:
            return None
        outcome = FileOutcome(**done["outcome"])
        written = done.get("outputs", {})
        for path in outputs(outcome.pages):
            if not path.is_file() or (path.name in written and written[path.name] != _stamp(path)):
                return None
        return outcome

    def page_pdf(self, index: int) -> Path:
        return self.work_dir / f"page-{index + 1:04d}.pdf"

    def _page_json(self, index: int) -> Path:
        return self.work_dir / f"page-{index + 1:04d}.json"

    def finished_pages(self) -> dict[int, PageResult]:
        """Pages of an interrupted run that need no more work: their reading and their PDF exist."""
        pages = {}
        for path in sorted(self.work_dir.glob("page-*.json")):
            try:
                page = page_from_json(path.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError, KeyError, TypeError, ValueError):
                continue
            if path == self._page_json(page.index) and (not self.with_pdf or self.page_pdf(page.index).is_file()):
                pages[page.index] = page
        return pages

    def save_page(self, page: PageResult) -> None:
        """Record a page as finished; called after its PDF is written."""
        atomic_write_text(self._page_json(page.index), page_to_json(page))

    def mark_done(self, outcome: FileOutcome, outputs: list[Path] = (), review: dict | None = None) -> None:
        """Record the file as finished, with each of its `outputs`' size and modification time, and
        what the batch's review page shows of it (`hcrbatch.review`)."""
        record = {"input_sha256": self.input_digest, "settings": self.settings, "outcome": asdict(outcome),
                  "outputs": {path.name: _stamp(path) for path in outputs}}  # fmt: skip
        if review is not None:
            record["review"] = review
        atomic_write_text(self.done_path, json.dumps(record, indent=1))
        shutil.rmtree(self.work_dir.parent, ignore_errors=True)


def _stamp(path: Path) -> list[int]:
    """What tells an output changed since it was written, without reading it: size and mtime (ns)."""
    status = path.stat()
    return [status.st_size, status.st_mtime_ns]

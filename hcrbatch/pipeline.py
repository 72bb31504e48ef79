"""The only module that knows the order of the stages; per-file error capture, skip and resume.

ingest -> preprocess -> segment -> recognize -> correct -> render/report, one page at a time.
"""

from __future__ import annotations

import errno
import logging
import math
import os
import shutil
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Container, Mapping
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

import numpy as np
from filelock import FileLock, Timeout
from tqdm import tqdm

from hcrbatch import __version__
from hcrbatch.archival import DocumentInfo, page_xml_paths, write_alto, write_hocr, write_page_xml
from hcrbatch.atomic import ATOMIC_TEMP_NAME, atomic_write_text
from hcrbatch.checkpoint import STATE_DIR, FileState, file_digest
from hcrbatch.cluster import Cluster, worker_host
from hcrbatch.confidence import WordCalibration, calibrate_page
from hcrbatch.config import Config
from hcrbatch.correct import Corrector
from hcrbatch.correctors import make_corrector
from hcrbatch.discover import InputFile, discover, printable
from hcrbatch.elements import BBox, CleanPage, FileOutcome, Line, PageImage, PageResult
from hcrbatch.engines import (
    Engine,
    EnginePage,
    engine_digest,
    letters_beyond_alphabet,
    make_engine,
    word_calibrations,
)
from hcrbatch.errors import (
    ConfigError,
    CorruptFileError,
    EmptyFileError,
    ExitCode,
    InputFileError,
    OutputLockedError,
    OutputNotWritableError,
    not_library_advice,
)
from hcrbatch.lexicon import check_language
from hcrbatch.linefinder import LineFinder, line_finder_digest, page_line_finder
from hcrbatch.pdfa import original_problems, srgb_profile
from hcrbatch.ingest import count_pages, iter_pages
from hcrbatch.preprocess import line_axis, preprocess, to_gray
from hcrbatch.sideways import SidewaysBlock, leaving_out, sideways_blocks, turned_block, without_blocks
from hcrbatch.render import join_pdfs, write_page_pdf, write_text
from hcrbatch.review import page_review, review_is_current, write_review
from hcrbatch.report import read_batch_report, write_batch_report, write_document_csv
from hcrbatch.suspect import characters_per_height, cut_short, is_overread, is_suspect, marks_read
from hcrbatch.workers import run_parallel, run_threaded

log = logging.getLogger(__name__)

REPORT_NAME = "hcrbatch-report.csv"
REPORT_EVERY_SECONDS = 5.0
POPPLER_TOOLS = ("pdfinfo", "pdftoppm")  # pdf2image reads PDFs with them
# the formats written as one file per document, by the suffix added to the input's name (PAGE: a file a page)
SINGLE_FILE_SUFFIXES = {"pdf": ".pdf", "txt": ".txt", "csv": ".csv", "alto": ".alto.xml", "hocr": ".hocr"}


@dataclass(frozen=True)
class Task:
    """A worker's piece of a batch: a whole document, or some pages of a long one, read and
    checkpointed only, so that its pages spread over the workers; the document is then gathered:
    its outputs written from this run's checkpoints (under --force too), as a resumed run writes them."""

    file: InputFile
    stem: str  # its outputs' path under the output folder, less their suffixes (`output_stems`)
    pages: tuple[int, ...] | None = None  # these pages only (0-based); None: the whole document
    gather: bool = False


PAGE_TASKS_PER_WORKER = 4  # a long document's pages, cut into this many tasks a worker: even loads, few hashings
DOCUMENT_SUFFIXES = {".pdf", ".tif", ".tiff"}  # the inputs that hold several pages (the others are read whole)


def plan_tasks(files: list[InputFile], stems: Mapping[InputFile, str], workers: int) -> list[Task]:
    """One task a document; with several workers, a PDF or TIFF of several pages as page tasks
    instead, so that one long document keeps every worker busy. Only those are opened here: a
    folder of a hundred thousand JPEG pages is planned without reading one."""
    tasks = []
    for file in files:
        try:
            pages = count_pages(file.path) if workers > 1 and file.path.suffix.lower() in DOCUMENT_SUFFIXES else 1
        except Exception:  # the file's own task reports why it cannot be read
            pages = 1
        if pages < 2:
            tasks.append(Task(file, stems[file]))
            continue
        size = math.ceil(pages / (workers * PAGE_TASKS_PER_WORKER))
        tasks += [Task(file, stems[file], tuple(range(i, min(i + size, pages)))) for i in range(0, pages, size)]
    return tasks


@dataclass(frozen=True)
class _AllBut:
    """Every page index but `kept`: what a page task leaves out of its document."""

    kept: frozenset[int]

    def __contains__(self, index: object) -> bool:
        return index not in self.kept


@dataclass(frozen=True)
class BatchResult:
    outcomes: tuple[FileOutcome, ...]

    @property
    def counts(self) -> Counter:
        return Counter(o.status for o in self.outcomes)

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.SOME_FILES_FAILED if self.counts["failed"] else ExitCode.OK


def output_stems(files: list[InputFile]) -> dict[InputFile, str]:
    """Each input's output path without extension, distinct for every input: its relative path less
    its suffix (`scan.png` -> `scan`), or with it where that would be shared with another input or
    with the batch report, compared as a case-insensitive file system would (`scan.png` and
    `scan.pdf` -> `scan.png`, `scan.pdf`; then also `scan.png.pdf` -> `scan.png.pdf`)."""
    stems = {f: str(f.relative.with_suffix("")) for f in files}
    reserved = REPORT_NAME.removesuffix(".csv").casefold()
    while True:
        claims = Counter(stem.casefold() for stem in stems.values())
        clashing = [f for f, stem in stems.items() if (claims[stem.casefold()] > 1 or stem.casefold() == reserved)
                    and stems[f] != str(f.relative)]  # fmt: skip
        if not clashing:
            return stems
        for f in clashing:
            stems[f] = str(f.relative)


def is_pdf(file: InputFile) -> bool:
    return file.path.suffix.lower() == ".pdf"


def remove_stale_partials(output_dir: Path, input_dir: Path) -> None:
    """Temp files of a run that was killed outright (`atomic.atomic_path`'s names); safe to remove
    while we hold the lock. Nothing inside the input folder is touched."""
    scans = input_dir.resolve()
    for path in output_dir.rglob(".*.part*"):
        if ATOMIC_TEMP_NAME.fullmatch(path.name) and not path.resolve().is_relative_to(scans):
            path.unlink(missing_ok=True)


def output_paths(cfg: Config, stem: str, pages: int) -> dict[str, list[Path]]:
    """Each asked-for format's files for a document of `pages` pages (PAGE has one per page)."""
    base = cfg.output_dir / stem
    paths = {fmt: [base.with_name(base.name + suffix)] for fmt, suffix in SINGLE_FILE_SUFFIXES.items()}
    paths["page"] = page_xml_paths(base, pages)
    return {fmt: paths[fmt] for fmt in cfg.formats}


def all_outputs(cfg: Config, stem: str, pages: int) -> list[Path]:
    return [path for paths in output_paths(cfg, stem, pages).values() for path in paths]


def done_earlier(cfg: Config, file: InputFile, stem: str, settings: str) -> FileOutcome | None:
    """`file`'s outcome as a `skipped` row where it was finished with this content and these
    settings and its outputs are there, so that a re-run loads no model for it; None otherwise
    (the file's own processing says why it cannot be read)."""
    if cfg.force:
        return None
    try:
        digest = file_digest(file.path)
    except OSError:
        return None
    state = FileState(cfg.output_dir, stem, digest, settings, with_pdf="pdf" in cfg.formats)
    done = state.finished_outcome(lambda pages: all_outputs(cfg, stem, pages))
    if done is None:
        return None
    return replace(done, path=file.shown, status="skipped", reason="done earlier with the same content and settings")


TURN_MARGIN = 0.1  # a turned reading must have this share more characters likely right to win
SURE = 0.5  # a word whose confidence (the probability it is right) is above this is more likely right than not
TURNED_LEAST = 3.0  # characters likely right: a block read turned yields a short word's worth, or is a stray mark


def turn(page: PageImage, quarters: int) -> PageImage:
    """`page` turned `quarters` quarter turns clockwise from the page as scanned."""
    if quarters % 4 == page.turned % 4:
        return page
    pixels = np.ascontiguousarray(np.rot90(page.pixels, -(quarters - page.turned)))
    return replace(page, pixels=pixels, turned=quarters % 4)


def characters_inside(result: PageResult, clean: CleanPage, box: BBox) -> float:
    """`reading_score` of the characters of `result` whose centres lie in `box` of the clean page."""
    chars = [(c.bbox, w.confidence) for w in result.words for c in w.chars]
    if not chars:
        return 0.0
    centres = np.array([[(b.left + b.right) / 2, (b.top + b.bottom) / 2, 1.0] for b, _ in chars]) @ clean.to_clean.T
    inside = (
        (centres[:, 0] >= box.left)
        & (centres[:, 0] < box.right)
        & (centres[:, 1] >= box.top)
        & (centres[:, 1] < box.bottom)
    )
    return float(sum(confidence for (_, confidence), holds in zip(chars, inside) if holds))


def reading_score(result: PageResult) -> float:
    """How many of a reading's characters are likely right: each word's length times its confidence
    (the probability it is right). A page turned wrong is read as fewer lines, or as nonsense."""
    return sum(w.confidence * len(w.chars) for w in result.words if w.chars)


class DocumentProcessor:
    """Turns one input file into its outputs; holds the loaded engine and corrector."""

    def __init__(
        self,
        cfg: Config,
        engine: Engine,
        corrector: Corrector,
        settings: str,
        calibrations: Mapping[str, WordCalibration] | None = None,
        line_finder: LineFinder | None = None,
    ) -> None:
        self.cfg = cfg
        self.engine = engine
        self.line_finder = line_finder
        self.corrector = corrector
        self.settings = settings
        self.calibrations = calibrations or {}
        self.pdfa_profile = srgb_profile() if cfg.output_type == "pdfa" else None
        self._pdfa_blockers: dict[tuple[Path, str], list[str]] = {}  # a PDF input's, by its path and digest

    @property
    def models(self) -> tuple[str, ...]:
        """ "name version" of each model the reading uses: the engine's, and the line finder's."""
        return self.engine.models + ((self.line_finder.named,) if self.line_finder else ())

    def pdfa_blockers(self, file: InputFile, state: FileState) -> list[str]:
        """What keeps a PDF input's own pages out of a PDF/A output ([] without --output-type pdfa):
        its pages are then drawn from the images read, as an image input's are."""
        if self.pdfa_profile is None or not is_pdf(file):
            return []
        key = (file.path, state.input_digest)
        if key not in self._pdfa_blockers:
            self._pdfa_blockers[key] = original_problems(file.path)
        return self._pdfa_blockers[key]

    def outputs(self, stem: str, pages: int) -> dict[str, list[Path]]:
        return output_paths(self.cfg, stem, pages)

    def document_info(self, file: InputFile) -> DocumentInfo:
        return DocumentInfo.now(printable(file.path.name), f"hcrbatch {__version__}", self.models)

    def read_page(self, page: PageImage) -> PageResult:
        return self.read_upright(page)[1]

    def read_upright(self, page: PageImage) -> tuple[PageImage, PageResult]:
        """The page as read — turned upright where `--rotate-pages` finds it turned — and its reading.

        The page is read as scanned and turned half round, and also a quarter either way where
        its text lines run down the page (`line_axis`); the reading with the most characters likely
        right (`reading_score`, by the calibrated word confidence) wins, the page as scanned unless
        another has TURN_MARGIN more: a recognizer reads writing upside down as nonsense it is
        unsure of, and a page turned a quarter as a few stray lines."""
        cut = cut_short(to_gray(page.pixels))  # of the page as scanned: its image's foot
        if not self.cfg.preprocess.rotate_pages:
            return page, replace(self._read(page), cut_short=cut)
        clean = preprocess(page, self.cfg.preprocess)  # the page as scanned: its reading is one of those compared
        sideways = line_axis(clean.ink) == "columns"
        readings = [self._read(page, clean)] + [self._read(turn(page, k)) for k in ((1, 3) if sideways else (2,))]
        scores = [reading_score(r) for r in readings]
        best = int(np.argmax(scores))
        if scores[best] <= (1 + TURN_MARGIN) * scores[0]:
            best = 0
        return turn(page, readings[best].turned), replace(readings[best], cut_short=cut)

    def _read(self, page: PageImage, clean: CleanPage | None = None) -> PageResult:
        """`page` read as it is, from its preprocessed `clean` where that is at hand; its blocks of
        writing that run up or down the page (`hcrbatch.sideways`) read turned where that reads
        them better, and the page then read again without them."""
        clean = clean if clean is not None else preprocess(page, self.cfg.preprocess)
        engine_page, result = self.with_sideways(clean, page, *self.read_across(clean, page))
        stamps = engine_page.stamps_set_aside()
        return replace(
            result,
            marks_read=marks_read(clean, result, stamps),
            turned=page.turned,
            stamps=tuple(clean.to_page(box) for box in stamps),
        )

    def with_sideways(
        self, clean: CleanPage, page: PageImage, engine_page: EnginePage, across: PageResult
    ) -> tuple[EnginePage, PageResult]:
        """The page's reading `across` with its blocks of sideways writing read turned where that
        reads them better (`_read_sideways`), and the page read again without them; as it was where
        none is (or with `--no-sideways`)."""
        blocks = sideways_blocks(clean.ink) if self._reads_sideways else []
        sideways = [lines for block in blocks if (lines := self._read_sideways(clean, page, block, across))]
        if not sideways:
            return engine_page, across
        engine_page, result = self.read_across(without_blocks(clean, [block for block, _ in sideways]), page)
        return engine_page, replace(result, lines=result.lines + tuple(line for _, lines in sideways for line in lines))

    @property
    def _reads_sideways(self) -> bool:
        """Tesseract, reading the page whole, finds its own lines whichever way they run."""
        return self.cfg.segment.sideways and self.cfg.recognize.engine != "tesseract"

    def read_across(self, clean: CleanPage, page: PageImage) -> tuple[EnginePage, PageResult]:
        """The page as the engine reads it, corrected, its word confidence calibrated (the
        probability each word is right)."""
        engine_page = EnginePage(clean, page.index, page.dpi, self.cfg.segment, self.line_finder)
        result = self.corrector.correct_page(self.engine.read(engine_page))
        return engine_page, calibrate_page(result, self.calibrations, self.cfg.correct.lang)

    def _read_sideways(
        self, clean: CleanPage, page: PageImage, found: SidewaysBlock, across: PageResult
    ) -> tuple[SidewaysBlock, tuple[Line, ...]] | None:
        """The block and its lines read turned a quarter, where either turn has TURN_MARGIN more
        characters likely right (`reading_score`) than the page's reading `across` has in it, at
        least TURNED_LEAST, and a word more likely right than not; else None (it is read where it
        lies: a flourish, a stamp or a tall capital read turned is a few stray letters). A word
        `across` is sure of (more likely right than not) keeps its ink but where the evidence took
        it for sideways: a line's first or last words crowded against a note up the margin were
        taken into the note's block, but a line run into the note reads some of it as a word too."""
        sure = [w.bbox.mapped(clean.to_clean) for w in across.words if w.chars and w.confidence > SURE]
        block = leaving_out(found, sure)
        if block is None:
            return None
        best, best_score = None, max((1 + TURN_MARGIN) * characters_inside(across, clean, block.box), TURNED_LEAST)
        for quarters in (1, 3):
            _, turned = self.read_across(turned_block(clean, block, quarters), page)
            score = reading_score(turned)
            if score > best_score and any(w.confidence > SURE for w in turned.words if w.chars):
                best, best_score = tuple(replace(ln, turned=quarters) for ln in turned.lines), score
        return (block, best) if best is not None else None

    def process(self, task: Task, on_page: Callable[[], None] = lambda: None) -> FileOutcome:
        """A task's file: its outputs, or for a page task only its pages read and checkpointed. A
        bad input becomes a `failed` outcome; a failure to write the outputs (disk full,
        permissions) raises OutputNotWritableError, because it would fail every file."""
        started = time.monotonic()
        file, stem = task.file, task.stem
        rel = file.shown

        def failed(reason: str) -> FileOutcome:
            return FileOutcome(rel, "failed", reason, seconds=round(time.monotonic() - started, 3))

        try:
            if file.path.stat().st_size == 0:
                raise EmptyFileError()
            digest = file_digest(file.path)
        except InputFileError as exc:
            return failed(str(exc))
        except OSError as exc:
            return failed(f"cannot read: {exc.strerror or exc}")
        try:
            state = FileState(self.cfg.output_dir, stem, digest, self.settings, with_pdf="pdf" in self.cfg.formats)
            if task.pages is not None:
                return self._checkpoint_pages(file, state, frozenset(task.pages), on_page)
            return self._convert(file, stem, state, on_page, resume=task.gather or not self.cfg.force)
        except InputFileError as exc:
            return failed(str(exc))
        except OSError as exc:
            if exc.errno == errno.ENAMETOOLONG:  # this file's names only: the others may go on
                return failed("its output file names would be longer than the file system allows: shorten its name")
            raise OutputNotWritableError(f"cannot write the outputs of {rel} to {self.cfg.output_dir}: {exc}") from exc
        except Exception as exc:  # one bad file never stops the batch; the log keeps the traceback
            log.debug("internal error on %s", rel, exc_info=True)
            return failed(f"internal error: {type(exc).__name__}: {exc}".splitlines()[0][:300])

    def _convert(
        self, file: InputFile, stem: str, state: FileState, on_page: Callable[[], None], resume: bool
    ) -> FileOutcome:
        started = time.monotonic()  # a file done earlier never gets here: `done_earlier`, under the run's lock
        finished = state.finished_pages() if resume else {}
        for _ in finished:
            on_page()
        if finished:
            log.debug("%s: %d pages resumed from their checkpoints", file.relative, len(finished))
        finished.update(self._read_pages(file, state, finished.keys(), on_page))
        if not finished:
            raise CorruptFileError("no pages")
        order = sorted(finished)
        results = [finished[i] for i in order]
        self._write_outputs(file, stem, results, state)
        outcome = self._summary(file.shown, results, time.monotonic() - started)
        outputs = {fmt: paths[0].relative_to(self.cfg.output_dir).as_posix()
                   for fmt, paths in self.outputs(stem, len(results)).items()}  # fmt: skip
        review = {"source": str(file.path.absolute()), "outputs": outputs,
                  "pages": [page_review(r, self.cfg.low_confidence).to_dict() for r in results]}  # fmt: skip
        state.mark_done(outcome, all_outputs(self.cfg, stem, len(results)), review)
        return outcome

    def _checkpoint_pages(
        self, file: InputFile, state: FileState, pages: frozenset[int], on_page: Callable[[], None]
    ) -> FileOutcome:
        """A page task: `pages` of `file` read and checkpointed, those already checkpointed left as
        they are (unless --force); the outcome counts the pages this task holds."""
        started = time.monotonic()
        done = set() if self.cfg.force else state.finished_pages().keys() & pages
        for _ in done:
            on_page()
        read = self._read_pages(file, state, _AllBut(pages - done), on_page)
        if len(read) + len(done) < len(pages):
            raise CorruptFileError(f"page {min(pages - done - read.keys()) + 1} cannot be found")
        return FileOutcome(file.shown, "ok", pages=len(pages), seconds=round(time.monotonic() - started, 3))

    def _read_pages(
        self, file: InputFile, state: FileState, skip: Container[int], on_page: Callable[[], None]
    ) -> dict[int, PageResult]:
        """The pages of `file` not in `skip`, each read, warned about, rendered and checkpointed."""
        finished = {}
        keeps_original = is_pdf(file) and not self.pdfa_blockers(file, state)
        for page in iter_pages(file.path, self.cfg.ingest, skip=skip):
            page, result = self.read_upright(page)
            if result.cut_short:
                log.warning(
                    "%s: page %d: the last %.0f%% of its image is one flat fill (a damaged or truncated image?); check it",
                    file.relative, page.index + 1, 100 * result.cut_short,
                )  # fmt: skip
            elif is_suspect(result):
                log.warning(
                    "%s: page %d: most of its writing was not read (%.0f%% of its marks lie in lines read); check it",
                    file.relative, page.index + 1, 100 * result.marks_read,
                )  # fmt: skip
            if is_overread(result):
                log.warning(
                    "%s: page %d: read as %.1f characters per line height, more than writing holds: texture, "
                    "ruling or decoration was read as text; check it",
                    file.relative, page.index + 1, characters_per_height(result),
                )  # fmt: skip
            if "pdf" in self.cfg.formats:  # a PDF input's own page stays under its text layer (`join_pdfs`)
                write_page_pdf(
                    state.page_pdf(page.index), page, result, not keeps_original, self.pdfa_profile is not None
                )
            state.save_page(result)
            finished[page.index] = result
            on_page()
        return finished

    def _write_outputs(self, file: InputFile, stem: str, results: list[PageResult], state: FileState) -> None:
        outputs = self.outputs(stem, len(results))
        info = self.document_info(file)
        blockers = self.pdfa_blockers(file, state)
        if "pdf" in outputs and blockers:
            log.warning("%s: its PDF holds what PDF/A-2b does not allow (%s): its pages are drawn from the images "
                        "read at --dpi", file.relative, "; ".join(blockers))  # fmt: skip
        keeps_original = is_pdf(file) and not blockers
        writers = {
            "pdf": lambda paths: join_pdfs(
                [state.page_pdf(r.index) for r in results],
                paths[0],
                state.work_dir / "join",
                info,
                original=file.path if keeps_original else None,
                turns=[r.turned for r in results],
                pdfa_profile=self.pdfa_profile,
            ),  # fmt: skip
            "txt": lambda paths: write_text(paths[0], results),
            "csv": lambda paths: write_document_csv(paths[0], results, file.shown),
            "alto": lambda paths: write_alto(paths[0], results, info),
            "hocr": lambda paths: write_hocr(paths[0], results, info),
            "page": lambda paths: write_page_xml(paths, results, info),
        }
        for fmt, paths in outputs.items():
            writers[fmt](paths)

    def _summary(self, rel: str, results: list[PageResult], seconds: float) -> FileOutcome:
        words = [w for page in results for w in page.words]
        return FileOutcome(
            path=rel,
            status="ok",
            pages=len(results),
            words=len(words),
            chars=sum(len(w.chars) for w in words),
            mean_confidence=round(sum(w.confidence for w in words) / len(words), 4) if words else None,
            low_confidence_words=sum(w.confidence < self.cfg.low_confidence for w in words),
            suspect_pages=";".join(str(page.index + 1) for page in results if is_suspect(page)),
            overread_pages=";".join(str(page.index + 1) for page in results if is_overread(page)),
            seconds=round(seconds, 3),
        )


def check_options(cfg: Config) -> None:
    """Everything that would fail every file is checked once, before the first file."""
    if not cfg.input_dir.is_dir():
        raise ConfigError(f"input folder not found: {cfg.input_dir}")
    if cfg.input_dir.resolve().is_relative_to(cfg.output_dir.resolve()):
        raise ConfigError(
            f"the output folder {cfg.output_dir} is, or holds, the input folder {cfg.input_dir}: "
            "outputs would mix with the scans; choose an output folder outside the input folder"
        )
    if cfg.workers < 1:
        raise ConfigError("--workers must be at least 1")
    if cfg.threads < 1:
        raise ConfigError("--threads must be at least 1")
    if cfg.threads > 1 and (cfg.workers > 1 or cfg.executor != "local"):
        raise ConfigError("--threads reads several pages in one process: use it with --workers 1 (--executor local)")
    if cfg.executor == "dask" and not cfg.scheduler:
        raise ConfigError("--executor dask needs --scheduler ADDRESS (the address `dask scheduler` prints)")
    if not 0.0 <= cfg.low_confidence <= 1.0:
        raise ConfigError("--low-confidence must be between 0 and 1")
    missing = [tool for tool in POPPLER_TOOLS if shutil.which(tool) is None]
    if missing:
        raise ConfigError(f"{', '.join(missing)} not found: install poppler-utils (apt-get install poppler-utils)")
    try:
        (cfg.output_dir / STATE_DIR).mkdir(parents=True, exist_ok=True)
        atomic_write_text(cfg.output_dir / STATE_DIR / "writable", "ok\n")
    except OSError as exc:
        raise OutputNotWritableError(f"output folder not writable: {cfg.output_dir} ({exc.strerror})") from exc
    if cfg.output_type == "pdfa":
        srgb_profile()
    check_language(cfg.correct.lang)
    share, letters = letters_beyond_alphabet(cfg.recognize, cfg.correct.lang)
    if share >= UNREADABLE_LETTERS:
        log.warning("--lang %s: %.0f%% of its letters (%s…) are not in the models' alphabet and cannot be read",
                    cfg.correct.lang, 100 * share, letters)  # fmt: skip
    make_corrector(cfg.correct)


UNREADABLE_LETTERS = 0.05  # the share of a language's letters the models lack from which a run warns


def build_processor(cfg: Config, settings: str, threads: int = 0) -> DocumentProcessor:
    engine = make_engine(cfg.recognize, cfg.correct.lang, threads)
    calibrations = word_calibrations(cfg.recognize, cfg.correct.lang)
    finder = page_line_finder(cfg)
    return DocumentProcessor(cfg, engine, make_corrector(cfg.correct), settings, calibrations, finder)


_worker: DocumentProcessor | Exception | None = None  # one per worker process, built by _init_worker
_worker_busy = False


def _stderr_format() -> str:
    """How the parent's stderr lines look, for its workers' warnings to look the same."""
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler) and handler.stream is sys.stderr and handler.formatter:
            return handler.formatter._fmt or ""
    return "hcrbatch: %(levelname)s: %(message)s"


def _init_worker(cfg: Config, settings: str, threads: int, log_format: str) -> None:
    """Load the model once per worker. A failure is kept and raised by the first task, so that it
    reaches the parent as the error it is rather than as a broken pool."""
    global _worker
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides how a Ctrl-C ends the batch
    signal.signal(signal.SIGTERM, _raise_interrupt)  # so atomic writes clean up their temp files
    stderr = logging.StreamHandler(sys.stderr)
    stderr.setFormatter(logging.Formatter(log_format))
    stderr.addFilter(not_library_advice)
    logging.getLogger().handlers[:] = [stderr]
    logging.getLogger().setLevel(logging.WARNING)  # a page's warnings; the parent reports each file
    logging.captureWarnings(True)  # libraries' own warnings about a file are not lines of their own
    logging.getLogger("py.warnings").setLevel(logging.ERROR)
    try:
        _worker = build_processor(cfg, settings, threads)
    except Exception as exc:
        _worker = exc


def _raise_interrupt(signum, frame) -> None:
    """SIGTERM from the parent: unwind a file in progress (temp files removed), else just leave."""
    if _worker_busy:
        raise KeyboardInterrupt
    os._exit(0)


def _process_in_worker(task: Task) -> FileOutcome:
    global _worker_busy
    if isinstance(_worker, Exception):
        raise _worker
    assert _worker is not None
    _worker_busy = True
    try:
        return _worker.process(task)
    except KeyboardInterrupt:
        os._exit(ExitCode.INTERRUPTED)  # cleanup already ran while unwinding; the parent reports
    finally:
        _worker_busy = False


class TaskLedger:
    """The parent's account of a batch's tasks, whichever executor runs them: a document read as
    page tasks becomes one report row (its first failure, or its gathering's outcome, whose seconds
    are those of all its tasks), and is gathered once all its pages are read."""

    def __init__(self, tasks: list[Task], record: Callable[[FileOutcome], bool], pages_done: Callable[[int], object]):
        self.parts = Counter(task.file for task in tasks if task.pages is not None)
        self.seconds: Counter[InputFile] = Counter()  # what a document's page tasks took, for its row
        self.failed: set[InputFile] = set()
        self.record = record  # notes a file's row; False when the batch must stop
        self.pages_done = pages_done

    def on_result(self, task: Task, outcome: FileOutcome) -> bool:
        if task.pages is None:
            if not task.gather and outcome.status == "ok":  # a gathering's pages were counted as read
                self.pages_done(outcome.pages)
            read = self.seconds.pop(task.file, 0.0) if task.gather else 0.0
            return self.record(replace(outcome, seconds=round(outcome.seconds + read, 3)))
        self.parts[task.file] -= 1
        self.seconds[task.file] += outcome.seconds
        if outcome.status == "ok":
            self.pages_done(outcome.pages)
            return True
        if task.file in self.failed:  # one row a file: its first failure
            return True
        self.failed.add(task.file)
        return self.record(outcome)

    def then(self, task: Task, outcome: FileOutcome) -> list[Task]:
        """The gathering of a document whose last page task has just finished, all its pages read."""
        if task.pages is None or self.parts[task.file] or task.file in self.failed:
            return []
        return [Task(task.file, task.stem, gather=True)]

    def on_crash(self, task: Task) -> FileOutcome:
        where = "this file"
        if task.pages:
            first, last = task.pages[0] + 1, task.pages[-1] + 1
            where = f"page {first} of this file" if first == last else f"pages {first} to {last} of this file"
        reason = f"the worker process died on {where} (out of memory?); run it alone or with --workers 1"
        return FileOutcome(task.file.shown, "failed", reason)


_cluster_worker: tuple[tuple, DocumentProcessor] | None = None  # a dask worker process's, built by its first task
_cluster_worker_lock = threading.Lock()


def _process_on_cluster(cfg: Config, settings: str, threads_by_host: Mapping[str, int], task: Task) -> FileOutcome:
    """A task on a dask worker. Its processor is built on the worker's first task of a run and kept
    for the next (one at a time: a worker started with several threads runs hcrbatch's tasks in turn)."""
    global _cluster_worker
    with _cluster_worker_lock:
        key = (cfg, settings)
        if _cluster_worker is None or _cluster_worker[0] != key:
            os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
            os.environ["KERAS_BACKEND"] = "tensorflow"  # as the CLI sets it: the models run as TensorFlow functions
            if "keras" in sys.modules and sys.modules["keras"].backend.backend() != "tensorflow":
                raise ConfigError("this dask worker already runs Keras on another backend: start it with "
                                  "KERAS_BACKEND=tensorflow")  # fmt: skip
            _cluster_worker = None  # the last run's models go before this run's load
            _cluster_worker = (key, build_processor(cfg, settings, threads_by_host.get(worker_host(), 0)))
        return _cluster_worker[1].process(task)


def run_batch(cfg: Config) -> BatchResult:
    check_options(cfg)
    settings = cfg.settings_digest(engine_digest(cfg.recognize, cfg.correct.lang) + line_finder_digest(cfg))
    lock = FileLock(str(cfg.output_dir / STATE_DIR / "lock"))
    try:
        lock.acquire(timeout=0)
    except Timeout as exc:
        raise OutputLockedError(f"another hcrbatch run is writing {cfg.output_dir} (lock {lock.lock_file})") from exc
    try:
        remove_stale_partials(cfg.output_dir, cfg.input_dir)
        left_out: list[tuple[str, str]] = []
        files = discover(cfg.input_dir, cfg.glob, cfg.recursive, exclude=cfg.output_dir, left_out=left_out)
        log.info("%d input files under %s", len(files), cfg.input_dir)
        return _run_files(cfg, files, settings, [FileOutcome(path, "skipped", reason) for path, reason in left_out])
    finally:
        lock.release()


def _page_total(files: list[InputFile]) -> int:
    total = 0
    for f in files:
        try:
            total += count_pages(f.path)
        except Exception:  # the file's own run reports why it cannot be read
            continue
    return total


def _run_tasks(
    cfg: Config,
    settings: str,
    files: list[InputFile],
    stems: Mapping[InputFile, str],
    record: Callable[[FileOutcome], bool],
    pages_done: Callable[[int], object],
) -> None:
    """`files` read on the executor `cfg` names, each file's row `record`ed as it finishes."""
    if not files:
        return
    if cfg.executor == "dask":
        with Cluster(cfg.scheduler, [cfg.input_dir, cfg.output_dir], cfg.output_dir / STATE_DIR) as cluster:
            tasks = plan_tasks(files, stems, cluster.slots)
            ledger = TaskLedger(tasks, record, pages_done)
            task = partial(_process_on_cluster, cfg, settings, cluster.threads_by_host())
            cluster.run(tasks, task, ledger.on_result, ledger.on_crash, ledger.then)
        return
    if cfg.threads > 1:  # one process, several pages at once, its models shared
        processor = build_processor(cfg, settings)
        tasks = plan_tasks(files, stems, cfg.threads)
        ledger = TaskLedger(tasks, record, pages_done)
        run_threaded(tasks, processor.process, cfg.threads, ledger.on_result, ledger.then)
        return
    tasks = plan_tasks(files, stems, cfg.workers)
    workers = min(cfg.workers, len(tasks))
    if workers <= 1:
        processor = build_processor(cfg, settings)
        for task in tasks:
            if not record(processor.process(task, on_page=lambda: pages_done(1))):
                return
        return
    ledger = TaskLedger(tasks, record, pages_done)
    threads = max(1, (os.cpu_count() or 1) // workers)
    run_parallel(
        tasks,
        _process_in_worker,
        workers,
        _init_worker,
        (cfg, settings, threads, _stderr_format()),
        ledger.on_result,
        ledger.on_crash,
        ledger.then,
    )


def _run_files(cfg: Config, files: list[InputFile], settings: str, left_out: list[FileOutcome]) -> BatchResult:
    """Each file read (or skipped as done earlier), with the inputs discovery `left_out` as rows of
    their own; the batch report and the review page written."""
    stems = output_stems(files)
    outcomes: list[FileOutcome] = list(left_out)
    report = cfg.output_dir / REPORT_NAME
    earlier = read_batch_report(report)
    file_bar = tqdm(total=len(files), unit="file", desc="files", disable=not cfg.progress, position=0)
    page_bar = tqdm(total=_page_total(files) if cfg.progress else 0, unit="page", desc="pages",
                    disable=not cfg.progress, position=1)  # fmt: skip
    last_report = time.monotonic()

    def record(outcome: FileOutcome) -> bool:
        """Note one finished file; return False when the batch must stop (fail-fast)."""
        nonlocal last_report
        outcomes.append(outcome)
        file_bar.update(1)
        level = logging.WARNING if outcome.status == "failed" else logging.INFO
        log.log(level, "%s: %s%s", outcome.path, outcome.status, f" ({outcome.reason})" if outcome.reason else "")
        if time.monotonic() - last_report > REPORT_EVERY_SECONDS:
            write_batch_report(report, outcomes, earlier)
            last_report = time.monotonic()
        return not (cfg.fail_fast and outcome.status == "failed")

    left = []  # the files not done earlier: only these need a model
    for file in files:
        done = done_earlier(cfg, file, stems[file], settings)
        if done is None:
            left.append(file)
        else:
            record(done)
            page_bar.update(done.pages)
    try:
        _run_tasks(cfg, settings, left, stems, record, page_bar.update)
    finally:
        file_bar.close()
        page_bar.close()
        rows = write_batch_report(report, outcomes, earlier)
    if left or not review_is_current(cfg.output_dir, cfg.output_dir / STATE_DIR):
        write_review(cfg.output_dir, cfg.output_dir / STATE_DIR, rows, cfg.ingest, cfg.low_confidence)
    return BatchResult(tuple(sorted(outcomes, key=lambda o: o.path)))

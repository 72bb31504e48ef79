"""The public API: the pipeline as a script, a notebook or a benchmark calls it, so that none of them
writes preprocess → segment → recognize → correct out again.

    from pathlib import Path
    import hcrbatch

    reader = hcrbatch.Reader()                        # the models `hcrbatch run` reads with, loaded once
    for page in reader.read_file(Path("letter.pdf")):
        print(page.text)                              # a PageResult: lines, words, boxes, confidences
    hcrbatch.run_batch(hcrbatch.Config(Path("scans"), Path("out")))   # what `hcrbatch run` does
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from hcrbatch.config import DEFAULT_MODELS_DIR, Config, PreprocessConfig, SegmentConfig
from hcrbatch.elements import CleanPage, PageImage, PageResult, Segmentation
from hcrbatch.ingest import iter_pages
from hcrbatch.linefinder import load_line_finder
from hcrbatch.pipeline import BatchResult, build_processor, run_batch
from hcrbatch.preprocess import preprocess
from hcrbatch.segment import segment

__all__ = ["BatchResult", "Config", "PageResult", "Reader", "run_batch", "segment_page"]


def segment_page(
    page: PageImage,
    preprocess_cfg: PreprocessConfig | None = None,
    segment_cfg: SegmentConfig | None = None,
    models_dir: Path = DEFAULT_MODELS_DIR,
) -> tuple[CleanPage, Segmentation]:
    """A page cleaned and cut into lines, words and glyphs as `hcrbatch run` does it (its defaults
    unless told otherwise, its line finder from `models_dir`); the segmentation's boxes are in
    the cleaned page's frame (`CleanPage.to_page` maps them back)."""
    segment_cfg = segment_cfg or SegmentConfig()
    clean = preprocess(page, preprocess_cfg or PreprocessConfig())
    return clean, segment(clean, segment_cfg, load_line_finder(models_dir, segment_cfg.line_finder))


class Reader:
    """Pages read as `hcrbatch run` reads them, with the engine, models and corrector of `cfg`
    (its input and output folders are not used), loaded once."""

    def __init__(self, cfg: Config | None = None, threads: int = 0) -> None:
        self.cfg = cfg or Config(Path("."), Path("."))
        self._processor = build_processor(self.cfg, settings="", threads=threads)

    @property
    def models(self) -> tuple[str, ...]:
        """ "name version" of each model the reading uses."""
        return self._processor.models

    def read_page(self, page: PageImage) -> PageResult:
        return self._processor.read_page(page)

    def read_upright(self, page: PageImage) -> tuple[PageImage, PageResult]:
        """The page as read (turned upright where `--rotate-pages` is on and finds it turned) and its reading."""
        return self._processor.read_upright(page)

    def read_file(self, path: Path) -> Iterator[PageResult]:
        """Each page of an image or PDF file, read in turn (one page in memory at a time)."""
        for page in iter_pages(Path(path), self.cfg.ingest):
            yield self.read_page(page)

"""The learned line density: where each line's own writing lies, as a small network reads the page.

The ridge rules (`segment._line_density`) blur all the page's writing along the line, so that ink
between two lines (an interlinear word, a loop run into the line below, show-through the cleaning
kept) pulls their ridges together or makes a ridge of its own. The network was trained on the
transcribed pages' own lines to give, for each line apart, that blurred density of its ink alone,
and nothing where no transcribed line is; the ridges are then found on its map as on the blur.
It reads the page at a fixed letter height, so it holds at any resolution.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import cv2
import numpy as np

from hcrbatch.config import Config, SegmentConfig
from hcrbatch.engines import engine_spec
from hcrbatch.modelstore import (
    LINE_FINDER,
    ModelManifest,
    import_tensorflow,
    load_keras_model,
    load_manifest,
    manifest_path,
)

DEFAULT_NAME = SegmentConfig.line_finder
NO_FINDER = "rules"  # the name that asks for the ridge rules alone
INPUT_MULTIPLE = 4  # the network halves the page twice: its input is padded to a multiple of this
TILE = 1536  # pixels a side, at the network's scale: a larger page is read in tiles (`LineFinder._in_tiles`)
TILE_MARGIN = 192  # ... overlapping by more than the network reaches (about 150 pixels along a line, 40 across)
PLANES = ("writing", "ink", "gray")  # what the network may be shown of a page (`finder_input`)


def finder_input(
    planes: tuple[str, ...], writing: np.ndarray, ink: np.ndarray, gray: np.ndarray, height: float, letter_height: float
) -> np.ndarray:
    """The network's view of a page, scaled so that its letters are `letter_height` pixels high:
    for each of `planes`, the share of each pixel that is writing (`writing`, 0/1: the ink of
    letters, rulings and frames left out), that is ink (`ink`, non-zero), or how dark the page is
    there (`gray`, uint8, paper light: faint ink the binarisation lost); float32, rows x columns x planes."""
    scale = letter_height / height
    size = (max(1, round(writing.shape[1] * scale)), max(1, round(writing.shape[0] * scale)))
    images = {
        "writing": lambda: writing.astype(np.float32),
        "ink": lambda: (ink > 0).astype(np.float32),
        "gray": lambda: 1.0 - gray.astype(np.float32) / 255.0,
    }
    return np.stack([cv2.resize(images[p](), size, interpolation=cv2.INTER_AREA) for p in planes], -1)


class LineFinder:
    """A trained finder (`hcrbatch train-line-finder`) and the settings its manifest keeps."""

    def __init__(self, manifest: ModelManifest) -> None:
        tf = import_tensorflow()

        self.manifest = manifest
        self.letter_height = float(manifest.extra["letter_height"])
        self.floor = float(manifest.extra["floor"])  # how sure of a line the network must be
        self.planes = tuple(manifest.extra["planes"])
        self.joined_ink = float(manifest.extra["joined_ink"])  # the least share of joined-up ink of a page it reads
        self.model = load_keras_model(manifest)
        spec = tf.TensorSpec([1, None, None, len(self.planes)], tf.float32)  # one trace for every page size
        self._predict = tf.function(lambda x: self.model(x, training=False), input_signature=[spec])

    def density(
        self, writing: np.ndarray, ink: np.ndarray, gray: np.ndarray, height: float, tile: int = TILE
    ) -> np.ndarray:
        """The lines' density at the page's size, nought where the network is less sure of a line
        than its manifest's floor."""
        view = finder_input(self.planes, writing, ink, gray, height, self.letter_height)
        found = self._in_tiles(view, tile)
        found = np.where(found >= self.floor, found, 0).astype(np.float32)
        return cv2.resize(found, (writing.shape[1], writing.shape[0]), interpolation=cv2.INTER_LINEAR)

    def _in_tiles(self, view: np.ndarray, tile: int) -> np.ndarray:
        """The network's density of `view`, read in tiles of at most `tile` pixels a side that
        overlap by TILE_MARGIN, each keeping its middle: the network's memory grows with what it
        reads at once (a 33-megapixel spread of small writing, read whole, took 24 GiB), and a
        pixel's density depends only on what lies within its reach, so tiles read as the whole."""
        rows, cols = view.shape[:2]
        found = np.zeros((rows, cols), np.float32)
        for top, bottom, upper, lower in _tiles(rows, tile):
            for left, right, first, last in _tiles(cols, tile):
                part = view[upper:lower, first:last]
                height, width = part.shape[:2]
                padded = np.pad(part, ((0, -height % INPUT_MULTIPLE), (0, -width % INPUT_MULTIPLE), (0, 0)))
                density = self._predict(padded[None]).numpy()[0]
                found[top:bottom, left:right] = density[top - upper : bottom - upper, left - first : right - first, 0]
        return found

    @property
    def named(self) -> str:
        """ "name version", for the outputs' provenance."""
        return f"{self.manifest.name} {self.manifest.version}"


def finder_manifest(models_dir: Path, name: str) -> ModelManifest | None:
    """The manifest of the line finder `name`; None for NO_FINDER, and for the default finder where
    a models folder has none (a folder of one's own models: its pages are found by the ridge
    rules, as before the finder was shipped). A finder asked for by name must be there."""
    if name == NO_FINDER or (name == DEFAULT_NAME and not manifest_path(Path(models_dir), name).is_file()):
        return None
    return load_manifest(Path(models_dir), name, LINE_FINDER)


def _tiles(length: int, tile: int) -> list[tuple[int, int, int, int]]:
    """Along one side of `length` pixels: (start, end) of each tile's middle, then of the tile read
    for it (TILE_MARGIN more each side, within the side, starting at a multiple of INPUT_MULTIPLE
    so that the network halves it as it halves the whole); the whole side where it fits in `tile`."""
    if length <= tile:
        return [(0, length, 0, length)]
    step = tile - 2 * TILE_MARGIN
    return [
        (start, min(start + step, length), max(0, start - TILE_MARGIN), min(length, start + step + TILE_MARGIN))
        for start in range(0, length, step)
    ]


@functools.lru_cache(maxsize=4)
def load_line_finder(models_dir: Path, name: str = DEFAULT_NAME) -> LineFinder | None:
    """The line finder `name` in `models_dir` (`finder_manifest`), loaded once per process."""
    manifest = finder_manifest(models_dir, name)
    return None if manifest is None else LineFinder(manifest)


def page_line_finder(cfg: Config) -> LineFinder | None:
    """The line finder a run of `cfg` segments its pages with (None: the ridge rules, or an engine
    that segments no page)."""
    if not engine_spec(cfg.recognize).segments:
        return None
    return load_line_finder(cfg.recognize.models_dir, cfg.segment.line_finder)


def line_finder_digest(cfg: Config) -> str:
    """Content hash of the line finder `cfg` reads with and of its manifest's settings ("" for none),
    so that a retrained finder redoes earlier outputs."""
    segments = engine_spec(cfg.recognize).segments
    manifest = finder_manifest(cfg.recognize.models_dir, cfg.segment.line_finder) if segments else None
    if manifest is None:
        return ""
    settings = {key: manifest.extra.get(key) for key in ("letter_height", "floor", "planes", "joined_ink")}
    return manifest.digest() + json.dumps(settings, sort_keys=True)

"""Readers for labelled character images: EMNIST gzip IDX files, labelled folders, font renderings.

Every reader returns a `GlyphSet` of images already passed through `normalise_glyph`, so the
network trains on exactly what inference feeds it.
"""

from __future__ import annotations

import gzip
import logging
import struct
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from hcrbatch.errors import ConfigError
from hcrbatch.glyphs import INPUT_SIZE, normalise_glyph

log = logging.getLogger(__name__)

# EMNIST Balanced merges these lowercase letters into their capitals; their labels are case-blind.
BALANCED_MERGED = set("cijklmopsuvwxyz")


def class_shares(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each class of `labels` and its share of them: what class-mix pages draw from and what the
    manifest's priors are ratios of."""
    classes, counts = np.unique(labels, return_counts=True)
    return classes, counts / counts.sum()


@dataclass(frozen=True)
class GlyphSet:
    images: np.ndarray  # N×28×28 float32 in [0, 1]
    labels: np.ndarray  # N object array of one-character strings
    source: str

    def __len__(self) -> int:
        return len(self.labels)

    @staticmethod
    def concat(parts: list[GlyphSet], source: str) -> GlyphSet:
        parts = [p for p in parts if len(p)]
        if not parts:
            return GlyphSet(np.zeros((0, INPUT_SIZE, INPUT_SIZE), np.float32), np.array([], object), source)
        return GlyphSet(np.concatenate([p.images for p in parts]), np.concatenate([p.labels for p in parts]), source)

    def take(self, index: np.ndarray) -> GlyphSet:
        return GlyphSet(self.images[index], self.labels[index], self.source)


def read_idx(path: Path) -> np.ndarray:
    """Read a (gzip) IDX file: magic 2051 gives N×rows×cols uint8, 2049 gives N uint8 labels."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rb") as fh:
        data = fh.read()
    magic, count = struct.unpack(">II", data[:8])
    if magic == 2051:
        rows, cols = struct.unpack(">II", data[8:16])
        return np.frombuffer(data, np.uint8, offset=16).reshape(count, rows, cols)
    if magic == 2049:
        return np.frombuffer(data, np.uint8, offset=8)[:count]
    raise ConfigError(f"{path}: not an IDX file (magic {magic})")


def read_mapping(path: Path) -> dict[int, str]:
    mapping = {}
    for line in path.read_text().split("\n"):
        if line.strip():
            index, code = line.split()
            mapping[int(index)] = chr(int(code))
    return mapping


def emnist_splits(folder: Path) -> list[str]:
    """Names of the EMNIST splits in a folder, e.g. `emnist-byclass-testA`."""
    return sorted(p.name[: -len("-images-idx3-ubyte.gz")] for p in folder.glob("*-images-idx3-ubyte.gz"))


def read_emnist_split(folder: Path, split: str, transposed: bool = False) -> GlyphSet:
    """One EMNIST split; `transposed` for NIST's original files, which store images column-major."""
    if "-letters-" in split:
        log.info("%s: skipped (EMNIST Letters merges case, so it cannot teach a 62-class model)", split)
        return GlyphSet.concat([], split)
    images = read_idx(folder / f"{split}-images-idx3-ubyte.gz")
    labels = read_idx(folder / f"{split}-labels-idx1-ubyte.gz")
    mapping = read_mapping(folder / f"{split}-mapping.txt")
    if transposed:
        images = images.transpose(0, 2, 1)
    chars = np.array([mapping[int(i)] for i in labels], dtype=object)
    if "-balanced-" in split:
        keep = np.array([c.lower() not in BALANCED_MERGED or c.islower() for c in chars])
    else:
        keep = np.ones(len(chars), bool)
    normalised = np.stack([normalise_glyph(img) for img in images[keep]]) if keep.any() else images[:0]
    log.info("%s: %d of %d rows used", split, int(keep.sum()), len(chars))
    return GlyphSet(normalised.astype(np.float32), chars[keep], split)


def decode_label(folder_name: str) -> str:
    """A class folder is named by its character, or `U+002F` style for characters unsafe in paths."""
    if folder_name.upper().startswith("U+"):
        return chr(int(folder_name[2:], 16))
    if len(folder_name) != 1:
        raise ConfigError(f"class folder {folder_name!r} must be one character or U+XXXX")
    return folder_name


def encode_label(char: str) -> str:
    return char if char.isalnum() else f"U+{ord(char):04X}"


def read_labelled_folder(folder: Path) -> GlyphSet:
    """Images under `folder/<label>/*.png`, dark ink on light paper or the reverse (detected)."""
    images, labels = [], []
    for class_dir in sorted(p for p in folder.iterdir() if p.is_dir()):
        label = decode_label(class_dir.name)
        for file in sorted(class_dir.glob("*.png")):
            gray = cv2.imread(str(file), cv2.IMREAD_GRAYSCALE)
            if gray is None:
                log.warning("skipping unreadable %s", file)
                continue
            if np.median(gray) > 127:  # light background: make ink white, as EMNIST
                gray = 255 - gray
            images.append(normalise_glyph(gray))
            labels.append(label)
    if not images:
        raise ConfigError(f"{folder}: no labelled images (expected {folder}/<label>/*.png)")
    return GlyphSet(np.stack(images), np.array(labels, dtype=object), str(folder))


def held_out_split(n: int, seed: int, fraction: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """Seeded shuffle of row numbers; the first `fraction` is the test set. Returns (train, test)."""
    order = np.random.default_rng(seed).permutation(n)
    n_test = int(round(n * fraction))
    return np.sort(order[n_test:]), np.sort(order[:n_test])

"""The character trainers' glyphs: EMNIST splits, labelled folders, page glyphs and font renderings,
with the rows held out for testing (used by the character CNN and the GAN alike)."""

from __future__ import annotations

import string
from pathlib import Path

import numpy as np

from hcrbatch.config import TrainConfig
from hcrbatch.errors import ConfigError
from hcrbatch.train.datasets import GlyphSet, emnist_splits, held_out_split, read_emnist_split, read_labelled_folder
from hcrbatch.train.fonts import render_font_glyphs
from hcrbatch.train.pageglyphs import page_glyphs

BASE_CHARSET = string.digits + string.ascii_uppercase + string.ascii_lowercase


def add_source(train: GlyphSet, extra: GlyphSet, origins: dict[str, set[str]], source: str) -> GlyphSet:
    """`train` with `extra` appended, each of its classes noted as coming (also) from `source`."""
    for c in set(extra.labels):
        origins.setdefault(c, set()).add(source)
    return GlyphSet.concat([train, extra], "train")


def load_training_data(cfg: TrainConfig) -> tuple[GlyphSet, GlyphSet, list[str], dict[str, set[str]]]:
    """Return (train, test, description of the data, where each class came from).
    Only ByClass rows are held out when present."""
    train_parts, test_parts, described = [], [], []
    origins: dict[str, set[str]] = {}
    labelled = []
    for folder in cfg.data:
        folder = Path(folder)
        if not folder.is_dir():
            raise ConfigError(f"--data {folder}: not a folder")
        splits = emnist_splits(folder)
        if not splits:
            labelled.append(read_labelled_folder(folder))
            described.append(f"labelled folder {folder.name}")
            for c in set(labelled[-1].labels):
                origins.setdefault(c, set()).add("labelled images")
            continue
        for split in splits:
            part = read_emnist_split(folder, split, cfg.transposed)
            for c in set(part.labels):
                origins.setdefault(c, set()).add("EMNIST")
            if "byclass" in split:
                train_idx, test_idx = held_out_split(len(part), cfg.split_seed, cfg.test_fraction)
                train_parts.append(part.take(train_idx))
                test_parts.append(part.take(test_idx))
                described.append(
                    f"{split}: {len(train_idx)} train / {len(test_idx)} held-out rows "
                    f"(seeded shuffle, seed {cfg.split_seed}, {cfg.test_fraction:.0%} test)"
                )
            else:
                train_parts.append(part)
                described.append(f"{split}: {len(part)} train rows")
    if labelled:
        joined = GlyphSet.concat(labelled, "labelled")
        if test_parts:
            train_parts.append(joined)
        else:
            train_idx, test_idx = held_out_split(len(joined), cfg.split_seed, cfg.test_fraction)
            train_parts.append(joined.take(train_idx))
            test_parts.append(joined.take(test_idx))
    train = GlyphSet.concat(train_parts, "train")
    if cfg.limit and len(train) > cfg.limit:
        train = train.take(np.random.default_rng(cfg.seed).permutation(len(train))[: cfg.limit])
    if cfg.page_glyphs:
        cut = page_glyphs(train, cfg.page_glyphs, cfg.seed, cfg.page_glyph_text)
        train = add_source(train, cut, origins, "page glyphs")
        described.append(
            f"page glyphs: {len(cut)} glyphs cut by the segmenter from {cfg.page_glyphs} pages written with the "
            f"training rows above ({cfg.page_glyph_text} text)"
        )
    if cfg.font_samples:
        wanted = "".join(sorted(set(train.labels) | set(BASE_CHARSET))) + cfg.punctuation
        fonts = render_font_glyphs(wanted, cfg.font_samples, cfg.seed)
        if len(fonts):
            train = add_source(train, fonts, origins, "handwriting fonts")
            described.append(f"{fonts.source}: {cfg.font_samples} renderings per class")
    return train, GlyphSet.concat(test_parts, "test"), described, origins


def describe_sources(origins: dict[str, set[str]], charset: str) -> dict[str, str]:
    return {c: " + ".join(sorted(origins.get(c, ()))) for c in charset}


def ordered_charset(labels: set[str]) -> str:
    """Digits, capitals, small letters, then any other character by code point."""
    known = [c for c in BASE_CHARSET if c in labels]
    return "".join(known + sorted(labels - set(BASE_CHARSET)))

"""`hcrbatch train-charlm`: a character language model for the line engine, from transcriptions.

The text is the transcribed lines of page folders (PAGE or ALTO beside the images) or line folders
(`labels.tsv`). The pages the line model holds out (its manifest's `held_out_pages`) are left out
here too, so that neither model has seen the pages the figures are measured on; their text gives the
model's held-out perplexity instead.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import unicodedata
from dataclasses import asdict
from pathlib import Path

from hcrbatch.atomic import atomic_path
from hcrbatch.charlm import kneser_ney, line_log_prob, line_tokens, write_arpa
from hcrbatch.config import CharLmTrainConfig, Config
from hcrbatch.ctcdecode import LmSearch
from hcrbatch.errors import ConfigError
from hcrbatch.evalpages import transcribed_images
from hcrbatch.metrics import normalise_text
from hcrbatch.modelstore import CHARACTER_LM, load_manifest, model_version, refuse_to_replace, write_manifest
from hcrbatch.train.linedata import label_rows

log = logging.getLogger(__name__)


def transcribed_texts(folder: Path) -> list[tuple[str, str]]:
    """(page name, text) of every transcribed line under `folder`: page images with PAGE or ALTO,
    or a line folder's labels.tsv (its page: the file name before its last "_"). NFC, whitespace
    collapsed, as the line model is trained."""
    folder = Path(folder)
    rows = []
    if (folder / "labels.tsv").is_file():
        rows = [(Path(name).stem.rsplit("_", 1)[0], text) for name, text in label_rows(folder)]
    else:
        for file, gt in transcribed_images(Config(folder, folder)):
            rows += [(file.path.stem, line.text) for line in gt.lines]
    texts = [(page, unicodedata.normalize("NFC", normalise_text(text))) for page, text in rows]
    return [(page, text) for page, text in texts if text]


def bits_per_character(lines: list[str], probs, weights) -> float:
    """Cross-entropy of the model on `lines`, in bits per character (the line end counted as one)."""
    log_prob = sum(line_log_prob(text, probs, weights) for text in lines)
    return -log_prob / math.log(2) / max(1, sum(len(line_tokens(text)) + 1 for text in lines))


def train_char_lm(cfg: CharLmTrainConfig) -> Path:
    """Count, smooth and write `<name>.arpa.gz` and its manifest; returns the manifest's path."""
    refuse_to_replace(cfg.models_dir, cfg.name, cfg.overwrite)
    held = set(cfg.exclude)
    if cfg.line_model:
        held |= {p.rsplit("/", 1)[-1] for p in load_manifest(cfg.models_dir, cfg.line_model).extra["held_out_pages"]}
    train, test, described, seen = [], [], [], set()
    for folder in cfg.data:
        rows = transcribed_texts(folder)
        seen |= {page for page, _ in rows}
        kept = [text for page, text in rows if page not in held]
        train += kept
        test += [text for page, text in rows if page in held]
        described.append(
            f"{Path(folder).name}: {len(kept)} lines of {len({p for p, _ in rows if p not in held})} pages"
        )
    if not train:
        raise ConfigError("no transcribed lines left to train a character language model on")
    log.info("character language model: %d training lines, %d held-out lines", len(train), len(test))
    probs, weights = kneser_ney(train, cfg.order, cfg.min_count)
    weights_path = Path(cfg.models_dir) / f"{cfg.name}.arpa.gz"
    with atomic_path(weights_path, suffix=".arpa.gz") as tmp:
        write_arpa(tmp, probs, weights)
    vocabulary = sorted({c for text in train for c in text})
    manifest = {
        "name": cfg.name,
        "version": model_version(),
        "task": CHARACTER_LM,
        "kind": f"interpolated Kneser-Ney character {cfg.order}-gram (hcrbatch.charlm), ARPA",
        "weights": weights_path.name,
        "charset": "".join(vocabulary),
        "input_size": [],
        "normalisation": "NFC, whitespace collapsed to one space, case kept; a line is a sentence",
        "order": cfg.order,
        "min_count": cfg.min_count,
        "ngrams": [len(level) for level in probs[1:]],
        "training_data": described,
        "held_out_pages": sorted(held & seen),
        "search": asdict(LmSearch()),  # until benchmarks/char_lm.py --write tunes it
        "metrics": {
            "held_out_lines": len(test),
            "bits_per_character": round(bits_per_character(test, probs, weights), 3) if test else None,
        },
        "date": dt.date.today().isoformat(),
    }
    return write_manifest(cfg.models_dir, manifest)


def with_search(manifest_file: Path, search: LmSearch) -> Path:
    """Rewrite a language model's manifest with tuned search settings."""
    raw = json.loads(Path(manifest_file).read_text(encoding="utf-8"))
    raw["search"] = asdict(search)
    return write_manifest(Path(manifest_file).parent, raw)

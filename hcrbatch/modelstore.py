"""Models live in `models/` as `<name>.keras` plus a `<name>.json` manifest; this is the one loader."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hcrbatch.config import CharPrior
from hcrbatch.errors import ConfigError, ModelError

REQUIRED_KEYS = ("name", "version", "charset", "input_size", "normalisation", "training_data", "metrics")
# what a model is for: its manifest's "task", which decides the loader that may take it
GLYPH_CLASSIFIER = "glyph classifier"
LINE_RECOGNIZER = "line recognizer"
CHARACTER_GENERATOR = "character generator"
CHARACTER_LM = "character language model"
LINE_KIND_CLASSIFIER = "print or handwriting line classifier"
LINE_FINDER = "line finder"


@dataclass(frozen=True)
class ModelManifest:
    name: str
    version: str
    charset: str  # class index i reads as charset[i]
    input_size: tuple[int, int]
    normalisation: str
    training_data: tuple[str, ...]
    metrics: dict[str, Any] = field(default_factory=dict)
    weights: Path = Path()
    extra: dict[str, Any] = field(default_factory=dict)
    task: str = GLYPH_CLASSIFIER

    def log_prior_weights(self, prior: CharPrior = "training") -> np.ndarray:
        """Per class (charset order), what to add to the network's log-probabilities to make the
        classes as likely as they are in the use at hand: "training", the real training rows (zeros
        unless training topped classes up with generated rows), or "prose", running text (the
        manifest's `prose_prior`; a model trained without one reads prose with the training prior)."""
        key = "prose_prior" if prior == "prose" and "prose_prior" in self.extra else "prior_correction"
        corrections = self.extra.get(key, {})
        return np.array([float(corrections.get(c, 0.0)) for c in self.charset])

    def digest(self) -> str:
        """Content hash of the weights and of the word-confidence calibration, so a retrained or
        recalibrated model invalidates earlier outputs."""
        h = hashlib.sha256()
        if "word_confidence" in self.extra:
            h.update(json.dumps(self.extra["word_confidence"], sort_keys=True).encode())
        with open(self.weights, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
        return h.hexdigest()[:16]


def adjust_priors(probs: np.ndarray, log_weights: np.ndarray) -> np.ndarray:
    """Re-weigh each row's class probabilities by exp(log_weights) and renormalise."""
    if not log_weights.any():
        return probs
    weighted = probs * np.exp(log_weights)[None, :]
    return weighted / weighted.sum(axis=1, keepdims=True)


def manifest_path(models_dir: Path, name: str) -> Path:
    return Path(models_dir) / f"{name}.json"


def refuse_to_replace(models_dir: Path, name: str, overwrite: bool) -> None:
    """Training never silently replaces a model, a shipped one least of all: checked before training
    starts, so an hour's run does not end in a refusal, and passed only with `--overwrite`."""
    target = manifest_path(models_dir, name)
    if target.is_file() and not overwrite:
        raise ConfigError(f"{target} exists: give another --name or --models-dir, or --overwrite to replace it")


def manifest_task(raw: dict[str, Any]) -> str:
    """A manifest's task; manifests written before tasks were recorded (2026-12-07) are known by
    the keys only their kind of model has."""
    if "task" in raw:
        return str(raw["task"])
    if "downsample" in raw:
        return LINE_RECOGNIZER
    return CHARACTER_GENERATOR if "latent_dim" in raw else GLYPH_CLASSIFIER


def load_manifest(models_dir: Path, name: str, task: str | None = None) -> ModelManifest:
    """Read and check `<models_dir>/<name>.json`, that its weights file exists and, given `task`,
    that the model is for that task."""
    path = manifest_path(models_dir, name)
    if not path.is_file():
        raise ModelError(f"model manifest not found: {path} (run `hcrbatch train` or pass --models-dir)")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelError(f"model manifest {path} is not valid JSON: {exc}") from exc
    if task is not None and manifest_task(raw) != task:
        raise ModelError(f"model {path}: a {manifest_task(raw)}, not a {task} (its manifest's task)")
    missing = [key for key in REQUIRED_KEYS if key not in raw]
    if missing:
        raise ModelError(f"model manifest {path} lacks {', '.join(missing)}")
    weights = path.with_name(raw.get("weights", f"{name}.keras"))
    if not weights.is_file():
        raise ModelError(f"model weights not found: {weights}")
    charset = raw["charset"]
    if not isinstance(charset, str) or len(set(charset)) != len(charset) or not charset:
        raise ModelError(f"model manifest {path}: charset must be a non-empty string of distinct characters")
    return ModelManifest(
        name=raw["name"],
        version=str(raw["version"]),
        charset=charset,
        input_size=tuple(raw["input_size"]),
        normalisation=raw["normalisation"],
        training_data=tuple(raw["training_data"]),
        metrics=dict(raw["metrics"]),
        weights=weights,
        extra={k: v for k, v in raw.items() if k not in (*REQUIRED_KEYS, "weights", "task")},
        task=manifest_task(raw),
    )


def import_tensorflow():
    """TensorFlow, imported with the banners its C++ start-up writes (oneDNN, CPU features: absl's
    log, which TF_CPP_MIN_LOG_LEVEL no longer reaches) kept off stderr, where they would mail a cron
    job's owner on every run; TF_CPP_MIN_LOG_LEVEL=0 shows them. A failed import still raises."""
    if "tensorflow" in sys.modules or os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2") == "0":
        import tensorflow

        return tensorflow
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        import tensorflow
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
    return tensorflow


def limit_tensorflow_threads(threads: int) -> None:
    """Cap TensorFlow's CPU threads (one worker of several shares the cores); TensorFlow takes this
    only before its runtime starts, so it is set before the first model loads."""
    tf = import_tensorflow()

    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:  # started already in this process (a script that ran a model before): keep its threads
        logging.getLogger(__name__).debug("TensorFlow already started; its thread count is kept")


def load_keras_model(manifest: ModelManifest):
    """The Keras model behind a manifest; a damaged archive becomes a ModelError (exit 4)."""
    import_tensorflow()
    import keras

    try:
        return keras.models.load_model(manifest.weights, compile=False)
    except Exception as exc:  # Keras raises many types for a damaged archive
        raise ModelError(f"cannot load {manifest.weights}: {exc}") from exc


def save_keras_model(model, models_dir: Path, name: str) -> Path:
    """Save `<models_dir>/<name>.keras` atomically."""
    from hcrbatch.atomic import atomic_path

    weights = Path(models_dir) / f"{name}.keras"
    with atomic_path(weights, suffix=".keras") as tmp:
        model.save(tmp)
    return weights


def epochs_done(model, steps_per_epoch: int) -> int:
    """Epochs the model has been trained for, counted by its optimizer's steps: a run resumed from
    a backup counts the epochs before the interruption too (Keras's history holds only its own)."""
    return int(np.asarray(model.optimizer.iterations)) // max(1, steps_per_epoch)


class TrainingClock:
    """Seconds a model's training has taken, across resumed runs.

    Each finished epoch writes the running total into Keras's `BackupAndRestore` folder, which Keras
    deletes when training ends: a resumed run starts from the interrupted runs' total, a fresh run
    from zero. Time spent in an epoch that never finished is lost with that epoch.
    """

    FILE = "training-seconds.json"

    def __init__(self, backup_dir: Path, now: Callable[[], float] = time.time):
        self._file = Path(backup_dir) / self.FILE
        self._now = now
        self._started = now()
        self._earlier = json.loads(self._file.read_text())["seconds"] if self._file.is_file() else 0.0

    @property
    def seconds(self) -> float:
        return round(self._earlier + self._now() - self._started, 1)

    def save(self) -> None:
        from hcrbatch.atomic import atomic_write_text

        self._file.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self._file, json.dumps({"seconds": self.seconds}) + "\n")

    def callback(self):
        """A Keras callback saving the total after every epoch; list it after `BackupAndRestore`."""
        import keras

        return keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs=None: self.save())


def fit_schedule(
    work: Path,
    clock: TrainingClock,
    *,
    initial_rate: float,
    schedule: str,
    total_steps: int,
    patience: int,
    plateau_patience: int,
):
    """(learning rate, Keras callbacks) shared by the trainers. `cosine` decays the rate to zero over
    `total_steps`, so the last epochs refine at small steps; `plateau` keeps it until the validation
    loss stalls `plateau_patience` epochs, then cuts it to 0.3 of itself. Both resume from `work`
    and log every epoch, with the rate the next step will use; `patience` > 0 stops early and keeps
    the best epoch's weights."""
    import keras

    class LogLearningRate(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            logs["learning_rate"] = float(np.asarray(self.model.optimizer.learning_rate))

    rate = keras.optimizers.schedules.CosineDecay(initial_rate, total_steps) if schedule == "cosine" else initial_rate
    callbacks = [
        keras.callbacks.BackupAndRestore(str(work / "backup")),
        clock.callback(),
        LogLearningRate(),
        keras.callbacks.CSVLogger(str(work / "history.csv"), append=True),
    ]
    if patience:
        callbacks.append(keras.callbacks.EarlyStopping(patience=patience, restore_best_weights=True))
    if patience and schedule == "plateau":
        callbacks.append(keras.callbacks.ReduceLROnPlateau(factor=0.3, patience=plateau_patience))
    return rate, callbacks


def model_version() -> str:
    """The package version plus the day of training, e.g. 0.1.0+20261124."""
    from hcrbatch import __version__

    return f"{__version__}+{dt.date.today():%Y%m%d}"


def write_manifest(models_dir: Path, manifest: dict[str, Any]) -> Path:
    """Write a manifest atomically beside its weights."""
    from hcrbatch.atomic import atomic_write_text

    path = manifest_path(models_dir, manifest["name"])
    atomic_write_text(path, json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    return path

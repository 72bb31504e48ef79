"""`hcrbatch eval`: accuracy of a character model on held-out or labelled data, with the confusions."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from hcrbatch.atomic import atomic_output
from hcrbatch.config import CharPrior, TrainConfig
from hcrbatch.errors import ConfigError
from hcrbatch.metrics import accuracy, balanced_merge, confusion_pairs, merged_accuracy
from hcrbatch.modelstore import GLYPH_CLASSIFIER, ModelManifest, adjust_priors, load_keras_model, load_manifest
from hcrbatch.train.datasets import GlyphSet, emnist_splits, held_out_split, read_emnist_split, read_labelled_folder

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Evaluation:
    truth: list[str]
    predicted: list[str]
    charset: str
    digits_alone: list[str]  # each row read among the ten digits only: EMNIST Digits' task

    @classmethod
    def from_probabilities(cls, truth: list[str], probs: np.ndarray, charset: str) -> Evaluation:
        digit_columns = [i for i, c in enumerate(charset) if c.isdigit()] or list(range(len(charset)))
        return cls(
            truth,
            [charset[i] for i in probs.argmax(axis=1)],
            charset,
            [charset[digit_columns[i]] for i in probs[:, digit_columns].argmax(axis=1)],
        )

    def summary(self) -> dict[str, float]:
        """Accuracy over all classes, with EMNIST-Balanced's case merges, and on the digit rows: read
        among all classes (where 0/O and 1/l compete) and among the ten digits alone."""
        digits = [i for i, t in enumerate(self.truth) if t.isdigit()]

        def on_digits(predicted: list[str]) -> float:
            return accuracy([self.truth[i] for i in digits], [predicted[i] for i in digits]) if digits else float("nan")

        return {
            "rows": len(self.truth),
            "accuracy_62": accuracy(self.truth, self.predicted),
            "accuracy_47_balanced_merge": merged_accuracy(self.truth, self.predicted),
            "accuracy_digits": on_digits(self.predicted),
            "accuracy_digits_alone": on_digits(self.digits_alone),
        }

    def per_class(self) -> pd.DataFrame:
        frame = pd.DataFrame({"truth": self.truth, "correct": np.equal(self.truth, self.predicted)})
        table = frame.groupby("truth")["correct"].agg(["count", "mean"]).rename(columns={"mean": "accuracy"})
        return table.reset_index().rename(columns={"truth": "class"})


def evaluation_data(folder: Path, seed: int, fraction: float) -> GlyphSet:
    """EMNIST ByClass: only its held-out rows (the same seeded split as training); else every image."""
    splits = emnist_splits(folder)
    if not splits:
        return read_labelled_folder(folder)
    byclass = [s for s in splits if "byclass" in s]
    if not byclass:
        raise ConfigError(f"{folder}: no EMNIST ByClass split to evaluate on")
    part = read_emnist_split(folder, byclass[0])
    return part.take(held_out_split(len(part), seed, fraction)[1])


def held_out_probabilities(
    data: Path, models_dir: Path, name: str, prior: CharPrior = "training"
) -> tuple[GlyphSet, np.ndarray, ModelManifest]:
    """The evaluation glyphs of `data` (the model's own held-out split for EMNIST) and the model's
    class probabilities for them, read with the class `prior` as recognition reads them."""
    manifest = load_manifest(models_dir, name, GLYPH_CLASSIFIER)
    seed = int(manifest.extra.get("split_seed", TrainConfig.split_seed))
    glyphs = evaluation_data(data, seed, TrainConfig.test_fraction)
    probs = adjust_priors(
        load_keras_model(manifest).predict(glyphs.images[..., None], batch_size=1024, verbose=0),
        manifest.log_prior_weights(prior),
    )
    return glyphs, probs, manifest


def evaluate_model(data: Path, models_dir: Path, name: str, prior: CharPrior = "training") -> Evaluation:
    glyphs, probs, manifest = held_out_probabilities(data, models_dir, name, prior)
    return Evaluation.from_probabilities(list(glyphs.labels), probs, manifest.charset)


def confusion_image(evaluation: Evaluation, cell: int = 12) -> np.ndarray:
    """Row-normalised confusion matrix as a heat map (rows: truth, columns: prediction)."""
    classes = sorted(set(evaluation.truth) | set(evaluation.predicted), key=evaluation.charset.find)
    index = {c: i for i, c in enumerate(classes)}
    matrix = np.zeros((len(classes), len(classes)), np.float64)
    for t, p in zip(evaluation.truth, evaluation.predicted):
        matrix[index[t], index[p]] += 1
    matrix /= np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    heat = cv2.applyColorMap((np.sqrt(matrix) * 255).astype(np.uint8), cv2.COLORMAP_VIRIDIS)
    heat = cv2.resize(heat, None, fx=cell, fy=cell, interpolation=cv2.INTER_NEAREST)
    margin = cell + 4
    image = np.full((heat.shape[0] + margin, heat.shape[1] + margin, 3), 255, np.uint8)
    image[margin:, margin:] = heat
    for i, c in enumerate(classes):
        pos = margin + i * cell + 2
        cv2.putText(image, c, (pos, margin - 4), cv2.FONT_HERSHEY_PLAIN, cell / 16, (0, 0, 0), 1)
        cv2.putText(image, c, (1, pos + cell - 4), cv2.FONT_HERSHEY_PLAIN, cell / 16, (0, 0, 0), 1)
    return image


def write_evaluation(evaluation: Evaluation, out_dir: Path) -> list[Path]:
    """per-class accuracy, top confusions (62-class and with Balanced merges) and the matrix PNG."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / "per_class.csv", out_dir / "confusions.csv", out_dir / "confusion_matrix.png"]
    with atomic_output(paths[0], "w", encoding="utf-8") as fh:
        evaluation.per_class().to_csv(fh, index=False, lineterminator="\n")
    merged = confusion_pairs([balanced_merge(t) for t in evaluation.truth],
                             [balanced_merge(p) for p in evaluation.predicted], top=30)  # fmt: skip
    rows = [("62", *pair) for pair in confusion_pairs(evaluation.truth, evaluation.predicted, top=30)]
    rows += [("47", *pair) for pair in merged]
    with atomic_output(paths[1], "w", encoding="utf-8") as fh:
        pd.DataFrame(rows, columns=["classes", "truth", "predicted", "count"]).to_csv(
            fh, index=False, lineterminator="\n"
        )
    ok, png = cv2.imencode(".png", confusion_image(evaluation))
    with atomic_output(paths[2], "wb") as fh:
        fh.write(png.tobytes())
    return paths

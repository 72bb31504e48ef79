"""How good are the GAN's characters? Class fidelity, diversity and Fréchet distance, judged by the recognizer.

    .venv/bin/python benchmarks/gan_quality.py [--gan chargan] [--per-class 300] [--record]

Real characters are the held-out EMNIST ByClass rows (never seen by the recognizer or the GAN).
- Fidelity: share of generated samples the shipped recognizer reads as the class they were
  conditioned on (62-class strict, and with EMNIST-Balanced's case merges), beside the recognizer's
  accuracy on the real held-out rows of the same classes.
- Diversity: mean pairwise distance between samples of one class in the recognizer's penultimate
  layer ("features", 256-d), generated divided by real; a collapsed class scores near 0.
- Fréchet distance between real and generated features, per class and overall (FID's formula on the
  recognizer's features, not Inception's, so it is comparable only within this project).
Writes benchmarks/gan-grid.png (a row of samples per class) and benchmarks/out/gan-per-class.csv.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from hcrbatch.config import DEFAULT_MODELS_DIR
from hcrbatch.metrics import merged_accuracy
from hcrbatch.modelstore import load_manifest
from hcrbatch.train.evaluate import evaluation_data
from hcrbatch.train.gan import GlyphGenerator

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from results import record  # noqa: E402

EMNIST = HERE.parent.parent / "shared" / "data" / "emnist"


def frechet(a: np.ndarray, b: np.ndarray) -> float:
    """|mu_a - mu_b|^2 + Tr(Ca + Cb - 2 (Ca Cb)^1/2), the trace term via the eigenvalues of sqrt(Ca) Cb sqrt(Ca)."""
    mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    values, vectors = np.linalg.eigh(cov_a)
    root_a = (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T
    cross = np.linalg.eigvalsh(root_a @ cov_b @ root_a)
    trace_root = np.sqrt(np.clip(cross, 0, None)).sum()
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2 * trace_root)


def mean_pairwise_distance(features: np.ndarray, limit: int = 300) -> float:
    x = features[:limit]
    squared = (x**2).sum(axis=1)
    d2 = np.clip(squared[:, None] + squared[None, :] - 2 * x @ x.T, 0, None)
    n = len(x)
    return float(np.sqrt(d2)[np.triu_indices(n, 1)].mean()) if n > 1 else float("nan")


def grid_image(samples: dict[str, np.ndarray], per_row: int, blocks: int = 3) -> np.ndarray:
    """Classes in `blocks` columns of rows, each row `per_row` samples: dark ink on light paper."""
    rows = [np.hstack([np.pad(img, 1, constant_values=0) for img in images[:per_row]]) for images in samples.values()]
    per_block = -(-len(rows) // blocks)
    blank = np.zeros_like(rows[0])
    columns = []
    for b in range(blocks):
        chunk = rows[b * per_block : (b + 1) * per_block]
        chunk += [blank] * (per_block - len(chunk))
        columns.append(np.pad(np.vstack(chunk), ((0, 0), (0, 12)), constant_values=0))
    return (255 - np.hstack(columns) * 255).astype(np.uint8)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gan", default="chargan")
    parser.add_argument("--model", default="charcnn", help="the recognizer that judges")
    parser.add_argument("--models-dir", type=Path, default=DEFAULT_MODELS_DIR)
    parser.add_argument("--per-class", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args()
    import keras

    manifest = load_manifest(args.models_dir, args.model)
    recognizer = keras.models.load_model(manifest.weights, compile=False)
    features_of = keras.Model(recognizer.input, recognizer.get_layer("features").output)
    generator = GlyphGenerator.load(args.models_dir, args.gan)
    real = evaluation_data(EMNIST, int(manifest.extra.get("split_seed", 0)), 0.1)
    chars = [c for c in generator.charset if c in manifest.charset]
    generated = generator.sample("".join(chars), args.per_class, args.seed)

    def read(images: np.ndarray) -> tuple[list[str], np.ndarray]:
        probs = recognizer.predict(images[..., None], batch_size=1024, verbose=0)
        return [manifest.charset[i] for i in probs.argmax(axis=1)], features_of.predict(
            images[..., None], batch_size=1024, verbose=0
        )

    rows, all_real, all_gen, truth_gen, pred_gen, truth_real, pred_real = [], [], [], [], [], [], []
    for char in chars:
        gen_pred, gen_feat = read(generated[char])
        truth_gen += [char] * len(gen_pred)
        pred_gen += gen_pred
        row = {"class": char, "generated": len(gen_pred), "fidelity": np.mean(np.equal(gen_pred, char))}
        real_images = real.images[real.labels == char]
        if len(real_images) >= 2:
            real_pred, real_feat = read(real_images)
            truth_real += [char] * len(real_pred)
            pred_real += real_pred
            all_real.append(real_feat)
            all_gen.append(gen_feat[: len(real_feat)])  # overall FID: the real class mix
            diversity_real = mean_pairwise_distance(real_feat)
            row |= {
                "real": len(real_images),
                "real_accuracy": np.mean(np.equal(real_pred, char)),
                "diversity_ratio": mean_pairwise_distance(gen_feat) / diversity_real,
                "frechet": frechet(real_feat, gen_feat) if len(real_images) > 10 else float("nan"),
            }
        rows.append(row)
    table = pd.DataFrame(rows)
    (HERE / "out").mkdir(exist_ok=True)
    table.to_csv(HERE / "out" / "gan-per-class.csv", index=False, float_format="%.4f")
    cv2.imwrite(str(HERE / "gan-grid.png"), grid_image({c: generated[c] for c in chars}, 12))

    emnist = table.dropna(subset=["real"])
    worst = emnist.sort_values("diversity_ratio").head(3)
    summary = {
        "classes generated": len(chars),
        "fidelity, all classes (62+punctuation, strict)": np.mean(np.equal(pred_gen, truth_gen)),
        "fidelity, EMNIST classes, 62-class strict": np.mean(
            [p == t for p, t in zip(pred_gen, truth_gen) if t in set(emnist["class"])]
        ),
        "fidelity, EMNIST classes, 47-class (Balanced case merges)": merged_accuracy(
            [t for t in truth_gen if t in set(emnist["class"])],
            [p for p, t in zip(pred_gen, truth_gen) if t in set(emnist["class"])],
        ),
        "recognizer on real held-out rows, 62-class": np.mean(np.equal(pred_real, truth_real)),
        "recognizer on real held-out rows, 47-class": merged_accuracy(truth_real, pred_real),
        "diversity ratio, mean over EMNIST classes": emnist["diversity_ratio"].mean(),
        "classes with diversity ratio < 0.7": int((emnist["diversity_ratio"] < 0.7).sum()),
        "lowest diversity ratios": ", ".join(f"{r['class']} {r.diversity_ratio:.2f}" for _, r in worst.iterrows()),
        "Fréchet distance overall (recognizer features)": frechet(np.concatenate(all_real), np.concatenate(all_gen)),
        "Fréchet distance per class, median": emnist["frechet"].median(),
        "Fréchet distance, real vs real (two halves of the held-out rows)": frechet(
            np.concatenate(all_real)[::2], np.concatenate(all_real)[1::2]
        ),
    }
    lines = [f"| {k} | {v:.3f} |" if isinstance(v, float) else f"| {k} | {v} |" for k, v in summary.items()]
    report = "| figure | value |\n|---|---|\n" + "\n".join(lines)
    print(report)
    low = table.sort_values("fidelity").head(8)
    print("lowest fidelity: " + ", ".join(f"{r['class']} {r.fidelity:.2f}" for _, r in low.iterrows()))
    if args.record:
        record(f"python benchmarks/gan_quality.py --gan {args.gan} --per-class {args.per_class}", report)


if __name__ == "__main__":
    main()

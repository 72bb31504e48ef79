"""Does a word's confidence say how likely it is to be right? Real pages, before and after calibration.

    .venv/bin/python benchmarks/word_confidence.py [--every 8] [--engine auto] [--write] [--record]

A calibration must be fitted on pages the recognizer never saw: on its own training pages it reads
more words right than on any other, and a fit there promises too much. So the pages the line
model's manifest holds out of its training, of the Hooker letters and the CREMMA wills, are split
by page: every other one (in name order) is a calibration page, the rest are test pages, on which
alone the figures below are measured. A fit on every Nth training page is shown beside it, to
show why. The glyph engine reads few words of these cursive pages, so hand-printed pages are made
as well (benchmarks/make_pages.py's hands — the fonts, held-out EMNIST writers, the GAN — at 150 to
600 dpi): those of one seed calibrate, those of auto_kinds.py's test seed test. Pages are read as `hcrbatch run` reads them, each word marked right or wrong by
`hcrbatch eval-pages`' alignment, and fitted by the code of `hcrbatch calibrate`
(`hcrbatch.confidence`). Figures per collection: expected calibration error (10 bins), the area
under the ROC curve (how well confidence orders right words above wrong ones), how many wrong and
right words the `--low-confidence` flag marks at its default, and the rank correlation of the
pages' mean confidence with their CER. A reliability plot goes to benchmarks/word-confidence.png.

Pages are read once and kept in OUT (pickled results); `--write` stores the calibration pages'
fit in the models' manifests (replacing one that is there).
"""

from __future__ import annotations

import argparse
import pickle
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from wordfreq import top_n_list

from hcrbatch.confidence import WordCalibration, fit_engines, reliability, samples
from hcrbatch.api import Reader
from hcrbatch.config import Config, CorrectConfig, RecognizeConfig
from hcrbatch.elements import BBox, PageImage
from hcrbatch.engines import store_calibrations
from hcrbatch.evalpages import evaluate_folder, held_out_pages, score_page, word_outcomes
from hcrbatch.groundtruth import GTLine, GTPage, GTRegion
from hcrbatch.train.gan import GlyphGenerator

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from make_pages import held_out_glyphs, make_page  # noqa: E402
from results import record  # noqa: E402

DATA = HERE.parent.parent / "shared" / "data"
COLLECTIONS = {"hooker": "en", "cremma": "fr", "printed": "en"}  # printed: make_pages.py's hand-printed pages
PRINTED_DPIS = (150, 200, 300, 600)
PRINTED_SEEDS = {"calibration": 23, "test": 11}  # 11: auto_kinds.py's test pages; 3 tuned the auto rule
LOW_CONFIDENCE = Config(Path("."), Path(".")).low_confidence


def read_split(collection: str, split: str, every: int, engine: str, out: Path) -> tuple[list, list]:
    """(page scores, (page, line, word, right) per word) of one collection's split, read once."""
    cache = out / f"{collection}-{split}-{engine}-every{every}.pkl"
    if cache.is_file():
        return pickle.loads(cache.read_bytes())
    lang = COLLECTIONS[collection]
    folder = DATA / f"{collection}-pages"
    cfg = Config(folder, out, workers=1, recognize=RecognizeConfig(engine=engine), correct=CorrectConfig(lang=lang))
    held = held_out_pages(cfg)
    names = {p.stem for p in folder.glob("*.xml")}
    pages = set(sorted(names & held if split == "held-out" else names - held)[::every])
    outcomes: list = []
    scores = evaluate_folder(cfg, only=pages, outcomes=outcomes)
    found = (scores, outcomes)
    out.mkdir(parents=True, exist_ok=True)
    cache.write_bytes(pickle.dumps(found))
    return found


def truth_of(page) -> GTPage:
    """A synthetic page's ground truth as a transcription: a line per drawn line, outlined by its
    words' ink boxes 4 px out."""
    lines = []
    for n, line in enumerate(page.lines):
        box = BBox.enclosing([w.bbox for w in line.words])
        left, top, right, bottom = box.left - 4, box.top - 4, box.right + 4, box.bottom + 4
        lines.append(GTLine(f"l{n}", ((left, top), (right, top), (right, bottom), (left, bottom)), (), line.text))
    height, width = page.pixels.shape[:2]
    return GTPage(None, "page.png", width, height, (GTRegion("r", (), tuple(lines)),), "synthetic")


def read_printed(split: str, engine: str, out: Path) -> tuple[list, list]:
    """(page scores, (page, line, word, right) per word) of hand-printed pages: each hand (the
    fonts, held-out EMNIST writers, the GAN) at each of PRINTED_DPIS, twice, from the split's seed."""
    cache = out / f"printed-{split}-{engine}.pkl"
    if cache.is_file():
        return pickle.loads(cache.read_bytes())
    seed = PRINTED_SEEDS[split]
    rng = np.random.default_rng(seed)
    top = [w for w in top_n_list("en", 5000) if w.isalpha()]
    weights = 1.0 / np.arange(1, len(top) + 1) ** 0.8
    glyphs = {
        "emnist": held_out_glyphs(),
        "gan": GlyphGenerator.load(RecognizeConfig.models_dir, "chargan").glyph_bank(per_class=60, seed=seed),
    }
    reader = Reader(Config(Path("."), out, recognize=RecognizeConfig(engine=engine)))
    scores, outcomes = [], []
    for hand in ("fonts", "emnist", "gan"):
        for dpi in PRINTED_DPIS:
            for copy in range(2):
                page = make_page(rng, dpi, (top, weights / weights.sum()), [], hand, glyphs.get(hand))
                name = f"{hand}-{dpi}-{copy}"
                result = reader.read_page(PageImage(None, 0, page.pixels, float(dpi)))
                truth = truth_of(page)
                scores.append(score_page(truth, result, page.pixels, name))
                outcomes += [(name, *o) for o in word_outcomes(truth, result, page.pixels)]
    found = (scores, outcomes)
    out.mkdir(parents=True, exist_ok=True)
    cache.write_bytes(pickle.dumps(found))
    return found


def auc(scores: np.ndarray, right: np.ndarray) -> float:
    """The probability that a right word has a higher confidence than a wrong one (ties count half)."""
    ranks = pd.Series(scores).rank().to_numpy()
    positives = right.sum()
    negatives = len(right) - positives
    if not positives or not negatives:
        return float("nan")
    return float((ranks[right].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def page_rank_correlation(scores: list, pages: list[str], confidence: np.ndarray) -> float:
    """Spearman's correlation of each page's mean word confidence with its CER (-1: it orders them)."""
    frame = pd.DataFrame({"page": pages, "confidence": confidence}).groupby("page")["confidence"].mean()
    cer = pd.Series({s.image: s.cer for s in scores})
    both = pd.concat([frame, cer], axis=1, join="inner")
    return float(both.iloc[:, 0].rank().corr(both.iloc[:, 1].rank()))


def figures(name: str, words: list, scores: list, fits: dict[str, dict[str, WordCalibration]]) -> tuple[str, list]:
    """One table row per confidence (the characters' mean, then each fit) for a collection's test words."""
    lang = COLLECTIONS[name]
    words = [w for w in words if w[2].chars]
    right = np.array([r for *_, r in words])
    pages = [p for p, *_ in words]
    confidences = {"characters' mean": np.array([w.mean_confidence for _, _, w, _ in words])}
    for label, calibrations in fits.items():
        confidences[label] = np.array(
            [
                calibrations[line.engine].probability(w, line, lang)
                if line.engine in calibrations
                else w.mean_confidence
                for _, line, w, _ in words
            ]
        )
    rows, plots = [], []
    for label, conf in confidences.items():
        ece, table = reliability(conf, right)
        flagged = conf < LOW_CONFIDENCE
        rows.append(
            f"| {name} | {label} | {len(words)} | {right.mean():.1%} | {ece:.3f} | {auc(conf, right):.3f} | "
            f"{(flagged & ~right).sum()} of {(~right).sum()} ({(flagged & ~right).sum() / max((~right).sum(), 1):.0%}) | "
            f"{(flagged & right).sum()} of {right.sum()} ({(flagged & right).sum() / max(right.sum(), 1):.0%}) | "
            f"{conf.mean():.3f} | {page_rank_correlation(scores, pages, conf):+.2f} |"
        )
        plots.append((name, label, table))
    return "\n".join(rows), plots


def plot(curves: list, labels: list[str], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    figure, axes = plt.subplots(1, len(labels), figsize=(4.5 * len(labels), 4.5), dpi=90, sharey=True)
    for ax, which in zip(axes, labels):
        ax.plot([0, 1], [0, 1], color="grey", linewidth=0.8)
        for name, label, table in curves:
            if label == which:
                ax.plot([t[3] for t in table], [t[4] for t in table], marker="o", label=name)
        ax.set_title(which)
        ax.set_xlabel("mean confidence in the bin")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
        ax.legend(loc="upper left")
    axes[0].set_ylabel("share of the bin's words read right")
    figure.suptitle("Held-out test pages: word confidence against how often words are right")
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def split_held_out(found: tuple[list, list]) -> tuple[tuple[list, list], tuple[list, list]]:
    """A collection's held-out (scores, outcomes) split by page: every other page (in name order)
    to calibrate on, the rest to test on."""
    scores, outcomes = found
    names = sorted(s.image for s in scores)
    calibration = set(names[::2])
    parts = []
    for keep in (True, False):
        parts.append(
            (
                [s for s in scores if (s.image in calibration) == keep],
                [o for o in outcomes if (o[0] in calibration) == keep],
            )
        )
    return parts[0], parts[1]


def fitted(outcomes: dict[str, list], fitted_on: str) -> dict[str, WordCalibration]:
    """Each engine's calibration fitted on the collections' (page, line, word, right) outcomes."""
    found = [
        s for collection, words in outcomes.items() for s in samples([o[1:] for o in words], COLLECTIONS[collection])
    ]
    return {c.engine: c for c in fit_engines(found, f"{len(found)} words of {fitted_on}")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--every", type=int, default=8, help="every Nth training page is fitted on, for comparison")
    parser.add_argument("--engine", default="auto")
    parser.add_argument("--out", type=Path, default=HERE / "data" / "word-confidence")
    parser.add_argument(
        "--write", action="store_true", help="store the calibration pages' fit in the models' manifests"
    )
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args()
    training, calibration, test = {}, {}, {}
    for collection in ("hooker", "cremma"):
        training[collection] = read_split(collection, "training", args.every, args.engine, args.out)[1]
        calibration[collection], test[collection] = split_held_out(
            read_split(collection, "held-out", 1, args.engine, args.out)
        )
    calibration["printed"] = read_printed("calibration", args.engine, args.out)
    test["printed"] = read_printed("test", args.engine, args.out)
    fits = {
        "fitted on training pages": fitted(
            training, f"every {args.every}th training page of hooker-pages and cremma-pages"
        ),
        "fitted on calibration pages": fitted(
            {c: outcomes for c, (_, outcomes) in calibration.items()},
            "the calibration half of the line model's held-out pages of hooker-pages and cremma-pages "
            f"(every other one in name order) and {len(calibration['printed'][0])} hand-printed pages "
            f"(benchmarks/make_pages.py's hands, seed {PRINTED_SEEDS['calibration']})",
        ),
    }
    for label, calibrations in fits.items():
        for c in calibrations.values():
            print(f"{label}: {c.engine} on {c.words} words, weights {np.round(c.weights, 3).tolist()}")
    rows, curves = [], []
    for collection, (scores, words) in test.items():
        shown = (
            fits if collection != "printed" else {"fitted on calibration pages": fits["fitted on calibration pages"]}
        )
        row, plots = figures(collection, words, scores, shown)
        rows.append(row)
        curves += plots
    header = (
        "| test pages | confidence | words | right | calibration error | ROC AUC | wrong words flagged | "
        "right words flagged | mean | page confidence-CER rank correlation |\n" + "|---" * 10 + "|"
    )
    table = header + "\n" + "\n".join(rows)
    print(table)
    plot(curves, ["characters' mean", *fits], HERE / "word-confidence.png")
    shipped = fits["fitted on calibration pages"]
    if args.write:
        for path in store_calibrations(RecognizeConfig(), list(shipped.values()), overwrite=True):
            print(f"wrote {path}")
    if args.record:
        weights = "; ".join(f"{c.engine} {np.round(c.weights, 3).tolist()} ({c.words} words)" for c in shipped.values())
        record(" ".join(["python benchmarks/word_confidence.py", *sys.argv[1:]]), table, f"; shipped fit: {weights}")


if __name__ == "__main__":
    main()

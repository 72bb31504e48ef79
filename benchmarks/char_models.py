"""Character models side by side: on held-out glyphs, and on whole hand-printed pages.

    .venv/bin/python benchmarks/char_models.py --models-dir models --models-dir .train/cosine-models [--pages 20] [--record]

Held-out accuracy alone can mislead: a model can read the held-out EMNIST rows better and whole
pages worse, because glyphs cut from a page and normalised are further from the training rows. For
each models folder (its `charcnn` unless --model says otherwise):
- held-out ByClass rows (as `hcrbatch eval`): 62-class accuracy, negative log-likelihood and
  expected calibration error (10 bins) of the softmax, and the softmax temperature on a grid that
  minimises the likelihood there (a diagnosis of over-confidence, not a fitted setting);
- the glyphs of benchmarks/run.py's hand-printed pages (held-out EMNIST writers, seed 0; or, with
  --seed 3, auto_rule.py's tuning pages in --hand emnist, gan or fonts, whose pages have no
  character boxes) as the pipeline cuts them: each true character box matched to the segmenter's
  glyph of best overlap (IoU >= 0.5), and those crops classified alone, before the line's geometry
  weighs letter case;
- held-out rows are read with the model's training prior and page glyphs with its prose prior,
  each as its use reads it (`hcrbatch run --char-prior`);
- the same pages read by the glyph engine: raw and lexicon-corrected CER and WER, and the raw
  reading's most frequent confusions.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from hcrbatch.config import RecognizeConfig
from hcrbatch.elements import BBox
from hcrbatch.metrics import balanced_merge
from hcrbatch.glyphengine import CharRecognizer
from hcrbatch.train.evaluate import held_out_probabilities
from hcrbatch.train.pageglyphs import cut_glyphs as cut_page_glyphs

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from lines import documents, end_to_end, printed_pages, printed_pages_folder, rates  # noqa: E402
from results import record  # noqa: E402

TEMPERATURES = (1.0, 1.25, 1.5, 2.0)


def calibration(probs: np.ndarray, truth: np.ndarray) -> tuple[float, float, float]:
    """(negative log-likelihood, expected calibration error, best temperature on the grid)."""
    log_probs = np.log(np.clip(probs, 1e-12, 1))

    def nll(temperature: float) -> float:
        scaled = log_probs / temperature
        scaled -= np.log(np.exp(scaled).sum(axis=1, keepdims=True))
        return float(-scaled[np.arange(len(truth)), truth].mean())

    confidence, correct = probs.max(axis=1), probs.argmax(axis=1) == truth
    bins = np.minimum((confidence * 10).astype(int), 9)
    ece = sum(
        (bins == b).mean() * abs(confidence[bins == b].mean() - correct[bins == b].mean())
        for b in range(10)
        if (bins == b).any()
    )
    return nll(1.0), float(ece), min(TEMPERATURES, key=nll)


def held_out_row(models_dir: Path, name: str, emnist: Path) -> str:
    glyphs, probs, manifest = held_out_probabilities(emnist, models_dir, name)
    truth = np.array([manifest.charset.index(c) for c in glyphs.labels])
    nll, ece, temperature = calibration(probs, truth)
    accuracy = float((probs.argmax(axis=1) == truth).mean())
    return f"| {models_dir}/{name} | {accuracy:.2%} | {nll:.4f} | {ece:.4f} | {temperature} |"


def cut_glyphs(folder: Path, pages) -> tuple[list[np.ndarray], list[str], int]:
    """(crops of the segmenter's glyphs that match a true character box, their true labels, number of
    true characters) over `pages`, the pages of the make_pages.py folder `folder` as printed_pages reads them."""
    truths = [
        known
        for doc in documents(folder)
        for known in json.loads(doc.with_name(doc.stem + ".gt.json").read_text(encoding="utf-8"))["pages"]
    ]
    crops, labels, total = [], [], 0
    for (_, page, _), known in zip(pages, truths):
        scale = page.width / known["width"]
        chars = [
            (c["text"], BBox(*(round(v * scale) for v in c["bbox"])))
            for line in known["lines"]
            for w in line["words"]
            for c in w.get("chars", ())
        ]
        found_crops, found_labels = cut_page_glyphs(page, chars)
        crops += found_crops
        labels += found_labels
        total += len(chars)
    return crops, labels, total


def cut_glyph_row(models_dir: Path, name: str, crops: list[np.ndarray], labels: list[str]) -> str:
    recognizer = CharRecognizer.from_config(RecognizeConfig(model=name, models_dir=models_dir))
    read = [top[0] for top, _ in recognizer.classify(crops)]
    right = np.mean([r == t for r, t in zip(read, labels)])
    merged = np.mean([balanced_merge(r) == balanced_merge(t) for r, t in zip(read, labels)])
    return f"| {models_dir}/{name} | {right:.2%} | {merged:.2%} |"


def page_row(models_dir: Path, name: str, pages) -> tuple[str, str]:
    readings = end_to_end(pages, "en", engines=("glyph",), models_dir=models_dir, char_model=name)
    raw, corrected = readings.errors("glyph", corrected=False), readings.errors("glyph")
    confusions = ", ".join(f"`{t}`→`{h}` {n}" for (t, h), n in raw.confusions.most_common(10))
    return f"| {models_dir}/{name} | {rates(raw)} | {rates(corrected)} |", f"- {models_dir}/{name}: {confusions}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models-dir", type=Path, action="append", required=True, help="repeat to compare")
    parser.add_argument("--model", default="charcnn")
    parser.add_argument("--emnist", type=Path, default=Path("../shared/data/emnist"))
    parser.add_argument("--pages", type=int, default=20, help="benchmarks/run.py's hand-printed pages")
    parser.add_argument("--seed", type=int, default=0, help="3: auto_rule.py's tuning pages, which no figure reads")
    parser.add_argument("--hand", choices=["emnist", "gan", "fonts"], default="emnist", help="make_pages.py's hand")
    parser.add_argument("--record", action="store_true", help="append the tables to the day's log, benchmarks/log/")
    args = parser.parse_args()

    held = ["| model | 62-class accuracy | NLL | ECE | best temperature |", "|---|---|---|---|---|"]
    held += [held_out_row(d, args.model, args.emnist) for d in args.models_dir]
    pages = printed_pages(args.pages, args.seed, args.hand)
    crops, labels, total = cut_glyphs(printed_pages_folder(args.pages, args.seed, args.hand), pages)
    cut = ["| model | 62-class accuracy | 47-class (Balanced merges) |", "|---|---|---|"]
    cut += [cut_glyph_row(d, args.model, crops, labels) for d in args.models_dir] if labels else ["| (none) | | |"]
    rows = ["| model | raw CER | WER | corrected CER | WER |", "|---|---|---|---|---|"]
    confusions = []
    for d in args.models_dir:
        row, top = page_row(d, args.model, pages)
        rows.append(row)
        confusions.append(top)
    which = f"{len(pages)} hand-printed pages ({args.hand} hand, seed {args.seed}" + (
        ", benchmarks/run.py's)" if (args.seed, args.hand) == (0, "emnist") else ")"
    )
    body = (
        "Held-out ByClass rows (read with the training prior, as `hcrbatch eval` reads them):\n\n" + "\n".join(held)
        + f"\n\nGlyphs cut from the {which} ({len(labels)} of {total} true characters "
        f"matched by a glyph at IoU >= 0.5), classified alone with the prose prior, as `hcrbatch run` reads them:\n\n" + "\n".join(cut)
        + f"\n\n{which}, glyph engine:\n\n" + "\n".join(rows)
        + "\n\nMost frequent confusions of the raw reading (truth→read):\n\n" + "\n".join(confusions)
    )  # fmt: skip
    print(body)
    if args.record:
        dirs = " ".join(f"--models-dir {d}" for d in args.models_dir)
        record(
            f"python benchmarks/char_models.py {dirs} --pages {args.pages} --seed {args.seed} --hand {args.hand}", body
        )


if __name__ == "__main__":
    main()

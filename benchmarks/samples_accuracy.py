"""CER/WER and word-box F1 of `hcrbatch run` on the shipped samples, raw CNN vs lexicon-corrected,
and how many of the words read wrong the low-confidence flag marks.

    .venv/bin/python benchmarks/samples_accuracy.py [--record]

Reads each sample's ground truth (`<name>.gt.txt`, `<name>.gt.json`) and compares it with the
outputs of two runs, `--correct none` and `--correct lexicon`. Word boxes match at IoU >= 0.5; a
word of the corrected run is right where its box matches a true word's and its text is that word's;
it is flagged where its `confidence` is under `--low-confidence`'s default.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd

from hcrbatch.config import Config
from hcrbatch.elements import BBox
from hcrbatch.metrics import box_f1, cer, wer

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "benchmarks"))
from results import record  # noqa: E402

SAMPLES = REPO / "samples"


def run(out: Path, correct: str) -> None:
    shutil.rmtree(out, ignore_errors=True)
    cmd = [sys.executable, "-m", "hcrbatch", "run", str(SAMPLES), str(out), "--correct", correct, "-q"]
    subprocess.run(cmd, check=True)


LOW_CONFIDENCE = Config(Path("."), Path(".")).low_confidence


def true_words(truth_json: Path, output_dpi: float) -> list[tuple[int, BBox, str]]:
    """(page, box in the output's pixels, text) of each word of a sample's ground truth."""
    pages = json.loads(truth_json.read_text())["pages"]
    found = []
    for number, page in enumerate(pages, 1):
        scale = output_dpi / page["dpi"]
        found += [
            (number, BBox(*[round(v * scale) for v in w["bbox"]]), w["text"])
            for line in page["lines"]
            for w in line["words"]
        ]
    return found


def flagged_words(truth: list[tuple[int, BBox, str]], words: pd.DataFrame) -> tuple[int, int, int, int]:
    """(words read wrong, of them flagged low-confidence, words read right, of them flagged)."""
    wrong = wrong_flagged = right = right_flagged = 0
    for row in words.itertuples():
        box = BBox(row.left, row.top, row.right, row.bottom)
        ok = any(n == row.page and b.iou(box) >= 0.5 and text == str(row.text) for n, b, text in truth)
        low = row.confidence < LOW_CONFIDENCE
        wrong, wrong_flagged = wrong + (not ok), wrong_flagged + (not ok and low)
        right, right_flagged = right + ok, right_flagged + (ok and low)
    return wrong, wrong_flagged, right, right_flagged


def word_f1(truth_json: Path, words: pd.DataFrame, output_dpi: float) -> float:
    pages = json.loads(truth_json.read_text())["pages"]
    truth = [(number, box) for number, box, _ in true_words(truth_json, output_dpi)]
    found = []
    for number in range(1, len(pages) + 1):
        rows = words[words["page"] == number]
        found += [(number, BBox(r.left, r.top, r.right, r.bottom)) for r in rows.itertuples()]
    f1s = []
    for number in range(1, len(pages) + 1):
        f1s.append(box_f1([b for n, b in truth if n == number], [b for n, b in found if n == number])[2])
    return sum(f1s) / len(f1s)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--record", action="store_true", help="append the table to the day's log, benchmarks/log/")
    args = parser.parse_args()
    base = REPO / "benchmarks" / "out" / "samples"
    for method in ("none", "lexicon"):
        run(base / method, method)
    rows = []
    for truth_txt in sorted(SAMPLES.rglob("*.gt.txt")):
        rel = truth_txt.relative_to(SAMPLES)
        stem = str(rel)[: -len(".gt.txt")]
        source = next(
            p for p in truth_txt.parent.iterdir() if p.name.startswith(Path(stem).name + ".") and ".gt." not in p.name
        )
        truth = truth_txt.read_text(encoding="utf-8")
        raw = (base / "none" / f"{stem}.txt").read_text(encoding="utf-8")
        fixed = (base / "lexicon" / f"{stem}.txt").read_text(encoding="utf-8")
        words = pd.read_csv(base / "lexicon" / f"{stem}.csv", keep_default_na=False)
        dpi = (
            300.0
            if source.suffix == ".pdf"
            else json.loads(truth_txt.with_suffix("").with_suffix(".gt.json").read_text())["pages"][0]["dpi"]
        )
        truth_json = truth_txt.with_suffix("").with_suffix(".gt.json")
        wrong, wrong_flagged, right, right_flagged = flagged_words(true_words(truth_json, dpi), words)
        rows.append({
            "document": source.relative_to(SAMPLES).as_posix(),
            "CER raw": cer(truth, raw), "CER corrected": cer(truth, fixed),
            "WER raw": wer(truth, raw), "WER corrected": wer(truth, fixed),
            "word F1": word_f1(truth_json, words, dpi),
            "wrong words flagged": f"{wrong_flagged} of {wrong}", "right words flagged": f"{right_flagged} of {right}",
        })  # fmt: skip
    frame = pd.DataFrame(rows)
    table = markdown_table(frame)
    print(table)
    if args.record:
        record("python benchmarks/samples_accuracy.py", table)


def markdown_table(frame: pd.DataFrame) -> str:
    def cell(value) -> str:
        return f"{value:.3f}" if isinstance(value, float) else str(value)

    lines = ["| " + " | ".join(frame.columns) + " |", "|" + "---|" * len(frame.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join(lines)


if __name__ == "__main__":
    main()

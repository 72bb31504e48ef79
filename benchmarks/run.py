"""hcrbatch beside OCRmyPDF + Tesseract on the same generated pages, in one run.

    .venv/bin/python benchmarks/run.py [--quick] [--pages 20] [--seed 0] [--hand emnist|gan] [--record]

Needs `apt-get install tesseract-ocr ocrmypdf` (Debian's packages) besides what `make test`
installs, and ../shared/data/emnist: pages are written by benchmarks/make_pages.py with
`--hand emnist`, from real handwritten characters the shipped model never trained on (the held-out
ByClass rows), or with `--hand gan` from characters the shipped GAN generator writes, as multi-page
PDF, multi-page TIFF and PNG, with ground truth beside each.

For both tools: CER and WER (edit distance on whitespace-normalised text, page by page, summed over
the folder), pages/minute and peak memory (summed RSS of the process tree, sampled every 0.1 s).
For hcrbatch also: CER of the raw CNN reading (the CSV's `raw_text`) against the corrected text, and
line, word and character segmentation precision/recall/F1 at IoU >= 0.5 against the true boxes.
OCRmyPDF runs with its defaults except `--output-type pdf` (no PDF/A conversion, which hcrbatch
does not do either) and `--sidecar` for its text; files are processed one after another by each
tool, each tool using all cores its own way (hcrbatch `--workers`, OCRmyPDF `--jobs`).
"""

from __future__ import annotations

import argparse
import datetime as dt
import difflib
import json
import os
import platform
import shutil
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from results import record  # noqa: E402
from make_pages import make_pages  # noqa: E402
from throughput import timed_run  # noqa: E402

from hcrbatch.api import segment_page
from hcrbatch.config import IngestConfig  # noqa: E402
from hcrbatch.elements import BBox  # noqa: E402
from hcrbatch.ingest import iter_pages  # noqa: E402
from hcrbatch.metrics import box_f1, edit_distance, normalise_text  # noqa: E402


@dataclass
class ErrorCount:
    """Edit operations and reference length, summed over pages (a micro-average)."""

    char_edits: int = 0
    chars: int = 0
    word_edits: int = 0
    words: int = 0
    confusions: Counter = field(default_factory=Counter)

    def add(self, truth: str, hypothesis: str) -> None:
        truth, hypothesis = normalise_text(truth), normalise_text(hypothesis)
        self.char_edits += edit_distance(truth, hypothesis)
        self.chars += len(truth)
        self.word_edits += edit_distance(truth.split(), hypothesis.split())
        self.words += len(truth.split())
        for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, truth, hypothesis, autojunk=False).get_opcodes():
            if op != "equal" and max(i2 - i1, j2 - j1) <= 2:
                self.confusions[(truth[i1:i2], hypothesis[j1:j2])] += 1

    @property
    def cer(self) -> float:
        return self.char_edits / max(self.chars, 1)

    @property
    def wer(self) -> float:
        return self.word_edits / max(self.words, 1)


def pages_of(text: str) -> list[str]:
    return text.rstrip("\f\n").split("\f")


def score(errors: ErrorCount, truth: str, hypothesis: str) -> None:
    """Page by page when the page counts agree (they should), else the document as one text."""
    truth_pages, hyp_pages = pages_of(truth), pages_of(hypothesis)
    if len(truth_pages) != len(hyp_pages):
        truth_pages, hyp_pages = [truth], [hypothesis]
    for t, h in zip(truth_pages, hyp_pages):
        errors.add(t, h)


def raw_text(words: pd.DataFrame) -> str:
    """The CNN's reading before correction, rebuilt from a document CSV in reading order."""
    pages = []
    for _, page in words.groupby("page", sort=True):
        lines = [" ".join(line["raw_text"].astype(str)) for _, line in page.groupby("line", sort=True)]
        pages.append("\n".join(lines))
    return "\f".join(pages)


def documents(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix in (".pdf", ".tif", ".png"))


def gt_path(doc: Path, kind: str) -> Path:
    return doc.with_name(f"{doc.stem}.gt.{kind}")


def run_hcrbatch(data: Path, out: Path, workers: int) -> tuple[float, int, int]:
    shutil.rmtree(out, ignore_errors=True)
    cmd = [sys.executable, "-m", "hcrbatch", "run", str(data), str(out), "--workers", str(workers), "-q"]
    return timed_run(cmd)


def run_ocrmypdf(data: Path, out: Path, jobs: int) -> tuple[float, int, int]:
    """Each document through ocrmypdf in turn; total seconds, the largest peak, the worst exit code."""
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    seconds, peak, worst = 0.0, 0, 0
    for doc in documents(data):
        cmd = ["ocrmypdf", "-q", "-l", "eng", "--jobs", str(jobs), "--output-type", "pdf",
               "--sidecar", str(out / f"{doc.stem}.txt"), str(doc), str(out / f"{doc.stem}.pdf")]  # fmt: skip
        taken, rss, code = timed_run(cmd)
        seconds, peak, worst = seconds + taken, max(peak, rss), max(worst, code)
    return seconds, peak, worst


def segmentation_f1(data: Path) -> dict[str, tuple[float, float, float]]:
    """Line, word and character boxes of hcrbatch's segmentation (default settings) against the
    truth, pooled over all pages: precision, recall, F1 at IoU >= 0.5."""
    matched = {kind: [0.0, 0.0, 0.0] for kind in ("line", "word", "char")}  # true positives, found, true
    ingest = IngestConfig()
    for doc in documents(data):
        truth_pages = json.loads(gt_path(doc, "json").read_text(encoding="utf-8"))["pages"]
        for page, truth in zip(iter_pages(doc, ingest), truth_pages):
            scale = page.dpi / truth["dpi"]
            clean, seg = segment_page(page)
            found = {
                "line": [clean.to_page(line.bbox) for line in seg.lines],
                "word": [clean.to_page(w.bbox) for line in seg.lines for w in line.words],
                "char": [clean.to_page(g.bbox) for line in seg.lines for w in line.words for g in w.glyphs],
            }
            true = {
                "line": [line["bbox"] for line in truth["lines"]],
                "word": [w["bbox"] for line in truth["lines"] for w in line["words"]],
                "char": [c["bbox"] for line in truth["lines"] for w in line["words"] for c in w.get("chars", [])],
            }
            for kind in matched:
                boxes = [BBox(*(round(v * scale) for v in box)) for box in true[kind]]
                _, recall, _ = box_f1(boxes, found[kind])
                matched[kind][0] += recall * len(boxes)
                matched[kind][1] += len(found[kind])
                matched[kind][2] += len(boxes)
    result = {}
    for kind, (hits, found_count, true_count) in matched.items():
        precision, recall = hits / max(found_count, 1), hits / max(true_count, 1)
        result[kind] = (precision, recall, 2 * precision * recall / max(precision + recall, 1e-9))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=20)
    parser.add_argument("--quick", action="store_true", help="3 pages: a check that everything runs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="hcrbatch --workers, ocrmypdf --jobs")
    parser.add_argument("--hand", choices=["emnist", "gan"], default="emnist",
                        help="held-out EMNIST characters (default) or characters from the shipped GAN")  # fmt: skip
    parser.add_argument("--record", action="store_true", help="append the tables to the day's log, benchmarks/log/")
    args = parser.parse_args()
    if shutil.which("ocrmypdf") is None:
        sys.exit("ocrmypdf not found: apt-get install tesseract-ocr ocrmypdf")
    pages = 3 if args.quick else args.pages
    data = HERE / "data" / f"{args.hand}-{pages}p-seed{args.seed}"
    if not data.exists():
        make_pages(data, pages, args.seed, pages_per_doc=5, hand=args.hand)
    out = HERE / "out" / data.name

    ours = run_hcrbatch(data, out / "hcrbatch", args.workers)
    theirs = run_ocrmypdf(data, out / "ocrmypdf", args.workers)
    corrected, raw, tesseract = ErrorCount(), ErrorCount(), ErrorCount()
    for doc in documents(data):
        truth = gt_path(doc, "txt").read_text(encoding="utf-8")
        score(corrected, truth, (out / "hcrbatch" / f"{doc.stem}.txt").read_text(encoding="utf-8"))
        words = pd.read_csv(out / "hcrbatch" / f"{doc.stem}.csv", keep_default_na=False)
        score(raw, truth, raw_text(words))
        sidecar = out / "ocrmypdf" / f"{doc.stem}.txt"
        score(tesseract, truth, sidecar.read_text(encoding="utf-8") if sidecar.exists() else "")
    boxes = segmentation_f1(data)

    command = "python benchmarks/run.py " + ("--quick" if args.quick else f"--pages {pages}")
    command += f" --seed {args.seed} --workers {args.workers}" + (" --hand gan" if args.hand == "gan" else "")
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    speed = {name: pages / seconds * 60 for name, (seconds, _, _) in (("hcrbatch", ours), ("ocrmypdf", theirs))}
    lines = [
        f"`{command}` on {dt.date.today()}, {machine}; {pages} pages, {raw.chars:,} characters:",
        "",
        "| tool | CER | WER | pages/min | peak MiB | exit |",
        "|---|---|---|---|---|---|",
        f"| hcrbatch, raw CNN (`raw_text`) | {raw.cer:.2%} | {raw.wer:.2%} | | | |",
        f"| hcrbatch (lexicon-corrected, default) | {corrected.cer:.2%} | {corrected.wer:.2%} "
        f"| {speed['hcrbatch']:.1f} | {ours[1] / 2**20:.0f} | {ours[2]} |",
        f"| OCRmyPDF {ocrmypdf_version()} + Tesseract (eng) | {tesseract.cer:.2%} | {tesseract.wer:.2%} "
        f"| {speed['ocrmypdf']:.1f} | {theirs[1] / 2**20:.0f} | {theirs[2]} |",
        "",
        f"hcrbatch is {speed['hcrbatch'] / speed['ocrmypdf']:.1f}× OCRmyPDF's pages/minute.",
        "",
        "| hcrbatch segmentation | precision | recall | F1 |",
        "|---|---|---|---|",
        *(f"| {kind}s | {p:.3f} | {r:.3f} | {f:.3f} |" for kind, (p, r, f) in boxes.items()),
        "",
        "Most frequent hcrbatch errors after correction (truth → read): "
        + ", ".join(f"`{t or '∅'}`→`{h or '∅'}` {n}" for (t, h), n in corrected.confusions.most_common(10)),
    ]
    print("\n".join(lines))
    if args.record:
        record(command, "\n".join(lines[2:]), f"; {pages} pages, {raw.chars:,} characters")


def ocrmypdf_version() -> str:
    done = subprocess.run(["ocrmypdf", "--version"], capture_output=True, text=True)
    return done.stdout.strip() or "?"


if __name__ == "__main__":
    main()

"""Time `hcrbatch run` over a generated folder: pages per minute and peak memory.

    .venv/bin/python benchmarks/throughput.py --pages 40 [--workers N] [--record]

Pages are hand-printed letters made by hcrbatch.synth from Debian's handwriting fonts (apt-get
install fonts-dkg-handwriting fonts-sjfonts fonts-breip), 300 DPI, words drawn from wordfreq's
English list, bundled as 10-page PDFs. Generated data lives in benchmarks/data/ (ignored by git).
Peak memory is the largest summed RSS of hcrbatch and its worker processes, sampled every 0.1 s.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import os
import platform
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen.canvas import Canvas
from wordfreq import top_n_list

from hcrbatch.synth import render_page
from hcrbatch.train.fonts import handwriting_fonts

HERE = Path(__file__).resolve().parent
PAGES_PER_PDF = 10


def make_folder(folder: Path, pages: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    words = [w for w in top_n_list("en", 3000) if w.isalpha()]
    fonts = [str(f) for f in handwriting_fonts() if "Ecolier" not in f.name]  # Ecolier is joined cursive
    if not fonts:
        sys.exit("no handwriting fonts: apt-get install fonts-dkg-handwriting fonts-sjfonts fonts-breip")
    folder.mkdir(parents=True, exist_ok=True)
    for doc in range(0, pages, PAGES_PER_PDF):
        canvas = Canvas(str(folder / f"doc-{doc // PAGES_PER_PDF:03d}.pdf"), invariant=1)
        for _ in range(min(PAGES_PER_PDF, pages - doc)):
            lines = [" ".join(rng.choice(words, int(rng.integers(4, 8)))) for _ in range(22)]
            page = render_page(lines, fonts[int(rng.integers(len(fonts)))], rng, dpi=300)
            buffer = io.BytesIO()
            Image.fromarray(page.pixels).save(buffer, "JPEG", quality=85)
            buffer.seek(0)
            canvas.setPageSize((612, 792))
            canvas.drawImage(ImageReader(buffer), 0, 0, 612, 792)
            canvas.showPage()
        canvas.save()


def tree_rss(pid: int) -> int:
    """Resident bytes of a process and all its descendants, from /proc."""
    total, stack = 0, [pid]
    while stack:
        current = stack.pop()
        try:
            with open(f"/proc/{current}/status") as fh:
                for line in fh:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as fh:
                    stack.extend(int(c) for c in fh.read().split())
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


def timed_run(cmd: list[str]) -> tuple[float, int, int]:
    peak = 0
    started = time.monotonic()
    proc = subprocess.Popen(cmd)

    def sample() -> None:
        nonlocal peak
        while proc.poll() is None:
            peak = max(peak, tree_rss(proc.pid))
            time.sleep(0.1)

    sampler = threading.Thread(target=sample)
    sampler.start()
    code = proc.wait()
    sampler.join()
    return time.monotonic() - started, peak, code


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=40)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--record", action="store_true", help="append the result to benchmarks/RESULTS.md")
    args = parser.parse_args()

    data = HERE / "data" / f"throughput-{args.pages}p-seed{args.seed}"
    if not data.exists():
        make_folder(data, args.pages, args.seed)
    out = HERE / "out" / data.name
    shutil.rmtree(out, ignore_errors=True)
    cmd = [sys.executable, "-m", "hcrbatch", "run", str(data), str(out), "--workers", str(args.workers), "-q"]
    seconds, peak, code = timed_run(cmd)
    report = pd.read_csv(out / "hcrbatch-report.csv")
    pages = int(report["pages"].sum())
    row = (
        f"| {dt.date.today()} | {pages} | {args.workers} | {seconds:.1f} | {pages / seconds * 60:.1f} "
        f"| {peak / 2**20:.0f} | exit {code} |"
    )
    print("| date | pages | workers | seconds | pages/min | peak MiB (all processes) | status |")
    print(row)
    if args.record:
        command = f"python benchmarks/throughput.py --pages {args.pages} --workers {args.workers}"
        machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
        with open(HERE / "RESULTS.md", "a", encoding="utf-8") as fh:
            fh.write(f"\n`{command}` on {machine}:\n\n")
            fh.write("| date | pages | workers | seconds | pages/min | peak MiB (all processes) | status |\n")
            fh.write("|---|---|---|---|---|---|---|\n" + row + "\n")


if __name__ == "__main__":
    main()

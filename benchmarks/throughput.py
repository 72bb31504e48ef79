"""Time `hcrbatch run` over a generated folder: pages per minute and peak memory.

    .venv/bin/python benchmarks/throughput.py --pages 40 [--workers N] [--engine auto|glyph|line] [--record]

Pages come from benchmarks/make_pages.py (hand-printed letter-size pages of English text as
multi-page PDF, multi-page TIFF and PNG; apt-get install fonts-breip fonts-sjfonts). Generated data
lives in benchmarks/data/ (ignored by git).
Peak memory is the largest summed PSS of hcrbatch and its worker processes, sampled every 0.1 s.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from results import record  # noqa: E402
from make_pages import make_pages  # noqa: E402


def _command_line(pid: int) -> bytes:
    with open(f"/proc/{pid}/cmdline", "rb") as fh:
        return fh.read()


def tree_rss(pid: int) -> int:
    """Memory of a process and all its descendants, from /proc: their proportional set sizes (PSS),
    so that pages they share are counted once. RSS would count a forked child (pdftoppm, between
    fork and exec) as a second copy of its parent; and PSS too, where the parent was read before the
    fork and the child after it (its share then counted twice): a child still running its parent's
    command line has not yet become the program it forks for, and is left out."""
    total, stack = 0, [(pid, b"")]
    while stack:
        current, parent_command = stack.pop()
        try:
            command = _command_line(current)
            if command == parent_command:
                continue
            with open(f"/proc/{current}/smaps_rollup") as fh:
                for line in fh:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1]) * 1024
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as fh:
                    stack.extend((int(c), command) for c in fh.read().split())
        except (FileNotFoundError, ProcessLookupError, PermissionError):
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
    parser.add_argument("--pages-per-doc", type=int, default=5, help="pages per PDF/TIFF document")
    parser.add_argument("--engine", default="auto", choices=["auto", "glyph", "line"], help="hcrbatch run --engine")
    parser.add_argument("--record", action="store_true", help="append the result to the day's log, benchmarks/log/")
    args = parser.parse_args()

    suffix = "" if args.pages_per_doc == 5 else f"-{args.pages_per_doc}per-doc"
    data = HERE / "data" / f"pages-{args.pages}p-seed{args.seed}{suffix}"
    if not data.exists():
        make_pages(data, args.pages, args.seed, args.pages_per_doc)
    out = HERE / "out" / data.name
    shutil.rmtree(out, ignore_errors=True)
    cmd = [sys.executable, "-m", "hcrbatch", "run", str(data), str(out), "--workers", str(args.workers), "-q",
           "--engine", args.engine]  # fmt: skip
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
        command += f" --pages-per-doc {args.pages_per_doc}" if args.pages_per_doc != 5 else ""
        command += f" --engine {args.engine}" if args.engine != "auto" else ""
        header = "| date | pages | workers | seconds | pages/min | peak MiB (all processes) | status |\n|---|---|---|---|---|---|---|"
        record(command, f"{header}\n{row}")


if __name__ == "__main__":
    main()

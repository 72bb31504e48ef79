"""Pages per minute and peak memory of `hcrbatch run` on real scanned letters, beside OCRmyPDF on
the same pages in the same run: as a folder of JPEG pages and as one long PDF of them (img2pdf,
JPEGs embedded as they are, 200 dpi as scanned), at 1 and 2 workers, on the local pool, as threads of
one process (`--workers 1 --threads N`) and on a dask cluster.

    .venv/bin/python benchmarks/scale_out.py [--pages 20] [--runs local,threads,dask,ocrmypdf] [--record]

Pages: the first --pages Hooker letter pages of ../shared/data/hooker-pages in name order (speed
only; nothing is scored). `dask`: a scheduler and two single-threaded workers on 127.0.0.1, started
before the clock (as a cluster already running would be) and counted in peak memory; their models
load inside the timed run, as the local workers' do. OCRmyPDF 14 (apt `ocrmypdf`), `--output-type
pdf` (hcrbatch writes no PDF/A either): the folder as one `ocrmypdf -j 1` process a page, N at once;
the PDF as `ocrmypdf -j N`. Peak memory is the largest summed PSS (shared pages counted once) of
every process the run uses, sampled every 0.1 s.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from results import record  # noqa: E402
from throughput import tree_rss  # noqa: E402

PAGES = HERE.parent.parent / "shared" / "data" / "hooker-pages"
DASK = str(Path(sys.executable).parent / "dask")
DPI = 200  # the Hooker scans' resolution (their JPEGs carry none)
HEADER = "| input | run | workers | pages | seconds | pages/min | peak MiB (all processes, PSS) | status |\n|---|---|---|---|---|---|---|---|"


def timed(
    cmd: list[str] | list[list[str]], parallel: int = 1, also: tuple[int, ...] = (), env: dict | None = None
) -> tuple[float, int, int]:
    """Seconds, peak summed RSS (with the processes `also`, e.g. cluster workers) and the worst exit
    status of `cmd`, or of the commands in `cmd` run `parallel` at a time."""
    commands = cmd if isinstance(cmd[0], list) else [cmd]
    peak, worst, running = 0, 0, []
    started = time.monotonic()
    queue = list(commands)
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, sum(tree_rss(p.pid) for p in running) + sum(tree_rss(pid) for pid in also))
            time.sleep(0.1)

    sampler = threading.Thread(target=sample)
    sampler.start()
    while queue or running:
        while queue and len(running) < parallel:
            running.append(
                subprocess.Popen(queue.pop(0), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
            )
        time.sleep(0.05)
        for process in [p for p in running if p.poll() is not None]:
            worst = max(worst, process.returncode)
            running.remove(process)
    done.set()
    sampler.join()
    return time.monotonic() - started, peak, worst


class DaskCluster:
    """A scheduler and `workers` single-threaded workers on 127.0.0.1, stopped on exit."""

    def __init__(self, workers: int, scratch: Path) -> None:
        address_file = scratch / "scheduler.json"
        self.processes = [subprocess.Popen([DASK, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                                            "--scheduler-file", str(address_file)], stderr=subprocess.DEVNULL,
                                           start_new_session=True)]  # fmt: skip
        self.processes += [
            subprocess.Popen(
                [
                    DASK,
                    "worker",
                    "--scheduler-file",
                    str(address_file),
                    "--nthreads",
                    "1",
                    "--no-dashboard",
                    "--host",
                    "127.0.0.1",
                ],
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )  # fmt: skip
            for _ in range(workers)
        ]
        from distributed import Client

        while not address_file.exists():
            time.sleep(0.2)
        with Client(scheduler_file=str(address_file), timeout="60s") as client:
            client.wait_for_workers(workers, timeout=120)
        self.address = json.loads(address_file.read_text())["address"]

    def pids(self) -> tuple[int, ...]:
        return tuple(p.pid for p in self.processes)

    def close(self) -> None:
        for process in self.processes:
            os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=20)
    parser.add_argument("--runs", default="local,threads,dask,ocrmypdf", help="of local, threads, dask, ocrmypdf")
    parser.add_argument("--workers", default="1,2", help="worker counts to run")
    parser.add_argument(
        "--baseline", type=Path, help="also the local pool of another checkout (git worktree add DIR REV)"
    )
    parser.add_argument("--record", action="store_true", help="append the table to the day's log, benchmarks/log/")
    args = parser.parse_args()
    runs = args.runs.split(",")
    counts = [int(n) for n in args.workers.split(",")]

    scratch = Path(tempfile.mkdtemp(prefix="hcrbatch-scale-"))
    folder = scratch / "folder"
    folder.mkdir()
    for image in sorted(PAGES.glob("*.jpg"))[: args.pages]:
        shutil.copy(image, folder / image.name)  # a scratch copy, outside the project
    document = scratch / "pdf" / "letters.pdf"
    document.parent.mkdir()
    subprocess.run(
        ["img2pdf", "--imgsize", f"{DPI}dpi", "--output", str(document), *sorted(map(str, folder.glob("*.jpg")))],
        check=True,
    )
    rows = []

    def row(kind: str, run: str, workers: int, out: Path | None, seconds: float, peak: int, code: int) -> None:
        pages = int(pd.read_csv(out / "hcrbatch-report.csv")["pages"].sum()) if out else args.pages
        rows.append(f"| {kind} | {run} | {workers} | {pages} | {seconds:.1f} | {pages / seconds * 60:.1f} "
                    f"| {peak / 2**20:.0f} | exit {code} |")  # fmt: skip
        print(rows[-1], flush=True)

    print(HEADER, flush=True)
    for kind, inputs in (("folder of JPEG pages", folder), ("one PDF", document.parent)):
        for workers in counts:
            if "local" in runs:
                out = scratch / f"out-{kind[:3]}-local-{workers}"
                cmd = [
                    sys.executable,
                    "-m",
                    "hcrbatch",
                    "run",
                    str(inputs),
                    str(out),
                    "-q",
                    "--dpi",
                    str(DPI),
                    "--workers",
                    str(workers),
                ]
                row(kind, "hcrbatch, local pool", workers, out, *timed(cmd))
            if "threads" in runs and workers > 1:  # one process reading `workers` pages at once
                out = scratch / f"out-{kind[:3]}-threads-{workers}"
                cmd = [sys.executable, "-m", "hcrbatch", "run", str(inputs), str(out), "-q", "--dpi", str(DPI),
                       "--workers", "1", "--threads", str(workers)]  # fmt: skip
                row(kind, "hcrbatch, one process, --threads N", workers, out, *timed(cmd))
            if args.baseline:
                out = scratch / f"out-{kind[:3]}-baseline-{workers}"
                cmd = [sys.executable, "-m", "hcrbatch", "run", str(inputs), str(out), "-q", "--dpi", str(DPI),
                       "--workers", str(workers)]  # fmt: skip
                revision = subprocess.run(["git", "-C", str(args.baseline), "rev-parse", "--short", "HEAD"],
                                          capture_output=True, text=True).stdout.strip()  # fmt: skip
                env = {**os.environ, "PYTHONPATH": str(args.baseline)}
                row(kind, f"hcrbatch {revision}, local pool", workers, out, *timed(cmd, env=env))
            if "dask" in runs:
                cluster = DaskCluster(workers, scratch)
                try:
                    out = scratch / f"out-{kind[:3]}-dask-{workers}"
                    cmd = [sys.executable, "-m", "hcrbatch", "run", str(inputs), str(out), "-q", "--dpi", str(DPI), "--executor", "dask",
                           "--scheduler", cluster.address]  # fmt: skip
                    row(kind, "hcrbatch, dask cluster", workers, out, *timed(cmd, also=cluster.pids()))
                finally:
                    cluster.close()
            if "ocrmypdf" in runs:
                target = scratch / f"ocr-{kind[:3]}-{workers}"
                target.mkdir()
                if inputs == folder:
                    cmds = [["ocrmypdf", "-q", "-j", "1", "--output-type", "pdf", "--image-dpi", str(DPI), str(image),
                             str(target / f"{image.stem}.pdf")] for image in sorted(folder.glob("*.jpg"))]  # fmt: skip
                    row(kind, "OCRmyPDF, a process a page", workers, None, *timed(cmds, parallel=workers))
                else:
                    cmd = ["ocrmypdf", "-q", "-j", str(workers), "--output-type", "pdf", str(document),
                           str(target / "letters.pdf")]  # fmt: skip
                    row(kind, "OCRmyPDF -j N", workers, None, *timed(cmd))
    shutil.rmtree(scratch, ignore_errors=True)
    if args.record:
        command = f"python benchmarks/scale_out.py --pages {args.pages} --runs {args.runs} --workers {args.workers}"
        command += f" --baseline DIR (git worktree of {revision})" if args.baseline else ""
        record(command, f"{HEADER}\n" + "\n".join(rows))


if __name__ == "__main__":
    main()

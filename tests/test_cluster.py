"""`--executor dask`: a real scheduler and two workers on 127.0.0.1, started from this venv and
stopped by PID; the outputs equal a local run's, and a worker that dies costs only its task."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from conftest import draw_page, write_pdf, write_png
from hcrbatch.cluster import Cluster
from hcrbatch.errors import ConfigError, ExitCode

distributed = pytest.importorskip("distributed", reason="the dask extra is not installed (pip install -e '.[dask]')")

DASK = str(Path(sys.executable).parent / "dask")


def _wait_for(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(0.2)


@pytest.fixture(scope="module")
def scheduler(tmp_path_factory):
    """A scheduler and two single-threaded workers (each under a nanny that restarts it if it dies);
    a task is retried once after a worker dies under it, then given up as KilledWorker."""
    folder = tmp_path_factory.mktemp("dask")
    address_file = folder / "scheduler.json"
    env = {**os.environ, "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "1"}
    with open(folder / "dask.log", "w") as logs:
        scheduler = subprocess.Popen(
            [DASK, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard", "--scheduler-file",
             str(address_file)], env=env, stdout=logs, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        workers = [
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
                    "--death-timeout",
                    "60",
                ],
                env=env,
                stdout=logs,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
            for _ in range(2)
        ]
        try:
            _wait_for(address_file.exists, 60, "the scheduler did not start")
            client = distributed.Client(scheduler_file=str(address_file), timeout="30s")
            client.wait_for_workers(2, timeout=60)
            yield client
            client.close()
        finally:
            for process in [*workers, scheduler]:
                os.killpg(process.pid, signal.SIGTERM)
            for process in [*workers, scheduler]:
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)


def _run(tiny_models_dir, folder: Path, out: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "hcrbatch", "run", str(folder), str(out), "-q", "--models-dir",
           str(tiny_models_dir), "--model", "tiny", *args]  # fmt: skip
    return subprocess.run(cmd, capture_output=True, text=True, timeout=240)


def _readings(out: Path) -> dict[str, str]:
    """What a run read, file by file: CSV and text as written, and the PDFs' text layers."""
    found = {path.relative_to(out).as_posix(): path.read_text() for path in out.glob("*.csv") if path.name[0] != "h"}
    found |= {path.relative_to(out).as_posix(): path.read_text() for path in out.glob("*.txt")}
    for pdf in out.glob("*.pdf"):
        found[pdf.name] = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True).stdout
    return found


@pytest.fixture
def folder(tmp_path) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    write_pdf(folder / "long.pdf", [draw_page([f"PAGE {n}", "the quick fox"]) for n in range(3)])
    write_png(folder / "note.png", draw_page(["HELLO WORLD"]))
    return folder


def test_a_dask_run_reads_as_a_local_run_does(scheduler, run_cli, tiny_models_dir, folder, tmp_path):
    assert run_cli(folder, tmp_path / "local").exit_code == ExitCode.OK  # --workers 1, in this process
    address = scheduler.scheduler.address
    remote = _run(tiny_models_dir, folder, tmp_path / "dask", "--executor", "dask", "--scheduler", address)
    assert remote.returncode == ExitCode.OK, remote.stderr
    assert remote.stderr == ""  # -q
    assert _readings(tmp_path / "dask") == _readings(tmp_path / "local")
    report = pd.read_csv(tmp_path / "dask" / "hcrbatch-report.csv")
    assert sorted(report["path"]) == ["long.pdf", "note.png"] and set(report["status"]) == {"ok"}
    assert report.set_index("path").loc["long.pdf", "pages"] == 3
    assert not list((tmp_path / "dask").rglob("page-*"))  # checkpoints gone once gathered

    again = _run(tiny_models_dir, folder, tmp_path / "dask", "--executor", "dask", "--scheduler", address)
    assert again.returncode == ExitCode.OK
    assert set(pd.read_csv(tmp_path / "dask" / "hcrbatch-report.csv")["status"]) == {"skipped"}


def test_a_worker_killed_mid_run_costs_only_its_task(scheduler, tiny_models_dir, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    for k in range(3):
        write_pdf(folder / f"long{k}.pdf", [draw_page([f"PAGE {n}"]) for n in range(4)])
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "hcrbatch", "run", str(folder), str(out), "-q", "--models-dir",
           str(tiny_models_dir), "--model", "tiny", "--executor", "dask", "--scheduler", scheduler.scheduler.address]  # fmt: skip
    run = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
    _wait_for(lambda: any(scheduler.processing().values()) or run.poll() is not None, 120, "no task started")
    busy = [worker for worker, keys in scheduler.processing().items() if keys]
    if busy:
        pid = scheduler.run(os.getpid, workers=busy[:1])[busy[0]]
        os.kill(pid, signal.SIGKILL)  # as the out-of-memory killer would; its nanny starts another
    _, stderr = run.communicate(timeout=240)
    assert run.returncode == ExitCode.OK, stderr
    report = pd.read_csv(out / "hcrbatch-report.csv")
    assert sorted(report["path"]) == [f"long{k}.pdf" for k in range(3)]
    assert set(report["status"]) == {"ok"} and set(report["pages"]) == {4}
    assert busy, "the run ended before a worker could be killed"


def test_a_task_that_keeps_killing_workers_becomes_its_row(scheduler, tmp_path):
    results = {}

    def on_result(job, result):
        results[job] = result
        return True

    def kill_own_worker(job: int) -> int:  # a local function: sent by value, as the workers cannot import the tests
        if job == 2:
            os._exit(9)  # as the out-of-memory killer would end it
        return job * 10

    cluster = Cluster(scheduler.scheduler.address, [tmp_path], tmp_path)
    with cluster:
        cluster.run([1, 2, 3], kill_own_worker, on_result, on_crash=lambda job: -1)
    assert results == {1: 10, 2: -1, 3: 30}
    scheduler.wait_for_workers(2, timeout=60)  # the nannies restart what the task killed


def test_workers_that_cannot_see_the_folders_are_refused_before_any_task(scheduler, tmp_path):
    with pytest.raises(ConfigError, match="do not see .*same paths"):
        Cluster(scheduler.scheduler.address, [tmp_path / "only-here"], tmp_path)


def test_the_dask_executor_without_a_scheduler_is_a_usage_error(run_cli, tmp_path):
    write_png(tmp_path / "in" / "note.png", draw_page(["NOTE"]))
    result = run_cli(tmp_path / "in", tmp_path / "out", "--executor", "dask")
    assert result.exit_code == ExitCode.USAGE and "--scheduler" in result.output

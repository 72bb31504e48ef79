"""A batch as tasks: a long document's pages spread over the workers, and still one row and one
set of outputs a document, resumable like a run of whole files."""

import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path, PurePosixPath

import pandas as pd

from conftest import draw_page, write_pdf, write_png
from hcrbatch.discover import InputFile
from hcrbatch.elements import FileOutcome
from hcrbatch.errors import ExitCode
from hcrbatch.pipeline import Task, TaskLedger, plan_tasks


def _input(path: Path) -> InputFile:
    return InputFile(path, PurePosixPath(path.name))


def test_a_long_document_is_cut_into_page_tasks_only_when_there_are_workers_to_share_it(tmp_path):
    long = _input(write_pdf(tmp_path / "long.pdf", [draw_page([f"P{n}"], size=(300, 200)) for n in range(9)]))
    note = _input(write_png(tmp_path / "note.png", draw_page(["ONE"], size=(300, 200))))
    stems = {long: "long", note: "note"}
    assert plan_tasks([long, note], stems, 1) == [Task(long, "long"), Task(note, "note")]
    tasks = plan_tasks([long, note], stems, 2)
    assert [task.pages for task in tasks] == [(0, 1), (2, 3), (4, 5), (6, 7), (8,), None]
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.4 not really")
    assert plan_tasks([_input(broken)], {_input(broken): "broken"}, 2) == [Task(_input(broken), "broken")]


def test_a_document_read_as_page_tasks_is_one_row_and_gathered_once_all_its_pages_are_read(tmp_path):
    long, other = _input(tmp_path / "long.pdf"), _input(tmp_path / "other.pdf")
    tasks = [
        Task(long, "long", (0, 1)),
        Task(long, "long", (2,)),
        Task(other, "other", (0,)),
        Task(other, "other", (1,)),
    ]
    rows, pages = [], []
    ledger = TaskLedger(tasks, lambda row: rows.append(row) or True, pages.append)

    assert ledger.on_result(tasks[0], FileOutcome("long.pdf", "ok", pages=2, seconds=2.5))
    assert ledger.then(tasks[0], FileOutcome("long.pdf", "ok", pages=2)) == []
    assert ledger.on_result(tasks[1], FileOutcome("long.pdf", "ok", pages=1, seconds=1.25))
    assert ledger.then(tasks[1], FileOutcome("long.pdf", "ok", pages=1)) == [Task(long, "long", gather=True)]
    assert rows == [] and pages == [2, 1]
    gathered = FileOutcome("long.pdf", "ok", pages=3, words=6, seconds=0.05)
    assert ledger.on_result(Task(long, "long", gather=True), gathered) and pages == [2, 1]
    assert rows == [replace(gathered, seconds=3.8)]  # the row's seconds are all its tasks', not the gathering's

    crash = ledger.on_crash(tasks[2])
    assert crash.status == "failed" and "page 1 of this file" in crash.reason
    ledger.on_result(tasks[2], crash)
    ledger.on_result(tasks[3], FileOutcome("other.pdf", "ok", pages=1))
    assert (
        ledger.then(tasks[3], FileOutcome("other.pdf", "ok", pages=1)) == []
    )  # a document that failed is not gathered
    assert rows == [replace(gathered, seconds=3.8), crash]


def test_a_run_killed_mid_document_with_page_tasks_resumes_to_the_same_outputs(run_cli, tiny_models_dir, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    write_pdf(folder / "long.pdf", [draw_page([f"PAGE {n}", "the quick fox"]) for n in range(4)])
    args = ["-q", "--models-dir", str(tiny_models_dir), "--model", "tiny"]
    assert run_cli(folder, tmp_path / "whole").exit_code == ExitCode.OK  # --workers 1, in this process

    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "hcrbatch", "run", str(folder), str(out), "--workers", "2", *args]
    proc = subprocess.Popen(cmd)
    deadline = time.monotonic() + 120
    while len(list(out.rglob("page-*.json"))) < 2 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    rerun = subprocess.run(cmd, capture_output=True, text=True)
    assert rerun.returncode == ExitCode.OK, rerun.stderr
    for name in ["long.csv", "long.txt"]:
        assert (out / name).read_text() == (tmp_path / "whole" / name).read_text(), name
    assert pd.read_csv(out / "hcrbatch-report.csv")["pages"].tolist() == [4]
    assert not list(out.rglob("page-*")) and not list(out.rglob("*.part"))

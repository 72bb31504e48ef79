"""`hcrbatch run` through Click: outputs, report rows, exit codes, skip, resume, lock, workers."""

import json
import logging
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from filelock import FileLock

from conftest import blank_paper, draw_page, unquote, write_pdf, write_png
from hcrbatch.cli import cli, setup_logging
from hcrbatch.errors import ExitCode
from hcrbatch.pipeline import DocumentProcessor

REPORT = "hcrbatch-report.csv"
REVIEW = "hcrbatch-review.html"


def report(out) -> pd.DataFrame:
    return pd.read_csv(out / REPORT, keep_default_na=False).set_index("path")


def test_outputs_for_every_input_and_a_clean_report(run_cli, sample_folder, tmp_path):
    out = tmp_path / "out"
    result = run_cli(sample_folder, out)
    assert result.exit_code == ExitCode.OK, result.output
    for stem in ["letter", "sub/note", "sub/register"]:
        for ext in ("pdf", "txt", "csv", "alto.xml"):
            assert (out / f"{stem}.{ext}").is_file(), f"{stem}.{ext}"
    rows = report(out)
    assert list(rows["status"]) == ["ok", "ok", "ok"]
    assert rows.loc["letter.pdf", "pages"] == 2 and rows.loc["sub/register.tif", "pages"] == 2
    assert (rows["words"] > 0).all() and (rows["chars"] >= rows["words"]).all()
    words = pd.read_csv(out / "sub/note.csv", keep_default_na=False)
    assert set(words.columns) >= {"page", "line", "word", "left", "top", "right", "bottom", "raw_text", "text",
                                  "mean_confidence", "min_confidence"}  # fmt: skip
    assert words["mean_confidence"].between(0, 1).all()
    assert rows.loc["sub/note.png", "words"] == len(words)
    text = subprocess.run(["pdftotext", str(out / "sub/note.pdf"), "-"], capture_output=True, text=True).stdout
    assert text.split() == [unquote(w) for w in words["text"]]
    assert not list(out.rglob("*.part"))


def test_formats_choose_the_outputs_and_a_rerun_asking_for_more_writes_them(
    run_cli, sample_folder, tmp_path, monkeypatch
):
    out = tmp_path / "out"
    assert run_cli(sample_folder, out, "--formats", "txt,page").exit_code == ExitCode.OK
    assert {p.name for p in out.iterdir() if p.is_file()} == {REPORT, REVIEW, "letter.0001.page.xml",
                                                             "letter.0002.page.xml", "letter.txt"}  # fmt: skip
    assert {p.name for p in (out / "sub").iterdir()} == {"note.page.xml", "note.txt", "register.0001.page.xml",
                                                        "register.0002.page.xml", "register.txt"}  # fmt: skip
    assert run_cli(sample_folder, out, "--formats", "page").exit_code == ExitCode.OK
    assert set(report(out)["status"]) == {"skipped"}
    monkeypatch.setenv("HCRBATCH_RUN_FORMATS", "alto,hocr")
    assert run_cli(sample_folder, out).exit_code == ExitCode.OK
    assert set(report(out)["status"]) == {"ok"}
    assert (out / "letter.alto.xml").is_file() and (out / "sub/note.hocr").is_file()
    assert not (out / "letter.pdf").exists()


def test_an_output_folder_holding_the_input_folder_is_refused_and_nothing_in_it_is_touched(run_cli, tmp_path):
    scans = tmp_path / "work" / "scans"
    scans.mkdir(parents=True)
    write_png(scans / "a.png", draw_page(["HELLO"]))
    (scans / ".draft.part").write_text("mine")
    (scans / "notes.part").write_text("mine too")
    for out in (tmp_path / "work", scans):
        result = run_cli(scans, out)
        assert result.exit_code == ExitCode.USAGE and "outside the input folder" in result.output
    assert sorted(p.name for p in scans.iterdir()) == [".draft.part", "a.png", "notes.part"]


def test_inputs_whose_outputs_would_share_a_name_each_get_their_own(run_cli, tmp_path):
    scans = tmp_path / "in"
    scans.mkdir()
    for name in ("a.png", "a.png.pdf", "hcrbatch-report.png"):
        write_png(scans / name, draw_page(["HELLO"])) if name.endswith(".png") else write_pdf(
            scans / name, [draw_page(["PDF"])]
        )
    write_pdf(scans / "a.pdf", [draw_page(["OTHER"])])
    out = tmp_path / "out"
    assert run_cli(scans, out, "--formats", "txt").exit_code == ExitCode.OK
    assert sorted(p.name for p in out.glob("*.txt")) == [
        "a.pdf.txt",
        "a.png.pdf.txt",
        "a.png.txt",
        "hcrbatch-report.png.txt",
    ]
    assert set(report(out)["status"]) == {"ok"} and len(report(out)) == 4
    assert (out / "a.pdf.txt").read_text() != (out / "a.png.pdf.txt").read_text()


def test_a_file_name_as_long_as_the_file_system_allows_is_read(run_cli, tmp_path):
    scans = tmp_path / "in"
    scans.mkdir()
    write_png(scans / ("x" * 246 + ".png"), draw_page(["HELLO"]))
    result = run_cli(scans, tmp_path / "out", "--formats", "txt,csv,alto")
    assert result.exit_code == ExitCode.OK and set(report(tmp_path / "out")["status"]) == {"ok"}


def test_the_report_keeps_the_rows_of_inputs_a_glob_run_did_not_reach(run_cli, sample_folder, tmp_path):
    out = tmp_path / "out"
    assert run_cli(sample_folder, out).exit_code == ExitCode.OK
    first = report(out)
    assert run_cli(sample_folder, out, "--glob", "sub/*", "--force").exit_code == ExitCode.OK
    rows = report(out)
    assert list(rows.index) == list(first.index) == ["letter.pdf", "sub/note.png", "sub/register.tif"]
    assert rows.loc["letter.pdf"].equals(first.loc["letter.pdf"])  # as the first run left it


def test_a_file_name_that_is_not_utf8_is_read_and_reported_with_its_odd_bytes_escaped(run_cli, tmp_path):
    scans = tmp_path / "in"
    scans.mkdir()
    write_png(scans / os.fsdecode(b"caf\xe9.png"), draw_page(["HELLO"]))
    out = tmp_path / "out"
    assert run_cli(scans, out, "--formats", "txt,csv,alto").exit_code == ExitCode.OK
    assert report(out).loc["caf\\xe9.png", "status"] == "ok"
    assert b"<fileName>caf\\xe9.png</fileName>" in (out / os.fsdecode(b"caf\xe9.alto.xml")).read_bytes()
    assert 'href="caf%E9.txt"' in (out / REVIEW).read_text(encoding="utf-8")  # the review links its bytes


def test_bad_inputs_become_failed_rows_and_the_batch_goes_on(run_cli, tmp_path):
    folder = tmp_path / "in"
    write_png(folder / "good.png", draw_page(["GOOD PAGE"]))
    (folder / "empty.pdf").write_bytes(b"")
    (folder / "text.png").write_text("this is not a picture")
    good_pdf = write_pdf(tmp_path / "x.pdf", [draw_page(["A"])]).read_bytes()
    (folder / "corrupt.pdf").write_bytes(good_pdf[:200])
    write_pdf(folder / "locked.pdf", [draw_page(["A"])], encrypt="pw")
    out = tmp_path / "out"
    result = run_cli(folder, out, "--max-pixels", "50000000")
    assert result.exit_code == ExitCode.SOME_FILES_FAILED
    rows = report(out)
    assert rows.loc["good.png", "status"] == "ok"
    assert rows.loc["empty.pdf", "reason"] == "empty file (0 bytes)"
    assert "not an image" in rows.loc["text.png", "reason"]
    assert "unreadable PDF" in rows.loc["corrupt.pdf", "reason"]
    assert "encrypted" in rows.loc["locked.pdf", "reason"]
    assert (rows.drop(index="good.png")["status"] == "failed").all()
    assert all("\n" not in r for r in rows["reason"])
    assert not (out / "empty.pdf").exists() and not (out / "text.pdf").exists()


def test_a_blank_back_page_reads_as_empty(run_cli, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    write_pdf(folder / "letter.pdf", [draw_page(["DEAR SIR"]), blank_paper()])
    out = tmp_path / "out"
    assert run_cli(folder, out).exit_code == ExitCode.OK
    assert report(out).loc["letter.pdf", "pages"] == 2
    words = pd.read_csv(out / "letter.csv", keep_default_na=False)
    assert len(words) > 0 and set(words["page"]) == {1}  # no specks of paper read as words
    assert (out / "letter.txt").read_text().count("\f") == 1


def test_inputs_left_out_are_skipped_rows_with_their_reason(run_cli, tmp_path):
    write_png(tmp_path / "in" / "note.png", draw_page(["NOTE"]))
    write_png(tmp_path / "elsewhere" / "private.png", draw_page(["PRIVATE"]))
    os.symlink(tmp_path / "elsewhere" / "private.png", tmp_path / "in" / "shortcut.png")
    assert run_cli(tmp_path / "in", tmp_path / "out").exit_code == ExitCode.OK  # left out, not failed
    rows = report(tmp_path / "out")
    assert rows.loc["note.png", "status"] == "ok"
    assert (
        rows.loc["shortcut.png", "status"] == "skipped"
        and "outside the input folder" in rows.loc["shortcut.png", "reason"]
    )
    assert not (tmp_path / "out" / "shortcut.pdf").exists()


def test_too_large_page_fails_with_reason(run_cli, tmp_path):
    write_png(tmp_path / "in" / "big.png", draw_page(["A"]))
    result = run_cli(tmp_path / "in", tmp_path / "out", "--max-pixels", "1000")
    assert result.exit_code == ExitCode.SOME_FILES_FAILED
    assert "too large" in report(tmp_path / "out").loc["big.png", "reason"]


def test_fail_fast_stops_at_the_first_failure(run_cli, tmp_path):
    folder = tmp_path / "in"
    (folder).mkdir()
    (folder / "a-empty.png").write_bytes(b"")
    write_png(folder / "b-good.png", draw_page(["GOOD"]))
    result = run_cli(folder, tmp_path / "out", "--fail-fast")
    assert result.exit_code == ExitCode.SOME_FILES_FAILED
    assert list(report(tmp_path / "out").index) == ["a-empty.png"]


def test_rerun_skips_unchanged_and_redoes_changed_or_forced(run_cli, sample_folder, tmp_path, monkeypatch):
    out = tmp_path / "out"
    assert run_cli(sample_folder, out).exit_code == 0
    first = (out / "letter.csv").read_text()
    with monkeypatch.context() as patched:  # nothing to do: no model is loaded, no worker started
        patched.setattr("hcrbatch.pipeline.build_processor", lambda *a, **k: pytest.fail("a model was loaded"))
        assert run_cli(sample_folder, out, "--workers", "2").exit_code == 0
    assert set(report(out)["status"]) == {"skipped"}
    assert (out / "letter.csv").read_text() == first
    (out / "letter.csv").write_text("edited by hand")  # an output changed since: its input is redone
    run_cli(sample_folder, out)
    assert report(out).loc["letter.pdf", "status"] == "ok" and (out / "letter.csv").read_text() == first
    assert report(out).loc["sub/note.png", "status"] == "skipped"
    write_png(sample_folder / "sub" / "note.png", draw_page(["CHANGED TEXT"]))
    run_cli(sample_folder, out)
    rows = report(out)
    assert rows.loc["sub/note.png", "status"] == "ok" and rows.loc["letter.pdf", "status"] == "skipped"
    run_cli(sample_folder, out, "--word-gap", "0.9")  # other settings: everything is redone
    assert set(report(out)["status"]) == {"ok"}
    run_cli(sample_folder, out, "--word-gap", "0.9", "--force")
    assert set(report(out)["status"]) == {"ok"}


def test_interrupted_run_leaves_no_outputs_and_resumes_from_finished_pages(run_cli, tmp_path, monkeypatch):
    folder = tmp_path / "in"
    folder.mkdir()
    write_pdf(folder / "long.pdf", [draw_page([f"PAGE {n}"]) for n in range(4)])
    out = tmp_path / "out"
    real_read = DocumentProcessor.read_upright
    calls = []

    def interrupted_on_third_page(self, page):
        calls.append(page.index)
        if page.index == 2:
            raise KeyboardInterrupt
        return real_read(self, page)

    monkeypatch.setattr(DocumentProcessor, "read_upright", interrupted_on_third_page)
    assert run_cli(folder, out).exit_code == ExitCode.INTERRUPTED
    assert not (out / "long.pdf").exists() and not list(out.rglob("*.part"))
    assert len(list(out.rglob("page-*.json"))) == len(list(out.rglob("page-*.pdf"))) == 2

    calls.clear()
    monkeypatch.setattr(
        DocumentProcessor, "read_upright", lambda self, page: calls.append(page.index) or real_read(self, page)
    )
    assert run_cli(folder, out).exit_code == ExitCode.OK
    assert calls == [2, 3]  # pages 1 and 2 came from their checkpoints
    assert pd.read_csv(out / "long.csv")["page"].max() == 4
    text = subprocess.run(["pdftotext", str(out / "long.pdf"), "-"], capture_output=True, text=True, check=True)
    assert text.stdout.count("\f") == 4  # every page, the resumed ones included, is in the joined PDF
    assert not list(out.rglob("page-*"))


def test_killed_process_leaves_nothing_half_written_and_a_rerun_completes(tiny_models_dir, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    write_pdf(folder / "long.pdf", [draw_page([f"PAGE {n}"]) for n in range(6)])
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "hcrbatch", "run", str(folder), str(out), "--workers", "1", "-q",
           "--models-dir", str(tiny_models_dir), "--model", "tiny"]  # fmt: skip
    proc = subprocess.Popen(cmd)
    work = out / ".hcrbatch" / "work"
    deadline = time.monotonic() + 120
    while not list(work.rglob("page-*.json")) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    assert not (out / "long.pdf").exists() or (out / ".hcrbatch" / "done" / "long.json").exists()
    rerun = subprocess.run(cmd, capture_output=True, text=True)
    assert rerun.returncode == 0
    assert rerun.stderr == ""  # -q: not even TensorFlow's start-up banners
    assert not list(out.rglob("*.part"))
    assert pd.read_csv(out / "long.csv")["page"].max() == 6


def test_workers_end_when_their_parent_is_killed_outright(tiny_models_dir, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    for k in range(4):
        write_pdf(folder / f"long{k}.pdf", [draw_page([f"PAGE {n}"]) for n in range(8)])
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "hcrbatch", "run", str(folder), str(out), "--workers", "2", "-q",
           "--models-dir", str(tiny_models_dir), "--model", "tiny"]  # fmt: skip
    proc = subprocess.Popen(cmd)
    deadline = time.monotonic() + 120
    while not list((out / ".hcrbatch" / "work").rglob("page-*.json")) and time.monotonic() < deadline:
        time.sleep(0.05)
    children = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout.split()
    assert children
    proc.kill()
    proc.wait()
    deadline = time.monotonic() + 30
    while any(os.path.exists(f"/proc/{pid}") for pid in children) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in children if os.path.exists(f"/proc/{pid}")]


def test_a_config_file_fills_the_defaults_and_the_command_line_wins(tiny_models_dir, tmp_path, monkeypatch):
    write_png(tmp_path / "in" / "note.png", draw_page(["HELLO WORLD"]))
    config = tmp_path / "hcrbatch.toml"
    config.write_text(
        f'[run]\nformats = "txt"\nworkers = 1\nquiet = true\nmodels-dir = "{tiny_models_dir}"\nmodel = "tiny"\n'
        "[gan.sample]\nper-class = 3\n",
        encoding="utf-8",
    )

    def run(*args):
        return CliRunner().invoke(cli, [*args, "run", str(tmp_path / "in"), str(tmp_path / "out")])

    assert run("--config", str(config)).exit_code == ExitCode.OK
    assert {p.name for p in (tmp_path / "out").iterdir() if p.is_file()} == {REPORT, REVIEW, "note.txt"}
    assert CliRunner().invoke(cli, ["--config", str(config), "run", str(tmp_path / "in"), str(tmp_path / "out"),
                                    "--formats", "csv"]).exit_code == ExitCode.OK  # fmt: skip
    assert (tmp_path / "out" / "note.csv").is_file()
    monkeypatch.setenv("HCRBATCH_CONFIG", str(config))  # the file from the environment, as cron sets it
    (tmp_path / "out" / "note.txt").unlink()
    assert run().exit_code == ExitCode.OK and (tmp_path / "out" / "note.txt").is_file()


READING = {  # every reading option, a value that is not its default, and the config field it sets
    "--dpi": ("150", ("ingest", "dpi"), 150),
    "--max-pixels": ("1000", ("ingest", "max_pixels"), 1000),
    "--binarize": ("sauvola", ("preprocess", "binarize"), "sauvola"),
    "--no-deskew": (None, ("preprocess", "deskew"), False),
    "--rotate-pages": (None, ("preprocess", "rotate_pages"), True),
    "--word-gap": ("0.6", ("segment", "word_gap"), 0.6),
    "--model": ("mine", ("recognize", "model"), "mine"),
    "--batch-size": ("7", ("recognize", "batch_size"), 7),
    "--top-k": ("3", ("recognize", "top_k"), 3),
    "--engine": ("line", ("recognize", "engine"), "line"),
    "--line-model": ("l2", ("recognize", "line_model"), "l2"),
    "--line-kind-model": ("none", ("recognize", "line_kind_model"), "none"),
    "--char-lm": ("none", ("recognize", "char_lm"), "none"),
    "--line-batch-size": ("5", ("recognize", "line_batch_size"), 5),
    "--char-prior": ("training", ("recognize", "char_prior"), "training"),
    "--correct": ("none", ("correct", "method"), "none"),
    "--lang": ("fr", ("correct", "lang"), "fr"),
    "--llm-ctx": ("128", ("correct", "llm_ctx"), 128),
    "--llm-threads": ("2", ("correct", "llm_threads"), 2),
    "--llm-gpu-layers": ("-1", ("correct", "llm_gpu_layers"), -1),
    "--llm-threshold": ("0.5", ("correct", "llm_threshold"), 0.5),
    "--low-confidence": ("0.3", ("low_confidence",), 0.3),
}


def test_every_reading_option_sets_its_config_field_by_one_name_on_the_command_line_in_files_and_variables(
    tmp_path, monkeypatch
):
    from hcrbatch.pipeline import BatchResult

    given = []
    monkeypatch.setattr("hcrbatch.pipeline.run_batch", lambda cfg: given.append(cfg) or BatchResult([]))

    def setting(cfg, path):
        return getattr(getattr(cfg, path[0]), path[1]) if len(path) == 2 else getattr(cfg, path[0])

    folders = [str(tmp_path / "in"), str(tmp_path / "out")]
    args = [a for flag, (value, _, _) in READING.items() for a in ([flag] if value is None else [flag, value])]
    assert CliRunner().invoke(cli, ["run", *folders, "-q", *args, "--llm", "x.gguf"]).exit_code == 0
    assert {flag: setting(given[-1], path) for flag, (_, path, _) in READING.items()} == {
        flag: expected for flag, (_, _, expected) in READING.items()
    }
    assert given[-1].correct.llm_path == Path("x.gguf")
    # a --config file and HCRBATCH_RUN_* name each option as the command line does
    config = tmp_path / "hcrbatch.toml"
    config.write_text('[run]\ncorrect = "none"\nllm = "y.gguf"\nword-gap = 0.7\n', encoding="utf-8")
    monkeypatch.setenv("HCRBATCH_RUN_ENGINE", "glyph")
    assert CliRunner().invoke(cli, ["--config", str(config), "run", *folders, "-q"]).exit_code == 0
    cfg = given[-1]
    assert (cfg.correct.method, cfg.correct.llm_path, cfg.segment.word_gap) == ("none", Path("y.gguf"), 0.7)
    assert cfg.recognize.engine == "glyph"


def test_a_config_file_that_names_no_option_or_command_is_a_usage_error(tmp_path):
    config = tmp_path / "hcrbatch.toml"
    for text, named in [
        ("[run]\nworker = 2\n", "worker"),
        ("[rnu]\nworkers = 2\n", "[rnu]"),
        ("[run\n", "hcrbatch.toml"),
    ]:
        config.write_text(text, encoding="utf-8")
        result = CliRunner().invoke(cli, ["--config", str(config), "run", str(tmp_path), str(tmp_path / "out")])
        assert result.exit_code == ExitCode.USAGE and named in result.output


def test_a_fault_of_hcrbatch_exits_1_with_one_line_and_no_traceback(run_cli, sample_folder, tmp_path, monkeypatch):
    import hcrbatch.pipeline

    def broken(cfg):
        raise RuntimeError("Intra op parallelism cannot be modified\nafter initialization")

    monkeypatch.setattr(hcrbatch.pipeline, "run_batch", broken)
    result = run_cli(sample_folder, tmp_path / "out")
    assert result.exit_code == ExitCode.INTERNAL == 1
    assert "internal error (RuntimeError: Intra op parallelism cannot be modified)" in result.stderr
    assert "Traceback" not in result.output


def test_usage_errors_exit_2(run_cli, tmp_path):
    assert run_cli(tmp_path / "missing", tmp_path / "out").exit_code == ExitCode.USAGE
    assert run_cli(tmp_path, tmp_path / "out", "--dpi", "5").exit_code == ExitCode.USAGE
    unknown = run_cli(tmp_path, tmp_path / "out", "--lang", "xx-nowhere")
    assert (
        unknown.exit_code == ExitCode.USAGE and "--lang takes: ar, bg," in unknown.output and " en, " in unknown.output
    )
    assert run_cli(tmp_path, tmp_path / "out", "--formats", "pdf,docx").exit_code == ExitCode.USAGE
    for lang, tokenizer in (("zh", "jieba"), ("ja", "MeCab")):  # wordfreq splits these words with a package of its own
        result = run_cli(tmp_path, tmp_path / "out", "--lang", lang, "--correct", "none")
        assert result.exit_code == ExitCode.USAGE and f"needs the {tokenizer} package" in result.output


def test_a_language_written_in_letters_the_models_lack_is_warned_about(run_cli, tmp_path):
    result = run_cli(tmp_path, tmp_path / "out", "--lang", "ru")
    assert result.exit_code == ExitCode.OK
    assert "--lang ru: 100% of its letters" in result.output and "cannot be read" in result.output
    assert "alphabet" not in run_cli(tmp_path, tmp_path / "out2", "--lang", "fr").output


def test_lines_on_a_stderr_that_is_not_a_terminal_carry_their_time(tmp_path, tiny_models_dir):
    """Workers' lines too; a library's own warning about a file (Pillow's "Corrupt EXIF data" for
    a TIFF whose directory lies) is not a line of its own."""
    from PIL import Image

    (tmp_path / "in").mkdir()
    for name in ("a.tif", "b.tif"):
        Image.new("L", (100, 100), 200).save(tmp_path / "in" / name)
        tiff = bytearray((tmp_path / "in" / name).read_bytes())
        tiff[4:8] = (10**6).to_bytes(4, "little")  # its directory lies past the end of the file
        (tmp_path / "in" / name).write_bytes(tiff)
    cmd = [sys.executable, "-m", "hcrbatch", "run", str(tmp_path / "in"), str(tmp_path / "out"), "--workers", "2",
           "--models-dir", str(tiny_models_dir), "--model", "tiny"]  # fmt: skip
    lines = subprocess.run(cmd, capture_output=True, text=True).stderr.splitlines()
    assert any("a.tif: failed" in line for line in lines)
    assert lines and all(
        re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} hcrbatch: (INFO|WARNING): ", line) for line in lines
    )


def test_missing_or_invalid_model_exits_4(run_cli, sample_folder, tmp_path, tiny_models_dir):
    result = run_cli(sample_folder, tmp_path / "out", "--models-dir", str(tmp_path), model=False)
    assert result.exit_code == ExitCode.MODEL_INVALID
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "tiny.json").write_text((tiny_models_dir / "tiny.json").read_text())
    (broken / "tiny.keras").write_bytes(b"not a keras archive")
    result = run_cli(sample_folder, tmp_path / "out2", "--models-dir", str(broken), "--model", "tiny", model=False)
    assert result.exit_code == ExitCode.MODEL_INVALID


def test_unwritable_output_exits_5(run_cli, sample_folder, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    assert run_cli(sample_folder, blocker / "out").exit_code == ExitCode.OUTPUT_NOT_WRITABLE


def test_disk_full_stops_the_batch_with_exit_5_and_keeps_earlier_outputs(run_cli, sample_folder, tmp_path, monkeypatch):
    import hcrbatch.pipeline

    out = tmp_path / "out"
    assert run_cli(sample_folder, out, "--glob", "letter.pdf").exit_code == 0
    before = (out / "letter.pdf").read_bytes()

    def no_space(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(hcrbatch.pipeline, "write_text", no_space)
    result = run_cli(sample_folder, out, "--force")
    assert result.exit_code == ExitCode.OUTPUT_NOT_WRITABLE
    assert (out / "letter.pdf").read_bytes() != b"" and before[:4] == b"%PDF"
    assert not list(out.rglob("*.part"))


def test_second_run_on_the_same_output_is_refused(run_cli, sample_folder, tmp_path):
    out = tmp_path / "out"
    (out / ".hcrbatch").mkdir(parents=True)
    with FileLock(str(out / ".hcrbatch" / "lock")):
        assert run_cli(sample_folder, out).exit_code == ExitCode.LOCKED
    assert run_cli(sample_folder, out).exit_code == ExitCode.OK


def test_parallel_workers_give_the_same_results(run_cli, sample_folder, tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    assert run_cli(sample_folder, one).exit_code == 0
    assert run_cli(sample_folder, two, "--workers", "2").exit_code == 0
    for name in ["letter.csv", "sub/note.csv", "sub/register.csv", "letter.txt"]:
        assert (one / name).read_text() == (two / name).read_text(), name
    columns = ["status", "pages", "words", "chars", "mean_confidence", "low_confidence_words"]
    assert report(one)[columns].equals(report(two)[columns])


def test_pages_read_by_threads_of_one_process_give_the_same_results(run_cli, sample_folder, tiny_models_dir, tmp_path):
    one, threaded = tmp_path / "one", tmp_path / "threaded"
    assert run_cli(sample_folder, one).exit_code == 0
    assert run_cli(sample_folder, threaded, "--threads", "3").exit_code == 0  # the PDF and TIFF as page tasks
    for name in ["letter.csv", "sub/note.csv", "sub/register.csv", "letter.txt", "sub/register.txt"]:
        assert (one / name).read_text() == (threaded / name).read_text(), name
    columns = ["status", "pages", "words", "chars", "mean_confidence", "low_confidence_words"]
    assert report(one)[columns].equals(report(threaded)[columns])
    assert not list(threaded.rglob("page-*"))  # each document's pages gathered
    refused = run_cli(sample_folder, tmp_path / "both", "--threads", "2", "--workers", "2")
    assert refused.exit_code == ExitCode.USAGE and "--workers 1" in refused.output
    argv = ["run", str(sample_folder), str(tmp_path / "default"), "-q", "--threads", "2",
            "--models-dir", str(tiny_models_dir), "--model", "tiny"]  # fmt: skip
    assert CliRunner().invoke(cli, argv, catch_exceptions=False).exit_code == 0  # the default --workers gives way


def test_log_file_and_version(run_cli, sample_folder, tmp_path):
    from click.testing import CliRunner

    log = tmp_path / "run.log"
    assert run_cli(sample_folder, tmp_path / "out", "--log-file", str(log)).exit_code == 0
    assert "letter.pdf: ok" in log.read_text()
    assert CliRunner().invoke(cli, ["--version"]).output.startswith("hcrbatch, version")


def test_char_prior_chooses_how_likely_each_character_is_taken_to_be(run_cli, tiny_models_dir, tmp_path):
    """--char-prior prose adds the manifest's prose_prior to the network's log-probabilities; one
    that makes X overwhelmingly likely turns every character into X, and training leaves them be."""
    models = tmp_path / "models"
    shutil.copytree(tiny_models_dir, models)
    manifest = json.loads((models / "tiny.json").read_text())
    (models / "tiny.json").write_text(json.dumps({**manifest, "prose_prior": {"X": 50.0}}))
    folder = tmp_path / "in"
    folder.mkdir()
    write_png(folder / "note.png", draw_page(["HELLO WORLD"]))
    texts = {}
    for prior in ("prose", "training"):
        out = tmp_path / prior
        argv = ["--models-dir", str(models), "--model", "tiny", "--correct", "none", "--engine", "glyph"]
        assert run_cli(folder, out, "--char-prior", prior, *argv, model=False).exit_code == ExitCode.OK
        texts[prior] = (out / "note.txt").read_text().split()
    assert texts["prose"] and set("".join(texts["prose"])) == {"X"}
    assert set("".join(texts["training"])) != {"X"}


def test_auto_weighs_the_glyph_engines_shape_evidence_not_the_prose_prior(tiny_models_dir, tmp_path):
    """A prior that makes every glyph read X with certainty must not make the glyph engine look sure
    to --engine auto's vote: each line's evidence.shape_confidence is read under the training prior."""
    from hcrbatch.config import Config, RecognizeConfig
    from hcrbatch.elements import PageImage
    from hcrbatch.engines import line_confidence
    from hcrbatch.pipeline import build_processor
    from hcrbatch.glyphengine import CharRecognizer

    models = tmp_path / "models"
    shutil.copytree(tiny_models_dir, models)
    manifest = json.loads((models / "tiny.json").read_text())
    (models / "tiny.json").write_text(json.dumps({**manifest, "prose_prior": {"X": 50.0}}))
    page = draw_page(["HELLO WORLD"])
    glyphs = [255 - page[100:160, x : x + 40] for x in range(100, 400, 50)]
    prose = CharRecognizer.from_config(RecognizeConfig(model="tiny", models_dir=models))
    training = CharRecognizer.from_config(RecognizeConfig(model="tiny", models_dir=models, char_prior="training"))
    readings, evidence = prose.classify_with_evidence(glyphs)
    assert all(labels[0] == "X" and probs[0] > 0.99 for labels, probs in readings)
    assert evidence == training.classify(glyphs) and evidence != readings

    cfg = Config(tmp_path, tmp_path / "out", recognize=RecognizeConfig(model="tiny", models_dir=models, engine="glyph"))
    lines = build_processor(cfg, settings="test").read_page(PageImage(tmp_path / "note.png", 0, page, 200)).lines
    assert lines and all(w.text == "X" * len(w.text) for line in lines for w in line.words)
    for line in lines:
        assert line_confidence(line) == line.evidence.shape_confidence < 0.99  # the vote sees shapes, not X


def test_a_keras_backend_set_for_another_framework_does_not_reach_the_models(tiny_models_dir, tmp_path):
    folder = tmp_path / "in"
    write_png(folder / "note.png", draw_page(["NOTE"]))
    cmd = [sys.executable, "-m", "hcrbatch", "run", str(folder), str(tmp_path / "out"), "--workers", "1", "-q",
           "--models-dir", str(tiny_models_dir), "--model", "tiny"]  # fmt: skip
    proc = subprocess.run(cmd, env={**os.environ, "KERAS_BACKEND": "jax"}, capture_output=True, text=True)
    assert proc.returncode == ExitCode.OK, proc.stderr
    assert pd.read_csv(tmp_path / "out" / "note.csv")["text"].notna().any()


def test_tensorflows_own_advice_stays_off_stderr_unless_verbose(capsys):
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        for verbose in (False, True):
            setup_logging(verbose=verbose, quiet=True, log_file=None)
            logging.getLogger("tensorflow").warning("5 out of the last 9 calls triggered tf.function retracing")
            logging.getLogger("hcrbatch.pipeline").warning("page 3: no words")
            logging.getLogger("tensorflow").error("Could not load dynamic library")
            err = capsys.readouterr().err
            assert "page 3: no words" in err and "Could not load dynamic library" in err
            assert ("retracing" in err) == verbose
    finally:
        root.handlers[:], root.level = handlers, level

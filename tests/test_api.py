"""The public API (`hcrbatch.Reader`, `run_batch`, `segment_page`): what a script calls reads as `hcrbatch run` does."""

import subprocess
import sys
from pathlib import Path

import pandas as pd

import hcrbatch
from conftest import draw_page, write_png
from hcrbatch.config import Config, CorrectConfig, RecognizeConfig


def test_importing_hcrbatch_loads_none_of_the_pipeline_until_the_api_is_used():
    code = (
        "import sys, hcrbatch; assert 'hcrbatch.pipeline' not in sys.modules; "
        "hcrbatch.Reader; assert 'hcrbatch.pipeline' in sys.modules"
    )
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
    assert all(getattr(hcrbatch, name) is not None for name in hcrbatch.__all__)


def test_a_reader_reads_a_file_as_run_writes_it(tmp_path, tiny_models_dir, run_cli):
    write_png(tmp_path / "in" / "note.png", draw_page(["HELLO WORLD", "the quick fox"]))
    assert run_cli(tmp_path / "in", tmp_path / "out", "--engine", "glyph").exit_code == 0
    written = pd.read_csv(tmp_path / "out" / "note.csv", encoding="utf-8-sig", keep_default_na=False)

    recognize = RecognizeConfig(model="tiny", models_dir=tiny_models_dir, engine="glyph")
    reader = hcrbatch.Reader(Config(Path("."), Path("."), recognize=recognize, correct=CorrectConfig()))
    (page,) = list(reader.read_file(tmp_path / "in" / "note.png"))
    words = [word for line in page.lines for word in line.words]
    assert [w.text for w in words] == [str(t) for t in written["text"]]
    assert [w.bbox.left for w in words] == list(written["left"])
    assert any(model.startswith("tiny ") for model in reader.models)


def test_segment_page_finds_the_lines_of_a_drawn_page():
    from hcrbatch.elements import PageImage

    page = PageImage(None, 0, draw_page(["HELLO WORLD", "the quick fox", "jumps 1887"]), 300.0)
    clean, segmentation = hcrbatch.segment_page(page)
    assert len(segmentation.lines) == 3
    tops = [clean.to_page(line.bbox).top for line in segmentation.lines]
    assert tops == sorted(tops)

"""`hcrbatch train-lines --data DIR` on page scans with PAGE XML: lines cut two ways, pages held out whole."""

import json

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from conftest import write_png
from hcrbatch.cli import cli
from hcrbatch.train.linedata import LineSample, held_out_as
from hcrbatch.train.transcribed import transcribed_lines

TEXTS = ["dear sir", "many thanks", "yours truly"]


def write_transcribed_page(folder, name: str) -> None:
    """A page of three script lines and its PAGE XML (2019), each line's outline its drawn rows."""
    page = np.full((520, 900), 238, np.uint8)
    lines = []
    for i, text in enumerate(TEXTS):
        baseline = 120 + 140 * i
        cv2.putText(page, text, (60, baseline), cv2.FONT_HERSHEY_SCRIPT_SIMPLEX, 2.2, 25, 4, cv2.LINE_AA)
        lines.append(
            f'<TextLine id="l{i}"><Coords points="50,{baseline - 60} 800,{baseline - 60} 800,{baseline + 25} '
            f'50,{baseline + 25}"/><TextEquiv><Unicode>{text}</Unicode></TextEquiv></TextLine>'
        )
    write_png(folder / f"{name}.png", page)
    (folder / f"{name}.xml").write_text(
        '<PcGts xmlns="http://schema.primaresearch.org/PAGE/gts/pagecontent/2019-07-15">'
        f'<Page imageFilename="{name}.png" imageWidth="900" imageHeight="520">'
        f'<TextRegion id="r"><Coords points="0,0 900,0 900,520 0,520"/>{"".join(lines)}</TextRegion></Page></PcGts>'
    )


@pytest.fixture(scope="module")
def page_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("letters") / "pages"
    folder.mkdir()
    for k in range(10):
        write_transcribed_page(folder, f"letter_{k:03d}")
    return folder


def test_each_transcribed_line_is_cut_by_its_outline_and_by_our_segmentation(page_folder):
    samples = [s for s in transcribed_lines(page_folder) if s.page == "pages/letter_000"]
    assert sorted(s.text for s in samples) == sorted(TEXTS * 2)  # every line found by segmentation too
    for sample in samples:
        assert sample.image.dtype == np.uint8 and sample.image.shape[0] > 40
        assert sample.image.min() < 100 < sample.image.max()  # dark writing on light paper


def test_a_fine_tuned_model_is_tested_on_its_sources_held_out_pages_whatever_their_folder():
    samples = [LineSample(np.zeros((2, 2), np.uint8), "x", f"{folder}/p{k}") for folder in ("lines", "pages") for k in range(5)]  # fmt: skip
    train, test = held_out_as(samples, ["lines/p1", "lines/p3"])
    assert sorted(s.page for s in test) == ["lines/p1", "lines/p3", "pages/p1", "pages/p3"]
    assert not {s.page.split("/")[1] for s in train} & {"p1", "p3"}


@pytest.mark.slow
def test_train_lines_on_page_scans_then_fine_tune_keeping_the_held_out_pages(page_folder, tmp_path):
    common = ["--epochs", "1", "--batch-size", "8", "--models-dir", str(tmp_path / "models"),
              "--work-dir", str(tmp_path / "work"), "-q", "--data", str(page_folder)]  # fmt: skip
    result = CliRunner().invoke(cli, ["train-lines", "--name", "first", *common], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    first = json.loads((tmp_path / "models" / "first.json").read_text())
    assert first["held_out_pages"] == ["pages/letter_004"]  # one page of ten (seed 0), whole
    assert first["metrics"]["held_out"]["lines"] == 6  # its three lines, cut both ways
    result = CliRunner().invoke(cli, ["train-lines", "--init-from", "first", *common], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    tuned = json.loads((tmp_path / "models" / "lines.json").read_text())
    assert tuned["held_out_pages"] == first["held_out_pages"]
    assert any(line.startswith("held out by page: the 1 pages first held out") for line in tuned["training_data"])

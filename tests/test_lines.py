"""The CTC line recognizer's data, decoding and `hcrbatch train-lines`, on lines the tests render."""

import json

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from hcrbatch.cli import cli
from hcrbatch.train.lines import (
    LINE_HEIGHT,
    LineSample,
    build_line_model,
    greedy_decode,
    normalize_line,
    read_line_folder,
    split_by_page,
)

WORDS = ["the", "cat", "sat", "on", "a", "mat", "and", "dog", "ran", "to", "it"]


@pytest.fixture(scope="module")
def line_folder(tmp_path_factory):
    """Ten pages of four rendered lines each, named like the shared data: <page>_<line>.jpg."""
    folder = tmp_path_factory.mktemp("hand") / "lines"
    folder.mkdir()
    rng = np.random.default_rng(0)
    rows = []
    for page in range(10):
        for line in range(4):
            text = " ".join(rng.choice(WORDS, 3))
            image = np.full((96, 60 + 28 * len(text)), 235, np.uint8)
            cv2.putText(image, text, (20, 64), cv2.FONT_HERSHEY_SCRIPT_SIMPLEX, 1.5, 30, 3, cv2.LINE_AA)
            name = f"letter_{page:03d}_{line:03d}.jpg"
            cv2.imwrite(str(folder / name), image)
            rows.append(f"{name}\t{text}")
    (folder / "labels.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return folder


def test_lines_are_read_with_their_page(line_folder):
    samples = read_line_folder(line_folder)
    assert len(samples) == 40 and samples[5].page == "lines/letter_001"
    assert samples[0].image.shape[0] == 96 and samples[0].text.count(" ") == 2


def test_held_out_set_is_whole_pages_of_every_folder():
    samples = [LineSample(np.zeros((2, 2), np.uint8), "x", f"{folder}/p{page}") for folder in "ab" for page in range(20) for _ in range(3)]  # fmt: skip
    train, test = split_by_page(samples, 0.1, seed=0)
    assert not {s.page for s in train} & {s.page for s in test}
    assert sorted({s.page.split("/")[0] for s in test}) == ["a", "b"] and len(test) == 2 * 2 * 3
    assert split_by_page(samples, 0.1, seed=0)[1] == test


def test_normalised_line_is_white_ink_at_the_model_height():
    gray = np.full((96, 300), 230, np.uint8)
    cv2.line(gray, (10, 48), (290, 48), 20, 6)
    line = normalize_line(gray)
    assert line.shape == (LINE_HEIGHT, 200) and line.max() == pytest.approx(1.0) and np.median(line) == 0.0


def test_best_path_collapses_repeats_and_drops_blanks():
    charset = "abc"
    steps = [0, 1, 1, 0, 1, 2, 2, 0, 3]  # blank a a blank a b b blank c
    probs = np.eye(4)[steps]
    assert greedy_decode(probs, charset) == "aabc"


def test_model_gives_one_step_per_four_columns():
    model = build_line_model(5)
    out = model(np.zeros((2, LINE_HEIGHT, 120, 1), np.float32))
    assert out.shape == (2, 30, 6)


@pytest.mark.slow
def test_train_lines_writes_a_model_tested_on_held_out_pages(line_folder, tmp_path):
    argv = ["train-lines", "--data", str(line_folder), "--epochs", "1", "--batch-size", "8",
            "--models-dir", str(tmp_path / "models"), "--work-dir", str(tmp_path / "work"), "-q"]  # fmt: skip
    result = CliRunner().invoke(cli, argv, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "models" / "lines.json").read_text())
    assert set(manifest["charset"]) == set(" " + "".join(WORDS))
    assert manifest["metrics"]["held_out"]["lines"] == 4  # one page of ten
    assert manifest["metrics"]["held_out"]["cer"] >= 0 and manifest["head"] == "conv"
    assert any("36 train / 4 test lines" in line for line in manifest["training_data"])

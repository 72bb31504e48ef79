"""The learned line density: what it learns from a transcribed page, its training, and segmentation on it."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

from conftest import REPO, draw_page
from hcrbatch.api import segment_page
from hcrbatch.cli import cli
from hcrbatch.config import Config, PreprocessConfig, RecognizeConfig, SegmentConfig
from hcrbatch.elements import PageImage
from hcrbatch.errors import ModelError
from hcrbatch.groundtruth import transcription_of
from hcrbatch.linefinder import finder_input, line_finder_digest, load_line_finder
from hcrbatch.preprocess import preprocess
from hcrbatch.segment import segment
from hcrbatch.train.linefinder import LETTER_HEIGHT, page_sample
from test_transcribed import write_transcribed_page

SHIPPED = REPO / "models"


def bands(profile: np.ndarray, above: float) -> list[tuple[int, int]]:
    """The runs of rows where `profile` is above `above`: (first, last + 1)."""
    high = np.concatenate([[False], profile > above, [False]])
    edges = np.flatnonzero(np.diff(high.astype(np.int8)))
    return list(zip(edges[::2], edges[1::2]))


def test_the_network_sees_a_page_at_its_letter_height_whatever_the_scan():
    writing = np.zeros((400, 600), np.float32)
    writing[100:140] = 1.0  # letters 40 px high
    gray = np.full((400, 600), 255, np.uint8)
    view = finder_input(("writing", "ink", "gray"), writing, (writing * 255).astype(np.uint8), gray, 40.0, 12.0)
    assert view.shape == (120, 180, 3)
    assert bands(view[:, 90, 0], 0.5) == [(30, 42)]  # 40 px at 12 / 40
    assert view[..., 2].max() == 0.0  # paper everywhere: nothing dark


def test_a_transcribed_page_teaches_one_ridge_a_line_and_nothing_between_them(tmp_path):
    write_transcribed_page(tmp_path, "letter")
    sample = page_sample(tmp_path / "letter.png", transcription_of(tmp_path / "letter.png"))
    assert sample.view.shape[2] == 3 and sample.view.shape[:2] == sample.target.shape == sample.weight.shape
    profile = sample.target.max(axis=1).astype(float)
    lines = bands(profile, 128)
    assert len(lines) == 3  # the three transcribed lines, each its own ridge
    for (_, end), (start, _) in zip(lines, lines[1:]):
        assert profile[(end + start) // 2] < 128  # the lines are kept apart
    assert sample.weight.min() == 1  # the region covers the page: every pixel is learned from


def write_line_model(models, held_out: list[str]) -> None:
    """A line model's manifest, for the pages it holds out (its weights are never read here)."""
    (models / "lines.keras").write_bytes(b"")
    manifest = {"name": "lines", "version": "1", "task": "line recognizer", "charset": "ab", "input_size": [64, 0],
                "normalisation": "", "training_data": [], "metrics": {}, "held_out_pages": held_out}  # fmt: skip
    (models / "lines.json").write_text(json.dumps(manifest))


def test_train_line_finder_learns_from_pages_never_from_the_line_models_test_pages(tmp_path):
    folder = tmp_path / "pages"
    folder.mkdir()
    for k in range(4):
        write_transcribed_page(folder, f"letter_{k}")
    models = tmp_path / "models"
    models.mkdir()
    write_line_model(models, ["pages/letter_3"])
    argv = ["train-line-finder", "--data", str(folder), "--models-dir", str(models), "--work-dir",
            str(tmp_path / "work"), "--epochs", "1", "--steps", "2", "--batch-size", "2", "--workers", "1", "-q"]  # fmt: skip
    result = CliRunner().invoke(cli, argv, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    manifest = json.loads((models / "linefinder.json").read_text())
    assert manifest["task"] == "line finder" and manifest["held_out_pages"] == ["pages/letter_3"]
    assert manifest["validation_pages"] == ["pages/letter_0"] and manifest["letter_height"] == LETTER_HEIGHT
    prepared = sorted(p.name for p in (tmp_path / "work" / "pages").iterdir())
    assert prepared == ["pages__letter_0.npz", "pages__letter_1.npz", "pages__letter_2.npz"]  # not letter_3
    finder = load_line_finder(models, "linefinder")
    writing = np.zeros((300, 500), np.float32)
    density = finder.density(writing, np.zeros((300, 500), np.uint8), np.full((300, 500), 255, np.uint8), 30.0)
    assert density.shape == (300, 500) and density.dtype == np.float32
    again = CliRunner().invoke(cli, argv)
    assert again.exit_code != 0 and "--overwrite" in again.output


LETTER = ["Dear Sir, many thanks", "for the seeds you sent", "yours truly, J. Hooker"]


class SeesNoLine:
    """A finder whose density holds no line anywhere: whether segmentation used it shows at once."""

    def __init__(self, joined_ink: float) -> None:
        self.joined_ink = joined_ink

    def density(self, writing, ink, gray, height):
        return np.zeros(writing.shape, np.float32)


def test_the_finder_reads_only_pages_of_the_joined_up_script_it_learned_from():
    clean = preprocess(PageImage(None, 0, draw_page(LETTER), 300.0), PreprocessConfig())
    rules = segment(clean, SegmentConfig())
    assert rules.joined_ink < 0.15 and len(rules.lines) == 3  # hand-printing: separate letters
    assert segment(clean, SegmentConfig(), SeesNoLine(joined_ink=0.15)).lines == rules.lines
    assert segment(clean, SegmentConfig(), SeesNoLine(joined_ink=0.0)).lines == ()  # used: no line at all


def test_the_shipped_finder_leaves_a_hand_printed_page_to_the_rules():
    page = PageImage(None, 0, draw_page(LETTER), 300.0)
    _, learned = segment_page(page)
    _, rules = segment_page(page, segment_cfg=SegmentConfig(line_finder="rules"))
    assert load_line_finder(SHIPPED).joined_ink == 0.15
    assert learned.lines == rules.lines


def test_a_page_too_large_to_read_at_once_is_read_in_tiles_as_if_whole():
    lines = ["The quick brown fox jumps over", "the lazy dog and runs far away", "into the woods before the rain"]
    clean = preprocess(PageImage(None, 0, draw_page(lines * 3, (2400, 1600)), 300.0), PreprocessConfig())
    writing = (clean.ink > 0).astype(np.uint8)
    finder = load_line_finder(SHIPPED)
    whole = finder.density(writing, clean.ink, clean.gray, 24.0)  # the network's view: 1200 x 800
    tiled = finder.density(writing, clean.ink, clean.gray, 24.0, tile=512)  # tiles cutting through the lines
    assert whole.any() and np.abs(whole - tiled).max() < 1e-4


def test_a_finder_asked_for_by_name_must_be_there_and_the_default_need_not_be(tmp_path):
    with pytest.raises(ModelError, match="mine.json"):
        load_line_finder(tmp_path, "mine")
    assert load_line_finder(tmp_path, "linefinder") is None  # a folder of one's own models: the ridge rules


def test_the_finder_is_part_of_the_settings_a_re_run_compares():
    shipped = Config(REPO, REPO, recognize=RecognizeConfig(models_dir=SHIPPED))
    rules = Config(
        REPO, REPO, recognize=RecognizeConfig(models_dir=SHIPPED), segment=SegmentConfig(line_finder="rules")
    )
    tesseract = Config(REPO, REPO, recognize=RecognizeConfig(models_dir=SHIPPED, engine="tesseract"))
    assert line_finder_digest(shipped) and line_finder_digest(rules) == line_finder_digest(tesseract) == ""

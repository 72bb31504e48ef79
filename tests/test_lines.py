"""The CTC line recognizer's data, decoding and `hcrbatch train-lines`, on lines the tests render."""

import itertools
import json
import os
import shutil
import subprocess
import sys

import cv2
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from conftest import write_png
from hcrbatch.cli import cli
from hcrbatch.config import PreprocessConfig
from hcrbatch.elements import BBox, LineBox, PageImage
from hcrbatch.engines import AutoRule
from hcrbatch.errors import ConfigError, ExitCode, ModelError
from hcrbatch.correct import LexiconCorrector
from hcrbatch.lineengine import (
    LINE_HEIGHT,
    AlignedChar,
    LineReading,
    align,
    best_path,
    line_crop_box,
    line_crops,
    line_spacing,
    normalise_line,
    word_spans,
    word_spellings,
    widened_to_ink,
    words_from_alignment,
)
from hcrbatch.linenet import keras_ctc_loss, make_batch, width_bucketed_batches
from hcrbatch.modelstore import ModelManifest, TrainingClock, load_keras_model, load_manifest
from hcrbatch.preprocess import preprocess
from hcrbatch.train.linedata import LineSample, read_line_folder, split_by_page
from hcrbatch.train.lines import (
    augment,
    build_line_model,
    ctc_loss,
    transfer_weights,
)
from hcrbatch.train.linepages import page_crops
from hcrbatch.train.synthlines import LINE_IMAGE_HEIGHT, font_covers, synthetic_lines
from hcrbatch.train.text import draw_word, vocabulary

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


def test_ctc_loss_equals_keras_reference_with_zero_padded_labels():
    import keras

    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(12), size=(3, 20)).astype(np.float32)
    labels = np.array([[3, 3, 5, 0, 0], [1, 2, 3, 4, 5], [7, 0, 0, 0, 0]], np.int32)
    lengths = (labels > 0).sum(axis=1)
    reference = keras.ops.ctc_loss(labels, np.log(probs + 1e-8), lengths, np.full(3, 20), mask_index=0)
    np.testing.assert_allclose(np.asarray(ctc_loss(labels, probs)), np.asarray(reference), rtol=1e-4)


def test_normalised_line_is_white_ink_at_the_model_height():
    gray = np.full((96, 300), 230, np.uint8)
    cv2.line(gray, (10, 48), (290, 48), 20, 6)
    line = normalise_line(gray)
    assert line.shape == (LINE_HEIGHT, 200) and line.max() == pytest.approx(1.0) and np.median(line) == 0.0


def test_best_path_collapses_repeats_and_drops_blanks():
    charset = "abc"
    steps = [0, 1, 1, 0, 1, 2, 2, 0, 3]  # blank a a blank a b b blank c
    probs = np.eye(4)[steps]
    assert best_path(probs, charset) == "aabc"


def test_model_gives_one_step_per_four_columns():
    model = build_line_model(5)
    out = model(np.zeros((2, LINE_HEIGHT, 120, 1), np.float32))
    assert out.shape == (2, 30, 6)


@pytest.mark.slow
def test_train_lines_writes_a_model_tested_on_held_out_pages(line_folder, tmp_path):
    argv = ["train-lines", "--data", str(line_folder), "--epochs", "1", "--batch-size", "8", "--elastic-alpha", "150",
            "--page-crops", "--models-dir", str(tmp_path / "models"), "--work-dir", str(tmp_path / "work"), "-q"]  # fmt: skip
    result = CliRunner().invoke(cli, argv, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "models" / "lines.json").read_text())
    assert manifest["augmentation"].endswith("elastic distortion (alpha up to 150, sigma 10)")
    assert set(manifest["charset"]) == set(" " + "".join(WORDS))
    assert manifest["metrics"]["held_out"]["lines"] == 4  # one page of ten
    assert manifest["metrics"]["held_out"]["cer"] >= 0 and manifest["head"] == "conv"
    assert manifest["head_description"].startswith("three dilated 1-D convolutions")
    assert any("36 train / 4 test lines" in line for line in manifest["training_data"])
    crops = [int(line.split()[2]) for line in manifest["training_data"] if line.startswith("page crops: ")]
    assert crops and 30 <= crops[0] <= 35  # of the 35 lines left after the validation line


def test_page_crops_are_the_pipeline_s_crops_of_each_line_with_its_text(line_folder):
    lines = read_line_folder(line_folder)[:8]  # two pages
    blank = LineSample(np.full_like(lines[1].image, 235), "never seen", lines[1].page)
    crops = list(page_crops([lines[0], blank, *lines[1:]]))
    assert [c.text for c in crops] == [s.text for s in lines]  # the blank line has no crop, the others theirs
    spaced = [c.image.shape[0] for c in crops[4:]]  # the second page's lines are regularly spaced
    assert max(spaced) - min(spaced) <= 1  # so each is cropped one (capped) line spacing high
    for crop, sample in zip(crops, lines):
        ink_rows, ink_columns = (np.flatnonzero((sample.image < 128).any(axis=a)) for a in (1, 0))
        assert crop.image.shape[0] > ink_rows[-1] - ink_rows[0]
        assert crop.image.shape[1] == pytest.approx(ink_columns[-1] - ink_columns[0], rel=0.15)
        assert crop.page == sample.page and (crop.image < 128).any()


def test_elastic_distortion_moves_a_training_line_s_ink_but_keeps_its_size():
    ink = np.zeros((LINE_HEIGHT, 300), np.uint8)
    cv2.putText(ink, "the cat sat", (10, 44), cv2.FONT_HERSHEY_SCRIPT_SIMPLEX, 1.3, 255, 3, cv2.LINE_AA)
    line = ink.astype(np.float32) / 255  # as normalise_line gives it
    plain = augment(line, np.random.default_rng(3))
    wobbled = augment(line, np.random.default_rng(3), elastic_alpha=150)
    assert wobbled.shape == plain.shape  # the same slant and width draws, then the distortion
    assert np.abs(wobbled - plain).mean() > 0.01
    assert wobbled.sum() == pytest.approx(plain.sum(), rel=0.15)  # moved, not erased


def test_vertical_jitter_moves_a_training_line_s_writing_a_few_rows_as_crops_do():
    ink = np.zeros((LINE_HEIGHT, 300), np.uint8)
    cv2.putText(ink, "the cat sat", (10, 44), cv2.FONT_HERSHEY_SCRIPT_SIMPLEX, 1.3, 255, 3, cv2.LINE_AA)
    line = ink.astype(np.float32) / 255

    def middle_row(image):
        return float((image.sum(axis=1) * np.arange(image.shape[0])).sum() / image.sum())

    def jittered(seed, jitter):
        return augment(line, np.random.default_rng(seed), vertical_jitter=jitter)

    moved = [middle_row(jittered(seed, 0.06)) - middle_row(line) for seed in range(20)]
    kept = [middle_row(jittered(seed, 0.0)) - middle_row(line) for seed in range(20)]
    assert all(jittered(seed, 0.06).shape[0] == LINE_HEIGHT for seed in range(3))
    assert max(abs(k) for k in kept) < 1  # without it the writing stays where it was (strokes thicken)
    assert min(moved) < -1 and max(moved) > 1  # up and down
    assert max(abs(m) for m in moved) < 0.1 * LINE_HEIGHT  # a few rows: still the same line


def test_alignment_gives_each_character_its_columns_in_order():
    charset = " ab"
    # steps: blank a a blank space b blank b  -> "a", " ", "b", "b"
    steps = [0, 2, 2, 0, 1, 3, 0, 3]
    probs = np.full((len(steps), 4), 0.02)
    probs[np.arange(len(steps)), steps] = 0.9
    chars = align(probs, charset, top_k=2)
    assert [c.labels[0] for c in chars] == ["a", " ", "b", "b"]
    assert [(c.start, c.end) for c in chars] == [(4, 12), (16, 20), (20, 24), (28, 32)]
    assert all(len(c.labels) == 2 and c.probs[0] > 0.9 for c in chars)


def test_words_from_alignment_lie_inside_the_line_in_order():
    clean = preprocess(PageImage(None, 0, np.full((400, 900), 240, np.uint8), 300.0), PreprocessConfig(deskew=False))
    crop = BBox(100, 50, 700, 146)  # a line 96 px high: the model's columns are 1.5 crop pixels
    chars = [AlignedChar(("a",), (0.9,), 8, 16), AlignedChar(("b",), (0.8,), 20, 28),
             AlignedChar((" ",), (0.9,), 40, 44), AlignedChar(("c",), (0.7,), 100, 112)]  # fmt: skip
    reading = LineReading(chars, 2, [(("ab", -0.1), ("ah", -2.0)), (("c", -0.3),)])
    words = words_from_alignment(reading, crop, LINE_HEIGHT / crop.height, clean)
    assert [w.text for w in words] == ["ab", "c"] and words[0].spellings == (("ab", -0.1), ("ah", -2.0))
    boxes = [c.bbox for w in words for c in w.chars]
    assert boxes[0] == BBox(112, 50, 124, 146) and boxes[2] == BBox(250, 50, 268, 146)
    assert all(crop.left <= b.left < b.right <= crop.right and (b.top, b.bottom) == (50, 146) for b in boxes)
    assert [b.left for b in boxes] == sorted(b.left for b in boxes)
    # read from a taller crop, the words keep the line's band: the same columns, the band's rows
    taller = words_from_alignment(reading, crop, LINE_HEIGHT / crop.height, clean, band=(70, 130))
    assert [(c.bbox.left, c.bbox.right, c.bbox.top, c.bbox.bottom) for w in taller for c in w.chars] == [
        (b.left, b.right, 70, 130) for b in boxes
    ]


def test_words_cover_the_ink_their_characters_fall_on_not_only_their_ctc_spikes():
    clean = preprocess(PageImage(None, 0, np.full((400, 900), 240, np.uint8), 300.0), PreprocessConfig(deskew=False))
    crop = BBox(0, 50, 600, 114)  # scale 1: the model's columns are the crop's
    # "I" (a spike at 102-106 of a stroke at 96-110) and "on" (spikes 204-208, 240-244 of a word at 190-260)
    chars = [AlignedChar(("I",), (0.9,), 102, 106), AlignedChar((" ",), (0.9,), 150, 154),
             AlignedChar(("o",), (0.8,), 204, 208), AlignedChar(("n",), (0.8,), 240, 244)]  # fmt: skip
    reading = LineReading(chars, 2)
    bare = words_from_alignment(reading, crop, 1.0, clean)
    assert [(w.bbox.left, w.bbox.right) for w in bare] == [(102, 106), (204, 244)]
    ink = [(96, 110), (190, 226), (228, 260), (400, 450)]  # the last is another word's: no character falls on it
    words = words_from_alignment(reading, crop, 1.0, clean, ink)
    assert [(w.bbox.left, w.bbox.right) for w in words] == [(96, 110), (190, 260)]
    assert (words[1].chars[0].bbox.left, words[1].chars[-1].bbox.right) == (190, 260)
    assert words[1].chars[0].bbox.right == 208  # inner edges stay where the model put them
    # a stroke joining two words is shared only up to the middle of the gap between them
    assert widened_to_ink([(102, 106), (204, 244)], [(90, 230)]) == [(90, 155), (155, 244)]


def lines_of(boxes: list[BBox]) -> list[LineBox]:
    """Segmented lines with these boxes, their writing centred in them."""
    return [LineBox(box, (), box.center_y) for box in boxes]


def test_lines_on_a_regularly_ruled_page_are_cropped_one_line_spacing_high():
    # lines every 96 rows, their boxes as tall as their ascenders and descenders make them
    ruled = [BBox(100, top, 900, top + height) for top, height in ((100, 60), (181, 90), (297, 50), (388, 60))]
    assert line_spacing(lines_of(ruled)) == 96
    crops = [line_crop_box(b, 1000, 1000, spacing=96) for b in ruled]
    assert [(c.height, (c.top + c.bottom) / 2) for c in crops] == [(96, b.center_y) for b in ruled]
    assert all(c.left < b.left and c.right > b.right for c, b in zip(crops, ruled))  # the pad still widens it
    assert line_crop_box(ruled[0], 1000, 1000) == BBox(97, 97, 903, 163)  # no spacing: the box and its pad
    widely_spaced = [BBox(100, top, 900, top + 40) for top in (100, 400, 700, 1000)]
    assert line_spacing(lines_of(widely_spaced)) == 80  # a form or double spacing: two line heights, not 300 rows


def test_the_line_engine_reads_a_line_as_tall_as_its_own_writing_within_bounds_of_the_spacing():
    # lines every 96 rows: small letters, ascenders and descenders, small letters, a flourish reaching down
    boxes = [BBox(100, 100, 900, 160), BBox(100, 181, 900, 271), BBox(100, 297, 900, 347), BBox(100, 343, 900, 493)]
    lines = lines_of(boxes)
    assert line_spacing(lines) == 96
    bands = line_crops(lines, np.zeros((1000, 1000), np.uint8))
    read = line_crops(lines, np.zeros((1000, 1000), np.uint8), reading=True)
    assert [b.height for b in bands] == [96] * 4
    # the box and a tenth of a spacing, within 0.9 and 1.4 spacings: 86.4, 99.6, 86.4, 134.4 rows
    assert [c.height for c in read] == [86, 100, 86, 134]
    assert [c.center_y for c in read] == [b.center_y for b in bands]  # both on the line's ridge
    assert [(c.left, c.right) for c in read] == [(b.left, b.right) for b in bands]
    few = lines_of(boxes[:2])  # no regular spacing: the box and its pad either way
    assert line_crops(few, np.zeros((1000, 1000), np.uint8), reading=True) == line_crops(
        few, np.zeros((1000, 1000), np.uint8)
    )


def test_a_lines_crop_centres_on_its_ridge_not_on_a_box_a_stroke_stretched():
    lines = lines_of([BBox(100, top, 900, top + 60) for top in (100, 196, 292, 388, 484)])
    # a bracket in the margin reaches from the third line's writing (ridge at 322) to the fourth's bottom
    lines[2] = LineBox(BBox(60, 292, 900, 448), (), 322.0)
    assert line_spacing(lines) == 96  # spaced by where the writing is, not by the stretched box's middle
    crops = line_crops(lines, np.zeros((1000, 1000), np.uint8))
    assert [c.center_y for c in crops] == [130, 226, 322, 418, 514]
    lower = lines[:2] + [LineBox(BBox(100, 292, 900, 352), (), 330.0)] + lines[3:]
    assert line_crops(lower, np.zeros((1000, 1000), np.uint8))[2].center_y == 330  # the ridge, not the box


def test_no_line_spacing_on_pages_of_few_or_irregular_lines():
    assert line_spacing(lines_of([BBox(0, 0, 100, 50), BBox(0, 100, 100, 150)])) is None
    assert line_spacing(lines_of([BBox(0, top, 100, top + 40) for top in (0, 60, 120, 400, 800)])) is None


def test_word_spans_run_from_space_to_space():
    chars = [AlignedChar(("a",), (0.9,), 4, 8), AlignedChar((" ",), (0.9,), 16, 24),
             AlignedChar(("b",), (0.9,), 28, 32), AlignedChar(("c",), (0.9,), 36, 40)]  # fmt: skip
    assert word_spans(chars, steps=14) == [(0, 4), (6, 14)]


def exact_ctc_distribution(probs: np.ndarray, charset: str) -> dict[str, float]:
    """P(text) summed over every path of the CTC output: brute force, for a few steps only."""
    totals: dict[str, float] = {}
    for path in itertools.product(range(probs.shape[1]), repeat=len(probs)):
        labels = [k for i, k in enumerate(path) if k and (i == 0 or path[i - 1] != k)]
        text = "".join(charset[k - 1] for k in labels)
        totals[text] = totals.get(text, 0.0) + float(np.prod(probs[np.arange(len(probs)), path]))
    return totals


def test_word_spellings_are_the_likeliest_readings_of_the_ctc_output():
    rng = np.random.default_rng(3)
    charset = "lo"
    segments = [rng.dirichlet(np.ones(3) * 0.7, size=5) for _ in range(3)]
    for segment, spellings in zip(segments, word_spellings(segments, charset, count=4)):
        exact = exact_ctc_distribution(segment, charset)
        best = sorted((t for t in exact if t), key=exact.get, reverse=True)[:4]
        assert [t for t, _ in spellings] == best
        for text, log_p in spellings:
            assert log_p == pytest.approx(np.log(exact[text]), abs=1e-3)


def test_lexicon_chooses_a_beam_spelling_with_a_letter_the_best_path_missed():
    charset = "ehlo"
    blank, e, h, l, o = np.eye(5)
    between = 0.45 * blank + 0.55 * l  # an "l" more likely than a blank here: the best path reads one "l"
    steps = np.array([h, e, l, between, l, o]) * 0.97 + 0.006
    (spellings,) = word_spellings([steps], charset)
    assert spellings[0][0] == "helo" and "hello" in dict(spellings)
    reading = LineReading(align(steps, charset, 3), 1, [spellings])
    clean = preprocess(PageImage(None, 0, np.full((200, 300), 240, np.uint8), 300.0), PreprocessConfig(deskew=False))
    (word,) = words_from_alignment(reading, BBox(0, 0, 30, 64), 1.0, clean)
    corrected = LexiconCorrector("en").correct_word(word)
    assert (corrected.raw_text, corrected.text, corrected.corrected_by) == ("helo", "hello", "lexicon")


@pytest.mark.slow
def test_resumed_training_counts_the_epochs_and_seconds_before_the_interruption(line_folder, tmp_path, monkeypatch):
    import keras

    # a run killed after its first epoch: the backup Keras deletes at the end of training stays
    monkeypatch.setattr(keras.callbacks.BackupAndRestore, "on_train_end", lambda self, logs=None: None)
    argv = ["train-lines", "--data", str(line_folder), "--batch-size", "8",
            "--models-dir", str(tmp_path / "models"), "--work-dir", str(tmp_path / "work"), "-q"]  # fmt: skip
    assert CliRunner().invoke(cli, [*argv, "--epochs", "1"], catch_exceptions=False).exit_code == 0
    interrupted_seconds = json.loads((tmp_path / "work" / "lines" / "backup" / TrainingClock.FILE).read_text())[
        "seconds"
    ]
    assert CliRunner().invoke(cli, [*argv, "--epochs", "2", "--overwrite"], catch_exceptions=False).exit_code == 0
    manifest = json.loads((tmp_path / "models" / "lines.json").read_text())
    assert manifest["epochs_run"] == 2
    assert manifest["training_seconds"] > interrupted_seconds
    assert len(pd.read_csv(tmp_path / "work" / "lines" / "history.csv")) == 2


@pytest.fixture(scope="module")
def line_models(line_folder, tiny_models_dir, tmp_path_factory):
    """The tiny character model beside a line model trained for a few epochs on the rendered lines."""
    models = tmp_path_factory.mktemp("line-models")
    for path in tiny_models_dir.iterdir():
        shutil.copy2(path, models / path.name)
    argv = ["train-lines", "--data", str(line_folder), "--epochs", "3", "--batch-size", "4", "--name", "tinylines",
            "--models-dir", str(models), "--work-dir", str(models / "work"), "-q"]  # fmt: skip
    assert CliRunner().invoke(cli, argv, catch_exceptions=False).exit_code == 0
    return models


def test_tune_auto_stores_the_rule_it_chooses_in_the_line_models_manifest_and_replaces_one_only_when_asked(
    line_models, line_folder, tmp_path, monkeypatch
):
    import json

    monkeypatch.setattr("hcrbatch.train.autorule.PRINTED_PAGES", {"fonts": ("printed (fonts)", 2)})  # a quick tuning
    manifest = line_models / "tinylines.json"
    manifest.write_text(json.dumps({k: v for k, v in json.loads(manifest.read_text()).items() if k != "auto"}))
    argv = ["tune-auto", "--data", str(line_folder), "--emnist", str(tmp_path), "--line-model", "tinylines",
            "--model", "tiny", "--models-dir", str(line_models), "--work-dir", str(tmp_path / "work")]  # fmt: skip

    dry = CliRunner().invoke(cli, [*argv, "--dry-run"], catch_exceptions=False)
    assert dry.exit_code == 0, dry.output
    assert "chosen (page_margin" in dry.output and "auto" not in json.loads(manifest.read_text())
    assert CliRunner().invoke(cli, [*argv, "-q"], catch_exceptions=False).exit_code == 0
    stored = json.loads(manifest.read_text())
    assert set(stored["auto"]) == {"page_margin", "glyph_margin", "line_margin", "joined_ink"}
    assert stored["auto_tuning"].startswith("hcrbatch tune-auto on ")
    refused = CliRunner().invoke(cli, argv, catch_exceptions=False)
    assert refused.exit_code == ExitCode.USAGE and "--overwrite" in refused.output
    assert json.loads(manifest.read_text()) == stored
    assert CliRunner().invoke(cli, [*argv, "-q", "--overwrite"], catch_exceptions=False).exit_code == 0


@pytest.mark.slow
@pytest.mark.parametrize("engine", ["line", "auto"])
def test_run_reads_lines_with_the_line_engine(line_models, tmp_path, engine):
    page = np.full((500, 1400), 235, np.uint8)
    for row, text in enumerate(["the cat sat", "a dog ran to it"]):
        cv2.putText(page, text, (60, 150 + 160 * row), cv2.FONT_HERSHEY_SCRIPT_SIMPLEX, 3.0, 30, 6, cv2.LINE_AA)
    write_png(tmp_path / "in" / "note.png", page, dpi=300)
    argv = ["run", str(tmp_path / "in"), str(tmp_path / "out"), "--workers", "1", "-q", "--models-dir",
            str(line_models), "--model", "tiny", "--engine", engine, "--line-model", "tinylines"]  # fmt: skip
    result = CliRunner().invoke(cli, argv, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    words = pd.read_csv(tmp_path / "out" / "note.csv", keep_default_na=False)
    assert set(words["engine"]) <= ({"line"} if engine == "line" else {"line", "glyph"})
    for _, line in words.groupby("line"):
        assert list(line["left"]) == sorted(line["left"])
        assert (line["right"] > line["left"]).all() and (line["right"] <= 1400).all()


@pytest.mark.slow
def test_engine_line_neither_loads_nor_runs_the_character_model(line_models, tmp_path):
    page = np.full((300, 1400), 235, np.uint8)
    cv2.putText(page, "the cat sat", (60, 150), cv2.FONT_HERSHEY_SCRIPT_SIMPLEX, 3.0, 30, 6, cv2.LINE_AA)
    write_png(tmp_path / "in" / "note.png", page, dpi=300)
    argv = ["run", str(tmp_path / "in"), str(tmp_path / "out"), "--workers", "1", "-q", "--models-dir",
            str(line_models), "--model", "no-such-model", "--engine", "line", "--line-model", "tinylines"]  # fmt: skip
    result = CliRunner().invoke(cli, argv, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    alto = (tmp_path / "out" / "note.alto.xml").read_text()
    assert "models: tinylines" in alto and "no-such-model" not in alto


def test_engine_line_without_a_line_model_is_a_model_error(run_cli, sample_folder, tmp_path):
    result = run_cli(sample_folder, tmp_path / "out", "--engine", "line")
    assert result.exit_code == ExitCode.MODEL_INVALID


def test_auto_gives_a_page_to_the_line_engine_when_its_lines_say_so_and_otherwise_decides_line_by_line():
    rule = AutoRule(page_margin=-0.2, glyph_margin=0.4)
    cursive = [(0.62, 0.70), (0.70, 0.55), (0.90, 0.45)]  # median line - glyph: -0.15
    assert rule.takes_line(cursive) == [True, True, False]  # the glyph engine keeps only a line it is far surer of
    printed = [(0.85, 0.50), (0.80, 0.52), (0.60, 0.65)]  # median: -0.28
    assert rule.takes_line(printed) == [False, False, True]  # the more confident wins each line
    assert AutoRule().takes_line(cursive) == [True, False, False]  # no thresholds: never the line engine's page
    cautious = AutoRule(page_margin=-0.2, glyph_margin=0.4, line_margin=0.1)
    assert cautious.takes_line(printed) == [False, False, False]  # surer by 0.05 only: not enough on a printed page
    assert cautious.takes_line(cursive) == rule.takes_line(cursive)
    assert rule.takes_line([]) == []


def test_a_page_of_joined_up_ink_is_the_line_engines_whatever_its_few_lines_vote():
    rule = AutoRule(page_margin=0.0, glyph_margin=1.0, line_margin=0.2, joined_ink=0.15)
    short_cursive = [(0.80, 0.55), (0.50, 0.60)]  # a postcard's two lines: median vote -0.075, a glyph page
    assert rule.takes_line(short_cursive) == [False, False]
    assert rule.takes_line(short_cursive, joined_ink=0.6) == [True, True]
    assert rule.takes_line(short_cursive, joined_ink=0.03) == [False, False]  # hand-printing: its letters apart
    # no thresholds: never the line engine's page, however joined its ink; the surer engine wins each line
    assert AutoRule().takes_line(short_cursive, joined_ink=1.0) == [False, True]


def test_lines_the_line_engine_reads_as_nothing_do_not_vote_and_stay_empty_on_its_pages():
    rule = AutoRule(page_margin=-0.2, glyph_margin=0.7)
    fragments = [(0.62, 0.70), (0.60, 0.0), (0.65, 0.0), (0.95, 0.0)]  # one line, three slivers of strokes
    # counted, the slivers' -0.6 would make it a glyph page; the line is the line engine's, the
    # slivers are left empty (True) except the one the glyph engine is sure of by the margin
    assert rule.takes_line(fragments) == [True, True, True, False]
    assert AutoRule().takes_line([(0.6, 0.0)]) == [False]  # nothing to vote: not the line engine's page


def test_bad_auto_thresholds_in_a_line_manifest_are_a_model_error(tmp_path):
    manifest = ModelManifest("lines", "1", "ab", (64, 0), "n", (), weights=tmp_path / "lines.keras",
                             extra={"downsample": 4, "auto": {"page_margn": -0.2}})  # fmt: skip
    with pytest.raises(ModelError, match="auto"):
        AutoRule.of(manifest)


def test_synthetic_lines_are_seeded_line_crops_of_text_their_font_can_write():
    lines = synthetic_lines(6, seed=0)
    again = synthetic_lines(6, seed=0)
    assert [s.text for s in lines] == [s.text for s in again]
    assert all(np.array_equal(a.image, b.image) for a, b in zip(lines, again))
    for line in lines:
        assert line.image.dtype == np.uint8 and line.image.shape[0] == LINE_IMAGE_HEIGHT
        assert line.text.strip() and line.page == "synthetic/00000"
        # dark ink on light paper, as the real line images
        assert np.percentile(line.image, 90) - np.percentile(line.image, 1) > 60 and np.median(line.image) > 128
    assert len({s.text for s in lines}) == 6


def test_font_coverage_spots_characters_the_font_lacks():
    from PIL import ImageFont

    kristi = ImageFont.truetype("/usr/share/fonts/truetype/kristi/Kristi.ttf", 48)
    assert font_covers(kristi, "Lettre du 3 mai, é")
    assert not font_covers(kristi, "ſ")  # the long s: no installed handwriting font has it


def test_fine_tuning_starts_from_a_model_whose_output_columns_follow_their_characters():
    import keras

    source, target = build_line_model(3), build_line_model(3)
    assert transfer_weights(source, "abc", target, "xba") == (2, "all layers")
    kernel, bias = source.get_layer("ctc").get_weights()
    new_kernel, _ = target.get_layer("ctc").get_weights()
    np.testing.assert_array_equal(new_kernel[:, [0, 2, 3]], kernel[:, [0, 2, 1]])  # blank, "b", "a"
    assert not np.array_equal(new_kernel[:, 1], kernel[:, 3])  # "x" is new: not "c"'s column
    for a, b in zip(source.layers[:-1], target.layers[:-1]):
        for weights, copied in zip(a.get_weights(), b.get_weights()):
            np.testing.assert_array_equal(copied, weights)
    with pytest.raises(ConfigError, match="layers differ"):
        transfer_weights(
            keras.Sequential([keras.Input((64, None, 1)), keras.layers.Conv2D(8, 3)]), "abc", target, "abc"
        )


@pytest.mark.parametrize("source_head, target_head", [("conv", "lstm"), ("lstm", "lstm2")])
def test_a_start_from_another_head_carries_the_convolutional_backbone_only(source_head, target_head):
    source, target = build_line_model(3, head=source_head), build_line_model(3, head=target_head)
    fresh = [w.copy() for w in target.get_layer("ctc").get_weights()]
    assert transfer_weights(source, "abc", target, "abc") == (0, "convolutional backbone")
    backbone = [layer.name for layer in target.layers].index("features") + 1
    for a, b in zip(source.layers[:backbone], target.layers[:backbone]):
        for weights, copied in zip(a.get_weights(), b.get_weights()):
            np.testing.assert_array_equal(copied, weights)
    for weights, kept in zip(fresh, target.get_layer("ctc").get_weights()):
        np.testing.assert_array_equal(kept, weights)  # the output layer was left as built


@pytest.mark.slow
def test_pre_training_on_synthetic_lines_then_fine_tuning_on_real_ones(line_folder, tmp_path):
    common = ["--epochs", "1", "--batch-size", "8", "--models-dir", str(tmp_path / "models"),
              "--work-dir", str(tmp_path / "work"), "-q"]  # fmt: skip
    result = CliRunner().invoke(cli, ["train-lines", "--synthetic", "60", "--name", "synth", *common])
    assert result.exit_code == 0, result.output
    pre = json.loads((tmp_path / "models" / "synth.json").read_text())
    assert pre["metrics"]["held_out"]["lines"] == 20  # one synthetic page of three
    assert pre["training_data"][0].startswith("synthetic: 60 lines")
    argv = ["train-lines", "--data", str(line_folder), "--init-from", "synth", "--learning-rate", "3e-4", *common]
    result = CliRunner().invoke(cli, argv, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    tuned = json.loads((tmp_path / "models" / "lines.json").read_text())
    assert (
        tuned["initialised_from"]["name"] == "synth"
        and tuned["initialised_from"]["held_out"] == pre["metrics"]["held_out"]
    )
    assert tuned["learning_rate"]["initial"] == 3e-4 and tuned["metrics"]["held_out"]["lines"] == 4


def test_train_lines_without_data_is_a_usage_error(tmp_path):
    result = CliRunner().invoke(cli, ["train-lines", "--models-dir", str(tmp_path), "-q"])
    assert result.exit_code == ExitCode.USAGE and "nothing to train on" in result.output


def test_words_are_drawn_as_generator_choice_draws_them_at_their_frequencies():
    """draw_word replaces rng.choice(p=...) without changing a single synthetic line."""
    words, cumulative = vocabulary("en")
    probabilities = np.diff(cumulative, prepend=0.0)
    ours, numpys = np.random.default_rng(7), np.random.default_rng(7)
    drawn = [draw_word("en", ours) for _ in range(2000)]
    assert drawn == [words[numpys.choice(len(words), p=probabilities)] for _ in range(2000)]
    assert drawn.count("the") > drawn.count("house") and ours.random() == numpys.random()


def test_the_first_two_training_batches_differ_in_width_as_keras_fixes_the_shape_from_them():
    # lines of one width, jittered as augmentation does: the first two batches would be alike
    images = [np.ones((LINE_HEIGHT, 100), np.float32) for _ in range(8)]

    def jitter(image, rng):
        return np.ones((LINE_HEIGHT, int(rng.integers(90, 250))), np.float32)

    lines = width_bucketed_batches(images, [[1, 2]] * 8, 2, seed=0, transform=jitter)
    first, second = lines[0][0], lines[1][0]
    assert first.shape[2] != second.shape[2] and first.shape[2] % 128 == second.shape[2] % 128 == 0
    assert second[:, :, lines.batch(1)[0].shape[2] :].max(initial=0) == 0  # widened by padding only


def test_the_keras_ops_ctc_loss_equals_the_tensorflow_kernel_used_on_tensorflow():
    rng = np.random.default_rng(0)
    probabilities = rng.random((3, 20, 6)).astype("float32")
    probabilities /= probabilities.sum(-1, keepdims=True)
    labels = np.array([[1, 2, 3, 0, 0], [4, 4, 0, 0, 0], [5, 1, 2, 3, 4]], "int32")  # 0 pads, as the blank
    assert np.allclose(np.asarray(ctc_loss(labels, probabilities)), np.asarray(keras_ctc_loss(labels, probabilities)),
                       rtol=1e-5)  # fmt: skip


WITHOUT_TENSORFLOW = "import sys; sys.modules['tensorflow'] = None  # as on a GPU machine that has only JAX\n"


def test_a_line_model_trained_on_jax_without_tensorflow_reads_the_same_here(line_folder, tmp_path):
    pytest.importorskip("jax", reason="the jax extra is not installed (pip install -e '.[jax]')")
    lines = np.random.default_rng(0).random((2, 64, 120, 1)).astype("float32")
    np.save(tmp_path / "lines.npy", lines)
    argv = ["train-lines", "--data", str(line_folder), "--epochs", "1", "--batch-size", "8",
            "--models-dir", str(tmp_path / "models"), "--work-dir", str(tmp_path / "work"), "-q"]  # fmt: skip
    train_then_read = WITHOUT_TENSORFLOW + (  # one process: JAX starts once
        "import keras, numpy as np\n"
        "from hcrbatch.cli import cli\n"
        f"cli.main({argv!r}, standalone_mode=False)\n"
        f"model = keras.models.load_model({str(tmp_path / 'models' / 'lines.keras')!r}, compile=False)\n"
        f"np.save({str(tmp_path / 'jax.npy')!r}, np.asarray(model.predict(np.load({str(tmp_path / 'lines.npy')!r}), verbose=0)))\n"
    )  # fmt: skip
    on_jax = subprocess.run([sys.executable, "-c", train_then_read], env={**os.environ, "KERAS_BACKEND": "jax"},
                            capture_output=True, text=True)  # fmt: skip
    assert on_jax.returncode == 0, on_jax.stderr
    manifest = json.loads((tmp_path / "models" / "lines.json").read_text())
    assert manifest["metrics"]["held_out"]["lines"] == 4
    here = load_keras_model(load_manifest(tmp_path / "models", "lines")).predict(lines, verbose=0)
    assert np.allclose(here, np.load(tmp_path / "jax.npy"), atol=1e-5)


def test_lines_packed_for_a_gpu_machine_train_there_without_tensorflow_or_opencv_and_read_here(line_folder, tmp_path):
    pytest.importorskip("jax", reason="the jax extra is not installed (pip install -e '.[jax]')")
    held_out = tmp_path / "held-out.json"
    held_out.write_text(json.dumps({"held_out_pages": ["lines/letter_009"]}))
    pack = tmp_path / "lines.npz"
    packing = [sys.executable, "-m", "hcrbatch.train.gpulines", "pack", "--data", str(line_folder),
               "--held-out-from", str(held_out), "--out", str(pack), "--max-mib", "0.01"]  # fmt: skip
    summary = json.loads(subprocess.run(packing, capture_output=True, text=True, check=True).stdout)
    assert summary["bytes"] <= 0.01 * 2**20  # in 8 grey levels, and whole pages left out, to fit
    assert summary["grey_levels"] == 8 and summary["pages_left_out_for_size"] > 0
    packed = np.load(pack)
    assert "lines/letter_009" not in set(packed["pages"]) and packed["pixels"].shape[0] == 64
    assert packed["pixels"].shape[1] == packed["widths"].sum() and len(packed["texts"]) == summary["lines"]

    device = WITHOUT_TENSORFLOW + "sys.modules['cv2'] = None\nfrom hcrbatch.train.gpulines import main; main()\n"
    argv = ["train", str(pack), "--out", str(tmp_path / "out"), "--epochs", "1", "--head", "conv", "--batch-size", "8"]
    trained = subprocess.run([sys.executable, "-c", device, *argv], env={**os.environ, "KERAS_BACKEND": "jax"},
                             capture_output=True, text=True)  # fmt: skip
    assert trained.returncode == 0, trained.stderr
    manifest = load_manifest(tmp_path / "out", "lines-gpu")
    assert manifest.extra["held_out_pages"] == ["lines/letter_009"] and "jax" in manifest.extra["trained_on"]
    assert manifest.metrics["validation"]["lines"] == 4  # one page in twenty: the first packed
    image = normalise_line(read_line_folder(line_folder)[0].image)
    probabilities = load_keras_model(manifest).predict(make_batch([image]), verbose=0)
    assert probabilities.shape[-1] == len(manifest.charset) + 1

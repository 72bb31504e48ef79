"""Word confidence as the probability a word is right: the fit, its storage in the manifests, and
its use in the outputs."""

import json
import math
import shutil

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from conftest import write_png
from hcrbatch.cli import cli
from hcrbatch.confidence import (
    FEATURES,
    FEWEST_WORDS,
    WordCalibration,
    calibrate_page,
    fit,
    fit_engines,
    reliability,
    samples,
    word_features,
)
from hcrbatch.config import RecognizeConfig
from hcrbatch.elements import BBox, Char, Line, PageResult, Word
from hcrbatch.engines import engine_digest, refuse_to_recalibrate, store_calibrations, word_calibrations
from hcrbatch.errors import ConfigError, ModelError
from hcrbatch.evalpages import word_outcomes
from hcrbatch.metrics import matched_items


def word(text: str, *confidences: float) -> Word:
    box = BBox(0, 0, 10, 10)
    return Word(box, tuple(Char(box, (c,), (p,)) for c, p in zip(text, confidences)), text)


def test_matched_items_marks_the_words_a_least_cost_alignment_pairs_with_equal_ones():
    assert matched_items(["the", "cat", "sat"], ["the", "bat", "sat"]) == [True, False, True]
    assert matched_items(["the", "cat", "sat"], ["the", "sat"]) == [True, True]  # a word missed
    assert matched_items(["the", "sat"], ["the", "big", "sat"]) == [True, False, True]  # a word extra
    assert matched_items([], ["a"]) == [False] and matched_items(["a"], []) == []


def line_of(*words: Word, engine: str = "line") -> Line:
    return Line(BBox(0, 0, 10, 10), words, engine=engine)


def test_a_words_features_say_what_is_known_of_it_when_it_is_read():
    known, garbled = word("house", 0.9, 0.9, 0.9, 0.9, 0.5), word("hqxse", 0.9, 0.9, 0.9, 0.9, 0.5)
    line = line_of(known, word("a", 0.5))
    features = dict(zip(FEATURES, word_features(known, line, "en")))
    assert features["mean_log_odds"] == pytest.approx(math.log(0.82 / 0.18))
    assert features["least_log_odds"] == pytest.approx(0.0)
    assert features["log_length"] == pytest.approx(math.log(6))
    assert features["corrected"] == 0.0
    assert features["known_word"] == 1.0 and word_features(garbled, line, "en")[4] == 0.0
    assert word_features(known, line, "xx")[4] == 0.0  # a language without a word list knows no word
    assert features["line_mean_log_odds"] == pytest.approx((math.log(0.82 / 0.18) + 0.0) / 2)


def test_the_fit_learns_how_often_words_of_each_kind_are_right():
    """Words whose least letter is doubtful are right a fifth of the time, the others 90 %: the
    calibrated probabilities say so, where the characters' mean says 0.9 for both."""
    rng = np.random.default_rng(0)
    words, right = [], []
    for k in range(2000):
        doubtful = k % 2 == 0
        words.append(word("house", 0.97, 0.97, 0.97, 0.97, 0.4 if doubtful else 0.93))
        right.append(rng.random() < (0.2 if doubtful else 0.9))
    outcomes = [(line_of(w), w, r) for w, r in zip(words, right)]
    [calibration] = fit_engines(samples(outcomes, "en"), "test words")
    assert calibration.engine == "line" and calibration.words == 2000 and calibration.fitted_on == "test words"
    assert calibration.probability(words[0], line_of(words[0]), "en") == pytest.approx(0.2, abs=0.04)
    assert calibration.probability(words[1], line_of(words[1]), "en") == pytest.approx(0.9, abs=0.03)
    before, _ = reliability([w.mean_confidence for w in words], right)
    after, table = reliability([calibration.probability(w, line, "en") for line, w, _ in outcomes], right)
    assert before > 0.2 and after < 0.02
    assert sum(n for _, _, n, _, _ in table) == 2000
    empty = Word(BBox(0, 0, 1, 1), (), "")
    assert calibration.probability(empty, line_of(empty), "en") == 0.0  # nothing read is not right


def test_reliability_is_the_words_mean_gap_between_confidence_and_being_right():
    ece, table = reliability([0.95, 0.95, 0.15, 0.15], [True, False, False, False], bins=10)
    assert ece == pytest.approx((2 * 0.45 + 2 * 0.15) / 4)
    assert [(n, share) for _, _, n, _, share in table] == [(2, 0.0), (2, 0.5)]


def test_engines_with_too_few_words_are_not_calibrated():
    a = word("a", 0.9)
    few = [(line_of(a, engine="glyph"), a, True)] * (FEWEST_WORDS - 1)
    enough = [(line_of(a), a, k % 2 == 0) for k in range(FEWEST_WORDS)]
    empty = Word(BBox(0, 0, 1, 1), (), "")
    nothing = [(line_of(empty), empty, False)] * 50  # words of no characters are not counted
    assert [c.engine for c in fit_engines(samples(few + enough + nothing, "en"), "x")] == ["line"]
    with pytest.raises(ValueError):
        fit("line", [], [])


def test_a_calibration_round_trips_and_one_on_other_features_is_refused():
    calibration = WordCalibration("line", (0.1, 1.0, 0.5, -0.2, 0.3, 0.7, 0.1), 1234, "pages")
    assert WordCalibration.from_dict(calibration.to_dict(), "m") == calibration
    stale = dict(calibration.to_dict(), features=["mean_confidence"])
    with pytest.raises(ModelError, match="other features"):
        WordCalibration.from_dict(stale, "lines.keras")


def test_calibrated_words_report_their_probability_and_the_others_their_characters_mean():
    calibration = WordCalibration("line", (-2.0,) + (0.0,) * len(FEATURES))
    lines = (Line(BBox(0, 0, 10, 10), (word("ab", 0.9, 0.9),), engine="line"),
             Line(BBox(0, 20, 10, 30), (word("cd", 0.8, 0.8),), engine="tesseract"))  # fmt: skip
    page = calibrate_page(PageResult(0, 100, 100, 300.0, 0.0, lines), {"line": calibration}, "en")
    calibrated, kept = page.lines[0].words[0], page.lines[1].words[0]
    assert calibrated.confidence == calibrated.calibrated == pytest.approx(1 / (1 + math.exp(2)), abs=1e-4)
    assert kept.calibrated is None and kept.confidence == pytest.approx(0.8)
    assert Word.from_dict(calibrated.to_dict()) == calibrated  # a checkpoint keeps it


def test_word_outcomes_mark_each_read_word_against_its_lines_transcription():
    from test_evalpages import ROWS, TEXTS, drawn_page, read_line, result, transcription

    misread = [read_line(t, top, bottom) for t, (top, bottom) in zip(TEXTS, ROWS)]
    misread[1] = read_line("MANY ROAMS", *ROWS[1])
    outcomes = word_outcomes(transcription(), result(*misread), drawn_page())
    assert [(w.text, right) for _, w, right in outcomes] == [
        ("HOUSE", True), ("OF", True), ("MANY", True), ("ROAMS", False), ("LATER", True), ("NOTE", True),
    ]  # fmt: skip


@pytest.fixture
def models_copy(tiny_models_dir, tmp_path):
    """The tiny model in a folder of the test's own, since calibrating writes into its manifest."""
    return shutil.copytree(tiny_models_dir, tmp_path / "models")


def test_a_calibration_is_stored_in_its_engines_manifest_and_not_replaced_unasked(models_copy):
    cfg = RecognizeConfig(engine="glyph", model="tiny", models_dir=models_copy)
    uncalibrated = engine_digest(cfg, "en")
    first = WordCalibration("glyph", (0.5, 1.0) + (0.0,) * (len(FEATURES) - 1), 300, "first")
    tesseract = WordCalibration("tesseract", (0.0,) * (len(FEATURES) + 1))  # Tesseract keeps its own
    [path] = store_calibrations(cfg, [first, tesseract], overwrite=False)
    assert json.loads(path.read_text())["word_confidence"]["fitted_on"] == "first"
    assert word_calibrations(cfg, "en") == {"glyph": first}
    assert engine_digest(cfg, "en") != uncalibrated  # outputs with the old confidences are redone
    with pytest.raises(ConfigError, match="--overwrite"):
        refuse_to_recalibrate(cfg, "en", overwrite=False)
    with pytest.raises(ConfigError, match="--overwrite"):
        store_calibrations(cfg, [first], overwrite=False)
    second = WordCalibration("glyph", (-0.5, 1.0) + (0.0,) * (len(FEATURES) - 1), 400, "second")
    store_calibrations(cfg, [second], overwrite=True)
    assert word_calibrations(cfg, "en") == {"glyph": second}


def drawn_words_page(seed: int) -> tuple[np.ndarray, list[str]]:
    """A page of 10 rows of short printed words, and the rows' texts."""
    rng = np.random.default_rng(seed)
    page = np.full((1100, 1000), 240, np.uint8)
    rows = []
    for r in range(10):
        text = " ".join("".join(rng.choice(list("ACEHLNORST"), 3)) for _ in range(8))
        cv2_put(page, text, 60, 90 + 100 * r)
        rows.append(text)
    return page, rows


def cv2_put(page, text, x, y):
    import cv2

    cv2.putText(page, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, 1.0, 20, 3, cv2.LINE_AA)


@pytest.mark.slow
def test_calibrate_fits_the_pages_words_and_run_then_reports_the_probability(models_copy, tmp_path):
    from test_evalpages import write_page_xml

    folder = tmp_path / "transcribed"
    for seed in range(3):
        page, rows = drawn_words_page(seed)
        write_png(folder / f"letter{seed}.png", page)
        write_page_xml(folder / f"letter{seed}.xml",
                       [(((40, 55 + 100 * r), (980, 55 + 100 * r), (980, 105 + 100 * r), (40, 105 + 100 * r)), t)
                        for r, t in enumerate(rows)])  # fmt: skip
    options = ["--models-dir", str(models_copy), "--model", "tiny", "--engine", "glyph", "--correct", "none"]
    run = CliRunner().invoke(cli, ["calibrate", str(folder), *options], catch_exceptions=False)
    assert run.exit_code == 0, run.output
    assert "glyph: " in run.output and "wrote " in run.output
    stored = json.loads((models_copy / "tiny.json").read_text())["word_confidence"]
    assert stored["engine"] == "glyph" and stored["words"] >= FEWEST_WORDS
    again = CliRunner().invoke(cli, ["calibrate", str(folder), *options])
    assert again.exit_code == 2 and "--overwrite" in again.output  # refused before any page is read

    # the untrained model reads every word wrong: the words now carry the fitted probability of that
    out = tmp_path / "out"
    done = CliRunner().invoke(cli, ["run", str(folder), str(out), "--workers", "1", "--quiet", "--formats", "csv",
                                    *options], catch_exceptions=False)  # fmt: skip
    assert done.exit_code == 0, done.output
    words = pd.concat(pd.read_csv(p) for p in sorted(out.glob("letter*.csv")))
    assert len(words) >= FEWEST_WORDS
    assert (words["confidence"] != words["mean_confidence"]).all()
    assert words["confidence"].max() < 0.05

"""`hcrbatch train` and `hcrbatch eval` on a few hundred characters the test draws itself."""

import json

import cv2
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from hcrbatch.cli import cli
from hcrbatch.config import DEFAULT_MODELS_DIR
from hcrbatch.errors import ExitCode
from conftest import LABELLED_CLASSES as CLASSES
from hcrbatch.modelstore import ModelManifest, TrainingClock, adjust_priors
from hcrbatch.train.augment import elastic_distort
from hcrbatch.train.charcnn import prose_prior
from hcrbatch.train.datasets import read_labelled_folder
from hcrbatch.train.evaluate import Evaluation


def train(folder, tmp_path, name, *options):
    argv = ["train", "--data", str(folder), "--epochs", "1", "--font-samples", "0", "--page-glyphs", "0", "--name", name, *options,
            "--models-dir", str(tmp_path / "models"), "--work-dir", str(tmp_path / "work"), "--seed", "3", "-q"]  # fmt: skip
    return CliRunner().invoke(cli, argv, catch_exceptions=False)


def test_labelled_folder_reader_decodes_unsafe_labels(labelled_folder):
    glyphs = read_labelled_folder(labelled_folder)
    assert set(glyphs.labels) == set(CLASSES)
    assert glyphs.images.shape == (300, 28, 28) and glyphs.images.max() <= 1.0


def test_digits_alone_are_read_among_the_ten_digits_only():
    charset = "01Ol"
    probs = np.array(
        [
            [0.3, 0.1, 0.5, 0.1],  # a 0 read as O; among digits, 0
            [0.1, 0.3, 0.1, 0.5],  # a 1 read as l; among digits, 1
            [0.1, 0.6, 0.2, 0.1],  # a 0 read as 1 either way
            [0.1, 0.1, 0.7, 0.1],  # an O, right
        ]
    )
    summary = Evaluation.from_probabilities(["0", "1", "0", "O"], probs, charset).summary()
    assert summary["accuracy_62"] == 0.25
    assert summary["accuracy_digits"] == 0.0
    assert summary["accuracy_digits_alone"] == pytest.approx(2 / 3)


def test_training_clock_adds_the_interrupted_runs_time_until_the_backup_is_deleted(tmp_path):
    now = iter([100.0, 160.0, 500.0, 530.0, 900.0, 905.0]).__next__
    first = TrainingClock(tmp_path / "backup", now=now)
    first.save()  # an epoch ended 60 s in; then the run was killed
    resumed = TrainingClock(tmp_path / "backup", now=now)
    assert resumed.seconds == 90.0
    (tmp_path / "backup" / TrainingClock.FILE).unlink()  # Keras deletes the backup when training ends
    assert TrainingClock(tmp_path / "backup", now=now).seconds == 5.0


@pytest.mark.slow
@pytest.mark.parametrize("elastic", [False, True])
def test_train_writes_model_and_manifest_then_eval_reports(labelled_folder, tmp_path, elastic):
    result = train(labelled_folder, tmp_path, "tiny", *(["--elastic-alpha", "34"] if elastic else []))
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "models" / "tiny.json").read_text())
    assert ("elastic distortion" in manifest["augmentation"]) == elastic
    assert sorted(manifest["charset"]) == sorted(CLASSES)
    assert manifest["seed"] == 3 and manifest["epochs_run"] == 1
    assert set(manifest["class_sources"].values()) == {"labelled images"}
    assert manifest["metrics"]["test_rows"] == 30  # 10 % held out
    assert set(manifest["prose_prior"]) == set(manifest["charset"])
    assert 0.0 <= manifest["metrics"]["accuracy_62"] <= 1.0

    out = tmp_path / "eval"
    result = CliRunner().invoke(cli, ["eval", "--data", str(labelled_folder), "--model", "tiny",
                                      "--models-dir", str(tmp_path / "models"), "--out", str(out)])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "accuracy_62:" in result.output and "accuracy_47_balanced_merge:" in result.output
    assert "accuracy_digits_alone:" in result.output
    per_class = pd.read_csv(out / "per_class.csv", keep_default_na=False)
    assert sorted(per_class["class"]) == sorted(CLASSES) and (per_class["count"] == 30).all()
    assert cv2.imread(str(out / "confusion_matrix.png")) is not None


def test_prose_prior_makes_each_class_as_likely_as_in_prose():
    trained = np.array(list("7" * 500 + "e" * 100 + "t" * 100 + "~" * 10), dtype=object)
    weights = prose_prior(trained, seed=0, paragraphs=200)
    assert weights["e"] > weights["t"] > 0 > weights["7"]  # prose writes letters, and e most
    classes = sorted(weights)
    shares = np.array([[np.mean(trained == c) for c in classes]])
    in_prose = dict(zip(classes, adjust_priors(shares, np.array([weights[c] for c in classes]))[0]))
    assert in_prose["e"] / in_prose["t"] == pytest.approx(1.74, abs=0.15)  # e and t in English and French
    assert in_prose["~"] < in_prose["7"] < 0.05  # 70 % of the training glyphs; prose never writes ~
    assert in_prose["~"] > 0  # a floor, not zero


def test_a_manifest_gives_the_prior_asked_for_and_training_when_it_has_no_prose_prior():
    manifest = ModelManifest("m", "1", "ab", (28, 28), "", (), extra={"prior_correction": {"a": 0.5}})
    np.testing.assert_allclose(manifest.log_prior_weights("training"), [0.5, 0.0])
    np.testing.assert_allclose(manifest.log_prior_weights("prose"), [0.5, 0.0])
    with_prose = ModelManifest("m", "1", "ab", (28, 28), "", (), extra={**manifest.extra, "prose_prior": {"b": 2.0}})
    np.testing.assert_allclose(with_prose.log_prior_weights("prose"), [0.0, 2.0])
    np.testing.assert_allclose(with_prose.log_prior_weights("training"), [0.5, 0.0])


def test_elastic_distortion_moves_ink_smoothly_and_independently_in_x_and_y():
    ys, xs = np.mgrid[0:28, 0:28].astype(np.float32)
    positions = (xs / 27)[None]  # an "image" whose pixels hold their own column
    once = elastic_distort(positions, np.random.default_rng(5), alpha=34)
    assert np.array_equal(once, elastic_distort(positions, np.random.default_rng(5), alpha=34))
    moved = (once - positions)[0, 6:22, 6:22] * 27  # in pixels, away from the black border fill
    assert 0.3 < np.abs(moved).mean() < 4.0
    assert np.abs(np.diff(moved, axis=1)).mean() < 0.25 * np.abs(moved).mean()  # neighbours move together

    blobs = np.zeros((300, 28, 28), np.float32)
    blobs[:, 11:17, 11:17] = 1.0
    distorted = elastic_distort(blobs, np.random.default_rng(6), alpha=34)
    mass = distorted.sum(axis=(1, 2))
    shift_x = (distorted * xs).sum(axis=(1, 2)) / mass - 13.5
    shift_y = (distorted * ys).sum(axis=(1, 2)) / mass - 13.5
    assert np.abs(shift_x).mean() > 0.3 and np.abs(shift_y).mean() > 0.3
    assert abs(np.corrcoef(shift_x, shift_y)[0, 1]) < 0.2  # not along one diagonal, as Keras's layer moves ink


@pytest.mark.slow
def test_training_is_deterministic_with_a_seed(labelled_folder, tmp_path):
    import keras

    for name in ("a", "b"):
        assert train(labelled_folder, tmp_path / name, "m").exit_code == 0
    batch = read_labelled_folder(labelled_folder).images[:40, ..., None]
    pa = keras.models.load_model(tmp_path / "a" / "models" / "m.keras").predict(batch, verbose=0)
    pb = keras.models.load_model(tmp_path / "b" / "models" / "m.keras").predict(batch, verbose=0)
    np.testing.assert_allclose(pa, pb, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("schedule", ["cosine", "plateau"])
def test_learning_rate_follows_the_schedule(labelled_folder, tmp_path, schedule):
    """Cosine halves the rate by the middle of training and ends near zero; plateau keeps it while
    validation improves (too few epochs here for a cut)."""
    result = train(labelled_folder, tmp_path, "sched", "--epochs", "2", "--schedule", schedule,
                   "--learning-rate", "0.002", "--patience", "5")  # fmt: skip
    assert result.exit_code == 0, result.output
    rates = pd.read_csv(tmp_path / "work" / "sched" / "history.csv")["learning_rate"].tolist()
    if schedule == "cosine":
        assert rates[0] == pytest.approx(0.001, rel=0.05) and rates[1] == pytest.approx(0.0, abs=1e-6)
    else:
        assert rates == pytest.approx([0.002, 0.002])
    manifest = json.loads((tmp_path / "models" / "sched.json").read_text())
    assert manifest["learning_rate"] == {"initial": 0.002, "schedule": schedule, "batch_size": 128}


@pytest.fixture(scope="module")
def printed_pool():
    """Three drawings of each of 0-9 A-Z a-z, normalised: enough for GlyphHand to write any word."""
    from hcrbatch.glyphs import normalise_glyph
    from hcrbatch.train.glyphdata import BASE_CHARSET
    from hcrbatch.train.datasets import GlyphSet

    images, labels = [], []
    for char in BASE_CHARSET:
        for font in (cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_DUPLEX, cv2.FONT_HERSHEY_COMPLEX):
            img = np.zeros((64, 64), np.uint8)
            cv2.putText(img, char, (12, 48), font, 1.4, 255, 3, cv2.LINE_AA)
            images.append(normalise_glyph(img))
            labels.append(char)
    return GlyphSet(np.stack(images), np.array(labels, dtype=object), "drawn")


def test_page_glyphs_are_the_segmenters_cuts_labelled_with_the_characters_written(printed_pool):
    from pathlib import Path

    from hcrbatch.elements import PageImage
    from hcrbatch.synth import GlyphHand, render_page
    from hcrbatch.train.pageglyphs import cut_glyphs, glyph_stacks, page_glyphs

    rng = np.random.default_rng(0)
    page = render_page(["Dear Sir, the 12 boxes came today.", "Yours truly, A. Baker"],
                       GlyphHand(glyph_stacks(printed_pool), cap_height=40), rng, dpi=250)  # fmt: skip
    chars = [(c, box) for line in page.lines for word in line.words for c, box in word.chars]
    crops, labels = cut_glyphs(PageImage(Path("p.png"), 0, page.pixels, 250), chars)
    assert len(labels) >= 0.8 * len(chars)
    truth = iter(c for c, _ in chars)
    assert all(label in truth for label in labels)  # in reading order, each at most once
    assert all(set(np.unique(crop)) == {0, 255} for crop in crops)  # binary ink, as any page crop

    first, again = page_glyphs(printed_pool, 1, seed=4), page_glyphs(printed_pool, 1, seed=4)
    assert len(first) > 100 and np.array_equal(first.images, again.images)
    assert set(first.labels) <= set(printed_pool.labels) | set(".,'-")
    assert first.images.shape[1:] == (28, 28) and first.images.max() <= 1.0


def test_class_mix_pages_write_the_training_rows_class_frequencies(printed_pool):
    from hcrbatch.train.datasets import class_shares
    from hcrbatch.train.pageglyphs import class_mix_text, page_glyphs

    rng = np.random.default_rng(0)
    text = class_mix_text(rng, class_shares(np.array(["1"] * 900 + ["a"] * 100, dtype=object)), 5000)
    assert len(text) <= 5000 and set(text) - set('.,;:?!()"') == {"1", "a", " "}
    assert text.count(",") > 10  # punctuated like prose, whose commas a page shows
    assert max(len(word.strip('.,;:?!()"')) for word in text.split(" ")) <= 7
    assert 0.85 < text.count("1") / (text.count("1") + text.count("a")) < 0.95

    cut = page_glyphs(printed_pool, 1, seed=4, text="class-mix")
    digits = sum(label.isdigit() for label in cut.labels)
    assert len(cut) > 100 and digits > 0.1 * len(cut)  # prose would give almost none


@pytest.mark.slow
def test_train_takes_page_glyphs_from_the_cli(printed_pool, tmp_path):
    from hcrbatch.train.datasets import encode_label

    folder = tmp_path / "printed"  # every letter, so the pages are full of words, as EMNIST's would be
    for i, (image, char) in enumerate(zip(printed_pool.images, printed_pool.labels)):
        (folder / encode_label(char)).mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(folder / encode_label(char) / f"{i}.png"), (255 - image * 255).astype(np.uint8))
    result = train(folder, tmp_path, "paged", "--page-glyphs", "2")  # the later option wins
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "models" / "paged.json").read_text())
    described = [line for line in manifest["training_data"] if line.startswith("page glyphs:")]
    assert described and "from 2 pages" in described[0] and int(described[0].split()[2]) > 100


@pytest.mark.parametrize("command", [["train"], ["train-lines"], ["gan", "train"]])
def test_training_refuses_to_replace_a_shipped_model_before_it_starts(command, labelled_folder, tmp_path):
    shipped = {path.name: path.stat().st_mtime_ns for path in DEFAULT_MODELS_DIR.iterdir()}
    work = tmp_path / "work"
    result = CliRunner().invoke(cli, [*command, "--data", str(labelled_folder), "--work-dir", str(work)])
    assert result.exit_code == ExitCode.USAGE and "--overwrite" in result.output
    assert not work.exists()  # refused before any training
    assert {path.name: path.stat().st_mtime_ns for path in DEFAULT_MODELS_DIR.iterdir()} == shipped


def test_training_replaces_its_own_model_only_with_overwrite(labelled_folder, tmp_path):
    assert train(labelled_folder, tmp_path, "tiny").exit_code == 0
    first = (tmp_path / "models" / "tiny.keras").read_bytes()
    again = train(labelled_folder, tmp_path, "tiny")
    assert again.exit_code == ExitCode.USAGE and "tiny.json exists" in again.output
    assert (tmp_path / "models" / "tiny.keras").read_bytes() == first
    assert train(labelled_folder, tmp_path, "tiny", "--overwrite").exit_code == 0

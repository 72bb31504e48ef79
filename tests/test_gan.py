"""`hcrbatch gan train/sample` and `hcrbatch train --balance gan`, on characters the tests draw."""

import json

import cv2
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from conftest import LABELLED_CLASSES
from hcrbatch.cli import cli
from hcrbatch.errors import ExitCode
from hcrbatch.modelstore import adjust_priors
from hcrbatch.train.charcnn import prior_correction
from hcrbatch.train.datasets import decode_label, read_labelled_folder
from hcrbatch.train.gan import GlyphGenerator, build_discriminator, build_generator, top_up_counts


def invoke(*argv):
    return CliRunner().invoke(cli, [str(a) for a in argv], catch_exceptions=False)


@pytest.fixture(scope="module")
def tiny_gan(labelled_folder, tmp_path_factory):
    """A GAN trained for one epoch of three steps; returns (models dir, work dir)."""
    root = tmp_path_factory.mktemp("gan")
    result = invoke("gan", "train", "--data", labelled_folder, "--epochs", 1, "--steps-per-epoch", 3,
                    "--batch-size", 16, "--font-samples", 0, "--name", "tinygan", "--models-dir", root / "models",
                    "--work-dir", root / "work", "-q")  # fmt: skip
    assert result.exit_code == 0, result.output
    return root / "models", root / "work"


def test_networks_have_the_shapes_the_pipeline_needs():
    generator = build_generator(7, latent_dim=16)
    images = np.asarray(generator([np.zeros((3, 16), np.float32), np.array([0, 3, 6], np.int32)]))
    assert images.shape == (3, 28, 28, 1) and images.min() >= 0 and images.max() <= 1
    realness, logits = build_discriminator(7)([images, np.array([0, 3, 6], np.int32)])
    assert realness.shape == (3, 1) and logits.shape == (3, 7)


def test_top_up_counts_fill_each_class_to_the_target():
    labels = np.array(list("aaaab") + ["c"] * 9, dtype=object)
    assert top_up_counts(labels, "abcd", 6) == {"a": 2, "b": 5, "d": 6}


@pytest.mark.slow
def test_gan_train_writes_generator_manifest_grid_and_checkpoint(tiny_gan):
    models, work = tiny_gan
    text = (models / "tinygan.json").read_text()
    manifest = json.loads(text, parse_constant=lambda name: pytest.fail(f"{name} is not JSON"))
    assert sorted(manifest["charset"]) == sorted(LABELLED_CLASSES)
    assert manifest["latent_dim"] == 64 and "hinge loss" in manifest["design"]
    grid = cv2.imread(str(work / "tinygan" / "grids" / "epoch-001.png"), cv2.IMREAD_GRAYSCALE)
    assert grid.shape == (28 * len(LABELLED_CLASSES), 28 * 10)
    assert (work / "tinygan" / "checkpoint.weights.h5").is_file()


@pytest.mark.slow
def test_gan_train_resumes_after_the_last_finished_epoch(labelled_folder, tiny_gan, tmp_path):
    models, work = tiny_gan
    resumed = tmp_path / "work"
    (resumed / "tinygan").mkdir(parents=True)
    for name in ("checkpoint.weights.h5", "checkpoint.weights.epoch", "history.csv"):
        (resumed / "tinygan" / name).write_bytes((work / "tinygan" / name).read_bytes())
    result = invoke("gan", "train", "--data", labelled_folder, "--epochs", 2, "--steps-per-epoch", 3,
                    "--batch-size", 16, "--font-samples", 0, "--name", "tinygan", "--models-dir", tmp_path / "models",
                    "--work-dir", resumed, "--log-file", tmp_path / "log.txt", "-q")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "resuming from" in (tmp_path / "log.txt").read_text()
    assert list(pd.read_csv(resumed / "tinygan" / "history.csv")["epoch"]) == [0, 1]
    assert not (resumed / "tinygan" / "grids" / "epoch-001.png").exists()  # epoch 1 was not run again
    assert (resumed / "tinygan" / "grids" / "epoch-002.png").is_file()


@pytest.mark.slow
def test_sampling_is_seeded_and_writes_a_folder_train_reads(tiny_gan, tmp_path):
    models, _ = tiny_gan
    generator = GlyphGenerator.load(models, "tinygan")
    a, b = generator.sample("A-", 4, seed=5), generator.sample("A-", 4, seed=5)
    assert a["A"].shape == (4, 28, 28) and np.array_equal(a["-"], b["-"])

    out = tmp_path / "samples"
    result = invoke("gan", "sample", "--per-class", 3, "--out", out, "--models-dir", models, "--model", "tinygan")
    assert result.exit_code == 0, result.output
    assert sorted(decode_label(p.name) for p in out.iterdir()) == sorted(LABELLED_CLASSES)
    assert all(len(list(p.glob("*.png"))) == 3 for p in out.iterdir())
    glyphs = read_labelled_folder(out)
    assert glyphs.images.shape == (3 * len(LABELLED_CLASSES), 28, 28)

    result = invoke("train", "--data", out, "--epochs", 1, "--font-samples", 0, "--page-glyphs", 0,
                    "--name", "fromgan", "--models-dir", tmp_path / "m", "--work-dir", tmp_path / "w", "-q")  # fmt: skip
    assert result.exit_code == 0, result.output


@pytest.mark.slow
def test_train_balance_gan_tops_up_from_the_generator(labelled_folder, tiny_gan, tmp_path):
    models, _ = tiny_gan
    result = invoke("train", "--data", labelled_folder, "--epochs", 1, "--font-samples", 0, "--page-glyphs", 0,
                    "--name", "balanced", "--models-dir", models, "--work-dir", tmp_path / "w", "--balance", "gan", "--gan", "tinygan",
                    "--balance-to", 40, "-q")  # fmt: skip
    assert result.exit_code == 0, result.output
    manifest = json.loads((models / "balanced.json").read_text())
    assert set(manifest["class_sources"].values()) == {"GAN + labelled images"}
    # 27 rows per class remain after the 10 % hold-out; 13 generated ones bring each to 40
    assert any("gan:tinygan: 130 generated glyphs" in line for line in manifest["training_data"])

    # a judge keeps only the generated glyphs it reads as their class: a barely trained GAN's are few
    result = invoke("train", "--data", labelled_folder, "--epochs", 1, "--font-samples", 0, "--page-glyphs", 0,
                    "--name", "judged", "--models-dir", models, "--work-dir", tmp_path / "w2", "--balance", "gan", "--gan", "tinygan",
                    "--balance-to", 40, "--gan-judge", "balanced", "-q")  # fmt: skip
    assert result.exit_code == 0, result.output
    described = json.loads((models / "judged.json").read_text())["training_data"]
    kept = [int(line.split(": ")[1].split()[0]) for line in described if line.startswith("gan:tinygan")]
    assert kept == [] or kept[0] < 130


def test_sampling_from_a_model_that_is_not_a_generator_is_a_model_error(tiny_models_dir, tmp_path):
    result = invoke("gan", "sample", "--out", tmp_path, "--models-dir", tiny_models_dir, "--model", "tiny")
    assert result.exit_code == ExitCode.MODEL_INVALID and "not a character generator" in result.output


@pytest.mark.slow
def test_sampling_a_character_the_generator_lacks_is_a_usage_error(tiny_gan, tmp_path):
    models, _ = tiny_gan
    result = invoke("gan", "sample", "--out", tmp_path, "--chars", "Az", "--models-dir", models, "--model", "tinygan")
    assert result.exit_code == ExitCode.USAGE and "cannot write 'z'" in result.output


def test_prior_correction_gives_back_the_real_class_frequencies():
    real = np.array(["a"] * 30 + ["b"] * 10, dtype=object)
    topped = np.concatenate([real, np.array(["b"] * 20, dtype=object)])
    corrections = prior_correction(real, topped)
    assert corrections == pytest.approx({"a": np.log(0.75 / 0.5), "b": np.log(0.25 / 0.5)}, abs=1e-3)
    # a glyph the network finds equally likely either way is, by the real frequencies, three times an "a"
    adjusted = adjust_priors(np.array([[0.5, 0.5]]), np.array([corrections["a"], corrections["b"]]))
    np.testing.assert_allclose(adjusted, [[0.75, 0.25]], atol=1e-3)

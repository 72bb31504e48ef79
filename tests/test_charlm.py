"""The line engine's character language model: Kneser–Ney counts, the ARPA file KenLM reads, and the
CTC beam search that weighs it against the recognizer's outputs without inventing characters."""

import json
import math

import numpy as np
import pytest
from click.testing import CliRunner

from hcrbatch.charlm import BOS, SPACE_TOKEN, kneser_ney, line_log_prob, write_arpa
from hcrbatch.cli import cli
from hcrbatch.ctcdecode import LmBeamDecoder, LmSearch, char_lm_manifests, choose_decoding
from hcrbatch.errors import ModelError
from hcrbatch.lineengine import align
from hcrbatch.modelstore import load_manifest, write_manifest

TEXT = ["the cat sat on the mat", "the dog ate the bone", "then the hen left", "a tent in the heath"] * 5
FRENCH = ["le chat est la", "la tete de la chatte", "elle est les", "sa mie est belle"] * 5
CHARSET = " abcdefghilmnostx"


def next_char_prob(history: list[str], token: str, probs, weights) -> float:
    """P(token | history) by ARPA back-off, as KenLM computes it."""
    order = len(probs) - 1
    context = tuple(history[-(order - 1) :])
    penalty = 1.0
    while (*context, token) not in probs[len(context) + 1]:
        penalty *= weights[len(context)].get(context, 1.0)
        context = context[1:]
    return penalty * probs[len(context) + 1][(*context, token)]


@pytest.mark.parametrize("min_count", [1, 2, 5])
def test_every_history_s_next_character_distribution_sums_to_one_even_when_pruned(min_count):
    probs, weights = kneser_ney(TEXT + ["odd text here"], order=5, min_count=min_count)
    vocabulary = [g[0] for g in probs[1] if g[0] != BOS]
    for history in ([BOS], [BOS, "t", "h"], ["t", "h", "e", SPACE_TOKEN], ["x", "q", "z", "z"], list("heath")):
        assert sum(next_char_prob(history, t, probs, weights) for t in vocabulary) == pytest.approx(1.0)


def test_the_model_prefers_text_like_its_training_lines():
    probs, weights = kneser_ney(TEXT, order=5)
    assert line_log_prob("the cat sat", probs, weights) > line_log_prob("teh cta sta", probs, weights) + 5


def write_model(models_dir, name="charlm-en", task="character language model", search=None, text=None):
    probs, weights = kneser_ney(text or TEXT, order=5, min_count=1)
    write_arpa(models_dir / f"{name}.arpa.gz", probs, weights)
    write_manifest(
        models_dir,
        {"name": name, "version": "test", "task": task, "weights": f"{name}.arpa.gz", "charset": CHARSET[1:],
         "input_size": [], "normalisation": "test", "training_data": ["TEXT"], "metrics": {},
         **({"search": search} if search else {})},
    )  # fmt: skip
    return load_manifest(models_dir, name)


def steps_for(readings: list[dict[str, float]]) -> np.ndarray:
    """CTC probabilities: each step a distribution over blank + CHARSET, a blank step between characters."""
    rows = []
    for reading in readings:
        row = np.full(len(CHARSET) + 1, 1e-4)
        for char, p in reading.items():
            row[CHARSET.index(char) + 1] = p
        row[0] = max(1e-4, 1 - row[1:].sum())
        rows += [row / row.sum(), np.eye(len(CHARSET) + 1)[0] * 0.98 + 0.02 / (len(CHARSET) + 1)]
    return np.array(rows, np.float32)


def text_of(probs, path) -> str:
    return "".join(c.labels[0] for c in align(probs, CHARSET, 3, path))


def test_the_language_model_turns_an_unsure_reading_into_the_likelier_word(tmp_path):
    decoder = LmBeamDecoder(write_model(tmp_path), CHARSET, LmSearch(weight=1.0))
    probs = steps_for([{"t": 0.9}, {"h": 0.9}, {"c": 0.5, "e": 0.45}, {" ": 0.9}, {"c": 0.9}, {"a": 0.9}, {"t": 0.9}])
    assert text_of(probs, None) == "thc cat"  # best path
    assert text_of(probs, decoder.path(probs)) == "the cat"
    assert text_of(probs, decoder.with_search(LmSearch(weight=0.0)).path(probs)) == "thc cat"


def test_the_search_never_writes_a_character_the_recognizer_did_not_offer(tmp_path):
    decoder = LmBeamDecoder(write_model(tmp_path), CHARSET, LmSearch(weight=5.0, beam_tokens=3))
    # "thx": the model would much rather read "the", but at that step "e" is not among the 3 likeliest labels
    probs = steps_for([{"t": 0.9}, {"h": 0.9}, {"x": 0.6, "m": 0.2, "o": 0.1, "e": 0.001}])
    assert "e" not in text_of(probs, decoder.path(probs))


def test_pages_read_by_threads_search_with_a_decoder_each_and_read_as_one_thread_does(tmp_path):
    import threading
    from concurrent.futures import ThreadPoolExecutor

    decoder = LmBeamDecoder(write_model(tmp_path), CHARSET, LmSearch(weight=1.0))
    rng = np.random.default_rng(3)
    lines = [
        rng.dirichlet(np.full(len(CHARSET) + 1, 0.3), size=int(n)).astype(np.float32) for n in rng.integers(5, 40, 24)
    ]
    alone = [decoder.decode(probs) for probs in lines]
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(decoder.decode, lines * 3))
        meet = threading.Barrier(4)  # four calls at once: one on each of the pool's threads

        def own_decoder(_):
            meet.wait()
            return id(decoder._decoder)

        searches = set(pool.map(own_decoder, range(4)))
    for (path, score), (again, again_score) in zip(alone * 3, together):
        assert np.array_equal(path, again) and score == pytest.approx(again_score)
    assert len(searches) == 4 and id(decoder._decoder) not in searches  # nor is the calling thread's own


def test_a_character_chosen_by_the_language_model_keeps_its_own_confidence_and_the_alternatives(tmp_path):
    decoder = LmBeamDecoder(write_model(tmp_path), CHARSET, LmSearch(weight=1.0))
    probs = steps_for([{"t": 0.9}, {"h": 0.9}, {"c": 0.5, "e": 0.45}])
    chosen = align(probs, CHARSET, 3, decoder.path(probs))[2]
    assert chosen.labels[:2] == ("e", "c") and chosen.probs[0] < chosen.probs[1]


def test_auto_offers_every_installed_model_its_language_s_first_and_none_reads_best_path(tmp_path):
    write_model(tmp_path, name="charlm-fr", text=FRENCH)
    write_model(tmp_path)
    assert [m.name for m in char_lm_manifests(tmp_path, "auto", "en")] == ["charlm-en", "charlm-fr"]
    assert [m.name for m in char_lm_manifests(tmp_path, "auto", "fr")] == ["charlm-fr", "charlm-en"]
    assert [m.name for m in char_lm_manifests(tmp_path, "charlm-fr", "en")] == ["charlm-fr"]
    assert char_lm_manifests(tmp_path, "none", "en") == []
    with pytest.raises(ModelError, match="manifest not found"):
        char_lm_manifests(tmp_path, "charlm-de", "en")
    write_model(tmp_path, name="other", task="line recognizer")
    with pytest.raises(ModelError, match="not a character language model"):
        char_lm_manifests(tmp_path, "other", "en")


def test_each_page_is_read_with_the_model_of_the_language_it_is_written_in(tmp_path):
    english = LmBeamDecoder(write_model(tmp_path), CHARSET)
    french = LmBeamDecoder(write_model(tmp_path, name="charlm-fr", text=FRENCH), CHARSET)
    for text, language in (("the cat sat on the mat", english), ("le chat est la", french)):
        page = [steps_for([{c: 0.9} for c in text])] * 3
        decoder, paths = choose_decoding(page, [english, french])
        assert decoder is language and [text_of(p, path) for p, path in zip(page, paths)] == [text] * 3
    assert choose_decoding([steps_for([{"a": 0.9}])], []) == (None, None)


def test_loading_a_model_prints_nothing(tmp_path, capfd):
    LmBeamDecoder(write_model(tmp_path), CHARSET)
    assert capfd.readouterr() == ("", "")


def test_bad_search_settings_in_a_manifest_are_a_model_error(tmp_path):
    with pytest.raises(ModelError, match="bad 'search'"):
        LmBeamDecoder(write_model(tmp_path, search={"beam_width": 3}), CHARSET)


def write_letters(folder, count: int) -> None:
    """Transcribed pages (PAGE 2019 XML beside each image; the images themselves are not read)."""
    folder.mkdir()
    for k in range(count):
        lines = "".join(
            f'<TextLine id="l{i}"><Coords points="0,{i * 50} 800,{i * 50} 800,{i * 50 + 40} 0,{i * 50 + 40}"/>'
            f"<TextEquiv><Unicode>{text}</Unicode></TextEquiv></TextLine>"
            for i, text in enumerate(TEXT[k::4][:3] if k != 3 else ["zzz held out zzz"])
        )
        (folder / f"letter_{k}.png").write_bytes(b"")
        (folder / f"letter_{k}.xml").write_text(
            '<PcGts xmlns="http://schema.primaresearch.org/PAGE/gts/pagecontent/2019-07-15">'
            f'<Page imageFilename="letter_{k}.png" imageWidth="900" imageHeight="600">'
            f'<TextRegion id="r"><Coords points="0,0 900,0 900,600 0,600"/>{lines}</TextRegion></Page></PcGts>'
        )


def test_train_charlm_learns_from_transcribed_pages_leaves_out_held_out_ones_and_never_overwrites(tmp_path):
    write_letters(tmp_path / "letters", 4)
    models = tmp_path / "models"
    models.mkdir()
    argv = ["train-charlm", "--data", str(tmp_path / "letters"), "--lang", "en", "--models-dir", str(models),
            "--line-model", "", "--exclude", "letter_3", "--order", "4", "-q"]  # fmt: skip
    result = CliRunner().invoke(cli, argv, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    manifest = json.loads((models / "charlm-en.json").read_text())
    assert manifest["task"] == "character language model" and manifest["held_out_pages"] == ["letter_3"]
    assert "z" not in manifest["charset"] and manifest["metrics"]["held_out_lines"] == 1
    assert math.isfinite(manifest["metrics"]["bits_per_character"])
    assert LmBeamDecoder(load_manifest(models, "charlm-en"), CHARSET).path(steps_for([{"t": 0.9}])).tolist() == [
        CHARSET.index("t") + 1,
        0,
    ]
    again = CliRunner().invoke(cli, argv)
    assert again.exit_code != 0 and "--overwrite" in again.output
    assert CliRunner().invoke(cli, [*argv, "--overwrite"]).exit_code == 0


def test_line_folders_give_their_transcriptions_by_page(tmp_path):
    from hcrbatch.train.charlm import transcribed_texts

    (tmp_path / "labels.tsv").write_text("letter_7_001.jpg\tDear  Sir\nletter_7_002.jpg\t\nletter_8_001.jpg\tYours\n")
    assert transcribed_texts(tmp_path) == [("letter_7", "Dear Sir"), ("letter_8", "Yours")]

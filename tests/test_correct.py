import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hcrbatch.correct import LexiconCorrector, NullCorrector, case_prior, lattice_paths
import itertools

from hcrbatch.elements import Alternative, BBox, Char, Line, PageResult, Word
from hcrbatch.errors import ConfigError

BOX = BBox(0, 0, 10, 10)


def char_from(alts: list[tuple[str, float]]) -> Char:
    return Char(BOX, tuple(label for label, _ in alts), tuple(p for _, p in alts))


def word_from(lattice: list[list[tuple[str, float]]], alternatives=()) -> Word:
    chars = tuple(char_from(alts) for alts in lattice)
    others = tuple(Alternative(start, end, tuple(char_from(a) for a in alts)) for start, end, alts in alternatives)
    return Word(BOX, chars, "".join(c.text for c in chars), alternatives=others)


LEXICON = LexiconCorrector("en")


def test_planted_substitution_is_fixed_from_the_second_choice():
    word = word_from([[("h", 0.9)], [("e", 0.9)], [("1", 0.6), ("l", 0.35)], [("l", 0.9)], [("o", 0.8), ("0", 0.2)]])
    assert word.raw_text == "he1lo"
    fixed = LEXICON.correct_word(word)
    assert (fixed.text, fixed.raw_text, fixed.corrected_by) == ("hello", "he1lo", "lexicon")


def test_correction_keeps_which_engine_read_the_line():
    word = word_from([[("h", 0.9)], [("e", 0.9)], [("1", 0.6), ("l", 0.35)], [("l", 0.9)], [("o", 0.9)]])
    page = PageResult(0, 10, 10, 300.0, 0.0, (Line(BOX, (word,), engine="line"),))
    corrected = LEXICON.correct_page(page).lines[0]
    assert (corrected.text, corrected.engine) == ("hello", "line")


def test_two_glyphs_read_as_one_letter_when_the_word_says_so():
    # "tirne": the segmenter cut an "m" in two; its other cut reads "m"
    word = word_from([[("t", 0.9)], [("i", 0.9)], [("r", 0.8)], [("n", 0.8)], [("e", 0.9)]],
                     [(2, 4, [[("m", 0.7), ("n", 0.2)]])])  # fmt: skip
    fixed = LEXICON.correct_word(word)
    assert (fixed.text, fixed.raw_text) == ("time", "tirne")


def test_one_glyph_read_as_two_letters_when_the_word_says_so():
    # "retum" is no word; cut in two, the last glyph reads "rn"
    word = word_from([[("r", 0.9)], [("e", 0.9)], [("t", 0.9)], [("u", 0.9)], [("m", 0.8)]],
                     [(4, 5, [[("r", 0.8)], [("n", 0.8)]])])  # fmt: skip
    assert LEXICON.correct_word(word).text == "return"


def test_the_segmenters_cut_stands_when_the_other_reads_no_better():
    word = word_from([[("h", 0.9)], [("o", 0.9)], [("m", 0.8)], [("e", 0.9)]], [(2, 3, [[("r", 0.5)], [("n", 0.4)]])])
    assert LEXICON.correct_word(word).text == "home"


def test_case_is_chosen_by_the_lexicon_and_case_prior():
    word = word_from([[("T", 0.9)], [("H", 0.5), ("h", 0.45)], [("e", 0.9)]])
    assert LEXICON.correct_word(word).text == "The"


def test_unknown_word_prefers_the_spelling_that_looks_like_the_language():
    # neither "Brunel" nor "Bvunel" needs to be in the lexicon: the character n-gram decides
    word = word_from([[("B", 0.9)], [("v", 0.5), ("r", 0.45)], [("u", 0.9)], [("n", 0.9)], [("e", 0.9)], [("l", 0.9)]])
    assert LEXICON.correct_word(word).text == "Brunel"


def test_numbers_and_unknown_identifiers_are_left_alone():
    number = word_from([[("1", 0.6), ("l", 0.4)], [("8", 0.9)], [("8", 0.9)], [("7", 0.7), ("T", 0.3)]])
    assert LEXICON.correct_word(number) is number
    code = word_from([[("X", 0.95)], [("Q", 0.95)], [("7", 0.95)], [("Z", 0.95)]])
    assert LEXICON.correct_word(code).text == "XQ7Z"


def test_digits_read_inside_a_word_give_way_to_letters():
    word = word_from([[("s", 0.9)], [("c", 0.9)], [("h", 0.9)], [("0", 0.7), ("o", 0.25)], [("0", 0.6), ("o", 0.3)],
                      [("1", 0.6), ("l", 0.35)]])  # fmt: skip
    assert LEXICON.correct_word(word).text == "school"


def test_confident_unknown_name_survives():
    name = word_from([[("Z", 0.99)], [("o", 0.99)], [("r", 0.99)], [("k", 0.99)], [("a", 0.6), ("e", 0.4)]])
    assert LEXICON.correct_word(name).text == "Zorka"


def test_the_word_model_is_built_only_when_a_word_has_spellings_to_choose_among():
    # the line engine's character language model brings one spelling a word: nothing to rescore
    lexicon = LexiconCorrector("en")
    final = Word(BOX, (char_from([("w", 0.9)]),), "wnrd", spellings=(("wnrd", -1.0),))
    assert lexicon.correct_word(final).text == "wnrd"
    assert "model" not in lexicon.__dict__
    assert (
        lexicon.correct_word(word_from([[("w", 0.9)], [("o", 0.5), ("n", 0.45)], [("r", 0.9)], [("d", 0.9)]])).text
        == "word"
    )
    assert "model" in lexicon.__dict__


def test_an_unknown_language_is_refused_when_the_corrector_is_made():
    with pytest.raises(ConfigError, match="--lang xx"):
        LexiconCorrector("xx")


def test_null_corrector_changes_nothing():
    word = word_from([[("x", 0.2), ("y", 0.1)]])
    page = PageResult(0, 10, 10, 300.0, 0.0, (Line(BOX, (word,)),))
    assert NullCorrector().correct_page(page) is page


def test_case_prior():
    assert case_prior("hello") == case_prior("Hello") == case_prior("HELLO") == 0.0
    assert case_prior("hEllo") < 0


alternatives = st.lists(
    st.tuples(st.sampled_from("abcdehilnorst01IO"), st.floats(0.01, 1.0)),
    min_size=1,
    max_size=4,
    unique_by=lambda t: t[0],
)


def spellings(word: Word) -> set[str]:
    """Every path through the lattice, by brute force."""
    steps = [(i, i + 1, (c,)) for i, c in enumerate(word.chars)] + [
        (a.start, a.end, a.chars) for a in word.alternatives
    ]
    reached = {0: {""}}
    for position in range(len(word.chars)):
        for start, end, chars in steps:
            if start == position:
                texts = {
                    t + "".join(p)
                    for t in reached.get(position, ())
                    for p in itertools.product(*(c.labels for c in chars))
                }
                reached.setdefault(end, set()).update(texts)
    return reached[len(word.chars)]


@st.composite
def lattices(draw):
    lattice = draw(st.lists(alternatives, min_size=1, max_size=6))
    others = []
    for _ in range(draw(st.integers(0, 2))):
        start = draw(st.integers(0, len(lattice) - 1))
        end = draw(st.integers(start + 1, min(len(lattice), start + 2)))
        others.append((start, end, draw(st.lists(alternatives, min_size=1, max_size=2))))
    return word_from(lattice, others)


@settings(max_examples=200, deadline=None)
@given(lattices())
def test_output_is_always_a_path_through_the_lattice(word):
    assert LEXICON.correct_word(word).text in spellings(word)


def test_lattice_paths_are_best_first():
    word = word_from([[("a", 0.7), ("b", 0.3)], [("c", 0.6), ("d", 0.4)]])
    texts = [t for _, t in sorted(lattice_paths(word, beam=10), reverse=True)]
    assert texts == ["ac", "ad", "bc", "bd"]


def test_character_ngram_is_a_distribution_that_prefers_the_language():
    from hcrbatch.lexicon import CharNgram

    model = CharNgram({"cat": 3.0, "car": 2.0, "cart": 1.0, "tar": 1.0}, order=3)
    assert model.log_prob("cat") > model.log_prob("tca") > model.log_prob("c4t")
    # the probabilities of all strings over the alphabet sum to at most 1: check all up to length 3
    from itertools import product

    alphabet = "acrt"
    total = sum(math.exp(model.log_prob("".join(p))) for n in range(1, 4) for p in product(alphabet, repeat=n))
    assert 0.5 < total <= 1.0


def test_a_symbol_inside_a_word_does_not_make_it_a_known_phrase():
    # wordfreq alone reads "kmm&ws" as the phrase "kmm ws", far likelier than the string itself
    model = LEXICON.model
    assert model.log_prob("kmm&ws") < model.log_prob("kmmws")
    assert model.log_prob("2:hp") < model.log_prob("thp")
    assert model.log_prob("don't") > model.log_prob("dont'")

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from hcrbatch.correct import LexiconCorrector, NullCorrector, case_prior, lattice_paths
from hcrbatch.elements import BBox, Char, Line, PageResult, Word

BOX = BBox(0, 0, 10, 10)


def word_from(lattice: list[list[tuple[str, float]]]) -> Word:
    chars = tuple(Char(BOX, tuple(l for l, _ in alts), tuple(p for _, p in alts)) for alts in lattice)
    return Word(BOX, chars, "".join(c.text for c in chars))


LEXICON = LexiconCorrector("en")


def test_planted_substitution_is_fixed_from_the_second_choice():
    word = word_from([[("h", 0.9)], [("e", 0.9)], [("1", 0.6), ("l", 0.35)], [("l", 0.9)], [("o", 0.8), ("0", 0.2)]])
    assert word.raw_text == "he1lo"
    fixed = LEXICON.correct_word(word)
    assert (fixed.text, fixed.raw_text, fixed.corrected_by) == ("hello", "he1lo", "lexicon")


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


@settings(max_examples=200, deadline=None)
@given(st.lists(alternatives, min_size=1, max_size=7))
def test_output_is_always_a_path_through_the_lattice(lattice):
    word = word_from(lattice)
    out = LEXICON.correct_word(word).text
    assert len(out) == len(word.chars)
    assert all(ch in char.labels for ch, char in zip(out, word.chars))


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

"""Page checkpoints keep everything correction and rendering need, other cuts included."""

from hcrbatch.checkpoint import page_from_json, page_to_json
from hcrbatch.elements import Alternative, BBox, Char, Line, LineEvidence, PageResult, Word


def test_a_page_survives_its_checkpoint_unchanged():
    m = Char(BBox(10, 5, 30, 20), ("m", "n"), (0.7, 0.2))
    r, n = Char(BBox(10, 5, 19, 20), ("r",), (0.8,)), Char(BBox(20, 5, 30, 20), ("n", "u"), (0.6, 0.3))
    word = Word(BBox(0, 0, 40, 20), (Char(BBox(0, 5, 9, 20), ("a",), (0.9,)), m), "am", "lexicon",
                (Alternative(1, 2, (r, n)),))  # fmt: skip
    cursive = Word(BBox(50, 0, 90, 20), (Char(BBox(50, 5, 60, 20), ("o",), (0.6,)),), "on", "lexicon",
                   spellings=(("o", -0.5), ("on", -1.2)))  # fmt: skip
    page = PageResult(2, 800, 600, 300.0, 0.4, (Line(BBox(0, 0, 40, 20), (word,), evidence=LineEvidence(shape_confidence=0.62)), Line(BBox(50, 0, 90, 20), (cursive,), "line", LineEvidence(print_probability=0.03))))  # fmt: skip
    assert page_from_json(page_to_json(page)) == page


def test_a_line_checkpointed_before_its_evidence_was_grouped_reads_back_with_it():
    flat = {"bbox": [0, 0, 40, 20], "engine": "glyph", "shape_confidence": 0.62, "print_probability": 0.1, "words": []}
    assert Line.from_dict(flat).evidence == LineEvidence(shape_confidence=0.62, print_probability=0.1)

import cv2
import numpy as np

from hcrbatch.synth import GlyphHand, render_page


def glyph_bank() -> dict[str, np.ndarray]:
    """Two 28×28 'handwritten' images per character, drawn with OpenCV (white ink on black)."""
    bank = {}
    for char in "abcdefghijklmnopqrstuvwxyzTH":
        images = []
        for thickness in (2, 3):
            image = np.zeros((28, 28), np.uint8)
            cv2.putText(image, char, (6, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.8, 255, thickness)
            images.append(image)
        bank[char] = np.stack(images)
    return bank


def test_glyph_hand_pages_carry_character_boxes_inside_their_words_in_order():
    rng = np.random.default_rng(0)
    page = render_page(["The hat, the hut.", "hush"], GlyphHand(glyph_bank(), cap_height=30), rng, dpi=150,
                       page_inches=(6.0, 3.0))  # fmt: skip
    assert page.text == "The hat, the hut.\nhush"
    for line in page.lines:
        for word in line.words:
            assert "".join(c for c, _ in word.chars) == word.text
            lefts = [b.left for _, b in word.chars]
            assert lefts == sorted(lefts)
            for _, box in word.chars:
                assert word.bbox.left - 2 <= box.left and box.right <= word.bbox.right + 2
                assert word.bbox.top - 2 <= box.top and box.bottom <= word.bbox.bottom + 2
                assert (page.pixels[box.top : box.bottom, box.left : box.right] < 150).any()  # ink inside
    truth = page.truth()
    assert truth["lines"][0]["words"][1]["chars"][0]["text"] == "h"


def test_letters_sit_at_their_height_on_the_line():
    hand = GlyphHand(glyph_bank(), cap_height=40)
    word = hand.write("Hay", np.random.default_rng(1))
    boxes = dict(word.chars)
    assert boxes["H"].bottom - boxes["H"].top > 1.3 * (boxes["a"].bottom - boxes["a"].top)  # cap vs x-height
    assert boxes["y"].bottom > boxes["a"].bottom + 5  # descender
    assert hand.write("H@y", np.random.default_rng(1)) is None  # a character it has no image of

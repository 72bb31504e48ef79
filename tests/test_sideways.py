"""Writing that runs up or down the page: found as blocks, read turned, and only where it reads better so."""

import cv2
import numpy as np

from conftest import draw_page
from hcrbatch.config import PreprocessConfig
from hcrbatch.elements import BBox, PageImage
from hcrbatch.preprocess import preprocess
from hcrbatch.sideways import SidewaysBlock, leaving_out, sideways_blocks, turned_block, without_blocks

ACROSS = ["DEAR MR HOOKER", "THE SEEDS CAME", "SAFELY TODAY", "WITH THANKS"]


def page_with_a_note(note: str = "SENT BY POST", quarters: int = 1) -> tuple[np.ndarray, BBox]:
    """Four lines across a page and, up its left margin (or down it), a line turned `quarters` quarter
    turns anticlockwise from level; the note's box on the page."""
    page = np.full((1300, 1500), 245, np.uint8)
    for row, text in enumerate(ACROSS):
        cv2.putText(page, text, (330, 220 + row * 160), cv2.FONT_HERSHEY_SIMPLEX, 2.2, 25, 5, cv2.LINE_AA)
    strip = np.full((110, 900), 245, np.uint8)
    cv2.putText(strip, note, (20, 80), cv2.FONT_HERSHEY_SIMPLEX, 2.2, 25, 5, cv2.LINE_AA)
    turned = np.rot90(strip, quarters)
    top, left = 200, 90
    page[top : top + turned.shape[0], left : left + turned.shape[1]] = turned
    ink = np.argwhere(turned < 128)
    (y0, x0), (y1, x1) = ink.min(axis=0), ink.max(axis=0)
    return page, BBox(left + int(x0), top + int(y0), left + int(x1) + 1, top + int(y1) + 1)


def clean_page(pixels: np.ndarray):
    return preprocess(PageImage(None, 0, pixels, 300.0), PreprocessConfig(deskew=False))


def test_a_note_up_the_margin_is_one_block_holding_its_ink_and_none_of_the_lines_across():
    pixels, note = page_with_a_note()
    clean = clean_page(pixels)
    (block,) = sideways_blocks(clean.ink)
    box = block.box
    assert box.left <= note.left and box.top <= note.top and note.right <= box.right and note.bottom <= box.bottom
    assert box.right < 330  # the lines across begin at x 330
    note_ink = clean.ink[note.top : note.bottom, note.left : note.right] > 0
    held = block.ink[note.top - box.top : note.bottom - box.top, note.left - box.left : note.right - box.left] > 0
    assert held.sum() == note_ink.sum()
    across = without_blocks(clean, [block])
    assert not across.ink[note.top : note.bottom, note.left : note.right].any()
    assert np.array_equal(across.ink[:, 330:], clean.ink[:, 330:])


def test_a_page_of_lines_across_has_no_sideways_block_nor_has_a_column_of_numbers_down_a_list():
    assert sideways_blocks(clean_page(draw_page(ACROSS, size=(1500, 1000))).ink) == []
    page = np.full((1300, 1500), 245, np.uint8)
    for row, text in enumerate(["APPLES", "PEARS", "PLUMS", "CHERRIES", "GRAPES", "LEMONS"]):
        cv2.putText(page, str(row + 1), (90, 200 + row * 160), cv2.FONT_HERSHEY_SIMPLEX, 2.2, 25, 5, cv2.LINE_AA)
        cv2.putText(page, text, (330, 200 + row * 160), cv2.FONT_HERSHEY_SIMPLEX, 2.2, 25, 5, cv2.LINE_AA)
    assert sideways_blocks(clean_page(page).ink) == []


def test_a_turned_block_reads_its_ink_upright_and_maps_its_boxes_back_to_the_page():
    pixels, note = page_with_a_note()
    clean = clean_page(pixels)
    (block,) = sideways_blocks(clean.ink)
    turned = turned_block(clean, block, 1)  # written up the page: a quarter turn clockwise brings it level
    height, width = turned.ink.shape
    assert width > 4 * height  # one line, level
    rows, columns = np.nonzero(turned.ink)
    ink_box = BBox(int(columns.min()), int(rows.min()), int(columns.max()) + 1, int(rows.max()) + 1)
    on_page = turned.to_page(ink_box)
    assert max(abs(a - b) for a, b in zip(on_page.to_list(), note.to_list())) <= 2
    # the grey page under it, turned the same way: dark where its ink is
    assert turned.gray[turned.ink > 0].mean() < 100 < turned.gray[turned.ink == 0].mean()


def test_a_word_read_across_keeps_its_ink_out_of_a_block_but_where_the_block_itself_is_sideways():
    ink = np.zeros((200, 100), np.uint8)
    ink[20:60, 10:30] = 255  # a line's last word crowded against the note: read across, and sure
    ink[100:180, 40:70] = 255  # the note's own ink
    sideways = np.zeros(ink.shape, bool)
    sideways[100:180, 40:70] = True
    block = SidewaysBlock(BBox(300, 500, 400, 700), ink, sideways)
    sure = [BBox(305, 515, 335, 565), BBox(0, 0, 50, 50)]  # boxes on the clean page
    kept = leaving_out(block, sure)
    assert kept.box == block.box and not kept.ink[20:60, 10:30].any() and kept.ink[100:180, 40:70].all()
    # a line run into the note read some of the note as a word it is sure of: the note keeps it
    assert np.array_equal(leaving_out(block, [BBox(340, 600, 370, 680)]).ink, ink)
    assert leaving_out(SidewaysBlock(block.box, ink, np.zeros(ink.shape, bool)), [block.box]) is None

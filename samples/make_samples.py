"""Make the demo documents in samples/: written by the project's own GAN and by Debian's handwriting
fonts (no third-party scans).

    apt-get install fonts-sjfonts fonts-breip
    python samples/make_samples.py

Writes a two-page PDF, a PNG and a two-page TIFF in handwriting fonts, and a two-page PDF of receipts
hand-printed with characters from the shipped GAN generator (models/chargan), each with
`<name>.gt.txt` (ground-truth text, pages separated by a form feed) and `<name>.gt.json` (line and
word boxes in pixels; character boxes too for the GAN document) beside it. Deterministic: the same
fonts and generator give the same files.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
from PIL import Image
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen.canvas import Canvas

from hcrbatch.config import DEFAULT_MODELS_DIR
from hcrbatch.synth import FontHand, GlyphHand, Hand, SyntheticPage, render_page
from hcrbatch.train.gan import GlyphGenerator

HERE = Path(__file__).resolve().parent
FONTS = "/usr/share/fonts/truetype"
DPI = 200
LETTER_SIZE = int(0.17 * DPI * 1.6)  # font size in pixels for letters about 0.17 inch high

LETTER = [
    [
        "Dear Sir",
        "I write to tell you that the harvest",
        "was good this year and the wheat",
        "fetched a fair price at the market.",
        "We shall need two more horses",
        "before the spring and a new plough.",
    ],
    [
        "My brother will come in April",
        "with the cattle from the north farm.",
        "Please send the money by the first",
        "of May if you can spare it.",
        "Your obedient servant",
        "John Miller",
    ],
]
NOTE = [
    [
        "Order for the school",
        "twelve slates and chalk",
        "four dozen pens",
        "paper for the new term",
        "paid on the third of June",
    ]
]
REGISTER = [
    [
        "Baptisms in the parish",
        "Mary daughter of Thomas Baker",
        "born March the fourth",
        "William son of James Cooper",
        "born April the tenth",
    ],
    [
        "Marriages in the parish",
        "George Fletcher and Ann Turner",
        "married in the church on Sunday",
        "witnesses Robert Hill and Jane Wood",
    ],
]
RECEIPTS = [
    [
        "Received of Mr. Thomas Hill",
        "the sum of 12 pounds 6 shillings",
        "for the rent of the mill field,",
        "due on 25 March 1887.",
        "Signed: A. Baker",
    ],
    [
        "Bought at the fair: 3 cows, 2 calves",
        "and 40 sheep (ewes) for 96 pounds.",
        "Paid in full on 2 April - is the",
        "barn roof mended yet?",
    ],
]


def make_pages(text: list[list[str]], hand: Hand, seed: int, inches: tuple[float, float]) -> list[SyntheticPage]:
    """One page per list of paragraphs; refuses to write a sample whose text did not fit."""
    rng = np.random.default_rng(seed)
    pages = []
    for paragraphs in text:
        page = render_page(paragraphs, hand, rng, dpi=DPI, page_inches=inches)
        if page.text.split() != " ".join(paragraphs).split():
            raise SystemExit(f"text does not fit on a {inches} page: {paragraphs[0]!r}...")
        pages.append(page)
    return pages


def font_hand(font: str) -> FontHand:
    return FontHand(f"{FONTS}/{font}", LETTER_SIZE)


def write_truth(path: Path, pages: list[SyntheticPage]) -> None:
    path.with_suffix(".gt.txt").write_text("\f".join(p.text + "\n" for p in pages), encoding="utf-8")
    truth = {"pages": [p.truth() for p in pages]}
    path.with_suffix(".gt.json").write_text(json.dumps(truth, indent=1) + "\n", encoding="utf-8")


def write_pdf(path: Path, pages: list[SyntheticPage]) -> None:
    """Pages embedded as JPEG, as a scanner would, at their true physical size."""
    canvas = Canvas(str(path), invariant=1)
    for page in pages:
        buffer = io.BytesIO()
        Image.fromarray(page.pixels).save(buffer, "JPEG", quality=85)
        buffer.seek(0)
        width, height = page.pixels.shape[1] / DPI * 72, page.pixels.shape[0] / DPI * 72
        canvas.setPageSize((width, height))
        canvas.drawImage(ImageReader(buffer), 0, 0, width, height)
        canvas.showPage()
    canvas.save()


def main() -> None:
    letter = make_pages(LETTER, font_hand("breip/breipfont.ttf"), seed=1, inches=(7.0, 6.5))
    out = HERE / "letters" / "harvest-letter.pdf"
    out.parent.mkdir(exist_ok=True)
    write_pdf(out, letter)
    write_truth(out, letter)

    note = make_pages(NOTE, font_hand("sjfonts/Delphine.ttf"), seed=2, inches=(6.0, 4.5))
    out = HERE / "school-order.png"
    Image.fromarray(note[0].pixels).save(out, dpi=(DPI, DPI), optimize=True)
    write_truth(out, note)

    register = make_pages(REGISTER, font_hand("breip/Breip.ttf"), seed=3, inches=(7.0, 5.5))
    out = HERE / "registers" / "parish-register.tif"
    out.parent.mkdir(exist_ok=True)
    images = [Image.fromarray(p.pixels) for p in register]
    images[0].save(out, save_all=True, append_images=images[1:], compression="tiff_adobe_deflate", dpi=(DPI, DPI))
    write_truth(out, register)

    bank = GlyphGenerator.load(DEFAULT_MODELS_DIR, "chargan").glyph_bank(per_class=40, seed=4)
    receipts = make_pages(RECEIPTS, GlyphHand(bank, cap_height=int(0.15 * DPI)), seed=4, inches=(7.0, 5.0))
    out = HERE / "receipts" / "estate-receipts.pdf"
    out.parent.mkdir(exist_ok=True)
    write_pdf(out, receipts)
    write_truth(out, receipts)


if __name__ == "__main__":
    main()

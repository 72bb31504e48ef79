"""`--engine auto` against each engine alone, per kind of hand-printed page: hand, resolution, skew.

    .venv/bin/python benchmarks/auto_kinds.py [--hands fonts,emnist,gan] [--dpis 150,200,300,600]
                                              [--skews -5,0,5] [--seed 11] [--record]

One page per hand, resolution and skew, written by make_pages.py's hands (the fonts the character
model saw; held-out EMNIST writers; the GAN) at the resolution asked for, then turned by the skew,
each read by the whole pipeline with `--engine glyph`, `line` and `auto`. `auto` must not lose to
the better engine on any kind; the cursive kinds are the real pages of benchmarks/real_pages.py.
Seed 11 is no seed the auto rule was tuned on (auto_rule.py uses 3).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

from hcrbatch.config import Config, RecognizeConfig
from hcrbatch.elements import PageImage
from hcrbatch.api import Reader
from hcrbatch.train.gan import GlyphGenerator
from wordfreq import top_n_list

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from make_pages import held_out_glyphs, make_page  # noqa: E402
from results import record  # noqa: E402
from run import ErrorCount  # noqa: E402

ENGINES = ("glyph", "line", "auto")


def turned(pixels: np.ndarray, degrees: float) -> np.ndarray:
    if not degrees:
        return pixels
    height, width = pixels.shape[:2]
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), degrees, 1.0)
    paper = int(np.median(pixels))
    return cv2.warpAffine(pixels, matrix, (width, height), flags=cv2.INTER_LINEAR, borderValue=paper)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hands", default="fonts,emnist,gan")
    parser.add_argument("--dpis", default="150,200,300,600")
    parser.add_argument("--skews", default="-5,0,5")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--models-dir", type=Path, default=RecognizeConfig.models_dir)
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    top = [w for w in top_n_list("en", 5000) if w.isalpha()]
    weights = 1.0 / np.arange(1, len(top) + 1) ** 0.8
    words = (top, weights / weights.sum())  # make_pages.py's vocabulary
    glyphs = {
        "emnist": held_out_glyphs() if "emnist" in args.hands else None,
        "gan": GlyphGenerator.load(args.models_dir, "chargan").glyph_bank(per_class=60, seed=args.seed)
        if "gan" in args.hands
        else None,
    }
    pages = []  # (hand, dpi, skew, truth, PageImage)
    for hand in args.hands.split(","):
        for dpi in (int(d) for d in args.dpis.split(",")):
            for skew in (float(s) for s in args.skews.split(",")):
                page = make_page(rng, dpi, words, [], hand, glyphs.get(hand))
                pages.append((hand, dpi, skew, page.text, PageImage(None, 0, turned(page.pixels, skew), float(dpi))))
    errors = {engine: {} for engine in ENGINES}
    for engine in ENGINES:
        cfg = Config(Path("."), Path("unused"), recognize=RecognizeConfig(engine=engine, models_dir=args.models_dir))
        reader = Reader(cfg)
        for hand, dpi, skew, truth, page in pages:
            count = ErrorCount()
            count.add(truth, reader.read_page(page).text)
            errors[engine][(hand, dpi, skew)] = count
            print(engine, hand, dpi, skew, f"{count.cer:.2%}", flush=True)
    rows = []
    kinds = [("hand", lambda k, v: k[0] == v, args.hands.split(",")), ("dpi", lambda k, v: k[1] == int(v),
             args.dpis.split(",")), ("skew", lambda k, v: k[2] == float(v), args.skews.split(","))]  # fmt: skip
    for name, selects, values in kinds:
        for value in values:
            cer = {}
            for engine in ENGINES:
                total = ErrorCount()
                for key, count in errors[engine].items():
                    if selects(key, value):
                        total.char_edits, total.chars = total.char_edits + count.char_edits, total.chars + count.chars
                cer[engine] = total.cer
            best = min(cer["glyph"], cer["line"])
            rows.append(
                f"| {name} {value} | {cer['glyph']:.2%} | {cer['line']:.2%} | {cer['auto']:.2%} | "
                f"{'yes' if cer['auto'] <= best + 0.005 else 'no'} |"
            )
    worst = max((errors["auto"][k].cer - min(errors["glyph"][k].cer, errors["line"][k].cer), k) for k in errors["auto"])
    table = (
        "| pages | glyph CER | line CER | auto CER | auto within 0.5 point of the better |\n|---|---|---|---|---|\n"
        + "\n".join(rows)
        + f"\n\nWorst single page for auto: {worst[1]} ({worst[0]:+.2%} against the better engine)."
    )
    print(table)
    if args.record:
        record(" ".join(["python benchmarks/auto_kinds.py", *sys.argv[1:]]), table)


if __name__ == "__main__":
    main()

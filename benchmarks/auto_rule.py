"""`--engine auto`'s rule for a line model, as `hcrbatch tune-auto` chooses it: every rule tried, scored.

    .venv/bin/python benchmarks/auto_rule.py [--model lines] [--char-prior prose|training] [--record]

The tuning (`hcrbatch.train.autorule`: its docstring says how the rule is chosen) on the pages it
uses: the line model's validation lines of ../shared/data's Hooker and CREMMA line folders rebuilt
as pages, and hand-printed pages (seed 3) in EMNIST, font and GAN hands. `hcrbatch tune-auto`
writes the chosen rule into the model's manifest; this script only reports it.
`--char-prior training` scores the rules with the glyph engine reading under its training prior
instead of prose's (a diagnosis of how the prior moves the engines' vote).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hcrbatch.config import RecognizeConfig
from hcrbatch.train.autorule import PRINTED_PAGES, choose_rule, read_tuning_pages

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from results import record  # noqa: E402

DATA = HERE.parent.parent / "shared" / "data"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="lines")
    parser.add_argument("--char-prior", choices=["prose", "training"], default=RecognizeConfig.char_prior,
                        help="the class prior the glyph engine reads with (hcrbatch run --char-prior)")  # fmt: skip
    parser.add_argument("--record", action="store_true", help="append the table to the day's log, benchmarks/log/")
    args = parser.parse_args()
    cfg = RecognizeConfig(line_model=args.model, char_prior=args.char_prior)
    printed = {hand: count for hand, (_, count) in PRINTED_PAGES.items()}
    folders = [DATA / "hooker-lines", DATA / "cremma-lines"]
    tuning = choose_rule(read_tuning_pages(cfg, folders, DATA / "emnist", HERE / "data", printed))
    print(tuning.table, tuning.summary, sep="\n\n")
    if args.record:
        record(
            f"python benchmarks/auto_rule.py --model {args.model} --char-prior {args.char_prior}",
            f"{tuning.table}\n\n{tuning.summary}",
            " (raw CER, no correction)",
        )


if __name__ == "__main__":
    main()

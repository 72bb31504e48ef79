"""CER and WER before and after correction, and the cost of each corrector per line.

    .venv/bin/python benchmarks/correction.py [--pages 20] [--seed 1] [--llm] [--hand fonts|emnist|gan]
        [--text labels.tsv] [--no-cut-alternatives] [--record]

Pages come from benchmarks/make_pages.py (hand-printed, real English text, known truth). Every page
is recognised once; then each corrector (none, lexicon, and with --llm the LLM) corrects the same
readings, so the figures differ only by correction. CER/WER are totals over all pages (edits /
reference length); "pages worse" counts pages whose CER went up against the raw reading.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from hcrbatch.config import Config, CorrectConfig, SegmentConfig
from hcrbatch.correctors import make_corrector
from hcrbatch.ingest import iter_pages
from hcrbatch.metrics import edit_distance, normalise_text
from hcrbatch.api import Reader

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_pages import make_pages  # noqa: E402
from results import record  # noqa: E402

HERE = Path(__file__).resolve().parent


def recognised_pages(folder: Path, cut_alternatives: bool = True) -> list[tuple[str, object]]:
    """(truth text, raw PageResult) for every page of every document in the folder."""
    segment = SegmentConfig(cut_alternatives=cut_alternatives)
    cfg = Config(folder, folder / "unused", segment=segment, correct=CorrectConfig(method="none"))
    reader = Reader(cfg)
    out = []
    for doc in sorted(p for p in folder.iterdir() if ".gt." not in p.name):
        truths = doc.with_name(doc.stem + ".gt.txt").read_text(encoding="utf-8").split("\f")
        for page, truth in zip(iter_pages(doc, cfg.ingest), truths):
            out.append((truth, reader.read_page(page)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--llm", action="store_true", help="also the LLM corrector (needs the llm extra)")
    parser.add_argument("--text", type=Path, help="real text for the pages (see make_pages.py --text)")
    parser.add_argument("--hand", choices=["fonts", "emnist", "gan"], default="fonts", help="see make_pages.py")
    parser.add_argument("--no-cut-alternatives", action="store_true", help="the segmenter's cut only (an ablation)")
    parser.add_argument("--record", action="store_true", help="append the table to the day's log, benchmarks/log/")
    args = parser.parse_args()
    folder = (
        HERE
        / "data"
        / (
            f"pages-{args.pages}p-seed{args.seed}"
            + (f"-{args.text.parent.name}" if args.text else "")
            + (f"-{args.hand}" if args.hand != "fonts" else "")
        )
    )
    if not folder.exists():
        make_pages(folder, args.pages, args.seed, text=args.text, hand=args.hand)
    pages = recognised_pages(folder, not args.no_cut_alternatives)
    lines = sum(len(p.lines) for _, p in pages)
    methods = ["none", "lexicon"] + (["llm"] if args.llm else [])
    per_page: dict[str, list[tuple[int, int, int, int]]] = {}
    seconds: dict[str, float] = {}
    for method in methods:
        corrector = make_corrector(CorrectConfig(method=method))
        started = time.perf_counter()
        corrected = [corrector.correct_page(p) for _, p in pages]
        seconds[method] = time.perf_counter() - started
        per_page[method] = []
        for (truth, _), page in zip(pages, corrected):
            t, h = normalise_text(truth), normalise_text(page.text)
            per_page[method].append((edit_distance(t, h), len(t), edit_distance(t.split(), h.split()), len(t.split())))
    raw_cer = [e / max(n, 1) for e, n, _, _ in per_page["none"]]
    header = "| corrector | CER | WER | relative CER reduction | pages worse than raw | ms per line |"
    rows = [header, "|---|---|---|---|---|---|"]
    for method in methods:
        stats = per_page[method]
        cer = sum(s[0] for s in stats) / sum(s[1] for s in stats)
        wer = sum(s[2] for s in stats) / sum(s[3] for s in stats)
        base = sum(s[0] for s in per_page["none"]) / sum(s[1] for s in per_page["none"])
        worse = sum(e / max(n, 1) > r + 1e-9 for (e, n, _, _), r in zip(stats, raw_cer))
        rows.append(f"| {method} | {cer:.2%} | {wer:.2%} | {1 - cer / base:.1%} | {worse} of {len(stats)} "
                    f"| {seconds[method] / lines * 1000:.1f} |")  # fmt: skip
    table = "\n".join(rows)
    print(table)
    if args.record:
        command = f"python benchmarks/correction.py --pages {args.pages} --seed {args.seed}"
        command += (" --llm" if args.llm else "") + (f" --hand {args.hand}" if args.hand != "fonts" else "")
        command += f" --text {args.text}" if args.text else ""
        command += " --no-cut-alternatives" if args.no_cut_alternatives else ""
        record(command, table, f"; {len(pages)} pages, {lines} lines")


if __name__ == "__main__":
    main()

"""What batching buys the LLM corrector: one line's candidates scored one sequence at a time vs in one batch.

    .venv/bin/python benchmarks/llm_batching.py [--gguf PATH] [--record]

Scores eight candidate readings of one line (one planted error each) after a page context, with
`LineScorer(max_candidates=1)` (a decode per candidate) and `max_candidates=8` (one decode for all),
the context cached in both; reports ms per line, averaged over five repeats after a warm-up.
Needs the llm extra (SmolLM2-135M by default).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from hcrbatch.llm import LineScorer, default_gguf

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from results import record  # noqa: E402

CONTEXT = (
    "My dear Gray, I have your letter of the 12th and thank you for the seeds which came safely. "
    "The weather here has been wet and cold and the garden is late. "
) * 2
LINE = "I shall write to Darwin about the orchids next week"
ERRORS = [("", ""), ("orchids", "orchlds"), ("write", "wrlte"), ("Darwin", "Darwln"), ("about", "ahout"),
          ("next", "uext"), ("shall", "sha1l"), ("the", "tbe")]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gguf", type=Path)
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args()
    path = args.gguf or default_gguf()
    candidates = ["\n" + LINE.replace(right, wrong, 1) for right, wrong in ERRORS]
    rows = ["| scoring | ms per line (8 candidates) |", "|---|---|"]
    for batch in (1, 8):
        scorer = LineScorer(path, n_ctx=1024, threads=0, gpu_layers=0, max_candidates=batch)
        scorer.score(CONTEXT, candidates)  # warm-up; caches the context
        started = time.perf_counter()
        for _ in range(5):
            scorer.score(CONTEXT, candidates)
        label = "one candidate per decode" if batch == 1 else "all candidates in one decode"
        rows.append(f"| {label} | {(time.perf_counter() - started) / 5 * 1000:.0f} |")
    table = "\n".join(rows)
    print(table)
    if args.record:
        record("python benchmarks/llm_batching.py", table, f", {path.name}")


if __name__ == "__main__":
    main()

"""Appending a figure to the day's benchmark log (benchmarks/log/<date>.md) with the command that made
it, its date and machine; benchmarks/RESULTS.md holds the current figures, updated by hand from it."""

from __future__ import annotations

import datetime as dt
import os
import platform
from pathlib import Path

LOG = Path(__file__).resolve().parent / "log"


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def record(command: str, body: str, context: str = "") -> None:
    """Append `body` under a line saying which command made it, today, on this machine (+ `context`)."""
    LOG.mkdir(exist_ok=True)
    with open(LOG / f"{dt.date.today()}.md", "a", encoding="utf-8") as fh:
        fh.write(f"\n`{command}` on {dt.date.today()}, {machine()}{context}:\n\n{body}\n")

"""Appending a figure to benchmarks/RESULTS.md with the command that made it, its date and machine."""

from __future__ import annotations

import datetime as dt
import os
import platform
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def record(command: str, body: str, context: str = "") -> None:
    """Append `body` under a line saying which command made it, today, on this machine (+ `context`)."""
    with open(RESULTS, "a", encoding="utf-8") as fh:
        fh.write(f"\n`{command}` on {dt.date.today()}, {machine()}{context}:\n\n{body}\n")

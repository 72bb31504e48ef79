"""Write-to-temp-then-rename, so a run killed at any moment leaves no half-written output."""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

# ".<target name, at most TEMP_NAME_KEEP characters of it>.<mkstemp's 8 random characters>.part<suffix>"
TEMP_NAME_KEEP = 160  # a legal 255-byte name must stay legal with the rest added
ATOMIC_TEMP_NAME = re.compile(r"\..*\.[a-z0-9_]{8}\.part(\.[A-Za-z0-9.]+)?")


@contextlib.contextmanager
def atomic_path(path: Path, suffix: str = "") -> Iterator[Path]:
    """Yield a temp path beside `path` for a writer that wants a file name (a subprocess); on
    success fsync it and rename it over `path`, else delete it. `suffix` ends the temp name, for
    writers that insist on one (Keras: `.keras`, `.weights.h5`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    keep = os.fsdecode(os.fsencode(path.name)[:TEMP_NAME_KEEP])
    fd, tmp_name = tempfile.mkstemp(prefix=f".{keep}.", suffix=".part" + suffix, dir=path.parent)
    os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes files private; outputs get the usual permissions
    os.close(fd)
    try:
        yield Path(tmp_name)
        with open(tmp_name, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise


@contextlib.contextmanager
def atomic_output(path: Path, mode: str = "wb", encoding: str | None = None) -> Iterator[IO]:
    """Yield an open temp file beside `path`; on success it replaces `path`, else it is deleted."""
    with atomic_path(path) as tmp, open(tmp, mode, encoding=encoding, newline="" if "b" not in mode else None) as fh:
        yield fh


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def atomic_write_text(path: Path, text: str) -> None:
    with atomic_output(path, "w", encoding="utf-8") as fh:
        fh.write(text)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    with atomic_output(path, "wb") as fh:
        fh.write(data)

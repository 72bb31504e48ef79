"""Walk the input folder for scans, never leaving it through a symlink nor going round a loop."""

from __future__ import annotations

import fnmatch
import logging
import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from hcrbatch.config import SUPPORTED_SUFFIXES

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class InputFile:
    path: Path  # absolute
    relative: PurePosixPath  # to the input folder; mirrored under the output folder

    @property
    def shown(self) -> str:
        """The relative path as reports and logs show it: a name that is not valid UTF-8 (Linux file
        names are bytes) keeps its odd bytes as \\xNN escapes, so every CSV and XML stays valid text."""
        return printable(str(self.relative))

    @property
    def is_pdf(self) -> bool:
        return self.path.suffix.lower() == ".pdf"


def printable(name: str) -> str:
    """A file name decoded with Python's surrogate escapes, its undecodable bytes as \\xNN."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def discover(
    root: Path,
    pattern: str = "*",
    recursive: bool = True,
    exclude: Path | None = None,
    left_out: list[tuple[str, str]] | None = None,
) -> list[InputFile]:
    """Supported files under `root` whose name or relative path matches `pattern`, sorted by path.
    What is not followed or cannot be read — a link out of `root`, a loop, a folder it may not list
    — is warned about and, where `left_out` is given, added to it as (relative path, reason)."""

    def leave_out(path: str | os.PathLike, reason: str) -> None:
        shown = printable(Path(path).relative_to(root).as_posix()) if _inside(Path(path), Path(root)) else str(path)
        log.warning("%s: left out: %s", shown, reason)
        if left_out is not None:
            left_out.append((shown, reason))

    def unreadable(error: OSError) -> None:
        leave_out(error.filename, f"cannot read this folder: {error.strerror or error}")

    real_root = Path(os.path.realpath(root))
    real_exclude = Path(os.path.realpath(exclude)) if exclude else None
    seen_dirs: set[tuple[int, int]] = set()
    found: list[InputFile] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True, onerror=unreadable):
        real_dir = Path(os.path.realpath(dirpath))
        stat = os.stat(real_dir)
        if (stat.st_dev, stat.st_ino) in seen_dirs:
            leave_out(dirpath, "a link back to a folder already read (a loop): not followed")
            dirnames[:] = []
            continue
        if not _inside(real_dir, real_root):
            leave_out(dirpath, "a link to a folder outside the input folder: not followed")
            dirnames[:] = []
            continue
        seen_dirs.add((stat.st_dev, stat.st_ino))
        if real_exclude and _inside(real_dir, real_exclude):
            dirnames[:] = []
            continue
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".")) if recursive else []
        for name in filenames:
            path = Path(dirpath) / name
            if name.startswith(".") or path.suffix.lower() not in SUPPORTED_SUFFIXES:
                continue
            relative = PurePosixPath(path.relative_to(root).as_posix())
            if not (fnmatch.fnmatch(name, pattern) or fnmatch.fnmatch(str(relative), pattern)):
                continue
            if not _inside(Path(os.path.realpath(path)), real_root):
                leave_out(path, "a link to a file outside the input folder: not followed")
                continue
            found.append(InputFile(path.absolute(), relative))
    return sorted(found, key=lambda f: str(f.relative))

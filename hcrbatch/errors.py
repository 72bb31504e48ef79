"""Exit codes and the one exception hierarchy; each error knows its exit code and how to fix it."""

from __future__ import annotations

import logging
from enum import IntEnum


class ExitCode(IntEnum):
    """Stable process exit codes, documented in the README."""

    OK = 0
    INTERNAL = 1  # a fault of hcrbatch's own, not of the input or the set-up
    USAGE = 2
    SOME_FILES_FAILED = 3
    MODEL_INVALID = 4
    OUTPUT_NOT_WRITABLE = 5
    LOCKED = 6
    INTERRUPTED = 130


class HcrError(Exception):
    """Base of every error hcrbatch raises on purpose."""

    exit_code: ExitCode = ExitCode.SOME_FILES_FAILED


class InputFileError(HcrError):
    """One input cannot be read; it becomes a `failed` row and the batch goes on."""


class EmptyFileError(InputFileError):
    def __init__(self) -> None:
        super().__init__("empty file (0 bytes)")


class EncryptedPdfError(InputFileError):
    def __init__(self) -> None:
        super().__init__("encrypted PDF: decrypt it first, e.g. `qpdf --decrypt --password=PW in.pdf out.pdf`")


class CorruptFileError(InputFileError):
    """The file claims a format it does not hold (truncated PDF, text renamed .png)."""


class TooLargeError(InputFileError):
    def __init__(self, pixels: int, limit: int) -> None:
        super().__init__(f"page too large: {pixels:,} pixels > limit {limit:,} (raise --max-pixels or lower --dpi)")


class ModelError(HcrError):
    """The model or its manifest is missing or does not match."""

    exit_code = ExitCode.MODEL_INVALID


class OutputNotWritableError(HcrError):
    exit_code = ExitCode.OUTPUT_NOT_WRITABLE


class OutputLockedError(HcrError):
    """Another hcrbatch run is writing the same output folder."""

    exit_code = ExitCode.LOCKED


class ConfigError(HcrError):
    """Options that cannot work together, found before the first file."""

    exit_code = ExitCode.USAGE


class GroundTruthError(HcrError):
    """A PAGE or ALTO transcription that cannot be read; the message names the file and element."""

    exit_code = ExitCode.USAGE


def not_library_advice(record: logging.LogRecord) -> bool:
    """False for TensorFlow's own warnings ("tf.function retracing"): advice to its developers, not
    to a user or a cron job, for the log file and --verbose only."""
    return record.levelno >= logging.ERROR or not record.name.startswith(("tensorflow", "absl"))

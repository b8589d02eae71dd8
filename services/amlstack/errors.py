"""The error hierarchy: user errors print one line and exit non-zero; bugs print one line too,
saying they are bugs, with the traceback written to a log file instead of the terminal."""

from __future__ import annotations

import tempfile
import traceback
from datetime import UTC, datetime
from pathlib import Path

BUG_NOTE = "this is a bug, please report it"


class UserError(Exception):
    """A problem the user can fix (bad input, bad option, missing file); never a traceback."""

    exit_code = 2


class DataError(UserError):
    """The input data cannot be used as given."""


class ExternalError(UserError):
    """A service outside amlstack (Docker, Azure, a remote scorer) failed or is unreachable."""

    exit_code = 3


class InternalError(Exception):
    """A check of amlstack's own work failed (a bug, not something the user can fix).

    ``log`` is where the traceback was written, when the raiser already wrote one.
    """

    exit_code = 70  # EX_SOFTWARE (sysexits.h)

    def __init__(self, message: str, log: Path | None = None) -> None:
        super().__init__(message)
        self.log = log


def write_bug_log(exc: BaseException, folder: Path | None = None) -> Path:
    """Write ``exc``'s traceback to a new log file under ``folder`` (default: the temp dir)."""
    folder = Path(folder) if folder is not None else Path(tempfile.gettempdir())
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
    path = folder / f"amlstack-bug-{stamp}.log"
    path.write_text("".join(traceback.format_exception(exc)))
    return path


def bug_line(exc: BaseException) -> str:
    """The one line a user sees for a bug; writes the traceback log if none was written yet."""
    log = exc.log if isinstance(exc, InternalError) and exc.log else write_bug_log(exc)
    what = str(exc) if isinstance(exc, InternalError) else f"{exc.__class__.__name__}: {exc}"
    return f"{what}; {BUG_NOTE} (traceback: {log})"

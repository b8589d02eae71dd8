"""User-facing errors: the CLI prints their message on one line and exits non-zero."""

from __future__ import annotations


class UserError(Exception):
    """A problem the user can fix (bad input, bad option, missing file); never a traceback."""

    exit_code = 2


class DataError(UserError):
    """The input data cannot be used as given."""


class ExternalError(UserError):
    """A service outside amlstack (Docker, Azure, a remote scorer) failed or is unreachable."""

    exit_code = 3

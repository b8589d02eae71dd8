"""The UI's typed settings, read once from the environment.

A bad value exits with one line naming the variable (``SettingsError`` is printed by wsgi.py).
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

PREFIX = "AMLSTACK_UI_"
MAX_TIMEOUT_S = 3600  # as the scorer's AMLSTACK_TIMEOUT
# words of letters joined by single spaces or hyphens ("customer", "hotel booking", "e-mail")
_WORDS = re.compile(r"[^\W\d_]+(?:[ -][^\W\d_]+)*")
_MAX_SUBJECT_CHARS = 40


class SettingsError(Exception):
    """A setting cannot be used; the message names the variable."""


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int | None = None) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a whole number") from None
    if value < low:
        raise SettingsError(f"{name}={value} must be at least {low}")
    if high is not None and value > high:
        raise SettingsError(f"{name}={value} must be at most {high}")
    return value


def _url(env: Mapping[str, str], name: str, default: str) -> str:
    value = env.get(name, "").strip() or default
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 (read for its check: a port that is no number)
    except ValueError:
        parts = None
    # "http://" and "http://a b" passed, and each page then said the scorer was unavailable
    if (
        parts is None
        or parts.scheme not in ("http", "https")
        or not parts.hostname
        or any(ch.isspace() for ch in value)
    ):
        raise SettingsError(f"{name}={value!r} is not an http(s) URL with a host")
    return value.rstrip("/")


@dataclass(frozen=True)
class Subject:
    """What one row of the model's data is, in the pages' words ("Score one customer",
    "Upload a CSV of customers")."""

    singular: str = "record"
    plural: str = "records"

    @property
    def capitalized(self) -> str:
        """The singular with its first letter raised, the rest as written ("NHS patient")."""
        return self.singular[:1].upper() + self.singular[1:]


def _plural(word: str) -> str:
    """The regular English plural: booking -> bookings, policy -> policies, iris -> irises;
    an irregular one is given in the setting (person/people)."""
    if re.search(r"(s|x|z|ch|sh)$", word):
        return word + "es"
    if re.search(r"[^aeiou]y$", word):
        return word[:-1] + "ies"
    return word + "s"


def _subject(env: Mapping[str, str], name: str) -> Subject:
    raw = env.get(name, "").strip()
    if not raw:
        return Subject()
    # NFC: a word typed on macOS (e and a combining accent) is letters too
    forms = [unicodedata.normalize("NFC", part.strip()) for part in raw.split("/")]
    if len(forms) > 2 or not all(
        _WORDS.fullmatch(f) and len(f) <= _MAX_SUBJECT_CHARS for f in forms
    ):
        raise SettingsError(
            f"{name}={raw!r} is not a word, or a singular/plural pair, of letters, spaces and "
            f"hyphens (at most {_MAX_SUBJECT_CHARS} characters each), such as 'customer' or "
            "'person/people'"
        )
    if len(forms) == 1:  # the limit is the user's word's, not the plural we make of it
        forms.append(_plural(forms[0]))
    return Subject(*forms)


@dataclass(frozen=True)
class Settings:
    scorer_url: str = "http://scorer:5001"
    prometheus_url: str = "http://prometheus:9090"
    key_file: Path = Path("/keys/keys.json")
    primary_key: str = ""
    jobs_dir: Path = Path("/data/jobs")
    max_upload_mb: int = 64
    chunk_rows: int = 1000
    timeout_s: int = 30
    job_ttl_s: int = 3600
    subject: Subject = Subject()

    @property
    def max_upload_bytes(self) -> int:
        return self.max_upload_mb * 1024 * 1024

    def make_jobs_dir(self) -> None:
        """Create the jobs folder (uploads and scored files); SettingsError naming the variable
        when it cannot be (a file there, a read-only or missing parent)."""
        try:
            self.jobs_dir.mkdir(parents=True, exist_ok=True)
            if not os.access(self.jobs_dir, os.W_OK | os.X_OK):
                raise PermissionError(13, "Permission denied")
        except OSError as exc:
            raise SettingsError(
                f"{PREFIX}JOBS_DIR={str(self.jobs_dir)!r} is not a folder the UI can write "
                f"uploads to ({exc.strerror or exc})"
            ) from None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        return cls(
            scorer_url=_url(env, PREFIX + "SCORER_URL", cls.scorer_url),
            prometheus_url=_url(env, PREFIX + "PROMETHEUS_URL", cls.prometheus_url),
            key_file=Path(env.get("AMLSTACK_KEY_FILE", "").strip() or cls.key_file),
            primary_key=env.get("AMLSTACK_PRIMARY_KEY", "").strip(),
            jobs_dir=Path(env.get(PREFIX + "JOBS_DIR", "").strip() or cls.jobs_dir),
            max_upload_mb=_int(env, PREFIX + "MAX_UPLOAD_MB", cls.max_upload_mb, 1),
            chunk_rows=_int(env, PREFIX + "CHUNK_ROWS", cls.chunk_rows, 1),
            # a timeout beyond what a socket can wait made every scorer call an OverflowError
            timeout_s=_int(env, PREFIX + "TIMEOUT_S", cls.timeout_s, 1, MAX_TIMEOUT_S),
            job_ttl_s=_int(env, PREFIX + "JOB_TTL_S", cls.job_ttl_s, 60),
            subject=_subject(env, PREFIX + "SUBJECT"),
        )

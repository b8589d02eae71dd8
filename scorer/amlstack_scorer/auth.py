"""Key authentication as on Azure ML endpoints: ``Authorization: Bearer <key>``, two valid keys.

Keys come from AMLSTACK_PRIMARY_KEY/AMLSTACK_SECONDARY_KEY or from the key file
(AMLSTACK_KEY_FILE, JSON ``{"primaryKey": ..., "secondaryKey": ...}``). The file is re-read when
its mtime changes (checked at most once a second) or on SIGHUP, so keys rotate without a restart.
No key is ever logged.
"""

from __future__ import annotations

import hmac
import json
import logging
import os
import secrets
import signal
import tempfile
import threading
import time
from pathlib import Path

from amlstack_scorer import contract as c
from amlstack_scorer.errors import Unauthorized
from amlstack_scorer.settings import MIN_KEY_LENGTH, Settings, SettingsError, key_problem

log = logging.getLogger("amlstack.scorer")

CHECK_INTERVAL_S = 1.0


def read_key_file(path: Path) -> tuple[bytes, ...]:
    """The keys in a key file, primary first; SettingsError if unreadable or empty."""
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        raise SettingsError(f"{c.KEY_FILE_ENV}: {path} does not exist") from None
    except (OSError, ValueError) as exc:
        raise SettingsError(f"{c.KEY_FILE_ENV}: {path} is not readable JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise SettingsError(f"{c.KEY_FILE_ENV}: {path} must hold a JSON object")
    keys = []
    for name in ("primaryKey", "secondaryKey"):
        value = doc.get(name)
        if value is None:
            continue
        if not isinstance(value, str) or len(value) < MIN_KEY_LENGTH:
            raise SettingsError(
                f"{c.KEY_FILE_ENV}: {path}: {name} must be a string of at least "
                f"{MIN_KEY_LENGTH} characters"
            )
        problem = key_problem(value)
        if problem:
            raise SettingsError(f"{c.KEY_FILE_ENV}: {path}: {name}: {problem}")
        keys.append(value.encode())
    if not keys:
        raise SettingsError(f"{c.KEY_FILE_ENV}: {path} holds no primaryKey")
    return tuple(keys)


def generate_key_file(path: Path) -> bool:
    """Write a fresh key file (mode 0600) unless one exists; True when one was written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {"primaryKey": secrets.token_urlsafe(32), "secondaryKey": secrets.token_urlsafe(32)}
    # Written under a private temporary name, then linked into place: the link fails if the
    # file exists, and no reader (another worker starting at once) ever sees a partial file.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".keys-")
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump(doc, handle)
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
    finally:
        os.unlink(tmp)
    log.info("generated a new key file at %s (the keys are in the file, not in the log)", path)
    return True


class KeyStore:
    """The currently valid keys, refreshed from the key file when it changes."""

    def __init__(self, keys: tuple[bytes, ...] = (), key_file: Path | None = None) -> None:
        self._keys = keys
        self._file = key_file
        self._mtime: float | None = None
        self._next_check = 0.0
        self._lock = threading.Lock()
        if key_file is not None:
            self.reload(strict=True)

    @classmethod
    def from_settings(cls, settings: Settings) -> KeyStore | None:
        """The key store for these settings, or None when auth is explicitly off."""
        if not settings.auth_enabled:
            return None
        if settings.primary_key:
            keys = [settings.primary_key.encode()]
            if settings.secondary_key:
                keys.append(settings.secondary_key.encode())
            if settings.key_file:
                log.info("keys come from the environment; the key file is ignored")
            return cls(tuple(keys))
        assert settings.key_file is not None  # Settings.check_auth guarantees one source
        if settings.generate_keys:
            generate_key_file(settings.key_file)
        return cls(key_file=settings.key_file)

    def reload(self, *, strict: bool = False) -> None:
        """Re-read the key file; at runtime a bad file keeps the old keys (and is logged)."""
        if self._file is None:
            return
        with self._lock:
            try:
                mtime = self._file.stat().st_mtime_ns
                keys = read_key_file(self._file)
            except (OSError, SettingsError) as exc:
                if strict:
                    if isinstance(exc, SettingsError):
                        raise
                    raise SettingsError(  # the stat before the read: name the variable too
                        f"{c.KEY_FILE_ENV}: {self._file}: {exc.strerror or exc}"
                    ) from None
                log.error("key file unusable; keeping the previous keys: %s", exc)
                return
            if keys != self._keys and self._keys:
                log.info("keys reloaded from %s", self._file)
            self._keys, self._mtime = keys, mtime

    def _maybe_reload(self) -> None:
        now = time.monotonic()
        if now < self._next_check:
            return
        self._next_check = now + CHECK_INTERVAL_S
        try:
            mtime = self._file.stat().st_mtime_ns  # type: ignore[union-attr]
        except OSError:
            return
        if mtime != self._mtime:
            self.reload()

    def force_check(self) -> None:
        """Make the next request look at the key file (SIGHUP, tests)."""
        self._next_check = 0.0
        self._mtime = None

    def check(self, header: str | None) -> None:
        """Raise Unauthorized unless ``header`` is ``Bearer <a valid key>``."""
        if self._file is not None:
            self._maybe_reload()
        if not header:
            raise Unauthorized("missing Authorization header; send 'Bearer <key>'")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise Unauthorized("Authorization header must be 'Bearer <key>'", invalid=True)
        candidate = token.strip().encode()
        # Compare against every key, without short-circuit, in constant time per key.
        match = False
        for key in self._keys:
            match |= hmac.compare_digest(candidate, key)
        if not match:
            raise Unauthorized("invalid key", invalid=True)

    def install_sighup(self) -> None:
        """Re-read the key file on SIGHUP (main thread only; a no-op elsewhere)."""
        if self._file is None or threading.current_thread() is not threading.main_thread():
            return
        signal.signal(signal.SIGHUP, lambda *_: self.force_check())

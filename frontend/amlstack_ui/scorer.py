"""The UI's server-side client of the scorer: the key stays here and never reaches a browser.

The key is the scorer's primary key: AMLSTACK_PRIMARY_KEY when set (as the scorer itself does),
else the key file the scorer writes into the shared ``keys`` volume. It is re-read after a 401,
so a key rotation needs no UI restart.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from typing import Any

import requests

from amlstack_ui.settings import Settings

SWAGGER_TTL_S = 30.0
CARD_ROUTE = "/model/card"
REPORT_ROUTE = "/model/report/"


BUSY_STATUSES = (502, 503, 504)  # the scorer or its proxy is down, restarting or shedding load


class ScorerUnavailable(Exception):
    """The scorer cannot be reached or gave an answer the UI cannot use; one-line message."""


class ScorerBusy(ScorerUnavailable):
    """A failure that passes: no connection, a timeout, or a 502/503/504 without a usable body
    (replicas restarting, a proxy with no replica up). ``retry_after`` is the answer's
    Retry-After in seconds, when it gave one."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class Answer:
    """One /score answer: HTTP status, decoded JSON body and Retry-After (seconds), if any."""

    status: int
    body: dict[str, Any]
    retry_after: float | None = None

    @property
    def ok(self) -> bool:
        return self.status == 200

    @property
    def error(self) -> dict[str, Any]:
        return self.body.get("error") or {} if isinstance(self.body, dict) else {}


class ScorerClient:
    """Calls the scorer with the key; caches the schema documents for a short while."""

    def __init__(self, settings: Settings, session: requests.Session | None = None) -> None:
        self.settings = settings
        self.base = settings.scorer_url
        self.session = session or requests.Session()
        self._key: str | None = None
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[float, Any]] = {}

    # -- the key ----------------------------------------------------------------------------
    def key(self, refresh: bool = False) -> str:
        with self._lock:
            if self._key is None or refresh:
                self._key = self._read_key()
            return self._key

    def _read_key(self) -> str:
        if self.settings.primary_key:
            return self.settings.primary_key
        path = self.settings.key_file
        try:
            return str(json.loads(path.read_text())["primaryKey"])
        except (OSError, ValueError, KeyError, TypeError):
            raise ScorerUnavailable(
                f"no scoring key yet: {path} is not readable (set AMLSTACK_PRIMARY_KEY or "
                "mount the scorer's keys volume)"
            ) from None

    # -- requests ---------------------------------------------------------------------------
    def _request(self, method: str, route: str, *, keyed: bool = True, **kwargs):
        response = self._send(method, route, keyed, False, **kwargs)
        if keyed and response.status_code == 401:  # a rotated key: read it again, retry once
            response = self._send(method, route, keyed, True, **kwargs)
        if keyed and response.status_code == 401:
            # the form showed the scorer's "invalid key" as if the person's input were wrong
            raise ScorerUnavailable(
                f"the scorer refused this UI's key ({_message(response) or 'HTTP 401'}): "
                f"{self._key_source()} does not hold a key the scorer accepts"
            )
        return response

    def _key_source(self) -> str:
        if self.settings.primary_key:
            return "AMLSTACK_PRIMARY_KEY"
        return f"the key file {self.settings.key_file} (AMLSTACK_KEY_FILE)"

    def _send(self, method: str, route: str, keyed: bool, refresh: bool, **kwargs):
        headers = {"Authorization": f"Bearer {self.key(refresh)}"} if keyed else {}
        try:
            return self.session.request(
                method,
                self.base + route,
                headers=headers,
                timeout=self.settings.timeout_s,
                **kwargs,
            )
        except requests.RequestException as exc:
            raise ScorerBusy(
                f"the scorer at {self.base} is not answering ({type(exc).__name__})"
            ) from None

    def _json(self, route: str, *, keyed: bool) -> Any:
        cached = self._cache.get(route)
        if cached and time.monotonic() - cached[0] < SWAGGER_TTL_S:
            return cached[1]
        response = self._request("GET", route, keyed=keyed)
        if response.status_code != 200:
            raise ScorerUnavailable(f"the scorer answered {response.status_code} on {route}")
        try:
            doc = response.json()
        except ValueError:
            raise ScorerUnavailable(f"the scorer's {route} is not JSON") from None
        self._cache[route] = (time.monotonic(), doc)
        return doc

    def swagger(self) -> dict[str, Any]:
        """The served model's swagger.json (public on the scorer)."""
        return self._json("/swagger.json", keyed=False)

    def card(self) -> dict[str, Any]:
        """The served model's card: metadata, metrics, report plots and training profile."""
        return self._json(CARD_ROUTE, keyed=True)

    def report(self, name: str) -> tuple[bytes, str] | None:
        """A training-report file (a plot), or None when the artifact has no such file."""
        response = self._request("GET", REPORT_ROUTE + name)
        if response.status_code != 200:
            return None
        return response.content, response.headers.get("Content-Type", "image/png")

    def score(self, records: list[dict[str, Any]], *, explain: bool = False) -> Answer:
        """POST /score; 4xx answers come back as an Answer, not an exception."""
        params = {"explain": "true"} if explain else None
        response = self._request("POST", "/score", json={"data": records}, params=params)
        try:
            body = response.json()
        except ValueError:
            body = {}
        body = body if isinstance(body, dict) else {}
        retry_after = _seconds(response.headers.get("Retry-After"))
        if response.status_code >= 500 and not isinstance(body.get("error"), dict):
            message = f"the scorer failed with HTTP {response.status_code}"
            if response.status_code in BUSY_STATUSES:
                raise ScorerBusy(message, retry_after)
            raise ScorerUnavailable(message)
        return Answer(response.status_code, body, retry_after)


def _message(response: requests.Response) -> str:
    """The scorer's JSON error message, or "" when the body has none."""
    try:
        body = response.json()
    except ValueError:
        return ""
    error = body.get("error") if isinstance(body, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    return message if isinstance(message, str) else ""


def _seconds(retry_after: str | None) -> float | None:
    """A Retry-After header's delay in seconds (the scorer and the proxy send seconds; an
    HTTP date is not worth parsing here: the caller's own backoff applies)."""
    try:
        value = float(retry_after) if retry_after else None
    except ValueError:
        return None
    return value if value is not None and 0 <= value < 86400 else None

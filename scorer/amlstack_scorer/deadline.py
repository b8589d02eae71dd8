"""Work nobody waits for is not done: a request deadline and a check for a client that left.

- Deadline (``AMLSTACK_REQUEST_DEADLINE_S``, default 5 s, 0: none): measured from when the
  request was accepted, which a trusted proxy (``AMLSTACK_TRUSTED_PROXIES``) states in
  ``X-Request-Start: t=<epoch ms>`` (HAProxy: ``t=%Ts%ms``; seconds and microseconds are read
  too); from anyone else the header is ignored and the clock starts when the worker took the
  request. Past it, the request is answered 503 + ``Retry-After`` without being scored.
- Client gone: gunicorn's sync and gthread workers put the client socket in
  ``environ["gunicorn.socket"]``; if it reads as closed (readable and ``recv(MSG_PEEK)`` gives
  ``b""``, or reset) once the body is read, the model is not called (logged, counted). A client
  that half-closes its sending side after the body counts as gone: HTTP clients do not.
"""

from __future__ import annotations

import logging
import math
import select
import socket
import time

from amlstack_scorer.errors import ClientGone, DeadlineExceeded
from amlstack_scorer.settings import REQUEST_DEADLINE_ENV, Settings

log = logging.getLogger("amlstack.scorer")

REQUEST_START_HEADER = "X-Request-Start"
_ENVIRON_KEY = "HTTP_X_REQUEST_START"


def accepted_at(environ: dict, settings: Settings, now: float) -> float:
    """When the request was accepted (epoch seconds): a trusted proxy's X-Request-Start, else
    ``now``. A stamp in the future (clock skew) counts as ``now``."""
    raw = environ.get(_ENVIRON_KEY)
    if not raw or not settings.trusts_proxy(environ.get("REMOTE_ADDR")):
        return now
    try:
        stamp = float(raw.strip().removeprefix("t="))
    except ValueError:
        return now
    if not math.isfinite(stamp) or stamp <= 0:
        return now
    if stamp > 1e14:  # microseconds
        stamp /= 1e6
    elif stamp > 1e11:  # milliseconds
        stamp /= 1e3
    return min(stamp, now)


def check_deadline(settings: Settings, accepted: float) -> None:
    """DeadlineExceeded (503 + Retry-After) when the request is older than the deadline."""
    deadline = settings.request_deadline_s
    if not deadline:
        return
    age = time.time() - accepted
    if age > deadline:
        raise DeadlineExceeded(
            f"the request was accepted {age:.1f} s ago, past the scorer's {deadline:g} s "
            f"deadline ({REQUEST_DEADLINE_ENV}); it was not scored: retry after the "
            "Retry-After seconds"
        )


def client_gone(environ: dict) -> bool:
    """Whether the client has closed its connection (only known under gunicorn)."""
    sock = environ.get("gunicorn.socket")
    if sock is None:
        return False
    try:
        poller = select.poll()
        poller.register(sock, select.POLLIN)
        if not poller.poll(0):
            return False
        return sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except (BlockingIOError, InterruptedError, ValueError):  # no data; TLS sockets refuse PEEK
        return False
    except OSError:  # reset by the peer
        return True


def check_client(environ: dict) -> None:
    """ClientGone when nobody is left to answer (the route logs and counts it)."""
    if client_gone(environ):
        raise ClientGone("the client closed the connection before scoring; not scored")

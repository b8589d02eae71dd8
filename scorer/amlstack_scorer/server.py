"""gunicorn, as the scorer runs it when no proxy stands in front (amlstack serve, Azure, K8s).

- ``DrainingSyncWorker``: on SIGTERM a sync worker first serves the connections the kernel has
  already accepted for it (the listen backlog), then exits; gunicorn's own worker drops them,
  and their clients see a reset.
- ``install()`` (called once in the master, from gunicorn_conf.py): gunicorn's protocol errors
  (bad request line, header limits, bad chunking, ...) in the project's JSON error shape instead
  of its HTML page, and ``Server: amlstack`` instead of gunicorn's name.
"""

from __future__ import annotations

import errno
import time

from gunicorn import util
from gunicorn.http import wsgi
from gunicorn.workers.sync import SyncWorker

from amlstack_scorer import errors

SERVER_NAME = "amlstack"
_WOULD_BLOCK = (errno.EAGAIN, errno.EWOULDBLOCK, errno.ECONNABORTED)


class DrainingSyncWorker(SyncWorker):
    """A sync worker that drains its accepted connections before it exits on SIGTERM."""

    draining = False

    def handle_exit(self, sig, frame) -> None:
        self.draining = True
        super().handle_exit(sig, frame)

    def run(self) -> None:
        super().run()
        if self.draining:
            self.drain()

    def drain(self) -> None:
        """Serve what waits in the backlog, within gunicorn's graceful timeout."""
        deadline = time.monotonic() + self.cfg.graceful_timeout
        for listener in self.sockets:
            while time.monotonic() < deadline:
                try:
                    self.accept(listener)
                except OSError as exc:
                    if exc.errno in _WOULD_BLOCK:
                        break
                    raise
                self.notify()


def protocol_error(status: int, reason: str, message: str) -> bytes:
    """The whole HTTP response for a request gunicorn could not parse."""
    error = errors.ScorerError(message or reason)
    error.status, error.code = status, "protocol_error"
    body, _ = errors.render(error, None)
    head = (
        f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\n"
        f"Content-Type: application/json\r\nCache-Control: no-store\r\n"
        f"X-Content-Type-Options: nosniff\r\nServer: {SERVER_NAME}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode("latin1") + body


def _write_error(sock, status_int: int, reason: str, mesg: str) -> None:
    util.write_nonblock(sock, protocol_error(status_int, reason, mesg))


def install() -> None:
    """Replace gunicorn's HTML error writer and its Server header (both module globals)."""
    util.write_error = _write_error
    wsgi.SERVER = SERVER_NAME

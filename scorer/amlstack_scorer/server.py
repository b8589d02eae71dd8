"""gunicorn, as the scorer runs it when no proxy stands in front (amlstack serve, Azure, K8s).

- ``DrainingSyncWorker``: on SIGTERM a sync worker first serves the connections the kernel has
  already accepted for it (the listen backlog), then exits; gunicorn's own worker drops them,
  and their clients see a reset.
- ``ReadDeadline``: one deadline for reading a request (head and body), so a client that sends
  it slowly (a byte every few seconds: slowloris) or stops mid-body holds a sync worker until
  then and gets a 408, rather than until gunicorn kills the worker (30 s, a 500).
- ``install()`` (called once in the master, from gunicorn_conf.py): gunicorn's protocol errors
  (bad request line, header limits, bad chunking, ...) in the project's JSON error shape instead
  of its HTML page, and ``Server: amlstack`` instead of gunicorn's name.
"""

from __future__ import annotations

import contextlib
import errno
import socket
import time
from typing import NoReturn

from gunicorn import util
from gunicorn.http import wsgi
from gunicorn.workers.sync import SyncWorker

from amlstack_scorer import errors

SERVER_NAME = "amlstack"
_WOULD_BLOCK = (errno.EAGAIN, errno.EWOULDBLOCK, errno.ECONNABORTED)


class ReadDeadline:
    """A client socket whose reads share one deadline, counted from when the worker took the
    connection. Past it, a read of the head answers 408 itself and raises ENOTCONN (gunicorn
    then closes quietly: no app has the request yet); a read of the body raises
    `errors.ReadTimedOut`, which the route answers 408 in its own error shape. Not bounded: a
    read with flags (the client-gone check's ``MSG_PEEK``), and gunicorn's lingering close
    (after ``shutdown``), which has its own timeout."""

    def __init__(self, sock: socket.socket, seconds: float) -> None:
        self._sock = sock
        self._deadline = time.monotonic() + seconds
        self._seconds = seconds
        self.head_read = False
        self._closing = False

    def shutdown(self, how: int) -> None:
        self._closing = True
        self._sock.shutdown(how)

    def recv(self, size: int, *flags: int) -> bytes:
        if flags or self._closing:
            return self._sock.recv(size, *flags)
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            self._expire()
        self._sock.settimeout(remaining)
        try:
            return self._sock.recv(size)
        except TimeoutError:
            self._expire()
        finally:
            self._sock.settimeout(None)

    def _expire(self) -> NoReturn:
        message = f"the request did not arrive within {self._seconds:g} s"
        if self.head_read:
            raise errors.ReadTimedOut(message)
        with contextlib.suppress(OSError):  # the client may have left too
            self._sock.sendall(protocol_error(408, "Request Timeout", message))
        raise OSError(errno.ENOTCONN, message)

    def __getattr__(self, name: str):
        return getattr(self._sock, name)


class DrainingSyncWorker(SyncWorker):
    """A sync worker that drains its accepted connections before it exits on SIGTERM, and reads
    each request within ``read_timeout`` seconds (`ReadDeadline`; set by ``install``)."""

    draining = False
    read_timeout = 0.0  # 0: no read deadline

    def handle(self, listener, client, addr) -> None:
        if self.read_timeout > 0:
            client = ReadDeadline(client, self.read_timeout)
        super().handle(listener, client, addr)

    def handle_request(self, listener, req, client, addr):
        if isinstance(client, ReadDeadline):
            client.head_read = True
        return super().handle_request(listener, req, client, addr)

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


def install(read_timeout: float = 0.0) -> None:
    """Replace gunicorn's HTML error writer and its Server header (both module globals), and
    give sync workers their read deadline (``read_timeout`` seconds, 0: none)."""
    util.write_error = _write_error
    wsgi.SERVER = SERVER_NAME
    DrainingSyncWorker.read_timeout = read_timeout

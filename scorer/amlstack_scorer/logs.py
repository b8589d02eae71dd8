"""Structured JSON logs on stdout: one line per request, one per event; never a key or a body."""

from __future__ import annotations

import logging
import sys
import time

from amlstack_scorer.wire import encode

ACCESS_LOGGER = "amlstack.access"
# LogRecord attributes that are not "extra" fields.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and any ``extra`` fields."""

    def format(self, record: logging.LogRecord) -> str:
        doc = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                doc[key] = value
        if record.exc_info:
            doc["exception"] = self.formatException(record.exc_info)
        return encode(doc).decode()


def configure(level: str = "INFO", stream=None) -> None:
    """Send the scorer's loggers to ``stream`` (stdout) as JSON lines; idempotent."""
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.setFormatter(JsonFormatter())
    for name in ("amlstack", "gunicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(level)
        logger.propagate = False


class AccessLog:
    """Writes the per-request JSON line straight to stdout.

    The logging module costs more per line than scoring one record (measured with pyinstrument),
    so the access line skips it; it has the same shape as every other log line.
    """

    def __init__(self, enabled: bool = True, stream=None) -> None:
        self.enabled = enabled
        self.stream = stream
        self._second = -1
        self._stamp = ""

    def _time(self) -> str:
        now = time.time()
        second = int(now)
        if second != self._second:
            self._second = second
            self._stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        return f"{self._stamp}.{int((now - second) * 1000):03d}Z"

    def request(
        self, request_id: str, method: str, route: str, status: int, ms: float, batch: int | None
    ) -> None:
        if not self.enabled:
            return
        line = encode(
            {
                "time": self._time(),
                "level": "INFO",
                "logger": ACCESS_LOGGER,
                "message": "request",
                "request_id": request_id,
                "method": method,
                "route": route,
                "status": status,
                "latency_ms": round(ms, 3),
                "batch_size": batch,
            }
        )
        # Looked up per call so a replaced sys.stdout (tests, gunicorn daemon mode) is honoured.
        (self.stream or sys.stdout).write(line.decode() + "\n")

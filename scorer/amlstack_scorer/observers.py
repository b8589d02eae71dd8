"""Batching for observers of scored rows (the drift profile): off the per-request path.

Updating a live profile costs a fixed few hundred microseconds per call whatever the batch size
(one numpy pass and a counter update per feature), more than scoring a single record. Copying the
request's rows into a block and handing over whole blocks makes that cost per block, not per
request. A block is handed over when full, when it is ``max_age_s`` old (a timer thread, so a
worker that goes quiet still reports its rows to the shared metrics), and on ``flush()`` (before
/metrics answers, and when a gunicorn worker exits).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import numpy as np

Observer = Callable[[np.ndarray, int], None]


class BufferedObserver:
    """Wraps an observer; calls it with up to ``rows`` accumulated rows at a time."""

    def __init__(
        self, observer: Observer, n_features: int, rows: int = 256, max_age_s: float = 1.0
    ) -> None:
        self.observer = observer
        self.rows = rows
        self.max_age_s = max_age_s
        self._block = np.empty((rows, n_features), dtype=np.float32)
        self._count = 0
        self._started = time.monotonic()
        self._lock = threading.Lock()  # gthread workers call from several threads

    def __call__(self, matrix: np.ndarray, count: int) -> None:
        with self._lock:
            if count >= self.rows:  # a large batch goes straight through
                self._hand_over()
                self.observer(matrix, count)
                return
            if self._count + count > self.rows:
                self._hand_over()
            if self._count == 0:
                self._started = time.monotonic()
                self._flush_later()
            self._block[self._count : self._count + count] = matrix[:count]
            self._count += count
            if self._count >= self.rows or time.monotonic() - self._started > self.max_age_s:
                self._hand_over()

    def _flush_later(self) -> None:
        timer = threading.Timer(self.max_age_s, self.flush)
        timer.daemon = True  # never keeps a stopping worker alive
        timer.start()

    def flush(self) -> None:
        with self._lock:
            self._hand_over()

    def _hand_over(self) -> None:
        if self._count:
            count, self._count = self._count, 0
            self.observer(self._block[:count], count)

    def __repr__(self) -> str:
        return f"BufferedObserver({self.observer!r}, rows={self.rows})"

"""BufferedObserver: rows reach the observer in blocks, none lost, none duplicated."""

from __future__ import annotations

import json

import numpy as np

from amlstack_scorer import contract as c
from amlstack_scorer.app import create_app
from amlstack_scorer.observers import BufferedObserver


class Recorder:
    def __init__(self):
        self.calls: list[np.ndarray] = []

    def __call__(self, matrix, count):
        self.calls.append(np.array(matrix[:count]))  # a copy: the block is reused


def rows(start: int, n: int, width: int = 3) -> np.ndarray:
    return np.arange(start * width, (start + n) * width, dtype=np.float32).reshape(n, width)


def test_rows_are_handed_over_in_full_blocks_in_order():
    rec = Recorder()
    buffered = BufferedObserver(rec, 3, rows=4, max_age_s=3600)
    for i in range(10):
        buffered(rows(i, 1), 1)
    assert [len(m) for m in rec.calls] == [4, 4]
    buffered.flush()
    assert np.array_equal(np.vstack(rec.calls), rows(0, 10))


def test_a_batch_that_does_not_fit_flushes_first():
    rec = Recorder()
    buffered = BufferedObserver(rec, 3, rows=4, max_age_s=3600)
    buffered(rows(0, 3), 3)
    buffered(rows(3, 2), 2)
    buffered.flush()
    assert [len(m) for m in rec.calls] == [3, 2]
    assert np.array_equal(np.vstack(rec.calls), rows(0, 5))


def test_a_large_batch_goes_straight_through_after_pending_rows():
    rec = Recorder()
    buffered = BufferedObserver(rec, 3, rows=4, max_age_s=3600)
    buffered(rows(0, 1), 1)
    buffered(rows(1, 9), 9)
    assert [len(m) for m in rec.calls] == [1, 9]
    assert np.array_equal(np.vstack(rec.calls), rows(0, 10))


def test_old_rows_are_handed_over_on_the_next_request():
    rec = Recorder()
    buffered = BufferedObserver(rec, 3, rows=100, max_age_s=0.0)
    buffered(rows(0, 1), 1)
    assert len(rec.calls) == 1


def test_metrics_scrape_flushes_buffered_rows(settings, model, auth, sample):
    rec = Recorder()
    observer = BufferedObserver(rec, len(model.features), rows=1000, max_age_s=3600)
    client = create_app(settings, model, observers=[observer]).test_client()
    headers = {**auth, "Content-Type": "application/json"}
    client.post(c.SCORING_ROUTE, data=json.dumps({"data": sample[:2]}), headers=headers)
    assert rec.calls == []
    client.get(c.METRICS_ROUTE, headers=auth)
    assert [len(m) for m in rec.calls] == [2]

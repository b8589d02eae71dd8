"""Large batches are scored in one slice per CPU, side by side (reader.PARALLEL_ROWS)."""

from __future__ import annotations

import numpy as np
import pytest

from amlstack.artifact import reader
from amlstack.artifact.reader import PARALLEL_ROWS, Model


@pytest.fixture
def rows(model, sample) -> np.ndarray:
    """PARALLEL_ROWS + 7 encoded rows (uneven slices), varied so each slice differs."""
    matrix = model.encode_records(sample)
    picked = np.random.default_rng(0).integers(0, len(matrix), PARALLEL_ROWS + 7)
    return np.ascontiguousarray(matrix[picked])


@pytest.fixture
def parallel(scorer_artifact, monkeypatch) -> Model:
    monkeypatch.setattr(reader, "_cpu_count", lambda: 3)  # three slices, even on one CPU
    return Model(scorer_artifact, parallel_batches=True)


def test_a_large_batch_gives_the_numbers_of_small_ones(parallel, model, rows):
    big = parallel.predict_proba(rows)
    assert parallel._pool is not None and parallel._pool._max_workers == 2
    small = np.concatenate(
        [model.predict_proba(rows[i : i + 1000]) for i in range(0, len(rows), 1000)]
    )
    assert big.shape == (len(rows), len(model.classes))
    np.testing.assert_array_equal(big, small)  # slices of a batch: bit for bit
    # one record at a time may take another matrix kernel (last bit), as before slicing; in
    # absolute terms: a calibrated graph's smaller probability is a map of 1 - p, so it carries
    # the last bit of 1 - p (6e-8 on 0.0096: 6e-6 relative to itself)
    one = np.concatenate([parallel.predict_proba(rows[i : i + 1]) for i in range(0, 50)])
    np.testing.assert_allclose(big[:50], one, rtol=0, atol=1e-6)


def test_the_threads_start_on_the_first_large_batch_only_once(parallel, rows):
    assert parallel._pool is None  # none at load: a gunicorn master never holds threads
    parallel.predict_proba(rows[: PARALLEL_ROWS - 1])
    assert parallel._pool is None  # below PARALLEL_ROWS: the calling thread alone
    parallel.predict_proba(rows)
    pool = parallel._pool
    assert pool is not None
    parallel.predict_proba(rows)
    assert parallel._pool is pool


def test_off_by_default_and_for_several_thread_sessions(scorer_artifact, rows, monkeypatch):
    monkeypatch.setattr(reader, "_cpu_count", lambda: 3)
    for model in (
        Model(scorer_artifact),
        Model(scorer_artifact, threads=2, parallel_batches=True),
    ):
        model.predict_proba(rows)
        assert model._pool is None


def test_the_scorer_builds_its_model_with_parallel_batches(monkeypatch, scorer_artifact):
    from amlstack_scorer import wsgi

    seen = {}
    real = wsgi.Model

    def spy(*args, **kwargs):
        seen.update(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(wsgi, "Model", spy)
    monkeypatch.setattr(wsgi, "_artifact", reader.read_verified(scorer_artifact))
    monkeypatch.setattr(wsgi, "load_settings", lambda: _settings())
    wsgi.build()
    assert seen["parallel_batches"] is True


def _settings():
    from scorer_support import make_settings

    return make_settings()

"""In a single process (no gunicorn), /metrics still shows the live drift profile."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scorer_support import PRIMARY, make_settings

from amlstack_scorer import drift
from amlstack_scorer.app import create_app
from amlstack_scorer.wsgi import _observers


def test_single_process_metrics_include_the_drift_profile(model, sample):
    app = create_app(make_settings(), model, observers=_observers(model))
    client = app.test_client()
    auth = {"Authorization": f"Bearer {PRIMARY}"}
    answer = client.post("/score", json={"data": sample * 3}, headers=auth)
    assert answer.status_code == 200
    text = client.get("/metrics", headers=auth).get_data(as_text=True)
    assert "amlstack_records_scored_total" in text
    rows = [line for line in text.splitlines() if line.startswith("amlstack_profile_rows_total")]
    assert rows and float(rows[0].split()[-1]) == 3 * len(sample)
    assert (
        'amlstack_feature_bin_total{bin="' in text or "amlstack_feature_bin_total{feature=" in text
    )


@settings(max_examples=60, deadline=None)
@given(
    edges=st.lists(st.floats(-1e3, 1e3), max_size=70).map(sorted),
    values=st.lists(st.floats(-2e3, 2e3), min_size=1, max_size=200),
)
def test_numeric_bins_are_searchsorted_left(edges, values):
    """The per-edge comparison count gives the bins a binary search gives, edges tied or not
    (more than 64 edges go to the binary search itself)."""
    edges, values = np.array(edges, dtype=np.float64), np.array(values, dtype=np.float64)
    values = np.concatenate([values, edges])  # values on an edge: counted in the bin below
    want = np.searchsorted(edges, values, side="left")
    np.testing.assert_array_equal(drift._bins(edges, values), want)

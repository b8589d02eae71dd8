"""In a single process (no gunicorn), /metrics still shows the live drift profile."""

from __future__ import annotations

from scorer_support import PRIMARY, make_settings

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

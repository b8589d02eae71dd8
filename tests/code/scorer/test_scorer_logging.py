"""What the scorer writes to its log under gunicorn: JSON lines only, each once, no probe noise."""

from __future__ import annotations

import io
import json

import pytest
import requests
from scorer_support import PRIMARY
from test_gunicorn import start, stop

from amlstack_scorer.logs import AccessLog


@pytest.fixture(scope="module")
def log_lines(scorer_artifact, tmp_path_factory, sample) -> list[str]:
    """The whole log of one gunicorn run: start, probes, one score, SIGTERM."""
    tmp = tmp_path_factory.mktemp("logs")
    proc, url = start(scorer_artifact, tmp, HOME="/proc/nonexistent", XDG_CACHE_HOME="")
    try:
        for _ in range(3):
            assert requests.get(url + "/ready", timeout=10).status_code == 200
            assert requests.get(url + "/", timeout=10).status_code == 200
        headers = {"Authorization": f"Bearer {PRIMARY}"}
        assert requests.post(url + "/score", json={"data": sample[:1]}, headers=headers).ok
    finally:
        stop(proc)
    return next(tmp.glob("gunicorn-*.log")).read_text().splitlines()


@pytest.mark.slow
def test_every_line_is_json(log_lines):
    """gunicorn's plain-text handler printed each of its lines a second time, unformatted."""
    not_json = []
    for line in log_lines:
        try:
            json.loads(line)
        except ValueError:
            not_json.append(line)
    assert not_json == []


@pytest.mark.slow
def test_gunicorn_lines_appear_once(log_lines):
    booting = [line for line in log_lines if "Booting worker" in line]
    assert len(booting) == 2  # two workers, one line each


@pytest.mark.slow
def test_no_onnxruntime_telemetry_warning(log_lines):
    assert not [line for line in log_lines if "telemetry" in line.lower()]


@pytest.mark.slow
def test_health_probes_are_not_logged_at_info_but_requests_are(log_lines):
    routes = [json.loads(line).get("route") for line in log_lines if '"request"' in line]
    assert "/score" in routes
    assert "/ready" not in routes and "/" not in routes


def test_probe_failures_are_logged_and_debug_logs_every_probe():
    out = io.StringIO()
    AccessLog(stream=out).request("r1", "GET", "/ready", 200, 1.0, None)
    assert out.getvalue() == ""
    AccessLog(stream=out).request("r2", "GET", "/ready", 503, 1.0, None)
    AccessLog(stream=out, probes=True).request("r3", "GET", "/", 200, 1.0, None)
    assert [json.loads(line)["request_id"] for line in out.getvalue().splitlines()] == ["r2", "r3"]

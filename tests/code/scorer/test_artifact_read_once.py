"""The model is read and verified once per container: replacement workers never re-read it.

A byte of model.onnx changes on disk while gunicorn runs; then a worker dies (kill -9), workers
recycle (max_requests) or SIGHUP restarts them. Every request still gets the answer of the model
verified at start, and the port stays open (before: the replacement refused the changed file,
exit 3, and gunicorn stopped the healthy worker and itself).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
from pathlib import Path

import pytest
import requests
from scorer_support import PRIMARY
from test_gunicorn import start, stop

from amlstack_scorer import contract as c

pytestmark = pytest.mark.slow

WAIT_S = 60  # bounds for a busy CI machine, not performance assertions


def _workers(master: int) -> set[int]:
    """The master's child processes (its workers), from /proc."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == master and fields[0] != "Z":
            found.add(int(entry.name))
    return found


def _wait_for_workers(master: int, count: int, gone: set[int]) -> set[int]:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        pids = _workers(master)
        if len(pids) == count and not pids & gone:
            return pids
        time.sleep(0.05)
    pytest.fail(f"gunicorn did not replace workers {gone}: now {_workers(master)}")


def _score(url: str, body: bytes) -> dict:
    resp = requests.post(
        url + c.SCORING_ROUTE,
        data=body,
        headers={"Authorization": f"Bearer {PRIMARY}", "Content-Type": "application/json"},
        timeout=WAIT_S,
    )
    assert resp.status_code == 200, resp.text
    return resp.json()


def _change_a_byte(path: Path) -> None:
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    path.write_bytes(bytes(raw))


@pytest.fixture
def artifact_copy(scorer_artifact, tmp_path) -> Path:
    copy = tmp_path / "artifact"
    shutil.copytree(scorer_artifact, copy)
    return copy


def _assert_serving(proc, url: str, body: bytes, expected: dict, requests_count: int) -> None:
    for _ in range(requests_count):
        assert _score(url, body) == expected
        assert proc.poll() is None, "gunicorn stopped"
    assert requests.get(url + c.READINESS_ROUTE, timeout=WAIT_S).status_code == 200


def test_killed_workers_are_replaced_from_the_verified_bytes(artifact_copy, tmp_path, sample):
    proc, url = start(artifact_copy, tmp_path, AMLSTACK_WORKERS="2")
    try:
        body = json.dumps({"data": sample}).encode()
        expected = _score(url, body)
        _change_a_byte(artifact_copy / "model.onnx")
        original = _wait_for_workers(proc.pid, 2, set())
        for victim in sorted(original):  # one at a time: at the end, only replacements serve
            os.kill(victim, signal.SIGKILL)
            _wait_for_workers(proc.pid, 2, {victim})
            _assert_serving(proc, url, body, expected, 10)
        assert not _workers(proc.pid) & original
        _assert_serving(proc, url, body, expected, 10)
    finally:
        stop(proc)
    log = next(tmp_path.glob("gunicorn-*.log")).read_text()
    assert "does not match its sha256" not in log


def test_recycled_workers_serve_the_verified_model(artifact_copy, tmp_path, sample):
    proc, url = start(artifact_copy, tmp_path, AMLSTACK_WORKERS="2", AMLSTACK_MAX_REQUESTS="5")
    try:
        body = json.dumps({"data": sample}).encode()
        expected = _score(url, body)
        first = _wait_for_workers(proc.pid, 2, set())
        _change_a_byte(artifact_copy / "model.onnx")
        # 40 requests over 2 workers recycling every 5-6: every first worker has been replaced.
        _assert_serving(proc, url, body, expected, 40)
        assert not _workers(proc.pid) & first
    finally:
        stop(proc)


def test_sighup_does_not_reread_a_changed_artifact(artifact_copy, tmp_path, sample):
    proc, url = start(artifact_copy, tmp_path, AMLSTACK_WORKERS="2")
    try:
        body = json.dumps({"data": sample}).encode()
        expected = _score(url, body)
        first = _wait_for_workers(proc.pid, 2, set())
        _change_a_byte(artifact_copy / "model.onnx")
        proc.send_signal(signal.SIGHUP)  # new config and workers, the same verified model
        _wait_for_workers(proc.pid, 2, first)
        _assert_serving(proc, url, body, expected, 10)
    finally:
        stop(proc)


def test_a_changed_artifact_is_refused_at_start(artifact_copy, tmp_path):
    _change_a_byte(artifact_copy / "model.onnx")
    with pytest.raises(AssertionError, match="does not match its sha256"):
        start(artifact_copy, tmp_path)

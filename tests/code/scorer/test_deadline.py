"""Abandoned work stops: a request deadline (503 + Retry-After) and a check for a gone client."""

from __future__ import annotations

import ipaddress
import json
import re
import socket
import threading
import time
from pathlib import Path

import pytest
import requests
from scorer_support import PRIMARY, make_settings
from test_gunicorn import start, stop

from amlstack_scorer.app import create_app
from amlstack_scorer.settings import Settings, SettingsError

REPO = Path(__file__).resolve().parents[3]
LOCAL = (ipaddress.ip_network("127.0.0.0/8"),)


@pytest.fixture
def calls(model, monkeypatch) -> list[int]:
    """Counts the model's calls (the checks must happen before it)."""
    seen: list[int] = []
    real = model.predict_proba

    def counted(matrix):
        seen.append(len(matrix))
        return real(matrix)

    monkeypatch.setattr(model, "predict_proba", counted)
    return seen


def _post(client, auth, sample, headers=None, **kwargs):
    return client.post(
        "/score",
        data=json.dumps({"data": sample[:1]}),
        headers={**auth, "Content-Type": "application/json", **(headers or {})},
        **kwargs,
    )


def _not_scored(client, auth, reason: str) -> float:
    text = client.get("/metrics", headers=auth).get_data(as_text=True)
    found = re.search(rf'amlstack_requests_not_scored_total\{{reason="{reason}"\}} (\S+)', text)
    return float(found.group(1)) if found else 0.0


def test_past_the_deadline_a_trusted_proxy_stated_is_503_unscored(model, sample, auth, calls):
    app = create_app(make_settings(trusted_proxies=LOCAL, request_deadline_s=2.0), model)
    client = app.test_client()
    calls.clear()  # the app scored its swagger example
    stamp = f"t={int((time.time() - 10) * 1000)}"  # HAProxy's t=%Ts%ms, 10 s ago
    resp = _post(client, auth, sample, {"X-Request-Start": stamp})
    assert resp.status_code == 503
    assert resp.headers["Retry-After"] == "1"
    error = resp.get_json()["error"]
    assert (
        error["code"] == "deadline_exceeded" and "AMLSTACK_REQUEST_DEADLINE_S" in error["message"]
    )
    assert calls == []
    assert _not_scored(client, auth, "deadline_exceeded") == 1
    fresh = _post(client, auth, sample, {"X-Request-Start": f"t={int(time.time() * 1000)}"})
    assert fresh.status_code == 200
    assert len(calls) == 1


def test_the_header_counts_only_from_trusted_proxies(model, sample, auth, calls):
    client = create_app(make_settings(request_deadline_s=2.0), model).test_client()
    calls.clear()
    stamp = f"t={int((time.time() - 10) * 1000)}"
    assert _post(client, auth, sample, {"X-Request-Start": stamp}).status_code == 200
    assert len(calls) == 1


def test_without_a_proxy_the_deadline_runs_from_the_workers_start(model, sample, auth, calls):
    client = create_app(make_settings(request_deadline_s=1e-9), model).test_client()
    calls.clear()
    resp = _post(client, auth, sample)
    assert resp.status_code == 503 and resp.get_json()["error"]["code"] == "deadline_exceeded"
    assert calls == []


def test_csv_bodies_keep_the_deadline_and_the_gone_client_check(model, sample, auth, calls):
    from test_csv_scoring import score_csv, to_csv

    text = to_csv(sample[:1], model.feature_names)
    late = create_app(make_settings(request_deadline_s=1e-9), model).test_client()
    calls.clear()
    resp = score_csv(late, auth, text)
    assert resp.status_code == 503 and resp.headers["Retry-After"] == "1"
    assert resp.get_json()["error"]["code"] == "deadline_exceeded"
    client = create_app(make_settings(), model).test_client()
    calls.clear()
    ours, theirs = socket.socketpair()
    theirs.close()
    try:
        assert (
            score_csv(client, auth, text, environ_overrides={"gunicorn.socket": ours}).status_code
            == 499
        )
    finally:
        ours.close()
    assert calls == []


def test_a_zero_deadline_is_no_deadline(model, sample, auth):
    app = create_app(make_settings(trusted_proxies=LOCAL, request_deadline_s=0.0), model)
    stamp = f"t={int((time.time() - 3600) * 1000)}"
    assert _post(app.test_client(), auth, sample, {"X-Request-Start": stamp}).status_code == 200


def test_a_gone_client_is_not_scored(app, sample, auth, calls):
    client = app.test_client()
    ours, theirs = socket.socketpair()
    theirs.close()  # the client hung up after sending its request
    try:
        resp = _post(client, auth, sample, environ_overrides={"gunicorn.socket": ours})
    finally:
        ours.close()
    assert resp.status_code == 499
    assert calls == []
    assert _not_scored(client, auth, "client_gone") == 1


def test_a_client_still_there_is_scored(app, sample, auth, calls):
    ours, theirs = socket.socketpair()
    try:
        resp = _post(app.test_client(), auth, sample, environ_overrides={"gunicorn.socket": ours})
    finally:
        ours.close()
        theirs.close()
    assert resp.status_code == 200
    assert len(calls) == 1


@pytest.mark.parametrize("raw", ["soon", "-1", "nan", "99999", "1e-9", "0.05"])
def test_a_bad_deadline_names_the_variable(raw):
    env = {"AMLSTACK_PRIMARY_KEY": PRIMARY, "AMLSTACK_REQUEST_DEADLINE_S": raw}
    with pytest.raises(SettingsError, match=r"^AMLSTACK_REQUEST_DEADLINE_S: "):
        Settings.from_env(env)


def test_the_deadline_setting_reads_seconds():
    env = {"AMLSTACK_PRIMARY_KEY": PRIMARY, "AMLSTACK_REQUEST_DEADLINE_S": "2.5"}
    assert Settings.from_env(env).request_deadline_s == 2.5
    assert Settings.from_env({"AMLSTACK_PRIMARY_KEY": PRIMARY}).request_deadline_s == 5.0


def test_the_proxy_drops_queued_requests_of_gone_clients_and_stamps_the_accept_time():
    cfg = (REPO / "proxy" / "haproxy.cfg").read_text()
    lines = [line.strip() for line in cfg.splitlines() if not line.strip().startswith("#")]
    assert "option abortonclose" in lines
    assert "http-request set-header X-Request-Start t=%Ts%ms" in lines


@pytest.mark.slow
def test_gunicorn_skips_a_request_whose_client_left(scorer_artifact, tmp_path, sample):
    """One worker busy with large batches; a client sends a request behind them and hangs up.
    When the worker reaches it, it is dropped unscored and counted."""
    proc, url = start(scorer_artifact, tmp_path, AMLSTACK_WORKERS="1")
    host, port = url.removeprefix("http://").split(":")
    auth = {"Authorization": f"Bearer {PRIMARY}"}
    try:
        big = json.dumps({"data": sample[:1] * 10_000}).encode()

        def busy() -> None:
            requests.post(url + "/score", data=big, timeout=60,
                          headers={**auth, "Content-Type": "application/json"})  # fmt: skip

        workers = [threading.Thread(target=busy) for _ in range(3)]
        for thread in workers:
            thread.start()
        time.sleep(0.2)  # the worker is on the first large batch, the others wait
        small = json.dumps({"data": sample[:1]}).encode()
        request = (
            f"POST /score HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {PRIMARY}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(small)}\r\n\r\n"
        ).encode() + small
        for _ in range(3):
            with socket.create_connection((host, int(port)), timeout=10) as sock:
                sock.sendall(request)
            # closed at once: nobody will read the answer
        for thread in workers:
            thread.join(timeout=120)
        deadline = time.monotonic() + 30
        gone = 0.0
        while time.monotonic() < deadline:
            text = requests.get(url + "/metrics", headers=auth, timeout=10).text
            found = re.search(
                r'amlstack_requests_not_scored_total\{reason="client_gone"\} (\S+)', text
            )
            gone = float(found.group(1)) if found else 0.0
            if gone >= 1:
                break
            time.sleep(0.1)
        assert gone >= 1
        assert proc.poll() is None
    finally:
        stop(proc)
    log = next(tmp_path.glob("gunicorn-*.log")).read_text()
    assert "request not scored" in log and "Traceback" not in log


def test_v2_infer_keeps_the_deadline_and_the_gone_client_check(model, sample, auth, calls):
    """/v2 infer goes through the same scoring steps as /score (raw_route.RawEndpoint)."""
    inputs = [
        {
            "name": f.name,
            "shape": [1],
            "datatype": "BYTES" if f.kind == "categorical" else "FP64",
            "data": [sample[0][f.name]],
        }
        for f in model.features
    ]
    path = f"/v2/models/{model.name}/infer"
    late = create_app(make_settings(request_deadline_s=1e-9), model).test_client()
    client = create_app(make_settings(), model).test_client()
    calls.clear()  # building an app scores its swagger example
    resp = late.post(path, json={"inputs": inputs}, headers=auth)
    assert resp.status_code == 503 and resp.headers["Retry-After"] == "1"
    assert "deadline" in resp.get_json()["error"]  # the protocol's {"error": "..."} shape
    ours, theirs = socket.socketpair()
    theirs.close()
    try:
        gone = client.post(
            path, json={"inputs": inputs}, headers=auth, environ_overrides={"gunicorn.socket": ours}
        )
        assert gone.status_code == 499
    finally:
        ours.close()
    assert calls == []
    assert client.post(path, json={"inputs": inputs}, headers=auth).status_code == 200
    assert calls == [1]

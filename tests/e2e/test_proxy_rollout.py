"""The proxy in front of the scorer replicas: slow clients, overload, protocol errors, rollout."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import threading
import time

import pytest
import requests

pytestmark = pytest.mark.e2e

SLOW_CLIENTS = 20
LOAD_THREADS = 4


@pytest.fixture(scope="module")
def sample(stack):
    return stack.container_json("/app/model/sample_input.json")["data"][:1]


@pytest.fixture(scope="module")
def early_errors_json(stack) -> bool:
    """HAProxy >= 3.2 answers errors in a connection's first request with proxy/errors; 2.6
    (Debian bookworm's package, the offline build) with its built-in HTML page."""
    out = stack.compose("exec", "-T", "proxy", "haproxy", "-v", timeout=60).stdout
    major, minor = re.search(r"version (\d+)\.(\d+)", out).groups()
    return (int(major), int(minor)) >= (3, 2)


def _address(stack) -> tuple[str, int]:
    host, port = stack.scorer.removeprefix("http://").split(":")
    return host, int(port)


def _raw(stack, request: bytes) -> bytes:
    """Send raw bytes and return everything the proxy answers."""
    with socket.create_connection(_address(stack), timeout=10) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


class Load(threading.Thread):
    """Score ``sample`` in a loop until stopped; records every status and latency."""

    def __init__(self, stack, sample) -> None:
        super().__init__(daemon=True)
        self.stack, self.sample = stack, sample
        self.stop = threading.Event()
        self.latencies: list[float] = []
        self.failures: list[str] = []

    def run(self) -> None:
        with requests.Session() as session:
            headers = {"Authorization": f"Bearer {self.stack.key}"}
            while not self.stop.is_set() and len(self.latencies) < 20_000:
                started = time.perf_counter()
                try:
                    resp = session.post(
                        f"{self.stack.scorer}/score",
                        json={"data": self.sample},
                        headers=headers,
                        timeout=30,
                    )
                    if resp.status_code != 200:
                        self.failures.append(f"{resp.status_code} {resp.text[:200]}")
                except requests.RequestException as exc:
                    self.failures.append(repr(exc))
                self.latencies.append(time.perf_counter() - started)


def _run_load(stack, sample, action) -> tuple[list[Load], object]:
    loads = [Load(stack, sample) for _ in range(LOAD_THREADS)]
    for load in loads:
        load.start()
    time.sleep(1.0)
    try:
        result = action()
        time.sleep(1.0)
    finally:
        for load in loads:
            load.stop.set()
        for load in loads:
            load.join(timeout=60)
    return loads, result


def test_two_replicas_serve_behind_the_proxy(stack):
    replicas = stack.compose("ps", "-q", "scorer").stdout.split()
    assert len(replicas) == int(os.environ.get("AMLSTACK_SCORER_REPLICAS", 2))
    resp = requests.get(f"{stack.scorer}/ready", timeout=10)
    assert resp.status_code == 200
    assert "gunicorn" not in resp.headers.get("Server", "")


def test_protocol_errors_are_json(stack, early_errors_json):
    if not early_errors_json:
        pytest.xfail("HAProxy < 3.2 ignores errorfile for a connection's first request")
    answer = _raw(stack, b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n")
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.") and b" 400 " in head.split(b"\r\n")[0]
    assert b"application/json" in head
    assert b'"code":"bad_request"' in body


def test_slow_clients_do_not_hold_the_workers(stack, sample, early_errors_json):
    """More trickling clients than the replicas have workers; normal requests are all served,
    and each slow client is answered 408 in JSON once its headers are overdue."""
    slow = []
    for _ in range(SLOW_CLIENTS):
        sock = socket.create_connection(_address(stack), timeout=30)
        sock.sendall(b"POST /score HTTP/1.1\r\nHost: x\r\n")
        slow.append(sock)
    try:
        headers = {"Authorization": f"Bearer {stack.key}"}
        statuses = [
            requests.post(
                f"{stack.scorer}/score", json={"data": sample}, headers=headers, timeout=30
            ).status_code
            for _ in range(20)
        ]
        assert statuses == [200] * 20
        answers = []
        for sock in slow:
            sock.sendall(b"X-Slow: 1\r\n")
            answers.append(sock.recv(4096))
        assert all(b" 408 " in a.split(b"\r\n")[0] for a in answers), answers[:2]
        if early_errors_json:
            assert all(b'"code":"request_timeout"' in a for a in answers)
    finally:
        for sock in slow:
            sock.close()


def _wrk_script(path, body: str, key: str) -> None:
    path.write_text(
        'wrk.method = "POST"\n'
        f"wrk.body = {json.dumps(body)}\n"
        'wrk.headers["Content-Type"] = "application/json"\n'
        f'wrk.headers["Authorization"] = "Bearer {key}"\n'
    )


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed (scripts/test.sh)")
def test_overload_is_shed_with_503_and_retry_after(stack, tmp_path, sample):
    """256 connections against 2 x 2 workers: the excess is answered 503 + Retry-After in JSON
    at once instead of waiting into the clients' timeouts."""
    body = json.dumps({"data": sample * 200})
    script = tmp_path / "post.lua"
    _wrk_script(script, body, stack.key)
    wrk = subprocess.Popen(
        ["wrk", "-t2", "-c256", "-d4s", "--timeout", "20s", "-s", str(script),
         f"{stack.scorer}/score"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        time.sleep(1.5)
        headers = {"Authorization": f"Bearer {stack.key}", "Content-Type": "application/json"}
        probes = [
            requests.post(f"{stack.scorer}/score", data=body, headers=headers, timeout=20)
            for _ in range(10)
        ]
    finally:
        out, _ = wrk.communicate(timeout=60)
    shed = [p for p in probes if p.status_code == 503]
    assert shed, [p.status_code for p in probes]
    assert all(int(p.headers["Retry-After"]) >= 1 for p in shed)
    assert {p.json()["error"]["code"] for p in shed} <= {"overloaded", "unavailable"}
    assert "Non-2xx or 3xx responses" in out, out
    assert "Socket errors" not in out or re.search(r"timeout 0\b", out), out


def test_rollout_fails_no_request(stack, sample):
    """A bounded load through the proxy while every replica is replaced: 0 failed requests."""
    before = set(stack.compose("ps", "-q", "scorer").stdout.split())
    loads, _ = _run_load(stack, sample, lambda: stack.shell("stack_rollout", timeout=900))
    after = set(stack.compose("ps", "-q", "scorer").stdout.split())
    latencies = sorted(x for load in loads for x in load.latencies)
    failures = [f for load in loads for f in load.failures]
    p99 = latencies[int(len(latencies) * 0.99) - 1] * 1000 if latencies else float("nan")
    print(f"\nrollout: {len(latencies)} requests, {len(failures)} failed, p99 {p99:.1f} ms")
    assert after and not (after & before), "the old replicas were not replaced"
    assert len(latencies) > 0
    assert failures == []


def test_a_rollout_that_never_gets_healthy_leaves_the_old_replicas_serving(stack, sample):
    before = set(stack.compose("ps", "-q", "scorer").stdout.split())
    # A bad setting makes the new replicas exit at start-up (the old ones keep theirs).
    env_before = os.environ.get("AMLSTACK_WORKERS")
    os.environ["AMLSTACK_WORKERS"] = "none"
    try:
        loads, rollout = _run_load(
            stack, sample, lambda: stack.shell("stack_rollout", timeout=900, check=False)
        )
    finally:
        if env_before is None:
            os.environ.pop("AMLSTACK_WORKERS")
        else:
            os.environ["AMLSTACK_WORKERS"] = env_before
    assert rollout.returncode != 0
    assert "old replicas keep serving" in rollout.stderr
    assert set(stack.compose("ps", "-q", "scorer").stdout.split()) == before
    assert [f for load in loads for f in load.failures] == []

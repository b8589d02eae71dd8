"""gunicorn as the scorer runs it with no proxy in front: protocol errors, headers, SIGTERM."""

from __future__ import annotations

import json
import signal
import socket
import threading
import time

import pytest
import requests
from scorer_support import PRIMARY
from test_gunicorn import start, stop

from amlstack_scorer import contract as c

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def running(scorer_artifact, tmp_path_factory):
    proc, url = start(scorer_artifact, tmp_path_factory.mktemp("hardening"))
    yield proc, url
    stop(proc)


def _raw(url: str, request: bytes) -> tuple[bytes, bytes]:
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    return head, body


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n", 400),
        (b"GET /" + b"a" * 10_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
        (b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 100_000 + b"\r\n\r\n", 431),
        (
            b"POST /score HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            400,
        ),
    ],
    ids=["bad content-length", "long request line", "big header", "length and chunked"],
)
def test_protocol_errors_are_the_project_json(running, request_bytes, status):
    head, body = _raw(running[1], request_bytes)
    assert head.split(b"\r\n")[0].split(b" ")[1] == str(status).encode()
    assert b"Content-Type: application/json" in head
    assert json.loads(body)["error"]["code"] == "protocol_error"


def test_malformed_chunk_size_is_a_json_400_not_a_500(running):
    head, body = _raw(
        running[1],
        b"POST /score HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + PRIMARY.encode()
        + b"\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"zz\r\n{}\r\n0\r\n\r\n",
    )  # fmt: skip
    assert head.split(b"\r\n")[0].split(b" ")[1] == b"400", head
    assert json.loads(body)["error"]["code"] in ("bad_request", "protocol_error")


def test_no_gunicorn_server_header(running):
    resp = requests.get(running[1] + c.LIVENESS_ROUTE, timeout=10)
    assert "gunicorn" not in resp.headers.get("Server", "").lower()


def test_sigterm_serves_the_connections_already_accepted(scorer_artifact, tmp_path, sample):
    """Requests queued in the listen backlog behind busy workers are answered, not reset."""
    proc, url = start(scorer_artifact, tmp_path, AMLSTACK_WORKERS="1")
    host, port = url.removeprefix("http://").split(":")
    body = json.dumps({"data": sample[:1] * 2000}).encode()
    request = (
        f"POST /score HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {PRIMARY}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    ).encode() + body
    answers: list[bytes] = []

    def one() -> None:
        try:
            with socket.create_connection((host, int(port)), timeout=30) as sock:
                sock.sendall(request)
                answers.append(sock.recv(64))
        except OSError as exc:
            answers.append(repr(exc).encode())

    clients = [threading.Thread(target=one) for _ in range(6)]
    try:
        for client in clients:
            client.start()
        time.sleep(0.3)  # all connected: one in the worker, the rest in the backlog
        proc.send_signal(signal.SIGTERM)
        for client in clients:
            client.join(timeout=60)
    finally:
        stop(proc)
    assert len(answers) == 6
    assert all(a.startswith(b"HTTP/1.1 200") for a in answers), answers

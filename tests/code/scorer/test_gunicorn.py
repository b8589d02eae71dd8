"""End to end: gunicorn with the real config module (amlstack_scorer.gunicorn_conf), real HTTP."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from scorer_support import PRIMARY, SECONDARY

from amlstack.cli import main as cli_main
from amlstack_scorer import contract as c

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[3]
# As the image and `amlstack serve` run it: a module of the installed scorer package.
CONF = "python:amlstack_scorer.gunicorn_conf"
READY_WAIT_S = 60  # a bound for a busy CI machine, not a performance assertion


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(artifact: Path, tmp: Path, **extra: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(c.ENV_PREFIX)}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    env.update(
        AMLSTACK_MODEL_DIR=str(artifact),
        AMLSTACK_HOST="127.0.0.1",
        AMLSTACK_PORT=str(port),
        AMLSTACK_WORKERS="2",
        AMLSTACK_PRIMARY_KEY=PRIMARY,
        AMLSTACK_SECONDARY_KEY=SECONDARY,
    )
    env.update(extra)  # a test's own settings win over the defaults above
    out = (tmp / f"gunicorn-{port}.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", CONF],
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
        cwd=tmp,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + READY_WAIT_S
    while time.monotonic() < deadline:
        assert proc.poll() is None, (tmp / f"gunicorn-{port}.log").read_text()
        try:
            if requests.get(url + c.READINESS_ROUTE, timeout=1).status_code == 200:
                return proc, url
        except requests.RequestException:  # not listening yet, or workers still loading
            pass
        time.sleep(0.05)
    proc.kill()
    pytest.fail("gunicorn did not become ready")


def stop(proc: subprocess.Popen) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise


@pytest.fixture(scope="module")
def server(scorer_artifact, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("gunicorn")
    proc, url = start(scorer_artifact, tmp)
    yield url
    stop(proc)


AUTH = {"Authorization": f"Bearer {PRIMARY}", "Content-Type": "application/json"}


def test_scores_through_real_http(server, sample):
    resp = requests.post(
        server + c.SCORING_ROUTE,
        data=json.dumps({"data": sample[:2]}),
        headers={**AUTH, "X-Request-ID": "e2e-1"},
        timeout=10,
    )
    assert resp.status_code == 200
    assert resp.headers["X-Request-ID"] == "e2e-1"
    assert len(resp.json()["predictions"]) == 2


def test_errors_through_real_http(server):
    assert requests.post(server + c.SCORING_ROUTE, data="{}", timeout=10).status_code == 401
    resp = requests.post(server + c.SCORING_ROUTE, data="{", headers=AUTH, timeout=10)
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == "malformed_json"
    assert requests.get(server + "/nope", timeout=10).status_code == 404


def test_chunked_body_through_real_http(server, sample):
    body = json.dumps({"data": sample[:1]}).encode()
    chunks = (body[i : i + 64] for i in range(0, len(body), 64))  # a generator: sent chunked
    resp = requests.post(server + c.SCORING_ROUTE, data=chunks, headers=AUTH, timeout=10)
    assert resp.status_code == 200, resp.text


def test_metrics_merge_every_worker(server, sample):
    n = 20
    body = json.dumps({"data": sample[:1]})
    for _ in range(n):
        requests.post(server + c.SCORING_ROUTE, data=body, headers=AUTH, timeout=10)
    text = requests.get(server + c.METRICS_ROUTE, headers=AUTH, timeout=10).text
    total = sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith('amlstack_requests_total{method="POST",route="/score",status="200"')
    )
    assert total >= n
    assert "amlstack_model_info" in text


def test_score_command_against_the_server(server, tmp_path, capsys):
    """It sends the served model's own example record (from its swagger.json), twice."""
    data_out = tmp_path / "data.json"
    with pytest.raises(SystemExit) as info:  # click's standalone mode always exits
        cli_main(["score", "--url", server, "--key", PRIMARY, "--data-out", str(data_out)])
    assert info.value.code in (0, None)
    answer = json.loads(capsys.readouterr().out)
    assert len(answer["predictions"]) == 2
    fields = requests.get(server + "/swagger.json", timeout=10).json()["definitions"]
    example = {name: spec["example"] for name, spec in fields["InputRecord"]["properties"].items()}
    assert json.loads(data_out.read_text())["data"] == [example, example]


def test_score_command_reports_a_wrong_key(server, tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        cli_main(["score", "--url", server, "--key", "wrong-key-0123456789", "--data-out",
                  str(tmp_path / "d.json")])  # fmt: skip
    assert info.value.code == 3
    assert "401" in capsys.readouterr().err


def test_score_command_reads_the_v2_protocols_error_shape(server, tmp_path, capsys):
    """{"error": "<message>"} (a V2 route) was 'a bug', exit 70."""
    with pytest.raises(SystemExit) as info:
        cli_main(["score", "--url", server + "/v2", "--key", PRIMARY,
                  "--data-out", str(tmp_path / "d.json")])  # fmt: skip
    err = capsys.readouterr().err
    assert info.value.code == 3 and "this is a bug" not in err, err


def test_sigterm_finishes_the_in_flight_request_then_exits(scorer_artifact, tmp_path, sample):
    proc, url = start(scorer_artifact, tmp_path, AMLSTACK_GRACEFUL_TIMEOUT="20")
    body = json.dumps({"data": sample[:1]}).encode()
    port = int(url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        head = (
            f"POST {c.SCORING_ROUTE} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {PRIMARY}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        ).encode()
        sock.sendall(head + body[:10])  # the request is now in flight, its body half sent
        time.sleep(0.5)  # let a worker pick the connection up (not a timing assertion)
        proc.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        sock.sendall(body[10:])
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
    assert stop(proc) == 0
    log = next(tmp_path.glob("gunicorn-*.log")).read_text()
    assert "Traceback" not in log


def test_bad_artifact_stops_gunicorn_with_one_line(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(c.ENV_PREFIX)}
    env.update(
        AMLSTACK_MODEL_DIR=str(tmp_path / "missing"),
        AMLSTACK_PRIMARY_KEY=PRIMARY,
        AMLSTACK_HOST="127.0.0.1",
        AMLSTACK_PORT=str(port),
    )
    proc = subprocess.run(
        [sys.executable, "-m", "gunicorn", "-c", CONF],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode != 0  # the master stops instead of respawning workers forever
    assert "no such artifact directory" in proc.stderr + proc.stdout


def test_serve_command_refuses_a_bad_artifact(tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        cli_main(["serve", "--model", str(tmp_path / "missing")])
    assert info.value.code == 2
    assert "no such artifact directory" in " ".join(capsys.readouterr().err.split())


def test_serve_command_refuses_to_run_without_keys(scorer_artifact, monkeypatch, capsys):
    for name in (c.PRIMARY_KEY_ENV, c.SECONDARY_KEY_ENV, c.KEY_FILE_ENV, c.AUTH_ENV):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(SystemExit) as info:
        cli_main(["serve", "--model", str(scorer_artifact)])
    assert info.value.code == 2
    assert "--no-auth" in " ".join(capsys.readouterr().err.split())


def test_benchmark_script_runs_ab_against_the_server(server, sample, tmp_path):
    if shutil.which("ab") is None:
        pytest.skip("ab is not installed (apt-get install apache2-utils)")
    payload = tmp_path / "data.json"
    payload.write_text(json.dumps({"data": sample[:2]}))
    proc = subprocess.run(
        [str(REPO / "loadtest" / "benchmark.sh"), server, PRIMARY, "-n", "20", "-c", "2",
         "-p", str(payload)],
        capture_output=True,
        text=True,
        timeout=150,
        check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "Complete requests:      20" in proc.stdout
    assert "Failed requests:        0" in proc.stdout
    assert "Non-2xx" not in proc.stdout


def test_benchmark_script_refuses_a_missing_payload(tmp_path):
    proc = subprocess.run(
        [str(REPO / "loadtest" / "benchmark.sh"), "http://127.0.0.1:9", PRIMARY, "-p",
         str(tmp_path / "none.json")],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )  # fmt: skip
    assert proc.returncode == 2
    assert "not found" in proc.stderr


def test_serve_runs_gunicorn_with_the_config_module_of_the_installed_package(
    scorer_artifact, monkeypatch, capsys
):
    """The config ships inside amlstack_scorer, so `amlstack serve` needs no repository checkout."""
    import importlib.util

    from amlstack.commands import serve

    calls = []
    monkeypatch.setattr(serve.os, "execve", lambda path, argv, env: calls.append(argv))
    with pytest.raises(SystemExit) as info:
        cli_main(["serve", "--model", str(scorer_artifact), "--no-auth"])
    assert info.value.code == 0
    (argv,) = calls
    assert argv[argv.index("-c") + 1] == CONF == serve.GUNICORN_CONF
    spec = importlib.util.find_spec(CONF.removeprefix("python:"))
    package = Path(importlib.util.find_spec("amlstack_scorer").origin).parent
    assert Path(spec.origin).parent == package


def _answer(sock: socket.socket) -> bytes:
    answer = b""
    while chunk := sock.recv(65536):
        answer += chunk
    return answer


def test_slow_and_stalled_clients_get_408_and_free_their_workers(scorer_artifact, tmp_path, sample):
    """Two clients that never finish their request (a head, a body) hold both workers only
    until the read deadline, rather than until gunicorn kills the workers (a 500)."""
    proc, url = start(scorer_artifact, tmp_path, AMLSTACK_REQUEST_DEADLINE_S="1")
    port = int(url.rsplit(":", 1)[1])
    body = json.dumps({"data": sample[:1]}).encode()
    head = (
        f"POST {c.SCORING_ROUTE} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {PRIMARY}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    try:
        with (
            socket.create_connection(("127.0.0.1", port), timeout=20) as slow_head,
            socket.create_connection(("127.0.0.1", port), timeout=20) as slow_body,
        ):
            slow_head.sendall(head[:20])
            slow_body.sendall(head + body[:10])
            answers = [_answer(slow_head), _answer(slow_body)]
        assert answers[0].startswith(b"HTTP/1.1 408"), answers[0][:200]
        assert answers[1].startswith(b"HTTP/1.1 408"), answers[1][:200]
        assert b'"request_timeout"' in answers[1]
        resp = requests.post(url + c.SCORING_ROUTE, data=body, headers=AUTH, timeout=10)
        assert resp.status_code == 200
    finally:
        stop(proc)
    log = next(tmp_path.glob("gunicorn-*.log")).read_text()
    assert "WORKER TIMEOUT" not in log and "Traceback" not in log

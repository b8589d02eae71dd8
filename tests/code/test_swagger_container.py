"""The Swagger UI container's server (swagger/server.py), run as a process."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

SERVER = Path(__file__).resolve().parents[2] / "swagger" / "server.py"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    """A stand-in for the swagger-ui-bundle wheel (only its static folder is used)."""
    (tmp_path / "static").mkdir()
    (tmp_path / "swagger_ui_bundle.py").write_text(
        f"swagger_ui_path = {str(tmp_path / 'static')!r}\n"
    )
    return tmp_path


def test_sigterm_stops_the_server_cleanly(bundle: Path):
    """As PID 1 an unhandled SIGTERM is ignored (docker stop waited 10 s): it must be handled."""
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, str(SERVER)],
        env={"SWAGGER_PORT": str(port), "PATH": "/usr/bin:/bin", "PYTHONPATH": str(bundle)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=30)
    finally:
        proc.kill()
    # Killed by the signal would be -15; handled, the server closes its socket and exits 0.
    assert proc.returncode == 0, output
    assert "stopped" in output

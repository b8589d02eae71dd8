"""The routes and port in the generated deployment YAML, probed on the real scorer process."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from azure.ai.ml import load_online_deployment

from amlstack.artifact.reader import Model
from amlstack.azure import specs

REPO = Path(__file__).resolve().parents[3]
PROBE = Path(__file__).with_name("scorer_probe.py")
KEY = "probe-key-0123456789abcdefghij"


@pytest.fixture
def probe_artifact(request: pytest.FixtureRequest) -> Path:
    """The lead's tiny_artifact when the session provides it, else the AutoML-path artifact."""
    try:
        return Path(request.getfixturevalue("tiny_artifact"))
    except pytest.FixtureLookupError:
        return Path(request.getfixturevalue("azure_artifact"))


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _isolated_command(port: int) -> list[str] | None:
    """Run in a private network namespace (the port may be published by a Compose stack)."""
    unshare, ip = shutil.which("unshare"), shutil.which("ip")
    if unshare and ip:
        check = subprocess.run([unshare, "-n", "true"], capture_output=True, check=False)
        if check.returncode == 0:
            return [unshare, "-n", "sh", "-c", f'{ip} link set lo up && exec "$0" "$@"']
    return [] if _port_free(port) else None


@pytest.mark.slow
def test_deployment_routes_and_port_answer_on_the_real_scorer(
    tmp_path: Path, probe_artifact: Path
) -> None:
    model = Model(probe_artifact)
    settings = specs.DeploymentSettings(
        endpoint="ep", deployment="blue", image="r.azurecr.io/s:1", workers=1, threads=2
    )
    deployment = load_online_deployment(
        specs.write_yaml(tmp_path / "deployment.yml", specs.deployment_spec(settings))
    )
    routes = deployment.environment.inference_config
    ports = {route["port"] for route in routes.values()}
    assert len(ports) == 1, routes  # Azure probes and scores one container port
    port = ports.pop()
    prefix = _isolated_command(port)
    if prefix is None:
        if os.environ.get("CI"):
            pytest.fail(f"port {port} is taken and no network namespace can be made")
        pytest.skip(f"port {port} is taken here and unshare is unavailable")

    # The container's environment from the YAML, plus a key: the scorer must accept the key
    # exactly as Azure's gateway sends it (Authorization: Bearer <key>).
    env = dict(deployment.environment_variables) | {
        "AMLSTACK_MODEL_DIR": str(probe_artifact),
        "AMLSTACK_HOST": "127.0.0.1",
        "AMLSTACK_PORT": str(port),
        "AMLSTACK_AUTH": "key",
        "AMLSTACK_PRIMARY_KEY": KEY,
        "AMLSTACK_LOG_LEVEL": "WARNING",
        "AMLSTACK_GRACEFUL_TIMEOUT": "5",  # the probe stops the server right after
    }
    rows = model.sample_input()[:3]
    spec = {
        "port": port,
        "liveness": routes["livenessRoute"]["path"],
        "readiness": routes["readinessRoute"]["path"],
        "scoring": routes["scoringRoute"]["path"],
        "env": env,
        "key": KEY,
        "rows": rows,
        "gunicorn_conf": str(REPO / "scorer" / "amlstack_scorer" / "gunicorn_conf.py"),
    }
    done = subprocess.run(
        [*prefix, sys.executable, str(PROBE), json.dumps(spec)],
        capture_output=True,
        text=True,
        timeout=300,  # readiness wait + requests + shutdown, each bounded in the probe
        cwd=REPO,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["liveness"][0] == 200, result
    assert result["readiness"][0] == 200, result
    status, body = result["score"]
    assert status == 200, result
    answer = json.loads(body)
    assert len(answer["predictions"]) == len(rows)
    assert set(answer["predictions"]) <= {str(c) for c in model.classes}
    assert result["score_without_key"][0] == 401, result

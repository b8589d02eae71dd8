"""The deployment YAML's routes, port and environment, probed on the scorer image itself."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
import requests
from azure.ai.ml import load_online_deployment

from amlstack.azure import specs
from amlstack.azure.plan import DEFAULT_SOURCE_IMAGE

KEY = "image-probe-key-0123456789abcdef"
READY_TIMEOUT_S = 90


def _docker():
    docker = pytest.importorskip("docker")
    try:
        client = docker.from_env()
        client.ping()
    except docker.errors.DockerException as exc:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"Docker is not usable in CI: {exc}")
        pytest.skip(f"Docker is not usable here: {exc}")
    image = os.environ.get("AMLSTACK_SCORER_IMAGE", DEFAULT_SOURCE_IMAGE)
    try:
        client.images.get(image)
    except docker.errors.ImageNotFound:
        pytest.skip(
            f"image {image} not built yet (docker compose build scorer); "
            "test_azure_scorer_routes.py covers the routes on the process"
        )
    return client, image


def _deployment(tmp_path: Path):
    settings = specs.DeploymentSettings(endpoint="ep", deployment="blue", image="r.azurecr.io/s:1")
    path = specs.write_yaml(tmp_path / "deployment.yml", specs.deployment_spec(settings))
    return load_online_deployment(path)


def _wait_ready(base: str, readiness: str, container) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        container.reload()
        if container.status == "exited":
            raise AssertionError(container.logs().decode()[-2000:])
        try:
            if requests.get(base + readiness, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise AssertionError(f"{base}{readiness} not ready in {READY_TIMEOUT_S}s")


def _run(client, image: str, env: dict[str, str], port: int):
    container = client.containers.run(
        image,
        detach=True,
        environment=env,
        ports={f"{port}/tcp": ("127.0.0.1", None)},
        labels={"amlstack.test": "azure-routes"},
    )
    container.reload()
    host_port = container.attrs["NetworkSettings"]["Ports"][f"{port}/tcp"][0]["HostPort"]
    return container, f"http://127.0.0.1:{host_port}"


@pytest.mark.e2e
def test_image_answers_on_the_deployment_routes(tmp_path: Path) -> None:
    client, image = _docker()
    deployment = _deployment(tmp_path)
    routes = deployment.environment.inference_config
    port = routes["scoringRoute"]["port"]
    paths = {name: routes[name]["path"] for name in routes}
    # 1. Exactly the environment Azure gives the container (key checked at the front door).
    # 2. The same image with a key, as the gateway forwards it.
    runs = [
        ("azure-env", dict(deployment.environment_variables), None),
        (
            "with-key",
            dict(deployment.environment_variables)
            | {"AMLSTACK_AUTH": "key", "AMLSTACK_PRIMARY_KEY": KEY},
            KEY,
        ),
    ]
    for label, env, key in runs:
        container, base = _run(client, image, env, port)
        try:
            _wait_ready(base, paths["readinessRoute"], container)
            model_dir = next(
                e.split("=", 1)[1]
                for e in container.attrs["Config"]["Env"]
                if e.startswith("AMLSTACK_MODEL_DIR=")
            )
            rows = json.loads(container.exec_run(["cat", f"{model_dir}/sample_input.json"]).output)[
                "data"
            ][:2]
            assert requests.get(base + paths["livenessRoute"], timeout=10).status_code == 200
            assert requests.get(base + paths["readinessRoute"], timeout=10).status_code == 200
            headers = {"Authorization": f"Bearer {key}"} if key else {}
            answer = requests.post(
                base + paths["scoringRoute"], json={"data": rows}, headers=headers, timeout=30
            )
            assert answer.status_code == 200, (label, answer.text)
            assert len(answer.json()["predictions"]) == len(rows)
            if key:
                bare = requests.post(base + paths["scoringRoute"], json={"data": rows}, timeout=30)
                assert bare.status_code == 401, label
        finally:
            container.remove(force=True)

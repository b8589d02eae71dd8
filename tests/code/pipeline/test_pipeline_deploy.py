"""Build & deploy: a promoted model replaces the Compose scorer replicas with 0 failed requests."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import uuid

import pytest
import requests
import tiny_trainer

from amlstack.pipeline import stages
from amlstack.pipeline.deploy import repo_root
from amlstack.pipeline.registry import Registry

KEY = "pipeline-deploy-test-key-0123456789"
PROJECT = "amlstackpipe"


def _docker_ok() -> bool:
    if not shutil.which("docker"):
        return False
    return subprocess.run(["docker", "info"], capture_output=True, check=False).returncode == 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _compose(script: str, env: dict[str, str], timeout: float = 1800) -> None:
    helpers = repo_root() / "scripts" / "docker-env.sh"
    done = subprocess.run(
        ["bash", "-c", f'source "{helpers}" && {script}'], cwd=repo_root(), env=env,
        capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]


@pytest.fixture
def stack(tmp_path, bank):
    """A Compose scorer (own project and port) serving model 1, registered as production."""
    if not _docker_ok():
        if os.environ.get("CI") == "true":
            pytest.fail("Docker is not available in CI")
        pytest.skip("no Docker engine")
    port = _free_port()
    env = {
        **os.environ,
        "AMLSTACK_COMPOSE_PROJECT": PROJECT,
        "AMLSTACK_SCORER_PORT": str(port),
        "AMLSTACK_PRIMARY_KEY": KEY,
    }
    root = repo_root() / "artifacts" / f"pipeline-e2e-{uuid.uuid4().hex[:8]}"
    first = tiny_trainer.write_artifact(bank.head(3000), "y", root, "bankmarketing")
    registry = Registry(tmp_path / "registry", "bankmarketing")
    registry.promote(registry.register(first, lineage={})["version"])
    env["AMLSTACK_MODEL_DIR_BUILD"] = first.relative_to(repo_root()).as_posix()
    try:
        _compose(
            "ensure_base_image && compose up -d --build --no-deps --scale scorer=2 scorer proxy"
            " && stack_wait_healthy 600",
            env,
        )
        yield {"env": env, "root": root, "url": f"http://127.0.0.1:{port}"}
    finally:
        _compose("compose down -v --remove-orphans", env, timeout=300)
        shutil.rmtree(root, ignore_errors=True)


@pytest.mark.e2e
def test_promoted_model_replaces_the_compose_scorer(stack, tmp_path, bank, monkeypatch):
    for name, value in stack["env"].items():
        monkeypatch.setenv(name, value)
    data = tmp_path / "appended.csv"
    bank.head(4500).to_csv(data, index=False)
    config = stages.RunConfig(
        data=str(data), runs=str(tmp_path / "runs"), registry=str(tmp_path / "registry"),
        artifacts=str(stack["root"]), deploy="compose",
    )  # fmt: skip
    record = stages.run_pipeline(stages.create_run(config), trainer=tiny_trainer.trainer)
    assert record["decision"]["decision"] == "promote", record["decision"]
    result = json.loads(
        (tmp_path / "runs" / record["run_id"] / "deploy" / "result.json").read_text()
    )
    assert result["deployed"] is True
    probe = result["switch_probe"]
    assert probe["route"] == "/score" and probe["ok"] > 0
    print(f"switch: {probe['failed']} failed of {probe['ok'] + probe['failed']} requests, "
          f"rollout {result['rollout_seconds']}s")  # fmt: skip
    assert probe["failed"] == 0, probe
    sample = json.loads((stack["root"] / "bankmarketing" / "2" / "sample_input.json").read_text())
    response = requests.post(
        stack["url"] + "/score", json=sample, headers={"Authorization": f"Bearer {KEY}"}, timeout=10
    )
    assert response.status_code == 200
    assert response.json()["model"]["version"] == "2"  # the promoted model is the one serving


# -- the Azure deploy stage: in-process release, honest result ----------------------------------
AZURE_ENV = {
    "AZURE_CONTAINER_REGISTRY": "myacr",
    "AZURE_SUBSCRIPTION_ID": "00000000-0000-0000-0000-000000000000",
    "AZURE_RESOURCE_GROUP": "rg",
    "AZUREML_WORKSPACE_NAME": "mlw",
}


@pytest.fixture
def promoted(tmp_path, bank):
    return tiny_trainer.write_artifact(
        bank.head(1500), "y", tmp_path / "artifacts", "bankmarketing"
    )


@pytest.fixture
def azure_env(tmp_path):
    """The stage's environment: workspace and registry set, no credential of any kind."""
    return {**AZURE_ENV, "HOME": str(tmp_path / "home"), "AZURE_CONFIG_DIR": str(tmp_path / "az")}


def _recorder(artifact):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "azure"))
    from azure_recorder import AzureState, Recorder

    return Recorder(AzureState(baked_manifest=(artifact / "MANIFEST.json").read_text()))


def test_azure_stage_without_credential_is_a_dry_run_not_a_deployment(
    promoted, azure_env, tmp_path
):
    """The old stage ran `azure push`/`azure deploy` as dry runs and recorded deployed: true."""
    from amlstack.pipeline.deploy import deploy_azure

    result = deploy_azure(promoted, tmp_path, env=azure_env)
    assert result["deployed"] is False and result["dry_run"] is True
    assert "no Azure credential" in result["reason"]
    assert result["image"] == "myacr.azurecr.io/amlstack-scorer:bankmarketing-1"
    assert result["workspace"] == "mlw" and result["target"] == "azure"


def test_azure_stage_deploys_in_process_and_says_what_it_deployed(promoted, azure_env, tmp_path):
    from amlstack.pipeline.deploy import deploy_azure

    rec = _recorder(promoted)
    result = deploy_azure(promoted, tmp_path, clients=rec, env=azure_env)
    assert result["deployed"] is True and result["dry_run"] is False
    assert (result["deployment"], result["traffic"]) == ("blue", {"blue": 100})
    names = rec.names()
    assert names.index("docker.push") < names.index("online_deployments.begin_create_or_update")
    assert rec.calls[-1][0] == "online_endpoints.begin_create_or_update"


@pytest.mark.parametrize("missing", ["AZURE_CONTAINER_REGISTRY", "AZUREML_WORKSPACE_NAME"])
def test_azure_stage_without_registry_or_workspace_fails_even_as_a_dry_run(
    promoted, azure_env, tmp_path, missing
):
    from amlstack.errors import UserError
    from amlstack.pipeline.deploy import deploy_azure

    env = {k: v for k, v in azure_env.items() if k != missing}
    with pytest.raises(UserError, match=missing):
        deploy_azure(promoted, tmp_path, env=env)


def test_a_dry_run_can_never_report_a_deployment():
    from amlstack.pipeline.deploy import deploy_result

    assert deploy_result(False, dry_run=True, target="x") == {
        "deployed": False, "dry_run": True, "target": "x",
    }  # fmt: skip
    with pytest.raises(ValueError):
        deploy_result(True, dry_run=True)


def test_the_compose_checkout_is_the_current_folder_never_the_packages_location(
    tmp_path, monkeypatch
):
    from amlstack.errors import UserError

    here = repo_root()  # pytest runs from the clone's root
    assert (here / "scripts" / "docker-env.sh").is_file()
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UserError, match="not an amlstack checkout"):
        repo_root()
    monkeypatch.chdir(here / "scripts")
    with pytest.raises(UserError, match="run it from the clone's root"):
        repo_root()


@pytest.mark.parametrize(
    ("raw", "port"),
    [
        ("", 5001),
        (" ", 5001),
        ("5050", 5050),
        ("x", None),
        ("70000", None),
        ("²", None),
        ("٣", None),
    ],
)
def test_the_scorer_port_is_read_as_compose_reads_it(raw, port):
    """An empty AMLSTACK_SCORER_PORT was int('') after training: 'a bug', exit 70."""
    from amlstack.errors import UserError
    from amlstack.pipeline.deploy import _scorer_port

    if port is None:
        with pytest.raises(UserError, match="AMLSTACK_SCORER_PORT="):
            _scorer_port(raw)
    else:
        assert _scorer_port(raw) == port

"""The `amlstack azure` commands as a user runs them: offline plan, dry run, one-line errors."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from azure.ai.ml import load_job, load_online_deployment, load_online_endpoint
from azure_recorder import AzureState, Recorder

from amlstack import cli
from amlstack.commands import azure as azure_cli
from amlstack.errors import ExternalError
from amlstack_scorer import contract

SUB = "00000000-0000-0000-0000-000000000000"
WS_ARGS = ["--subscription-id", SUB, "--resource-group", "rg", "--workspace", "mlw"]


def amlstack(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    try:
        cli.main(list(args))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, " ".join(err.split())  # rich wraps long error lines on narrow terminals


@pytest.fixture
def no_clients(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to build a real client fails the test."""

    def forbidden() -> None:
        raise AssertionError("a client was created during a dry run")

    monkeypatch.setattr(azure_cli, "make_clients", forbidden)
    monkeypatch.setattr(azure_cli, "make_docker", no_docker)


def no_docker() -> None:
    """What Clients.docker raises on a machine without a Docker engine."""
    raise ExternalError("cannot reach the Docker engine (test: no engine)")


def local_docker(monkeypatch: pytest.MonkeyPatch, baked_manifest: str) -> Recorder:
    """A local Docker engine whose amlstack/scorer:local serves ``baked_manifest``."""
    rec = Recorder(AzureState(baked_manifest=baked_manifest))
    monkeypatch.setattr(azure_cli, "make_docker", rec.docker)
    return rec


def test_plan_writes_loadable_yaml_without_azure(
    capsys, tmp_path: Path, azure_artifact: Path, no_credential: None, no_clients: None
) -> None:
    out = tmp_path / "plan"
    code, stdout, _ = amlstack(
        capsys,
        "azure",
        "plan",
        "--artifact",
        str(azure_artifact),
        "--registry",
        "myacr",
        "--out",
        str(out),
        "--automl-data",
        str(Path(__file__).resolve().parents[3] / "data" / "bankmarketing_train.csv"),
        *WS_ARGS,
    )
    assert code == 0, stdout
    assert stdout.strip().splitlines()[-1] == str(out)
    model = json.loads((azure_artifact / "model.json").read_text())
    image = f"myacr.azurecr.io/amlstack-scorer:{model['name']}-{model['version']}"
    assert (out / "image.txt").read_text().strip() == image
    endpoint = load_online_endpoint(out / "endpoint.yml")
    deployment = load_online_deployment(out / "deployment.yml")
    assert endpoint.auth_mode == "key" and deployment.endpoint_name == endpoint.name
    assert deployment.environment.image == image
    assert deployment.environment.inference_config["scoringRoute"]["path"] == contract.SCORING_ROUTE
    load_job(out / "automl" / "job.yml")
    doc = json.loads((out / "plan.json").read_text())
    assert doc["steps"] == ["endpoint", "deployment", "smoke", "traffic"]
    commands = (out / "commands.sh").read_text()
    assert "azureml-model-deployment: blue" in commands and f"docker push {image}" in commands
    assert f"the local image amlstack/scorer:local must serve {azure_artifact}" in commands
    assert f"AMLSTACK_MODEL_DIR_BUILD={azure_artifact} bash scripts/stack.sh" in commands


def test_deploy_without_credential_is_a_dry_run(
    capsys, azure_artifact: Path, no_credential: None, no_clients: None
) -> None:
    code, stdout, _ = amlstack(
        capsys,
        "azure",
        "deploy",
        "--artifact",
        str(azure_artifact),
        "--registry",
        "myacr",
        *WS_ARGS,
    )
    assert code == 0
    assert "no Azure credential found" in stdout and "dry run" in stdout
    assert "az ml online-deployment create --file deployment.yml" in stdout


def test_live_without_credential_fails_in_one_line(
    capsys, azure_artifact: Path, no_credential: None, no_clients: None
) -> None:
    code, _, err = amlstack(
        capsys,
        "azure",
        "deploy",
        "--live",
        "--artifact",
        str(azure_artifact),
        "--registry",
        "myacr",
        *WS_ARGS,
    )
    assert code == 3
    assert "no Azure credential found" in err and "Traceback" not in err


def test_missing_registry_fails_in_one_line(
    capsys, azure_artifact: Path, no_credential: None, no_clients: None
) -> None:
    code, _, err = amlstack(capsys, "azure", "plan", "--artifact", str(azure_artifact), *WS_ARGS)
    assert code == 2
    assert "no container registry" in err and "Traceback" not in err


def test_missing_workspace_fails_in_one_line(
    capsys, tmp_path: Path, monkeypatch, azure_artifact: Path, no_credential: None, no_clients: None
) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = amlstack(
        capsys, "azure", "deploy", "--artifact", str(azure_artifact), "--registry", "myacr"
    )
    assert code == 2
    assert "no Azure ML workspace" in err and "Traceback" not in err


def test_push_without_any_login_is_a_dry_run(
    capsys, azure_artifact: Path, no_credential: None, no_clients: None
) -> None:
    code, stdout, _ = amlstack(
        capsys, "azure", "push", "--artifact", str(azure_artifact), "--registry", "myacr"
    )
    assert code == 0
    stdout = " ".join(stdout.split())
    assert (
        "would run: docker tag amlstack/scorer:local "
        "myacr.azurecr.io/amlstack-scorer:bankmarketing-1" in stdout
    )
    assert (
        f"not checked that amlstack/scorer:local serves {azure_artifact}: "
        "cannot reach the Docker engine" in stdout
    )


@pytest.mark.parametrize(
    ("environment", "env_file", "image"),
    [({"AMLSTACK_TAG": "t7"}, "AMLSTACK_TAG=t8\n", "amlstack/scorer:t7"),
     ({}, "# AMLSTACK_TAG=x\nAMLSTACK_TAG = 't8' \n", "amlstack/scorer:t8"),
     ({}, "AMLSTACK_TAG=t9 # the release\n", "amlstack/scorer:t9"),
     ({}, "\ufeffexport AMLSTACK_TAG='t9' # the release\r\n", "amlstack/scorer:t9"),
     ({"AMLSTACK_TAG": ""}, "AMLSTACK_TAG=t8\n", "amlstack/scorer:local")],
)  # fmt: skip
def test_push_takes_the_image_compose_built(
    capsys, monkeypatch, tmp_path, azure_artifact, no_credential, no_clients,
    environment, env_file, image,
) -> None:  # fmt: skip
    """Compose tags its images ``${AMLSTACK_TAG:-local}``, from the environment or ``.env``."""
    monkeypatch.delenv("AMLSTACK_TAG")
    for key, value in environment.items():
        monkeypatch.setenv(key, value)
    (tmp_path / ".env").write_text(env_file)
    (tmp_path / "docker-compose.yml").write_text("services: {}\n")
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "sub")  # Compose finds its file, and .env, in a parent too
    code, stdout, _ = amlstack(
        capsys, "azure", "push", "--artifact", str(azure_artifact), "--registry", "myacr"
    )
    assert code == 0
    assert f"would run: docker tag {image} myacr.azurecr.io" in " ".join(stdout.split())


def test_push_dry_run_refuses_an_image_that_serves_another_model(
    capsys, monkeypatch, azure_artifact: Path, no_credential: None, no_clients: None
) -> None:
    """As the real push does: the dry run must not show a push of the wrong model's image."""
    rec = local_docker(monkeypatch, '{"algorithm": "sha256", "files": {"model.onnx": "other"}}')
    code, stdout, err = amlstack(
        capsys, "azure", "push", "--artifact", str(azure_artifact), "--registry", "myacr"
    )
    assert code == 2, stdout
    assert "does not serve the artifact" in err and "Traceback" not in err
    assert "would run" not in stdout
    assert rec.names() == ["docker.get", "docker.run"]  # no tag, no push


def test_push_dry_run_checks_an_image_that_serves_the_artifact(
    capsys, monkeypatch, azure_artifact: Path, no_credential: None, no_clients: None
) -> None:
    rec = local_docker(monkeypatch, (azure_artifact / "MANIFEST.json").read_text())
    code, stdout, err = amlstack(
        capsys, "azure", "push", "--artifact", str(azure_artifact), "--registry", "myacr"
    )
    assert code == 0, err
    stdout = " ".join(stdout.split())
    assert f"checked: amlstack/scorer:local serves {azure_artifact}" in stdout
    assert "would run: docker tag amlstack/scorer:local" in stdout
    assert rec.names() == ["docker.get", "docker.run"]


def test_push_dry_run_with_no_local_image_fails_as_the_push_would(
    capsys, monkeypatch, azure_artifact: Path, no_credential: None, no_clients: None
) -> None:
    rec = local_docker(monkeypatch, "{}")
    rec.state.image_exists = False
    code, _, err = amlstack(
        capsys, "azure", "push", "--artifact", str(azure_artifact), "--registry", "myacr"
    )
    assert code == 2
    assert "local image amlstack/scorer:local not found" in err


def test_live_deploy_runs_through_the_boundary(
    capsys, monkeypatch, azure_artifact: Path, with_credential: None
) -> None:
    manifest = (azure_artifact / "MANIFEST.json").read_text()
    rec = Recorder(AzureState(baked_manifest=manifest))
    monkeypatch.setattr(azure_cli, "make_clients", lambda: rec)
    code, stdout, err = amlstack(
        capsys,
        "azure",
        "deploy",
        "--artifact",
        str(azure_artifact),
        "--registry",
        "myacr",
        "--push",
        *WS_ARGS,
    )
    assert code == 0, err
    assert rec.names()[0] == "docker.get"
    assert rec.calls[-1][0] == "online_endpoints.begin_create_or_update"
    assert rec.calls[-1][2] == {"blue": 100}
    assert "blue is live" in stdout


def test_live_deploy_without_push_never_touches_docker(
    capsys, monkeypatch, azure_artifact: Path, with_credential: None
) -> None:
    rec = Recorder(AzureState())
    monkeypatch.setattr(azure_cli, "make_clients", lambda: rec)
    code, stdout, err = amlstack(
        capsys, "azure", "deploy", "--artifact", str(azure_artifact), "--registry", "myacr",
        *WS_ARGS,
    )  # fmt: skip
    assert code == 0, err
    assert not [name for name in rec.names() if name.startswith("docker")]
    assert rec.calls[-1][2] == {"blue": 100}
    assert "blue is live" in stdout


def test_live_smoke_failure_exits_non_zero_without_traffic(
    capsys, monkeypatch, azure_artifact: Path, with_credential: None
) -> None:
    from amlstack.azure import deploy

    monkeypatch.setattr(deploy, "SMOKE_BACKOFF_S", 0.0)
    rec = Recorder(AzureState(smoke_status=503, smoke_body="upstream down"))
    monkeypatch.setattr(azure_cli, "make_clients", lambda: rec)
    code, _, err = amlstack(
        capsys,
        "azure",
        "deploy",
        "--artifact",
        str(azure_artifact),
        "--registry",
        "myacr",
        *WS_ARGS,
    )
    assert code == 3
    assert "traffic NOT moved" in err and "Traceback" not in err
    traffic_moves = [
        c for c in rec.calls if c[0] == "online_endpoints.begin_create_or_update" and c[2]
    ]
    assert traffic_moves == []


def test_live_push_without_any_login_fails_in_one_line(
    capsys, azure_artifact: Path, no_credential: None, no_clients: None
) -> None:
    code, _, err = amlstack(
        capsys, "azure", "push", "--live", "--artifact", str(azure_artifact), "--registry", "myacr"
    )
    assert code == 3
    assert "no credential for myacr.azurecr.io" in err and "Traceback" not in err


def test_push_with_docker_login_goes_live_without_azure_credential(
    capsys, monkeypatch, tmp_path: Path, azure_artifact: Path, no_credential: None
) -> None:
    import os

    config = Path(os.environ["DOCKER_CONFIG"])
    config.mkdir(parents=True)
    (config / "config.json").write_text('{"auths": {"myacr.azurecr.io": {}}}')
    manifest = (azure_artifact / "MANIFEST.json").read_text()
    rec = Recorder(AzureState(baked_manifest=manifest))
    monkeypatch.setattr(azure_cli, "make_clients", lambda: rec)
    code, stdout, err = amlstack(
        capsys, "azure", "push", "--artifact", str(azure_artifact), "--registry", "myacr"
    )
    assert code == 0, err
    assert "acr_refresh_token" not in rec.names()  # docker's own login is used
    assert rec.names()[-1] == "docker.push"
    assert stdout.strip().splitlines()[-1] == "myacr.azurecr.io/amlstack-scorer:bankmarketing-1"


@pytest.mark.parametrize(
    "args",
    [
        ("keys", "--endpoint", "ep1"),
        ("logs", "--endpoint", "ep1"),
        ("rollback", "--endpoint", "ep1"),
        ("promote", "--endpoint", "ep1", "--deployment", "green"),
    ],
)
def test_endpoint_commands_without_credential_are_dry_runs(
    capsys, args, no_credential: None, no_clients: None
) -> None:
    code, stdout, _ = amlstack(capsys, "azure", *args, *WS_ARGS)
    assert code == 0
    assert "dry run" in stdout and "would " in stdout and "in workspace mlw" in stdout


def test_invalid_endpoint_name_is_refused_before_anything_runs(
    capsys, azure_artifact: Path, no_credential: None, no_clients: None
) -> None:
    code, _, err = amlstack(
        capsys,
        "azure",
        "plan",
        "--artifact",
        str(azure_artifact),
        "--registry",
        "myacr",
        "--endpoint",
        "9-bad_name",
        *WS_ARGS,
    )
    assert code == 2
    assert "--endpoint (or AMLSTACK_AZURE_ENDPOINT) '9-bad_name'" in err


@pytest.mark.parametrize("command", ["plan", "batch-plan"])
def test_plan_out_that_is_a_file_is_one_line_naming_the_option(
    capsys, tmp_path: Path, command: str, azure_artifact: Path, no_credential: None
) -> None:
    existing = tmp_path / "README.md"
    existing.write_text("not a folder\n")
    plan_only = ["--registry", "myacr", *WS_ARGS] if command == "plan" else []
    code, _, err = amlstack(
        capsys, "azure", command, "--artifact", str(azure_artifact), "--out", str(existing),
        *plan_only,
    )  # fmt: skip
    assert code == 2, err
    assert f"--out {existing}: is a file, not a folder" in err
    assert "bug" not in err and "Traceback" not in err
    assert existing.read_text() == "not a folder\n"


@pytest.mark.parametrize(
    ("option", "value", "rule"),
    [
        ("--subscription-id", "notaguid", "GUID"),
        ("--resource-group", "rg with space", "1-90 letters"),
        ("--workspace", "my workspace!", "3-33 letters"),
        ("--registry", "My_Reg!", "5-50 letters or digits"),
    ],
)
def test_plan_refuses_names_azure_refuses_before_writing_anything(
    capsys, tmp_path: Path, option: str, value: str, rule: str, azure_artifact: Path,
    no_credential: None,
) -> None:  # fmt: skip
    out = tmp_path / "plan"
    args = dict(zip(WS_ARGS[::2], WS_ARGS[1::2], strict=True)) | {"--registry": "myacr"}
    args[option] = value
    code, _, err = amlstack(
        capsys, "azure", "plan", "--artifact", str(azure_artifact), "--out", str(out),
        *[word for pair in args.items() for word in pair],
    )  # fmt: skip
    assert code == 2, err
    assert f"{option}" in err and repr(value) in err and rule in err and "Traceback" not in err
    assert not out.exists()


def test_plan_commands_are_quoted_for_a_shell(
    capsys, tmp_path: Path, azure_artifact: Path, no_credential: None
) -> None:
    import shlex
    import shutil

    artifact = tmp_path / "my models" / "bank (v1)"
    shutil.copytree(azure_artifact, artifact)
    out = tmp_path / "plan"
    code, _, err = amlstack(
        capsys, "azure", "plan", "--artifact", str(artifact), "--registry", "MyAcr01",
        "--out", str(out), "--subscription-id", SUB, "--resource-group", "rg(test)",
        "--workspace", "mlw",
    )  # fmt: skip
    assert code == 0, err
    image = (out / "image.txt").read_text().strip()
    assert image.startswith("myacr01.azurecr.io/amlstack-scorer:")  # ACR servers are lower case
    lines = (out / "commands.sh").read_text().splitlines()[1:]
    words = [shlex.split(line, comments=True) for line in lines]
    push = next(w for w in words if w[:3] == ["amlstack", "azure", "push"])
    assert push[push.index("--artifact") + 1] == str(artifact)
    for command in (w for w in words if w[:2] == ["az", "ml"]):
        assert command[command.index("--resource-group") + 1] == "rg(test)"
        assert command[command.index("--subscription") + 1] == SUB


def test_commands_sh_runs_from_any_folder_and_names_files_that_exist(
    capsys, tmp_path, monkeypatch, azure_artifact, no_credential, no_clients
) -> None:
    """The az commands name the plan's files, push names the artifact: from any folder."""
    import shutil
    import subprocess

    shutil.copytree(azure_artifact, tmp_path / "work" / "art")
    monkeypatch.chdir(tmp_path / "work")  # the artifact and plan given as relative paths
    code, _, err = amlstack(
        capsys, "azure", "plan", "--artifact", "art", "--registry", "myacr", "--out", "plan",
        *WS_ARGS,
    )  # fmt: skip
    assert code == 0, err
    stubs = tmp_path / "bin"
    stubs.mkdir()
    missing = tmp_path / "missing.txt"
    for tool in ("az", "amlstack", "curl"):  # each notes the files its arguments name, not there
        (stubs / tool).write_text(
            '#!/bin/sh\nfor a in "$@"; do case $a in *.yml|@*.json|art|*/art)\n'
            f'  [ -e "${{a#@}}" ] || echo "{tool}: no ${{a#@}} in $PWD" >> {missing} ;;\n'
            "esac; done\n"
        )
        (stubs / tool).chmod(0o755)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    done = subprocess.run(
        ["sh", str(tmp_path / "work" / "plan" / "commands.sh")], cwd=elsewhere,
        env={**os.environ, "PATH": f"{stubs}:{os.environ['PATH']}"},
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert not missing.exists(), missing.read_text()


def test_a_plan_without_automl_names_the_automl_folder_an_earlier_plan_left(
    capsys, tmp_path, azure_artifact, no_credential, no_clients
) -> None:
    out = tmp_path / "plan"
    data = Path(__file__).resolve().parents[3] / "data" / "bankmarketing_train.csv"
    base = ["azure", "plan", "--artifact", str(azure_artifact), "--registry", "myacr",
            "--out", str(out), *WS_ARGS]  # fmt: skip
    assert amlstack(capsys, *base, "--automl-data", str(data))[0] == 0
    code, stdout, _ = amlstack(capsys, *base)
    assert code == 0
    assert f"note: {out / 'automl'} is from an earlier plan" in " ".join(stdout.split())
    assert "automl_job" not in json.loads((out / "plan.json").read_text())["files"]


def test_train_backend_azure_dry_run_takes_workspace_compute_and_drop(
    capsys, tmp_path: Path, no_credential: None, no_clients: None
) -> None:
    data = Path(__file__).resolve().parents[3] / "data" / "bankmarketing_train.csv"
    code, out, err = amlstack(
        capsys, "train", "--backend", "azure", "--data", str(data), "--out", str(tmp_path),
        "--drop", "duration", "--compute", "cpu-small", *WS_ARGS,
    )  # fmt: skip
    assert code == 0, err
    out = " ".join(out.split())  # rich wraps long lines on narrow terminals
    assert "dry run" in out
    assert f"--subscription {SUB} --resource-group rg --workspace-name mlw" in out
    job = load_job(tmp_path / "azure-automl-job" / "job.yml")
    assert job.compute == "cpu-small"  # load_job strips the azureml: prefix
    mltable = (tmp_path / "azure-automl-job" / "training-data" / "MLTable").read_text()
    assert "drop_columns" in mltable and "duration" in mltable


@pytest.mark.parametrize(
    "option",
    [["--metric", "accuracy"], ["--context", "none"], ["--seed", "7"], ["--max-trees", "100"],
     ["--learners", "lgbm"], ["--test-size", "0.3"], ["--no-time-limit"], ["--keep", "age"]],
)  # fmt: skip
def test_train_backend_azure_refuses_local_only_options(
    capsys, tmp_path: Path, option: list[str], no_credential: None, no_clients: None
) -> None:
    code, _, err = amlstack(
        capsys, "train", "--backend", "azure", "--out", str(tmp_path), *option, *WS_ARGS
    )
    assert code != 0
    assert f"{option[0]} applies to local training only" in err
    assert "Traceback" not in err and not any(tmp_path.iterdir())


def test_local_training_refuses_azure_only_options(capsys, tmp_path: Path) -> None:
    code, _, err = amlstack(capsys, "train", "--out", str(tmp_path), "--compute", "gpu", *WS_ARGS)
    assert code != 0 and "--compute applies to --backend azure only" in err
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("edit", "words"),
    [
        (lambda card: [], "model.json is not an amlstack artifact"),
        (lambda card: dict(card, metrics=[]), "model.json is incomplete"),
        (lambda card: dict(card, classes=["no", "yes", "maybe"]), "lists 3 classes"),
        ("profile.json", "profile.json: not a JSON object"),
        ("sample_input.json", "sample_input.json: not {"),
    ],
    ids=["a-list", "metrics-a-list", "a-class-added", "profile-a-list", "sample-a-list"],
)
def test_plan_refuses_an_artifact_the_scorer_would_not_load(
    capsys, tmp_path: Path, azure_artifact: Path, no_credential: None, edit, words
) -> None:
    """It read only name and version from model.json: a list there was 'a bug' (exit 70), and
    a card the scorer refuses got a plan whose container would stop at start."""
    import json
    import shutil

    from amlstack.artifact.manifest import write_manifest

    artifact = tmp_path / "artifact"
    shutil.copytree(azure_artifact, artifact)
    if isinstance(edit, str):  # a file the scorer reads at start, made a list
        (artifact / edit).write_text("[]")
    else:
        card = json.loads((artifact / "model.json").read_text())
        (artifact / "model.json").write_text(json.dumps(edit(card)))
    write_manifest(artifact)
    out = tmp_path / "plan"
    code, _, err = amlstack(
        capsys, "azure", "plan", "--artifact", str(artifact), "--out", str(out),
        "--registry", "myacr", *WS_ARGS,
    )  # fmt: skip
    assert code == 2, err
    assert "not a usable amlstack artifact" in err and words in err and "bug" not in err
    assert not out.exists()


# What training refuses beyond the header and --target (load_dataset): one class, no feature
_UNTRAINABLE = {
    "oneclass.csv": "a,y\n" + "".join(f"{i},yes\n" for i in range(50)),
    "nofeature.csv": "id,c,y\n" + "".join(f"C{i:03d},k,{'yes' if i % 3 else 'no'}\n"
                                           for i in range(50)),
}  # fmt: skip


@pytest.mark.parametrize(
    ("data", "target", "says"),
    [("missing.csv", "y", "cannot read a CSV header"), (None, "Y", "no target column 'Y'"),
     ("oneclass.csv", "y", "target 'y' has only one class"),
     ("nofeature.csv", "y", "no usable feature columns")],
)  # fmt: skip
def test_plan_with_unusable_automl_data_writes_no_half_plan(
    capsys, tmp_path: Path, azure_artifact: Path, no_credential: None, no_clients: None,
    data: str | None, target: str, says: str,
) -> None:  # fmt: skip
    """The AutoML data is checked before the plan is written: a failed plan left endpoint.yml,
    commands.sh and a plan.json without the job behind, for a command that exited 2. The check
    was the header and --target only: what load_dataset refuses came after the plan files."""
    shipped = Path(__file__).resolve().parents[3] / "data" / "bankmarketing_train.csv"
    if data in _UNTRAINABLE:
        (tmp_path / data).write_text(_UNTRAINABLE[data])
    out = tmp_path / "plan"
    code, _, err = amlstack(
        capsys, "azure", "plan", "--artifact", str(azure_artifact), "--registry", "myacr",
        "--out", str(out), "--automl-data", str(tmp_path / data) if data else str(shipped),
        "--target", target, *WS_ARGS,
    )  # fmt: skip
    assert code == 2 and says in err, err
    assert not out.exists()


@pytest.mark.parametrize("command", ["plan", "batch-plan", "train"])
def test_a_compute_name_azure_refuses_is_refused_before_anything_is_written(
    capsys, tmp_path: Path, azure_artifact: Path, no_credential: None, no_clients: None,
    command: str,
) -> None:  # fmt: skip
    """The AutoML job and the batch deployment took `--compute 'cpu cluster'` as it came (the
    SDK's loaders accept it): Azure refused it only once the job or deployment was sent."""
    data = str(Path(__file__).resolve().parents[3] / "data" / "bankmarketing_train.csv")
    out = tmp_path / "out"
    args = {
        "plan": ["azure", "plan", "--artifact", str(azure_artifact), "--registry", "myacr",
                 "--automl-data", data, *WS_ARGS],
        "batch-plan": ["azure", "batch-plan", "--artifact", str(azure_artifact)],
        "train": ["train", "--backend", "azure", "--data", data, *WS_ARGS],
    }[command]  # fmt: skip
    code, _, err = amlstack(capsys, *args, "--out", str(out), "--compute", "cpu cluster")
    assert code == 2, err
    assert "--compute 'cpu cluster': a compute name is" in err
    assert not out.exists()


def test_train_backend_azure_refuses_a_model_name_before_the_job(
    capsys, tmp_path: Path, no_credential: None, no_clients: None
) -> None:
    """The name was checked only when the artifact was written, after the AutoML job had run
    (up to hours, billed); the dry run took it."""
    data = Path(__file__).resolve().parents[3] / "data" / "bankmarketing_train.csv"
    code, _, err = amlstack(
        capsys, "train", "--backend", "azure", "--data", str(data), "--out", str(tmp_path / "o"),
        "--name", "my model", *WS_ARGS,
    )  # fmt: skip
    assert code == 2 and "model name 'my model'" in err, err
    assert not (tmp_path / "o").exists()


def test_deploy_dry_run_shows_the_slot_and_canary_it_was_given(
    capsys, azure_artifact: Path, no_credential: None, no_clients: None
) -> None:
    """The dry run printed blue and `--traffic blue=100` whatever --slot and --canary said."""
    code, stdout, err = amlstack(
        capsys, "azure", "deploy", "--artifact", str(azure_artifact), "--registry", "myacr",
        "--slot", "green", "--canary", "10", "--source-image", "mine:1", *WS_ARGS,
    )  # fmt: skip
    assert code == 0, err
    assert "azureml-model-deployment: green" in stdout and "blue'" not in stdout
    update = [line for line in stdout.splitlines() if "online-endpoint update" in line]
    assert len(update) == 1 and "--traffic 'green=10 blue=90'" in update[0], update
    assert "--source-image mine:1" in stdout


def test_the_deploy_dry_run_says_what_a_canary_does_on_a_new_endpoint(
    capsys, azure_artifact: Path, no_credential: None, no_clients: None
) -> None:
    """The dry run showed only `--traffic 'blue=10 green=90'`; on a new endpoint the live deploy
    gives blue all the traffic (there is no green to keep the rest)."""
    from amlstack.azure.deploy import shifted_traffic

    code, stdout, err = amlstack(
        capsys, "azure", "deploy", "--artifact", str(azure_artifact), "--registry", "myacr",
        "--canary", "10", *WS_ARGS,
    )  # fmt: skip
    assert code == 0, err
    assert "--traffic 'blue=10 green=90'" in stdout
    new_endpoint = "on a new\n# endpoint, with no other deployment yet, blue takes all the traffic"
    assert new_endpoint in stdout and "(--traffic blue=100)" in stdout
    assert shifted_traffic({}, "blue", 10) == {"blue": 100}  # as the live deploy does


def test_deploy_dry_run_refuses_a_slot_the_live_deploy_would_refuse(
    capsys, azure_artifact: Path, no_credential: None, no_clients: None
) -> None:
    code, _, err = amlstack(
        capsys, "azure", "deploy", "--artifact", str(azure_artifact), "--registry", "myacr",
        "--slot", "Bad_Slot", *WS_ARGS,
    )  # fmt: skip
    assert code == 2 and "'Bad_Slot': an endpoint or deployment name is" in err, err


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["keys", "--endpoint", "Bad_Name"], "--endpoint (or AMLSTACK_AZURE_ENDPOINT) 'Bad_Name'"),
        (["rollback", "--endpoint", "ab"], "--endpoint (or AMLSTACK_AZURE_ENDPOINT) 'ab'"),
        (["benchmark", "--endpoint", "1ep"], "'1ep'"),
        (["score", "--endpoint", "ep-", "--data", "x.json"], "'ep-'"),
        (["logs", "--endpoint", "ep1", "--deployment", "Bad_Slot"], "--deployment 'Bad_Slot'"),
        (["promote", "--endpoint", "ep1", "--deployment", "g"], "--deployment 'g'"),
        (["score", "--endpoint", "ep1", "--data", "x.json", "--deployment", "b.1"], "'b.1'"),
    ],
)
def test_endpoint_and_deployment_names_azure_refuses_are_refused_in_the_dry_run(
    capsys, no_credential: None, no_clients: None, args: list[str], named: str
) -> None:
    """keys, logs, score, benchmark, promote and rollback took any --endpoint/--deployment: the
    dry run said what it "would" do with it (exit 0); live, Azure refused it."""
    code, stdout, err = amlstack(capsys, "azure", *args, *WS_ARGS)
    assert code == 2, stdout
    assert named in err and "an endpoint or deployment name is 3-32" in err
    assert "would" not in stdout


@pytest.mark.parametrize(
    ("args", "env", "named"),
    [
        (["promote", "--endpoint", "ep1", "--deployment", ""], {}, "--deployment ''"),
        (["logs", "--endpoint", "ep1", "--deployment", ""], {}, "--deployment ''"),
        (["deploy", "--registry", "myacr"], {"AMLSTACK_AZURE_ENDPOINT": "Bad_Name"},
         "--endpoint (or AMLSTACK_AZURE_ENDPOINT) 'Bad_Name'"),
        (["plan", "--registry", "myacr", "--endpoint", ""], {},
         "--endpoint (or AMLSTACK_AZURE_ENDPOINT) ''"),
        (["deploy", "--registry", "myacr", "--slot", ""], {}, "--slot ''"),
        (["batch-plan", "--endpoint", "Bad_Name"], {}, "--endpoint 'Bad_Name'"),
    ],
)  # fmt: skip
def test_an_empty_or_bad_name_is_refused_naming_its_option(
    capsys, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, azure_artifact: Path,
    no_credential: None, no_clients: None, args: list[str], env: dict[str, str], named: str,
) -> None:  # fmt: skip
    """`--deployment ""` passed unchecked (the dry run would "give  all traffic of ep1"), and a
    bad endpoint name for deploy, plan or batch-plan was "endpoint name 'Bad_Name'", naming
    neither the option nor the variable it came from."""
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    artifact = [] if args[0] in ("promote", "logs") else ["--artifact", str(azure_artifact)]
    out = [] if args[0] in ("promote", "logs", "deploy") else ["--out", str(tmp_path / "out")]
    workspace = [] if args[0] == "batch-plan" else WS_ARGS
    code, stdout, err = amlstack(capsys, "azure", *args, *artifact, *out, *workspace)
    assert code == 2, stdout
    assert f"{named}: an endpoint or deployment name is 3-32" in err, err
    assert "would" not in stdout and not (tmp_path / "out").exists()

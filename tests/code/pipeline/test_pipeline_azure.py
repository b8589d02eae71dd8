"""The Azure ML definitions validate offline and run the same CLI stages as the local runner."""

from __future__ import annotations

import itertools
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from amlstack.azure.workspace import Workspace
from amlstack.errors import ExternalError, UserError
from amlstack.pipeline import azure_pipeline
from amlstack.pipeline.stages import STAGES

REPO = Path(__file__).resolve().parents[3]
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "azure"))  # the SDK recorder
from azure_recorder import Recorder  # noqa: E402

WS = Workspace("sub", "rg", "ws")
CREDENTIAL_ENV = (
    "AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE_PATH",
    "AZURE_FEDERATED_TOKEN_FILE", "IDENTITY_ENDPOINT", "MSI_ENDPOINT", "AZURE_SUBSCRIPTION_ID",
    "AZURE_RESOURCE_GROUP", "AZUREML_WORKSPACE_NAME", "AZUREML_WORKSPACE",
)  # fmt: skip


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return azure_pipeline.write_definitions(
        tmp_path_factory.mktemp("azureml"), code=REPO, stages=STAGES
    )


@pytest.fixture
def no_credential(monkeypatch, tmp_path):
    for name in CREDENTIAL_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("AZURE_CONFIG_DIR", str(tmp_path / "azure"))
    monkeypatch.chdir(tmp_path)  # no config.json either


def test_publish_sends_the_environment_components_and_schedule(files):
    rec = Recorder()
    result = azure_pipeline.publish(files, dry_run=None, clients=rec, workspace=WS)
    assert result["published"] is True and result["dry_run"] is False
    assert rec.names() == [
        "ml_client", "environments.create_or_update",
        *["components.create_or_update"] * len(STAGES), "schedules.begin_create_or_update",
    ]  # fmt: skip
    env_version = rec.calls[1][2]
    assert env_version == result["versions"]["environment"] != "1"
    for call, stage in zip(rec.calls[2:-1], STAGES, strict=True):
        assert call[1] == f"amlstack_{stage}" and call[2] == result["versions"][stage]
        component = rec.entities[1 + STAGES.index(stage)]
        assert component.environment == f"{azure_pipeline.ENV_NAME}:{env_version}"  # azureml: cut


def test_publish_without_credential_says_it_was_a_dry_run(files, no_credential):
    result = azure_pipeline.publish(files, dry_run=None)
    assert result["published"] is False and result["dry_run"] is True
    assert "no Azure credential" in result["reason"]


def test_live_publish_without_credential_is_an_error_not_a_skip(files, no_credential):
    with pytest.raises(ExternalError, match="no Azure credential"):
        azure_pipeline.publish(files, dry_run=False)


def test_publish_reads_the_documented_workspace_variables(files, no_credential, monkeypatch):
    """AZUREML_WORKSPACE_NAME, as every `amlstack azure` command; not AZUREML_WORKSPACE."""
    rec = Recorder()
    monkeypatch.setenv("AZURE_SUBSCRIPTION_ID", "00000000-0000-0000-0000-000000000000")
    monkeypatch.setenv("AZURE_RESOURCE_GROUP", "rg")
    monkeypatch.setenv("AZUREML_WORKSPACE", "old-name")
    with pytest.raises(UserError, match="AZUREML_WORKSPACE_NAME"):
        azure_pipeline.publish(files, dry_run=None, clients=rec)
    monkeypatch.setenv("AZUREML_WORKSPACE_NAME", "ws-doc")
    result = azure_pipeline.publish(files, dry_run=None, clients=rec)
    assert result["published"] is True and result["workspace"] == "ws-doc"
    assert ("ml_client", "ws-doc") in rec.calls


def test_trigger_submits_the_pipeline_job(files):
    rec = Recorder()
    result = azure_pipeline.trigger(files, dry_run=None, clients=rec, workspace=WS)
    assert result["submitted"] is True and result["job"] == "pipeline-1"
    assert rec.names() == ["ml_client", "jobs.create_or_update"]
    assert type(rec.entities[0]).__name__ == "PipelineJob"


def test_trigger_without_credential_is_a_stated_dry_run(files, no_credential):
    assert azure_pipeline.trigger(files, dry_run=None) == {
        "submitted": False, "dry_run": True, "reason": "dry run (no Azure credential found)",
    }  # fmt: skip


def test_register_in_workspace_sends_a_real_model_entity(tmp_path):
    rec = Recorder()
    (tmp_path / "model.json").write_text("{}")
    result = azure_pipeline.register_in_workspace(tmp_path, "bankmarketing", clients=rec,
                                                  workspace=WS)  # fmt: skip
    assert result["registered"] is True and result["dry_run"] is False
    assert rec.names() == ["ml_client", "models.create_or_update"]
    assert rec.entities[0].name == "bankmarketing" and rec.entities[0].type == "custom_model"


def test_register_without_credential_is_a_stated_dry_run(tmp_path, no_credential):
    result = azure_pipeline.register_in_workspace(tmp_path, "bankmarketing")
    assert result["registered"] is False and result["dry_run"] is True


def test_versions_follow_the_content(tmp_path):
    """Same content, same versions (a re-publish is a no-op); changed code, new versions."""
    code = tmp_path / "code"
    for folder in azure_pipeline.CODE_FOLDERS:
        shutil.copytree(REPO / folder, code / folder, ignore=shutil.ignore_patterns("__pycache__"))

    def versions(out: str) -> dict[str, str]:
        written = azure_pipeline.write_definitions(tmp_path / out, code=code, stages=STAGES)
        return {k: yaml.safe_load(written[k].read_text())["version"]
                for k in ("environment", *STAGES)}  # fmt: skip

    first, again = versions("a"), versions("b")
    assert first == again
    (code / "services" / "amlstack" / "pipeline" / "stages.py").write_text("# changed\n")
    changed = versions("c")
    assert changed["environment"] == first["environment"]  # pins and image unchanged
    assert all(changed[s] != first[s] for s in STAGES)


def test_the_schedule_runs_the_published_pipeline(files):
    loaded = azure_pipeline.load_definitions(files)
    schedule = loaded["schedule"]
    assert type(schedule).__name__ == "JobSchedule" and schedule.create_job is not None
    assert schedule.trigger.time_zone == "UTC"


def test_definitions_load_with_azure_ai_ml(files):
    loaded = azure_pipeline.load_definitions(files)
    assert type(loaded["pipeline"]).__name__ == "PipelineJob"
    assert type(loaded["schedule"]).__name__ == "JobSchedule"
    assert loaded["schedule"].trigger.expression == azure_pipeline.DEFAULT_CRON
    assert list(loaded["pipeline"].jobs) == list(STAGES)
    assert loaded["environment"].image == azure_pipeline.BASE_IMAGE


def test_environment_is_pinned(files):
    conda = yaml.safe_load(files["conda"].read_text())
    pins = conda["dependencies"][-1]["pip"]
    assert pins and all("==" in p for p in pins)
    assert any(p.startswith("flaml==") for p in pins)


def test_every_component_runs_the_local_cli_stage(files):
    for stage in STAGES:
        spec = yaml.safe_load(files[stage].read_text())
        words = shlex.split(spec["command"])
        assert words[words.index("amlstack.cli") + 1 : words.index("amlstack.cli") + 4] == [
            "pipeline", "stage", stage,
        ]  # fmt: skip


def test_steps_are_chained_through_the_run_folder(files):
    jobs = yaml.safe_load(files["pipeline"].read_text())["jobs"]
    for before, after in itertools.pairwise(STAGES):
        assert jobs[after]["inputs"]["run_in"] == f"${{{{parent.jobs.{before}.outputs.run_out}}}}"


def test_a_broken_definition_is_reported(files):
    from amlstack.errors import UserError

    broken = dict(files)
    bad = files["train"].parent / "bad.yml"  # beside it: its `code:` path is relative
    spec = yaml.safe_load(files["train"].read_text())
    spec["command"] += " --x ${{inputs.nonexistent}}"
    bad.write_text(yaml.safe_dump(spec))
    broken["train"] = bad
    with pytest.raises(UserError, match=r"train does not validate.*nonexistent"):
        azure_pipeline.load_definitions(broken)


def _local_command(files, stage: str, bindings: dict[str, str]) -> list[str]:
    """The component's command with Azure's ${{...}} bindings replaced by local paths."""
    command = yaml.safe_load(files[stage].read_text())["command"]
    for name, value in bindings.items():
        command = command.replace("${{" + name + "}}", value)
    assert "${{" not in command
    env_part, *rest = shlex.split(command)
    assert env_part == "PYTHONPATH=services:scorer"
    return [sys.executable if w == "python" else w for w in rest]


USERS_INPUTS = azure_pipeline.RunInputs(
    data="azureml://datastores/workspaceblobstore/paths/crm/churn.csv", name="churn",
    target="has subscribed", time_budget=30, max_iter=5, seed=11,
)  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("inputs", [azure_pipeline.RunInputs(), USERS_INPUTS], ids=["bank", "user"])
def test_component_commands_run_the_pipeline_locally(tmp_path, bank, inputs):
    """One code path, two runners: run the components' own commands, folder to folder, with
    the job's inputs as Azure ML binds them (a user's data: another target, name and budget)."""
    files = azure_pipeline.write_definitions(
        tmp_path / "defs", code=REPO, stages=STAGES, run_inputs=inputs
    )
    job_inputs = yaml.safe_load(files["pipeline"].read_text())["inputs"]
    assert job_inputs["data"]["path"] == inputs.data
    data = tmp_path / "data.csv"
    bank.head(2000).rename(columns={"y": inputs.target}).to_csv(data, index=False)
    registry = tmp_path / "registry"
    env = {**os.environ, "PYTHONPATH": f"{REPO / 'services'}:{REPO / 'scorer'}:{HERE}"}
    previous = None
    for stage in STAGES:
        out = tmp_path / f"out_{stage}"
        bindings = {"outputs.run_out": str(out / "run"), "inputs.registry": str(registry)}
        if previous is None:
            bindings["inputs.data"] = str(data)
            bindings.update({f"inputs.{k}": str(job_inputs[k]) for k in inputs.literals()})
        else:
            bindings["inputs.run_in"] = str(previous)
        if stage == "register":
            bindings["outputs.registry_out"] = str(tmp_path / "registry_out")
        command = _local_command(files, stage, bindings)
        if stage == "train":
            command += ["--trainer", "tiny_trainer:trainer"]
        done = subprocess.run(
            command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False
        )
        assert done.returncode == 0, f"{stage}: {done.stderr[-1500:]}"
        previous = out / "run"
    from amlstack.pipeline.registry import Registry

    entry = Registry(tmp_path / "registry_out", inputs.name).tagged("production")
    assert entry is not None and entry["artifact"] == f"{entry['version']}/artifact"
    config = yaml.safe_load((previous / "run.json").read_text())["config"]
    assert (config["target"], config["time_budget"], config["max_iter"], config["seed"]) == (
        inputs.target, inputs.time_budget, inputs.max_iter, inputs.seed,
    )  # fmt: skip


def test_publish_takes_the_users_data_target_and_name(tmp_path, no_credential):
    from amlstack.cli import main

    out = tmp_path / "defs"
    with pytest.raises(SystemExit) as done:
        main(["pipeline", "publish", "--dry-run", "--out", str(out), "--code", str(REPO),
              "--data", USERS_INPUTS.data, "--target", USERS_INPUTS.target,
              "--time-budget", "30", "--max-iter", "5", "--seed", "11"])  # fmt: skip
    assert done.value.code == 0
    job = yaml.safe_load((out / "pipeline.yml").read_text())
    # named after the data file, as `pipeline run` names a model
    assert {k: job["inputs"][k] for k in USERS_INPUTS.literals()} == USERS_INPUTS.literals()
    first = job["jobs"]["validate_data"]["inputs"]
    assert all(first[k] == f"${{{{parent.inputs.{k}}}}}" for k in USERS_INPUTS.literals())


@pytest.mark.parametrize(
    ("data", "name"),
    [("azureml:churn:3", "churn"), ("azureml:churn@latest", "churn"),
     ("azureml://subscriptions/s/resourcegroups/r/workspaces/w/data/churn/versions/2", "churn"),
     ("azureml://datastores/blob/paths/in/churn_train.csv", "churn"),
     ("https://acct.blob.core.windows.net/c/churn.csv?sv=2022&sig=x%2Fy", "churn"),
     ("azureml:bank.marketing@latest", "bank.marketing"),
     ("azureml://subscriptions/s/resourcegroups/r/workspaces/w/data/churn/labels/latest",
      "churn")],
)  # fmt: skip
def test_the_model_is_named_after_the_data_not_its_uri(tmp_path, no_credential, data, name):
    from amlstack.cli import main

    out = tmp_path / "defs"
    with pytest.raises(SystemExit) as done:
        main(["pipeline", "publish", "--dry-run", "--out", str(out), "--code", str(REPO),
              "--data", data])  # fmt: skip
    assert done.value.code == 0
    job = yaml.safe_load((out / "pipeline.yml").read_text())
    assert (job["inputs"]["name"], job["inputs"]["data"]["path"]) == (name, data)


@pytest.mark.parametrize(
    ("args", "named"),
    [(["--time-budget", "0"], "--time-budget 0"), (["--max-iter", "0"], "--max-iter 0"),
     (["--name", "my model"], "model name 'my model'"), (["--target", "it's"], "--target"),
     (["--seed", "-1"], "--seed -1")],
)  # fmt: skip
def test_publish_refuses_inputs_the_first_stage_would_refuse(tmp_path, no_credential, capsys,
                                                              args, named):  # fmt: skip
    from amlstack.cli import main

    with pytest.raises(SystemExit) as done:
        main(["pipeline", "publish", "--dry-run", "--out", str(tmp_path / "defs"),
              "--code", str(REPO), *args])  # fmt: skip
    assert done.value.code == 2
    assert named in capsys.readouterr().err
    assert not (tmp_path / "defs").exists()


def test_publish_prints_no_sdk_notes(tmp_path, no_credential):
    """azure-ai-ml logs a note per experimental class its loaders build (pytest's log capture
    would hide them here: the CLI runs in a process of its own)."""
    done = subprocess.run(
        [sys.executable, "-m", "amlstack.cli", "pipeline", "publish", "--dry-run",
         "--out", str(tmp_path / "defs"), "--code", str(REPO)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "experimental" not in done.stderr


def test_the_schedule_entity_matches_what_the_cli_would_load_from_the_file(files):
    """`az ml schedule create --file schedule.yml` reads the same name, cron and time zone."""
    from azure.ai.ml.entities._load_functions import load_schedule  # test only: no public one

    ours = azure_pipeline.load_definitions(files)["schedule"]
    theirs = load_schedule(source=files["schedule"])
    assert (ours.name, ours.trigger.expression, ours.trigger.time_zone) == (
        theirs.name, theirs.trigger.expression, theirs.trigger.time_zone,
    )  # fmt: skip
    ours._to_rest_object()


def test_publish_uploads_the_checkout_named_by_code_from_any_folder(tmp_path, no_credential):
    from amlstack.cli import main

    out = tmp_path / "defs"
    with pytest.raises(SystemExit) as done:
        main(["pipeline", "publish", "--dry-run", "--out", str(out), "--code", str(REPO)])
    assert done.value.code == 0
    components = list((out / "components").glob("*.yml"))
    assert components
    spec = yaml.safe_load(components[0].read_text())
    assert (out / "components" / spec["code"]).resolve() == REPO.resolve()


def test_publish_from_outside_a_checkout_names_the_code_option(tmp_path, no_credential, capsys):
    from amlstack.cli import main

    with pytest.raises(SystemExit) as done:
        main(["pipeline", "publish", "--dry-run", "--out", str(tmp_path / "defs")])
    assert done.value.code == 2
    assert "--code .: not an amlstack checkout" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [({"cron": "0 3 * * 8"}, "--cron"), ({"cron": "0 ٣ * * ١"}, "--cron"),
     ({"compute": "-bad"}, "--compute"),
     ({"code": Path("/nonexistent-checkout")}, "--code")],
)  # fmt: skip
def test_write_definitions_refuses_inputs_azure_would_refuse(tmp_path, kwargs, named):
    """Every caller goes through write_definitions, so it owns these checks; nothing written."""
    args = {"code": REPO, "stages": STAGES, **kwargs}
    with pytest.raises(UserError, match=named):
        azure_pipeline.write_definitions(tmp_path / "out", **args)
    assert not (tmp_path / "out").exists()

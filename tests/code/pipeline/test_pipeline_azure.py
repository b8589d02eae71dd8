"""The Azure ML definitions validate offline and run the same CLI stages as the local runner."""

from __future__ import annotations

import itertools
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from amlstack.pipeline import azure_pipeline
from amlstack.pipeline.stages import STAGES

REPO = Path(__file__).resolve().parents[3]
HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return azure_pipeline.write_definitions(tmp_path_factory.mktemp("azureml"), code=REPO)


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


@pytest.mark.slow
def test_component_commands_run_the_pipeline_locally(files, tmp_path, bank):
    """One code path, two runners: run the components' own commands, folder to folder."""
    data = tmp_path / "data.csv"
    bank.head(2000).to_csv(data, index=False)
    registry = tmp_path / "registry"
    env = {**os.environ, "PYTHONPATH": f"{REPO / 'services'}:{REPO / 'scorer'}:{HERE}"}
    previous = None
    for stage in STAGES:
        out = tmp_path / f"out_{stage}"
        bindings = {"outputs.run_out": str(out / "run"), "inputs.registry": str(registry)}
        if previous is None:
            bindings["inputs.data"] = str(data)
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

    entry = Registry(tmp_path / "registry_out", "bankmarketing").tagged("production")
    assert entry is not None and entry["artifact"] == f"{entry['version']}/artifact"

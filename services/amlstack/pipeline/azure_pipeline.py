"""`amlstack pipeline publish|trigger`: the same stages as Azure ML command components.

``write_definitions`` writes an environment (pinned image + pinned conda/pip packages), one
command component per stage, a pipeline job that chains them through a run folder (each
component's ``run_out`` is the next one's ``run_in``) and a schedule. Every component runs
``amlstack pipeline stage NAME`` — the code the local runner executes — so there is one code
path and two runners. Without an Azure credential, publish and trigger are dry runs: the
definitions are written and checked with azure-ai-ml's own loaders, nothing is sent.
"""

from __future__ import annotations

import os
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml

from amlstack.errors import ExternalError, UserError
from amlstack.pipeline.stages import STAGES

SCHEMA = "https://azuremlschemas.azureedge.net/latest/"
ENV_NAME = "amlstack-pipeline"
ENV_VERSION = "1"
BASE_IMAGE = "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:20240908.v1"
COMPUTE = "cpu-cluster"
DEFAULT_CRON = "0 3 * * 1"  # Mondays 03:00 UTC
REGISTRY_PATH = "azureml://datastores/workspaceblobstore/paths/amlstack/registry/"
DATA_PATH = "azureml://datastores/workspaceblobstore/paths/amlstack/data/bankmarketing_train.csv"
PINNED = (
    "flaml", "lightgbm", "xgboost-cpu", "catboost", "scikit-learn", "pandas", "numpy", "scipy",
    "onnx", "onnxruntime", "skl2onnx", "onnxmltools", "matplotlib", "typer", "rich", "msgspec",
    "prometheus-client", "requests", "flask", "gunicorn", "azure-ai-ml", "azure-identity",
)  # fmt: skip


def pinned_packages() -> list[str]:
    """``name==version`` of this machine's installed versions, so Azure trains with the same."""
    out = []
    for name in PINNED:
        try:
            out.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
    return out


def environment_spec() -> dict[str, Any]:
    return {
        "$schema": SCHEMA + "environment.schema.json",
        "name": ENV_NAME,
        "version": ENV_VERSION,
        "image": BASE_IMAGE,
        "conda_file": "conda.yml",
        "description": "amlstack retraining pipeline: pinned training stack",
    }


def conda_spec() -> dict[str, Any]:
    return {
        "name": ENV_NAME,
        "channels": ["conda-forge"],
        "dependencies": ["python=3.11", "pip", {"pip": pinned_packages()}],
    }


def stage_command(stage: str) -> str:
    """The component's command: the same CLI stage the local runner calls."""
    parts = [
        "PYTHONPATH=services:scorer python -m amlstack.cli pipeline stage",
        stage,
        "--run-dir ${{outputs.run_out}}",
        "--registry ${{inputs.registry}}",
    ]
    if stage == STAGES[0]:
        parts += ["--data ${{inputs.data}}", "--copy-artifacts", "--artifacts artifacts"]
    else:
        parts.append("--run-in ${{inputs.run_in}}")
    if stage == "register":
        parts.append("--registry-out ${{outputs.registry_out}}")
    return " ".join(parts)


def component_spec(stage: str, code: str) -> dict[str, Any]:
    inputs: dict[str, Any] = {"registry": {"type": "uri_folder", "mode": "ro_mount"}}
    if stage == STAGES[0]:
        inputs["data"] = {"type": "uri_file", "mode": "download"}
    else:
        inputs["run_in"] = {"type": "uri_folder", "mode": "download"}
    outputs: dict[str, Any] = {"run_out": {"type": "uri_folder", "mode": "rw_mount"}}
    if stage == "register":
        outputs["registry_out"] = {"type": "uri_folder", "mode": "rw_mount"}
    return {
        "$schema": SCHEMA + "commandComponent.schema.json",
        "type": "command",
        "name": f"amlstack_{stage}",
        "display_name": f"amlstack {stage.replace('_', ' ')}",
        "version": ENV_VERSION,
        "code": code,
        "environment": f"azureml:{ENV_NAME}:{ENV_VERSION}",
        "inputs": inputs,
        "outputs": outputs,
        "command": stage_command(stage),
    }


def pipeline_spec(compute: str, data_path: str, registry_path: str) -> dict[str, Any]:
    jobs: dict[str, Any] = {}
    previous = None
    for stage in STAGES:
        job: dict[str, Any] = {
            "type": "command",
            "component": f"file:./components/{stage}.yml",
            "inputs": {"registry": "${{parent.inputs.registry}}"},
        }
        if previous is None:
            job["inputs"]["data"] = "${{parent.inputs.data}}"
        else:
            job["inputs"]["run_in"] = f"${{{{parent.jobs.{previous}.outputs.run_out}}}}"
        if stage == "register":
            job["outputs"] = {
                "registry_out": {"type": "uri_folder", "mode": "rw_mount", "path": registry_path}
            }
        jobs[stage] = job
        previous = stage
    return {
        "$schema": SCHEMA + "pipelineJob.schema.json",
        "type": "pipeline",
        "display_name": "amlstack retraining",
        "experiment_name": "amlstack-retraining",
        "settings": {"default_compute": f"azureml:{compute}", "continue_on_step_failure": False},
        "inputs": {
            "data": {"type": "uri_file", "path": data_path},
            "registry": {"type": "uri_folder", "path": registry_path},
        },
        "jobs": jobs,
    }


def schedule_spec(cron: str) -> dict[str, Any]:
    return {
        "$schema": SCHEMA + "schedule.schema.json",
        "name": "amlstack-retraining",
        "display_name": "amlstack weekly retraining",
        "trigger": {"type": "cron", "expression": cron, "time_zone": "UTC"},
        "create_job": "./pipeline.yml",
    }


def _dump(path: Path, data: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def write_definitions(
    out: Path,
    *,
    code: Path,
    cron: str = DEFAULT_CRON,
    compute: str = COMPUTE,
    data_path: str = DATA_PATH,
    registry_path: str = REGISTRY_PATH,
) -> dict[str, Path]:
    """Write every definition under ``out``; ``code`` is the source folder components upload."""
    out.mkdir(parents=True, exist_ok=True)
    code_rel = os.path.relpath(code.resolve(), (out / "components").resolve())
    files = {
        "environment": _dump(out / "environment.yml", environment_spec()),
        "conda": _dump(out / "conda.yml", conda_spec()),
        "pipeline": _dump(out / "pipeline.yml", pipeline_spec(compute, data_path, registry_path)),
        "schedule": _dump(out / "schedule.yml", schedule_spec(cron)),
    }
    for stage in STAGES:
        files[stage] = _dump(out / "components" / f"{stage}.yml", component_spec(stage, code_rel))
    return files


def load_definitions(files: dict[str, Path]) -> dict[str, Any]:
    """Load every definition with azure-ai-ml's loaders (schema validation, no network)."""
    from azure.ai.ml import load_component, load_environment, load_job
    from azure.ai.ml.entities._load_functions import load_schedule  # not re-exported at top level

    try:
        loaded = {
            "environment": load_environment(source=files["environment"]),
            "pipeline": load_job(source=files["pipeline"]),
            "schedule": load_schedule(source=files["schedule"]),
        }
        for stage in STAGES:
            loaded[stage] = load_component(source=files[stage])
    except Exception as exc:  # azure-ai-ml raises several validation error types
        raise UserError(f"an Azure ML definition does not validate: {exc}") from None
    # The loaders check each file's schema; the job's own validation checks the wiring between
    # steps (inputs bound, outputs existing) as the service would before running it.
    for key in ("pipeline", *STAGES):
        checked = loaded[key]._validate()
        if not checked.passed:
            raise UserError(f"Azure ML {key} does not validate: {checked.error_messages}")
    return loaded


def ml_client():
    """An MLClient from AZURE_SUBSCRIPTION_ID, AZURE_RESOURCE_GROUP, AZUREML_WORKSPACE; or None."""
    names = ("AZURE_SUBSCRIPTION_ID", "AZURE_RESOURCE_GROUP", "AZUREML_WORKSPACE")
    values = [os.environ.get(n) for n in names]
    if not all(values):
        return None
    from azure.ai.ml import MLClient
    from azure.identity import DefaultAzureCredential

    return MLClient(DefaultAzureCredential(), *values)


def publish(files: dict[str, Path], *, dry_run: bool) -> dict[str, Any]:
    """Create the environment, components and schedule in the workspace (or only validate)."""
    loaded = load_definitions(files)
    client = None if dry_run else ml_client()
    if client is None:
        return {
            "published": False,
            "reason": "dry run (no workspace configured)",
            "validated": sorted(loaded),
        }
    try:
        client.environments.create_or_update(loaded["environment"])
        for stage in STAGES:
            client.components.create_or_update(loaded[stage])
        schedule = client.schedules.begin_create_or_update(loaded["schedule"]).result()
    except Exception as exc:  # Azure SDK errors: one line for the user
        raise ExternalError(f"Azure ML publish failed: {exc.__class__.__name__}: {exc}") from None
    return {"published": True, "schedule": schedule.name}


def trigger(files: dict[str, Path], *, dry_run: bool) -> dict[str, Any]:
    """Start the pipeline job now (what the seed's REST call to the published pipeline did)."""
    loaded = load_definitions(files)
    client = None if dry_run else ml_client()
    if client is None:
        return {"submitted": False, "reason": "dry run (no workspace configured)"}
    try:
        job = client.jobs.create_or_update(loaded["pipeline"])
    except Exception as exc:
        raise ExternalError(f"Azure ML submit failed: {exc.__class__.__name__}: {exc}") from None
    return {"submitted": True, "job": job.name, "studio_url": getattr(job, "studio_url", None)}


def register_in_workspace(artifact: Path, name: str) -> dict[str, Any]:
    """Register the artifact folder as an Azure ML model too (skipped without a workspace)."""
    client = ml_client()
    if client is None:
        return {"registered": False, "reason": "no workspace configured"}
    from azure.ai.ml.entities import Model

    try:
        model = client.models.create_or_update(
            Model(
                path=str(artifact), name=name, type="custom_model", description="amlstack artifact"
            )
        )
    except Exception as exc:
        raise ExternalError(f"Azure ML model registration failed: {exc}") from None
    return {"registered": True, "name": model.name, "version": model.version}

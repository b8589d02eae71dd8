"""`amlstack pipeline publish|trigger`: the same stages as Azure ML command components.

``write_definitions`` writes an environment (pinned image + pinned conda/pip packages), one
command component per stage, a pipeline job that chains them through a run folder (each
component's ``run_out`` is the next one's ``run_in``) and a schedule. Every component runs
``amlstack pipeline stage NAME`` — the code the local runner executes — so there is one code
path and two runners. The stage order is the local runner's (``stages.STAGES``, passed in by
the caller, so this module never imports the runner that imports it back).

Versions follow content: the environment's version is a hash of its image and pins, each
component's a hash of its definition and of the code snapshot it uploads, so publishing the
same thing twice is a no-op and publishing a change never collides with an older version.

The workspace and credential come from ``amlstack.azure`` (options, AZURE_SUBSCRIPTION_ID /
AZURE_RESOURCE_GROUP / AZUREML_WORKSPACE_NAME, or config.json), as for every `amlstack azure`
command. Without a credential, publish and trigger are dry runs and say so (``"dry_run": true``):
the definitions are written and checked with azure-ai-ml's own loaders, nothing is sent.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml

from amlstack.azure.failures import azure_call
from amlstack.azure.workspace import Workspace
from amlstack.errors import ExternalError, UserError

SCHEMA = "https://azuremlschemas.azureedge.net/latest/"
ENV_NAME = "amlstack-pipeline"
FIRST_STAGE, REGISTER_STAGE = "validate_data", "register"
# The folders a component's command puts on PYTHONPATH: all of the code it runs.
CODE_FOLDERS = ("services", "scorer")
CODE_SUFFIXES = (".py", ".json", ".yml", ".yaml", ".txt", ".toml", ".cfg")
VERSION_CHARS = 16
DEFINITION_KINDS = ("environment", "conda", "pipeline", "schedule")
BASE_IMAGE = "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:20240908.v1"
COMPUTE = "cpu-cluster"
DEFAULT_CRON = "0 3 * * 1"  # Mondays 03:00 UTC
REGISTRY_PATH = "azureml://datastores/workspaceblobstore/paths/amlstack/registry/"
DATA_PATH = "azureml://datastores/workspaceblobstore/paths/amlstack/data/bankmarketing_train.csv"


@dataclass(frozen=True)
class RunInputs:
    """What a run of the pipeline job trains on: the job's inputs, which the first component
    turns into the run's config (later stages read it from the run folder). A one-off run may
    override any of them (``az ml job create --file pipeline.yml --set inputs.target=churned``).
    """

    data: str = DATA_PATH
    name: str = "bankmarketing"
    target: str = "y"
    time_budget: int = 60
    max_iter: int = 20
    seed: int = 0

    def check(self) -> None:
        """A UserError naming the option whose value the first stage would refuse, before the
        job is written (the same checks as `pipeline run`'s, which a component runs)."""
        from amlstack.training.store import check_name
        from amlstack.training.train import TrainConfig

        check_name(self.name)
        if not self.target.strip() or "'" in self.target:
            raise UserError(f"--target {self.target!r}: name the label column (without a ')")
        if not self.data.strip():
            raise UserError("--data: name the training data (an azureml:// or https:// URI)")
        TrainConfig(time_budget=self.time_budget, max_iter=self.max_iter, seed=self.seed).check()

    def literals(self) -> dict[str, str | int]:
        """The inputs other than the data file, by name: each is an option of the first stage."""
        return {k: v for k, v in asdict(self).items() if k != "data"}


def data_name(uri: str) -> str:
    """The data's name in a URI the job may read, which names a model trained on it: a data
    asset's name (``azureml:churn:3``, ``azureml:churn@latest``, ``.../data/churn/versions/3``
    or ``/labels/latest``), else the file's name without its extension or a query string
    (``https://.../churn.csv?sv=...`` is ``churn``)."""
    path = uri.split("?", 1)[0].rstrip("/")
    if path.startswith("azureml:") and not path.startswith("azureml://"):
        return re.split("[:@]", path.removeprefix("azureml:"), maxsplit=1)[0]
    asset = re.search(r"/data/([^/]+)/(?:versions|labels)/[^/]+$", path)
    return asset.group(1) if asset else Path(path.rsplit("/", 1)[-1]).stem


def _literal_type(value: str | int) -> str:
    return "integer" if isinstance(value, int) else "string"


def _literal_option(name: str, value: str | int) -> str:
    """``--option ${{inputs.name}}``; a text value in single quotes, since Azure ML puts it
    into the command as it is (a label column may be called ``has churned``)."""
    bound = f"${{{{inputs.{name}}}}}"
    return f"--{name.replace('_', '-')} " + (f"'{bound}'" if isinstance(value, str) else bound)


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


def content_version(*parts: Any) -> str:
    """A version string that changes exactly when ``parts`` (JSON-able or bytes) change."""
    digest = hashlib.sha256()
    for part in parts:
        data = part if isinstance(part, bytes) else json.dumps(part, sort_keys=True).encode()
        digest.update(len(data).to_bytes(8, "big") + data)
    return digest.hexdigest()[:VERSION_CHARS]


def code_digest(code: Path) -> str:
    """A hash of the code a component runs (the source files under CODE_FOLDERS of ``code``)."""
    digest = hashlib.sha256()
    for folder in CODE_FOLDERS:
        root = code / folder
        files = sorted(
            p for p in root.rglob("*")
            if p.is_file() and p.suffix in CODE_SUFFIXES and "__pycache__" not in p.parts
        )  # fmt: skip
        for path in files:
            digest.update(path.relative_to(code).as_posix().encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def environment_spec(conda: dict[str, Any]) -> dict[str, Any]:
    return {
        "$schema": SCHEMA + "environment.schema.json",
        "name": ENV_NAME,
        "version": content_version(BASE_IMAGE, conda),
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
    if stage == FIRST_STAGE:
        parts += ["--data ${{inputs.data}}", "--copy-artifacts", "--artifacts artifacts"]
        parts += [_literal_option(k, v) for k, v in RunInputs().literals().items()]
    else:
        parts.append("--run-in ${{inputs.run_in}}")
    if stage == REGISTER_STAGE:
        parts.append("--registry-out ${{outputs.registry_out}}")
    return " ".join(parts)


def component_spec(stage: str, code: str, environment: str, code_hash: str) -> dict[str, Any]:
    """One stage as a command component; ``environment`` is ``azureml:<name>:<version>``."""
    inputs: dict[str, Any] = {"registry": {"type": "uri_folder", "mode": "ro_mount"}}
    if stage == FIRST_STAGE:
        inputs["data"] = {"type": "uri_file", "mode": "download"}
        for key, value in RunInputs().literals().items():
            inputs[key] = {"type": _literal_type(value)}
    else:
        inputs["run_in"] = {"type": "uri_folder", "mode": "download"}
    outputs: dict[str, Any] = {"run_out": {"type": "uri_folder", "mode": "rw_mount"}}
    if stage == REGISTER_STAGE:
        outputs["registry_out"] = {"type": "uri_folder", "mode": "rw_mount"}
    spec = {
        "$schema": SCHEMA + "commandComponent.schema.json",
        "type": "command",
        "name": f"amlstack_{stage}",
        "display_name": f"amlstack {stage.replace('_', ' ')}",
        "code": code,
        "environment": environment,
        "inputs": inputs,
        "outputs": outputs,
        "command": stage_command(stage),
    }
    # The code path is left out of the hash: where the checkout lives is not content.
    content = {k: v for k, v in spec.items() if k != "code"}
    return {**spec, "version": content_version(content, code_hash)}


def pipeline_spec(
    stages: Sequence[str], compute: str, run_inputs: RunInputs, registry_path: str
) -> dict[str, Any]:
    jobs: dict[str, Any] = {}
    previous = None
    for stage in stages:
        job: dict[str, Any] = {
            "type": "command",
            "component": f"file:./components/{stage}.yml",
            "inputs": {"registry": "${{parent.inputs.registry}}"},
        }
        if previous is None:
            for key in ("data", *run_inputs.literals()):
                job["inputs"][key] = f"${{{{parent.inputs.{key}}}}}"
        else:
            job["inputs"]["run_in"] = f"${{{{parent.jobs.{previous}.outputs.run_out}}}}"
        if stage == REGISTER_STAGE:
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
            "data": {"type": "uri_file", "path": run_inputs.data},
            "registry": {"type": "uri_folder", "path": registry_path},
            **run_inputs.literals(),
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


# a schedule Azure ML reads: five fields of ASCII digits and names (`\w` alone took `٣`)
_CRON = re.compile(r"[\w*/,-]+( [\w*/,-]+){4}", re.ASCII)
_CRON_RANGES = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 6))


def check_inputs(cron: str, compute: str, code: Path) -> None:
    """A UserError naming the option (``--cron``, ``--compute``, ``--code``) that Azure ML
    would refuse, or that holds no code to upload, before anything is written."""
    from amlstack.azure.specs import check_name

    check_name(compute, "compute", source="--compute")
    if not _CRON.fullmatch(cron.strip()) or not _cron_in_range(cron):
        raise UserError(
            f"--cron {cron!r}: five fields, minute 0-59, hour 0-23, day 1-31, month 1-12, "
            "weekday 0-6 (0 3 * * 1)"
        )
    if not all((code / folder).is_dir() for folder in CODE_FOLDERS):
        folders = " and ".join(f"{f}/" for f in CODE_FOLDERS)
        raise UserError(f"--code {code}: not an amlstack checkout (needs {folders})")


def _cron_in_range(cron: str) -> bool:
    """Every number of each field within that field's range (`*/15` counts 15 as a step)."""
    for field, (low, high) in zip(cron.split(), _CRON_RANGES, strict=True):
        for part in field.split(","):
            values = part.split("/")[0]
            if any(not low <= int(n) <= high for n in re.findall(r"[0-9]+", values)):
                return False
    return True


def write_definitions(
    out: Path,
    *,
    code: Path,
    stages: Sequence[str],
    cron: str = DEFAULT_CRON,
    compute: str = COMPUTE,
    run_inputs: RunInputs | None = None,
    registry_path: str = REGISTRY_PATH,
) -> dict[str, Path]:
    """Write every definition under ``out``; ``code`` is the source folder components upload,
    ``run_inputs`` the data, model name, target and budget the job trains with (default: the
    bank data's).

    Returns the files by kind (DEFINITION_KINDS) and by stage, stages in run order.
    """
    run_inputs = run_inputs or RunInputs()
    run_inputs.check()
    if not stages or stages[0] != FIRST_STAGE or REGISTER_STAGE not in stages:
        raise ValueError(f"stages must start with {FIRST_STAGE} and include {REGISTER_STAGE}")
    check_inputs(cron, compute, code)
    out.mkdir(parents=True, exist_ok=True)
    code_rel = os.path.relpath(code.resolve(), (out / "components").resolve())
    conda = conda_spec()
    environment = environment_spec(conda)
    env_ref = f"azureml:{ENV_NAME}:{environment['version']}"
    code_hash = code_digest(code)
    files = {
        "environment": _dump(out / "environment.yml", environment),
        "conda": _dump(out / "conda.yml", conda),
        "pipeline": _dump(
            out / "pipeline.yml", pipeline_spec(stages, compute, run_inputs, registry_path)
        ),
        "schedule": _dump(out / "schedule.yml", schedule_spec(cron)),
    }
    for stage in stages:
        spec = component_spec(stage, code_rel, env_ref, code_hash)
        files[stage] = _dump(out / "components" / f"{stage}.yml", spec)
    return files


def stage_names(files: dict[str, Path]) -> list[str]:
    """The component stages among ``files`` (write_definitions' result), in run order."""
    return [key for key in files if key not in DEFINITION_KINDS]


@contextmanager
def _sdk_notes_muted() -> Iterator[None]:
    """azure-ai-ml logs "This is an experimental class" for each of the six schema classes a
    pipeline job's loader builds: notes about the SDK, not about the user's definitions."""
    logger = logging.getLogger("azure.ai.ml._utils._experimental")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def load_definitions(files: dict[str, Path]) -> dict[str, Any]:
    """Load every definition with azure-ai-ml's loaders (schema validation, no network)."""
    from azure.ai.ml import load_component, load_environment, load_job
    from azure.ai.ml.exceptions import ValidationException
    from marshmallow.exceptions import ValidationError

    stages = stage_names(files)
    try:
        with _sdk_notes_muted():
            loaded = {
                "environment": load_environment(source=files["environment"]),
                "pipeline": load_job(source=files["pipeline"]),
            }
            loaded["schedule"] = schedule_entity(files["schedule"], loaded["pipeline"])
            for stage in stages:
                loaded[stage] = load_component(source=files[stage])
    except (ValidationException, ValidationError, yaml.YAMLError) as exc:
        raise UserError(f"an Azure ML definition does not validate: {exc}") from None
    # The loaders check each file's schema; the job's own validation checks the wiring between
    # steps (inputs bound, outputs existing) as the service would before running it.
    for key in ("pipeline", *stages):
        checked = loaded[key]._validate()
        if not checked.passed:
            raise UserError(f"Azure ML {key} does not validate: {checked.error_messages}")
    return loaded


def schedule_entity(path: Path, pipeline: Any) -> Any:
    """The schedule from its YAML (for `az ml schedule create`) and the loaded pipeline job.

    azure-ai-ml has no public loader for schedules, so the entity is built from its public
    classes; the file stays the one definition of name, cron and time zone.
    """
    from azure.ai.ml.entities import CronTrigger, JobSchedule

    doc = yaml.safe_load(path.read_text())
    trigger = doc["trigger"]
    return JobSchedule(
        name=doc["name"],
        display_name=doc.get("display_name"),
        trigger=CronTrigger(expression=trigger["expression"], time_zone=trigger["time_zone"]),
        create_job=pipeline,
    )


def connect(
    dry_run: bool | None, clients: Any = None, workspace: Workspace | None = None
) -> tuple[Any, Workspace | None, str | None]:
    """``(MLClient, workspace, None)`` to go live, or ``(None, None, why)`` for a dry run.

    ``dry_run`` None: live when an Azure credential is found. False (``--live``): a missing
    credential or workspace is an error, never a silent skip. The workspace is resolved the
    way every `amlstack azure` command resolves it (UserError naming what is missing).
    """
    from amlstack.azure.clients import Clients, credential_source
    from amlstack.azure.workspace import resolve_workspace

    if dry_run:
        return None, None, "dry run (--dry-run)"
    if clients is None and credential_source() is None:
        if dry_run is False:
            raise ExternalError(
                "no Azure credential found: run `az login` or set AZURE_CLIENT_ID, "
                "AZURE_TENANT_ID and AZURE_CLIENT_SECRET"
            )
        return None, None, "dry run (no Azure credential found)"
    workspace = workspace or resolve_workspace()
    return (clients or Clients()).ml_client(workspace), workspace, None


def publish(
    files: dict[str, Path],
    *,
    dry_run: bool | None,
    clients: Any = None,
    workspace: Workspace | None = None,
) -> dict[str, Any]:
    """Create the environment, components and schedule in the workspace (or only validate)."""
    loaded = load_definitions(files)
    versions = {key: loaded[key].version for key in ("environment", *stage_names(files))}
    ml, ws, why = connect(dry_run, clients, workspace)
    if ml is None:
        return {
            "published": False, "dry_run": True, "reason": why,
            "validated": sorted(loaded), "versions": versions,
        }  # fmt: skip
    with azure_call(f"Azure ML publish to {ws.workspace_name}"):
        ml.environments.create_or_update(loaded["environment"])
        for stage in stage_names(files):
            ml.components.create_or_update(loaded[stage])
        schedule = ml.schedules.begin_create_or_update(loaded["schedule"]).result()
    return {
        "published": True, "dry_run": False, "workspace": ws.workspace_name,
        "schedule": schedule.name, "versions": versions,
    }  # fmt: skip


def trigger(
    files: dict[str, Path],
    *,
    dry_run: bool | None,
    clients: Any = None,
    workspace: Workspace | None = None,
) -> dict[str, Any]:
    """Start the pipeline job now, outside its schedule (a one-off run of the published job)."""
    loaded = load_definitions(files)
    ml, ws, why = connect(dry_run, clients, workspace)
    if ml is None:
        return {"submitted": False, "dry_run": True, "reason": why}
    with azure_call(f"Azure ML pipeline submission to {ws.workspace_name}"):
        job = ml.jobs.create_or_update(loaded["pipeline"])
    return {
        "submitted": True, "dry_run": False, "workspace": ws.workspace_name,
        "job": job.name, "studio_url": job.studio_url,
    }  # fmt: skip


def register_in_workspace(
    artifact: Path, name: str, *, clients: Any = None, workspace: Workspace | None = None
) -> dict[str, Any]:
    """Register the artifact folder as an Azure ML model too (without credential: a dry run)."""
    from azure.ai.ml.entities import Model

    ml, ws, why = connect(None, clients, workspace)
    if ml is None:
        return {"registered": False, "dry_run": True, "reason": why}
    entity = Model(path=str(artifact), name=name, type="custom_model",
                   description="amlstack artifact")  # fmt: skip
    with azure_call(f"Azure ML model registration in {ws.workspace_name}"):
        model = ml.models.create_or_update(entity)
    return {
        "registered": True, "dry_run": False, "workspace": ws.workspace_name,
        "name": model.name, "version": model.version,
    }  # fmt: skip

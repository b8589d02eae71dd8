"""An Azure ML batch endpoint for an artifact, written offline (`amlstack azure batch-plan`).

A batch endpoint scores files, not requests: a job reads a folder of CSVs, Azure splits it into
mini-batches over a compute cluster, and each mini-batch runs ``batch_score.py``, which scores
with the same function as `amlstack predict`. The plan is SDK v2 YAML (``BatchEndpoint`` and a
model ``BatchDeployment``), a ``code/`` folder holding the script and exactly the amlstack
modules it imports, the conda environment, and the `az ml` commands.
"""

from __future__ import annotations

import ast
import importlib.util
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from amlstack.azure import specs
from amlstack.errors import UserError
from amlstack.outputs import output_folder

SCRIPT_MODULE = "amlstack.azure.batch_score"
# batch-commands.sh reads the workspace from the variables every amlstack command reads
WORKSPACE_VARIABLES = ("AZURE_SUBSCRIPTION_ID", "AZURE_RESOURCE_GROUP", "AZUREML_WORKSPACE_NAME")
FIRST_PARTY = ("amlstack", "amlstack_scorer")
# Azure's batch driver needs azureml-core and the dataset runtime in the job's environment;
# the code folder needs the scorer's own three (the artifact reader decodes model.json with
# msgspec).
BASE_IMAGE = "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:latest"
CONDA_PIP = (
    "azureml-core",
    "azureml-dataset-runtime[fuse]",
    "numpy>=1.26",
    "onnxruntime>=1.18",
    "msgspec>=0.18",
)

# Files that may fail before Azure ends the job as failed (`batch-plan --error-threshold`).
# Finite: -1, Azure's "ignore every failure", let a job whose every file failed (the wrong
# folder, say) end as Completed.
ERROR_THRESHOLD = 10


@dataclass(frozen=True)
class BatchSettings:
    endpoint: str
    deployment: str
    model_name: str
    model_version: str
    artifact_folder: str  # the artifact's folder name inside the registered model
    compute: str = "cpu-cluster"
    instance_count: int = 1
    max_concurrency_per_instance: int = 2
    mini_batch_size: int = 4  # files per run() call
    retries: int = 2
    timeout_s: int = 300
    error_threshold: int = ERROR_THRESHOLD


def endpoint_spec(s: BatchSettings) -> dict[str, Any]:
    return {
        "$schema": specs.SCHEMA_ROOT + "batchEndpoint.schema.json",
        "name": s.endpoint,
        "description": "amlstack batch scoring (CSV files in, scored CSV files out)",
        "auth_mode": "aad_token",  # the only mode batch endpoints offer
        "tags": {"managed-by": "amlstack"},
    }


def deployment_spec(s: BatchSettings) -> dict[str, Any]:
    return {
        "$schema": specs.SCHEMA_ROOT + "batchDeployment.schema.json",
        "name": s.deployment,
        "endpoint_name": s.endpoint,
        "type": "model",
        "model": {
            "name": s.model_name,
            "version": s.model_version,
            "path": f"./{s.artifact_folder}",
            "type": "custom_model",
        },
        "code_configuration": {"code": "./code", "scoring_script": "batch_score.py"},
        "environment": {
            "name": "amlstack-batch",
            "image": BASE_IMAGE,
            "conda_file": "./environment.yml",
        },
        "environment_variables": {"AMLSTACK_MODEL_DIR": s.artifact_folder},
        "compute": f"azureml:{s.compute}",
        "resources": {"instance_count": s.instance_count},
        # The SDK's loader takes the run settings at the top level (it refuses `settings:`).
        "max_concurrency_per_instance": s.max_concurrency_per_instance,
        "mini_batch_size": s.mini_batch_size,
        "output_action": "summary_only",  # the script writes the scored files itself
        "output_file_name": "summary.txt",
        "retry_settings": {"max_retries": s.retries, "timeout": s.timeout_s},
        # batch_score.run leaves a file it cannot score out of its result (Azure counts it as
        # failed, the job's log names it); past this many the job ends as failed.
        "error_threshold": s.error_threshold,
        "logging_level": "info",
        "tags": {"managed-by": "amlstack", "model-name": s.model_name},
    }


def conda_spec() -> dict[str, Any]:
    return {
        "name": "amlstack-batch",
        "channels": ["conda-forge"],
        "dependencies": ["python=3.11", "pip", {"pip": list(CONDA_PIP)}],
    }


def first_party_files(module: str) -> dict[str, Path]:
    """``module`` and every amlstack module it imports, transitively: relative path -> file."""
    found: dict[str, Path] = {}
    pending = [module]
    while pending:
        name = pending.pop()
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            raise UserError(f"cannot find module {name} to put in the batch code folder")
        origin = Path(spec.origin)
        relative = Path(*name.split(".")).with_suffix(".py")
        if origin.name == "__init__.py":
            relative = relative.with_suffix("") / "__init__.py"
        if str(relative) in found:
            continue
        found[str(relative)] = origin
        parents = name.split(".")[:-1] if origin.name != "__init__.py" else name.split(".")
        for depth in range(1, len(parents) + 1):
            pending.append(".".join(parents[:depth]))  # packages' __init__ files
        pending.extend(_first_party_imports(origin))
    return found


def _first_party_imports(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
            # `from package import submodule` imports a module too, not only a name
            names += [f"{node.module}.{alias.name}" for alias in node.names]
    return [n for n in names if n.split(".")[0] in FIRST_PARTY and _is_module(n)]


def _is_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:  # a parent that is a module, not a package
        return False


def write_code(out: Path) -> Path:
    """The code folder: ``batch_score.py`` at its top, the modules it imports beside it."""
    code = out / "code"
    shutil.rmtree(code, ignore_errors=True)
    for relative, origin in sorted(first_party_files(SCRIPT_MODULE).items()):
        target = code / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(origin, target)
    shutil.copyfile(
        code / Path(*SCRIPT_MODULE.split(".")).with_suffix(".py"), code / "batch_score.py"
    )
    return code


def commands(s: BatchSettings, ws_args: str) -> list[str]:
    """`sh batch-commands.sh <folder of CSV files>`: every value is checked before the first
    command creates anything (a placeholder such as `<folder>` would be read as a redirection
    once the endpoint and deployment were made)."""
    return [
        ': "${1:?usage: sh batch-commands.sh <folder of CSV files>}"',
        *(f': "${{{v}:?set {v}}}"' for v in WORKSPACE_VARIABLES),
        f"az ml batch-endpoint create --file batch-endpoint.yml {ws_args}",
        f"az ml batch-deployment create --file batch-deployment.yml --set-default {ws_args}",
        f'az ml batch-endpoint invoke --name {s.endpoint} --input "$1" '
        f"--input-type uri_folder {ws_args}",
    ]


def write_batch_plan(s: BatchSettings, artifact: Path, out: Path, ws_args: str) -> dict[str, Path]:
    """Write the endpoint and deployment YAML, the environment, code/ and the artifact copy."""
    output_folder(out)
    files = {
        "batch_endpoint": specs.write_yaml(out / "batch-endpoint.yml", endpoint_spec(s)),
        "batch_deployment": specs.write_yaml(out / "batch-deployment.yml", deployment_spec(s)),
        "environment": specs.write_yaml(out / "environment.yml", conda_spec()),
        "code": write_code(out),
    }
    model_copy = out / s.artifact_folder
    shutil.rmtree(model_copy, ignore_errors=True)
    files["model"] = Path(shutil.copytree(artifact, model_copy))
    script = out / "batch-commands.sh"
    script.write_text("#!/bin/sh\nset -e\n" + "\n".join(commands(s, ws_args)) + "\n")
    files["commands"] = script
    return files


def write_plan_for(
    artifact: Path,
    out: Path,
    *,
    compute: str = "cpu-cluster",
    endpoint: str | None = None,
    instance_count: int = 1,
    mini_batch_size: int = 4,
    error_threshold: int = ERROR_THRESHOLD,
) -> dict[str, Path]:
    """The batch plan for ``artifact`` in ``out``, named after its model (offline)."""
    from amlstack.azure.plan import read_model

    model = read_model(artifact)
    name = endpoint or specs.default_endpoint_name(f"{model.name[:17]}-batch")
    settings = BatchSettings(
        endpoint=specs.check_name(name, "endpoint"),
        deployment=specs.DEPLOYMENT_SLOTS[0],
        model_name=model.name,
        model_version=model.version,
        artifact_folder=f"{model.name}-{model.version}",
        compute=specs.check_name(compute, "compute", source="--compute"),
        instance_count=instance_count,
        mini_batch_size=mini_batch_size,
        error_threshold=error_threshold,
    )
    ws_args = " ".join(f'{option} "${variable}"' for option, variable in
                       zip(("--subscription", "--resource-group", "--workspace-name"),
                           WORKSPACE_VARIABLES, strict=True))  # fmt: skip
    return write_batch_plan(settings, artifact, out, ws_args)

"""The Azure ML SDK v2 YAML documents: managed online endpoint, deployment, AutoML job.

Routes, port and concurrency come from ``amlstack_scorer.contract`` and the scorer's settings,
so the deployment can only describe the container that the image actually runs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from amlstack.artifact import charset
from amlstack.errors import UserError
from amlstack_scorer import contract
from amlstack_scorer.settings import THREADS_ENV, TIMEOUT_ENV, WORKERS_ENV

SCHEMA_ROOT = "https://azuremlschemas.azureedge.net/latest/"
# The smallest general-purpose SKU the SDK does not warn about (DS1/DS2 are "too small").
DEFAULT_INSTANCE_TYPE = "Standard_DS3_v2"
DEFAULT_INSTANCE_COUNT = 1
DEFAULT_REPOSITORY = "amlstack-scorer"
DEPLOYMENT_SLOTS = ("blue", "green")
MASKED = "<set at deploy time from APPLICATIONINSIGHTS_CONNECTION_STRING>"
# Requests in flight per gunicorn worker that the scorer serves without a latency cost worth
# refusing traffic for: docs/benchmarks.md (issue 3) measured 2 sync workers under 8 concurrent
# connections (4 per worker) at ~2,400 req/s with p99 5.6-6.5 ms, the extra requests waiting in
# gunicorn's listen queue for well under a millisecond each. Azure's default (1 per instance)
# or the worker count alone (2) would turn that queueing into 429s: `amlstack azure benchmark`
# at its default users would be refused.
IN_FLIGHT_PER_WORKER = 4
BENCHMARK_USERS = 10  # `amlstack azure benchmark`'s default Locust users


@dataclass(frozen=True)
class Probe:
    """Probe timings in seconds; the readiness probe waits for the model to load and verify."""

    initial_delay: int = 10
    period: int = 10
    timeout: int = 5
    success_threshold: int = 1
    failure_threshold: int = 30


@dataclass(frozen=True)
class DeploymentSettings:
    """What `deploy` puts on Azure: endpoint, slot, image and sizing."""

    endpoint: str
    deployment: str
    image: str
    instance_type: str = DEFAULT_INSTANCE_TYPE
    instance_count: int = DEFAULT_INSTANCE_COUNT
    workers: int = contract.DEFAULT_WORKERS
    threads: int = contract.DEFAULT_THREADS
    timeout_s: int = contract.DEFAULT_TIMEOUT_S
    appinsights_connection_string: str | None = None
    model_name: str = ""
    model_version: str = ""
    # --endpoint (or AMLSTACK_AZURE_ENDPOINT) named the endpoint; False: the model's default
    endpoint_given: bool = False

    def __post_init__(self) -> None:
        check_name(self.instance_type, "instance type", source="--instance-type")
        if self.instance_count < 1:
            raise UserError(f"--instance-count {self.instance_count}: at least 1")


@dataclass(frozen=True)
class NameRule:
    pattern: re.Pattern[str]
    rule: str  # what the user reads when a name breaks it


# Azure's naming rules ("Naming rules and restrictions for Azure resources", Azure ML's
# endpoint limits), checked before a plan is written or Azure is called: a name Azure refuses
# would otherwise surface minutes later, or as an image reference Docker cannot parse.
_ENDPOINT = NameRule(
    re.compile(r"[A-Za-z][A-Za-z0-9-]{1,30}[A-Za-z0-9]"),
    "an endpoint or deployment name is 3-32 letters, digits or '-', starting with a letter "
    "and not ending with '-'",
)
NAME_RULES = {
    "endpoint": _ENDPOINT,
    "deployment": _ENDPOINT,
    "subscription": NameRule(
        re.compile(r"[0-9A-Fa-f]{8}(-[0-9A-Fa-f]{4}){3}-[0-9A-Fa-f]{12}"),
        "a subscription id is a GUID (`az account show --query id -o tsv`)",
    ),
    "resource group": NameRule(
        re.compile(r"[-\w.()]{0,89}[-\w()]"),
        "a resource group name is 1-90 letters, digits, '_', '-', '.', '(' or ')', "
        "not ending with '.'",
    ),
    "workspace": NameRule(
        re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{2,32}"),
        "an Azure ML workspace name is 3-33 letters, digits, '-' or '_', "
        "starting with a letter or digit",
    ),
    "compute": NameRule(
        re.compile(r"[A-Za-z][A-Za-z0-9-]{0,30}[A-Za-z0-9]"),
        "a compute name is 2-32 letters, digits or '-', starting with a letter",
    ),
    "repository": NameRule(
        re.compile(r"[a-z0-9]+([._-][a-z0-9]+)*(/[a-z0-9]+([._-][a-z0-9]+)*)*"),
        "a repository is lower-case letters and digits, separated by '.', '_', '-' or '/'",
    ),
    "instance type": NameRule(
        re.compile(r"Standard_[A-Za-z0-9_]+"),
        "an Azure ML VM size such as Standard_DS3_v2 (`az ml compute list-sizes`)",
    ),
    "registry": NameRule(
        # the registry's name, or its login server (<name>.azurecr.io, other clouds' suffixes)
        re.compile(r"[A-Za-z0-9]{5,50}(\.[a-z0-9-]+)*"),
        "a container registry name is 5-50 letters or digits (or its login server "
        "<name>.azurecr.io)",
    ),
}


def check_name(name: str, kind: str, *, source: str | None = None) -> str:
    """``name`` if it follows Azure's rule for ``kind``; else one line naming ``source`` (the
    option, variable or file that gave it) and the rule."""
    rule = NAME_RULES[kind]
    if not rule.pattern.fullmatch(name):
        raise UserError(f"{source or kind + ' name'} {name!r}: {rule.rule}")
    return name


def default_endpoint_name(model_name: str) -> str:
    """``amlstack-<model name>`` made into a valid endpoint name (unique per Azure region)."""
    cleaned = re.sub(r"[^a-z0-9-]+", "-", f"amlstack-{model_name}".lower())[:32].strip("-")
    return check_name(cleaned, "endpoint")


# Docker's tag grammar: a word character first, then word characters, '.' or '-', 128 at most.
TAG_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")


def image_tag(model_name: str, model_version: str) -> str:
    """``<model name>-<version>``: one tag per model and version, as a version number alone
    would make two models' version 1 overwrite each other in the registry."""
    tag = f"{model_name}-{model_version}"
    if not TAG_RE.fullmatch(tag):
        raise UserError(
            f"model {model_name!r} version {model_version!r}: {tag!r} is not a Docker image tag "
            "(letters, digits, '_', '.' or '-', at most 128 characters)"
        )
    return tag


def image_ref(registry: str, repository: str, model_name: str, model_version: str) -> str:
    """``<registry>.azurecr.io/<repo>:<model name>-<version>``; a full login server is
    accepted as is.

    ACR login servers are lower case whatever the case the registry was created with."""
    server = (registry if "." in registry else f"{registry}.azurecr.io").lower()
    check_name(repository, "repository", source="--repository")
    return f"{server}/{repository}:{image_tag(model_name, model_version)}"


MODEL_TAG = "model-name"  # the endpoint's: the model its last traffic move served


def endpoint_spec(name: str, *, description: str = "", model_name: str = "") -> dict[str, Any]:
    return {
        "$schema": SCHEMA_ROOT + "managedOnlineEndpoint.schema.json",
        "name": name,
        "auth_mode": "key",
        "description": description or "amlstack scorer (key auth at the Azure ML front door)",
        "tags": {"managed-by": "amlstack"} | ({MODEL_TAG: model_name} if model_name else {}),
    }


def inference_config(port: int = contract.DEFAULT_PORT) -> dict[str, Any]:
    """The custom container's routes, straight from the scorer's contract."""
    return {
        "liveness_route": {"path": contract.LIVENESS_ROUTE, "port": port},
        "readiness_route": {"path": contract.READINESS_ROUTE, "port": port},
        "scoring_route": {"path": contract.SCORING_ROUTE, "port": port},
    }


def container_environment(s: DeploymentSettings, *, mask_secrets: bool) -> dict[str, str]:
    """Variables for the scorer process on Azure (the model directory is baked into the image)."""
    env = {
        # Azure's gateway checks the endpoint key before forwarding and rotates it with
        # `online_endpoints.begin_regenerate_keys`; the container is only reachable through it.
        contract.AUTH_ENV: "none",
        WORKERS_ENV: str(s.workers),
        THREADS_ENV: str(s.threads),
        TIMEOUT_ENV: str(s.timeout_s),
    }
    if s.appinsights_connection_string:
        env[contract.APPINSIGHTS_ENV] = MASKED if mask_secrets else s.appinsights_connection_string
    return env


def request_settings(s: DeploymentSettings) -> dict[str, int]:
    """How many requests Azure lets into one instance at once, and how long each may take.

    Azure answers 429 at once when more requests are pending than the deployment admits, instead
    of queueing them (``max_queue_wait`` is deprecated for managed online endpoints), so the
    limit must cover what the scorer serves well: IN_FLIGHT_PER_WORKER requests per worker (see
    there). ``request_timeout_ms`` is the scorer's own worker timeout: the time a request may
    wait in gunicorn's listen queue counts against it, and Azure should not give up on a request
    that gunicorn would still complete.
    """
    workers = contract.max_concurrency(s.workers, s.threads)
    return {
        "max_concurrent_requests_per_instance": workers * IN_FLIGHT_PER_WORKER,
        "request_timeout_ms": s.timeout_s * 1000,
    }


def deployment_spec(
    s: DeploymentSettings, *, mask_secrets: bool = True, probe: Probe | None = None
) -> dict[str, Any]:
    probe = probe or Probe()
    probes = {
        "initial_delay": probe.initial_delay,
        "period": probe.period,
        "timeout": probe.timeout,
        "success_threshold": probe.success_threshold,
        "failure_threshold": probe.failure_threshold,
    }
    tags = {"managed-by": "amlstack"}
    if s.model_name:
        tags |= {MODEL_TAG: s.model_name, "model-version": s.model_version}
    return {
        "$schema": SCHEMA_ROOT + "managedOnlineDeployment.schema.json",
        "name": s.deployment,
        "endpoint_name": s.endpoint,
        "tags": tags,
        "environment": {"image": s.image, "inference_config": inference_config()},
        "environment_variables": container_environment(s, mask_secrets=mask_secrets),
        "instance_type": s.instance_type,
        "instance_count": s.instance_count,
        "request_settings": request_settings(s),
        "liveness_probe": dict(probes),
        "readiness_probe": dict(probes),  # a copy: YAML would otherwise print an alias
        "app_insights_enabled": True,
    }


@dataclass(frozen=True)
class AutoMLSettings:
    """Limits and placement of an Azure AutoML classification job."""

    target: str
    compute: str = "cpu-cluster"
    experiment: str = "amlstack-automl"
    timeout_minutes: int = 60
    trial_timeout_minutes: int = 15
    max_trials: int = 20
    max_concurrent_trials: int = 2
    n_cross_validations: int = 5

    def __post_init__(self) -> None:
        check_name(self.compute, "compute", source="--compute")

    @classmethod
    def from_budget(
        cls, target: str, compute: str | None, time_budget: float | None, max_iter: int | None
    ) -> AutoMLSettings:
        """`amlstack train`'s options: seconds and trials (None or 0: the default), the cluster
        (None: the default)."""
        minutes = max(15, -(-int(time_budget or 900) // 60))  # Azure AutoML's minimum is 15 min
        return cls(target=target, compute=compute or cls.compute, timeout_minutes=minutes,
                   max_trials=max_iter or 20)  # fmt: skip


# MLTable's name for each text encoding a user's file may have (`artifact.charset`)
MLTABLE_ENCODINGS = {
    charset.UTF8: "utf8",
    charset.UTF16: "utf16",
    charset.WINDOWS_1252: "windows1252",
    charset.LATIN_1: "iso88591",
}


def mltable_spec(
    csv_name: str,
    delimiter: str = ",",
    drop: tuple[str, ...] = (),
    encoding: str = charset.UTF8,
    bom: bool = False,
) -> dict[str, Any]:
    """An MLTable that reads one CSV with a header row (AutoML v2 takes tables, not files), in
    the file's ``encoding`` (`charset.file_encoding`; ``bom``: a UTF-8 file starts with one)."""
    read = {
        "delimiter": delimiter,
        "encoding": "utf8bom" if bom and encoding == charset.UTF8 else MLTABLE_ENCODINGS[encoding],
        "header": "all_files_same_headers",
    }
    steps: list[dict[str, Any]] = [{"read_delimited": read}]
    if drop:
        steps.append({"drop_columns": list(drop)})
    return {
        "$schema": "https://azuremlschemas.azureedge.net/latest/MLTable.schema.json",
        "type": "mltable",
        "paths": [{"file": f"./{csv_name}"}],
        "transformations": steps,
    }


def automl_job_spec(s: AutoMLSettings, training_data: str) -> dict[str, Any]:
    """AUC_weighted, bounded time and trials, only ONNX-convertible models (our scorer's format)."""
    return {
        "$schema": SCHEMA_ROOT + "autoMLJob.schema.json",
        "type": "automl",
        "experiment_name": s.experiment,
        "compute": f"azureml:{s.compute}",
        "task": "classification",
        "primary_metric": "AUC_weighted",
        "target_column_name": s.target,
        "training_data": {"path": training_data, "type": "mltable"},
        "n_cross_validations": s.n_cross_validations,
        "limits": {
            "timeout_minutes": s.timeout_minutes,
            "trial_timeout_minutes": s.trial_timeout_minutes,
            "max_trials": s.max_trials,
            "max_concurrent_trials": s.max_concurrent_trials,
            "enable_early_termination": True,
        },
        "training": {"enable_onnx_compatible_models": True, "enable_stack_ensemble": False},
        "featurization": {"mode": "auto"},
        "tags": {"managed-by": "amlstack"},
    }


def write_yaml(path: Path, doc: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(doc, sort_keys=False, default_flow_style=False))
    return path

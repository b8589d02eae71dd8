"""A stand-in for the clients.py boundary that records every SDK call, in order.

It cannot accept what Azure would reject: every operations object is ``create_autospec`` of the
SDK's real class (a wrong argument name or arity fails as it would against azure-ai-ml
1.35.2), every entity handed to it is serialised with the SDK's own REST conversion (what
azure-ai-ml does before sending), values the SDK validates client-side are validated with its
code, and what it returns are the SDK's entities, not look-alikes. The AutoML download writes
the layout documented for a classification job's best child run (see ``_Jobs.download``).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from unittest.mock import create_autospec

import docker.models.containers
import docker.models.images
import requests
from azure.ai.ml.entities import (
    EndpointAuthKeys,
    JobSchedule,
    ManagedOnlineDeployment,
    ManagedOnlineEndpoint,
    Model,
)
from azure.ai.ml.entities import Environment as AmlEnvironment
from azure.ai.ml.entities._component.component import Component
from azure.ai.ml.entities._job.job import Job
from azure.ai.ml.exceptions import JobException
from azure.ai.ml.operations import (
    ComponentOperations,
    EnvironmentOperations,
    JobOperations,
    ModelOperations,
    OnlineDeploymentOperations,
    OnlineEndpointOperations,
    ScheduleOperations,
)
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from docker.errors import ImageNotFound

PRIMARY_KEY = "primary-key-0123456789abcdef0123456789"
SCORING_URI = "https://ep.westeurope.inference.ml.azure.com/score"
LOCATION = "westeurope"
TERMINAL = ("Completed", "Failed", "Canceled", "NotResponding", "Paused")


def endpoint(name: str = "ep1", traffic=None, tags=None, mirror=None, auth_mode="key"):
    """An existing endpoint as the SDK returns it from the service."""
    return ManagedOnlineEndpoint(
        name=name, auth_mode=auth_mode, traffic=dict(traffic or {}), tags=dict(tags or {}),
        mirror_traffic=dict(mirror or {}), scoring_uri=SCORING_URI,
    )  # fmt: skip


@dataclass
class AzureState:
    """What the fake workspace holds and how it misbehaves."""

    endpoint: ManagedOnlineEndpoint | None = None
    deployments: dict[str, Any] = field(default_factory=dict)
    fail_deployment: Exception | None = None
    smoke_status: int = 200
    smoke_body: str = '{"predictions": ["no"]}'
    image_exists: bool = True
    baked_manifest: str = '{"algorithm": "sha256", "files": {}}'  # the image's MANIFEST.json
    push_error: str | None = None
    jobs: dict[str, list[str]] = field(default_factory=dict)  # name -> statuses returned in turn
    downloads: dict[str, bytes] = field(default_factory=dict)  # run id -> model.onnx bytes
    submitted: list[Any] = field(default_factory=list)  # jobs as submitted (real entities)


class _Poller:
    def __init__(self, value: Any) -> None:
        self._value = value

    def result(self) -> Any:
        return self._value


def _autospec(cls: type, impl: Any) -> Any:
    """``cls``'s exact method signatures; calls go to ``impl``, any other method fails loudly."""
    mock = create_autospec(cls, instance=True, spec_set=True)
    for name in dir(cls):
        if name.startswith("_") or not callable(getattr(cls, name, None)):
            continue
        target = getattr(impl, name, None)
        if target is None:

            def unexpected(*args: Any, _name: str = name, **kwargs: Any) -> Any:
                raise AssertionError(f"{cls.__name__}.{_name} is not simulated")

            target = unexpected
        getattr(mock, name).side_effect = target
    return mock


class _Endpoints:
    def __init__(self, rec: Recorder) -> None:
        self.rec, self.state = rec, rec.state

    def get(self, name: str, **_: Any) -> ManagedOnlineEndpoint:
        self.rec.log("online_endpoints.get", name)
        if self.state.endpoint is None:
            raise ResourceNotFoundError(f"endpoint {name} not found")
        return self.state.endpoint

    def begin_create_or_update(self, entity: ManagedOnlineEndpoint, **_: Any) -> _Poller:
        assert isinstance(entity, ManagedOnlineEndpoint), type(entity)
        rest = entity._to_rest_online_endpoint(LOCATION)  # what the SDK sends
        traffic = dict(rest.properties.traffic or {})
        self.rec.log("online_endpoints.begin_create_or_update", entity.name, traffic)
        self.rec.entities.append(entity)
        if self.state.endpoint is None:
            self.state.endpoint = endpoint(entity.name, tags=entity.tags,
                                           auth_mode=entity.auth_mode)  # fmt: skip
        else:
            self.state.endpoint = endpoint(
                entity.name, traffic, entity.tags, entity.mirror_traffic, entity.auth_mode
            )
        return _Poller(self.state.endpoint)

    def get_keys(self, name: str) -> EndpointAuthKeys:
        self.rec.log("online_endpoints.get_keys", name)
        return EndpointAuthKeys(primary_key=PRIMARY_KEY, secondary_key="secondary-" + PRIMARY_KEY)


class _Deployments:
    def __init__(self, rec: Recorder) -> None:
        self.rec, self.state = rec, rec.state

    def list(self, endpoint_name: str, **_: Any) -> list[Any]:
        self.rec.log("online_deployments.list", endpoint_name)
        return list(self.state.deployments.values())

    def begin_create_or_update(self, entity: ManagedOnlineDeployment, **_: Any) -> _Poller:
        assert isinstance(entity, ManagedOnlineDeployment), type(entity)
        entity._to_rest_object(location=LOCATION)
        self.rec.log("online_deployments.begin_create_or_update", entity.name)
        self.rec.entities.append(entity)
        if self.state.fail_deployment is not None:
            raise self.state.fail_deployment
        self.state.deployments[entity.name] = entity
        return _Poller(entity)

    def get_logs(self, name: str, endpoint_name: str, lines: int, **kwargs: Any) -> str:
        container = kwargs.get("container_type")
        if container:  # the SDK's own check, which raises on anything else
            OnlineDeploymentOperations._validate_deployment_log_container_type(None, container)
        self.rec.log("online_deployments.get_logs", name, container)
        return "log line"


class _Jobs:
    def __init__(self, rec: Recorder) -> None:
        self.rec, self.state = rec, rec.state

    def create_or_update(self, job: Job, **_: Any) -> Any:
        assert isinstance(job, Job), type(job)
        job._to_rest_object()
        self.rec.log("jobs.create_or_update", type(job).__name__)
        self.rec.entities.append(job)
        self.state.submitted.append(job)
        name = "automl-1" if type(job).__name__ == "ClassificationJob" else "pipeline-1"
        return _as_service_returns(job, name, "Starting", job.tags, {})

    def get(self, name: str) -> Job:
        """The job as the service returns it; an AutoML child run comes back as its parent's
        type (what matters here is that it is a real ``Job`` with status, tags and properties)."""
        self.rec.log("jobs.get", name)
        statuses = self.state.jobs[name]
        status = statuses.pop(0) if len(statuses) > 1 else statuses[0]
        tags = {"automl_best_child_run_id": "automl-1_3"} if name == "automl-1" else {}
        kind = "ClassificationJob" if name.startswith("automl-") else "PipelineJob"
        submitted = [j for j in self.state.submitted if type(j).__name__ == kind]
        assert submitted, f"jobs.get({name!r}) before any {kind} was submitted"
        return _as_service_returns(submitted[-1], name, status, tags, {"score": "0.93"})

    def download(self, name: str, **kwargs: Any) -> None:
        """What ``jobs.download(name, download_path=p, all=True)`` leaves for a best child run.

        Layout: azure-ai-ml's JobOperations.download puts the run's artifact store under
        ``<download_path>/artifacts/`` and each named output under ``named-outputs/<name>/``.
        The run's files are those azureml-examples' AutoML bank-marketing notebook
        (sdk/python/jobs/automl-standalone-jobs/automl-classification-task-bankmarketing)
        downloads from ``outputs/`` (``outputs/mlflow-model/`` with MLmodel, conda.yaml,
        python_env.yaml, requirements.txt, model.pkl), and ``outputs/model.onnx`` only when
        the job was submitted with ONNX-compatible models (Microsoft Learn, "Make predictions
        with an AutoML ONNX model in .NET": best child run -> Outputs + logs -> outputs ->
        model.onnx).
        """
        self.rec.log("jobs.download", name)
        status = self.state.jobs.get(name, ["Completed"])[0]
        if status not in TERMINAL:  # the SDK refuses, as here
            raise JobException(message=f"This job is in state {status}.")
        root = Path(kwargs.get("download_path", "."))
        outputs = root / "artifacts" / "outputs"
        mlflow_model = outputs / "mlflow-model"
        mlflow_model.mkdir(parents=True, exist_ok=True)
        for file in ("MLmodel", "conda.yaml", "python_env.yaml", "requirements.txt", "model.pkl"):
            (mlflow_model / file).write_text("")
        (outputs / "model.pkl").write_text("")
        (outputs / "scoring_file_v_2_0_0.py").write_text("")
        (root / "artifacts" / "user_logs").mkdir(parents=True, exist_ok=True)
        (root / "artifacts" / "user_logs" / "std_log.txt").write_text("")
        if name in self.state.downloads and self._onnx_requested():
            (outputs / "model.onnx").write_bytes(self.state.downloads[name])

    def _onnx_requested(self) -> bool:
        jobs = [j for j in self.state.submitted if type(j).__name__ == "ClassificationJob"]
        return bool(jobs) and bool(jobs[-1].training.enable_onnx_compatible_models)


def _as_service_returns(job: Job, name: str, status: str, tags, properties) -> Job:
    """A copy of a submitted job as the service answers it: named, with a status, an ARM id
    (from which the SDK derives ``studio_url``), tags and properties."""
    # Through the SDK's own REST conversion, as a service answer is read (a PipelineJob's
    # attribute dicts cannot be deep-copied).
    returned = Job._from_rest_object(job._to_rest_object())
    returned.name = name
    returned._status = status
    returned._id = (
        "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/"
        f"Microsoft.MachineLearningServices/workspaces/ws/jobs/{name}"
    )
    returned.tags = dict(tags or {})
    returned.properties = dict(properties)
    return returned


class _Assets:
    """environments, components, models and schedules: create_or_update of real entities."""

    def __init__(self, rec: Recorder, kind: str, entity_type: type) -> None:
        self.rec, self.kind, self.entity_type = rec, kind, entity_type

    def create_or_update(self, entity: Any, *args: Any, **_: Any) -> Any:
        assert isinstance(entity, self.entity_type), type(entity)
        entity._to_rest_object()
        self.rec.log(f"{self.kind}.create_or_update", entity.name, entity.version)
        self.rec.entities.append(entity)
        returned = copy.deepcopy(entity)  # the service answers with the entity it stored
        returned.version = entity.version or "1"
        return returned

    def begin_create_or_update(self, entity: Any, **_: Any) -> _Poller:
        assert isinstance(entity, self.entity_type), type(entity)
        entity._to_rest_object()
        self.rec.log(f"{self.kind}.begin_create_or_update", entity.name)
        self.rec.entities.append(entity)
        return _Poller(entity)


class _Image:
    def __init__(self, rec: Recorder, name: str) -> None:
        self.rec, self.name = rec, name
        self.attrs = {"Config": {"Env": ["PATH=/usr/bin", "AMLSTACK_MODEL_DIR=/app/model"]}}

    def tag(self, repository: str, tag: str | None = None, **_: Any) -> bool:
        self.rec.log("docker.tag", self.name, f"{repository}:{tag}")
        return True


class _Images:
    def __init__(self, rec: Recorder) -> None:
        self.rec, self.state = rec, rec.state

    def get(self, name: str) -> Any:
        self.rec.log("docker.get", name)
        if not self.state.image_exists:
            raise ImageNotFound(f"No such image: {name}")
        image = create_autospec(docker.models.images.Image, instance=True)
        real = _Image(self.rec, name)
        image.attrs, image.tag.side_effect = real.attrs, real.tag
        return image

    def push(self, repository: str, tag: str | None = None, **kwargs: Any):
        self.rec.log("docker.push", f"{repository}:{tag}", kwargs.get("auth_config"))
        assert kwargs.get("stream") and kwargs.get("decode"), "the push is read as a stream"
        yield {"status": "Preparing", "id": "abc"}
        if self.state.push_error:
            yield {
                "errorDetail": {"message": self.state.push_error},
                "error": self.state.push_error,
            }
            return
        yield {"aux": {"Tag": tag, "Digest": "sha256:feed", "Size": 1}}


class _Containers:
    def __init__(self, rec: Recorder) -> None:
        self.rec, self.state = rec, rec.state

    def run(self, image: str, command: Any = None, **kwargs: Any) -> bytes:
        self.rec.log("docker.run", image, [*kwargs.get("entrypoint", []), *command])
        return self.state.baked_manifest.encode()


class _Http:
    def __init__(self, rec: Recorder) -> None:
        self.rec, self.state = rec, rec.state

    def post(self, url: str, data: Any = None, json: Any = None, **kwargs: Any) -> Any:
        self.rec.log("http.post", url, dict(kwargs.get("headers") or {}))
        status, body = self.state.smoke_status, self.state.smoke_body

        def parse() -> Any:
            import json as _json

            return _json.loads(body)

        return SimpleNamespace(status_code=status, text=body, json=parse)


class Recorder:
    """Implements the ``clients.Clients`` interface; ``calls`` is the ordered log."""

    def __init__(self, state: AzureState | None = None) -> None:
        self.state = state or AzureState()
        self.calls: list[tuple[Any, ...]] = []
        self.entities: list[Any] = []
        self.ml = SimpleNamespace(
            online_endpoints=_autospec(OnlineEndpointOperations, _Endpoints(self)),
            online_deployments=_autospec(OnlineDeploymentOperations, _Deployments(self)),
            jobs=_autospec(JobOperations, _Jobs(self)),
            environments=_autospec(
                EnvironmentOperations, _Assets(self, "environments", AmlEnvironment)
            ),
            components=_autospec(ComponentOperations, _Assets(self, "components", Component)),
            models=_autospec(ModelOperations, _Assets(self, "models", Model)),
            schedules=_autospec(ScheduleOperations, _Assets(self, "schedules", JobSchedule)),
        )
        self._docker = SimpleNamespace(
            images=_autospec(docker.models.images.ImageCollection, _Images(self)),
            containers=_autospec(docker.models.containers.ContainerCollection, _Containers(self)),
        )

    def log(self, *call: Any) -> None:
        self.calls.append(call)

    def names(self) -> list[str]:
        return [c[0] for c in self.calls]

    def ml_client(self, workspace: Any) -> Any:
        self.log("ml_client", workspace.workspace_name)
        return self.ml

    def http(self) -> Any:
        return _autospec(requests.Session, _Http(self))

    def docker(self) -> Any:
        return self._docker

    def acr_refresh_token(self, login_server: str) -> str:
        self.log("acr_refresh_token", login_server)
        return "acr-refresh-token"


def quota_error() -> Exception:
    return HttpResponseError(
        message="(BadRequest) Not enough quota available for Standard_DS3_v2 in SubscriptionId x."
    )

"""A stand-in for the clients.py boundary that records every SDK call, in order."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from docker.errors import ImageNotFound

PRIMARY_KEY = "primary-key-0123456789abcdef0123456789"
SCORING_URI = "https://ep.westeurope.inference.ml.azure.com/score"


@dataclass
class AzureState:
    """What the fake workspace holds and how it misbehaves."""

    endpoint: Any = None  # SimpleNamespace(name, auth_mode, traffic, tags, scoring_uri)
    deployments: dict[str, Any] = field(default_factory=dict)
    fail_deployment: Exception | None = None
    smoke_status: int = 200
    smoke_body: str = '{"predictions": ["no"]}'
    image_exists: bool = True
    baked_manifest: str = '{"algorithm": "sha256", "files": {}}'  # the image's MANIFEST.json
    push_error: str | None = None
    jobs: dict[str, list[Any]] = field(default_factory=dict)  # name -> statuses returned in turn
    downloads: dict[str, bytes] = field(default_factory=dict)  # run id -> model.onnx bytes


class _Poller:
    def __init__(self, value: Any) -> None:
        self._value = value

    def result(self) -> Any:
        return self._value


class _Endpoints:
    def __init__(self, rec: Recorder) -> None:
        self.rec, self.state = rec, rec.state

    def get(self, name: str) -> Any:
        self.rec.log("online_endpoints.get", name)
        if self.state.endpoint is None:
            raise ResourceNotFoundError(f"endpoint {name} not found")
        return self.state.endpoint

    def begin_create_or_update(self, entity: Any) -> _Poller:
        traffic = dict(entity.traffic or {})
        self.rec.log("online_endpoints.begin_create_or_update", entity.name, traffic)
        self.rec.entities.append(entity)
        if self.state.endpoint is None:
            self.state.endpoint = SimpleNamespace(
                name=entity.name,
                auth_mode=entity.auth_mode,
                traffic={},
                tags=dict(entity.tags or {}),
                scoring_uri=SCORING_URI,
            )
        else:
            self.state.endpoint.traffic = traffic
            self.state.endpoint.tags = dict(entity.tags or {})
        return _Poller(self.state.endpoint)

    def get_keys(self, name: str) -> Any:
        self.rec.log("online_endpoints.get_keys", name)
        return SimpleNamespace(primary_key=PRIMARY_KEY, secondary_key="secondary-" + PRIMARY_KEY)


class _Deployments:
    def __init__(self, rec: Recorder) -> None:
        self.rec, self.state = rec, rec.state

    def list(self, endpoint_name: str) -> list[Any]:
        self.rec.log("online_deployments.list", endpoint_name)
        return [SimpleNamespace(name=n) for n in self.state.deployments]

    def begin_create_or_update(self, entity: Any) -> _Poller:
        self.rec.log("online_deployments.begin_create_or_update", entity.name)
        self.rec.entities.append(entity)
        if self.state.fail_deployment is not None:
            raise self.state.fail_deployment
        self.state.deployments[entity.name] = entity
        return _Poller(entity)

    def get_logs(self, **kwargs: Any) -> str:
        self.rec.log("online_deployments.get_logs", kwargs["name"])
        return "log line"


class _Jobs:
    def __init__(self, rec: Recorder) -> None:
        self.rec, self.state = rec, rec.state

    def create_or_update(self, job: Any) -> Any:
        self.rec.log("jobs.create_or_update", type(job).__name__)
        self.rec.entities.append(job)
        return SimpleNamespace(name="automl-1", studio_url="https://ml.azure.com/runs/automl-1")

    def get(self, name: str) -> Any:
        self.rec.log("jobs.get", name)
        statuses = self.state.jobs[name]
        status = statuses.pop(0) if len(statuses) > 1 else statuses[0]
        tags = {"automl_best_child_run_id": "automl-1_3"} if name == "automl-1" else {}
        return SimpleNamespace(
            name=name, status=status, tags=tags, properties={"score": "0.93"}, studio_url="url"
        )

    def download(self, *, name: str, download_path: str, all: bool = False) -> None:
        from pathlib import Path

        self.rec.log("jobs.download", name)
        target = Path(download_path) / "named-outputs" / "mlflow-model" / "model.onnx"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(self.state.downloads[name])


class _Image:
    def __init__(self, rec: Recorder, name: str) -> None:
        self.rec, self.name = rec, name
        self.attrs = {"Config": {"Env": ["PATH=/usr/bin", "AMLSTACK_MODEL_DIR=/app/model"]}}

    def tag(self, repository: str, tag: str) -> bool:
        self.rec.log("docker.tag", self.name, f"{repository}:{tag}")
        return True


class _Images:
    def __init__(self, rec: Recorder) -> None:
        self.rec, self.state = rec, rec.state

    def get(self, name: str) -> _Image:
        self.rec.log("docker.get", name)
        if not self.state.image_exists:
            raise ImageNotFound(f"No such image: {name}")
        return _Image(self.rec, name)

    def push(self, repository: str, *, tag: str, stream: bool, decode: bool, auth_config: Any):
        self.rec.log("docker.push", f"{repository}:{tag}", auth_config)
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

    def run(self, image: str, *, command: list[str], entrypoint: list[str], **kwargs: Any) -> bytes:
        self.rec.log("docker.run", image, [*entrypoint, *command])
        return self.state.baked_manifest.encode()


class _Http:
    def __init__(self, rec: Recorder) -> None:
        self.rec, self.state = rec, rec.state

    def post(self, url: str, *, json: Any, headers: dict[str, str], timeout: float) -> Any:
        self.rec.log("http.post", url, dict(headers))
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
            online_endpoints=_Endpoints(self),
            online_deployments=_Deployments(self),
            jobs=_Jobs(self),
        )

    def log(self, *call: Any) -> None:
        self.calls.append(call)

    def names(self) -> list[str]:
        return [c[0] for c in self.calls]

    def ml_client(self, workspace: Any) -> Any:
        self.log("ml_client", workspace.workspace_name)
        return self.ml

    def http(self) -> _Http:
        return _Http(self)

    def docker(self) -> Any:
        return SimpleNamespace(images=_Images(self), containers=_Containers(self))

    def acr_refresh_token(self, login_server: str) -> str:
        self.log("acr_refresh_token", login_server)
        return "acr-refresh-token"


def quota_error() -> Exception:
    return HttpResponseError(
        message="(BadRequest) Not enough quota available for Standard_DS3_v2 in SubscriptionId x."
    )

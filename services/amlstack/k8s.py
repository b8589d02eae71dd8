"""Kubernetes and KServe manifests for the scorer image of one model artifact.

The plain resources (Deployment, Service, HorizontalPodAutoscaler, PodDisruptionBudget) run the
image as it is; the KServe ``InferenceService`` runs the same container as a custom predictor,
which KServe addresses with the Open Inference Protocol (V2) routes the scorer serves. Routes,
port, uid and key file come from ``amlstack_scorer.contract`` and the image's Dockerfile, so the
manifests can only describe the container the image runs.

A rollout never lowers serving capacity: ``maxUnavailable: 0`` starts each new pod before an old
one stops, and a new pod takes traffic only once ``/ready`` says its model is loaded and verified.
Old pods leave the Service's endpoints (preStop pause) before gunicorn drains in-flight requests.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from amlstack.errors import UserError
from amlstack.outputs import output_folder
from amlstack_scorer import contract
from amlstack_scorer.settings import GRACEFUL_TIMEOUT_ENV, THREADS_ENV, WORKERS_ENV

SCORER_UID = 10001  # the `amlstack` user of scorer/Dockerfile
KEY_DIR = "/keys"
KEY_FILE_NAME = "keys.json"  # the Secret's data key: JSON {"primaryKey": ..., "secondaryKey": ...}
CONTAINER_NAME = "kserve-container"  # the name KServe expects for a custom predictor
PORT_NAME = "http"
PRESTOP_PAUSE_S = 5  # long enough for kube-proxy and ingresses to drop the endpoint
FILES = {
    "Deployment": "deployment.yaml",
    "Service": "service.yaml",
    "HorizontalPodAutoscaler": "hpa.yaml",
    "PodDisruptionBudget": "pdb.yaml",
}
INFERENCE_SERVICE_FILE = "inferenceservice.yaml"
RAW_MODE_ANNOTATION = "serving.kserve.io/deploymentMode"
# RFC 1123 label: what Kubernetes accepts as a resource name (and as a Service's DNS name).
_DNS_LABEL = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")
_CPU = re.compile(r"^\d+(\.\d+)?m?$")
_MEMORY = re.compile(r"^\d+(\.\d+)?(Ki|Mi|Gi|Ti|k|M|G|T)?$")


@dataclass(frozen=True)
class Resources:
    """Requests are what the scheduler reserves; limits are where the kernel stops the pod."""

    cpu_request: str = "500m"
    cpu_limit: str = "2"
    memory_request: str = "512Mi"
    memory_limit: str = "1Gi"

    def check(self) -> Resources:
        for name, value, pattern in (
            ("--cpu-request", self.cpu_request, _CPU),
            ("--cpu-limit", self.cpu_limit, _CPU),
            ("--memory-request", self.memory_request, _MEMORY),
            ("--memory-limit", self.memory_limit, _MEMORY),
        ):
            if not pattern.match(value):
                raise UserError(f"{name} {value!r} is not a Kubernetes quantity (e.g. 500m, 1Gi)")
        for kind, request, limit in (
            ("cpu", self.cpu_request, self.cpu_limit),
            ("memory", self.memory_request, self.memory_limit),
        ):  # the API server refuses such a Deployment
            if _amount(request) > _amount(limit):
                raise UserError(f"--{kind}-request {request} is above --{kind}-limit {limit}")
        return self

    def spec(self) -> dict[str, Any]:
        return {
            "requests": {"cpu": self.cpu_request, "memory": self.memory_request},
            "limits": {"cpu": self.cpu_limit, "memory": self.memory_limit},
        }


@dataclass(frozen=True)
class K8sSettings:
    """One model's workload: names, image, replicas and sizing."""

    name: str  # resource name, also the InferenceService (and so the V2 model) name
    image: str
    model_name: str
    model_version: str
    namespace: str | None = None
    min_replicas: int = 2
    max_replicas: int = 10
    cpu_target_percent: int = 70
    workers: int = contract.DEFAULT_WORKERS
    resources: Resources = Resources()

    @property
    def secret_name(self) -> str:
        return f"{self.name}-keys"


def resource_name(model_name: str) -> str:
    """``amlstack-<model name>`` made into a valid Kubernetes resource name."""
    cleaned = re.sub(r"[^a-z0-9-]+", "-", f"amlstack-{model_name}".lower())[:63].strip("-")
    return check_name(cleaned)


def check_name(name: str) -> str:
    if not _DNS_LABEL.match(name):
        raise UserError(
            f"name {name!r}: use at most 63 lower-case letters, digits or '-', "
            "starting with a letter and not ending with '-'"
        )
    return name


def check_image(ref: str) -> str:
    """An image pinned by tag or digest: a rollback must be able to name the previous one."""
    if not ref or any(ch.isspace() for ch in ref):
        raise UserError(f"--image {ref!r} is not an image reference")
    last = ref.rsplit("/", 1)[-1]
    if "@" not in last and ":" not in last:
        raise UserError(f"--image {ref}: give a tag or digest (e.g. {ref}:3); rollbacks need one")
    if last.endswith(":latest"):
        raise UserError(f"--image {ref}: 'latest' moves; pin the model's tag or a digest")
    return ref


_UNITS = {"m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12,
          "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}  # fmt: skip


def _amount(quantity: str) -> float:
    """A quantity matched by _CPU or _MEMORY, as a number (500m: 0.5; 1Gi: 2**30)."""
    number = re.match(r"\d+(\.\d+)?", quantity)
    assert number is not None  # checked against the patterns first
    return float(number.group()) * _UNITS.get(quantity[number.end() :], 1)


def check_settings(s: K8sSettings) -> K8sSettings:
    check_name(s.name)
    check_image(s.image)
    if s.namespace is not None:
        check_name(s.namespace)
    if not 1 <= s.min_replicas <= s.max_replicas:
        raise UserError(
            f"--min-replicas {s.min_replicas} / --max-replicas {s.max_replicas}: "
            "need 1 <= min <= max"
        )
    if s.workers < 1:
        raise UserError(f"--workers {s.workers}: at least 1 (the pods would crash-loop)")
    if not 1 <= s.cpu_target_percent <= 100:
        raise UserError(f"--cpu-target {s.cpu_target_percent}: a percentage from 1 to 100")
    s.resources.check()
    return s


def labels(s: K8sSettings) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": "amlstack-scorer",
        "app.kubernetes.io/instance": s.name,
        "app.kubernetes.io/version": _label_value(s.model_version),
        "app.kubernetes.io/managed-by": "amlstack",
    }


def selector(s: K8sSettings) -> dict[str, str]:
    """The labels that identify the pods; never the version, which changes in a rollout."""
    return {"app.kubernetes.io/name": "amlstack-scorer", "app.kubernetes.io/instance": s.name}


def _label_value(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text)[:63].strip("-._") or "0"


def _metadata(s: K8sSettings, name: str | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name or s.name, "labels": labels(s)}
    if s.namespace:
        meta["namespace"] = s.namespace
    meta["annotations"] = {"amlstack.io/model": f"{s.model_name}:{s.model_version}"}
    return meta


def probes(port: int | str = PORT_NAME) -> dict[str, dict[str, Any]]:
    """Readiness on /ready (model loaded and verified), liveness on / (the process answers)."""
    return {
        "readinessProbe": {
            "httpGet": {"path": contract.READINESS_ROUTE, "port": port},
            "periodSeconds": 5,
            "timeoutSeconds": 3,
            "failureThreshold": 3,
        },
        "livenessProbe": {
            "httpGet": {"path": contract.LIVENESS_ROUTE, "port": port},
            "initialDelaySeconds": 10,
            "periodSeconds": 10,
            "timeoutSeconds": 5,
            "failureThreshold": 3,
        },
    }


def container(s: K8sSettings, *, port_name: str | None = PORT_NAME) -> dict[str, Any]:
    """The scorer container: non-root, read-only root file system, keys from the Secret."""
    port: dict[str, Any] = {"containerPort": contract.DEFAULT_PORT, "protocol": "TCP"}
    if port_name:
        port["name"] = port_name
    return {
        "name": CONTAINER_NAME,
        "image": s.image,
        "ports": [port],
        "env": [
            {"name": contract.AUTH_ENV, "value": "key"},
            {"name": contract.KEY_FILE_ENV, "value": f"{KEY_DIR}/{KEY_FILE_NAME}"},
            {"name": WORKERS_ENV, "value": str(s.workers)},
            {"name": THREADS_ENV, "value": "1"},
            {"name": GRACEFUL_TIMEOUT_ENV, "value": str(contract.DEFAULT_TIMEOUT_S)},
        ],
        "resources": s.resources.spec(),
        **probes(port_name or contract.DEFAULT_PORT),
        "lifecycle": {"preStop": {"sleep": {"seconds": PRESTOP_PAUSE_S}}},
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": SCORER_UID,
            "runAsGroup": SCORER_UID,
            "readOnlyRootFilesystem": True,
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": [
            # gunicorn's heartbeat files and prometheus' multi-process samples live in /tmp.
            {"name": "tmp", "mountPath": "/tmp"},  # noqa: S108 (an emptyDir, not the host's)
            {"name": "keys", "mountPath": KEY_DIR, "readOnly": True},
        ],
    }


def volumes(s: K8sSettings) -> list[dict[str, Any]]:
    """A memory-backed /tmp and the key Secret as a file the scorer re-reads when it changes."""
    return [
        {"name": "tmp", "emptyDir": {"medium": "Memory", "sizeLimit": "64Mi"}},
        {
            "name": "keys",
            "secret": {
                "secretName": s.secret_name,
                "items": [{"key": KEY_FILE_NAME, "path": KEY_FILE_NAME}],
                "defaultMode": 0o440,
            },
        },
    ]


def pod_security() -> dict[str, Any]:
    return {
        "runAsNonRoot": True,
        "runAsUser": SCORER_UID,
        "runAsGroup": SCORER_UID,
        "fsGroup": SCORER_UID,  # lets the non-root user read the mounted key file
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def termination_grace_s() -> int:
    """Room for the preStop pause plus gunicorn's graceful drain."""
    return PRESTOP_PAUSE_S + contract.DEFAULT_TIMEOUT_S + 5


def _rolling_update() -> dict[str, Any]:
    return {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}}


def deployment(s: K8sSettings) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _metadata(s),
        "spec": {
            "replicas": s.min_replicas,
            "revisionHistoryLimit": 10,  # what `kubectl rollout undo --to-revision` can reach
            "selector": {"matchLabels": selector(s)},
            "strategy": _rolling_update(),
            "minReadySeconds": 5,
            "template": {
                "metadata": {"labels": labels(s)},
                "spec": {
                    "automountServiceAccountToken": False,
                    "securityContext": pod_security(),
                    "terminationGracePeriodSeconds": termination_grace_s(),
                    "containers": [container(s)],
                    "volumes": volumes(s),
                },
            },
        },
    }


def service(s: K8sSettings) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _metadata(s),
        "spec": {
            "type": "ClusterIP",
            "selector": selector(s),
            "ports": [{"name": PORT_NAME, "port": 80, "targetPort": PORT_NAME, "protocol": "TCP"}],
        },
    }


def autoscaler(s: K8sSettings) -> dict[str, Any]:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": _metadata(s),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": s.name},
            "minReplicas": s.min_replicas,
            "maxReplicas": s.max_replicas,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {
                            "type": "Utilization",
                            "averageUtilization": s.cpu_target_percent,
                        },
                    },
                }
            ],
        },
    }


def disruption_budget(s: K8sSettings) -> dict[str, Any]:
    """A node drain evicts one pod at a time; with one replica it may evict that one."""
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": _metadata(s),
        "spec": {"maxUnavailable": 1, "selector": {"matchLabels": selector(s)}},
    }


def inference_service(s: K8sSettings) -> dict[str, Any]:
    """The same container as a KServe custom predictor (KServe adds its own Service and HPA).

    Raw deployment mode: KServe makes a plain Deployment + HPA (no Knative), so the rolling
    update below applies and the pod runs exactly as the plain manifests run it.
    """
    predictor_container = container(s, port_name=None)  # KServe names the port itself
    meta = _metadata(s)
    meta["annotations"][RAW_MODE_ANNOTATION] = "RawDeployment"
    return {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": meta,
        "spec": {
            "predictor": {
                "deploymentStrategy": _rolling_update(),
                "minReplicas": s.min_replicas,
                "maxReplicas": s.max_replicas,
                "scaleMetric": "cpu",
                "scaleTarget": s.cpu_target_percent,
                "automountServiceAccountToken": False,
                "securityContext": pod_security(),
                "terminationGracePeriodSeconds": termination_grace_s(),
                "containers": [predictor_container],
                "volumes": volumes(s),
            }
        },
    }


def manifests(s: K8sSettings) -> dict[str, dict[str, Any]]:
    """File name -> document, for the plain Kubernetes resources."""
    docs = (deployment(s), service(s), autoscaler(s), disruption_budget(s))
    return {FILES[doc["kind"]]: doc for doc in docs}


def commands(s: K8sSettings, out: Path) -> list[str]:
    """What to run with the written files (apply, watch, scale, roll back)."""
    ns = f" --namespace {s.namespace}" if s.namespace else ""
    keys = (
        '{"primaryKey": "\'"$(openssl rand -hex 32)"\'", '
        '"secondaryKey": "\'"$(openssl rand -hex 32)"\'"}'
    )
    return [
        "# the scoring keys, once (re-apply to rotate: the scorer re-reads the file)",
        f"kubectl create secret generic {s.secret_name}{ns} "
        f"--from-literal={KEY_FILE_NAME}='{keys}' --dry-run=client -o yaml | kubectl apply -f -",
        f"kubectl apply{ns} -k {out}",
        f"kubectl rollout status{ns} deployment/{s.name}",
        f"# KServe instead of the plain resources: kubectl apply{ns} -f "
        f"{out / INFERENCE_SERVICE_FILE}",
    ]


def write_plan(s: K8sSettings, out: Path) -> dict[str, Path]:
    """Write the manifests, a kustomization.yaml listing them, the InferenceService, commands.sh."""
    check_settings(s)
    output_folder(out)
    written = {}
    for file_name, doc in manifests(s).items():
        written[doc["kind"]] = _write_yaml(out / file_name, doc)
    kustomization = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": list(FILES.values()),
    }
    written["Kustomization"] = _write_yaml(out / "kustomization.yaml", kustomization)
    written["InferenceService"] = _write_yaml(out / INFERENCE_SERVICE_FILE, inference_service(s))
    script = out / "commands.sh"
    script.write_text("#!/bin/sh\nset -e\n" + "\n".join(commands(s, out)) + "\n")
    written["commands"] = script
    return written


def _write_yaml(path: Path, doc: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(doc, sort_keys=False, default_flow_style=False))
    return path

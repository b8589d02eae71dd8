"""`amlstack k8s plan`: the manifests pass the Kubernetes schemas and KServe's CRD, offline.

Kubernetes resources go through `kubernetes-validate` in strict mode (an unknown field fails);
the InferenceService goes through the openAPIV3Schema of KServe's own CRD (vendored beside this
file), with unknown fields refused as `kubectl apply --validate=strict` refuses them.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml
from typer.testing import CliRunner

from amlstack import k8s
from amlstack.cli import build_app
from amlstack.errors import UserError
from amlstack_scorer import contract

HERE = Path(__file__).resolve().parent
KSERVE_CRD = HERE / "kserve" / "serving.kserve.io_inferenceservices.yaml.gz"
K8S_VERSION = "1.33"  # the oldest release whose schema has the native preStop sleep is 1.30

SETTINGS = k8s.K8sSettings(
    name="amlstack-bank",
    image="registry.example/amlstack-scorer:7",
    model_name="bank",
    model_version="7",
    namespace="scoring",
)


def _strict(schema: dict) -> dict:
    """Refuse unknown fields wherever the CRD lists the fields and does not keep unknown ones."""
    if isinstance(schema, dict):
        schema = {key: _strict(value) for key, value in schema.items()}
        if (
            "properties" in schema
            and "additionalProperties" not in schema
            and not schema.get("x-kubernetes-preserve-unknown-fields")
        ):
            schema["additionalProperties"] = False
    elif isinstance(schema, list):
        schema = [_strict(item) for item in schema]
    return schema


@pytest.fixture(scope="module")
def isvc_validator() -> jsonschema.Draft7Validator:
    crd = yaml.load(gzip.decompress(KSERVE_CRD.read_bytes()), Loader=yaml.CSafeLoader)
    (version,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1beta1"]
    return jsonschema.Draft7Validator(_strict(version["schema"]["openAPIV3Schema"]))


def _k8s_errors(doc: dict) -> list[str]:
    try:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        return [str(exc)]
    return []


@pytest.mark.parametrize("file_name", list(k8s.FILES.values()))
def test_every_plain_resource_passes_the_kubernetes_schema(file_name: str) -> None:
    doc = k8s.manifests(SETTINGS)[file_name]
    assert _k8s_errors(doc) == []


def test_the_kubernetes_schema_check_catches_a_wrong_field() -> None:
    """Negative control: a misspelt or mistyped field fails the same check."""
    doc = k8s.deployment(SETTINGS)
    doc["spec"]["template"]["spec"]["containers"][0]["readinessProbes"] = {}
    assert _k8s_errors(doc)
    doc = k8s.deployment(SETTINGS)
    doc["spec"]["replicas"] = "two"
    assert _k8s_errors(doc)


@pytest.mark.slow  # parsing the 2 MB CRD takes seconds
def test_inference_service_passes_kserves_crd(isvc_validator) -> None:
    errors = [e.message for e in isvc_validator.iter_errors(k8s.inference_service(SETTINGS))]
    assert errors == []


@pytest.mark.slow
def test_the_crd_check_catches_a_wrong_field(isvc_validator) -> None:
    doc = k8s.inference_service(SETTINGS)
    doc["spec"]["predictor"]["container"] = doc["spec"]["predictor"].pop("containers")[0]
    assert not isvc_validator.is_valid(doc)
    doc = k8s.inference_service(SETTINGS)
    doc["spec"]["predictor"]["minReplicas"] = "two"
    assert not isvc_validator.is_valid(doc)


def _containers(doc: dict) -> list[dict]:
    spec = doc["spec"]["template"]["spec"] if doc["kind"] == "Deployment" else doc["spec"]
    return (
        spec["predictor"]["containers"] if doc["kind"] == "InferenceService" else spec["containers"]
    )


@pytest.mark.parametrize("build", [k8s.deployment, k8s.inference_service])
def test_the_container_is_the_scorers_contract(build) -> None:
    doc = build(SETTINGS)
    (c,) = _containers(doc)
    assert c["image"] == SETTINGS.image
    assert c["readinessProbe"]["httpGet"]["path"] == contract.READINESS_ROUTE == "/ready"
    assert c["livenessProbe"]["httpGet"]["path"] == contract.LIVENESS_ROUTE == "/"
    assert c["ports"][0]["containerPort"] == contract.DEFAULT_PORT
    security = c["securityContext"]
    assert security["runAsNonRoot"] and security["readOnlyRootFilesystem"]
    assert security["runAsUser"] == k8s.SCORER_UID
    assert set(c["resources"]) == {"requests", "limits"}
    env = {e["name"]: e.get("value") for e in c["env"]}
    assert env[contract.AUTH_ENV] == "key"
    assert env[contract.KEY_FILE_ENV] == f"{k8s.KEY_DIR}/{k8s.KEY_FILE_NAME}"
    # The key comes from the Secret, never from the manifest.
    assert contract.PRIMARY_KEY_ENV not in env
    spec = (
        doc["spec"]["template"]["spec"] if doc["kind"] == "Deployment" else doc["spec"]["predictor"]
    )
    secrets = [v["secret"]["secretName"] for v in spec["volumes"] if "secret" in v]
    assert secrets == [SETTINGS.secret_name]
    mounts = {m["mountPath"]: m for m in c["volumeMounts"]}
    assert mounts[k8s.KEY_DIR]["readOnly"] is True and "/tmp" in mounts


def test_rollouts_never_lower_capacity() -> None:
    spec = k8s.deployment(SETTINGS)["spec"]
    assert spec["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    assert spec["strategy"]["rollingUpdate"]["maxSurge"] >= 1
    isvc = k8s.inference_service(SETTINGS)["spec"]["predictor"]
    assert isvc["deploymentStrategy"]["rollingUpdate"]["maxUnavailable"] == 0
    pod = spec["template"]["spec"]
    assert pod["terminationGracePeriodSeconds"] > contract.DEFAULT_TIMEOUT_S


def test_service_hpa_and_pdb_select_the_deployments_pods() -> None:
    docs = {doc["kind"]: doc for doc in k8s.manifests(SETTINGS).values()}
    pods = docs["Deployment"]["spec"]["template"]["metadata"]["labels"]
    for selected in (
        docs["Service"]["spec"]["selector"],
        docs["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"],
        docs["Deployment"]["spec"]["selector"]["matchLabels"],
    ):
        assert selected.items() <= pods.items()
    assert docs["HorizontalPodAutoscaler"]["spec"]["scaleTargetRef"]["name"] == SETTINGS.name
    assert docs["HorizontalPodAutoscaler"]["spec"]["minReplicas"] == SETTINGS.min_replicas
    assert all(doc["metadata"]["namespace"] == "scoring" for doc in docs.values())


@pytest.mark.parametrize(
    ("image", "message"),
    [
        ("amlstack-scorer", "give a tag or digest"),
        ("registry:5000/amlstack-scorer", "give a tag or digest"),
        ("amlstack-scorer:latest", "'latest' moves"),
        ("amlstack scorer:1", "not an image reference"),
    ],
)
def test_unpinned_images_are_refused(image: str, message: str) -> None:
    with pytest.raises(UserError, match=message):
        k8s.check_image(image)


def test_pinned_images_are_accepted() -> None:
    for ref in ("registry:5000/scorer:3", "scorer@sha256:" + "a" * 64, "a/b/c:1.2"):
        assert k8s.check_image(ref) == ref


def test_bad_settings_name_the_option() -> None:
    with pytest.raises(UserError, match="--min-replicas 3 / --max-replicas 2"):
        k8s.check_settings(k8s.K8sSettings("a-b", "s:1", "m", "1", min_replicas=3, max_replicas=2))
    with pytest.raises(UserError, match="--memory-limit '1GB'"):
        k8s.Resources(memory_limit="1GB").check()
    with pytest.raises(UserError, match="name 'Bad_Name'"):
        k8s.check_name("Bad_Name")
    with pytest.raises(UserError, match="--workers 0: at least 1"):
        k8s.check_settings(k8s.K8sSettings("a-b", "s:1", "m", "1", workers=0))
    with pytest.raises(UserError, match="--cpu-request 4 is above --cpu-limit 1"):
        k8s.Resources(cpu_request="4", cpu_limit="1").check()
    with pytest.raises(UserError, match="--memory-request 2Gi is above --memory-limit 1024Mi"):
        k8s.Resources(memory_request="2Gi", memory_limit="1024Mi").check()
    k8s.Resources(
        cpu_request="500m", cpu_limit="0.5", memory_request="1G", memory_limit="1Gi"
    ).check()


def test_a_plan_is_never_written_into_an_artifact(tiny_artifact: Path) -> None:
    """commands.sh in the artifact's folder: the next load refused it (not in MANIFEST.json)."""
    before = sorted(p.name for p in tiny_artifact.iterdir())
    with pytest.raises(UserError, match="inside the artifact"):
        k8s.write_plan(SETTINGS, tiny_artifact / "plan")
    assert sorted(p.name for p in tiny_artifact.iterdir()) == before


@pytest.mark.slow
def test_cli_writes_a_plan_for_a_real_artifact(tiny_artifact: Path, tmp_path: Path) -> None:
    out = tmp_path / "plan"
    result = CliRunner().invoke(
        build_app(),
        ["k8s", "plan", "--artifact", str(tiny_artifact), "--image", "r/s:9", "--out", str(out)],
    )
    assert result.exit_code == 0, result.output
    kustomization = yaml.safe_load((out / "kustomization.yaml").read_text())
    assert sorted(kustomization["resources"]) == sorted(k8s.FILES.values())
    for file_name in k8s.FILES.values():
        doc = yaml.safe_load((out / file_name).read_text())
        assert _k8s_errors(doc) == []
        assert doc["metadata"]["name"] == "amlstack-bankmarketing"
        assert doc["metadata"]["labels"]["app.kubernetes.io/version"] == tiny_artifact.name
    isvc = yaml.safe_load((out / k8s.INFERENCE_SERVICE_FILE).read_text())
    assert isvc["spec"]["predictor"]["containers"][0]["image"] == "r/s:9"
    assert "kubectl apply --namespace" not in (out / "commands.sh").read_text()


def test_cli_refuses_an_artifact_whose_scorer_would_not_start(
    tiny_artifact: Path, tmp_path: Path
) -> None:
    """A profile.json of another model loads in `Model` but stops the scorer at start: the plan
    was written for an image whose pods would never get ready."""
    import json
    import shutil

    from amlstack.artifact.manifest import ArtifactError, write_manifest

    artifact = tmp_path / "artifact"
    shutil.copytree(tiny_artifact, artifact)
    (artifact / "profile.json").write_text(json.dumps({"features": []}))
    write_manifest(artifact)
    out = tmp_path / "plan"
    result = CliRunner().invoke(
        build_app(),
        ["k8s", "plan", "--artifact", str(artifact), "--image", "r/s:9", "--out", str(out)],
    )
    assert isinstance(result.exception, ArtifactError)  # the CLI's main prints it, exit 2
    assert str(result.exception).startswith(f"{artifact / 'profile.json'}: ")
    assert not out.exists()

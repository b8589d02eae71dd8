"""The scorer container as the stack publishes it: keyed scoring, its contract and hardening."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest
import requests
from openapi_spec_validator import validate

pytestmark = pytest.mark.e2e

MAX_IMAGE_BYTES = 400 * 1024 * 1024
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def model_json(stack):
    return stack.container_json("/app/model/model.json")


@pytest.fixture(scope="module")
def sample(stack):
    return stack.container_json("/app/model/sample_input.json")["data"]


def test_scoring_with_the_key_returns_sensible_probabilities(stack, model_json, sample):
    resp = stack.score({"data": sample}, key=stack.key)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    classes = model_json["classes"]
    assert len(body["predictions"]) == len(sample)
    assert set(body["predictions"]) <= set(classes)
    for row in body["probabilities"]:
        assert set(row) == set(classes)
        assert all(0.0 <= p <= 1.0 for p in row.values())
        assert math.isclose(sum(row.values()), 1.0, abs_tol=1e-4)
    assert body["model"] == {"name": model_json["name"], "version": str(model_json["version"])}


@pytest.mark.parametrize("key", [None, "not-the-key-0123456789"], ids=["no key", "wrong key"])
def test_scoring_without_the_key_is_refused(stack, sample, key):
    resp = stack.score({"data": sample[:1]}, key=key)
    assert resp.status_code == 401
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")
    assert "predictions" not in resp.json()


def test_swagger_json_is_valid_and_matches_the_artifact(stack, model_json):
    spec = requests.get(f"{stack.scorer}/swagger.json", timeout=10).json()
    validate(spec)
    record = spec["definitions"]["InputRecord"]
    names = [f["name"] for f in model_json["features"]]
    assert list(record["properties"]) == names
    for feature in model_json["features"]:
        prop = record["properties"][feature["name"]]
        if feature["kind"] == "categorical":
            assert prop["type"] == "string"
            assert "enum" not in prop  # other categories are accepted too
            assert prop["x-training-categories"] == feature["categories"]
        else:
            assert prop["type"] in ("number", "integer")
    validate(requests.get(f"{stack.scorer}/swagger.json?version=3", timeout=10).json())


def test_the_swagger_ui_origin_may_call_the_scorer(stack):
    resp = requests.options(
        f"{stack.scorer}/score",
        headers={
            "Origin": "http://localhost:8080",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
        timeout=10,
    )
    assert resp.status_code in (200, 204)
    assert resp.headers["Access-Control-Allow-Origin"] == "http://localhost:8080"
    assert "authorization" in resp.headers["Access-Control-Allow-Headers"].lower()


def test_scorer_runs_hardened_from_a_small_image(stack):
    container = stack.compose("ps", "-q", "scorer").stdout.split()[0]
    info = json.loads(stack.docker("inspect", container).stdout)[0]
    assert info["Config"]["User"] == "10001"
    assert info["HostConfig"]["ReadonlyRootfs"] is True
    assert info["State"]["Health"]["Status"] == "healthy"
    image = json.loads(stack.docker("image", "inspect", info["Image"]).stdout)[0]
    assert image["Size"] <= MAX_IMAGE_BYTES, f"scorer image is {image['Size'] / 2**20:.0f} MB"


def test_the_generated_key_lives_in_the_volume_not_the_image(stack):
    # The scorer wrote the key file at first start into the named volume; the image has none.
    env = stack.shell("scorer_exec printenv AMLSTACK_PRIMARY_KEY", check=False)
    if env.stdout.strip():
        pytest.skip("the stack uses a key from .env, so no key file was generated")
    listing = stack.shell("scorer_exec ls -ln /keys").stdout
    assert "keys.json" in listing
    assert " 10001 " in listing
    container = stack.compose("ps", "-q", "scorer").stdout.split()[0]
    image = json.loads(stack.docker("inspect", container).stdout)[0]["Image"]
    probe = stack.docker(
        "run", "--rm", "--entrypoint", "test", image, "!", "-e", "/keys/keys.json", check=False
    )
    assert probe.returncode == 0, probe.stderr


@pytest.mark.slow
def test_a_supplied_artifact_is_baked_in_instead_of_training(stack, tiny_artifact):
    # MODEL_DIR (AMLSTACK_MODEL_DIR_BUILD in .env) names a folder inside the build context.
    supplied = ROOT / "artifacts" / "_e2e_supplied"
    tag = "amlstack/scorer:e2e-supplied"
    shutil.copytree(tiny_artifact, supplied / "1", dirs_exist_ok=True)
    try:
        build = stack.docker(
            "build", "-f", "scorer/Dockerfile", "-t", tag,
            "--build-arg", f"BASE_IMAGE={stack.base_image}",
            "--build-arg", "MODEL_DIR=artifacts/_e2e_supplied/1",
            str(ROOT), timeout=1200, check=False,
        )  # fmt: skip
        assert build.returncode == 0, (build.stdout + build.stderr)[-4000:]
        baked = stack.docker("run", "--rm", "--entrypoint", "cat", tag, "/app/model/MANIFEST.json")
        assert json.loads(baked.stdout) == json.loads((tiny_artifact / "MANIFEST.json").read_text())
    finally:
        shutil.rmtree(supplied, ignore_errors=True)
        if not any((ROOT / "artifacts").iterdir()):
            (ROOT / "artifacts").rmdir()
        stack.docker("rmi", "-f", tag, check=False)
        # The legacy builder leaves this build's trainer stage untagged; it caches nothing here.
        stack.docker(
            "image", "prune", "-f", "--filter", "label=amlstack.stage=trainer", check=False
        )

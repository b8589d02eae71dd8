"""The V2 routes over real HTTP, spoken by third-party clients against a live scorer on loopback.

``tritonclient.http.InferenceServerClient`` (a dev dependency) and the ``kserve`` package's
``InferenceRESTClient``, which runs in a venv of its own (kserve 0.21 pins pandas<3, protobuf<7
and psutil<6, below what this project installs; see tests/clients/kserve_v2_client.py). Their
answers must equal /score's.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
from pathlib import Path

import numpy as np
import pytest
from scorer_support import PRIMARY, make_settings
from test_v2_routes import triton_inputs
from werkzeug.serving import make_server

from amlstack_scorer.app import create_app

tritonhttp = pytest.importorskip("tritonclient.http")
AUTH = {"Authorization": f"Bearer {PRIMARY}"}
KSERVE_CLIENT = Path(__file__).parents[2] / "clients" / "kserve_v2_client.py"


@pytest.fixture(scope="module")
def live(model):
    """A threaded werkzeug server on a free loopback port, serving the real WSGI app."""
    server = make_server("127.0.0.1", 0, create_app(make_settings(), model), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


def expected(client, model, records) -> tuple[np.ndarray, list[str]]:
    scored = client.post("/score", json={"data": records}, headers=AUTH).get_json()
    keys = [str(c) for c in model.classes]
    proba = np.array([[p[k] for k in keys] for p in scored["probabilities"]], dtype=np.float32)
    return proba, [str(label) for label in scored["predictions"]]


@pytest.mark.parametrize("binary", [False, True])
def test_tritonclient_over_http(live, client, model, sample, binary):
    triton = tritonhttp.InferenceServerClient(url=live)
    try:
        assert triton.is_server_live()
        assert triton.is_server_ready()
        assert triton.is_model_ready(model.name, headers=dict(AUTH))
        meta = triton.get_model_metadata(model.name)
        assert [i["name"] for i in meta["inputs"]] == model.feature_names
        records = sample[:4]
        inputs = triton_inputs(model, records, binary)
        outputs = [
            tritonhttp.InferRequestedOutput(name, binary_data=binary)
            for name in ("probabilities", "label")
        ]
        # a copy: tritonclient writes Inference-Header-Content-Length into the dict it is given
        result = triton.infer(model.name, inputs, outputs=outputs, headers=dict(AUTH))
    finally:
        triton.close()
    proba, labels = expected(client, model, records)
    np.testing.assert_array_equal(result.as_numpy("probabilities"), proba)
    got = [v.decode() if isinstance(v, bytes) else str(v) for v in result.as_numpy("label")]
    assert got == labels


def test_tritonclient_errors_are_exceptions_not_traces(live, model):
    from tritonclient.utils import InferenceServerException

    triton = tritonhttp.InferenceServerClient(url=live)
    try:
        with pytest.raises(InferenceServerException, match="no model 'nope'"):
            triton.get_model_metadata("nope")
        with pytest.raises(InferenceServerException):
            triton.infer(model.name, [], headers=dict(AUTH))
    finally:
        triton.close()


def kserve_python() -> str:
    """The interpreter of the venv scripts/test.sh makes for kserve; CI must have it."""
    python = os.environ.get("AMLSTACK_KSERVE_PYTHON", "")
    if python and Path(python).is_file():
        return python
    if os.environ.get("CI"):
        pytest.fail("AMLSTACK_KSERVE_PYTHON names no interpreter (scripts/test.sh makes one)")
    pytest.skip("no kserve venv (AMLSTACK_KSERVE_PYTHON; scripts/test.sh makes .venv-kserve)")


def test_kserve_rest_client_v2(live, client, model, sample):
    python = kserve_python()
    records = sample[:3]
    inputs = []
    for feature in model.features:
        datatype = "BYTES" if feature.kind == "categorical" else "FP32"
        inputs.append(
            {"name": feature.name, "datatype": datatype, "data": [r[feature.name] for r in records]}
        )
    request = {"url": f"http://{live}", "model": model.name, "headers": AUTH, "inputs": inputs}
    done = subprocess.run(
        [python, str(KSERVE_CLIENT)],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    answer = json.loads(done.stdout)
    proba, labels = expected(client, model, records)
    np.testing.assert_array_equal(
        np.asarray(answer["probabilities"], dtype=np.float32).reshape(proba.shape), proba
    )
    assert answer["labels"] == labels


def test_v2_nested_column_inputs_equal_flat(client, model, sample):
    """Shape [N, 1] with nested data, and flat [N]: one input per column, the same answer."""
    records = sample[:3]

    def body(nested: bool) -> dict:
        inputs = []
        for feature in model.features:
            values = [r[feature.name] for r in records]
            datatype = "BYTES" if feature.kind == "categorical" else "FP64"
            data = [[v] for v in values] if nested else values
            shape = [len(values), 1] if nested else [len(values)]
            inputs.append(
                {"name": feature.name, "shape": shape, "datatype": datatype, "data": data}
            )
        return {"inputs": inputs}

    path = f"/v2/models/{model.name}/infer"
    flat = client.post(path, json=body(False), headers=AUTH)
    nested = client.post(path, json=body(True), headers=AUTH)
    assert flat.status_code == nested.status_code == 200, flat.get_data(as_text=True)
    flat, nested = flat.get_json(), nested.get_json()
    assert flat["outputs"] == nested["outputs"]
    proba, labels = expected(client, model, records)
    out = {o["name"]: o for o in flat["outputs"]}
    np.testing.assert_array_equal(
        np.array(out["probabilities"]["data"], dtype=np.float32).reshape(proba.shape), proba
    )
    assert out["label"]["data"] == labels

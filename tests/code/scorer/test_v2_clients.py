"""The V2 routes over real HTTP, spoken by third-party clients against a live scorer on loopback.

``tritonclient.http.InferenceServerClient`` (a dev dependency) and, where it is installed, the
``kserve`` package's ``InferenceRESTClient`` (not in the dev extra: kserve 0.21 pins pandas<3,
protobuf<7 and psutil<6, below what this project installs). Their answers must equal /score's.
"""

from __future__ import annotations

import asyncio
import threading

import numpy as np
import pytest
from scorer_support import PRIMARY, make_settings
from werkzeug.serving import make_server

from amlstack_scorer.app import create_app

tritonhttp = pytest.importorskip("tritonclient.http")
AUTH = {"Authorization": f"Bearer {PRIMARY}"}


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
        inputs = []
        for feature in model.features:
            values = [r[feature.name] for r in records]
            if feature.kind == "categorical":
                array, datatype = np.array(values, dtype=np.object_), "BYTES"
            else:
                array, datatype = np.array(values, dtype=np.float32), "FP32"
            tensor = tritonhttp.InferInput(feature.name, list(array.shape), datatype)
            tensor.set_data_from_numpy(array, binary_data=binary)
            inputs.append(tensor)
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


def test_kserve_rest_client_v2(live, client, model, sample):
    kserve = pytest.importorskip("kserve")
    records = sample[:3]

    async def run():
        rest = kserve.InferenceRESTClient(kserve.RESTConfig(protocol="v2", retries=0))
        try:
            base = f"http://{live}"
            assert await rest.is_server_live(base)
            inputs = []
            for feature in model.features:
                values = [r[feature.name] for r in records]
                if feature.kind == "categorical":
                    array, datatype = np.array(values, dtype=np.object_), "BYTES"
                else:
                    array, datatype = np.array(values, dtype=np.float32), "FP32"
                tensor = kserve.InferInput(feature.name, list(array.shape), datatype)
                tensor.set_data_from_numpy(array, binary_data=False)
                inputs.append(tensor)
            request = kserve.InferRequest(model_name=model.name, infer_inputs=inputs)
            return await rest.infer(base, request, model_name=model.name, headers=dict(AUTH))
        finally:
            await rest.close()

    response = asyncio.run(run())
    by_name = {o.name: o for o in response.outputs}
    proba, labels = expected(client, model, records)
    np.testing.assert_array_equal(
        np.asarray(by_name["probabilities"].as_numpy(), dtype=np.float32).reshape(proba.shape),
        proba,
    )
    got = [v.decode() if isinstance(v, bytes) else str(v) for v in by_name["label"].as_numpy()]
    assert got == labels


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

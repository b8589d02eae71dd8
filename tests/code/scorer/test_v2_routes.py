"""The V2 (Open Inference Protocol) routes, spoken by tritonclient's own serializer and parser.

tritonclient builds the request bodies (JSON and binary tensors) and parses the answers, so the
wire format is the client's, not ours; the probabilities must equal /score's for the same records.
"""

from __future__ import annotations

import numpy as np
import pytest
from scorer_support import PRIMARY

tritonhttp = pytest.importorskip("tritonclient.http")
AUTH = {"Authorization": f"Bearer {PRIMARY}"}


def triton_inputs(model, records, binary: bool):
    """tritonclient InferInputs for ``records``: FP32 numerics, BYTES categoricals."""
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
    return inputs


def _infer(client, model, records, *, binary: bool, binary_out: bool):
    outputs = [
        tritonhttp.InferRequestedOutput(name, binary_data=binary_out)
        for name in ("probabilities", "label")
    ]
    body, json_size = tritonhttp.InferenceServerClient.generate_request_body(
        triton_inputs(model, records, binary), outputs=outputs
    )
    headers = dict(AUTH)
    if json_size is not None:
        headers["Inference-Header-Content-Length"] = str(json_size)
    resp = client.post(
        f"/v2/models/{model.name}/infer", data=body, headers=headers,
        content_type="application/octet-stream" if json_size else "application/json",
    )  # fmt: skip
    assert resp.status_code == 200, resp.get_data(as_text=True)
    length = resp.headers.get("Inference-Header-Content-Length")
    return tritonhttp.InferResult.from_response_body(
        resp.get_data(), header_length=int(length) if length else None
    )


@pytest.mark.parametrize(("binary", "binary_out"), [(False, False), (True, True), (True, False)])
def test_infer_equals_score(client, model, sample, binary, binary_out):
    records = sample[:3]
    result = _infer(client, model, records, binary=binary, binary_out=binary_out)
    scored = client.post("/score", json={"data": records}, headers=AUTH).get_json()
    keys = [str(c) for c in model.classes]
    expected = np.array([[p[k] for k in keys] for p in scored["probabilities"]], dtype=np.float32)
    np.testing.assert_array_equal(result.as_numpy("probabilities"), expected)
    labels = [v.decode() if isinstance(v, bytes) else v for v in result.as_numpy("label")]
    assert labels == [str(p) for p in scored["predictions"]]


def test_metadata_health_and_errors(client, model):
    meta = client.get(f"/v2/models/{model.name}").get_json()
    assert [i["name"] for i in meta["inputs"]] == model.feature_names
    kinds = {i["name"]: i["datatype"] for i in meta["inputs"]}
    for feature in model.features:
        assert (kinds[feature.name] == "BYTES") == (feature.kind == "categorical")
    assert client.get("/v2/health/live").get_json() == {"live": True}
    assert client.get("/v2/health/ready").status_code == 200
    assert client.get(f"/v2/models/{model.name}/versions/{model.version}/ready").status_code == 200
    missing = client.get("/v2/models/nope")
    assert missing.status_code == 404 and "nope" in missing.get_json()["error"]
    unauth = client.post(f"/v2/models/{model.name}/infer", json={"inputs": []})
    assert unauth.status_code == 401 and isinstance(unauth.get_json()["error"], str)
    bad = client.post(
        f"/v2/models/{model.name}/infer", headers=AUTH,
        json={"inputs": [{"name": "age", "shape": [1], "datatype": "FP32", "data": [1]}]},
    )  # fmt: skip
    assert bad.status_code == 400 and "missing input" in bad.get_json()["error"]


def test_a_wrong_method_says_which_are_allowed(client, model):
    """405 on a V2 route carries Allow, as on /score (one wrapper serves both)."""
    for path, allowed in ((f"/v2/models/{model.name}/infer", "POST"), ("/v2/health/live", "GET")):
        resp = client.delete(path)
        assert resp.status_code == 405
        assert resp.headers["Allow"] == f"{allowed}, OPTIONS"
        assert set(resp.get_json()) == {"error"}
    assert client.delete("/score").headers["Allow"] == "POST, OPTIONS"

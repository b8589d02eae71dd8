"""The V2 (Open Inference Protocol) routes, spoken by tritonclient's own serializer and parser.

tritonclient builds the request bodies (JSON and binary tensors) and parses the answers, so the
wire format is the client's, not ours; the probabilities must equal /score's for the same records.
"""

from __future__ import annotations

import json

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
        assert (kinds[feature.name] == "BYTES") == (feature.kind != "numeric")
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


def _tensor_body(model, records, **override) -> dict:
    inputs = []
    for feature in model.features:
        numeric = feature.kind == "numeric"
        inputs.append(
            {
                "name": feature.name,
                "shape": [len(records)],
                "datatype": "FP32" if numeric else "BYTES",
                "data": [r[feature.name] for r in records],
            }
        )
    for tensor in inputs:
        tensor.update(override.get(tensor["name"], {}))
    return {"inputs": inputs}


def test_null_is_a_missing_value_as_on_score(client, model, sample):
    records = [dict(r) for r in sample[:2]]
    numeric = next(f.name for f in model.features if f.kind == "numeric")
    categorical = next(f.name for f in model.features if f.kind == "categorical")
    records[0][numeric] = None
    records[1][categorical] = None
    path = f"/v2/models/{model.name}/infer"
    answer = client.post(path, json=_tensor_body(model, records), headers=AUTH)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    scored = client.post("/score", json={"data": records}, headers=AUTH).get_json()
    keys = [str(c) for c in model.classes]
    expected = [p[k] for p in scored["probabilities"] for k in keys]
    got = next(o for o in answer.get_json()["outputs"] if o["name"] == "probabilities")
    np.testing.assert_allclose(got["data"], expected, rtol=1e-6)


@pytest.mark.parametrize(
    ("override", "status", "message"),
    [
        ({"datatype": "BOOL", "data": ["abc", 1]}, 400, "BOOL data must be numbers"),
        ({"datatype": "BOOL", "data": [{"a": 1}, 1]}, 400, "BOOL data must be numbers"),
        ({"data": ["1e5", 1]}, 400, "FP32 data must be numbers"),
    ],
    ids=["bool-text", "bool-object", "number-as-text"],
)
def test_bad_tensor_data_is_a_400_naming_the_input(
    client, model, sample, override, status, message
):
    numeric = next(f.name for f in model.features if f.kind == "numeric")
    body = _tensor_body(model, sample[:2], **{numeric: override})
    answer = client.post(f"/v2/models/{model.name}/infer", json=body, headers=AUTH)
    assert answer.status_code == status, answer.get_data(as_text=True)
    assert repr(numeric) in answer.get_json()["error"] and message in answer.get_json()["error"]


def test_a_value_the_model_cannot_read_names_its_input_and_element(client, model, sample):
    """The protocol's error has no field: the message starts with it, as /score's field says."""
    numeric = next(f.name for f in model.features if f.kind == "numeric")
    body = _tensor_body(model, sample[:2], **{numeric: {"data": [1, 1e39]}})
    answer = client.post(f"/v2/models/{model.name}/infer", json=body, headers=AUTH)
    assert answer.status_code == 422, answer.get_data(as_text=True)
    assert answer.get_json()["error"].startswith(f"{numeric}[1]: value is too large")


@pytest.mark.parametrize(
    ("value", "hint"), [("NaN", "send null for a missing value"), ("-Infinity", "not JSON")]
)
def test_nan_in_the_body_is_a_400_saying_to_send_null(client, model, sample, value, hint):
    """What Python's json.dumps writes for a float NaN: /score named it, V2 said only
    "invalid character (byte 1079)"."""
    numeric = next(f.name for f in model.features if f.kind == "numeric")
    body = json.dumps(_tensor_body(model, sample[:2], **{numeric: {"data": [None, 1.0]}}))
    body = body.replace("[null, 1.0]", f"[{value}, 1.0]", 1)
    answer = client.post(
        f"/v2/models/{model.name}/infer", data=body, headers=AUTH, content_type="application/json"
    )
    assert answer.status_code == 400 and hint in answer.get_json()["error"]


def test_deeply_nested_json_is_a_400(client, model):
    deep = "[" * 5000 + "]" * 5000
    body = '{"inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": ' + deep + "}]}"
    answer = client.post(
        f"/v2/models/{model.name}/infer", data=body, headers=AUTH, content_type="application/json"
    )
    assert answer.status_code == 400 and "nested too deep" in answer.get_json()["error"]


def test_a_date_feature_is_bytes_text_and_null_is_missing():
    from types import SimpleNamespace

    from amlstack.artifact.encoding import Encoder, Feature, NotADate
    from amlstack.artifact.formats import parse_date
    from amlstack.artifact.schema import FeatureSpec
    from amlstack_scorer import v2

    features = [Feature.from_spec(FeatureSpec(name="called", kind="date", dtype="date"))]
    model = SimpleNamespace(features=features, feature_names=["called"])
    assert v2.input_datatype(model, 0) == "BYTES"
    body = {"inputs": [{"name": "called", "shape": [2], "datatype": "BYTES",
                        "data": ["2021-01-31", None]}]}  # fmt: skip
    request = v2.decode(json.dumps(body).encode(), None, model, max_batch=10)
    matrix = Encoder(features).rows(list(zip(*request.columns, strict=True))).matrix
    assert matrix[0, 0] == parse_date("2021-01-31", "ISO8601") and np.isnan(matrix[1, 0])
    with pytest.raises(NotADate):
        Encoder(features).rows([["31/02/2021"]])

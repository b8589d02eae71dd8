"""The scoring service through Flask's test client: every status code, both payload shapes."""

from __future__ import annotations

import io
import ipaddress
import json
import math

import pytest
from scorer_support import make_settings

from amlstack_scorer import contract as c
from amlstack_scorer.app import create_app, set_model

JSON = {"Content-Type": "application/json"}


def post(client, auth, payload, **kw):
    return client.post(c.SCORING_ROUTE, data=json.dumps(payload), headers={**auth, **JSON}, **kw)


def assert_error(resp, status: int, code: str, field: str | None = None) -> dict:
    assert resp.status_code == status, resp.get_data(as_text=True)
    assert resp.mimetype == "application/json"
    error = resp.get_json()["error"]
    assert error["code"] == code
    assert error["request_id"] == resp.headers["X-Request-ID"]
    if field is not None:
        assert error["field"] == field
    return error


def test_liveness_answers_healthy(client):
    resp = client.get(c.LIVENESS_ROUTE)
    assert resp.status_code == 200
    assert resp.get_data(as_text=True) == "Healthy"


def test_readiness_is_200_once_the_model_is_loaded(client):
    assert client.get(c.READINESS_ROUTE).status_code == 200


def test_readiness_and_scoring_are_503_before_the_model_loads(settings, model, auth, sample):
    app = create_app(settings, None)
    client = app.test_client()
    assert_error(client.get(c.READINESS_ROUTE), 503, "not_ready")
    assert_error(post(client, auth, {"data": sample[:1]}), 503, "not_ready")
    assert client.get(c.LIVENESS_ROUTE).status_code == 200
    set_model(app, model)
    assert client.get(c.READINESS_ROUTE).status_code == 200


def test_score_v1_payload_returns_labels_probabilities_and_model(client, auth, sample, model):
    resp = post(client, auth, {"data": sample[:2]})
    assert resp.status_code == 200
    body = resp.get_json()
    assert len(body["predictions"]) == 2
    assert set(body["predictions"]) <= set(model.classes)
    classes = [str(k) for k in model.classes]
    for probs in body["probabilities"]:
        assert list(probs) == classes
        assert math.isclose(sum(probs.values()), 1.0, abs_tol=1e-5)
    assert body["model"] == {"name": model.name, "version": model.version}


def test_score_matches_the_model_directly(client, auth, sample, model):
    expected = model.predict_proba(model.encode_records(sample))
    body = post(client, auth, {"data": sample}).get_json()
    got = [v for p in body["probabilities"] for v in p.values()]
    assert got == pytest.approx(expected.ravel().tolist(), abs=1e-6)
    assert body["predictions"] == model.labels(expected)


def test_score_v2_inputs_payload(client, auth, sample):
    payload = {"Inputs": {"data": sample[:1]}, "GlobalParameters": {"method": "predict"}}
    v2 = post(client, auth, payload).get_json()
    v1 = post(client, auth, {"data": sample[:1]}).get_json()
    assert v2 == v1


def test_integers_are_accepted_for_float_fields(client, auth, sample, model):
    record = dict(sample[0])
    numeric = next(f.name for f in model.features if f.kind == "numeric")
    record[numeric] = int(record[numeric])
    assert post(client, auth, {"data": [record]}).status_code == 200


def test_null_or_absent_value_is_scored_and_counted(client, auth, sample, model):
    """Even in a column that had no missing value in training: the model imputes it."""
    num = next(f.name for f in model.features if f.kind == "numeric" and not f.nullable)
    cat = next(f.name for f in model.features if f.kind == "categorical" and not f.nullable)
    record = dict(sample[0], **{num: None})
    del record[cat]
    resp = post(client, auth, {"data": [record, record, sample[0]]})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert len(resp.get_json()["predictions"]) == 3
    metrics = client.get(c.METRICS_ROUTE, headers=auth).get_data(as_text=True)
    assert f'amlstack_missing_values_total{{feature="{num}"}} 2.0' in metrics
    assert f'amlstack_missing_values_total{{feature="{cat}"}} 2.0' in metrics


def test_unseen_category_is_scored_and_counted(client, auth, sample, model):
    feature = next(f.name for f in model.features if f.kind == "categorical")
    record = dict(sample[0], **{feature: "never-seen-in-training"})
    resp = post(client, auth, {"data": [record, record]})
    assert resp.status_code == 200
    metrics = client.get(c.METRICS_ROUTE, headers=auth).get_data(as_text=True)
    assert f'amlstack_unseen_categories_total{{feature="{feature}"}} 2.0' in metrics


@pytest.mark.parametrize("route", ["json", "csv"])
def test_a_number_outside_the_training_range_is_scored_and_counted(
    client, auth, sample, model, route
):
    """As an unseen category is (it was scored without a count); the maximum itself is inside."""
    feature = next(f for f in model.features if f.kind == "numeric" and f.maximum is not None)
    far = [dict(sample[0], **{feature.name: v}) for v in (feature.maximum * 10 + 1, -1e9)]
    records = [*far, dict(sample[0], **{feature.name: feature.maximum})]
    if route == "json":
        resp = post(client, auth, {"data": records})
    else:
        lines = [",".join(records[0])]
        lines += [",".join("" if v is None else str(v) for v in r.values()) for r in records]
        headers = {**auth, "Content-Type": "text/csv"}
        resp = client.post(c.SCORING_ROUTE, data="\n".join(lines) + "\n", headers=headers)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    metrics = client.get(c.METRICS_ROUTE, headers=auth).get_data(as_text=True)
    assert f'amlstack_out_of_range_values_total{{feature="{feature.name}"}} 2.0' in metrics


def test_malformed_json_is_400(client, auth):
    resp = client.post(c.SCORING_ROUTE, data=b'{"data": [', headers={**auth, **JSON})
    assert_error(resp, 400, "malformed_json")


@pytest.mark.parametrize("route", [c.SCORING_ROUTE, "/v2/models/{name}/infer"])
def test_an_empty_json_body_is_400_saying_so(client, auth, model, route):
    """An export that wrote nothing: "Input data was truncated" alone did not say so."""
    resp = client.post(route.format(name=model.name), data=b"\n", headers={**auth, **JSON})
    assert resp.status_code == 400 and "the body is empty" in resp.get_data(as_text=True)


def test_unknown_route_is_404(client):
    assert_error(client.get("/no-such-route"), 404, "not_found")


def test_wrong_method_is_405_with_allow(client, auth):
    resp = client.get(c.SCORING_ROUTE, headers=auth)
    assert_error(resp, 405, "method_not_allowed")
    assert "POST" in resp.headers["Allow"]


def test_wrong_content_type_is_415(client, auth, sample):
    body = json.dumps({"data": sample[:1]})
    resp = client.post(c.SCORING_ROUTE, data=body, headers={**auth, "Content-Type": "text/plain"})
    assert_error(resp, 415, "unsupported_media_type")


def test_body_over_the_limit_is_413(model, auth):
    client = create_app(make_settings(max_body_bytes=2048), model).test_client()
    body = b'{"data": [' + b" " * 4096 + b"]}"
    resp = client.post(c.SCORING_ROUTE, data=body, headers={**auth, **JSON})
    assert_error(resp, 413, "payload_too_large")


def test_chunked_body_over_the_limit_is_413(model, auth):
    client = create_app(make_settings(max_body_bytes=2048), model).test_client()
    stream = io.BytesIO(b'{"data": [' + b" " * 4096 + b"]}")
    resp = client.post(
        c.SCORING_ROUTE,
        input_stream=stream,
        headers={**auth, **JSON, "Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert_error(resp, 413, "payload_too_large")


def test_chunked_body_within_the_limit_is_scored(client, auth, sample):
    body = json.dumps({"data": sample[:1]}).encode()
    resp = client.post(
        c.SCORING_ROUTE,
        input_stream=io.BytesIO(body),
        headers={**auth, **JSON, "Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert resp.status_code == 200, resp.get_data(as_text=True)


@pytest.mark.parametrize(
    ("mutate", "field", "fragment"),
    [
        (lambda r, num, cat: r.update({num: "abc"}), "data[0].{num}", "got the text 'abc'"),
        (lambda r, num, cat: r.update({num: True}), "data[0].{num}", "Expected `float"),
        (lambda r, num, cat: r.update({cat: 3}), "data[0].{cat}", "Expected `str"),
    ],
    ids=["string-for-number", "bool-for-number", "number-for-category"],
)
def test_schema_violations_are_422_naming_the_field(
    client, auth, sample, model, mutate, field, fragment
):
    num = next(f.name for f in model.features if f.kind == "numeric" and not f.nullable)
    cat = next(f.name for f in model.features if f.kind == "categorical" and not f.nullable)
    record = dict(sample[0])
    mutate(record, num, cat)
    error = assert_error(post(client, auth, {"data": [record]}), 422, "invalid_input")
    assert error["field"] == field.format(num=num, cat=cat)
    assert fragment in error["message"]


@pytest.mark.parametrize("wrap", ["data", "Inputs"])
def test_a_number_sent_as_text_is_named_with_the_number_to_send(client, auth, sample, model, wrap):
    """msgspec said only "Expected `float | null`, got `str`"; a client converting a CSV sends
    `"1,250"` or `"1e309"`: the message names the text, and the number when one reads."""
    num = next(f.name for f in model.features if f.kind == "numeric" and not f.number_format)
    for text, said in [
        (" 17.5 ", "got the text ' 17.5 '; send it as a JSON number: 17.5"),
        ("1e309", "got the text '1e309'; it is too large for a float32 number"),
        ("inf", "got the text 'inf'"),
        ("12345678901", "send it as a JSON number: 12345678901"),  # not 1.23456789e+10
        ("0.1", "send it as a JSON number: 0.1"),
        ("NA", "got the text 'NA'; send null for a missing value"),
    ]:
        records = [sample[0], dict(sample[0], **{num: text})]
        body = {"data": records} if wrap == "data" else {"Inputs": {"data": records}}
        error = assert_error(post(client, auth, body), 422, "invalid_input")
        assert error["field"].endswith(f"data[1].{num}") and said in error["message"]
        assert error["message"].startswith("expected a number or null")


def test_a_number_sent_as_text_before_deep_nesting_is_still_a_422(client, auth, sample, model):
    # msgspec stops at the text; parsing the body again to name it met the nesting (a 500)
    num = next(f.name for f in model.features if f.kind == "numeric")
    record = json.dumps(dict(sample[0], **{num: "12"}))
    body = '{"data": [' + record[:-1] + ', "deep": ' + "[" * 100_000 + "]" * 100_000 + "}]}"
    resp = client.post(c.SCORING_ROUTE, data=body, headers={**auth, **JSON})
    error = assert_error(resp, 422, "invalid_input")
    assert error["field"] == f"data[0].{num}"


def test_error_names_the_record_index(client, auth, sample, model):
    num = next(f.name for f in model.features if f.kind == "numeric")
    bad = dict(sample[0], **{num: "x"})
    error = assert_error(post(client, auth, {"data": [sample[0], bad]}), 422, "invalid_input")
    assert error["field"] == f"data[1].{num}"


@pytest.mark.parametrize("raw", [b"1e400", b"-1e39"], ids=["inf-in-json", "float32-overflow"])
def test_non_finite_numbers_are_422(client, auth, sample, model, raw):
    num = next(f.name for f in model.features if f.kind == "numeric")
    body = json.dumps({"data": [dict(sample[0], **{num: 0.5})]})
    body = body.replace(f'"{num}": 0.5', f'"{num}": {raw.decode()}')
    resp = client.post(c.SCORING_ROUTE, data=body, headers={**auth, **JSON})
    error = assert_error(resp, 422, "invalid_input")
    assert error["field"] == f"data[0].{num}"


def test_v2_errors_name_the_inputs_path(client, auth, sample, model):
    num = next(f.name for f in model.features if f.kind == "numeric")
    bad = dict(sample[0], **{num: "x"})
    error = assert_error(post(client, auth, {"Inputs": {"data": [bad]}}), 422, "invalid_input")
    assert error["field"] == f"Inputs.data[0].{num}"


def test_empty_batch_is_422(client, auth):
    error = assert_error(post(client, auth, {"data": []}), 422, "invalid_input", "data")
    assert "empty" in error["message"]


def test_batch_over_the_cap_is_422(client, auth, sample, settings):
    records = (sample * settings.max_batch)[: settings.max_batch + 1]
    error = assert_error(post(client, auth, {"data": records}), 422, "invalid_input", "data")
    assert str(settings.max_batch) in error["message"]


def test_batch_at_the_cap_is_scored(client, auth, sample, settings):
    records = (sample * settings.max_batch)[: settings.max_batch]
    body = post(client, auth, {"data": records}).get_json()
    assert len(body["predictions"]) == settings.max_batch


@pytest.mark.parametrize("payload", [{}, {"records": []}, [], {"data": {}}], ids=str)
def test_payload_without_a_record_list_is_422(client, auth, payload):
    assert_error(post(client, auth, payload), 422, "invalid_input")


def test_model_failure_is_500_with_request_id_and_no_trace(
    client, auth, sample, model, monkeypatch
):
    def broken(matrix):
        raise RuntimeError("onnxruntime exploded at /secret/path.py line 42")

    monkeypatch.setattr(model, "predict_proba", broken)
    resp = post(client, auth, {"data": sample[:1]})
    error = assert_error(resp, 500, "model_error")
    text = resp.get_data(as_text=True)
    assert "Traceback" not in text and "secret" not in text and "exploded" not in text
    assert error["request_id"]


def test_unexpected_error_is_500_without_trace(client, auth, sample, monkeypatch):
    state = client.application.extensions["amlstack"]

    def broken(records, prefix="data"):
        raise KeyError("internal detail")

    monkeypatch.setattr(state.schema, "encode", broken)
    resp = post(client, auth, {"data": sample[:1]})
    assert_error(resp, 500, "internal_error")
    assert "internal detail" not in resp.get_data(as_text=True)


def test_request_id_is_honoured_and_returned(client, auth, sample):
    resp = client.post(
        c.SCORING_ROUTE,
        data=json.dumps({"data": sample[:1]}),
        headers={**auth, **JSON, "X-Request-ID": "abc-123"},
    )
    assert resp.headers["X-Request-ID"] == "abc-123"


def test_unsafe_request_id_is_replaced(client):
    unsafe = "bad id <script>" + "x" * 200
    resp = client.get(c.LIVENESS_ROUTE, headers={"X-Request-ID": unsafe})
    assert resp.headers["X-Request-ID"] != unsafe
    assert resp.headers["X-Request-ID"]


def test_metrics_count_requests_records_and_classes(client, auth, sample, model):
    post(client, auth, {"data": sample[:3]})
    text = client.get(c.METRICS_ROUTE, headers=auth).get_data(as_text=True)
    assert 'amlstack_requests_total{method="POST",route="/score",status="200"} 1.0' in text
    assert "amlstack_records_scored_total 3.0" in text
    assert "amlstack_request_duration_seconds_bucket" in text
    assert f'amlstack_model_info{{name="{model.name}",version="{model.version}"}} 1.0' in text
    labelled = sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("amlstack_predictions_total{")
    )
    assert labelled == 3.0


def test_cors_preflight_for_the_swagger_ui_origin(client):
    resp = client.options(
        c.SCORING_ROUTE,
        headers={
            "Origin": "http://localhost:8080",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert resp.status_code == 204
    assert resp.headers["Access-Control-Allow-Origin"] == "http://localhost:8080"
    assert "Authorization" in resp.headers["Access-Control-Allow-Headers"]
    assert "POST" in resp.headers["Access-Control-Allow-Methods"]


def test_cors_refuses_other_origins(client, auth, sample):
    evil = {"Origin": "http://evil.example"}
    preflight = client.options(
        c.SCORING_ROUTE, headers={**evil, "Access-Control-Request-Method": "POST"}
    )
    assert "Access-Control-Allow-Origin" not in preflight.headers
    resp = post(client, {**auth, **evil}, {"data": sample[:1]})
    assert "Access-Control-Allow-Origin" not in resp.headers


def test_cors_on_actual_response(client, auth, sample):
    resp = post(client, {**auth, "Origin": "http://127.0.0.1:8080"}, {"data": sample[:1]})
    assert resp.headers["Access-Control-Allow-Origin"] == "http://127.0.0.1:8080"


def test_observers_see_the_encoded_matrix(settings, model, auth, sample):
    seen = []
    app = create_app(settings, model, observers=[lambda m, n: seen.append((m.shape, n))])
    post(app.test_client(), auth, {"data": sample[:2]})
    assert seen == [((2, len(model.features)), 2)]


def test_a_failing_observer_does_not_fail_scoring(settings, model, auth, sample):
    def broken(matrix, count):
        raise ValueError("drift bug")

    app = create_app(settings, model, observers=[broken])
    assert post(app.test_client(), auth, {"data": sample[:1]}).status_code == 200


def test_swagger_uses_the_request_host_and_a_trusted_proxys_forwarded_scheme(client, model):
    doc = client.get(c.SWAGGER_ROUTE, headers={"Host": "localhost:5001"}).get_json()
    assert doc["host"] == "localhost:5001" and doc["schemes"] == ["http"]
    # The test client's requests come from 127.0.0.1: here, the configured proxy.
    proxied = make_settings(trusted_proxies=(ipaddress.ip_network("127.0.0.1/32"),))
    fwd = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "example.azureml.net"}
    doc3 = create_app(proxied, model).test_client().get(c.SWAGGER_ROUTE + "?version=3", headers=fwd)
    assert doc3.get_json()["servers"] == [{"url": "https://example.azureml.net/"}]


def test_swagger_bad_version_is_400(client):
    assert_error(client.get(c.SWAGGER_ROUTE + "?version=9"), 400, "bad_request", "version")


def test_access_log_has_one_json_line_per_request(settings, model, auth, sample, capsys):
    client = create_app(settings, model).test_client()
    capsys.readouterr()
    client.post(
        c.SCORING_ROUTE,
        data=json.dumps({"data": sample[:2]}),
        headers={**auth, **JSON, "X-Request-ID": "req-42"},
    )
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.strip()]
    access = [x for x in lines if x.get("logger") == "amlstack.access"]
    assert len(access) == 1
    entry = access[0]
    assert entry["request_id"] == "req-42"
    assert (entry["method"], entry["route"], entry["status"], entry["batch_size"]) == (
        "POST",
        "/score",
        200,
        2,
    )
    assert entry["latency_ms"] >= 0


@pytest.mark.parametrize(
    "record", [{}, {"agee": 57, "jobb": "technician"}], ids=["empty", "misspelt"]
)
def test_a_record_with_none_of_the_models_fields_is_refused(client, auth, sample, record):
    """Every field imputed would answer with a guess: a 422 naming the record."""
    resp = client.post(c.SCORING_ROUTE, json={"data": [sample[0], record]}, headers=auth)
    assert resp.status_code == 422
    error = resp.get_json()["error"]
    assert error["field"] == "data[1]" and "none of the model's fields" in error["message"]


@pytest.mark.parametrize("wrap", ["data", "Inputs"])
@pytest.mark.parametrize("spelt", [str.upper, lambda name: f" {name} "], ids=["case", "blanks"])
def test_a_field_named_in_another_case_or_with_blanks_is_refused_naming_both(
    client, auth, sample, wrap, spelt
):
    """`AGE` for `age` was read as an absent field and imputed, without a word (predict,
    text/csv and V2 refuse such a column); an extra key that names no field is still ignored."""
    name = next(iter(sample[0]))
    record = {(spelt(k) if k == name else k): v for k, v in sample[0].items()}
    records = [sample[0], record]
    body = {"data": records} if wrap == "data" else {"Inputs": {"data": records}}
    resp = client.post(c.SCORING_ROUTE, json=body, headers=auth)
    assert resp.status_code == 422
    error = resp.get_json()["error"]
    prefix = "data" if wrap == "data" else "Inputs.data"
    assert error["field"] == f"{prefix}[1].{spelt(name)}"
    assert f"{spelt(name)!r} is not a field of the model; {name!r} is" in error["message"]
    extra = {**sample[0], "customer_id": 7, spelt(name): 1}  # the field itself is there
    assert client.post(c.SCORING_ROUTE, json={"data": [extra]}, headers=auth).status_code == 200


def test_a_record_with_every_key_upper_cased_gets_the_case_hint(client, auth, sample):
    # as Snowflake and Oracle exports write names: "none of the model's fields" said less
    shouting = {k.upper(): v for k, v in sample[0].items()}
    resp = client.post(c.SCORING_ROUTE, json={"data": [sample[0], shouting]}, headers=auth)
    error = assert_error(resp, 422, "invalid_input")
    first = next(iter(sample[0]))
    assert error["field"] == f"data[1].{first.upper()}"
    assert f"{first.upper()!r} is not a field of the model; {first!r} is" in error["message"]


@pytest.mark.parametrize("wrap", ["data", "Inputs"])
def test_a_record_naming_every_field_as_null_is_scored_as_an_empty_csv_row(
    client, auth, sample, wrap
):
    """Every field present and null is a row whose cells are all missing (the UI sends a
    file's empty row so): predict and text/csv score it, and so does /score."""
    nulls = dict.fromkeys(sample[0])
    body = {"data": [sample[0], nulls]}
    resp = client.post(
        c.SCORING_ROUTE, json=body if wrap == "data" else {"Inputs": body}, headers=auth
    )
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert len(resp.get_json()["predictions"]) == 2


@pytest.mark.parametrize(
    ("body", "headers", "status", "says"),
    [
        (b"\xef\xbb\xbf{}", {}, 400, "byte-order mark"),
        (b'{"data": [{"age": NaN}]}', {}, 400, "send null for a missing value"),
        ('{"data": []}'.encode("utf-16"), {}, 400, "UTF-16"),
        (b'{"data": []}', {"Content-Encoding": "gzip"}, 415, "Content-Encoding 'gzip'"),
    ],
    ids=["bom", "nan", "utf-16", "gzip"],
)
def test_a_body_in_another_encoding_is_named(client, auth, body, headers, status, says):
    resp = client.post(
        c.SCORING_ROUTE, data=body, headers={**auth, **headers}, content_type="application/json"
    )
    assert resp.status_code == status and says in resp.get_json()["error"]["message"]


def test_a_global_parameters_object_too_large_to_be_parameters_is_a_422(client, auth, sample):
    """A final answer: a retryable 503 after the worker spent seconds on it could never succeed."""
    params = {f"p{i}": {"x": i} for i in range(200)}
    body = {"data": sample[:1], "GlobalParameters": params}
    resp = client.post(c.SCORING_ROUTE, json=body, headers=auth)
    assert resp.status_code == 422 and resp.get_json()["error"]["field"] == "GlobalParameters"

"""A key given twice in one object is refused with a 422 naming it, not silently last-wins."""

from __future__ import annotations

import json

import pytest


def _post(client, auth, body: str):
    return client.post("/score", data=body, headers={**auth, "Content-Type": "application/json"})


def _record(sample) -> str:
    return json.dumps(sample[0])


def _twice(record: str, key: str, first: str) -> str:
    """``record`` with ``key`` written once more, first, with the value ``first``."""
    return record.replace("{", f'{{"{key}": {first}, ', 1)


@pytest.mark.parametrize(
    ("template", "field"),
    [
        ('{"data": [%s]}', "data[0].%s"),
        ('{"data": [%s, %s]}', "data[0].%s"),
        ('{"Inputs": {"data": [%s]}}', "Inputs.data[0].%s"),
        ('{"Inputs": {"data": [%s]}, "GlobalParameters": {}}', "Inputs.data[0].%s"),
    ],
    ids=["v1", "v1 batch", "automl v2", "automl v2 with parameters"],
)
def test_a_repeated_feature_is_refused_naming_it(client, auth, sample, model, template, field):
    name = next(f for f in model.features if f.kind == "numeric").name
    bad = _twice(_record(sample), name, "0")
    body = template % ((bad,) * template.count("%s"))
    resp = _post(client, auth, body)
    assert resp.status_code == 422, resp.get_json()
    error = resp.get_json()["error"]
    assert error["code"] == "invalid_input"
    assert error["field"] == field % name
    assert name in error["message"] and "more than once" in error["message"]


def test_a_repeated_key_in_global_parameters_is_refused(client, auth, sample):
    body = '{"Inputs": {"data": [%s]}, "GlobalParameters": {"explain": false, "explain": true}}'
    resp = _post(client, auth, body % _record(sample))
    assert resp.status_code == 422
    assert resp.get_json()["error"]["field"] == "GlobalParameters.explain"


def test_a_repeated_top_level_key_is_refused(client, auth, sample):
    record = _record(sample)
    resp = _post(client, auth, f'{{"data": [{record}], "data": [{record}, {record}]}}')
    assert resp.status_code == 422
    assert resp.get_json()["error"]["field"] == "data"


def test_blanks_before_the_colon_do_not_hide_a_repeated_key(client, auth, sample, model):
    name = model.features[0].name
    spaced = _twice(_record(sample), name, "null").replace('":', '"\n  :')
    resp = _post(client, auth, f'{{"data" : [{spaced}]}}')
    assert resp.status_code == 422
    assert resp.get_json()["error"]["field"] == f"data[0].{name}"


@pytest.mark.parametrize(
    "body",
    [
        '{"data": [%s]}',
        '{"data" :\t[%s]}',
        '{"data": [%s], "GlobalParameters": {"note": "a\\":b", "nested": {"x": [1, {"y": 2}]}}}',
        '{"Inputs": {"data": [%s], "other": 1}, "GlobalParameters": {}}',
    ],
    ids=["plain", "blanks", "colon inside a string", "an extra key"],
)
def test_bodies_without_repeated_keys_still_score(client, auth, sample, body):
    record = json.loads(_record(sample))
    record["not_a_feature"] = {"a": 1}  # unknown keys are ignored, as before
    resp = _post(client, auth, body % json.dumps(record))
    assert resp.status_code == 200, resp.get_json()


def test_the_same_key_in_two_records_is_fine(client, auth, sample):
    resp = _post(client, auth, json.dumps({"data": sample[:2] * 3}))
    assert resp.status_code == 200

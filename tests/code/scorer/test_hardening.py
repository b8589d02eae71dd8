"""Faults found under attack (issue 13), each answered as a client error, never a 500."""

from __future__ import annotations

import json
import os
import re

import numpy as np

from amlstack_scorer.validation import nesting_depth


def test_deeply_nested_json_is_a_400_naming_the_depth(client, auth, sample):
    deep = "[" * 976 + "]" * 976
    record = json.dumps(sample[0])[:-1] + f', "unknown": {deep}}}'
    for body in (
        f'{{"data": [{record}]}}',
        json.dumps({"data": sample[:1]})[:-1] + f', "GlobalParameters": {{"x": {deep}}}}}',
    ):
        headers = {**auth, "Content-Type": "application/json"}
        resp = client.post("/score", data=body, headers=headers)
        assert resp.status_code == 400, resp.get_data(as_text=True)[:200]
        assert "nested 97" in resp.get_json()["error"]["message"]


def test_nesting_depth_skips_brackets_in_strings():
    assert nesting_depth(b'{"a": ["[[[", {"b": []}]}') == 4
    assert nesting_depth(b'"\\"[["') == 0


def test_method_labels_are_a_closed_set(client, auth):
    for _ in range(30):
        client.open("/nope", method=os.urandom(6).hex().upper())
    text = client.get("/metrics", headers=auth).get_data(as_text=True)
    methods = set(re.findall(r'^amlstack_requests_total\{[^}]*method="([^"]*)"', text, re.M))
    assert "other" in methods
    assert len(methods) <= 8


def test_scores_and_errors_are_not_sniffed_or_cached(client, auth, sample):
    ok = client.post("/score", json={"data": sample[:1]}, headers=auth)
    error = client.post("/score", json={"data": []}, headers=auth)
    flask_route = client.get("/nope")
    for resp in (ok, error, flask_route):
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        assert resp.headers["Cache-Control"] == "no-store"


def test_request_ids_do_not_carry_the_pid(client):
    request_id = client.get("/").headers["X-Request-ID"]
    assert not request_id.startswith(f"{os.getpid():x}-")
    assert len(request_id) >= 16


def test_numbers_at_float32_limits_get_finite_probabilities(client, auth, sample, model):
    """A fuzzer's record: -3.4e38 in one column and 3.4e38 in another met as inf - inf in the
    logistic member: 200 with null probabilities. Numbers are held to the training range."""
    numeric = [f.name for f in model.features if f.kind == "numeric"]
    limit = float(np.finfo(np.float32).max)
    record = dict(sample[0], **{n: limit * (-1) ** i for i, n in enumerate(numeric)})
    resp = client.post("/score", json={"data": [record, sample[0]]}, headers=auth)
    assert resp.status_code == 200, resp.get_data(as_text=True)[:200]
    probabilities = resp.get_json()["probabilities"]
    assert all(np.isfinite(p) for row in probabilities for p in row.values())

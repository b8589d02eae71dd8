"""/profile (the served model's training profile), the threshold in answers, forwarded headers."""

from __future__ import annotations

import json
import shutil

import pytest
from scorer_support import make_settings

from amlstack.artifact.manifest import manifest_for
from amlstack.artifact.names import PROFILE_FILE
from amlstack.artifact.reader import Model
from amlstack_scorer import contract as c
from amlstack_scorer.app import create_app
from amlstack_scorer.settings import Settings, SettingsError


@pytest.fixture(scope="module")
def profiled(golden_artifact, tmp_path_factory) -> Model:
    """The golden artifact plus a profile.json (re-manifested), as `amlstack train` writes one."""
    folder = tmp_path_factory.mktemp("profiled") / "artifact"
    shutil.copytree(golden_artifact, folder)
    model = Model(folder)
    numeric = next(f for f in model.features if f.kind == "numeric" and f.dtype == "float")
    categorical = next(f for f in model.features if f.kind == "categorical")
    counts = [1] * len(categorical.categories)
    counts[-1] = 50  # the most frequent category is the last one
    profile = {
        "format": "amlstack-profile",
        "format_version": 1,
        "rows": 50,
        "features": {
            numeric.name: {"kind": "numeric", "edges": [], "counts": [50],
                           "quantiles": {"0.5": 93.91799999999999}},
            categorical.name: {"kind": "categorical", "categories": list(categorical.categories),
                               "counts": counts},
        },
    }  # fmt: skip
    (folder / PROFILE_FILE).write_text(json.dumps(profile))
    (folder / "MANIFEST.json").write_text(json.dumps(manifest_for(folder)))
    return Model(folder)


def test_profile_is_served_behind_the_key(profiled, auth):
    client = create_app(make_settings(), profiled).test_client()
    assert client.get(c.PROFILE_ROUTE).status_code == 401
    resp = client.get(c.PROFILE_ROUTE, headers=auth)
    assert resp.status_code == 200
    assert resp.get_json() == json.loads((profiled.directory / PROFILE_FILE).read_text())


def test_an_artifact_without_a_profile_answers_404(golden_artifact, auth):
    client = create_app(make_settings(), Model(golden_artifact)).test_client()
    resp = client.get(c.PROFILE_ROUTE, headers=auth)
    assert resp.status_code == 404
    assert resp.get_json()["error"]["code"] == "not_found"


def test_the_answer_states_the_threshold(client, auth, sample, model):
    body = client.post(c.SCORING_ROUTE, json={"data": sample[:1]}, headers=auth).get_json()
    if len(model.classes) == 2:
        assert body["threshold"] == model.threshold
    else:
        assert "threshold" not in body


def test_the_200_example_is_the_models_answer_to_the_typical_record(profiled, auth):
    client = create_app(make_settings(), profiled).test_client()
    doc = client.get(c.SWAGGER_ROUTE).get_json()
    fields = doc["definitions"]["InputRecord"]["properties"]
    record = {name: spec["example"] for name, spec in fields.items()}
    profile = json.loads((profiled.directory / PROFILE_FILE).read_text())["features"]
    numeric, categorical = list(profile)
    assert record[numeric] == 93.918  # the profile's median, without float noise
    assert record[categorical] == profile[categorical]["categories"][-1]  # the most frequent
    answer = client.post(c.SCORING_ROUTE, json={"data": [record]}, headers=auth).get_json()
    example = doc["paths"][c.SCORING_ROUTE]["post"]["responses"]["200"]["examples"]
    assert example["application/json"] == answer
    v3 = client.get(c.SWAGGER_ROUTE + "?version=3").get_json()
    ok = v3["paths"][c.SCORING_ROUTE]["post"]["responses"]["200"]["content"]["application/json"]
    assert ok["example"] == answer


def _spec_host(client, headers, **environ) -> tuple[str, str, str]:
    v2 = client.get(c.SWAGGER_ROUTE, headers=headers, environ_base=environ).get_json()
    v3 = client.get(c.SWAGGER_ROUTE + "?version=3", headers=headers, environ_base=environ)
    return v2["host"], v2["schemes"][0], v3.get_json()["servers"][0]["url"]


FORWARDED = {"X-Forwarded-Host": "attacker.example", "X-Forwarded-Proto": "https"}


def test_forwarded_headers_from_any_client_are_ignored(model):
    """Issue 13 item 9: anyone could write their host into swagger.json's host and servers."""
    client = create_app(make_settings(), model).test_client()
    host, scheme, server = _spec_host(client, {**FORWARDED, "Host": "scorer:5001"})
    assert (host, scheme, server) == ("scorer:5001", "http", "http://scorer:5001/")


def test_forwarded_headers_from_a_trusted_proxy_are_used(model):
    settings = Settings.from_env(
        {"AMLSTACK_TRUSTED_PROXIES": "10.0.0.0/8, 192.0.2.7", "AMLSTACK_AUTH": "none"}
    )
    client = create_app(settings, model).test_client()
    trusted = _spec_host(client, FORWARDED, REMOTE_ADDR="10.1.2.3")
    assert trusted == ("attacker.example", "https", "https://attacker.example/")
    other = _spec_host(client, {**FORWARDED, "Host": "scorer:5001"}, REMOTE_ADDR="192.0.2.8")
    assert other[0] == "scorer:5001"


def test_a_bad_trusted_proxy_list_names_the_variable():
    with pytest.raises(SettingsError, match=r"^AMLSTACK_TRUSTED_PROXIES: "):
        Settings.from_env({"AMLSTACK_TRUSTED_PROXIES": "10.0.0.0/8,not-an-ip"})

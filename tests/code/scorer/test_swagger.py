"""swagger.json (2.0) and ?version=3 (OpenAPI 3): golden files and spec validation.

Regenerate the golden files after an intended change with
    AMLSTACK_REGEN_GOLDEN=1 pytest tests/code/scorer/test_swagger.py
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from openapi_spec_validator import validate
from scorer_support import make_settings

from amlstack.artifact.reader import Model
from amlstack_scorer import contract as c
from amlstack_scorer.app import create_app

GOLDEN = Path(__file__).parent / "golden"
FILES = {2: "swagger2.json", 3: "openapi3.json"}


def normalise(doc: dict) -> dict:
    """Blank the fields that depend on where the request came from."""
    doc = dict(doc)
    if "host" in doc:
        doc["host"] = "scorer.invalid"
        doc["schemes"] = ["http"]
    if "servers" in doc:
        doc["servers"] = [{"url": "http://scorer.invalid/"}]
    return doc


@pytest.fixture(scope="module")
def golden_client(golden_artifact):
    return create_app(make_settings(max_batch=1000), Model(golden_artifact)).test_client()


def fetch(client, version: int) -> dict:
    resp = client.get(c.SWAGGER_ROUTE + ("?version=3" if version == 3 else ""))
    assert resp.status_code == 200
    return resp.get_json()


@pytest.mark.parametrize("version", [2, 3])
def test_swagger_matches_the_golden_file(golden_client, version):
    doc = normalise(fetch(golden_client, version))
    path = GOLDEN / FILES[version]
    if os.environ.get("AMLSTACK_REGEN_GOLDEN"):
        path.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
    assert doc == json.loads(path.read_text())


@pytest.mark.parametrize("version", [2, 3])
def test_golden_files_are_valid_specs(version):
    validate(json.loads((GOLDEN / FILES[version]).read_text()))


@pytest.mark.parametrize("version", [2, 3])
def test_served_spec_is_valid_for_any_artifact(client, version):
    validate(fetch(client, version))


def test_swagger_documents_every_feature_with_type_categories_and_example(client, model):
    doc = fetch(client, 2)
    record = doc["definitions"]["InputRecord"]
    assert set(record["properties"]) == set(model.feature_names)
    for feature in model.features:
        spec = record["properties"][feature.name]
        if feature.kind == "categorical":
            assert spec["type"] == "string"
            assert spec["enum"] == list(feature.categories)
        else:
            assert spec["type"] == "number"
    assert record["example"] == model.sample_input()[0]


def test_swagger_states_the_batch_cap_and_the_key_scheme(client, settings):
    doc = fetch(client, 2)
    data = doc["definitions"]["ServiceInput"]["properties"]["data"]
    assert data["maxItems"] == settings.max_batch
    assert doc["securityDefinitions"]["Bearer"] == {
        "type": "apiKey",
        "name": "Authorization",
        "in": "header",
        "description": doc["securityDefinitions"]["Bearer"]["description"],
    }
    assert "Bearer" in doc["securityDefinitions"]["Bearer"]["description"]
    assert doc["paths"][c.SCORING_ROUTE]["post"]["security"] == [{"Bearer": []}]

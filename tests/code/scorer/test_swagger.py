"""swagger.json (2.0) and ?version=3 (OpenAPI 3): golden files and spec validation.

Regenerate the golden files after an intended change with
    AMLSTACK_REGEN_GOLDEN=1 pytest tests/code/scorer/test_swagger.py
"""

from __future__ import annotations

import copy
import json
import os
import re
from pathlib import Path

import numpy as np
import pytest
from openapi_spec_validator import validate
from scorer_support import make_settings

from amlstack.artifact.encoding import FLOAT32_MAX
from amlstack.artifact.reader import Model
from amlstack_scorer import contract as c
from amlstack_scorer.app import create_app
from amlstack_scorer.swagger import KEY_HELP

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
            # Unseen categories are accepted (scored as unknown), so an enum would be wrong.
            assert "enum" not in spec
            assert spec["x-training-categories"] == list(feature.categories)
            assert spec["example"] in feature.categories
        else:
            assert spec["type"] == "number"
            assert (spec["minimum"], spec["maximum"]) == (-FLOAT32_MAX, FLOAT32_MAX)


def test_examples_are_synthetic_never_a_real_row(client, model):
    """The unauthenticated spec embedded real held-out customer rows (issue 13, item 13)."""
    doc = fetch(client, 2)
    text = json.dumps(doc)
    record = {
        name: spec["example"]
        for name, spec in doc["definitions"]["InputRecord"]["properties"].items()
    }
    rows = model.sample_input()
    assert rows and record not in rows
    for row in rows:
        assert json.dumps(row) not in text


def test_no_object_examples_for_the_model_panel(client):
    """Swagger UI showed an object-level example as `example: OrderedMap {…}`."""
    for version, key in ((2, "definitions"), (3, "components")):
        doc = fetch(client, version)
        schemas = doc[key] if version == 2 else doc[key]["schemas"]
        assert [name for name, schema in schemas.items() if "example" in schema] == []


def test_numbers_are_written_without_float_noise(client):
    text = json.dumps(fetch(client, 2))
    assert not re.search(r"\d\.\d*(9{6,}|0{6,})\d", text), re.findall(
        r"[\d.]*(?:9{6,}|0{6,})\d*", text
    )


def test_key_help_survives_markdown():
    """Swagger UI renders descriptions as Markdown: a bare <key> was swallowed as an HTML tag."""
    assert "`Bearer <key>`" in KEY_HELP


def test_the_decision_threshold_is_stated(client, model):
    doc = fetch(client, 2)
    if len(model.classes) != 2:
        pytest.skip("multiclass: no threshold")
    shown = f"{float(np.float32(model.threshold)):g}"
    assert shown in doc["info"]["description"]
    output = doc["definitions"]["ServiceOutput"]
    assert "threshold" in output["required"]
    assert shown in output["properties"]["threshold"]["description"]


def test_the_threshold_shown_is_the_float32_the_model_uses_rounded_once():
    from types import SimpleNamespace

    from amlstack_scorer.swagger import threshold_text

    # float32(0.3298575) is 0.32985749...: six digits are 0.329857 (0.329858 rounds twice)
    model = SimpleNamespace(classes=["no", "yes"], threshold=0.3298575)
    assert "at least 0.329857 (" in threshold_text(model)


def test_probe_routes_say_they_answer_text(client):
    paths = fetch(client, 2)["paths"]
    assert paths[c.LIVENESS_ROUTE]["get"]["produces"] == ["text/plain"]
    assert paths[c.READINESS_ROUTE]["get"]["produces"] == ["text/plain", "application/json"]


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


V2_PATHS = (
    "/v2",
    "/v2/health/live",
    "/v2/health/ready",
    "/v2/models/{name}",
    "/v2/models/{name}/ready",
    "/v2/models/{name}/infer",
    "/v2/models/{name}/versions/{version}",
    "/v2/models/{name}/versions/{version}/ready",
    "/v2/models/{name}/versions/{version}/infer",
)


def test_score_documents_text_csv_in_both_versions(client):
    v2 = fetch(client, 2)["paths"][c.SCORING_ROUTE]["post"]
    assert v2["consumes"] == ["application/json", "text/csv"]
    assert v2["produces"] == ["application/json", "text/csv"]
    assert "text/csv" in v2["responses"]["200"]["examples"]
    assert c.MODEL_VERSION_HEADER in v2["responses"]["200"]["headers"]
    v3 = fetch(client, 3)["paths"][c.SCORING_ROUTE]["post"]
    assert set(v3["requestBody"]["content"]) == {"application/json", "text/csv"}
    ok = v3["responses"]["200"]
    assert set(ok["content"]) == {"application/json", "text/csv"}
    assert ok["content"]["text/csv"]["example"].startswith("probability_")
    assert "explain" in v3["description"] and "422" in v3["description"]


@pytest.mark.parametrize("version", [2, 3])
def test_v2_routes_are_documented_with_the_protocol_error_body(client, version):
    doc = fetch(client, version)
    assert all(path in doc["paths"] for path in V2_PATHS)
    infer = doc["paths"]["/v2/models/{name}/infer"]["post"]
    schemas = doc["definitions"] if version == 2 else doc["components"]["schemas"]
    assert schemas["V2Error"]["properties"] == {"error": {"type": "string"}}
    assert infer["security"] == [{"Bearer": []}]
    assert {"400", "401", "404", "413", "422", "503"} <= set(infer["responses"])


@pytest.mark.parametrize("version", [2, 3])
def test_a_columns_number_format_is_stated_for_clients_that_read_cells(model, version):
    """The UI reads an uploaded `1,035.70` as training read its column: the spec says how."""
    from dataclasses import replace

    from amlstack_scorer.swagger import SwaggerDocs

    formatted = copy.copy(model)
    formatted.features = [
        replace(f, number_format="thousands", missing_words=frozenset({"other"}))
        if f.name == "duration"
        else f
        for f in model.features
    ]
    doc = SwaggerDocs(formatted, 10).for_request(version, "http", "scorer.invalid")
    validate(doc)
    schemas = doc["definitions"] if version == 2 else doc["components"]["schemas"]
    fields = schemas["InputRecord"]["properties"]
    assert fields["duration"]["x-number-format"] == "thousands"
    assert "thousands separators (1,234.5)" in fields["duration"]["description"]
    assert fields["duration"]["type"] == "number"  # JSON clients still send numbers
    assert fields["duration"]["x-missing-words"] == ["other"]  # the UI sends null for it
    assert [n for n, spec in fields.items() if "x-number-format" in spec] == ["duration"]


def test_a_columns_unit_is_stated_for_clients_that_read_cells(model):
    from dataclasses import replace

    from amlstack_scorer.swagger import SwaggerDocs

    with_unit = copy.copy(model)
    with_unit.features = [
        replace(f, number_format="unit", unit="lb") if f.name == "duration" else f
        for f in model.features
    ]
    doc = SwaggerDocs(with_unit, 10).for_request(3, "http", "scorer.invalid")
    validate(doc)
    duration = doc["components"]["schemas"]["InputRecord"]["properties"]["duration"]
    assert (duration["x-number-format"], duration["x-unit"]) == ("unit", "lb")
    assert "with the unit 'lb' after each number (5 lb)" in duration["description"]


def test_the_csv_example_is_written_as_training_read_each_column():
    """A decimal-comma model's example had decimal points: the scorer refused its own example."""
    from types import SimpleNamespace

    from amlstack.artifact.encoding import Feature
    from amlstack.artifact.schema import FeatureSpec
    from amlstack.artifact.table import encode_text_columns, read_text
    from amlstack_scorer.swagger import csv_example

    features = [
        Feature.from_spec(
            FeatureSpec(name="Betrag", kind="numeric", number_format="decimal_comma")
        ),
        Feature.from_spec(FeatureSpec(name="ab", kind="numeric", number_format="time")),
        Feature.from_spec(FeatureSpec(name="Land", kind="categorical", categories=["CH; DE"])),
    ]
    model = SimpleNamespace(features=features, feature_names=[f.name for f in features])
    record = {"Betrag": 2392.08, "ab": 7.5, "Land": "CH; DE"}
    request, _ = csv_example(model, record, None)
    assert request.splitlines()[1] == '2392,08;07:30;"CH; DE"'
    columns, rows, delimiter = read_text(request, features)
    matrix = encode_text_columns(features, columns).matrix
    assert (rows, delimiter) == (1, ";") and matrix[0].tolist() == [np.float32(2392.08), 7.5, 0.0]

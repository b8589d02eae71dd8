"""Explanations: contributions plus the base value reconstruct the explained probability."""

from __future__ import annotations

import json

import numpy as np
import pytest

from amlstack_scorer.errors import InvalidInput
from amlstack_scorer.explain import TOLERANCE, Explainer, explained_classes, requested


@pytest.fixture(scope="module")
def rows(scorer_artifact, model):
    import csv

    from scorer_artifact_factory import DATA  # the shipped CSV, read as the clients send it

    with DATA.open(newline="") as handle:
        records = [r for _, r in zip(range(60), csv.DictReader(handle), strict=False)]
    for r in records:
        for f in model.features:
            if f.kind == "numeric":
                r[f.name] = float(r[f.name])
    return model.encode_records(records)


def test_contributions_and_base_reconstruct_the_probability(model, rows):
    explainer = Explainer(model, rows[:16], seed=1)
    records = rows[30:40]
    proba = model.predict_proba(records)
    positive = [1] * len(records)
    for r, found in enumerate(explainer.explain(records, positive)):
        total = found["base"] + sum(found["contributions"].values())
        assert abs(total - float(proba[r, 1])) <= TOLERANCE
        assert abs(found["score"] - float(proba[r, 1])) <= TOLERANCE
        assert list(found["contributions"]) == model.feature_names


def test_a_feature_equal_to_the_background_everywhere_contributes_nothing(model, rows):
    background = np.repeat(rows[:1], 4, axis=0)
    record = rows[1:2].copy()
    changed = [i for i in range(record.shape[1]) if record[0, i] != background[0, i]]
    same = [i for i in range(record.shape[1]) if i not in changed]
    found = Explainer(model, background).explain(record, [1])[0]["contributions"]
    assert same, "the two rows differ in every feature; pick another pair"
    for i in same:
        assert found[model.feature_names[i]] == 0.0


def test_explaining_the_background_row_itself_gives_zeros(model, rows):
    found = Explainer(model, rows[:1]).explain(rows[:1], [0])[0]
    assert all(v == 0.0 for v in found["contributions"].values())
    assert found["base"] == pytest.approx(found["score"])


def test_the_background_must_match_the_model(model, rows):
    with pytest.raises(ValueError, match="columns"):
        Explainer(model, rows[:4, :3])
    assert json.dumps(Explainer(model, rows[:2]).explain(rows[:1], [1]))  # JSON-ready


@pytest.mark.parametrize(
    ("query", "params", "wanted"),
    [
        ("explain=true", None, True),
        ("explain=1", {}, True),
        ("explain=false", {}, False),
        ("", {"explain": True}, True),
        ("", {"explain": "true"}, True),
        ("", {"explain": False}, False),
        ("verbose=1", {"other": 1}, False),
    ],
)
def test_explanations_are_asked_for_by_query_or_global_parameters(query, params, wanted):
    assert requested(query, params) is wanted


@pytest.mark.parametrize("query", ["explain=2.5", "explain=", "explain=maybe", "explain=truee"])
def test_an_explain_value_the_documents_do_not_list_is_refused(query):
    """The documents list the values ?explain= takes; anything else is a 422 naming it."""
    with pytest.raises(InvalidInput, match="explain must be one of") as info:
        requested(query, None)
    assert info.value.field == "explain"


@pytest.mark.parametrize("value", [1, "maybe", [True], {"a": 1}])
def test_a_global_parameters_explain_it_cannot_read_is_refused_as_the_query_is(value):
    with pytest.raises(InvalidInput, match="explain must be one of") as info:
        requested("", {"explain": value})
    assert info.value.field == "GlobalParameters.explain"


@pytest.mark.parametrize("value", ["TRUE", "Yes", " true "])
def test_explain_is_read_in_any_case(value):
    assert requested(f"explain={value.strip()}", None) and requested("", {"explain": value})


def test_binary_models_explain_the_positive_class_others_the_predicted_one():
    assert explained_classes(2, [0, 1, 0]) == [1, 1, 1]
    assert explained_classes(3, [2, 0]) == [2, 0]


def _with_background(tmp_path, artifact, records):
    import shutil

    from amlstack.artifact.manifest import manifest_for
    from amlstack.artifact.names import BACKGROUND_JSON

    folder = tmp_path / "artifact"
    shutil.copytree(artifact, folder)
    (folder / BACKGROUND_JSON).write_text(json.dumps({"data": records}))
    (folder / "MANIFEST.json").write_text(json.dumps(manifest_for(folder)))
    return folder


def test_score_with_explain_true_answers_contributions_per_record(
    tmp_path, golden_artifact, settings, auth, sample
):
    from amlstack.artifact.reader import Model
    from amlstack_scorer.app import create_app

    client = create_app(settings, Model(_with_background(tmp_path, golden_artifact, sample)))
    client = client.test_client()
    body = client.post("/score?explain=true", json={"data": sample[:2]}, headers=auth).get_json()
    assert len(body["explanations"]) == 2
    for found, proba in zip(body["explanations"], body["probabilities"], strict=True):
        total = found["base"] + sum(found["contributions"].values())
        assert abs(total - proba["yes"]) <= TOLERANCE
    v2 = {"Inputs": {"data": sample[:2]}, "GlobalParameters": {"explain": True}}
    by_flag = client.post("/score", json=v2, headers=auth).get_json()
    assert by_flag["explanations"] == body["explanations"]
    plain = client.post("/score", json={"data": sample[:2]}, headers=auth).get_json()
    assert "explanations" not in plain
    assert plain["probabilities"] == body["probabilities"]


def test_explain_on_a_model_without_background_is_a_422_naming_explain(
    golden_artifact, settings, auth, sample
):
    from amlstack.artifact.reader import Model
    from amlstack_scorer.app import create_app

    client = create_app(settings, Model(golden_artifact)).test_client()  # no background.json
    response = client.post("/score?explain=true", json={"data": sample[:1]}, headers=auth)
    assert response.status_code == 422
    assert response.get_json()["error"]["field"] == "explain"

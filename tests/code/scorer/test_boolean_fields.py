"""JSON true/false (and a V2 BOOL tensor) for a yes/no field: the field's yes and no categories.

A CSV's True/False column trains as a boolean-like category; the client then scores from a
DataFrame whose column is bool again, and pandas' records hold true/false. That was a 422
("Expected `str | null`, got `bool`"); any other categorical field still refuses a boolean.
"""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest

from amlstack.artifact.encoding import ROW_WISE_MAX, Encoder, Feature
from amlstack.artifact.schema import FeatureSpec
from amlstack_scorer import v2
from amlstack_scorer.errors import BadRequest, InvalidInput
from amlstack_scorer.validation import Schema

FEATURES = [
    Feature.from_spec(FeatureSpec(name="smoker", kind="categorical", categories=["False", "True"])),
    Feature.from_spec(FeatureSpec(name="city", kind="categorical", categories=["Lyon", "Paris"])),
]


@pytest.fixture
def model():
    return SimpleNamespace(
        features=FEATURES,
        feature_names=[f.name for f in FEATURES],
        encoder=Encoder(FEATURES),
        imputes_missing=True,
    )


@pytest.mark.parametrize("copies", [1, ROW_WISE_MAX + 1], ids=["row-wise", "column-wise"])
def test_true_and_false_are_the_fields_yes_and_no(model, copies):
    records = [{"smoker": s, "city": "Lyon"} for s in (True, False, "True", "no", None)] * copies
    batch, _ = Schema(model, max_batch=1000).read(json.dumps({"data": records}).encode())
    np.testing.assert_array_equal(batch.matrix[:5, 0], [1, 0, 1, 0, np.nan])
    assert batch.unseen == {}


def test_a_boolean_for_another_categorical_field_is_still_refused(model):
    body = json.dumps({"data": [{"smoker": True, "city": True}]}).encode()
    with pytest.raises(InvalidInput) as caught:
        Schema(model, max_batch=10).read(body)
    assert caught.value.field == "data[0].city"
    assert str(caught.value) == (
        "true/false is read only for a yes/no field; 'city' takes text, one of its categories "
        "('Lyon', 'Paris')"
    )


def _infer(smoker: dict, city: dict) -> bytes:
    inputs = [{"name": "smoker", "shape": [2], **smoker}, {"name": "city", "shape": [2], **city}]
    return json.dumps({"inputs": inputs}).encode()


def test_a_v2_bool_tensor_is_read_for_a_yes_no_input(model):
    body = _infer(
        {"datatype": "BOOL", "data": [True, False]}, {"datatype": "BYTES", "data": ["Lyon"] * 2}
    )
    request = v2.decode(body, None, model, max_batch=10)
    assert model.encoder.rows(list(zip(*request.columns, strict=True))).matrix[:, 0].tolist() == [
        1.0,
        0.0,
    ]


def test_a_v2_bool_tensor_for_another_categorical_input_is_a_400(model):
    body = _infer(
        {"datatype": "BOOL", "data": [True, False]}, {"datatype": "BOOL", "data": [True, False]}
    )
    with pytest.raises(BadRequest, match="'city': a categorical feature takes BYTES, not BOOL"):
        v2.decode(body, None, model, max_batch=10)
    body = _infer(
        {"datatype": "BOOL", "data": ["yes", "no"]}, {"datatype": "BYTES", "data": ["Lyon"] * 2}
    )
    with pytest.raises(BadRequest, match="'smoker': BOOL data must be true/false"):
        v2.decode(body, None, model, max_batch=10)


def test_the_swagger_says_a_yes_no_field_takes_true_and_false():
    from amlstack_scorer.swagger import _field

    said = [_field(f, 3, "x", False)["description"] for f in FEATURES]
    assert "JSON true and false are read as 'True' and 'False'." in said[0]
    assert "true" not in said[1]

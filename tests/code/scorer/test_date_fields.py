"""A date field of a JSON body: read in the column's format or ISO 8601, null when missing, and
a 422 naming the field when it is no date (as a number field's text is refused)."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from amlstack.artifact.encoding import Encoder, Feature
from amlstack.artifact.formats import parse_date
from amlstack.artifact.schema import FeatureSpec
from amlstack_scorer.errors import InvalidInput
from amlstack_scorer.validation import Schema

FEATURES = [
    Feature.from_spec(FeatureSpec(name="age", kind="numeric", dtype="int")),
    Feature.from_spec(
        FeatureSpec(name="called", kind="date", dtype="date", date_format="%d/%m/%Y")
    ),
]


@pytest.fixture
def schema() -> Schema:
    model = SimpleNamespace(
        features=FEATURES,
        feature_names=[f.name for f in FEATURES],
        encoder=Encoder(FEATURES),
        imputes_missing=True,
    )
    return Schema(model, max_batch=10)  # type: ignore[arg-type]


def _body(*called) -> bytes:
    return json.dumps({"data": [{"age": 40, "called": c} for c in called]}).encode()


def test_dates_in_the_columns_format_or_iso_and_null_are_read(schema):
    batch, _ = schema.read(_body("31/01/2021", "2021-01-31", None))
    day = parse_date("31/01/2021", "%d/%m/%Y")
    assert batch.matrix[:2, 1].tolist() == [day, day]
    assert batch.missing == {"called": 1}


def test_a_date_that_is_no_date_is_refused_naming_the_field(schema):
    with pytest.raises(InvalidInput) as caught:
        schema.read(_body("31/01/2021", "31/02/2021"))
    assert (caught.value.status, caught.value.field) == (422, "data[1].called")
    assert str(caught.value) == "value is not a date (send ISO 8601: 2024-01-31)"

"""The artifact contract: one writer, one reader, one encoder for every caller."""

from __future__ import annotations

import json

import msgspec
import numpy as np
import pytest
from scorer_artifact_factory import build

from amlstack.artifact.encoding import ValueTooLarge
from amlstack.artifact.manifest import ArtifactError
from amlstack.artifact.reader import Model, read_card
from amlstack.artifact.schema import ModelCard, card_from_dict
from amlstack_scorer.errors import InvalidInput
from amlstack_scorer.validation import Schema


@pytest.fixture(scope="module")
def artifact(tmp_path_factory):
    return build(tmp_path_factory.mktemp("contract"))


def test_written_card_reads_back_typed(artifact):
    card = read_card(artifact)
    assert isinstance(card, ModelCard)
    assert card.model.input == "X" and card.model.output == "probabilities"
    raw = json.loads((artifact / "model.json").read_text())
    assert msgspec.convert(raw, ModelCard) == card
    numeric = next(f for f in raw["features"] if f["kind"] == "numeric")
    assert "categories" not in numeric and "min" in numeric  # optional fields stay optional


def test_unknown_fields_are_ignored_so_new_optional_fields_stay_readable():
    doc = {"features": [{"name": "a", "kind": "numeric", "later": 1}], "classes": [0, 1],
           "added_later": {"x": 1}}  # fmt: skip
    card = card_from_dict(doc)
    assert card.features[0].name == "a" and card.threshold == 0.5


def test_a_card_without_features_is_refused(artifact, tmp_path):
    folder = tmp_path / "bad"
    folder.mkdir()
    card = {"format": "amlstack-artifact", "format_version": 1, "classes": []}
    (folder / "model.json").write_text(json.dumps(card))
    with pytest.raises(ArtifactError, match="incomplete"):
        read_card(folder, verify=False)


def test_the_gate_encodes_exactly_as_score_does(artifact):
    model = Model(artifact)
    schema = Schema(model, max_batch=100)
    records = model.sample_input() * 7  # over the row-wise limit: the column path too
    records[0] = dict(records[0]) | {"job": "astronaut"}  # an unseen category
    body = json.dumps({"data": records}).encode()
    decoded, prefix = schema.decode(body)
    served = schema.encode(decoded, prefix)
    for size in (1, 3, len(records)):
        sub, prefix = schema.decode(json.dumps({"data": records[:size]}).encode())
        np.testing.assert_array_equal(
            schema.encode(sub, prefix).matrix, model.encode_records(records[:size])
        )
    assert served.unseen == {"job": 1}


def test_a_number_float32_cannot_hold_names_row_and_feature(artifact):
    model = Model(artifact)
    record = dict(model.sample_input()[0]) | {"age": 1e39}
    with pytest.raises(ValueTooLarge) as caught:
        model.encode_records([model.sample_input()[0], record])
    assert (caught.value.row, caught.value.feature) == (1, "age")
    schema = Schema(model, max_batch=10)
    decoded, prefix = schema.decode(json.dumps({"data": [record]}).encode())
    with pytest.raises(InvalidInput, match="too large"):
        schema.encode(decoded, prefix)


@pytest.mark.parametrize("size", [1, 40], ids=["row-wise", "column-wise"])
def test_a_missing_value_does_not_hide_a_number_float32_cannot_hold(artifact, size):
    """A NaN (missing) in the batch once made the overflow check's max() NaN, and 1e39 was
    scored as infinity."""
    model = Model(artifact)
    numeric = [f.name for f in model.features if f.kind == "numeric"]
    records = [dict(model.sample_input()[0]) for _ in range(size)]
    records[0][numeric[0]] = None
    records[-1][numeric[1]] = -1e39
    with pytest.raises(ValueTooLarge) as caught:
        model.encode_records(records)
    assert (caught.value.row, caught.value.feature) == (size - 1, numeric[1])


def test_amlstack_predict_refuses_a_number_float32_cannot_hold(artifact, tmp_path, capsys):
    """`amlstack predict` (CSV text, artifact.table) once scored 1e39 as infinity."""
    import csv

    from amlstack.cli import main

    model = Model(artifact)
    records = model.sample_input()
    records[1] = dict(records[1]) | {"age": 1e39}
    source = tmp_path / "in.csv"
    with source.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(records[0]))
        writer.writeheader()
        writer.writerows(records)
    args = ["predict", "--model", str(artifact), "--input", str(source)]
    with pytest.raises(SystemExit) as exited:
        main([*args, "--output", str(tmp_path / "out.csv")])
    assert exited.value.code == 2
    assert "data row 2, column 'age': '1e+39' is too large" in capsys.readouterr().err


@pytest.mark.parametrize("text", ["nope", '{"rows": "all"}', '{"rows": [1.5]}'])
def test_a_holdout_record_that_is_none_is_refused_naming_it(tmp_path, text):
    """The registry's --data reads it: it was a msgspec error, 'a bug' (exit 70)."""
    from amlstack.artifact.schema import read_holdout

    path = tmp_path / "holdout.json"
    path.write_text(text)
    with pytest.raises(ArtifactError, match=f"^{path}: not a holdout record"):
        read_holdout(path)

"""The two encoders of the artifact contract agree: `Encoder` (rows of values: /score, the gate)
and `encode_columns` (whole columns: training, `amlstack predict`, evaluation, Spark)."""

from __future__ import annotations

import numpy as np
import pytest

from amlstack.artifact.encoding import (
    Encoder,
    Feature,
    NotADate,
    TrainingRange,
    ValueTooLarge,
    encode_columns,
)
from amlstack.artifact.schema import FeatureSpec

FEATURES = [
    Feature.from_spec(spec)
    for spec in (
        FeatureSpec(name="age", kind="numeric", dtype="int"),
        FeatureSpec(name="rate", kind="numeric", dtype="float", nullable=True),
        FeatureSpec(name="job", kind="categorical", categories=["admin.", "blue-collar"]),
        FeatureSpec(
            name="city",
            kind="categorical",
            categories=["Lisbon", "Porto"],
            encoding="frequency",
            frequencies=[0.75, 0.25],
        ),
        FeatureSpec(name="called", kind="date", dtype="date", date_format="%d/%m/%Y"),
    )
]
NAMES = [f.name for f in FEATURES]
RECORDS = [
    {"age": 41, "rate": 1.1, "job": "admin.", "city": "Porto", "called": "05/05/2008"},
    {"age": 30, "rate": None, "job": "astronaut", "city": "Faro", "called": "31/12/2009"},
    {"age": 58, "rate": -0.1, "job": None, "city": None, "called": None},
    {"age": 23, "rate": 4.857, "job": "blue-collar", "city": "Lisbon", "called": " NA "},
]


def _columns(records):
    columns = {name: [rec[name] for rec in records] for name in NAMES}
    numeric = {f.name for f in FEATURES if f.kind == "numeric"}
    return {
        name: np.array([np.nan if v is None else v for v in values], dtype=np.float64)
        if name in numeric
        else np.asarray(values, dtype=object)
        for name, values in columns.items()
    }


@pytest.mark.parametrize("copies", [1, 10], ids=["row-wise", "column-wise"])
def test_both_encoders_give_the_same_matrix(copies):
    records = RECORDS * copies  # more than ROW_WISE_MAX rows takes Encoder's column path
    by_rows = Encoder(FEATURES).records(records)
    by_columns = encode_columns(FEATURES, _columns(records))
    assert by_rows.matrix.dtype == by_columns.dtype == np.float32
    np.testing.assert_array_equal(by_rows.matrix, by_columns)
    row = by_columns[1]
    assert np.isnan(row[1])  # missing number
    assert row[2] == -1.0 and row[3] == 0.0  # unseen category; unseen frequency-encoded value
    assert by_columns[0, 3] == np.float32(0.25) and by_columns[0, 4] == 14004.0  # 2008-05-05
    assert np.isnan(by_columns[2, 2:]).all() and np.isnan(by_columns[3, 4])
    assert by_rows.unseen == {"job": copies, "city": copies}


@pytest.mark.parametrize("copies", [1, 10], ids=["row-wise", "column-wise"])
def test_both_encoders_refuse_a_number_float32_cannot_hold(copies):
    records = [dict(r) for r in RECORDS * copies]
    records[2]["rate"] = 1e39  # row 1's missing rate must not hide it (NaN in a max())
    with pytest.raises(ValueTooLarge) as by_rows:
        Encoder(FEATURES).records(records)
    with pytest.raises(ValueTooLarge) as by_columns:
        encode_columns(FEATURES, _columns(records))
    for caught in (by_rows, by_columns):
        assert (caught.value.row, caught.value.feature) == (2, "rate")


@pytest.mark.parametrize("copies", [1, 10], ids=["row-wise", "column-wise"])
def test_both_encoders_refuse_a_date_that_is_no_date(copies):
    records = [dict(r) for r in RECORDS * copies]
    records[-1]["called"] = "32/01/2021"
    with pytest.raises(NotADate) as by_rows:
        Encoder(FEATURES).records(records)
    with pytest.raises(NotADate) as by_columns:
        encode_columns(FEATURES, _columns(records))
    for caught in (by_rows, by_columns):
        assert (caught.value.row, caught.value.feature) == (len(records) - 1, "called")


@pytest.mark.parametrize("copies", [1, 10], ids=["row-wise", "column-wise"])
def test_a_json_string_is_read_as_a_csv_cell_is(copies):
    """A marker (`"none"`, `" NA "`) is missing, blanks around a category are not part of it: as
    `amlstack predict` and text/csv read the same cell (it was an unseen category)."""
    records = [dict(r) for r in RECORDS[:1]] * copies
    records = [{**r, "job": job} for r in records for job in ("none", " NA ", " admin. ", "x")]
    batch = Encoder(FEATURES).records(records)
    jobs = batch.matrix[:, 2].reshape(-1, 4)
    assert np.isnan(jobs[:, :2]).all() and (jobs[:, 2] == 0.0).all() and (jobs[:, 3] == -1.0).all()
    assert batch.unseen == {"job": copies}


ANSWERS = [
    Feature.from_spec(FeatureSpec(name="smoker", kind="categorical", categories=["no", "yes"])),
    Feature.from_spec(
        FeatureSpec(name="city", kind="categorical", categories=["Paris", "paris", "Lyon"])
    ),
]


@pytest.mark.parametrize("copies", [1, 10], ids=["row-wise", "column-wise"])
def test_a_category_in_another_case_or_another_yes_no_word_is_read_as_training_wrote_it(copies):
    """`YES` for `yes`, `True` or ` n ` in a yes/no column, `LYON` for `Lyon`: the category
    (they were unseen categories); `PARIS` when training had `Paris` and `paris`, and `1` for
    yes, stay unseen: which one is meant is a guess."""
    pairs = [("YES", "LYON"), ("True", "PARIS"), (" n ", "lyon"), ("1", "Lyon")]
    records = [{"smoker": s, "city": c} for s, c in pairs] * copies
    by_rows = Encoder(ANSWERS).records(records)
    columns = {n: np.asarray([r[n] for r in records], dtype=object) for n in ("smoker", "city")}
    np.testing.assert_array_equal(by_rows.matrix, encode_columns(ANSWERS, columns))
    assert by_rows.matrix[:4].tolist() == [[1.0, 2.0], [1.0, -1.0], [0.0, 2.0], [-1.0, 2.0]]
    assert by_rows.unseen == {"smoker": copies, "city": copies}


def test_a_category_in_another_unicode_form_is_read_as_training_wrote_it():
    """`Zoë` typed as `Zoe` and a combining diaeresis (macOS, some exports) was unseen."""
    town = Feature.from_spec(
        FeatureSpec(name="town", kind="categorical", categories=["Zoë", "Ærø"])
    )
    decomposed = ["Zoe\u0308", "ZOE\u0308", "ÆRØ", "Zoe"]
    batch = Encoder([town]).records([{"town": t} for t in decomposed])
    assert batch.matrix[:, 0].tolist() == [0.0, 0.0, 1.0, -1.0] and batch.unseen == {"town": 1}


def test_other_spellings_are_gathered_on_the_first_value_that_needs_them():
    # built up front, a 200,000-category column made loading a model ten times slower
    town = Feature.from_spec(
        FeatureSpec(name="town", kind="categorical", categories=["Lyon", "Paris"])
    )
    encoder = Encoder([town])
    encoder.records([{"town": "Lyon"}])
    assert "aliases" not in vars(town)
    assert encoder.records([{"town": "LYON"}]).matrix.tolist() == [[0.0]]
    assert "aliases" in vars(town)


def test_numbers_are_held_to_the_training_range_and_missing_stays_missing():
    ranged = [
        Feature.from_spec(FeatureSpec(name="age", kind="numeric", minimum=18, maximum=95)),
        Feature.from_spec(FeatureSpec(name="job", kind="categorical", categories=["a", "b"])),
    ]
    matrix = np.float32([[-3.4e38, 5.0], [3.4e38, np.nan], [np.nan, -1.0], [40.0, 1.0]])
    held = TrainingRange(ranged).clipped(matrix)
    assert held.dtype == np.float32
    np.testing.assert_array_equal(held, [[18, 5], [95, np.nan], [np.nan, -1], [40, 1]])

"""Columns users really have: missing markers, identifiers, dates, booleans, formatted numbers."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from amlstack.artifact.formats import DATE_FORMATS, date_example, date_format_of, parse_date
from amlstack.errors import DataError
from amlstack.training import columns
from amlstack.training.data import encode_frame, load_dataset
from amlstack.training.preprocess import fit_preparation

ROWS = 40


def write_csv(tmp_path: Path, header: list[str], rows: list[list[str]]) -> Path:
    path = tmp_path / "data.csv"
    lines = [",".join(header)] + [",".join(f'"{c}"' if "," in c else c for c in r) for r in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def labels(n: int = ROWS) -> list[str]:
    return ["yes" if i % 3 == 0 else "no" for i in range(n)]


def dataset_of(tmp_path: Path, **cols: list[str]):
    names = list(cols)
    rows = [[cols[n][i] for n in names] + [y] for i, y in enumerate(labels())]
    return load_dataset(write_csv(tmp_path, [*names, "y"], rows), "y")


def decision(dataset, column: str) -> set[str]:
    return {d.action for d in dataset.decisions if d.column == column}


@pytest.mark.parametrize("marker", ["", "NA", "n/a", "NULL", "?", "NaN", "none", "."])
def test_missing_markers_are_missing_in_numeric_and_categorical_columns(tmp_path, marker):
    age = [str(20 + i) for i in range(ROWS)]
    job = ["admin" if i % 2 else "tech" for i in range(ROWS)]
    age[3] = job[5] = marker
    dataset = dataset_of(tmp_path, age=age, job=job)
    kinds = {f["name"]: f for f in dataset.features}
    assert kinds["age"]["kind"] == "numeric" and kinds["age"]["nullable"]
    assert kinds["job"]["categories"] == ["admin", "tech"] and kinds["job"]["nullable"]
    matrix = encode_frame(dataset.frame, dataset.features)
    assert np.isnan(matrix[3, 0]) and np.isnan(matrix[5, 1])
    assert decision(dataset, "age") == {"missing_values"}


def test_a_sas_export_missing_a_fifth_of_its_numbers_is_numeric(tmp_path):
    # SAS and Stata write a missing number as '.': in 21 % of the cells it made the column
    # categories, one per number (every held-out value unseen)
    level = [f"{i * 0.37:.2f}" if i % 5 else "." for i in range(ROWS)]
    dataset = dataset_of(tmp_path, level=level)
    (spec,) = dataset.features
    assert (spec["kind"], spec["nullable"]) == ("numeric", True)
    assert dataset.frame["level"].isna().sum() == ROWS // 5


@pytest.mark.parametrize(
    ("missing", "rows", "said"),
    [
        (1, 2000, "missing in 1 of 2,000 rows (under 0.1%)"),
        (3, 40, "missing in 3 of 40 rows (7.5%)"),
    ],
)
def test_the_missing_share_is_never_rounded_to_nothing(missing, rows, said):
    import pandas as pd

    values = pd.Series([None] * missing + ["1.5"] * (rows - missing), dtype=object)
    _, _, decisions = columns.type_column("w", values, rows)
    assert [d.line() for d in decisions] == [f"column 'w': {said}; imputed in the model"]


def test_identifier_and_row_number_are_dropped_with_a_notice(tmp_path):
    dataset = dataset_of(
        tmp_path,
        customer=[f"C{i:04d}" for i in range(ROWS)],
        row=[str(i + 1) for i in range(ROWS)][::-1],
        age=[str(20 + i % 7) for i in range(ROWS)],
    )
    assert [f["name"] for f in dataset.features] == ["age"]
    assert dataset.dropped == ["customer", "row"]
    assert decision(dataset, "customer") == {"dropped"} == decision(dataset, "row")


def test_keep_holds_a_column_the_identifier_rules_would_drop(tmp_path):
    """A rank (distinct integers) read as a row number, and nothing let the user keep it."""
    rows = [[f"C{i:04d}", str(i + 1), str(20 + i % 7), y] for i, y in enumerate(labels())]
    path = write_csv(tmp_path, ["customer", "rank", "age", "y"], rows)
    dataset = load_dataset(path, "y", keep=["rank", "customer"])
    specs = {f["name"]: f for f in dataset.features}
    assert specs["rank"]["kind"] == "numeric" and specs["customer"]["kind"] == "categorical"
    assert dataset.dropped == []
    notes = {d.column: d.line() for d in dataset.decisions if d.action == "kept"}
    assert notes["rank"] == (
        "column 'rank': kept (--keep), though it reads as a row number or id (distinct "
        "integers, at least half of their range)"
    )
    assert "an identifier (every value distinct)" in notes["customer"]


@pytest.mark.parametrize(
    ("drop", "keep", "said"),
    [((), ("ranks",), "--keep ranks: no such column"), ((), ("y",), "--keep y: that is the target"),
     (("rank",), ("rank",), "--drop rank and --keep rank: choose one")],
)  # fmt: skip
def test_keep_names_a_column_it_cannot_keep(tmp_path, drop, keep, said):
    path = write_csv(tmp_path, ["rank", "y"], [[str(i), y] for i, y in enumerate(labels())])
    with pytest.raises(DataError, match=said):
        load_dataset(path, "y", drop, keep)


@pytest.mark.parametrize(
    ("target", "drop", "keep", "said"),
    [("Y", (), (), r"no target column 'Y' \(did you mean 'y'\?\)"),
     ("y", ("RANK",), (), r"--drop RANK: no such column in .* \(did you mean 'rank'\?\)"),
     ("y", (), ("RANK",), r"--keep RANK: no such column in .* \(did you mean 'rank'\?\)"),
     ("y", (), ("RANK_OFF",), r"--keep RANK_OFF: .* \(did you mean 'rank_of'\?\)")],
)  # fmt: skip
def test_a_column_named_in_another_case_is_suggested(tmp_path, target, drop, keep, said):
    """--keep RANK for rank suggested nothing: difflib finds no likeness across case."""
    rows = [[str(i), str(i), y] for i, y in enumerate(labels())]
    path = write_csv(tmp_path, ["rank", "rank_of", "y"], rows)
    with pytest.raises(DataError, match=said):
        load_dataset(path, target, drop, keep)


def test_keep_says_it_cannot_keep_an_empty_or_constant_column(tmp_path):
    """--keep on a column empty or with one value in every row was dropped without a word."""
    rows = [["", "PT", str(20 + i % 7), y] for i, y in enumerate(labels())]
    path = write_csv(tmp_path, ["empty", "country", "age", "y"], rows)
    dataset = load_dataset(path, "y", keep=["empty", "country"])
    assert [f["name"] for f in dataset.features] == ["age"]
    assert dataset.dropped == ["empty", "country"]
    assert [d.line() for d in dataset.decisions if d.column in ("empty", "country")] == [
        "column 'empty': dropped: empty in every row (--keep empty cannot keep it: nothing to "
        "learn from it)",
        "column 'country': dropped: 'PT' in every row (--keep country cannot keep it: nothing "
        "to learn from it)",
    ]


def test_free_text_with_a_few_repeats_is_dropped_like_an_identifier(tmp_path):
    notes = [f"called on day {i}, asked about rates" for i in range(ROWS)]
    notes[5] = notes[9] = "no answer"  # 39 distinct in 40: nearly every new row unseen
    cities = [f"city{i % 30}" for i in range(ROWS)]  # 30 distinct in 40: kept
    dataset = dataset_of(tmp_path, notes=notes, city=cities, age=[str(i % 9) for i in range(ROWS)])
    assert [f["name"] for f in dataset.features] == ["city", "age"]
    said = [d.line() for d in dataset.decisions if d.column == "notes"]
    assert said == [
        "column 'notes': dropped: free text or an identifier (39 distinct values in 40 rows)"
    ]


def test_high_cardinality_categorical_is_frequency_encoded(tmp_path, monkeypatch):
    monkeypatch.setattr(columns, "MAX_CATEGORIES", 10)
    city = [f"city{i % 15}" for i in range(ROWS)]
    dataset = dataset_of(tmp_path, city=city, age=[str(i % 9) for i in range(ROWS)])
    spec = dataset.features[0]
    assert spec["encoding"] == "frequency" and len(spec["categories"]) == 15
    assert decision(dataset, "city") == {"frequency_encoded"}
    matrix = encode_frame(dataset.frame, dataset.features)
    share = city.count("city0") / ROWS
    assert matrix[0, 0] == pytest.approx(share)


def test_date_column_becomes_days_and_weekday(tmp_path):
    days = [f"2024-01-{1 + i % 28:02d}" for i in range(ROWS)]
    days[7] = "NA"
    dataset = dataset_of(tmp_path, when=days, age=[str(i % 9) for i in range(ROWS)])
    spec = dataset.features[0]
    assert spec["kind"] == "date" and spec["date_format"] == "ISO8601"
    assert decision(dataset, "when") == {"date", "missing_values"}
    matrix = encode_frame(dataset.frame, dataset.features)
    assert matrix[0, 0] == 19723.0  # 2024-01-01, days since 1970-01-01
    prep = fit_preparation(matrix, dataset.features)
    prepared = prep.apply(matrix)
    assert prepared[0, -1] == 0.0  # 2024-01-01 was a Monday
    assert prepared[6, -1] == 6.0  # ... and 2024-01-07 a Sunday
    assert not np.isnan(prepared).any()


def test_us_dates_are_recognised(tmp_path):
    days = [f"{1 + i % 12}/{1 + i % 28}/2023" for i in range(ROWS)]
    spec = dataset_of(tmp_path, when=days, age=[str(i % 9) for i in range(ROWS)]).features[0]
    assert spec["kind"] == "date" and spec["date_format"] == "%m/%d/%Y"


def test_one_answer_written_several_ways_is_named(tmp_path):
    # Y / yes / YES and N / no: five categories, without a word
    smoker = [["Y", "yes", "YES", "N", "no"][i % 5] for i in range(ROWS)]
    city = ["Paris" if i % 2 else "paris" for i in range(ROWS)]
    dataset = dataset_of(
        tmp_path, smoker=smoker, city=city, ok=["yes" if i % 2 else "no" for i in range(ROWS)]
    )
    lines = {d.column: d.line() for d in dataset.decisions if d.action == "several_spellings"}
    assert lines == {
        "smoker": "column 'smoker': 'N', 'no'; 'Y', 'YES', 'yes': one value written several ways, "
        "each a category of its own; write each one way to learn from them as one",
        "city": "column 'city': 'Paris', 'paris': one value written several ways, each a "
        "category of its own; write each one way to learn from them as one",
    }


def test_one_value_in_two_unicode_forms_is_named(tmp_path):
    # macOS writes é as e + a combining accent; the scorer reads either as the other
    town = ["Orl\u00e9ans" if i % 2 else "Orle\u0301ans" for i in range(ROWS)]
    dataset = dataset_of(tmp_path, town=town, age=[str(i % 9) for i in range(ROWS)])
    assert decision(dataset, "town") == {"several_spellings"}


def test_boolean_like_column_codes_its_false_value_zero(tmp_path):
    flag = ["Yes" if i % 2 else "no" for i in range(ROWS)]
    dataset = dataset_of(tmp_path, flag=flag, age=[str(i % 9) for i in range(ROWS)])
    assert dataset.features[0]["categories"] == ["no", "Yes"]
    assert decision(dataset, "flag") == {"boolean"}
    assert encode_frame(dataset.frame, dataset.features)[1, 0] == 1.0


def test_thousands_separators_and_percent_signs_are_parsed(tmp_path):
    income = [f"{1000 + 37 * i:,}" for i in range(ROWS)]
    rate = [f"{i * 0.5}%" for i in range(ROWS)]
    dataset = dataset_of(tmp_path, income=income, rate=rate)
    income_spec, rate_spec = dataset.features
    assert income_spec["format"] == "thousands" and income_spec["max"] == 1000 + 37 * (ROWS - 1)
    assert rate_spec["format"] == "percent" and rate_spec["max"] == (ROWS - 1) * 0.5
    assert decision(dataset, "income") == {"numeric_parsed"}


def test_a_number_among_text_is_still_refused_by_name(tmp_path):
    values = [str(i) for i in range(ROWS)]
    values[4] = "12 kg"
    with pytest.raises(DataError, match=r"column 'w' mixes numbers and text \(data row 5"):
        dataset_of(tmp_path, w=values)


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_every_delimiter_exports_use_is_detected(tmp_path, delimiter):
    path = tmp_path / "data.txt"
    rows = [["age", "job", "y"]] + [[str(20 + i), f"j{i % 3}", y] for i, y in enumerate(labels())]
    path.write_text("\n".join(delimiter.join(r) for r in rows) + "\n")
    dataset = load_dataset(path, "y")
    assert [f["name"] for f in dataset.features] == ["age", "job"]
    assert dataset.features[1]["categories"] == ["j0", "j1", "j2"]


@pytest.mark.parametrize(
    ("header", "cell"),
    [('"amount (EUR, incl.\nVAT)";job;y', "{i}"),  # a quoted name wraps: its comma is none
     ('screen 15" x;job;y', '"{i},5"'),  # a quote inside a name opens nothing
     ("amount;job;y", '"say ""hi"", {i}"')],  # the Sniffer took this cell for a comma file
)  # fmt: skip
def test_the_delimiter_is_the_one_between_the_headers_names(tmp_path, header, cell):
    path = tmp_path / "data.csv"
    rows = [f"{cell.format(i=i % 7)};j{i % 3};{y}" for i, y in enumerate(labels())]
    path.write_text(header + "\n" + "\n".join(rows) + "\n")
    dataset = load_dataset(path, "y")
    assert [f["name"] for f in dataset.features] == [
        header.split(";")[0].strip('"').replace("\n", " ").replace('"', "'"),
        "job",
    ]


def test_decimal_comma_percentages_and_amounts_are_numbers(tmp_path):
    path = tmp_path / "credit.csv"
    rows = [
        f"{1000 + 37 * i:_.2f} €;{i % 97},{i % 10}%;€ {i},5;{y}".replace(".", ",").replace("_", ".")
        for i, y in enumerate(labels())
    ]
    path.write_text("montant;taux;prix;y\n" + "\n".join(rows) + "\n")
    dataset = load_dataset(path, "y")
    formats = {f["name"]: (f["kind"], f.get("format")) for f in dataset.features}
    assert formats == {
        "montant": ("numeric", "decimal_comma_currency"),
        "taux": ("numeric", "decimal_comma_percent"),
        "prix": ("numeric", "decimal_comma_currency"),
    }
    assert dataset.frame["montant"].iloc[1] == pytest.approx(1037.0)
    assert dataset.frame["taux"].iloc[13] == pytest.approx(13.3)


def test_english_percentages_are_not_read_with_a_decimal_comma(tmp_path):
    """`1,479%` groups thousands: read as 1.479 it made the file one that writes decimal commas,
    and its plain `2.006` column became 2006."""
    path = tmp_path / "growth.csv"
    rows = [f'"{1000 + 7 * i:,}%",{2 + i / 1000:.3f},{y}' for i, y in enumerate(labels())]
    path.write_text("growth,ratio,y\n" + "\n".join(rows) + "\n")
    dataset = load_dataset(path, "y")
    assert "decimal_comma_percent" not in {f.get("format") for f in dataset.features}
    assert dataset.frame["ratio"].iloc[6] == pytest.approx(2.006)


def test_whole_amounts_in_a_file_of_decimal_commas_group_thousands(tmp_path):
    """`€ 37.000` beside `3.201,10 €` is thirty-seven thousand euros (it read 37)."""
    path = tmp_path / "loans.csv"
    rows = [f"€ {37 + i}.000;{3 + i % 5}.201,{i % 10}0 €;{y}" for i, y in enumerate(labels())]
    path.write_text("amount;fee;y\n" + "\n".join(rows) + "\n")
    dataset = load_dataset(path, "y")
    assert [f.get("format") for f in dataset.features] == ["decimal_comma_currency"] * 2
    assert dataset.frame["amount"].iloc[0] == pytest.approx(37000.0)


def test_a_file_without_any_delimiter_is_refused_by_naming_them(tmp_path):
    path = tmp_path / "one-column.txt"
    path.write_text("y\n" + "\n".join(labels()) + "\n")
    with pytest.raises(DataError, match="no comma, semicolon, tab or pipe between the names in"):
        load_dataset(path, "y")


def test_rows_without_a_label_are_left_out_and_named(tmp_path):
    y = labels()
    for i, marker in ((2, ""), (7, "NA"), (30, "?")):
        y[i] = marker
    rows = [[str(20 + i), label] for i, label in enumerate(y)]
    dataset = load_dataset(write_csv(tmp_path, ["age", "y"], rows), "y")
    assert len(dataset.target) == ROWS - 3
    assert dataset.file_positions(np.array([0, 2, 6, 27, 28])) == [0, 3, 8, 29, 31]
    assert dataset.rows_at([0, 3, 8, 29, 31]).tolist() == [0, 2, 6, 27, 28]
    for unlabelled in (7, 30, ROWS):  # two without a label, one past the end
        with pytest.raises(DataError, match=f"data row {unlabelled + 1} has no label"):
            dataset.rows_at([0, unlabelled])
    assert dataset.frame["age"].tolist()[:3] == [20, 21, 23]
    [decision] = [d for d in dataset.decisions if d.column == "y"]
    assert decision.action == "unlabelled_rows"
    assert (
        "missing (empty or a missing-value marker) in 3 of 40 rows (data row 3, 8, 31)"
        in decision.line()
    )


def test_rows_repeated_exactly_are_counted_in_one_notice(tmp_path):
    """312 copies of earlier rows said nothing, though copies on both sides of the holdout
    make the held-out figure read high."""
    rows = [[f"C{i:03d}", str(20 + i % 13), f"job{i % 4}", y] for i, y in enumerate(labels())]
    copies = [[f"D{i:03d}", *row[1:]] for i, row in enumerate(rows[:12])]  # another id each
    relabelled = [[*rows[12][:3], "no" if rows[12][3] == "yes" else "yes"]]  # another target
    path = write_csv(tmp_path, ["id", "age", "job", "y"], rows + copies + relabelled)
    dataset = load_dataset(path, "y", drop=["id"])
    [decision] = [d for d in dataset.decisions if d.action == "repeated_rows"]
    assert decision.line() == (
        "12 of 53 rows (22.6%) repeat an earlier row exactly (features and target): copies can "
        "fall on both sides of the holdout, so the held-out figure may read high (remove them "
        "if they are one record written twice)"
    )
    assert decision.record().column == ""
    unique = load_dataset(write_csv(tmp_path, ["id", "age", "job", "y"], rows), "y", drop=["id"])
    assert not [d for d in unique.decisions if d.action == "repeated_rows"]


def test_a_target_empty_in_every_row_is_refused(tmp_path):
    rows = [[str(20 + i), "NA"] for i in range(ROWS)]
    with pytest.raises(DataError, match="target 'y' is empty in every row"):
        load_dataset(write_csv(tmp_path, ["age", "y"], rows), "y")


def test_preparation_graph_computes_what_training_computes():
    import onnx
    from onnx import TensorProto, helper

    from amlstack.training import export, preprocess

    features = [{"name": "a", "kind": "numeric"}, {"name": "d", "kind": "date"},
                {"name": "c", "kind": "categorical", "categories": ["x", "y"]}]  # fmt: skip
    rng = np.random.default_rng(0)
    matrix = np.column_stack(
        [rng.normal(size=50), rng.integers(-4000, 20000, 50) + 0.25, rng.integers(0, 2, 50)]
    ).astype(np.float32)
    matrix[rng.random(matrix.shape) < 0.2] = np.nan
    prep = preprocess.fit_preparation(matrix, features)
    assert prep.fill[2] == 2.0 and prep.indicators == (0, 1) and prep.weekdays == (1,)
    identity = helper.make_model(
        helper.make_graph(
            [helper.make_node("Identity", [export.INPUT], [export.OUTPUT])], "id",
            [helper.make_tensor_value_info(export.INPUT, TensorProto.FLOAT, [None, None])],
            [helper.make_tensor_value_info(export.OUTPUT, TensorProto.FLOAT, [None, None])],
        ),
        opset_imports=[helper.make_opsetid("", 15)],
    )  # fmt: skip
    graph = export.with_preparation(identity, prep)
    onnx.checker.check_model(graph)
    np.testing.assert_array_equal(export.onnx_proba(graph, matrix), prep.apply(matrix))


def test_preparation_in_front_of_an_old_ir_catboost_graph():
    from catboost import CatBoostClassifier

    from amlstack.training import export, preprocess

    rng = np.random.default_rng(0)
    x = rng.normal(size=(100, 3)).astype(np.float32)
    x[::7, 1] = np.nan
    y = (x[:, 0] > 0).astype(int)
    prep = preprocess.fit_preparation(x, [{"name": n, "kind": "numeric"} for n in "abc"])
    model = CatBoostClassifier(iterations=10, verbose=0, allow_writing_files=False)
    model.fit(prep.apply(x), y)
    member = export.to_onnx(model, prep.n_outputs)
    assert member.ir_version < 4  # CatBoost's own export: initializers listed as inputs
    graph = export.with_preparation(member, prep)
    gap = np.abs(export.onnx_proba(graph, x) - model.predict_proba(prep.apply(x))).max()
    assert gap <= 1e-5


def test_a_class_absent_from_the_held_out_rows_leaves_the_multiclass_auc_defined():
    """A two-row class can land wholly in training; the AUC averages the classes present."""
    from sklearn.metrics import roc_auc_score

    from amlstack.training.evaluate import auc

    rng = np.random.default_rng(0)
    proba = rng.dirichlet([1, 1, 1], size=200)
    y = rng.integers(0, 2, 200)  # class 2 never appears
    expected = np.mean([roc_auc_score(y == c, proba[:, c]) for c in (0, 1)])
    assert auc(y, proba) == pytest.approx(expected)
    full = rng.integers(0, 3, 200)
    assert auc(full, proba) == pytest.approx(roc_auc_score(full, proba, multi_class="ovr"))


@pytest.mark.parametrize("decimals", [1, 3, 8])  # many ties, some, none
def test_the_rank_auc_is_scikit_learns(decimals):
    """Multi-class AUC is computed by ranks (scikit-learn's checks cost more than the sort)."""
    from sklearn.metrics import roc_auc_score

    from amlstack.training.evaluate import auc, rank_auc

    rng = np.random.default_rng(decimals)
    proba = np.round(rng.dirichlet([1, 1, 1, 1], size=500), decimals)
    y = rng.integers(0, 4, 500)
    for c in range(4):
        expected = roc_auc_score(y == c, proba[:, c])
        assert rank_auc(y == c, proba[:, c]) == pytest.approx(expected, abs=1e-12)
    per_class = [roc_auc_score(y == c, proba[:, c]) for c in range(4)]
    assert auc(y, proba, weighted=True) == pytest.approx(
        np.average(per_class, weights=np.bincount(y)), abs=1e-12
    )
    with pytest.raises(ValueError, match="Only one class"):
        rank_auc(np.ones(5, dtype=bool), np.arange(5.0))


def test_a_class_too_small_to_split_is_named_by_its_label():
    from amlstack.training.data import split_holdout

    y = np.array([0] * 30 + [1] * 30 + [2])
    with pytest.raises(DataError, match=r"class 'rare' has 1 row\(s\) here"):
        split_holdout(y, 0.2, 0, classes=["a", "b", "rare"])


def test_decimal_commas_are_parsed_and_a_leading_zero_group_is_no_thousands(tmp_path):
    # European exports: ; separated, 1.234,5 for 1234.5; 0,125 can only be a decimal comma
    weight = [f"{60 + i},5" for i in range(ROWS)]
    weight[1], weight[2] = "1.234,5", "71"
    share = [f"0,{125 + i:03d}" for i in range(ROWS)]
    path = tmp_path / "data.csv"
    body = [list(r) for r in zip(weight, share, labels(), strict=True)]
    rows = [["weight", "share", "y"], *body]
    path.write_text("\n".join(";".join(r) for r in rows) + "\n")
    dataset = load_dataset(path, "y")
    weight_spec, share_spec = dataset.features
    assert weight_spec["format"] == share_spec["format"] == "decimal_comma"
    assert weight_spec["max"] == 1234.5 and weight_spec["min"] == 60.5
    assert share_spec["min"] == 0.125 and share_spec["max"] == 0.125 + (ROWS - 1) / 1000
    assert decision(dataset, "weight") == {"numeric_parsed"}
    matrix = encode_frame(dataset.frame, dataset.features)
    assert matrix[2, 0] == 71.0 and matrix[0, 1] == np.float32(0.125)


def test_a_decimal_comma_column_with_a_decimal_point_is_not_guessed(tmp_path):
    values = [f"{i % 7},5" for i in range(ROWS)]
    values[6] = "1.5"  # one and a half, or fifteen: neither is assumed
    dataset = dataset_of(tmp_path, v=values)
    assert dataset.features[0]["kind"] == "categorical" and "format" not in dataset.features[0]


def test_an_empty_or_constant_column_and_a_gapped_id_are_dropped_with_a_notice(tmp_path):
    rows = 120
    ids = [str(1000 + 2 * i) for i in range(rows)]  # every other id: a split-off file's ids
    path = write_csv(
        tmp_path,
        ["ticket", "empty", "country", "age", "y"],
        [[ids[i], "", "PT", str(20 + i % 7), "yes" if i % 3 else "no"] for i in range(rows)],
    )
    dataset = load_dataset(path, "y")
    assert [f["name"] for f in dataset.features] == ["age"]
    assert dataset.dropped == ["ticket", "empty", "country"]
    lines = [d.line() for d in dataset.decisions]
    assert "column 'empty': dropped: empty in every row" in lines
    assert "column 'country': dropped: 'PT' in every row" in lines


def test_integers_of_sixteen_digits_or_more_are_an_identifier(tmp_path):
    # a 20-digit transaction number was kept as a number (float32 cannot tell two apart)
    ids = [f"{9 - i % 9}{i:04d}{(i * 7919) % 10**15:015d}" for i in range(ROWS)]
    dataset = dataset_of(tmp_path, txn=ids, x=[str(i % 5) for i in range(ROWS)])
    assert [f["name"] for f in dataset.features] == ["x"]
    assert [d.line() for d in dataset.decisions if d.column == "txn"] == [
        "column 'txn': dropped: an identifier (integers, nearly all distinct and of 16 or more "
        "digits)"
    ]
    ids[5] = "123456789012345"  # a random 64-bit id below 10**15: still an id column
    assert "dropped" in decision(
        dataset_of(tmp_path, txn=ids, x=[str(i % 5) for i in range(ROWS)]), "txn"
    )
    cards = [f"4{i:015d}" for i in range(0, 70 * ROWS, 70)]  # sixteen digits, still an id
    assert "dropped" in decision(
        dataset_of(tmp_path, card=cards, x=[str(i % 5) for i in range(ROWS)]), "card"
    )
    amounts = [f"{i % 4}{i:015d}" for i in range(ROWS)]
    amounts[:8] = ["1000000000000000"] * 8  # repeats: a quantity, kept
    assert "dropped" not in decision(dataset_of(tmp_path, n=amounts), "n")


def test_distinct_integers_spread_over_a_wide_range_are_kept(tmp_path):
    """Sparse distinct integers (incomes, say) are a measurement, not an id."""
    rows = 120
    income = [str(20_000 + 517 * i + (i * i) % 97) for i in range(rows)]
    dataset = dataset_of_rows(tmp_path, rows, income=income)
    assert [f["name"] for f in dataset.features] == ["income"]


def dataset_of_rows(tmp_path: Path, rows: int, **cols: list[str]):
    names = list(cols)
    body = [[cols[n][i] for n in names] + ["yes" if i % 3 else "no"] for i in range(rows)]
    return load_dataset(write_csv(tmp_path, [*names, "y"], body), "y")


def test_labels_that_differ_only_in_case_are_one_class_with_a_notice(tmp_path):
    y = ["Yes" if i % 3 == 0 else "No" for i in range(ROWS)]
    y[3], y[4], y[6] = "yes ", "no", "YES"
    path = write_csv(tmp_path, ["age", "y"], [[str(20 + i), y[i]] for i in range(ROWS)])
    dataset = load_dataset(path, "y")
    assert dataset.classes == ["No", "Yes"]
    assert dataset.target.tolist() == [1 if i % 3 == 0 else 0 for i in range(ROWS)]
    (merged,) = [d for d in dataset.decisions if d.action == "labels_merged"]
    assert merged.line() == (
        "column 'y': labels that differ only in case are one class: "
        "'YES' as 'Yes', 'no' as 'No', 'yes' as 'Yes'"
    )


@pytest.mark.parametrize(
    ("negative", "positive"), [("no", "YES"), ("false", "True"), ("No", "yes")]
)
def test_the_positive_class_does_not_depend_on_how_labels_are_capitalised(
    tmp_path, negative, positive
):
    """Sorted as written, 'YES' < 'no': `no` was the positive class, and the report's
    precision-recall chart showed the majority class."""
    y = [positive if i % 3 == 0 else negative for i in range(ROWS)]
    path = write_csv(tmp_path, ["age", "y"], [[str(20 + i), y[i]] for i in range(ROWS)])
    dataset = load_dataset(path, "y")
    assert dataset.classes == [negative, positive]


def test_a_split_holds_a_row_of_every_class_when_its_share_is_fewer_rows_than_classes():
    """57 rows of 8 cancer types: a 20 % split is 12 rows, its validation split 7 < 8 classes,
    and scikit-learn's error was reported as a bug."""
    from amlstack.training.data import split_holdout

    y = np.repeat(np.arange(12), 3)  # 36 rows, 12 classes: 20 % is 8 rows
    train, test = split_holdout(y, 0.2, 0)
    assert len(test) == 12 and set(y[test]) == set(y[train]) == set(range(12))
    again = split_holdout(y[train], 0.2, 1)  # 24 rows, two of each class
    assert [set(y[train][side]) for side in again] == [set(range(12))] * 2
    wide = np.repeat(np.arange(4), 60)  # a share of at least one row per class is unchanged
    assert len(split_holdout(wide, 0.2, 0)[1]) == 48


def test_dates_in_two_formats_are_named_rather_than_called_free_text(tmp_path):
    # '31.01.2021' and '02/14/2021' in one column: dropped as "an identifier", without a word
    days = [(1 + i % 28, 3 + i // 28) for i in range(ROWS)]
    when = [
        f"{m:02d}/{d:02d}/2021" if i % 2 else f"{d:02d}.{m:02d}.2021"
        for i, (d, m) in enumerate(days)
    ]
    dataset = dataset_of(tmp_path, when=when, x=[str(i % 5) for i in range(ROWS)])
    assert [d.line() for d in dataset.decisions if d.column == "when"] == [
        "column 'when': dates written in several formats (%d.%m.%Y, %m/%d/%Y): read as text; "
        "write them in one format (2024-01-31) to read them as dates",
        "column 'when': dropped: an identifier (every value distinct)",
    ]


def test_dates_with_a_few_words_are_named_rather_than_silently_categories(tmp_path):
    # one 'unknown' among dates made every date a category of its own, without a word on dates
    when = [f"2021-{1 + i % 12:02d}-{1 + i % 28:02d}" for i in range(ROWS)]
    when[3] = when[9] = "unknown"
    when[5] = "inf"
    dataset = dataset_of(tmp_path, when=when, x=[str(i % 5) for i in range(ROWS)])
    assert next(d.line() for d in dataset.decisions if d.column == "when") == (
        f"column 'when': dates, but 3 of {ROWS} rows hold no date ('unknown', 'inf'): read as "
        "text; write those cells empty (missing) to read the column as dates"
    )
    mostly_words = ["2021-01-05"] + [f"code {i % 7}" for i in range(ROWS - 1)]
    dataset = dataset_of(tmp_path, when=mostly_words, x=[str(i % 5) for i in range(ROWS)])
    assert not [d for d in dataset.decisions if "date" in d.detail]


def test_a_file_whose_every_column_is_dropped_says_why_in_its_refusal(tmp_path):
    # it said "every column was dropped (see above)", and nothing was above
    ids = [f"id-{i}" for i in range(ROWS)]
    with pytest.raises(DataError) as refused:
        dataset_of(tmp_path, ref=ids, kind=["a"] * ROWS)
    assert str(refused.value) == (
        "no usable feature columns: every column was dropped (column 'ref': dropped: an "
        "identifier (every value distinct); column 'kind': dropped: 'a' in every row)"
    )


def test_day_first_dates_are_dates_when_a_day_is_above_twelve(tmp_path):
    days = [f"{1 + i % 28:02d}/{1 + i % 12:02d}/2021" for i in range(ROWS)]
    dataset = dataset_of(tmp_path, when=days)
    (spec,) = dataset.features
    assert (spec["kind"], spec["date_format"]) == ("date", "%d/%m/%Y")
    ambiguous = dataset_of(tmp_path, when=[f"0{1 + i % 9}/0{1 + i % 9}/2021" for i in range(ROWS)])
    assert ambiguous.features[0]["date_format"] == "%m/%d/%Y"  # month first, as US exports


MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


@pytest.mark.parametrize(
    ("written", "date_format"),
    [
        (lambda d, m, y: f"{d:02d}-{MONTHS[m - 1]}-{y}", "%d-%b-%Y"),  # 05-Jan-2021
        (lambda d, m, y: f"{d:02d}-{MONTHS[m - 1].upper()}-{y % 100:02d}", "%d-%b-%y"),  # Oracle
        (lambda d, m, y: f"{d} {MONTHS[m - 1]} {y}", "%d %b %Y"),
        (lambda d, m, y: f"{MONTHS[m - 1]} {d}, {y}", "%b %d, %Y"),
        (lambda d, m, y: f"{MONTHS[m - 1]}-{y % 100:02d}", "%b-%y"),  # Excel's month format
        (lambda d, m, y: f"{m}/{d}/{y % 100:02d}", "%m/%d/%y"),
        (lambda d, m, y: f"{d:02d}.{m:02d}.{y % 100:02d}", "%d.%m.%y"),  # German short dates
        (lambda d, m, y: f"{d} {'Sept' if m == 9 else MONTHS[m - 1]} {y}", "%d %b %Y"),  # British
        (lambda d, m, y: f"{d:02d}-{m:02d}-{y}", "%d-%m-%Y"),  # was listed, never detected
        (lambda d, m, y: f"{m:02d}-{d:02d}-{y}", "%m-%d-%Y"),  # US, with dashes
        (lambda d, m, y: f"{y}/{m}/{d}", "%Y/%m/%d"),
        (lambda d, m, y: f"{d:02d}-{m:02d}-{y} 00:00", "%d-%m-%Y %H:%M"),  # every day format
        (lambda d, m, y: f"{MONTHS[m - 1]} {d}, {y} 00:00", "%b %d, %Y %H:%M"),  # with times
    ],
)
def test_dates_as_spreadsheets_and_databases_write_them_are_dates(tmp_path, written, date_format):
    # each was kept as categories (or dropped as an identifier), one per day, every new day
    # unseen when scoring
    cells = [written(1 + i % 28, 1 + i % 12, 2015 + i % 8) for i in range(ROWS)]
    dataset = dataset_of(tmp_path, when=cells)
    (spec,) = dataset.features
    assert (spec["kind"], spec["date_format"]) == ("date", date_format)
    days = encode_frame(dataset.frame, dataset.features)[:, 0]
    assert days[0] == parse_date("2015-01-01", "ISO8601")  # 1 January 2015, however written
    day = "01" if "%d" not in date_format else "14"  # a month is its first day
    assert days[13] == parse_date(f"2020-02-{day}", "ISO8601")
    assert parse_date(cells[13], date_format) == days[13]  # as the scorer reads a cell


@pytest.mark.parametrize("date_format", [f for f in DATE_FORMATS if f != "ISO8601"])
def test_every_date_format_passes_the_first_cell_check_and_is_detected(date_format):
    # the first-cell check restates the formats' shapes: a format it does not let through is
    # never detected (31-01-2024 and 2024/1/31 were listed and never read as dates)
    written = date_example(date_format)
    assert columns._DATE_LIKE.match(written), written
    detected = date_format_of([written])
    assert parse_date(written, detected) == parse_date(written, date_format)


def test_version_numbers_are_not_german_short_dates(tmp_path):
    # 1.2.12 reads as 1 February 2012 under %d.%m.%y: a later 2.0.14 was then refused
    versions = [f"{1 + i % 2}.{1 + i % 3}.{10 + i % 4}" for i in range(ROWS)]
    (spec,) = dataset_of(tmp_path, version=versions).features
    assert spec["kind"] == "categorical"


def test_a_category_that_starts_like_a_date_stays_a_category(tmp_path):
    rooms = [["Jan 2 team", "Room 5", "SKU-7", "May 5"][i % 4] for i in range(ROWS)]
    (spec,) = dataset_of(tmp_path, room=rooms).features
    assert spec["kind"] == "categorical"


def test_us_dates_with_dashes_and_no_day_above_twelve_are_read_month_first(tmp_path):
    # 01-02-2024 ... 12-01-2024 were read day first (1-12 January), as 31-01-2024 is
    days = [f"{1 + i % 12:02d}-{1 + i % 5:02d}-2024" for i in range(ROWS)]
    (spec,) = dataset_of(tmp_path, when=days).features
    assert spec["date_format"] == "%m-%d-%Y"


def test_two_digit_years_that_fall_after_today_are_named(tmp_path):
    # %y reads 58 as 2058: a birth date's order and weekday are wrong, and nothing says so
    born = [f"{1 + i % 12}/{1 + i % 28}/{[58, 61, 75, 83][i % 4]}" for i in range(ROWS)]
    dataset = dataset_of(tmp_path, born=born)
    (said,) = [d.detail for d in dataset.decisions if d.action == "date"]
    assert said == (
        "a date (%m/%d/%y): days since 1970-01-01, and weekday; 20 rows fall after today "
        "('1/1/58': two-digit years are read as 1969-2068); write four-digit years if they are "
        "earlier"
    )
    recent = dataset_of(tmp_path, born=[f"{1 + i % 12}/{1 + i % 28}/21" for i in range(ROWS)])
    (said,) = [d.detail for d in recent.decisions if d.action == "date"]
    assert said == "a date (%m/%d/%y): days since 1970-01-01, and weekday"


@pytest.mark.parametrize(
    ("encoding", "said"),
    [("cp1252", "Windows-1252 (it is not UTF-8)"), ("utf-16", "UTF-16 (its byte-order mark)")],
)
def test_a_windows_or_utf16_file_is_read_with_a_notice(tmp_path, encoding, said):
    text = "name,age,y\n" + "".join(
        f"“Zoë {i % 4}”,{20 + i},{'yes' if i % 3 == 0 else 'no'}\n" for i in range(ROWS)
    )
    path = tmp_path / "data.csv"
    path.write_bytes(text.encode(encoding))
    dataset = load_dataset(path, "y")
    (spec,) = [f for f in dataset.features if f["name"] == "name"]
    assert spec["categories"] == [f"“Zoë {i}”" for i in range(4)]
    assert dataset.decisions[0].line() == f"the file is read as {said}"


def mixed_file(tmp_path, header: str, places: tuple[str, str], cp1252_lines) -> Path:
    """A file of ROWS rows whose lines numbered in ``cp1252_lines`` are Windows-1252, the
    others UTF-8; its first column alternates between ``places``."""
    lines = [header] + [
        f"{places[i % 2]},{20 + i},{'yes' if i % 3 == 0 else 'no'}" for i in range(ROWS)
    ]
    path = tmp_path / "data.csv"
    path.write_bytes(
        b"".join(
            (line + "\n").encode("cp1252" if number in cp1252_lines else "utf-8")
            for number, line in enumerate(lines, start=1)
        )
    )
    return path


def test_a_utf8_file_with_a_windows_line_reads_each_line_as_written(tmp_path):
    # a row pasted in from a Windows export: read whole as Windows-1252, every UTF-8 row's
    # 'Crédit' was 'CrÃ©dit', a category of its own, and the pasted row's the only 'Crédit'
    dataset = load_dataset(mixed_file(tmp_path, "pay,age,y", ("Chèque", "Crédit"), {7}), "y")
    (spec,) = [f for f in dataset.features if f["name"] == "pay"]
    assert spec["categories"] == ["Chèque", "Crédit"]
    assert dataset.decisions[0].line() == (
        "the file mixes UTF-8 and Windows-1252 lines (1 Windows-1252: line 7); each line is "
        "read as written"
    )


@pytest.mark.parametrize("utf8_lines", [1, 3])
def test_a_windows_file_with_a_few_utf8_lines_reads_each_line_as_written(tmp_path, utf8_lines):
    """The mirror case: mostly Windows-1252 (its header too), a few UTF-8 lines. Read whole as
    Windows-1252, the UTF-8 lines' 'Genève' was 'GenÃ¨ve', a category of its own."""
    windows = {1, *range(2 + utf8_lines, ROWS + 2)}
    dataset = load_dataset(mixed_file(tmp_path, "ville,âge,y", ("Zürich", "Genève"), windows), "y")
    (spec,) = [f for f in dataset.features if f["name"] == "ville"]
    assert spec["categories"] == ["Genève", "Zürich"]
    assert [f["name"] for f in dataset.features] == ["ville", "âge"]
    assert dataset.decisions[0].action == "text_encoding"


def test_the_mixed_codec_is_registered_when_a_file_needs_it_not_on_import(tmp_path):
    """Importing `charset` changes nothing in the interpreter (no import-time side effects);
    a file of UTF-8 and Windows-1252 lines registers the codec its readers then open it with."""
    import subprocess
    import sys

    path = tmp_path / "mixed.csv"
    path.write_bytes("a,b\nCrédit,1\nChèque,2\n".encode() + "Crédit,3\n".encode("cp1252"))
    script = f"""
import codecs
from amlstack.artifact import charset
try:
    codecs.lookup(charset.MIXED)
    print("registered on import")
except LookupError:
    pass
assert charset.file_encoding({str(path)!r}) == charset.MIXED
print(open({str(path)!r}, encoding=charset.MIXED).read().split()[-1])
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["Crédit,3"]


def test_a_repeated_header_name_is_refused_and_an_empty_one_named_as_pandas_would(tmp_path):
    rows = [[str(i), str(i % 5), "yes" if i % 3 == 0 else "no"] for i in range(ROWS)]
    with pytest.raises(DataError, match=r"column 'x' appears more than once in the header$"):
        load_dataset(write_csv(tmp_path, ["x", "x", "y"], rows), "y")
    dataset = load_dataset(write_csv(tmp_path, ["x", " ", "y"], rows), "y")
    assert [f["name"] for f in dataset.features] == ["Unnamed: 1"]  # x: a row number
    assert "unnamed" in decision(dataset, "Unnamed: 1")


def test_amounts_with_currency_signs_and_parentheses_are_numbers(tmp_path):
    price = [f'"${1000 + 37 * i:,}"' if i % 4 else str(12 + i) for i in range(ROWS)]
    delta = [f"({i})" if i % 2 else str(i) for i in range(ROWS)]
    rows = [[price[i], delta[i], "yes" if i % 3 == 0 else "no"] for i in range(ROWS)]
    path = tmp_path / "data.csv"
    path.write_text("price,delta,y\n" + "".join(",".join(r) + "\n" for r in rows))
    dataset = load_dataset(path, "y")
    specs = {f["name"]: f for f in dataset.features}
    assert specs["price"]["format"] == specs["delta"]["format"] == "currency"
    assert dataset.frame["delta"].tolist()[:4] == [0.0, -1.0, 2.0, -3.0]
    assert dataset.frame["price"].tolist()[:2] == [12.0, 1037.0]
    assert decision(dataset, "price") == {"numeric_parsed"}


def test_a_few_words_among_numbers_are_read_as_missing_and_remembered(tmp_path):
    grade = [str(9 + i % 4) for i in range(ROWS)]
    grade[5], grade[17], grade[30] = "other", "Other ", "-"
    dataset = dataset_of(tmp_path, grade=grade)
    (spec,) = dataset.features
    assert (spec["kind"], spec["missing_words"], spec["nullable"]) == (
        "numeric",
        ["-", "other"],
        True,
    )
    values = dataset.frame["grade"]
    assert values.isna().tolist() == [i in (5, 17, 30) for i in range(ROWS)]
    assert [d.line() for d in dataset.decisions if d.column == "grade"] == [
        "column 'grade': numbers, and '-', 'other' in 3 rows read as missing"
    ]


def test_infinities_among_numbers_are_read_as_missing_with_a_notice(tmp_path):
    # a ratio exported by pandas or R: `inf` was "column 'ratio' holds an infinite value"
    ratio = [f"{i / 7:.3f}" for i in range(ROWS)]
    ratio[4], ratio[11], ratio[20] = "inf", "-Infinity", "Inf"
    dataset = dataset_of(tmp_path, ratio=ratio)
    (spec,) = dataset.features
    assert (spec["kind"], spec["missing_words"]) == ("numeric", ["-infinity", "inf"])
    assert dataset.frame["ratio"].isna().tolist() == [i in (4, 11, 20) for i in range(ROWS)]
    assert [d.line() for d in dataset.decisions if d.column == "ratio"] == [
        "column 'ratio': numbers, and '-infinity', 'inf' in 3 rows read as missing"
    ]


def test_excel_error_values_among_numbers_are_read_as_missing(tmp_path):
    # a ratio computed in Excel: '#DIV/0!' holds a digit, so the column was refused as a typo
    ratio = [f"{i / 7:.3f}" for i in range(ROWS)]
    ratio[4], ratio[11], ratio[20] = "#DIV/0!", "#VALUE!", "#div/0!"
    # Excel 365's, Google Sheets' and LibreOffice's error values too
    ratio[25], ratio[30], ratio[33], ratio[36] = "#SPILL!", "#CALC!", "#ERROR!", "Err:502"
    dataset = dataset_of(tmp_path, ratio=ratio)
    (spec,) = dataset.features
    assert (spec["kind"], spec["nullable"], spec.get("missing_words")) == ("numeric", True, None)
    blanked = (4, 11, 20, 25, 30, 33, 36)
    assert dataset.frame["ratio"].isna().tolist() == [i in blanked for i in range(ROWS)]


def test_excels_na_in_the_label_column_leaves_the_row_unlabelled(tmp_path):
    # a lookup that found no label: '#N/A' was a class of its own, and made a -1/1 target a
    # three-class one of text labels
    rows = [[str(i % 7), "#N/A" if i % 10 == 3 else ("1" if i % 3 else "-1")] for i in range(ROWS)]
    dataset = load_dataset(write_csv(tmp_path, ["x", "y"], rows), "y")
    assert dataset.classes == [-1, 1]
    assert decision(dataset, "y") == {"unlabelled_rows"}


def test_a_few_words_among_amounts_or_percentages_keep_the_column_numeric(tmp_path):
    price = [f'"${1000 + 37 * i:,}"' for i in range(ROWS)]
    share = [f"{i % 50}%" for i in range(ROWS)]
    price[3], price[8], share[4] = "-", "n.a.", "unknown"
    rows = [[price[i], share[i], "yes" if i % 3 == 0 else "no"] for i in range(ROWS)]
    path = tmp_path / "data.csv"
    path.write_text("price,share,y\n" + "".join(",".join(r) + "\n" for r in rows))
    dataset = load_dataset(path, "y")
    specs = {f["name"]: f for f in dataset.features}
    # each column reads the words any numeric column of the file read as missing
    words = ["-", "n.a.", "unknown"]
    assert (specs["price"]["format"], specs["price"]["missing_words"]) == ("currency", words)
    assert (specs["share"]["format"], specs["share"]["missing_words"]) == ("percent", words)
    assert dataset.frame["price"].isna().tolist()[:9] == [i in (3, 8) for i in range(9)]
    assert dataset.frame["price"][9] == 1333.0 and dataset.frame["share"][5] == 5.0


def test_times_of_day_are_hours_since_midnight(tmp_path):
    at = [f"{(i * 7) % 24:02d}:{i % 60:02d}" for i in range(ROWS)]
    at[4] = "n/a"
    dataset = dataset_of(tmp_path, at=at)
    (spec,) = dataset.features
    assert (spec["kind"], spec["format"], spec["nullable"]) == ("numeric", "time", True)
    assert dataset.frame["at"][:3].tolist() == [0.0, 7 + 1 / 60, 14 + 2 / 60]
    assert "times of day: read as hours since midnight" in dataset.decisions[-1].line()


def test_unread_units_are_named_even_when_the_column_is_dropped_as_free_text(tmp_path):
    mass = [f"{1000 + i:,} kg" for i in range(ROWS)]
    dataset = dataset_of(tmp_path, mass=mass, age=[str(20 + i % 7) for i in range(ROWS)])
    notes = [d.line() for d in dataset.decisions if d.column == "mass"]
    assert "numbers with a unit and separators ('1,000 kg')" in notes[0]
    assert notes[1].startswith("column 'mass': dropped: an identifier")


def test_numbers_with_one_unit_are_numbers_and_another_unit_is_refused_when_scoring(tmp_path):
    """`135 lb` was one category per number, silently; `250 lb` then scored as unknown."""
    import msgspec

    from amlstack.artifact.encoding import Feature
    from amlstack.artifact.schema import FeatureSpec
    from amlstack.artifact.table import read_number

    weight = [f"{100 + 3 * i} lb" if i % 3 else f"{100 + 3 * i}LB" for i in range(ROWS)]
    weight[5] = "NA"
    speed = [f"{i / 2} km/h" for i in range(ROWS)]
    dataset = dataset_of(tmp_path, weight=weight, speed=speed)
    specs = {spec["name"]: spec for spec in dataset.features}
    assert (specs["weight"]["format"], specs["weight"]["unit"]) == ("unit", "lb")
    assert (specs["speed"]["kind"], specs["speed"]["unit"]) == ("numeric", "km/h")
    assert dataset.frame["weight"][:3].tolist() == [100.0, 103.0, 106.0]
    note = next(d.line() for d in dataset.decisions if d.column == "weight" and "unit" in d.line())
    assert note == (
        "column 'weight': numbers with a unit: read without 'lb' (a cell in another unit is "
        "refused)"
    )
    feature = Feature.from_spec(msgspec.convert(specs["weight"], FeatureSpec))
    assert read_number("250 lb", feature) == read_number("250", feature) == 250.0
    with pytest.raises(ValueError):
        read_number("61 kg", feature)  # never converted, never guessed
    from amlstack.artifact.table import TableError, parse_numbers

    with pytest.raises(
        TableError, match="data row 2, column 'weight': '61 kg' is not a number in lb"
    ):
        parse_numbers(["135 lb", "61 kg"], feature)


def test_a_magnitude_is_not_read_as_the_unit_it_case_folds_to(tmp_path):
    """Units are compared case-folded (KG in a column of kg), but `5 M` in a column of metres
    is five million, not five metres: refused, as training leaves 84K a category."""
    import msgspec

    from amlstack.artifact.encoding import Feature
    from amlstack.artifact.schema import FeatureSpec
    from amlstack.artifact.table import read_number

    dataset = dataset_of(tmp_path, height=[f"{i % 7 + 1} m" for i in range(ROWS)])
    (spec,) = dataset.features
    assert (spec["format"], spec["unit"]) == ("unit", "m")
    feature = Feature.from_spec(msgspec.convert(spec, FeatureSpec))
    assert read_number("5 m", feature) == read_number("5", feature) == 5.0
    with pytest.raises(ValueError):
        read_number("5 M", feature)


@pytest.mark.parametrize(
    ("cells", "kind", "said"),
    [(["5 kg", "7 lb"], "categorical", "numbers in several units ('kg', 'lb')"),
     (["84K", "12K", "7K"], "categorical", "numbers with a magnitude ('84K')"),
     (["1,000 kg", "1,250 kg"], "categorical", "numbers with a unit and separators ('1,000 kg')"),
     (["1st", "2nd", "3rd"], "categorical", None),  # ordinals: ranks, left as categories
     (["9th", "10th", "11th"], "categorical", None),
     (["1. White", "2. Black", "3. Asian"], "categorical", None)],  # a numbered list, no units
)  # fmt: skip
def test_several_units_or_ordinals_stay_categories(tmp_path, cells, kind, said):
    """84K read as 84 'K' let a plain 84000 at scoring be read 1000 times larger; 1,000 kg
    and 2,7 km/h were one category per number without a word."""
    dataset = dataset_of(tmp_path, x=[cells[i % len(cells)] for i in range(ROWS)])
    (spec,) = dataset.features
    assert spec["kind"] == kind
    notes = [d.line() for d in dataset.decisions if d.action == "mixed_types"]
    assert (said in notes[0]) if said else notes == []


@pytest.mark.parametrize(
    "cells", [("other", "none of these", "skip", "n.a.x"), ("12a",)], ids=["four words", "a typo"]
)
def test_more_words_or_a_typo_among_numbers_is_still_refused(tmp_path, cells):
    grade = [str(9 + i % 4) for i in range(ROWS)]
    for i, cell in enumerate(cells):
        grade[3 + i] = cell
    with pytest.raises(DataError, match="column 'grade' mixes numbers and text"):
        dataset_of(tmp_path, grade=grade)


def test_the_refusal_of_text_among_numbers_names_every_kind_of_cell_at_once(tmp_path):
    # it named the first cell only: a user fixed 'NK', trained again, and met 'about 30'
    gained = [str(20 + i % 9) for i in range(ROWS)]
    for i, cell in zip((3, 9, 15, 21), ("NK", "about 30", "30+", "NK"), strict=True):
        gained[i] = cell
    message = (
        "column 'gained' mixes numbers and text in 4 rows (data row 4: 'NK'; also 'about 30', "
        "'30+'): up to 3 different words without digits are read as missing, not these; fix the "
        "values or --drop gained"
    )
    with pytest.raises(DataError, match=f"^{re.escape(message)}$"):
        dataset_of(tmp_path, gained=gained)


def test_a_delimiter_ending_every_data_row_shifts_no_column(tmp_path):
    """pandas took the first column for the row index when data rows had one field more."""
    rows = [f"{i % 7}\t{20 + i}\t{'yes' if i % 3 == 0 else 'no'}\t" for i in range(ROWS)]
    path = tmp_path / "data.tsv"
    path.write_text("\n".join(["kids\tage\ty", *rows]) + "\n")
    dataset = load_dataset(path, "y")
    assert [f["name"] for f in dataset.features] == ["kids", "age"]
    assert dataset.frame["kids"].tolist()[:3] == [0.0, 1.0, 2.0]
    assert dataset.classes == ["no", "yes"]
    rows[5] += "surplus"
    path.write_text("\n".join(["kids\tage\ty", *rows]) + "\n")
    with pytest.raises(DataError, match="data row 6 has 4 fields, the header has 3"):
        load_dataset(path, "y")


def test_a_class_called_none_is_a_label_and_none_in_a_feature_is_missing(tmp_path):
    grade = ["none", "mild", "severe"]
    path = write_csv(
        tmp_path,
        ["dose", "y"],
        [["None" if i == 4 else str(i % 9), grade[i % 3]] for i in range(ROWS)],
    )
    dataset = load_dataset(path, "y")
    assert dataset.classes == ["mild", "none", "severe"] and len(dataset.target) == ROWS
    assert np.isnan(dataset.frame["dose"][4])


def test_in_a_decimal_comma_file_dots_group_thousands_in_every_column(tmp_path):
    price = [f"{1000 + 37 * i:,}".replace(",", ".") + f",{i % 10}" for i in range(ROWS)]
    area = [f"{900 + 31 * i:,}".replace(",", ".") for i in range(ROWS)]  # 900 .. 2.109
    rows = [[price[i], area[i], "yes" if i % 3 == 0 else "no"] for i in range(ROWS)]
    path = tmp_path / "data.csv"
    path.write_text("price;area;y\n" + "".join(";".join(r) + "\n" for r in rows))
    dataset = load_dataset(path, "y")
    assert dataset.frame["area"].tolist()[:5] == [900.0, 931.0, 962.0, 993.0, 1024.0]
    assert {f["name"]: f.get("format") for f in dataset.features} == {
        "price": "decimal_comma", "area": "decimal_comma"
    }  # fmt: skip
    assert "1.108 read as 1108" in [d.line() for d in dataset.decisions][-1]
    plain = tmp_path / "plain.csv"  # no decimal comma anywhere: 1.024 stays a decimal number
    plain.write_text("area;y\n" + "".join(f"{area[i]};{rows[i][2]}\n" for i in range(ROWS)))
    assert load_dataset(plain, "y").frame["area"].tolist()[4] == 1.024


def test_a_repeated_name_written_with_a_trailing_blank_says_so(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("kids,kids ,y\n1,2,no\n3,4,yes\n")
    with pytest.raises(DataError, match=r"\(written 'kids' and 'kids ': names differ by blanks"):
        load_dataset(path, "y")


def test_every_class_too_rare_to_split_is_named_with_its_count_in_the_file():
    from amlstack.training.data import check_class_sizes

    classes = ["a", "b", "c", "d"]
    y = np.array([0] * 10 + [1] * 2 + [2] * 1 + [3] * 3)
    with pytest.raises(
        DataError, match=r"^2 class\(es\) with fewer than 3 labelled rows: 'b' \(2\), 'c' \(1\);"
    ):
        check_class_sizes(y, classes)
    check_class_sizes(np.array([0] * 3 + [1] * 3), ["a", "b"])


@pytest.mark.parametrize("delimiter", [";", "\t"], ids=["semicolon", "tab"])
def test_excels_separator_hint_line_is_named_rather_than_read_as_the_header(tmp_path, delimiter):
    path = tmp_path / "excel.csv"
    rows = "".join(f"{i}{delimiter}{'yes' if i % 2 else 'no'}\n" for i in range(9))
    path.write_text(f"sep={delimiter}\nage{delimiter}y\n{rows}")
    hint = re.escape(f"line 1 is Excel's {f'sep={delimiter}'!r} hint, not a header")
    with pytest.raises(DataError, match=hint):
        load_dataset(path, "y")


def test_a_year_and_month_column_is_a_date(tmp_path):
    month = [f"{2015 + i % 8}-{1 + i % 12:02d}" for i in range(ROWS)]
    dataset = dataset_of(tmp_path, month=month)
    (spec,) = dataset.features
    assert (spec["kind"], spec["date_format"]) == ("date", "%Y-%m")
    from amlstack.artifact.formats import parse_date

    assert parse_date("2021-03", "%Y-%m") == parse_date("2021-03-01", "%Y-%m")


@pytest.mark.parametrize(
    ("cells", "number_format", "first"),
    [([f"{i} 234,5" if i % 2 else f"{i},25" for i in range(1, ROWS + 1)], "decimal_comma", 1234.5),
     ([f"{i}\u00a0234" for i in range(1, ROWS + 1)], "thousands", 1234),
     ([f"{i}\u202f234,50\u00a0\u20ac" for i in range(1, ROWS + 1)], "decimal_comma_currency",
      1234.5),
     ([f"-{i}\u202f234" if i % 2 else str(i) for i in range(1, ROWS + 1)], "thousands", -1234),
     ([f"{i}'234.50" if i % 2 else f"{i}.5" for i in range(1, ROWS + 1)], "thousands", 1234.5),
     ([f"{i} 234.50 $" for i in range(1, ROWS + 1)], "currency", 1234.5),
     # a comma grouping thousands beside a blank doing so: training read 5 678 as 5.678
     ([f"{i} 678" if i % 2 else f"{i},234" for i in range(1, ROWS + 1)], "thousands", 1678),
     ([f"${i} 678" if i % 2 else f"${i},234" for i in range(1, ROWS + 1)], "currency", 1678)],
    ids=["space-decimal-comma", "nbsp-thousands", "narrow-nbsp-amount", "narrow-nbsp-minus",
         "swiss-apostrophe", "space-amount", "comma-and-space-thousands",
         "comma-and-space-amount"],
)  # fmt: skip
def test_numbers_with_blanks_between_thousands_are_read_alike_by_training_and_scoring(
    tmp_path, cells, number_format, first
):
    """French Excel and LibreOffice group thousands with a (narrow) no-break space, Swiss
    exports with an apostrophe: such a column was dropped as an identifier, silently, or
    refused; read now, the blank as the format's own separator, by every scoring path."""
    from amlstack_ui.form import parse_number as form_number

    from amlstack.artifact.encoding import Feature
    from amlstack.artifact.schema import FeatureSpec
    from amlstack.artifact.table import parse_numbers

    dataset = dataset_of(tmp_path, v=cells, age=[str(i % 9) for i in range(ROWS)])
    spec = dataset.features[0]
    assert (spec["kind"], spec.get("format")) == ("numeric", number_format)
    (note,) = [d.detail for d in dataset.decisions if d.action == "numeric_parsed"]
    assert "blanks or apostrophes between thousands" in note
    values = dataset.frame["v"].to_numpy()
    assert values[0] == first
    feature = Feature.from_spec(FeatureSpec(name="v", kind="numeric", number_format=number_format))
    np.testing.assert_array_equal(parse_numbers(cells, feature), values)  # predict, text/csv
    assert [form_number(c, number_format) for c in cells] == list(values)  # the UI


@pytest.mark.parametrize(
    "cells",
    [[f"{i} 234,5" if i % 2 else f"{i}.5" for i in range(1, ROWS + 1)],
     [f"{i} 234,5" if i % 2 else f"{i} 234.5" for i in range(1, ROWS + 1)]],
    ids=["beside-a-decimal-point", "comma-and-point"],
)  # fmt: skip
def test_numbers_with_blanks_between_thousands_written_two_ways_are_named(tmp_path, cells):
    """1 234,5 beside 1.5: which is the decimal mark is a guess, so the column is refused in
    one line naming two cells, never typed as text."""
    with pytest.raises(DataError, match=r"^column 'v' holds numbers with blanks between thousands"):
        dataset_of(tmp_path, v=cells)


def test_a_cell_training_would_read_otherwise_than_scoring_refuses_the_column(
    tmp_path, monkeypatch
):
    """Training rewrites a cell's minus or grouping before typing its column; scoring reads the
    cell as written: where the two would differ, the column is refused, naming the cell,
    rather than the model learning one number and being sent another."""
    monkeypatch.setattr(columns, "_DECIMAL_COMMA_CELL", re.compile(","))  # the old rule
    cells = [f"{i} 678" if i % 2 else f"{i},234" for i in range(1, ROWS + 1)]
    with pytest.raises(DataError, match=r"^column 'v' holds numbers that do not read as one "):
        dataset_of(tmp_path, v=cells)


@pytest.mark.parametrize(
    "cells",
    [
        [f"({i % 7},{i % 5})" for i in range(ROWS)],
        [f"({i % 5},{i % 3 + 10})" for i in range(ROWS)],
    ],
    ids=["pairs", "ranges"],
)
def test_a_column_of_pairs_in_parentheses_stays_text(tmp_path, cells):
    """(1,5), (2,3), (10,20): pairs or ranges, not an accountant's negative amounts (-1.5):
    parentheses mark amounts only beside cells without them."""
    dataset = dataset_of(tmp_path, v=cells, age=[str(i % 9) for i in range(ROWS)])
    (spec,) = [f for f in dataset.features if f["name"] == "v"]
    assert spec["kind"] == "categorical" and cells[1] in spec["categories"]


def test_text_with_a_few_number_like_cells_is_still_text(tmp_path):
    names = [f"street {i}" for i in range(ROWS)]
    names[3] = "1 234"  # one cell, not the column
    dataset = dataset_of(tmp_path, v=names, age=[str(i % 9) for i in range(ROWS)])
    assert decision(dataset, "v") == {"dropped"}  # all distinct: an identifier, as before


def test_a_column_of_mostly_numbers_read_as_categories_says_so(tmp_path):
    cells = [str(i % 10) if i % 3 else f"band {i % 4}" for i in range(ROWS)]  # 2/3 numbers
    dataset = dataset_of(tmp_path, v=cells, age=[str(i % 9) for i in range(ROWS)])
    assert dataset.features[0]["kind"] == "categorical"
    said = [d.line() for d in dataset.decisions if d.column == "v"]
    assert said == ["column 'v': 65.0% of the values are numbers, the others text: read as "
                    "categories (each number one of its own)"]  # fmt: skip


def test_a_continuous_target_is_named_a_regression_target():
    from amlstack.training.data import check_class_sizes

    rng = np.random.default_rng(0)
    prices = sorted({round(float(v), 2) for v in rng.normal(100, 20, 400)})
    y = np.arange(len(prices))  # every price its own class, one row each
    with pytest.raises(DataError, match=r"distinct numbers, .* a quantity to predict"):
        check_class_sizes(y, prices)
    words = [f"w{i}" for i in range(len(prices))]  # a word per row: an identifier (below)
    with pytest.raises(DataError, match="an identifier or a name, not classes to learn"):
        check_class_sizes(y, words)


def test_an_identifier_target_is_named_so_not_as_classes_to_drop():
    # mammals' species, one row each: "49 class(es) with fewer than 3 labelled rows ... (drop
    # those rows or merge each class with another)" would have dropped every row
    from amlstack.training.data import check_class_sizes

    names = [f"species {i}" for i in range(49)]
    with pytest.raises(DataError) as refused:
        check_class_sizes(np.arange(49), names)
    assert str(refused.value) == (
        "the target holds 49 distinct values in 49 labelled rows: an identifier or a name, not "
        "classes to learn; pass the column to predict as --target"
    )
    tail = np.array([0] * 30 + [1] * 30 + [2] * 2)  # a long-tailed class column: as before
    with pytest.raises(DataError, match=r"^1 class\(es\) with fewer than 3 labelled rows"):
        check_class_sizes(tail, ["a", "b", "c"])


def test_whole_numbers_with_a_few_rare_values_are_named_as_a_possible_quantity():
    # concrete strength rounded to whole MPa: 79 values, 11 of them in 1 or 2 rows; "drop those
    # rows or merge each class" alone led to a 68-class classifier of a quantity
    from amlstack.training.data import check_class_sizes

    y = np.array([i for i in range(79) for _ in range(1 if i < 11 else 10)])
    with pytest.raises(
        DataError,
        match=r"merge each class with another; or, if the 79 numbers "
        r"are a quantity rather than class codes, make classes",
    ):
        check_class_sizes(y, list(range(2, 81)))
    with pytest.raises(DataError, match=r"merge each class with another\)$"):  # class codes
        check_class_sizes(np.array([0] * 9 + [1] * 9 + [2]), [1, 2, 3])  # fmt: skip


def test_yes_no_labels_written_as_different_words_are_named(tmp_path):
    # Y / Yes and N / No: a yes/no target became four classes (no threshold, a macro AUC)
    # without a word; case variants (yes / YES) are merged, as before
    spelt = ["Y", "Yes", "yes", "N", "No"]
    path = write_csv(tmp_path, ["x", "y"], [[str(i % 7), spelt[i % 5]] for i in range(ROWS)])
    dataset = load_dataset(path, "y")
    assert dataset.classes == ["N", "No", "Y", "Yes"]
    said = [d.line() for d in dataset.decisions if d.action == "labels_several_spellings"]
    assert said == [
        "column 'y': labels 'N', 'No'; 'Y', 'Yes' look like one value written several ways, yet "
        "each is a class of its own (4 classes); write each one way if they are one"
    ]
    plain = write_csv(
        tmp_path, ["x", "y"], [[str(i % 7), "yes" if i % 3 else "no"] for i in range(ROWS)]
    )
    assert not [
        d for d in load_dataset(plain, "y").decisions if d.action == "labels_several_spellings"
    ]


def test_labels_written_as_floats_are_read_as_numbers_with_a_notice(tmp_path):
    path = write_csv(
        tmp_path, ["x", "y"], [[str(i % 7), "1.0" if i % 3 == 0 else "0.0"] for i in range(ROWS)]
    )
    dataset = load_dataset(path, "y")
    assert dataset.classes == [0, 1]
    said = [d.line() for d in dataset.decisions if d.action == "labels_as_numbers"]
    assert said == [
        "column 'y': labels are numbers, answered in one form whatever the file wrote: "
        "'0.0' is answered 0, '1.0' is answered 1"
    ]
    plain = write_csv(tmp_path, ["x", "y"], [[str(i % 7), str(i % 2)] for i in range(ROWS)])
    assert not [d for d in load_dataset(plain, "y").decisions if d.column == "y"]


def test_a_word_read_as_missing_in_one_numeric_column_is_missing_in_every_one(tmp_path):
    """A file writing `-` for a missing number: column b had none in training, and predict
    refused the test file's `-` there ("'-' is not a number")."""
    from amlstack.artifact.encoding import Feature
    from amlstack.artifact.schema import FeatureSpec
    from amlstack.artifact.table import read_number

    a = ["-" if i % 20 == 0 else str(i) for i in range(ROWS)]
    dataset = dataset_of(tmp_path, a=a, b=[str(i * 2) for i in range(ROWS)], c=labels())
    specs = {spec["name"]: spec for spec in dataset.features}
    assert specs["a"]["missing_words"] == specs["b"]["missing_words"] == ["-"]
    assert "missing_words" not in specs["c"]  # a category may well be "-"
    assert decision(dataset, "b") == set()  # nothing was read differently there
    import msgspec

    b = Feature.from_spec(msgspec.convert(specs["b"], FeatureSpec))
    assert np.isnan(read_number("-", b)) and read_number("6", b) == 6.0


def test_a_number_format_is_still_named_when_a_word_is_read_as_missing(tmp_path):
    """With one `-`, the notice said only that `-` was missing: the thousands went unnamed."""
    income = ["-" if i == 3 else f"{1000 + 37 * i:,}" for i in range(ROWS)]
    dataset = dataset_of(tmp_path, income=income)
    (note,) = [d.detail for d in dataset.decisions if d.action == "numeric_parsed"]
    assert "thousands separators" in note and "'-' in 1 rows read as missing" in note


def test_many_constant_columns_are_one_notice_and_each_a_decision(tmp_path):
    constant = {f"fp{i}": ["0"] * ROWS for i in range(8)}
    empty = {f"e{i}": [""] * ROWS for i in range(2)}
    dataset = dataset_of(tmp_path, x=[f"{i * 1.37:.2f}" for i in range(ROWS)], **constant, **empty)
    lines = columns.notice_lines(dataset.decisions)
    assert lines == [
        "8 columns dropped: one value in every row ('fp0', 'fp1', 'fp2', ...); see model.json",
        "column 'e0': dropped: empty in every row",
        "column 'e1': dropped: empty in every row",
    ]
    recorded = [d.record() for d in dataset.decisions if d.action == "dropped"]
    assert [r.column for r in recorded] == [*constant, *empty]
    assert recorded[0].detail == "'0' in every row"


def test_many_columns_of_several_spellings_are_one_notice_and_each_a_decision(tmp_path):
    """opt's 12 yes/no columns written Y/yes/YES printed 12 lines."""
    spelt = ["Y", "yes", "YES", "N", "no", "No"]
    rng = np.random.default_rng(0)
    answers = {f"q{i}": rng.choice(spelt, ROWS).tolist() for i in range(7)}
    dataset = dataset_of(tmp_path, x=[f"{i * 1.37:.2f}" for i in range(ROWS)], **answers)
    lines = columns.notice_lines(dataset.decisions)
    assert lines == [
        "7 columns hold values written several ways, each spelling a category of its own "
        "('q0', 'q1', 'q2', ...); see model.json"
    ]
    recorded = [d.record() for d in dataset.decisions if d.action == "several_spellings"]
    assert [r.column for r in recorded] == list(answers)


@pytest.mark.parametrize(
    ("cells", "number_format"),
    [(["\u22125.5", "3.25", "\u22121200"], None),
     (["\u22121,234.50", "2,345.25", "7.5"], "thousands"),
     (["\u22121.234,50", "2.345,25", "7,5"], "decimal_comma"),
     (["1.234,50-", "2.345,25", "7,5-"], "decimal_comma"),
     (["5,25- \u20ac", "1.234,50 \u20ac", "7,00 \u20ac"], "decimal_comma_currency"),
     (["1,234.50-", "2,345.25", "7.5"], "thousands")],
    ids=["unicode-minus", "unicode-minus-thousands", "unicode-minus-decimal-comma",
         "trailing-minus", "trailing-minus-amount", "trailing-minus-thousands"],
)  # fmt: skip
def test_a_typographic_or_trailing_minus_is_read_alike_by_training_and_scoring(
    tmp_path, cells, number_format
):
    """SAP writes `1.234,50-`, LibreOffice `−5` (U+2212): such a column was dropped as an
    identifier (every value distinct), silently, or refused."""
    from amlstack_ui.form import parse_number as form_number

    from amlstack.artifact.encoding import Feature
    from amlstack.artifact.schema import FeatureSpec
    from amlstack.artifact.table import parse_numbers

    column = [cells[i % 3] for i in range(ROWS)]
    dataset = dataset_of(tmp_path, v=column, age=[str(i % 9) for i in range(ROWS)])
    spec = dataset.features[0]
    assert (spec["kind"], spec.get("format")) == ("numeric", number_format)
    (note,) = [d.detail for d in dataset.decisions if d.action == "numeric_parsed"]
    assert "read as -" in note
    values = dataset.frame["v"].to_numpy()[:3]
    assert values[0] < 0 and values[1] > 0
    feature = Feature.from_spec(FeatureSpec(name="v", kind="numeric", number_format=number_format))
    np.testing.assert_array_equal(parse_numbers(cells, feature), values)  # predict, text/csv
    assert [form_number(c, number_format) for c in cells] == list(values)  # the UI


@pytest.mark.parametrize(
    "cells",
    [["(5,25 \u20ac)", "1.234,50 \u20ac", "7,00 \u20ac"],
     ["(\u20ac 5,25)", "\u20ac 1.234,50", "\u20ac 7"],
     ["(5,25)", "1.234,50", "7,5"]],
    ids=["euro-after", "euro-before", "no-sign"],
)  # fmt: skip
def test_an_accountants_negative_with_a_decimal_comma_is_read_alike_by_training_and_scoring(
    tmp_path, cells
):
    """(5,25 €) is -5.25 as (5.25) is -5.25 in an English amount column; such a column was
    dropped as an identifier, silently."""
    from amlstack_ui.form import parse_number as form_number

    from amlstack.artifact.encoding import Feature
    from amlstack.artifact.schema import FeatureSpec
    from amlstack.artifact.table import TableError, parse_numbers

    column = [cells[i % 3] for i in range(ROWS)]
    dataset = dataset_of(tmp_path, v=column, age=[str(i % 9) for i in range(ROWS)])
    spec = dataset.features[0]
    assert (spec["kind"], spec.get("format")) == ("numeric", "decimal_comma_currency")
    values = dataset.frame["v"].to_numpy()[:3]
    assert values[0] == -5.25 and values[1] == 1234.5
    fmt = "decimal_comma_currency"
    feature = Feature.from_spec(FeatureSpec(name="v", kind="numeric", number_format=fmt))
    np.testing.assert_array_equal(parse_numbers(cells, feature), values)  # predict, text/csv
    assert [form_number(c, fmt) for c in cells] == list(values)  # the UI
    for cell in ("(-5,25 \u20ac)", "(5,25 \u20ac", "5,25 \u20ac)"):
        with pytest.raises(TableError, match=r"data row 2, column 'v'"):
            parse_numbers(["1", cell], feature)


def test_indian_grouping_is_read_as_thousands_by_training_and_scoring(tmp_path):
    """12,34,567.00 (lakhs and crores, as Indian exports write): such a column was dropped as
    an identifier, silently; a comma before two digits ends no group here, so 1,23,45 is no
    number."""
    from amlstack_ui.form import parse_number as form_number

    from amlstack.artifact.encoding import Feature
    from amlstack.artifact.schema import FeatureSpec
    from amlstack.artifact.table import TableError, parse_numbers

    cells = ["12,34,567.00", "1,23,456.50", "-98,765.25", "4,00,00,000", "512.75"]
    column = [cells[i % 5] for i in range(ROWS)]
    dataset = dataset_of(tmp_path, v=column, age=[str(i % 9) for i in range(ROWS)])
    spec = dataset.features[0]
    assert (spec["kind"], spec.get("format")) == ("numeric", "thousands")
    values = dataset.frame["v"].to_numpy()[:5]
    np.testing.assert_array_equal(values, [1234567.0, 123456.5, -98765.25, 40000000.0, 512.75])
    feature = Feature.from_spec(FeatureSpec(name="v", kind="numeric", number_format="thousands"))
    np.testing.assert_array_equal(parse_numbers(cells, feature), values)  # predict, text/csv
    assert [form_number(c, "thousands") for c in cells] == list(values)  # the UI
    for cell in ("1,23,45", "12,3,456", "1,2345,678"):
        with pytest.raises(TableError, match=r"data row 2, column 'v'"):
            parse_numbers(["1", cell], feature)


def test_amounts_with_a_currency_code_before_the_number_are_named_not_dropped_silently(tmp_path):
    """EUR 1,234.50 (ISO codes, as bank exports write) reads as no format: the column was
    dropped as an identifier without a word on why."""
    cells = [f"EUR {i},{i:03d}.50" if i % 2 else f"-EUR {i}.25" for i in range(1, ROWS + 1)]
    dataset = dataset_of(tmp_path, v=cells, age=[str(i % 9) for i in range(ROWS)])
    said = [d.line() for d in dataset.decisions if d.column == "v"]
    assert said[0].startswith(
        "column 'v': amounts with a currency code before the number ('EUR 1,001.50'): read as "
        "categories"
    )
    assert said[1] == "column 'v': dropped: an identifier (every value distinct)"


@pytest.mark.parametrize(
    "make",
    [lambda i: f"{('BAW', 'DLH', 'AFR', 'KLM')[i % 4]}{100 + i}",  # flight numbers
     lambda i: f"SKU{i:05d}"],  # product codes
    ids=["flights", "products"],
)  # fmt: skip
def test_codes_with_numbers_are_not_named_amounts_in_a_currency(tmp_path, make):
    """BAW100, SKU00012: model.json recorded "amounts with a currency code before the
    number" for flight and product codes."""
    dataset = dataset_of(
        tmp_path, v=[make(i) for i in range(ROWS)], age=[str(i % 9) for i in range(ROWS)]
    )
    assert not any("currency code" in d.detail for d in dataset.decisions)


# Every number format's reading of a cell holding a long run of blanks, timed in a child
# process (a polynomial pattern would never return): prints, per case, the seconds for a short
# and a 16 times longer cell.
_TIMING_CHILD = """
import sys, time
from amlstack.artifact.formats import parse_number, signed
formats = [None, "thousands", "percent", "decimal_comma", "currency", "time", "unit",
           "decimal_comma_percent", "decimal_comma_currency"]
def seconds(fmt, pre, post, blanks):
    cell = pre + " " * blanks + post
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        try:
            parse_number(cell, fmt, "kg")
        except ValueError:
            pass
        signed(cell)
        best = min(best, time.perf_counter() - start)
    return best
for fmt in formats:
    for pre, post in (("(", "x"), ("+", "x"), ("1", "x"), ("€", "x"), ("1,5", "x-"), ("1", "x-")):
        print(fmt, repr(pre), repr(post), seconds(fmt, pre, post, 2_000),
              seconds(fmt, pre, post, 32_000), flush=True)
"""


def test_reading_a_number_takes_time_in_proportion_to_the_cell():
    """Patterns with two optional runs of blanks side by side took polynomial time on a run of
    blanks: `(`, 400 blanks, `x` took 41 s in an amount column, `1`, 16,000 blanks, `-` 0.2 s
    (a scoring cell may be megabytes: a worker held for hours)."""
    import os
    import subprocess
    import sys

    from amlstack.artifact.formats import signed

    assert signed("5,25- €") == "-5,25 €" and signed("€ 5-") == "-€ 5"
    # as training reads it (MINUS_TO_READ: a digit before the minus): scoring read -2
    assert signed("2kg-") == "2kg-" and signed("5%-") == "5%-"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run(
        [sys.executable, "-c", _TIMING_CHILD], capture_output=True, text=True, timeout=120, env=env
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 9 * 6, done.stdout
    for line in lines:
        _case, small, large = line.rsplit(" ", 2)
        # 16 times the cell: linear 16, quadratic 256
        assert float(large) < 64 * max(float(small), 1e-4), line

"""`amlstack predict` reads a user's file as training reads one: its text encoding, a padded or
empty header cell, rows short of trailing fields; and writes every row back in order."""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path

import pytest

from amlstack.errors import UserError
from amlstack.predict import predict_csv


def probabilities(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    return [row[-3:] for row in rows[1:]]


def test_a_windows_file_with_a_padded_header_and_short_rows_scores_as_the_plain_one(
    tiny_artifact, small_csv, tmp_path
):
    lines = small_csv.read_text().splitlines()
    header = lines[0].split(",")
    header[0] = f" {header[0]} "  # padded: still the feature, and written back as it was
    varied = [",".join([*header, "note"])]
    for i, line in enumerate(lines[1:]):
        # every third row stops before its last field (the note), as some exports write it
        varied.append(line if i % 3 == 0 else f"{line},“Zoë {i}”")
    windows = tmp_path / "windows.csv"
    windows.write_bytes(("\r\n".join(varied) + "\r\n").encode("cp1252"))

    plain_out, windows_out = tmp_path / "plain.out.csv", tmp_path / "windows.out.csv"
    said: list[str] = []
    rows = predict_csv(tiny_artifact, small_csv, plain_out, notice=said.append)
    assert said == []  # UTF-8: nothing to say
    assert predict_csv(tiny_artifact, windows, windows_out, notice=said.append) == rows
    assert rows == len(lines) - 1
    assert said == ["the file is read as Windows-1252 (it is not UTF-8)"]  # as training says
    assert probabilities(windows_out) == probabilities(plain_out)
    with windows_out.open(newline="", encoding="utf-8") as handle:
        out = list(csv.reader(handle))
    assert out[0][: len(header) + 1] == [*header, "note"]
    assert out[2][len(header)] == "“Zoë 1”" and out[1][len(header)] == ""  # padded, in place


def test_a_utf8_file_with_a_windows_line_keeps_every_other_line_utf8(
    tiny_artifact, small_csv, tmp_path
):
    lines = small_csv.read_text().splitlines()
    varied = [f"{lines[0]},note", *(f"{line},Zoë {i}" for i, line in enumerate(lines[1:]))]
    mixed = tmp_path / "mixed.csv"
    mixed.write_bytes(
        b"".join(
            (line + "\n").encode("cp1252" if i == 2 else "utf-8") for i, line in enumerate(varied)
        )
    )
    out = tmp_path / "mixed.out.csv"
    said: list[str] = []
    assert predict_csv(tiny_artifact, mixed, out, notice=said.append) == len(lines) - 1
    assert said == [
        "the file mixes UTF-8 and Windows-1252 lines (1 Windows-1252: line 3); each line is "
        "read as written"
    ]
    with out.open(newline="", encoding="utf-8") as handle:
        notes = [row[len(lines[0].split(","))] for row in list(csv.reader(handle))[1:]]
    assert notes == [f"Zoë {i}" for i in range(len(lines) - 1)]  # none read as 'ZoÃ«'


def test_a_repeated_header_name_is_refused_naming_it(tiny_artifact, small_csv, tmp_path):
    from amlstack.errors import DataError

    lines = small_csv.read_text().splitlines()
    first = lines[0].split(",")[0]
    doubled = tmp_path / "doubled.csv"
    doubled.write_text("\n".join([f"{lines[0]},{first}", *(f"{x},1" for x in lines[1:])]))
    with pytest.raises(DataError, match=f"column '{first}' appears more than once"):
        predict_csv(tiny_artifact, doubled, tmp_path / "out.csv")


def test_categories_unseen_in_training_are_scored_and_counted_once(
    tiny_artifact, small_csv, tmp_path
):
    lines = small_csv.read_text().splitlines()
    job = lines[0].split(",").index("job")
    rows = [line.split(",") for line in lines[1:]]
    for row in rows[:3]:
        row[job] = "astronaut"
    varied = tmp_path / "unseen.csv"
    varied.write_text("\n".join([lines[0], *(",".join(r) for r in rows)]) + "\n")
    said: list[str] = []
    assert predict_csv(tiny_artifact, varied, tmp_path / "out.csv", notice=said.append) == len(rows)
    assert said == [
        "column 'job': 3 row(s) with a category not seen in training "
        "(scored as an unknown category)"
    ]


def _notices_with_ages(artifact: Path, csv_path: Path, tmp_path: Path, ages) -> list[str]:
    """What predict says of ``csv_path`` with its first rows' ages set to ``ages`` (every row
    is scored)."""
    lines = csv_path.read_text().splitlines()
    age = lines[0].split(",").index("age")
    rows = [line.split(",") for line in lines[1:]]
    for row, value in zip(rows, ages, strict=False):
        row[age] = value
    varied = tmp_path / "varied.csv"
    varied.write_text("\n".join([lines[0], *(",".join(r) for r in rows)]) + "\n")
    said: list[str] = []
    assert predict_csv(artifact, varied, tmp_path / "out.csv", notice=said.append) == len(rows)
    return said


def test_numbers_outside_the_training_range_are_scored_and_counted_once(
    tiny_artifact, small_csv, tmp_path
):
    """As unseen categories are: they were scored without a word."""
    said = _notices_with_ages(tiny_artifact, small_csv, tmp_path, ("1000000", "-40", "1e30"))
    feature = json.loads((tiny_artifact / "model.json").read_text())["features"]
    low, high = next((f["min"], f["max"]) for f in feature if f["name"] == "age")
    assert said == [
        f"column 'age': 3 row(s) outside the training range [{low:g}, {high:g}] "
        "(scored as the nearest bound)"
    ]


def test_the_training_range_is_shown_as_the_column_was_written():
    # `:g` showed [0, 1.23457e+06] for a maximum of 1234568, so 1234568 read as outside it
    from types import SimpleNamespace

    from amlstack.artifact.encoding import Feature
    from amlstack.predict import Unusual

    price = Feature("price", "numeric", minimum=0.0, maximum=1234568.0)
    hours = Feature("opens", "numeric", minimum=7.5, maximum=9.25, number_format="time")
    said = Unusual(outside=Counter(price=2, opens=1)).notices(
        SimpleNamespace(features=[price, hours])
    )
    assert [line.split("range ")[1] for line in said] == [
        "[0, 1234568] (scored as the nearest bound)",
        "[07:30, 09:15] (scored as the nearest bound)",
    ]


def test_missing_values_in_a_column_never_missing_in_training_are_counted_once(
    tiny_artifact, small_csv, tmp_path
):
    """Imputed and scored, as the scorer counts them in /metrics; predict said nothing."""
    said = _notices_with_ages(tiny_artifact, small_csv, tmp_path, ("", "NA", "?"))
    assert said == [
        "column 'age': 3 row(s) missing, in a column never missing in training (imputed)"
    ]


def test_a_delimiter_ending_every_row_scores_as_without_it(tiny_artifact, small_csv, tmp_path):
    lines = small_csv.read_text().splitlines()
    trailing = tmp_path / "trailing.csv"
    trailing.write_text("\n".join([lines[0], *(f"{line}," for line in lines[1:])]) + "\n")
    plain_out, trailing_out = tmp_path / "plain.out.csv", tmp_path / "trailing.out.csv"
    predict_csv(tiny_artifact, small_csv, plain_out)
    assert predict_csv(tiny_artifact, trailing, trailing_out) == len(lines) - 1
    assert trailing_out.read_text() == plain_out.read_text()


def test_an_output_folder_that_does_not_exist_is_named_before_any_row_is_scored(
    tiny_artifact, small_csv, tmp_path
):
    target = tmp_path / "missing" / "scored.csv"
    with pytest.raises(UserError, match=r"--output .*scored.csv: cannot write there"):
        predict_csv(tiny_artifact, small_csv, target)
    assert not target.parent.exists()


def test_a_file_scored_before_gets_its_score_columns_replaced_not_repeated(
    tiny_artifact, small_csv, tmp_path
):
    """Read back by name, a repeated column returned the earlier scores."""
    first, second = tmp_path / "first.csv", tmp_path / "second.csv"
    notices: list[str] = []
    predict_csv(tiny_artifact, small_csv, first)
    with first.open(newline="") as handle:
        rows = list(csv.reader(handle))
    for row in rows[1:]:
        row[-1] = "stale"  # the earlier label, so a replacement shows
    with first.open("w", newline="") as handle:
        csv.writer(handle).writerows(rows)
    predict_csv(tiny_artifact, first, second, notice=notices.append)
    with second.open(newline="") as handle:
        again = list(csv.reader(handle))
    assert again[0] == rows[0]  # the same columns, once each
    assert "stale" not in {row[-1] for row in again[1:]}
    assert notices == [
        "the input's probability_no, probability_yes, predicted_label (an earlier score) now "
        "hold this model's scores"
    ]


@pytest.mark.parametrize("where", ["folder", "artifact"])
def test_an_output_that_is_a_folder_or_inside_the_artifact_is_refused(
    tiny_artifact, small_csv, tmp_path, where
):
    """Into the artifact, model.json was overwritten (exit 0) and the model no longer loaded."""
    target = tmp_path if where == "folder" else tiny_artifact / "scored.csv"
    with pytest.raises(UserError, match=r"a folder; name the file|inside the artifact"):
        predict_csv(tiny_artifact, small_csv, target)
    assert not (tiny_artifact / "scored.csv").exists()


def test_a_file_scored_before_gets_each_score_in_its_own_earlier_column():
    """Classes a"b and a'b: both earlier columns read probability_a'b (`header_names`), so a
    second scoring wrote both scores into the first and left the second's old score."""
    from amlstack.artifact.scored import earlier_columns, output_columns, placed

    added = output_columns(['a"b', "a'b", "c"])
    cells = ["x", 'probability_a"b', "probability_a'b", "probability_c", "predicted_label"]
    where = earlier_columns(cells, added, ["x"])
    row = placed(["1", "old", "old", "old", "old"], added, ["0.1", "0.2", "0.7", "c"], where)
    assert row == ["1", "0.1", "0.2", "0.7", "c"]
    # a feature of an added name is never overwritten: the score goes after the row
    assert earlier_columns(["probability_c", "y"], added, ["probability_c"]) == {}

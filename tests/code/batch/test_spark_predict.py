"""`amlstack predict --engine spark` gives the local predictor's answers, CSV and Parquet."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from amlstack.artifact.reader import Model
from amlstack.cli import build_app
from amlstack.errors import DataError, UserError
from amlstack.predict import output_columns, predict_csv

pytestmark = pytest.mark.slow  # a JVM (shared by the module's tests) and a trained artifact
ROWS = 300


@pytest.fixture(scope="module")
def rows_csv(small_csv: Path, tmp_path_factory) -> Path:
    """The first ROWS data rows of the shipped CSV, over several Spark partitions."""
    path = tmp_path_factory.mktemp("spark-in") / "rows.csv"
    with small_csv.open() as src, path.open("w") as dst:
        for i, line in enumerate(src):
            if i > ROWS:
                break
            dst.write(line)
    return path


@pytest.fixture(scope="module")
def local_answer(tiny_artifact: Path, rows_csv: Path, tmp_path_factory) -> list[dict]:
    out = tmp_path_factory.mktemp("local") / "scored.csv"
    assert predict_csv(tiny_artifact, rows_csv, out) == ROWS
    return _read_csv([out])


def _read_csv(files: list[Path]) -> list[dict]:
    rows = []
    for path in files:
        with path.open(newline="") as handle:
            rows += list(csv.DictReader(handle))
    return rows


def _parts(folder: Path, suffix: str) -> list[Path]:
    return sorted(folder.glob(f"part-*{suffix}"))


def _probabilities(rows, model: Model) -> np.ndarray:
    names = output_columns(model)[:-1]
    return np.array([[float(row[n]) for n in names] for row in rows])


def test_spark_csv_equals_local_predict(spark, tiny_artifact, rows_csv, local_answer, tmp_path):
    from amlstack.spark_predict import predict_spark

    source = spark.read.option("header", "true").csv(str(rows_csv))
    assert source.rdd.getNumPartitions() >= 1
    out = tmp_path / "scored.csv"
    assert predict_spark(tiny_artifact, str(rows_csv), str(out), spark=spark) == ROWS
    spark_rows = _read_csv(_parts(out, ".csv"))
    model = Model(tiny_artifact)
    assert len(spark_rows) == ROWS
    # The local file rounds to 6 decimals; Spark keeps the float64 of the same float32 output.
    np.testing.assert_allclose(
        _probabilities(spark_rows, model), _probabilities(local_answer, model), atol=1e-6
    )
    assert [r["predicted_label"] for r in spark_rows] == [
        r["predicted_label"] for r in local_answer
    ]
    assert (
        list(spark_rows[0])[: len(model.feature_names)]
        == list(local_answer[0])[: len(model.feature_names)]
    )


def test_a_quoted_cell_with_a_line_break_is_one_row_as_locally(
    spark, tiny_artifact, rows_csv, local_answer, tmp_path
):
    """Read line by line, Spark made two rows of such a record (one scored from the wrong
    columns, exit 0); and a doubled quote inside a cell comes back as written."""
    from amlstack.spark_predict import predict_spark

    with rows_csv.open(newline="") as handle:
        rows = list(csv.reader(handle))
    notes = [f'called twice\nsaid "later", {i}' if i % 7 == 0 else "plain" for i in range(ROWS)]
    source = tmp_path / "notes.csv"
    with source.open("w", newline="") as handle:
        csv.writer(handle).writerows(
            [[*rows[0], "note"], *([*r, n] for r, n in zip(rows[1:], notes, strict=True))]
        )
    out = tmp_path / "scored.csv"
    assert predict_spark(tiny_artifact, str(source), str(out), spark=spark) == ROWS
    spark_rows = _read_csv(_parts(out, ".csv"))
    assert [r["note"] for r in spark_rows] == notes
    assert [r["predicted_label"] for r in spark_rows] == [
        r["predicted_label"] for r in local_answer
    ]


def test_spark_reads_a_utf16_file_and_names_a_windows_one_it_cannot(
    spark, tiny_artifact, rows_csv, local_answer, tmp_path
):
    from amlstack.errors import UserError
    from amlstack.spark_predict import predict_spark

    lines = rows_csv.read_text().splitlines()
    body = "\n".join([f"{lines[0]},note", *(f"{line},Zoë" for line in lines[1:])]) + "\n"
    utf16 = tmp_path / "utf16.csv"
    utf16.write_bytes(body.encode("utf-16"))
    out = tmp_path / "scored.csv"
    assert predict_spark(tiny_artifact, str(utf16), str(out), spark=spark) == ROWS
    spark_rows = _read_csv(_parts(out, ".csv"))
    model = Model(tiny_artifact)
    assert {row["note"] for row in spark_rows} == {"Zoë"}
    np.testing.assert_allclose(
        _probabilities(spark_rows, model), _probabilities(local_answer, model), atol=1e-6
    )
    windows = tmp_path / "windows.csv"
    windows.write_bytes(body.replace("Zoë", "“Zoë”").encode("cp1252"))
    with pytest.raises(UserError, match="a Windows-1252 file, which Spark's CSV reader"):
        predict_spark(tiny_artifact, str(windows), str(tmp_path / "w.csv"), spark=spark)
    mixed = tmp_path / "mixed.csv"
    text = body.replace("Zoë", "“Zoë”").splitlines(keepends=True)
    mixed.write_bytes(
        b"".join(x.encode("cp1252" if i == 3 else "utf-8") for i, x in enumerate(text))
    )
    with pytest.raises(UserError, match=r"a mixed UTF-8 and Windows-1252 file.* re-save its"):
        predict_spark(tiny_artifact, str(mixed), str(tmp_path / "m.csv"), spark=spark)


def test_spark_names_columns_as_every_other_reader(
    spark, tiny_artifact, rows_csv, local_answer, tmp_path
):
    from amlstack.spark_predict import predict_spark

    lines = rows_csv.read_text().splitlines()
    header = ",".join(f" {name} " for name in lines[0].split(","))  # blanks, as Excel leaves
    body = "\n".join([f"{header},", *(f"{line},x" for line in lines[1:])]) + "\n"
    source = tmp_path / "blanks.csv"
    source.write_text(body)
    out = tmp_path / "scored.csv"
    assert predict_spark(tiny_artifact, str(source), str(out), spark=spark) == ROWS
    spark_rows = _read_csv(_parts(out, ".csv"))
    assert {row["Unnamed: " + str(len(lines[0].split(",")))] for row in spark_rows} == {"x"}
    np.testing.assert_allclose(
        _probabilities(spark_rows, Model(tiny_artifact)),
        _probabilities(local_answer, Model(tiny_artifact)),
        atol=1e-6,
    )


def test_spark_parquet_in_and_out(spark, tiny_artifact, rows_csv, local_answer, tmp_path):
    """Typed Parquet columns (numbers as numbers) score the same as the CSV's text."""
    import pandas as pd

    from amlstack.spark_predict import predict_spark

    source = tmp_path / "rows.parquet"
    pd.read_csv(rows_csv).to_parquet(source)
    out = tmp_path / "scored.parquet"
    assert predict_spark(tiny_artifact, str(source), str(out), spark=spark) == ROWS
    scored = pd.read_parquet(out)
    model = Model(tiny_artifact)
    names = output_columns(model)
    np.testing.assert_allclose(
        scored[names[:-1]].to_numpy(), _probabilities(local_answer, model), atol=1e-6
    )
    assert scored["age"].dtype.kind == "i"  # the input columns keep their types


def test_many_partitions_still_match(spark, tiny_artifact, rows_csv, local_answer):
    """One session per partition: split the rows over 5 tasks and compare row by row."""
    from amlstack.spark_predict import score_frame

    model = Model(tiny_artifact)
    frame = spark.read.option("header", "true").csv(str(rows_csv)).repartition(5)
    scored = score_frame(spark, frame, tiny_artifact, model, label="rows").toPandas()
    assert scored.shape[0] == ROWS
    key = model.feature_names
    local = {tuple(r[k] for k in key): r for r in local_answer}
    names = output_columns(model)[:-1]
    for record in scored.to_dict("records"):
        expected = local[tuple(record[k] for k in key)]
        assert [record[n] for n in names] == pytest.approx(
            [float(expected[n]) for n in names], abs=1e-6
        )


def test_bad_value_is_one_line_naming_the_column(spark, tiny_artifact, rows_csv, tmp_path):
    from amlstack.spark_predict import predict_spark

    lines = rows_csv.read_text().splitlines()
    header = lines[0].split(",")
    cells = lines[3].split(",")
    cells[header.index("age")] = "old"
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join([lines[0], lines[1], ",".join(cells)]) + "\n")
    with pytest.raises(DataError) as caught:
        predict_spark(tiny_artifact, str(bad), str(tmp_path / "o.csv"), spark=spark)
    message = str(caught.value)
    assert "column 'age': 'old' is not a number" in message
    assert "\n" not in message and "Traceback" not in message


def test_missing_column_and_bad_paths(spark, tiny_artifact, rows_csv, tmp_path):
    from amlstack.spark_predict import predict_spark

    narrow = tmp_path / "narrow.csv"
    narrow.write_text("age,job\n30,admin.\n")
    with pytest.raises(DataError, match="missing column"):
        predict_spark(tiny_artifact, str(narrow), str(tmp_path / "o.csv"), spark=spark)
    with pytest.raises(UserError, match=r"name a \.csv or \.parquet"):
        predict_spark(tiny_artifact, str(rows_csv), str(tmp_path / "o.json"), spark=spark)
    with pytest.raises(UserError, match="--input"):
        predict_spark(
            tiny_artifact, str(tmp_path / "none.csv"), str(tmp_path / "o.csv"), spark=spark
        )


def test_cli_engine_spark_uses_the_running_session(spark, tiny_artifact, rows_csv, tmp_path):
    out = tmp_path / "cli.csv"
    result = CliRunner().invoke(
        build_app(),
        ["predict", "--engine", "spark", "--master", "local[1]", "--model", str(tiny_artifact),
         "--input", str(rows_csv), "--output", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert f"scored {ROWS} rows" in result.output
    assert len(_read_csv(_parts(out, ".csv"))) == ROWS
    assert spark.sparkContext._jsc is not None  # the shared session was not stopped


def test_cli_refuses_master_for_the_local_engine(tiny_artifact, rows_csv, tmp_path):
    result = CliRunner().invoke(
        build_app(),
        ["predict", "--master", "local[2]", "--model", str(tiny_artifact),
         "--input", str(rows_csv), "--output", str(tmp_path / "o.csv")],
    )  # fmt: skip
    assert result.exit_code != 0
    assert isinstance(result.exception, UserError)
    assert "--master applies to --engine spark only" in str(result.exception)


def test_a_decimal_comma_models_scores_are_written_with_a_comma(spark, tmp_path):
    """As `amlstack predict` writes them: Spark wrote 0.4629289507865906 into a ';' file."""
    from amlstack.spark_predict import predict_spark
    from amlstack.training.train import TrainConfig, train

    rng = np.random.default_rng(3)
    data = tmp_path / "europe.csv"
    rows = [["weight", "y"]]
    for _ in range(120):
        weight = float(rng.normal(70, 10))
        rows.append([f"{weight:.1f}".replace(".", ","), "ja" if weight > 70 else "nee"])
    data.write_text("\n".join(";".join(r) for r in rows) + "\n")
    config = TrainConfig(
        data=data, target="y", out=tmp_path / "art", time_budget=None, max_iter=2,
        learners=("lr",), seed=0,
    )  # fmt: skip
    artifact = train(config).path
    local, out = tmp_path / "local.csv", tmp_path / "spark.csv"
    predict_csv(artifact, data, local)
    assert predict_spark(artifact, str(data), str(out), spark=spark) == 120
    spark_rows = []
    for part in _parts(out, ".csv"):
        with part.open(newline="") as handle:
            spark_rows += list(csv.DictReader(handle, delimiter=";"))
    with local.open(newline="") as handle:
        local_rows = list(csv.DictReader(handle, delimiter=";"))
    assert [r["probability_ja"] for r in spark_rows] == [r["probability_ja"] for r in local_rows]
    assert all("," in r["probability_ja"] for r in spark_rows)

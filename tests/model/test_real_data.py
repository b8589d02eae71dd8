"""Training on a messy CSV, every learner: missing values everywhere, ids, dates, formats,
rows without a label.

One small training run (a few trials per learner) shared by the module; each test checks one
behaviour of the artifact it wrote.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest

from amlstack.artifact.reader import Model
from amlstack.training import columns

pytestmark = pytest.mark.slow
ROWS = 400  # labelled
UNLABELLED = (50, 150, 250, 350)  # after these labelled rows, a copy without a label


def messy_csv(path: Path) -> Path:
    """A CSV a user might bring: markers for missing cells, an id, a date, formatted numbers,
    and a few rows whose label is not known yet."""
    rng = np.random.default_rng(0)
    markers = ["", "NA", "N/A", "null", "?", "NaN"]
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "age", "income", "rate", "city", "member", "signup", "plan", "y"])
        for i in range(ROWS):
            age = int(rng.integers(18, 80))
            income = int(rng.integers(1000, 90000))
            member = rng.random() < 0.5
            score = (age - 45) / 20 + (income - 45000) / 30000 + (1.0 if member else -0.5)
            label = "churned" if score + rng.normal() > 0 else "stayed"
            cells = [
                f"C{i:05d}", str(age), f"{income:,}", f"{rng.integers(0, 100)}%",
                f"city{rng.integers(0, 60)}", "yes" if member else "no",
                f"2023-{rng.integers(1, 13):02d}-{rng.integers(1, 29):02d}",
                ["basic", "plus", "pro"][i % 3], label,
            ]  # fmt: skip
            for j in (1, 2, 4, 6):  # age, income, city, signup: some cells missing
                if rng.random() < 0.08:
                    cells[j] = markers[int(rng.integers(0, len(markers)))]
            writer.writerow(cells)
            if i in UNLABELLED:
                writer.writerow([*cells[:-1], "" if i in (50, 250) else "NA"])
    return path


@pytest.fixture(scope="module")
def messy(tmp_path_factory):
    from amlstack.training.train import TrainConfig, train

    folder = tmp_path_factory.mktemp("messy")
    data = messy_csv(folder / "customers.csv")
    notices: list[str] = []
    patch = pytest.MonkeyPatch()
    patch.setattr(columns, "MAX_CATEGORIES", 40)  # so 60 cities count as high-cardinality
    try:
        result = train(
            TrainConfig(data=data, target="y", out=folder / "art", time_budget=None,
                        max_iter=7, seed=1),
            notice=notices.append,
        )  # fmt: skip
    finally:
        patch.undo()
    return result, notices, data


def meta_of(result) -> dict:
    return json.loads((result.path / "model.json").read_text())


def test_every_learner_trains_on_missing_values(messy):
    result, _, _ = messy
    assert {row["model"] for row in result.leaderboard} == {
        "lgbm", "xgboost", "catboost", "rf", "extra_tree", "lr", "mlp"
    }  # fmt: skip
    assert result.metrics["AUC"] > 0.7


def test_each_column_decision_is_noticed_once_and_recorded(messy):
    result, notices, _ = messy
    recorded = {(d["column"], d["action"]) for d in meta_of(result)["column_decisions"]}
    assert {("id", "dropped"), ("income", "numeric_parsed"), ("rate", "numeric_parsed"),
            ("city", "frequency_encoded"), ("member", "boolean"), ("signup", "date"),
            ("age", "missing_values")} <= recorded  # fmt: skip
    assert len([n for n in notices if n.startswith("column 'id'")]) == 1
    assert "id" in meta_of(result)["dropped_columns"]


def test_rows_without_a_label_are_left_out_with_a_notice(messy):
    result, notices, _ = messy
    [decision] = [d for d in meta_of(result)["column_decisions"] if d["column"] == "y"]
    assert decision["action"] == "unlabelled_rows"
    # data rows are numbered from 1; each unlabelled copy follows its labelled row
    assert "in 4 of 404 rows (data row 52, 153, 254, 355)" in decision["detail"]
    noticed = [n for n in notices if n.startswith("column 'y'")]
    assert noticed == [f"column 'y': {decision['detail']}"]
    assert meta_of(result)["training"]["rows"]["total"] == ROWS


def test_artifact_agrees_with_the_trained_model(messy):
    result, _, _ = messy
    model = Model(result.path)
    holdout = json.loads((result.path / "holdout.json").read_text())["rows"]
    from amlstack.training.data import encode_frame, load_dataset

    patch = pytest.MonkeyPatch()
    patch.setattr(columns, "MAX_CATEGORIES", 40)
    try:
        dataset = load_dataset(messy[2], "y")
    finally:
        patch.undo()
    # holdout.json names rows of the file: labelled ones only, mapped back to the dataset's rows
    index = dataset.rows_at(holdout)
    assert dataset.file_positions(index) == list(holdout)
    matrix = encode_frame(dataset.frame, dataset.features)[index]
    assert np.isnan(matrix).any()
    gap = np.abs(model.predict_proba(matrix) - result.memory_holdout_proba).max()
    assert gap <= 1e-5


def test_missing_value_where_training_had_none_is_imputed(messy):
    result, _, _ = messy
    model = Model(result.path)
    record = dict(model.sample_input()[0])
    assert not next(f for f in model.features if f.name == "rate").nullable
    full = model.predict_proba(model.encode_records([record]))
    record["rate"] = None
    del record["plan"]  # an absent value is missing too
    proba = model.predict_proba(model.encode_records([record]))
    assert np.isfinite(proba).all() and proba.shape == full.shape


def test_predict_reads_markers_and_formatted_numbers(messy, tmp_path):
    from amlstack.predict import predict_csv

    result, _, data = messy
    out = tmp_path / "scored.csv"
    assert predict_csv(result.path, data, out) == ROWS + len(UNLABELLED)  # the unknown ones too
    with out.open() as handle:
        scored = list(csv.DictReader(handle))
    assert all(math.isfinite(float(r["probability_churned"])) for r in scored)


def test_the_shipped_model_learned_every_row(messy):
    result, _, _ = messy
    meta = meta_of(result)
    assert meta["training"]["rows"]["shipped_model"] == ROWS
    assert "non-holdout rows" in meta["metrics"]["measured_model"]
    assert meta["training"]["member_selection"] == "5-fold out-of-fold"
    assert meta["training"]["tuning"] == "5-fold cross-validation"
    assert not np.allclose(result.memory_holdout_proba, result.measured_holdout_proba)


def test_small_data_ships_bagged_members_within_the_tree_cap(messy):
    """400 rows: members are the mean of their five fold models, and model.json says so."""
    result, _, _ = messy
    meta = meta_of(result)
    members = meta["model"]["members"]
    bagged = [m["learner"] for m in members if m.get("bagged_folds") == 5]
    assert bagged, members
    assert "mean of 5 models" in meta["metrics"]["measured_model"]
    assert all(f"{name}" in meta["model"]["description"] for name in bagged)
    assert "5-fold bag" in meta["model"]["description"]


def quick_train(data: Path, out: Path, notice=lambda line: None):
    """A seconds-long model of a small file: logistic regression, two trials, seeded."""
    from amlstack.training.train import TrainConfig, train

    config = TrainConfig(
        data=data, target="y", out=out, time_budget=None, max_iter=2, learners=("lr",), seed=0
    )
    return train(config, notice=notice)


def test_a_decimal_comma_file_is_scored_back_with_decimal_commas(tmp_path):
    """A European export (`;`, `17,5`) gets probabilities a spreadsheet in its locale reads as
    numbers; the same model's scores with a point would be text there."""
    from amlstack.predict import predict_csv

    rng = np.random.default_rng(3)
    data = tmp_path / "europe.csv"
    rows = [["weight", "city", "y"]]
    for i in range(120):
        weight = float(rng.normal(70, 10))
        label = "ja" if weight > 70 else "nee"
        rows.append([f"{weight:.1f}".replace(".", ","), f"c{i % 4}", label])
    data.write_text("\n".join(";".join(r) for r in rows) + "\n")
    result = quick_train(data, tmp_path / "art")
    out = tmp_path / "scored.csv"
    assert predict_csv(result.path, data, out) == 120
    with out.open(newline="") as handle:
        scored = list(csv.DictReader(handle, delimiter=";"))
    cells = [r[f"probability_{c}"] for r in scored for c in ("ja", "nee")]
    assert all("," in c and "." not in c for c in cells)
    assert {r["weight"] for r in scored} == {r[0] for r in rows[1:]}  # the input, untouched


def test_names_no_json_record_can_carry_are_renamed_alike_everywhere(tmp_path):
    """A quote, a backslash or a line break in a header name: the scorer's record schema
    cannot hold them (it failed to start), so every reader names the column the same way."""
    from amlstack.artifact.reader import Model
    from amlstack.predict import predict_csv
    from amlstack_scorer.app import create_app
    from amlstack_scorer.settings import Settings

    rng = np.random.default_rng(5)
    data = tmp_path / "odd.csv"
    with data.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(['say "hi"', "C:\\path", "new\nline", "y"])
        for _ in range(120):
            x = float(rng.normal())
            writer.writerow([rng.choice(["p", "q"]), f"{x:.3f}", rng.integers(0, 9), x > 0])
    notices: list[str] = []
    result = quick_train(data, tmp_path / "art", notices.append)
    names = ["say 'hi'", "C:/path", "new line"]
    assert Model(result.path).feature_names == names
    said = [n for n in notices if "in the header: a double quote" in n]
    assert len(said) == 3
    assert all(
        line.startswith(f"column {n!r}: written") for line, n in zip(said, names, strict=True)
    )
    assert predict_csv(result.path, data, tmp_path / "scored.csv") == 120
    key = "k" * 20
    client = create_app(Settings(primary_key=key), Model(result.path)).test_client()
    record = {"say 'hi'": "p", "C:/path": 0.5, "new line": 3}
    answer = client.post(
        "/score", json={"data": [record]}, headers={"Authorization": f"Bearer {key}"}
    )
    assert answer.status_code == 200, answer.get_data(as_text=True)


def test_a_one_feature_model_scores_a_one_column_file(tmp_path):
    """Its input file has no delimiter at all: predict refused it as "not a CSV file"."""
    from amlstack.predict import predict_csv

    rng = np.random.default_rng(2)
    x = rng.normal(size=150)
    data = tmp_path / "one.csv"
    labels = np.where(x + rng.normal(size=150) > 0, "yes", "no")
    data.write_text("x1,y\n" + "".join(f"{v:.3f},{y}\n" for v, y in zip(x, labels, strict=True)))
    result = quick_train(data, tmp_path / "art")
    new = tmp_path / "new.csv"
    new.write_text('x1\n0.5\n""\nNA\n-1.2\n')
    assert predict_csv(result.path, new, tmp_path / "scored.csv") == 4
    with (tmp_path / "scored.csv").open(newline="") as handle:
        scored = list(csv.DictReader(handle))
    assert [r["x1"] for r in scored] == ["0.5", "", "NA", "-1.2"]
    assert scored[1]["probability_yes"] == scored[2]["probability_yes"]  # both missing

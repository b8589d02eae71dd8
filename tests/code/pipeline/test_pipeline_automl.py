"""The pipeline with the real AutoML trainer, starting from a model trained by `amlstack train`."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from amlstack.errors import DataError, UserError
from amlstack.pipeline import stages
from amlstack.pipeline.bootstrap import add_artifact
from amlstack.pipeline.registry import Registry
from amlstack.pipeline.validate import row_hashes
from amlstack.training.data import read_table


@pytest.mark.slow
def test_appended_rows_retrain_and_gate_against_a_hand_trained_champion(
    tiny_training, small_csv, bank, tmp_path
):
    registry = Registry(tmp_path / "registry", "bankmarketing")
    entry = add_artifact(registry, tiny_training.path, small_csv)
    registry.promote(entry["version"])
    trained = registry.trained_rows(entry["version"])
    # the shipped model was refitted on every row, its held-out ones too: all count as trained on
    assert len(trained) == len(pd.read_csv(small_csv))

    data = tmp_path / "appended.csv"
    bank.head(5500).to_csv(data, index=False)  # the champion's 4000 rows + 1500 new ones
    config = stages.RunConfig(
        data=str(data), runs=str(tmp_path / "runs"), registry=str(tmp_path / "registry"),
        artifacts=str(tmp_path / "artifacts"), time_budget=None, max_iter=4, seed=3,
        extra={"learners": "lgbm,lr"},
    )  # fmt: skip
    record = stages.run_pipeline(stages.create_run(config))
    assert record["status"] == "done"
    assert record["decision"]["decision"] in ("promote", "refuse")
    assert any("champion" in r for r in record["decision"]["reasons"])
    folder = tmp_path / "runs" / record["run_id"]
    holdout = pd.read_csv(folder / "validate_data" / "holdout.csv")
    columns = registry.trained_columns(entry["version"])
    read = read_table(folder / "validate_data" / "holdout.csv", "y")  # as the pipeline reads it
    assert len(read) == len(holdout)
    assert not set(row_hashes(read, columns)) & set(trained)
    evaluation = json.loads((folder / "evaluate" / "result.json").read_text())
    assert set(evaluation["metrics"]) == {"challenger", "champion", "delta"}
    production = registry.tagged("production")["version"]
    promoted = record["decision"]["decision"] == "promote"
    assert (production != entry["version"]) == promoted


def _formatted_rows(n: int, seed: int) -> pd.DataFrame:
    """Columns as exports write them: dates (some missing), amounts, times of day, a word."""
    import numpy as np

    rng = np.random.default_rng(seed)
    day = pd.Timestamp("2021-01-01") + pd.to_timedelta(rng.integers(0, 700, n), unit="D")
    amount = rng.integers(10, 5000, n)
    hour = rng.integers(6, 23, n)
    late = (hour > 17) & (rng.random(n) < 0.8) | (rng.random(n) < 0.15)
    frame = pd.DataFrame(
        {
            "booked": [d.strftime("%d/%m/%Y") for d in day],
            "price": [f"${a:,}" for a in amount],
            "departs": [
                f"{h:02d}:{m:02d}" for h, m in zip(hour, rng.integers(0, 60, n), strict=True)
            ],
            "y": np.where(late, "late", "on time"),
        }
    )
    frame.loc[rng.random(n) < 0.05, "booked"] = ""
    frame.loc[rng.random(n) < 0.03, "price"] = "n/a"
    frame.loc[rng.random(n) < 0.03, "departs"] = "cancelled"
    return frame


@pytest.mark.slow
def test_dates_amounts_and_times_run_through_every_stage(tmp_path):
    """Evaluation and the gate read new rows as `amlstack predict` does (they crashed on a
    missing date, and validation refused `$1,234` as not a number)."""
    first, more = tmp_path / "first.csv", tmp_path / "more.csv"
    _formatted_rows(900, 1).to_csv(first, index=False)
    pd.concat([_formatted_rows(900, 1), _formatted_rows(600, 2)]).to_csv(more, index=False)

    def run(data):
        config = stages.RunConfig(
            data=str(data), runs=str(tmp_path / "runs"), registry=str(tmp_path / "registry"),
            artifacts=str(tmp_path / "artifacts"), time_budget=None, max_iter=3, seed=3,
            extra={"learners": "lgbm,lr"},
        )  # fmt: skip
        return stages.run_pipeline(stages.create_run(config))

    assert run(first)["decision"]["decision"] == "promote"
    record = run(more)
    assert record["status"] == "done", record
    assert any("champion" in r for r in record["decision"]["reasons"])
    junk = _formatted_rows(400, 3)
    junk.loc[7, "booked"] = "31/02/2022"
    junk.to_csv(tmp_path / "junk.csv", index=False)
    with pytest.raises(
        DataError, match=r"column 'booked' changed type: expected dates, found '31/02/2022'"
    ):
        run(tmp_path / "junk.csv")


@pytest.mark.slow
def test_registering_a_model_with_data_it_was_not_trained_on_is_refused(
    tiny_training, bank, tmp_path
):
    # Refitted on every row, the model needs no held-out row numbers, but wrong --data would
    # record other rows as its own and later evaluate it on the ones it learnt.
    other = tmp_path / "other.csv"
    bank.iloc[5000:6000].to_csv(other, index=False)
    registry = Registry(tmp_path / "registry", "bankmarketing")
    with pytest.raises(UserError, match="was trained on other data"):
        add_artifact(registry, tiny_training.path, other)
    assert registry.versions() == []

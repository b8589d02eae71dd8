"""The pipeline with the real AutoML trainer, starting from a model trained by `amlstack train`."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from amlstack.pipeline import stages
from amlstack.pipeline.bootstrap import add_artifact
from amlstack.pipeline.registry import Registry
from amlstack.pipeline.validate import row_hashes


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
        artifacts=str(tmp_path / "artifacts"), time_budget=0, max_iter=4, seed=3,
        extra={"learners": "lgbm,lr"},
    )  # fmt: skip
    record = stages.run_pipeline(stages.create_run(config))
    assert record["status"] == "done"
    assert record["decision"]["decision"] in ("promote", "refuse")
    assert any("champion" in r for r in record["decision"]["reasons"])
    folder = tmp_path / "runs" / record["run_id"]
    holdout = pd.read_csv(folder / "validate_data" / "holdout.csv")
    assert not set(row_hashes(holdout)) & set(trained)
    evaluation = json.loads((folder / "evaluate" / "result.json").read_text())
    assert set(evaluation["metrics"]) == {"challenger", "champion", "delta"}
    production = registry.tagged("production")["version"]
    promoted = record["decision"]["decision"] == "promote"
    assert (production != entry["version"]) == promoted

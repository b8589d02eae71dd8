"""The local pipeline: each stage on small real data, gate decisions, resume, validation stops."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tiny_trainer

from amlstack.artifact.names import AUC
from amlstack.errors import DataError, ExternalError, InternalError, UserError
from amlstack.pipeline import stages
from amlstack.pipeline.registry import Registry

HERE = Path(__file__).resolve().parent


def config(tmp_path: Path, data: Path, **extra) -> stages.RunConfig:
    return stages.RunConfig(
        data=str(data),
        runs=str(tmp_path / "runs"),
        registry=str(tmp_path / "registry"),
        artifacts=str(tmp_path / "artifacts"),
        extra=extra,
    )


def run(cfg: stages.RunConfig, trainer=tiny_trainer.trainer) -> dict:
    return stages.run_pipeline(stages.create_run(cfg), trainer=trainer)


def test_first_run_promotes_and_records_lineage(tmp_path, first_rows):
    record = run(config(tmp_path, first_rows))
    assert record["status"] == "done"
    assert record["decision"]["decision"] == "promote"
    assert any("no champion" in r for r in record["decision"]["reasons"])
    registry = Registry(tmp_path / "registry", "bankmarketing")
    entry = registry.tagged("production")
    assert entry["run_id"] == record["run_id"]
    assert entry["parent"] is None
    assert entry["data"]["data_sha256"] == stages.sha256_path(first_rows)
    assert entry["code_version"]
    assert 0.75 < entry["metrics"][AUC]["value"] <= 1
    folder = Path(tmp_path / "runs" / record["run_id"])
    for stage in stages.STAGES:
        assert json.loads((folder / stage / "result.json").read_text())["status"] == "done"
    assert (folder / "roc.png").stat().st_size > 0
    assert "Decision: promote" in (folder / "report.html").read_text()


def test_a_semicolon_csv_that_training_accepts_runs_through_the_pipeline(tmp_path, bank):
    path = tmp_path / "semicolon.csv"
    bank.head(3000).to_csv(path, index=False, sep=";")
    record = run(config(tmp_path, path))
    assert record["status"] == "done" and record["decision"]["decision"] == "promote"


def test_rows_without_a_label_are_warned_about_and_neither_trained_nor_evaluated_on(tmp_path, bank):
    frame = bank.head(3000).copy()
    frame.loc[[5, 700, 2100], "y"] = ["", "NA", "?"]
    path = tmp_path / "unlabelled.csv"
    frame.to_csv(path, index=False)
    record = run(config(tmp_path, path))
    assert record["status"] == "done"
    folder = tmp_path / "runs" / record["run_id"] / "validate_data"
    result = json.loads((folder / "result.json").read_text())
    warning = "target 'y' is empty in 3 rows: left out of training and evaluation"
    assert warning in result["warnings"]
    assert set(result["label_balance"]) == {"no", "yes"}
    assert result["split"]["rows"] == 2997
    for part in ("train.csv", "holdout.csv"):
        labels = pd.read_csv(folder / part, dtype=str, keep_default_na=False)["y"]
        assert set(labels) == {"no", "yes"}, part


def test_holdout_rows_are_new_rows_only_and_never_trained_on(tmp_path, first_rows, appended_rows):
    run(config(tmp_path, first_rows))
    record = run(config(tmp_path, appended_rows))
    folder = tmp_path / "runs" / record["run_id"] / "validate_data"
    holdout = pd.read_csv(folder / "holdout.csv")
    train = pd.read_csv(folder / "train.csv")
    champion_train = pd.read_csv(next((tmp_path / "runs").glob("*/validate_data/train.csv")))
    key = list(train.columns)
    assert holdout.merge(champion_train, on=key).empty  # the champion never trained on them
    assert holdout.merge(train, on=key).empty  # nor did the challenger
    result = json.loads((folder / "result.json").read_text())
    # The 1500 appended rows plus the 600 rows the champion itself was evaluated on.
    assert result["split"]["eligible_for_holdout"] == 1500 + 600
    assert result["champion"] == "1"


def test_the_champions_rows_stay_known_when_the_file_adds_or_reorders_columns(
    tmp_path, bank, first_rows, appended_rows
):
    # The next export has one more column and another column order: the champion's 3000 rows
    # are still its own, and only the 1500 appended and the 600 it was evaluated on are new.
    run(config(tmp_path, first_rows))
    later = pd.read_csv(appended_rows).assign(region="north")
    later = later[list(reversed(later.columns))]
    later.to_csv(tmp_path / "data_v3.csv", index=False)
    record = run(config(tmp_path, tmp_path / "data_v3.csv"))
    folder = tmp_path / "runs" / record["run_id"] / "validate_data"
    result = json.loads((folder / "result.json").read_text())
    assert result["split"]["eligible_for_holdout"] == 1500 + 600


def test_weaker_challenger_is_refused_with_reasons(tmp_path, first_rows, appended_rows):
    run(config(tmp_path, first_rows))
    # Without `duration`, the strongest feature, the challenger loses ~0.1 AUC.
    record = run(config(tmp_path, appended_rows, drop=["duration"]))
    decision = record["decision"]
    assert decision["decision"] == "refuse"
    assert any("worse than the champion beyond the tolerance" in r for r in decision["reasons"])
    registry = Registry(tmp_path / "registry", "bankmarketing")
    assert registry.tagged("production")["version"] == "1"
    assert [v["version"] for v in registry.versions()] == ["1"]
    register = json.loads(
        (tmp_path / "runs" / record["run_id"] / "register" / "result.json").read_text()
    )
    assert register["registered"] is False


def test_equal_challenger_is_promoted_with_the_champion_as_parent(
    tmp_path, first_rows, appended_rows
):
    run(config(tmp_path, first_rows))
    record = run(config(tmp_path, appended_rows))
    assert record["decision"]["decision"] == "promote", record["decision"]
    assert any("not worse than the champion" in r for r in record["decision"]["reasons"])
    registry = Registry(tmp_path / "registry", "bankmarketing")
    entry = registry.tagged("production")
    assert entry["version"] == "2" and entry["parent"] == "1"
    evaluation = json.loads(
        (tmp_path / "runs" / record["run_id"] / "evaluate" / "result.json").read_text()
    )
    delta = evaluation["metrics"]["delta"][AUC]
    assert delta["ci"][0] <= delta["value"] <= delta["ci"][1]


def test_failed_stage_is_recorded_and_the_run_resumes_from_it(tmp_path, first_rows):
    def broken(data, out, cfg):
        raise RuntimeError("disk full")

    cfg = config(tmp_path, first_rows)
    pipeline_run = stages.create_run(cfg)
    with pytest.raises(InternalError, match="stage train failed: RuntimeError: disk full") as bug:
        stages.run_pipeline(pipeline_run, trainer=broken)
    # A bug, not a user error: its traceback is in a log file in the run folder.
    assert bug.value.log.parent == pipeline_run.folder / "train"
    assert "RuntimeError: disk full" in bug.value.log.read_text()
    assert "Traceback" in bug.value.log.read_text()
    record = pipeline_run.record()
    assert record["status"] == "failed" and record["failed_stage"] == "train"
    failed = json.loads((pipeline_run.folder / "train" / "result.json").read_text())
    assert failed["status"] == "failed" and "Traceback" in failed["traceback"]
    validated_at = json.loads((pipeline_run.folder / "validate_data" / "result.json").read_text())

    resumed = stages.open_run(Path(cfg.runs), None)
    record = stages.run_pipeline(resumed, start="train", trainer=tiny_trainer.trainer)
    assert record["status"] == "done" and record["decision"]["decision"] == "promote"
    # validate_data was not run again.
    again = json.loads((pipeline_run.folder / "validate_data" / "result.json").read_text())
    assert again["started_at"] == validated_at["started_at"]


def test_a_run_resumed_on_its_fixed_data_file_records_the_file_it_read(tmp_path, bank):
    # The first try names a label the data lacks; the user fixes the file in place and resumes.
    path = tmp_path / "data.csv"
    bank.head(1000).assign(y="").to_csv(path, index=False)
    pipeline_run = stages.create_run(config(tmp_path, path))
    with pytest.raises(DataError):
        stages.run_pipeline(pipeline_run, trainer=tiny_trainer.trainer)
    bank.head(1000).to_csv(path, index=False)
    record = stages.run_pipeline(pipeline_run, start="validate_data", trainer=tiny_trainer.trainer)
    assert record["inputs"]["data_sha256"] == stages.sha256_path(path)
    entry = Registry(tmp_path / "registry", "bankmarketing").tagged("production")
    assert entry["data"]["data_sha256"] == stages.sha256_path(path)


def test_a_new_run_with_an_existing_runs_id_is_refused_and_the_record_kept(tmp_path, first_rows):
    cfg = config(tmp_path, first_rows)
    first = stages.run_pipeline(stages.create_run(cfg, "monthly"), trainer=tiny_trainer.trainer)
    with pytest.raises(UserError, match=r"run 'monthly' already exists under .*--from STAGE"):
        stages.create_run(cfg, "monthly")
    assert stages.open_run(Path(cfg.runs), "monthly").record() == first


def test_a_run_never_promotes_past_a_model_promoted_since_it_was_evaluated(
    tmp_path, first_rows, appended_rows
):
    # Run B is evaluated against version 1; run A promotes version 2 meanwhile: B's challenger
    # was never compared with version 2 and must not replace it.
    run(config(tmp_path, first_rows))
    late = stages.create_run(config(tmp_path, appended_rows))
    for stage in ("validate_data", "train", "evaluate", "gate"):
        stages.run_stage(late, stage, tiny_trainer.trainer)
    run(config(tmp_path, appended_rows))
    registry = Registry(tmp_path / "registry", "bankmarketing")
    assert registry.tagged("production")["version"] == "2"
    with pytest.raises(UserError, match=r"production is now version 2 .* not 1 as when"):
        stages.run_stage(late, "register")
    assert registry.tagged("production")["version"] == "2"


def test_resuming_a_stage_whose_input_is_missing_says_so(tmp_path, first_rows):
    pipeline_run = stages.create_run(config(tmp_path, first_rows))
    with pytest.raises(UserError, match="stage validate_data has no finished result"):
        stages.run_pipeline(pipeline_run, start="train", trainer=tiny_trainer.trainer)


@pytest.fixture
def champion(tmp_path, first_rows):
    run(config(tmp_path, first_rows))


def _bad_data(tmp_path, bank, change) -> Path:
    frame = change(bank.head(4000).copy())
    path = tmp_path / "bad.csv"
    frame.to_csv(path, index=False)
    return path


def test_renamed_column_is_a_hard_stop_naming_both_columns(tmp_path, bank, champion):
    path = _bad_data(tmp_path, bank, lambda f: f.rename(columns={"age": "customer_age"}))
    with pytest.raises(
        DataError, match=r"missing columns: age \(new columns: customer_age; renamed\?\)"
    ):
        run(config(tmp_path, path))
    latest = sorted((tmp_path / "runs").glob("*/validate_data/schema.json"))[-1]
    assert json.loads(latest.read_text())["breaking"] == [
        "missing columns: age (new columns: customer_age; renamed?)"
    ]


def test_a_champion_folder_overwritten_by_another_model_stops_the_run(tmp_path, bank, champion):
    # README: `stack.sh model artifacts/stack-model` re-copied another model over the folder the
    # registry's production version named; the next run validated data against that model.
    import shutil

    registry = Registry(tmp_path / "registry", "bankmarketing")
    folder = registry.artifact_path(registry.tagged("production"))
    other = tiny_trainer.write_artifact(
        bank.head(600), "y", tmp_path / "other", "my", drop=("age", "job")
    )
    shutil.rmtree(folder)
    shutil.copytree(other, folder)
    with pytest.raises(UserError, match=r"^model 'bankmarketing' version 1: .* no longer holds"):
        run(config(tmp_path, tmp_path / "data_v1.csv"))


def test_type_change_is_a_hard_stop_naming_the_column(tmp_path, bank, champion):
    def to_text(f):
        f["campaign"] = f["campaign"].astype(str)
        f.loc[f.index[:5], "campaign"] = "three"
        return f

    path = _bad_data(tmp_path, bank, to_text)
    with pytest.raises(
        DataError, match="column 'campaign' changed type: expected numbers, found 'three'"
    ):
        run(config(tmp_path, path))


def test_new_categories_and_out_of_range_values_are_warnings(tmp_path, bank, champion):
    def change(f):
        f.loc[f.index[-2000:], "job"] = "astronaut"
        f.loc[f.index[-2000:], "age"] = 120
        return f

    record = run(config(tmp_path, _bad_data(tmp_path, bank, change)))
    folder = tmp_path / "runs" / record["run_id"] / "validate_data"
    warnings = json.loads((folder / "result.json").read_text())["warnings"]
    assert any("column 'job': new categories astronaut" in w for w in warnings)
    assert any("column 'age': 2000 values outside the training range" in w for w in warnings)
    assert {"age", "job"} <= set(json.loads((folder / "data_drift.json").read_text())["drifted"])


def test_a_new_column_is_named_as_one_the_challenger_may_need(tmp_path, bank, champion):
    def change(f):
        f["channel"] = "web"
        return f

    record = run(config(tmp_path, _bad_data(tmp_path, bank, change)))
    folder = tmp_path / "runs" / record["run_id"]
    warnings = json.loads((folder / "validate_data" / "result.json").read_text())["warnings"]
    assert "columns the champion does not use: channel (the challenger may learn" in warnings[0]


def test_labels_spelt_differently_are_read_as_the_champions_classes(tmp_path, bank, champion):
    def respell(f):
        f["y"] = f["y"].map({"yes": "Yes", "no": "NO "})
        return f

    record = run(config(tmp_path, _bad_data(tmp_path, bank, respell)))
    folder = tmp_path / "runs" / record["run_id"] / "validate_data"
    warnings = json.loads((folder / "result.json").read_text())["warnings"]
    assert "target 'y': labels read as the champion's classes: 'NO' as 'no', 'Yes' as 'yes'" in (
        warnings
    )
    assert set(pd.read_csv(folder / "holdout.csv")["y"]) == {"no", "yes"}


def test_a_label_the_champion_never_saw_is_a_hard_stop(tmp_path, bank, champion):
    def relabel(f):
        f.loc[f.index[:3], "y"] = "maybe"
        return f

    with pytest.raises(DataError, match=r"target 'y' has labels \['maybe'\] not in"):
        run(config(tmp_path, _bad_data(tmp_path, bank, relabel)))


def test_single_label_data_is_refused(tmp_path, bank):
    path = tmp_path / "one.csv"
    bank[bank["y"] == "no"].head(1000).to_csv(path, index=False)
    with pytest.raises(DataError, match="single label"):
        run(config(tmp_path, path))


def test_data_without_any_label_is_refused_saying_so(tmp_path, bank):
    path = tmp_path / "unlabelled.csv"
    bank.head(1000).assign(y="").to_csv(path, index=False)
    with pytest.raises(DataError, match="target 'y' is empty in every row"):
        run(config(tmp_path, path))


def test_too_few_new_rows_for_a_fair_evaluation(tmp_path, champion):
    # Only rows the champion trained on: no fair evaluation slice exists.
    trained = next((tmp_path / "runs").glob("*/validate_data/train.csv"))
    with pytest.raises(DataError, match="only 0 rows the champion has not trained on"):
        run(config(tmp_path, trained))


def test_rerun_on_the_same_data_evaluates_on_the_champions_holdout(tmp_path, first_rows, champion):
    record = run(config(tmp_path, first_rows))
    folder = tmp_path / "runs" / record["run_id"] / "validate_data"
    split = json.loads((folder / "result.json").read_text())["split"]
    assert split["eligible_for_holdout"] == 600 and split["holdout_rows"] == 600


@pytest.mark.slow
def test_cli_run_status_and_registry(tmp_path, first_rows):
    env_path = f"{HERE}"
    base = [sys.executable, "-m", "amlstack.cli"]
    opts = ["--runs", "runs", "--registry", "registry"]
    data = pd.read_csv(first_rows, sep=None, engine="python")
    data.loc[data.index[:3], "y"] = ""
    data.to_csv(tmp_path / "first.csv", index=False)
    done = subprocess.run(
        [*base, "pipeline", "run", "--data", "first.csv", *opts, "--artifacts", "artifacts",
         "--trainer", "tiny_trainer:trainer"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False,
        env={**__import__("os").environ, "PYTHONPATH": env_path},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "decision: promote" in done.stdout
    assert "warning: target 'y' is empty in 3 rows" in done.stdout
    # the model is named after its data file, as `amlstack train` names it
    assert (tmp_path / "artifacts" / "first" / "1" / "MANIFEST.json").is_file()
    status = subprocess.run(
        [*base, "pipeline", "status", "--runs", "runs", "--json"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    record = json.loads(status.stdout)
    assert record["decision"]["decision"] == "promote"
    assert record["who"] and record["inputs"]["data_sha256"]
    listed = subprocess.run(
        [*base, "registry", "list", "--registry", "registry"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    assert "production" in listed.stdout and "run holdout" in listed.stdout
    assert record["run_id"] in listed.stdout  # whole, though a pipe has no width
    missing = subprocess.run(
        [*base, "pipeline", "run", "--data", "nope.csv", *opts],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert missing.returncode == 2 and "nope.csv: no such data file" in missing.stderr
    assert "Traceback" not in missing.stderr
    np.testing.assert_equal(len(list((tmp_path / "runs").iterdir())), 1)


def test_azure_training_runs_in_process_and_returns_the_artifact(tmp_path, first_rows, monkeypatch):
    from amlstack.azure import automl, workspace

    calls = []

    def fake_train_on_azure(data, target, *, out, name, settings, workspace, drop=()):
        calls.append(settings)
        assert drop == ("age",)  # the run's --drop reaches Azure AutoML's data spec
        return tiny_trainer.write_artifact(pd.read_csv(data), target, out, name)

    monkeypatch.setattr(automl, "train_on_azure", fake_train_on_azure)
    monkeypatch.setattr(workspace, "resolve_workspace", lambda: "ws")
    cfg = stages.RunConfig(
        data=str(first_rows), artifacts=str(tmp_path / "artifacts"), backend="azure",
        time_budget=None, max_iter=3, drop=["age"],
    )  # fmt: skip
    artifact = stages.automl_trainer(first_rows, tmp_path / "artifacts", cfg)
    assert (artifact / "MANIFEST.json").is_file()
    assert calls[0].max_trials == 3 and calls[0].timeout_minutes == 15

    monkeypatch.setattr(automl, "train_on_azure", lambda *a, **k: None)  # a dry run
    with pytest.raises(ExternalError, match="dry run"):
        stages.automl_trainer(first_rows, tmp_path / "artifacts", cfg)


def test_registry_commands_name_the_model_from_the_artifact_or_the_registry(tmp_path, bank):
    from typer.testing import CliRunner

    from amlstack.cli import build_app

    churn = tiny_trainer.write_artifact(bank.head(600), "y", tmp_path / "a", "churn")
    loans = tiny_trainer.write_artifact(bank.head(600), "y", tmp_path / "a", "loans")
    app, runner, reg = build_app(), CliRunner(), ["--registry", str(tmp_path / "registry")]
    added = runner.invoke(app, ["registry", "add", str(churn), *reg, "--promote"])
    assert added.exit_code == 0 and "churn version 1 registered" in added.output
    listed = runner.invoke(app, ["registry", "show", *reg])
    assert listed.exit_code == 0 and json.loads(listed.output)["version"] == "1"
    assert runner.invoke(app, ["registry", "add", str(loans), *reg]).exit_code == 0
    both = runner.invoke(app, ["registry", "show", *reg])
    assert both.exit_code != 0 and "holds the models churn, loans: say which" in str(
        both.exception or both.output
    )


def test_a_row_written_several_times_is_never_both_trained_and_evaluated_on(bank):
    from amlstack.pipeline.validate import row_hashes, split

    rows = bank.head(400)
    train, holdout, info = split(pd.concat([rows, rows, rows]), "y", None, fraction=0.2)
    assert not np.isin(row_hashes(train), row_hashes(holdout)).any()
    assert info["train_rows"] == len(train) and info["copies_of_holdout_rows_left_out"] > 0


def test_a_resumed_register_of_the_runs_own_model_in_production_passes(tmp_path, first_rows):
    # e.g. the Azure workspace registration after the promote failed: resume --from register
    cfg = config(tmp_path, first_rows)
    first = stages.create_run(cfg)
    stages.run_pipeline(first, trainer=tiny_trainer.trainer)
    assert stages.run_stage(first, "register")["version"] == "1"
    assert Registry(tmp_path / "registry", "bankmarketing").tagged("production")["version"] == "1"


def test_a_promotion_checks_the_version_it_replaces_under_the_lock(
    tmp_path, first_rows, appended_rows
):
    """Two runs gated against version 1 may both pass register's first check; the promote
    itself must refuse to move production past a version the second run never saw."""
    from amlstack.pipeline.registry import TagMoved

    run(config(tmp_path, first_rows))
    run(config(tmp_path, appended_rows))
    registry = Registry(tmp_path / "registry", "bankmarketing")
    with pytest.raises(TagMoved, match=r"production is now version 2 .*, not 1 as when version 1"):
        registry.promote("1", replacing="1")
    registry.promote("2", replacing="1")  # already there: nothing to move
    assert registry.tagged("production")["version"] == "2"


def test_a_registry_that_is_not_there_gets_no_folder(tmp_path):
    with pytest.raises(UserError, match="has no version '1'"):
        Registry(tmp_path / "registry", "typo").promote("1")
    assert not (tmp_path / "registry").exists()


def test_a_target_other_than_the_champions_is_a_hard_stop(tmp_path, bank, champion):
    # row hashes, labels and the gate are about the champion's target: it was a KeyError
    path = _bad_data(tmp_path, bank, lambda f: f.rename(columns={"y": "label"}))
    cfg = stages.RunConfig(**{**config(tmp_path, path).__dict__, "target": "label"})
    with pytest.raises(DataError, match=r"the target is 'label', the champion's 'y'"):
        run(cfg)


def test_a_challenger_with_far_fewer_rows_than_the_champion_is_warned_about(tmp_path, bank):
    first = tmp_path / "all.csv"
    bank.head(3000).to_csv(first, index=False)
    run(config(tmp_path, first))
    batch = tmp_path / "new_rows_only.csv"
    bank.iloc[3000:3700].to_csv(batch, index=False)
    record = run(config(tmp_path, batch))
    folder = tmp_path / "runs" / record["run_id"] / "validate_data"
    warnings = json.loads((folder / "result.json").read_text())["warnings"]
    assert any(
        w.startswith("the challenger trains on 500 rows, the production model learnt from 2")
        and "give it every row (old and new)" in w
        for w in warnings
    ), warnings
    # the same data with the old rows: no warning
    both = tmp_path / "both.csv"
    bank.head(3700).to_csv(both, index=False)
    record = run(config(tmp_path, both))
    folder = tmp_path / "runs" / record["run_id"] / "validate_data"
    assert not any(
        "challenger trains on" in w
        for w in json.loads((folder / "result.json").read_text())["warnings"]
    )


def test_a_first_model_on_very_few_rows_is_warned_about(tmp_path, bank):
    path = tmp_path / "tiny.csv"
    bank.head(290).to_csv(path, index=False)
    record = run(config(tmp_path, path))
    folder = tmp_path / "runs" / record["run_id"] / "validate_data"
    warnings = json.loads((folder / "result.json").read_text())["warnings"]
    assert "the challenger trains on 90 rows only: its model may be poor" in warnings

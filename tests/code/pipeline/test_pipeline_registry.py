"""The folder registry: versions, tags, promote and rollback with history."""

from __future__ import annotations

import json

import numpy as np
import pytest

from amlstack.artifact.names import ACCURACY, AUC
from amlstack.errors import UserError
from amlstack.pipeline.registry import Registry


@pytest.fixture
def registry(tmp_path):
    reg = Registry(tmp_path / "registry", "bank")
    for v in ("1", "2", "3"):
        art = tmp_path / "artifacts" / v
        art.mkdir(parents=True)
        (art / "model.json").write_text(json.dumps({"version": "1"}))
        reg.register(art, lineage={"run_id": f"run-{v}", "parent": None}, trained_rows=np.arange(3))
    return reg


def test_promote_then_rollback_walks_back(registry):
    registry.promote("1")
    registry.promote("2")
    registry.promote("3")
    assert registry.tagged("production")["version"] == "3"
    assert registry.rollback()["version"] == "2"
    assert registry.get("production")["version"] == "2"
    actions = [(e["action"], e.get("version")) for e in registry.history()]
    assert actions[-1] == ("tag", "2")
    assert "rollback from 3" in registry.history()[-1]["reason"]


def test_rollback_without_an_earlier_version_is_refused(registry):
    with pytest.raises(UserError, match="no production version"):
        registry.rollback()
    registry.promote("1")
    with pytest.raises(UserError, match="has no earlier version"):
        registry.rollback()


def test_tags_are_listed_per_version(registry):
    registry.promote("2")
    registry.set_tag("staging", "3")
    tags = {v["version"]: v["tags"] for v in registry.versions()}
    assert tags == {"1": [], "2": ["production"], "3": ["staging"]}


def test_unknown_versions_and_tags_are_user_errors(registry):
    with pytest.raises(UserError, match="has no version '9'"):
        registry.get("9")
    with pytest.raises(UserError, match="unknown stage tag"):
        registry.set_tag("canary", "1")


def test_the_same_artifact_twice_is_one_version(registry, tmp_path):
    again = registry.register(tmp_path / "artifacts" / "2", lineage={})
    assert again["version"] == "2"
    assert [v["version"] for v in registry.versions()] == ["1", "2", "3"]


def test_trained_rows_and_copies_are_kept_per_version(registry, tmp_path):
    assert registry.trained_rows("1").tolist() == [0, 1, 2]
    assert registry.trained_rows("9") is None
    other = tmp_path / "elsewhere" / "1"
    other.mkdir(parents=True)
    (other / "model.json").write_text(json.dumps({"version": "1"}))
    entry = registry.register(other, lineage={}, copy=True)
    assert entry["version"] == "4" and entry["artifact_version"] == "1"
    assert entry["artifact"] == "4/artifact"
    assert json.loads((registry.artifact_path(entry) / "model.json").read_text())["version"] == "1"


def test_cli_promote_and_rollback(registry, tmp_path):
    from amlstack.cli import main

    root = str(tmp_path / "registry")
    for argv in (["registry", "promote", "1"], ["registry", "promote", "3"]):
        with pytest.raises(SystemExit) as done:
            main([*argv, "--registry", root, "--name", "bank"])
        assert done.value.code == 0
    with pytest.raises(SystemExit) as done:
        main(["registry", "rollback", "--registry", root, "--name", "bank"])
    assert done.value.code == 0
    assert registry.tagged("production")["version"] == "1"


def test_promoting_the_current_version_again_changes_nothing(registry):
    registry.promote("1")
    registry.promote("2")
    events = len(registry.history())
    registry.promote("2")  # a resumed run re-running its register stage
    assert len(registry.history()) == events
    assert registry.rollback()["version"] == "1"


def test_a_champion_added_by_hand_shows_its_training_auc_in_the_list(tmp_path, bank, capsys):
    import tiny_trainer

    from amlstack.cli import main

    artifact = tiny_trainer.write_artifact(
        bank.head(600), "y", tmp_path / "artifacts", "bank",
        metrics={"holdout": {AUC: 0.8765, ACCURACY: 0.9}, "primary_metric": "auc"},
    )  # fmt: skip
    root = str(tmp_path / "registry")
    for argv in (["registry", "add", str(artifact)], ["registry", "list"]):
        with pytest.raises(SystemExit) as done:
            main([*argv, "--registry", root, "--name", "bank"])
        assert done.value.code == 0
    assert "0.8765" in capsys.readouterr().out
    entry = Registry(tmp_path / "registry", "bank").versions()[0]
    assert entry["metrics"] == {AUC: {"value": 0.8765}, ACCURACY: {"value": 0.9}}

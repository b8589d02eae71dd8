"""The folder registry: versions, tags, promote and rollback with history."""

from __future__ import annotations

import json

import numpy as np
import pytest

from amlstack.artifact.manifest import write_manifest
from amlstack.artifact.names import ACCURACY, AUC
from amlstack.errors import UserError
from amlstack.pipeline.registry import IDENTITY, Registry


def _artifact(folder, name="bank", version="1"):
    """An artifact folder with its MANIFEST.json, as training writes it."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model.json").write_text(json.dumps({"name": name, "version": version}))
    write_manifest(folder)
    return folder


@pytest.fixture
def registry(tmp_path):
    reg = Registry(tmp_path / "registry", "bank")
    for v in ("1", "2", "3"):
        art = _artifact(tmp_path / "artifacts" / v, version=v)
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
    other = _artifact(tmp_path / "elsewhere" / "1")
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
    listed = capsys.readouterr().out
    assert "0.8765" in listed and "training split" in listed
    entry = Registry(tmp_path / "registry", "bank").versions()[0]
    on = {"measured_on": "training split"}
    assert entry["metrics"] == {AUC: {"value": 0.8765, **on}, ACCURACY: {"value": 0.9, **on}}


# -- the artifact registered is the artifact handed back --------------------------------------
def test_a_folder_overwritten_with_another_model_is_refused_in_one_line(registry, tmp_path):
    # The README's `stack.sh model artifacts/stack-model` copied another model over a registered
    # folder; the registry went on calling it version 1 and the pipeline checked data against it.
    registry.promote("1")
    folder = tmp_path / "artifacts" / "1"
    (folder / "model.json").unlink()
    _artifact(folder, name="my", version="1")
    with pytest.raises(UserError) as refused:
        registry.artifact_path(registry.tagged("production"))
    message = str(refused.value)
    assert "\n" not in message
    assert message.startswith(f"model 'bank' version 1: {folder} no longer holds the artifact")
    assert "MANIFEST.json is not the one registered" in message
    assert registry.artifact_path(registry.get("2")) == tmp_path / "artifacts" / "2"  # the others


def test_a_file_changed_under_its_manifest_is_refused(registry, tmp_path):
    (tmp_path / "artifacts" / "2" / "model.json").write_text('{"version": "tampered"}')
    with pytest.raises(
        UserError, match=r"version 2: .*\(file model\.json does not match its sha256"
    ):
        registry.artifact_path(registry.get("2"))


def test_a_tag_never_moves_to_a_changed_folder(registry, tmp_path):
    registry.promote("1")
    registry.promote("2")
    _artifact(tmp_path / "artifacts" / "1", name="my")
    with pytest.raises(UserError, match=r"version 1: .* no longer holds the artifact registered"):
        registry.rollback()
    with pytest.raises(UserError, match="no longer holds"):
        registry.promote("1", "staging")
    assert registry.tagged("production")["version"] == "2"


def test_the_same_folder_with_another_model_is_a_new_version(registry, tmp_path):
    folder = _artifact(tmp_path / "artifacts" / "3", name="my")
    entry = registry.register(folder, lineage={})
    assert entry["version"] == "4"
    assert entry[IDENTITY] != registry.get("3")[IDENTITY]
    assert registry.artifact_path(entry) == folder


def test_an_entry_from_before_identities_still_loads_unchecked(registry, tmp_path):
    index_path = registry.folder / "index.json"
    index = json.loads(index_path.read_text())
    for entry in index["versions"].values():
        del entry[IDENTITY]
    index_path.write_text(json.dumps(index))
    _artifact(tmp_path / "artifacts" / "1", name="my")
    assert registry.artifact_path(registry.get("1")) == tmp_path / "artifacts" / "1"
    registry.promote("1")
    assert registry.register(tmp_path / "artifacts" / "1", lineage={})["version"] == "1"


def test_a_folder_that_is_no_artifact_is_not_registered(registry, tmp_path):
    loose = tmp_path / "loose"
    loose.mkdir()
    (loose / "model.json").write_text("{}")
    with pytest.raises(UserError, match=r"no MANIFEST\.json"):
        registry.register(loose, lineage={})


@pytest.mark.parametrize("text", ["{not json", "[]", "{}", '{"versions": []}'])
def test_an_index_edited_into_something_else_is_named_not_read_as_empty(tmp_path, text):
    """`[]` and `{}` listed an empty registry (a promote then wrote over the lost index); bad
    JSON was "a bug"."""
    from amlstack.errors import DataError

    registry = Registry(tmp_path / "reg", "bank")
    registry.folder.mkdir(parents=True)
    (registry.folder / "index.json").write_text(text)
    with pytest.raises(DataError, match=r"index\.json: "):
        registry.versions()


def _register_each(root, folders):
    reg = Registry(root, "bank")
    for folder in folders:
        reg.register(folder, lineage={"run_id": folder.name, "parent": None})


def test_two_processes_registering_at_once_lose_no_version(tmp_path):
    # A scheduled run and a manual one registering into one registry at the same time.
    import multiprocessing

    folders = [_artifact(tmp_path / "artifacts" / f"a{i}", version=str(i)) for i in range(80)]
    context = multiprocessing.get_context("fork")
    workers = [
        context.Process(target=_register_each, args=(tmp_path / "registry", folders[k::2]))
        for k in (0, 1)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    versions = Registry(tmp_path / "registry", "bank").versions()
    assert sorted(v["run_id"] for v in versions) == sorted(f.name for f in folders)
    assert sorted(int(v["version"]) for v in versions) == list(range(1, 81))

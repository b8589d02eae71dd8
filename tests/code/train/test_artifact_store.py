"""Artifact versions: never overwritten, written whole, verified on load."""

from __future__ import annotations

import json
import re
import shutil

import pytest

from amlstack.artifact.manifest import ArtifactError, write_manifest
from amlstack.artifact.reader import Model
from amlstack.training import store


def fill_with(text):
    def fill(folder, version):  # a stand-in for the artifact writer: files, then the manifest
        (folder / "model.json").write_text(json.dumps({"version": version, "text": text}))
        write_manifest(folder)

    return fill


def test_each_write_is_a_new_version(tmp_path):
    first = store.write_version(tmp_path, "m", fill_with("a"))
    second = store.write_version(tmp_path, "m", fill_with("b"))
    assert (first.name, second.name) == ("1", "2")
    assert json.loads((first / "model.json").read_text())["text"] == "a"
    assert (second / "MANIFEST.json").is_file()


def test_failed_write_leaves_nothing(tmp_path):
    def broken(folder, version):
        (folder / "model.json").write_text("{}")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        store.write_version(tmp_path, "m", broken)
    assert store.versions(tmp_path, "m") == []
    assert list((tmp_path / "m").iterdir()) == []


def test_bad_name_refused(tmp_path):
    with pytest.raises(store.UserError, match="model name"):
        store.write_version(tmp_path, "../evil", fill_with("x"))


@pytest.mark.parametrize(
    ("tamper", "message"),
    [
        (
            lambda d: (d / "model.onnx").write_bytes(b"x" + (d / "model.onnx").read_bytes()),
            "model.onnx does not match",
        ),
        (
            lambda d: (d / "sample_input.json").unlink(),
            "sample_input.json listed in MANIFEST.json is missing",
        ),
        (lambda d: (d / "extra.py").write_text("import os"), "extra.py is not listed"),
        (lambda d: (d / "MANIFEST.json").unlink(), "no MANIFEST.json"),
    ],
)
def test_tampered_artifact_refused(tiny_artifact, tmp_path, tamper, message):
    copy = tmp_path / "a"
    shutil.copytree(tiny_artifact, copy)
    Model(copy)  # intact copy loads
    tamper(copy)
    with pytest.raises(ArtifactError, match=message):
        Model(copy)


def test_a_models_folder_of_versions_is_refused_naming_the_version_to_pass(tiny_artifact, tmp_path):
    for version in ("1", "2", "10"):
        shutil.copytree(tiny_artifact, tmp_path / "bank" / version)
    expected = f"it holds versions 1, 2, 10: pass {tmp_path / 'bank' / '10'}"
    with pytest.raises(ArtifactError, match=re.escape(expected)):
        Model(tmp_path / "bank")


def test_a_folder_named_with_a_digit_int_refuses_is_no_version(tmp_path):
    """'²'.isdigit() is True but int('²') fails: training crashed (exit 70) after its search,
    `amlstack models` and `predict --model` on the model's folder too."""
    (tmp_path / "m" / "²").mkdir(parents=True)
    assert store.versions(tmp_path, "m") == []
    assert store.write_version(tmp_path, "m", fill_with("a")).name == "1"
    ((tmp_path / "m" / "²") / "MANIFEST.json").write_text("{}")
    with pytest.raises(ArtifactError, match=re.escape("it holds versions 1, ²")):
        Model(tmp_path / "m")
    (tmp_path / "m" / "1" / "model.json").write_text(json.dumps({"version": "²"}))
    assert [row["version"] for row in store.list_models(tmp_path)] == ["²"]


def test_models_flags_an_artifact_that_would_not_load(tmp_path):
    """`amlstack models` said nothing of a changed file: a tampered artifact was listed as a
    good one, and `predict` or the scorer then refused it."""
    from amlstack.artifact.schema import card_from_dict, to_json

    for version in ("1", "2"):
        card = card_from_dict({"name": "m", "version": version, "classes": ["no", "yes"],
                               "features": [{"name": "a", "kind": "numeric"}]})  # fmt: skip
        folder = tmp_path / "m" / version
        folder.mkdir(parents=True)
        (folder / "model.json").write_bytes(to_json(card))
        (folder / "model.onnx").write_bytes(b"graph")
        write_manifest(folder)
    (tmp_path / "m" / "2" / "model.onnx").write_bytes(b"another graph")
    rows = {row["version"]: row for row in store.list_models(tmp_path)}
    assert rows["1"]["ok"] is True
    assert rows["2"]["ok"] is False
    assert rows["2"]["problem"].startswith("file model.onnx does not match its sha256")

"""Artifact files stay inside the artifact folder: no symbolic links, no '..', no absolute paths.

Each tampered copy below has a manifest whose hashes match (re-hashed by hand, following links as
a naive verifier would), so only the confinement check can refuse it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest

from amlstack.artifact.manifest import ArtifactError, manifest_for, verify_manifest
from amlstack.artifact.reader import Model, read_card


def _rehash(folder: Path) -> None:
    """MANIFEST.json listing every file reachable in ``folder``, links followed."""
    files = {}
    for root, _, names in os.walk(folder, followlinks=True):
        for name in names:
            path = Path(root) / name
            rel = path.relative_to(folder).as_posix()
            if rel != "MANIFEST.json":
                files[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    (folder / "MANIFEST.json").write_text(json.dumps({"algorithm": "sha256", "files": files}))


@pytest.fixture
def copy(scorer_artifact, tmp_path) -> Path:
    folder = tmp_path / "artifact"
    shutil.copytree(scorer_artifact, folder)
    return folder


def test_an_intact_copy_loads(copy):
    Model(copy)


def test_a_symlink_to_a_file_outside_is_refused(copy, tmp_path):
    outside = tmp_path / "outside.json"
    shutil.copy(copy / "sample_input.json", outside)
    (copy / "sample_input.json").unlink()
    (copy / "sample_input.json").symlink_to(outside)
    _rehash(copy)
    with pytest.raises(ArtifactError, match=r"sample_input\.json is a symbolic link"):
        Model(copy)


def test_a_symlink_to_a_folder_outside_is_refused(copy, tmp_path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "secret.png").write_bytes(b"\x89PNG not really")
    (copy / "plots").symlink_to(outside, target_is_directory=True)
    _rehash(copy)
    with pytest.raises(ArtifactError, match="plots is a symbolic link"):
        verify_manifest(copy)


def test_any_symlink_inside_is_refused(copy):
    (copy / "card.json").symlink_to("model.json")
    _rehash(copy)
    with pytest.raises(ArtifactError, match=r"card\.json is a symbolic link"):
        Model(copy)


@pytest.mark.parametrize("name", ["../outside/model.onnx", "/tmp/model.onnx", "sub/../model.onnx"])
def test_model_file_must_be_a_plain_name_inside(copy, tmp_path, name):
    graph = (copy / "model.onnx").read_bytes()
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "model.onnx").write_bytes(graph)
    card = json.loads((copy / "model.json").read_text())
    card["model"]["file"] = name
    (copy / "model.json").write_text(json.dumps(card))
    _rehash(copy)
    with pytest.raises(ArtifactError, match=r"model\.file names .*not a plain file name"):
        Model(copy)
    with pytest.raises(ArtifactError, match=r"model\.file"):
        read_card(copy)


def test_a_manifest_naming_a_path_outside_is_refused(copy, tmp_path):
    (tmp_path / "x.json").write_text("{}")
    manifest = json.loads((copy / "MANIFEST.json").read_text())
    manifest["files"]["../x.json"] = hashlib.sha256(b"{}").hexdigest()
    (copy / "MANIFEST.json").write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match=r"names '\.\./x\.json'"):
        verify_manifest(copy)


def test_the_writer_refuses_to_hash_a_symlink(copy):
    (copy / "link.json").symlink_to("model.json")
    with pytest.raises(ArtifactError, match=r"link\.json is a symbolic link"):
        manifest_for(copy)

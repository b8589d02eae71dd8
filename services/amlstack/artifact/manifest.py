"""MANIFEST.json: the sha256 of every file of an artifact, written last and checked first."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from amlstack.artifact.names import MANIFEST

_CHUNK = 1 << 20


class ArtifactError(Exception):
    """The artifact is missing, incomplete, tampered with or not an amlstack artifact."""


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def manifest_for(directory: Path) -> dict[str, Any]:
    """Build the manifest of every file under ``directory`` (the manifest itself excluded)."""
    files = {
        p.relative_to(directory).as_posix(): sha256_file(p)
        for p in sorted(directory.rglob("*"))
        if p.is_file() and p.name != MANIFEST
    }
    return {"algorithm": "sha256", "files": files}


def write_manifest(directory: Path) -> None:
    (directory / MANIFEST).write_text(json.dumps(manifest_for(directory), indent=2) + "\n")


def verify_manifest(directory: Path) -> dict[str, str]:
    """Check every file against MANIFEST.json; refuse missing, changed or unlisted files."""
    manifest_path = directory / MANIFEST
    if not manifest_path.is_file():
        raise ArtifactError(f"{directory}: no {MANIFEST}; not an amlstack artifact")
    try:
        listed = json.loads(manifest_path.read_text())["files"]
    except (ValueError, KeyError, TypeError) as exc:
        raise ArtifactError(f"{manifest_path}: unreadable manifest ({exc})") from None
    for rel, expected in listed.items():
        path = directory / rel
        if not path.is_file():
            raise ArtifactError(f"{directory}: file {rel} listed in {MANIFEST} is missing")
        if sha256_file(path) != expected:
            raise ArtifactError(
                f"{directory}: file {rel} does not match its sha256 in {MANIFEST} "
                "(the artifact was modified after it was written)"
            )
    present = {
        p.relative_to(directory).as_posix()
        for p in directory.rglob("*")
        if p.is_file() and p.name != MANIFEST
    }
    extra = sorted(present - set(listed))
    if extra:
        raise ArtifactError(f"{directory}: file {extra[0]} is not listed in {MANIFEST}")
    return listed

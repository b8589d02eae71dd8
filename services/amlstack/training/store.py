"""Versioned artifact folders: written whole or not at all, never overwritten, listable."""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from amlstack.artifact.names import ACCURACY, AUC, MANIFEST, MODEL_JSON
from amlstack.errors import UserError

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")


def check_name(name: str) -> str:
    if not NAME_RE.match(name):
        raise UserError(
            f"model name {name!r}: use letters, digits, '.', '_' or '-' (at most 63 characters)"
        )
    return name


def versions(root: Path, name: str) -> list[int]:
    folder = root / name
    if not folder.is_dir():
        return []
    return sorted(int(p.name) for p in folder.iterdir() if p.is_dir() and p.name.isdigit())


def write_version(root: Path, name: str, fill: Callable[[Path, int], None]) -> Path:
    """Create ``root/name/<next version>``: ``fill(tmp_dir, version)`` writes the whole artifact
    (`amlstack.artifact.writer.write_artifact`) into a temporary folder; one rename publishes it."""
    check_name(name)
    parent = root / name
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"--out {root}: cannot create the folder ({exc.strerror})") from None
    if not os.access(parent, os.W_OK):
        raise UserError(f"--out {root}: the folder is not writable")
    tmp = Path(tempfile.mkdtemp(prefix=".incomplete-", dir=parent))
    tmp.chmod(0o755)  # mkdtemp makes it private; the scorer may run as another user
    try:
        for _attempt in range(100):
            version = (versions(root, name) or [0])[-1] + 1
            fill(tmp, version)
            if not (tmp / MANIFEST).is_file():
                raise RuntimeError(f"{tmp}: the artifact was written without its manifest")
            final = parent / str(version)
            try:
                tmp.rename(final)  # atomic; fails if another run took this version meanwhile
                return final
            except OSError:
                _clear(tmp)
        raise UserError(f"{parent}: could not claim a new version folder")
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _clear(folder: Path) -> None:
    for child in folder.iterdir():
        shutil.rmtree(child) if child.is_dir() else child.unlink()


def list_models(root: Path) -> list[dict[str, Any]]:
    """Every artifact under ``root`` with its headline facts (unreadable ones are flagged)."""
    rows = []
    for meta_path in sorted(root.glob(f"*/*/{MODEL_JSON}")):
        folder = meta_path.parent
        try:
            meta = json.loads(meta_path.read_text())
            holdout = meta.get("metrics", {}).get("holdout", {})
            rows.append(
                {
                    "name": meta.get("name", folder.parent.name),
                    "version": str(meta.get("version", folder.name)),
                    "created": meta.get("created", ""),
                    "model": meta.get("model", {}).get("description", ""),
                    AUC: holdout.get(AUC),
                    ACCURACY: holdout.get(ACCURACY),
                    "path": str(folder),
                    "ok": (folder / MANIFEST).is_file(),
                }
            )
        except (ValueError, OSError):
            rows.append(
                {
                    "name": folder.parent.name,
                    "version": folder.name,
                    "path": str(folder),
                    "ok": False,
                }
            )
    rows.sort(key=lambda r: (r["name"], int(r["version"]) if r["version"].isdigit() else 0))
    return rows

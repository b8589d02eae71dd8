"""The artifact stage: the model card, and versioned artifact folders (written whole or not at
all, never overwritten, listable)."""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from amlstack.artifact.manifest import ArtifactError
from amlstack.artifact.names import ACCURACY, AUC, MANIFEST, MODEL_JSON
from amlstack.artifact.reader import read_card
from amlstack.artifact.schema import (
    CardMetrics,
    FeatureSpec,
    ModelCard,
    ModelSpec,
    TrainingRecord,
    typed,
)
from amlstack.errors import UserError
from amlstack.training.data import Dataset, with_examples

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")


def check_name(name: str) -> str:
    if not NAME_RE.match(name):
        raise UserError(
            f"model name {name!r}: use letters, digits, '.', '_' or '-' (at most 63 characters)"
        )
    return name


def model_card(
    dataset: Dataset,
    *,
    name: str,
    model: ModelSpec,
    metrics: CardMetrics,
    training: TrainingRecord,
    threshold: float = 0.5,
    dropped: list[str] | None = None,
    **more: Any,
) -> ModelCard:
    """model.json for a model trained on ``dataset``, whichever backend trained it: the input
    schema (with an example per column), classes, task and target come from the data; ``model``,
    ``metrics``, ``training`` and ``more`` (other `ModelCard` fields) from the backend. The
    version is set when the folder is claimed (``msgspec.structs.replace``)."""
    binary = len(dataset.classes) == 2
    return ModelCard(
        name=name,
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        task="binary" if binary else "multiclass",
        target=dataset.target_name,
        classes=list(dataset.classes),
        positive_class=dataset.classes[1] if binary else None,
        threshold=float(threshold),
        features=typed(with_examples(dataset.frame, dataset.features), list[FeatureSpec]),
        dropped_columns=list(dataset.dropped if dropped is None else dropped),
        model=model,
        metrics=metrics,
        training=training,
        **more,
    )


def versions(root: Path, name: str) -> list[int]:
    folder = root / name
    if not folder.is_dir():
        return []
    return sorted(int(p.name) for p in folder.iterdir() if p.is_dir() and _number(p.name))


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
                    "name": str(meta.get("name", folder.parent.name)),
                    "version": str(meta.get("version", folder.name)),
                    "created": str(meta.get("created", "")),
                    "model": str(meta.get("model", {}).get("description", "")),
                    AUC: holdout.get(AUC),
                    ACCURACY: holdout.get(ACCURACY),
                    "path": str(folder),
                    **_verdict(folder),
                }
            )
        except (ValueError, OSError, AttributeError, TypeError):  # not JSON, or not a card
            rows.append(
                {
                    "name": folder.parent.name,
                    "version": folder.name,
                    "path": str(folder),
                    **_verdict(folder),
                }
            )
    rows.sort(key=lambda r: (r["name"], int(r["version"]) if _number(r["version"]) else 0))
    return rows


def _verdict(folder: Path) -> dict[str, Any]:
    """``ok``: the artifact loads (every file matches its manifest, the card reads); else
    ``problem`` says why, as loading it would (a listing that said nothing of a changed file
    showed a tampered artifact as a good one)."""
    if not (folder / MANIFEST).is_file():
        return {"ok": False, "problem": "no manifest"}
    try:
        read_card(folder)
    except ArtifactError as exc:
        problem = str(exc).removeprefix(f"{folder}/").removeprefix(f"{folder}: ")
        return {"ok": False, "problem": problem}
    return {"ok": True}


def _number(name: str) -> bool:
    """A version folder's name: ASCII digits only ("²" and "١" are digits int() refuses or
    reads as another version's number)."""
    return name.isascii() and name.isdigit()

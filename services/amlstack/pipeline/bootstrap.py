"""Register an artifact trained outside the pipeline (the first champion), with its lineage."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from amlstack.artifact.names import ACCURACY, AUC, F1, HOLDOUT_FILE, LOG_LOSS
from amlstack.artifact.schema import read_holdout
from amlstack.errors import UserError
from amlstack.pipeline import registry as reg


def add_artifact(registry: reg.Registry, artifact: Path, data: Path | None) -> dict[str, Any]:
    """Register ``artifact``; with ``data`` (its training CSV) record the rows it trained on.

    Training writes ``holdout.json`` (the data rows its measured model never saw, and the
    sha256 of its data: other ``data`` is refused, whatever rows count); when the
    shipped model was refitted on every row (model.json ``training.rows.shipped_model``, as
    `amlstack train` does), it has seen them too, and every row of that data counts as trained
    on; otherwise every row but those. The pipeline never evaluates this model on them.
    """
    from amlstack.artifact.reader import Model

    model = Model(artifact)  # verifies the manifest
    lineage: dict[str, Any] = {"run_id": None, "parent": None, "code_version": reg.code_version()}
    rows = columns = None
    if data is not None:
        from amlstack.pipeline.stages import sha256_path
        from amlstack.pipeline.validate import model_columns, row_hashes
        from amlstack.training.data import read_table

        # the reader training and the pipeline use, with the same label column: same row hashes
        frame = read_table(data, model.card.target)
        digest = sha256_path(data)
        lineage["data"] = {"data": str(Path(data).resolve()), "data_sha256": digest}
        held = _held_out_rows(Path(artifact), digest)  # checks the data is the artifact's
        held = held if _holdout_unseen(model.meta) else []
        keep = np.ones(len(frame), dtype=bool)
        keep[held] = False
        columns = model_columns(model, model.card.target)
        rows = row_hashes(frame[keep], columns)
    metrics = registry_metrics(model.meta.get("metrics", {}))
    return registry.register(Path(artifact), lineage=lineage, metrics=metrics,
                             trained_rows=rows, trained_columns=columns)  # fmt: skip


def _holdout_unseen(meta: dict[str, Any]) -> bool:
    """Whether the shipped model never learned the held-out rows (an artifact whose model.json
    has no row counts, e.g. from before refitting on every row, is taken at its holdout.json)."""
    rows = (meta.get("training") or {}).get("rows") or {}
    shipped, total, holdout = rows.get("shipped_model"), rows.get("total"), rows.get("holdout")
    if None in (shipped, total, holdout):
        return True
    return shipped <= total - holdout


def _held_out_rows(artifact: Path, data_sha256: str) -> list[int]:
    record = read_holdout(artifact / HOLDOUT_FILE)
    if record is None:
        return []
    if record.data_sha256 not in (None, data_sha256):
        raise UserError(
            f"{artifact} was trained on other data (sha256 {record.data_sha256[:12]}...) "
            "than the --data given"
        )
    return record.rows


def registry_metrics(card_metrics: dict[str, Any]) -> dict[str, Any]:
    """model.json's held-out metrics in the registry's shape (``{name: {"value": ...,
    "measured_on": "training split"}}``).

    Training measured them once, on its own held-out rows, so there is no confidence interval.
    """
    holdout = card_metrics.get("holdout") or {}
    return {
        name: {"value": holdout[name], "measured_on": reg.MEASURED_BY_TRAINING}
        for name in (AUC, ACCURACY, F1, LOG_LOSS)
        if isinstance(holdout.get(name), int | float)
    }

"""The model card routes: what the served artifact is, how it scored, and its report plots.

``GET /model/card`` (keyed) answers the artifact's name, version, creation time, training data
and row counts, held-out metrics, the report's plot names and the training profile (the UI's
Insights page compares live traffic with it). ``GET /model/report/<file>`` (keyed) answers one
of the report's PNG files, only those the artifact's manifest lists.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from flask import Flask, Response, request

from amlstack.artifact.names import PROFILE_FILE
from amlstack_scorer.errors import NotFound, NotReady

if TYPE_CHECKING:
    from amlstack.artifact.reader import Model
    from amlstack_scorer.state import ScorerState

CARD_ROUTE = "/model/card"
REPORT_ROUTE = "/model/report/<name>"
REPORT_DIR = "report"
NOT_METRICS = ("rows", "threshold")  # shown as row counts and the threshold


def report_files(model: Model) -> list[str]:
    """The report's PNG plots, by file name, as the manifest lists them."""
    prefix = REPORT_DIR + "/"
    listed = model.files or {}
    return sorted(
        rel[len(prefix) :]
        for rel in listed
        if rel.startswith(prefix) and rel.endswith(".png") and "/" not in rel[len(prefix) :]
    )


def card(model: Model) -> dict[str, Any]:
    """The card's JSON: the facts a reader of the model needs, from model.json and profile.json."""
    meta = model.meta
    training = meta.get("training") or {}
    holdout = (meta.get("metrics") or {}).get("holdout") or {}
    rows = training.get("rows")
    profile = model.read_json(PROFILE_FILE)
    spec = meta.get("model") or {}
    return {
        "name": model.name,
        "version": model.version,
        "created": meta.get("created"),
        "algorithm": spec.get("description") or spec.get("kind"),
        "target": meta.get("target"),
        "classes": [str(c) for c in model.classes],
        "threshold": model.threshold if len(model.classes) == 2 else None,
        "data": {
            key: training[key]
            for key in ("data_file", "data_sha256", "seed", "test_size")
            if training.get(key) is not None
        },
        "rows": rows if isinstance(rows, dict) else ({"total": rows} if rows else {}),
        "metrics": {
            k: v for k, v in holdout.items() if isinstance(v, int | float) and k not in NOT_METRICS
        },
        "report": report_files(model),
        "profile": profile if profile is not None else {},
    }


def register(app: Flask, state: ScorerState) -> None:
    """Add the model card routes to ``app`` (keyed like /metrics)."""

    def loaded() -> Model:
        if state.keystore is not None:
            state.keystore.check(request.headers.get("Authorization"))
        if state.model is None:
            raise NotReady("the model is not loaded yet")
        return state.model

    @app.get(CARD_ROUTE)
    def model_card() -> Response:
        return Response(json.dumps(card(loaded())), mimetype="application/json")

    @app.get(REPORT_ROUTE)
    def model_report(name: str) -> Response:
        model = loaded()
        if name not in report_files(model):
            raise NotFound(f"the model's report has no file {name!r}")
        body = model.read(f"{REPORT_DIR}/{name}") or b""  # as verified at load, not re-read
        return Response(body, mimetype="image/png")

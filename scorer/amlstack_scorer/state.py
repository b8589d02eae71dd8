"""What the routes share: the loaded model and everything derived from it, auth, CORS, logs."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from amlstack.artifact.names import PROFILE_FILE
from amlstack.artifact.reader import Model
from amlstack_scorer import explain
from amlstack_scorer.auth import KeyStore
from amlstack_scorer.contract import (
    MODEL_NAME_HEADER,
    MODEL_VERSION_HEADER,
    REQUEST_ID_HEADER,
    THRESHOLD_HEADER,
)
from amlstack_scorer.errors import InvalidInput
from amlstack_scorer.logs import AccessLog
from amlstack_scorer.metrics import Metrics
from amlstack_scorer.observers import Observer
from amlstack_scorer.settings import Settings
from amlstack_scorer.swagger import SwaggerDocs, typical_record
from amlstack_scorer.validation import Schema

log = logging.getLogger("amlstack.scorer")

METRIC_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


class Cors:
    """CORS for the listed origins only (the Swagger UI container calls us from the browser)."""

    ALLOW_HEADERS = f"Authorization, Content-Type, {REQUEST_ID_HEADER}"
    ALLOW_METHODS = "GET, POST, OPTIONS"
    EXPOSE_HEADERS = ", ".join(
        (REQUEST_ID_HEADER, MODEL_NAME_HEADER, MODEL_VERSION_HEADER, THRESHOLD_HEADER)
    )

    def __init__(self, origins: Iterable[str]) -> None:
        self.origins = frozenset(origins)

    def response_headers(self, origin: str | None) -> list[tuple[str, str]]:
        if origin not in self.origins:
            return []
        return [
            ("Access-Control-Allow-Origin", origin),
            ("Access-Control-Expose-Headers", self.EXPOSE_HEADERS),
            ("Vary", "Origin"),
        ]

    def preflight_headers(self, origin: str | None) -> list[tuple[str, str]]:
        # Preflights carry no credentials by design, so they are answered before auth.
        if origin not in self.origins:
            return []
        return [
            ("Access-Control-Allow-Methods", self.ALLOW_METHODS),
            ("Access-Control-Allow-Headers", self.ALLOW_HEADERS),
            ("Access-Control-Max-Age", "600"),
        ]


@dataclass
class ScorerState:
    """Everything the routes need, stored in ``app.extensions["amlstack"]``."""

    settings: Settings
    keystore: KeyStore | None
    observers: tuple[Observer, ...] = ()
    access_log: AccessLog = field(default_factory=AccessLog)
    cors: Cors = field(default_factory=lambda: Cors(()))
    model: Model | None = None
    schema: Schema | None = None
    metrics: Metrics | None = None
    swagger: SwaggerDocs | None = None
    model_info: dict[str, str] = field(default_factory=dict)
    class_keys: list[str] = field(default_factory=list)
    threshold: float | None = None
    profile: bytes | None = None  # the artifact's profile.json, served as is at /profile
    explainer: explain.Explainer | None = None

    def load(self, model: Model) -> None:
        """Serve ``model``: build everything derived from its schema, then mark ready."""
        self.schema = Schema(model, self.settings.max_batch)
        self.metrics = Metrics(model.name, model.version)
        self.model_info = {"name": model.name, "version": model.version}
        self.class_keys = [str(k) for k in model.classes]
        self.threshold = model.threshold if len(model.classes) == 2 else None
        profile = model.profile()  # checked against the model: ArtifactError if it does not fit
        self.profile = model.read(PROFILE_FILE)
        features = profile.get("features") if profile is not None else None
        self.swagger = SwaggerDocs(
            model, self.settings.max_batch, features, self._example_answer(model, features)
        )
        self.explainer = explain.for_model(model)
        self.model = model  # last: readiness flips only when the rest is in place

    def answer(self, labels: list, proba: list[list[float]]) -> dict[str, Any]:
        """The /score response body (also the swagger 200 example): labels, probabilities,
        model, and for a binary model the threshold that turned p(positive) into the label."""
        body: dict[str, Any] = {
            "predictions": labels,
            "probabilities": [dict(zip(self.class_keys, row, strict=True)) for row in proba],
            "model": self.model_info,
        }
        if self.threshold is not None:
            body["threshold"] = self.threshold
        return body

    def _example_answer(self, model: Model, features: dict | None) -> dict[str, Any]:
        """The model's own answer to the documents' synthetic example record."""
        proba = model.predict_proba(model.encode_records([typical_record(model, features)]))
        labels = [model.classes[i] for i in model.label_indices(proba).tolist()]
        return self.answer(labels, proba.tolist())

    def explain(self, matrix: np.ndarray, predicted: list[int]) -> list[dict]:
        """Per-record contributions (``?explain=true``); 422 naming ``explain`` when impossible."""
        if self.explainer is None or self.model is None:
            raise InvalidInput(
                "this model cannot explain: its artifact has no background sample "
                "(retrain it with this version of amlstack)",
                field="explain",
            )
        if len(predicted) > explain.MAX_RECORDS:
            raise InvalidInput(
                f"explain at most {explain.MAX_RECORDS} records per request", field="explain"
            )
        targets = explain.explained_classes(len(self.model.classes), predicted)
        return self.explainer.explain(matrix, targets)

    def observe(self, matrix: np.ndarray, count: int) -> None:
        """Hand an encoded batch to the observers (drift); their failures never fail a request."""
        for observer in self.observers:
            try:
                observer(matrix, count)
            except Exception:
                log.exception("observer %r failed; the request was still scored", observer)

    def flush_observers(self) -> None:
        """Hand buffered rows to the observers now (before /metrics, at worker exit)."""
        for observer in self.observers:
            flush = getattr(observer, "flush", None)
            if flush is not None:
                try:
                    flush()
                except Exception:
                    log.exception("observer %r failed to flush", observer)

    def observer_registries(self) -> list:
        """Prometheus registries the observers keep (a buffered observer wraps the real one)."""
        found = []
        for observer in self.observers:
            registry = getattr(getattr(observer, "observer", observer), "registry", None)
            if registry is not None:
                found.append(registry)
        return found

    @staticmethod
    def request_id(incoming: str | None) -> str:
        """The client's X-Request-ID when it is safe to echo and log, else a fresh one."""
        if incoming and _SAFE_ID.match(incoming):
            return incoming
        # Random only: a worker's PID in the id would tell clients about the process layout.
        return os.urandom(12).hex()

    def record(
        self,
        route: str,
        method: str,
        status: int,
        seconds: float,
        request_id: str,
        batch: int | None,
    ) -> None:
        """Metrics and the access log line for one finished request.

        The method label comes from a closed set, so clients cannot grow /metrics without bound.
        """
        if method not in METRIC_METHODS:
            method = "other"
        if self.metrics is not None:
            self.metrics.observe_request(route, method, status, seconds)
        self.access_log.request(request_id, method, route, status, seconds * 1000.0, batch)

"""The Flask application factory: wires settings, model, auth, validation, metrics and logs."""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np
from flask import Flask, Response, g, request

from amlstack.artifact.reader import Model
from amlstack_scorer import errors, routes, telemetry
from amlstack_scorer.auth import KeyStore
from amlstack_scorer.contract import AUTH_ENV
from amlstack_scorer.logs import AccessLog
from amlstack_scorer.metrics import Metrics
from amlstack_scorer.scoring import ScoringEndpoint
from amlstack_scorer.settings import Settings
from amlstack_scorer.swagger import SwaggerDocs
from amlstack_scorer.validation import Schema

log = logging.getLogger("amlstack.scorer")

Observer = Callable[[np.ndarray, int], None]
REQUEST_ID_HEADER = "X-Request-ID"
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


class Cors:
    """CORS for the listed origins only (the Swagger UI container calls us from the browser)."""

    ALLOW_HEADERS = "Authorization, Content-Type, X-Request-ID"
    ALLOW_METHODS = "GET, POST, OPTIONS"

    def __init__(self, origins: Iterable[str]) -> None:
        self.origins = frozenset(origins)

    def response_headers(self, origin: str | None) -> list[tuple[str, str]]:
        if origin not in self.origins:
            return []
        return [
            ("Access-Control-Allow-Origin", origin),
            ("Access-Control-Expose-Headers", REQUEST_ID_HEADER),
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

    def load(self, model: Model) -> None:
        """Serve ``model``: build everything derived from its schema, then mark ready."""
        self.schema = Schema(model, self.settings.max_batch)
        self.swagger = SwaggerDocs(model, self.settings.max_batch)
        self.metrics = Metrics(model.name, model.version)
        self.model_info = {"name": model.name, "version": model.version}
        self.class_keys = [str(k) for k in model.classes]
        self.model = model  # last: readiness flips only when the rest is in place

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
        return f"{os.getpid():x}-{os.urandom(8).hex()}"

    def record(
        self,
        route: str,
        method: str,
        status: int,
        seconds: float,
        request_id: str,
        batch: int | None,
    ) -> None:
        """Metrics and the access log line for one finished request."""
        if self.metrics is not None:
            self.metrics.observe_request(route, method, status, seconds)
        self.access_log.request(request_id, method, route, status, seconds * 1000.0, batch)


def create_app(
    settings: Settings,
    model: Model | None,
    observers: Iterable[Observer] = (),
    keystore: KeyStore | None = None,
) -> Flask:
    """A scorer app for ``model`` (None: not ready yet, call ``set_model`` later)."""
    app = Flask("amlstack_scorer")
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    if keystore is None:
        keystore = KeyStore.from_settings(settings)
    if keystore is None:
        log.warning(
            "AUTHENTICATION IS OFF (%s=none): anyone who can reach this port can score "
            "and read metrics",
            AUTH_ENV,
        )
    state = ScorerState(
        settings=settings,
        keystore=keystore,
        observers=tuple(observers),
        access_log=AccessLog(settings.access_log and settings.log_level in ("DEBUG", "INFO")),
        cors=Cors(settings.cors_origins),
    )
    app.extensions["amlstack"] = state
    if model is not None:
        state.load(model)
    errors.install(app, on_exception=telemetry.record_exception)
    _install_hooks(app, state)
    routes.register(app, state)
    app.wsgi_app = ScoringEndpoint(app.wsgi_app, state)  # type: ignore[method-assign]
    return app


def set_model(app: Flask, model: Model) -> None:
    app.extensions["amlstack"].load(model)


def _install_hooks(app: Flask, state: ScorerState) -> None:
    """Request id, CORS, metrics and access log for the routes Flask serves."""
    cors = state.cors

    @app.before_request
    def _start() -> Response | None:
        g.start = time.perf_counter()
        g.request_id = state.request_id(request.headers.get(REQUEST_ID_HEADER))
        if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
            headers = cors.preflight_headers(request.headers.get("Origin"))
            return Response(status=204, headers=headers)
        return None

    @app.after_request
    def _finish(response: Response) -> Response:
        elapsed = time.perf_counter() - g.start
        response.headers[REQUEST_ID_HEADER] = g.request_id
        for name, value in cors.response_headers(request.headers.get("Origin")):
            response.headers[name] = value
        rule = request.url_rule
        route = rule.rule if rule is not None else "unmatched"
        state.record(
            route, request.method, response.status_code, elapsed, g.request_id, g.get("batch")
        )
        return response

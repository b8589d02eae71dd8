"""The Flask application factory: wires settings, model, auth, validation, metrics and logs."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable

from flask import Flask, Response, g, request

from amlstack.artifact.reader import Model
from amlstack_scorer import errors, modelcard, routes, telemetry
from amlstack_scorer.auth import KeyStore
from amlstack_scorer.contract import AUTH_ENV, REQUEST_ID_HEADER
from amlstack_scorer.logs import AccessLog
from amlstack_scorer.observers import Observer
from amlstack_scorer.raw_route import SAFETY_HEADERS
from amlstack_scorer.scoring import ScoringEndpoint
from amlstack_scorer.settings import Settings
from amlstack_scorer.state import Cors, ScorerState
from amlstack_scorer.v2_routes import V2Endpoint

log = logging.getLogger("amlstack.scorer")


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
        access_log=AccessLog(
            settings.access_log and settings.log_level in ("DEBUG", "INFO"),
            probes=settings.log_level == "DEBUG",
        ),
        cors=Cors(settings.cors_origins),
    )
    app.extensions["amlstack"] = state
    if model is not None:
        state.load(model)
    errors.install(app, on_exception=telemetry.record_exception)
    _install_hooks(app, state)
    routes.register(app, state)
    modelcard.register(app, state)
    scoring = ScoringEndpoint(app.wsgi_app, state)
    # The Open Inference Protocol routes: the same state and scoring steps as /score.
    app.wsgi_app = V2Endpoint(scoring, state)  # type: ignore[method-assign]
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
        for name, value in SAFETY_HEADERS:
            response.headers[name] = value
        for name, value in cors.response_headers(request.headers.get("Origin")):
            response.headers[name] = value
        rule = request.url_rule
        route = rule.rule if rule is not None else "unmatched"
        state.record(
            route, request.method, response.status_code, elapsed, g.request_id, g.get("batch")
        )
        return response

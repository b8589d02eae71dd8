"""The Flask routes: liveness, readiness, swagger and metrics (scoring is in scoring.py)."""

from __future__ import annotations

from flask import Flask, Response, request

from amlstack_scorer import contract as c
from amlstack_scorer.contract import JSON_MIMETYPE
from amlstack_scorer.errors import BadRequest, NotReady
from amlstack_scorer.state import ScorerState
from amlstack_scorer.wire import encode


def register(app: Flask, state: ScorerState) -> None:
    """Add the Flask-served routes to ``app``."""

    def authenticate() -> None:
        if state.keystore is not None:
            state.keystore.check(request.headers.get("Authorization"))

    @app.get(c.LIVENESS_ROUTE)
    def liveness() -> Response:
        return Response("Healthy", mimetype="text/plain")

    @app.get(c.READINESS_ROUTE)
    def readiness() -> Response:
        if state.model is None:
            raise NotReady("the model is not loaded yet")
        return Response("Ready", mimetype="text/plain")

    @app.get(c.SWAGGER_ROUTE)
    def swagger() -> Response:
        if state.swagger is None:
            raise NotReady("the model is not loaded yet")
        version = request.args.get("version", "2")
        if version not in ("2", "3"):
            raise BadRequest("version must be 2 (Swagger 2.0) or 3 (OpenAPI 3)", field="version")
        scheme = request.headers.get("X-Forwarded-Proto", request.scheme).split(",")[0].strip()
        if scheme not in ("http", "https"):  # a client-supplied header: only the two schemes
            scheme = request.scheme
        host = request.headers.get("X-Forwarded-Host", request.host).split(",")[0].strip()
        doc = state.swagger.for_request(int(version), scheme, host)
        return Response(encode(doc), mimetype=JSON_MIMETYPE)

    @app.get(c.METRICS_ROUTE)
    def metrics() -> Response:
        authenticate()
        if state.metrics is None:
            raise NotReady("the model is not loaded yet")
        state.flush_observers()  # this worker's buffered drift rows count in this scrape
        body, content_type = state.metrics.render(state.observer_registries())
        return Response(body, content_type=content_type)

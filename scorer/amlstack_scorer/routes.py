"""The Flask routes: liveness, readiness, swagger and metrics (scoring is in scoring.py)."""

from __future__ import annotations

from flask import Flask, Response, request

from amlstack.artifact.names import PROFILE_FILE
from amlstack_scorer import contract as c
from amlstack_scorer.contract import JSON_MIMETYPE
from amlstack_scorer.errors import BadRequest, NotFound, NotReady
from amlstack_scorer.state import ScorerState
from amlstack_scorer.wire import encode


def register(app: Flask, state: ScorerState) -> None:
    """Add the Flask-served routes to ``app``."""

    def authenticate() -> None:
        if state.keystore is not None:
            state.keystore.check(request.headers.get("Authorization"))

    def reached_as() -> tuple[str, str]:
        """Scheme and host the client used: the request's own, or what a trusted proxy says.

        X-Forwarded-* from anyone else is ignored: it would let any client write another host
        into the served documents (AMLSTACK_TRUSTED_PROXIES lists the proxies; default none).
        """
        scheme, host = request.scheme, request.host
        if state.settings.trusts_proxy(request.remote_addr):
            forwarded = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip()
            if forwarded in ("http", "https"):
                scheme = forwarded
            host = request.headers.get("X-Forwarded-Host", "").split(",")[0].strip() or host
        return scheme, host

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
        doc = state.swagger.for_request(int(version), *reached_as())
        return Response(encode(doc), mimetype=JSON_MIMETYPE)

    @app.get(c.PROFILE_ROUTE)
    def profile() -> Response:
        """What the served model was trained on, so drift checks need only the URL and key."""
        authenticate()
        if state.model is None:
            raise NotReady("the model is not loaded yet")
        if state.profile is None:
            raise NotFound(f"the served artifact has no {PROFILE_FILE}")
        return Response(state.profile, mimetype=JSON_MIMETYPE)

    @app.get(c.METRICS_ROUTE)
    def metrics() -> Response:
        authenticate()
        if state.metrics is None:
            raise NotReady("the model is not loaded yet")
        state.flush_observers()  # this worker's buffered drift rows count in this scrape
        body, content_type = state.metrics.render(state.observer_registries())
        return Response(body, content_type=content_type)

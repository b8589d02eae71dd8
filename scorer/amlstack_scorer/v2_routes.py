"""The Open Inference Protocol (V2) REST routes, served as plain WSGI like ``/score``.

``GET /v2``, ``/v2/health/live``, ``/v2/health/ready``, ``/v2/models/{name}[/versions/{v}]``,
``.../ready`` and ``POST .../infer``. Infer takes the same key, limits (body size, batch size),
metrics, access log, drift observers and telemetry as ``/score``; the documents are in ``v2.py``.
Errors use the protocol's shape, ``{"error": "<message>"}``, with the scorer's status codes.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from amlstack.artifact.encoding import ValueTooLarge
from amlstack_scorer import __version__, telemetry, v2
from amlstack_scorer.contract import JSON_MIMETYPE as JSON
from amlstack_scorer.contract import REQUEST_ID_HEADER
from amlstack_scorer.errors import (
    InvalidInput,
    MethodNotAllowed,
    ModelFailure,
    NotFound,
    NotReady,
    ScorerError,
    Unauthorized,
    UnsupportedMediaType,
)
from amlstack_scorer.scoring import SAFETY_HEADERS
from amlstack_scorer.wire import encode as _encode

if TYPE_CHECKING:
    from amlstack_scorer.state import ScorerState

log = logging.getLogger("amlstack.scorer")
PREFIX = "/v2"
_MODEL_PATH = re.compile(
    r"^/v2/models/(?P<name>[^/]+)(?:/versions/(?P<version>[^/]+))?(?P<rest>/[a-z]+)?$"
)
Route = Callable[..., tuple[int, bytes, list[tuple[str, str]], int | None]]
SERVER = {"name": "amlstack", "version": __version__, "extensions": ["binary_tensor_data"]}


class V2Endpoint:
    """WSGI middleware answering ``/v2...``; every other path goes to ``inner``."""

    def __init__(self, inner: Callable, state: ScorerState, read_body: Callable[[dict], bytes]):
        self.inner = inner
        self.state = state
        self.read_body = read_body
        self._serve = telemetry.wrap_wsgi(self._route)

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path != PREFIX and not path.startswith(PREFIX + "/"):
            return self.inner(environ, start_response)
        return self._serve(environ, start_response)

    def _route(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        started = time.perf_counter()
        state = self.state
        request_id = state.request_id(environ.get("HTTP_X_REQUEST_ID"))
        method = environ.get("REQUEST_METHOD", "")
        origin = environ.get("HTTP_ORIGIN")
        template, batch, content_type = "/v2 unmatched", None, JSON
        headers: list[tuple[str, str]] = []
        try:
            template, handler, allowed = self._match(environ.get("PATH_INFO", ""))
            if method == "OPTIONS":
                status, body, headers = 204, b"", state.cors.preflight_headers(origin)
            elif method not in allowed:
                raise MethodNotAllowed(f"use {allowed[0]} on this route", allowed=allowed)
            else:
                status, body, headers, batch = handler(environ, request_id)
                content_type = dict(headers).pop("Content-Type", JSON)
                headers = [h for h in headers if h[0] != "Content-Type"]
        except ScorerError as exc:
            status, body = exc.status, _encode({"error": exc.message})
            headers = [("WWW-Authenticate", exc.challenge)] if isinstance(exc, Unauthorized) else []
        except Exception as exc:  # the last line of defence: no trace reaches the client
            log.error("unhandled error", exc_info=exc, extra={"request_id": request_id})
            telemetry.record_exception(exc)
            status, body, headers = 500, _encode({"error": "internal error"}), []
        if status != 204:
            headers.append(("Content-Type", content_type))
        headers.append(("Content-Length", str(len(body))))
        headers.append((REQUEST_ID_HEADER, request_id))
        headers.extend(SAFETY_HEADERS)
        headers.extend(state.cors.response_headers(origin))
        start_response(_status_line(status), headers)
        state.record(template, method, status, time.perf_counter() - started, request_id, batch)
        return [body]

    def _match(self, path: str) -> tuple[str, Route, tuple[str, ...]]:
        if path in (PREFIX, PREFIX + "/"):
            return "/v2", self._server, ("GET",)
        if path == "/v2/health/live":
            return path, self._live, ("GET",)
        if path == "/v2/health/ready":
            return path, self._ready, ("GET",)
        found = _MODEL_PATH.match(path)
        if found is None:
            raise NotFound("no such route")
        self._check_model(found.group("name"), found.group("version"))
        base = "/v2/models/{name}" + ("/versions/{version}" if found.group("version") else "")
        rest = found.group("rest")
        if rest is None:
            return base, self._metadata, ("GET",)
        if rest == "/ready":
            return base + rest, self._model_ready, ("GET",)
        if rest == "/infer":
            return base + rest, self._infer, ("POST",)
        raise NotFound("no such route")

    def _check_model(self, name: str, version: str | None) -> None:
        model = self.state.model
        if model is None:
            raise NotReady("the model is not loaded yet")
        if name != model.name:
            raise NotFound(f"no model {name!r}; this server serves {model.name!r}")
        if version is not None and version != model.version:
            raise NotFound(f"no version {version!r} of {name!r}; it is {model.version!r}")

    # -- handlers: (status, body, headers, batch size) ---------------------------------------
    def _server(self, environ: dict, request_id: str):
        return 200, _encode(SERVER), [], None

    def _live(self, environ: dict, request_id: str):
        return 200, _encode({"live": True}), [], None

    def _ready(self, environ: dict, request_id: str):
        if self.state.model is None:
            raise NotReady("the model is not loaded yet")
        return 200, _encode({"ready": True}), [], None

    def _model_ready(self, environ: dict, request_id: str):
        model = self.state.model
        return 200, _encode({"name": model.name, "ready": True}), [], None

    def _metadata(self, environ: dict, request_id: str):
        return 200, _encode(v2.model_metadata(self.state.model)), [], None

    def _infer(self, environ: dict, request_id: str):
        state = self.state
        if state.keystore is not None:
            state.keystore.check(environ.get("HTTP_AUTHORIZATION"))
        mimetype = environ.get("CONTENT_TYPE", "").split(";", 1)[0].strip().lower()
        header_length = environ.get("HTTP_INFERENCE_HEADER_CONTENT_LENGTH")
        if header_length is None and mimetype not in (JSON, ""):
            raise UnsupportedMediaType(f"Content-Type must be {JSON}, got {mimetype!r}")
        model = state.model
        request = v2.decode(self.read_body(environ), header_length, model, state.settings.max_batch)
        try:  # the artifact's one encoder, as /score uses it
            encoded = model.encoder.rows(list(zip(*request.columns, strict=True)))
        except ValueTooLarge as exc:
            raise InvalidInput(
                "value is too large for a float32 number", field=exc.feature
            ) from None
        matrix, unseen = encoded.matrix, encoded.unseen
        if state.observers:
            state.observe(matrix, request.rows)
        try:
            proba = model.predict_proba(matrix)
            labels = model.labels(proba)
        except Exception as exc:
            log.exception("model failed", extra={"request_id": request_id})
            telemetry.record_exception(exc)
            raise ModelFailure("the model failed on this input; quote the request id") from exc
        if state.metrics is not None:
            state.metrics.observe_scores(labels, unseen)
        body, header_length = v2.encode_response(model, request, proba, labels)
        headers: list[tuple[str, str]] = []
        if header_length is not None:
            headers = [
                ("Content-Type", "application/octet-stream"),
                (v2.HEADER_LENGTH, str(header_length)),
            ]
        return 200, body, headers, request.rows


def _status_line(status: int) -> str:
    from http import HTTPStatus

    return f"{status} {HTTPStatus(status).phrase}"

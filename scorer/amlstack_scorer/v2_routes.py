"""The Open Inference Protocol (V2) REST routes, served as plain WSGI like ``/score``.

``GET /v2``, ``/v2/health/live``, ``/v2/health/ready``, ``/v2/models/{name}[/versions/{v}]``,
``.../ready`` and ``POST .../infer``. Infer takes the same key, limits (body size, batch size),
metrics, access log, drift observers and telemetry as ``/score``; the documents are in ``v2.py``.
Errors use the protocol's shape, ``{"error": "<message>"}``, with the scorer's status codes.
"""

from __future__ import annotations

import re

from amlstack.artifact.encoding import CellError
from amlstack_scorer import __version__, errors, v2
from amlstack_scorer.contract import JSON_MIMETYPE as JSON
from amlstack_scorer.errors import (
    InvalidInput,
    NotFound,
    NotReady,
    ScorerError,
    UnsupportedMediaType,
)
from amlstack_scorer.raw_route import Handler, Headers, RawEndpoint
from amlstack_scorer.wire import encode as _encode

PREFIX = "/v2"
_MODEL_PATH = re.compile(
    r"^/v2/models/(?P<name>[^/]+)(?:/versions/(?P<version>[^/]+))?(?P<rest>/[a-z]+)?$"
)
SERVER = {"name": "amlstack", "version": __version__, "extensions": ["binary_tensor_data"]}


class V2Endpoint(RawEndpoint):
    """``/v2...``; every other path goes to the next WSGI layer."""

    unmatched = "/v2 unmatched"

    def owns(self, path: str) -> bool:
        return path == PREFIX or path.startswith(PREFIX + "/")

    def resolve(self, path: str) -> tuple[str, Handler, tuple[str, ...]]:
        return self._match(path)

    def render_error(self, exc: ScorerError, request_id: str) -> tuple[bytes, Headers]:
        """The protocol's error shape, ``{"error": "<message>"}``, with the status's headers;
        the shape has no field, so the message starts with it (``age[3]: ...``)."""
        field = getattr(exc, "field", None)
        message = f"{field}: {exc.message}" if field else exc.message
        return _encode({"error": message}), errors.error_headers(exc)

    def _match(self, path: str) -> tuple[str, Handler, tuple[str, ...]]:
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

    # -- handlers: (body, headers, batch size) -----------------------------------------------
    def _server(self, environ: dict, request_id: str, accepted: float):
        return _encode(SERVER), [], None

    def _live(self, environ: dict, request_id: str, accepted: float):
        return _encode({"live": True}), [], None

    def _ready(self, environ: dict, request_id: str, accepted: float):
        if self.state.model is None:
            raise NotReady("the model is not loaded yet")
        return _encode({"ready": True}), [], None

    def _model_ready(self, environ: dict, request_id: str, accepted: float):
        model = self.state.model
        return _encode({"name": model.name, "ready": True}), [], None

    def _metadata(self, environ: dict, request_id: str, accepted: float):
        return _encode(v2.model_metadata(self.state.model)), [], None

    def _infer(self, environ: dict, request_id: str, accepted: float):
        state = self.state
        if state.keystore is not None:
            state.keystore.check(environ.get("HTTP_AUTHORIZATION"))
        mimetype = environ.get("CONTENT_TYPE", "").split(";", 1)[0].strip().lower()
        header_length = environ.get("HTTP_INFERENCE_HEADER_CONTENT_LENGTH")
        if header_length is None and mimetype not in (JSON, ""):
            raise UnsupportedMediaType(f"Content-Type must be {JSON}, got {mimetype!r}")
        model = state.model
        body = self.read_wanted(environ, accepted)
        request = v2.decode(body, header_length, model, state.settings.max_batch)
        try:  # the artifact's one encoder, as /score uses it
            batch = model.encoder.rows(list(zip(*request.columns, strict=True)))
        except CellError as exc:
            raise InvalidInput(exc.reason, field=f"{exc.feature}[{exc.row}]") from None
        proba, _, labels = self.predict(batch, request_id, accepted)
        body, header_length = v2.encode_response(model, request, proba, labels)
        headers: Headers = []
        if header_length is not None:
            headers = [
                ("Content-Type", "application/octet-stream"),
                (v2.HEADER_LENGTH, str(header_length)),
            ]
        return body, headers, request.rows

"""What the plain-WSGI routes (``/score`` and the ``/v2`` routes) share, written once.

Flask's request machinery costs more per request than decoding, validating and scoring one
record (measured with pyinstrument), so the scoring routes are served by small WSGI callables
wrapped around ``app.wsgi_app``. ``RawEndpoint`` is that wrapper: it picks the route, answers
OPTIONS (CORS preflight) and wrong methods, turns every exception into the endpoint's error body
(no trace reaches a client), puts on the headers every answer carries, and records the request
(metrics, access log). It also owns the steps a scoring request goes through, so both protocols
get the same body limits, deadline, gone-client check, observers and model-failure handling.
A subclass says which paths it owns (``resolve``) and how its errors look (``render_error``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import TYPE_CHECKING

import numpy as np

from amlstack.artifact.encoding import Encoded
from amlstack_scorer import deadline, telemetry
from amlstack_scorer.contract import JSON_MIMETYPE, REQUEST_ID_HEADER
from amlstack_scorer.errors import (
    BadRequest,
    ClientGone,
    DeadlineExceeded,
    MethodNotAllowed,
    ModelFailure,
    PayloadTooLarge,
    ReadTimedOut,
    RequestTimeout,
    ScorerError,
    UnsupportedMediaType,
)

if TYPE_CHECKING:
    from amlstack_scorer.state import ScorerState

# On every answer (app.py adds them to Flask's): no content sniffing, never cached.
SAFETY_HEADERS = (("X-Content-Type-Options", "nosniff"), ("Cache-Control", "no-store"))
STATUS_LINES = {s.value: f"{s.value} {s.phrase}" for s in HTTPStatus}
STATUS_LINES[ClientGone.status] = f"{ClientGone.status} Client Closed Request"

log = logging.getLogger("amlstack.scorer")
WSGIApp = Callable[[dict, Callable], Iterable[bytes]]
Headers = list[tuple[str, str]]
# A route's handler: (environ, request id, accepted-at) -> (body, headers, batch size). A
# "Content-Type" among the headers replaces the JSON default.
Handler = Callable[[dict, str, float], tuple[bytes, Headers, int | None]]


class RawEndpoint:
    """WSGI middleware answering the paths ``resolve`` owns; every other path goes to ``inner``."""

    unmatched = "unmatched"  # the metrics' route label for an owned path no route matches

    def __init__(self, inner: WSGIApp, state: ScorerState) -> None:
        self.inner = inner
        self.state = state
        self.max_body = state.settings.max_body_bytes
        self._serve = telemetry.wrap_wsgi(self._route)

    def owns(self, path: str) -> bool:
        raise NotImplementedError

    def resolve(self, path: str) -> tuple[str, Handler, tuple[str, ...]]:
        """(route template for metrics, handler, allowed methods); ScorerError if none."""
        raise NotImplementedError

    def render_error(self, exc: ScorerError, request_id: str) -> tuple[bytes, Headers]:
        raise NotImplementedError

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        if not self.owns(environ.get("PATH_INFO", "")):
            return self.inner(environ, start_response)
        return self._serve(environ, start_response)

    def _route(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        started = time.perf_counter()
        state = self.state
        accepted = deadline.accepted_at(environ, state.settings, time.time())
        request_id = state.request_id(environ.get("HTTP_X_REQUEST_ID"))
        method = environ.get("REQUEST_METHOD", "")
        origin = environ.get("HTTP_ORIGIN")
        path = environ.get("PATH_INFO", "")
        template, batch, content_type = self.unmatched, None, JSON_MIMETYPE
        headers: Headers = []
        try:
            template, handler, allowed = self.resolve(path)
            if method == "OPTIONS":
                status, body, headers = 204, b"", state.cors.preflight_headers(origin)
            elif method not in allowed:
                raise MethodNotAllowed(
                    f"use {allowed[0]} on this route", allowed=(*allowed, "OPTIONS")
                )
            else:
                body, headers, batch = handler(environ, request_id, accepted)
                status = 200
                content_type = _pop_content_type(headers, content_type)
        except ScorerError as exc:
            status = exc.status
            body, headers = self.render_error(exc, request_id)
            if isinstance(exc, ClientGone | DeadlineExceeded):
                self._abandoned(exc, request_id)
        except Exception as exc:  # the last line of defence: no trace reaches the client
            log.error("unhandled error", exc_info=exc, extra={"request_id": request_id})
            telemetry.record_exception(exc)
            status = 500
            body, headers = self.render_error(ScorerError("internal error"), request_id)
        if status != 204:
            headers.append(("Content-Type", content_type))
        headers.append(("Content-Length", str(len(body))))
        headers.append((REQUEST_ID_HEADER, request_id))
        headers.extend(SAFETY_HEADERS)
        headers.extend(state.cors.response_headers(origin))
        start_response(STATUS_LINES[status], headers)
        state.record(template, method, status, time.perf_counter() - started, request_id, batch)
        return [body]

    def _abandoned(self, exc: ScorerError, request_id: str) -> None:
        log.warning("request not scored: %s", exc.message, extra={"request_id": request_id})
        if self.state.metrics is not None:
            self.state.metrics.observe_abandoned(exc.code)

    # -- the steps of a scoring request ------------------------------------------------------
    def read_wanted(self, environ: dict, accepted: float) -> bytes:
        """The body, unless nobody waits for the answer any more (deadline, client gone):
        then the request is dropped before any decoding or scoring."""
        body = self.read_body(environ)
        deadline.check_deadline(self.state.settings, accepted)
        deadline.check_client(environ)
        return body

    def predict(
        self, batch: Encoded, request_id: str, accepted: float
    ) -> tuple[np.ndarray, list[int], list]:
        """Observe, score and count one encoded batch: probabilities, class indices, labels."""
        state, model = self.state, self.state.model
        if state.observers:
            state.observe(batch.matrix, batch.size)
        deadline.check_deadline(state.settings, accepted)  # decoding a large batch took time
        try:
            proba = model.predict_proba(batch.matrix)
            indices = model.label_indices(proba).tolist()
        except Exception as exc:
            log.exception("model failed", extra={"request_id": request_id})
            telemetry.record_exception(exc)
            raise ModelFailure("the model failed on this input; quote the request id") from exc
        labels = list(map(model.classes.__getitem__, indices))
        if state.metrics is not None:
            outside = model.training_range.outside(batch.matrix)
            state.metrics.observe_scores(labels, batch.unseen, batch.missing, outside)
        return proba, indices, labels

    def read_body(self, environ: dict) -> bytes:
        """The body, checked against the size limit before (Content-Length) or while reading."""
        coding = environ.get("HTTP_CONTENT_ENCODING", "").strip().lower()
        if coding not in ("", "identity"):
            raise UnsupportedMediaType(
                f"Content-Encoding {coding!r} is not accepted: send the body uncompressed"
            )
        limit = self.max_body
        stream = environ["wsgi.input"]
        raw_length = environ.get("CONTENT_LENGTH")
        if raw_length:
            try:
                length = int(raw_length)
            except ValueError:
                raise BadRequest("Content-Length is not a number") from None
            if length > limit:
                raise PayloadTooLarge(f"body of {length} bytes is over the {limit}-byte limit")
            return _read(stream, length)
        # Chunked: gunicorn decodes it and marks the stream terminated; read one byte past the
        # limit to tell "exactly at the limit" from "over it".
        if not environ.get("wsgi.input_terminated"):
            raise BadRequest("send a Content-Length header or a chunked body")
        body = _read(stream, limit + 1)
        if len(body) > limit:
            raise PayloadTooLarge(f"chunked body is over the {limit}-byte limit")
        return body


def _pop_content_type(headers: Headers, default: str) -> str:
    for i, (name, value) in enumerate(headers):
        if name == "Content-Type":
            del headers[i]
            return value
    return default


def _read(stream, size: int) -> bytes:
    """Read the body; gunicorn raises ParseException (InvalidChunkSize, ...) for a malformed
    chunked body and NoMoreData (an OSError) for one cut short: the client's fault, 400."""
    try:
        return stream.read(size)
    except ReadTimedOut as exc:
        raise RequestTimeout(str(exc)) from None
    except (OSError, *_PARSE_ERRORS) as exc:
        raise BadRequest(f"malformed request body: {exc}") from None


def _parse_errors() -> tuple[type[Exception], ...]:
    try:
        from gunicorn.http.errors import ParseException
    except ImportError:  # not under gunicorn (tests, other servers)
        return ()
    return (ParseException,)


_PARSE_ERRORS = _parse_errors()

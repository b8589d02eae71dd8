"""The hot path: ``/score`` as plain WSGI in front of the Flask app.

Flask's request machinery (context push, proxies, hooks, Response objects) costs more per request
than decoding, validating and scoring one record (measured with pyinstrument), so this one route
is served by a small WSGI callable wrapped around ``app.wsgi_app``; every other path goes to Flask.
It shares everything else with the Flask side: errors are rendered by ``errors.render``, and
request ids, CORS, metrics and the access log by ``ScorerState``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from http import HTTPStatus

import numpy as np

from amlstack.artifact.encoding import Encoded
from amlstack_scorer import csv_body, deadline, errors, explain, telemetry
from amlstack_scorer.contract import CSV_MIMETYPE, JSON_MIMETYPE, REQUEST_ID_HEADER, SCORING_ROUTE
from amlstack_scorer.errors import (
    BadRequest,
    ClientGone,
    DeadlineExceeded,
    InvalidInput,
    MethodNotAllowed,
    ModelFailure,
    NotReady,
    PayloadTooLarge,
    ScorerError,
    UnsupportedMediaType,
)
from amlstack_scorer.state import ScorerState
from amlstack_scorer.wire import encode

# On every answer (app.py adds them to Flask's): no content sniffing, never cached.
SAFETY_HEADERS = (("X-Content-Type-Options", "nosniff"), ("Cache-Control", "no-store"))

log = logging.getLogger("amlstack.scorer")
STATUS_LINES = {s.value: f"{s.value} {s.phrase}" for s in HTTPStatus}
STATUS_LINES[ClientGone.status] = f"{ClientGone.status} Client Closed Request"
WSGIApp = Callable[[dict, Callable], Iterable[bytes]]


class ScoringEndpoint:
    """WSGI middleware answering every method on ``/score``; other paths go to ``inner``."""

    def __init__(self, inner: WSGIApp, state: ScorerState) -> None:
        self.inner = inner
        self.state = state
        self.max_body = state.settings.max_body_bytes
        self._serve = telemetry.wrap_wsgi(self._score_route)

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != SCORING_ROUTE:
            return self.inner(environ, start_response)
        return self._serve(environ, start_response)

    def _score_route(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        started = time.perf_counter()
        state = self.state
        accepted = deadline.accepted_at(environ, state.settings, time.time())
        request_id = state.request_id(environ.get("HTTP_X_REQUEST_ID"))
        method = environ.get("REQUEST_METHOD", "")
        origin = environ.get("HTTP_ORIGIN")
        batch = None
        headers: list[tuple[str, str]] = []
        content_type = JSON_MIMETYPE
        try:
            if method == "POST":
                body, batch, answer_headers = self._score(environ, request_id, accepted)
                status = 200
                if answer_headers:  # a CSV answer: its own Content-Type and model headers
                    headers, content_type = answer_headers[1:], answer_headers[0][1]
            elif method == "OPTIONS":
                status, body = 204, b""
                headers = state.cors.preflight_headers(origin)
            else:
                raise MethodNotAllowed("use POST on this route", allowed=("POST", "OPTIONS"))
        except ScorerError as exc:
            status = exc.status
            body, headers = errors.render(exc, request_id)
            if isinstance(exc, ClientGone | DeadlineExceeded):
                self._abandoned(exc, request_id)
        except Exception as exc:  # the last line of defence: no trace reaches the client
            log.error("unhandled error", exc_info=exc, extra={"request_id": request_id})
            telemetry.record_exception(exc)
            status = 500
            body, headers = errors.render(ScorerError("internal error"), request_id)
        if status != 204:
            headers.append(("Content-Type", content_type if status == 200 else JSON_MIMETYPE))
        headers.append(("Content-Length", str(len(body))))
        headers.append((REQUEST_ID_HEADER, request_id))
        headers.extend(SAFETY_HEADERS)
        headers.extend(state.cors.response_headers(origin))
        start_response(STATUS_LINES[status], headers)
        elapsed = time.perf_counter() - started
        state.record(SCORING_ROUTE, method, status, elapsed, request_id, batch)
        return [body]

    def _abandoned(self, exc: ScorerError, request_id: str) -> None:
        log.warning("request not scored: %s", exc.message, extra={"request_id": request_id})
        if self.state.metrics is not None:
            self.state.metrics.observe_abandoned(exc.code)

    def _score(self, environ: dict, request_id: str, accepted: float) -> tuple[bytes, int, list]:
        """The answer's body, its batch size, and (CSV only) its Content-Type and headers."""
        state = self.state
        if state.keystore is not None:
            state.keystore.check(environ.get("HTTP_AUTHORIZATION"))
        model, schema = state.model, state.schema
        if model is None or schema is None:
            raise NotReady("the model is not loaded yet")
        mimetype, _, params = environ.get("CONTENT_TYPE", "").partition(";")
        mimetype = mimetype.strip().lower()
        if mimetype != JSON_MIMETYPE:
            if mimetype == CSV_MIMETYPE:
                return self._score_csv(environ, request_id, params, accepted)
            raise UnsupportedMediaType(
                f"Content-Type must be {JSON_MIMETYPE} or {CSV_MIMETYPE}, "
                f"got {mimetype or 'none'!r}"
            )
        batch, params = schema.read(self._read_wanted(environ, accepted))
        proba, indices, labels = self._predict(batch, request_id, accepted)
        answer = state.answer(labels, proba.tolist())
        if explain.requested(environ.get("QUERY_STRING", ""), params):
            answer["explanations"] = state.explain(batch.matrix, indices)
        return encode(answer), batch.size, []

    def _score_csv(
        self, environ: dict, request_id: str, params: str, accepted: float
    ) -> tuple[bytes, int, list]:
        """A CSV body, encoded column-wise, answered in CSV (see csv_body)."""
        state, model = self.state, self.state.model
        if explain.requested(environ.get("QUERY_STRING", ""), None):
            raise InvalidInput(
                "explanations are answered for application/json requests only", field="explain"
            )
        batch, delimiter = csv_body.decode(
            self._read_wanted(environ, accepted), params, model, state.settings.max_batch
        )
        proba, indices, _ = self._predict(batch, request_id, accepted)
        body = csv_body.encode_answer(model.classes, proba, indices, delimiter)
        return body, batch.size, csv_body.answer_headers(model, state.threshold)

    def _read_wanted(self, environ: dict, accepted: float) -> bytes:
        """The body, unless nobody waits for the answer any more (deadline, client gone):
        then the request is dropped before any decoding or scoring."""
        body = self.read_body(environ)
        deadline.check_deadline(self.state.settings, accepted)
        deadline.check_client(environ)
        return body

    def _predict(
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
        labels = [model.classes[i] for i in indices]
        if state.metrics is not None:
            state.metrics.observe_scores(labels, batch.unseen, batch.missing)
        return proba, indices, labels

    def read_body(self, environ: dict) -> bytes:
        """The body, checked against the size limit before (Content-Length) or while reading."""
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


def _read(stream, size: int) -> bytes:
    """Read the body; gunicorn raises ParseException (InvalidChunkSize, ...) for a malformed
    chunked body and NoMoreData (an OSError) for one cut short: the client's fault, 400."""
    try:
        return stream.read(size)
    except (OSError, *_PARSE_ERRORS) as exc:
        raise BadRequest(f"malformed request body: {exc}") from None


def _parse_errors() -> tuple[type[Exception], ...]:
    try:
        from gunicorn.http.errors import ParseException
    except ImportError:  # not under gunicorn (tests, other servers)
        return ()
    return (ParseException,)


_PARSE_ERRORS = _parse_errors()

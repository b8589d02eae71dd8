"""One exception hierarchy for the scorer, each class with its HTTP status, mapped to JSON here."""

from __future__ import annotations

import logging

from flask import Flask, Response, g
from werkzeug.exceptions import HTTPException

from amlstack_scorer.contract import JSON_MIMETYPE
from amlstack_scorer.wire import encode

log = logging.getLogger("amlstack.scorer")


class ScorerError(Exception):
    """Base of every error the scorer answers with; ``status`` and ``code`` reach the client."""

    status = 500
    code = "internal_error"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class BadRequest(ScorerError):
    status = 400
    code = "bad_request"


class MalformedJSON(BadRequest):
    code = "malformed_json"


class Unauthorized(ScorerError):
    status = 401
    code = "unauthorized"

    def __init__(self, message: str, *, invalid: bool = False) -> None:
        super().__init__(message)
        # RFC 6750: no error attribute when the key is missing, invalid_token when it is wrong.
        self.challenge = 'Bearer realm="amlstack"' + (', error="invalid_token"' if invalid else "")


class NotFound(ScorerError):
    status = 404
    code = "not_found"


class MethodNotAllowed(ScorerError):
    status = 405
    code = "method_not_allowed"

    def __init__(self, message: str, *, allowed: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.allowed = allowed


class RequestTimeout(ScorerError):
    status = 408
    code = "request_timeout"


class ReadTimedOut(TimeoutError):
    """Raised by the client socket (`server.ReadDeadline`) when the request's body has not
    arrived within the read deadline: the route answers `RequestTimeout`."""


class PayloadTooLarge(ScorerError):
    status = 413
    code = "payload_too_large"


class UnsupportedMediaType(ScorerError):
    status = 415
    code = "unsupported_media_type"


class InvalidInput(ScorerError):
    status = 422
    code = "invalid_input"


class ModelFailure(ScorerError):
    status = 500
    code = "model_error"


class NotReady(ScorerError):
    status = 503
    code = "not_ready"


class DeadlineExceeded(ScorerError):
    """Accepted too long ago to be worth scoring (AMLSTACK_REQUEST_DEADLINE_S): not scored."""

    status = 503
    code = "deadline_exceeded"
    retry_after = 1


class ClientGone(ScorerError):
    """The client closed its connection before scoring began: not scored, nobody to answer."""

    status = 499  # nginx's "client closed request"; only the access log and metrics see it
    code = "client_gone"


_FROM_WERKZEUG: dict[int, type[ScorerError]] = {
    400: BadRequest,
    404: NotFound,
    405: MethodNotAllowed,
    413: PayloadTooLarge,
    415: UnsupportedMediaType,
}


def render(exc: ScorerError, request_id: str | None) -> tuple[bytes, list[tuple[str, str]]]:
    """The one JSON shape of every error, ``{"error": {code, message, field, request_id}}``,
    and the headers that go with it."""
    body = {
        "error": {
            "code": exc.code,
            "message": exc.message,
            "field": exc.field,
            "request_id": request_id,
        }
    }
    return encode(body), error_headers(exc)


def error_headers(exc: ScorerError) -> list[tuple[str, str]]:
    """The headers an error's status calls for (the challenge, Allow, Retry-After), whatever
    shape its body takes."""
    headers = []
    if isinstance(exc, Unauthorized):
        headers.append(("WWW-Authenticate", exc.challenge))
    if isinstance(exc, MethodNotAllowed) and exc.allowed:
        headers.append(("Allow", ", ".join(exc.allowed)))
    retry_after = getattr(exc, "retry_after", None)
    if retry_after is not None:
        headers.append(("Retry-After", str(retry_after)))
    return headers


def error_response(exc: ScorerError) -> Response:
    """``render`` as a Flask response (routes served by Flask)."""
    body, headers = render(exc, g.get("request_id"))
    return Response(body, status=exc.status, mimetype=JSON_MIMETYPE, headers=headers)


def _from_http(exc: HTTPException) -> ScorerError:
    code = exc.code or 500
    if code == 405:
        allowed = tuple(getattr(exc, "valid_methods", None) or ())
        return MethodNotAllowed("method not allowed on this route", allowed=allowed)
    if code == 413:
        return PayloadTooLarge("request body is larger than the limit")
    if code == 404:
        return NotFound("no such route")
    kind = _FROM_WERKZEUG.get(code)
    if kind is None:
        error = ScorerError(exc.description or "request failed")
        error.status, error.code = code, "http_error"
        return error
    return kind(exc.description or kind.code)


def install(app: Flask, on_exception=None) -> None:
    """Register the handlers: our errors, werkzeug's HTTP errors and anything unexpected (500)."""

    @app.errorhandler(ScorerError)
    def _scorer_error(exc: ScorerError) -> Response:
        return error_response(exc)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response:
        return error_response(_from_http(exc))

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        # Logged with its traceback for operators; the client only sees the request id.
        log.error("unhandled error", exc_info=exc, extra={"request_id": g.get("request_id")})
        if on_exception is not None:
            on_exception(exc)
        return error_response(ScorerError("internal error; quote the request id"))

"""The hot path: ``/score`` as plain WSGI in front of the Flask app (see ``raw_route``).

JSON bodies (Azure ML v1 and AutoML v2 payloads) are answered in JSON, ``text/csv`` bodies in
CSV; errors are always the project's JSON error (``errors.render``), as on the Flask side.
"""

from __future__ import annotations

from amlstack_scorer import csv_body, errors, explain
from amlstack_scorer.contract import CSV_MIMETYPE, JSON_MIMETYPE, SCORING_ROUTE
from amlstack_scorer.errors import InvalidInput, NotReady, ScorerError, UnsupportedMediaType
from amlstack_scorer.raw_route import Handler, Headers, RawEndpoint
from amlstack_scorer.wire import encode


class ScoringEndpoint(RawEndpoint):
    """``/score`` (every method); every other path goes to the next WSGI layer."""

    def owns(self, path: str) -> bool:
        return path == SCORING_ROUTE

    def resolve(self, path: str) -> tuple[str, Handler, tuple[str, ...]]:
        return SCORING_ROUTE, self._score, ("POST",)

    def render_error(self, exc: ScorerError, request_id: str) -> tuple[bytes, Headers]:
        return errors.render(exc, request_id)

    def _score(self, environ: dict, request_id: str, accepted: float) -> tuple[bytes, Headers, int]:
        """The answer's body, its headers (CSV: its Content-Type and model headers), its batch."""
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
        batch, params = schema.read(self.read_wanted(environ, accepted))
        proba, indices, labels = self.predict(batch, request_id, accepted)
        answer = state.answer(labels, proba.tolist())
        if explain.requested(environ.get("QUERY_STRING", ""), params):
            answer["explanations"] = state.explain(batch.matrix, indices)
        return encode(answer), [], batch.size

    def _score_csv(
        self, environ: dict, request_id: str, params: str, accepted: float
    ) -> tuple[bytes, Headers, int]:
        """A CSV body, encoded column-wise, answered in CSV (see csv_body)."""
        state, model = self.state, self.state.model
        if explain.requested(environ.get("QUERY_STRING", ""), None):
            raise InvalidInput(
                "explanations are answered for application/json requests only", field="explain"
            )
        batch, delimiter = csv_body.decode(
            self.read_wanted(environ, accepted), params, model, state.settings.max_batch
        )
        proba, indices, _ = self.predict(batch, request_id, accepted)
        body = csv_body.encode_answer(model.classes, proba, indices, delimiter)
        return body, csv_body.answer_headers(model, state.threshold), batch.size

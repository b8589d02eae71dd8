"""Fuzzing the served documents against the server (schemathesis, in-process over WSGI).

Both documents, Swagger 2.0 (``/swagger.json``) and OpenAPI 3 (``/swagger.json?version=3``),
drive a bounded number of generated requests (valid and invalid) at the Flask app with the key;
every answer must be a non-5xx whose status code, content type and body the document declares.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)
from scorer_support import PRIMARY

from amlstack_scorer import contract as c

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
# Cases per operation and mode (valid, invalid data) of each document: the scoring routes get
# the most; routes without a body need only a few. About 500 requests in all, ~30 s.
SCORING_EXAMPLES = 30
OTHER_EXAMPLES = 10
FUZZ = settings(
    max_examples=OTHER_EXAMPLES,
    deadline=timedelta(seconds=10),  # per request; a bound for a busy CI machine
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)


def _operations(app, version: int) -> list:
    query = "" if version == 2 else "?version=3"
    # The key goes through the documents' security scheme, so schemathesis can also leave it
    # out or spoil it in invalid requests (which must then get 401).
    config = SchemathesisConfig.from_dict(
        {"auth": {"openapi": {"Bearer": {"api_key": f"Bearer {PRIMARY}"}}}}
    )
    schema = schemathesis.openapi.from_wsgi(c.SWAGGER_ROUTE + query, app, config=config)
    return [result.ok() for result in schema.get_all_operations()]


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
@pytest.mark.parametrize("version", [2, 3], ids=["swagger2", "openapi3"])
def test_the_documents_agree_with_the_server(app, version, mode):
    operations = _operations(app, version)
    assert {op.path for op in operations} >= {"/", "/ready", "/score", "/profile"}
    answers: list[tuple[str, int]] = []
    for operation in operations:
        scoring = operation.method.upper() == "POST"  # /score and the V2 infer routes
        budget = SCORING_EXAMPLES if scoring else OTHER_EXAMPLES

        @settings(FUZZ, max_examples=budget)
        @given(case=operation.as_strategy(generation_mode=mode))
        def fuzz(case):
            response = case.call_and_validate(checks=CHECKS)
            answers.append((case.operation.path, response.status_code))

        try:
            fuzz()
        except Unsatisfiable:
            # No invalid request exists for an operation without inputs (GET /, /ready).
            assert mode is GenerationMode.NEGATIVE and operation.path != c.SCORING_ROUTE
    scored = [status for path, status in answers if path == c.SCORING_ROUTE]
    assert len(scored) >= 10, answers
    if mode is GenerationMode.POSITIVE:  # valid requests with the key are scored
        assert scored.count(200) >= 5, scored

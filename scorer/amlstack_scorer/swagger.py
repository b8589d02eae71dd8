"""Swagger 2.0 (Azure's format) and OpenAPI 3 documents generated from the artifact's schema.

The documents are built once per model; only the host and scheme are filled in per request, from
the request itself (honouring X-Forwarded-Proto/Host), so Swagger UI's "Try it out" works against
a plain-http local container as well as behind Azure's TLS front end.
"""

from __future__ import annotations

import copy
from typing import Any

from amlstack.artifact.encoding import Feature
from amlstack.artifact.reader import Model
from amlstack_scorer import contract as c
from amlstack_scorer.validation import may_be_missing

KEY_HELP = "The endpoint key, as 'Bearer <key>' (primary or secondary key)."
ERROR_CODES = {
    "400": "Malformed JSON",
    "401": "Missing or wrong key",
    "413": "Body larger than the limit",
    "415": "Content-Type is not application/json",
    "422": "The records do not match the input schema (the error names the field)",
    "500": "The model failed; quote the request id",
    "503": "The model is not loaded yet",
}


def _field(feature: Feature, version: int, nullable: bool) -> dict[str, Any]:
    spec: dict[str, Any]
    if feature.kind == "categorical":
        spec = {"type": "string", "enum": list(feature.categories)}
        spec["description"] = "Categories seen in training; other values are scored as unknown."
    elif feature.kind == "date":
        spec = {"type": "string", "format": "date", "description": "A date, as in training."}
    else:
        spec = {"type": "number", "format": "double"}
        if feature.minimum is not None and feature.maximum is not None:
            spec["description"] = f"Seen in training: {feature.minimum} to {feature.maximum}."
        if feature.minimum is not None:
            spec["x-training-minimum"] = feature.minimum
        if feature.maximum is not None:
            spec["x-training-maximum"] = feature.maximum
    if nullable:  # null or left out: the model imputes it
        spec["x-nullable" if version == 2 else "nullable"] = True
    if feature.example is not None:
        spec["example"] = feature.example
    return spec


def _schemas(model: Model, max_batch: int, version: int, ref: str) -> dict[str, Any]:
    sample = model.sample_input()
    optional = {f.name: may_be_missing(model, f) for f in model.features}
    record: dict[str, Any] = {"type": "object"}
    if not all(optional.values()):  # JSON Schema draft 4: "required" may not be empty
        record["required"] = [name for name, ok in optional.items() if not ok]
    record["properties"] = {f.name: _field(f, version, optional[f.name]) for f in model.features}
    if sample:
        record["example"] = sample[0]
    service_input = {
        "type": "object",
        "description": (
            f"One record or a batch of at most {max_batch} records. Azure AutoML v2 clients may "
            "send the same list as {'Inputs': {'data': [...]}, 'GlobalParameters': {...}}."
        ),
        "required": ["data"],
        "properties": {
            "data": {
                "type": "array",
                "minItems": 1,
                "maxItems": max_batch,
                "items": {"$ref": f"{ref}InputRecord"},
            }
        },
        "example": {"data": sample[:2]},
    }
    classes = [str(k) for k in model.classes]
    output = {
        "type": "object",
        "required": ["predictions", "probabilities", "model"],
        "properties": {
            "predictions": {"type": "array", "items": {"type": "string", "enum": classes}},
            "probabilities": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {k: {"type": "number", "format": "double"} for k in classes},
                },
            },
            "model": {
                "type": "object",
                "properties": {"name": {"type": "string"}, "version": {"type": "string"}},
            },
        },
    }
    nullable = {"x-nullable" if version == 2 else "nullable": True}
    error = {
        "type": "object",
        "properties": {
            "error": {
                "type": "object",
                "properties": {
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                    "field": {"type": "string", **nullable},
                    "request_id": {"type": "string"},
                },
            }
        },
    }
    return {
        "InputRecord": record,
        "ServiceInput": service_input,
        "ServiceOutput": output,
        "ErrorResponse": error,
    }


def _responses(ok: dict[str, Any], codes: tuple[str, ...], error: dict) -> dict[str, Any]:
    out = {"200": ok}
    for code in codes:
        out[code] = {"description": ERROR_CODES[code], **error}
    return out


def _health_paths(text_ok: dict[str, Any]) -> dict[str, Any]:
    return {
        c.LIVENESS_ROUTE: {
            "get": {
                "operationId": "ServiceHealthCheck",
                "description": "Liveness: answers 'Healthy' while the process runs.",
                "responses": {"200": text_ok},
            }
        },
        c.READINESS_ROUTE: {
            "get": {
                "operationId": "ServiceReadiness",
                "description": "Readiness: 200 once the model is loaded and verified, else 503.",
                "responses": {"200": text_ok, "503": {"description": ERROR_CODES["503"]}},
            }
        },
    }


SCORE_ERRORS = ("400", "401", "413", "415", "422", "500", "503")


def swagger2(model: Model, max_batch: int) -> dict[str, Any]:
    ref = "#/definitions/"
    error = {"schema": {"$ref": f"{ref}ErrorResponse"}}
    score = {
        "post": {
            "operationId": "RunMLService",
            "description": f"Score one record or a batch of at most {max_batch} records.",
            "security": [{"Bearer": []}],
            "consumes": ["application/json"],
            "produces": ["application/json"],
            "parameters": [
                {
                    "name": "serviceInputPayload",
                    "in": "body",
                    "required": True,
                    "schema": {"$ref": f"{ref}ServiceInput"},
                }
            ],
            "responses": _responses(
                {
                    "description": "Labels and probabilities",
                    "schema": {"$ref": f"{ref}ServiceOutput"},
                },
                SCORE_ERRORS,
                error,
            ),
        }
    }
    return {
        "swagger": "2.0",
        "info": _info(model),
        "schemes": ["http"],
        "basePath": "/",
        "consumes": ["application/json"],
        "produces": ["application/json"],
        "securityDefinitions": {
            "Bearer": {
                "type": "apiKey",
                "name": "Authorization",
                "in": "header",
                "description": KEY_HELP,
            }
        },
        "paths": {
            **_health_paths({"description": "OK", "schema": {"type": "string"}}),
            c.SCORING_ROUTE: score,
        },
        "definitions": _schemas(model, max_batch, 2, ref),
    }


def openapi3(model: Model, max_batch: int) -> dict[str, Any]:
    ref = "#/components/schemas/"

    def json_body(name: str) -> dict[str, Any]:
        return {"content": {"application/json": {"schema": {"$ref": f"{ref}{name}"}}}}

    score = {
        "post": {
            "operationId": "RunMLService",
            "description": f"Score one record or a batch of at most {max_batch} records.",
            "security": [{"Bearer": []}],
            "requestBody": {"required": True, **json_body("ServiceInput")},
            "responses": _responses(
                {"description": "Labels and probabilities", **json_body("ServiceOutput")},
                SCORE_ERRORS,
                json_body("ErrorResponse"),
            ),
        }
    }
    text_ok = {"description": "OK", "content": {"text/plain": {"schema": {"type": "string"}}}}
    return {
        "openapi": "3.0.3",
        "info": _info(model),
        "servers": [{"url": "/"}],
        "paths": {**_health_paths(text_ok), c.SCORING_ROUTE: score},
        "components": {
            "schemas": _schemas(model, max_batch, 3, ref),
            "securitySchemes": {
                "Bearer": {
                    "type": "apiKey",
                    "name": "Authorization",
                    "in": "header",
                    "description": KEY_HELP,
                }
            },
        },
    }


def _info(model: Model) -> dict[str, Any]:
    return {
        "title": f"amlstack scorer: {model.name}",
        "description": f"Scores model {model.name} version {model.version}.",
        "version": model.version,
    }


class SwaggerDocs:
    """Both documents, built once; ``for_request`` fills in where the client reached us."""

    def __init__(self, model: Model, max_batch: int) -> None:
        self._docs = {2: swagger2(model, max_batch), 3: openapi3(model, max_batch)}

    def for_request(self, version: int, scheme: str, host: str) -> dict[str, Any]:
        doc = copy.copy(self._docs[version])  # shallow: only top-level keys change
        if version == 2:
            doc["host"] = host
            doc["schemes"] = [scheme]
        else:
            doc["servers"] = [{"url": f"{scheme}://{host}/"}]
        return doc

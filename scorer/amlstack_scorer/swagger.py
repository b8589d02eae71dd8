"""Swagger 2.0 (Azure's format) and OpenAPI 3 documents generated from the artifact's schema.

The documents are built once per model; only the host and scheme are filled in per request (the
request's own, or a trusted proxy's X-Forwarded-Proto/Host: see routes.py), so Swagger UI's
"Try it out" works against a plain-http local container as well as behind Azure's TLS front end.

Examples are synthetic: each field's typical training value (the median of a number, the most
frequent category, from the artifact's training profile), never a real row; the 200 example is
the model's real answer for that synthetic record. The spec states what the server accepts: any
string for a categorical field (unseen categories are scored as unknown, so no ``enum``), any
number float32 can hold.
"""

from __future__ import annotations

import copy
import csv
import io
from collections.abc import Mapping
from typing import Any

import numpy as np

from amlstack.artifact.encoding import FLOAT32_MAX, Feature
from amlstack.artifact.formats import DECIMAL_COMMA_FORMATS, show_number, writes_decimal_commas
from amlstack.artifact.reader import Model
from amlstack_scorer import contract as c
from amlstack_scorer import explain
from amlstack_scorer.validation import may_be_missing

# In backticks: Swagger UI renders descriptions as Markdown, where a bare <key> is an HTML tag.
KEY_HELP = "The endpoint key: enter `Bearer <key>` (the primary or the secondary key)."
TEXT = "text/plain"
JSON = "application/json"
CSV = c.CSV_MIMETYPE
ERROR_CODES = {
    "400": "Malformed JSON, or a CSV body that is not UTF-8 CSV text (the error names the line)",
    "401": "Missing or wrong key",
    "408": "The request's head or body did not arrive within the scorer's deadline",
    "413": "Body larger than the limit",
    "415": "Content-Type is neither application/json nor text/csv",
    "404": "The artifact has no training profile",
    "422": "The records do not match the input schema (the error names the field; for CSV "
    "the line and column)",
    "500": "The model failed; quote the request id",
    "503": "The model is not loaded yet",
}


def clean_number(value: float) -> float:
    """``value`` as the model sees it (float32), written in the fewest digits: no 93.9179999."""
    return float(str(np.float32(value)))


def typical_value(feature: Feature, profile: Mapping[str, Any] | None) -> Any:
    """A synthetic example for one field: the training median or the most frequent category."""
    spec = (profile or {}).get(feature.name) or {}
    if feature.kind == "date":  # written as training read it; the profile holds day counts
        return feature.example
    if feature.kind == "categorical":
        counts = spec.get("counts") or []
        if len(counts) == len(feature.categories) and counts:
            return feature.categories[int(np.argmax(counts))]
        return feature.categories[0] if feature.categories else "unknown"
    median = (spec.get("quantiles") or {}).get("0.5")
    if median is None and feature.minimum is not None and feature.maximum is not None:
        median = (feature.minimum + feature.maximum) / 2
    if median is None:
        return 0
    return round(median) if feature.dtype == "int" else clean_number(median)


def typical_record(model: Model, profile: Mapping[str, Any] | None) -> dict[str, Any]:
    """The example record of both documents (and of the 200 example's request)."""
    return {f.name: typical_value(f, profile) for f in model.features}


# how training saw a column of each `FeatureSpec.number_format` written
_WRITTEN = {
    "thousands": "with thousands separators (1,234.5)",
    "percent": "with a percent sign (12.5%)",
    "decimal_comma": "with a decimal comma (1.234,5)",
    "decimal_comma_percent": "with a decimal comma and a percent sign (12,5%)",
    "decimal_comma_currency": "as an amount with a decimal comma (1.234,50 €; (5,25 €) for -5,25)",
    "currency": "as an amount ($1,234.50; (5) for -5)",
    "time": "as a time of day, read as hours since midnight (07:30 is 7.5)",
    "unit": "with the unit {unit!r} after each number (5 {unit})",
}


def _field(feature: Feature, version: int, example: Any, nullable: bool) -> dict[str, Any]:
    spec: dict[str, Any]
    if feature.kind == "categorical":
        seen = ", ".join(feature.categories)
        spec = {
            "type": "string",
            "description": f"Seen in training: {seen}. Any other value is accepted and scored as "
            "an unknown category (counted in /metrics).",
            "x-training-categories": list(feature.categories),
        }
        if feature.yes_no is not None:
            yes, no = feature.yes_no
            spec["description"] += f" JSON true and false are read as {yes!r} and {no!r}."
    elif feature.kind == "date":
        spec = {"type": "string", "format": "date", "description": "A date, as in training."}
    else:
        spec = {
            "type": "number",
            "format": "float",
            "minimum": -FLOAT32_MAX,
            "maximum": FLOAT32_MAX,
        }
        if feature.minimum is not None and feature.maximum is not None:
            low, high = clean_number(feature.minimum), clean_number(feature.maximum)
            spec["description"] = (
                f"Seen in training: {low:g} to {high:g}. Any number a float32 can hold is "
                "accepted; one outside this range is scored as the nearest of the two."
            )
            spec["x-training-minimum"] = low
            spec["x-training-maximum"] = high
        if feature.number_format is not None:
            # the UI reads a cell written as in training (1,234.5; 12%; 17,5) with this format
            spec["x-number-format"] = feature.number_format
            if feature.unit is not None:
                spec["x-unit"] = feature.unit
            written = _WRITTEN[feature.number_format].format(unit=feature.unit)
            spec["description"] = (
                spec.get("description", "") + f" Written {written} in "
                "training; send the number itself (a JSON number)."
            ).lstrip()
    if feature.missing_words:
        # text training read as missing in this numeric column: the UI sends null for it
        spec["x-missing-words"] = sorted(feature.missing_words)
    if nullable:  # null or left out: the model imputes it
        spec["x-nullable" if version == 2 else "nullable"] = True
    spec["example"] = example
    return spec


def _schemas(
    model: Model, max_batch: int, version: int, ref: str, record_example: dict[str, Any]
) -> dict[str, Any]:
    # No object-level examples: Swagger UI's model panel shows them as "OrderedMap {…}"; the
    # request example is built from the fields' own examples.
    optional = {f.name: may_be_missing(model, f) for f in model.features}
    record: dict[str, Any] = {"type": "object"}
    if not all(optional.values()):  # JSON Schema draft 4: "required" may not be empty
        record["required"] = [name for name, ok in optional.items() if not ok]
    else:  # a record with none of the fields (or only nulls) is refused, not guessed at
        record["minProperties"] = 1
        record["description"] = "At least one of the fields, not null."
    record["properties"] = {
        f.name: _field(f, version, record_example[f.name], optional[f.name]) for f in model.features
    }
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
    }
    classes = [str(k) for k in model.classes]
    output: dict[str, Any] = {
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
            "explanations": _explanations(model),
        },
    }
    if len(classes) == 2:
        output["required"].append("threshold")
        output["properties"]["threshold"] = {
            "type": "number",
            "format": "double",
            "description": threshold_text(model),
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
                    # null when the server refused the request before reading it whole
                    "request_id": {"type": "string", **nullable},
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


def threshold_text(model: Model) -> str:
    """The decision rule of a binary model, in words."""
    positive = model.classes[1]
    return (
        f"A record is labelled {positive!r} when its probability of {positive!r} is at least "
        # rounds the float32 the model compares with: clean_number first would round twice
        f"{float(np.float32(model.threshold)):g} (the decision threshold chosen in training), "
        f"else {model.classes[0]!r}."
    )


# /score's 503 has a second cause: the request waited past AMLSTACK_REQUEST_DEADLINE_S.
SCORE_CODES = {
    **ERROR_CODES,
    "503": "The model is not loaded yet, or the request waited past the scorer's deadline "
    "and was not scored (retry after the Retry-After seconds)",
}


def _responses(ok: dict[str, Any], codes: tuple[str, ...], error: dict) -> dict[str, Any]:
    out = {"200": ok}
    for code in codes:
        out[code] = {"description": SCORE_CODES[code], **error}
    return out


def _health_paths(text_ok: dict[str, Any], not_ready: dict[str, Any], v2: bool) -> dict[str, Any]:
    # The probes answer text; /ready's 503 is the JSON error every route sends.
    liveness: dict[str, Any] = {
        "operationId": "ServiceHealthCheck",
        "description": "Liveness: answers 'Healthy' while the process runs.",
        "responses": {"200": text_ok},
    }
    readiness: dict[str, Any] = {
        "operationId": "ServiceReadiness",
        "description": "Readiness: 200 once the model is loaded and verified, else 503.",
        "responses": {"200": text_ok, "503": {"description": ERROR_CODES["503"], **not_ready}},
    }
    if v2:
        liveness["produces"] = [TEXT]
        readiness["produces"] = [TEXT, JSON]
    return {c.LIVENESS_ROUTE: {"get": liveness}, c.READINESS_ROUTE: {"get": readiness}}


def _profile_path(ok: dict[str, Any], error: dict[str, Any]) -> dict[str, Any]:
    return {
        c.PROFILE_ROUTE: {
            "get": {
                "operationId": "TrainingProfile",
                "description": "The served model's training profile (the artifact's "
                "profile.json: bins and category counts of every feature), for drift checks.",
                "security": [{"Bearer": []}],
                "responses": {
                    "200": ok,
                    **{
                        code: {"description": ERROR_CODES[code], **error} for code in PROFILE_ERRORS
                    },
                },
            }
        }
    }


EXPLAIN_HELP = (
    "true: add per-record feature contributions to the explained probability (positive class, "
    "or the predicted one); base + sum(contributions) = score. Also GlobalParameters.explain."
)


def _explanations(model: Model) -> dict[str, Any]:
    """Only with ?explain=true: interventional Shapley estimates against a background sample."""
    names = [f.name for f in model.features]
    return {
        "type": "array",
        "description": EXPLAIN_HELP,
        "items": {
            "type": "object",
            "properties": {
                "base": {"type": "number", "format": "double"},
                "score": {"type": "number", "format": "double"},
                "contributions": {
                    "type": "object",
                    "additionalProperties": {"type": "number", "format": "double"},
                },
            },
        },
        "example": [{"base": 0.11, "score": 0.31, "contributions": {n: 0.01 for n in names[:20]}}],
    }


# The values ?explain= takes (explain.QUERY_VALUES): a boolean in the document would promise
# that only true/false work, and refusing 1/yes would break clients.
EXPLAIN_VALUES = list(explain.QUERY_VALUES)
SCORE_ERRORS = ("400", "401", "408", "413", "415", "422", "500", "503")
PROFILE_ERRORS = ("401", "404", "503")


CSV_HELP = (
    "Bulk scoring: send `Content-Type: text/csv`, a header line naming the input columns "
    "(comma, semicolon, tab or pipe separated; extra columns such as the target are ignored; "
    "quoted fields allowed), then one record per line; cells are read as `amlstack predict` "
    "reads them (NA, null, ? or an empty cell is a missing value). The answer is CSV in the "
    "request's delimiter, one row per record in order: `probability_<class>` per class, then "
    "`predicted_label`; the model and threshold come in the X-Model-* and X-Decision-Threshold "
    "headers. `explain=true` is refused (422) for CSV."
)


def csv_example(model: Model, record: dict[str, Any], answer: dict[str, Any] | None) -> tuple:
    """The CSV request (header + the example record, each cell written as training saw its
    column: a decimal comma, and then semicolons; a time of day) and, with ``answer``, its CSV
    answer, in the request's delimiter."""
    commas = writes_decimal_commas(f.number_format for f in model.features)
    delimiter = ";" if commas else ","
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\n")
    writer.writerow(model.feature_names)
    writer.writerow([_cell(f, record[f.name]) for f in model.features])
    if answer is None:
        return buffer.getvalue(), None
    keys = [str(k) for k in model.classes]
    probabilities = answer["probabilities"][0]
    row = [repr(float(probabilities[k])) for k in keys] + [str(answer["predictions"][0])]
    header = [f"probability_{k}" for k in keys] + ["predicted_label"]
    return buffer.getvalue(), delimiter.join(header) + "\r\n" + delimiter.join(row) + "\r\n"


def _cell(feature: Feature, value: Any) -> str:
    if value is None:
        return ""
    if feature.number_format in (*DECIMAL_COMMA_FORMATS, "time"):  # a plain number fails these
        return show_number(float(value), feature.number_format)
    return str(value)


def csv_headers(model: Model, version: int) -> dict[str, Any]:
    def header(description: str, kind: str) -> dict[str, Any]:
        if version == 2:
            return {"type": kind, "description": description}
        return {"schema": {"type": kind}, "description": description}

    out = {
        c.MODEL_NAME_HEADER: header("The model's name (CSV answers)", "string"),
        c.MODEL_VERSION_HEADER: header("The model's version (CSV answers)", "string"),
    }
    if len(model.classes) == 2:
        out[c.THRESHOLD_HEADER] = header(
            "The decision threshold (CSV answers of a binary model)", "number"
        )
    return out


V2_TAG = "Open Inference Protocol (KServe V2)"


def v2_schemas(model: Model, version: int) -> dict[str, Any]:
    """The V2 documents' schemas (the protocol's own shapes; errors are {"error": message})."""
    tensor_data = {
        "type": "array",
        "description": "Row-major values, flat or nested: numbers for numeric inputs, "
        "strings for BYTES.",
        "items": {},
    }
    tensor = {
        "type": "object",
        "required": ["name", "shape", "datatype"],
        "properties": {
            "name": {"type": "string", "description": "A feature name (one input per feature)"},
            "shape": {"type": "array", "items": {"type": "integer"}, "example": [1]},
            "datatype": {
                "type": "string",
                "enum": [
                    "BOOL",
                    "INT8",
                    "INT16",
                    "INT32",
                    "INT64",
                    "UINT8",
                    "UINT16",
                    "UINT32",
                    "UINT64",
                    "FP16",
                    "FP32",
                    "FP64",
                    "BYTES",
                ],
            },
            "parameters": {"type": "object"},
            "data": tensor_data,
        },
    }
    io_meta = {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "datatype": {"type": "string"},
            "shape": {"type": "array", "items": {"type": "integer"}},
        },
    }
    return {
        "V2Error": {
            "type": "object",
            "required": ["error"],
            "properties": {"error": {"type": "string"}},
        },
        "V2Server": {
            "type": "object",
            "properties": {
                "name": {"type": "string"},
                "version": {"type": "string"},
                "extensions": {"type": "array", "items": {"type": "string"}},
            },
        },
        "V2Live": {"type": "object", "properties": {"live": {"type": "boolean"}}},
        "V2Ready": {"type": "object", "properties": {"ready": {"type": "boolean"}}},
        "V2ModelReady": {
            "type": "object",
            "properties": {"name": {"type": "string"}, "ready": {"type": "boolean"}},
        },
        "V2ModelMetadata": {
            "type": "object",
            "properties": {
                "name": {"type": "string"},
                "versions": {"type": "array", "items": {"type": "string"}},
                "platform": {"type": "string"},
                "inputs": {"type": "array", "items": io_meta},
                "outputs": {"type": "array", "items": io_meta},
                "parameters": {"type": "object"},
            },
        },
        "V2InferRequest": {
            "type": "object",
            "required": ["inputs"],
            "properties": {
                "id": {"type": "string"},
                "parameters": {"type": "object"},
                "inputs": {"type": "array", "items": tensor, "minItems": 1},
                "outputs": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["name"],
                        "properties": {
                            "name": {"type": "string", "enum": ["probabilities", "label"]},
                            "parameters": {"type": "object"},
                        },
                    },
                },
            },
        },
        "V2InferResponse": {
            "type": "object",
            "properties": {
                "model_name": {"type": "string"},
                "model_version": {"type": "string"},
                "id": {"type": "string"},
                "outputs": {"type": "array", "items": tensor},
            },
        },
    }


def v2_paths(model: Model, version: int, ref: str) -> dict[str, Any]:
    """GET /v2, health, model metadata and readiness, POST infer (and the versions forms)."""

    def body(name: str, description: str) -> dict[str, Any]:
        if version == 2:
            return {"description": description, "schema": {"$ref": f"{ref}{name}"}}
        return {"description": description, "content": {JSON: {"schema": {"$ref": f"{ref}{name}"}}}}

    def param(name: str) -> dict[str, Any]:
        if version == 2:
            return {"name": name, "in": "path", "required": True, "type": "string"}
        return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}

    error = body("V2Error", '{"error": message}')
    not_ready = {"503": body("V2Error", ERROR_CODES["503"])}
    missing = {"404": body("V2Error", "No such model or version"), **not_ready}

    def get(op: str, text: str, ok: str, errors: dict, params=()) -> dict[str, Any]:
        spec = {"tags": [V2_TAG], "operationId": op, "description": text,
                "responses": {"200": body(ok, "OK"), **errors}}  # fmt: skip
        if params:
            spec["parameters"] = [param(p) for p in params]
        return {"get": spec}

    # the binary extension's JSON header length: required with an application/octet-stream body
    header_length: dict[str, Any] = {
        "name": "Inference-Header-Content-Length",
        "in": "header",
        "required": False,
        "description": "Bytes of JSON before the binary tensors (Triton's binary extension)",
        **({"type": "integer"} if version == 2 else {"schema": {"type": "integer"}}),
    }

    def infer(op: str, params) -> dict[str, Any]:
        spec: dict[str, Any] = {
            "tags": [V2_TAG],
            "operationId": op,
            "description": "Score the batch: one input per feature (BYTES for a categorical "
            "feature or a date as ISO 8601 text, or BOOL for a yes/no feature; a numeric datatype "
            "otherwise; null for a missing value), shape [N] or [N, 1]; answers "
            "`probabilities` (FP32 [N, classes]) and `label` (BYTES [N]). Triton's binary "
            "tensor extension is also accepted (Inference-Header-Content-Length).",
            "security": [{"Bearer": []}],
            "parameters": [*(param(p) for p in params), header_length],
            "responses": {
                "200": body("V2InferResponse", "Probabilities and labels"),
                **{
                    code: {**error, "description": ERROR_CODES[code]}
                    for code in ("400", "401", "408", "413", "415", "422", "500")
                },
                **missing,
            },
        }
        if version == 2:
            spec["consumes"] = [JSON, "application/octet-stream"]
            spec["produces"] = [JSON, "application/octet-stream"]
            spec["parameters"].append(
                {
                    "name": "inferRequest",
                    "in": "body",
                    "required": True,
                    "schema": {"$ref": f"{ref}V2InferRequest"},
                }
            )
        else:
            spec["requestBody"] = {
                "required": True,
                "content": {JSON: {"schema": {"$ref": f"{ref}V2InferRequest"}}},
            }
        return {"post": spec}

    model_path = "/v2/models/{name}"
    versioned = model_path + "/versions/{version}"
    both = ("name", "version")
    return {
        "/v2": get("V2ServerMetadata", "Server metadata.", "V2Server", {}),
        "/v2/health/live": get("V2ServerLive", "Liveness.", "V2Live", {}),
        "/v2/health/ready": get("V2ServerReady", "Readiness.", "V2Ready", not_ready),
        model_path: get("V2ModelMetadata", "Inputs, outputs, classes.", "V2ModelMetadata",
                        missing, ("name",)),
        model_path + "/ready": get("V2ModelReady", "Model readiness.", "V2ModelReady", missing,
                                   ("name",)),
        model_path + "/infer": infer("V2ModelInfer", ("name",)),
        versioned: get("V2ModelVersionMetadata", "Inputs, outputs, classes.",
                       "V2ModelMetadata", missing, both),
        versioned + "/ready": get("V2ModelVersionReady", "Model readiness.", "V2ModelReady",
                                  missing, both),
        versioned + "/infer": infer("V2ModelVersionInfer", both),
    }  # fmt: skip


def swagger2(
    model: Model,
    max_batch: int,
    record: dict[str, Any],
    answer: dict[str, Any] | None = None,
) -> dict[str, Any]:
    ref = "#/definitions/"
    error = {"schema": {"$ref": f"{ref}ErrorResponse"}}
    ok: dict[str, Any] = {
        "description": "Labels and probabilities",
        "schema": {"$ref": f"{ref}ServiceOutput"},
    }
    _csv_request, csv_answer = csv_example(model, record, answer)
    if answer is not None:
        ok["examples"] = {JSON: answer, CSV: csv_answer}
    ok["headers"] = csv_headers(model, 2)
    score = {
        "post": {
            "operationId": "RunMLService",
            "description": f"Score one record or a batch of at most {max_batch} records. "
            + CSV_HELP,
            "security": [{"Bearer": []}],
            "consumes": [JSON, CSV],
            "produces": [JSON, CSV],
            "parameters": [
                {
                    "name": "explain",
                    "in": "query",
                    "required": False,
                    "type": "string",
                    "enum": EXPLAIN_VALUES,
                    "description": EXPLAIN_HELP,
                },
                {
                    "name": "serviceInputPayload",
                    "in": "body",
                    "required": True,
                    "schema": {"$ref": f"{ref}ServiceInput"},
                },
            ],
            "responses": _responses(ok, SCORE_ERRORS, error),
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
            **_health_paths({"description": "OK", "schema": {"type": "string"}}, error, True),
            c.SCORING_ROUTE: score,
            **_profile_path({"description": "profile.json", "schema": {"type": "object"}}, error),
            **v2_paths(model, 2, ref),
        },
        "definitions": {**_schemas(model, max_batch, 2, ref, record), **v2_schemas(model, 2)},
    }


def openapi3(
    model: Model,
    max_batch: int,
    record: dict[str, Any],
    answer: dict[str, Any] | None = None,
) -> dict[str, Any]:
    ref = "#/components/schemas/"

    def json_body(name: str, example: Any = None) -> dict[str, Any]:
        media: dict[str, Any] = {"schema": {"$ref": f"{ref}{name}"}}
        if example is not None:
            media["example"] = example
        return {"content": {JSON: media}}

    csv_request, csv_answer = csv_example(model, record, answer)
    csv_text: dict[str, Any] = {
        "schema": {"type": "string", "minLength": 1},
        "example": csv_request,
    }
    request_content = {**json_body("ServiceInput")["content"], CSV: csv_text}
    ok = {"description": "Labels and probabilities", **json_body("ServiceOutput", answer)}
    answer_csv: dict[str, Any] = {
        "schema": {
            "type": "string",
            "description": "probability_<class> per class, then predicted_label",
        }
    }
    if csv_answer is not None:
        answer_csv["example"] = csv_answer
    ok["content"][CSV] = answer_csv
    ok["headers"] = csv_headers(model, 3)
    score = {
        "post": {
            "operationId": "RunMLService",
            "description": f"Score one record or a batch of at most {max_batch} records. "
            + CSV_HELP,
            "security": [{"Bearer": []}],
            "parameters": [
                {
                    "name": "explain",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "string", "enum": EXPLAIN_VALUES},
                    "description": EXPLAIN_HELP,
                }
            ],
            "requestBody": {"required": True, "content": request_content},
            "responses": _responses(ok, SCORE_ERRORS, json_body("ErrorResponse")),
        }
    }
    text_ok = {"description": "OK", "content": {TEXT: {"schema": {"type": "string"}}}}
    health = _health_paths(text_ok, json_body("ErrorResponse"), False)
    return {
        "openapi": "3.0.3",
        "info": _info(model),
        "servers": [{"url": "/"}],
        "paths": {
            **health,
            c.SCORING_ROUTE: score,
            **_profile_path(
                {"description": "profile.json", "content": {JSON: {"schema": {"type": "object"}}}},
                json_body("ErrorResponse"),
            ),
            **v2_paths(model, 3, ref),
        },
        "components": {
            "schemas": {**_schemas(model, max_batch, 3, ref, record), **v2_schemas(model, 3)},
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
    description = f"Scores model {model.name} version {model.version}."
    if len(model.classes) == 2:
        description += " " + threshold_text(model)
    return {"title": f"amlstack scorer: {model.name}", "description": description,
            "version": model.version}  # fmt: skip


class SwaggerDocs:
    """Both documents, built once; ``for_request`` fills in where the client reached us.

    ``answer`` is the scorer's response to ``typical_record(model, profile)``: the 200 example.
    """

    def __init__(
        self,
        model: Model,
        max_batch: int,
        profile: Mapping[str, Any] | None = None,
        answer: dict[str, Any] | None = None,
    ) -> None:
        record = typical_record(model, profile)
        self._docs = {
            2: swagger2(model, max_batch, record, answer),
            3: openapi3(model, max_batch, record, answer),
        }

    def for_request(self, version: int, scheme: str, host: str) -> dict[str, Any]:
        doc = copy.copy(self._docs[version])  # shallow: only top-level keys change
        if version == 2:
            doc["host"] = host
            doc["schemes"] = [scheme]
        else:
            doc["servers"] = [{"url": f"{scheme}://{host}/"}]
        return doc

"""The scorer workload without Locust: records, requests, response checks and the verdict.

Kept apart from locustfile.py so it can be imported (and tested) without gevent's monkey-patching.
"""

from __future__ import annotations

import csv
import json
import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# amlstack/served_schema.py uses the standard library only: the image copies just that module.
from amlstack import served_schema

SAMPLE_SIZE = 2000
PROBABILITY_TOLERANCE = 1e-3
DEFAULT_KEY_FILE = "/keys/keys.json"
FETCH_TIMEOUT_S = 10


# -- records --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Workload:
    """What the users send, prepared once per process from the served model's swagger.json."""

    records: list[dict[str, Any]]
    classes: list[str]
    fields: dict[str, dict[str, Any]]  # name -> the field's JSON schema

    @property
    def numeric(self) -> list[str]:
        return [name for name, spec in self.fields.items() if spec.get("type") == "number"]


def fetch_schema(host: str, key: str = "") -> dict[str, Any]:
    """The scorer's swagger.json (its model's fields and classes); SchemaError when unusable."""
    headers = {"Authorization": f"Bearer {key}"} if key else {}  # Azure's may need the key
    doc = served_schema.fetch(served_schema.swagger_url(host), headers, FETCH_TIMEOUT_S)
    served_schema.input_fields(doc)  # fail here, with one line, not in the first request
    served_schema.classes(doc)
    return doc


def schema_workload(doc: Mapping[str, Any], *, size: int = SAMPLE_SIZE, seed: int = 42) -> Workload:
    """The documented example record, then synthetic records that vary every field over what
    training saw (its categories, its numeric range): the served model's own input, whatever
    model that is."""
    fields = served_schema.input_fields(doc)
    rng = random.Random(seed)
    records = [served_schema.example_record(doc)]
    records += [{name: _vary(rng, spec) for name, spec in fields.items()} for _ in range(size - 1)]
    return Workload(records, served_schema.classes(doc), fields)


def _vary(rng: random.Random, spec: Mapping[str, Any]) -> Any:
    example = spec["example"]
    categories = spec.get("x-training-categories")
    if categories:
        return rng.choice(categories)
    low, high = spec.get("x-training-minimum"), spec.get("x-training-maximum")
    if spec.get("type") != "number" or low is None or high is None:
        return example  # a date, or a number with no range: the documented value
    if isinstance(example, int) and float(low).is_integer() and float(high).is_integer():
        return rng.randint(int(low), int(high))
    return round(rng.uniform(low, high), 6)


def _value(text: str) -> Any:
    """CSV cell -> int, float, str or None (empty), as a JSON client would send it."""
    if text == "":
        return None
    for parse in (int, float):
        try:
            return parse(text)
        except ValueError:
            continue
    return text


def csv_workload(
    path: Path, doc: Mapping[str, Any], *, size: int = SAMPLE_SIZE, seed: int = 42
) -> Workload:
    """A reproducible sample of a CSV's rows, keeping only the served model's fields (so the
    target and any other column are dropped)."""
    fields = served_schema.input_fields(doc)
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    if not rows or not set(fields).intersection(rows[0]):
        raise ValueError(
            f"{path}: no rows, or no column the served model reads ({', '.join(fields)})"
        )
    sample = random.Random(seed).sample(rows, min(size, len(rows)))
    records = [{k: _value(v) for k, v in row.items() if k in fields} for row in sample]
    return Workload(records, served_schema.classes(doc), fields)


def resolve_key(env: Mapping[str, str], key_file: str) -> str:
    """The scoring key: AMLSTACK_PRIMARY_KEY when set (as in the scorer), else the key file."""
    key = env.get("AMLSTACK_PRIMARY_KEY", "").strip()
    if key:
        return key
    try:
        return json.loads(Path(key_file).read_text())["primaryKey"]
    except (OSError, ValueError, KeyError) as exc:
        raise RuntimeError(
            f"no scoring key: set AMLSTACK_PRIMARY_KEY or make {key_file} readable ({exc})"
        ) from None


# -- response checks ------------------------------------------------------------------------
def check_scores(body: Any, n_records: int, classes: Sequence[str]) -> str | None:
    """Why a /score answer is wrong for ``n_records`` records, or None when it is right."""
    if not isinstance(body, dict):
        return "response is not a JSON object"
    predictions, probabilities = body.get("predictions"), body.get("probabilities")
    if not isinstance(predictions, list) or len(predictions) != n_records:
        return f"expected {n_records} predictions, got {_describe(predictions)}"
    if not isinstance(probabilities, list) or len(probabilities) != n_records:
        return f"expected {n_records} probability rows, got {_describe(probabilities)}"
    expected = set(classes)
    for i, (label, row) in enumerate(zip(predictions, probabilities, strict=True)):
        if label not in expected:
            return f"record {i}: label {label!r} is not one of {sorted(expected)}"
        if not isinstance(row, dict) or set(row) != expected:
            return f"record {i}: probabilities {row!r} do not name exactly {sorted(expected)}"
        values = list(row.values())
        if not all(isinstance(v, int | float) and 0.0 <= v <= 1.0 for v in values):
            return f"record {i}: probabilities {row!r} are not all in [0, 1]"
        if not math.isclose(sum(values), 1.0, abs_tol=PROBABILITY_TOLERANCE):
            return f"record {i}: probabilities sum to {sum(values)}, not 1"
    model = body.get("model")
    if not isinstance(model, dict) or not model.get("name") or not model.get("version"):
        return "response has no model name/version"
    return None


def check_error(status: int, body: Any, expected: int) -> str | None:
    """Why an answer to a bad request is wrong, or None when it is the expected error."""
    if status != expected:
        return f"expected HTTP {expected}, got {status}"
    if not isinstance(body, dict) or not isinstance(body.get("error"), dict):
        return 'error response is not {"error": {...}}'
    if not body["error"].get("message"):
        return "error response has no message"
    return None


def _describe(value: Any) -> str:
    return f"{len(value)} items" if isinstance(value, list) else type(value).__name__


# -- invalid requests -----------------------------------------------------------------------
# A missing field is not one: the model imputes it (null or absent values are scored). Each kind
# is built from the served model's schema, so it is invalid for that model.
INVALID_KINDS = ("beyond-float32", "wrong-type", "no-model-field", "empty-batch", "malformed-json")
UNKNOWN_FIELD = "amlstack-loadtest-not-a-field"


def invalid_kinds(workload: Workload) -> tuple[str, ...]:
    """The kinds this model can be sent: a number beyond float32 needs a numeric field."""
    return tuple(k for k in INVALID_KINDS if k != "beyond-float32" or workload.numeric)


def invalid_request(
    rng: random.Random, workload: Workload, record: Mapping[str, Any], kind: str | None = None
) -> tuple[str, bytes, int]:
    """One bad request of ``kind`` (random when None): (kind, JSON body, the status it must get)."""
    kind = kind or rng.choice(invalid_kinds(workload))
    broken = dict(record)
    if kind == "beyond-float32":
        broken[rng.choice(workload.numeric)] = 1e39
    elif kind == "wrong-type":  # text where the model reads a number, else a number for text
        name = rng.choice(list(workload.fields))
        broken[name] = "not-a-number" if name in workload.numeric else 12345
    elif kind == "no-model-field":  # refused rather than scored as all-imputed
        broken = {UNKNOWN_FIELD: 1}
    elif kind == "empty-batch":
        return kind, b'{"data": []}', 422
    elif kind == "malformed-json":
        return kind, b'{"data": [', 400
    else:
        raise ValueError(f"unknown invalid request kind {kind!r}")
    return kind, json.dumps({"data": [broken]}).encode(), 422


# -- verdict --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Thresholds:
    max_fail_ratio: float = 0.0
    max_p95_ms: float = 0.0
    max_p99_ms: float = 0.0


def verdict(total, thresholds: Thresholds) -> list[str]:
    """Reasons the run failed (empty when it passed); ``total`` is Locust's aggregated stats."""
    if total.num_requests == 0:
        return ["no requests were made"]
    reasons = []
    if total.fail_ratio > thresholds.max_fail_ratio:
        reasons.append(
            f"failure ratio {total.fail_ratio:.4f} > {thresholds.max_fail_ratio} "
            f"({total.num_failures} of {total.num_requests})"
        )
    for pct, limit in ((0.95, thresholds.max_p95_ms), (0.99, thresholds.max_p99_ms)):
        observed = total.get_response_time_percentile(pct)
        if limit > 0 and observed > limit:
            reasons.append(f"p{round(pct * 100)} {observed:.0f} ms > {limit:.0f} ms")
    return reasons

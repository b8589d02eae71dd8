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

TARGET = "y"
SAMPLE_SIZE = 2000
PROBABILITY_TOLERANCE = 1e-3
DEFAULT_KEY_FILE = "/keys/keys.json"
DATA_CANDIDATES = (
    Path(__file__).resolve().parent / "data" / "bankmarketing_train.csv",  # in the image
    Path(__file__).resolve().parent.parent / "data" / "bankmarketing_train.csv",  # in the repo
)


# -- data and key ---------------------------------------------------------------------------
def _value(text: str) -> Any:
    """CSV cell -> int, float or str, as a JSON client would send it."""
    for parse in (int, float):
        try:
            return parse(text)
        except ValueError:
            continue
    return text


def load_records(path: Path, *, target: str = TARGET, size: int = SAMPLE_SIZE, seed: int = 42):
    """A reproducible sample of records (target dropped) and the target's classes."""
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    if not rows or target not in rows[0]:
        raise ValueError(f"{path}: no rows, or no target column {target!r}")
    classes = sorted({row[target] for row in rows})
    sample = random.Random(seed).sample(rows, min(size, len(rows)))
    records = [{k: _value(v) for k, v in row.items() if k != target} for row in sample]
    return records, classes


def find_data(explicit: str = "") -> Path:
    candidates = [Path(explicit)] if explicit else list(DATA_CANDIDATES)
    for path in candidates:
        if path.is_file():
            return path
    raise FileNotFoundError(f"no data file; tried {', '.join(map(str, candidates))}")


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
# A missing field is not one: the model imputes it (null or absent values are scored).
INVALID_KINDS = ("beyond-float32", "wrong-type", "empty-batch", "malformed-json")


def invalid_request(
    rng: random.Random, record: Mapping[str, Any], kind: str | None = None
) -> tuple[str, bytes, int]:
    """One bad request of ``kind`` (random when None): (kind, JSON body, the status it must get)."""
    numeric = [k for k, v in record.items() if isinstance(v, int | float)]
    kind = kind or rng.choice(INVALID_KINDS)
    if kind == "beyond-float32":
        broken = dict(record)
        broken[rng.choice(numeric)] = 1e39
        return kind, json.dumps({"data": [broken]}).encode(), 422
    if kind == "wrong-type":
        broken = dict(record)
        broken[rng.choice(numeric)] = "not-a-number"
        return kind, json.dumps({"data": [broken]}).encode(), 422
    if kind == "empty-batch":
        return kind, b'{"data": []}', 422
    if kind == "malformed-json":
        return kind, b'{"data": [', 400
    raise ValueError(f"unknown invalid request kind {kind!r}")


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

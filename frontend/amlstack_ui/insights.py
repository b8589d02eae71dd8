"""Insights, the local Application Insights: the scorer's metrics as stored by Prometheus.

Every figure is a PromQL query against the stack's Prometheus server (which scrapes every scorer
replica with the key); nothing is computed from the scorer directly. Drift compares the live
per-bin counts (``amlstack_feature_bin_total``, summed over replicas) with the training profile
the model card carries, with the PSI of ``amlstack drift`` (one implementation of both).
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
import requests

from amlstack.pipeline.drift import (
    DEFAULT_THRESHOLD,
    LIVE_BINS_QUERY,
    counts_from_vector,
    psi,
    training_counts,
)

SCORE = 'route="/score"'
WINDOW = "1m"
LATENCY = f"rate(amlstack_request_duration_seconds_bucket{{{SCORE}}}[{WINDOW}])"
STATS = {
    "rps": f"sum(rate(amlstack_requests_total{{{SCORE}}}[{WINDOW}]))",
    **{f"p{q}": f"histogram_quantile(0.{q}, sum by (le) ({LATENCY}))" for q in (50, 95, 99)},
    "fail_rps": f'sum(rate(amlstack_requests_total{{{SCORE},status=~"[45].."}}[{WINDOW}]))',
}
SERIES = {
    "rps": f"sum(rate(amlstack_requests_total{{{SCORE}}}[{WINDOW}]))",
    "p50": STATS["p50"],
    "p95": STATS["p95"],
    "p99": STATS["p99"],
    "failures": f'sum by (status) (rate(amlstack_requests_total{{status=~"[45].."}}[{WINDOW}]))',
    "classes": f"sum by (label) (rate(amlstack_predictions_total[{WINDOW}]))",
}
TARGETS = 'up{job="scorer"}'
RANGE_S = 30 * 60
STEP_S = 15


class PrometheusUnavailable(Exception):
    """Prometheus cannot be reached or refused a query; one-line message."""


class Prometheus:
    """The HTTP API's instant and range queries."""

    def __init__(self, url: str, timeout_s: float = 10.0, session=None) -> None:
        self.url = url
        self.timeout_s = timeout_s
        self.session = session or requests.Session()

    def _get(self, path: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        try:
            response = self.session.get(self.url + path, params=params, timeout=self.timeout_s)
            body = response.json()
        except (requests.RequestException, ValueError) as exc:
            raise PrometheusUnavailable(
                f"Prometheus at {self.url} is not answering ({type(exc).__name__})"
            ) from None
        if body.get("status") != "success":
            raise PrometheusUnavailable(f"Prometheus refused a query: {body.get('error')}")
        return body["data"]["result"]

    def query(self, promql: str) -> list[dict[str, Any]]:
        return self._get("/api/v1/query", {"query": promql})

    def query_range(self, promql: str, start: float, end: float, step: int) -> list[dict]:
        return self._get(
            "/api/v1/query_range", {"query": promql, "start": start, "end": end, "step": step}
        )


def _scalar(result: list[dict[str, Any]]) -> float | None:
    """The value of a one-element vector; None when empty or NaN (no traffic in the window)."""
    if not result:
        return None
    value = float(result[0]["value"][1])
    return None if math.isnan(value) else value


def _series(result: list[dict[str, Any]], label: str | None, fallback: str) -> list[dict]:
    """Chart lines ``{"name", "points": [[unix time, value or None], ...]}`` (JSON-ready)."""
    out = []
    for item in result:
        name = item["metric"].get(label, fallback) if label else fallback
        points = []
        for stamp, raw in item["values"]:
            value = float(raw)
            points.append([float(stamp), None if math.isnan(value) else value])
        out.append({"name": str(name), "points": points})
    return out


def stats(prom: Prometheus) -> dict[str, float | None]:
    """Request rate (req/s), latency percentiles (ms) and failure rate over the last minute."""
    out = {name: _scalar(prom.query(q)) for name, q in STATS.items()}
    for name in ("p50", "p95", "p99"):
        if out[name] is not None:
            out[name] = out[name] * 1000.0
    return out


def targets(prom: Prometheus) -> list[dict[str, Any]]:
    """Every scorer replica Prometheus discovered, and whether its last scrape worked."""
    return [
        {"instance": t["metric"].get("instance", "?"), "up": float(t["value"][1]) == 1.0}
        for t in prom.query(TARGETS)
    ]


def series(prom: Prometheus, now: float | None = None) -> dict[str, list[dict]]:
    """The charts' data over the last ``RANGE_S`` seconds."""
    end = time.time() if now is None else now
    start = end - RANGE_S
    labels = {"failures": "status", "classes": "label"}
    return {
        name: _series(prom.query_range(q, start, end, STEP_S), labels.get(name), name)
        for name, q in SERIES.items()
    }


def drift(prom: Prometheus, profile: dict[str, Any]) -> list[dict[str, Any]]:
    """Per feature: live rows, PSI against the training profile, and its reading."""
    features = profile.get("features") or {}
    live = counts_from_vector(prom.query(LIVE_BINS_QUERY), features)
    rows = []
    for name, spec in features.items():
        counts = np.asarray(live[name], dtype=np.float64)
        observed = int(counts.sum())
        value = (
            psi(np.asarray(training_counts(spec), dtype=np.float64), counts) if observed else None
        )
        rows.append({"feature": name, "rows": observed, "psi": value, "level": _level(value)})
    rows.sort(key=lambda r: -(r["psi"] or 0.0))
    return rows


def _level(value: float | None) -> str:
    if value is None:
        return "no data"
    if value >= DEFAULT_THRESHOLD:
        return "significant"
    return "moderate" if value >= DEFAULT_THRESHOLD / 2 else "stable"

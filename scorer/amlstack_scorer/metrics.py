"""Prometheus metrics: requests, latency, records, classes, unseen categories, missing values,
numbers outside the training range.

Under gunicorn, PROMETHEUS_MULTIPROC_DIR is set (gunicorn_conf.py) before prometheus_client is
imported, every worker writes its samples to files there, and /metrics merges them. Without it
(tests, a single process) each app gets its own registry.
"""

from __future__ import annotations

import os
from collections import Counter as Tally
from collections.abc import Iterable

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# Sub-millisecond resolution where the scorer lives, up to the request timeout.
LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.003, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0)


class Metrics:
    """The scorer's metrics; label children are cached so a request costs a few dict lookups."""

    def __init__(self, model_name: str, model_version: str) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "amlstack_requests", "HTTP requests", ["route", "method", "status"], registry=r
        )
        self.latency = Histogram(
            "amlstack_request_duration_seconds",
            "Request latency",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.records = Counter("amlstack_records_scored", "Records scored", registry=r)
        self.predicted = Counter("amlstack_predictions", "Predicted labels", ["label"], registry=r)
        self.unseen = Counter(
            "amlstack_unseen_categories",
            "Categorical values never seen in training (scored as unknown)",
            ["feature"],
            registry=r,
        )
        self.outside = Counter(
            "amlstack_out_of_range_values",
            "Numeric values outside the range seen in training (scored as the nearest bound)",
            ["feature"],
            registry=r,
        )
        self.missing = Counter(
            "amlstack_missing_values",
            "Input values missing (null, absent or an unreadable date), imputed by the model",
            ["feature"],
            registry=r,
        )
        self.abandoned = Counter(
            "amlstack_requests_not_scored",
            "Scoring requests dropped unscored: client_gone (the client left before scoring), "
            "deadline_exceeded (accepted longer ago than AMLSTACK_REQUEST_DEADLINE_S)",
            ["reason"],
            registry=r,
        )
        info = Gauge(
            "amlstack_model_info",
            "The model being served (value 1)",
            ["name", "version"],
            multiprocess_mode="max",
            registry=r,
        )
        info.labels(model_name, model_version).set(1)
        self._request_children: dict[tuple[str, str, int], tuple] = {}
        self._label_children: dict[str, Counter] = {}

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        key = (route, method, status)
        children = self._request_children.get(key)
        if children is None:
            children = (
                self.requests.labels(route, method, str(status)),
                self.latency.labels(route),
            )
            self._request_children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def observe_abandoned(self, reason: str) -> None:
        self.abandoned.labels(reason).inc()

    def observe_scores(
        self,
        labels: list,
        unseen: dict[str, int],
        missing: dict[str, int] | None = None,
        outside: dict[str, int] | None = None,
    ) -> None:
        self.records.inc(len(labels))
        # collections.Counter counts in C, in first-seen order: the same children, same order.
        for label, n in Tally(labels).items():
            child = self._label_children.get(label)
            if child is None:
                child = self._label_children[label] = self.predicted.labels(str(label))
            child.inc(n)
        for feature, n in unseen.items():
            self.unseen.labels(feature).inc(n)
        for feature, n in (missing or {}).items():
            self.missing.labels(feature).inc(n)
        for feature, n in (outside or {}).items():
            self.outside.labels(feature).inc(n)

    def render(self, extra: Iterable[CollectorRegistry] = ()) -> tuple[bytes, str]:
        """The exposition text, merged across gunicorn workers when in multi-process mode.

        ``extra``: other registries of this process (the drift profile's), which a single
        process must render itself; in multi-process mode the shared files already hold them.
        """
        if os.environ.get(MULTIPROC_ENV):
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            return generate_latest(registry), CONTENT_TYPE_LATEST
        body = b"".join(generate_latest(r) for r in (self.registry, *extra))
        return body, CONTENT_TYPE_LATEST


def mark_worker_dead(pid: int) -> None:
    """Drop a dead gunicorn worker's live gauges (called from gunicorn's child_exit hook)."""
    if os.environ.get(MULTIPROC_ENV):
        multiprocess.mark_process_dead(pid)

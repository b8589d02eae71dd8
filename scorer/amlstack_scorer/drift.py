"""The scorer's live profile of what it receives, exported as Prometheus counters.

Memory is bounded by the artifact's ``profile.json``: one counter child per numeric bin (the
training decile edges) and per training category, plus ``__unseen__`` and ``__missing__``.
Under gunicorn the counters live in prometheus-client's multi-process files, so /metrics sums
every worker. ``amlstack drift`` reads these counters back and compares them with the training
profile (see ``services/amlstack/profile.py`` for the profile format).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from prometheus_client import CollectorRegistry, Counter

BIN_METRIC = "amlstack_feature_bin"  # exposed as amlstack_feature_bin_total{feature, bin}
ROWS_METRIC = "amlstack_profile_rows"  # exposed as amlstack_profile_rows_total
UNSEEN_BIN = "__unseen__"
MISSING_BIN = "__missing__"


def bin_labels(spec: Mapping[str, Any]) -> list[str]:
    """The ``bin`` label of every counted slot of one feature's profile, in counting order."""
    if spec["kind"] == "categorical":
        return [UNSEEN_BIN, *[str(c) for c in spec["categories"]], MISSING_BIN]
    return [*[str(i) for i in range(len(spec["edges"]) + 1)], MISSING_BIN]


class LiveProfile:
    """Count encoded rows per feature bin; ``observe`` is called by the app after encoding.

    ``features_profile`` is profile.json's ``features`` mapping; its order need not match the
    model's, ``feature_names`` (the matrix columns) says which column is which. ``sample`` < 1
    observes a random share of rows (the comparison uses proportions, so sampling is unbiased).
    """

    def __init__(
        self,
        features_profile: Mapping[str, Mapping[str, Any]],
        feature_names: list[str] | None = None,
        *,
        registry: CollectorRegistry | None = None,
        sample: float = 1.0,
        seed: int | None = None,
    ) -> None:
        names = list(feature_names) if feature_names is not None else list(features_profile)
        # A registry of its own: several apps in one process never collide. Under gunicorn
        # (PROMETHEUS_MULTIPROC_DIR set) the samples go to the shared files whatever the
        # registry, and the app's /metrics merges them; in a single process, whoever renders
        # /metrics must include ``self.registry`` too.
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.bins = Counter(
            BIN_METRIC, "Scored rows per input feature bin", ["feature", "bin"], registry=r
        )
        self.rows = Counter(ROWS_METRIC, "Rows observed by the live profile", registry=r)
        self.sample = float(sample)
        self._rng = np.random.default_rng(seed)
        self._columns: list[tuple[int, bool, np.ndarray, list]] = []
        for column, name in enumerate(names):
            spec = features_profile.get(name)
            if spec is None:
                continue  # a feature without a profile is not monitored
            is_cat = spec["kind"] == "categorical"
            # The matrix is float32: compare with float32 edges, or a value equal to an edge
            # (93.994 in float64) would round above it and land one bin too high.
            edges = np.asarray(spec.get("edges", ()), dtype=np.float32)
            children = [self.bins.labels(name, label) for label in bin_labels(spec)]
            self._columns.append((column, is_cat, edges, children))

    def observe(self, matrix: np.ndarray, n: int | None = None) -> None:
        """Count the first ``n`` rows of an encoded float32 matrix (model feature order)."""
        rows = matrix if n is None else matrix[:n]
        if self.sample < 1.0 and len(rows):
            rows = rows[self._rng.random(len(rows)) < self.sample]
        if not len(rows):
            return
        self.rows.inc(len(rows))
        for column, is_cat, edges, children in self._columns:
            values = rows[:, column]
            missing = np.isnan(values)
            if is_cat:
                # Codes are -1 (unseen) .. k-1; shift by one so unseen is slot 0.
                slots = values[~missing].astype(np.int64) + 1
            else:
                slots = _bins(edges, values[~missing])
            counts = np.bincount(slots, minlength=len(children) - 1)
            for slot in np.flatnonzero(counts):
                children[slot].inc(int(counts[slot]))
            if missing.any():
                children[-1].inc(int(missing.sum()))

    __call__ = observe


def _bins(edges: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``np.searchsorted(edges, values, side="left")`` for values without NaN: how many edges
    lie below each value. For a few sorted edges, counted by one comparison per edge (SIMD, far
    faster than a binary search per value); the same numbers."""
    if 0 < len(edges) <= 64 and bool(np.all(edges[:-1] <= edges[1:])):
        slots = np.zeros(len(values), dtype=np.uint8)
        for edge in edges:
            slots += (values > edge).view(np.uint8)
        return slots
    return np.searchsorted(edges, values, side="left")


def live_counts(
    samples: list[tuple[str, dict[str, str], float]], features_profile: Mapping[str, Any]
) -> dict[str, list[float]]:
    """Rebuild per-feature counts, in ``bin_labels`` order, from parsed metric samples."""
    wanted = BIN_METRIC + "_total"
    found: dict[str, dict[str, float]] = {}
    for name, labels, value in samples:
        if name == wanted and "feature" in labels:
            slot = found.setdefault(labels["feature"], {})
            slot[labels.get("bin", "")] = slot.get(labels.get("bin", ""), 0.0) + value
    return {
        feature: [found.get(feature, {}).get(label, 0.0) for label in bin_labels(spec)]
        for feature, spec in features_profile.items()
    }

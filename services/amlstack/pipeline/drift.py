"""Compare a live (or new-data) profile with the training profile, feature by feature.

Numeric features: PSI over the training decile bins and a two-sample Kolmogorov-Smirnov test on
the binned distributions (the largest CDF gap at the bin edges; conservative for binned data).
Categorical features: PSI over the categories (unseen and missing included), the largest shift
in a category's frequency, and a chi-square test of homogeneity. A feature drifts when its PSI
reaches the threshold AND its test is significant, so noise on few rows flags nothing.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from amlstack.artifact.names import PROFILE_FILE
from amlstack.artifact.profile import bin_counts, check_profile
from amlstack.errors import ExternalError, UserError
from amlstack_scorer.drift import BIN_METRIC, bin_labels, live_counts

DEFAULT_THRESHOLD = 0.2  # PSI: < 0.1 stable, 0.1-0.2 moderate, >= 0.2 significant (common usage)
DEFAULT_ALPHA = 0.01
MIN_ROWS = 100
# The live bins of every scorer Prometheus scrapes: each replica of a scaled or proxied scorer.
LIVE_BINS_QUERY = f"sum by (feature, bin) ({BIN_METRIC}_total)"
_EPS = 1e-4
KEY_SOURCE = "--key or $AMLSTACK_KEY"  # where `amlstack drift` takes the scoring key from


class KeyRefused(ExternalError):
    """The scorer refused the scoring key, or its absence (HTTP 401 or 403): asking again
    with the same key is refused alike. The message names ``source``, where the key comes
    from."""

    def __init__(self, target: str, status: int, given: bool, source: str = KEY_SOURCE) -> None:
        self.target, self.status, self.given = target, status, given
        what = "refused the key" if given else "needs a key, and none was given"
        super().__init__(
            f"{target} {what} (HTTP {status}): give the scoring key with {source} "
            "(`bash scripts/stack.sh key` prints the stack's)"
        )

    def from_source(self, source: str) -> KeyRefused:
        """The same refusal, naming ``source`` as where the key comes from."""
        return KeyRefused(self.target, self.status, self.given, source)


def training_counts(spec: Mapping[str, Any]) -> list[float]:
    """A training profile's counts in ``bin_labels`` order."""
    if spec["kind"] == "categorical":
        return [spec.get("unseen", 0), *spec["counts"], spec.get("missing", 0)]
    return [*spec["counts"], spec.get("missing", 0)]


def psi(expected: np.ndarray, actual: np.ndarray) -> float:
    e = expected / max(expected.sum(), 1.0) + _EPS
    a = actual / max(actual.sum(), 1.0) + _EPS
    return float(np.sum((a - e) * np.log(a / e)))


def binned_ks(expected: np.ndarray, actual: np.ndarray) -> tuple[float, float]:
    """KS statistic and asymptotic p-value from two binned samples (missing slot excluded)."""
    from scipy.stats import kstwobign

    n, m = expected.sum(), actual.sum()
    if n == 0 or m == 0:
        return 0.0, 1.0
    stat = float(np.max(np.abs(np.cumsum(expected) / n - np.cumsum(actual) / m)))
    en = np.sqrt(n * m / (n + m))
    return stat, float(kstwobign.sf(stat * en))


def chi_square(expected: np.ndarray, actual: np.ndarray) -> tuple[float, float]:
    from scipy.stats import chi2_contingency

    keep = (expected + actual) > 0
    if keep.sum() < 2 or actual.sum() == 0:
        return 0.0, 1.0
    stat, p, _, _ = chi2_contingency(np.vstack([expected[keep], actual[keep]]))
    return float(stat), float(p)


def compare_feature(
    spec: Mapping[str, Any], live: list[float], threshold: float, alpha: float
) -> dict[str, Any]:
    expected = np.asarray(training_counts(spec), dtype=np.float64)
    actual = np.asarray(live, dtype=np.float64)
    rows = float(actual.sum())
    result: dict[str, Any] = {"kind": spec["kind"], "rows": int(rows), "psi": psi(expected, actual)}
    if spec["kind"] == "categorical":
        stat, p = chi_square(expected, actual)
        labels = bin_labels(spec)
        shift = actual / max(rows, 1.0) - expected / max(expected.sum(), 1.0)
        top = int(np.argmax(np.abs(shift)))
        result.update(
            test="chi2",
            statistic=stat,
            p_value=p,
            largest_shift={"category": labels[top], "change": float(shift[top])},
        )
    else:
        stat, p = binned_ks(expected[:-1], actual[:-1])
        p_missing, shift = _missing_shift(expected, actual)
        # KS compares the present values only: a column now half empty is drift too
        result.update(test="ks", statistic=stat, p_value=min(p, p_missing), missing_shift=shift)
    if rows < MIN_ROWS:
        result["drifted"] = False
        result["note"] = f"only {int(rows)} rows observed (< {MIN_ROWS}); not judged"
    else:
        result["drifted"] = bool(result["psi"] >= threshold and result["p_value"] < alpha)
    return result


def _missing_shift(expected: np.ndarray, actual: np.ndarray) -> tuple[float, float]:
    """(p-value, change) of a numeric feature's share of missing values (the last slot), live
    minus training, by the chi-square test categoricals use for every slot."""
    _, p = chi_square(
        np.array([expected[:-1].sum(), expected[-1]]), np.array([actual[:-1].sum(), actual[-1]])
    )
    change = actual[-1] / max(actual.sum(), 1.0) - expected[-1] / max(expected.sum(), 1.0)
    return p, float(change)


def compare(
    training: Mapping[str, Any],
    live: Mapping[str, list[float]],
    *,
    threshold: float = DEFAULT_THRESHOLD,
    alpha: float = DEFAULT_ALPHA,
) -> dict[str, Any]:
    """The drift report: per-feature results, the drifted features, and the overall verdict.
    A threshold or significance level that would switch detection off (NaN, inf, an alpha
    outside 0..1) is a UserError naming the option."""
    if not (math.isfinite(threshold) and threshold > 0):
        raise UserError(f"--threshold {threshold:g}: a PSI above 0 (0.2 is the usual limit)")
    if not (math.isfinite(alpha) and 0 < alpha < 1):
        raise UserError(f"--alpha {alpha:g}: a significance level between 0 and 1 (e.g. 0.01)")
    check_profile(training)
    features = {
        name: compare_feature(spec, live[name], threshold, alpha)
        for name, spec in training["features"].items()
        if name in live
    }
    drifted = sorted(
        (n for n, r in features.items() if r["drifted"]), key=lambda n: -features[n]["psi"]
    )
    return {
        "threshold": threshold,
        "alpha": alpha,
        "rows": max((r["rows"] for r in features.values()), default=0),
        "drifted": drifted,
        "features": features,
    }


def frame_counts(frame, training: Mapping[str, Any]) -> dict[str, list[float]]:
    """Counts of a DataFrame (new data) in the training profile's bins."""
    out: dict[str, list[float]] = {}
    for name, spec in training["features"].items():
        if name not in frame.columns:
            continue
        column = frame[name]
        if spec["kind"] == "categorical":
            index = {c: i + 1 for i, c in enumerate(spec["categories"])}
            present = column.dropna().astype(str)
            slots = np.fromiter((index.get(v, 0) for v in present), np.int64, len(present))
            counts = np.bincount(slots, minlength=len(spec["categories"]) + 1)
            out[name] = [*counts.tolist(), int(column.isna().sum())]
        else:
            import pandas as pd

            values = pd.to_numeric(column, errors="coerce").to_numpy(dtype=np.float64)
            counts, missing = bin_counts(values, spec["edges"])
            out[name] = [*counts.tolist(), missing]
    return out


def read_training_profile(model_dir: Path) -> dict[str, Any]:
    """The artifact's training profile, read as the scorer loads it: verified against its
    manifest and checked against its features (an edited profile.json changed the verdict)."""
    from amlstack.artifact.manifest import ArtifactError
    from amlstack.artifact.reader import Model

    try:
        profile = Model(model_dir).profile()
    except ArtifactError as exc:
        raise UserError(str(exc)) from None
    if profile is None:
        raise UserError(f"{model_dir}: no {PROFILE_FILE}; the artifact has no training profile")
    return profile


def fetch_training_profile(url: str, key: str | None, timeout: float = 10.0) -> dict[str, Any]:
    """The served model's training profile, from the scorer's keyed /profile route."""
    from amlstack_scorer.contract import PROFILE_ROUTE

    target = _route(url, PROFILE_ROUTE)
    try:
        profile = _get(target, key, timeout).json()
        check_profile(profile)
    except ValueError as exc:  # not JSON, or not a profile
        raise ExternalError(f"{target}: {exc}") from None
    return profile


def profile_for_served_bins(
    training: dict[str, Any], url: str, key: str | None, source: str
) -> dict[str, Any]:
    """``training`` when the served model bins every feature as it does (the live counts are
    in the served model's bins); else a UserError naming ``source`` and the first feature binned
    otherwise (another model's, or another version's, edges: a false drift, psi 3.8)."""
    served = fetch_training_profile(url, key)["features"]
    for name, stats in training["features"].items():
        theirs = served.get(name)
        same = theirs is not None and all(
            stats.get(part) == theirs.get(part) for part in ("kind", "edges", "categories")
        )
        if not same:
            raise UserError(
                f"{source}: feature {name!r} is not binned as the model served at {url} bins "
                "it (another model or version): its live counts cannot be compared with this "
                "profile; compare with the served model's own (leave the artifact out)"
            )
    return training


def _route(url: str, route: str) -> str:
    """``route`` on the scorer at ``url`` (a base URL, or one already ending in a route)."""
    base = url.rstrip("/")
    for known in ("/metrics", "/score", "/profile"):
        if base.endswith(known):
            base = base[: -len(known)]
    return base + route


def check_key(key: str | None, source: str = KEY_SOURCE) -> None:
    """A UserError naming ``source`` when ``key`` cannot travel in an HTTP header (requests
    would fail on it with a codec error naming no option)."""
    from amlstack_scorer.settings import header_problem

    problem = header_problem(key) if key else None
    if problem:
        raise UserError(f"{source}: {problem}")


def _get(target: str, key: str | None, timeout: float):
    import requests

    check_key(key)
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    try:
        response = requests.get(target, headers=headers, timeout=timeout)
    except requests.RequestException as exc:
        raise ExternalError(
            f"cannot reach the scorer at {target}: {exc.__class__.__name__}"
        ) from None
    if response.status_code in (401, 403):  # 403: a gateway in front (Azure's) may answer so
        raise KeyRefused(target, response.status_code, given=bool(key))
    if response.status_code != 200:
        raise ExternalError(f"{target} answered HTTP {response.status_code}")
    return response


def parse_metrics(text: str) -> list[tuple[str, dict[str, str], float]]:
    from prometheus_client.parser import text_string_to_metric_families

    return [
        (s.name, dict(s.labels), float(s.value))
        for family in text_string_to_metric_families(text)
        for s in family.samples
    ]


def fetch_live(
    url: str,
    key: str | None,
    training: Mapping[str, Any],
    timeout: float = 10.0,
    prometheus: str | None = None,
):
    """The live counts: from ``prometheus`` (every replica it scrapes) when given, else the
    scorer's own /metrics text (behind a balancer, that is one replica's traffic only)."""
    from amlstack_scorer.contract import METRICS_ROUTE

    if prometheus:
        return fetch_live_prometheus(prometheus, training, timeout)
    target = _route(url, METRICS_ROUTE)
    samples = parse_metrics(_get(target, key, timeout).text)
    if not any(name.startswith("amlstack_feature_bin") for name, _, _ in samples):
        raise ExternalError(
            f"{target} exports no amlstack_feature_bin_total: live profiling is off"
        )
    return live_counts(samples, training["features"])


def counts_from_vector(
    result: list[dict[str, Any]], features: Mapping[str, Any]
) -> dict[str, list[float]]:
    """Per-feature counts from a Prometheus instant query's vector of ``LIVE_BINS_QUERY``."""
    samples = [(f"{BIN_METRIC}_total", item["metric"], float(item["value"][1])) for item in result]
    return live_counts(samples, features)


def fetch_live_prometheus(prometheus: str, training: Mapping[str, Any], timeout: float = 10.0):
    """The live counts summed over every scorer replica, from Prometheus's HTTP API."""
    import requests

    base = prometheus.rstrip("/")
    try:
        response = requests.get(
            base + "/api/v1/query", params={"query": LIVE_BINS_QUERY}, timeout=timeout
        )
        body = response.json()
    except (requests.RequestException, ValueError) as exc:
        raise ExternalError(
            f"cannot query Prometheus at {base}: {exc.__class__.__name__}"
        ) from None
    if not isinstance(body, dict) or body.get("status") != "success":
        error = body.get("error") if isinstance(body, dict) else None
        raise ExternalError(f"Prometheus at {base} refused the query: {error}")
    result = body["data"]["result"]
    if not result:
        raise ExternalError(
            f"Prometheus at {base} holds no {BIN_METRIC}_total yet: no scored traffic scraped, "
            "or live profiling is off"
        )
    return counts_from_vector(result, training["features"])


def render_text(report: Mapping[str, Any]) -> list[str]:
    """One line per feature, drifted first."""
    rows = sorted(report["features"].items(), key=lambda kv: (not kv[1]["drifted"], -kv[1]["psi"]))
    lines = []
    for name, r in rows:
        flag = "DRIFT" if r["drifted"] else "ok"
        extra = f"  ({r['note']})" if "note" in r else ""
        if "note" in r and not r["drifted"]:
            flag = "-"  # too few rows to say "ok"
        if "largest_shift" in r:
            shift = r["largest_shift"]
            extra += f"  largest shift {shift['category']} {shift['change']:+.1%}"
        if abs(r.get("missing_shift", 0)) >= 0.005:
            extra += f"  missing {r['missing_shift']:+.1%}"
        lines.append(
            f"{flag:5} {name:16} psi={r['psi']:.3f} {r['test']}={r['statistic']:.3f} "
            f"p={r['p_value']:.2g} rows={r['rows']}{extra}"
        )
    return lines

"""The training profile of every feature (``profile.json`` in an artifact), for drift monitoring.

Format (``PROFILE_FORMAT``, version 1)::

    {"format": "amlstack-profile", "format_version": 1, "rows": N,
     "features": {
       "<numeric>": {"kind": "numeric", "edges": [e0, ..., ek-1], "counts": [c0, ..., ck],
                     "missing": m, "quantiles": {"0.01": q, ...}, "mean": .., "std": ..,
                     "min": .., "max": ..},
       "<categorical>": {"kind": "categorical", "categories": [...], "counts": [...],
                         "unseen": 0, "missing": m}}}

Numeric bins: ``edges`` are the interior cut points (distinct deciles), so there are
``len(edges) + 1`` bins and a value ``x`` falls in bin ``searchsorted(edges, x, side="left")``,
i.e. bin ``i`` is ``(edges[i-1], edges[i]]`` with open ends. Missing values are counted apart.
Categorical ``counts`` follow the feature's ``categories`` order (the model's category codes), so
the scorer can count the encoded codes directly; ``unseen`` counts code ``-1``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

PROFILE_FORMAT = "amlstack-profile"
PROFILE_VERSION = 1

DEFAULT_BINS = 10
QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)


def bin_edges(values: np.ndarray, bins: int = DEFAULT_BINS) -> list[float]:
    """Distinct interior quantile cut points (fewer than ``bins - 1`` for discrete features)."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return []
    cuts = np.unique(np.quantile(finite, np.linspace(0, 1, bins + 1)[1:-1]))
    top = finite.max()
    if cuts.size and cuts[-1] >= top:
        # A cut at the maximum leaves the last bin empty; cut just below it instead, so a
        # dominant top value (pdays=999) still gets a bin of its own.
        below = finite[finite < top]
        cuts = np.unique(np.append(cuts[:-1], below.max())) if below.size else cuts[:-1]
    return [float(e) for e in cuts]


def bin_counts(values: np.ndarray, edges: Sequence[float]) -> tuple[np.ndarray, int]:
    """Counts per bin for ``edges`` (see module docstring) and the number of missing values."""
    values = np.asarray(values, dtype=np.float64)
    present = ~np.isnan(values)
    idx = np.searchsorted(np.asarray(edges, dtype=np.float64), values[present], side="left")
    return np.bincount(idx, minlength=len(edges) + 1), int((~present).sum())


def numeric_profile(values: np.ndarray, bins: int = DEFAULT_BINS) -> dict[str, Any]:
    values = np.asarray(values, dtype=np.float64)
    edges = bin_edges(values, bins)
    counts, missing = bin_counts(values, edges)
    finite = values[np.isfinite(values)]
    stats: dict[str, Any] = {"kind": "numeric", "edges": edges, "counts": counts.tolist()}
    stats["missing"] = missing
    if finite.size:
        qs = np.quantile(finite, QUANTILES)
        stats["quantiles"] = {str(q): float(v) for q, v in zip(QUANTILES, qs, strict=True)}
        stats.update(
            mean=float(finite.mean()),
            std=float(finite.std()),
            min=float(finite.min()),
            max=float(finite.max()),
        )
    return stats


def categorical_profile(values: Sequence[Any], categories: Sequence[str]) -> dict[str, Any]:
    """Counts in ``categories`` order; values outside it count as ``unseen``."""
    as_obj = np.asarray(values, dtype=object)
    missing_mask = np.array([v is None or (isinstance(v, float) and np.isnan(v)) for v in as_obj])
    strings = as_obj[~missing_mask].astype(str)
    index = {c: i for i, c in enumerate(categories)}
    codes = np.fromiter((index.get(s, -1) for s in strings), dtype=np.int64, count=strings.size)
    counts = np.bincount(codes + 1, minlength=len(categories) + 1)
    return {
        "kind": "categorical",
        "categories": [str(c) for c in categories],
        "counts": counts[1:].tolist(),
        "unseen": int(counts[0]),
        "missing": int(missing_mask.sum()),
    }


def build_profile(frame, features: list[dict], bins: int = DEFAULT_BINS) -> dict[str, Any]:
    """Profile ``frame`` (a pandas DataFrame) for the model.json ``features`` specs.

    A categorical spec without ``categories`` uses the frame's distinct values, sorted.
    """
    out: dict[str, Any] = {}
    for spec in features:
        name = spec["name"]
        column = frame[name]
        if spec["kind"] == "categorical":
            categories = spec.get("categories") or sorted(column.dropna().astype(str).unique())
            out[name] = categorical_profile(column.to_numpy(dtype=object), categories)
        else:
            out[name] = numeric_profile(column.to_numpy(dtype=np.float64, na_value=np.nan), bins)
    return {
        "format": PROFILE_FORMAT,
        "format_version": PROFILE_VERSION,
        "rows": len(frame),
        "features": out,
    }


def check_profile(profile: Mapping[str, Any]) -> None:
    """Raise ValueError when ``profile`` is not a profile this code reads."""
    if profile.get("format") != PROFILE_FORMAT or profile.get("format_version") != PROFILE_VERSION:
        raise ValueError(
            f"not an {PROFILE_FORMAT} v{PROFILE_VERSION} profile "
            f"(format={profile.get('format')!r}, version={profile.get('format_version')!r})"
        )


def check_model_profile(profile: Any, features: Sequence[Any]) -> None:
    """Raise ValueError when ``profile`` is not the training profile of a model reading
    ``features`` (`schema.FeatureSpec`s): the scorer counts each feature's encoded values into
    its bins (a category by its code, so in the model's category order), and `amlstack drift`
    compares those counts with the profile's."""
    if not isinstance(profile, Mapping):
        raise ValueError("not a JSON object")
    check_profile(profile)
    described = profile.get("features")
    if not isinstance(described, Mapping):
        raise ValueError("its 'features' is not an object of feature profiles")
    specs = {f.name: f for f in features}
    for name, stats in described.items():
        spec = specs.get(name)
        if spec is None:
            raise ValueError(f"it profiles {name!r}, which the model does not read")
        if not isinstance(stats, Mapping) or not isinstance(stats.get("counts"), list):
            raise ValueError(f"feature {name!r}: not a profile with bin counts")
        counts = stats["counts"]
        if not all(isinstance(c, int) and not isinstance(c, bool) and c >= 0 for c in counts):
            raise ValueError(f"feature {name!r}: counts must be whole numbers, 0 or more")
        if spec.kind == "categorical":
            if stats.get("kind") != "categorical" or stats.get("categories") != list(
                spec.categories or ()
            ):
                raise ValueError(f"feature {name!r}: its categories are not the model's")
            bins = len(spec.categories or ())
        else:
            edges = stats.get("edges")
            if stats.get("kind") != "numeric" or not isinstance(edges, list):
                raise ValueError(f"feature {name!r}: not a numeric profile with bin edges")
            if not all(
                isinstance(e, int | float) and not isinstance(e, bool) and np.isfinite(e)
                for e in edges
            ) or edges != sorted(edges):
                raise ValueError(f"feature {name!r}: bin edges must be finite and ascending")
            bins = len(edges) + 1
        if len(counts) != bins:
            raise ValueError(f"feature {name!r}: {len(counts)} counts for {bins} bins")

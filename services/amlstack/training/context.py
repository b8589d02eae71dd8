"""Context features: the smoothed target rate and row count of a group of columns' combination.

Bank-marketing rows are calls; the columns (euribor3m, month, day_of_week) together name the
calling day, and a day's success rate says much about each call on it. Trees can only approximate
that from the raw columns, so we hand it to them. Training rows get out-of-fold rates (a row's
own label never feeds its own feature); held-out and served rows get the full training table,
which the artifact stores and ``amlstack.artifact.reader.Context`` looks up at prediction time.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from amlstack.artifact.encoding import context_keys
from amlstack.errors import UserError

SMOOTHING = 20.0  # pseudo-rows of the prior: a combination seen 20 times is half its own rate
FOLDS = 5
# The shipped data's recipe: the calling day, and the calendar month (one price index a month).
BANK_CONTEXTS = (("euribor3m", "month", "day_of_week"), ("cons.price.idx", "month"))


def check_contexts(
    groups: tuple[tuple[str, ...], ...], features: list[dict[str, Any]], n_classes: int
) -> None:
    names = [f["name"] for f in features]
    for group in groups:
        for column in group:
            if column not in names:
                raise UserError(f"--context {','.join(group)}: no feature column {column!r}")
    if groups and n_classes != 2:
        raise UserError("--context needs a binary target (the feature is a target rate)")


def context_names(groups: tuple[tuple[str, ...], ...]) -> list[str]:
    return [f"{'+'.join(g)}:{stat}" for g in groups for stat in ("rate", "count")]


def fit_contexts(
    base: np.ndarray,
    y: np.ndarray,
    train_idx: np.ndarray,
    groups: tuple[tuple[str, ...], ...],
    names: list[str],
    seed: int,
) -> tuple[list[dict[str, Any]], np.ndarray]:
    """Tables learnt on the training rows, and the two extra columns per group for every row."""
    from sklearn.model_selection import StratifiedKFold

    index = {name: i for i, name in enumerate(names)}
    extra = np.zeros((len(base), 2 * len(groups)), dtype=np.float32)
    specs = []
    y_train = y[train_idx].astype(np.float64)
    folds = StratifiedKFold(FOLDS, shuffle=True, random_state=seed)
    for g, group in enumerate(groups):
        columns = [index[c] for c in group]
        keys = context_keys(base, columns)
        table = _table(keys[train_idx], y_train)
        extra[:, 2 * g : 2 * g + 2] = _lookup(table, keys)
        train_keys = keys[train_idx]
        for fit, held in folds.split(train_keys, y_train):
            fold_table = _table(train_keys[fit], y_train[fit])
            extra[train_idx[held], 2 * g] = _lookup(fold_table, train_keys[held])[:, 0]
        _, rate, count, prior = table
        _, first = np.unique(keys[train_idx], return_index=True)  # the table's key order
        combos = base[train_idx[first]][:, columns]
        specs.append(
            {
                "columns": list(group),
                "keys": combos.astype(float).tolist(),  # the float32 encodings, read back exactly
                "rate": [float(r) for r in rate],  # float32 values: they read back exactly
                "count": count.astype(int).tolist(),
                "prior": float(prior),
                "smoothing": SMOOTHING,
            }
        )
    return specs, extra


def _table(keys: np.ndarray, y: np.ndarray):
    uniq, inverse = np.unique(keys, return_inverse=True)
    count = np.bincount(inverse, minlength=len(uniq)).astype(np.float64)
    positives = np.bincount(inverse, weights=y, minlength=len(uniq))
    prior = float(y.mean())
    rate = (positives + SMOOTHING * prior) / (count + SMOOTHING)
    return uniq, rate.astype(np.float32), count, prior


def _lookup(table, keys: np.ndarray) -> np.ndarray:
    uniq, rate, count, prior = table
    pos = np.minimum(np.searchsorted(uniq, keys), len(uniq) - 1)
    hit = uniq[pos] == keys
    out = np.empty((len(keys), 2), dtype=np.float32)
    out[:, 0] = np.where(hit, rate[pos], prior)
    out[:, 1] = np.where(hit, count[pos], 0.0)
    return out

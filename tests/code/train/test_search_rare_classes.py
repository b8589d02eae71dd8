"""Multi-class AUC when a trial's validation rows lack a class: FLAML's own metric failed on
every trial (50 classes, a few of 3 rows), so no model was found."""

from __future__ import annotations

import numpy as np

from amlstack.training import search


def rare_classes(rows: int = 400, seed: int = 0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 4, rows)
    y[:6] = [4, 4, 4, 5, 5, 5]  # two classes of three rows each
    x = rng.normal(size=(rows, 5)).astype(np.float32)
    x[:, 0] += y
    return x, y


def test_a_validation_split_without_some_classes_still_finds_a_model():
    x, y = rare_classes()
    fit, val = np.arange(6, 340), np.arange(340, 400)  # the rare classes only in fit rows
    fit = np.concatenate([np.arange(6), fit])
    candidates = search.search(
        x[fit], y[fit], x[val], y[val], features=[{"kind": "numeric"}] * 5, metric="auc",
        n_classes=6, learners=("lgbm",), time_budget=None, max_iter=4, seed=0, n_jobs=1,
    )  # fmt: skip
    (best,) = candidates
    assert 0.5 < best.val_score <= 1.0


def test_every_class_in_every_validation_part_keeps_flamls_own_metric():
    _, y = rare_classes()
    scoring = {"eval_method": "holdout", "y_val": np.arange(6)}
    assert search._search_metric("auc", 6, y, scoring) == "roc_auc_ovr"
    scoring["y_val"] = np.arange(5)
    assert callable(search._search_metric("auc", 6, y, scoring))
    assert search._search_metric("auc", 2, y, scoring) == "roc_auc"


def test_weighted_auc_on_more_classes_is_flamls_one_vs_rest_weighted():
    """`--metric auc_weighted` on three classes crashed: FLAML's roc_auc_weighted is binary."""
    assert search.flaml_metric("auc_weighted", 3) == "roc_auc_ovr_weighted"
    assert search.flaml_metric("auc_weighted", 2) == "roc_auc_weighted"

"""Small data is tuned by cross-validation, not by a few hundred validation rows; members of
larger small data are still chosen out of fold."""

from __future__ import annotations

import time

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold

from amlstack.training import ensemble, search
from amlstack.training.search import Candidate

FEATURES = [{"name": f"x{i}", "kind": "numeric"} for i in range(4)]


def data(rows: int = 240, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, 4)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] + rng.normal(size=rows) > 0).astype(int)
    return x, y


def test_small_data_gets_the_out_of_fold_folds_and_large_data_none(monkeypatch):
    y = np.array([0, 1] * 100)
    assert ensemble.search_folds(y) == ensemble.selection_folds(y) == ensemble.OOF_FOLDS
    # a class with three rows allows three folds; with one row, none
    assert ensemble.search_folds(np.array([0] * 100 + [1] * 3)) == 3
    assert ensemble.search_folds(np.array([0] * 100 + [1])) is None
    assert ensemble.selection_folds(np.array([0] * 100 + [1])) is None
    # between the cut-offs: the search tunes on the validation split, members out of fold
    monkeypatch.setattr(ensemble, "SEARCH_CV_MAX_ROWS", 150)
    assert ensemble.search_folds(y) is None and ensemble.selection_folds(y) == ensemble.OOF_FOLDS
    monkeypatch.setattr(ensemble, "OOF_MAX_ROWS", 150)
    assert ensemble.selection_folds(y) is None


def run_search(x, y, folds):
    return search.search(
        x[:200], y[:200], x[200:], y[200:], features=FEATURES, metric="auc", n_classes=2,
        learners=("lr",), time_budget=None, max_iter=3, seed=5, n_jobs=1, folds=folds,
    )  # fmt: skip


def cross_validated_auc(x, y, c: float, seed: int, folds: int) -> float:
    aucs = []
    for fit, out in StratifiedKFold(folds, shuffle=True, random_state=seed).split(x, y):
        model = search.refit(search_model(c, seed), x[fit], y[fit])
        aucs.append(roc_auc_score(y[out], model.predict_proba(x[out])[:, 1]))
    return float(np.mean(aucs))


def search_model(c: float, seed: int):
    learner = search._custom_learner("lr", FEATURES, seed)
    return learner(task="binary", C=c).estimator_class()


def test_with_folds_each_trial_is_scored_by_the_seeded_cross_validation():
    x, y = data()
    (cand,) = run_search(x, y, folds=4)
    expected = cross_validated_auc(x, y, cand.config["C"], seed=5, folds=4)
    assert cand.val_score == pytest.approx(expected, abs=1e-6)
    # and the candidate is fitted on the fit and the validation rows together
    assert cand.estimator.named_steps["prep"].transformers_[0][1].n_samples_seen_ == len(y)


def test_without_folds_trials_are_scored_on_the_validation_rows():
    x, y = data()
    (cand,) = run_search(x, y, folds=None)
    proba = cand.estimator.predict_proba(x[200:])[:, 1]
    assert cand.val_score == pytest.approx(roc_auc_score(y[200:], proba), abs=1e-6)
    assert cand.estimator.named_steps["prep"].transformers_[0][1].n_samples_seen_ == 200


def candidate(name: str, c: float, x, y) -> Candidate:
    model = LogisticRegression(C=c).fit(x, y)
    return Candidate(learner=name, config={}, val_score=0.0, estimator=model, trials=1, seconds=0)


def test_with_no_time_for_out_of_fold_predictions_the_best_model_ships_alone():
    """The search fitted every candidate on the validation rows: no blend is chosen there."""
    x, y = data()
    train_idx, val_idx = np.arange(200), np.arange(200, 240)
    pool = [candidate("a", 1.0, x[:240], y), candidate("b", 0.01, x[:240], y)]
    y_sel, how = ensemble.selection_rows(
        pool, x, y, train_idx, val_idx, metric="auc", seed=0, deadline=time.monotonic() - 1
    )
    assert [c.learner for c in pool] == ["a"]
    assert "best model alone" in how
    np.testing.assert_array_equal(y_sel, y[val_idx])
    assert ensemble.choose_members(pool, y_sel, "auc", max_members=3, max_trees=None) == {0: 1.0}


def test_with_no_time_after_a_validation_split_search_members_are_chosen_there(monkeypatch):
    """Between the cut-offs the candidates never saw the validation rows: they may blend there."""
    monkeypatch.setattr(ensemble, "SEARCH_CV_MAX_ROWS", 100)
    x, y = data()
    train_idx, val_idx = np.arange(200), np.arange(200, 240)
    pool = [candidate("a", 1.0, x[:160], y[:160]), candidate("b", 0.01, x[:160], y[:160])]
    y_sel, how = ensemble.selection_rows(
        pool, x, y, train_idx, val_idx, metric="auc", seed=0, deadline=time.monotonic() - 1
    )
    assert [c.learner for c in pool] == ["a", "b"]
    assert how == "validation split (no time for out-of-fold predictions)"
    np.testing.assert_array_equal(y_sel, y[val_idx])
    assert all(c.bag is None for c in pool)


def test_in_time_members_are_chosen_out_of_fold():
    x, y = data()
    pool = [candidate("a", 1.0, x, y), candidate("b", 0.01, x, y)]
    y_sel, how = ensemble.selection_rows(
        pool, x, y, np.arange(200), np.arange(200, 240), metric="auc", seed=0, deadline=None
    )
    assert how == "5-fold out-of-fold" and len(y_sel) == 200
    assert all(c.bag is not None and len(c.bag.models) == 5 for c in pool)


def test_folds_that_cannot_be_done_in_time_are_not_begun(monkeypatch):
    """At its search fit's pace the best candidate's folds would end past the deadline: none is
    fitted (abandoned folds are the refits' and the export's time), and it ships alone."""
    fitted = []
    monkeypatch.setattr(ensemble, "refit", lambda *a: fitted.append(a) or search.refit(*a))
    x, y = data()
    slow, fast = candidate("slow", 1.0, x[:240], y), candidate("fast", 0.01, x[:240], y)
    slow.fit_seconds = 3600.0
    pool = [slow, fast]
    _, how = ensemble.selection_rows(
        pool, x, y, np.arange(200), np.arange(200, 240), metric="auc", seed=0,
        deadline=time.monotonic() + 600,
    )  # fmt: skip
    assert fitted == [] and "best model alone" in how and [c.learner for c in pool] == ["slow"]
    slow.fit_seconds = 0.01  # at a pace that fits, the same pool is blended out of fold
    pool = [slow, fast]
    _, how = ensemble.selection_rows(
        pool, x, y, np.arange(200), np.arange(200, 240), metric="auc", seed=0,
        deadline=time.monotonic() + 600,
    )  # fmt: skip
    assert how == "5-fold out-of-fold" and len(fitted) == 10


def test_a_candidate_worse_than_chance_on_the_selection_rows_gets_no_weight():
    """24 rows: a random model at AUC 0.44 nudged a 0.97 model's blend up, and got weight."""
    y = np.repeat([0, 1], 12)
    rng = np.random.default_rng(9)
    good = np.clip(0.5 + 0.25 * (2 * y - 1) + rng.normal(0, 0.25, 24), 0, 1)
    noise = rng.random(24)
    pool = []
    for p in (good, noise):
        cand = Candidate(
            learner="lr", config={}, val_score=0.0, estimator=None, trials=1, seconds=0
        )
        cand.val_proba = np.c_[1 - p, p]
        pool.append(cand)
    assert roc_auc_score(y, noise) < 0.5
    assert ensemble.choose_members(pool, y, "auc", max_members=3, max_trees=None) == {0: 1.0}


@pytest.mark.parametrize(("folds", "expected"), [(None, 8.0), (5, 2.0)])
def test_fit_seconds_is_one_fit_on_the_search_rows(monkeypatch, folds, expected):
    """Under cross-validation FLAML's train time is the sum of the folds' fits (each on 4/5 of
    the rows): 8 s over 5 folds is 2 s for one fit on all of them, the pace refits are
    budgeted at."""
    import flaml

    class SummedTime(flaml.AutoML):
        best_config_train_time = property(lambda self: 8.0, lambda self, value: None)

    monkeypatch.setattr(flaml, "AutoML", SummedTime)
    x, y = data()
    [cand] = run_search(x, y, folds)
    assert cand.fit_seconds == expected

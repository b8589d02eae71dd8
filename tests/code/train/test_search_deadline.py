"""CatBoost stops at its trial's time budget and at the search's end (FLAML's own limit skips
CatBoost and its refit has none), and the models it leaves behind carry no trace of that."""

from __future__ import annotations

import pickle
import time

import numpy as np
from sklearn.base import clone

from amlstack.training import search


def data(rows: int = 400, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, 6)).astype(np.float32)
    y = (x[:, 0] - x[:, 1] + rng.normal(size=rows) > 0).astype(int)
    return x, y


def catboost(deadline: float | None):
    learner = search._capped_learner("catboost", 50, deadline)
    # a fixed count without early stopping: only the deadline can end training sooner
    return learner(task="binary", n_jobs=1, early_stopping_rounds=1000, learning_rate=0.01)


def test_a_passed_deadline_leaves_one_tree_and_none_grows_them_all():
    x, y = data()
    ended = catboost(deadline=time.monotonic() - 1)  # the search's end has passed
    ended.fit(x, y)  # a refit: FLAML gives it no budget
    assert ended.model.tree_count_ == 1
    unbounded = catboost(deadline=None)
    unbounded.fit(x, y)
    assert unbounded.model.tree_count_ > 1


def test_a_trial_budget_too_short_for_two_trees_stops_after_the_first():
    x, y = data()
    trial = catboost(deadline=None)
    trial.fit(x, y, budget=1e-9)
    assert trial.model.tree_count_ == 1


def test_a_stopped_model_is_a_plain_catboost_model_afterwards():
    x, y = data()
    ended = catboost(deadline=time.monotonic() - 1)
    ended.fit(x, y)
    model = ended.model
    assert "fit" not in vars(model)  # the deadline's wrapper is gone
    pickle.dumps(model)
    again = search.refit(model, x, y)  # refits and bags start from its parameters alone
    assert again.tree_count_ == 1 and type(again) is type(clone(model))
    assert ended.estimator_class.__name__ == "CatBoostClassifier"  # restored after the fit


def test_a_class_only_in_the_last_tenth_is_learned_not_refused():
    """FLAML early-stops CatBoost on the last tenth of its rows; CatBoost refused a class seen
    only there ("Dataset test #0 contains class label ... not present in the learn dataset")."""
    x, y = data(rows=200)
    y = y.copy()
    y[-3:] = 2  # a third class, only in the rows FLAML evaluates on
    learner = search._capped_learner("catboost", 20, None)
    model = learner(task="multiclass", n_jobs=1, early_stopping_rounds=5)
    model.fit(x, y, sample_weight=np.ones(len(y)))
    assert model.model.predict_proba(x[:5]).shape == (5, 3)


def test_rows_whose_classes_are_all_learned_keep_their_order():
    """Moving rows changes CatBoost's result: only done when a class would be refused."""
    x, y = data(rows=200)
    assert search._every_class_first(x, y, {})[0] is x
    y = y.copy()
    y[-3:] = 2
    _, labels, _ = search._every_class_first(x, y, {})
    assert labels[:3].tolist().count(2) == 1 and sorted(labels.tolist()) == sorted(y.tolist())


def test_a_fold_of_one_row_per_class_is_learned_whole_without_early_stopping():
    """Every class of 3 rows: a search fold held 10 rows of 10 classes, the row CatBoost stops
    early on was of a class it did not learn, and it refused it (exit 70, "a bug")."""
    x, y = data(rows=10)
    y = np.arange(10)
    _, _, kwargs = search._every_class_first(x, y, {})
    assert kwargs == {"use_best_model": False}
    learner = search._capped_learner("catboost", 20, None)
    model = learner(task="multiclass", n_jobs=1, n_estimators=5)
    model.fit(x, y)
    assert model.model.predict_proba(x[:2]).shape == (2, 10)


def test_an_mlp_on_too_few_rows_to_hold_out_trains_without_early_stopping():
    """A search fold of 10 rows (10 classes of 3 rows): scikit-learn's "The validation set is
    too small" (exit 70)."""
    assert search._can_stop_early(np.arange(11)) and not search._can_stop_early(np.arange(10))
    x, _ = data(rows=10)
    y = np.arange(10)
    features = [{"name": f"x{i}", "kind": "numeric"} for i in range(x.shape[1])]
    model = search._custom_learner("mlp", features, seed=0)(task="multiclass", n_jobs=1, epochs=3)
    model.fit(x, y)
    assert model.model.predict_proba(x[:2]).shape == (2, 10)
    big_x, _ = data(rows=40)
    trained = search._custom_learner("mlp", features, seed=0)(task="multiclass", epochs=3)
    trained.fit(big_x, np.arange(40) % 10)  # early stopping: 4 rows held out
    assert search.refit(trained.model, x, y).predict_proba(x[:2]).shape == (2, 10)


def test_an_mlp_on_a_fold_with_one_row_of_a_class_of_two_trains_without_early_stopping():
    """3 positives among 3,500 rows: a search fold held one, and scikit-learn's stratified
    split for early stopping raised "The least populated classes in y have only 1 member"
    (exit 70, "a bug")."""
    x, _ = data(rows=40)
    y = np.zeros(40, dtype=int)
    y[7] = 1
    features = [{"name": f"x{i}", "kind": "numeric"} for i in range(x.shape[1])]
    model = search._custom_learner("mlp", features, seed=0)(task="binary", n_jobs=1, epochs=3)
    model.fit(x, y)
    assert model.model.predict_proba(x[:2]).shape == (2, 2)
    assert not search._can_stop_early(y) and search._can_stop_early(np.arange(40) % 2)
    trained = search._custom_learner("mlp", features, seed=0)(task="binary", epochs=3)
    trained.fit(x, np.arange(40) % 2)  # early stopping: 4 rows held out, 2 of each class
    assert search.refit(trained.model, x, y).predict_proba(x[:2]).shape == (2, 2)


def test_the_learners_to_come_give_up_the_best_candidates_refit_time():
    """A CatBoost trial of 4 s on a 39-class table meant refits of 8 s against the 3 s the run
    keeps after the search: the learners after it leave that time to the refits."""
    shares = {"a": 0.5, "b": 0.5}
    best = search.Candidate("a", {}, 0.9, None, 1, 4.0, fit_seconds=4.0)
    weak = search.Candidate("c", {}, 0.5, None, 1, 1.0, fit_seconds=100.0)
    deadline = time.monotonic() + 20
    held = search._refit_hold([best, weak], scale=2.5, reserved=3.0)
    assert held == 7.0  # the best candidate's refits, not the slowest one's
    free = search._time_for("b", shares, deadline, ("a", "b"), [best])
    assert (
        19 < free <= 20 and search._time_for("b", shares, deadline, ("a", "b"), [best], held) < 13.5
    )
    assert search._refit_hold([best], scale=0.0, reserved=3.0) == 0.0  # no time budget
    assert search._refit_hold([best], scale=0.5, reserved=3.0) == 0.0  # the kept time suffices

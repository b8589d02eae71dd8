"""The MLP stops at its trial's time budget and at the search's end (FLAML limits no custom
learner's trial), and a refit of a stopped MLP trains as many epochs as it reached."""

from __future__ import annotations

import pickle
import time

import numpy as np

from amlstack.training import search


def data(rows: int = 300, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, 5)).astype(np.float32)
    y = (x[:, 0] - x[:, 1] + rng.normal(size=rows) > 0).astype(int)
    return x, y


FEATURES = [{"name": f"x{i}", "kind": "numeric"} for i in range(5)]


def mlp(deadline: float | None):
    learner = search._custom_learner("mlp", FEATURES, seed=0, deadline=deadline)
    # no early stopping to speak of: only the clock can end training before 60 epochs
    return learner(task="binary", epochs=60, patience=60, batch=32)


def epochs(learner) -> int:
    return learner.model.named_steps["model"].n_iter_


def test_a_passed_deadline_stops_the_mlp_after_one_epoch_and_its_refit_too():
    x, y = data()
    ended = mlp(deadline=time.monotonic() - 1)
    ended.fit(x, y)
    model = ended.model
    assert epochs(ended) == 1
    assert "fit" not in vars(model.named_steps["model"])  # the deadline's wrappers are gone
    assert "_update_no_improvement_count" not in vars(model.named_steps["model"])
    pickle.dumps(model)
    again = search.refit(model, x, y)  # a clone: only its parameters, one epoch
    assert again.named_steps["model"].n_iter_ == 1


def test_a_trial_budget_too_short_for_two_epochs_stops_after_the_first():
    x, y = data()
    trial = mlp(deadline=None)
    trial.fit(x, y, budget=1e-9)
    assert epochs(trial) == 1


def test_without_a_limit_the_mlp_trains_as_before():
    x, y = data()
    unbounded = mlp(deadline=None)
    unbounded.fit(x, y)
    assert epochs(unbounded) > 1
    assert unbounded.model.named_steps["model"].max_iter == 60

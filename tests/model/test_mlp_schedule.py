"""The MLP learner's schedule: enough gradient steps on small data, bank-sized data unchanged."""

from __future__ import annotations

import numpy as np
import pytest

from amlstack.training import search


def mlp_pipeline(rows: int, features: list[dict]):
    """The pipeline the search builds for the MLP at its initial configuration."""
    learner = search._custom_learner("mlp", features, seed=42)
    space = learner.search_space((rows, len(features)), "binary")
    config = {k: v.get("init_value", v["domain"]) for k, v in space.items()}
    return learner(task="binary", **config).estimator_class(), config


def test_large_data_keeps_the_schedule_the_shipped_model_was_trained_with():
    assert search.mlp_schedule(22_400) == {"batch": 256, "epochs": 40, "patience": 5}


@pytest.mark.parametrize("rows", [50, 300, 1000, 4000, 9000])
def test_small_data_gets_about_the_same_number_of_steps(rows):
    plan = search.mlp_schedule(rows)
    steps = plan["epochs"] * -(-rows // plan["batch"])
    assert steps >= search.MLP_STEPS or plan["epochs"] == 200
    assert 32 <= plan["batch"] <= 256


@pytest.mark.slow
def test_the_mlp_learns_a_few_hundred_rows():
    """breast_cancer (shipped with scikit-learn): 455-row folds, 5-fold AUC; 0.976 before."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold

    x, y = load_breast_cancer(return_X_y=True)
    x = x.astype(np.float32)
    features = [{"name": f"f{i}", "kind": "numeric"} for i in range(x.shape[1])]
    aucs = []
    for fit, out in StratifiedKFold(5, shuffle=True, random_state=0).split(x, y):
        model, config = mlp_pipeline(len(fit), features)
        model.fit(x[fit], y[fit])
        aucs.append(roc_auc_score(y[out], model.predict_proba(x[out])[:, 1]))
    assert np.mean(aucs) >= 0.99, aucs
    assert config["batch"] == 32


def test_the_learners_chosen_warnings_do_not_reach_the_terminal(monkeypatch):
    """The MLP's capped epochs printed a ConvergenceWarning with a site-packages path per fit;
    `pipeline run` trains through the same function as `amlstack train`."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    from amlstack.training import train as train_mod

    def fits(*_):
        warnings.warn("Maximum iterations (40) reached", ConvergenceWarning, stacklevel=1)
        warnings.warn("Got `batch_size` less than 1", UserWarning, stacklevel=1)
        warnings.warn("something else", UserWarning, stacklevel=1)
        return "result"

    monkeypatch.setattr(train_mod, "_train", fits)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert train_mod.train(None) == "result"
    assert [str(w.message) for w in caught] == ["something else"]  # others still shown

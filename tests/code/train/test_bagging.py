"""Bagged members: their ONNX export, the tree cap, and reproducible folds."""

from __future__ import annotations

import numpy as np
import pytest

from amlstack.training import ensemble, export
from amlstack.training.bag import Bag
from amlstack.training.search import Candidate, tree_count


def data(rows: int = 300, classes: int = 2):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(rows, 4)).astype(np.float32)
    y = np.digitize(x[:, 0] + 0.5 * rng.normal(size=rows), [-0.5, 0.5][: classes - 1])
    return x, y


def learner(kind: str):
    if kind == "lgbm":
        from lightgbm import LGBMClassifier

        return LGBMClassifier(n_estimators=8, verbose=-1, random_state=0)
    if kind == "xgboost":
        from xgboost import XGBClassifier

        return XGBClassifier(n_estimators=8, random_state=0)
    if kind == "catboost":
        from catboost import CatBoostClassifier

        return CatBoostClassifier(
            n_estimators=8, verbose=0, random_seed=0, allow_writing_files=False
        )
    if kind == "rf":
        from sklearn.ensemble import RandomForestClassifier

        return RandomForestClassifier(n_estimators=6, random_state=0)
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression()


@pytest.mark.parametrize("kind", ["lgbm", "xgboost", "catboost", "rf", "lr"])
@pytest.mark.parametrize("classes", [2, 3])
def test_a_bag_exports_to_the_mean_of_its_models(kind, classes):
    x, y = data(classes=classes)
    bag = ensemble.fit_bag(learner(kind).fit(x, y), x, y, folds=4, seed=0)
    assert len(bag.models) == 4
    expected = np.mean([m.predict_proba(x) for m in bag.models], axis=0)
    np.testing.assert_allclose(bag.predict_proba(x), expected)
    graph = export.to_onnx(bag, x.shape[1])
    np.testing.assert_allclose(export.onnx_proba(graph, x), expected, atol=1e-5)
    # and inside an ensemble, beside a model that is not bagged
    fused = export.fuse([(graph, 0.5), (export.to_onnx(learner("lr").fit(x, y), 4), 0.5)])
    assert export.onnx_proba(fused, x).shape == (len(x), classes)


def test_folds_are_seeded():
    x, y = data()
    template = learner("lgbm").fit(x, y)
    one = ensemble.fit_bag(template, x, y, folds=5, seed=3).predict_proba(x)
    assert np.array_equal(one, ensemble.fit_bag(template, x, y, folds=5, seed=3).predict_proba(x))
    assert not np.array_equal(
        one, ensemble.fit_bag(template, x, y, folds=5, seed=4).predict_proba(x)
    )


def candidate(name: str, model, bag_of: int | None, x, y) -> Candidate:
    cand = Candidate(name, {}, 0.9, model.fit(x, y), 1, 0.0)
    if bag_of:
        cand.bag = ensemble.fit_bag(cand.estimator, x, y, folds=bag_of, seed=0)
    return cand


def test_the_tree_cap_unbags_the_biggest_bag_first():
    x, y = data()
    from lightgbm import LGBMClassifier

    big = candidate("lgbm", LGBMClassifier(n_estimators=40, verbose=-1), 5, x, y)  # 200 trees
    small = candidate("rf", learner("rf"), 5, x, y)  # 30 trees
    linear = candidate("lr", learner("lr"), 5, x, y)  # none
    members = [small, big, linear]
    ensemble.bag_within(members, max_trees=250)
    assert all(c.bag is not None for c in members)  # 230 trees: all fit
    ensemble.bag_within(members, max_trees=100)
    assert big.bag is None and small.bag is not None and linear.bag is not None
    assert tree_count(small.bag) + tree_count(big.estimator) <= 100
    ensemble.bag_within(members, max_trees=10)  # cannot fit: every tree bag goes, lr stays
    assert small.bag is None and linear.bag is not None


def test_a_bag_counts_the_trees_of_all_its_models():
    x, y = data()
    bag = Bag([learner("rf").fit(x, y) for _ in range(3)])
    assert tree_count(bag) == 18

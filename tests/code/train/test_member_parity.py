"""A member whose ONNX export disagrees with it is dropped with a notice; the check stays strict."""

from __future__ import annotations

import numpy as np
import pytest

from amlstack.errors import InternalError, UserError
from amlstack.training import export, train
from amlstack.training.search import Candidate


def fitted(flip: bool = False):
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 3)).astype(np.float32)
    y = (x[:, 0] + 0.3 * rng.normal(size=200) > 0).astype(int)
    return LogisticRegression().fit(x, 1 - y if flip else y), x


def test_unfaithful_member_is_dropped_and_the_rest_reweighted(monkeypatch):
    good, x = fitted()
    bad, _ = fitted()
    wrong, _ = fitted(flip=True)
    real = export.to_onnx
    monkeypatch.setattr(export, "to_onnx", lambda est, n: real(wrong if est is bad else est, n))
    candidates = [Candidate("lr", {}, 0.9, good, 1, 0.0), Candidate("mlp", {}, 0.8, bad, 1, 0.0)]
    notices: list[str] = []
    kept = train._faithful_members(candidates, {0: 0.25, 1: 0.75}, x, notices.append)
    assert kept == {0: 1.0}
    assert len(notices) == 1 and notices[0].startswith("ensemble member mlp: its ONNX export")


def test_no_faithful_member_is_refused(monkeypatch):
    bad, x = fitted()
    wrong, _ = fitted(flip=True)
    real = export.to_onnx
    monkeypatch.setattr(export, "to_onnx", lambda est, n: real(wrong, n))
    with pytest.raises(UserError, match="no ensemble member exports faithfully"):
        train._faithful_members([Candidate("lr", {}, 0.9, bad, 1, 0.0)], {0: 1.0}, x, print)


def test_whole_graph_parity_stays_strict():
    base = np.full((3, 2), 0.5, dtype=np.float32)
    train._check_parity(base, base + 5e-6)
    with pytest.raises(
        InternalError, match="differs from the trained model"
    ):  # a bug, not the user
        train._check_parity(base, base + 5e-5)


def test_a_lightgbm_member_splitting_large_numbers_exports_faithfully():
    # epoch seconds near 1.3e9 are 128 apart in float32: LightGBM's double thresholds sat
    # midway, the graph's float32 ones were rounded up as often as down, and a row at the upper
    # value took the other branch (a member 0.15 off, dropped from the shipped model)
    from lightgbm import LGBMClassifier

    rng = np.random.default_rng(0)
    seconds = 1.26e9 + rng.integers(0, 2_000_000, size=(2000, 1)) * 64.0
    x = np.hstack([seconds, rng.normal(size=(2000, 1))]).astype(np.float32)
    y = ((x[:, 0] % 1e5 > 5e4) ^ (x[:, 1] > 0)).astype(int)
    model = LGBMClassifier(n_estimators=60, num_leaves=63, verbose=-1).fit(x, y)
    graph = export.to_onnx(model, x.shape[1])
    np.testing.assert_allclose(export.onnx_proba(graph, x), model.predict_proba(x), atol=1e-5)

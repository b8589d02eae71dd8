"""A member whose ONNX export disagrees with it is dropped with a notice; the check stays strict."""

from __future__ import annotations

import json

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


def test_a_member_dropped_at_export_leaves_the_figures_of_the_blend_that_ships(
    tmp_path, monkeypatch
):
    """The map, the threshold and the held-out figures are redone without the dropped member:
    they described the blend with it."""
    from amlstack.training.train import TrainConfig

    rng = np.random.default_rng(1)
    x = rng.normal(size=(1500, 3))
    signal = x[:, 0] + np.sin(3 * x[:, 1]) + 0.5 * x[:, 2] * (x[:, 0] > 0)
    y = np.where(signal + 0.8 * rng.normal(size=1500) > 0, "yes", "no")
    data = tmp_path / "mixed.csv"
    data.write_text(
        "a,b,c,y\n"
        + "".join(f"{a:.4f},{b:.4f},{c:.4f},{t}\n" for (a, b, c), t in zip(x, y, strict=True))
    )
    real_faithful, real_map, real_figures = (
        train._faithful_members,
        train._map_and_threshold,
        train._holdout_figures,
    )
    seen: dict[str, list] = {"map": [], "figures": [], "kept": [], "shipped": []}

    def drop_the_last(candidates, weights, x_test, notice):
        assert len(weights) >= 2, "the test needs a blend of two members"
        kept = dict(real_faithful(candidates, weights, x_test, notice))
        del kept[max(kept)]
        seen["kept"].append(set(kept))
        seen["shipped"] = [(candidates, {i: candidates[i].estimator for i in weights})]
        return {i: w / sum(kept.values()) for i, w in kept.items()}

    def spy_map(candidates, weights, *args, **kwargs):
        seen["map"].append(set(weights))
        return real_map(candidates, weights, *args, **kwargs)

    def spy_figures(candidates, measured, weights, *args):
        out = real_figures(candidates, measured, weights, *args)
        used = {id(model) for model in measured.values()}
        seen["figures"].append((set(weights), out[1], used))
        return out

    monkeypatch.setattr(train, "_faithful_members", drop_the_last)
    monkeypatch.setattr(train, "_map_and_threshold", spy_map)
    monkeypatch.setattr(train, "_holdout_figures", spy_figures)
    config = TrainConfig(
        data=data, target="y", out=tmp_path / "art", time_budget=None, max_iter=4,
        learners=("lgbm", "lr"), seed=0,
    )  # fmt: skip
    result = train.train(config)
    meta = json.loads((result.path / "model.json").read_text())
    (kept,) = seen["kept"]
    assert seen["map"][-1] == kept and seen["figures"][-1][0] == kept
    assert meta["metrics"]["holdout"]["AUC"] == pytest.approx(
        seen["figures"][-1][1]["AUC"], abs=1e-6
    )
    assert len(meta["model"]["members"]) == len(kept)
    # measured with the models that never saw the held-out rows, then the full refits ship
    (first, *_), (last, *_) = seen["figures"][0][2:], seen["figures"][-1][2:]
    candidates, shipped = seen["shipped"][0]
    assert first == last and not last & {id(e) for e in shipped.values()}
    assert all(candidates[i].estimator is shipped[i] for i in shipped)

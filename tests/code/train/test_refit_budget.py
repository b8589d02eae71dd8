"""Refits stay within the time budget: a member whose two refits (at its search pace, in
proportion to the rows) would not fit in what the budget has left is left out with a notice;
the shipped model still learns from every labelled row."""

from __future__ import annotations

import numpy as np

from amlstack.training import ensemble, search
from amlstack.training.search import Candidate


def pool(rows: int = 200):
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, rows)
    good = np.column_stack([1 - y * 0.8 - 0.1, y * 0.8 + 0.1])
    noise = rng.uniform(size=(rows, 1))
    weak = np.column_stack([1 - noise[:, 0], noise[:, 0]])
    cands = [
        Candidate("a", {}, 0.9, None, 1, 1.0, val_proba=good),
        Candidate("b", {}, 0.8, None, 1, 1.0, val_proba=good * 0.9 + weak * 0.1),
        Candidate("c", {}, 0.5, None, 1, 1.0, val_proba=weak),
    ]
    return cands, y


def test_members_whose_refits_fit_are_kept_as_they_are():
    cands, y = pool()
    weights = {0: 0.5, 1: 0.3, 2: 0.2}
    costs = {0: 1.0, 1: 1.0, 2: 1.0}
    kept = ensemble.affordable_members(cands, weights, y, "auc", costs=costs, seconds_left=3.0)
    assert kept is weights


def test_the_best_blend_of_the_members_that_fit_is_kept():
    cands, y = pool()
    weights = {0: 0.5, 1: 0.3, 2: 0.2}
    kept = ensemble.affordable_members(
        cands, weights, y, "auc", costs={0: 10.0, 1: 1.0, 2: 1.0}, seconds_left=3.0
    )
    assert set(kept) == {1} or set(kept) == {1, 2}
    assert 0 not in kept and abs(sum(kept.values()) - 1) < 1e-9


def test_when_no_member_fits_the_best_ships_alone_not_the_cheapest():
    cands, y = pool()
    kept = ensemble.affordable_members(
        cands, {0: 0.2, 1: 0.4, 2: 0.4}, y, "auc", costs={0: 10.0, 1: 5.0, 2: 1.0},
        seconds_left=0.5,
    )  # fmt: skip
    assert kept == {0: 1.0}


def test_a_bags_estimate_is_its_out_of_fold_time_scaled_to_every_row():
    cand = Candidate("a", {}, 0.9, None, 1, 1.0, fit_seconds=2.0)
    assert ensemble.refit_seconds(cand, search_rows=100, train_rows=150, all_rows=200) == 7.0
    cand.bag, cand.bag_seconds = object(), 3.0
    assert ensemble.refit_seconds(cand, search_rows=100, train_rows=150, all_rows=200) == 4.0


def fake_search(x_fit, y_fit, x_val, y_val, **_):
    """Two quick real candidates, the LightGBM one ranked first."""
    from lightgbm import LGBMClassifier
    from sklearn.linear_model import LogisticRegression

    found = []
    for name, model in (
        ("lgbm", LGBMClassifier(n_estimators=10, verbose=-1)),
        ("lr", LogisticRegression(max_iter=200)),
    ):
        model.fit(x_fit, y_fit)
        found.append(Candidate(name, {}, 0.9 - len(found) * 0.1, model, 1, 0.1, 0.01))
    return found


def run(tmp_path, small_csv, monkeypatch, lgbm_refit_s: float):
    from amlstack.training.train import TrainConfig, train

    monkeypatch.setattr(search, "search", fake_search)
    monkeypatch.setattr(ensemble, "choose_members", lambda *a, **k: {0: 0.5, 1: 0.5})
    monkeypatch.setattr(
        ensemble,
        "refit_seconds",
        lambda cand, **_: lgbm_refit_s if cand.learner == "lgbm" else 0.0,
    )
    notices = []
    config = TrainConfig(
        data=small_csv, target="y", out=tmp_path, name="m", time_budget=600, seed=0
    )
    return train(config, notice=notices.append), notices


def test_a_member_whose_refits_do_not_fit_is_left_out_with_a_notice(
    tmp_path, small_csv, monkeypatch
):
    result, notices = run(tmp_path, small_csv, monkeypatch, lgbm_refit_s=1e6)
    assert [m["learner"] for m in result.members] == ["lr"]
    assert any(
        n.startswith("ensemble member lgbm left out of the shipped model: refitting all 2")
        for n in notices
    )
    card = (result.path / "model.json").read_text()
    assert '"shipped_model":' in card


def test_members_whose_refits_fit_all_ship(tmp_path, small_csv, monkeypatch):
    result, notices = run(tmp_path, small_csv, monkeypatch, lgbm_refit_s=1.0)
    assert sorted(m["learner"] for m in result.members) == ["lgbm", "lr"]
    assert not any("refitting" in n for n in notices)


def test_a_lone_member_past_the_budget_is_refitted_anyway_and_says_so(
    tmp_path, small_csv, monkeypatch
):
    monkeypatch.setattr(ensemble, "affordable_members", lambda *a, **k: {0: 1.0})
    result, notices = run(tmp_path, small_csv, monkeypatch, lgbm_refit_s=1e6)
    assert [m["learner"] for m in result.members] == ["lgbm"]
    [line] = [n for n in notices if n.startswith("refitting lgbm")]
    assert "1,000,000 s, past the time budget" in line and "refitted anyway" in line


def test_refit_notices_show_tenths_below_ten_seconds():
    from amlstack.training.train import _about

    assert (_about(0.6), _about(1.4), _about(12.4), _about(-3.0)) == (
        "0.6 s", "1.4 s", "12 s", "0.0 s",
    )  # fmt: skip


def test_the_search_keeps_a_fifth_of_the_budget_however_long_reading_took():
    """85 % of the budget less the time spent reading the data, but at least 20 % (with a
    notice): a slow read must not leave the search nothing."""
    import time
    from types import SimpleNamespace

    import pytest

    from amlstack.errors import UserError
    from amlstack.training import train

    notices: list[str] = []
    now = time.monotonic()
    budget = train._search_budget(SimpleNamespace(time_budget=100.0), now, notices.append)
    assert budget == pytest.approx(85.0, abs=1.0) and notices == []
    budget = train._search_budget(SimpleNamespace(time_budget=100.0), now - 80, notices.append)
    assert budget == 20.0
    assert notices == ["reading the data took 80 s; searching 20 s anyway"]
    assert train._search_budget(SimpleNamespace(time_budget=None), now, notices.append) is None
    with pytest.raises(UserError, match="--time-budget 1: too short to search at all"):
        train._search_budget(SimpleNamespace(time_budget=1.0), now, notices.append)

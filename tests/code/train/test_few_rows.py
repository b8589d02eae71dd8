"""Held-out figures that rest on a handful of rows of a class say so, once."""

from __future__ import annotations

import html
import json

import numpy as np

from amlstack.training.evaluate import few_rows


def test_a_rare_class_in_the_holdout_is_one_notice_in_model_json_and_the_report(tmp_path):
    from amlstack.training.train import TrainConfig, train

    rng = np.random.default_rng(0)
    x = rng.normal(size=200)
    y = np.where(np.arange(200) < 15, "Yes", "No")  # 15 buyers: 3 held out
    data = tmp_path / "rare.csv"
    data.write_text("x,y\n" + "".join(f"{a:.4f},{b}\n" for a, b in zip(x, y, strict=True)))
    said = []
    config = TrainConfig(
        data=data, target="y", out=tmp_path / "art", time_budget=None, max_iter=2,
        learners=("lr",), seed=0,
    )  # fmt: skip
    result = train(config, notice=said.append)
    [line] = [s for s in said if "read the held-out figures as rough" in s]
    assert line.startswith("the held-out figures rest on 3 rows of class 'Yes'; ")
    meta = json.loads((result.path / "model.json").read_text())
    assert meta["metrics"]["few_rows"] == line
    assert html.escape(line) in (result.path / "report" / "index.html").read_text()


def test_enough_rows_of_every_class_say_nothing():
    y = np.repeat([0, 1], 20)
    assert few_rows(["a", "b"], y, np.repeat([0, 1], 100)) is None
    said = few_rows(["a", "b", "c"], np.r_[y, [2] * 4], np.repeat([0, 1, 2], [50, 50, 12]))
    assert said == (
        "the held-out figures rest on 4 rows of class 'c'; members were chosen on 12 rows of "
        "class 'c': read the held-out figures as rough"
    )


def test_two_thin_classes_are_both_named():
    said = few_rows(["a", "b"], np.repeat([0, 1], [3, 4]), np.repeat([0, 1], [50, 50]))
    assert said == (
        "the held-out figures rest on 3 rows of class 'a' and 4 of class 'b': read the held-out "
        "figures as rough"
    )


def test_a_class_with_no_held_out_row_is_said_to_have_none():
    """It read "rest on 0 rows of class 'c'"."""
    said = few_rows(["a", "b", "c"], np.repeat([0, 1], 40), np.repeat([0, 1, 2], [50, 50, 30]))
    assert said == (
        "the held-out figures rest on no row of class 'c': read the held-out figures as rough"
    )

"""The training report's plots on held-out rows as a many-class target leaves them."""

from __future__ import annotations

import warnings

import numpy as np

from amlstack.training.evaluate import classification_metrics
from amlstack.training.report import write_report


def test_a_class_without_held_out_rows_draws_without_a_library_warning(tmp_path):
    # four classes; the last one (a rare one) has no held-out row
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1, 2], 10)
    proba = rng.dirichlet(np.ones(4), size=len(y))
    classes = ["a", "b", "c", "rare"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        metrics = classification_metrics(y, proba, classes, 0.5)
        write_report(
            tmp_path, title="t", y=y, proba=proba, classes=classes, metrics=metrics,
            leaderboard=[], importance={"x": 0.1},
        )  # fmt: skip
    assert (tmp_path / "roc.png").is_file()

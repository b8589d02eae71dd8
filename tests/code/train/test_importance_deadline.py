"""Permutation importance stops at its deadline (1,500 columns took 40 s of a 20 s budget);
without one, every column is measured as before."""

from __future__ import annotations

import time

import numpy as np

from amlstack.training.report import permutation_importance


def setup():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 4))
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(int)

    def predict(m):
        p = 1 / (1 + np.exp(-(m[:, 0] + 0.5 * m[:, 1])))
        return np.column_stack([1 - p, p])

    return predict, x, y, ["a", "b", "c", "d"]


def test_no_column_is_measured_past_the_deadline():
    predict, x, y, names = setup()
    assert permutation_importance(predict, x, y, names, 0, time.monotonic() - 1) == {}


def test_without_a_deadline_every_column_is_measured_the_same_way():
    predict, x, y, names = setup()
    found = permutation_importance(predict, x, y, names, 0)
    assert list(found) == names and found["a"] > found["b"] > 0 and found["c"] == 0
    assert permutation_importance(predict, x, y, names, 0, time.monotonic() + 600) == found
    assert x.flags.writeable and np.array_equal(x, setup()[1])  # the rows are left as given

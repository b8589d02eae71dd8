"""The decision threshold and the F1 reported are about the rarer class of a binary target."""

from __future__ import annotations

import numpy as np

from amlstack.artifact.names import F1
from amlstack.training.evaluate import best_threshold, classification_metrics


def _scores(positive_share: float) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    y = (rng.random(3000) < positive_share).astype(int)
    p = np.clip(0.5 + 0.3 * (2 * y - 1) * rng.random(3000) + rng.normal(0, 0.2, 3000), 0, 1)
    return y, np.c_[1 - p, p]


def test_a_majority_positive_class_is_cut_for_the_rare_class_as_a_minority_one_is():
    """95 % `good` (classes[1]) used to be cut for good's F1: every row was labelled good."""
    y, proba = _scores(0.95)
    flipped_y, flipped = 1 - y, proba[:, ::-1]  # the same data with the labels' order swapped
    cut, flipped_cut = best_threshold(y, proba), best_threshold(flipped_y, flipped)
    labels = proba[:, 1] >= cut
    assert 0 < (~labels).sum() < len(y)  # some rows get the rare class
    np.testing.assert_array_equal(labels, ~(flipped[:, 1] >= flipped_cut))
    good = classification_metrics(y, proba, ["bad", "good"], cut)
    mirrored = classification_metrics(flipped_y, flipped, ["good", "bad"], flipped_cut)
    assert good[F1] == mirrored[F1] < 0.9  # the rare class's F1, not the majority's

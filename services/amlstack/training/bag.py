"""A bagged model: the mean of k models of one configuration, each fitted on k-1 of k folds.

On small data every candidate is fitted once per fold anyway, to score it out of fold
(``ensemble.selection_rows``); averaging those fold models rather than refitting one model
lowers the variance that a few thousand rows leave (as AutoGluon's bagged models). The mean is
what the exported graph computes too: ``export.to_onnx`` fuses the models with weight 1/k.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass
class Bag:
    models: list[Any]  # fitted scikit-learn-API models, one per fold

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        return np.mean([model.predict_proba(x) for model in self.models], axis=0)


def fold_splitter(folds: int, seed: int):
    """The seeded stratified k-fold splitter behind every fold of training (search and bags)."""
    from sklearn.model_selection import StratifiedKFold

    return StratifiedKFold(folds, shuffle=True, random_state=seed)


def fold_splits(y: np.ndarray, folds: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Seeded stratified (fit rows, out rows) pairs: the same rows give the same folds."""
    return list(fold_splitter(folds, seed).split(np.zeros((len(y), 1)), y))

"""Metrics: the search metric, held-out classification metrics, the decision threshold."""

from __future__ import annotations

from typing import Any

import numpy as np

from amlstack.artifact.names import ACCURACY, AUC, AUC_WEIGHTED, F1, LOG_LOSS


def score(metric: str, y: np.ndarray, proba: np.ndarray) -> float:
    """The search metric, higher is better (log loss is negated)."""
    from sklearn.metrics import accuracy_score, average_precision_score, f1_score

    if metric in ("auc", "auc_weighted"):
        return auc(y, proba, weighted=metric == "auc_weighted")
    if metric == "accuracy":
        return float(accuracy_score(y, proba.argmax(axis=1)))
    if metric == "log_loss":
        return -_log_loss(y, proba)
    if metric == "f1":
        average = "binary" if proba.shape[1] == 2 else "macro"
        return float(f1_score(y, proba.argmax(axis=1), average=average))
    if metric == "average_precision":
        return float(average_precision_score(y, proba[:, 1]))
    raise ValueError(metric)


def _log_loss(y: np.ndarray, proba: np.ndarray) -> float:
    """Log loss of rows renormalised in float64: a float32 member (the MLP) leaves sums a few
    1e-8 from one, which scikit-learn warns about."""
    from sklearn.metrics import log_loss

    clipped = np.clip(proba.astype(np.float64), 1e-15, 1)
    rows = clipped / clipped.sum(axis=1, keepdims=True)
    return float(log_loss(y, rows, labels=range(proba.shape[1])))


def auc(y: np.ndarray, proba: np.ndarray, weighted: bool = False) -> float:
    """Binary AUC; for more classes, one-vs-rest averaged over the classes ``y`` holds.

    A class too rare to appear among ``y`` (a two-row class whose rows both went to training)
    has no AUC of its own; averaging over the others keeps the figure defined, where
    scikit-learn's multi-class score would be NaN for every model.
    """
    from sklearn.metrics import roc_auc_score

    if proba.shape[1] == 2:
        return float(roc_auc_score(y, proba[:, 1]))
    present = np.unique(y)
    per_class = [rank_auc(y == c, proba[:, c]) for c in present]
    counts = [np.sum(y == c) for c in present] if weighted else None
    return float(np.average(per_class, weights=counts))


def rank_auc(positive: np.ndarray, score: np.ndarray) -> float:
    """AUC as the Mann-Whitney statistic over average ranks (ties count half), which is
    scikit-learn's ``roc_auc_score`` to rounding. Its input checks cost more than the sort on
    every call, and a multi-class AUC is one call per class in every trial, every ensemble
    step and every permuted feature (154 calls, 9.7 s of a 20 s budget, on a 9-class table)."""
    order = np.argsort(score, kind="stable")
    ordered = score[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    ends = np.r_[starts[1:], len(ordered)]
    ranks = np.empty(len(ordered))
    ranks[order] = np.repeat((starts + ends + 1) / 2.0, ends - starts)  # 1-based, tie-averaged
    n_pos = int(np.count_nonzero(positive))
    n_neg = len(ordered) - n_pos
    if not n_pos or not n_neg:  # as scikit-learn: no AUC without both kinds of rows
        raise ValueError("Only one class present in y_true. ROC AUC score is not defined.")
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


FEW_ROWS = 20  # of a class, below which a held-out figure moves by whole points with one row


def few_rows(classes: list[Any], holdout: np.ndarray, selection: np.ndarray) -> str | None:
    """The caveat when the held-out rows, or the rows members and threshold were chosen on
    (``selection``), hold fewer than `FEW_ROWS` rows of a class (class indices), naming the
    rarest; None when every class has enough. One line for both: at 0.5 % positives both are
    thin, and it is one fact about the figures."""
    chosen = "members and threshold" if len(classes) == 2 else "members"
    parts = []
    for rows, what in ((holdout, "the held-out figures rest on"),
                       (selection, f"{chosen} were chosen on")):  # fmt: skip
        counts = np.bincount(rows, minlength=len(classes))
        thin = np.flatnonzero(counts < FEW_ROWS)
        if not len(thin):
            continue
        rarest = int(thin[np.argmin(counts[thin])])
        n = int(counts[rarest])
        rows_of = "no row" if n == 0 else f"{n} row{'s' * (n != 1)}"
        text = f"{what} {rows_of} of class {classes[rarest]!r}"
        others = [int(c) for c in thin if c != rarest]
        if len(others) == 1:
            text += f" and {int(counts[others[0]])} of class {classes[others[0]]!r}"
        elif others:
            text += f" (and fewer than {FEW_ROWS} of {len(others)} other classes)"
        parts.append(text)
    if not parts:
        return None
    return "; ".join(parts) + ": read the held-out figures as rough"


def rarer_class(y: np.ndarray) -> int:
    """The binary class F1, precision and recall are about: the positive one (``classes[1]``)
    unless it is the majority (a 95 % ``good`` / 5 % ``bad`` target is about ``bad``)."""
    return 0 if np.mean(y == 1) > 0.5 else 1


def best_threshold(y: np.ndarray, proba: np.ndarray) -> float:
    """The cut on the positive class's probability (label it at or above) that maximises the F1
    of the rarer class (binary only): tuned for a majority class, it labels every row with it."""
    from sklearn.metrics import precision_recall_curve

    rare = rarer_class(y)
    score = proba[:, 1] if rare == 1 else 1.0 - proba[:, 1]
    precision, recall, thresholds = precision_recall_curve(y == rare, score)
    f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
    if not len(thresholds):
        return 0.5
    cut = float(thresholds[int(np.argmax(f1[:-1]))])
    # the rarer class 0 is labelled where 1 - p >= cut, i.e. p <= 1 - cut: class 1 above that
    return cut if rare == 1 else float(np.nextafter(1.0 - cut, 2.0))


def classification_metrics(
    y: np.ndarray, proba: np.ndarray, classes: list[Any], threshold: float
) -> dict[str, Any]:
    """Everything reported for a model on held-out rows."""
    from sklearn.metrics import (
        accuracy_score,
        confusion_matrix,
        f1_score,
        precision_score,
        recall_score,
    )

    binary = proba.shape[1] == 2
    pred = (proba[:, 1] >= threshold).astype(int) if binary else proba.argmax(axis=1)
    average = "binary" if binary else "macro"
    about = {"pos_label": rarer_class(y)} if binary else {}
    return {
        "rows": len(y),
        AUC: auc(y, proba),
        AUC_WEIGHTED: auc(y, proba, weighted=True),
        ACCURACY: float(accuracy_score(y, pred)),
        "precision": float(precision_score(y, pred, average=average, zero_division=0, **about)),
        "recall": float(recall_score(y, pred, average=average, zero_division=0, **about)),
        F1: float(f1_score(y, pred, average=average, zero_division=0, **about)),
        LOG_LOSS: _log_loss(y, proba),
        "threshold": float(threshold) if binary else None,
        "confusion_matrix": {
            "labels": [str(c) for c in classes],
            "matrix": confusion_matrix(y, pred, labels=range(len(classes))).tolist(),
        },
    }

"""Challenger vs champion on the same held-out rows, with paired bootstrap confidence intervals."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from amlstack.artifact.names import ACCURACY, AUC, F1, LOG_LOSS
from amlstack.errors import DataError

PRIMARY_METRIC = AUC
BOOTSTRAP = 300
CONFIDENCE = 0.95


def load_model(directory: Path):
    from amlstack.artifact.reader import Model

    return Model(directory)


def text_columns(model, frame) -> dict[str, list[str | None]]:
    """The model's columns of ``frame`` (as `read_table` makes it: text, NaN where missing) as
    the text cells `amlstack predict` reads, missing as None."""
    return {
        name: frame[name].astype(str).astype(object).where(frame[name].notna(), None).tolist()
        for name in model.feature_names
    }


def encode_frame(model, frame) -> np.ndarray:
    """The model's input for ``frame``, read as `amlstack predict` reads a file (formats,
    markers, dates, missing words); a cell it would refuse is a DataError naming row and
    column."""
    from amlstack.artifact.table import TableError, encode_text_columns

    try:
        return encode_text_columns(model.features, text_columns(model, frame)).matrix
    except TableError as exc:
        raise DataError(f"evaluation rows: {exc}") from None


def client_records(model, frame) -> list[dict[str, Any]]:
    """The rows of ``frame`` as a JSON client sends them to the scorer: numbers as numbers
    (read in the column's format), text stripped, missing values null."""
    from amlstack.artifact.formats import is_missing
    from amlstack.artifact.table import TableError, parse_numbers

    cells = text_columns(model, frame)
    typed: dict[str, list[Any]] = {}
    for feature in model.features:
        column = cells[feature.name]
        if feature.kind != "numeric":
            typed[feature.name] = [None if is_missing(c) else c.strip() for c in column]
            continue
        try:
            values = parse_numbers(column, feature)
        except TableError as exc:
            raise DataError(f"evaluation rows: {exc}") from None
        typed[feature.name] = [None if np.isnan(v) else v for v in values.tolist()]
    names = model.feature_names
    return [
        dict(zip(names, row, strict=True)) for row in zip(*(typed[n] for n in names), strict=True)
    ]


def predict_frame(model, frame, classes: list[str] | None = None) -> np.ndarray:
    """Probability of the positive class (``classes[1]``) for every row of ``frame``; with
    ``classes`` (more than two), one column per class in that order, 0 for a class the model
    does not know."""
    proba = model.predict_proba(encode_frame(model, frame)).astype(np.float64)
    if classes is None:
        return proba[:, 1]
    own = [str(c) for c in model.classes]
    out = np.zeros((len(proba), len(classes)))
    for j, label in enumerate(classes):
        if label in own:
            out[:, j] = proba[:, own.index(label)]
    return out


def multiclass_metrics(y: np.ndarray, proba: np.ndarray) -> dict[str, float]:
    """AUC, accuracy, F1 and log loss as training reports them for more than two classes:
    one-vs-rest AUC averaged over the classes ``y`` holds, the most probable class as the
    label, macro F1."""
    from amlstack.training.evaluate import auc, score

    one_class = len(np.unique(y)) < 2  # a bootstrap draw of one class: no AUC (left out of the CI)
    return {
        AUC: float("nan") if one_class else auc(y, proba),
        ACCURACY: score(ACCURACY, y, proba),
        F1: score("f1", y, proba),
        LOG_LOSS: -score(LOG_LOSS, y, proba),
    }


def _metrics(y: np.ndarray, score: np.ndarray, threshold: float, rare: int) -> dict[str, float]:
    """`point_metrics` of a binary score, `multiclass_metrics` of a probability matrix."""
    if score.ndim == 2:
        return multiclass_metrics(y, score)
    return point_metrics(y, score, threshold, rare)


def roc_auc(y: np.ndarray, score: np.ndarray) -> float:
    """Mann-Whitney AUC with average ranks for ties (no sklearn needed per bootstrap draw)."""
    from scipy.stats import rankdata

    pos = y.astype(bool)
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(score)
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def point_metrics(
    y: np.ndarray, score: np.ndarray, threshold: float, rare: int = 1
) -> dict[str, float]:
    """AUC, accuracy, F1 and log loss of one model; the F1 is about class ``rare`` (0 or 1), as
    training's report is about the rarer class of its held-out rows."""
    pred = score >= threshold
    hit, truth = (pred, y == 1) if rare == 1 else (~pred, y == 0)
    tp = float(np.sum(hit & truth))
    fp = float(np.sum(hit & ~truth))
    fn = float(np.sum(~hit & truth))
    clipped = np.clip(score, 1e-7, 1 - 1e-7)
    return {
        AUC: roc_auc(y, score),
        ACCURACY: float(np.mean(pred == (y == 1))),
        F1: 2 * tp / (2 * tp + fp + fn) if tp else 0.0,
        LOG_LOSS: float(-np.mean(y * np.log(clipped) + (1 - y) * np.log(1 - clipped))),
    }


def _interval(values: np.ndarray) -> list[float]:
    alpha = (1 - CONFIDENCE) / 2
    finite = values[np.isfinite(values)]
    return [float(np.quantile(finite, alpha)), float(np.quantile(finite, 1 - alpha))]


def bootstrap(
    y: np.ndarray, scores: dict[str, np.ndarray], thresholds: dict[str, float], *, seed: int = 0
) -> dict[str, dict[str, Any]]:
    """Metrics with CIs per model; the same resamples for every model, so deltas are paired.
    Binary: ``y`` is 0/1 and each score p(classes[1]); more classes: ``y`` holds class indices
    and each score is a probability matrix (`predict_frame` with ``classes``)."""
    from amlstack.training.evaluate import rarer_class

    rng = np.random.default_rng(seed)
    rare = rarer_class(y)  # of all the rows, so every draw's F1 is about the same class
    draws = {name: {m: [] for m in (AUC, ACCURACY, F1, LOG_LOSS)} for name in scores}
    for _ in range(BOOTSTRAP):
        idx = rng.integers(0, len(y), len(y))
        for name, score in scores.items():
            for metric, value in _metrics(y[idx], score[idx], thresholds[name], rare).items():
                draws[name][metric].append(value)
    out: dict[str, dict[str, Any]] = {}
    for name, score in scores.items():
        point = _metrics(y, score, thresholds[name], rare)
        out[name] = {
            m: {"value": point[m], "ci": _interval(np.asarray(draws[name][m]))} for m in point
        }
    if "champion" in scores and "challenger" in scores:
        out["delta"] = {
            m: {
                "value": out["challenger"][m]["value"] - out["champion"][m]["value"],
                "ci": _interval(
                    np.asarray(draws["challenger"][m]) - np.asarray(draws["champion"][m])
                ),
            }
            for m in draws["challenger"]
        }
    return out


def _classes(models: dict[str, Any]) -> list[str]:
    """The classes the evaluation is about: the challenger's, then any only the champion has."""
    classes = [str(c) for c in models["challenger"].classes]
    if "champion" in models:
        classes += [str(c) for c in models["champion"].classes if str(c) not in classes]
    return classes


def _known_labels(holdout, labels: np.ndarray, classes: list[str]):
    """The holdout rows whose label some model learnt, and a warning per label left out: a
    class whose every row was held out (a handful of rows in the file) is no class either
    model can predict, and scoring it as the other class would flatter or sink both alike."""
    known = np.isin(labels, classes)
    if known.all():
        return holdout, labels, []
    left, counts = np.unique(labels[~known], return_counts=True)
    warnings = [
        f"{n} holdout row(s) labelled {label!r}, which neither model learnt, left out of the "
        "comparison"
        for label, n in zip(left.tolist(), counts.tolist(), strict=True)
    ]
    if not known.any():
        raise DataError(f"no holdout row has a label the models learnt ({'; '.join(warnings)})")
    return holdout[known], labels[known], warnings


def evaluate(
    holdout,
    target: str,
    challenger: Path,
    champion: Path | None = None,
    *,
    seed: int = 0,
) -> dict[str, Any]:
    """Score both models on ``holdout`` (a DataFrame neither trained on) and compare them."""
    models = {"challenger": load_model(challenger)}
    if champion is not None:
        models["champion"] = load_model(champion)
    classes = _classes(models)
    labels = holdout[target].astype(str).to_numpy()
    holdout, labels, warnings = _known_labels(holdout, labels, classes)
    if len(classes) == 2:
        y = (labels == classes[1]).astype(np.int64)
        scores = {name: predict_frame(m, holdout) for name, m in models.items()}
    else:  # every model's probabilities in one class order, so AUCs are about the same classes
        y = np.array([classes.index(label) for label in labels], dtype=np.int64)
        scores = {name: predict_frame(m, holdout, classes) for name, m in models.items()}
    thresholds = {name: m.threshold for name, m in models.items()}
    return {
        "rows": len(holdout),
        "warnings": warnings,
        "positives": int(y.sum()) if len(classes) == 2 else None,
        "classes": {name: [str(c) for c in m.classes] for name, m in models.items()},
        "primary_metric": PRIMARY_METRIC,
        "bootstrap": {"draws": BOOTSTRAP, "confidence": CONFIDENCE, "seed": seed},
        "models": {
            name: {"artifact": str(Path(m.directory)), "version": m.version}
            for name, m in models.items()
        },
        "metrics": bootstrap(y, scores, thresholds, seed=seed),
        "_scores": scores,  # kept in memory for the report's ROC plot, not written out
        "_y": y,
    }

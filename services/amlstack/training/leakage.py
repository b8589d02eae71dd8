"""Target leakage: a feature column that alone tells the classes apart on the training rows.

Such a column is most often derived from the target (a birth weight next to "low birth
weight") or known only after it, and the model then scores 1.0 on the holdout and nothing on
new rows. It is only named (a ``Decision``): the column may be a real, strong predictor, and
only the user knows when it is known. Nothing here changes the typed frame or the features.
"""

from __future__ import annotations

import contextlib
import warnings
from typing import TYPE_CHECKING, Any

import numpy as np

from amlstack.training.columns import Decision
from amlstack.training.evaluate import rank_auc

if TYPE_CHECKING:
    import pandas as pd

SEPARATING_AUC = 0.999  # a numeric column ranks the two classes apart this well (or 1 - this)
# Fewer rows of a class than this, and a column can separate them by chance (3 rows in 25 are
# ranked apart by one random column in ~1,000; a wide table has 2,000).
MIN_SEPARATED_ROWS = 10
MIN_CATEGORY_ROWS = 5  # a category this small mapping to one class says nothing
CATEGORY_COVERAGE = 0.95  # such categories hold this share of the rows: not an identifier
PURE_SHARE = 0.999  # of those rows, this share is in its category's majority class


def leaking_columns(
    frame: pd.DataFrame, features: list[dict[str, Any]], target: np.ndarray
) -> list[Decision]:
    """One decision per feature that alone separates the classes ``target`` (class indices)
    (almost) perfectly, in schema order: none when no column does or a class is too rare to
    tell a leak from chance."""
    n_classes = int(target.max()) + 1
    if np.bincount(target, minlength=n_classes).min() < MIN_SEPARATED_ROWS:
        return []
    numeric = [f["name"] for f in features if f["kind"] == "numeric"]
    found: dict[str, str] = {}
    if numeric:
        values = frame[numeric].to_numpy(dtype=np.float64)
        separate = _separating_numbers if n_classes == 2 else _separating_ranges
        found.update(separate(values, numeric, target))
    for spec in features:
        if spec["kind"] == "categorical":
            how = _pure_categories(frame[spec["name"]], target, n_classes)
            if how:
                found[spec["name"]] = how
    return [_decision(f["name"], found[f["name"]]) for f in features if f["name"] in found]


def _decision(name: str, how: str) -> Decision:
    detail = (
        f"alone predicts the target ({how} on the training rows): if it is derived from the "
        f"target or known only after it, drop it (--drop {name})"
    )
    return Decision(name, "predicts_target", detail)


def _separating_numbers(values, names, target) -> dict[str, str]:
    """Binary target: columns whose rank AUC on their present rows is at least
    ``SEPARATING_AUC`` either way. An AUC that high needs the classes' 10 % and 90 % quantiles
    apart (else a hundredth of the pairs are misordered or tied), a vectorised test that leaves
    `rank_auc`, a sort per column, to the few columns that pass it."""
    positive = target == 1
    pos_lo, pos_hi = _deciles(values[positive])
    neg_lo, neg_hi = _deciles(values[~positive])
    candidates = np.flatnonzero((pos_lo > neg_hi) | (neg_lo > pos_hi))
    found = {}
    for j in candidates:
        present = ~np.isnan(values[:, j])
        labels = positive[present]
        if min(labels.sum(), (~labels).sum()) < MIN_SEPARATED_ROWS:
            continue
        auc = rank_auc(labels, values[present, j])
        if max(auc, 1 - auc) >= SEPARATING_AUC:
            found[names[j]] = f"AUC {max(auc, 1 - auc):.3f}"
    return found


def _deciles(values: np.ndarray) -> np.ndarray:
    """Each column's 10 % and 90 % quantiles over its present values (NaN if none);
    ``nanquantile`` only where a value is missing, being some ten times slower."""
    out = np.full((2, values.shape[1]), np.nan)
    holes = np.isnan(values).any(axis=0)
    if (~holes).any():
        out[:, ~holes] = np.quantile(values[:, ~holes], [0.1, 0.9], axis=0)
    if holes.any():
        with _quiet():
            out[:, holes] = np.nanquantile(values[:, holes], [0.1, 0.9], axis=0)
    return out


def _separating_ranges(values, names, target) -> dict[str, str]:
    """More classes: columns where each class's values lie in a range of their own (so that
    cuts between them classify every present row), each class present in enough rows."""
    n_classes = int(target.max()) + 1
    with _quiet():
        low = np.stack([np.nanmin(values[target == c], axis=0) for c in range(n_classes)])
        high = np.stack([np.nanmax(values[target == c], axis=0) for c in range(n_classes)])
    present = np.stack([(~np.isnan(values[target == c])).sum(axis=0) for c in range(n_classes)])
    found = {}
    for j in np.flatnonzero(present.min(axis=0) >= MIN_SEPARATED_ROWS):
        order = np.argsort(low[:, j])
        if np.all(high[order[:-1], j] < low[order[1:], j]):
            found[names[j]] = "each class in a range of its own"
    return found


def _pure_categories(column: pd.Series, target: np.ndarray, n_classes: int) -> str | None:
    """How a categorical column maps its values to classes, when it does: categories of at
    least ``MIN_CATEGORY_ROWS`` rows that hold nearly every row, each (but for a thousandth of
    the rows) of one class, and together of more than one class. Small categories are left out
    (an identifier maps each of its values to one class too)."""
    import pandas as pd

    codes, _ = pd.factorize(column)
    present = codes >= 0
    if not present.any():
        return None
    table = np.bincount(
        codes[present] * n_classes + target[present], minlength=(codes.max() + 1) * n_classes
    ).reshape(-1, n_classes)
    sizes = table.sum(axis=1)
    big = table[sizes >= MIN_CATEGORY_ROWS]
    covered = int(big.sum())
    if covered < CATEGORY_COVERAGE * int(present.sum()) or len(big) < 2:
        return None
    if big.max(axis=1).sum() < PURE_SHARE * covered:
        return None
    # two classes at least, each the class of a category and in enough rows not to be told
    # apart by chance
    majority = np.bincount(big.argmax(axis=1), weights=big.max(axis=1), minlength=n_classes)
    if np.count_nonzero(majority >= MIN_SEPARATED_ROWS) < 2:
        return None
    return "each of its values holds one class"


@contextlib.contextmanager
def _quiet():
    """A class with no present value in a column makes its quantiles NaN: expected, and those
    columns fail the tests (numpy warns of an all-NaN slice)."""
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield

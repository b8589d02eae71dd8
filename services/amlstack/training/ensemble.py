"""The ensemble stage: which search candidates ship, and with what weights.

Members and the decision threshold are chosen on held-out predictions of every candidate
(``selection_rows``: out-of-fold on small data, else the validation split), by Caruana-style
greedy selection with replacement (``greedy_ensemble``, as Azure AutoML's VotingEnsemble), and
kept only when the blend beats the best single model (``choose_members``).
"""

from __future__ import annotations

import time
from itertools import combinations

import numpy as np

from amlstack.training.bag import Bag, fold_splits
from amlstack.training.evaluate import auc, score
from amlstack.training.search import Candidate, refit, tree_count

OOF_MAX_ROWS = 8000  # up to this many non-holdout rows, members are chosen out of fold
SEARCH_CV_MAX_ROWS = 3000  # up to this many, the search scores trials out of fold too
OOF_FOLDS = 5
# selection_rows' description when the rows are ones the model was fitted on (no held-out view)
IN_SAMPLE = "cross-validated score, the best model alone (no time to blend)"


def selection_rows(candidates, matrix, y, train_idx, val_idx, *, metric, seed, deadline):
    """The labels and each candidate's ``val_proba`` that members and threshold are chosen on.

    Small data: out-of-fold predictions over every non-holdout row (k-fold, each candidate's
    tuned configuration refitted per fold), so a few hundred validation rows do not decide
    alone; that score becomes each candidate's ``val_score``, its rank, and its fold models
    its ``bag`` (the measured model, if it is chosen). Candidates not done by ``deadline``
    (monotonic seconds, or None) leave the pool; a candidate whose folds would not be done by
    then at the pace of its search fit (``fit_seconds``) is not begun, and it and those after it
    leave the pool (folds begun and then abandoned are time the refits and the export need).
    Larger data: the validation split.

    If no candidate finishes its folds in time: after a search on the validation split, members
    are chosen there; after a cross-validated search (``search_folds``), which fitted every
    candidate on the validation rows too, the best by the search's score ships alone, its
    threshold chosen on rows it saw.
    """
    y_train = y[train_idx]
    folds = selection_folds(y_train)
    for cand in candidates:
        cand.val_proba = cand.estimator.predict_proba(matrix[val_idx])
    if folds is None:
        return y[val_idx], "validation split"
    x_train = matrix[train_idx]
    splits = fold_splits(y_train, folds, seed)
    done = []
    for cand in candidates:
        # a fold fits (folds - 1)/folds of the rows the search's fit had
        expected = cand.fit_seconds * (folds - 1)
        if deadline is not None and time.monotonic() + expected > deadline:
            break
        oof = np.zeros((len(train_idx), int(y.max()) + 1))
        models = []
        began = time.monotonic()
        for fit_rows, out_rows in splits:
            if deadline is not None and time.monotonic() > deadline:
                break
            models.append(refit(cand.estimator, x_train[fit_rows], y_train[fit_rows]))
            oof[out_rows] = models[-1].predict_proba(x_train[out_rows])
        else:
            cand.bag_seconds = time.monotonic() - began
            done.append((cand, oof, Bag(models)))
            continue
        break
    if not done and search_folds(y_train) is None:
        return y[val_idx], "validation split (no time for out-of-fold predictions)"
    if not done:
        del candidates[1:]
        return y[val_idx], IN_SAMPLE
    for cand, oof, bag in done:
        # the leaderboard then shows the score the candidates are ranked and chosen on
        cand.val_proba, cand.bag, cand.val_score = oof, bag, score(metric, y_train, oof)
    candidates[:] = sorted((c for c, _, _ in done), key=lambda c: c.val_score, reverse=True)
    return y_train, f"{folds}-fold out-of-fold"


def selection_folds(y_train: np.ndarray) -> int | None:
    """The folds members are chosen (and bagged) on; None: larger data, chosen on the
    validation split."""
    folds = oof_folds(y_train)
    return folds if len(y_train) <= OOF_MAX_ROWS and folds >= 2 else None


def search_folds(y_train: np.ndarray) -> int | None:
    """The folds the search scores trials on; None: the validation split.

    On a few hundred rows the validation split is a few dozen rows, and thousands of trials
    scored there pick the configuration that fits their noise; on a few thousand, a fifth as
    many trials (each costs k fits) lose more than that noise costs. The cut-off was judged on
    subsamples of the bank data (docs/benchmarks.md, session 22).
    """
    folds = selection_folds(y_train)
    return folds if len(y_train) <= SEARCH_CV_MAX_ROWS else None


def oof_folds(y: np.ndarray) -> int:
    """Folds for out-of-fold selection: OOF_FOLDS, fewer when a class has fewer rows."""
    return min(OOF_FOLDS, int(np.bincount(y).min()))


def bag_within(members: list[Candidate], max_trees: int | None) -> None:
    """Unbag members, the most trees first, until the shipped graph holds at most ``max_trees``.

    A bag costs k times its model's trees in prediction time; the cap wins over the bag, and an
    unbagged member is refitted as one model like on large data.
    """

    def trees(cand: Candidate) -> int:
        return tree_count(cand.bag or cand.estimator)

    while max_trees is not None and sum(trees(c) for c in members) > max_trees:
        bagged = [c for c in members if c.bag is not None and tree_count(c.bag) > 0]
        if not bagged:
            return
        max(bagged, key=trees).bag = None


def refit_seconds(cand: Candidate, *, search_rows: int, train_rows: int, all_rows: int) -> float:
    """The expected time of ``cand``'s two refits (the measured model on ``train_rows``, the
    shipped one on ``all_rows``), at the pace the search or its out-of-fold models showed and
    in proportion to the rows. A bag's measured model is its out-of-fold models, already fitted."""
    if cand.bag is not None:
        return cand.bag_seconds * all_rows / train_rows
    return cand.fit_seconds * (train_rows + all_rows) / max(search_rows, 1)


def affordable_members(
    candidates: list[Candidate], weights: dict[int, float], y_val, metric: str, *,
    costs: dict[int, float], seconds_left: float,
) -> dict[int, float]:  # fmt: skip
    """``weights`` when all its members' refits (``costs``, seconds) fit in ``seconds_left``;
    else the best-scoring blend on ``y_val`` of the members that fit (weights rescaled), and
    when not even one member fits, the best-scoring member alone: the shipped model must still
    learn from every labelled row, so that one overruns the budget rather than ship less (the
    cheapest instead shipped a 0.82-AUC LightGBM for a 0.95 CatBoost, to save 2 s)."""
    if sum(costs[i] for i in weights) <= seconds_left:
        return weights
    best, best_score = None, -np.inf
    for size in range(len(weights) - 1, 0, -1):
        for kept in combinations(sorted(weights), size):
            if sum(costs[i] for i in kept) > seconds_left:
                continue
            value, subset = _blend_score(candidates, weights, kept, y_val, metric)
            if value > best_score:
                best, best_score = subset, value
    if best is not None:
        return best
    alone = {i: _blend_score(candidates, weights, [i], y_val, metric)[0] for i in weights}
    return {max(alone, key=alone.__getitem__): 1.0}


def _blend_score(candidates, weights, kept, y_val, metric: str) -> tuple[float, dict[int, float]]:
    """The score on ``y_val`` of the members ``kept`` blended with their ``weights`` rescaled."""
    total = sum(weights[i] for i in kept)
    subset = {i: weights[i] / total for i in kept}
    blended = sum(w * candidates[i].val_proba for i, w in subset.items())
    return score(metric, y_val, blended), subset


def fit_bag(template, x: np.ndarray, y: np.ndarray, *, folds: int, seed: int) -> Bag:
    """``template``'s configuration fitted once per fold of ``x`` (each on the other folds)."""
    splits = fold_splits(y, folds, seed)
    return Bag([refit(template, x[fit_rows], y[fit_rows]) for fit_rows, _ in splits])


def choose_members(
    candidates: list[Candidate], y_val, metric: str, *, max_members: int, max_trees: int | None
) -> dict[int, float]:
    """The ensemble when it beats the best single model on validation, else that model.

    A candidate ranking the selection rows worse than chance (AUC below 0.5, whatever the
    metric) is no member: on a few dozen rows such a model can still nudge a blend's score up
    by fitting their noise (mtcars: a member at 0.448 got weight), which new rows do not repeat.
    """
    single = score(metric, y_val, candidates[0].val_proba)
    pool = [i for i, c in enumerate(candidates) if auc(y_val, c.val_proba) >= 0.5]
    if len(pool) < 2:
        return {0: 1.0}
    chosen = greedy_ensemble(
        y_val,
        [candidates[i].val_proba for i in pool],
        metric,
        max_members=max_members,
        costs=[tree_count(candidates[i].estimator) for i in pool],
        max_cost=max_trees,
    )
    weights = {pool[j]: w for j, w in chosen.items()}
    blended = sum(w * candidates[i].val_proba for i, w in weights.items())
    if len(weights) > 1 and score(metric, y_val, blended) > single:
        return weights
    return {0: 1.0}


def greedy_ensemble(
    y: np.ndarray,
    probas: list[np.ndarray],
    metric: str,
    rounds: int = 25,
    max_members: int = 3,
    costs: list[int] | None = None,
    max_cost: int | None = None,
) -> dict[int, float]:
    """Caruana-style selection with replacement, as Azure AutoML's VotingEnsemble; index -> weight.

    At most ``max_members`` distinct models are used, and their summed ``costs`` (trees) stay
    within ``max_cost``: every member adds to the prediction time, which has targets too.
    """
    costs = costs or [0] * len(probas)
    counts: dict[int, int] = {}
    total = np.zeros_like(probas[0], dtype=np.float64)
    for step in range(1, rounds + 1):
        spent = sum(costs[i] for i in counts)
        allowed = [
            i
            for i in range(len(probas))
            if i in counts
            or (
                len(counts) < max_members
                and (max_cost is None or not counts or spent + costs[i] <= max_cost)
            )
        ]
        gains = [(score(metric, y, (total + probas[i]) / step), -i) for i in allowed]
        best = -max(gains)[1]
        counts[best] = counts.get(best, 0) + 1
        total += probas[best]
    n = sum(counts.values())
    return {i: c / n for i, c in sorted(counts.items())}


def blend(candidates: list[Candidate], weights: dict[int, float], x: np.ndarray) -> np.ndarray:
    return sum(w * candidates[i].estimator.predict_proba(x) for i, w in weights.items())

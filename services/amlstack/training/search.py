"""The AutoML search: FLAML tunes each learner, one learner at a time.

Each trial is scored on the validation split, or on small data by k-fold cross-validation over
the fit and validation rows together: with a few hundred validation rows, thousands of trials
scored on one split pick the configuration that fits that split's noise.

Searching one learner at a time (rather than letting FLAML pick the next learner by measured
cost) keeps a run reproducible: with an iteration budget, the same data and seed give the same
trials, because no decision depends on wall-clock time.
"""

from __future__ import annotations

import logging
import math
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from amlstack.training.bag import Bag, fold_splitter
from amlstack.training.defaults import MAX_TREES
from amlstack.training.evaluate import auc

# Share of the budget (time or iterations) each learner gets; the boosters earn most of it.
LEARNER_SHARE = {
    "lgbm": 0.32,
    "xgboost": 0.20,
    "catboost": 0.24,
    "rf": 0.05,
    "extra_tree": 0.05,
    "lr": 0.04,
    "mlp": 0.10,
}
DEFAULT_LEARNERS = tuple(LEARNER_SHARE)
_TREE_LEARNERS = {
    "lgbm": "LGBMEstimator",
    "xgboost": "XGBoostSklearnEstimator",
    "catboost": "CatBoostEstimator",
    "rf": "RandomForestEstimator",
    "extra_tree": "ExtraTreesEstimator",
}
FLAML_METRIC = {
    "auc": "roc_auc",
    "auc_weighted": "roc_auc_weighted",
    "accuracy": "accuracy",
    "log_loss": "log_loss",
    "f1": "f1",
    "average_precision": "ap",
}


@dataclass
class Candidate:
    """The best model found for one learner, fitted on the search's training rows."""

    learner: str
    config: dict[str, Any]
    val_score: float
    estimator: Any  # the fitted scikit-learn-API model (what gets exported)
    trials: int
    seconds: float
    fit_seconds: float = 0.0  # one fit of the tuned configuration on the search's rows
    val_proba: np.ndarray | None = field(default=None, repr=False)
    bag: Bag | None = field(default=None, repr=False)  # its out-of-fold models, when scored so
    bag_seconds: float = 0.0  # the time its out-of-fold models took, when it has them


@dataclass
class Progress:
    """What the live display shows; updated by the search as it goes."""

    learner: str = ""
    learners_done: int = 0
    learners_total: int = 0
    trials: int = 0
    best_score: float = float("nan")
    best_learner: str = ""


def search(
    x_fit: np.ndarray,
    y_fit: np.ndarray,
    x_val: np.ndarray,
    y_val: np.ndarray,
    *,
    features: list[dict[str, Any]],
    metric: str,
    n_classes: int,
    learners: tuple[str, ...],
    time_budget: float | None,
    max_iter: int | None,
    seed: int,
    n_jobs: int,
    max_trees: int = MAX_TREES,
    folds: int | None = None,
    on_progress: Callable[[Progress], None] = lambda p: None,
    refit_scale: float = 0.0,
    refit_reserved: float = 0.0,
) -> list[Candidate]:
    """Tune every learner; return one fitted candidate per learner, best first.

    With ``folds``, trials are scored by seeded stratified ``folds``-fold cross-validation over
    the fit and validation rows together, and each candidate is fitted on all of them.
    With a time budget, the learners still to come give up the time the best candidate so far
    needs for its refits (``refit_scale`` times its fit's seconds) beyond the
    ``refit_reserved`` seconds the run keeps for them after the search anyway.
    """
    with warnings.catch_warnings():
        # FLAML imports pyspark.pandas when pyspark is installed (for `predict --engine spark`),
        # which warns about pandas versions it was not tested with; training never uses it
        warnings.filterwarnings("ignore", category=FutureWarning, module="pyspark")
        from flaml import AutoML

    progress = Progress(learners_total=len(learners))
    shares = _normalised_shares(learners)
    deadline = None if time_budget is None else time.monotonic() + time_budget
    x, y, scoring = _scoring(x_fit, y_fit, x_val, y_val, folds, seed)
    search_metric = _search_metric(metric, n_classes, y, scoring)
    candidates = []
    for learner in learners:
        progress.learner = learner
        on_progress(progress)
        held = _refit_hold(candidates, refit_scale, refit_reserved)
        budget_s = _time_for(learner, shares, deadline, learners, candidates, held)
        # FLAML trains one untuned model for max_iter=1; 3 is the least that is a search.
        iters = None if max_iter is None else max(3, round(max_iter * shares[learner]))
        if budget_s is not None and budget_s < 1:
            continue
        automl = AutoML()
        custom = _custom_learner(learner, features, seed, deadline) or _capped_learner(
            learner, max_trees, deadline
        )
        if custom is not None:
            automl.add_learner(learner, custom)
        started = time.monotonic()
        counter = _TrialCounter(progress, on_progress)
        _attach(counter)
        automl.fit(
            x,
            y,
            **scoring,
            task="classification",
            metric=search_metric,
            estimator_list=[learner],
            time_budget=-1 if budget_s is None else budget_s,
            max_iter=iters,
            seed=seed,
            n_jobs=n_jobs,
            sample=False,
            retrain_full=False,
            model_history=False,
            verbose=3,  # INFO: FLAML's "iteration N" lines are what _CountingHandler counts
            early_stop=False,
            log_file_name="",
            keep_search_state=False,
            skip_transform=True,
        )
        if automl.best_config is None or automl.model is None:
            continue
        score = _score_of(metric, automl.best_loss)
        candidates.append(
            Candidate(
                learner=learner,
                config=dict(automl.best_config),
                val_score=score,
                estimator=automl.model.estimator,
                trials=counter.trials,
                seconds=time.monotonic() - started,
                fit_seconds=_one_fit_seconds(automl.best_config_train_time, folds),
            )
        )
        progress.learners_done += 1
        if np.isnan(progress.best_score) or score > progress.best_score:
            progress.best_score, progress.best_learner = score, learner
        on_progress(progress)
    candidates.sort(key=lambda c: c.val_score, reverse=True)
    return candidates


def _one_fit_seconds(train_time: float | None, folds: int | None) -> float:
    """The seconds of one fit on all the search's rows. Under cross-validation FLAML's
    ``best_config_train_time`` is the sum of its ``folds`` fits, each on (folds - 1)/folds of
    the rows: read as one fit, it made the refits look about four times dearer than they were
    (pima: 13 s estimated, at most 4 s taken), and members that would have fitted were left out."""
    seconds = float(train_time or 0.0)
    return seconds / (folds - 1) if folds and folds > 1 else seconds


def _scoring(x_fit, y_fit, x_val, y_val, folds: int | None, seed: int):
    """The rows FLAML fits on and its arguments for scoring a trial (see ``search``)."""
    if not folds:
        return x_fit, y_fit, {"eval_method": "holdout", "X_val": x_val, "y_val": y_val}
    x, y = np.vstack([x_fit, x_val]), np.concatenate([y_fit, y_val])
    splitter = fold_splitter(folds, seed)
    return x, y, {"eval_method": "cv", "split_type": splitter, "n_splits": folds}


def _search_metric(metric: str, n_classes: int, y: np.ndarray, scoring: dict[str, Any]):
    """FLAML's metric name, or for multi-class AUC where a trial's validation rows lack a class
    (3-row classes among 50), our AUC over the classes present (`evaluate.auc`): FLAML's own
    fails on every such trial ("Number of classes in y_true not equal to the number of columns
    in 'y_score'"), so no model at all was found."""
    name = flaml_metric(metric, n_classes)
    if n_classes <= 2 or metric not in ("auc", "auc_weighted"):
        return name
    if scoring["eval_method"] == "holdout":
        scored = [scoring["y_val"]]
    else:
        splits = scoring["split_type"].split(np.zeros((len(y), 1)), y)
        scored = [y[out_rows] for _, out_rows in splits]
    if all(len(np.unique(part)) == n_classes for part in scored):
        return name
    return _PresentClassAuc(n_classes, weighted=metric == "auc_weighted")


class _PresentClassAuc:
    """A FLAML custom metric: 1 - AUC over the classes the validation rows hold, a model's
    probability columns placed by its classes (a fold may have learned fewer)."""

    def __init__(self, n_classes: int, weighted: bool) -> None:
        self.n_classes, self.weighted = n_classes, weighted

    def __call__(self, x_val, y_val, estimator, *_args: Any, **_kwargs: Any):
        proba = np.zeros((len(y_val), self.n_classes))
        proba[:, np.asarray(estimator.classes_, dtype=np.int64)] = estimator.predict_proba(x_val)
        value = auc(np.asarray(y_val, dtype=np.int64), proba, weighted=self.weighted)
        return 1.0 - value, {"auc": value}


def flaml_metric(metric: str, n_classes: int) -> str:
    """FLAML's name for the metric; its plain "roc_auc" and "roc_auc_weighted" are binary only."""
    if n_classes > 2 and metric == "auc":
        return "roc_auc_ovr"
    if n_classes > 2 and metric == "auc_weighted":
        return "roc_auc_ovr_weighted"
    return FLAML_METRIC[metric]


def _score_of(metric: str, loss: float) -> float:
    """FLAML minimises a loss; report the metric the user asked for (higher is better)."""
    return -float(loss) if metric == "log_loss" else 1.0 - float(loss)


def _normalised_shares(learners: tuple[str, ...]) -> dict[str, float]:
    total = sum(LEARNER_SHARE.get(name, 0.1) for name in learners)
    return {name: LEARNER_SHARE.get(name, 0.1) / total for name in learners}


def _time_for(learner, shares, deadline, learners, done, held: float = 0.0) -> float | None:
    """This learner's share of the time left (less ``held`` seconds), so an early finisher's
    slack goes to the rest."""
    if deadline is None:
        return None
    left = deadline - time.monotonic() - held
    remaining = [n for n in learners[len(done) :] if n not in {c.learner for c in done}]
    share = shares[learner] / max(sum(shares[n] for n in remaining), 1e-9)
    return max(0.0, left * share)


def _refit_hold(done: list[Candidate], scale: float, reserved: float) -> float:
    """Seconds the search gives up so that the best of ``done`` can be refitted in the budget:
    on a 39-class table a CatBoost trial of 4 s meant refits of 8 s against the 3 s kept, and
    the learners after it still took their whole shares."""
    if not done or not scale:
        return 0.0
    best = max(done, key=lambda c: c.val_score)
    return max(0.0, scale * best.fit_seconds - reserved)


class _TrialCounter:
    """Counts trials through FLAML's logger, the only per-trial hook its fit() offers."""

    def __init__(self, progress: Progress, on_progress: Callable[[Progress], None]) -> None:
        self.trials = 0
        self.progress = progress
        self.on_progress = on_progress

    def __call__(self, *_args: Any, **_kwargs: Any) -> None:
        self.trials += 1
        self.progress.trials += 1
        self.on_progress(self.progress)


def _attach(counter: _TrialCounter) -> None:
    """Route FLAML's log to the counter only (FLAML adds a stdout handler when it has none)."""
    logger = logging.getLogger("flaml.automl.logger")
    logger.propagate = False
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
    logger.addHandler(_CountingHandler(counter))


class _CountingHandler(logging.Handler):
    def __init__(self, counter: _TrialCounter) -> None:
        super().__init__(level=logging.INFO)
        self.counter = counter

    def emit(self, record: logging.LogRecord) -> None:
        if str(record.msg).startswith("iteration "):
            self.counter()


def tree_count(estimator: Any) -> int:
    """Trees in a fitted model (0 for linear models and MLPs); a bag counts all its models'."""
    if isinstance(estimator, Bag):
        return sum(tree_count(model) for model in estimator.models)
    if hasattr(estimator, "booster_"):  # LightGBM
        return int(estimator.booster_.num_trees())
    if hasattr(estimator, "tree_count_"):  # CatBoost
        return int(estimator.tree_count_)
    if hasattr(estimator, "get_booster"):  # XGBoost
        return int(estimator.get_booster().num_boosted_rounds())
    if hasattr(estimator, "estimators_"):  # scikit-learn forests
        return len(estimator.estimators_)
    return 0


def _capped_learner(name: str, max_trees: int, deadline: float | None = None):
    """FLAML's own learner with its tree count searched up to ``max_trees``; CatBoost's models
    also stop growing trees at ``deadline`` (monotonic; the search's end), see ``Timed``."""
    if name not in _TREE_LEARNERS:
        return None
    from flaml import tune
    from flaml.automl import model as flaml_models

    base = getattr(flaml_models, _TREE_LEARNERS[name])

    class Capped(base):
        @classmethod
        def search_space(cls, data_size, task, **params):
            space = base.search_space(data_size=data_size, task=task, **params)
            trees = space.get("n_estimators")
            if trees is None:
                return space
            if isinstance(trees["domain"], int):  # CatBoost: a fixed count, early-stopped
                trees["domain"] = trees["init_value"] = max_trees
            else:
                low = min(trees.get("low_cost_init_value", 4), max_trees)
                trees["domain"] = tune.lograndint(lower=low, upper=max_trees + 1)
                trees["init_value"] = min(trees.get("init_value", low), max_trees)
            return space

    if name == "catboost":

        class Timed(Capped):
            """FLAML times every learner's trial but CatBoost's (its resource limit skips it), and
            refits the best configuration with no time limit at all, so one CatBoost learner could
            take a run several times past its budget (five folds of a wide multiclass table: 57 s
            of a 20 s budget). Here a model stops at its trial's budget, and the refit at the
            search's end, keeping the trees grown by then.

            FLAML also early-stops CatBoost on the last tenth of the rows it is given, and
            CatBoost refuses to evaluate on a class it did not learn (a class of two rows in a
            fold): one row of every class comes first."""

            def fit(self, X_train, y_train, budget=None, **kwargs):
                X_train, y_train, kwargs = _every_class_first(X_train, y_train, kwargs)
                stop = min(
                    time.monotonic() + budget if budget else float("inf"),
                    float("inf") if deadline is None else deadline,
                )
                if stop == float("inf"):
                    return super().fit(X_train, y_train, budget=budget, **kwargs)
                original = self.estimator_class
                self.estimator_class = _stopping_at(original, stop)
                try:
                    return super().fit(X_train, y_train, budget=budget, **kwargs)
                finally:
                    self.estimator_class = original

        Timed.__name__ = f"Capped{base.__name__}"
        return Timed
    Capped.__name__ = f"Capped{base.__name__}"
    return Capped


def _every_class_first(x, y, kwargs: dict[str, Any]):
    """``x``, ``y`` (and a sample weight) as given when every class is among the rows FLAML's
    CatBoost learns on (its first ``max(90 %, all but 1,000)``), else with the first row of
    each class moved to the front, the other rows in their order. When even so a class of the
    rows it stops early on is not learned (a fold of 10 rows of 10 classes), it learns on every
    row and does not stop early (``use_best_model=False``): CatBoost refuses such a class."""
    labels = np.asarray(y)
    learned = max(int(len(labels) * 0.9), len(labels) - 1000)
    if len(np.unique(labels[:learned])) == len(np.unique(labels)):
        return x, y, kwargs  # the common case: the rows and CatBoost's result unchanged
    _, first = np.unique(labels, return_index=True)
    order = np.concatenate([np.sort(first), np.setdiff1d(np.arange(len(labels)), first)])
    if not set(labels[order][learned:]) <= set(labels[order][:learned]):
        kwargs = {**kwargs, "use_best_model": False}
    weight = kwargs.get("sample_weight")
    if weight is not None:
        kwargs = {**kwargs, "sample_weight": np.asarray(weight)[order]}
    take = x.iloc if hasattr(x, "iloc") else x
    return take[order], labels[order], kwargs


class _StopAt:
    """A CatBoost training callback: no further tree once ``deadline`` (monotonic) has passed."""

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline

    def after_iteration(self, info: Any) -> bool:
        return time.monotonic() < self.deadline


def _stopping_at(catboost_class, deadline: float):
    """``catboost_class`` whose next model's ``fit`` also stops at ``deadline``; the model keeps
    no trace of it afterwards (it is refitted, cloned and bagged like any other)."""

    def build(**params):
        model = catboost_class(**params)

        def fit(*args, callbacks=None, **kwargs):
            del model.fit
            return model.fit(*args, callbacks=[*(callbacks or ()), _StopAt(deadline)], **kwargs)

        model.fit = fit
        return model

    return build


def _custom_learner(
    name: str, features: list[dict[str, Any]], seed: int, deadline: float | None = None
):
    """Linear and MLP learners get one-hot + scaling (trees take the ordinal codes as they are).

    The MLP's epochs also stop at its trial's time budget and at ``deadline`` (monotonic; the
    search's end), see ``_epochs_until``."""
    if name not in ("lr", "mlp"):
        return None
    from flaml import tune
    from flaml.automl.model import SKLearnEstimator

    cat_idx = [i for i, f in enumerate(features) if f["kind"] == "categorical"]
    cat_sizes = [len(features[i]["categories"]) for i in cat_idx]
    num_idx = [i for i, f in enumerate(features) if f["kind"] == "numeric"]

    def pipeline(model):
        from sklearn.compose import ColumnTransformer
        from sklearn.pipeline import Pipeline
        from sklearn.preprocessing import OneHotEncoder, StandardScaler

        parts = []
        if cat_idx:
            cats = [np.arange(k, dtype=np.float32) for k in cat_sizes]
            parts.append(("cat", OneHotEncoder(categories=cats, handle_unknown="ignore"), cat_idx))
        if num_idx:
            parts.append(("num", StandardScaler(), num_idx))
        return Pipeline([("prep", ColumnTransformer(parts)), ("model", model)])

    if name == "lr":

        class LinearLearner(SKLearnEstimator):
            @classmethod
            def search_space(cls, data_size, task):
                return {"C": {"domain": tune.loguniform(1e-3, 100.0), "init_value": 1.0}}

            def __init__(self, task="binary", **config):
                super().__init__(task, **config)
                c = self.params.get("C", 1.0)
                self.estimator_class = lambda **_: pipeline(_logistic(c, seed))

        return LinearLearner

    class MLPLearner(SKLearnEstimator):
        @classmethod
        def search_space(cls, data_size, task):
            # the schedule is fixed by the row count, not searched: recorded with the config
            fixed = {name: {"domain": value} for name, value in mlp_schedule(data_size[0]).items()}
            return {
                "width": {"domain": tune.choice([32, 64, 128]), "init_value": 64},
                "alpha": {"domain": tune.loguniform(1e-5, 1e-1), "init_value": 1e-4},
                "lr": {"domain": tune.loguniform(1e-4, 1e-2), "init_value": 1e-3},
                **fixed,
            }

        def __init__(self, task="binary", **config):
            super().__init__(task, **config)
            p = self.params
            self._stop = None
            self._early_stopping = True

            def build(**_):
                from sklearn.neural_network import MLPClassifier

                model = pipeline(
                    MLPClassifier(
                        hidden_layer_sizes=(int(p.get("width", 64)), int(p.get("width", 64)) // 2),
                        alpha=float(p.get("alpha", 1e-4)),
                        learning_rate_init=float(p.get("lr", 1e-3)),
                        early_stopping=self._early_stopping,
                        n_iter_no_change=int(p.get("patience", 5)),
                        batch_size=int(p.get("batch", 256)),
                        max_iter=int(p.get("epochs", 40)),  # early stopping usually ends it before
                        random_state=seed,
                    )
                )
                if self._stop is not None:
                    _epochs_until(model.named_steps["model"], self._stop)
                return model

            self.estimator_class = build

        def fit(self, X_train, y_train, budget=None, **kwargs):
            """FLAML limits no custom learner's trial by its ``budget``: an MLP on 200k rows
            took 103 s of a 1.7 s share, and a run 26 times its budget."""
            stop = min(
                time.monotonic() + budget if budget and budget > 0 else float("inf"),
                float("inf") if deadline is None else deadline,
            )
            self._stop = None if stop == float("inf") else stop
            self._early_stopping = _can_stop_early(y_train)
            try:
                return super().fit(X_train, y_train, budget=budget, **kwargs)
            finally:
                self._stop = None

    return MLPLearner


MLP_VALIDATION_SHARE = 0.1  # scikit-learn's validation_fraction, which early stopping holds out


def _can_stop_early(y) -> bool:
    """Whether the MLP's early stopping can hold out its validation rows from labels ``y``:
    two at the least (a search fold of 10 rows, 10 classes of 3 rows, has one, and
    scikit-learn raised "The validation set is too small"), and, of two classes, two rows of
    each, since scikit-learn then stratifies them (a fold holding one positive row: 3
    positives among 3,500 rows, "The least populated classes in y have only 1 member")."""
    labels = np.asarray(y)
    if math.ceil(MLP_VALIDATION_SHARE * len(labels)) < 2:
        return False
    _, counts = np.unique(labels, return_counts=True)
    return len(counts) != 2 or int(counts.min()) >= 2


def _epochs_until(mlp, deadline: float) -> None:
    """``mlp``'s next ``fit`` ends after the first epoch that finishes past ``deadline``
    (monotonic), as its early stopping would: with the best weights it had. Its ``max_iter``
    becomes the epochs it ran, so that a refit (a clone) trains as many and costs about as
    much as the trial did; the model keeps no other trace of the deadline."""
    check = mlp._update_no_improvement_count
    fit = mlp.fit

    def update(*args, **kwargs):
        check(*args, **kwargs)
        if time.monotonic() >= deadline:
            mlp._no_improvement_count = mlp.n_iter_no_change + 1
            mlp.max_iter = mlp.n_iter_

    def fit_once(*args, **kwargs):
        try:
            return fit(*args, **kwargs)
        finally:
            del mlp.fit, mlp._update_no_improvement_count

    mlp._update_no_improvement_count = update
    mlp.fit = fit_once


MLP_STEPS = 1500  # gradient steps the MLP schedule aims at, whatever the row count


def mlp_schedule(rows: int) -> dict[str, int]:
    """The MLP's batch size, epoch limit and early-stopping patience for ``rows`` training rows.

    Large data keeps 256-row batches and at most 40 epochs; smaller data gets smaller batches
    and more epochs so that the net still takes about MLP_STEPS steps: 256-row batches for 40
    epochs give a few hundred rows 80 steps, and left the MLP undertrained (breast_cancer,
    5-fold cross-validated AUC 0.976, against 0.994 with this schedule). An epoch of few steps
    is a noisy one, hence the longer patience below 4,096 rows.
    """
    rows = max(int(rows), 1)
    batch = int(np.clip(rows // 16, 32, 256))
    epochs = int(np.clip(-(-MLP_STEPS * batch // rows), 40, 200))
    return {"batch": batch, "epochs": epochs, "patience": 5 if rows >= 4096 else 10}


def _logistic(c: float, seed: int):
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=c, max_iter=1000, random_state=seed)


def refit(estimator: Any, x: np.ndarray, y: np.ndarray):
    """A fresh model of ``estimator``'s tuned configuration fitted on ``x``, ``y``."""
    from sklearn.base import clone

    if hasattr(estimator, "tree_count_"):  # CatBoost
        # FLAML early-stopped CatBoost on an inner split; refit with the tree count it kept,
        # and without CatBoost's training-log folder in the working directory.
        params = {
            k: v
            for k, v in estimator.get_params().items()
            if k not in ("train_dir", "early_stopping_rounds", "n_estimators", "iterations")
        }
        params.update(n_estimators=int(estimator.tree_count_), allow_writing_files=False)
        model = type(estimator)(**params)
    else:
        model = clone(estimator)
        mlp = getattr(model, "named_steps", {}).get("model")
        if getattr(mlp, "early_stopping", False) and not _can_stop_early(y):
            mlp.set_params(early_stopping=False)  # an out-of-fold bag's fold of 10 rows
    model.fit(x, y)
    return model

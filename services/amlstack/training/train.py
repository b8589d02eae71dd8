"""`amlstack train`: data -> search -> ensemble -> ONNX -> verified, versioned artifact.

Rows are cut three ways, all stratified and seeded: the holdout (``test_size``) is never seen by
the search and every reported metric is measured on it; the rest is cut again into the rows the
candidates are fitted on and the validation rows that FLAML tunes on and the ensemble weights
and decision threshold are chosen on. On small data the three are chosen out of fold instead
(``ensemble.selection_folds``), and on smaller data still FLAML scores trials by k-fold
cross-validation over both (``ensemble.search_folds``). The blend's probabilities are
recalibrated on those rows when that clearly lowers their log loss (``calibrate``; the threshold
is then cut on the calibrated ones, and the map is the graph's last step). The chosen members
are then refitted on all non-holdout rows with their tuned configuration (small data: bagged)
and measured on the holdout (the "measured model"); then refitted once more on every labelled
row, holdout included, and that model is the one exported and shipped (as AutoGluon's
``refit_full``): the holdout figures describe the measured model.

Learners see the prepared matrix (``preprocess``: missing values imputed, indicators and
weekdays added, all float32); the exported graph starts with the same preparation, so the
artifact takes the raw encoded rows, NaN included. A member whose exported graph disagrees with
its in-memory model is dropped with a warning; the whole graph's parity check stays strict.
"""

from __future__ import annotations

import json
import math
import platform
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import msgspec
import numpy as np

from amlstack.artifact.schema import CardMetrics, ModelCard, ModelSpec, RowCounts, TrainingRecord
from amlstack.errors import InternalError, UserError
from amlstack.training import data as data_mod
from amlstack.training import defaults, ensemble, threads
from amlstack.training.bag import Bag
from amlstack.training.search import DEFAULT_LEARNERS, FLAML_METRIC, Progress

PARITY_TOLERANCE = 1e-5
MIN_SEARCH_SHARE = 0.2  # of the time budget: the search gets at least this much
SAMPLE_ROWS = 5
BACKGROUND_ROWS = 12  # explanation baseline: K*(features-1)+1 rows per explained record
DEFAULT_DATA = Path("data/bankmarketing_train.csv")
DEFAULT_TIME_BUDGET = defaults.TIME_BUDGET_S
REFIT_SHARE = 0.15  # of the time budget, kept back for both refits, export and the report
EXPORT_SHARE = 0.05  # of the time budget, kept back after the refits for export and the report
LIBRARIES = (
    "flaml",
    "lightgbm",
    "xgboost-cpu",
    "catboost",
    "scikit-learn",
    "onnx",
    "onnxruntime",
    "skl2onnx",
    "onnxmltools",
    "numpy",
    "pandas",
)


@dataclass
class TrainConfig:
    """Everything that determines a training run (recorded in model.json)."""

    data: Path = DEFAULT_DATA
    target: str = "y"
    out: Path = Path("artifacts")
    name: str | None = None
    time_budget: float | None = DEFAULT_TIME_BUDGET
    max_iter: int | None = None
    seed: int = 42
    metric: str = "auc"
    drop: tuple[str, ...] = ()
    keep: tuple[str, ...] = ()  # columns kept though the identifier rules would drop them
    learners: tuple[str, ...] = DEFAULT_LEARNERS
    test_size: float = 0.2
    val_size: float = 0.15
    n_jobs: int = 2
    max_members: int = 3
    max_trees: int = defaults.MAX_TREES  # in the whole ensemble; bounds batch prediction time
    contexts: tuple[tuple[str, ...], ...] = ()
    sign_key: Path | None = None  # Ed25519 private key (PEM): sign the manifest (MANIFEST.sig)

    def check(self) -> None:
        budget = self.time_budget
        if budget is not None and not (math.isfinite(budget) and budget > 0):
            raise UserError(
                f"--time-budget {budget:g}: must be a number of seconds above 0 (for no time "
                "limit: amlstack train --no-time-limit --max-iter N)"
            )
        if self.max_iter is not None and self.max_iter < 1:
            raise UserError(f"--max-iter {self.max_iter}: must be at least 1")
        if self.max_trees < 1:
            raise UserError(f"--max-trees {self.max_trees}: must be at least 1")
        if not 0 <= self.seed < 2**32:
            raise UserError(f"--seed {self.seed}: must be from 0 to {2**32 - 1}")
        if self.metric not in FLAML_METRIC:
            raise UserError(
                f"--metric {self.metric}: choose one of {', '.join(sorted(FLAML_METRIC))}"
            )
        unknown = [name for name in self.learners if name not in DEFAULT_LEARNERS]
        if unknown or not self.learners:
            raise UserError(
                f"--learners: unknown learner {unknown[0] if unknown else '(none)'!r}; "
                f"choose from {', '.join(DEFAULT_LEARNERS)}"
            )
        if not 0.05 <= self.test_size <= 0.5:
            raise UserError(f"--test-size {self.test_size}: must be between 0.05 and 0.5")
        if self.sign_key is not None and not self.sign_key.is_file():
            raise UserError(f"--sign-key {self.sign_key}: no such file")


@dataclass
class TrainResult:
    path: Path
    metrics: dict[str, Any]
    leaderboard: list[dict[str, Any]]
    members: list[dict[str, Any]] = field(default_factory=list)
    measured_model: str = ""  # which model the metrics describe, and what ships
    # the shipped in-memory (pre-export) ensemble's probabilities on the holdout rows (parity)
    memory_holdout_proba: np.ndarray | None = field(default=None, repr=False)
    # the measured model's (never saw the holdout) probabilities there: the reported metrics
    measured_holdout_proba: np.ndarray | None = field(default=None, repr=False)


def train(
    config: TrainConfig,
    on_progress: Callable[[Progress], None] = lambda p: None,
    notice: Callable[[str], None] = lambda line: None,
    stopped: Callable[[], bool] = lambda: False,
):
    """Run the whole training and write a new artifact version; returns where and how well.

    ``notice`` gets each column decision (many columns dropped alike: one line), the caveat
    when a class has few held-out or selection rows, and each dropped ensemble member, once,
    as a line.
    ``stopped`` is asked before anything is written: True raises KeyboardInterrupt (an
    interrupt a learner swallowed, as scikit-learn's MLP does, still stops the run).
    """
    import warnings

    threads.settle_openmp()  # before the first library that loads libgomp
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings(), threads.one_blas_thread():
        # The learners' own warnings about what the search chose on purpose, printed with a
        # site-packages path per fit: the MLP's epochs are capped to fit the budget; on a few
        # dozen rows a fold is smaller than its batch, which scikit-learn clips (as wanted).
        warnings.filterwarnings("ignore", category=ConvergenceWarning)
        warnings.filterwarnings("ignore", message="Got `batch_size`", category=UserWarning)
        warnings.filterwarnings("ignore", message="Training interrupted by user")
        return _train(config, on_progress, notice, stopped)


def _train(
    config: TrainConfig,
    on_progress: Callable[[Progress], None],
    notice: Callable[[str], None],
    stopped: Callable[[], bool],
) -> TrainResult:
    from amlstack.training import calibrate, columns, evaluate, export, search, store
    from amlstack.training.preprocess import fit_preparation

    config.check()
    started = time.monotonic()
    dataset = data_mod.load_dataset(config.data, config.target, config.drop, config.keep)
    name = store.check_name(config.name or default_name(config.data))
    if len(dataset.classes) > 2 and config.metric in ("f1", "average_precision"):
        raise UserError(f"--metric {config.metric} is for binary targets; use auc or accuracy")
    for line in columns.notice_lines(dataset.decisions):
        notice(line)
    base = data_mod.encode_frame(dataset.frame, dataset.features)
    y = dataset.target
    data_mod.check_class_sizes(y, dataset.classes)
    train_idx, test_idx = data_mod.split_holdout(y, config.test_size, config.seed, dataset.classes)
    raw, contexts, search_features = _add_contexts(base, y, train_idx, dataset, config)
    prep = fit_preparation(raw[train_idx], search_features)
    matrix = prep.apply(raw)
    fit_rel, val_rel = data_mod.split_holdout(
        y[train_idx], config.val_size, config.seed + 1, dataset.classes
    )
    fit_idx, val_idx = train_idx[fit_rel], train_idx[val_rel]

    search_budget = _search_budget(config, started, notice)
    folds = ensemble.search_folds(y[train_idx])
    search_rows = len(train_idx) if folds else len(fit_idx)
    candidates = search.search(
        matrix[fit_idx], y[fit_idx], matrix[val_idx], y[val_idx], folds=folds,
        features=_learner_features(search_features, prep), metric=config.metric,
        n_classes=len(dataset.classes), learners=config.learners,
        time_budget=search_budget, max_iter=config.max_iter, seed=config.seed,
        n_jobs=config.n_jobs, max_trees=config.max_trees, on_progress=on_progress,
        refit_scale=(len(train_idx) + len(y)) / search_rows,
        refit_reserved=(REFIT_SHARE - EXPORT_SHARE) * (config.time_budget or 0),
    )  # fmt: skip
    if not candidates:
        raise UserError("the search found no model in the budget; raise --time-budget")
    deadline = None
    if config.time_budget is not None:
        deadline = started + config.time_budget * (1 - REFIT_SHARE / 2)
    y_sel, selection = ensemble.selection_rows(
        candidates, matrix, y, train_idx, val_idx, metric=config.metric, seed=config.seed,
        deadline=deadline,
    )  # fmt: skip
    few_rows = evaluate.few_rows(dataset.classes, y[test_idx], y_sel)
    if few_rows:
        notice(few_rows)
    weights = ensemble.choose_members(
        candidates, y_sel, config.metric, max_members=config.max_members,
        max_trees=config.max_trees,
    )  # fmt: skip
    members = [candidates[i] for i in weights]
    ensemble.bag_within(members, config.max_trees)
    weights = _affordable_refits(
        candidates, weights, y_sel, config, started=started,
        rows=(search_rows, len(train_idx), len(y)), notice=notice,
    )  # fmt: skip
    x_test, y_test = matrix[test_idx], y[test_idx]
    measured = _refit_members(candidates, weights, matrix, y, train_idx, config.seed)
    # a member the graph cannot follow is dropped before the map, the threshold and the
    # held-out figures: they describe the blend that ships (measured by models that never saw
    # the held-out rows; a dropped member keeps its leaderboard row)
    weights = _faithful_members(candidates, weights, x_test, notice)
    calibration, threshold = _map_and_threshold(
        candidates, weights, y_sel, selection, config.seed, binary=len(dataset.classes) == 2
    )
    held_out = (x_test, y_test, dataset.classes)
    test_proba, metrics, leaderboard = _holdout_figures(
        candidates, measured, weights, (calibration, threshold), held_out
    )
    if calibration.applied:
        notice(calibration.notice())
    members = [candidates[i] for i in weights]
    fused = export.fuse([(export.to_onnx(candidates[i].estimator, matrix.shape[1]), w)
                         for i, w in weights.items()])  # fmt: skip
    onnx_model = export.with_preparation(
        calibrate.with_calibration(fused, calibration, export.OUTPUT), prep
    )
    memory_proba = calibrate.apply(calibration, ensemble.blend(candidates, weights, x_test))
    _check_parity(export.onnx_proba(onnx_model, raw[test_idx]), memory_proba)
    _check_context_parity(base[test_idx], raw[test_idx], contexts, dataset)
    members_info = [_member_info(c, weights[candidates.index(c)]) for c in members]
    names = [f["name"] for f in search_features]
    importance = _importance(
        onnx_model, raw[test_idx], y_test, names, config.seed, _importance_deadline(config, started)
    )
    if len(importance) < len(names):
        notice(
            f"feature importance: measured for the first {len(importance)} of {len(names)} "
            "columns in the time budget"
        )
    card = _model_card(
        config, dataset, name, metrics, members_info, threshold, prep=prep, selection=selection,
        tuning=f"{folds}-fold cross-validation" if folds else "validation split",
        rows=RowCounts(total=len(y), fit=len(fit_idx), validation=len(val_idx),
                       holdout=len(test_idx), shipped_model=len(y)),
        n_inputs=int(raw.shape[1]), importance=importance, leaderboard=leaderboard,
        contexts=contexts, seconds=time.monotonic() - started, few_rows=few_rows,
        calibration=calibration.record(),
    )  # fmt: skip

    # Training rows only (never held-out ones), a fixed random draw for reproducibility.
    rng = np.random.default_rng(config.seed)
    background_idx = rng.choice(train_idx, min(BACKGROUND_ROWS, len(train_idx)), replace=False)

    def fill(folder: Path, version: int) -> None:
        from amlstack.artifact.names import BACKGROUND_JSON, HOLDOUT_FILE
        from amlstack.artifact.profile import build_profile
        from amlstack.artifact.schema import Holdout
        from amlstack.artifact.writer import write_artifact
        from amlstack.training.report import write_report

        def report(target: Path) -> None:
            write_report(
                target, title=f"{name} v{version} — training report", y=y_test,
                proba=test_proba, classes=dataset.classes, metrics=metrics,
                leaderboard=leaderboard, importance=importance, few_rows=few_rows,
            )  # fmt: skip

        write_artifact(
            folder, msgspec.structs.replace(card, version=version),
            onnx_model.SerializeToString(),
            sample=_sample(dataset, test_idx),
            profile=build_profile(dataset.frame, _monitored(dataset.features)),
            extra_json={
                # which data rows were held out: later evaluations never score the model on
                # its own training rows
                HOLDOUT_FILE: Holdout(data_sha256=dataset.sha256, seed=config.seed,
                                      test_size=config.test_size,
                                      rows=dataset.file_positions(test_idx)),
                BACKGROUND_JSON: {"data": _sample(dataset, background_idx, BACKGROUND_ROWS)},
            },
            report=report,
            signing_key=config.sign_key,
        )  # fmt: skip

    if stopped():
        raise KeyboardInterrupt
    path = store.write_version(config.out, name, fill)
    return TrainResult(
        path=path,
        metrics=metrics,
        leaderboard=leaderboard,
        members=members_info,
        measured_model=card.metrics.measured_model or "",
        memory_holdout_proba=memory_proba,
        measured_holdout_proba=test_proba,
    )


def _add_contexts(base, y, train_idx, dataset, config):
    """The search matrix: encoded features plus context columns (when any are configured)."""
    from amlstack.training import context

    features = list(dataset.features)
    if not config.contexts:
        return base, [], features
    context.check_contexts(config.contexts, dataset.features, len(dataset.classes))
    names = [f["name"] for f in dataset.features]
    specs, extra = context.fit_contexts(base, y, train_idx, config.contexts, names, config.seed)
    features += [{"name": n, "kind": "numeric"} for n in context.context_names(config.contexts)]
    return np.hstack([base, extra]), specs, features


def _check_context_parity(base_test, full_test, contexts, dataset) -> None:
    """The scorer's context lookup must rebuild exactly the columns the model was tested on."""
    if not contexts:
        return
    from amlstack.artifact.encoding import Context, with_context

    index = {f["name"]: i for i, f in enumerate(dataset.features)}
    rebuilt = with_context(base_test, [Context.from_json(c, index) for c in contexts])
    if not np.array_equal(rebuilt, full_test, equal_nan=True):
        raise InternalError("context features differ between training and the artifact's lookup")


def default_name(data: Path) -> str:
    """A model name from the data file's name (`model_name` of its stem)."""
    return model_name(Path(data).stem)


def model_name(text: str) -> str:
    """A model name from ``text``: ASCII letters, digits, '.', '_' and '-' (an accent is
    dropped from its letter, anything else becomes '-'), without a ``_train`` ending."""
    ascii_stem = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    stem = "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in ascii_stem)
    stem = stem.removesuffix("_train").removesuffix("-train").strip("-._") or "model"
    return stem[:63]


def _learner_features(features: list[dict[str, Any]], prep) -> list[dict[str, Any]]:
    """What linear and MLP learners one-hot encode: ordinal categoricals only, all else numeric."""
    out = []
    for spec in features:
        ordinal = spec["kind"] == "categorical" and spec.get("encoding") != "frequency"
        out.append(spec if ordinal else {"name": spec["name"], "kind": "numeric"})
    extra = prep.n_outputs - len(features)
    return out + [{"name": f"prepared_{i}", "kind": "numeric"} for i in range(extra)]


def _search_budget(config, started: float, notice) -> float | None:
    """The search's seconds: the budget less the refits' share and the time spent so far, but
    at least MIN_SEARCH_SHARE of it (with a notice): on a slow or loaded machine, reading the
    data must not cost the whole search."""
    if config.time_budget is None:
        return None
    share = config.time_budget * (1 - REFIT_SHARE)
    if share < 1:
        raise UserError(f"--time-budget {config.time_budget:g}: too short to search at all")
    spent = time.monotonic() - started
    if share - spent >= MIN_SEARCH_SHARE * config.time_budget:
        return share - spent
    floor = MIN_SEARCH_SHARE * config.time_budget
    notice(f"reading the data took {spent:.0f} s; searching {floor:.0f} s anyway")
    return floor


def _refit_members(candidates, weights, matrix, y, train_idx, seed) -> dict[int, Any]:
    """Each member's measured model, returned: its tuned configuration fitted on the rows
    outside the holdout (on small data, its bag of out-of-fold models); then its shipped model,
    left on the candidate: the same fitted on every labelled row."""
    from amlstack.training import search

    outside = matrix[train_idx], y[train_idx]
    measured = {
        i: candidates[i].bag or search.refit(candidates[i].estimator, *outside) for i in weights
    }
    for i in weights:  # the search's model is the template of both refits
        cand = candidates[i]
        cand.estimator = (
            ensemble.fit_bag(cand.estimator, matrix, y, folds=len(cand.bag.models), seed=seed)
            if cand.bag
            else search.refit(cand.estimator, matrix, y)
        )
    return measured


def _map_and_threshold(candidates, weights, y_sel, selection, seed, binary):
    """The map of the blend's probabilities, fitted on the selection rows, and the decision
    threshold, cut on the mapped probabilities (those are what the scorer compares with it; 0.5
    for more than two classes). The map is the identity when those rows are ones the model was
    fitted on, where its probabilities look surer than on new rows."""
    from amlstack.training import calibrate, evaluate

    val_proba = sum(w * candidates[i].val_proba for i, w in weights.items())
    if selection == ensemble.IN_SAMPLE:
        calibration = calibrate.Calibration("none", reason="no rows the model was not fitted on")
    else:
        calibration = calibrate.fit(y_sel, val_proba, seed=seed)
    val_proba = calibrate.apply(calibration, val_proba)
    return calibration, evaluate.best_threshold(y_sel, val_proba) if binary else 0.5


def _holdout_figures(candidates, measured, weights, decision, held_out):
    """The blend's probabilities and metrics on the held-out rows (x, y, classes), and the
    leaderboard. ``measured``: each member's model fitted without those rows (a dropped member
    too: its leaderboard row is a held-out figure); the other candidates' are the search's.
    ``decision``: the calibration map and the threshold."""
    from amlstack.training import calibrate, evaluate

    x_test, y_test, classes = held_out
    calibration, threshold = decision
    # each model's probabilities once: the blend's and the leaderboard's
    each = [measured.get(i, c.estimator).predict_proba(x_test) for i, c in enumerate(candidates)]
    proba = calibrate.apply(calibration, sum(w * each[i] for i, w in weights.items()))
    metrics = evaluate.classification_metrics(y_test, proba, classes, threshold)
    return proba, metrics, _leaderboard(candidates, each, weights, y_test)


def _affordable_refits(candidates, weights, y_sel, config, *, started, rows, notice):
    """``weights`` without the members whose two refits the time budget has no room left for
    (each left out with a notice), by their pace in the search (``ensemble.refit_seconds``)."""
    if config.time_budget is None:
        return weights
    search_rows, train_rows, all_rows = rows
    costs = {
        i: ensemble.refit_seconds(
            candidates[i], search_rows=search_rows, train_rows=train_rows, all_rows=all_rows
        )
        for i in weights
    }
    left = started + config.time_budget * (1 - EXPORT_SHARE) - time.monotonic()
    kept = ensemble.affordable_members(
        candidates, weights, y_sel, config.metric, costs=costs, seconds_left=left
    )
    total = sum(costs.values())
    for i in weights:
        if i not in kept:
            # the whole ensemble's cost: a cheap member may go so that a better one fits
            notice(
                f"ensemble member {candidates[i].learner} left out of the shipped model: "
                f"refitting all {len(weights)} members would take about {_about(total)} and "
                f"the time budget has {_about(left)} left"
            )
    if len(kept) == 1 and costs[only := next(iter(kept))] > left:
        notice(
            f"refitting {candidates[only].learner} on every labelled row takes about "
            f"{_about(costs[only])}, past the time budget ({_about(left)} left): it is refitted "
            "anyway, so that the shipped model learns from every row"
        )
    return kept


def _about(seconds: float) -> str:
    """Seconds for a notice: tenths below 10 s, so that 0.6 s of refits against 1.4 s left do
    not both read "1 s"."""
    seconds = max(seconds, 0.0)
    return f"{seconds:.1f} s" if seconds < 10 else f"{seconds:,.0f} s"


def _member_info(cand, weight: float) -> dict[str, Any]:
    info = {"learner": cand.learner, "weight": round(weight, 6), "config": _jsonable(cand.config)}
    if isinstance(cand.estimator, Bag):
        info["bagged_folds"] = len(cand.estimator.models)
    return info


def _faithful_members(candidates, weights, x_test, notice) -> dict[int, float]:
    """Drop (with a notice) each member whose export disagrees with it; reweight the rest."""
    from amlstack.training import export

    kept = {}
    for i, w in weights.items():
        est = candidates[i].estimator
        gap = float(
            np.max(np.abs(export.onnx_proba(export.to_onnx(est, x_test.shape[1]), x_test)
                          - est.predict_proba(x_test)))
        )  # fmt: skip
        if gap > PARITY_TOLERANCE:
            notice(
                f"ensemble member {candidates[i].learner}: its ONNX export differs by {gap:.1e} "
                f"(tolerance {PARITY_TOLERANCE:g}); dropped from the shipped model"
            )
            continue
        kept[i] = w
    if not kept:
        raise UserError("no ensemble member exports faithfully to ONNX; not writing the artifact")
    total = sum(kept.values())
    return {i: w / total for i, w in kept.items()}


def _check_parity(onnx_proba: np.ndarray, memory_proba: np.ndarray) -> None:
    gap = float(np.max(np.abs(onnx_proba - memory_proba)))
    if gap > PARITY_TOLERANCE:
        raise InternalError(
            f"the exported ONNX model differs from the trained model by {gap:.2e} "
            f"(tolerance {PARITY_TOLERANCE:g}); not writing the artifact"
        )


def _leaderboard(candidates, probas, weights, y_test) -> list[dict[str, Any]]:
    """One row per candidate; ``probas``: each one's held-out probabilities, by the model
    measured for it (none saw the held-out rows)."""
    from amlstack.training import evaluate

    board = []
    for rank, (cand, proba) in enumerate(zip(candidates, probas, strict=True), start=1):
        board.append(
            {
                "rank": rank,
                "model": cand.learner,
                "val_score": round(cand.val_score, 6),
                # by a model that never saw the held-out rows: an honest figure to compare
                "holdout_auc": round(evaluate.auc(y_test, proba), 6),
                "in_ensemble": rank - 1 in weights,
                "weight": round(weights.get(rank - 1, 0.0), 6),
                "trials": cand.trials,
                "seconds": round(cand.seconds, 1),
                "config": _jsonable(cand.config),
            }
        )
    return board


def _importance_deadline(config, started: float) -> float | None:
    """When permutation importance stops: at the budget's end, but it always gets
    EXPORT_SHARE of the budget (a run past its budget still reports its first columns)."""
    if config.time_budget is None:
        return None
    floor = time.monotonic() + EXPORT_SHARE * config.time_budget
    return max(started + config.time_budget, floor)


def _importance(onnx_model, x_test, y_test, names, seed, deadline=None) -> dict[str, float]:
    from amlstack.training import export
    from amlstack.training.report import permutation_importance

    session = export.session_for(onnx_model, threads=2)

    def predict(matrix):
        return session.run([export.OUTPUT], {export.INPUT: matrix})[0]

    return permutation_importance(predict, x_test, y_test, names, seed, deadline)


ENCODING = (
    "numeric as float32; date as days since 1970-01-01; categorical as index into categories "
    "(frequency-encoded: share of training rows), -1 (0) if unseen; missing as NaN, imputed by "
    "the graph (preprocessing)"
)


def _model_card(config, dataset, name, metrics, members, threshold, *, prep, selection,
                tuning, rows, n_inputs, importance, leaderboard, contexts,
                seconds, few_rows=None, calibration=None) -> ModelCard:  # fmt: skip
    from amlstack.training.store import model_card

    single = members[0]["learner"] if len(members) == 1 else None
    description = " + ".join(_member_text(m, single=len(members) == 1) for m in members)
    return model_card(
        dataset,
        name=name,
        threshold=threshold,
        model=ModelSpec(
            n_features=len(dataset.features),
            n_inputs=n_inputs,
            kind=single or "ensemble",
            description=description,
            members=members,
            encoding=ENCODING,
            preprocessing=prep.spec(),
        ),
        metrics=CardMetrics(
            holdout=metrics,
            primary_metric=config.metric,
            measured_model=measured_model(rows, members),
            few_rows=few_rows,
        ),
        training=TrainingRecord(
            data_file=Path(dataset.path).name,
            data_sha256=dataset.sha256,
            rows=rows,
            seed=config.seed,
            time_budget_s=config.time_budget,
            max_iter=config.max_iter,
            learners=list(config.learners),
            test_size=config.test_size,
            validation_size=config.val_size,
            tuning=tuning,
            member_selection=selection,
            calibration=calibration,
            seconds=round(seconds, 1),
            libraries=_library_versions(),
            python=platform.python_version(),
        ),
        column_decisions=[d.record() for d in dataset.decisions],
        feature_importance=importance,
        leaderboard=leaderboard,
        context=contexts,
    )


def measured_model(rows: RowCounts, members: list[dict[str, Any]]) -> str:
    """Which model the holdout figures describe, and how the shipped one differs from it."""
    fit, total = rows.total - rows.holdout, rows.total
    bagged = [m for m in members if "bagged_folds" in m]
    if not bagged:
        return (
            f"the same configuration fitted on the {fit:,} non-holdout rows; "
            f"the shipped model was then refitted on all {total:,} rows"
        )
    k = bagged[0]["bagged_folds"]
    text = (
        f"{', '.join(m['learner'] for m in bagged)}: the mean of {k} models of the tuned "
        f"configuration, each fitted on {k - 1} of {k} folds of the {fit:,} non-holdout rows"
    )
    single = [m["learner"] for m in members if "bagged_folds" not in m]
    if single:
        text += f"; {', '.join(single)}: the tuned configuration fitted on those {fit:,} rows"
    return text + f"; the shipped model was then built the same way from all {total:,} rows"


def _member_text(member: dict[str, Any], single: bool) -> str:
    text = member["learner"] if single else f"{member['learner']}×{member['weight']:.2f}"
    folds = member.get("bagged_folds")
    return f"{text} ({folds}-fold bag)" if folds else text


def _library_versions() -> dict[str, str]:
    found = {}
    for lib in LIBRARIES:
        try:
            found[lib] = metadata.version(lib)
        except metadata.PackageNotFoundError:
            continue
    return found


def _sample(dataset, indices, limit: int = SAMPLE_ROWS) -> list[dict[str, Any]]:
    """A few real rows (the first ``limit`` of ``indices``), as a client would send them."""
    rows = dataset.frame.iloc[indices[:limit]]
    return data_mod.client_records(rows, dataset.features)


def _monitored(features: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Features the drift profile bins: dates and frequency-encoded columns have no such bins."""
    return [f for f in features if f["kind"] != "date" and f.get("encoding") != "frequency"]


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


def _jsonable(config: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(config, default=_json_default))

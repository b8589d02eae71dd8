"""Post-hoc calibration of the shipped ensemble's probabilities (monotone, so ranks hold).

The search and the ensemble optimise AUC, which ignores how sure a probability is: on some data
the chosen models rank well but say 0.8 where they should say 0.99 (credit_card: 13-tree
boosters, log loss 0.3 at AUC 0.99). The scorer returns these probabilities and a threshold is
cut on them, so they are recalibrated on the rows members and threshold are chosen on
(``ensemble.selection_rows``): a binary model by Platt scaling of the blend's logit,
``sigmoid(a * logit(p) + b)``; a multi-class one by temperature scaling, ``softmax(log(p) / T)``.
Both keep the order of the rows, so AUC is unchanged but for ties that float32 (or a file's six
decimals) may make where the map sharpens: none cost AUC on the corpus.

The map is kept only when it lowers the log loss of rows it was not fitted on (`FOLDS`-fold
cross-validation over the selection rows) by `MARGIN`; otherwise it is the identity and the
graph is the ensemble's own. ``apply`` computes exactly what
``onnx_nodes`` add to the graph, in float32, so the artifact's parity check holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

EPS = 1e-15  # probabilities are held at or above this before their log (no -inf for a 0)
FOLDS = 5
# The out-of-fold log-loss gain (relative) below which the graph is left as it was. Measured:
# on the corpus, gains of 0.02 % and 0.3 % came to 0.1 % or less on the test rows, one of 0.7 %
# (mortgage) to 4.9 %. On 150 rows of an already calibrated model noise passes this floor one
# time in three, but such a map costs about 1 % of log loss on new rows, while a stricter rule
# (2 %, or two standard errors of the rows' gains) left out maps that gained 5-90 % on the test
# rows (mortgage, wine) and, on synthetic data, 12 % on 150 rows of a 2x too timid model.
MARGIN = 0.005
# Platt slope / inverse temperature. Above: a bound, as on separable rows. Below: 1, the map
# only sharpens or shifts. A softening map (an overconfident booster's) reads the logit of
# probabilities float32 has rounded to 1 (the graph's 1 - p is 0 where memory has 3e-14) and
# brings it back into view: the graph and the trained model then differ by up to 0.08.
SLOPE_BOUNDS = (1.0, 20.0)
INTERCEPT_BOUND = 20.0  # the maximum likelihood is infinite
UNCALIBRATED = "amlstack_uncalibrated"  # the ensemble's own output, inside the graph


@dataclass(frozen=True)
class Calibration:
    """A fitted map. ``kind``: "platt" (binary), "temperature" (more classes) or "none"."""

    kind: str
    slope: float = 1.0  # Platt's a; for temperature scaling 1/T
    intercept: float = 0.0  # Platt's b
    log_loss_before: float | None = None  # on the selection rows, in sample
    log_loss_after: float | None = None
    cv_log_loss: float | None = None  # the map's out-of-fold log loss (what decides)
    reason: str = ""

    @property
    def applied(self) -> bool:
        return self.kind != "none"

    def record(self) -> dict[str, Any]:
        """As model.json's ``training.calibration`` records it."""
        out: dict[str, Any] = {"kind": self.kind}
        if self.kind == "platt":
            out |= {"slope": round(self.slope, 6), "intercept": round(self.intercept, 6)}
        elif self.kind == "temperature":
            out["temperature"] = round(1.0 / self.slope, 6)
        for key in ("log_loss_before", "log_loss_after", "cv_log_loss"):
            value = getattr(self, key)
            if value is not None:
                out[f"selection_{key}"] = round(value, 6)
        if self.reason:
            out["reason"] = self.reason
        return out

    def notice(self) -> str:
        """The line training prints when the map is applied."""
        how = (
            f"Platt scaling, slope {self.slope:.3g}, intercept {self.intercept:+.3g}"
            if self.kind == "platt"
            else f"temperature {1.0 / self.slope:.3g}"
        )
        return (
            f"probabilities calibrated ({how}) on the selection rows: their log loss "
            f"{self.log_loss_before:.4f} -> {self.log_loss_after:.4f} "
            f"({self.cv_log_loss:.4f} out of fold)"
        )


def fit(y: np.ndarray, proba: np.ndarray, *, seed: int) -> Calibration:
    """The map for a blend's ``proba`` on labelled rows ``y`` (class indices), or the identity
    when it does not lower the out-of-fold log loss by `MARGIN`."""
    from amlstack.training.bag import fold_splits

    before = float(_row_losses(y, proba).mean())
    folds = min(FOLDS, int(np.bincount(y, minlength=proba.shape[1]).min()))
    if folds < 2:
        return Calibration("none", log_loss_before=before, reason="too few rows of a class")
    kind = "platt" if proba.shape[1] == 2 else "temperature"
    out_of_fold = np.zeros_like(proba, dtype=np.float32)
    for fit_rows, out_rows in fold_splits(y, folds, seed):
        slope, intercept = _fit_params(kind, y[fit_rows], proba[fit_rows])
        out_of_fold[out_rows] = apply_map(proba[out_rows], kind, slope, intercept)
    cv = float(_row_losses(y, out_of_fold).mean())
    slope, intercept = _fit_params(kind, y, proba)
    after = float(_row_losses(y, apply_map(proba, kind, slope, intercept)).mean())
    figures = {"log_loss_before": before, "log_loss_after": after, "cv_log_loss": cv}
    if cv > (1 - MARGIN) * before:
        why = f"out of fold it lowers the log loss by less than {MARGIN:.1%}"
        return Calibration("none", **figures, reason=why)
    return Calibration(kind, slope, intercept, **figures)


def apply(calibration: Calibration, proba: np.ndarray) -> np.ndarray:
    """``proba`` through the map, computed as the graph's calibration nodes compute it."""
    if not calibration.applied:
        return proba
    return apply_map(proba, calibration.kind, calibration.slope, calibration.intercept)


def apply_map(proba: np.ndarray, kind: str, slope: float, intercept: float) -> np.ndarray:
    """The map in float32, op for op as ``onnx_nodes`` (Max, Log, Sub, Mul, Add, Sigmoid or
    Softmax); "none" gives the float32 probabilities."""
    from scipy.special import expit, softmax

    p = np.asarray(proba, dtype=np.float32)
    if kind == "none":
        return p
    logs = np.log(np.maximum(p, np.float32(EPS)))
    if kind == "platt":
        logit = logs[:, 1:2] - logs[:, 0:1]
        # both columns as sigmoids of +-z: the smaller probability keeps its digits when the
        # larger one rounds to 1 in float32
        z = logit * _f32([-slope, slope]) + _f32([-intercept, intercept])
        return expit(z)
    return softmax(logs * np.float32(slope), axis=1)


def _f32(values) -> np.ndarray:
    return np.asarray(values, dtype=np.float32)


def _fit_params(kind: str, y: np.ndarray, proba: np.ndarray) -> tuple[float, float]:
    """Maximum-likelihood slope and intercept (temperature: the slope alone), within bounds:
    on rows the blend separates the unbounded optimum is an infinite slope."""
    from scipy.optimize import minimize, minimize_scalar

    logs = np.log(np.maximum(np.asarray(proba, dtype=np.float32), np.float32(EPS)))
    logs = logs.astype(np.float64)
    if kind == "platt":
        logit, positive = logs[:, 1] - logs[:, 0], y == 1

        def loss(params: np.ndarray) -> float:
            z = params[0] * logit + params[1]
            # -log sigmoid(z) for positives, -log sigmoid(-z) for negatives, without overflow
            return float(np.mean(np.logaddexp(0.0, np.where(positive, -z, z))))

        found = minimize(
            loss, x0=np.array([1.0, 0.0]), method="L-BFGS-B",
            bounds=[SLOPE_BOUNDS, (-INTERCEPT_BOUND, INTERCEPT_BOUND)],
        )  # fmt: skip
        return float(found.x[0]), float(found.x[1])

    def temperature_loss(slope: float) -> float:
        scaled = slope * logs
        top = scaled.max(axis=1)
        norm = top + np.log(np.exp(scaled - top[:, None]).sum(axis=1))
        return float(np.mean(norm - scaled[np.arange(len(y)), y]))

    found = minimize_scalar(temperature_loss, bounds=SLOPE_BOUNDS, method="bounded")
    return float(found.x), 0.0


def _row_losses(y: np.ndarray, proba: np.ndarray) -> np.ndarray:
    """Each row's log loss, its probabilities clipped and renormalised as ``evaluate`` does for
    the reported log loss (their mean is that figure)."""
    clipped = np.clip(np.asarray(proba, dtype=np.float64), 1e-15, 1)
    rows = clipped / clipped.sum(axis=1, keepdims=True)
    return -np.log(rows[np.arange(len(y)), y])


def onnx_nodes(calibration: Calibration, source: str, target: str):
    """The nodes and initializers mapping probabilities ``source`` to ``target``, as ``apply``."""
    from onnx import helper, numpy_helper

    def const(name: str, value) -> Any:
        return numpy_helper.from_array(np.asarray(value, dtype=np.float32), f"calib_{name}")

    inits = [const("eps", EPS)]
    nodes = [
        helper.make_node("Max", [source, "calib_eps"], ["calib_held"]),
        helper.make_node("Log", ["calib_held"], ["calib_log"]),
    ]
    if calibration.kind == "platt":
        a, b = calibration.slope, calibration.intercept
        inits += [
            numpy_helper.from_array(np.asarray([0], dtype=np.int64), "calib_col0"),
            numpy_helper.from_array(np.asarray([1], dtype=np.int64), "calib_col1"),
            const("slope", [[-a, a]]),
            const("intercept", [[-b, b]]),
        ]
        nodes += [
            helper.make_node("Gather", ["calib_log", "calib_col0"], ["calib_log0"], axis=1),
            helper.make_node("Gather", ["calib_log", "calib_col1"], ["calib_log1"], axis=1),
            helper.make_node("Sub", ["calib_log1", "calib_log0"], ["calib_logit"]),
            helper.make_node("Mul", ["calib_logit", "calib_slope"], ["calib_scaled"]),
            helper.make_node("Add", ["calib_scaled", "calib_intercept"], ["calib_z"]),
            helper.make_node("Sigmoid", ["calib_z"], [target]),
        ]
    else:
        inits.append(const("slope", calibration.slope))
        nodes += [
            helper.make_node("Mul", ["calib_log", "calib_slope"], ["calib_scaled"]),
            helper.make_node("Softmax", ["calib_scaled"], [target], axis=1),
        ]
    return nodes, inits


def with_calibration(model, calibration: Calibration, output: str):
    """``model`` (a ModelProto whose probabilities are ``output``) with the map after them; the
    ensemble's own output is then the inner tensor `UNCALIBRATED`. The identity: ``model``."""
    import onnx

    if not calibration.applied:
        return model
    graph = model.graph
    for node in graph.node:
        node.output[:] = [UNCALIBRATED if name == output else name for name in node.output]
        node.input[:] = [UNCALIBRATED if name == output else name for name in node.input]
    nodes, inits = onnx_nodes(calibration, UNCALIBRATED, output)
    graph.node.extend(nodes)
    graph.initializer.extend(inits)
    _at_least_opset(model, 8)  # Max broadcasting; Softmax on axis 1 of a matrix is the same since 1
    model.ir_version = max(model.ir_version, 4)  # initializers that are not graph inputs
    onnx.checker.check_model(model)
    return model


def _at_least_opset(model, version: int) -> None:
    """The default domain's opset, raised to what the map's nodes need."""
    from amlstack.training.preprocess import _at_least_opset as raise_opset

    raise_opset(model, version)

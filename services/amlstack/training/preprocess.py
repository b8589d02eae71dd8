"""The model's own input preparation: missing values imputed, missing-indicators and weekdays added.

The encoded input may hold NaN (a missing cell, at training or at serving time, in any column).
``Preparation`` fills each column with a value learnt on the training rows (a numeric column's
median; a categorical column gets a code of its own), appends a 0/1 "was missing" column for each
column that had missing values in training, and a weekday for each date column. Training applies
it with numpy (``apply``); ``prepend`` writes the same steps as the first nodes of the ONNX graph,
in float32 like numpy, so every learner gets NaN-free input and the graph agrees with training.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from amlstack.artifact.schema import Preprocessing

PREPARED = "prepared_X"


@dataclass(frozen=True)
class Preparation:
    """Fill value per input column, columns with a missing-indicator, date columns (weekday)."""

    fill: tuple[float, ...]
    indicators: tuple[int, ...]
    weekdays: tuple[int, ...]

    @property
    def n_outputs(self) -> int:
        return len(self.fill) + len(self.indicators) + len(self.weekdays)

    def spec(self) -> Preprocessing:
        """As model.json records it (the scorer reads whether the graph imputes)."""
        return Preprocessing(
            fill=[float(v) for v in self.fill],
            indicators=list(self.indicators),
            weekdays=list(self.weekdays),
        )

    def apply(self, matrix: np.ndarray) -> np.ndarray:
        """The NaN-free float32 matrix the learners see (what the graph's first nodes compute)."""
        matrix = np.asarray(matrix, dtype=np.float32)
        missing = np.isnan(matrix)
        filled = np.where(missing, np.asarray(self.fill, dtype=np.float32), matrix)
        parts = [filled, missing[:, list(self.indicators)].astype(np.float32)]
        if self.weekdays:
            parts.append(_weekday(filled[:, list(self.weekdays)]))
        return np.hstack(parts).astype(np.float32, copy=False)

    def names(self, input_names: list[str]) -> list[str]:
        """Names of the prepared columns (for feature importance and reports)."""
        return [
            *input_names,
            *(f"{input_names[i]} (missing)" for i in self.indicators),
            *(f"{input_names[i]} (weekday)" for i in self.weekdays),
        ]


def fit_preparation(matrix: np.ndarray, features: list[dict[str, Any]]) -> Preparation:
    """Fill values from these rows: medians for numbers and dates, a code of its own otherwise.

    ``features`` describe the leading columns; any further columns (context features) are
    numeric and never missing.
    """
    fill = []
    for j in range(matrix.shape[1]):
        spec = features[j] if j < len(features) else {"kind": "numeric"}
        if spec["kind"] == "categorical":
            # one past the last category code; frequency codes are shares, so -1 is free there
            fill.append(-1.0 if spec.get("encoding") == "frequency" else len(spec["categories"]))
            continue
        column = matrix[:, j]
        present = column[~np.isnan(column)]
        fill.append(float(np.float32(np.median(present))) if len(present) else 0.0)
    had_missing = np.isnan(matrix).any(axis=0)
    indicators = tuple(
        j
        for j in range(min(len(features), matrix.shape[1]))
        if had_missing[j] and features[j]["kind"] != "categorical"
    )
    weekdays = tuple(j for j, f in enumerate(features) if f["kind"] == "date")
    return Preparation(tuple(fill), indicators, weekdays)


def _weekday(days: np.ndarray) -> np.ndarray:
    """Monday 0 .. Sunday 6 from days since 1970-01-01 (a Thursday), in float32 as ONNX does."""
    seven = np.float32(7.0)
    shifted = np.floor(days).astype(np.float32) + np.float32(3.0)
    return (shifted - seven * np.floor(shifted / seven)).astype(np.float32)


def prepend(model, prep: Preparation, input_name: str):
    """Put the preparation in front of ``model``: its input becomes the raw encoded matrix."""
    from onnx import TensorProto, helper, numpy_helper

    graph = model.graph
    for node in graph.node:
        node.input[:] = [PREPARED if name == input_name else name for name in node.input]
    inits = [numpy_helper.from_array(np.asarray([prep.fill], dtype=np.float32), "prep_fill")]
    nodes = [
        helper.make_node("IsNaN", [input_name], ["prep_missing"]),
        helper.make_node("Where", ["prep_missing", "prep_fill", input_name], ["prep_filled"]),
    ]
    parts = ["prep_filled"]
    if prep.indicators:
        inits.append(
            numpy_helper.from_array(np.asarray(prep.indicators, dtype=np.int64), "prep_ind_cols")
        )
        nodes += [
            helper.make_node("Cast", ["prep_missing"], ["prep_missing_f"], to=TensorProto.FLOAT),
            helper.make_node("Gather", ["prep_missing_f", "prep_ind_cols"], ["prep_ind"], axis=1),
        ]
        parts.append("prep_ind")
    if prep.weekdays:
        nodes_w, inits_w = _weekday_nodes(prep.weekdays)
        nodes += nodes_w
        inits += inits_w
        parts.append("prep_weekday")
    if len(parts) == 1:
        nodes.append(helper.make_node("Identity", parts, [PREPARED]))
    else:
        nodes.append(helper.make_node("Concat", parts, [PREPARED], axis=1))
    kept = list(graph.node)
    del graph.node[:]
    graph.node.extend([*nodes, *kept])
    graph.initializer.extend(inits)
    others = [i for i in graph.input if i.name != input_name]  # initializers, in old IR versions
    del graph.input[:]
    graph.input.append(
        helper.make_tensor_value_info(input_name, TensorProto.FLOAT, [None, len(prep.fill)])
    )
    graph.input.extend(others)
    model.ir_version = max(model.ir_version, 4)  # initializers need not be graph inputs
    _at_least_opset(model, 9)  # IsNaN and Where; every other node is older
    return model


def _weekday_nodes(columns: tuple[int, ...]):
    from onnx import helper, numpy_helper

    inits = [
        numpy_helper.from_array(np.asarray(columns, dtype=np.int64), "prep_date_cols"),
        numpy_helper.from_array(np.asarray(3.0, dtype=np.float32), "prep_three"),
        numpy_helper.from_array(np.asarray(7.0, dtype=np.float32), "prep_seven"),
    ]
    nodes = [
        helper.make_node("Gather", ["prep_filled", "prep_date_cols"], ["prep_days"], axis=1),
        helper.make_node("Floor", ["prep_days"], ["prep_days_floor"]),
        helper.make_node("Add", ["prep_days_floor", "prep_three"], ["prep_shifted"]),
        helper.make_node("Div", ["prep_shifted", "prep_seven"], ["prep_weeks"]),
        helper.make_node("Floor", ["prep_weeks"], ["prep_weeks_floor"]),
        helper.make_node("Mul", ["prep_weeks_floor", "prep_seven"], ["prep_week_days"]),
        helper.make_node("Sub", ["prep_shifted", "prep_week_days"], ["prep_weekday"]),
    ]
    return nodes, inits


def _at_least_opset(model, version: int) -> None:
    """The default domain's opset, raised to what the preparation's nodes need."""
    from onnx import helper

    for op in model.opset_import:
        if op.domain in ("", "ai.onnx"):
            op.version = max(op.version, version)
            return
    model.opset_import.append(helper.make_opsetid("", version))

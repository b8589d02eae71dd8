"""Wrap an Azure AutoML ONNX model so it speaks the amlstack artifact contract.

AutoML's ONNX-compatible models take one input per column (strings for categorical columns,
numbers otherwise) and end in a ZipMap. The scorer feeds one float32 matrix ``X`` in
model.json feature order with categories as codes, and reads a float32 ``probabilities``
tensor. This module prepends a decoder (column slice, code -> category string, cast) and
replaces the ZipMap with the tensor it wraps, ordered like the artifact's ``classes``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from amlstack.artifact.names import ONNX_INPUT, ONNX_OUTPUT
from amlstack.errors import DataError

INPUT = ONNX_INPUT
OUTPUT = ONNX_OUTPUT
UNSEEN_CATEGORY = ""  # what a code of -1 (a value never seen in training) decodes to
_PREFIX = "amlstack_"


@dataclass(frozen=True)
class Column:
    """One model.json feature, as the adapter needs it."""

    name: str
    categories: tuple[str, ...] = ()  # empty for numeric features

    @property
    def categorical(self) -> bool:
        return bool(self.categories)


def _norm(name: str) -> str:
    return re.sub(r"[^0-9a-z]", "", name.lower())


def match_inputs(
    graph: onnx.GraphProto, columns: Sequence[Column]
) -> list[tuple[onnx.ValueInfoProto, int]]:
    """Pair each graph input with a column: by exact name, by normalised name, else by position."""
    inputs = [i for i in graph.input if i.name not in {t.name for t in graph.initializer}]
    by_name = {c.name: k for k, c in enumerate(columns)}
    by_norm = {_norm(c.name): k for k, c in enumerate(columns)}
    pairs = []
    for position, inp in enumerate(inputs):
        k = by_name.get(inp.name, by_norm.get(_norm(inp.name)))
        if k is None and len(inputs) == len(columns):
            k = position
        if k is None:
            raise DataError(
                f"AutoML model input {inp.name!r} matches no column of the training data"
            )
        pairs.append((inp, k))
    return pairs


def _const(nodes_init: list, name: str, array: np.ndarray) -> str:
    nodes_init.append(numpy_helper.from_array(array, name))
    return name


def _decoder_nodes(
    pairs: list[tuple[onnx.ValueInfoProto, int]], columns: Sequence[Column], ml_opset: int
) -> tuple[list[onnx.NodeProto], list[onnx.TensorProto]]:
    nodes: list[onnx.NodeProto] = []
    inits: list[onnx.TensorProto] = []
    for inp, k in pairs:
        column = columns[k]
        elem = inp.type.tensor_type.elem_type
        rank = len(inp.type.tensor_type.shape.dim) or 2
        p = f"{_PREFIX}{k}_"
        idx = _const(inits, p + "idx", np.array([k], dtype=np.int64))
        nodes.append(helper.make_node("Gather", [INPUT, idx], [p + "col"], axis=1))
        current = p + "col"
        if elem == TensorProto.STRING:
            if not column.categorical:
                raise DataError(
                    f"AutoML model input {inp.name!r} takes text but column {column.name!r} "
                    "is numeric in the training data"
                )
            nodes.append(helper.make_node("Cast", [current], [p + "code"], to=TensorProto.INT64))
            nodes.append(_label_decoder(p + "code", p + "str", column.categories, ml_opset))
            current = p + "str"
        elif elem != TensorProto.FLOAT:
            nodes.append(helper.make_node("Cast", [current], [p + "cast"], to=elem))
            current = p + "cast"
        if rank == 1:
            shape = _const(inits, p + "shape", np.array([-1], dtype=np.int64))
            nodes.append(helper.make_node("Reshape", [current, shape], [p + "flat"]))
            current = p + "flat"
        nodes.append(helper.make_node("Identity", [current], [inp.name]))
    return nodes, inits


def _label_decoder(src: str, dst: str, categories: Sequence[str], ml_opset: int) -> onnx.NodeProto:
    """Category code -> category string (opset 1 indexes a list; opset 2+ maps keys to values)."""
    if ml_opset >= 2:
        return helper.make_node(
            "LabelEncoder",
            [src],
            [dst],
            domain="ai.onnx.ml",
            keys_int64s=list(range(len(categories))),
            values_strings=list(categories),
            default_string=UNSEEN_CATEGORY,
        )
    return helper.make_node(
        "LabelEncoder",
        [src],
        [dst],
        domain="ai.onnx.ml",
        classes_strings=list(categories),
        default_string=UNSEEN_CATEGORY,
    )


def probability_source(graph: onnx.GraphProto) -> tuple[str, list[str] | None, str | None]:
    """(tensor with class probabilities, its class labels if known, ZipMap node name if any)."""
    for node in graph.node:
        if node.op_type == "ZipMap":
            labels = None
            for attr in node.attribute:
                if attr.name == "classlabels_strings":
                    labels = [s.decode() for s in attr.strings]
                elif attr.name == "classlabels_int64s":
                    labels = [str(i) for i in attr.ints]
            return node.input[0], labels, node.name
    for out in graph.output:
        t = out.type.tensor_type
        numeric = t.elem_type in (TensorProto.FLOAT, TensorProto.DOUBLE)
        if out.type.HasField("tensor_type") and numeric and len(t.shape.dim) == 2:
            return out.name, None, None
    raise DataError("the AutoML ONNX model has no class-probability output")


def adapt(
    model: onnx.ModelProto, columns: Sequence[Column], classes: Sequence[str]
) -> onnx.ModelProto:
    """One ONNX graph: float32 X [N, len(columns)] -> float32 probabilities [N, len(classes)]."""
    model = _free_names(model, (INPUT, OUTPUT))
    graph = model.graph
    ml_opset = next((o.version for o in model.opset_import if o.domain == "ai.onnx.ml"), 0)
    pairs = match_inputs(graph, columns)
    prob, labels, _zipmap = probability_source(graph)
    decoder, inits = _decoder_nodes(pairs, columns, ml_opset or 2)
    tail = [helper.make_node("Cast", [prob], [_PREFIX + "prob32"], to=TensorProto.FLOAT)]
    order = _class_order(labels, classes)
    if order is not None:
        perm = _const(inits, _PREFIX + "perm", np.array(order, dtype=np.int64))
        tail.append(helper.make_node("Gather", [_PREFIX + "prob32", perm], [OUTPUT], axis=1))
    else:
        tail.append(helper.make_node("Identity", [_PREFIX + "prob32"], [OUTPUT]))
    body = list(graph.node)  # the ZipMap and label branch are pruned below: nothing reads them
    new_graph = helper.make_graph(
        decoder + body + tail,
        graph.name or "automl",
        [helper.make_tensor_value_info(INPUT, TensorProto.FLOAT, [None, len(columns)])],
        [helper.make_tensor_value_info(OUTPUT, TensorProto.FLOAT, [None, len(classes)])],
        initializer=list(graph.initializer) + inits,
    )
    _prune(new_graph)
    opsets = {o.domain: o.version for o in model.opset_import}
    opsets.setdefault("ai.onnx.ml", 2)
    out = helper.make_model(
        new_graph,
        opset_imports=[helper.make_opsetid(d, v) for d, v in opsets.items()],
        producer_name="amlstack",
    )
    out.ir_version = model.ir_version
    onnx.checker.check_model(out)
    return out


def _free_names(model: onnx.ModelProto, names: Sequence[str]) -> onnx.ModelProto:
    """A copy whose inner tensors do not use ``names`` (ours: the contract's X/probabilities)."""
    model = onnx.ModelProto.FromString(model.SerializeToString())
    graph = model.graph
    taken = {n for node in graph.node for n in (*node.input, *node.output)}
    taken |= {v.name for v in (*graph.input, *graph.output)} | {t.name for t in graph.initializer}
    for name in set(names) & taken:
        new = f"{_PREFIX}inner_{name}"
        for node in graph.node:
            node.input[:] = [new if n == name else n for n in node.input]
            node.output[:] = [new if n == name else n for n in node.output]
        for value in (*graph.input, *graph.output, *graph.initializer):
            if value.name == name:
                value.name = new
    return model


def _class_order(labels: list[str] | None, classes: Sequence[str]) -> list[int] | None:
    """Column permutation from the model's label order to ``classes``; None when already equal."""
    if labels is None or list(labels) == [str(c) for c in classes]:
        return None
    try:
        return [labels.index(str(c)) for c in classes]
    except ValueError:
        raise DataError(
            f"the AutoML model's classes {labels} differ from the data's {list(classes)}"
        ) from None


def _prune(graph: onnx.GraphProto) -> None:
    """Drop nodes whose outputs nothing uses (the label branch once ZipMap is gone)."""
    while True:
        used = {name for node in graph.node for name in node.input} | {o.name for o in graph.output}
        dead = [n for n in graph.node if not any(o in used for o in n.output)]
        if not dead:
            return
        for node in dead:
            graph.node.remove(node)

"""Convert fitted models to ONNX and fuse a weighted soft-voting ensemble into one graph.

Every member graph takes the same float32 input ``X`` and yields a float32 [N, n_classes]
probability tensor; the fused graph feeds ``X`` to each member and sums the weighted outputs, so
serving runs a single onnxruntime session whatever the ensemble holds.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from amlstack.artifact.names import ONNX_INPUT, ONNX_OUTPUT
from amlstack.errors import InternalError
from amlstack.training.bag import Bag

INPUT = ONNX_INPUT
OUTPUT = ONNX_OUTPUT
TARGET_OPSET = {"": 15, "ai.onnx.ml": 3}
IR_VERSION = 8  # the IR version of TARGET_OPSET


def to_onnx(estimator: Any, n_features: int):
    """A fitted model (LightGBM, XGBoost, CatBoost, scikit-learn or a Bag) as an ONNX ModelProto."""
    if isinstance(estimator, Bag):
        share = 1.0 / len(estimator.models)
        return fuse([(to_onnx(model, n_features), share) for model in estimator.models])
    kind = type(estimator).__module__.split(".")[0]
    if kind == "lightgbm":
        model = _lightgbm(estimator, n_features)
    elif kind == "xgboost":
        model = _xgboost(estimator, n_features)
    elif kind == "catboost":
        model = _catboost(estimator)
    elif kind == "sklearn":
        model = _sklearn(estimator, n_features)
    else:
        raise InternalError(f"no ONNX exporter for {type(estimator).__name__}")
    return _probabilities_only(model)


def _initial_types(n_features: int):
    from onnxmltools.convert.common.data_types import FloatTensorType

    return [(INPUT, FloatTensorType([None, n_features]))]


def _lightgbm(estimator, n_features):
    from onnxmltools import convert_lightgbm

    return convert_lightgbm(
        _float32_thresholds(estimator),
        initial_types=_initial_types(n_features),
        target_opset=TARGET_OPSET[""],
        zipmap=False,
    )


def _float32_thresholds(estimator):
    """A copy of a fitted LightGBM model whose split thresholds are each the largest float32 at
    or below it. The graph compares float32 inputs with float32 thresholds; LightGBM's are
    doubles, often midway between two adjacent float32 values (epoch seconds near 1.3e9 are 128
    apart there), which the converter rounded up as often as down: a row at the upper value
    took the other branch (a member 0.15 off, dropped). For a float32 x, x <= t exactly when x
    is at most the largest float32 <= t, so the copy predicts as the model does."""
    import copy
    import re

    import lightgbm

    def rounded(match: re.Match) -> str:
        values = np.array(match[1].split(), dtype=np.float64)
        down = values.astype(np.float32)
        above = down.astype(np.float64) > values
        down[above] = np.nextafter(down[above], np.float32(-np.inf))
        return "threshold=" + " ".join(repr(float(v)) for v in down)

    text = estimator.booster_.model_to_string()
    text = re.sub(r"(?m)^threshold=(.*)$", rounded, text)
    text = re.sub(r"(?m)^tree_sizes=.*\n", "", text)  # the byte sizes no longer hold
    model = copy.copy(estimator)
    model._Booster = lightgbm.Booster(model_str=text)
    return model


def _xgboost(estimator, n_features):
    from onnxmltools import convert_xgboost

    return convert_xgboost(
        estimator, initial_types=_initial_types(n_features), target_opset=TARGET_OPSET[""]
    )


def _catboost(estimator):
    import onnx

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "catboost.onnx"
        estimator.save_model(str(path), format="onnx")
        model = onnx.load(str(path))
    # CatBoost names its input "features" and wraps probabilities in a ZipMap (a list of
    # dicts); rename the input and drop the ZipMap so the float tensor is the output.
    graph = model.graph
    old = graph.input[0].name
    for node in graph.node:
        node.input[:] = [INPUT if name == old else name for name in node.input]
    graph.input[0].name = INPUT
    zipmaps = [n for n in graph.node if n.op_type == "ZipMap"]
    for node in zipmaps:
        graph.node.remove(node)
        _replace_output(graph, node.output[0], node.input[0])
    return model


def _replace_output(graph, old: str, new: str) -> None:
    from onnx import TensorProto, helper

    for out in list(graph.output):
        if out.name == old:
            graph.output.remove(out)
            graph.output.append(helper.make_tensor_value_info(new, TensorProto.FLOAT, [None, None]))


def _sklearn(estimator, n_features):
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType

    return convert_sklearn(
        estimator,
        initial_types=[(INPUT, FloatTensorType([None, n_features]))],
        target_opset=TARGET_OPSET,
        options={id(estimator): {"zipmap": False}},
    )


def _probabilities_only(model):
    """Keep only the float probability tensor as the graph's output, named ``probabilities``."""
    from onnx import TensorProto, helper

    graph = model.graph
    prob = next(
        (o for o in graph.output if o.type.tensor_type.elem_type == TensorProto.FLOAT),
        None,
    )
    if prob is None:
        raise InternalError("the exported model has no float probability output")
    del graph.output[:]
    if prob.name != OUTPUT:
        graph.node.append(helper.make_node("Identity", [prob.name], [OUTPUT]))
    graph.output.append(helper.make_tensor_value_info(OUTPUT, TensorProto.FLOAT, [None, None]))
    return model


def fuse(members: list[tuple[Any, float]]):
    """One graph computing sum(weight_i * member_i(X)) for (ModelProto, weight) members."""
    import onnx
    from onnx import TensorProto, compose, helper, numpy_helper

    if len(members) == 1:
        return _with_opsets(members[0][0])
    nodes, inits, terms = [], [], []
    # Mul and Sum need the ONNX domain, which a CatBoost graph does not import
    opsets = {"": TARGET_OPSET[""]}
    for i, (member, weight) in enumerate(members):
        prefixed = compose.add_prefix(member, prefix=f"m{i}_")
        graph = prefixed.graph
        nodes.append(helper.make_node("Identity", [INPUT], [f"m{i}_{INPUT}"]))
        nodes.extend(graph.node)
        inits.extend(graph.initializer)
        w = f"m{i}_weight"
        inits.append(numpy_helper.from_array(np.array(weight, dtype=np.float32), w))
        nodes.append(helper.make_node("Mul", [f"m{i}_{OUTPUT}", w], [f"m{i}_weighted"]))
        terms.append(f"m{i}_weighted")
        for op in member.opset_import:
            opsets[op.domain] = max(opsets.get(op.domain, 0), op.version)
    nodes.append(helper.make_node("Sum", terms, [OUTPUT]))
    graph = helper.make_graph(
        nodes,
        "amlstack_ensemble",
        [helper.make_tensor_value_info(INPUT, TensorProto.FLOAT, [None, None])],
        [helper.make_tensor_value_info(OUTPUT, TensorProto.FLOAT, [None, None])],
        initializer=inits,
    )
    opset_import = [helper.make_opsetid(d, v) for d, v in sorted(opsets.items())]
    fused = helper.make_model(graph, opset_imports=opset_import, producer_name="amlstack")
    # at least IR 8 (what opset 15 needs): older IR versions (CatBoost writes 3) refuse
    # initializers that are not graph inputs, which the member weights are
    fused.ir_version = max(IR_VERSION, *(m.ir_version for m, _ in members))
    onnx.checker.check_model(fused)
    return fused


def with_preparation(model, prep):
    """The graph with the input preparation (imputation, indicators, weekdays) in front."""
    import onnx

    from amlstack.training.preprocess import prepend

    prepared = prepend(model, prep, INPUT)
    onnx.checker.check_model(prepared)
    return prepared


def _with_opsets(model):
    model.producer_name = "amlstack"
    return model


def session_for(model, threads: int = 1):
    """An onnxruntime session on an in-memory ModelProto (for parity checks before writing)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.log_severity_level = 3
    return ort.InferenceSession(
        model.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )


def onnx_proba(model, matrix: np.ndarray, threads: int = 2) -> np.ndarray:
    return session_for(model, threads).run([OUTPUT], {INPUT: matrix})[0]

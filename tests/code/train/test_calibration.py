"""The shipped probabilities are recalibrated on the selection rows, in the graph as in memory."""

from __future__ import annotations

import json

import numpy as np
import pytest

from amlstack.training import calibrate, export
from amlstack.training.evaluate import _log_loss, auc


def separable(rows: int = 1200, classes: int = 2, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, 3)).astype(np.float32)
    y = np.digitize(3 * x[:, 0] + 0.3 * rng.normal(size=rows), [-1.0, 1.0][: classes - 1])
    return x, y


def timid_booster(x, y):
    """A few shallow trees at a low learning rate: it ranks the rows well, but its probabilities
    stay near the prior (credit_card's 13-tree boosters)."""
    from lightgbm import LGBMClassifier

    return LGBMClassifier(n_estimators=6, learning_rate=0.1, verbose=-1, random_state=0).fit(x, y)


@pytest.mark.parametrize("classes", [2, 3])
def test_an_underconfident_model_is_calibrated_and_its_graph_agrees(classes):
    x, y = separable(classes=classes)
    model = timid_booster(x[:600], y[:600])
    proba = model.predict_proba(x[600:])
    found = calibrate.fit(y[600:], proba, seed=0)
    assert found.kind == ("platt" if classes == 2 else "temperature")
    assert found.log_loss_after < 0.6 * found.log_loss_before
    assert found.cv_log_loss < 0.7 * found.log_loss_before
    graph = calibrate.with_calibration(export.to_onnx(model, 3), found, export.OUTPUT)
    in_memory = calibrate.apply(found, proba)
    np.testing.assert_allclose(export.onnx_proba(graph, x[600:]), in_memory, atol=1e-5)
    assert auc(y[600:], in_memory) == pytest.approx(auc(y[600:], proba), abs=1e-4)
    np.testing.assert_allclose(in_memory.sum(axis=1), 1, atol=1e-6)


def test_a_catboost_graph_takes_the_map_and_the_preparation():
    # CatBoost writes its own graph (an old IR version, no default-domain opset of its own)
    from catboost import CatBoostClassifier

    from amlstack.training.preprocess import fit_preparation

    x, y = separable()
    model = CatBoostClassifier(
        n_estimators=5, learning_rate=0.05, verbose=0, random_seed=0, allow_writing_files=False
    ).fit(x[:600], y[:600])
    proba = model.predict_proba(x[600:])
    found = calibrate.fit(y[600:], proba, seed=0)
    assert found.kind == "platt"
    prep = fit_preparation(x[:600], [{"name": f"x{i}", "kind": "numeric"} for i in range(3)])
    fused = export.fuse([(export.to_onnx(model, 3), 1.0)])
    graph = export.with_preparation(calibrate.with_calibration(fused, found, export.OUTPUT), prep)
    expected = calibrate.apply(found, proba)
    np.testing.assert_allclose(export.onnx_proba(graph, x[600:]), expected, atol=1e-5)


def test_a_calibrated_model_keeps_its_graph():
    rng = np.random.default_rng(1)
    p = rng.random(3000)
    y = (rng.random(3000) < p).astype(int)
    found = calibrate.fit(y, np.c_[1 - p, p], seed=0)
    assert not found.applied and "less than 0.5%" in found.reason
    x, y = separable()
    from sklearn.linear_model import LogisticRegression

    graph = export.to_onnx(LogisticRegression().fit(x, y), 3)
    before = graph.SerializeToString()
    assert calibrate.with_calibration(graph, found, export.OUTPUT).SerializeToString() == before
    np.testing.assert_array_equal(calibrate.apply(found, np.c_[1 - p, p]), np.c_[1 - p, p])


def test_probabilities_of_zero_and_one_give_no_nan():
    sure = np.array([[0, 1], [1, 0], [1e-9, 1], [6e-8, 1 - 6e-8], [0.5, 0.5]], dtype=np.float32)
    steep = calibrate.Calibration("platt", slope=20.0, intercept=20.0)
    graph = calibrate.with_calibration(_passthrough(2), steep, export.OUTPUT)
    for out in calibrate.apply(steep, sure), export.onnx_proba(graph, sure):
        assert np.isfinite(out).all() and ((out >= 0) & (out <= 1)).all()
        np.testing.assert_allclose(out.sum(axis=1), 1, atol=1e-6)
        assert out[1, 0] > 0.5  # a certain negative stays one
    sure3 = np.array([[0, 0, 1], [1, 0, 0], [0.2, 0.3, 0.5]], dtype=np.float32)
    hot = calibrate.Calibration("temperature", slope=0.05)
    graph3 = calibrate.with_calibration(_passthrough(3), hot, export.OUTPUT)
    for out in calibrate.apply(hot, sure3), export.onnx_proba(graph3, sure3):
        assert np.isfinite(out).all()
        np.testing.assert_array_equal(out.argmax(axis=1), [2, 0, 2])


def test_an_overconfident_booster_gets_no_softening_map_and_its_graph_agrees():
    """Softening reads the logit of probabilities float32 rounded to 1: graph and memory then
    differed by 0.08 and training wrote no artifact."""
    from lightgbm import LGBMClassifier
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    rng = np.random.default_rng(1)
    x = rng.normal(size=(1500, 5)).astype(np.float32)
    y = (x[:, 0] + 0.5 * x[:, 1] + 0.8 * rng.normal(size=1500) > 0).astype(int)
    model = LGBMClassifier(n_estimators=300, learning_rate=0.2, verbose=-1, random_state=0)
    folds = StratifiedKFold(5, shuffle=True, random_state=0)
    out_of_fold = cross_val_predict(model, x, y, cv=folds, method="predict_proba")
    found = calibrate.fit(y, out_of_fold, seed=42)
    assert found.slope >= 1
    model.fit(x, y)
    new_rows = rng.normal(size=(2000, 5)).astype(np.float32)
    graph = calibrate.with_calibration(export.to_onnx(model, 5), found, export.OUTPUT)
    in_memory = calibrate.apply(found, model.predict_proba(new_rows))
    np.testing.assert_allclose(export.onnx_proba(graph, new_rows), in_memory, atol=1e-5)


def test_training_ships_calibrated_probabilities_cut_where_the_card_says(tmp_path):
    """An initial LightGBM (4 trees) ranks separable rows well with probabilities near the
    prior: the artifact's are recalibrated, the threshold is cut on them, the card says so."""
    from amlstack.artifact.reader import Model
    from amlstack.training.train import TrainConfig, train

    rng = np.random.default_rng(0)
    x = rng.normal(size=(1000, 2))
    y = np.where(x[:, 0] + 0.1 * rng.normal(size=1000) > 0.3, "yes", "no")
    data = tmp_path / "sep.csv"
    data.write_text(
        "a,b,y\n" + "".join(f"{a:.4f},{b:.4f},{t}\n" for (a, b), t in zip(x, y, strict=True))
    )
    said: list[str] = []
    config = TrainConfig(
        data=data, target="y", out=tmp_path / "art", time_budget=None, max_iter=1,
        learners=("lgbm",), seed=0,
    )  # fmt: skip
    result = train(config, notice=said.append)
    meta = json.loads((result.path / "model.json").read_text())
    record = meta["training"]["calibration"]
    assert record["kind"] == "platt" and record["slope"] > 1
    assert record["selection_log_loss_after"] < 0.5 * record["selection_log_loss_before"]
    assert [s for s in said if s.startswith("probabilities calibrated (Platt scaling")]
    holdout = meta["metrics"]["holdout"]
    assert holdout["log_loss"] < 0.15  # uncalibrated: about 0.4
    model = Model(result.path)
    data_rows = model.encode_columns({"a": x[:, 0], "b": x[:, 1]})
    proba = model.predict_proba(data_rows)
    assert np.isfinite(proba).all()
    labels = np.array(model.labels(proba))
    assert np.mean(labels == y) > 0.95  # the threshold means what it did before
    assert 0.05 < meta["threshold"] < 0.95


def _passthrough(classes: int):
    """A graph whose probabilities are its input (to feed the map chosen values)."""
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Identity", [export.INPUT], [export.OUTPUT])],
        "passthrough",
        [helper.make_tensor_value_info(export.INPUT, TensorProto.FLOAT, [None, classes])],
        [helper.make_tensor_value_info(export.OUTPUT, TensorProto.FLOAT, [None, classes])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 15)])
    model.ir_version = 8
    return model


def test_row_losses_average_to_the_reported_log_loss():
    # the rule compares figures computed as the card's holdout log loss is
    y = np.array([0, 1, 1, 2])
    p = np.array([[0.8, 0.2, 0], [0.3, 0.7, 0], [0.1, 0.9, 0], [0, 0, 1]], dtype=np.float32)
    assert calibrate._row_losses(y, p).mean() == pytest.approx(_log_loss(y, p), rel=1e-12)

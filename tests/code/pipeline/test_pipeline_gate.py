"""Gate decisions and the behavioural checks."""

from __future__ import annotations

import pytest
import tiny_trainer

from amlstack.artifact.names import AUC
from amlstack.pipeline.gate import GatePolicy, behaviour_checks, decide

PASSING = [{"check": "row_order_invariance", "passed": True}]


def evaluation(challenger: float, champion: float | None = None) -> dict:
    metrics = {
        "challenger": {AUC: {"value": challenger, "ci": [challenger - 0.02, challenger + 0.02]}}
    }
    if champion is not None:
        metrics["champion"] = {AUC: {"value": champion, "ci": [champion - 0.02, champion + 0.02]}}
        d = challenger - champion
        metrics["delta"] = {AUC: {"value": d, "ci": [d - 0.01, d + 0.01]}}
    return {"primary_metric": AUC, "metrics": metrics}


@pytest.mark.parametrize(
    ("challenger", "champion", "decision"),
    [
        (0.90, 0.90, "promote"),
        (0.897, 0.90, "promote"),  # within the 0.005 tolerance
        (0.89, 0.90, "refuse"),  # beyond it
        (0.95, 0.90, "promote"),
        (0.70, None, "refuse"),  # below the minimum quality
        (0.80, None, "promote"),
    ],
)
def test_decision_follows_tolerance_and_minimum(challenger, champion, decision):
    result = decide(evaluation(challenger, champion), PASSING, GatePolicy(0.005, 0.75))
    assert result["decision"] == decision
    assert len(result["reasons"]) == 3


def test_refusal_names_every_failed_rule():
    failed = [{"check": "probabilities_sum_to_1", "passed": False}]
    result = decide(evaluation(0.6, 0.9), failed, GatePolicy(0.005, 0.75))
    assert result["decision"] == "refuse"
    text = " | ".join(result["reasons"])
    assert "below the minimum 0.75" in text
    assert "worse than the champion beyond the tolerance" in text
    assert "behavioural checks failed: probabilities_sum_to_1" in text


def test_a_challenger_that_lost_one_of_the_champions_classes_is_refused():
    # A batch without a row of 'Lib': the challenger, as good on the rest, cannot predict it.
    lost = evaluation(0.95, 0.90)
    lost["classes"] = {"challenger": ["Con", "Lab"], "champion": ["Con", "Lab", "Lib"]}
    result = decide(lost, PASSING, GatePolicy(0.005, 0.75))
    assert result["decision"] == "refuse"
    assert "cannot predict 'Lib', which the champion predicts" in result["reasons"][2]


def test_behaviour_checks_pass_on_a_real_artifact(bank, tmp_path):
    artifact = tiny_trainer.write_artifact(bank.head(1500), "y", tmp_path, "bank")
    checks = behaviour_checks(artifact, bank.iloc[2000:2300])
    assert {c["check"] for c in checks} >= {
        "row_order_invariance", "column_order_invariance", "probabilities_in_0_1",
        "probabilities_sum_to_1",
    }  # fmt: skip
    assert all(c["passed"] for c in checks)


def test_the_evaluation_f1_is_about_the_rarer_class_as_trainings_is():
    """95 % of the rows are class 1: a model labelling every row 1 has the majority's F1 of
    0.97, and none for the class a user cares about (training's report says 0 too)."""
    import numpy as np

    from amlstack.artifact.names import F1
    from amlstack.pipeline.evaluate import bootstrap
    from amlstack.training.evaluate import classification_metrics

    y = np.array([0] * 5 + [1] * 95)
    score = np.full(100, 0.9)  # every row labelled 1 at the 0.5 cut
    metrics = bootstrap(y, {"challenger": score}, {"challenger": 0.5})
    proba = np.column_stack([1 - score, score])
    trained = classification_metrics(y, proba, ["bad", "good"], 0.5)
    assert metrics["challenger"][F1]["value"] == trained[F1] == 0.0


class _Fixed:
    """A model stand-in whose probabilities are given (one row per holdout row)."""

    def __init__(self, classes, proba, version="1"):
        self.classes, self.proba, self.version, self.directory = classes, proba, version, "x"
        self.threshold = 0.5

    def predict_proba(self, rows):
        return self.proba[rows]


def test_more_than_two_classes_are_evaluated_as_training_measures_them(monkeypatch):
    """Three classes: the AUC is one-vs-rest over every class (training's figure), not the AUC
    of classes[1] alone; a champion ranking only that class well is the worse model."""
    import numpy as np
    import pandas as pd

    from amlstack.pipeline import evaluate as ev
    from amlstack.training.evaluate import auc

    rng = np.random.default_rng(0)
    labels = np.array(["Con", "Lab", "Lib"])[rng.integers(0, 3, 300)]
    truth = np.eye(3)[[["Con", "Lab", "Lib"].index(v) for v in labels]]
    sharp = 0.8 * truth + 0.2 * rng.random((300, 3))
    sharp /= sharp.sum(axis=1, keepdims=True)
    blur = rng.random((300, 3))
    blur[:, 1] = sharp[:, 1]  # as good on 'Lab', noise on the other two
    blur /= blur.sum(axis=1, keepdims=True)
    classes = ["Con", "Lab", "Lib"]
    models = {"new": _Fixed(classes, sharp), "old": _Fixed(classes, blur)}
    monkeypatch.setattr(ev, "load_model", lambda d: models[str(d)])
    monkeypatch.setattr(ev, "encode_frame", lambda model, frame: frame.index.to_numpy())
    holdout = pd.DataFrame({"vote": labels})
    result = ev.evaluate(holdout, "vote", "new", "old")
    champion = result["metrics"]["champion"][AUC]["value"]
    y = np.array([["Con", "Lab", "Lib"].index(v) for v in labels])
    assert champion == pytest.approx(auc(y, blur))
    assert result["metrics"]["delta"][AUC]["value"] > 0.1


@pytest.mark.parametrize("classes", [["no", "yes"], ["Con", "Lab", "Lib"]])
def test_holdout_rows_of_a_label_no_model_learnt_are_left_out_with_a_warning(monkeypatch, classes):
    """A class whose every row was held out (a first run on a file with a handful of them):
    with three classes it raised ValueError; with two it was scored as the negative class."""
    import numpy as np
    import pandas as pd

    from amlstack.pipeline import evaluate as ev

    rng = np.random.default_rng(1)
    labels = np.array([*np.array(classes)[rng.integers(0, len(classes), 200)], "maybe", "maybe"])
    proba = rng.random((202, len(classes)))
    proba /= proba.sum(axis=1, keepdims=True)
    monkeypatch.setattr(ev, "load_model", lambda d: _Fixed(classes, proba))
    monkeypatch.setattr(ev, "encode_frame", lambda model, frame: frame.index.to_numpy())
    result = ev.evaluate(pd.DataFrame({"t": labels}), "t", "new")
    assert result["rows"] == 200
    assert result["warnings"] == [
        "2 holdout row(s) labelled 'maybe', which neither model learnt, left out of the comparison"
    ]

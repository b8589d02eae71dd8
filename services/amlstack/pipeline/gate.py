"""The promotion gate: tolerance against the champion, minimum quality, behavioural checks."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

DEFAULT_TOLERANCE = 0.005  # AUC points the challenger may lose against the champion
DEFAULT_MIN_AUC = 0.75
BEHAVIOUR_ROWS = 200


@dataclass(frozen=True)
class GatePolicy:
    tolerance: float = DEFAULT_TOLERANCE
    min_auc: float = DEFAULT_MIN_AUC


def behaviour_checks(artifact: Path, frame, *, seed: int = 0) -> list[dict[str, Any]]:
    """Row-order and column-order invariance, probabilities in [0, 1] that sum to 1."""
    from amlstack.artifact.reader import Model
    from amlstack.pipeline.evaluate import client_records

    model = Model(artifact)
    records = client_records(model, frame.head(BEHAVIOUR_ROWS))
    proba = model.predict_proba(model.encode_records(records))
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(records))
    shuffled = model.predict_proba(model.encode_records([records[i] for i in order]))
    columns = list(model.feature_names)
    rng.shuffle(columns)
    reordered = [{c: rec[c] for c in columns} for rec in records]
    by_columns = model.predict_proba(model.encode_records(reordered))
    batched = np.vstack(
        [
            model.predict_proba(model.encode_records(records[i : i + 7]))
            for i in range(0, len(records), 7)
        ]
    )
    checks = [
        ("row_order_invariance", np.allclose(shuffled, proba[order], atol=1e-6)),
        ("column_order_invariance", np.allclose(by_columns, proba, atol=1e-6)),
        ("batch_size_invariance", np.allclose(batched, proba, atol=1e-5)),
        ("probabilities_in_0_1", bool(np.all((proba >= 0) & (proba <= 1)))),
        ("probabilities_sum_to_1", np.allclose(proba.sum(axis=1), 1.0, atol=1e-4)),
        ("no_nan", not bool(np.isnan(proba).any())),
    ]
    return [{"check": name, "passed": bool(ok)} for name, ok in checks]


def decide(evaluation: dict[str, Any], behaviour: list[dict[str, Any]], policy: GatePolicy) -> dict:
    """Promote or refuse; every rule adds a reason either way so the record explains itself."""
    metrics = evaluation["metrics"]
    primary = evaluation["primary_metric"]
    reasons: list[str] = []
    passed = True
    auc = metrics["challenger"][primary]
    lo, hi = auc["ci"]
    if auc["value"] >= policy.min_auc:
        reasons.append(
            f"{primary} {auc['value']:.4f} (95% CI {lo:.4f}-{hi:.4f}) >= minimum {policy.min_auc}"
        )
    else:
        passed = False
        reasons.append(
            f"{primary} {auc['value']:.4f} (95% CI {lo:.4f}-{hi:.4f}) "
            f"is below the minimum {policy.min_auc}"
        )
    if "delta" in metrics:
        delta = metrics["delta"][primary]
        dlo, dhi = delta["ci"]
        champ = metrics["champion"][primary]["value"]
        text = (
            f"{primary} challenger - champion = {delta['value']:+.4f} "
            f"(95% CI {dlo:+.4f} to {dhi:+.4f}; champion {champ:.4f}), tolerance {policy.tolerance}"
        )
        if delta["value"] >= -policy.tolerance:
            reasons.append(f"not worse than the champion: {text}")
        else:
            passed = False
            reasons.append(f"worse than the champion beyond the tolerance: {text}")
    else:
        reasons.append(
            "no champion in production: the challenger is compared with the minimum only"
        )
    lost = _classes_lost(evaluation)
    if lost:
        passed = False
        reasons.append(
            f"the challenger cannot predict {', '.join(map(repr, lost))}, which the champion "
            "predicts (it learnt from no row of it); if it is gone for good, promote by hand "
            "(amlstack registry promote)"
        )
    failed = [c["check"] for c in behaviour if not c["passed"]]
    if failed:
        passed = False
        reasons.append(f"behavioural checks failed: {', '.join(failed)}")
    else:
        reasons.append(f"behavioural checks passed: {', '.join(c['check'] for c in behaviour)}")
    return {
        "decision": "promote" if passed else "refuse",
        "reasons": reasons,
        "policy": {"tolerance": policy.tolerance, "min_auc": policy.min_auc},
        "behaviour": behaviour,
    }


def _classes_lost(evaluation: dict[str, Any]) -> list[str]:
    """The champion's classes the challenger does not know (it never saw a row of them)."""
    classes = evaluation.get("classes") or {}
    if "champion" not in classes:
        return []
    return [c for c in classes["champion"] if c not in classes["challenger"]]

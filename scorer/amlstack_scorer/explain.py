"""Per-record explanations: how much each input feature moved the score, from the ONNX model.

Method: interventional Shapley values estimated by baseline substitution along permutations
(Strumbelj & Kononenko's sampling estimator), against a small background sample stored in the
artifact. For background row ``b_k`` and a fixed feature order ``pi_k``, the features of the
record ``x`` are switched in from ``b_k`` one at a time in that order; each step's change in the
score is that feature's contribution on this path. A path's steps sum to ``f(x) - f(b_k)``
exactly, so the mean over the ``K`` paths sums to ``f(x) - base`` with ``base = mean_k f(b_k)``:
the contributions plus the base value reconstruct the score up to float32 rounding (tested at
1e-5). Orders alternate with their reverses (antithetic pairs), which cancels much of the
estimator's order noise for the same cost.

The score explained is the probability of the positive class for a binary model, and of the
predicted class otherwise. Cost: ``K * (features - 1) + 1`` rows per record (the background's
own scores are computed once), in one onnxruntime call; no training library, no pickle.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import parse_qs

import numpy as np

from amlstack_scorer.errors import InvalidInput

MAX_RECORDS = 100  # explanations cost K*(d+1) model rows per record: bounded per request
TOLERANCE = 1e-5  # |base + sum(contributions) - score|, float32 outputs


class Explainer:
    """Explain records of one model against its background sample (encoded, model order)."""

    def __init__(self, model: Any, background: np.ndarray, seed: int = 0) -> None:
        background = np.ascontiguousarray(background, dtype=np.float32)
        if background.ndim != 2 or len(background) == 0:
            raise ValueError("the background sample must be a non-empty 2-D matrix")
        self.model = model
        self.names: Sequence[str] = list(model.feature_names)
        k, d = background.shape
        if d != len(self.names):
            raise ValueError(f"background has {d} columns, the model {len(self.names)} features")
        rng = np.random.default_rng(seed)
        orders = []
        for i in range(k):
            orders.append(orders[-1][::-1] if i % 2 else rng.permutation(d))
        self.orders = np.array(orders)  # [K, d]
        # mask[k, j-1, f]: on path k, inner step j (1..d-1), feature f comes from the record
        # (the first j features of the order). Step 0 is b_k and step d is x itself: both are
        # the same for every path, so they are scored once (f(b_k) here, f(x) per record).
        rank = np.argsort(self.orders, axis=1)  # rank[k, f] = position of feature f in order k
        steps = np.arange(1, d)[None, :, None]
        self.mask = (rank[:, None, :] < steps).reshape(k * (d - 1), d)
        self.paths = np.repeat(background, d - 1, axis=0)  # [K*(d-1), d]
        self.k, self.d = k, d
        self.background_proba = model.predict_proba(background).astype(np.float64)  # [K, C]
        self.base_proba = self.background_proba.mean(axis=0)

    def explain(self, matrix: np.ndarray, targets: Sequence[int]) -> list[dict[str, Any]]:
        """``{"base", "score", "contributions": {feature: value}}`` per row of ``matrix``.

        ``targets``: the class index whose probability is explained, per row.
        """
        n, inner = len(matrix), self.k * (self.d - 1)
        stacked = np.empty((n * (inner + 1), self.d), dtype=np.float32)
        for r in range(n):
            block = stacked[r * (inner + 1) : (r + 1) * (inner + 1)]
            np.copyto(block[:inner], self.paths)
            np.copyto(block[:inner], matrix[r], where=self.mask)
            block[inner] = matrix[r]
        proba = self.model.predict_proba(stacked).astype(np.float64)
        out = []
        for r, target in enumerate(targets):
            block = proba[r * (inner + 1) : (r + 1) * (inner + 1), target]
            score = float(block[inner])
            along = np.empty((self.k, self.d + 1))
            along[:, 0] = self.background_proba[:, target]
            along[:, 1:-1] = block[:inner].reshape(self.k, self.d - 1)
            along[:, -1] = score
            steps = np.diff(along, axis=1)  # [K, d] in path order
            contrib = np.zeros(self.d)
            np.add.at(contrib, self.orders.ravel(), steps.ravel())
            contrib /= self.k
            out.append(
                {
                    "base": float(self.base_proba[target]),
                    "score": score,
                    "contributions": dict(zip(self.names, contrib.tolist(), strict=True)),
                }
            )
        return out


# What ?explain= and GlobalParameters.explain take, in any case (the documents list these: a
# case-only variant in an enum breaks client generators); anything else is a 422.
QUERY_VALUES = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


def requested(query_string: str, global_parameters: Mapping[str, Any] | None) -> bool:
    """``?explain=true``, or ``"GlobalParameters": {"explain": true}`` (AutoML v2 payloads);
    a value of neither kind is a 422 naming where it was sent."""
    if query_string and "explain" in query_string:
        values = parse_qs(query_string, keep_blank_values=True).get("explain", [])
        if values and _flag(values[-1], "explain"):
            return True
    params = global_parameters or {}
    return "explain" in params and _flag(params["explain"], "GlobalParameters.explain")


def _flag(value: Any, field: str) -> bool:
    if value is None or isinstance(value, bool):  # null: as if not sent
        return bool(value)
    wanted = QUERY_VALUES.get(value.strip().lower()) if isinstance(value, str) else None
    if wanted is None:
        raise InvalidInput(
            f"explain must be one of {', '.join(QUERY_VALUES)} (any case); got {value!r}",
            field=field,
        )
    return wanted


def explained_classes(n_classes: int, predicted: Sequence[int]) -> list[int]:
    """The class whose probability is explained: the positive one (binary), else the predicted."""
    return [1] * len(predicted) if n_classes == 2 else list(predicted)


def for_model(model: Any) -> Explainer | None:
    """The model's explainer, or None when its artifact has no background sample."""
    records = model.background()
    return Explainer(model, model.encode_records(records)) if records else None

"""Load and verify an amlstack model artifact; encode inputs and predict without pandas or pickle.

An artifact is a directory (``artifacts/<name>/<version>/``) holding:

- ``model.onnx``     one ONNX graph: float32 ``X`` [N, features] -> ``probabilities`` [N, classes]
- ``model.json``     schema, classes, threshold, metrics, lineage (see ``ARTIFACT_FORMAT``)
- ``sample_input.json``  ``{"data": [record, ...]}`` with a few real rows
- ``profile.json``   training profile of every feature (drift monitoring)
- ``report/``        training report (HTML + PNG)
- ``MANIFEST.json``  ``{"algorithm": "sha256", "files": {relative path: hex digest}}``

Features are encoded in ``model.json["features"]`` order: a numeric feature is its float value; a
date feature its days since 1970-01-01 (``formats.date_days``); a categorical feature is the index
of its value in the feature's ``categories`` list (or, with ``"encoding": "frequency"``, its
share of the training rows), and ``-1`` (frequency: 0) for a value never seen in training. A
missing value, in any feature, is NaN: the graph's first nodes impute it.

Context features (``model.json["context"]``, optional) are appended by ``predict_proba`` itself:
for each group of columns (e.g. the columns that together identify a calling day), the training
rows' smoothed target rate and row count for the row's combination of encoded values, looked up
by a 64-bit hash of the float32 encodings; an unknown combination gets the prior and count 0.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from amlstack.artifact.formats import date_days

ARTIFACT_FORMAT = "amlstack-artifact"
FORMAT_VERSION = 1
MANIFEST = "MANIFEST.json"
MODEL_JSON = "model.json"
UNSEEN_CODE = -1.0
_CHUNK = 1 << 20


class ArtifactError(Exception):
    """The artifact is missing, incomplete, tampered with or not an amlstack artifact."""


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def manifest_for(directory: Path) -> dict[str, Any]:
    """Build the manifest of every file under ``directory`` (the manifest itself excluded)."""
    files = {
        p.relative_to(directory).as_posix(): sha256_file(p)
        for p in sorted(directory.rglob("*"))
        if p.is_file() and p.name != MANIFEST
    }
    return {"algorithm": "sha256", "files": files}


def verify_manifest(directory: Path) -> dict[str, str]:
    """Check every file against MANIFEST.json; refuse missing, changed or unlisted files."""
    manifest_path = directory / MANIFEST
    if not manifest_path.is_file():
        raise ArtifactError(f"{directory}: no {MANIFEST}; not an amlstack artifact")
    try:
        listed = json.loads(manifest_path.read_text())["files"]
    except (ValueError, KeyError, TypeError) as exc:
        raise ArtifactError(f"{manifest_path}: unreadable manifest ({exc})") from None
    for rel, expected in listed.items():
        path = directory / rel
        if not path.is_file():
            raise ArtifactError(f"{directory}: file {rel} listed in {MANIFEST} is missing")
        if sha256_file(path) != expected:
            raise ArtifactError(
                f"{directory}: file {rel} does not match its sha256 in {MANIFEST} "
                "(the artifact was modified after it was written)"
            )
    present = {
        p.relative_to(directory).as_posix()
        for p in directory.rglob("*")
        if p.is_file() and p.name != MANIFEST
    }
    extra = sorted(present - set(listed))
    if extra:
        raise ArtifactError(f"{directory}: file {extra[0]} is not listed in {MANIFEST}")
    return listed


@dataclass(frozen=True)
class Feature:
    """One input column of the model, as recorded in model.json."""

    name: str
    kind: str  # "numeric", "categorical" or "date"
    dtype: str = "float"  # numeric: "int" or "float"; categorical: "string"; date: "date"
    categories: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    nullable: bool = False  # had missing values in training (any feature may be missing)
    example: Any = None
    # value -> code; None (a missing value) -> NaN
    codes: Mapping[str | None, float] = field(default_factory=dict, repr=False, compare=False)
    unseen: float = UNSEEN_CODE
    number_format: str | None = None  # "thousands" or "percent": how CSV cells are written
    date_format: str = "ISO8601"

    @classmethod
    def from_json(cls, spec: Mapping[str, Any]) -> Feature:
        kind = spec["kind"]
        if kind not in ("numeric", "categorical", "date"):
            raise ArtifactError(f"feature {spec.get('name')!r}: unknown kind {kind!r}")
        categories = tuple(str(c) for c in spec.get("categories", ()))
        if spec.get("encoding") == "frequency":
            codes: dict[str | None, float] = dict(
                zip(categories, map(float, spec["frequencies"]), strict=True)
            )
            unseen = 0.0
        else:
            codes, unseen = {c: float(i) for i, c in enumerate(categories)}, UNSEEN_CODE
        codes[None] = math.nan
        return cls(
            name=str(spec["name"]),
            kind=kind,
            dtype=str(spec.get("dtype", "float" if kind == "numeric" else "string")),
            categories=categories,
            minimum=spec.get("min"),
            maximum=spec.get("max"),
            nullable=bool(spec.get("nullable", False)),
            example=spec.get("example"),
            codes=codes,
            unseen=unseen,
            number_format=spec.get("format"),
            date_format=str(spec.get("date_format", "ISO8601")),
        )


class Model:
    """A verified artifact ready to score: schema + one onnxruntime session."""

    def __init__(self, directory: str | Path, *, threads: int = 1, verify: bool = True) -> None:
        self.directory = Path(directory)
        if not self.directory.is_dir():
            raise ArtifactError(f"{self.directory}: no such artifact directory")
        self.files = verify_manifest(self.directory) if verify else {}
        self.meta = _read_json(self.directory / MODEL_JSON)
        if self.meta.get("format") != ARTIFACT_FORMAT:
            raise ArtifactError(f"{self.directory}: {MODEL_JSON} is not an amlstack artifact")
        if self.meta.get("format_version") != FORMAT_VERSION:
            raise ArtifactError(
                f"{self.directory}: artifact format version {self.meta.get('format_version')} "
                f"is not supported (this scorer reads version {FORMAT_VERSION})"
            )
        try:
            self.features = [Feature.from_json(f) for f in self.meta["features"]]
            self.classes: list[Any] = list(self.meta["classes"])
            self.threshold = float(self.meta.get("threshold", 0.5))
            model_spec = self.meta["model"]
        except (KeyError, TypeError, ValueError) as exc:
            raise ArtifactError(f"{self.directory}: {MODEL_JSON} is incomplete ({exc})") from None
        self.name: str = str(self.meta.get("name", "model"))
        self.version: str = str(self.meta.get("version", "0"))
        self.feature_names = [f.name for f in self.features]
        self._session = _load_session(self.directory / model_spec["file"], threads)
        # artifacts from before the graph imputed missing values refuse them where training had none
        self.imputes_missing = "preprocessing" in model_spec
        self._input = model_spec.get("input", "X")
        self._output = [model_spec.get("output", "probabilities")]
        self._kinds = [(i, f.kind, f) for i, f in enumerate(self.features)]
        index = {name: i for i, name in enumerate(self.feature_names)}
        try:
            self.contexts = [Context.from_json(c, index) for c in self.meta.get("context", [])]
        except (KeyError, TypeError, ValueError) as exc:
            raise ArtifactError(f"{self.directory}: bad context table ({exc})") from None

    # -- encoding -------------------------------------------------------------------------
    def encode_rows(self, rows: Sequence[Sequence[Any]]) -> np.ndarray:
        """Encode rows whose values are in feature order (the scorer's fast path)."""
        out = np.empty((len(rows), len(self.features)), dtype=np.float32)
        kinds = self._kinds
        for r, row in enumerate(rows):
            target = out[r]
            for i, kind, feat in kinds:
                value = row[i]
                if kind == "categorical":
                    target[i] = feat.codes.get(value, feat.unseen)
                elif kind == "date":
                    target[i] = date_days(value, feat.date_format)
                else:
                    target[i] = math.nan if value is None else value
        return out

    def encode_records(self, records: Iterable[Mapping[str, Any]]) -> np.ndarray:
        """Encode dict records keyed by feature name (extra keys are ignored)."""
        names = self.feature_names
        return self.encode_rows([[rec.get(n) for n in names] for rec in records])

    def encode_columns(self, columns: Mapping[str, Sequence[Any] | np.ndarray]) -> np.ndarray:
        """Vectorised encoding of whole columns (batch prediction)."""
        return encode_columns(self.features, columns)

    # -- prediction ------------------------------------------------------------------------
    def predict_proba(self, matrix: np.ndarray) -> np.ndarray:
        """Class probabilities for encoded feature rows, one column per entry of ``classes``."""
        if self.contexts:
            matrix = with_context(matrix, self.contexts)
        return self._session.run(self._output, {self._input: matrix})[0]

    def label_indices(self, proba: np.ndarray) -> np.ndarray:
        """Predicted class index per row: the threshold for binary models, argmax otherwise."""
        if proba.shape[1] == 2:
            return (proba[:, 1] >= self.threshold).astype(np.int64)
        return np.argmax(proba, axis=1)

    def labels(self, proba: np.ndarray) -> list[Any]:
        classes = self.classes
        return [classes[i] for i in self.label_indices(proba).tolist()]

    def sample_input(self) -> list[dict[str, Any]]:
        path = self.directory / "sample_input.json"
        return list(_read_json(path).get("data", [])) if path.is_file() else []


_FNV_OFFSET = np.uint64(0xCBF29CE484222325)
_FNV_PRIME = np.uint64(0x100000001B3)


def context_keys(matrix: np.ndarray, columns: Sequence[int]) -> np.ndarray:
    """A uint64 key per row for the combination of its encoded values in ``columns``."""
    part = np.ascontiguousarray(matrix[:, list(columns)], dtype=np.float32) + np.float32(0.0)
    bits = part.view(np.uint32).astype(np.uint64)  # + 0.0 above folds -0.0 into 0.0
    keys = np.full(len(part), _FNV_OFFSET, dtype=np.uint64)
    for j in range(bits.shape[1]):
        keys ^= bits[:, j]
        keys *= _FNV_PRIME  # wraps modulo 2**64, as FNV-1a intends
    return keys


SMALL_BATCH = 16  # up to this many rows, a dict look-up per row beats numpy's per-call overhead


@dataclass(frozen=True)
class Context:
    """One context group: (rate, count) by the combination of the group's encoded values."""

    columns: tuple[int, ...]
    keys: np.ndarray  # sorted uint64 hashes of the combinations (vectorised path)
    values: np.ndarray  # float32 [n_keys, 2]: smoothed rate, training rows; in `keys` order
    default: np.ndarray  # float32 [2]: prior rate, 0
    # small batches: combination (as Python floats) -> (rate, count)
    exact: dict[tuple[float, ...], tuple[float, float]]

    @classmethod
    def from_json(cls, spec: Mapping[str, Any], index: Mapping[str, int]) -> Context:
        combos = np.array(spec["keys"], dtype=np.float32).reshape(len(spec["keys"]), -1)
        values = np.column_stack([spec["rate"], spec["count"]]).astype(np.float32)
        columns = tuple(index[name] for name in spec["columns"])
        if len(values) != len(combos) or combos.shape[1] != len(columns):
            raise ValueError("keys, rates and counts differ in shape")
        hashes = context_keys(combos, range(len(columns)))
        order = np.argsort(hashes)
        values = values[order]
        pairs = zip(map(tuple, combos[order].tolist()), map(tuple, values.tolist()), strict=True)
        return cls(
            columns=columns,
            keys=hashes[order],
            values=values,
            default=np.array([spec["prior"], 0.0], dtype=np.float32),
            exact=dict(pairs),
        )

    @property
    def default_pair(self) -> tuple[float, float]:
        return (float(self.default[0]), 0.0)

    def lookup(self, matrix: np.ndarray) -> np.ndarray:
        keys = context_keys(matrix, self.columns)
        if len(self.keys) == 0:
            return np.tile(self.default, (len(keys), 1))
        pos = np.minimum(np.searchsorted(self.keys, keys), len(self.keys) - 1)
        hit = self.keys[pos] == keys
        return np.where(hit[:, None], self.values[pos], self.default)


def with_context(matrix: np.ndarray, contexts: Sequence[Context]) -> np.ndarray:
    """The model's full input: the encoded features, then two columns per context group."""
    if len(matrix) > SMALL_BATCH:
        return np.hstack([matrix, *(c.lookup(matrix) for c in contexts)], dtype=np.float32)
    rows = matrix.tolist()  # float32 -> Python float is exact, so the dict keys match
    for row in rows:
        extra = []
        for c in contexts:
            extra.extend(c.exact.get(tuple([row[i] for i in c.columns]), c.default_pair))
        row.extend(extra)
    return np.array(rows, dtype=np.float32).reshape(len(rows), -1)


def encode_columns(
    features: Sequence[Feature], columns: Mapping[str, Sequence[Any] | np.ndarray]
) -> np.ndarray:
    """Encode whole columns at once; training and batch scoring both use this one encoding."""
    n = len(columns[features[0].name])
    out = np.empty((n, len(features)), dtype=np.float32)
    for i, feat in enumerate(features):
        col = columns[feat.name]
        if feat.kind == "categorical":
            out[:, i] = _codes_for(np.asarray(col, dtype=object), feat)
        elif feat.kind == "date":
            fmt = feat.date_format
            out[:, i] = np.fromiter((date_days(v, fmt) for v in col), np.float64, len(col))
        else:
            out[:, i] = np.asarray(col, dtype=np.float64)
    return out


def _codes_for(values: np.ndarray, feat: Feature) -> np.ndarray:
    # A dict look-up per cell beats numpy's string sorting and searching for this (measured).
    get, unseen = feat.codes.get, feat.unseen
    return np.fromiter((get(v, unseen) for v in values.tolist()), np.float32, len(values))


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise ArtifactError(f"{path}: missing") from None
    except ValueError as exc:
        raise ArtifactError(f"{path}: not valid JSON ({exc})") from None


def _load_session(path: Path, threads: int):
    import onnxruntime as ort  # heavy import: only when a model is loaded

    options = ort.SessionOptions()
    options.intra_op_num_threads = max(1, threads)
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own untyped errors on bad graphs
        raise ArtifactError(f"{path}: onnxruntime cannot load the model ({exc})") from None

"""The one artifact reader: verify the manifest, decode model.json, load the ONNX graph.

An artifact is a directory (``artifacts/<name>/<version>/``) holding:

- ``model.onnx``     one ONNX graph: float32 ``X`` [N, inputs] -> ``probabilities`` [N, classes]
- ``model.json``     schema, classes, threshold, metrics, lineage (`schema.ModelCard`)
- ``sample_input.json``  ``{"data": [record, ...]}`` with a few real rows
- ``profile.json``   training profile of every feature (drift monitoring, `profile`)
- ``report/``        training report (HTML + PNG)
- ``MANIFEST.json``  ``{"algorithm": "sha256", "files": {relative path: hex digest}}``

Inputs are encoded by `encoding.Encoder` (see there for the encoding).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import msgspec
import numpy as np

from amlstack.artifact.encoding import Context, Encoder, Feature, encode_columns, with_context
from amlstack.artifact.manifest import ArtifactError, verify_manifest
from amlstack.artifact.names import (
    ARTIFACT_FORMAT,
    BACKGROUND_JSON,
    FORMAT_VERSION,
    MODEL_JSON,
    SAMPLE_INPUT,
)
from amlstack.artifact.schema import ModelCard


def read_card(directory: Path, *, verify: bool = True) -> ModelCard:
    """model.json of the artifact in ``directory``, after checking every file's sha256."""
    if not directory.is_dir():
        raise ArtifactError(f"{directory}: no such artifact directory")
    if verify:
        verify_manifest(directory)
    raw = _read_json(directory / MODEL_JSON)
    if not isinstance(raw, dict) or raw.get("format") != ARTIFACT_FORMAT:
        raise ArtifactError(f"{directory}: {MODEL_JSON} is not an amlstack artifact")
    if raw.get("format_version") != FORMAT_VERSION:
        raise ArtifactError(
            f"{directory}: artifact format version {raw.get('format_version')} "
            f"is not supported (this scorer reads version {FORMAT_VERSION})"
        )
    try:
        return msgspec.convert(raw, ModelCard)
    except msgspec.ValidationError as exc:
        raise ArtifactError(f"{directory}: {MODEL_JSON} is incomplete ({exc})") from None


class Model:
    """A verified artifact ready to score: its card, its encoder and one onnxruntime session."""

    def __init__(self, directory: str | Path, *, threads: int = 1, verify: bool = True) -> None:
        self.directory = Path(directory)
        if not self.directory.is_dir():
            raise ArtifactError(f"{self.directory}: no such artifact directory")
        self.files = verify_manifest(self.directory) if verify else {}
        self.card = read_card(self.directory, verify=False)
        self.meta: dict[str, Any] = msgspec.to_builtins(self.card)
        self.features = [Feature.from_spec(f) for f in self.card.features]
        self.classes: list[Any] = list(self.card.classes)
        self.threshold = float(self.card.threshold)
        self.name: str = self.card.name
        self.version: str = str(self.card.version if self.card.version is not None else "0")
        self.feature_names = [f.name for f in self.features]
        self.encoder = Encoder(self.features)
        spec = self.card.model
        self._session = _load_session(self.directory / spec.file, threads)
        # artifacts from before the graph imputed refuse a missing value where training had none
        self.imputes_missing = spec.preprocessing is not None
        self._input = spec.input
        self._output = [spec.output]
        index = {name: i for i, name in enumerate(self.feature_names)}
        try:
            self.contexts = [Context.from_json(c, index) for c in self.card.context]
        except (KeyError, TypeError, ValueError) as exc:
            raise ArtifactError(f"{self.directory}: bad context table ({exc})") from None

    def encode_records(self, records: Iterable[Mapping[str, Any]]) -> np.ndarray:
        """Encode dict records keyed by feature name, as /score does (extra keys ignored)."""
        return self.encoder.records(records).matrix

    def encode_columns(self, columns: Mapping[str, Sequence[Any] | np.ndarray]) -> np.ndarray:
        """Vectorised encoding of whole columns (batch prediction)."""
        return encode_columns(self.features, columns)

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
        path = self.directory / SAMPLE_INPUT
        return list(_read_json(path).get("data", [])) if path.is_file() else []

    def background(self) -> list[dict[str, Any]]:
        """The explanation baseline's training rows (empty for an artifact without one)."""
        path = self.directory / BACKGROUND_JSON
        return list(_read_json(path).get("data", [])) if path.is_file() else []


def _read_json(path: Path) -> Any:
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

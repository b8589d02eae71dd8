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
import math
import os
import threading
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import msgspec
import numpy as np

from amlstack.artifact.delimiters import header_names
from amlstack.artifact.encoding import (
    Context,
    Encoder,
    Feature,
    TrainingRange,
    encode_columns,
    with_context,
)
from amlstack.artifact.manifest import ArtifactError, ArtifactFiles, plain_name, read_verified
from amlstack.artifact.names import (
    ARTIFACT_FORMAT,
    BACKGROUND_JSON,
    FORMAT_VERSION,
    MODEL_JSON,
    PROFILE_FILE,
    SAMPLE_INPUT,
)
from amlstack.artifact.profile import check_model_profile
from amlstack.artifact.schema import ModelCard

# A batch of at least this many rows is scored in slices, one per CPU the process may run on,
# side by side on the model's one session (onnxruntime releases the GIL while it runs). Below
# it a slice's share of the work is too small to pay for the hand-over (a 5,000-row batch takes
# ~10-20 ms in one thread; the threshold is a first choice, still to be measured on idle cores).
PARALLEL_ROWS = 5_000


def read_card(directory: Path, *, verify: bool = True) -> ModelCard:
    """model.json of the artifact in ``directory``, after checking every file's sha256."""
    if not directory.is_dir():
        raise ArtifactError(f"{directory}: no such artifact directory")
    if verify:
        return card_from_files(read_verified(directory))
    return _card(directory, _read_json(directory / MODEL_JSON))


def card_from_files(files: ArtifactFiles) -> ModelCard:
    """model.json of an artifact read into memory (`read_verified`)."""
    raw = files.get(MODEL_JSON)
    if raw is None:
        raise ArtifactError(f"{files.directory / MODEL_JSON}: missing")
    return _card(files.directory, _parse_json(files.directory / MODEL_JSON, raw))


def _card(directory: Path, raw: Any) -> ModelCard:
    if not isinstance(raw, dict) or raw.get("format") != ARTIFACT_FORMAT:
        raise ArtifactError(f"{directory}: {MODEL_JSON} is not an amlstack artifact")
    if raw.get("format_version") != FORMAT_VERSION:
        raise ArtifactError(
            f"{directory}: artifact format version {raw.get('format_version')} "
            f"is not supported (this scorer reads version {FORMAT_VERSION})"
        )
    try:
        card = msgspec.convert(raw, ModelCard)
    except msgspec.ValidationError as exc:
        raise ArtifactError(f"{directory}: {MODEL_JSON} is incomplete ({exc})") from None
    plain_name(directory, card.model.file, f"{MODEL_JSON} model.file", nested=False)
    problem = card_problem(card)
    if problem:  # a hand-edited card: refused here, never scored with or served
        raise ArtifactError(f"{directory / MODEL_JSON}: {problem}")
    for feature in card.features:  # as every reader names a column; else no record can name it
        if header_names([feature.name]) != [feature.name]:
            raise ArtifactError(
                f"{directory}: feature name {feature.name!r} holds a character no JSON record "
                "can name (a quote, backslash or control character) or blanks around it; "
                "train the model again with this version, which renames such columns"
            )
    return card


def card_problem(card: ModelCard) -> str | None:
    """What makes a type-correct card unusable (None: nothing): the facts every reader relies
    on, which no writer leaves otherwise (at least two distinct classes, a finite decision
    threshold in [0, 1], distinct feature names, each categorical feature's categories, a
    frequency per category, a numeric example that is a number, a finite range)."""
    classes = card.classes
    if len(classes) < 2:
        return f"classes lists {len(classes)} class(es); a model tells at least 2 apart"
    for label in classes:
        if label is None or isinstance(label, list | dict) or label != label:
            return f"classes holds {label!r}, which is no class label (text or a number)"
    if len({str(label) for label in classes}) < len(classes):
        return f"classes lists a class twice: {classes!r}"
    if not (math.isfinite(card.threshold) and 0.0 <= card.threshold <= 1.0):
        return f"threshold {card.threshold!r} is not a probability between 0 and 1"
    if not card.features:
        return "features is empty; a model reads at least one column"
    seen: set[str] = set()
    for spec in card.features:
        where = f"feature {spec.name!r}"
        if spec.name in seen:
            return f"{where} is listed twice"
        seen.add(spec.name)
        categories = spec.categories
        if spec.kind == "categorical":
            if not categories:
                return f"{where} is categorical but lists no categories"
            if len(set(categories)) < len(categories):
                return f"{where} lists a category twice"
            if spec.encoding == "frequency":
                freqs = spec.frequencies or []
                if len(freqs) != len(categories) or not all(map(math.isfinite, freqs)):
                    return f"{where}: frequencies must be one finite number per category"
        elif categories:
            return f"{where} is {spec.kind} but lists categories"
        for bound in (spec.minimum, spec.maximum):
            if bound is not None and not math.isfinite(bound):
                return f"{where}: its range ({spec.minimum}, {spec.maximum}) is not finite"
        if spec.minimum is not None and spec.maximum is not None and spec.minimum > spec.maximum:
            return f"{where}: min {spec.minimum} is above max {spec.maximum}"
        if (spec.number_format == "unit") != bool(spec.unit):
            return f"{where}: format 'unit' and a unit go together"
        example = spec.example
        number = isinstance(example, int | float) and not isinstance(example, bool)
        if spec.kind == "numeric" and example is not None and not number:
            return f"{where} is numeric but its example {example!r} is not a number"
    return None


class Model:
    """A verified artifact ready to score: its card, its encoder and one onnxruntime session.

    ``source`` is the artifact's folder (read and verified here) or an artifact already read
    into memory (`manifest.read_verified`): then nothing is read from disk, so a file changed
    since cannot reach the model (the scorer's workers load from the bytes their master read).
    ``parallel_batches``: a batch of `PARALLEL_ROWS` rows or more is scored in one slice per
    CPU at once (see `_predict_slices`); smaller ones in the calling thread alone.
    """

    def __init__(
        self,
        source: str | Path | ArtifactFiles,
        *,
        threads: int = 1,
        verify: bool = True,
        public_key: Any = None,
        parallel_batches: bool = False,
    ) -> None:
        if isinstance(source, ArtifactFiles):
            self.contents = source
        else:
            self.contents = read_verified(Path(source), verify=verify, public_key=public_key)
        self.directory = self.contents.directory
        self.files = self.contents.digests
        self.card = card_from_files(self.contents)
        self.meta: dict[str, Any] = msgspec.to_builtins(self.card)
        self.features = [Feature.from_spec(f) for f in self.card.features]
        self.classes: list[Any] = list(self.card.classes)
        self.threshold = float(self.card.threshold)
        self.name: str = self.card.name
        self.version: str = str(self.card.version if self.card.version is not None else "0")
        self.feature_names = [f.name for f in self.features]
        self.encoder = Encoder(self.features)
        self.training_range = TrainingRange(self.features)
        spec = self.card.model
        graph = self.contents.get(spec.file)
        if graph is None:
            raise ArtifactError(f"{self.directory / spec.file}: missing")
        self._session = _load_session(self.directory / spec.file, graph, threads)
        # the scorer's choice (one worker process per core, idle cores between bulk requests);
        # off for Spark tasks and sessions that already run on several threads
        self._cpus = _cpu_count() if parallel_batches and threads <= 1 else 1
        self._pool: ThreadPoolExecutor | None = None  # built on the first large batch
        self._pool_lock = threading.Lock()
        # artifacts from before the graph imputed refuse a missing value where training had none
        self.imputes_missing = spec.preprocessing is not None
        self._input = spec.input
        self._output = [spec.output]
        index = {name: i for i, name in enumerate(self.feature_names)}
        try:
            self.contexts = [Context.from_json(c, index) for c in self.card.context]
        except (KeyError, TypeError, ValueError) as exc:
            raise ArtifactError(f"{self.directory}: bad context table ({exc})") from None
        self._check_graph(self.directory / spec.file)

    def _check_graph(self, path: Path) -> None:
        """Refuse a graph that does not fit the card (another model's, or a card edited since):
        its input and output names, its input width, and one row scored into one probability
        per class. Else the first request or CSV row would fail, or a class be mislabelled."""
        inputs = {i.name: i.shape for i in self._session.get_inputs()}
        outputs = [o.name for o in self._session.get_outputs()]
        if self._input not in inputs:
            raise ArtifactError(
                f"{path}: the graph has no input {self._input!r} ({MODEL_JSON} model.input; "
                f"its inputs: {', '.join(inputs)})"
            )
        if self._output[0] not in outputs:
            raise ArtifactError(
                f"{path}: the graph has no output {self._output[0]!r} ({MODEL_JSON} "
                f"model.output; its outputs: {', '.join(outputs)})"
            )
        width = len(self.features) + 2 * len(self.contexts)
        shape = inputs[self._input]
        if len(shape) == 2 and isinstance(shape[1], int) and shape[1] != width:
            raise ArtifactError(
                f"{path}: the graph reads {shape[1]} input columns but {MODEL_JSON} describes "
                f"{width} (another model's graph, or a {MODEL_JSON} edited since)"
            )
        try:
            proba = self._run(np.zeros((1, len(self.features)), dtype=np.float32))
        except Exception as exc:  # onnxruntime raises its own untyped errors
            raise ArtifactError(f"{path}: the graph cannot score a row ({exc})") from None
        if proba.shape != (1, len(self.classes)):
            raise ArtifactError(
                f"{path}: the graph answers {proba.shape[-1]} probabilities per row but "
                f"{MODEL_JSON} lists {len(self.classes)} classes (another model's graph, or a "
                f"{MODEL_JSON} edited since)"
            )

    def encode_records(self, records: Iterable[Mapping[str, Any]]) -> np.ndarray:
        """Encode dict records keyed by feature name, as /score does (extra keys ignored)."""
        return self.encoder.records(records).matrix

    def encode_columns(self, columns: Mapping[str, Sequence[Any] | np.ndarray]) -> np.ndarray:
        """Vectorised encoding of whole columns (batch prediction)."""
        return encode_columns(self.features, columns)

    def predict_proba(self, matrix: np.ndarray) -> np.ndarray:
        """Class probabilities for encoded feature rows, one column per entry of ``classes``."""
        if len(matrix) >= PARALLEL_ROWS and self._cpus > 1:
            return self._predict_slices(matrix)
        return self._run(matrix)

    def _run(self, matrix: np.ndarray) -> np.ndarray:
        """One onnxruntime call on encoded rows: their context columns added (looked up with the
        values as sent: one outside the range is a key training never saw, so the prior), then
        their numbers held to the training range (`TrainingRange.clipped`)."""
        if self.contexts:
            full = with_context(matrix, self.contexts)  # a new array: clipped in place
            self.training_range.clipped(matrix, out=full[:, : matrix.shape[1]])
        else:
            full = self.training_range.clipped(matrix)
        return self._session.run(self._output, {self._input: full})[0]

    def _predict_slices(self, matrix: np.ndarray) -> np.ndarray:
        """A large batch cut into one slice per CPU, scored side by side: the same numbers as
        one call (each row is scored alone, whatever the batch), in about 1/CPUs of its time.
        The threads are started on the first large batch, in the process that scores it (a
        gunicorn worker, after fork: threads do not survive a fork). Each slice gets its
        context columns in its own thread (a look-up per row: the same columns as the whole's)."""
        pool = self.pool()
        assert pool is not None
        first, *rest = np.array_split(matrix, self._cpus)
        futures = [pool.submit(self._run, part) for part in rest]
        parts = [self._run(first)]
        parts.extend(future.result() for future in futures)
        return np.concatenate(parts)

    def pool(self) -> ThreadPoolExecutor | None:
        """The threads that work beside the calling one on a large batch (one per other CPU;
        None without ``parallel_batches`` or on one CPU): its slices (`predict_proba`), the
        scorer's text/csv reading (`table.read_utf8`)."""
        if self._cpus <= 1:
            return None
        pool = self._pool
        if pool is None:
            with self._pool_lock:
                if self._pool is None:
                    self._pool = ThreadPoolExecutor(self._cpus - 1, "amlstack-predict")
                pool = self._pool
        return pool

    def label_indices(self, proba: np.ndarray) -> np.ndarray:
        """Predicted class index per row: the threshold for binary models, argmax otherwise."""
        if proba.shape[1] == 2:
            return (proba[:, 1] >= self.threshold).astype(np.int64)
        return np.argmax(proba, axis=1)

    def labels(self, proba: np.ndarray) -> list[Any]:
        classes = self.classes
        return [classes[i] for i in self.label_indices(proba).tolist()]

    def read(self, rel: str) -> bytes | None:
        """A file of the artifact as it was read and verified at load (None: not in it)."""
        return self.contents.get(rel)

    def read_json(self, rel: str) -> Any:
        """A JSON file of the artifact, as loaded (None when the artifact has no such file)."""
        raw = self.contents.get(rel)
        return None if raw is None else _parse_json(self.directory / rel, raw)

    def sample_input(self) -> list[dict[str, Any]]:
        return self._records(SAMPLE_INPUT)

    def background(self) -> list[dict[str, Any]]:
        """The explanation baseline's training rows (empty for an artifact without one)."""
        return self._records(BACKGROUND_JSON)

    def _records(self, rel: str) -> list[dict[str, Any]]:
        """``{"data": [record, ...]}`` of a file of the artifact (empty when it has none)."""
        doc = self.read_json(rel)
        if doc is None:
            return []
        data = doc.get("data", []) if isinstance(doc, dict) else None
        if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
            raise ArtifactError(
                f'{self.directory / rel}: not {{"data": [record, ...]}} with a JSON object '
                "per record"
            )
        return list(data)

    def check_served_files(self) -> None:
        """Read every file the scorer reads at start besides the card and the graph (the drift
        profile, the explanation background, the sample rows): ArtifactError naming the first
        that does not fit, so a plan for an image fails where its container would."""
        self.profile()
        self.background()
        self.sample_input()

    def profile(self) -> dict[str, Any] | None:
        """The training profile (profile.json), checked against the model's features (None:
        the artifact has none); ArtifactError naming the file when it does not fit them."""
        doc = self.read_json(PROFILE_FILE)
        if doc is None:
            return None
        try:
            check_model_profile(doc, self.card.features)
        except ValueError as exc:
            raise ArtifactError(f"{self.directory / PROFILE_FILE}: {exc}") from None
        return doc


def _read_json(path: Path) -> Any:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ArtifactError(f"{path}: missing") from None
    return _parse_json(path, raw)


def _parse_json(path: Path, raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise ArtifactError(f"{path}: not valid JSON ({exc})") from None


def _cpu_count() -> int:
    """The CPUs this process may run on (a container's CPU set, not the host's)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _load_session(path: Path, graph: bytes, threads: int):
    import onnxruntime as ort  # heavy import: only when a model is loaded

    options = ort.SessionOptions()
    options.intra_op_num_threads = max(1, threads)
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    try:
        # From the verified bytes, never the path: the file may have changed since it was read.
        return ort.InferenceSession(graph, options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own untyped errors on bad graphs
        raise ArtifactError(f"{path}: onnxruntime cannot load the model ({exc})") from None

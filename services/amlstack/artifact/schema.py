"""model.json as typed msgspec structs: the one definition of what an artifact's card holds.

Adding a field: give it a default and put it after the required ones, so artifacts written
before it still read; readers that do not know it ignore it (msgspec skips unknown keys).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, TypeVar

import msgspec
import numpy as np

from amlstack.artifact.manifest import ArtifactError
from amlstack.artifact.names import (
    ARTIFACT_FORMAT,
    FORMAT_VERSION,
    MODEL_ONNX,
    ONNX_INPUT,
    ONNX_OUTPUT,
)

T = TypeVar("T")


class FeatureSpec(msgspec.Struct, omit_defaults=True, kw_only=True):
    """One input column. Numeric: float value; date: days since 1970-01-01; categorical: the
    index of the value in ``categories`` (``encoding="frequency"``: its share of the training
    rows, ``frequencies``), ``UNSEEN_CODE`` (frequency: 0) for a value never seen in training.
    A missing value is NaN in any feature (the graph imputes it; see ModelSpec.preprocessing)."""

    name: str
    kind: Literal["numeric", "categorical", "date"]
    dtype: str | None = None  # numeric: "int" or "float"; categorical: "string"; date: "date"
    categories: list[str] | None = None
    minimum: int | float | None = msgspec.field(default=None, name="min")
    maximum: int | float | None = msgspec.field(default=None, name="max")
    nullable: bool = False  # had missing values in training
    example: Any = None
    encoding: Literal["frequency"] | None = None
    frequencies: list[float] | None = None
    number_format: (
        Literal[
            "thousands",
            "percent",
            "decimal_comma",
            "currency",
            "time",
            "unit",
            "decimal_comma_percent",
            "decimal_comma_currency",
        ]
        | None
    ) = msgspec.field(default=None, name="format")  # how the CSV writes the numbers
    unit: str | None = None  # format "unit": the unit after every number (lb in `135 lb`)
    date_format: str | None = None  # formats.DATE_FORMATS
    # a numeric column's words read as missing besides the markers (casefolded; e.g. "other")
    missing_words: list[str] | None = None


class Preprocessing(msgspec.Struct, kw_only=True):
    """The graph's first nodes (training/preprocess.py): a fill value per input column,
    the columns that get a 0/1 missing-indicator, the date columns that get a weekday."""

    fill: list[float]
    indicators: list[int] = msgspec.field(default_factory=list)
    weekdays: list[int] = msgspec.field(default_factory=list)


class ColumnDecision(msgspec.Struct, kw_only=True):
    """How training handled one CSV column (dropped, parsed, date, boolean, ...), as printed."""

    column: str
    action: str
    detail: str


class ModelSpec(msgspec.Struct, omit_defaults=True, kw_only=True):
    """The ONNX graph: its file, its input and output names, what it is."""

    file: str = MODEL_ONNX
    input: str = ONNX_INPUT
    output: str = ONNX_OUTPUT
    n_features: int | None = None
    n_inputs: int | None = None  # features plus context columns
    kind: str | None = None
    description: str | None = None
    members: list[dict[str, Any]] | None = None
    encoding: str | None = None
    preprocessing: Preprocessing | None = None  # None: an artifact from before imputation


class RowCounts(msgspec.Struct, kw_only=True):
    """How many data rows each part of local training used."""

    total: int
    fit: int
    validation: int
    holdout: int
    shipped_model: int  # the shipped model is refitted on every labelled row


class TrainingRecord(msgspec.Struct, omit_defaults=True, kw_only=True):
    """model.json's ``training``: the data and settings behind the model (its lineage).

    Local training fills the settings; an Azure AutoML artifact names its job instead.
    """

    data_file: str | None = None
    data_sha256: str | None = None
    rows: int | RowCounts | None = None  # Azure: the data's row count
    seed: int | None = None
    time_budget_s: float | None = None  # None: no time limit
    max_iter: int | None = None
    learners: list[str] | None = None
    test_size: float | None = None
    validation_size: float | None = None
    tuning: str | None = None  # what trials were scored on: "5-fold cross-validation", ...
    member_selection: str | None = None  # "5-fold out-of-fold" or "validation split"
    # the map of the ensemble's probabilities fitted on those rows (training.calibrate): kind
    # ("platt", "temperature" or "none"), its parameters, their log loss before and after
    calibration: dict[str, Any] | None = None
    seconds: float | None = None
    libraries: dict[str, str] | None = None
    python: str | None = None
    backend: str | None = None  # "azure-automl"; None: local training
    job: str | None = None  # Azure: the AutoML job, its best run and workspace
    best_run: str | None = None
    workspace: str | None = None


class CardMetrics(msgspec.Struct, omit_defaults=True, kw_only=True):
    """model.json's ``metrics``, keyed by the names in `names` (AUC, accuracy, F1, ...)."""

    primary_metric: str | None = None  # what the search optimised
    holdout: dict[str, Any] | None = None  # measured on the held-out rows (local training)
    measured_model: str | None = None  # which model the holdout figures describe
    # when a class has few held-out (or selection) rows: what the figures rest on, as printed
    few_rows: str | None = None
    azure: dict[str, float] | None = None  # the AutoML job's own cross-validated score


class ModelCard(msgspec.Struct, kw_only=True):
    """The whole of model.json."""

    format: str = ARTIFACT_FORMAT
    format_version: int = FORMAT_VERSION
    name: str = "model"
    version: int | str | None = None
    features: list[FeatureSpec]
    classes: list[Any]
    model: ModelSpec = msgspec.field(default_factory=ModelSpec)
    threshold: float = 0.5
    created: str | None = None
    task: str | None = None
    target: str | None = None
    positive_class: Any = None
    dropped_columns: list[str] = msgspec.field(default_factory=list)
    column_decisions: list[ColumnDecision] = msgspec.field(default_factory=list)
    metrics: CardMetrics = msgspec.field(default_factory=CardMetrics)
    feature_importance: dict[str, float] | None = None
    leaderboard: list[dict[str, Any]] | None = None
    training: TrainingRecord | None = None
    # context tables (see encoding.Context): columns, keys, rate, count, prior, smoothing
    context: list[dict[str, Any]] = msgspec.field(default_factory=list)


class Holdout(msgspec.Struct, kw_only=True):
    """holdout.json: which data rows training held out, so no later evaluation scores a model on
    rows it was trained on. ``rows`` are 0-based data row numbers (header excluded)."""

    data_sha256: str | None = None
    seed: int | None = None
    test_size: float | None = None
    rows: list[int] = msgspec.field(default_factory=list)


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


encode_json = msgspec.json.Encoder(enc_hook=_plain).encode


def to_json(doc: Any) -> bytes:
    """Indented JSON with numpy scalars as plain numbers (every JSON file of an artifact)."""
    return msgspec.json.format(encode_json(doc), indent=2) + b"\n"


def typed(doc: Any, type_: type[T]) -> T:
    """``doc`` (plain data, numpy scalars allowed) as ``type_``, type-checked."""
    return msgspec.json.decode(encode_json(doc), type=type_)


def card_from_dict(doc: dict[str, Any]) -> ModelCard:
    """Type-check a model.json document built as a dict (tests; old documents)."""
    return typed(doc, ModelCard)


def read_holdout(path: Path) -> Holdout | None:
    """The holdout.json at ``path``; None when the artifact has none."""
    if not path.is_file():
        return None
    try:
        return msgspec.json.decode(path.read_bytes(), type=Holdout)
    except msgspec.DecodeError as exc:  # not JSON, or rows that are no row numbers
        raise ArtifactError(f"{path}: not a holdout record ({exc})") from None

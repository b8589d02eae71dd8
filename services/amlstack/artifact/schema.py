"""model.json as typed msgspec structs: the one definition of what an artifact's card holds.

Adding a field: give it a default and put it after the required ones, so artifacts written
before it still read; readers that do not know it ignore it (msgspec skips unknown keys).
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec
import numpy as np

from amlstack.artifact.names import (
    ARTIFACT_FORMAT,
    FORMAT_VERSION,
    MODEL_ONNX,
    ONNX_INPUT,
    ONNX_OUTPUT,
)


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
    number_format: Literal["thousands", "percent"] | None = msgspec.field(
        default=None, name="format"
    )  # how the CSV writes the numbers
    date_format: str | None = None  # formats.DATE_FORMATS


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
    metrics: dict[str, Any] = msgspec.field(default_factory=dict)
    feature_importance: dict[str, float] | None = None
    leaderboard: list[dict[str, Any]] | None = None
    training: dict[str, Any] | None = None
    # context tables (see encoding.Context): columns, keys, rate, count, prior, smoothing
    context: list[dict[str, Any]] = msgspec.field(default_factory=list)


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


def card_from_dict(doc: dict[str, Any]) -> ModelCard:
    """Type-check a model.json document built as a dict (numpy scalars allowed)."""
    return msgspec.json.decode(encode_json(doc), type=ModelCard)

"""Request validation with msgspec: a Struct type built from the artifact's features at load time.

Both Azure payload shapes are accepted: ``{"data": [record, ...]}`` (v1) and
``{"Inputs": {"data": [...]}, "GlobalParameters": {...}}`` (AutoML v2). Records decode straight
into Structs (numeric fields float, ints accepted; categorical fields str; unknown keys ignored),
then into the float32 matrix the ONNX graph takes. Errors name the record index and the field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Annotated, Any

import msgspec
import numpy as np

from amlstack.artifact.formats import date_days
from amlstack.artifact.reader import UNSEEN_CODE, Model
from amlstack_scorer.errors import InvalidInput, MalformedJSON

_PATH = re.compile(r"^(?P<msg>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.S)
ROW_WISE_MAX = 16  # below this, building rows is cheaper than columns
FLOAT32_MAX = float(np.finfo(np.float32).max)
_MISSING = re.compile(r"^Object missing required field `(?P<field>[^`]*)`")


@dataclass(frozen=True)
class Batch:
    """A validated request: its encoded matrix, per feature its unseen categories and missing
    values (null, absent or an unreadable date: NaN, imputed by the model)."""

    matrix: np.ndarray
    unseen: dict[str, int]
    missing: dict[str, int] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return self.matrix.shape[0]


class Schema:
    """Decoder and encoder for one artifact's input records."""

    def __init__(self, model: Model, max_batch: int) -> None:
        self.max_batch = max_batch
        self.feature_names = list(model.feature_names)
        record = _record_type(model)
        records = Annotated[list[record], msgspec.Meta(min_length=1, max_length=max_batch)]
        inputs = msgspec.defstruct("Inputs", [("data", records)])
        payload = msgspec.defstruct(
            "Payload",
            [
                ("data", records | msgspec.UnsetType, msgspec.UNSET),
                ("Inputs", inputs | msgspec.UnsetType, msgspec.UNSET),
                ("GlobalParameters", dict[str, Any], {}),
            ],
        )
        self._decoder = msgspec.json.Decoder(payload)
        self._categorical = [
            (i, f.name, f.codes) for i, f in enumerate(model.features) if f.kind == "categorical"
        ]
        self._dates = [(i, f.date_format) for i, f in enumerate(model.features) if f.kind == "date"]

    def decode(self, body: bytes) -> tuple[list[Any], str]:
        """Record Structs and their JSON path (400 for bad JSON, 422 for bad content)."""
        try:
            payload = self._decoder.decode(body)
        except msgspec.ValidationError as exc:
            raise _invalid(str(exc)) from None
        except msgspec.DecodeError as exc:
            raise MalformedJSON(f"body is not valid JSON: {exc}") from None
        if payload.data is not msgspec.UNSET:
            if payload.Inputs is not msgspec.UNSET:
                raise InvalidInput("send either 'data' or 'Inputs', not both", field="data")
            return payload.data, "data"
        if payload.Inputs is not msgspec.UNSET:
            return payload.Inputs.data, "Inputs.data"
        raise InvalidInput(
            "body must be {'data': [records]} or {'Inputs': {'data': [records]}}", field="data"
        )

    def encode(self, records: list[Any], prefix: str = "data") -> Batch:
        """Encode records to the model's float32 matrix; 422 for values float32 cannot hold."""
        unseen: dict[str, int] = {}
        if len(records) <= ROW_WISE_MAX:
            wide = np.array(self._rows(records, unseen), dtype=np.float64)
        else:
            wide = np.array(self._columns(records, unseen), dtype=np.float64).T
        # JSON has no NaN/Infinity, but finite float64 values can overflow float32.
        magnitude = np.abs(wide)
        if magnitude.max() > FLOAT32_MAX:
            r, c = np.argwhere(magnitude > FLOAT32_MAX)[0]
            raise InvalidInput(
                "value is too large for a float32 number",
                field=f"{prefix}[{r}].{self.feature_names[c]}",
            )
        missing = np.isnan(wide).sum(axis=0)
        counts = {self.feature_names[j]: int(missing[j]) for j in np.flatnonzero(missing)}
        return Batch(wide.astype(np.float32, order="C"), unseen, counts)

    def _rows(self, records: list[Any], unseen: dict[str, int]) -> list[list[Any]]:
        astuple = msgspec.structs.astuple
        rows = []
        for record in records:
            row = list(astuple(record))
            for i, name, codes in self._categorical:
                code = codes.get(row[i])
                if code is None:
                    code = UNSEEN_CODE
                    unseen[name] = unseen.get(name, 0) + 1
                row[i] = code
            for i, fmt in self._dates:
                row[i] = date_days(row[i], fmt)
            rows.append(row)
        return rows

    def _columns(self, records: list[Any], unseen: dict[str, int]) -> list[Any]:
        # Large batches: one list comprehension per categorical column beats a per-cell loop.
        columns: list[Any] = list(zip(*map(msgspec.structs.astuple, records), strict=True))
        for i, name, codes in self._categorical:
            encoded = [codes.get(v, UNSEEN_CODE) for v in columns[i]]
            columns[i] = encoded
            if UNSEEN_CODE in encoded:
                unseen[name] = encoded.count(UNSEEN_CODE)
        for i, fmt in self._dates:
            columns[i] = [date_days(v, fmt) for v in columns[i]]
        return columns


def _record_type(model: Model) -> type:
    """A Struct with one field per feature; JSON names may hold dots, so fields are renamed."""
    fields = []
    rename = {}
    for i, feature in enumerate(model.features):
        attr = f"f{i}"
        rename[attr] = feature.name
        kind: Any = float if feature.kind == "numeric" else str
        if may_be_missing(model, feature):
            fields.append((attr, kind | None, None))
        else:
            fields.append((attr, kind))
    # kw_only: optional fields (with a default) may sit between required ones, in feature order.
    return msgspec.defstruct("Record", fields, rename=rename, kw_only=True)


def may_be_missing(model: Model, feature: Any) -> bool:
    """Null or absent is scored: always when the graph imputes, else where training had it."""
    return model.imputes_missing or feature.nullable


def _invalid(message: str) -> InvalidInput:
    """Turn msgspec's 'problem - at `$.data[3].age`' into a message and a field path."""
    match = _PATH.match(message)
    text = match.group("msg") if match else message
    path = (match.group("path") or "") if match else ""
    path = path.lstrip(".")
    missing = _MISSING.match(text)
    if missing:
        path = f"{path}.{missing.group('field')}" if path else missing.group("field")
    if text.startswith("Expected `array` of length >= 1"):
        text = "empty batch: send at least one record"
    elif text.startswith("Expected `array` of length <="):
        text = f"batch too large: at most {text.rsplit(' ', 1)[-1]} records per request"
    return InvalidInput(text, field=path or None)

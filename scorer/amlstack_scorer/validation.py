"""Request validation with msgspec: a Struct type built from the artifact's features at load time.

Both Azure payload shapes are accepted: ``{"data": [record, ...]}`` (v1) and
``{"Inputs": {"data": [...]}, "GlobalParameters": {...}}`` (AutoML v2). Records decode straight
into Structs (numeric fields float, ints accepted; categorical fields str, and true/false for a
yes/no field; unknown keys ignored),
then into the float32 matrix the ONNX graph takes. Errors name the record index and the field.

A key given twice in one object (``{"duration": 0, ..., "duration": 4000}``) is refused (422
naming it): msgspec, like most decoders, would keep the last one silently. The check costs a
byte count on the usual body: the number of key tokens (``"`` then ``:``) must equal the number
of keys decoded; only a body where they differ (extra keys, nulls or absent fields, a ``":``
inside a string) is parsed a second time, exactly, with ``json.loads(object_pairs_hook=...)``.
"""

from __future__ import annotations

import json
import re
import sys
from typing import Annotated, Any

import msgspec
import numpy as np

from amlstack.artifact.delimiters import by_spelling, loose_name
from amlstack.artifact.encoding import CellError, Encoded
from amlstack.artifact.formats import is_missing, overflows, parse_number
from amlstack.artifact.reader import Model
from amlstack_scorer.errors import InvalidInput, MalformedJSON

_NOT_JSON_NUMBER = re.compile(rb"[:\[,]\s*-?(NaN|Infinity)\b")
MAX_GLOBAL_KEYS = 100  # GlobalParameters' keys, at any depth
_PATH = re.compile(r"^(?P<msg>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.S)
_MISSING = re.compile(r"^Object missing required field `(?P<field>[^`]*)`")


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
                ("GlobalParameters", dict[str, Any] | msgspec.UnsetType, msgspec.UNSET),
            ],
        )
        self._decoder = msgspec.json.Decoder(payload)
        self._encoder = model.encoder
        self._features = {f.name: f for f in model.features}
        self._names = frozenset(self.feature_names)
        self._spellings = by_spelling(self.feature_names)
        self._width = len(self.feature_names)

    def decode(self, body: bytes) -> tuple[list[Any], str]:
        """Record Structs and their JSON path (400 for bad JSON, 422 for bad content)."""
        records, prefix, _ = self.decode_payload(body)
        return records, prefix

    def decode_payload(self, body: bytes) -> tuple[list[Any], str, dict[str, Any]]:
        """``decode`` plus the payload's GlobalParameters (AutoML v2; empty when absent)."""
        payload = self._decode(body)
        records, prefix = _records(payload)
        params = payload.GlobalParameters
        return records, prefix, {} if params is msgspec.UNSET else params

    def read(self, body: bytes) -> tuple[Encoded, dict[str, Any]]:
        """What /score does with a body: decode, refuse duplicate keys, encode. Returns the
        encoded batch and the GlobalParameters (400 for bad JSON, 422 for bad content)."""
        payload = self._decode(body)
        records, prefix = _records(payload)
        batch = self.encode(records, prefix)
        if len(batch.missing) == self._width:  # every field missing somewhere: maybe a row
            self._refuse_empty_records(batch, prefix, body)
        params = payload.GlobalParameters
        # Keys decoded: every record's fields (when none is missing), "data" ("Inputs" and
        # "data"), "GlobalParameters" and the keys inside it.
        decoded = len(records) * self._width + (1 if prefix == "data" else 2)
        if params is msgspec.UNSET:
            params = {}
        else:
            keys = _count_keys(params)
            if keys > MAX_GLOBAL_KEYS:  # only explain is read: a large object is no request
                raise InvalidInput(
                    f"GlobalParameters holds {keys} keys; at most {MAX_GLOBAL_KEYS} are read",
                    field="GlobalParameters",
                )
            decoded += 1 + keys
        if batch.missing or _key_tokens(body) != decoded:
            doc = _refuse_duplicate_keys(body)
            if batch.missing and isinstance(doc, dict):
                _refuse_misnamed_fields(
                    _records_in(doc, prefix), prefix, self._names, self._spellings
                )
        return batch, params

    def _decode(self, body: bytes) -> Any:
        try:
            return self._decoder.decode(body)
        except msgspec.ValidationError as exc:
            error = _invalid(str(exc))
            if error.message in _TEXT_FOR_NUMBER:
                error = _text_for_number(error, body, self._features)
            elif error.message in _BOOL_FOR_TEXT:
                error = _bool_for_text(error, self._features)
            raise error from None
        except msgspec.DecodeError as exc:
            raise MalformedJSON(f"body is not valid JSON: {exc}{encoding_hint(body)}") from None
        except RecursionError:
            raise MalformedJSON(
                f"JSON nested {nesting_depth(body)} levels deep; the decoder's limit is "
                f"about {sys.getrecursionlimit()}"
            ) from None

    def encode(self, records: list[Any], prefix: str = "data") -> Encoded:
        """Encode records with the artifact's encoder; 422 for a value it cannot read (a number
        float32 cannot hold, a date field's text that is no date)."""
        try:
            batch = self._encoder.rows(list(map(msgspec.structs.astuple, records)))
        except CellError as exc:
            field = f"{prefix}[{exc.row}].{exc.feature}"
            raise InvalidInput(exc.reason, field=field) from None
        return batch

    def _refuse_empty_records(self, batch: Encoded, prefix: str, body: bytes) -> None:
        """422 for a record holding none of the model's fields (misspelt names, another
        model's records, ``{}``): imputing every field would answer with a guess. A record
        naming its fields as null is scored, as an empty CSV row is (the decoder reads both
        as None, so such records are looked up in the body: rare, and only then)."""
        empty = np.flatnonzero(np.isnan(batch.matrix).all(axis=1))
        if not len(empty):
            return
        rows = _records_in(json.loads(body), prefix)
        _refuse_misnamed_fields(rows, prefix, self._names, self._spellings)  # AGE, JOB, ...: say so
        names = set(self.feature_names)
        for i in empty.tolist():
            if not names.intersection(rows[i]):
                shown = ", ".join(self.feature_names[:5]) + (", ..." if self._width > 5 else "")
                raise InvalidInput(
                    f"the record holds none of the model's fields ({shown})",
                    field=f"{prefix}[{i}]",
                )


_TEXT_FOR_NUMBER = ("Expected `float | null`, got `str`", "Expected `float`, got `str`")
_BOOL_FOR_TEXT = ("Expected `str | null`, got `bool`", "Expected `str`, got `bool`")
_RECORD_FIELD = re.compile(r"(?:Inputs\.)?data\[(?P<row>\d+)\]\.(?P<name>.+)")


def _text_for_number(error: InvalidInput, body: bytes, features: dict[str, Any]) -> InvalidInput:
    """A number field sent as text (``"12%"``, ``"$1,200"``, ``"1e309"``): msgspec names only
    the types; name the text, and when the column's format (as training read the CSV) reads
    it, the number to send. Only on this error is the body parsed again."""
    match = _RECORD_FIELD.fullmatch(error.field or "")
    feature = features.get(match["name"]) if match else None
    if feature is None:
        return error
    try:
        prefix = "Inputs.data" if error.field.startswith("Inputs.") else "data"
        text = _records_in(json.loads(body), prefix)[int(match["row"])][match["name"]]
    except (ValueError, KeyError, IndexError, TypeError, RecursionError):
        text = None  # msgspec stopped at the field: the rest may be no JSON json can read
    if not isinstance(text, str):
        return error
    if is_missing(text):
        hint = "; send null for a missing value"
    else:
        try:
            number = parse_number(text, feature.number_format, feature.unit)
            # the shortest text that reads back as this float: 12345678901, not 1.23456789e+10
            whole = number.is_integer() and abs(number) < 1e15
            hint = f"; send it as a JSON number: {int(number) if whole else number!r}"
        except ValueError:
            # 1e400: a number all the same, and the UI's form sends what it cannot read as is
            too_large = overflows(text, feature.number_format, feature.unit)
            hint = "; it is too large for a float32 number" if too_large else ""
    return InvalidInput(
        f"expected a number or null, got the text {text!r}{hint}", field=error.field
    )


def _bool_for_text(error: InvalidInput, features: dict[str, Any]) -> InvalidInput:
    """true/false for a text field that is not yes/no (msgspec names only the types): say
    what the field takes, with a few of its categories."""
    match = _RECORD_FIELD.fullmatch(error.field or "")
    feature = features.get(match["name"]) if match else None
    if feature is None:
        return error
    if feature.kind == "date":
        takes = "a date as text"
    else:
        shown = ", ".join(repr(c) for c in feature.categories[:5])
        takes = (
            f"text, one of its categories ({shown}{', ...' if len(feature.categories) > 5 else ''})"
        )
    return InvalidInput(
        f"true/false is read only for a yes/no field; {feature.name!r} takes {takes}",
        field=error.field,
    )


def _records(payload: Any) -> tuple[list[Any], str]:
    if payload.data is not msgspec.UNSET:
        if payload.Inputs is not msgspec.UNSET:
            raise InvalidInput("send either 'data' or 'Inputs', not both", field="data")
        return payload.data, "data"
    if payload.Inputs is not msgspec.UNSET:
        return payload.Inputs.data, "Inputs.data"
    raise InvalidInput(
        "body must be {'data': [records]} or {'Inputs': {'data': [records]}}", field="data"
    )


def _records_in(doc: Any, prefix: str) -> Any:
    """The records of a body parsed again with ``json`` (``prefix`` as ``_records`` named it)."""
    return doc["data"] if prefix == "data" else doc["Inputs"]["data"]


_SPACED_KEY = re.compile(rb'"\s+:')


def _key_tokens(body: bytes) -> int:
    """How many ``"`` + optional blanks + ``:`` the body holds: at least its number of keys
    (one more for each ``\\":`` inside a string). Counted in C, without allocating; when every
    colon follows a quote (the usual compact body) no key can have blanks before its colon."""
    tokens = body.count(b'":')
    if tokens != body.count(b":"):
        tokens += len(_SPACED_KEY.findall(body))
    return tokens


def _count_keys(value: Any) -> int:
    """Keys of every object in a decoded JSON value (iterative: any depth msgspec took)."""
    count, pending = 0, [value]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            count += len(item)
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return count


class _Repeated(dict):
    """An object of the body with a key given twice (the first such key)."""

    repeated: str = ""


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) == len(pairs):
        return obj
    repeated = _Repeated(obj)
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            repeated.repeated = key
            break
        seen.add(key)
    return repeated


def _refuse_misnamed_fields(
    rows: list[Any], prefix: str, names: frozenset[str], spellings: dict[str, str | None]
) -> None:
    """422 for a record key that names a field the record lacks but for case or blanks
    (``FAGE``, `` fage `` for ``fage``; ``spellings``: `delimiters.by_spelling` of the fields): the
    field would be read as absent and imputed, a silent guess, where `amlstack predict`,
    text/csv and V2 refuse such a column."""
    for i, row in enumerate(rows):
        for key in row:
            if key in names:
                continue
            name = spellings.get(loose_name(key))
            if name is not None and name not in row:
                raise InvalidInput(
                    f"key {key!r} is not a field of the model; {name!r} is (field names are "
                    "matched exactly)",
                    field=f"{prefix}[{i}].{key}",
                )


def _refuse_duplicate_keys(body: bytes) -> Any:
    """The exact check: 422 naming the first key given twice, with its path. Returns the
    document (None when only msgspec could read it)."""
    try:
        doc = json.loads(body, object_pairs_hook=_pairs)
    except RecursionError:
        raise MalformedJSON(f"JSON nested {nesting_depth(body)} levels deep") from None
    except ValueError:
        return None  # msgspec took it; anything json cannot read has no duplicate it can see
    pending: list[tuple[str, Any]] = [("", doc)]
    while pending:
        path, item = pending.pop()
        if isinstance(item, _Repeated):
            field = f"{path}.{item.repeated}" if path else item.repeated
            raise InvalidInput(
                f"key {item.repeated!r} is given more than once in one object; send each key once",
                field=field,
            )
        if isinstance(item, dict):
            children = [(f"{path}.{k}" if path else k, v) for k, v in item.items()]
        elif isinstance(item, list):
            children = [(f"{path}[{i}]", v) for i, v in enumerate(item)]
        else:
            continue
        pending.extend(reversed(children))  # depth first, in document order
    return doc


def _record_type(model: Model) -> type:
    """A Struct with one field per feature; JSON names may hold dots, so fields are renamed.
    A boolean-like field also takes true/false (a client's boolean column, as pandas sends it)."""
    fields = []
    rename = {}
    for i, feature in enumerate(model.features):
        attr = f"f{i}"
        rename[attr] = feature.name
        kind: Any = float if feature.kind == "numeric" else str
        if feature.yes_no is not None:
            kind = str | bool
        if may_be_missing(model, feature):
            fields.append((attr, kind | None, None))
        else:
            fields.append((attr, kind))
    # kw_only: optional fields (with a default) may sit between required ones, in feature order.
    return msgspec.defstruct("Record", fields, rename=rename, kw_only=True)


_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')


def encoding_hint(body: bytes) -> str:
    """Why a body that is JSON in another encoding, or with NaN, or empty, does not read (send
    UTF-8, no BOM, null for a missing value): for /score and V2 infer alike."""
    if not body.strip():  # msgspec says "Input data was truncated"
        return " (the body is empty: send a JSON object)"
    if body.startswith(b"\xef\xbb\xbf"):
        return " (it starts with a byte-order mark: send UTF-8 JSON without one)"
    if body[:2] in (b"\xff\xfe", b"\xfe\xff") or b"\x00" in body[:4]:
        return " (it looks like UTF-16: send UTF-8 JSON)"
    if body[:2] == b"\x1f\x8b":
        return " (it is gzip-compressed: send it uncompressed)"
    if _NOT_JSON_NUMBER.search(body):  # what json.dumps writes for a float NaN
        return " (NaN and Infinity are not JSON: send null for a missing value)"
    return ""


def nesting_depth(body: bytes) -> int:
    """The deepest [/{ nesting in ``body`` (strings skipped); only computed for an error, in C
    speed (regex, numpy), so a 16 MB body costs milliseconds."""
    skeleton = np.frombuffer(_STRING.sub(b"", body), dtype=np.uint8)
    steps = np.isin(skeleton, (ord("["), ord("{"))).astype(np.int32)
    steps -= np.isin(skeleton, (ord("]"), ord("}")))
    return int(np.cumsum(steps).max(initial=0))


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

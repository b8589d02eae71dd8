"""The Open Inference Protocol (KServe V2, as Triton speaks it over HTTP): documents and tensors.

The model takes one input tensor per feature, named after the feature, shape ``[-1]`` (or
``[-1, 1]``): ``BYTES`` for a categorical or a date feature (a date as ISO 8601 text; ``BOOL``
also for a yes/no feature), ``INT64`` or ``FP32`` for a numeric one (any numeric datatype is
accepted). A missing value is JSON
``null`` (or NaN in a binary float tensor): the model imputes it, as /score does for ``null``.
It answers ``probabilities`` (``FP32`` ``[N, classes]``, columns in the order of the metadata's
``classes`` parameter) and ``label`` (``BYTES`` ``[N]``).

Tensor data comes as JSON (flat or nested, row-major) or, per input, as Triton's binary
extension: the body is the JSON header (``Inference-Header-Content-Length`` bytes) followed by
the inputs that carry ``parameters.binary_data_size``, in input order. Outputs are JSON unless
the request asks for binary (``binary_data`` on an output, or ``binary_data_output``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import msgspec
import numpy as np

from amlstack.artifact.reader import Model
from amlstack_scorer.errors import BadRequest, InvalidInput
from amlstack_scorer.validation import encoding_hint

HEADER_LENGTH = "Inference-Header-Content-Length"
PROBABILITIES = "probabilities"
LABEL = "label"
OUTPUTS = (PROBABILITIES, LABEL)
NUMERIC = {
    "BOOL": np.bool_, "INT8": np.int8, "INT16": np.int16, "INT32": np.int32, "INT64": np.int64,
    "UINT8": np.uint8, "UINT16": np.uint16, "UINT32": np.uint32, "UINT64": np.uint64,
    "FP16": np.float16, "FP32": np.float32, "FP64": np.float64,
}  # fmt: skip


class Tensor(msgspec.Struct, forbid_unknown_fields=False):
    name: str
    shape: list[int]
    datatype: str
    parameters: dict[str, Any] = {}
    data: Any = msgspec.UNSET


class RequestedOutput(msgspec.Struct):
    name: str
    parameters: dict[str, Any] = {}


class InferRequest(msgspec.Struct):
    inputs: list[Tensor]
    id: str | msgspec.UnsetType = msgspec.UNSET
    parameters: dict[str, Any] = {}
    outputs: list[RequestedOutput] | msgspec.UnsetType = msgspec.UNSET


_decode_request = msgspec.json.Decoder(InferRequest).decode
_encode = msgspec.json.Encoder().encode


def input_datatype(model: Model, index: int) -> str:
    feature = model.features[index]
    if feature.kind != "numeric":
        return "BYTES"  # a category, or a date as ISO 8601 text
    return "INT64" if feature.dtype == "int" else "FP32"


def model_metadata(model: Model) -> dict[str, Any]:
    inputs = [
        {"name": f.name, "datatype": input_datatype(model, i), "shape": [-1]}
        for i, f in enumerate(model.features)
    ]
    outputs = [
        {"name": PROBABILITIES, "datatype": "FP32", "shape": [-1, len(model.classes)]},
        {"name": LABEL, "datatype": "BYTES", "shape": [-1]},
    ]
    return {
        "name": model.name,
        "versions": [model.version],
        "platform": "onnxruntime_onnx",
        "inputs": inputs,
        "outputs": outputs,
        "parameters": {"classes": [str(c) for c in model.classes]},
    }


@dataclass(frozen=True)
class Request:
    """A decoded infer request: one column of values per feature, in feature order."""

    columns: list[list[Any]]
    rows: int
    id: str | None
    outputs: tuple[str, ...]
    binary: frozenset[str]


def decode(body: bytes, header_length: str | None, model: Model, max_batch: int) -> Request:
    """Parse and check an infer body; every problem is a 400 naming the input."""
    header, blobs = _split(body, header_length)
    try:
        request = _decode_request(header)
    except msgspec.ValidationError as exc:
        raise BadRequest(f"not an inference request: {exc}") from None
    except msgspec.DecodeError as exc:
        raise BadRequest(f"body is not valid JSON: {exc}{encoding_hint(header)}") from None
    except RecursionError:
        raise BadRequest("body is JSON nested too deep") from None
    by_name = {}
    offset = 0
    for tensor in request.inputs:
        if tensor.name in by_name:
            raise BadRequest(f"input {tensor.name!r} given twice")
        size = tensor.parameters.get("binary_data_size")
        if size is not None:
            if not isinstance(size, int) or size < 0 or offset + size > len(blobs):
                raise BadRequest(
                    f"input {tensor.name!r}: binary_data_size {size!r} is past the body"
                )
            by_name[tensor.name] = (tensor, blobs[offset : offset + size])
            offset += size
        else:
            by_name[tensor.name] = (tensor, None)
    if offset != len(blobs):
        raise BadRequest(f"{len(blobs) - offset} bytes after the last binary input")
    unknown = sorted(set(by_name) - set(model.feature_names))
    if unknown:
        raise BadRequest(f"unknown input {unknown[0]!r}; the inputs are the model's features")
    missing = [name for name in model.feature_names if name not in by_name]
    if missing:
        raise BadRequest(f"missing input {missing[0]!r} (one input per feature)")
    columns = []
    rows = None
    for index, name in enumerate(model.feature_names):
        tensor, blob = by_name[name]
        try:
            values = _values(tensor, blob, model, index)
        except RecursionError:
            raise BadRequest(f"input {name!r}: data nested too deep") from None
        if rows is None:
            rows = len(values)
        elif len(values) != rows:
            raise BadRequest(f"input {name!r} has {len(values)} rows, the first input {rows}")
        columns.append(values)
    assert rows is not None  # a model has at least one feature
    if rows < 1:
        raise BadRequest("empty batch: send at least one row")
    if rows > max_batch:
        raise BadRequest(f"batch too large: at most {max_batch} rows per request")
    outputs, binary = _requested(request)
    return Request(columns, rows, request.id or None, outputs, binary)


def _split(body: bytes, header_length: str | None) -> tuple[bytes, bytes]:
    if header_length is None:
        return body, b""
    try:
        length = int(header_length)
    except ValueError:
        raise BadRequest(f"{HEADER_LENGTH} is not a number") from None
    if not 0 <= length <= len(body):
        raise BadRequest(f"{HEADER_LENGTH} {length} is past the body's {len(body)} bytes")
    return body[:length], body[length:]


def _values(tensor: Tensor, blob: bytes | None, model: Model, index: int) -> list[Any]:
    """The tensor's elements as Python values the scorer's encoder takes (str, bool or float)."""
    name = tensor.name
    shape = tensor.shape
    if not (len(shape) == 1 or (len(shape) == 2 and shape[1] == 1)) or shape[0] < 0:
        raise BadRequest(f"input {name!r}: shape {shape} is not [rows] or [rows, 1]")
    count = shape[0]
    kind = model.features[index].kind
    categorical = kind != "numeric"
    # a boolean-like feature also takes BOOL: true/false are its yes and no categories
    answers = model.features[index].yes_no is not None
    if categorical and tensor.datatype != "BYTES" and not (answers and tensor.datatype == "BOOL"):
        also = " or BOOL" if answers else ""
        raise BadRequest(
            f"input {name!r}: a {kind} feature takes BYTES{also}, not {tensor.datatype}"
        )
    if not categorical and tensor.datatype not in NUMERIC:
        raise BadRequest(f"input {name!r}: a numeric feature takes INT64/FP32/FP64, not "
                         f"{tensor.datatype}")  # fmt: skip
    if blob is not None:
        values = _from_binary(blob, tensor.datatype, name)
    elif tensor.data is msgspec.UNSET:
        raise BadRequest(f"input {name!r}: no data and no binary_data_size")
    else:
        values = _flatten(tensor.data, name)
    if len(values) != count:
        raise BadRequest(f"input {name!r}: shape {shape} needs {count} values, got {len(values)}")
    if categorical:
        kind_of = bool if tensor.datatype == "BOOL" else str
        if not all(v is None or isinstance(v, kind_of) for v in values):
            raise BadRequest(
                f"input {name!r}: {tensor.datatype} data must be "
                f"{'true/false' if kind_of is bool else 'strings'} (or null: missing)"
            )
        return values
    bools = tensor.datatype == "BOOL"  # true/false are numbers in a BOOL tensor only
    if not all(
        v is None or (isinstance(v, int | float) and (bools or not isinstance(v, bool)))
        for v in values
    ):
        raise BadRequest(
            f"input {name!r}: {tensor.datatype} data must be numbers (or null: missing)"
        )
    numbers = [math.nan if v is None else float(v) for v in values]
    if any(math.isinf(v) for v in numbers):
        raise InvalidInput("value is not a finite number", field=name)
    return numbers  # NaN: missing, imputed by the model


def _flatten(data: Any, name: str) -> list[Any]:
    if not isinstance(data, list):
        raise BadRequest(f"input {name!r}: data must be a list")
    if data and isinstance(data[0], list):
        flat = []
        for item in data:
            if not isinstance(item, list):
                raise BadRequest(f"input {name!r}: nested data must be lists throughout")
            flat.extend(_flatten(item, name))
        return flat
    return data


def _from_binary(blob: bytes, datatype: str, name: str) -> list[Any]:
    if datatype == "BYTES":
        values, pos = [], 0
        while pos < len(blob):
            if pos + 4 > len(blob):
                raise BadRequest(f"input {name!r}: truncated BYTES element")
            size = int.from_bytes(blob[pos : pos + 4], "little")
            pos += 4
            if pos + size > len(blob):
                raise BadRequest(f"input {name!r}: truncated BYTES element")
            try:
                values.append(blob[pos : pos + size].decode("utf-8"))
            except UnicodeDecodeError:
                raise BadRequest(f"input {name!r}: BYTES element is not UTF-8 text") from None
            pos += size
        return values
    dtype = np.dtype(NUMERIC[datatype]).newbyteorder("<")
    if len(blob) % dtype.itemsize:
        raise BadRequest(f"input {name!r}: {len(blob)} bytes is not a whole number of {datatype}")
    return np.frombuffer(blob, dtype=dtype).tolist()


def _requested(request: InferRequest) -> tuple[tuple[str, ...], frozenset[str]]:
    binary_all = bool(request.parameters.get("binary_data_output", False))
    if request.outputs is msgspec.UNSET or not request.outputs:
        return OUTPUTS, frozenset(OUTPUTS) if binary_all else frozenset()
    names, binary = [], set()
    for output in request.outputs:
        if output.name not in OUTPUTS:
            raise BadRequest(f"unknown output {output.name!r}; the outputs are {list(OUTPUTS)}")
        names.append(output.name)
        if output.parameters.get("binary_data", binary_all):
            binary.add(output.name)
    return tuple(names), frozenset(binary)


def encode_response(
    model: Model, request: Request, proba: np.ndarray, labels: list[Any]
) -> tuple[bytes, int | None]:
    """The response body, and the JSON header's length when binary outputs follow it."""
    outputs, blobs = [], []
    for name in request.outputs:
        if name == PROBABILITIES:
            entry = {"name": name, "datatype": "FP32", "shape": list(proba.shape)}
            if name in request.binary:
                blob = np.ascontiguousarray(proba, dtype="<f4").tobytes()
            else:
                entry["data"] = proba.ravel().tolist()
        else:
            texts = [str(label) for label in labels]
            entry = {"name": name, "datatype": "BYTES", "shape": [len(texts)]}
            if name in request.binary:
                blob = b"".join(
                    len(raw).to_bytes(4, "little") + raw for raw in (t.encode() for t in texts)
                )
            else:
                entry["data"] = texts
        if name in request.binary:
            entry["parameters"] = {"binary_data_size": len(blob)}
            blobs.append(blob)
        outputs.append(entry)
    answer: dict[str, Any] = {
        "model_name": model.name,
        "model_version": model.version,
        "outputs": outputs,
    }
    if request.id is not None:
        answer["id"] = request.id
    header = _encode(answer)
    if not blobs:
        return header, None
    return header + b"".join(blobs), len(header)

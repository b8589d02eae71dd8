"""``text/csv`` on /score: bulk scoring for clients that send thousands of rows.

The request is a CSV document: a header line naming the schema's columns (comma, semicolon, tab
or pipe separated, detected from the header line; extra columns such as the target are ignored;
quoted fields as the csv module reads them), then one record per row. Cells are read exactly as
``amlstack predict`` reads them (`amlstack.artifact.table`): whole columns at a time, never
record by record. The answer is CSV in the request's delimiter, one row per input row in the
same order: ``probability_<class>`` for each class, then ``predicted_label``; the model and the
decision threshold are in response headers, since CSV has no place for them.
"""

from __future__ import annotations

import codecs

import numpy as np

from amlstack.artifact.encoding import Encoded
from amlstack.artifact.reader import Model
from amlstack.artifact.scored import output_columns
from amlstack.artifact.table import (
    LayoutError,
    TableError,
    encode_text_columns,
    line_of,
    read_utf8,
)
from amlstack_scorer.contract import (
    CSV_MIMETYPE,
    MODEL_NAME_HEADER,
    MODEL_VERSION_HEADER,
    THRESHOLD_HEADER,
)
from amlstack_scorer.errors import BadRequest, InvalidInput, UnsupportedMediaType
from amlstack_scorer.wire import encode

CONTENT_TYPE = f"{CSV_MIMETYPE}; charset=utf-8"
_CHARSETS = ("utf-8", "utf8", "us-ascii")


def decode(body: bytes, params: str, model: Model, max_batch: int) -> tuple[Encoded, str]:
    """The encoded batch and the request's delimiter; 400 for a body that is not CSV text,
    422 naming the line and column for a cell or a column the model cannot take."""
    for param in params.split(";"):
        key, _, value = param.partition("=")
        charset = value.strip().strip('"').lower()
        if key.strip().lower() == "charset" and charset not in _CHARSETS:
            raise UnsupportedMediaType(f"text/csv bodies are UTF-8, not {charset!r}")
    if not body.isascii():  # checked in C without a copy; else decoded once to be checked
        try:
            body.decode("utf-8")
        except UnicodeDecodeError as exc:
            reason = f"{exc.reason} at byte {exc.start}"
            raise BadRequest(f"body is not UTF-8 text ({reason})") from None
        body = body.removeprefix(codecs.BOM_UTF8)
    if not body or body.isspace():  # as `not body.strip()`, without copying a large body
        raise BadRequest("empty body: send a header line, then one line per record")
    try:
        columns, rows, delimiter = read_utf8(body, model.features, model.pool())
        if rows == 0:
            raise InvalidInput("empty batch: send at least one record")
        if rows > max_batch:
            raise InvalidInput(f"batch too large: at most {max_batch} records per request")
        return encode_text_columns(model.features, columns), delimiter
    except LayoutError as exc:
        raise BadRequest(_located(exc, body)) from None
    except TableError as exc:
        raise InvalidInput(_located(exc, body), field=exc.column) from None


def _located(exc: TableError, body: bytes) -> str:
    """The message with the line of the body in place of the data row (the header is line 1)."""
    if exc.row is None:
        return exc.message
    line = line_of(body, exc.row)
    return exc.message.replace(f"data row {exc.row}", f"line {line}", 1)


def encode_answer(classes: list, proba: np.ndarray, indices: list[int], delimiter: str) -> bytes:
    """One CSV row per input row: the probabilities, then the label (RFC 4180 line ends)."""
    header = delimiter.join(_quoted(name, delimiter) for name in output_columns(classes))
    names = [_quoted(str(c), delimiter) for c in classes]
    # msgspec writes each float as /score's JSON does (shortest repr): the same numbers, all of
    # them in one call (a flat list: no Python list per row), cut at the commas (a number
    # never holds one); every cell is followed by the delimiter, a row's last by its label.
    n, k = proba.shape
    cells = encode(proba.ravel().tolist())[1:-1].split(b",")
    ends = [f"{delimiter}{name}\r\n".encode() for name in names]
    if len(indices) != n:
        raise ValueError(f"{len(indices)} labels for {n} rows")
    out = [delimiter.encode()] * (2 * n * k)
    out[::2] = cells
    out[2 * k - 1 :: 2 * k] = map(ends.__getitem__, indices)
    return f"{header}\r\n".encode() + b"".join(out)


def answer_headers(model: Model, threshold: float | None) -> list[tuple[str, str]]:
    headers = [
        ("Content-Type", CONTENT_TYPE),
        (MODEL_NAME_HEADER, model.name),
        (MODEL_VERSION_HEADER, model.version),
    ]
    if threshold is not None:
        headers.append((THRESHOLD_HEADER, repr(threshold)))
    return headers


def _quoted(text: str, delimiter: str) -> str:
    if any(ch in text for ch in (delimiter, '"', "\n", "\r")):
        return '"' + text.replace('"', '""') + '"'
    return text

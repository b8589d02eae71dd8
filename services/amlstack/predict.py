"""Batch scoring of a CSV with an artifact, streamed in chunks so any file size fits in memory."""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from amlstack.artifact.formats import is_missing, parse_number
from amlstack.artifact.reader import Model
from amlstack.errors import DataError, UserError
from amlstack.training.data import detect_delimiter

CHUNK_ROWS = 50_000


def predict_csv(model_dir: Path, source: Path, target: Path, chunk_rows: int = CHUNK_ROWS) -> int:
    """Write ``source`` rows plus probability and label columns to ``target``; returns rows."""
    model = Model(model_dir, threads=os.cpu_count() or 1)
    if not source.is_file():
        raise UserError(f"--input {source}: no such file")
    if target.resolve() == source.resolve():
        raise UserError("--output must differ from --input (the input would be destroyed)")
    delimiter = detect_delimiter(source)
    tmp = target.with_name(f".{target.name}.partial")
    rows = 0
    try:
        with source.open(newline="", encoding="utf-8-sig") as src, tmp.open("w", newline="") as dst:
            reader = csv.reader(src, delimiter=delimiter)
            header = [h.strip() for h in next(reader, [])]
            positions = _positions(model, header, source)
            writer = csv.writer(dst, delimiter=delimiter)
            writer.writerow(header + output_columns(model))
            for chunk in _chunks(reader, chunk_rows):
                _check_widths(chunk, len(header), rows, source)
                proba = model.predict_proba(_encode(model, chunk, positions, rows, source))
                labels = model.labels(proba)
                for row, p, label in zip(chunk, proba.tolist(), labels, strict=True):
                    writer.writerow([*row, *(f"{v:.6f}" for v in p), label])
                rows += len(chunk)
        tmp.replace(target)  # the output appears whole or not at all
    finally:
        tmp.unlink(missing_ok=True)
    return rows


def output_columns(model: Model) -> list[str]:
    """The columns batch scoring appends: one probability per class, then the label."""
    return [f"probability_{c}" for c in model.classes] + ["predicted_label"]


def _positions(model: Model, header: list[str], source: Path) -> list[int]:
    missing = [name for name in model.feature_names if name not in header]
    if missing:
        raise DataError(f"{source}: missing column(s) the model needs: {', '.join(missing)}")
    return [header.index(name) for name in model.feature_names]


def _chunks(reader, size: int) -> Iterator[list[list[str]]]:
    chunk = []
    for row in reader:
        if not row:
            continue
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _check_widths(chunk, width: int, offset: int, source: Path) -> None:
    for i, row in enumerate(chunk):
        if len(row) != width:
            raise DataError(
                f"{source}: data row {offset + i + 1} has {len(row)} fields, the header has {width}"
            )


def _encode(model: Model, chunk, positions, offset: int, source: Path) -> np.ndarray:
    """The chunk's model input; a missing-value marker in any column is NaN (the model imputes)."""
    columns = {}
    for feature, pos in zip(model.features, positions, strict=True):
        raw = [None if is_missing(row[pos]) else row[pos].strip() for row in chunk]
        if feature.kind == "numeric":
            columns[feature.name] = parse_numbers(raw, feature, offset, source)
        else:
            columns[feature.name] = np.asarray(raw, dtype=object)
    return model.encode_columns(columns)


def parse_numbers(raw: list[str | None], feature, offset: int, source) -> np.ndarray:
    """CSV text (stripped; None = missing) as numbers; errors name ``source``, row and column."""
    fmt = feature.number_format
    if fmt is None:  # the common case, one comprehension; the loop below finds a bad cell
        try:
            return np.array([math.nan if t is None else float(t) for t in raw], dtype=np.float64)
        except ValueError:
            pass
    values = np.empty(len(raw), dtype=np.float64)
    for i, text in enumerate(raw):
        try:
            values[i] = math.nan if text is None else parse_number(text, fmt)
        except ValueError:
            raise DataError(
                f"{source}: data row {offset + i + 1}, column {feature.name!r}: "
                f"{text!r} is not a number"
            ) from None
    return values

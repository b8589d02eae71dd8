"""Batch scoring of a CSV with an artifact, streamed in chunks so any file size fits in memory."""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from amlstack.artifact import charset, delimiters, scored
from amlstack.artifact.delimiters import header_names
from amlstack.artifact.encoding import Encoded
from amlstack.artifact.formats import show_number, show_probability, writes_decimal_commas
from amlstack.artifact.manifest import artifact_holding
from amlstack.artifact.reader import Model
from amlstack.artifact.scored import earlier_columns, placed
from amlstack.artifact.table import TableError, encode_text_rows, positions
from amlstack.errors import DataError, UserError
from amlstack.training.data import detect_delimiter

CHUNK_ROWS = 50_000
MAX_CELL_CHARS = delimiters.MAX_CELL_CHARS  # the longest cell read (the UI has its own)


def predict_csv(
    artifact: Path | Model,
    source: Path,
    target: Path,
    chunk_rows: int = CHUNK_ROWS,
    notice: Callable[[str], None] = lambda line: None,
) -> int:
    """Write ``source`` rows plus probability and label columns to ``target``; returns rows.

    ``artifact`` is the artifact's folder or a `Model` already loaded from it (the batch
    script loads it once per worker, not once per file).
    ``notice`` gets how the file was read when it is not UTF-8 (`charset.how_read`) and a line
    per column with what training never saw (`Unusual`), once it is scored."""
    # a slice of each chunk per CPU, as the scorer does: faster than onnxruntime's own threads,
    # which meet after every member of an ensemble (benchmarks/bench_model.py)
    model = artifact if isinstance(artifact, Model) else Model(artifact, parallel_batches=True)
    if not source.is_file():
        raise UserError(f"--input {source}: no such file")
    if target.resolve() == source.resolve():
        raise UserError("--output must differ from --input (the input would be destroyed)")
    if target.is_dir():
        raise UserError(f"--output {target}: a folder; name the file to write")
    holder = artifact_holding(target)
    if holder is not None:
        raise UserError(
            f"--output {target}: inside the artifact {holder} (a file there breaks its "
            "manifest); write it elsewhere"
        )
    encoding = charset.file_encoding(source)  # as training reads a file
    how_read = charset.how_read(source, encoding)
    delimiter = detect_delimiter(source, encoding, one_column=len(model.features) == 1)
    tmp = target.with_name(f".{target.name}.partial")
    try:  # before any row is scored, and as one line naming the option, not a bug report
        dst = tmp.open("w", newline="", encoding="utf-8")
    except OSError as exc:
        raise UserError(f"--output {target}: cannot write there ({exc.strerror})") from None
    rows = 0
    unusual = Unusual()
    csv.field_size_limit(MAX_CELL_CHARS)  # the module's, for every reader: set, not raised
    try:
        with dst, source.open(newline="", encoding=encoding) as src:
            reader = csv.reader(src, delimiter=delimiter)
            cells = next(reader, [])
            header = header_names(cells)
            try:
                positions(model.features, header)
            except TableError as exc:
                raise DataError(f"{source}: {exc}") from None
            writer = csv.writer(dst, delimiter=delimiter)
            added = output_columns(model)
            where = earlier_columns(cells, added, model.feature_names)
            writer.writerow(cells + [name for name in added if name not in where])
            commas = writes_decimal_commas(f.number_format for f in model.features)
            for chunk in _chunks(reader, chunk_rows, len(header)):
                try:
                    batch = encode_text_rows(model.features, header, chunk, first_row=rows + 1)
                except TableError as exc:
                    raise DataError(f"{source}: {exc}") from None
                unusual.add(model, batch)
                proba = model.predict_proba(batch.matrix)
                labels = model.labels(proba)
                for row, p, label in zip(chunk, proba.tolist(), labels, strict=True):
                    values = [*(show_probability(v, commas) for v in p), label]
                    writer.writerow(placed(row, added, values, where))
                rows += len(chunk)
        tmp.replace(target)  # the output appears whole or not at all
    except csv.Error as exc:  # the reader's: the writer quotes whatever it is given
        message = delimiters.unreadable(exc, MAX_CELL_CHARS)
        raise DataError(f"{source}: line {reader.line_num}: {message}") from None
    finally:
        tmp.unlink(missing_ok=True)
    if how_read:
        notice(how_read)
    if where:
        notice(f"the input's {', '.join(where)} (an earlier score) now hold this model's scores")
    for line in unusual.notices(model):
        notice(line)
    return rows


@dataclass
class Unusual:
    """What training never saw in a file, counted per column over its chunks: categories,
    numbers outside the training range (`encoding.TrainingRange`) and missing values in a
    column that had none. Each row is scored (unknown, as written, imputed); a notice says so."""

    unseen: Counter[str] = field(default_factory=Counter)
    outside: Counter[str] = field(default_factory=Counter)
    missing: Counter[str] = field(default_factory=Counter)

    def add(self, model: Model, batch: Encoded) -> None:
        self.unseen.update(batch.unseen)
        self.outside.update(model.training_range.outside(batch.matrix))
        never = {f.name for f in model.features if not f.nullable}
        self.missing.update({n: c for n, c in batch.missing.items() if n in never})

    def notices(self, model: Model) -> list[str]:
        by_name = {f.name: f for f in model.features}
        lines = [
            f"column {name!r}: {count} row(s) with a category not seen in training "
            "(scored as an unknown category)"
            for name, count in self.unseen.items()
        ]
        for name, count in self.outside.items():
            feature = by_name[name]
            low, high = (
                show_number(v, feature.number_format) for v in (feature.minimum, feature.maximum)
            )
            lines.append(
                f"column {name!r}: {count} row(s) outside the training range "
                f"[{low}, {high}] (scored as the nearest bound)"
            )
        lines += [
            f"column {name!r}: {count} row(s) missing, in a column never missing in training "
            "(imputed)"
            for name, count in self.missing.items()
        ]
        return lines


def output_columns(model: Model) -> list[str]:
    """The columns batch scoring appends: one probability per class, then the label."""
    return scored.output_columns(model.classes)


def _chunks(reader, size: int, width: int) -> Iterator[list[list[str]]]:
    """Rows in chunks of ``size``, each ``width`` fields wide as training reads it: a row short
    of fields gets empty (missing) ones, and one ending in empty extra fields (a delimiter at
    the end of every row) loses them, so the output columns stay under their header."""
    chunk = []
    for row in reader:
        if not row:
            continue
        if len(row) < width:
            row += [""] * (width - len(row))
        elif len(row) > width and not any(cell.strip() for cell in row[width:]):
            del row[width:]  # a delimiter ending the row: as training reads it
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk

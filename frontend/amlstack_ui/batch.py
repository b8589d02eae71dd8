"""Score an uploaded CSV in chunks, on disk, with a per-row error report.

The upload is stored in the job's folder and read back a chunk of rows at a time; every chunk is
one /score call and its scored rows are appended to ``scored.csv``, so memory holds one chunk
whatever the file's size. A chunk the scorer refuses (422) is scored row by row, so one bad row
costs only itself. Progress is ``status.json``, written atomically after every chunk.

A scorer that is down for a moment (replicas restarting: no connection, 502/503/504) does not
end the job: the chunk is sent again with backoff, honouring Retry-After, for at most
``Retry.budget_s`` seconds and ``Retry.attempts`` tries. A job that fails anyway keeps the
chunks scored before it: ``scored.csv`` and ``errors.csv`` stay downloadable.

Input: comma, semicolon, tab or pipe separated (guessed from the header line, as training does),
with or without the target column (columns that are not model inputs are kept as they are). Output:
the input columns, then `added_columns`: ``probability`` (of the positive class), ``label`` and
``error`` (empty for a scored row) for a two-class model; `amlstack predict`'s columns and
``error`` for a multi-class one.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import IO, Any

from amlstack.artifact.charset import BINARY_DATA, SAMPLE_CHARS, file_encoding, holds_binary
from amlstack.artifact.delimiters import (
    REPEATED,
    excel_hint,
    header_delimiter,
    header_names,
    near_names,
    repeated_column,
    unreadable,
)
from amlstack.artifact.formats import show_probability, writes_decimal_commas
from amlstack.artifact.scored import earlier_columns, output_columns, placed
from amlstack_ui.form import Field, field_of, friendly, record_from_values, writing_of
from amlstack_ui.scorer import BUSY_STATUSES, Answer, ScorerBusy, ScorerClient, ScorerUnavailable

# The longest cell an upload may hold: below `amlstack predict`'s 64 Mi, since the UI holds a
# chunk of rows at once in a 512 MB container, and the scorer takes bodies of 16 MiB at most.
MAX_CELL_CHARS = 4 * 1024 * 1024
INPUT = "input.csv"
SCORED = "scored.csv"
ERRORS = "errors.csv"
STATUS = "status.json"
ADDED_COLUMNS = ("probability", "label", "error")  # a two-class model's file
MAX_SHOWN_ERRORS = 50
_COPY_CHUNK = 1 << 20
_JOB_ID_CHARS = set("0123456789abcdef")


@dataclass(frozen=True)
class Retry:
    """How long one scorer call waits out a scorer that is down for a moment: exponential
    backoff from ``first_s`` up to ``max_s`` per wait (or the answer's Retry-After), at most
    ``attempts`` tries and ``budget_s`` seconds in all, so a restart of the replicas (seconds)
    is ridden out and a scorer that stays down fails the job within about a minute."""

    budget_s: float = 60.0
    attempts: int = 8
    first_s: float = 1.0
    max_s: float = 15.0
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    # told what is being waited for before each wait, and "" once the scorer answers again
    notify: Callable[[str], None] | None = None


class BatchError(Exception):
    """The file cannot be scored at all (no header, missing columns); one-line message."""


@dataclass
class Status:
    """A job's progress, as the page shows it."""

    state: str = "queued"  # queued, running, done, failed
    filename: str = ""
    size_bytes: int = 0
    rows_done: int = 0
    rows_scored: int = 0
    rows_failed: int = 0
    bytes_read: int = 0
    message: str = ""
    errors: list[dict[str, Any]] = field(default_factory=list)
    started: float = 0.0
    finished: float = 0.0

    @property
    def percent(self) -> int:
        if self.state == "done":
            return 100
        return min(99, int(100 * self.bytes_read / self.size_bytes)) if self.size_bytes else 0


class Jobs:
    """Job folders under ``root``: create from an upload, run in a thread, read status."""

    def __init__(
        self,
        root: Path,
        client: ScorerClient,
        chunk_rows: int,
        ttl_s: int,
        retry: Retry | None = None,
    ) -> None:
        self.root = root
        self.client = client
        self.chunk_rows = chunk_rows
        self.ttl_s = ttl_s
        self.retry = retry or Retry()

    def path(self, job_id: str, name: str = "") -> Path | None:
        """The job's folder (or a file in it); None for an id that is not one of ours."""
        if len(job_id) != 32 or not set(job_id) <= _JOB_ID_CHARS:
            return None
        folder = self.root / job_id
        if not folder.is_dir():
            return None
        return folder / name if name else folder

    def status(self, job_id: str) -> Status | None:
        path = self.path(job_id, STATUS)
        if path is None or not path.is_file():
            return None
        return Status(**json.loads(path.read_text()))

    def start(
        self,
        upload: IO[bytes],
        filename: str,
        fields: list[Field],
        max_rows: int | None = None,
        classes: list[str] | None = None,
    ) -> str:
        """Store the upload, check its header, and score it in a background thread.

        ``max_rows``: the most records the scorer takes per request (`form.batch_limit`); a
        chunk is never larger, whatever AMLSTACK_UI_CHUNK_ROWS says. ``classes``: the model's
        (`form.model_classes`), which name a multi-class file's probability columns."""
        self._expire()
        job_id = uuid.uuid4().hex
        folder = self.root / job_id
        folder.mkdir(parents=True)
        with (folder / INPUT).open("wb") as out:
            shutil.copyfileobj(upload, out, _COPY_CHUNK)
        status = Status(filename=filename, size_bytes=(folder / INPUT).stat().st_size)
        try:
            _header(folder / INPUT, fields)
        except BatchError as exc:
            status.state, status.message = "failed", str(exc)
            _write_status(folder, status)
            return job_id
        _write_status(folder, status)
        rows = min(self.chunk_rows, max_rows or self.chunk_rows)
        thread = threading.Thread(
            target=self._run, args=(folder, status, fields, rows, classes), name=f"batch-{job_id}",
            daemon=True,
        )  # fmt: skip
        thread.start()
        return job_id

    def _run(
        self,
        folder: Path,
        status: Status,
        fields: list[Field],
        rows: int,
        classes: list[str] | None,
    ) -> None:
        status.state, status.started = "running", time.time()
        _write_status(folder, status)
        try:
            score_file(folder, status, fields, self.client, rows, self.retry, classes)
            status.state = "done"
        except (BatchError, ScorerUnavailable) as exc:
            status.state, status.message = "failed", str(exc)
        except Exception as exc:  # never a blank page: the job says it failed, and why
            status.state, status.message = "failed", f"internal error ({type(exc).__name__})"
        status.finished = time.time()
        _write_status(folder, status)

    def _expire(self) -> None:
        """Delete jobs older than the TTL, so the disk holds only recent files."""
        if not self.root.is_dir():
            return
        cutoff = time.time() - self.ttl_s
        for folder in self.root.iterdir():
            if folder.is_dir() and folder.stat().st_mtime < cutoff:
                shutil.rmtree(folder, ignore_errors=True)


def _note(folder: Path, status: Status, text: str) -> None:
    """Show why a running job is not moving (the scorer is down for a moment), or clear it."""
    status.message = text
    _write_status(folder, status)


def _write_status(folder: Path, status: Status) -> None:
    tmp = folder / (STATUS + ".tmp")
    tmp.write_text(json.dumps(asdict(status)))
    os.replace(tmp, folder / STATUS)


def _header(path: Path, fields: list[Field]) -> tuple[str, list[str], str]:
    """The file's delimiter, column names and text encoding (read as training reads a file: a
    quoted name may hold a line break, so the header may span lines)."""
    encoding = file_encoding(path)
    with path.open(newline="", encoding=encoding, errors="replace") as handle:
        first = handle.readline()
        sample = first + handle.read(max(0, SAMPLE_CHARS - len(first)))
    if holds_binary(sample):  # as `amlstack predict` refuses it, in its words
        raise BatchError(BINARY_DATA)
    if not first.strip():
        raise BatchError("the file is empty: expected a header line with the column names")
    hint = excel_hint(first)  # it read as "the file has no column ..."
    if hint:
        raise BatchError(hint)
    delimiter = header_delimiter(sample) or ","
    csv.field_size_limit(MAX_CELL_CHARS)  # the module's, for every reader: set, not raised
    try:
        header = header_names(next(csv.reader(io.StringIO(sample), delimiter=delimiter)))
    except csv.Error as exc:
        raise BatchError(f"line 1: {unreadable(exc, MAX_CELL_CHARS)}") from None
    # every model column, as `amlstack predict` and text/csv want it: a column left out of a
    # file is not a missing value (an empty cell is)
    missing = [f.name for f in fields if f.name not in header]
    if missing:
        shown = ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else "")
        # as `amlstack predict` says it: 'AGE' for 'age' is not the column (names match exactly)
        near = near_names(missing, header, [f.name for f in fields])
        raise BatchError(f"the file has no column {shown} (columns are read from line 1){near}")
    # as `amlstack predict` refuses it: a row's second cell of the name was scored, silently
    repeated = repeated_column(header, [f.name for f in fields])
    if repeated is not None:
        raise BatchError(REPEATED.format(repeated))
    return delimiter, header, encoding


def _header_cells(reader: Any) -> list[str]:
    """The header line's cells as written: the scored file keeps them, as `amlstack predict`
    does (`header_names`, which the model's columns are matched by, writes a name's double
    quote as ' and an empty name as "Unnamed: 0", which renamed the person's own columns)."""
    try:
        return next(reader, [])
    except csv.Error as exc:
        raise _unreadable(reader, exc) from None


def _chunks(reader: Any, size: int) -> Iterator[list[tuple[int, list[str]]]]:
    """The rows after the header, ``size`` at a time, with their line numbers; a cell the
    reader cannot read (over MAX_CELL_CHARS, or a quote left open) is a BatchError naming its
    line."""
    chunk: list[tuple[int, list[str]]] = []
    try:
        for row in reader:
            if not row:
                continue
            chunk.append((reader.line_num, row))
            if len(chunk) >= size:
                yield chunk
                chunk = []
    except csv.Error as exc:
        # a cell over 128 KiB (csv's default limit) was "internal error (Error)"
        raise _unreadable(reader, exc) from None
    if chunk:
        yield chunk


def _unreadable(reader: Any, exc: csv.Error) -> BatchError:
    return BatchError(f"line {reader.line_num}: {unreadable(exc, MAX_CELL_CHARS)}")


def score_file(
    folder: Path,
    status: Status,
    fields: list[Field],
    client: ScorerClient,
    chunk_rows: int,
    retry: Retry | None = None,
    classes: list[str] | None = None,
) -> None:
    """Score ``input.csv`` into ``scored.csv`` and ``errors.csv``, updating ``status``; both
    files hold every chunk scored so far, whole, if this stops with an exception. ``classes``:
    the model's, for a multi-class model's columns (`added_columns`)."""
    retry = replace(retry or Retry(), notify=lambda text: _note(folder, status, text))
    delimiter, _, encoding = _header(folder / INPUT, fields)
    with (
        (folder / INPUT).open(newline="", encoding=encoding, errors="replace") as source,
        (folder / SCORED).open("w", newline="", encoding="utf-8") as scored_file,
        (folder / ERRORS).open("w", newline="", encoding="utf-8") as errors_file,
    ):
        scored = csv.writer(scored_file, delimiter=delimiter)
        errors = csv.writer(errors_file, delimiter=delimiter)
        added = added_columns(classes)
        reader = csv.reader(source, delimiter=delimiter)
        cells = _header_cells(reader)
        header = header_names(cells)  # as the rows are read (`_header` judged a sample)
        where = earlier_columns(cells, added, [f.name for f in fields])  # a file scored before
        scored.writerow([*cells, *(name for name in added if name not in where)])
        errors.writerow(["line", "field", "message"])
        commas = writes_decimal_commas(f.number_format for f in fields)
        for chunk in _chunks(reader, chunk_rows):
            results = _score_rows(client, fields, header, chunk, retry)
            for (line, row), (probabilities, label, error) in zip(chunk, results, strict=True):
                row = row + [""] * (len(header) - len(row))
                message = error["message"] if error else ""
                shown = _shown(probabilities, label, classes, commas)
                values = [*shown, label, message]
                scored.writerow(placed(row[: len(header)], added, values, where))
                if error:
                    status.rows_failed += 1
                    errors.writerow([line, error.get("field") or "", error["message"]])
                    if len(status.errors) < MAX_SHOWN_ERRORS:
                        status.errors.append({"line": line, **error})
                else:
                    status.rows_scored += 1
            status.rows_done += len(chunk)
            status.bytes_read = source.buffer.tell()
            # flushed with the status, so the rows it counts are on disk if the job stops
            scored_file.flush()
            errors_file.flush()
            _write_status(folder, status)


def _score_rows(
    client: ScorerClient,
    fields: list[Field],
    header: list[str],
    chunk: list[tuple[int, list[str]]],
    retry: Retry,
) -> list[tuple]:
    """(probabilities, label, error) per row; a row with more non-empty fields than the header is
    an error of its own, as `amlstack predict` and training refuse it (which field is meant?)."""
    width = len(header)
    wide = {i for i, (_, row) in enumerate(chunk) if any(c.strip() for c in row[width:])}
    records = [
        record_from_values(fields, dict(zip(header, row, strict=False)))
        for i, (_, row) in enumerate(chunk)
        if i not in wide
    ]
    scored = iter(_score_chunk(client, fields, records, retry) if records else [])
    return [
        ({}, "", {"field": None, "message": f"{len(row)} fields, the header has {width}"})
        if i in wide
        else next(scored)
        for i, (_, row) in enumerate(chunk)
    ]


def _score_chunk(
    client: ScorerClient, fields: list[Field], records: list[dict[str, Any]], retry: Retry
) -> list[tuple]:
    """(probabilities, label, error) per record; a refused chunk is retried one record at a
    time."""
    answer = _call(client, records, retry)
    if answer.ok:
        return _results(answer.body)
    if answer.status != 422 or len(records) == 1:
        error = answer.error
        message = error.get("message") or f"the scorer answered HTTP {answer.status}"
        if answer.status in (413, 415) or answer.status >= 500:
            raise ScorerUnavailable(f"the scorer refused the file: {message}")
        _, name = field_of(error.get("field"))
        reason = friendly(message, name, writing_of(fields, name))
        return [({}, "", {"field": name, "message": reason})] * len(records)
    out: list[tuple] = []
    for record in records:
        out.extend(_score_chunk(client, fields, [record], retry))
    return out


def _call(client: ScorerClient, records: list[dict[str, Any]], retry: Retry) -> Answer:
    """One /score call, sent again while the scorer is down for a moment (`Retry`); any other
    answer, ok or not, is returned as it is."""
    start = retry.clock()
    problem, attempt = "", 0
    for attempt in range(1, max(1, retry.attempts) + 1):
        try:
            answer = client.score(records)
        except ScorerBusy as exc:
            problem, hint = str(exc), exc.retry_after
        else:
            if answer.status not in BUSY_STATUSES:
                if attempt > 1 and retry.notify:
                    retry.notify("")
                return answer
            message = answer.error.get("message") or "no reason given"
            problem = f"the scorer answered HTTP {answer.status} ({message})"
            hint = answer.retry_after
        wait = min(retry.first_s * 2 ** (attempt - 1), retry.max_s) if hint is None else hint
        if attempt >= retry.attempts or retry.clock() - start + wait > retry.budget_s:
            break
        if retry.notify:
            retry.notify(f"{problem}: trying again in {wait:.0f} s")
        retry.sleep(wait)
    waited = retry.clock() - start
    tries = "1 try" if attempt == 1 else f"{attempt} tries"
    raise ScorerUnavailable(f"{problem}; gave up after {tries} in {waited:.0f} s")


def _results(body: dict[str, Any]) -> list[tuple]:
    return [
        (probabilities, label, None)
        for label, probabilities in zip(body["predictions"], body["probabilities"], strict=True)
    ]


def added_columns(classes: list[str] | None) -> list[str]:
    """The scored file's added columns: ``probability`` (of the positive class), ``label`` and
    ``error`` for a two-class model; for a multi-class one, whose reader weighs every class,
    `amlstack predict`'s (``probability_<class>`` per class, ``predicted_label``) and ``error``."""
    if _per_class(classes):
        return [*output_columns(classes), "error"]
    return list(ADDED_COLUMNS)


def _per_class(classes: list[str] | None) -> bool:
    """Whether the file gets a probability per class: a multi-class model's does."""
    return bool(classes) and len(classes) > 2


def _shown(
    probabilities: dict[str, float], label: str, classes: list[str] | None, commas: bool
) -> list[str]:
    """A row's probability cells, under `added_columns`; empty for a row not scored."""
    if _per_class(classes):
        if probabilities and set(probabilities) != set(classes):
            # the model was replaced during the job: its columns were fixed at the upload
            raise BatchError(
                "the model's classes changed while the file was scored (a new model was "
                "rolled out): upload the file again"
            )
        return [
            show_probability(probabilities[c], commas) if probabilities else "" for c in classes
        ]
    if not probabilities:
        return [""]
    names = list(probabilities)
    # a swagger that names no classes: the predicted class's, as before
    return [show_probability(probabilities[names[-1] if len(names) == 2 else str(label)], commas)]

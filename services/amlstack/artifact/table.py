"""CSV text -> the encoded batch: the one reading of CSV cells, for `amlstack predict`, its Spark
engine and the scorer's ``text/csv`` /score.

A cell is missing when `formats.is_missing` says so (NaN: the model imputes it); a numeric cell
is read by `formats.parse_number` in the column's number format; a categorical cell is stripped
and looked up in the feature's codes (`encoding.category_codes`); a date cell is read by
`formats.parse_date`. Columns are read whole, with C-level passes where the text allows (a
column of plain JSON-style numbers is parsed by msgspec in one call), so a 100,000-row body costs
a fraction of the same rows as JSON records. Every error is a `TableError` naming the 1-based
data row (header excluded) and the column.
"""

from __future__ import annotations

import csv
import io
import math
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

import msgspec
import numpy as np

from amlstack.artifact.delimiters import (
    REPEATED,
    header_delimiter,
    header_names,
    near_names,
    repeated_column,
)
from amlstack.artifact.encoding import (
    Encoded,
    Feature,
    NotADate,
    ValueTooLarge,
    category_codes,
    clean_cell,
    dates,
    refuse_too_large,
)
from amlstack.artifact.formats import date_example, is_missing, parse_number
from amlstack.artifact.reader import PARALLEL_ROWS

NEWLINE = ord("\n")
# A numeric column whose cells are all shorter than this is read as a fixed-width block.
NUMBER_WIDTH = 32
HEADER_BYTES = 1 << 16  # where the header's names are looked for (a quoted name may wrap)
_float_list = msgspec.json.Decoder(list[float]).decode


class TableError(ValueError):
    """A CSV table the model cannot read. ``row``: 1-based data row (None: the whole table or
    its header); ``column``: the column's name, when one is to blame."""

    def __init__(self, message: str, *, row: int | None = None, column: str | None = None):
        super().__init__(message)
        self.message = message
        self.row = row
        self.column = column


class LayoutError(TableError):
    """The text is not a table (ragged rows, unreadable CSV): the sender's format, not a cell."""


def positions(features: Sequence[Feature], header: Sequence[str]) -> list[int]:
    """Where each feature sits in ``header`` (extra columns, e.g. the target, are ignored; a
    feature's name twice is refused: which one is meant?)."""
    index: dict[str, int] = {}
    for i, name in enumerate(header):
        index.setdefault(name, i)
    missing = [f.name for f in features if f.name not in index]
    if missing:
        hint = near_names(missing, list(header), [f.name for f in features])
        raise TableError(
            f"missing column(s) the model needs: {', '.join(missing)}{hint}", column=missing[0]
        )
    repeated = repeated_column(list(header), [f.name for f in features])
    if repeated is not None:
        raise TableError(REPEATED.format(repeated), column=repeated)
    return [index[f.name] for f in features]


def check_widths(rows: Sequence[Sequence[str]], width: int, first_row: int = 1) -> None:
    if all(len(row) == width for row in rows):
        return
    for i, row in enumerate(rows):
        if len(row) != width:
            raise LayoutError(
                f"data row {first_row + i} has {len(row)} fields, the header has {width}",
                row=first_row + i,
            )


def encode_text_rows(
    features: Sequence[Feature],
    header: Sequence[str],
    rows: Sequence[Sequence[str]],
    first_row: int = 1,
) -> Encoded:
    """Rows of CSV cells (``csv.reader``'s lists, header stripped) as the model's input."""
    where = positions(features, header)
    check_widths(rows, len(header), first_row)
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(header)
    by_name = {f.name: list(columns[pos]) for f, pos in zip(features, where, strict=True)}
    return encode_text_columns(features, by_name, first_row)


def read_text(
    text: str, features: Sequence[Feature], pool: Executor | None = None
) -> tuple[dict[str, Any], int, str]:
    """A whole CSV document (header line first): the features' columns (text, or a float array
    for a column of plain numbers), the number of data rows and the delimiter (detected from the
    header line). Blank lines are skipped, as ``csv.reader`` skips them. A text without quotes is
    cut into cells by numpy on its bytes, never a Python object per cell of a numeric column.
    ``pool``: a thread that reads half of each column's cells beside this one when the table has
    `PARALLEL_ROWS` rows or more (the scorer's `Model.pool`); the same result without it."""
    return read_utf8(text.encode(), features, pool)


def read_utf8(
    data: bytes, features: Sequence[Feature], pool: Executor | None = None
) -> tuple[dict[str, Any], int, str]:
    """`read_text` of the document's UTF-8 bytes (the caller has checked they are UTF-8, e.g. a
    request body): read where they lie, without a decoded copy of the whole document."""
    if b"\x00" in data:
        raise LayoutError("not CSV text: it holds a NUL character")
    if b"\r" in data:
        data = data.replace(b"\r\n", b"\n")
    delimiter = _delimiter(data)
    if b'"' in data or b"\r" in data:  # quoted fields or old Mac line ends: the csv module
        return _read_quoted(data.decode(), features, delimiter)
    data = data.lstrip(b"\n")
    cut = data.find(b"\n")
    if cut < 0:
        cut = len(data)
    if cut == 0:
        raise LayoutError("no header line")
    header = header_names(data[:cut].decode().split(delimiter))
    where = positions(features, header)
    width = len(header)
    rest = memoryview(data)[cut + 1 :]
    # Looking for a blank line costs as much as cutting the cells (a two-character search of
    # the whole text): a table of more than one column has none when every row has its width.
    if width > 1 or not _blank_lines(data, cut):
        try:
            return _read_plain(rest, features, delimiter, where, width, pool)
        except LayoutError:
            if not _blank_lines(data, cut):
                raise
    rest = bytes(rest)
    while b"\n\n" in rest:
        rest = rest.replace(b"\n\n", b"\n")
    return _read_plain(rest.lstrip(b"\n"), features, delimiter, where, width, pool)


def _blank_lines(data: bytes, cut: int) -> bool:
    """Whether the data lines (after the header line ending at ``cut``) hold a blank line."""
    return data.find(b"\n\n", cut) >= 0  # from the header's line end: a blank first line too


def _read_plain(
    rest: bytes | memoryview,
    features: Sequence[Feature],
    delimiter: str,
    where: list[int],
    width: int,
    pool: Executor | None = None,
) -> tuple[dict[str, Any], int, str]:
    """`read_text` of the data lines (UTF-8) of a text without quotes, cut by numpy."""
    longest = max((len(k.encode()) for f in features for k in f.codes if k is not None), default=0)
    # _cell_hash reads whole 8-byte words past a cell's start, _plain_numbers NUMBER_WIDTH bytes
    pad = max(8 * (-(-longest // 8) + 1), NUMBER_WIDTH)
    n = len(rest)
    buf = np.empty(n + 1 + pad, dtype=np.uint8)  # the lines, a last line end, zeros
    buf[:n] = np.frombuffer(rest, dtype=np.uint8)
    if n and buf[n - 1] != NEWLINE:
        buf[n] = NEWLINE
        n += 1
    buf[n:] = 0
    text = buf[:n]
    seps = np.flatnonzero((text == ord(delimiter)) | (text == NEWLINE))  # each ends a cell
    newlines = np.flatnonzero(buf[seps] == NEWLINE)
    rows = len(newlines)
    if len(seps) != rows * width or not np.array_equal(
        newlines, np.arange(width - 1, rows * width, width)
    ):
        fields = np.diff(newlines, prepend=-1)
        bad = int(np.flatnonzero(fields != width)[0])
        raise LayoutError(
            f"data row {bad + 1} has {fields[bad]} fields, the header has {width}", row=bad + 1
        )
    # Column by column (one contiguous row of starts and of ends per column): a column's
    # passes then read adjacent numbers, not one per row of the table.
    ends = seps.reshape(rows, width).T.copy()
    starts = np.empty_like(seps)
    starts[:1] = 0
    starts[1:] = seps[:-1] + 1
    starts = starts.reshape(rows, width).T.copy()
    cut = [(f, starts[pos], ends[pos]) for f, pos in zip(features, where, strict=True)]
    if pool is None or rows < PARALLEL_ROWS or len(cut) < 2:
        columns = {f.name: _cells(buf, s, e, f) for f, s, e in cut}
    else:
        columns = _cells_beside(buf, cut, pool)
        columns = {f.name: columns[f.name] for f in features}
    return columns, rows, delimiter


def _cells_beside(buf: np.ndarray, cut: list, pool: Executor) -> dict[str, Any]:
    """`_cells` of every column, each cut into two halves of rows, read by this thread and one
    of ``pool``'s at once (numpy lets go of the GIL; msgspec holds it): this one takes the
    halves from the front (the numbers first), the other from the back (the codes), until none
    is left. A column's halves are joined when they are read alike, else the column is read
    whole: the same cells, the same results as one thread. The other thread is not waited for
    when it never started (the pool busy elsewhere): this one has read every half by then."""
    half = len(cut[0][1]) // 2
    tasks = deque()
    for feature, starts, ends in sorted(cut, key=lambda c: _by_codes(c[0])):
        tasks.append((feature, starts[:half], ends[:half], 0))
        tasks.append((feature, starts[half:], ends[half:], 1))
    halves: dict[tuple[str, int], Any] = {}

    def work(take: Callable[[], tuple]) -> None:
        while True:
            try:
                feature, starts, ends, which = take()
            except IndexError:
                return
            halves[feature.name, which] = _cells(buf, starts, ends, feature)

    beside = pool.submit(work, tasks.pop)
    try:
        work(tasks.popleft)
    finally:
        tasks.clear()
        if not beside.cancel():
            beside.result()
    columns = {}
    for feature, starts, ends in cut:
        first, second = halves[feature.name, 0], halves[feature.name, 1]
        if isinstance(first, Codes) and isinstance(second, Codes):
            values = np.concatenate([first.values, second.values])
            columns[feature.name] = Codes(values, first.unseen + second.unseen)
        elif isinstance(first, np.ndarray) and isinstance(second, np.ndarray):
            columns[feature.name] = np.concatenate([first, second])
        elif isinstance(first, list) and isinstance(second, list):
            columns[feature.name] = first + second
        else:  # numbers in one half, a missing marker in the other: the whole column as text
            columns[feature.name] = _cells(buf, starts, ends, feature)
    return columns


def _by_codes(feature: Feature) -> bool:
    """Whether `_cells` reads the feature's cells as codes (`_category_cells`)."""
    return feature.kind == "categorical" and _plain_categories(feature)


def _cells(buf: np.ndarray, starts: np.ndarray, ends: np.ndarray, feature: Feature) -> Any:
    """One column's cells, gathered from the body's bytes: codes (`_category_cells`), a float
    array when they are plain numbers narrower than `NUMBER_WIDTH` (`_plain_numbers`), else
    their text (`encode_text_columns` parses numbers in it)."""
    if len(starts) == 0:
        return []
    if _by_codes(feature):
        return _category_cells(buf, starts, ends, feature)
    if feature.kind == "numeric" and feature.number_format is None:
        numbers = _plain_numbers(buf, starts, ends)
        if numbers is not None:
            return numbers
    lengths = ends - starts + 1  # each cell with the separator after it
    offsets = np.cumsum(lengths) - lengths
    # Each byte's place in buf: one past the last, or the next cell's start after a separator.
    step = np.ones(int(offsets[-1] + lengths[-1]), dtype=np.intp)
    step[0] = starts[0]
    step[offsets[1:]] = starts[1:] - ends[:-1]
    piece = buf[np.cumsum(step, out=step)]
    piece[offsets + lengths - 1] = NEWLINE
    return piece[:-1].tobytes().decode().split("\n")


def _plain_numbers(buf: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray | None:
    """A column of plain (JSON-style) numbers parsed by msgspec in one call, else None. Each
    cell is copied into a fixed-width row (one gather of rows, not of bytes) and blanked past its
    end: JSON allows the blanks, so ``[12   ,3.5  ]`` reads as the cells alone would. ``buf``
    must hold `NUMBER_WIDTH` bytes past the last cell's start."""
    lengths = ends - starts
    width = int(lengths.max()) + 1  # the cell and a comma after it
    if width > NUMBER_WIDTH:
        return None
    rows = np.lib.stride_tricks.as_strided(buf, (len(buf) - width + 1, width), (1, 1))
    block = rows[starts]
    block[np.arange(width) >= lengths[:, None]] = ord(" ")
    block[:, -1] = ord(",")
    raw = block.tobytes()
    if raw.count(b",") != len(starts):  # a cell holds a comma itself (another delimiter)
        return None
    try:
        numbers = _float_list(b"[" + raw[:-1] + b"]")
    except msgspec.DecodeError:
        return None  # a missing marker or another number format: read cell by cell
    # one empty cell alone reads as [ ], no number at all: read cell by cell
    return np.array(numbers, dtype=np.float64) if len(numbers) == len(starts) else None


def _read_quoted(text: str, features: Sequence[Feature], delimiter: str):
    try:
        rows = [row for row in csv.reader(io.StringIO(text), delimiter=delimiter) if row]
    except csv.Error as exc:
        raise LayoutError(f"not readable as CSV: {exc}") from None
    if not rows:
        raise LayoutError("no header line")
    header = header_names(rows[0])
    where = positions(features, header)
    data = rows[1:]
    check_widths(data, len(header))
    columns = list(zip(*data, strict=True)) if data else [()] * len(header)
    by_name = {f.name: list(columns[pos]) for f, pos in zip(features, where, strict=True)}
    return by_name, len(data), delimiter


def line_of(data: bytes, row: int) -> int:
    """The 1-based line of the UTF-8 document ``data`` on which data row ``row`` (1-based)
    starts (errors only)."""
    delimiter = _delimiter(data)
    reader = csv.reader(io.StringIO(data.decode()), delimiter=delimiter)
    seen, start = -1, 1  # the header is data row 0
    try:
        for fields in reader:
            if fields:
                seen += 1
                if seen == row:
                    return start
            start = reader.line_num + 1
    except csv.Error:
        pass
    return row + 1


def encode_text_columns(
    features: Sequence[Feature],
    columns: Mapping[str, Sequence[str] | np.ndarray],
    first_row: int = 1,
) -> Encoded:
    """Text columns (numbers may also come as a float array) as the model's input, with the
    unseen and missing counts; a number float32 cannot hold is an error naming row and column."""
    n = len(columns[features[0].name]) if features else 0
    wide = np.empty((n, len(features)), dtype=np.float64)
    unseen: dict[str, int] = {}
    for i, feat in enumerate(features):
        col = columns[feat.name]
        if isinstance(col, Codes):
            wide[:, i] = col.values
            if col.unseen:
                unseen[feat.name] = col.unseen
        elif isinstance(col, np.ndarray) and col.dtype.kind in "fiub":
            wide[:, i] = col
        elif feat.kind == "numeric":
            wide[:, i] = parse_numbers(list(col), feat, first_row)
        elif feat.kind == "date":
            wide[:, i] = _dates(list(col), feat, first_row)
        else:
            cells = list(col) if _plain_categories(feat) else [clean_cell(v) for v in col]
            wide[:, i], count = category_codes(feat, cells)
            if count:
                unseen[feat.name] = count
    try:
        refuse_too_large(wide, [f.name for f in features])
    except ValueTooLarge as exc:
        r, name = exc.row, exc.feature
        raise TableError(
            f"data row {first_row + r}, column {name!r}: {columns[name][r]!r} is too large "
            "for a float32 number",
            row=first_row + r,
            column=name,
        ) from None
    missing = np.isnan(wide).sum(axis=0)
    counts = {features[j].name: int(missing[j]) for j in np.flatnonzero(missing)}
    return Encoded(wide.astype(np.float32, order="C"), unseen, counts)


def read_number(text: str | None, feature: Feature) -> float:
    """One numeric cell as training read its column: NaN for a missing-value marker or a word
    training read as missing there (`missing_words`), else `formats.parse_number` in the
    column's number format; ValueError when it is not a number."""
    if is_missing(text):
        return math.nan
    try:
        return parse_number(text, feature.number_format, feature.unit)
    except ValueError:
        if text.strip().casefold() in feature.missing_words:
            return math.nan
        raise


def parse_numbers(cells: list[str | None], feature: Feature, first_row: int = 1) -> np.ndarray:
    """A numeric column's cells as float64 (missing: NaN); a cell that is not a number is a
    `TableError` naming the data row and column."""
    fmt = feature.number_format
    if fmt is None and cells:
        try:  # plain numbers (the common case): one C-level parse of the whole column
            joined = ",".join(cells)
            if joined.count(",") == len(cells) - 1:  # no cell holds a comma itself
                numbers = _float_list("[" + joined + "]")
                if len(numbers) == len(cells):  # one empty cell alone reads as []
                    return np.array(numbers, dtype=np.float64)
        except (msgspec.DecodeError, TypeError):
            pass
    table: dict[str | None, float] = {}
    for i, text in enumerate(cells):
        if text in table:
            continue
        try:
            table[text] = read_number(text, feature)
        except ValueError:
            unit = f" in {feature.unit}" if feature.unit else ""  # 61 kg in a column of lb
            raise TableError(
                f"data row {first_row + i}, column {feature.name!r}: {text!r} is not a "
                f"number{unit}",
                row=first_row + i,
                column=feature.name,
            ) from None
    return np.fromiter(map(table.__getitem__, cells), np.float64, len(cells))


@dataclass(frozen=True)
class Codes:
    """A categorical column already encoded: its codes and how many cells were unseen."""

    values: np.ndarray
    unseen: int

    def __len__(self) -> int:
        return len(self.values)


def _category_cells(buf: np.ndarray, starts: np.ndarray, ends: np.ndarray, feat: Feature) -> Codes:
    """A categorical column's codes straight from the bytes: each cell's first bytes read as
    8-byte words (blanked past its end) and hashed with its length, the hashes binary-searched
    among the categories'; a match counts only when its words and length equal the category's,
    so the look-up is exact. Only the cells that are not a category as they stand (blanks,
    missing markers, unseen values) are looked at one by one."""
    names = [k for k in feat.codes if k is not None]
    n = len(starts)
    codes = np.empty(n, dtype=np.float64)
    hit = np.zeros(n, dtype=bool)
    if names:
        raw = [k.encode() for k in names]
        words = -(-max(map(len, raw)) // 8)
        key_buf = np.frombuffer(b"".join(raw) + b"\0" * 8 * words, dtype=np.uint8)
        key_ends = np.cumsum([len(k) for k in raw])
        key_hash, key_parts = _cell_hash(key_buf, key_ends - [len(k) for k in raw], key_ends, words)
        values = np.array([feat.codes[k] for k in names])
        cell_hash, cell_parts = _cell_hash(buf, starts, ends, words)  # read_text pads the body
        pick = _key_of(key_hash, cell_hash)
        found = np.ones(n, dtype=bool)
        for key_part, cell_part in zip(key_parts, cell_parts, strict=True):
            found &= key_part[pick] == cell_part
        hit = found
        codes[found] = values[pick[found]]
    unseen = 0
    seen: dict[str, float] = {}
    for i in np.flatnonzero(~hit).tolist():
        text = bytes(buf[starts[i] : ends[i]]).decode()
        code = seen.get(text)
        if code is None:  # a missing cell's code is NaN, never None
            code = feat.code(text)
            code = seen[text] = feat.unseen if code is None else code
        unseen += code == feat.unseen
        codes[i] = code
    return Codes(codes, int(unseen))


_LOW_BYTES = np.array([(1 << (8 * k)) - 1 for k in range(9)], dtype=np.uint64)
_MIX = np.uint64(0x9E3779B97F4A7C15)


def _key_of(key_hash: np.ndarray, cell_hash: np.ndarray) -> np.ndarray:
    """For each cell hash, the index of the one key it may be (to be checked by the caller): a
    slot table on some bits of the hash where the keys do not collide (one gather), else a
    binary search among the sorted key hashes."""
    size = 1 << max(2, int(len(key_hash) * 4 - 1).bit_length())
    for shift in range(0, 64 - size.bit_length() + 1, 7):
        slots = (key_hash >> np.uint64(shift)) & np.uint64(size - 1)
        if len(np.unique(slots)) == len(slots):
            table = np.zeros(size, dtype=np.intp)  # an empty slot points at key 0: checked
            table[slots.astype(np.intp)] = np.arange(len(slots))
            return table[((cell_hash >> np.uint64(shift)) & np.uint64(size - 1)).astype(np.intp)]
    order = np.argsort(key_hash, kind="stable")
    where = np.minimum(np.searchsorted(key_hash[order], cell_hash), len(key_hash) - 1)
    return order[where]


def _cell_hash(
    buf: np.ndarray, starts: np.ndarray, ends: np.ndarray, words: int
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Each cell's hash and the parts it is made of: its length, then its first ``words`` 8-byte
    little-endian words, zero past the cell's end (``buf`` must hold 8 * words bytes past the
    last start)."""
    at = np.ndarray((len(buf) - 7,), dtype="<u8", buffer=buf, strides=(1,))
    lengths = (ends - starts).astype(np.uint64)
    parts = [lengths]
    digest = lengths.copy()
    for w in range(words):
        kept = _LOW_BYTES[np.clip(ends - starts - 8 * w, 0, 8)]
        word = at[starts + 8 * w] & kept
        parts.append(word)
        digest *= _MIX
        digest ^= word
    return digest, parts


def _delimiter(data: bytes) -> str:
    """The delimiter of a UTF-8 document (`header_delimiter`; a comma for one column)."""
    return header_delimiter(data[:HEADER_BYTES].decode("utf-8", "ignore")) or ","


def _plain_categories(feat: Feature) -> bool:
    """Whether a cell equal to a category may be looked up as it stands (no category is a
    missing marker or has blanks around it), so only the other cells need ``clean_cell``."""
    return all(k is None or (k == k.strip() and not is_missing(k)) for k in feat.codes)


def _dates(cells: list[str], feature: Feature, first_row: int) -> np.ndarray:
    """A date column's cells as days (missing: NaN); a cell that is no date is a `TableError`
    naming the data row and column, as a number column's is."""
    try:
        return np.array(dates(cells, feature.date_format, feature.name), dtype=np.float64)
    except NotADate as exc:
        raise TableError(
            f"data row {first_row + exc.row}, column {feature.name!r}: {cells[exc.row]!r} is "
            f"not a date (written like {date_example(feature.date_format)!r} in training; "
            "ISO 8601 is read too)",
            row=first_row + exc.row,
            column=feature.name,
        ) from None

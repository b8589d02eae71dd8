"""The one input encoder: records -> the float32 matrix the ONNX graph takes.

Features are encoded in model.json ``features`` order: a numeric feature is its float value; a
date feature its days since 1970-01-01 (``formats.parse_date``); a categorical feature is the index
of its value in the feature's ``categories`` (frequency-encoded: its share of the training rows),
and ``UNSEEN_CODE`` (frequency: 0) for a value never seen in training. A missing value (None) is
NaN in any feature: the graph's first nodes impute it. The scorer's JSON /score and V2 routes and
``Model.encode_records`` (the promotion gate, tests) go through `Encoder` (rows of values, the
request path); training and the pipeline's evaluation go through ``encode_columns`` (whole
columns); CSV text (``amlstack predict``, Spark, text/csv on /score) goes through
`table.encode_text_columns`. All apply the same codes and the same float32 limit
(``refuse_too_large``), and a test holds Encoder and encode_columns to identical matrices, so what
is tested is what is served.

Context features (model.json ``context``, optional) are appended by ``Model.predict_proba``:
for each group of columns (e.g. the columns that together identify a calling day), the training
rows' smoothed target rate and row count for the row's combination of encoded values, looked up
by a 64-bit hash of the float32 encodings; an unknown combination gets the prior and count 0.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from amlstack.artifact.formats import FALSE_WORDS, TRUE_WORDS, is_missing, parse_date
from amlstack.artifact.names import UNSEEN_CODE
from amlstack.artifact.schema import FeatureSpec

ROW_WISE_MAX = 16  # below this, building rows is cheaper than columns
FLOAT32_MAX = float(np.finfo(np.float32).max)


@dataclass(frozen=True)
class Feature:
    """One input column of the model, with its category codes ready for look-ups."""

    name: str
    kind: str  # "numeric", "categorical" or "date"
    dtype: str = "float"  # numeric: "int" or "float"; categorical: "string"; date: "date"
    categories: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    nullable: bool = False  # had missing values in training
    example: Any = None
    # value -> code, and None (missing) -> NaN
    codes: Mapping[str | None, float] = field(default_factory=dict, repr=False, compare=False)
    unseen: float = UNSEEN_CODE
    number_format: str | None = None  # schema.FeatureSpec.number_format
    unit: str | None = None  # schema.FeatureSpec.unit
    date_format: str = "ISO8601"
    missing_words: frozenset[str] = frozenset()  # schema.FeatureSpec.missing_words

    @classmethod
    def from_spec(cls, spec: FeatureSpec) -> Feature:
        categories = tuple(str(c) for c in spec.categories or ())
        codes: dict[str | None, float]
        if spec.encoding == "frequency":
            codes = dict(zip(categories, map(float, spec.frequencies or ()), strict=True))
            unseen = 0.0
        else:
            codes, unseen = {c: float(i) for i, c in enumerate(categories)}, UNSEEN_CODE
        codes[None] = float("nan")
        return cls(
            name=spec.name,
            kind=spec.kind,
            dtype=spec.dtype or ("float" if spec.kind == "numeric" else "string"),
            categories=categories,
            minimum=spec.minimum,
            maximum=spec.maximum,
            nullable=spec.nullable,
            example=spec.example,
            codes=codes,
            unseen=unseen,
            number_format=spec.number_format,
            unit=spec.unit,
            date_format=spec.date_format or "ISO8601",
            missing_words=frozenset(spec.missing_words or ()),
        )

    @cached_property
    def aliases(self) -> dict[str, float]:
        """Other spellings of the categories, `loose` -> code (`category_aliases`), built when
        a value first is no category as sent: a model whose column has 200,000 categories
        loads ten times slower with them built up front, in every scorer worker."""
        return category_aliases(self.categories, self.codes)

    @cached_property
    def yes_no(self) -> tuple[str, str] | None:
        """The (yes, no) categories when the column is boolean-like (`yes_no`), else None."""
        return yes_no(self.categories) if self.kind == "categorical" else None

    def code(self, value: Any) -> float | None:
        """The code of a categorical value that is no category as sent: the value cleaned as
        a CSV cell is (`clean_cell`), else another spelling of a category (`aliases`); None
        when it is neither (an unseen category). A boolean (JSON true/false, a V2 BOOL
        tensor) is the column's yes or no category when the column is boolean-like."""
        if isinstance(value, bool | np.bool_):
            answers = self.yes_no
            return None if answers is None else self.codes[answers[0 if value else 1]]
        value = clean_cell(value)
        code = self.codes.get(value)
        if code is None and isinstance(value, str):
            code = self.aliases.get(loose(value))
        return code


def loose(text: str) -> str:
    """A category as another spelling is matched: case aside, and in one Unicode form (NFKC:
    `é` typed as e and a combining accent, as macOS exports write it, is `é`)."""
    return unicodedata.normalize("NFKC", text).casefold()


def category_aliases(categories: Sequence[str], codes: Mapping[Any, float]) -> dict[str, float]:
    """Spellings a client may send for a category (`loose`), with the category's code: the
    category in any case or Unicode form (`YES` for `yes`), unless two categories are one word
    so (training keeps `Paris` and `paris` apart, so neither is guessed); and in a boolean-like
    column (one yes word and one no word, `formats.TRUE_WORDS`) any yes/no word for its side
    (`TRUE`, `Y` for `yes`). A number (`1`) is never read as yes: it may be any code."""
    folded: dict[str, list[str]] = {}
    for category in categories:
        folded.setdefault(loose(category), []).append(category)
    aliases = {key: codes[spelt[0]] for key, spelt in folded.items() if len(spelt) == 1}
    answers = yes_no(categories)
    if answers is not None:
        aliases.update(dict.fromkeys(TRUE_WORDS, codes[answers[0]]))
        aliases.update(dict.fromkeys(FALSE_WORDS, codes[answers[1]]))
    return aliases


def yes_no(categories: Sequence[str]) -> tuple[str, str] | None:
    """A boolean-like column's (yes, no) categories: two categories, one a yes word and the
    other a no word (`formats.TRUE_WORDS`, compared `loose`); None for any other column."""
    if len(categories) != 2:
        return None
    first, second = (loose(c) for c in categories)
    for yes, no, answer in ((first, second, categories), (second, first, categories[::-1])):
        if yes in TRUE_WORDS and no in FALSE_WORDS:
            return answer[0], answer[1]
    return None


class CellError(ValueError):
    """A value the model cannot read: ``row`` (0-based in the batch) and ``feature`` say where,
    ``reason`` what (for a client: "value is too large for a float32 number")."""

    reason = "value cannot be read"

    def __init__(self, row: int, feature: str) -> None:
        super().__init__(f"row {row}, feature {feature}: {self.reason}")
        self.row = row
        self.feature = feature


class ValueTooLarge(CellError):
    """A finite number float32 cannot hold (JSON has no NaN or infinity, but 1e39 is JSON)."""

    reason = "value is too large for a float32 number"


class NotADate(CellError):
    """A date feature's value that is neither missing nor a date (`formats.parse_date`)."""

    reason = "value is not a date (send ISO 8601: 2024-01-31)"


def refuse_too_large(wide: np.ndarray, names: Sequence[str]) -> None:
    """Raise `ValueTooLarge` for the first cell of ``wide`` (float64, a column per name) that
    float32 cannot hold: the cast would make it infinity and the model would score that."""
    # Not max(): one missing value (NaN) would make it NaN and hide every overflow.
    too_large = np.abs(wide) > FLOAT32_MAX
    if too_large.any():
        r, c = np.argwhere(too_large)[0]
        raise ValueTooLarge(int(r), names[c])


class TrainingRange:
    """Per numeric feature, the range training saw (model.json ``min``/``max``), to count the
    values of an encoded batch (float32, a column per feature) outside it, as unseen categories
    are, so that `amlstack predict` and the scorer's /metrics can say so; and to score them as
    the nearest value training saw (`clipped`). Built once per model: the bounds cost more to
    gather than to compare on a one-row request."""

    def __init__(self, features: Sequence[Feature]) -> None:
        numeric = [f.kind == "numeric" and f.minimum is not None for f in features]
        self._names = [f.name for f in features]
        # float32 bounds: a value equal to the maximum (0.1) is not above it once both are
        # float32
        # one row, not a vector: numpy broadcasts a (1, n) bound over a batch in half the time
        self._lows = np.float32(
            [[f.minimum if n else -math.inf for f, n in zip(features, numeric, strict=True)]]
        )
        self._highs = np.float32(
            [[f.maximum if n else math.inf for f, n in zip(features, numeric, strict=True)]]
        )

    def clipped(self, matrix: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """``matrix`` with each value outside the range moved to its nearest bound (NaN stays
        NaN: the graph imputes it). A tree scores such a value as its bound anyway, since every
        split lies inside the range; a linear or neural member would extrapolate, and two
        values near float32's limits (-3.4e38 and 3.4e38) summed to inf - inf: a NaN
        probability. ``out``: where to write (``matrix``'s shape), else a new array. (Two ufuncs
        cost 0.6 µs on one row: less than testing first, or np.clip.)"""
        held = np.maximum(matrix, self._lows, out=out)
        return np.minimum(held, self._highs, out=held)

    def outside(self, matrix: np.ndarray) -> dict[str, int]:
        """Per feature with any, how many of ``matrix``'s values lie outside the range."""
        outside = (matrix < self._lows) | (matrix > self._highs)
        if not outside.any():  # the usual case, at a third of the cost of counting
            return {}
        counts = outside.sum(axis=0)
        return {self._names[j]: int(counts[j]) for j in np.flatnonzero(counts)}


@dataclass(frozen=True)
class Encoded:
    """An encoded batch; per feature its unseen categories and its missing values (null or
    absent: NaN, which the model imputes)."""

    matrix: np.ndarray
    unseen: dict[str, int]
    missing: dict[str, int] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return self.matrix.shape[0]


class Encoder:
    """Encodes rows whose values are in feature order (the scorer's request path)."""

    def __init__(self, features: Sequence[Feature]) -> None:
        self.features = list(features)
        self.names = [f.name for f in self.features]
        self._categorical = [
            (i, f, f.codes, f.unseen)
            for i, f in enumerate(self.features)
            if f.kind == "categorical"
        ]
        self._dates = [(i, f.date_format) for i, f in enumerate(self.features) if f.kind == "date"]

    def rows(self, rows: Sequence[Sequence[Any]]) -> Encoded:
        """Encode ``rows``; raises `ValueTooLarge` for a number float32 cannot hold."""
        unseen: dict[str, int] = {}
        if len(rows) <= ROW_WISE_MAX:
            wide = np.array(self._rows(rows, unseen), dtype=np.float64)
        else:
            wide = np.array(self._columns(rows, unseen), dtype=np.float64).T
        wide = wide.reshape(len(rows), len(self.features))
        refuse_too_large(wide, self.names)
        missing = np.isnan(wide).sum(axis=0)
        counts = {self.names[j]: int(missing[j]) for j in np.flatnonzero(missing)}
        return Encoded(wide.astype(np.float32, order="C"), unseen, counts)

    def records(self, records: Iterable[Mapping[str, Any]]) -> Encoded:
        """Encode dict records keyed by feature name (extra keys are ignored)."""
        names = self.names
        return self.rows([[rec.get(n) for n in names] for rec in records])

    def _rows(self, rows: Sequence[Sequence[Any]], unseen: dict[str, int]) -> list[list[Any]]:
        out = []
        for values in rows:
            row = list(values)
            for i, feature, codes, unseen_code in self._categorical:
                code = codes.get(row[i])
                if code is None:
                    code = feature.code(row[i])
                    if code is None:
                        code = unseen_code
                        unseen[feature.name] = unseen.get(feature.name, 0) + 1
                row[i] = code
            for i, fmt in self._dates:
                row[i] = _date(row[i], fmt, len(out), self.names[i])
            out.append(row)
        return out

    def _columns(self, rows: Sequence[Sequence[Any]], unseen: dict[str, int]) -> list[Any]:
        # Large batches: one list comprehension per categorical column beats a per-cell loop.
        columns: list[Any] = list(zip(*rows, strict=True))
        for i, feature, _, _ in self._categorical:
            columns[i], count = category_codes(feature, list(columns[i]))
            if count:
                unseen[feature.name] = count
        for i, fmt in self._dates:
            columns[i] = dates(columns[i], fmt, self.names[i])
        return columns


def clean_cell(value: Any) -> Any:
    """A categorical value as it is looked up when it is no category as sent, as a CSV cell is
    read: text stripped of blanks, a missing-value marker (``"NA"``, ``"none"``) None."""
    if not isinstance(value, str):
        return value
    return None if is_missing(value) else value.strip()


def _date(value: Any, date_format: str, row: int, name: str) -> float:
    if isinstance(value, float) and math.isnan(value):
        return math.nan  # a frame's missing value
    try:
        return parse_date(value, date_format)
    except (ValueError, AttributeError):  # AttributeError: not text (a number sent for a date)
        raise NotADate(row, name) from None


def dates(values: Sequence[Any], date_format: str, name: str) -> list[float]:
    """A date column's days since 1970-01-01 (missing: NaN); `NotADate` for the first value
    that is neither missing nor a date. Each distinct value is read once."""
    table: dict[Any, float] = {}
    out = []
    for row, value in enumerate(values):
        days = table.get(value)
        if days is None:
            days = table[value] = _date(value, date_format, row, name)
        out.append(days)
    return out


_FNV_OFFSET = np.uint64(0xCBF29CE484222325)
_FNV_PRIME = np.uint64(0x100000001B3)


def context_keys(matrix: np.ndarray, columns: Sequence[int]) -> np.ndarray:
    """A uint64 key per row for the combination of its encoded values in ``columns``."""
    part = np.ascontiguousarray(matrix[:, list(columns)], dtype=np.float32) + np.float32(0.0)
    bits = part.view(np.uint32).astype(np.uint64)  # + 0.0 above folds -0.0 into 0.0
    keys = np.full(len(part), _FNV_OFFSET, dtype=np.uint64)
    for j in range(bits.shape[1]):
        keys ^= bits[:, j]
        keys *= _FNV_PRIME  # wraps modulo 2**64, as FNV-1a intends
    return keys


SMALL_BATCH = 16  # up to this many rows, a dict look-up per row beats numpy's per-call overhead


@dataclass(frozen=True)
class Context:
    """One context group: (rate, count) by the combination of the group's encoded values."""

    columns: tuple[int, ...]
    keys: np.ndarray  # sorted uint64 hashes of the combinations (vectorised path)
    values: np.ndarray  # float32 [n_keys, 2]: smoothed rate, training rows; in `keys` order
    default: np.ndarray  # float32 [2]: prior rate, 0
    # small batches: combination (as Python floats) -> (rate, count)
    exact: dict[tuple[float, ...], tuple[float, float]]

    @classmethod
    def from_json(cls, spec: Mapping[str, Any], index: Mapping[str, int]) -> Context:
        combos = np.array(spec["keys"], dtype=np.float32).reshape(len(spec["keys"]), -1)
        values = np.column_stack([spec["rate"], spec["count"]]).astype(np.float32)
        columns = tuple(index[name] for name in spec["columns"])
        if len(values) != len(combos) or combos.shape[1] != len(columns):
            raise ValueError("keys, rates and counts differ in shape")
        hashes = context_keys(combos, range(len(columns)))
        order = np.argsort(hashes)
        values = values[order]
        pairs = zip(map(tuple, combos[order].tolist()), map(tuple, values.tolist()), strict=True)
        return cls(
            columns=columns,
            keys=hashes[order],
            values=values,
            default=np.array([spec["prior"], 0.0], dtype=np.float32),
            exact=dict(pairs),
        )

    @property
    def default_pair(self) -> tuple[float, float]:
        return (float(self.default[0]), 0.0)

    def lookup(self, matrix: np.ndarray) -> np.ndarray:
        keys = context_keys(matrix, self.columns)
        if len(self.keys) == 0:
            return np.tile(self.default, (len(keys), 1))
        pos = np.minimum(np.searchsorted(self.keys, keys), len(self.keys) - 1)
        hit = self.keys[pos] == keys
        return np.where(hit[:, None], self.values[pos], self.default)


def with_context(matrix: np.ndarray, contexts: Sequence[Context]) -> np.ndarray:
    """The model's full input: the encoded features, then two columns per context group."""
    if len(matrix) > SMALL_BATCH:
        return np.hstack([matrix, *(c.lookup(matrix) for c in contexts)], dtype=np.float32)
    rows = matrix.tolist()  # float32 -> Python float is exact, so the dict keys match
    for row in rows:
        extra = []
        for c in contexts:
            extra.extend(c.exact.get(tuple([row[i] for i in c.columns]), c.default_pair))
        row.extend(extra)
    return np.array(rows, dtype=np.float32).reshape(len(rows), -1)


def encode_columns(
    features: Sequence[Feature], columns: Mapping[str, Sequence[Any] | np.ndarray]
) -> np.ndarray:
    """Encode whole columns at once (training and batch scoring); the same matrix as `Encoder`.

    Raises `ValueTooLarge` for a number float32 cannot hold (the first such column's first row)."""
    n = len(columns[features[0].name])
    out = np.empty((n, len(features)), dtype=np.float32)
    for i, feat in enumerate(features):
        col = columns[feat.name]
        if feat.kind == "categorical":
            out[:, i] = _codes_for(np.asarray(col, dtype=object), feat)
        elif feat.kind == "date":
            out[:, i] = dates(col, feat.date_format, feat.name)
        else:
            values = np.asarray(col, dtype=np.float64)
            refuse_too_large(values[:, None], [feat.name])
            out[:, i] = values
    return out


def _codes_for(values: np.ndarray, feat: Feature) -> np.ndarray:
    return category_codes(feat, values.tolist())[0]


def category_codes(feat: Feature, values: list[Any]) -> tuple[np.ndarray, int]:
    """A categorical column's codes (float64) and how many of its values were unseen.

    `Feature.code` (cleaned as a CSV cell, another spelling) is asked only for a value that is
    not a category as it stands, so a column of plain categories costs one C-level dict
    look-up per cell: a dict look-up beats numpy's string sorting and searching (measured).
    """
    get, unseen_code = feat.codes.get, feat.unseen
    # numpy turns a None (not a category) into NaN, so only NaN cells need a second look
    found = np.array(list(map(get, values)), dtype=np.float64)
    unseen = 0
    for i in np.flatnonzero(np.isnan(found)).tolist():
        if get(values[i]) is not None:
            continue  # a missing value: NaN is its code
        code = feat.code(values[i])
        if code is None:
            code, unseen = unseen_code, unseen + 1
        found[i] = code
    return found, unseen

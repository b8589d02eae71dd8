"""What each CSV column is: the decisions a user's real columns need, each made once and recorded.

A column of text cells becomes one of: numeric (plain, with thousands separators, with a
percent sign or with a decimal comma), date (days since 1970-01-01), boolean-like (two values
such as yes/no, coded false-like first), categorical (an index into its categories),
high-cardinality categorical (frequency-encoded) or an identifier or free text (every value,
or nearly every one, distinct: dropped). Missing-value markers are blanked before any of this.
Every choice that is not plain numeric or plain categorical is a ``Decision``: printed once by
training and written to model.json.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from amlstack.artifact.encoding import loose, yes_no
from amlstack.artifact.formats import (
    BLANK_GROUPS,
    DECIMAL_COMMA,
    FALSE_WORDS,
    GROUP_MARKS,
    MAGNITUDES,
    MINUS_TO_READ,
    MISSING_MARKERS,
    SIGN,
    THOUSANDS,
    TIME,
    TRUE_WORDS,
    UNICODE_MINUS,
    WITH_UNIT,
    date_format_of,
    parse_date,
    parse_number,
    regrouped,
    signed,
)
from amlstack.artifact.schema import ColumnDecision
from amlstack.errors import DataError

if TYPE_CHECKING:
    import pandas as pd

LABEL_MARKERS = MISSING_MARKERS - {"none"}  # what leaves a row unlabelled
MIXED_NUMERIC_SHARE = 0.9  # this share parses as numbers but not all: words or typos
MAX_MISSING_WORDS = 3  # up to this many words (no digits) among numbers: read as missing
MAX_CATEGORIES = 1000  # more distinct values than this: frequency-encoded
MIN_ROWS_FOR_IDENTIFIER = 20  # below this, all-distinct values say nothing
# This share of a text column's present values distinct: free text or an id with a few repeats
# (a duplicated row, a "see notes" cell). As categories nearly every new row is unseen, and the
# model would carry every text (a 5 MB file of comments made a 5 MB model.json).
NEAR_UNIQUE_SHARE = 0.95
MIN_ROWS_FOR_SPARSE_ID = 100  # distinct integers with gaps: an id from this many rows
MIN_ID_DENSITY = 0.5  # ... when they fill at least this share of [min, max]
LONG_ID_DIGITS = 16  # integers this long are codes (float64 is exact only to 2**53, 16 digits)
ORDINAL_SUFFIXES = frozenset({"st", "nd", "rd", "th"})
# a number, separators allowed (1,000 kg, 2,7 km/h), then a unit: what a notice names
_LOOSE_UNIT = r"^(?P<number>[+-]?\d[\d.,]*)\s*(?P<unit>(?:[^\W\d_]|°)[^\s\d]*)?$"
# a leading group is never 0: 0,125 is a decimal comma, not 125
_THOUSANDS = re.compile(f"^{THOUSANDS.pattern}$")
_PERCENT = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)\s*%$")
# A comma before one or two digits, or four and more: a decimal comma, never a thousands one
_DECIMAL_COMMA_MARK = r",(?:\d{1,2}|\d{4,})(?!\d)"
_DOT_THOUSANDS = r"[+-]?[1-9]\d{0,2}(\.\d{3})+"  # 1.108, 12.345.678: in a decimal-comma file
# how the first cell of a column in one of `formats.DATE_FORMATS` begins (2021-01, 2021/1/5,
# 1/15/21, 15-Jan, Jan 15): only such a column is tried in every format
_MONTH = r"(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)"
_DATE_LIKE = re.compile(
    r"^(\d{4}-\d{2}(-\d{2}|$)|\d{4}/\d{1,2}/\d{1,2}|\d{1,2}[/.-]\d{1,2}[/.-]\d{2}"
    rf"|\d{{1,2}}[- ]{_MONTH}|{_MONTH}[a-z]*[ -]\d)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Decision:
    """One column's non-obvious handling, as printed and as recorded in model.json."""

    column: str
    action: str  # dropped | numeric_parsed | date | boolean | frequency_encoded | missing_values
    # | unlabelled_rows (the target column: rows without a label, left out) | labels_merged
    # | text_encoding (the whole file, column "": not UTF-8) | unnamed (an empty header cell)
    # | renamed (a header name with characters no JSON record can name)
    # | mixed_types (mostly numbers, and text: categorical)
    # | labels_as_numbers (the target: numeric labels written otherwise, 1.0 for 1)
    # | kept (--keep: a column the identifier rules would have dropped)
    # | repeated_rows (the whole file, column "": rows that repeat an earlier row exactly)
    # | predicts_target (a feature that alone separates the classes: a leak? notice only)
    # | several_spellings (categories that are one value written several ways: notice only)
    # | labels_several_spellings (the target: Y and Yes left two classes: notice only)
    detail: str
    # what many columns decided alike are counted under in one printed line (`notice_lines`:
    # "N columns <group> (...)"); "" for a decision printed on its own. Not recorded:
    # model.json lists every column.
    group: str = field(default="", compare=False)

    def line(self) -> str:
        detail = f"dropped: {self.detail}" if self.action == "dropped" else self.detail
        return f"column {self.column!r}: {detail}" if self.column else detail

    def record(self) -> ColumnDecision:
        return ColumnDecision(column=self.column, action=self.action, detail=self.detail)


GROUPED_NOTICES = 5  # more drops than this for one reason are printed as one line
GROUP_NAMES_SHOWN = 3
SPELLINGS_GROUP = "hold values written several ways, each spelling a category of its own"


def notice_lines(decisions: list[Decision]) -> list[str]:
    """The lines training prints for ``decisions``, once each: a wide table's dozens of constant
    or empty columns as one line per reason, in the first one's place, naming a few of them
    (model.json keeps every column's decision)."""
    groups: dict[str, list[str]] = {}
    for d in decisions:
        if d.group:
            groups.setdefault(d.group, []).append(d.column)
    lines = []
    for d in decisions:
        names = groups.get(d.group, [])
        if len(names) <= GROUPED_NOTICES:
            lines.append(d.line())
        elif d.column == names[0]:
            shown = ", ".join(repr(n) for n in names[:GROUP_NAMES_SHOWN])
            lines.append(f"{len(names)} columns {d.group} ({shown}, ...); see model.json")
    return lines


def blank_markers(frame: pd.DataFrame, target: str | None = None) -> pd.DataFrame:
    """Every missing-value marker (case-insensitive) as NaN; other cells stripped of blanks.
    In the ``target`` column ``none`` is a label (none / mild / severe), not a marker."""
    out = {}
    for name in frame.columns:
        column = frame[name].str.strip()
        markers = LABEL_MARKERS if name == target else MISSING_MARKERS
        out[name] = column.mask(column.str.lower().isin(tuple(markers)))
    import pandas as pd

    return pd.DataFrame(out, index=frame.index)


def type_column(
    name: str,
    column: pd.Series,
    n_rows: int,
    dots_group_thousands: bool = False,
    keep: bool = False,
) -> tuple[dict | None, Any, list]:
    """(schema entry or None when dropped, typed values, decisions) for one blanked column.

    ``dots_group_thousands``: the file writes decimal commas elsewhere, so a column of numbers
    such as ``1.108`` (a dot before each group of three digits, no comma) is 1108, not 1.108.
    ``keep`` (``--keep``): the user knows better than the identifier rules (a rank is distinct
    integers too); the column is kept, with a decision saying what the rule would have done.
    A column empty or with one value in every row is dropped all the same, its decision saying
    that ``--keep`` could not keep it."""
    present = column.dropna()
    if present.empty:
        return None, None, [_nothing_to_learn(name, keep)]
    nullable = bool(column.isna().any())
    if not nullable and present.nunique() == 1:
        return None, None, [_nothing_to_learn(name, keep, present.iloc[0])]
    decisions = []
    if nullable:
        missing = int(column.isna().sum())
        detail = f"missing in {missing:,} of {n_rows:,} rows ({percent(missing, n_rows)}); imputed"
        decisions.append(Decision(name, "missing_values", detail + " in the model"))
    import pandas as pd

    # one plain parse, shared by the numeric test, the refusal and the mixed-types notice;
    # `inf`, `-Infinity` (a ratio's division by zero, as pandas writes it) are no numbers: a
    # word among numbers, read as missing as other such words are
    plain = pd.to_numeric(present, errors="coerce")
    as_signed = present
    minus = grouped = pd.Series(False, index=present.index)
    if plain.isna().any():  # a minus or grouping to read first? (two passes over the text)
        minus = present.str.contains(MINUS_TO_READ)
        if minus.any():
            as_signed = present.where(~minus, present[minus].map(signed))
        grouped = as_signed.str.contains(BLANK_GROUPS)
        if grouped.any():
            as_signed = _regrouped(as_signed, grouped)
        if minus.any() or grouped.any():
            plain = pd.to_numeric(as_signed, errors="coerce")
    plain = plain.where(np.isfinite(plain))
    numeric = _numeric(name, column, as_signed, plain, dots_group_thousands)
    if numeric is not None:
        spec, values, parsed = numeric
        if minus.any() or grouped.any():
            _check_read_alike(name, present[minus | grouped], values, spec)
        if minus.any():
            parsed = f"{parsed or 'numbers'}; {_minus_note(present[minus])}"
        if grouped.any():
            example = repr(str(present[grouped].iloc[0]))
            parsed = f"{parsed}; blanks or apostrophes between thousands ({example}) read as such"
        if parsed:
            decisions.append(Decision(name, "numeric_parsed", parsed))
        detail = _numeric_id(present, values, n_rows)
        if detail:
            if not keep:
                return None, None, [Decision(name, "dropped", detail)]
            decisions.append(_kept(name, detail))
        spec["nullable"] = nullable or bool(spec.get("missing_words"))
        return spec, values, decisions
    text = present.astype(str)
    is_number = plain.notna()
    _refuse_unread_numbers(name, text, is_number)
    distinct = text.nunique()
    date_format = _date_format(text)
    if date_format is not None:
        detail = f"a date ({date_format}): days since 1970-01-01, and weekday"
        decisions.append(Decision(name, "date", detail + _years_ahead(text, date_format)))
        spec = {"name": name, "kind": "date", "dtype": "date", "date_format": date_format}
        spec["nullable"] = nullable
        return spec, column, decisions
    unread = _unread_units(text) if re.match(r"[+-]?\.?\d", text.iloc[0]) else None
    unread = unread or _unread_dates(text) or _unread_codes(text)
    units_note = [Decision(name, "mixed_types", unread)] if unread else []
    if len(text) >= MIN_ROWS_FOR_IDENTIFIER and distinct >= NEAR_UNIQUE_SHARE * len(text):
        if distinct == len(text):
            detail = "an identifier (every value distinct)"
        else:
            detail = (
                f"free text or an identifier ({distinct:,} distinct values in {len(text):,} rows)"
            )
        if not keep:
            return None, None, [*units_note, Decision(name, "dropped", detail)]
        decisions.append(_kept(name, detail))
    categories = _categories(text)
    spec = {"name": name, "kind": "categorical", "dtype": "string", "categories": categories}
    numbers = int(is_number.sum())
    if numbers >= len(text) / 2:  # mostly numbers, yet text: worth a look, never silent
        detail = (
            f"{percent(numbers, len(text))} of the values are numbers, the others text: read as "
            "categories (each number one of its own)"
        )
        decisions.append(Decision(name, "mixed_types", detail))
    decisions.extend(units_note)
    spellings = _several_spellings(categories) if distinct <= MAX_CATEGORIES else None
    if spellings:
        decisions.append(Decision(name, "several_spellings", spellings, group=SPELLINGS_GROUP))
    if yes_no(categories) is not None:
        decisions.append(Decision(name, "boolean", f"boolean-like, coded {categories[0]}=0"))
    elif distinct > MAX_CATEGORIES:
        counts = text.value_counts()
        spec["categories"] = sorted(counts.index.tolist())
        spec["frequencies"] = [round(float(counts[c]) / n_rows, 8) for c in spec["categories"]]
        spec["encoding"] = "frequency"
        decisions.append(
            Decision(name, "frequency_encoded", f"{distinct} distinct values: frequency-encoded")
        )
    spec["nullable"] = nullable
    return spec, column, decisions


def _several_spellings(categories: list[str]) -> str | None:
    """A notice's text when some categories are one value written several ways (`Y`, `yes`,
    `YES`; `Paris`, `paris`), else None. Each spelling stays a category of its own (a client
    sending one must be read as training read it), so what the model learns about one is lost
    on the others: a file mixing them silently split `yes` into three."""
    several = spelling_groups(categories)
    if not several:
        return None
    return (
        f"{shown_groups(several)}: one value written several ways, each a category of its own; "
        "write each one way to learn from them as one"
    )


def spelling_groups(values: list[str]) -> list[list[str]]:
    """The groups of ``values`` that are one value written several ways: the same as the scorer
    reads another spelling (``encoding.loose``: case and Unicode form aside), or one yes/no word
    (`Y`, `yes`, `TRUE`)."""
    groups: dict[str, list[str]] = {}
    for value in values:
        key = loose(value)
        key = "yes" if key in TRUE_WORDS else "no" if key in FALSE_WORDS else key
        groups.setdefault(key, []).append(value)
    return [spelt for spelt in groups.values() if len(spelt) > 1]


def shown_groups(groups: list[list[str]]) -> str:
    shown = "; ".join(", ".join(repr(s) for s in spelt) for spelt in groups[:3])
    return shown + (f" and {len(groups) - 3} more" if len(groups) > 3 else "")


def _kept(name: str, detail: str) -> Decision:
    return Decision(name, "kept", f"kept (--keep), though it reads as {detail}")


def _nothing_to_learn(name: str, keep: bool, value: Any = None) -> Decision:
    """The drop of a column that tells no row from another (empty, or ``value`` in every row).
    Kept, it would only be an input every client must send; so ``--keep`` cannot keep it, and
    says so rather than nothing (on a line of its own: the user named that column)."""
    reason = "empty in every row" if value is None else "one value in every row"
    detail = reason if value is None else f"{value!r} in every row"
    if keep:
        detail += f" (--keep {name} cannot keep it: nothing to learn from it)"
        return Decision(name, "dropped", detail)
    return Decision(name, "dropped", detail, group=f"dropped: {reason}")


def share_missing_words(specs: list[dict]) -> None:
    """Every numeric column reads the words any numeric column of the file read as missing
    (``missing_words``): a file that writes ``-`` for a missing number in one column writes it
    in the others, and a file scored later must not be refused for it. Such words hold no digit,
    so no number is lost."""
    numeric = [spec for spec in specs if spec["kind"] == "numeric"]
    words = sorted({word for spec in numeric for word in spec.get("missing_words", ())})
    for spec in numeric if words else ():
        spec["missing_words"] = words


def _date_format(text: pd.Series) -> str | None:
    if not _DATE_LIKE.match(text.iloc[0]):
        return None
    return date_format_of(text.unique().tolist())


def _years_ahead(text: pd.Series, date_format: str) -> str:
    """What a decision adds when two-digit years put dates after today: ``%y`` reads 00-68 as
    2000-2068, so a birth date written 03/15/58 is 2058, and the column's order and weekdays
    are wrong unless the user writes four digits (nothing in the cells says which century)."""
    if "%y" not in date_format:
        return ""
    today = time.time() / 86400.0
    ahead = [v for v in text.unique().tolist() if parse_date(v, date_format) > today]
    if not ahead:
        return ""
    rows = int(text.isin(ahead).sum())
    return (
        f"; {rows:,} rows fall after today ({ahead[0]!r}: two-digit years are read as "
        "1969-2068); write four-digit years if they are earlier"
    )


DATES_LOOKED_AT = 2000  # distinct values a notice about mixed date formats judges by


def _unread_dates(text: pd.Series) -> str | None:
    """A notice's text when a column that no one date format reads is dates nonetheless: in
    several formats (`31.01.2024` and `01/31/2024`), or with a few cells that are no date
    (`unknown`, `inf`; at most a tenth of the rows); else None. Read as text, it is dropped as
    "free text or an identifier" or kept as categories, and the user should know why. Judged
    on the first DATES_LOOKED_AT distinct values (bounded time on a large file)."""
    if not _DATE_LIKE.match(text.iloc[0]):
        return None
    formats: list[str] = []
    words: list[str] = []
    rows = undated = 0
    for value, count in text.value_counts(sort=False).head(DATES_LOOKED_AT).items():
        rows += count
        fmt = date_format_of([value])
        if fmt is None:
            undated += count
            words.append(value)
        elif fmt not in formats:
            formats.append(fmt)
    if not formats or undated > (1 - MIXED_NUMERIC_SHARE) * rows:
        return None
    several = f"dates written in several formats ({', '.join(formats)})"
    if not undated:
        if len(formats) < 2:
            return None
        return (
            f"{several}: read as text; write them in one format (2024-01-31) to read them as dates"
        )
    shown = ", ".join(repr(w) for w in words[:3]) + (", ..." if len(words) > 3 else "")
    lead = several if len(formats) > 1 else "dates"
    return (
        f"{lead}, but {undated:,} of {rows:,} rows hold no date ({shown}): read as text; write "
        "those cells empty (missing) to read the column as dates"
    )


def _numeric(
    name: str, column: pd.Series, present: pd.Series, plain: pd.Series, dots_group_thousands: bool
):
    """(schema entry, float64 values, how it was parsed) when the column is numeric, else None.

    ``plain``: ``present`` as ``pd.to_numeric`` reads it (NaN where it reads no number)."""
    import pandas as pd

    numbers = plain
    share = float(numbers.notna().mean())
    number_format = parsed = unit = None
    if share == 1.0 and dots_group_thousands:
        dotted = present[present.str.contains(".", regex=False)]
        if len(dotted) and dotted.str.strip().str.fullmatch(_DOT_THOUSANDS).all():
            number_format = "decimal_comma"
            numbers = present.map(lambda v: parse_number(v, "decimal_comma"))
            parsed = "numbers with a dot before each group of three digits, in a file that "
            parsed += "writes decimal commas: 1.108 read as 1108"
    if share < 1.0:
        # the format is judged on cells with a digit: a few words among them (`n/a`, `-`) are
        # then tried as missing words, as among plain numbers
        has_digit = present.str.contains(r"\d")
        cells = present[has_digit] if has_digit.any() else present
        for fmt, pattern in (("thousands", _THOUSANDS), ("percent", _PERCENT)):
            matches = cells.str.match(pattern) | numbers[cells.index].notna()
            if matches.all() and cells.str.match(pattern).any():
                number_format = fmt
                break
        else:
            number_format = _currency_or_decimal_comma(cells.str.strip(), dots_group_thousands)
            if number_format is None and cells.str.strip().str.fullmatch(TIME).all():
                number_format = "time"
            if number_format is None:
                unit = _one_unit(cells.str.strip())
                number_format = "unit" if unit is not None else None
        if number_format is not None:
            numbers = present.map(lambda v, f=number_format: _number_or_nan(v, f, unit))
            share = float(numbers.notna().mean())
    words: list[str] = []
    if share < 1.0:
        if share < MIXED_NUMERIC_SHARE:
            return None
        text = present[numbers.isna().to_numpy()]
        words = sorted(set(text.str.casefold()))
        if len(words) > MAX_MISSING_WORDS or any(c.isdigit() for w in words for c in w):
            raise _mixes_numbers_and_text(name, column, text)
    values = pd.Series(np.nan, index=column.index, dtype=np.float64)
    values[present.index] = numbers.astype(np.float64)
    finite = values.dropna()
    if not np.isfinite(finite.to_numpy()).all():
        raise DataError(f"column {name!r} holds an infinite value")
    is_int = bool((finite == np.round(finite)).all())
    spec = {
        "name": name,
        "kind": "numeric",
        "dtype": "int" if is_int else "float",
        "min": int(finite.min()) if is_int else float(finite.min()),
        "max": int(finite.max()) if is_int else float(finite.max()),
    }
    if number_format:
        spec["format"] = number_format
        parsed = parsed or _FORMAT_NOTES[number_format].format(unit=unit)
    if unit is not None:
        spec["unit"] = unit
    if words:
        spec["missing_words"] = words
        shown = ", ".join(repr(w) for w in words)
        missing = f"{shown} in {len(text):,} rows read as missing"
        parsed = f"{parsed}; {missing}" if parsed else f"numbers, and {missing}"
    return spec, values, parsed


def _mixes_numbers_and_text(name: str, column: pd.Series, text: pd.Series) -> DataError:
    """The refusal of a numeric column with cells that are no numbers (``text``), naming the
    first by row and, when there are more, how many and which others: naming one at a time,
    a user fixed it, trained again and met the next (10 runs for 10 cells)."""
    bad_at = text.index[0]
    first = f"data row {int(bad_at) + 1}: {column[bad_at]!r}"
    if len(text) == 1:
        return DataError(
            f"column {name!r} mixes numbers and text ({first}); fix the value or --drop {name}"
        )
    others = list(dict.fromkeys(text.str.strip()))[1:]
    shown = ", ".join(repr(v) for v in others[:3]) + (", ..." if len(others) > 3 else "")
    also = f"; also {shown}" if shown else ""
    return DataError(
        f"column {name!r} mixes numbers and text in {len(text):,} rows ({first}{also}): up to "
        f"{MAX_MISSING_WORDS} different words without digits are read as missing, not these; "
        f"fix the values or --drop {name}"
    )


def _regrouped(cells: pd.Series, grouped: pd.Series) -> pd.Series:
    """``cells`` with the ``grouped`` ones' blanks or apostrophes between thousands written as
    the column's thousands separator (`formats.regrouped`): a dot when a cell of the column
    holds a decimal comma (one not before a group of three digits, as in French 1 234,5), else
    a comma (1 234.5, Swiss 1'234.50, beside 1,234). The column's format is then judged as for
    any other column, so every cell must agree on it."""
    separator = "." if cells.str.contains(_DECIMAL_COMMA_CELL).any() else ","
    return cells.where(~grouped, cells[grouped].map(lambda v: regrouped(v, separator)))


def _minus_note(cells: pd.Series) -> str:
    """What a notice says of ``cells`` whose minus `formats.signed` rewrote, with an example."""
    example = repr(str(cells.iloc[0]))
    typographic = cells.str.contains(UNICODE_MINUS, regex=False).any()
    how = "\u2212 (U+2212)" if typographic else "after the number"
    if typographic and not cells.str.contains(UNICODE_MINUS, regex=False).all():
        how += " or after the number"
    return f"a minus written {how} ({example}) read as -"


_FORMAT_NOTES = {
    "thousands": "numbers with thousands separators: read without the commas",
    "percent": "percentages: read as the number before the % sign",
    "decimal_comma": "numbers with a decimal comma: 1.234,5 read as 1234.5",
    "decimal_comma_percent": "percentages with a decimal comma: 12,5% read as 12.5",
    "decimal_comma_currency": (
        "amounts with a decimal comma: 1.234,50 € read as 1234.5, (5,25 €) as -5.25"
    ),
    "currency": "amounts: read without the currency sign and commas, (5) as -5",
    "time": "times of day: read as hours since midnight (07:30 as 7.5)",
    "unit": "numbers with a unit: read without {unit!r} (a cell in another unit is refused)",
}


# Numbers with blanks (a space, a no-break or narrow no-break space) or apostrophes between
# groups of thousands, as in 1 234,5: read when the whole column agrees on one format
# (`_regrouped`), refused when it does not (1 234,5 beside 1.5: which one is a decimal point?)
_GROUPED_NUMBER = re.compile(rf"[+\-\u2212]?\d{{1,3}}([{GROUP_MARKS}]\d{{3}})+([.,]\d+)?-?")


# a comma that is no thousands separator: not followed by exactly three digits
_DECIMAL_COMMA_CELL = re.compile(r",(?!\d{3}(?!\d))")


def _check_read_alike(name: str, rewritten: pd.Series, values: pd.Series, spec: dict) -> None:
    """A DataError when a cell training rewrote before typing (a minus or grouping to read)
    reads as another number in the column's format than training read: every scoring path
    reads the cell as written, with `parse_number`, so the model would see another number."""
    for at, cell in rewritten.items():
        scored = _number_or_nan(cell, spec.get("format"), spec.get("unit"))
        if not np.isclose(scored, values[at], rtol=1e-12, equal_nan=True):
            raise DataError(
                f"column {name!r} holds numbers that do not read as one format ({cell!r} reads "
                f"as {values[at]:g} beside the others, {scored:g} alone): write them alike, or "
                f"--drop {name}"
            )


def _refuse_unread_numbers(name: str, text: pd.Series, is_number: pd.Series) -> None:
    """A DataError naming a column of numbers written as above that did not read as one
    format: typed as text, it would be an identifier or a category per number, silently
    (held-out AUC 0.49 instead of 0.99).

    ``is_number``: which cells of ``text`` pandas reads as numbers."""
    cells = text.str.strip()
    odd = cells.str.fullmatch(_GROUPED_NUMBER)
    if not odd.any() or (odd | is_number).mean() < MIXED_NUMERIC_SHARE:
        return
    example = repr(cells[odd].iloc[0])
    # another cell, not read alike: a number written otherwise, or one with a decimal comma
    # beside one with a decimal point (1 234,5 and 1 234.5)
    others = cells[~odd] if (~odd).any() else cells[odd & ~cells.str.contains(",")]
    also = f" and {others.iloc[0]!r}" if len(others) else ""
    raise DataError(
        f"column {name!r} holds numbers with blanks between thousands written in ways that do "
        f"not read as one format ({example}{also}): write them alike, or --drop {name}"
    )


def _number_or_nan(cell: str, number_format: str, unit: str | None = None) -> float:
    try:
        return parse_number(cell, number_format, unit)
    except ValueError:
        return np.nan


def _units_written(cells: pd.Series, pattern: str) -> pd.Series | None:
    """Each cell's unit as ``pattern`` reads it (NaN: a plain number) when every cell matches,
    at least half carry a unit and none is an ordinal suffix (1st, 2nd class: ranks, left as
    categories); else None."""
    found = cells.str.extract(pattern)
    units = found["unit"]
    if found["number"].isna().any() or units.notna().sum() * 2 < len(cells):
        return None
    if ORDINAL_SUFFIXES & set(units.dropna().str.casefold()):
        return None
    return units


def _unit_cells(cells: pd.Series) -> pd.Series | None:
    """The units of a column of numbers that read as numbers (113 oz, 64in; a magnitude such
    as 84K does not), as written, one per cell that has one; else None (`12a` among plain
    numbers is a typo, named as one)."""
    units = _units_written(cells, f"^(?:{WITH_UNIT.pattern})$")
    if units is None or MAGNITUDES & set(units.dropna()):
        return None
    return units.dropna()


def _unread_units(cells: pd.Series) -> str | None:
    """Why a column of numbers with units was not read as numbers (several units, a
    magnitude such as 84K, separators such as 1,000 kg), for a notice; None when it is no such
    column (or an ordinal one: 1st, 2nd; or a numbered list: `1. White`, `2. Black`, as R's
    factors are often labelled, which was named "numbers in several units ('white', ...)")."""
    written = _units_written(cells, _LOOSE_UNIT)
    if written is None or cells.str.extract(_LOOSE_UNIT)["number"].str.fullmatch(r"\d+\.").all():
        return None
    units = written.dropna()
    counts = units.str.casefold().value_counts()
    example = repr(str(cells[written.notna()].iloc[0]))
    if len(counts) > 1:
        shown = ", ".join(repr(u) for u in counts.index[:5])
        return (
            f"numbers in several units ({shown}): read as categories (each value one of its "
            "own); write them in one unit to read them as numbers"
        )
    if MAGNITUDES & set(units):
        return (
            f"numbers with a magnitude ({example}): read as categories (each value one of "
            "its own); write the whole numbers to read them as numbers"
        )
    return (
        f"numbers with a unit and separators ({example}): read as categories (each value one "
        "of its own); write them as plain numbers (1000 kg) to read them as numbers"
    )


# An amount with a currency code before it (EUR 12.50, EUR12.50, CHF 1'234.50, -USD 5): no
# format reads it (a code after a plain number, 12.50 EUR, is a unit). A blank or a decimal
# part after the code: BAW100 is a flight, not 100 in a currency.
_CODE_FIRST = re.compile(
    rf"[+-]?(?P<code>[A-Z]{{3}})(\s[+-]?\d[\d.,{GROUP_MARKS}]*|[+-]?\d[\d{GROUP_MARKS}]*[.,]\d+)"
)
_MAX_CODES = 3  # currencies in one column of amounts; more codes are product or flight codes


def _unread_codes(cells: pd.Series) -> str | None:
    """Why a column of amounts with a currency code before each number was not read as
    numbers, for a notice (such a column was dropped as an identifier, or kept as categories,
    without a word); None when it is no such column."""
    codes = cells.str.fullmatch(_CODE_FIRST)
    if codes.mean() < MIXED_NUMERIC_SHARE:
        return None
    if cells[codes].str.extract(_CODE_FIRST)["code"].nunique() > _MAX_CODES:
        return None
    example = repr(str(cells[codes].iloc[0]))
    return (
        f"amounts with a currency code before the number ({example}): read as categories "
        "(each value one of its own); write the code after plain numbers (12.50 EUR), or a "
        "currency sign (€12.50), to read them as numbers"
    )


def _one_unit(cells: pd.Series) -> str | None:
    """The unit every number of the column carries, as most cells spell it; else None."""
    units = _unit_cells(cells)
    if units is None or units.str.casefold().nunique() != 1:
        return None
    return str(units.value_counts().index[0])


def _currency_or_decimal_comma(cells: pd.Series, dots_group_thousands: bool) -> str | None:
    """``currency`` when every cell is an amount and one has a currency sign or an accountant's
    parentheses; ``decimal_comma`` when every cell is a decimal-comma number (1.5 too would be
    ambiguous) and one has a comma; ``decimal_comma_percent`` or ``decimal_comma_currency`` when
    every cell is one with or without its sign, one has the sign and one a comma that groups no
    thousands (`1,479%` is English: left as it was, a category); else None.
    ``dots_group_thousands``: the file writes decimal commas, so `€ 37.000` is 37000.
    Parentheses mark amounts only beside cells without them: an accountant writes (1.234,50)
    among positive amounts; a column of (1,5), (2,3) is pairs, not negative numbers."""
    signed = cells.str.contains(SIGN).any()
    if dots_group_thousands and signed and cells.map(_reads_as("decimal_comma_currency")).all():
        return "decimal_comma_currency"
    parens = cells.str.startswith("(")
    amounts = signed or bool(parens.any() and not parens.all())
    if amounts and cells.map(_reads_as("currency")).all():
        return "currency"
    if cells.map(DECIMAL_COMMA.fullmatch).notna().all() and cells.str.contains(",").any():
        return "decimal_comma"
    if not cells.str.contains(_DECIMAL_COMMA_MARK).any():
        return None
    if cells.str.contains("%").any() and cells.map(_reads_as("decimal_comma_percent")).all():
        return "decimal_comma_percent"
    if amounts and cells.map(_reads_as("decimal_comma_currency")).all():
        return "decimal_comma_currency"
    return None


def _reads_as(number_format: str) -> Callable[[str], bool]:
    def reads(cell: str) -> bool:
        try:
            parse_number(cell, number_format)
        except ValueError:
            return False
        return True

    return reads


def _numeric_id(present: pd.Series, values: pd.Series, n_rows: int) -> str | None:
    """Why a numeric column is an identifier, or None: a row number (`_is_row_number`), or
    integers of LONG_ID_DIGITS or more digits nearly all distinct (an account, card or
    transaction number: a code, not a quantity; float64, and the model's float32 even more,
    cannot tell such numbers apart, and a random one only adds noise)."""
    if _is_row_number(values, n_rows):
        return "a row number or id (distinct integers, at least half of their range)"
    if len(present) < MIN_ROWS_FOR_IDENTIFIER:
        return None
    cells = present.str.strip()
    # nearly all long, not all: random 64-bit ids fall below 10**15 about once in 18,000
    long = cells.str.fullmatch(rf"[+-]?\d{{{LONG_ID_DIGITS},}}").mean() >= NEAR_UNIQUE_SHARE
    integers = cells.str.fullmatch(r"[+-]?\d+").all()
    if long and integers and cells.nunique() >= NEAR_UNIQUE_SHARE * len(cells):
        return (
            f"an identifier (integers, nearly all distinct and of {LONG_ID_DIGITS} or more digits)"
        )
    return None


def _is_row_number(values: pd.Series, n_rows: int) -> bool:
    """Integers 0..n-1 or 1..n (any order): a row index, which can only memorise rows; or, from
    MIN_ROWS_FOR_SPARSE_ID rows, distinct integers filling at least half their range (the ids
    of a file that lost some rows, e.g. to a test split). Ids follow the order rows were
    written in, which can follow the target; distinct integers that dense are nothing else."""
    if n_rows < MIN_ROWS_FOR_IDENTIFIER or values.isna().any():
        return False
    ordered = np.sort(values.to_numpy())
    start = ordered[0]
    if start in (0, 1) and np.array_equal(ordered, np.arange(start, start + len(ordered))):
        return True
    if n_rows < MIN_ROWS_FOR_SPARSE_ID or not np.array_equal(ordered, np.round(ordered)):
        return False
    span = ordered[-1] - start + 1
    return bool(np.all(np.diff(ordered) > 0)) and len(ordered) >= MIN_ID_DENSITY * span


def _categories(text: pd.Series) -> list[str]:
    """Sorted categories; a boolean-like pair puts its false-like value first (coded 0)."""
    categories = sorted(text.unique().tolist())
    answers = yes_no(categories)
    if answers is not None and categories[0] == answers[0]:
        categories.reverse()
    return categories


def percent(part: int, whole: int) -> str:
    """A percentage that never reads 0.0% or 100.0% for a share that is neither."""
    share = 100 * part / whole
    if 0 < share < 0.1:
        return "under 0.1%"
    if 99.9 < share < 100:
        return "over 99.9%"
    return f"{share:.1f}%"

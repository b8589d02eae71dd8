"""How one cell's text becomes a value, identically in training, batch prediction and the scorer.

Pure Python (the scorer has no pandas): the missing-value markers, numbers written with
thousands separators, a percent sign, a decimal comma, a currency sign, a unit or as a time
of day (hours since midnight), and dates (days since 1970-01-01, the time of day as a
fraction) in the format training detected for the column.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from datetime import UTC, datetime

# Cells that mean "no value", compared case-insensitively after stripping blanks. A lone `.`
# is SAS's and Stata's missing number: in a fifth of a column's cells, it made the column
# categories, one per number, each unseen when scoring. Excel's error values are what it writes
# for a formula with no value (a division by zero, a lookup that found nothing): #DIV/0! among
# numbers was refused as a typo, and #N/A in a label column made a class of its own. Excel 365
# adds #SPILL!, #CALC! and others, Google Sheets #ERROR!, LibreOffice writes Err:501..Err:539.
EXCEL_ERRORS = frozenset(
    {"#div/0!", "#n/a", "#name?", "#null!", "#num!", "#ref!", "#value!", "#spill!", "#calc!",
     "#field!", "#blocked!", "#connect!", "#busy!", "#unknown!", "#getting_data", "#python!",
     "#error!"}
    | {f"err:{code}" for code in range(501, 540)}
)  # fmt: skip
MISSING_MARKERS = frozenset({"", "na", "n/a", "null", "?", "nan", "none", "."}) | EXCEL_ERRORS
# The yes/no words, compared case-insensitively: a column of one of each is boolean-like in
# training, and when scoring any of them reads as that column's word for the same answer.
TRUE_WORDS = frozenset({"yes", "true", "y", "t"})
FALSE_WORDS = frozenset({"no", "false", "n", "f"})
ISO = "ISO8601"
# Dates with a day, in this order: a column that reads both ways (no day above 12) is read month
# first, as US exports write it; one day above 12 makes it day first, as most of the world
# writes it. Month names are English whatever the machine's locale (Python reads %b in the C
# locale): spreadsheets and databases write 15-Jan-2021, Jan 15, 2021, 15 January 2021.
_DAYS = (
    "%m/%d/%Y",
    "%d/%m/%Y",
    "%d.%m.%Y",
    "%Y/%m/%d",
    "%m-%d-%Y",
    "%d-%m-%Y",
    "%d-%b-%Y",
    "%d %b %Y",
    "%d %B %Y",
    "%b %d, %Y",
    "%B %d, %Y",
    "%b %d %Y",
    # two-digit years (1/15/21, 15-JAN-21, 15.01.21), after every four-digit form: %y reads
    # 1969-2068
    "%m/%d/%y",
    "%d/%m/%y",
    "%d.%m.%y",
    "%d-%b-%y",
)
# A year and month (2021-03, Jan 2021, Jan-21, Excel's month format): its first day
_MONTHS = ("%Y-%m", "%b %Y", "%B %Y", "%b-%Y", "%b-%y")
_TIMES = (" %H:%M", " %H:%M:%S")
DATE_FORMATS = (
    ISO,
    *_MONTHS,
    *_DAYS,
    *(f"{day}{time}" for time in _TIMES for day in _DAYS),
)
_TIME_OF_DAY = re.compile(r" %H:%M(:%S)?$")
# 31.01.24 is detected only zero-padded, as German spreadsheets write it: 1.2.12 or 3.10.29 is
# far more often a version number (strptime reads %d and %m from one digit)
_DOTTED_SHORT = "%d.%m.%y"
_PADDED_DOTTED_SHORT = re.compile(r"\d{2}\.\d{2}\.\d{2}(?!\d)")
# Sept, as British writing abbreviates September: Python's %b knows only Sep
_SEPT = re.compile(r"(?<![a-z])sept(?![a-z])", re.IGNORECASE)
_EPOCH = datetime(1970, 1, 1)
# The currency signs an amount may carry, one before or after its number: a character class
CURRENCY_SIGNS = "$€£¥₹₩₽₺₪₫₱₴₦฿"
SIGN = f"[{re.escape(CURRENCY_SIGNS)}]"


def _amount_pattern(number: str) -> str:
    """An amount around ``number`` (a stripped cell): an accountant's parentheses, a sign and a
    currency sign before it, a currency sign after it. Each blank hangs on the token before or
    after it, never two optional runs of blanks side by side: those take polynomial time on a
    long run of blanks (a scoring cell may be megabytes)."""
    return (
        rf"(?:(?P<open>\()\s*)?(?:(?P<sign>[+-])\s*)?(?:(?P<pre>{SIGN})\s*)?"
        rf"(?:(?P<sign2>[+-])\s*)?(?P<number>{number})(?:\s*(?P<post>{SIGN}))?"
        rf"(?:\s*(?P<close>\)))?"
    )


# 1234,5 or 1.234,5 (dots only between groups of three): how European exports write numbers
DECIMAL_COMMA = re.compile(r"[+-]?(\d{1,3}(\.\d{3})+|\d+)(,\d+)?")
# The same numbers with a percent sign (12,5 %) or one currency sign (1.234,50 €, € -5): the
# sign may be left out when scoring (a form writes 12,5), a plain 1.5 is refused as above
_DC_NUMBER = r"(\d{1,3}(\.\d{3})+|\d+)(,\d+)?"
DECIMAL_COMMA_PERCENT = re.compile(rf"(?P<number>[+-]?{_DC_NUMBER})\s*%?")
# ... and an accountant's negative in parentheses, (5,25 €) or (1.234,50), as in CURRENCY
DECIMAL_COMMA_AMOUNT = re.compile(_amount_pattern(_DC_NUMBER))
# The formats that write a decimal comma (then a scored file writes its probabilities so)
DECIMAL_COMMA_FORMATS = frozenset(
    {"decimal_comma", "decimal_comma_percent", "decimal_comma_currency"}
)
# 1,234,567.5: commas between groups of three, the first group never 0 (0,125 is no thousands);
# or grouped as India writes lakhs and crores, 12,34,567.5 (groups of two before the last three)
_GROUPED = r"([1-9]\d{0,2}(,\d{3})+|[1-9]\d?(,\d{2})+,\d{3})"
THOUSANDS = re.compile(rf"[+-]?{_GROUPED}(\.\d+)?")
# An amount: one currency sign before or after the number ($1,234.50, -€5, 1,234 £), commas
# between thousands, and an accountant's (1,234) for -1234
CURRENCY = re.compile(_amount_pattern(rf"{_GROUPED}(\.\d+)?|\d+(\.\d+)?|\.\d+"))

# A number followed by a unit (113 oz, 64in, 5.5 km/h): the unit is letters first, then no
# blank or digit; the same unit in every cell of the column (`FeatureSpec.unit`)
WITH_UNIT = re.compile(r"(?P<number>[+-]?(\d+(\.\d*)?|\.\d+))\s*(?P<unit>(?:[^\W\d_]|°)[^\s\d]*)?")
# 84K, 2.5M, 3bn: a multiplier, not a unit (a plain 84000 at scoring would be read as 84000).
# Case matters here (M a million, m metres) though units are otherwise compared case-folded.
MAGNITUDES = frozenset({"K", "k", "M", "MM", "B", "bn", "Bn", "BN", "mn", "Mn", "mio", "Mio"})

# A time of day: 7:05, 07:05:30, 7:05 pm (read as hours since midnight: 7.0833)
TIME = re.compile(
    r"(?P<h>\d{1,2}):(?P<m>[0-5]\d)(?::(?P<s>[0-5]\d(?:\.\d+)?))?(?:\s*(?P<half>[AaPp][Mm]))?"
)


# A minus as exports also write it: the typographic minus (U+2212: LibreOffice, Unicode-aware
# tools) and a trailing one, as SAP writes amounts (`1.234,50-`, `5,25- €`); each read as a
# leading `-` in every number format, so that training and every scoring path agree.
UNICODE_MINUS = "\u2212"
# which cells `signed` may rewrite (a cheap test before the per-cell rewrite)
MINUS_TO_READ = re.compile(rf"{UNICODE_MINUS}|\d\s*-\s*{SIGN}?$")


def signed(text: str) -> str:
    """``text`` with a typographic or trailing minus written as a leading ``-`` (``5,25- €``:
    ``-5,25 €``); other text as it is. Cut by hand, not by a regular expression: a pattern
    with room for blanks on both sides of the minus takes quadratic time on a long run of
    blanks, and a scoring body's cell may be megabytes long."""
    text = text.replace(UNICODE_MINUS, "-")
    if "-" not in text:
        return text
    body = text.rstrip()
    post = ""
    if body[-1:] in tuple(CURRENCY_SIGNS):  # 5,25- €
        stripped = body[:-1].rstrip()
        body, post = stripped, text[len(stripped) :]
    if not body.endswith("-"):
        return text
    number = body[:-1].rstrip()
    pre = ""
    if number[:1] in tuple(CURRENCY_SIGNS):  # € 5,25-
        rest = number[1:].lstrip()
        pre, number = number[: len(number) - len(rest)], rest
    # a digit before the minus, as training's MINUS_TO_READ asks (`2kg-` is no amount)
    if not (number[:1].isdigit() and number[-1:].isdigit()) or any(c in "+-()" for c in number):
        return text
    return f"-{pre}{number}{post}"


# Thousands grouped by a blank (a space, a no-break space U+00A0, or the narrow no-break space
# U+202F that French Excel, LibreOffice and Python's locale write) or an apostrophe (Swiss
# 1'234.50; ’ too): each read as the format's own thousands separator, a comma beside a decimal
# point, a dot beside a decimal comma. A blank before a group of three digits only, so that
# 12 34 or 1 2345 reads as no number.
GROUP_MARKS = " \u00a0\u202f'\u2019"
BLANK_GROUPS = re.compile(rf"(?<=\d)[{GROUP_MARKS}](?=\d{{3}}(?!\d))")
# the formats whose numbers group thousands, and the separator each writes
_GROUPING = {
    "thousands": ",",
    "currency": ",",
    "decimal_comma": ".",
    "decimal_comma_percent": ".",
    "decimal_comma_currency": ".",
}


def regrouped(text: str, separator: str) -> str:
    """``text`` with thousands grouped by one kind of blank or apostrophe (`GROUP_MARKS`)
    grouped by ``separator`` instead; other text (two kinds of mark, or the mark beside
    ``separator`` itself: 1 234.567,5) as it is, for the format to refuse."""
    marks = set(BLANK_GROUPS.findall(text))
    if len(marks) != 1 or separator in text:
        return text
    return BLANK_GROUPS.sub(separator, text)


def is_missing(text: str | None) -> bool:
    return text is None or text.strip().lower() in MISSING_MARKERS


def parse_number(text: str, number_format: str | None, unit: str | None = None) -> float:
    """A numeric cell as training read it; ValueError when it is not one. ``unit``: the
    column's unit (format ``unit``), the only one a cell may carry (any case; or none).
    ``inf`` or ``-Infinity`` is no number: training reads such a word as missing (then its
    column's `missing_words` hold it), and the model has no use for an infinite input."""
    value = _number(signed(text.strip()), number_format, unit)
    if not math.isfinite(value):
        raise ValueError(text)
    return value


def overflows(text: str, number_format: str | None, unit: str | None = None) -> bool:
    """Whether ``text`` is a number written with digits that no float holds (``1e400``), which
    `parse_number` refuses as it refuses ``inf``: a message can then say it is too large."""
    try:
        value = _number(signed(text.strip()), number_format, unit)
    except (ValueError, OverflowError):
        return False
    return math.isinf(value) and any(c.isdigit() for c in text)


def _number(text: str, number_format: str | None, unit: str | None) -> float:
    if number_format in _GROUPING:
        text = regrouped(text, _GROUPING[number_format])
    if number_format == "unit":
        return _in_unit(text, unit)
    if number_format == "thousands":
        if "," in text and not THOUSANDS.fullmatch(text):
            raise ValueError(text)  # 1,23 or 1.234,5: commas that do not group thousands
        text = text.replace(",", "")
    elif number_format == "percent":
        text = text.removesuffix("%").rstrip()
    elif number_format == "currency":
        return _amount(text)
    elif number_format == "time":
        return _hours(text)
    elif number_format == "decimal_comma":
        # strict: in such a column 1.5 is ambiguous (one and a half, or fifteen), never guessed
        if not DECIMAL_COMMA.fullmatch(text):
            raise ValueError(text)
        text = text.replace(".", "").replace(",", ".")
    elif number_format in ("decimal_comma_percent", "decimal_comma_currency"):
        return _signed_decimal_comma(text, number_format)
    return float(text)


def _signed_decimal_comma(text: str, number_format: str) -> float:
    """A decimal-comma number with a percent or a currency sign (see DECIMAL_COMMA_PERCENT and
    DECIMAL_COMMA_AMOUNT); ValueError when it is not one."""
    percent = number_format == "decimal_comma_percent"
    match = (DECIMAL_COMMA_PERCENT if percent else DECIMAL_COMMA_AMOUNT).fullmatch(text)
    if match is None:
        raise ValueError(text)
    value = float(match["number"].replace(".", "").replace(",", "."))
    if percent:
        return value
    _check_signs(match, text)
    negative = bool(match["open"]) or "-" in (match["sign"] or "", match["sign2"] or "")
    return -value if negative else value


def _check_signs(match: re.Match[str], text: str) -> None:
    """ValueError for an amount written with two signs, two currency signs, an unclosed
    parenthesis, or a sign inside parentheses ((-5): which one is meant?)."""
    if (match["sign"] and match["sign2"]) or (match["pre"] and match["post"]):
        raise ValueError(text)
    if bool(match["open"]) != bool(match["close"]):
        raise ValueError(text)
    if match["open"] and (match["sign"] or match["sign2"]):
        raise ValueError(text)


def _in_unit(text: str, unit: str | None) -> float:
    match = WITH_UNIT.fullmatch(text)
    if match is None:
        raise ValueError(text)
    written = match["unit"]
    if written is None or unit is None or written == unit:
        return float(match["number"])
    if written.casefold() != unit.casefold() or written in MAGNITUDES:
        raise ValueError(text)  # 51 kg in pounds, 5 M in metres: never converted or guessed
    return float(match["number"])


def _hours(text: str) -> float:
    """A time of day (see TIME) as hours since midnight; ValueError when it is not one."""
    match = TIME.fullmatch(text)
    if match is None:
        raise ValueError(text)
    hours, half = int(match["h"]), (match["half"] or "").lower()
    past = int(match["m"]) / 60 + float(match["s"] or 0) / 3600
    if (half and not 1 <= hours <= 12) or hours > 24 or (hours == 24 and past):
        raise ValueError(text)  # 13:00 pm, 25:00, 24:30
    if half:
        hours = hours % 12 + (12 if half == "pm" else 0)
    return hours + past


def show_probability(value: float, decimal_comma: bool) -> str:
    """A probability as a scored file writes it: six decimals, with a comma when the model's
    file wrote decimal commas (what a spreadsheet that opened the input reads back as a number)."""
    text = f"{value:.6f}"
    return text.replace(".", ",") if decimal_comma else text


def writes_decimal_commas(number_formats: Iterable[str | None]) -> bool:
    """Whether a model's columns were written with decimal commas (then so are its scores)."""
    return any(f in DECIMAL_COMMA_FORMATS for f in number_formats)


def show_number(value: float, number_format: str | None) -> str:
    """A number written as its column was in training (7.5 in a time column: ``07:30``; 17.5
    with a decimal comma: ``17,5``), so that what a form or an example shows reads back."""
    if number_format == "time":
        return show_time(value)
    text = f"{value:.10g}"  # 92.893, not 92.89299999999999
    return text.replace(".", ",") if number_format in DECIMAL_COMMA_FORMATS else text


def show_time(hours: float) -> str:
    """Hours since midnight written as a time of day (7.5: ``07:30``; seconds when not whole
    minutes), so a form shows a time column as it was written."""
    seconds = round(hours * 3600, 3)
    h, rest = divmod(seconds, 3600)
    m, sec = divmod(rest, 60)
    text = f"{int(h):02d}:{int(m):02d}"
    return text if sec == 0 else f"{text}:{sec:06.3f}".rstrip("0").rstrip(".")


def _amount(text: str) -> float:
    """A currency cell's number (see CURRENCY); ValueError when it is not one."""
    match = CURRENCY.fullmatch(text)
    if match is None:
        raise ValueError(text)
    _check_signs(match, text)
    value = float(match["number"].replace(",", ""))
    negative = bool(match["open"]) or "-" in (match["sign"] or "", match["sign2"] or "")
    return -value if negative else value


def parse_date(text: str | None, date_format: str) -> float:
    """Days since 1970-01-01 (UTC for a value with a zone): NaN when missing (None or a
    marker), ValueError when present but no date, as a number cell that is no number is
    refused."""
    if is_missing(text):
        return math.nan
    moment = _moment(text.strip(), date_format)
    if moment is None:
        raise ValueError(text)
    return _days(moment)


def date_example(date_format: str) -> str:
    """How the column's dates are written, shown on 31 January 2024 (for messages)."""
    example = datetime(2024, 1, 31, 14, 5, 0)
    return example.date().isoformat() if date_format == ISO else example.strftime(date_format)


def _moment(text: str, date_format: str, *, lenient: bool = True) -> datetime | None:
    """``text`` in the column's format; else (``lenient``) as that date with a time of day, or
    without the format's time; else ISO 8601 (2021-01-31), which is what JSON clients send."""
    if "%b" in date_format:
        text = _SEPT.sub("Sep", text)
    if date_format == ISO:
        formats: tuple[str, ...] = ()
    elif not lenient:
        formats = (date_format,)
    else:
        day = _TIME_OF_DAY.sub("", date_format)
        formats = (date_format, day, *(f"{day}{time}" for time in _TIMES))
    for fmt in formats:
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def _days(moment: datetime) -> float:
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return (moment - _EPOCH).total_seconds() / 86400.0


def date_format_of(values: list[str]) -> str | None:
    """The first format under which every value is a date, or None."""
    for fmt in DATE_FORMATS:
        if fmt.startswith(_DOTTED_SHORT) and not all(
            _PADDED_DOTTED_SHORT.match(v.strip()) for v in values
        ):
            continue
        if all(_moment(v.strip(), fmt, lenient=False) is not None for v in values):
            return fmt
    return None

"""The CSV delimiters every reader of a table accepts, how one is told from a header line, and
how the header's cells name the columns; the longest cell read, and the header's problems in the
readers' shared words (a column written twice, one in another case, Excel's ``sep=`` line).

Training, ``amlstack predict``, the scorer's text/csv body and the UI's file upload all detect
the delimiter here (the UI image loads this module alone: it imports nothing).
"""

DELIMITERS = (",", ";", "\t", "|")  # what CSV exports use
DELIMITER_NAMES = "comma, semicolon, tab or pipe"
# The longest cell a file reader reads: Python's csv default (128 KiB) refused text that
# training (pandas, no limit) reads; a bound all the same, or an unclosed quote reads the rest of
# the file into one cell, in memory.
MAX_CELL_CHARS = 64 * 1024 * 1024
_TIE_ROWS = 10  # the lines after the header that break a tie between delimiters


def unquoted_header(sample: str) -> str:
    """The first record of ``sample`` with its quoted parts left out: what separates the header's
    names (a quoted name may hold a delimiter, or a line break, and end on a later line). As the
    csv module reads it, a quote opens a quoted part only at the start of a name (`15" screen`
    is a name with a quote in it)."""
    kept: list[str] = []
    quoted, at_start, closed = False, True, False
    for char in sample.lstrip("\ufeff\r\n"):
        if quoted:
            quoted = char != '"'
            closed = not quoted
            continue
        if char == '"' and (at_start or closed):  # opens, or a doubled quote inside one
            quoted, closed = True, False
            continue
        if char in "\r\n":
            break
        kept.append(char)
        at_start, closed = char in DELIMITERS, False
    return "".join(kept)


def header_delimiter(sample: str) -> str | None:
    """The delimiter between the header's names (`unquoted_header` of ``sample``, which starts
    at the header): the one it holds most of; None when it holds none (a file of one column,
    or no CSV). A tie (`Amount, EUR;Qty`) goes to the one the next lines hold as often as the
    header does (their quoted parts left out too), else to the first in DELIMITERS."""
    header = unquoted_header(sample)
    counts = {d: header.count(d) for d in DELIMITERS}
    most = max(counts.values())
    if not most:
        return None
    tied = [d for d in DELIMITERS if counts[d] == most]
    if len(tied) == 1:  # the rows are read for a tie alone: text/csv reads this per request
        return tied[0]
    rows = [unquoted_header(row) for row in sample.splitlines()[1 : 1 + _TIE_ROWS]]
    return max(tied, key=lambda d: sum(row.count(d) == most for row in rows))


# What a JSON schema field name (the scorer's msgspec records) cannot hold, and its stand-in.
_UNNAMEABLE = str.maketrans({'"': "'", "\\": "/", **{chr(c): " " for c in (*range(32), 127)}})


def header_names(cells: list[str]) -> list[str]:
    """A header line's column names as training names them: stripped, and an empty cell
    ``Unnamed: i`` (its 0-based place), as pandas names it (e.g. an index column's). A double
    quote is written ``'``, a backslash ``/`` and a control character (a line break in a quoted
    name) a blank: no JSON client's record, and no scorer, could name the column otherwise."""
    return [cell.translate(_UNNAMEABLE).strip() or f"Unnamed: {i}" for i, cell in enumerate(cells)]


def renamed(cells: list[str]) -> dict[str, str]:
    """The names `header_names` changes beyond stripping blanks (name: as written)."""
    return {
        name: cell
        for cell, name in zip(cells, header_names(cells), strict=True)
        if cell.strip() and name != cell.strip()
    }


def unreadable(exc: Exception, limit: int = MAX_CELL_CHARS) -> str:
    """A csv reader's error (``csv.Error``) in one line: a cell over ``limit``, or the reason."""
    if "field limit" in str(exc):
        return f"a cell longer than {limit:,} characters (a quote left open?)"
    return f"not readable as CSV ({exc})"


REPEATED = "column {!r} appears more than once in the header"  # which of the two is meant?


def repeated_column(header: list[str], names: list[str]) -> str | None:
    """The first of ``names`` (the model's columns) the header writes more than once (`REPEATED`
    says so); None when none is."""
    seen: set[str] = set()
    twice = {name for name in header if name in seen or seen.add(name)}
    return next((name for name in names if name in twice), None)


def excel_hint(first_line: str) -> str | None:
    """What is wrong when line 1 is Excel's ``sep=;`` hint rather than the header (Excel hides
    it; other readers take it for the header and find no column); None for a header."""
    first = first_line.lstrip("\ufeff").strip(" \r\n")
    if first.lower() in ("sep=", "sep=\t"):
        # Excel's hint for a tab-separated file is `sep=<TAB>`; a caller that stripped the
        # line (the tab too) passes `sep=`
        first = "sep=\t"
    if first.lower().startswith("sep=") and len(first) == 5:
        return (
            f"line 1 is Excel's {first!r} hint, not a header: delete that line (Excel hides "
            "it; other readers do not know it)"
        )
    return None


def near_names(missing: list[str], header: list[str], names: list[str]) -> str:
    """The header's names that write a missing column's but for case, as a hint (``names``:
    every feature's, so that two alike are no hint)."""
    spellings = by_spelling(names)
    near = [(h, spellings.get(loose_name(h))) for h in header]
    near = [(h, name) for h, name in near if name in missing]
    if not near:
        return ""
    shown = ", ".join(f"{h!r} for {name!r}" for h, name in near)
    return f" (the header has {shown}: names are matched exactly, case included)"


def by_spelling(names: list[str]) -> dict[str, str | None]:
    """``names`` by `loose_name`: a header or a JSON key that writes one of them but for case
    or blanks (``AGE``, `` age `` for ``age``) finds it; None where two names share a spelling
    (``Age`` and ``age``), as which one is meant is a guess."""
    found: dict[str, str | None] = {}
    for name in names:
        key = loose_name(name)
        found[key] = None if key in found else name
    return found


def loose_name(name: str) -> str:
    return name.strip().casefold()

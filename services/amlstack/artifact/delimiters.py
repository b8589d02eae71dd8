"""The CSV delimiters every reader of a table accepts, how one is told from a header line, and
how the header's cells name the columns.

Training, ``amlstack predict``, the scorer's text/csv body and the UI's file upload all detect
the delimiter here (the UI image loads this module alone: it imports nothing).
"""

DELIMITERS = (",", ";", "\t", "|")  # what CSV exports use
DELIMITER_NAMES = "comma, semicolon, tab or pipe"


def sniff_delimiter(header_line: str) -> str:
    """One of DELIMITERS: whichever the header line holds most of (comma for none)."""
    counts = [header_line.count(d) for d in DELIMITERS]
    best = max(range(len(DELIMITERS)), key=counts.__getitem__)
    return DELIMITERS[best] if counts[best] else ","


def header_names(cells: list[str]) -> list[str]:
    """A header line's column names as training names them: stripped, and an empty cell
    ``Unnamed: i`` (its 0-based place), as pandas names it (e.g. an index column's)."""
    return [cell.strip() or f"Unnamed: {i}" for i, cell in enumerate(cells)]

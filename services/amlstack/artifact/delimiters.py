"""The CSV delimiters every reader of a table accepts, and how one is told from a header line.

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

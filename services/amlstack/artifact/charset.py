"""Which text encoding a user's CSV file is written in; every reader of such a file asks here.

Training, ``amlstack predict`` and the UI's file upload read a file alike: UTF-8 (with or
without a byte-order mark), UTF-16 when it starts with its byte-order mark, otherwise
Windows-1252 (what Excel on Windows writes; it holds Latin-1's printable characters too), and
Latin-1 for the few bytes Windows-1252 leaves undefined. Binary data (an image, a zip, a
spreadsheet's .xlsx) is told apart here too, so every reader refuses it in the same words. Only
the standard library: the UI image loads this module alone.
"""

from __future__ import annotations

import codecs
from pathlib import Path

UTF8 = "utf-8-sig"  # reads a file with or without the byte-order mark Excel adds
UTF16 = "utf-16"
WINDOWS_1252 = "cp1252"
LATIN_1 = "latin-1"
NAMES = {UTF8: "UTF-8", UTF16: "UTF-16", WINDOWS_1252: "Windows-1252", LATIN_1: "Latin-1"}
SAMPLE_CHARS = 64 * 1024  # what a reader looks at to judge a file before reading it whole
BINARY_DATA = "not a CSV file (it holds binary data)"
_CHUNK = 1 << 20


def file_encoding(path: str | Path) -> str:
    """UTF8, UTF16, WINDOWS_1252 or LATIN_1 (which decodes any bytes): the first that reads
    the whole file. A file that is not UTF-8 is read twice more at most."""
    with open(path, "rb") as handle:
        if handle.read(2) in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
            return UTF16
    for encoding in (UTF8, WINDOWS_1252):
        if _decodes(path, encoding):
            return encoding
    return LATIN_1


def _decodes(path: str | Path, encoding: str) -> bool:
    decoder = codecs.getincrementaldecoder(encoding)()
    with open(path, "rb") as handle:
        try:
            while chunk := handle.read(_CHUNK):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return False
    return True


def holds_binary(sample: str) -> bool:
    """Whether a file's first ``SAMPLE_CHARS`` characters, decoded in its `file_encoding`, are
    binary data rather than text: a NUL character, which no text table holds (a UTF-16 file,
    decoded as UTF-16, has none). Its readers say `BINARY_DATA`."""
    return "\x00" in sample

"""Which text encoding a user's CSV file is written in; every reader of such a file asks here.

Training, ``amlstack predict`` and the UI's file upload read a file alike: UTF-8 (with or
without a byte-order mark), UTF-16 when it starts with its byte-order mark, otherwise
Windows-1252 (what Excel on Windows writes; it holds Latin-1's printable characters too), and
Latin-1 for the few bytes Windows-1252 leaves undefined; a file of both UTF-8 and other lines
(rows pasted from another export) is read line by line, each as written (`MIXED`). Binary
data (an image, a zip, a spreadsheet's .xlsx) is told apart here too, so every reader refuses it
in the same words. Only the standard library: the UI image loads this module alone.
"""

from __future__ import annotations

import codecs
import functools
from pathlib import Path

UTF8 = "utf-8-sig"  # reads a file with or without the byte-order mark Excel adds
UTF16 = "utf-16"
WINDOWS_1252 = "cp1252"
LATIN_1 = "latin-1"
MIXED = "amlstack-utf-8-cp1252"  # UTF-8, the bytes that are no UTF-8 read as Windows-1252
NAMES = {
    UTF8: "UTF-8",
    UTF16: "UTF-16",
    WINDOWS_1252: "Windows-1252",
    LATIN_1: "Latin-1",
    MIXED: "mixed UTF-8 and Windows-1252",
}
SAMPLE_CHARS = 64 * 1024  # what a reader looks at to judge a file before reading it whole
BINARY_DATA = "not a CSV file (it holds binary data)"
_CHUNK = 1 << 20


def file_encoding(path: str | Path) -> str:
    """UTF8, UTF16, MIXED, WINDOWS_1252 or LATIN_1 (which decodes any bytes): the first that
    reads the whole file. A file that is not UTF-8 is read three times more at most."""
    with open(path, "rb") as handle:
        if handle.read(2) in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
            return UTF16
    if _decodes(path, UTF8):
        return UTF8
    if _has_utf8_line(path):
        _register_mixed()
        return MIXED
    return WINDOWS_1252 if _decodes(path, WINDOWS_1252) else LATIN_1


def foreign_lines(path: str | Path, limit: int = 5) -> tuple[list[int], int]:
    """(the first ``limit`` 1-based line numbers that are not UTF-8, how many there are): what
    a notice about a `MIXED` file names."""
    shown, count = [], 0
    with open(path, "rb") as handle:
        for number, line in enumerate(handle, start=1):
            if not _is_utf8(line):
                count += 1
                if len(shown) < limit:
                    shown.append(number)
    return shown, count


def how_read(path: str | Path, encoding: str) -> str | None:
    """How a file in ``encoding`` (`file_encoding`'s answer) is read, when that is not plain
    UTF-8: the line training's notice and ``amlstack predict`` show alike. A mixed file names
    where its Windows-1252 lines are (a user may want to fix them at the source)."""
    if encoding == MIXED:
        lines, count = foreign_lines(path)
        shown = ", ".join(map(str, lines)) + (", ..." if count > len(lines) else "")
        return (
            f"the file mixes UTF-8 and Windows-1252 lines ({count:,} Windows-1252: line "
            f"{shown}); each line is read as written"
        )
    if encoding == UTF8:
        return None
    why = "its byte-order mark" if encoding == UTF16 else "it is not UTF-8"
    return f"the file is read as {NAMES[encoding]} ({why})"


def _has_utf8_line(path: str | Path) -> bool:
    """Whether some line with bytes above 127 is UTF-8, in a file that is not UTF-8 as a whole:
    lines from two sources. A Windows-1252 line's accented letters are almost never valid
    UTF-8, so one such line is UTF-8 written on purpose, however few they are (read whole as
    Windows-1252, three UTF-8 lines among hundreds made 'GenÃ¨ve' a category beside 'Genève')."""
    with open(path, "rb") as handle:
        return any(not line.isascii() and _is_utf8(line) for line in handle)


def _is_utf8(line: bytes) -> bool:
    try:
        line.decode(UTF8)
    except UnicodeDecodeError:
        return False
    return True


_FALLBACK = "amlstack-cp1252-fallback"


def _as_windows_1252(error: UnicodeError) -> tuple[str, int]:
    """The bytes UTF-8 could not read, as Windows-1252 (Latin-1 for its five undefined ones)."""
    if not isinstance(error, UnicodeDecodeError):
        raise error
    bad = error.object[error.start : error.end]
    return bad.decode(WINDOWS_1252, errors=_LATIN_1_FALLBACK), error.end


_LATIN_1_FALLBACK = "amlstack-latin-1-fallback"


def _as_latin_1(error: UnicodeError) -> tuple[str, int]:
    if not isinstance(error, UnicodeDecodeError):
        raise error
    return error.object[error.start : error.end].decode(LATIN_1), error.end


class _MixedDecoder(codecs.getincrementaldecoder(UTF8)):  # type: ignore[misc]
    """UTF-8 (a byte-order mark skipped), each byte that is not UTF-8 read as Windows-1252."""

    def __init__(self, errors: str = "strict") -> None:
        super().__init__(_FALLBACK)


def _mixed_codec(name: str) -> codecs.CodecInfo | None:
    """The `MIXED` codec, so that ``open(path, encoding=MIXED)`` and pandas read such a file."""
    if name != MIXED.replace("-", "_"):
        return None
    utf8 = codecs.lookup(UTF8)

    def decode(data: bytes, errors: str = "strict") -> tuple[str, int]:
        decoder = _MixedDecoder()
        return decoder.decode(data, final=True), len(data)

    return codecs.CodecInfo(
        name=MIXED,
        encode=utf8.encode,
        decode=decode,
        incrementalencoder=utf8.incrementalencoder,
        incrementaldecoder=_MixedDecoder,
        streamreader=utf8.streamreader,
        streamwriter=utf8.streamwriter,
    )


@functools.cache
def _register_mixed() -> None:
    """Make `MIXED` a codec that ``open`` and pandas know, once, when a file first needs it
    (importing this module changes nothing in the interpreter)."""
    codecs.register_error(_FALLBACK, _as_windows_1252)
    codecs.register_error(_LATIN_1_FALLBACK, _as_latin_1)
    codecs.register(_mixed_codec)


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

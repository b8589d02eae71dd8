"""Small JSON file helpers shared by the run folder and the registry."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


def write_json(path: Path, data: Any) -> Path:
    """Write atomically (temp file + rename) so a crash never leaves half a result behind."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w") as handle:
        json.dump(data, handle, indent=2, sort_keys=False, default=str)
        handle.write("\n")
    os.replace(tmp, path)
    return path


def read_json(path: Path, default: Any = None, shape: type | None = None) -> Any:
    """The file's JSON (``default`` when there is no file); a DataError naming the file when
    it is not JSON, or not of ``shape`` (a registry index or run record edited by hand)."""
    from amlstack.errors import DataError

    if not path.is_file():
        return default
    try:
        data = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: not valid JSON ({exc})") from None
    if shape is not None and not isinstance(data, shape):
        raise DataError(f"{path}: a JSON {shape.__name__} was expected, not {type(data).__name__}")
    return data

"""Folders the commands write their plans and reports into."""

from __future__ import annotations

from pathlib import Path

from amlstack.artifact.manifest import artifact_holding
from amlstack.errors import UserError


def output_folder(out: Path, option: str = "--out") -> Path:
    """Create the folder a plan is written to, or one line naming ``option`` when it cannot be."""
    if out.exists() and not out.is_dir():
        raise UserError(f"{option} {out}: is a file, not a folder")
    artifact = artifact_holding(out)
    if artifact is not None:
        raise UserError(f"{option} {out}: inside the artifact {artifact}; write it elsewhere")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # a parent is a file, no permission, read-only file system
        raise UserError(f"{option} {out}: cannot write there ({exc.strerror})") from None
    return out

"""The one artifact writer: every file of an artifact, then its manifest."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import msgspec

from amlstack.artifact.manifest import plain_name, sign_manifest, write_manifest
from amlstack.artifact.names import MODEL_JSON, PROFILE_FILE, SAMPLE_INPUT
from amlstack.artifact.schema import ModelCard, to_json


def write_artifact(
    folder: Path,
    card: ModelCard,
    onnx_model: bytes,
    *,
    sample: list[dict[str, Any]],
    profile: Mapping[str, Any] | None = None,
    extra_json: Mapping[str, Any] | None = None,
    report: Callable[[Path], None] | None = None,
    signing_key: Path | None = None,
) -> Path:
    """Write ``folder`` whole: the graph, model.json, the sample rows, the drift profile, any
    ``extra_json`` files (name -> document), the ``report`` folder, and last the manifest
    (signed with the Ed25519 private key ``signing_key`` when given: MANIFEST.sig)."""
    card_json = to_json(card)
    msgspec.json.decode(card_json, type=ModelCard)  # never write a card that would not read back
    plain_name(folder, card.model.file, "model.json model.file", nested=False)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / card.model.file).write_bytes(onnx_model)
    (folder / MODEL_JSON).write_bytes(card_json)
    (folder / SAMPLE_INPUT).write_bytes(to_json({"data": sample}))
    if profile is not None:
        (folder / PROFILE_FILE).write_bytes(to_json(profile))
    for name, doc in (extra_json or {}).items():
        (folder / name).write_bytes(to_json(doc))
    if report is not None:
        report(folder / "report")
    write_manifest(folder)
    if signing_key is not None:
        sign_manifest(folder, signing_key)
    return folder

"""MANIFEST.json: the sha256 of every file of an artifact, written last and checked first.

An artifact holds plain files only, each named by a relative path inside its folder: a symbolic
link anywhere in it (to a file or a folder, inside or outside), a path with ``..`` or an absolute
path in the manifest or in model.json is refused, so nothing outside the folder is ever read.
`read_verified` reads every file once, with its hash checked on the bytes read: the caller keeps
those bytes and never needs the disk again (the scorer's workers build their model from them).

Signed artifacts: ``amlstack train --sign-key KEY.pem`` (an Ed25519 private key) writes
MANIFEST.sig, the signature of MANIFEST.json's bytes. A reader given the public key
(the scorer's AMLSTACK_MANIFEST_PUBLIC_KEY) refuses an artifact whose manifest is unsigned or
signed by another key, so changing a file and re-hashing the manifest is no longer enough.
Without a public key the signature is not checked. Needs the ``cryptography`` package.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from amlstack.artifact.names import MANIFEST, MANIFEST_SIGNATURE

_CHUNK = 1 << 20


class ArtifactError(Exception):
    """The artifact is missing, incomplete, tampered with or not an amlstack artifact."""


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def artifact_holding(path: Path) -> Path | None:
    """The artifact folder ``path`` is in or is (one holding MANIFEST.json), else None: a
    file written there is one its manifest does not list, and the artifact stops loading."""
    for folder in (path.resolve(), *path.resolve().parents):
        if (folder / MANIFEST).is_file():
            return folder
    return None


def plain_name(directory: Path, rel: str, where: str, *, nested: bool = True) -> str:
    """``rel`` if it names a file inside the artifact: relative, no ``..``, no empty or ``.``
    parts, no backslash (``nested=False``: one file name, no folder either)."""
    if (
        not isinstance(rel, str)
        or not rel
        or "\\" in rel
        or "\x00" in rel
        or rel.startswith("/")
        or any(part in ("", ".", "..") for part in rel.split("/"))
        or (not nested and "/" in rel)
    ):
        kind = "a plain file name" if not nested else "a relative path inside the artifact"
        raise ArtifactError(
            f"{directory}: {where} names {rel!r}, which is not {kind} (no '..', no absolute path)"
        )
    return rel


def artifact_files(directory: Path) -> list[str]:
    """Every file under ``directory`` (relative POSIX paths, sorted); refuses a symbolic link
    anywhere in it and anything that is not a plain file or folder, naming it."""
    found: list[str] = []
    pending = [""]
    while pending:
        prefix = pending.pop()
        try:
            entries = sorted(os.scandir(directory / prefix), key=lambda e: e.name)
        except OSError as exc:
            raise ArtifactError(f"{directory}: cannot list {prefix or '.'} ({exc})") from None
        for entry in entries:
            rel = prefix + entry.name
            if entry.is_symlink():
                raise ArtifactError(
                    f"{directory}: {rel} is a symbolic link; an artifact holds only plain files "
                    "inside its folder (copy the file in instead of linking it)"
                )
            if entry.is_dir(follow_symlinks=False):
                pending.append(rel + "/")
            elif entry.is_file(follow_symlinks=False):
                found.append(rel)
            else:
                raise ArtifactError(f"{directory}: {rel} is not a plain file")
    return sorted(found)


def _read_plain(directory: Path, rel: str) -> bytes:
    """The bytes of one file of the artifact, refusing a link put in its place meanwhile."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(directory / rel, flags)
    except FileNotFoundError:
        raise ArtifactError(f"{directory}: file {rel} listed in {MANIFEST} is missing") from None
    except OSError as exc:
        raise ArtifactError(f"{directory}: cannot read {rel} ({exc})") from None
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise ArtifactError(f"{directory}: {rel} is not a plain file")
        return handle.read()


def manifest_for(directory: Path) -> dict[str, Any]:
    """Build the manifest of every file under ``directory`` (the manifest itself excluded)."""
    files = {
        rel: hashlib.sha256(_read_plain(directory, rel)).hexdigest()
        for rel in artifact_files(directory)
        if rel not in (MANIFEST, MANIFEST_SIGNATURE)
    }
    return {"algorithm": "sha256", "files": files}


def write_manifest(directory: Path) -> None:
    (directory / MANIFEST).write_text(json.dumps(manifest_for(directory), indent=2) + "\n")


@dataclass(frozen=True)
class ArtifactFiles:
    """An artifact read into memory: every file's bytes, and the manifest's digests when the
    hashes were checked. Nothing here touches the disk again."""

    directory: Path
    data: dict[str, bytes] = field(repr=False)
    digests: dict[str, str] = field(default_factory=dict)

    def get(self, rel: str) -> bytes | None:
        return self.data.get(rel)


def _ed25519():
    try:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ed25519
    except ImportError:  # pragma: no cover - in the scorer image and the dev and train extras
        raise ArtifactError(
            "signed manifests need the 'cryptography' package (pip install cryptography)"
        ) from None
    return InvalidSignature, serialization, ed25519


def load_public_key(value: str) -> Any:
    """An Ed25519 public key from a PEM file's path, PEM text, or the raw 32 bytes in base64;
    ValueError saying what is wrong."""
    _, serialization, ed25519 = _ed25519()
    text = value.strip()
    if not text.startswith("-----BEGIN") and Path(text).is_file():
        text = Path(text).read_text().strip()
    try:
        if text.startswith("-----BEGIN"):
            key = serialization.load_pem_public_key(text.encode())
        else:
            key = ed25519.Ed25519PublicKey.from_public_bytes(base64.b64decode(text, validate=True))
    except (ValueError, TypeError) as exc:
        raise ValueError(
            f"not an Ed25519 public key (a PEM file, PEM text or 32 bytes in base64): {exc}"
        ) from None
    if not isinstance(key, ed25519.Ed25519PublicKey):
        raise ValueError(f"a {type(key).__name__}, not an Ed25519 public key")
    return key


def sign_manifest(directory: Path, private_key: Path) -> None:
    """Write MANIFEST.sig: the Ed25519 signature of ``directory``'s MANIFEST.json."""
    _, serialization, ed25519 = _ed25519()
    try:
        key = serialization.load_pem_private_key(Path(private_key).read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise ArtifactError(f"{private_key}: not a readable unencrypted PEM key ({exc})") from None
    if not isinstance(key, ed25519.Ed25519PrivateKey):
        raise ArtifactError(f"{private_key}: a {type(key).__name__}, not an Ed25519 private key")
    signature = key.sign(_read_plain(directory, MANIFEST))
    (directory / MANIFEST_SIGNATURE).write_text(base64.b64encode(signature).decode() + "\n")


def _check_signature(directory: Path, manifest: bytes, public_key: Any) -> None:
    invalid_signature, _, _ = _ed25519()
    if MANIFEST_SIGNATURE not in artifact_files(directory):
        raise ArtifactError(
            f"{directory}: {MANIFEST} is not signed ({MANIFEST_SIGNATURE} is missing) and a "
            "public key is configured; sign it at training (amlstack train --sign-key)"
        )
    try:
        signature = base64.b64decode(_read_plain(directory, MANIFEST_SIGNATURE), validate=False)
        public_key.verify(signature, manifest)
    except (invalid_signature, ValueError):
        raise ArtifactError(
            f"{directory}: {MANIFEST_SIGNATURE} does not verify {MANIFEST} with the configured "
            "public key (the manifest was changed after signing, or another key signed it)"
        ) from None


def _hint(directory: Path) -> str:
    """Where the artifacts are when ``directory`` is the model's folder of versions (``out/name``
    rather than ``out/name/1``), as `amlstack train` lays them out."""
    try:
        found = [p.name for p in directory.iterdir() if (p / MANIFEST).is_file()]
    except OSError:
        return ""
    versions = sorted(found, key=_version_order)
    if not versions:
        return ""
    return f" (it holds versions {', '.join(versions)}: pass {directory / versions[-1]})"


def _version_order(name: str) -> tuple[bool, int, str]:
    """Numbered versions first, by number; a digit int() refuses ("²") is a name, not one."""
    number = name.isascii() and name.isdigit()
    return (not number, int(name) if number else 0, name)


def read_verified(directory: Path, *, verify: bool = True, public_key: Any = None) -> ArtifactFiles:
    """Read every file of the artifact once; with ``verify``, check each against MANIFEST.json
    (refusing missing, changed or unlisted files) on the very bytes returned, and with
    ``public_key`` (`load_public_key`) the manifest's signature first."""
    directory = Path(directory)
    if not directory.is_dir():
        raise ArtifactError(f"{directory}: no such artifact directory")
    if verify and not (directory / MANIFEST).is_file():  # before walking what may be a home
        raise ArtifactError(
            f"{directory}: no {MANIFEST}; not an amlstack artifact{_hint(directory)}"
        )
    present = artifact_files(directory)
    if not verify:
        return ArtifactFiles(directory, {rel: _read_plain(directory, rel) for rel in present})
    manifest_path = directory / MANIFEST
    manifest = _read_plain(directory, MANIFEST)
    if public_key is not None:
        _check_signature(directory, manifest, public_key)
    try:
        listed = json.loads(manifest)["files"]
        if not isinstance(listed, dict):
            raise TypeError("files is not an object")
    except (ValueError, KeyError, TypeError) as exc:
        raise ArtifactError(f"{manifest_path}: unreadable manifest ({exc})") from None
    data: dict[str, bytes] = {}
    for rel, expected in listed.items():
        plain_name(directory, rel, MANIFEST)
        if rel not in present:
            raise ArtifactError(f"{directory}: file {rel} listed in {MANIFEST} is missing")
        raw = _read_plain(directory, rel)
        if hashlib.sha256(raw).hexdigest() != expected:
            raise ArtifactError(
                f"{directory}: file {rel} does not match its sha256 in {MANIFEST} "
                "(the artifact was modified after it was written)"
            )
        data[rel] = raw
    extra = sorted(set(present) - set(listed) - {MANIFEST, MANIFEST_SIGNATURE})
    if extra:
        raise ArtifactError(f"{directory}: file {extra[0]} is not listed in {MANIFEST}")
    return ArtifactFiles(directory, data, dict(listed))


def verify_manifest(directory: Path, *, public_key: Any = None) -> dict[str, str]:
    """Check every file against MANIFEST.json; refuse missing, changed or unlisted files and
    any symbolic link. Returns the listed digests (relative path -> sha256)."""
    return read_verified(directory, public_key=public_key).digests

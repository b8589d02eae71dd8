"""A folder model registry: versions, stage tags, lineage; artifacts stay where training wrote them.

Layout: ``<root>/<name>/index.json`` holds every version's entry (artifact path, lineage, metrics,
the run that made it), the stage tags (``staging``, ``production``) and an append-only history
of tag moves, so ``rollback`` knows what production was before. ``<root>/<name>/<version>/``
keeps per-version data too large for the index (the hashes of the rows the model trained on).

An entry points at a folder it does not own, which may later hold another model (a new
`stack.sh model DIR` copies over it), so it also records the artifact's identity: the sha256 of
its MANIFEST.json, which lists the sha256 of every file. Whenever the registry hands an
artifact back (``artifact_path``, and before a tag moves to it) it checks the files against the
manifest and the manifest against that digest, and refuses a changed folder in one line.
Entries written before identities were recorded carry none and are not checked.
"""

from __future__ import annotations

import getpass
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from amlstack.artifact.manifest import ArtifactError, sha256_file, verify_manifest
from amlstack.artifact.names import MANIFEST
from amlstack.errors import DataError, UserError
from amlstack.pipeline.jsonio import read_json, write_json

TAGS = ("staging", "production")
INDEX = "index.json"
TRAINED_ROWS = "trained_rows.npy"
TRAINED_COLUMNS = "trained_rows_columns"  # an entry's field: the columns its row hashes cover
LOCK = ".lock"  # held while the index is read and rewritten
ANY_VERSION = object()  # set_tag's ``replacing`` when the tag may point anywhere now
# an entry's metrics say which rows measured them: training's own split, or a run's holdout
MEASURED_BY_TRAINING = "training split"
MEASURED_BY_PIPELINE = "run holdout"
IDENTITY = "artifact_sha256"  # an entry's field: the sha256 of the artifact's MANIFEST.json


class TagMoved(UserError):
    """A tag no longer points at the version the caller compared with (`Registry.set_tag`)."""


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def who() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry in some containers
        return "unknown"


def artifact_identity(directory: Path) -> str:
    """The sha256 of the artifact's MANIFEST.json, once every file matches that manifest: the
    manifest lists each file's sha256, so its digest stands for the whole artifact."""
    verify_manifest(directory)
    return sha256_file(Path(directory) / MANIFEST)


def code_version(repo: Path | None = None) -> str:
    """``git describe`` of the code, or the package version when git is not available."""
    from amlstack import __version__

    try:
        out = subprocess.run(
            ["git", "describe", "--always", "--dirty", "--tags"],
            cwd=repo or Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
        return f"{__version__}+{out.stdout.strip()}"
    except (OSError, subprocess.SubprocessError):
        return __version__


_INDEX_SHAPE = {"versions": dict, "tags": dict, "history": list}


@dataclass
class Registry:
    """The registry of one model name under ``root``."""

    root: Path
    name: str

    def __post_init__(self) -> None:
        from amlstack.training.store import check_name

        check_name(self.name)  # a folder under root: `../x` would be outside it

    @property
    def folder(self) -> Path:
        return self.root / self.name

    def _index(self) -> dict[str, Any]:
        path = self.folder / INDEX
        index = read_json(path, shape=dict)
        if index is None:
            return {"name": self.name, "versions": {}, "tags": {}, "history": []}
        if not all(isinstance(index.get(k), t) for k, t in _INDEX_SHAPE.items()):
            raise DataError(f"{path}: not a registry index (edited by hand?)")
        return index

    def _save(self, index: dict[str, Any]) -> None:
        write_json(self.folder / INDEX, index)

    @contextmanager
    def _locked(self, create: bool = False) -> Iterator[None]:
        """Hold the registry's lock from reading the index to saving it: two runs registering
        at once (a schedule and a manual run) would otherwise each save an index without the
        other's version. ``create``: make the registry's folder (a first registration); a
        registry that is not there (a mistyped --name) gets no folder. No lock where the
        platform has no ``flock`` (Windows) or the folder is read-only (nothing can be saved
        there; a no-op, such as promoting the version already in production, still works)."""
        try:
            import fcntl
        except ImportError:
            yield
            return
        if create:
            self.folder.mkdir(parents=True, exist_ok=True)
        try:
            handle = open(self.folder / LOCK, "a")  # noqa: SIM115 (closed below)
        except OSError:
            yield
            return
        with handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    # -- reading ------------------------------------------------------------------------
    def versions(self) -> list[dict[str, Any]]:
        index = self._index()
        tags_by_version: dict[str, list[str]] = {}
        for tag, version in index["tags"].items():
            tags_by_version.setdefault(version, []).append(tag)
        return [
            {**entry, "tags": sorted(tags_by_version.get(v, []))}
            for v, entry in index["versions"].items()
        ]

    def get(self, version: str) -> dict[str, Any]:
        """One version's entry; ``production``/``staging`` resolve the tag."""
        index = self._index()
        version = index["tags"].get(version, version)
        entry = index["versions"].get(str(version))
        if entry is None:
            known = ", ".join(index["versions"]) or "none"
            raise UserError(f"model {self.name!r} has no version {version!r} (known: {known})")
        return entry

    def tagged(self, tag: str) -> dict[str, Any] | None:
        version = self._index()["tags"].get(tag)
        return None if version is None else self.get(version)

    def artifact_path(self, entry: dict[str, Any]) -> Path:
        """Where a version's artifact is, once it is checked to be the artifact registered."""
        stored = Path(entry["artifact"])
        path = stored if stored.is_absolute() else self.folder / stored
        expected = entry.get(IDENTITY)
        if expected is None:  # registered before identities were recorded: nothing to check
            return path
        try:
            if artifact_identity(path) == expected:
                return path
            problem = f"its {MANIFEST} is not the one registered: another artifact was put there"
        except ArtifactError as exc:
            problem = str(exc).removeprefix(f"{path}: ")
        raise UserError(
            f"model {self.name!r} version {entry['version']}: {path} no longer holds the artifact "
            f"registered ({problem}); restore that folder, or register what it holds now as a "
            "new version (amlstack registry add)"
        )

    def trained_rows(self, version: str) -> np.ndarray | None:
        path = self.folder / str(version) / TRAINED_ROWS
        return np.load(path) if path.is_file() else None

    def trained_columns(self, version: str) -> list[str] | None:
        """The columns ``trained_rows`` hashed (`validate.row_hashes`); None: every column of
        the data file, in its order (entries registered before this was recorded)."""
        return self.get(version).get(TRAINED_COLUMNS)

    def history(self) -> list[dict[str, Any]]:
        return self._index()["history"]

    # -- writing ------------------------------------------------------------------------
    def register(
        self,
        artifact: Path,
        *,
        lineage: dict[str, Any],
        metrics: dict[str, Any] | None = None,
        trained_rows: np.ndarray | None = None,
        trained_columns: list[str] | None = None,
        copy: bool = False,
    ) -> dict[str, Any]:
        """Add an artifact as the next registry version (the same artifact twice: one version; the
        same folder holding another artifact: a new version).

        Registry versions are the registry's own (1, 2, ...): artifacts written under different
        roots may share a version number; the entry keeps the artifact's as ``artifact_version``.
        ``copy`` stores the artifact inside the registry (a path relative to it), for registries
        that move between machines, such as a datastore folder shared by Azure ML jobs.
        ``trained_columns``: the columns ``trained_rows`` hashed (`validate.model_columns`).
        """
        with self._locked(create=True):
            index = self._index()
            source = Path(artifact).resolve()
            try:
                identity = artifact_identity(source)
            except ArtifactError as exc:  # a user's folder, not a bug: one line
                raise UserError(str(exc)) from None
            for entry in index["versions"].values():
                # the same folder with other contents is another artifact: a new version
                if entry.get("source") == str(source) and entry.get(IDENTITY, identity) == identity:
                    return entry
            version = str(max((int(v) for v in index["versions"]), default=0) + 1)
            stored: Path = source
            if copy:
                stored = Path(version) / "artifact"
                shutil.copytree(source, self.folder / stored, dirs_exist_ok=True)
            entry = {
                "name": self.name,
                "version": version,
                "artifact": str(stored),
                "source": str(source),
                IDENTITY: identity,
                "artifact_version": str((read_json(source / "model.json") or {}).get("version")),
                "registered_at": now(),
                "registered_by": who(),
                "metrics": metrics or {},
                **lineage,
            }
            if trained_columns is not None:
                entry[TRAINED_COLUMNS] = sorted(trained_columns)
            if trained_rows is not None:
                (self.folder / version).mkdir(parents=True, exist_ok=True)
                np.save(self.folder / version / TRAINED_ROWS, np.asarray(trained_rows, np.uint64))
            index["versions"][version] = entry
            index["history"].append(
                {"at": now(), "by": who(), "action": "register", "version": version}
            )
            self._save(index)
            return entry

    def set_tag(
        self, tag: str, version: str, *, reason: str = "", replacing: Any = ANY_VERSION
    ) -> dict[str, Any]:
        """Point ``tag`` at ``version``. ``replacing``: the version (or None) the tag must point
        at now, checked under the lock, so that a run never moves it past a version it was not
        compared with (another run's, promoted in between)."""
        if tag not in TAGS:
            raise UserError(f"unknown stage tag {tag!r}; use one of {', '.join(TAGS)}")
        with self._locked():
            index = self._index()
            version = str(version)
            if version not in index["versions"]:
                raise UserError(f"model {self.name!r} has no version {version!r}")
            previous = index["tags"].get(tag)
            if previous == version:  # already there (a resumed run promoting again): no event
                return index["versions"][version]
            if replacing is not ANY_VERSION and previous != replacing:
                raise TagMoved(
                    f"{tag} is now version {previous} of {self.name!r}, not {replacing or 'none'}"
                    f" as when version {version} was evaluated: it was never compared with it; "
                    "run the pipeline again"
                )
            self.artifact_path(index["versions"][version])  # never tag a folder that changed
            index["tags"][tag] = version
            index["history"].append(
                {
                    "at": now(),
                    "by": who(),
                    "action": "tag",
                    "tag": tag,
                    "version": version,
                    "previous": previous,
                    "reason": reason,
                }
            )
            self._save(index)
            return index["versions"][version]

    def promote(
        self,
        version: str,
        tag: str = "production",
        *,
        reason: str = "",
        replacing: Any = ANY_VERSION,
    ) -> dict:
        return self.set_tag(tag, version, reason=reason or "promoted", replacing=replacing)

    def rollback(self, tag: str = "production") -> dict[str, Any]:
        """Move ``tag`` back to the version it pointed at before its latest move."""
        index = self._index()
        current = index["tags"].get(tag)
        if current is None:
            raise UserError(f"model {self.name!r} has no {tag} version to roll back")
        for event in reversed(index["history"]):
            if event.get("action") == "tag" and event.get("tag") == tag:
                if event["version"] == current and event.get("previous"):
                    return self.set_tag(tag, event["previous"], reason=f"rollback from {current}")
                break
        raise UserError(f"model {self.name!r}: {tag} version {current} has no earlier version")

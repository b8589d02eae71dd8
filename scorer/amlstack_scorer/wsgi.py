"""The WSGI entry point for gunicorn: ``amlstack_scorer.wsgi:app`` (settings from the environment).

``app`` is built on first access (module ``__getattr__``), so importing this module has no side
effects; ``amlstack_scorer.wsgi:build()`` works as well.

The artifact is read from disk once per container: gunicorn's master calls `preload` before it
forks any worker (gunicorn.conf.py), which reads every file and checks it against the manifest
into memory; each worker then builds its onnxruntime session from those bytes after fork
(sessions are not fork-safe, bytes are). A worker that replaces a dead or recycled one, or the
workers SIGHUP starts, get the same verified bytes: a file changed on disk meanwhile is never
read. Without a preloading master (another WSGI server), `build` reads the folder itself.
"""

from __future__ import annotations

import logging
import sys
from typing import NoReturn

from flask import Flask

from amlstack.artifact.manifest import ArtifactError, ArtifactFiles, read_verified
from amlstack.artifact.reader import Model
from amlstack_scorer import logs
from amlstack_scorer.app import create_app
from amlstack_scorer.contract import MODEL_DIR_ENV
from amlstack_scorer.observers import BufferedObserver, Observer
from amlstack_scorer.settings import Settings, SettingsError

log = logging.getLogger("amlstack.scorer")
_app: Flask | None = None
_artifact: ArtifactFiles | None = None  # read and verified once, before the workers fork
# gunicorn stops (instead of respawning forever) when a worker exits with this code.
WORKER_BOOT_ERROR = 3


def _fail(message: str) -> NoReturn:
    print(f"amlstack scorer: {message}", file=sys.stderr, flush=True)
    sys.exit(WORKER_BOOT_ERROR)


def load_settings() -> Settings:
    """Settings from the environment; a bad variable exits with one line naming it."""
    try:
        return Settings.from_env()
    except SettingsError as exc:
        _fail(str(exc))


def preload(settings: Settings) -> ArtifactFiles:
    """Read and verify the artifact, once per process (gunicorn's master, before any fork).

    A second call (gunicorn's SIGHUP reload running the config again) keeps the bytes of the
    first: SIGHUP restarts the workers on the model verified at start, and they re-read the key
    file; it never re-reads the artifact (a changed one is served only by a new container).
    Raises ArtifactError or SettingsError.
    """
    global _artifact
    directory = settings.require_model_dir()
    if _artifact is None:
        _artifact = read_verified(directory, public_key=settings.public_key())
        log.info("artifact %s read and verified (%d files)", directory, len(_artifact.data))
    elif directory != _artifact.directory:
        log.warning(
            "%s changed to %s: ignored, this container serves %s until it is replaced",
            MODEL_DIR_ENV,
            directory,
            _artifact.directory,
        )
    return _artifact


def _observers(model: Model) -> list[Observer]:
    """The live drift profile (drift.py) when the artifact has a profile.json."""
    profile = model.profile()
    if profile is None:
        return []
    try:
        from amlstack_scorer.drift import LiveProfile
    except ImportError:
        return []
    live = LiveProfile(profile.get("features", {}), model.feature_names)
    return [BufferedObserver(live, len(model.feature_names))]


def build() -> Flask:
    """Read settings, load the artifact (the master's verified bytes when it preloaded them,
    else the folder, verified here), build the app; exit with one line on failure."""
    settings = load_settings()
    logs.configure(settings.log_level)
    try:
        if _artifact is not None:  # verified (and its signature checked) by the master
            model = Model(_artifact, threads=1, parallel_batches=True)
        else:
            model = Model(
                settings.require_model_dir(),
                public_key=settings.public_key(),
                parallel_batches=True,
            )
        return create_app(settings, model, observers=_observers(model))
    except (SettingsError, ArtifactError) as exc:
        _fail(str(exc))


def __getattr__(name: str) -> Flask:
    global _app
    if name != "app":
        raise AttributeError(name)
    if _app is None:
        _app = build()
    return _app

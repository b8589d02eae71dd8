"""The WSGI entry point for gunicorn: ``amlstack_scorer.wsgi:app`` (settings from the environment).

``app`` is built on first access (module ``__getattr__``), so importing this module has no side
effects; ``amlstack_scorer.wsgi:build()`` works as well.
"""

from __future__ import annotations

import json
import logging
import sys
from typing import NoReturn

from flask import Flask

from amlstack.artifact.manifest import ArtifactError
from amlstack.artifact.reader import Model
from amlstack_scorer import logs
from amlstack_scorer.app import create_app
from amlstack_scorer.observers import BufferedObserver, Observer
from amlstack_scorer.settings import Settings, SettingsError

log = logging.getLogger("amlstack.scorer")
_app: Flask | None = None
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


def _observers(model: Model) -> list[Observer]:
    """The live drift profile (drift.py) when the artifact has a profile.json."""
    path = model.directory / "profile.json"
    if not path.is_file():
        return []
    try:
        from amlstack_scorer.drift import LiveProfile
    except ImportError:
        return []
    features = json.loads(path.read_text()).get("features", {})
    profile = LiveProfile(features, model.feature_names)
    return [BufferedObserver(profile, len(model.feature_names))]


def build() -> Flask:
    """Read settings, load and verify the artifact, build the app; exit with one line on failure."""
    settings = load_settings()
    logs.configure(settings.log_level)
    try:
        model = Model(settings.require_model_dir(), threads=1)
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

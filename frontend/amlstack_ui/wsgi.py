"""gunicorn entry point: ``gunicorn amlstack_ui.wsgi:app``; bad settings exit with one line."""

from __future__ import annotations

import sys

from amlstack_ui.app import create_app
from amlstack_ui.settings import Settings, SettingsError


def _app():
    try:
        settings = Settings.from_env()
        settings.make_jobs_dir()
    except SettingsError as exc:
        print(f"amlstack-ui: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    return create_app(settings)


app = _app()

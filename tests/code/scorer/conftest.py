"""Shared fixtures for the scorer tests: a real artifact, settings with keys, an app, a client."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from scorer_artifact_factory import build
from scorer_support import PRIMARY, make_settings

from amlstack.artifact.reader import Model
from amlstack_scorer.app import create_app
from amlstack_scorer.settings import Settings


@pytest.fixture(scope="session")
def golden_artifact(tmp_path_factory) -> Path:
    """The deterministic artifact the golden swagger files are generated from."""
    return build(tmp_path_factory.mktemp("golden-artifact"))


@pytest.fixture(scope="session")
def scorer_artifact(request, golden_artifact) -> Path:
    """The session's tiny trained artifact (tests/conftest.py), or the deterministic one."""
    try:
        tiny = request.getfixturevalue("tiny_artifact")
    except pytest.FixtureLookupError:
        return golden_artifact
    return Path(getattr(tiny, "directory", tiny))


@pytest.fixture(scope="session")
def model(scorer_artifact) -> Model:
    return Model(scorer_artifact)


@pytest.fixture(scope="session")
def sample(scorer_artifact) -> list[dict]:
    return json.loads((scorer_artifact / "sample_input.json").read_text())["data"]


@pytest.fixture
def settings() -> Settings:
    return make_settings()


@pytest.fixture
def app(settings, model):
    return create_app(settings, model)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {PRIMARY}"}

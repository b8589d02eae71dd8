"""Shared fixtures: a small real artifact trained once per test session (not a mock)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "data" / "bankmarketing_train.csv"
TINY_ROWS = 4000


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def bank_csv() -> Path:
    return DATA


@pytest.fixture(scope="session")
def small_csv(tmp_path_factory) -> Path:
    """The first TINY_ROWS data rows of the shipped CSV (fast to train on)."""
    path = tmp_path_factory.mktemp("data") / "bank_small.csv"
    with DATA.open() as src, path.open("w") as dst:
        for i, line in enumerate(src):
            if i > TINY_ROWS:
                break
            dst.write(line)
    return path


@pytest.fixture(scope="session")
def tiny_training(tmp_path_factory, small_csv):
    """A real training run: LightGBM + logistic regression, briefly searched, on a small CSV."""
    from amlstack.training.context import BANK_CONTEXTS
    from amlstack.training.train import TrainConfig, train

    out = tmp_path_factory.mktemp("artifacts")
    config = TrainConfig(
        data=small_csv,
        target="y",
        out=out,
        name="bankmarketing",
        time_budget=None,
        max_iter=6,
        learners=("lgbm", "lr"),
        seed=7,
        contexts=BANK_CONTEXTS,  # so every suite also exercises the context lookup
    )
    return train(config)


@pytest.fixture(scope="session")
def tiny_artifact(request) -> Path:
    """The folder of a real small artifact (AMLSTACK_TEST_ARTIFACT reuses an existing one)."""
    reuse = os.environ.get("AMLSTACK_TEST_ARTIFACT")
    if reuse:
        return Path(reuse)
    return request.getfixturevalue("tiny_training").path

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
def tiny_artifact(tmp_path_factory, small_csv) -> Path:
    """A real artifact: LightGBM + logistic regression searched briefly on a small CSV.

    Set AMLSTACK_TEST_ARTIFACT to reuse an existing artifact folder instead (faster locally).
    """
    reuse = os.environ.get("AMLSTACK_TEST_ARTIFACT")
    if reuse:
        return Path(reuse)
    from amlstack.train import TrainConfig, train

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
    )
    return train(config).path

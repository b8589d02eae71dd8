"""Fixtures for the pipeline tests: small real slices of the shipped CSV and a tiny trainer."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
DATA = REPO / "data" / "bankmarketing_train.csv"
sys.path.insert(0, str(HERE))  # tiny_trainer, for the pipeline's `--trainer` option too


@pytest.fixture(scope="session")
def bank() -> pd.DataFrame:
    return pd.read_csv(DATA)


@pytest.fixture
def first_rows(bank, tmp_path) -> Path:
    """3000 rows: the data a first model is trained on."""
    path = tmp_path / "data_v1.csv"
    bank.head(3000).to_csv(path, index=False)
    return path


@pytest.fixture
def appended_rows(bank, tmp_path) -> Path:
    """The same 3000 rows plus 1500 new ones, as a person appending data would produce."""
    path = tmp_path / "data_v2.csv"
    bank.head(4500).to_csv(path, index=False)
    return path


@pytest.fixture(autouse=True)
def compose_tag_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    """The local source image is `amlstack/scorer:local`, whatever tag the developer's shell or
    `.env` gives Compose (an empty AMLSTACK_TAG reads as unset, as in `${AMLSTACK_TAG:-local}`)."""
    monkeypatch.setenv("AMLSTACK_TAG", "")

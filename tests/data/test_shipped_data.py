"""Data suite: the shipped CSV is the documented file; the inferred schema matches its README."""

from __future__ import annotations

import numpy as np
import pytest

from amlstack.artifact.manifest import sha256_file
from amlstack.training.data import load_dataset, split_holdout

SHA256 = "8486deac8524001363f4257f3ece9cb6126beac8070b6b4b8c6e63713217a502"


@pytest.fixture(scope="module")
def dataset(bank_csv):
    return load_dataset(bank_csv, "y")


def test_file_is_the_documented_one(bank_csv, repo_root):
    assert sha256_file(bank_csv) == SHA256
    readme = (repo_root / "data" / "README.md").read_text()
    assert SHA256 in readme and "CC BY 4.0" in readme and "10.24432/C5K306" in readme


def test_shape_and_balance(dataset):
    assert len(dataset.target) == 32_950
    assert dataset.classes == ["no", "yes"]
    assert int((dataset.target == 1).sum()) == 3_692


def test_inferred_schema(dataset):
    kinds = {f["name"]: f for f in dataset.features}
    assert len(kinds) == 20
    assert kinds["age"]["kind"] == "numeric" and kinds["age"]["dtype"] == "int"
    assert (kinds["age"]["min"], kinds["age"]["max"]) == (17, 98)
    assert kinds["cons.price.idx"]["dtype"] == "float"
    assert len(kinds["job"]["categories"]) == 12
    assert len(kinds["month"]["categories"]) == 10 and "jan" not in kinds["month"]["categories"]
    assert not any(f["nullable"] for f in dataset.features)  # "unknown" is a category, not a gap


def test_holdout_split_is_stratified_disjoint_and_seeded(dataset):
    train, test = split_holdout(dataset.target, 0.2, 42)
    again_train, again_test = split_holdout(dataset.target, 0.2, 42)
    assert np.array_equal(test, again_test) and np.array_equal(train, again_train)
    assert not set(train) & set(test)
    assert len(train) + len(test) == len(dataset.target)
    rate = dataset.target.mean()
    assert abs(dataset.target[test].mean() - rate) < 0.002

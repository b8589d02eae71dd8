"""The quality-ceiling benchmark runs end to end on a sample; its figures are sanity-checked."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[3]


def test_bench_quality_prints_every_recipe_with_plausible_aucs() -> None:
    proc = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "bench_quality.py"), "--rows", "3000"],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.splitlines()
    assert any(line.startswith("bankmarketing_train.csv: 3,000 rows") for line in lines)
    recipes = ("lightgbm 250 trees", "lightgbm 1500 trees", "xgboost 600 trees")
    for recipe in (*recipes, "mean of the above"):
        row = next(line for line in lines if line.startswith(recipe))
        aucs = [float(v) for v in row[len(recipe) :].split()[:4]]  # CV, holdout mean, min, max
        assert all(0.85 < v <= 1.0 for v in aucs), row
        assert aucs[2] <= aucs[1] <= aucs[3]
    assert lines[-1].startswith("best CV AUC 0.") and "to the target" in lines[-1]

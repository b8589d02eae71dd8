"""OpenMP threads sleep while they wait (`train._sleeping_threads`): libgomp reads
OMP_WAIT_POLICY once, when it loads, so nothing on the way to `train()` may load it first."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]

pytestmark = pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="Linux /proc")

CALL_TRAIN = """
import os, sys
from pathlib import Path
from amlstack.training.train import TrainConfig, train
loaded = any("libgomp" in line for line in open("/proc/self/maps"))
try:
    train(TrainConfig(data=Path(sys.argv[1]), target="y", out=Path(sys.argv[2])))
except Exception as exc:
    pass
print(loaded, os.environ.get("OMP_WAIT_POLICY"))
"""


def _run(script: str, *args: str, policy: str | None = None) -> str:
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if policy is not None:
        env["OMP_WAIT_POLICY"] = policy
    done = subprocess.run(
        [sys.executable, "-c", script, *args], capture_output=True, text=True, env=env,
        cwd=REPO, timeout=120, check=True,
    )  # fmt: skip
    return done.stdout.strip()


def test_the_commands_that_train_load_no_openmp_before_training_starts():
    script = (
        "import amlstack.cli, amlstack.commands.model, amlstack.pipeline.stages, "
        "amlstack.training.train\n"
        "print(any('libgomp' in line for line in open('/proc/self/maps')))"
    )
    assert _run(script) == "False"


def test_training_makes_openmp_threads_sleep_while_they_wait(tmp_path):
    assert _run(CALL_TRAIN, str(tmp_path / "absent.csv"), str(tmp_path)) == "False PASSIVE"


def test_a_users_own_wait_policy_is_kept(tmp_path):
    said = _run(CALL_TRAIN, str(tmp_path / "absent.csv"), str(tmp_path), policy="ACTIVE")
    assert said == "False ACTIVE"

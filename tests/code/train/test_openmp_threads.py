"""The thread settings of a training run (`training.threads`): libgomp reads its variables
once, when it loads, so nothing on the way to `train()` may load it first; a user's own
choice is kept."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from amlstack.training import threads

REPO = Path(__file__).resolve().parents[3]

CALL_TRAIN = """
import os, sys
from pathlib import Path
from amlstack.training.train import TrainConfig, train
loaded = any("libgomp" in line for line in open("/proc/self/maps"))
try:
    train(TrainConfig(data=Path(sys.argv[1]), target="y", out=Path(sys.argv[2])))
except Exception:
    pass
print(loaded, os.environ.get("GOMP_SPINCOUNT"))
"""


def _run(script: str, *args: str, **env_added: str) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    done = subprocess.run(
        [sys.executable, "-c", script, *args], capture_output=True, text=True,
        env=env | env_added, cwd=REPO, timeout=120, check=True,
    )  # fmt: skip
    return done.stdout.strip()


linux = pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="Linux /proc")


@linux
def test_the_commands_that_train_load_no_openmp_before_training_starts():
    script = (
        "import amlstack.cli, amlstack.commands.model, amlstack.pipeline.stages, "
        "amlstack.training.train\n"
        "print(any('libgomp' in line for line in open('/proc/self/maps')))"
    )
    assert _run(script) == "False"


@linux
def test_training_makes_openmp_threads_sleep_after_a_short_spin(tmp_path):
    said = _run(CALL_TRAIN, str(tmp_path / "absent.csv"), str(tmp_path))
    assert said == f"False {threads.SPIN_COUNT}"


@pytest.mark.parametrize("chosen", [{"OMP_WAIT_POLICY": "ACTIVE"}, {"GOMP_SPINCOUNT": "5"}])
def test_a_users_own_choice_of_how_threads_wait_is_kept(chosen):
    assert threads.environment(chosen) == {}
    assert threads.environment({"PATH": "/bin"}) == {"GOMP_SPINCOUNT": threads.SPIN_COUNT}


BLAS_IN_TRAIN = """
from pathlib import Path
from threadpoolctl import threadpool_info
import numpy
from amlstack.training import train as train_module

def _train(*args):
    return {i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}

train_module._train = _train
print(sorted(train_module.train(train_module.TrainConfig(data=Path("x.csv")))))
"""


def test_training_runs_blas_on_one_thread():
    assert _run(BLAS_IN_TRAIN, OPENBLAS_NUM_THREADS="2") == "[1]"


def test_blas_runs_on_one_thread_during_training_and_as_before_after():
    import numpy  # noqa: F401  (its OpenBLAS is the one the MLP's products run on)
    from threadpoolctl import threadpool_info

    def blas_threads() -> set[int]:
        return {i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}

    before = blas_threads()
    with threads.one_blas_thread():
        assert blas_threads() == {1}
    assert blas_threads() == before

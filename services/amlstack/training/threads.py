"""How the learners' libraries use the cores during a training run, on a quiet machine and on
one running something else (a browser, the compose stack, a CI job): `benchmarks/bench_threads.py`.

- LightGBM's and XGBoost's OpenMP threads (libgomp) wait for work spinning, 300,000 spins by
  default. Beside other busy processes a fit now and then took 10 to 40 times longer (a 0.08 s
  trial: 3.3 s; a 0.56 s one: 6.8 s), so the search ran fewer trials and refits estimated from
  them overran the budget. Spinning briefly, then sleeping (`SPIN_COUNT`), keeps the quiet
  machine's pace; sleeping at once (``OMP_WAIT_POLICY=PASSIVE``) cost a quiet machine 30 to
  100 %.
- The MLP's matrix products (numpy's OpenBLAS): on its batch sizes two threads are no faster
  than one on a quiet machine, and 2.7 to 3.4 times slower on a busy one.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping

SPIN_COUNT = "10000"  # libgomp's spins before a waiting thread sleeps (its default: 300,000)


def environment(current: Mapping[str, str]) -> dict[str, str]:
    """The variables to add to ``current`` (an environment): none when the user chose how
    OpenMP threads wait (either variable set)."""
    if "GOMP_SPINCOUNT" in current or "OMP_WAIT_POLICY" in current:
        return {}
    return {"GOMP_SPINCOUNT": SPIN_COUNT}


def settle_openmp() -> None:
    """Set `environment` in this process. libgomp reads it once, when it loads: call this
    before the first import of LightGBM, XGBoost or scikit-learn."""
    os.environ.update(environment(os.environ))


@contextlib.contextmanager
def one_blas_thread() -> Iterator[None]:
    """The BLAS libraries loaded so far (numpy's, which the MLP's products run on) on one
    thread, until the block ends."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1, user_api="blas"):
        yield

"""Benchmark the thread settings `amlstack train` runs with (`training.threads`) against the
libraries' defaults, on a quiet machine and on a busy one.

- LightGBM and XGBoost: OpenMP threads that wait spinning up to libgomp's default 300,000
  spins, against amlstack's `GOMP_SPINCOUNT` (spin briefly, then sleep); `OMP_WAIT_POLICY=PASSIVE`
  (sleep at once) is shown too, as the other choice.
- The MLP (scikit-learn's, on numpy's OpenBLAS): BLAS on every core against one thread.

Each cell is a fresh Python process (libgomp reads its variables once, when it loads) that fits
the same model ``--fits`` times on the same synthetic table with every core, and reports the
mean fit (what a search pays) and the slowest. "small" is a search trial's size (4,657 rows x
85 columns, 13 trees: caravan's search), "large" the bank data's encoded matrix (32,950 x 62,
60 trees). "busy" runs one CPU-bound process per core beside it (bounded by --seconds), as a
laptop running a browser or a CI job running containers does. The ratio is of the means,
default / amlstack: above 1, amlstack's is faster.

    python benchmarks/bench_threads.py --fits 10
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import subprocess
import sys
import time

REPO_SERVICES = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "services"
)

CHILD = r"""
import json, statistics, sys, time, warnings
import numpy as np
library, size, fits, blas = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
rows, cols, trees = (4657, 85, 13) if size == "small" else (32950, 62, 60)
rng = np.random.default_rng(0)
x = rng.normal(size=(rows, cols)).astype(np.float32)
y = (x[:, 0] + x[:, 1] * x[:, 2] + rng.normal(size=rows) > 1.2).astype(int)
if library == "lightgbm":
    from lightgbm import LGBMClassifier
    make = lambda: LGBMClassifier(n_estimators=trees, num_leaves=31, n_jobs=-1, verbose=-1)
elif library == "xgboost":
    from xgboost import XGBClassifier
    make = lambda: XGBClassifier(n_estimators=trees, max_depth=6, tree_method="hist", n_jobs=-1)
else:
    from sklearn.neural_network import MLPClassifier
    warnings.filterwarnings("ignore")
    make = lambda: MLPClassifier((128, 64), max_iter=5, random_state=0)
from threadpoolctl import threadpool_limits
limits = threadpool_limits(1, user_api="blas") if blas == "one" else None
times = []
for _ in range(fits):
    started = time.perf_counter()
    make().fit(x, y)
    times.append(time.perf_counter() - started)
print(json.dumps([statistics.mean(times), max(times)]))
"""

# (name, environment added, BLAS threads) per library: the default first, amlstack's second
SETTINGS = {
    "lightgbm": [("default", {}, "all"), ("amlstack", "threads", "all"),
                 ("PASSIVE", {"OMP_WAIT_POLICY": "PASSIVE"}, "all")],
    "xgboost": [("default", {}, "all"), ("amlstack", "threads", "all"),
                ("PASSIVE", {"OMP_WAIT_POLICY": "PASSIVE"}, "all")],
    "mlp": [("default", {}, "all"), ("amlstack", {}, "one")],
}  # fmt: skip


def _amlstack_environment() -> dict[str, str]:
    sys.path.insert(0, REPO_SERVICES)
    from amlstack.training import threads

    return threads.environment({})


def _busy(seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass


def _fits(library: str, size: str, fits: int, added: dict[str, str], blas: str) -> list[float]:
    drop = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")
    env = {k: v for k, v in os.environ.items() if k not in drop} | added
    out = subprocess.run(
        [sys.executable, "-c", CHILD, library, size, str(fits), blas],
        env=env, capture_output=True, text=True, check=True, timeout=600,
    )  # fmt: skip
    return json.loads(out.stdout)  # [mean, slowest]


def _cells(library: str, size: str, fits: int, busy: bool, seconds: float) -> list[list[float]]:
    burners = []
    if busy:
        burners = [
            multiprocessing.Process(target=_busy, args=(seconds,), daemon=True)
            for _ in range(os.cpu_count() or 1)
        ]
        for proc in burners:
            proc.start()
    try:
        out = []
        for _, added, blas in SETTINGS[library]:
            env = _amlstack_environment() if added == "threads" else added
            out.append(_fits(library, size, fits, env, blas))
        return out
    finally:
        for proc in burners:
            proc.terminate()
            proc.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fits", type=int, default=10, help="fits per cell")
    parser.add_argument("--seconds", type=float, default=300.0, help="cap on each busy phase")
    args = parser.parse_args()
    print(f"{os.cpu_count()} cores; mean (slowest) of {args.fits} fits, seconds; amlstack's "
          f"settings: {_amlstack_environment()}, MLP BLAS on one thread")  # fmt: skip
    print(f"{'library':<9} {'size':<6} {'machine':<7} {'default':>15} {'amlstack':>15} "
          f"{'PASSIVE':>15} {'default/amlstack':>17}")  # fmt: skip
    for library in SETTINGS:
        for size in ("small", "large"):
            for busy in (False, True):
                cells = _cells(library, size, args.fits, busy, args.seconds)
                shown = [f"{mean:6.3f} ({top:6.3f})" for mean, top in cells]
                shown += [""] * (3 - len(shown))
                print(
                    f"{library:<9} {size:<6} {'busy' if busy else 'quiet':<7} "
                    + " ".join(f"{c:>15}" for c in shown)
                    + f" {cells[0][0] / cells[1][0]:17.2f}"
                )


if __name__ == "__main__":
    main()

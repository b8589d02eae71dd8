"""Benchmark how LightGBM and XGBoost fits take a busy machine: OpenMP threads that spin while
they wait (libgomp's default) against threads that sleep (``OMP_WAIT_POLICY=PASSIVE``, which
`amlstack train` sets unless the user set it).

Each cell is a fresh Python process (libgomp reads the variable once, when it loads) that fits
the same model ``--fits`` times on the same synthetic table (the shape of the bank data's
encoded matrix) with ``n_jobs`` = every core, and reports the median fit. "busy" runs one
CPU-bound process per core beside it (bounded by --seconds), as a laptop running a browser or
a CI job running containers does. The ratio is spinning / sleeping: above 1, sleeping wins.

    python benchmarks/bench_threads.py --fits 7
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import subprocess
import sys
import time

CHILD = r"""
import json, statistics, sys, time
import numpy as np
library, fits = sys.argv[1], int(sys.argv[2])
rng = np.random.default_rng(0)
x = rng.normal(size=(32950, 62)).astype(np.float32)
y = (x[:, 0] + x[:, 1] * x[:, 2] + rng.normal(size=len(x)) > 1.2).astype(int)
if library == "lightgbm":
    from lightgbm import LGBMClassifier
    make = lambda: LGBMClassifier(n_estimators=60, num_leaves=31, n_jobs=-1, verbose=-1)
else:
    from xgboost import XGBClassifier
    make = lambda: XGBClassifier(n_estimators=60, max_depth=6, tree_method="hist", n_jobs=-1)
times = []
for _ in range(fits):
    started = time.perf_counter()
    make().fit(x, y)
    times.append(time.perf_counter() - started)
print(json.dumps(statistics.median(times)))
"""


def _busy(seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass


def _median_fit(library: str, fits: int, passive: bool) -> float:
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if passive:
        env["OMP_WAIT_POLICY"] = "PASSIVE"
    out = subprocess.run(
        [sys.executable, "-c", CHILD, library, str(fits)],
        env=env, capture_output=True, text=True, check=True, timeout=600,
    )  # fmt: skip
    return float(json.loads(out.stdout))


def _cell(library: str, fits: int, busy: bool, seconds: float) -> tuple[float, float]:
    burners = []
    if busy:
        burners = [
            multiprocessing.Process(target=_busy, args=(seconds,), daemon=True)
            for _ in range(os.cpu_count() or 1)
        ]
        for proc in burners:
            proc.start()
    try:
        return _median_fit(library, fits, False), _median_fit(library, fits, True)
    finally:
        for proc in burners:
            proc.terminate()
            proc.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fits", type=int, default=7, help="fits per cell (median reported)")
    parser.add_argument("--seconds", type=float, default=300.0, help="cap on each busy phase")
    args = parser.parse_args()
    print(f"{os.cpu_count()} cores; median of {args.fits} fits, seconds")
    print(f"{'library':<10} {'machine':<8} {'spinning':>9} {'sleeping':>9} {'ratio':>7}")
    for library in ("lightgbm", "xgboost"):
        for busy in (False, True):
            spin, sleep = _cell(library, args.fits, busy, args.seconds)
            machine = "busy" if busy else "quiet"
            print(f"{library:<10} {machine:<8} {spin:9.3f} {sleep:9.3f} {spin / sleep:7.2f}")


if __name__ == "__main__":
    main()

"""The benchmark script runs end to end (tiny durations; the numbers are not asserted)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[3]


def test_bench_scorer_prints_a_table_with_ratios(scorer_artifact):
    if shutil.which("wrk") is None:
        pytest.skip("wrk is not installed (apt-get install wrk)")
    proc = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "bench_scorer.py"), "--model",
         str(scorer_artifact), "--duration", "1", "--big-count", "2", "--variants", "sync:1:1",
         "--bulk-rows", "2000", "--bulk-count", "1"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    main, extras = proc.stdout.split("\n\n", 1)
    rows = {line.split()[0] + " " + line.split()[1]: line for line in main.splitlines()[3:]}
    assert set(rows) == {"bare flask", "amlstack sync"}
    ours = rows["amlstack sync"].split()
    # every request in the run succeeded, and the columns are numbers
    assert ours[-1] == "0"
    assert all(re.fullmatch(r"[\d.]+", v) for v in ours[3:])
    # V2 infer measured on the same server, every request answered; CSV and JSON agree
    v2 = next(line for line in extras.splitlines() if line.startswith("amlstack sync")).split()
    assert v2[6] == "0" and all(re.fullmatch(r"[\d.]+", v) for v in v2[3:10])
    assert "agree: 2000 rows, labels equal" in extras

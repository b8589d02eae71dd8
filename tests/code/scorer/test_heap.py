"""`heap.keep_freed_memory`: a worker's second large request touches no new pages."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from amlstack_scorer import heap

SCORER = Path(heap.__file__).resolve().parents[1]

# Arrays of the sizes a 100,000-row text/csv request allocates (body, separators, columns),
# freed at its end; the page faults of five more such requests are printed.
REQUESTS = """
import resource, sys
import numpy as np
from amlstack_scorer import heap
if sys.argv[1] == "on":
    assert heap.keep_freed_memory()
def request():
    kept = [np.ones(n, np.uint8) for n in (12_600_000, 16_800_000, 800_000, 5_000_000)]
    more = [np.ones(700_000, np.uint8) for _ in range(20)]
    del kept, more
request()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(5):
    request()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def faults(mode: str) -> int:
    out = subprocess.run(
        [sys.executable, "-c", REQUESTS, mode],
        capture_output=True, text=True, check=True, timeout=120, env={"PYTHONPATH": str(SCORER)},
    )  # fmt: skip
    return int(out.stdout)


def test_freed_request_memory_is_reused_without_page_faults():
    default, kept = faults("off"), faults("on")
    assert default > 5000  # glibc's own thresholds: the pages are given back and faulted again
    assert kept < default / 20


def test_a_malloc_without_mallopt_is_left_alone():
    class NoMallopt:
        pass

    assert heap.keep_freed_memory(NoMallopt()) is False

"""glibc's malloc in a worker: memory freed by one large request is kept for the next.

A 100,000-row request allocates tens of megabytes of arrays. By default glibc gives allocations
above its mmap threshold (128 KiB, raised as large blocks are freed) fresh mappings and returns
a freed heap top larger than its trim threshold to the system, so the next large request touches
new pages again; each page's first touch is a page fault, dear in a virtual machine (a 100,000-row
text/csv request spent about a fifth of its time in them here). Fixed thresholds keep freed
blocks of up to `MMAP_THRESHOLD` in the heap and up to `TRIM_THRESHOLD` of free heap for reuse.
The price: a worker's resident memory stays near its largest request's peak (bounded by
AMLSTACK_MAX_BATCH and AMLSTACK_MAX_BODY_BYTES) instead of shrinking after it.
"""

from __future__ import annotations

import ctypes

# mallopt(3) parameters (glibc's malloc.h)
M_TRIM_THRESHOLD = -1
M_TOP_PAD = -2
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 * 2**20  # glibc's upper limit for it on 64-bit systems
TRIM_THRESHOLD = 256 * 2**20
TOP_PAD = 16 * 2**20


def keep_freed_memory(libc: ctypes.CDLL | None = None) -> bool:
    """Set the thresholds above; False where malloc is not glibc's (musl's mallopt ignores
    them, macOS has none): nothing is changed there."""
    try:
        libc = libc or ctypes.CDLL(None)
        mallopt = libc.mallopt
        libc.gnu_get_libc_version  # noqa: B018 - glibc only
    except (AttributeError, OSError):
        return False
    return all(
        mallopt(param, value) == 1
        for param, value in (
            (M_MMAP_THRESHOLD, MMAP_THRESHOLD),
            (M_TRIM_THRESHOLD, TRIM_THRESHOLD),
            (M_TOP_PAD, TOP_PAD),
        )
    )

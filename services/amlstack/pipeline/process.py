"""Which process is running a pipeline run, and whether it still is.

A run killed by a signal or a closed terminal cannot record that it stopped; its record would say
"running" for ever. So a run records its process (host, pid and, where ``/proc`` exists, the
process's start tick, which tells a live process from a later one given the same pid), and
readers check that process instead of trusting the record.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any


def current() -> dict[str, Any]:
    """This process, as a run record stores it."""
    info: dict[str, Any] = {"host": socket.gethostname(), "pid": os.getpid()}
    started = _start_tick(os.getpid())
    if started is not None:
        info["start_tick"] = started
    return info


def alive(info: dict[str, Any] | None) -> bool | None:
    """Whether the recorded process still runs: None when this machine cannot tell (another
    host, or a record without one)."""
    if not info or info.get("host") != socket.gethostname() or "pid" not in info:
        return None
    pid = int(info["pid"])
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # another user's process: it exists
    recorded = info.get("start_tick")
    return recorded is None or _start_tick(pid) in (None, recorded)


def _start_tick(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (field 22 of ``/proc/PID/stat``)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # the command name (field 2) may hold spaces and parentheses: split after its last ")"
    fields = stat.rsplit(")", 1)[-1].split()
    return int(fields[19]) if len(fields) > 19 else None

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
    return of(os.getpid())


def of(pid: int) -> dict[str, Any]:
    """A process of this machine, as a run record stores it."""
    info: dict[str, Any] = {"host": socket.gethostname(), "pid": pid}
    started = _start_tick(pid)
    if started is not None:
        info["start_tick"] = started
    return info


def alive(info: dict[str, Any] | None) -> bool | None:
    """Whether the recorded process still runs: None when this machine cannot tell (another
    host, or a record without a start tick: no ``/proc``, so a live process given the same pid
    could not be told from it)."""
    if not info or info.get("host") != socket.gethostname() or "pid" not in info:
        return None
    if info.get("start_tick") is None or os.name == "nt":  # on Windows, signal 0 is Ctrl-C
        return None
    pid = int(info["pid"])
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # another user's process: it exists
    return _start_tick(pid) == info["start_tick"]


def is_current(info: dict[str, Any] | None) -> bool:
    """Whether ``info`` is this process (pid alone is not enough: two containers sharing a
    host name each have a pid 1)."""
    me = current()
    return bool(info) and me == {key: info.get(key) for key in me}


def _start_tick(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (field 22 of ``/proc/PID/stat``)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # the command name (field 2) may hold spaces and parentheses: split after its last ")"
    fields = stat.rsplit(")", 1)[-1].split()
    return int(fields[19]) if len(fields) > 19 else None

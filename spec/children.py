"""Child processes: listing every process below this one and stopping them (Linux ``/proc``).

Used where ``rnnhw`` must stop what it started: on Ctrl-C and SIGTERM (:mod:`rnnhw.processes`) and when
a simulator must be stopped because its wave file cannot be written (:mod:`rnnhw.sim.runner`).
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

__all__ = ["descendants", "terminate_descendants", "working_directory"]


def _parents() -> dict[int, int]:
    """Parent process id of every process (Linux ``/proc``; empty elsewhere)."""
    out = {}
    for entry in Path("/proc").iterdir() if Path("/proc").is_dir() else ():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # ended meanwhile
        # The command name (2nd field) is in parentheses and may hold spaces: the parent follows the last ')'.
        fields = stat[stat.rfind(")") + 2:].split()
        out[int(entry.name)] = int(fields[1])
    return out


def descendants(pid: int | None = None) -> list[int]:
    """Ids of every process below ``pid`` (default: this process), children first."""
    root = os.getpid() if pid is None else pid
    children: dict[int, list[int]] = {}
    for child, parent in _parents().items():
        children.setdefault(parent, []).append(child)
    out, frontier = [], [root]
    while frontier:
        frontier = [c for p in frontier for c in children.get(p, ())]
        out.extend(frontier)
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return state[state.rfind(")") + 2:][:1] != "Z"  # a zombie has ended; its parent has not reaped it yet


def working_directory(pid: int) -> Path | None:
    """The process's current directory, ``None`` if it has ended or cannot be read."""
    try:
        return Path(os.readlink(f"/proc/{pid}/cwd"))
    except OSError:
        return None


def terminate_descendants(grace: float = 2.0, select: Callable[[int], bool] | None = None) -> None:
    """SIGTERM every descendant process at once, then SIGKILL those still running after ``grace`` s.

    The whole tree is listed first: once ``make`` ends, its compilers would no longer be its children.
    With ``select``, only the descendants it accepts and the processes below them.
    """
    pids = descendants()
    if select is not None:
        chosen = [pid for pid in pids if select(pid)]
        pids = [*chosen, *(below for pid in chosen for below in descendants(pid))]
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while pids and time.monotonic() < deadline:
        pids = [pid for pid in pids if _alive(pid)]
        if pids:
            time.sleep(0.05)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)

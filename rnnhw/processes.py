"""This process and its children: SIGINT and SIGTERM stop a command and its child processes with it.

``rnnhw`` starts long-running children (the Verilator ``make -j`` build and its compilers, the simulator,
the YoWASP tools). A terminal's Ctrl-C reaches them all, but ``kill PID`` (SIGTERM) reaches only
``rnnhw``: without help its children would be orphaned and keep running. :func:`signals_stop_children`
turns both signals into exceptions after terminating every descendant process; the ``finally`` blocks
and ``atomic_file``/``atomic_dir`` then remove whatever was half-written.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from pathlib import Path

__all__ = ["Terminated", "descendants", "terminate_descendants", "signals_stop_children", "TERMINATED_STATUS",
           "INTERRUPTED_STATUS", "process_seconds"]

#: Exit statuses of a command stopped by SIGTERM and SIGINT (128 + the signal's number, as shells report).
TERMINATED_STATUS = 128 + signal.SIGTERM
INTERRUPTED_STATUS = 128 + signal.SIGINT


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived; a :class:`KeyboardInterrupt`, so every cleanup for Ctrl-C runs for it too."""


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


def terminate_descendants(grace: float = 2.0) -> None:
    """SIGTERM every descendant process at once, then SIGKILL those still running after ``grace`` s.

    The whole tree is listed first: once ``make`` ends, its compilers would no longer be its children.
    """
    pids = descendants()
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


def _stop(signum, frame):
    # Ignore further signals while stopping: a second Ctrl-C must not skip the cleanup.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    terminate_descendants()
    raise Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()


@contextlib.contextmanager
def signals_stop_children():
    """SIGINT raises :class:`KeyboardInterrupt` and SIGTERM :class:`Terminated`, children terminated first.

    Only in the main thread (signal handlers can be set nowhere else); the previous handlers come back
    afterwards.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    for sig in saved:
        signal.signal(sig, _stop)
    try:
        yield
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


def process_seconds() -> float:
    """Seconds since this process started (the interpreter's start-up included; Linux ``/proc``).

    Elsewhere, seconds since this module was imported.
    """
    try:
        stat = Path("/proc/self/stat").read_text()
        ticks = int(stat[stat.rfind(")") + 2:].split()[19])  # field 22, starttime, in clock ticks since boot
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        return max(0.0, uptime - ticks / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError):
        return time.monotonic() - _IMPORTED


_IMPORTED = time.monotonic()

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

from rnnhw.spec.children import descendants, terminate_descendants

__all__ = ["Terminated", "descendants", "terminate_descendants", "signals_stop_children", "TERMINATED_STATUS",
           "INTERRUPTED_STATUS", "process_seconds"]

#: Exit statuses of a command stopped by SIGTERM and SIGINT (128 + the signal's number, as shells report).
TERMINATED_STATUS = 128 + signal.SIGTERM
INTERRUPTED_STATUS = 128 + signal.SIGINT


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived; a :class:`KeyboardInterrupt`, so every cleanup for Ctrl-C runs for it too."""


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

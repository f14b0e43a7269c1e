"""Running the points: in this process, on a local Dask cluster, or on an existing Dask cluster.

:func:`run_points` takes ``(key, task)`` pairs and calls ``on_result(key, result, final)`` as each
point finishes, in the order they finish; ``final`` is false for a failure that says nothing about the
point (a worker died, an unexpected exception), which is reported but not cached. The local cluster
has one single-threaded worker process per core: a point is one job from start to end (synthesis and
simulation run as child processes of the worker), so points run in parallel across processes.
Data shared by every task (weights, data, float reference) is sent to the cluster once.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import sys
from collections.abc import Callable, Iterable

from rnnhw.spec.errors import UserError

from .points import PointResult, PointTask, evaluate_point

__all__ = ["Runner", "run_points", "default_workers", "SweepProgress", "CONNECT_TIMEOUT_S"]

#: How long to wait for an existing scheduler before giving up.
CONNECT_TIMEOUT_S = 20


@dataclasses.dataclass(frozen=True)
class Runner:
    """Where the points run: ``serial`` in this process, else a Dask cluster (``scheduler`` address, or
    a local cluster of ``workers`` processes)."""

    serial: bool = False
    workers: int | None = None
    scheduler: str | None = None

    def describe(self) -> str:
        if self.serial:
            return "serially in this process"
        if self.scheduler:
            return f"on the Dask cluster at {self.scheduler}"
        return f"on a local Dask cluster of {self.workers or default_workers()} worker processes"


def default_workers() -> int:
    """The cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


class SweepProgress:
    """Points done / running / failed: a rich progress bar on a terminal, one line per point otherwise."""

    def __init__(self, total: int, cached: int, failed: int = 0, quiet: bool = False):
        self.total, self.done, self.failed, self.running, self.quiet = total, cached, failed, 0, quiet
        self._bar = None
        if quiet:
            return
        from rich.console import Console

        console = Console(stderr=True)
        if console.is_terminal:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self._bar = Progress(TextColumn("sweep"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("{task.fields[counts]}"), TimeElapsedColumn(), console=console)
            self._task = self._bar.add_task("sweep", total=total, completed=cached, counts=self._counts())
            self._bar.start()

    def _counts(self) -> str:
        return f"done {self.done - self.failed}, running {self.running}, failed {self.failed}"

    def update(self, running: int, label: str | None = None, result: PointResult | None = None) -> None:
        self.running = running
        if result is not None:
            self.done += 1
            self.failed += result.status != "ok"
        if self.quiet:
            return
        if self._bar is not None:
            self._bar.update(self._task, completed=self.done, counts=self._counts())
        elif result is not None:
            status = "ok" if result.status == "ok" else f"failed: {result.reason}"
            print(f"  sweep: [{self.done}/{self.total}] {label}: {status} ({result.seconds:.1f} s); "
                  f"{self._counts()}", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()


def _unexpected(exc: BaseException) -> PointResult:
    return PointResult("failed", f"{type(exc).__name__}: {exc}".splitlines()[0])


def _evaluate_shared(task: PointTask, shared: dict) -> PointResult:
    """:func:`evaluate_point` of a task whose weights, data and reference were sent separately."""
    return evaluate_point(dataclasses.replace(task, **shared))


def run_points(items: list[tuple[str, PointTask]], runner: Runner, progress: SweepProgress,
               labels: dict[str, str], on_result: Callable[[str, PointResult, bool], None]) -> None:
    """Evaluate every task; see the module docstring."""
    if not items:
        return
    if runner.serial:
        for key, task in items:
            progress.update(1)
            try:
                result, final = evaluate_point(task), True
            except Exception as exc:  # a bug in one point must not stop the others
                result, final = _unexpected(exc), False
            on_result(key, result, final)
            progress.update(0, labels[key], result)
        return
    _run_dask(items, runner, progress, labels, on_result)


def _connect(runner: Runner):
    from distributed import Client, LocalCluster

    if runner.scheduler:
        try:
            return Client(runner.scheduler, timeout=CONNECT_TIMEOUT_S), None
        except (OSError, TimeoutError, ValueError) as exc:
            raise UserError(f"cannot reach the Dask scheduler at {runner.scheduler} ({exc.__class__.__name__}: "
                            f"{str(exc).splitlines()[0] if str(exc) else 'no answer'}); start it with "
                            "`dask scheduler` or leave out --scheduler for a local cluster") from None
    # Any free port for the scheduler's HTTP server (8787 may be taken by another cluster).
    cluster = LocalCluster(n_workers=runner.workers or default_workers(), threads_per_worker=1, processes=True,
                           dashboard_address=":0", silence_logs=logging.ERROR)
    return Client(cluster), cluster


def _shared_fields(items: Iterable[tuple[str, PointTask]]) -> dict:
    """The fields every task holds alike (the same objects), to be sent once."""
    tasks = [task for _, task in items]
    return {name: getattr(tasks[0], name) for name in ("weights", "data", "reference")
            if all(getattr(task, name) is getattr(tasks[0], name) for task in tasks)}


def _run_dask(items, runner: Runner, progress: SweepProgress, labels, on_result) -> None:
    from distributed import as_completed

    client, cluster = _connect(runner)
    try:
        shared = _shared_fields(items)
        [shared_future] = client.scatter([shared], broadcast=False)
        blank = {name: None for name in shared}
        futures = {}
        for key, task in items:
            future = client.submit(_evaluate_shared, dataclasses.replace(task, **blank), shared_future,
                                   key=f"rnnhw-sweep-{key}", pure=False)
            futures[future] = key
        pending = len(futures)
        threads = max(1, sum(client.nthreads().values()))
        progress.update(min(pending, threads))
        for future in as_completed(futures):
            key = futures[future]
            try:
                result, final = future.result(), True
            except Exception as exc:  # the worker died, or a bug: the other points go on
                result, final = _unexpected(exc), False
            pending -= 1
            on_result(key, result, final)
            threads = max(1, sum(client.nthreads().values())) if pending else threads
            progress.update(min(pending, threads), labels[key], result)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()

"""Building simulation models once and running the cocotb testbench on them.

A model is the compiled form of one Verilog text for one simulator, with or without wave tracing. It
lives in ``<build_dir>/<key>/`` where ``key`` hashes the Verilog, the simulator and its version, the
waves flag and the build options; building is skipped when a finished build of that key is there.
An exclusive file lock (``<key>.lock``) makes concurrent builders (pytest-xdist workers, two shells)
wait for the first one (saying so) and then reuse its model; a build that was interrupted has no
``model.json`` and is never reused. Every run gets its own folder under ``runs/``, so runs of one
model may proceed in parallel; each run holds a lock on its folder while it lives, and older folders
whose run has ended are pruned so that at most :data:`KEPT_RUNS` remain (a failed or traced run's
folder is kept for its log and waves; a run that was stopped removes its own).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from cocotb_tools.runner import Runner, Verilator, get_results, get_runner

from rnnhw.spec.children import terminate_descendants, working_directory
from rnnhw.spec.errors import UserError, VerificationError
from rnnhw.spec.outputs import cannot_write, check_output_dir, file_lock

from .tools import Simulator, check_cocotbext_axi, find_simulator, icarus_source, verilator_flags

__all__ = ["Model", "build_model", "run_folder", "prune_runs", "run_testbench", "prepare_build_dir",
           "TESTBENCH_MODULE", "TIMESCALE", "DEFAULT_BUILD_DIR", "KEPT_RUNS"]

TESTBENCH_MODULE = "rnnhw.sim.testbench"
TIMESCALE = ("1ns", "1ps")
#: Bump when the build options change, so that old models are not reused.
_BUILD_FORMAT = 3
_DONE = "model.json"
#: Where simulation models are built and kept unless told otherwise.
DEFAULT_BUILD_DIR = "build/sim"
#: Finished run folders kept per model (the newest); older ones are removed when a new run starts.
KEPT_RUNS = 4
_RUN_LOCK = ".running"


@dataclass(frozen=True)
class Model:
    """A built simulation model: its folder, simulator, top-level module name and whether it traces."""

    directory: Path
    simulator: Simulator
    toplevel: str
    waves: bool
    reused: bool  # True if an earlier build was found


@contextlib.contextmanager
def _environment(changes: Mapping[str, str]):
    """``os.environ`` with ``changes`` for the duration (the cocotb runner copies ``os.environ``)."""
    saved = {key: os.environ.get(key) for key in changes}
    os.environ.update(changes)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def prepare_build_dir(build_dir=DEFAULT_BUILD_DIR) -> Path:
    """Create ``build_dir`` (and its parents) and check that it can be written: call before long work."""
    root = Path(build_dir)
    existing = next(p for p in (root, *root.parents) if p.exists() or p == Path(p.anchor or "."))
    if existing.exists() and not existing.is_dir():
        raise UserError(f"cannot build simulation models in {str(root)!r}: {str(existing)!r} is a file, not a "
                        "directory; give another --build-dir")
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise cannot_write(root, exc) from None
    check_output_dir(root)
    return root.resolve()


def _no_space(directory: Path) -> bool:
    try:
        return os.statvfs(directory).f_bavail == 0
    except OSError:
        return False


def _disk_full(directory: Path, log: Path) -> bool:
    """Whether a tool failed because ``directory``'s file system is full (its log says so or no space is left)."""
    try:
        if "No space left on device" in log.read_text(errors="replace"):
            return True
        stats = os.statvfs(directory)
    except OSError:
        return False
    return stats.f_bavail * stats.f_frsize < 64 * 1024


def _in_thread(work: Callable[[], None], name: str, on_wait: Callable[[], None] | None,
               interval: float) -> None:
    """Run ``work`` in a thread, calling ``on_wait`` every ``interval`` s; re-raise what it raised.

    The main thread stays free to receive signals (:mod:`rnnhw.processes` stops the children).
    """
    failure: list[BaseException] = []

    def target():
        try:
            work()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            failure.append(exc)

    worker = threading.Thread(target=target, name=name, daemon=True)
    worker.start()
    while worker.is_alive():
        worker.join(interval)
        if on_wait is not None:
            on_wait()
    if failure:
        raise failure[0]


class _PortsOnlyVerilator(Verilator):
    """cocotb's Verilator runner, making only the top level's ports visible to cocotb.

    cocotb builds with ``--public-flat-rw``, which keeps every internal signal writable through VPI and
    so stops Verilator from optimizing them away: the accelerator then simulates about half as fast.
    The testbench touches only the top level's ports; wave traces still show every signal.
    """

    def _build_command(self):
        commands = super()._build_command()
        verilate = commands[0]
        at = verilate.index("--public-flat-rw")
        commands[0] = [*verilate[:at], "--public-depth", "1", *verilate[at + 1:]]
        return commands


def _runner(simulator: Simulator) -> Runner:
    return _PortsOnlyVerilator() if simulator.name == "verilator" else get_runner(simulator.name)


def _build_args(simulator: Simulator, waves: bool) -> list[str]:
    return verilator_flags(waves) if simulator.name == "verilator" else []


def _model_key(verilog: str, simulator: Simulator, toplevel: str, waves: bool) -> str:
    import cocotb

    recipe = json.dumps({
        "verilog": hashlib.sha256(verilog.encode()).hexdigest(),
        "simulator": simulator.name, "version": simulator.version, "toplevel": toplevel, "waves": waves,
        "args": _build_args(simulator, waves), "cocotb": cocotb.__version__, "format": _BUILD_FORMAT,
    }, sort_keys=True)
    return hashlib.sha256(recipe.encode()).hexdigest()[:16]


def _log_excerpt(log: Path, lines: int = 12) -> str:
    try:
        text = log.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    errors = [line for line in text if "%Error" in line or "error:" in line.lower()]
    return "\n".join((errors or text)[-lines:])


def _build_progress(directory: Path, announce: Callable[[str], None], interval: float = 10.0):
    """Every ``interval`` s, a line saying what the build does: Verilating, or C++ files compiled so far."""
    started = [time.monotonic(), time.monotonic()]

    def show():
        now = time.monotonic()
        if now - started[1] < interval:
            return
        started[1] = now
        sources = [p for p in directory.glob("V*.cpp")]
        compiled = [p for p in directory.glob("V*.o")]
        what = (f"compiled {len(compiled)} of {len(sources)} C++ files" if sources
                else "translating the Verilog to C++")
        announce(f"building: {what}, {now - started[0]:.0f} s")

    return show


def build_model(verilog: str, *, simulator: str = "verilator", toplevel: str = "rnnhw_top",
                waves: bool = False, build_dir=DEFAULT_BUILD_DIR,
                announce: Callable[[str], None] | None = None) -> Model:
    """Build (or find already built) the simulation model of ``verilog``.

    Parameters
    ----------
    verilog : str
        The whole design as Verilog text; its top-level module is ``toplevel``.
    simulator : {"verilator", "icarus"}
        Which simulator (see :mod:`rnnhw.sim.tools`).
    toplevel : str
        Name of the top-level module.
    waves : bool
        Build with wave tracing (FST) support.
    build_dir : str or Path
        Parent folder of all models (created if missing).
    announce : callable, optional
        Called with a one-line message when a build actually starts (builds take 15 s to minutes), then
        every 10 s with its progress, and when it waits for another process's build of the same model.

    Raises
    ------
    UserError
        The simulator is missing or too old.
    VerificationError
        The simulator rejected the design (the message quotes its errors and names the full log).
    """
    if not isinstance(verilog, str) or f"module {toplevel}" not in verilog:
        raise ValueError(f"verilog must be Verilog text defining module {toplevel!r}")
    sim = find_simulator(simulator)
    key = _model_key(verilog, sim, toplevel, waves)
    root = prepare_build_dir(build_dir)
    directory = root / key

    def waiting():
        if announce is not None:
            announce(f"waiting for another run's build of this model ({directory}) to finish")

    with file_lock(root / f"{key}.lock", on_wait=waiting):
        if (directory / _DONE).is_file():
            return Model(directory, sim, toplevel, waves, reused=True)
        if announce is not None:
            announce(f"building the {sim.name} {sim.version} model of {toplevel} in {directory} "
                     "(once per design)")
        shutil.rmtree(directory, ignore_errors=True)  # an interrupted earlier build
        directory.mkdir()
        source = directory / f"{toplevel}.v"
        source.write_text(icarus_source(verilog) if sim.name == "icarus" else verilog)
        log = directory / "build.log"
        with _environment(sim.env):
            runner = _runner(sim)

            def build():
                runner.build(sources=[source], hdl_toplevel=toplevel, build_dir=directory,
                             build_args=_build_args(sim, waves), timescale=TIMESCALE, waves=waves,
                             log_file=log)

            try:
                _in_thread(build, "rnnhw-build", None if announce is None else _build_progress(directory, announce),
                           0.25)
            except KeyboardInterrupt:  # Ctrl-C or SIGTERM: a half-built model is of no use
                shutil.rmtree(directory, ignore_errors=True)
                raise
            except (RuntimeError, SystemExit) as exc:
                if _disk_full(directory, log):
                    shutil.rmtree(directory, ignore_errors=True)
                    raise cannot_write(directory, OSError(28, "No space left on device")) from None
                raise VerificationError(
                    f"{sim.name} could not build {toplevel} ({exc}); full log: {log}\n{_log_excerpt(log)}"
                ) from None
        (directory / _DONE).write_text(json.dumps({
            "simulator": sim.name, "version": sim.version, "toplevel": toplevel, "waves": waves,
            "args": _build_args(sim, waves),
        }, indent=1))
    return Model(directory, sim, toplevel, waves, reused=False)


def _run_ended(folder: Path) -> bool:
    """Whether no live process holds ``folder``'s run lock (its run finished, failed or was killed)."""
    try:
        with open(folder / _RUN_LOCK, "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    except OSError:
        return True  # no lock file can be made: a broken folder
    return True


def prune_runs(runs: Path, keep: int = KEPT_RUNS) -> None:
    """Remove the run folders under ``runs`` whose run has ended, all but the newest ``keep`` of them."""
    try:
        folders = sorted((p for p in runs.glob("run-*") if p.is_dir()), key=lambda p: p.stat().st_mtime,
                         reverse=True)
    except OSError:
        return
    ended = [folder for folder in folders if _run_ended(folder)]
    for folder in ended[keep:]:
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def run_folder(model: Model, keep: int = KEPT_RUNS) -> Iterator[Path]:
    """A fresh folder under the model's ``runs/`` for one simulation's files, locked while in use.

    Older folders of ended runs beyond the newest ``keep`` are removed first. If the block raises (a
    failure, Ctrl-C, SIGTERM) the folder is removed with everything in it (logs, partial wave files);
    otherwise it stays for the caller to keep or remove.
    """
    runs = model.directory / "runs"
    try:
        runs.mkdir(exist_ok=True)
        prune_runs(runs, keep)
        folder = Path(tempfile.mkdtemp(prefix="run-", dir=runs))
    except OSError as exc:
        raise cannot_write(runs, exc) from None
    with open(folder / _RUN_LOCK, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield folder
        except BaseException:
            _remove_folder(folder)
            raise


def _remove_folder(folder: Path, grace: float = 5.0) -> None:
    """``folder`` and everything in it, retried for ``grace`` s: a simulator that is still ending (a signal
    stopped the run) may write a file into it while it is being removed, and the removal then leaves
    the folder."""
    deadline = time.monotonic() + grace
    while True:
        shutil.rmtree(folder, ignore_errors=True)
        if not folder.exists() or time.monotonic() > deadline:
            return
        time.sleep(0.05)


def run_testbench(model: Model, run_dir: Path, env: Mapping[str, str], *, waves_file: Path | None = None,
                  seed: int = 0, on_wait: Callable[[], None] | None = None,
                  wait_interval: float = 0.25) -> None:
    """Run the cocotb testbench (:mod:`rnnhw.sim.testbench`) on ``model``.

    Parameters
    ----------
    model : Model
        From :func:`build_model`.
    run_dir : Path
        The run's folder (:func:`new_run_dir`); the simulator runs there and leaves ``sim.log`` (its
        output) and ``results.xml``.
    env : mapping
        Extra environment for the testbench (its stimulus and results file names).
    waves_file : Path, optional
        Write a wave trace here (``model`` must be built with ``waves=True``).
    seed : int
        cocotb's random seed.
    on_wait : callable, optional
        Called every ``wait_interval`` seconds while the simulator runs (for progress lines).

    Raises
    ------
    UserError
        The installed cocotbext-axi is not the release the testbench is written against.
    VerificationError
        The simulator or the testbench failed (the message names the log).
    """
    if waves_file is not None and not model.waves:
        raise ValueError("waves_file needs a model built with waves=True")
    check_cocotbext_axi()
    log = run_dir / "sim.log"
    test_args, plusargs = [], []
    if waves_file is not None:
        if model.simulator.name == "verilator":
            test_args = ["--trace-file", str(waves_file)]
        else:
            plusargs = [f"+dumpfile_path={waves_file}"]
    def simulate():
        with _environment(model.simulator.env):
            runner = _runner(model.simulator)
        runner.test(test_module=TESTBENCH_MODULE, hdl_toplevel=model.toplevel,
                    hdl_toplevel_lang="verilog", build_dir=model.directory, test_dir=run_dir,
                    extra_env=dict(env), waves=waves_file is not None, seed=seed,
                    results_xml=str(run_dir / "results.xml"), log_file=log, timescale=TIMESCALE,
                    test_args=test_args, plusargs=plusargs)

    def watch():
        # Verilator's trace writer waits forever once the disk is full: stop it and say why.
        if waves_file is not None and _no_space(waves_file.parent):
            terminate_descendants(select=lambda pid: working_directory(pid) == run_dir.resolve())
            raise cannot_write(waves_file, OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)))
        if on_wait is not None:
            on_wait()

    try:
        _in_thread(simulate, "rnnhw-simulator", watch, wait_interval)
    except (SystemExit, RuntimeError) as exc:
        for place in {run_dir, *(() if waves_file is None else (waves_file.parent,))}:
            if _disk_full(place, log):
                raise cannot_write(waves_file or place, OSError(28, "No space left on device")) from None
        raise VerificationError(f"the {model.simulator.name} simulation failed ({exc!r}); log: {log}\n"
                                f"{_log_excerpt(log)}") from None
    tests, failed = get_results(run_dir / "results.xml")
    if failed or not tests:
        raise VerificationError(f"the cocotb testbench failed; log: {log}\n{_log_excerpt(log)}")

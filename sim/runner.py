"""Building simulation models once and running the cocotb testbench on them.

A model is the compiled form of one Verilog text for one simulator, with or without wave tracing. It
lives in ``<build_dir>/<key>/`` where ``key`` hashes the Verilog, the simulator and its version, the
waves flag and the build options; building is skipped when a finished build of that key is there.
An exclusive file lock (``<key>.lock``) makes concurrent builders (pytest-xdist workers, two shells)
wait for the first one and then reuse its model. Every run gets its own folder under ``runs/``, so
runs of one model may proceed in parallel.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from cocotb_tools.runner import Runner, Verilator, get_results, get_runner

from rnnhw.spec.errors import VerificationError

from .tools import Simulator, check_cocotbext_axi, find_simulator, icarus_source, verilator_flags

__all__ = ["Model", "build_model", "new_run_dir", "run_testbench", "TESTBENCH_MODULE", "TIMESCALE"]

TESTBENCH_MODULE = "rnnhw.sim.testbench"
TIMESCALE = ("1ns", "1ps")
#: Bump when the build options change, so that old models are not reused.
_BUILD_FORMAT = 3
_DONE = "model.json"


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


@contextlib.contextmanager
def _locked(path: Path):
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


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


def build_model(verilog: str, *, simulator: str = "verilator", toplevel: str = "rnnhw_top",
                waves: bool = False, build_dir="build/sim",
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
        Called with a one-line message when a build actually starts (builds take 15-60 s).

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
    root = Path(build_dir).resolve()
    root.mkdir(parents=True, exist_ok=True)
    directory = root / key
    with _locked(root / f"{key}.lock"):
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
            try:
                runner.build(sources=[source], hdl_toplevel=toplevel, build_dir=directory,
                             build_args=_build_args(sim, waves), timescale=TIMESCALE, waves=waves,
                             log_file=log)
            except (RuntimeError, SystemExit) as exc:
                raise VerificationError(
                    f"{sim.name} could not build {toplevel} ({exc}); full log: {log}\n{_log_excerpt(log)}"
                ) from None
        (directory / _DONE).write_text(json.dumps({
            "simulator": sim.name, "version": sim.version, "toplevel": toplevel, "waves": waves,
            "args": _build_args(sim, waves),
        }, indent=1))
    return Model(directory, sim, toplevel, waves, reused=False)


def new_run_dir(model: Model) -> Path:
    """A fresh folder under the model's ``runs/`` for one simulation's files."""
    runs = model.directory / "runs"
    runs.mkdir(exist_ok=True)
    return Path(tempfile.mkdtemp(prefix="run-", dir=runs))


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
    failure: list[BaseException] = []

    def simulate():
        try:
            with _environment(model.simulator.env):
                runner = _runner(model.simulator)
            runner.test(test_module=TESTBENCH_MODULE, hdl_toplevel=model.toplevel,
                        hdl_toplevel_lang="verilog", build_dir=model.directory, test_dir=run_dir,
                        extra_env=dict(env), waves=waves_file is not None, seed=seed,
                        results_xml=str(run_dir / "results.xml"), log_file=log, timescale=TIMESCALE,
                        test_args=test_args, plusargs=plusargs)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            failure.append(exc)

    worker = threading.Thread(target=simulate, name="rnnhw-simulator", daemon=True)
    worker.start()
    while worker.is_alive():
        worker.join(wait_interval)
        if on_wait is not None:
            on_wait()
    if failure:
        exc = failure[0]
        if not isinstance(exc, (SystemExit, RuntimeError)):
            raise exc
        raise VerificationError(f"the {model.simulator.name} simulation failed ({exc!r}); log: {log}\n"
                                f"{_log_excerpt(log)}")
    tests, failed = get_results(run_dir / "results.xml")
    if failed or not tests:
        raise VerificationError(f"the cocotb testbench failed; log: {log}\n{_log_excerpt(log)}")

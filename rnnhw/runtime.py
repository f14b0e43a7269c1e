"""Simulating one runtime core with several models: built once, each weights file loaded by the driver.

:func:`simulate_models` generates the core of a ``hardware.weights = "runtime"`` configuration once,
then for each weights file runs the simulation with a host program that checks the core and loads the
file through the AXI4-Lite port with :class:`rnnhw.driver.CoreDriver`, streams every input and
compares every output with that file's golden model.
"""

from __future__ import annotations

from dataclasses import dataclass

from rnnhw.driver import CoreDriver
from rnnhw.sim.verify import SimResult, run_simulation
from rnnhw.spec.config import Config
from rnnhw.spec.errors import UserError

__all__ = ["ModelRun", "RuntimeSimulation", "simulate_models", "load_program"]


@dataclass(frozen=True)
class ModelRun:
    """One weights file through the core: its simulation and what loading it took."""

    weights: str
    result: SimResult
    words: int  # window words written
    load_cycles: int  # clock cycles from the first write's request to the last write's response

    def summary(self) -> dict:
        return {"weights": self.weights, "bit_exact": self.result.bit_exact, "mismatches": self.result.mismatches,
                "sequences": self.result.sequences, "first_mismatch": self.result.first_mismatch,
                "cycles": self.result.cycles, "load_words": self.words, "load_cycles": self.load_cycles}


@dataclass(frozen=True)
class RuntimeSimulation:
    """Every model's run on one build (``builds`` simulation models were used: 1)."""

    runs: tuple[ModelRun, ...]
    builds: int

    @property
    def bit_exact(self) -> bool:
        return all(run.result.bit_exact for run in self.runs)

    @property
    def mismatches(self) -> int:
        return sum(run.result.mismatches for run in self.runs)

    @property
    def first_mismatch(self) -> str:
        return next((f"{run.weights}: {run.result.first_mismatch}" for run in self.runs
                     if run.result.first_mismatch), "")

    def summary(self) -> dict:
        """``rnnhw simulate --json``: the keys of one simulation, for the whole run, plus builds and models."""
        results = [run.result for run in self.runs]
        timesteps, cycles = sum(r.timesteps for r in results), sum(r.cycles for r in results)
        bound = results[0].bound_cycles_per_step
        per_step = cycles / timesteps if timesteps else 0.0
        waves = [str(r.waves_path) for r in results if r.waves_path]
        return {
            "bit_exact": self.bit_exact, "mismatches": self.mismatches, "first_mismatch": self.first_mismatch,
            "notes": [f"{run.weights}: {note}" for run in self.runs for note in run.result.notes],
            "sequences": sum(r.sequences for r in results), "timesteps": timesteps, "cycles": cycles,
            "cycles_per_step": per_step, "bound_cycles_per_step": bound,
            "utilization": bound / per_step if per_step else 0.0, "simulator": results[0].simulator,
            "wall_seconds": sum(r.wall_seconds for r in results),
            "simulation_seconds": sum(r.simulation_seconds for r in results),
            "waves_path": waves[-1] if waves else None,
            "builds": self.builds, "models": [run.summary() for run in self.runs],
        }


def load_program(config: Config, qweights):
    """A host program for :func:`rnnhw.sim.verify.simulate_stream`: identify the core, load ``qweights``.

    It returns ``(words written, load cycles)``.
    """

    def program(bus):
        core = CoreDriver(read=bus.read, write=bus.write, config=config)
        core.identify()
        start = bus.cycle
        words = core.load(qweights)
        return words, bus.cycle - start

    return program


def simulate_models(config: Config, models, x_int, lengths=None, *, verilog: str | None = None,
                    **options) -> RuntimeSimulation:
    """Simulate the runtime core of ``config`` with each of ``models``, one build for all.

    Parameters
    ----------
    config : Config
        ``hardware.weights = "runtime"``.
    models : sequence of (str, QuantizedWeights)
        A label (the weights file's path) and the quantized weights, in the order to run them.
    x_int, lengths
        As for :func:`rnnhw.sim.verify.run_simulation`; every model gets all of them.
    verilog : str, optional
        The core's Verilog (default: generated from ``config``).
    options
        Further keywords of :func:`~rnnhw.sim.verify.run_simulation` (simulator, waves, build_dir, ...).
    """
    if config.hardware.weights != "runtime":
        raise UserError('several weights files need a core with hardware.weights = "runtime" (one build, '
                        'weights loaded at run time); a "rom" core bakes in one set')
    if not models:
        raise UserError("give at least one weights file")
    if verilog is None:
        from rnnhw.rtl.top import generate_verilog

        verilog = generate_verilog(config, None, name="rnnhw_top")
    runs = []
    for label, qweights in models:
        result = run_simulation(config, qweights, x_int, lengths, verilog=verilog,
                                host=load_program(config, qweights), **options)
        words, cycles = result.host_result
        runs.append(ModelRun(str(label), result, words, cycles))
    return RuntimeSimulation(tuple(runs), builds=1)

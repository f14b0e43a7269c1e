"""Simulation speed of the cocotb testbench on Verilator and Icarus: cycles and timesteps per second.

Run ``python bench/sim.py`` (``--no-write`` to only print): measures each design of :data:`DESIGNS`
on each simulator and writes the "simulation" section of ``docs/BENCHMARKS.md``.

For each design and simulator the model is built afresh in a scratch folder (``build/bench/sim-build``)
so that the build time is real, then two batch-1 sequences run without backpressure: a short one of
:data:`SHORT_STEPS` steps and a long one (:data:`STEPS`). Both must match the golden model bit for
bit. The run time is the simulator's run alone (``SimResult.simulation_seconds``: the simulator's
start-up, cocotb, the testbench and the design; not the golden model nor the build). Rates are given
for the long run as a whole and in steady state, ``(cycles_long - cycles_short) / (seconds_long -
seconds_short)``, which takes out the fixed start-up cost. Icarus rows are skipped, with a note, where
``iverilog`` is not installed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from rnnhw.spec.errors import UserError, VerificationError

try:
    from .benchmarks_md import machine_line, replace_section
    from .designs import BenchFailure, Design
    from .versions import simulator_version, source_revision, tool_versions
except ImportError:  # run as a script
    from benchmarks_md import machine_line, replace_section
    from designs import BenchFailure, Design
    from versions import simulator_version, source_revision, tool_versions

__all__ = ["DESIGNS", "SIMULATORS", "STEPS", "SHORT_STEPS", "SimMeasurement", "measure",
           "markdown", "section"]

DESIGNS = (Design("lstm", 12, 32, lanes=8, head=9), Design("lstm", 64, 128, lanes=16))
SIMULATORS = ("verilator", "icarus")
#: Timesteps of the long run, by (design index, simulator): long enough for a stable rate, Icarus
#: being about 60 times slower.
STEPS = {(0, "verilator"): 2000, (0, "icarus"): 200, (1, "verilator"): 500, (1, "icarus"): 20}
#: Timesteps of the short run that measures the fixed start-up cost.
SHORT_STEPS = 2
SCRATCH = Path("build") / "bench" / "sim-build"


@dataclass(frozen=True)
class SimMeasurement:
    """One design on one simulator: build time and the short and long runs."""

    design: str
    simulator: str
    version: str
    build_seconds: float
    steps: int
    cycles: int
    seconds: float
    short_steps: int
    short_cycles: int
    short_seconds: float

    @property
    def cycles_per_second(self) -> float:
        return self.cycles / self.seconds

    @property
    def steps_per_second(self) -> float:
        return self.steps / self.seconds

    @property
    def steady_cycles_per_second(self) -> float:
        return (self.cycles - self.short_cycles) / (self.seconds - self.short_seconds)

    @property
    def steady_steps_per_second(self) -> float:
        return (self.steps - self.short_steps) / (self.seconds - self.short_seconds)

    @property
    def startup_seconds(self) -> float:
        """The run time not explained by the steady rate: simulator and cocotb start-up."""
        return self.short_seconds - self.short_cycles / self.steady_cycles_per_second


def measure(design: Design, simulator: str, steps: int, scratch: Path = SCRATCH) -> SimMeasurement:
    """Build ``design`` for ``simulator`` in a fresh folder, then time a short and a long run."""
    from rnnhw.sim.runner import build_model

    build_dir = scratch / f"{simulator}-{design.cell}-{design.input_size}-{design.hidden_size}-{design.lanes}"
    shutil.rmtree(build_dir, ignore_errors=True)
    verilog = design.verilog  # generated before the build is timed
    print(f"  building the {simulator} model of {design.label} ...", file=sys.stderr, flush=True)
    start = time.monotonic()
    build_model(verilog, simulator=simulator, build_dir=build_dir)
    build_seconds = time.monotonic() - start
    print(f"  built in {build_seconds:.1f} s; running {SHORT_STEPS} and {steps:,} steps ...", file=sys.stderr,
          flush=True)
    short = design.simulate(SHORT_STEPS, simulator=simulator, build_dir=build_dir)
    long = design.simulate(steps, simulator=simulator, build_dir=build_dir, progress=True)
    shutil.rmtree(build_dir, ignore_errors=True)
    return SimMeasurement(
        design=design.label, simulator=simulator, version=simulator_version(simulator) or "",
        build_seconds=build_seconds, steps=steps, cycles=long.cycles, seconds=long.simulation_seconds,
        short_steps=SHORT_STEPS, short_cycles=short.cycles, short_seconds=short.simulation_seconds,
    )


_NAMES = {"verilator": "Verilator", "icarus": "Icarus"}


def _rate(value: float) -> str:
    """Whole numbers from 100 up, else three significant digits."""
    return f"{value:,.0f}" if value >= 100 else f"{value:#.3g}"


def markdown(measurements: list[SimMeasurement], skipped: list[str] = ()) -> str:
    """The results table, then one line per skipped simulator."""
    lines = ["| design | simulator | build (s) | steps | cycles | run (s) | cycles/s | timesteps/s "
             "| steady cycles/s | steady timesteps/s | start-up (s) |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for m in measurements:
        lines.append(f"| {m.design} | {_NAMES[m.simulator]} {m.version} | {m.build_seconds:.1f} "
                     f"| {m.steps:,} | {m.cycles:,} | {m.seconds:.2f} | {_rate(m.cycles_per_second)} "
                     f"| {_rate(m.steps_per_second)} | {_rate(m.steady_cycles_per_second)} "
                     f"| {_rate(m.steady_steps_per_second)} | {m.startup_seconds:.2f} |")
    lines += [f"\n{note}" for note in skipped]
    return "\n".join(lines)


def section(table: str, versions: str, machine: str, revision: str) -> str:
    return f"""## Simulation speed

Written by `bench/sim.py`. The cocotb testbench (`rnnhw.sim`, as `rnnhw simulate` runs it) on each
design with default numerics and random weights, batch 1, no backpressure; every run matched the golden
model bit for bit. *build*: building the simulation model from the Verilog (models are cached by
Verilog hash, so this is paid once per design). *run*: the simulator's run of the long sequence
(start-up, cocotb, testbench and design; not the golden model). *steady*: from the difference between
the long run and a run of {SHORT_STEPS} steps, which removes the fixed start-up cost (last column).
Verilator runs with `-O3`, only the top level's ports visible to cocotb.

RTL and golden model of commit {revision}. Machine: {os.cpu_count()} cores shared with other jobs while
measuring; {machine}. Tools: {versions}.

{table}
"""


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-write", action="store_true", help="only print; leave docs/BENCHMARKS.md alone")
    args = parser.parse_args(argv)
    measurements, skipped = [], []
    revision = source_revision()
    for design in DESIGNS:
        _ = design.verilog  # every design from the same RTL, whatever changes in the folder meanwhile
    for simulator in SIMULATORS:
        if simulator_version(simulator) is None:
            skipped.append(f"{_NAMES[simulator]} rows skipped: {simulator} is not installed here.")
            print(f"sim: {skipped[-1]}", file=sys.stderr)
            continue
        for index, design in enumerate(DESIGNS):
            print(f"sim: {design.label} on {simulator}", file=sys.stderr, flush=True)
            try:
                measurements.append(measure(design, simulator, STEPS[index, simulator]))
            except (BenchFailure, UserError, VerificationError) as failure:
                print(f"bench/sim.py: {failure}", file=sys.stderr)
                return 1
    text = section(markdown(measurements, skipped), tool_versions(simulators=SIMULATORS), machine_line(),
                   revision)
    print(text)
    if not args.no_write:
        replace_section("simulation", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

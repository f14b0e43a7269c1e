"""Interleaved sequences (issue 15, part 2): utilization and timesteps per second at K = 1, 2, 4.

Run ``python bench/interleave.py`` (``--no-write`` to only print; ``--no-sim`` to skip Verilator): prints
a markdown table and writes it to the "Interleaved sequences" section of ``docs/BENCHMARKS.md``.

K sequences share the lanes, each with its own state; the sequencer walks them round-robin
(``for t: for stream: for layer``), so while one stream's ``h`` is still in flight the lanes work on
another stream's step (``hardware.interleave``; :meth:`rnnhw.spec.schedule.Schedule.issue_times`).
Cycles per step count the timesteps of all streams, so ``bound / cycles_per_step`` is the utilization at
any K. *measured*: Verilator, K sequences of T and of 2T steps at once (one per stream), both bit-exact,
``(cycles(2T) - cycles(T)) / (K*T)``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from rnnhw.spec.schedule import Schedule, bound_cycles_per_step

try:
    from .benchmarks_md import replace_section
    from .designs import BenchFailure, Design
except ImportError:  # run as a script
    from benchmarks_md import replace_section
    from designs import BenchFailure, Design

__all__ = ["DESIGNS", "STREAMS", "CLOCK_MHZ", "MEASURED", "rows", "measure", "markdown", "section", "main"]

DESIGNS = (Design("lstm", 12, 32, lanes=32), Design("lstm", 12, 32, lanes=16), Design("gru", 12, 32, lanes=32))
STREAMS = (1, 2, 4)
#: The clock the timesteps per second are given at: the ECP5 Fmax of LSTM I=12 H=32 head=9 P=32 (K = 1)
#: in the hardware section; an interleaved core's own Fmax is not measured here.
CLOCK_MHZ = 133.8
#: The design measured on Verilator (at every K of STREAMS), and its T.
MEASURED, STEPS = DESIGNS[0], 16
SIM_BUILD = Path("build") / "bench" / "sim-models"


def rows(designs=DESIGNS, streams=STREAMS) -> list[tuple[str, int, int, int | float]]:
    """``(design label, K, bound, cycles_per_step)`` from the schedule model."""
    return [(d.label, k, bound_cycles_per_step(d.config), Schedule(d.config).cycles_per_step(k))
            for d in designs for k in streams]


def measure(design: Design, streams: int, steps: int = STEPS, build_dir: Path = SIM_BUILD) -> float:
    """Cycles per step (of all streams) on Verilator: K sequences of ``steps`` and of ``2*steps`` at once."""
    from rnnhw.rtl.top import generate_verilog
    from rnnhw.sim.verify import run_simulation

    config = design.config.replace("hardware", interleave=streams)
    verilog = generate_verilog(config, design.qweights)
    cycles = {}
    for length in (steps, 2 * steps):
        x = np.stack([design.inputs(length)[0]] * streams)
        result = run_simulation(config, design.qweights, x, verilog=verilog, build_dir=build_dir, progress=False)
        if not result.bit_exact:
            raise BenchFailure(f"{design.label} K={streams}: not bit-exact ({result.first_mismatch})")
        cycles[length] = result.cycles
    return (cycles[2 * steps] - cycles[steps]) / (streams * steps)



def markdown(table, measured=None, clock_mhz: float = CLOCK_MHZ) -> str:
    """The table of :func:`rows`, with utilization and timesteps per second at ``clock_mhz``;
    ``measured``: ``{(label, K): cycles per step}`` on Verilator."""
    measured = measured or {}
    lines = ["| design | K | cycles/step (model) | measured | bound | utilization | timesteps/s (all streams) "
             "| timesteps/s per stream |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for label, k, bound, cycles in table:
        rate = clock_mhz * 1e6 / cycles
        found = measured.get((label, k))
        lines.append(f"| {label} | {k} | {cycles:g} | {'—' if found is None else f'{found:g}'} | {bound} "
                     f"| {bound / cycles:.3f} | {rate:,.0f} | {rate / k:,.0f} |")
    return "\n".join(lines)


def section(text: str, clock_mhz: float = CLOCK_MHZ) -> str:
    return f"""## Interleaved sequences

Written by `bench/interleave.py`. K independent sequences interleaved on one core (`[hardware]
interleave = K`), each with its own state, walked round-robin (stream 0's step t over all layers, then
stream 1's, ...): `Schedule(config).cycles_per_step()`, per timestep of all streams, so *utilization* =
bound / cycles per step is comparable with K = 1. *measured*: Verilator, K sequences of {STEPS} and of
{2 * STEPS} steps at once (one per stream, bit-exact), (cycles(2T) - cycles(T)) / (K·T). Timesteps per
second at {clock_mhz} MHz, the ECP5 Fmax of LSTM I=12 H=32 head=9 P=32 (K = 1) in the hardware section
(an interleaved core's own Fmax not measured).

{text}
"""


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-write", action="store_true", help="only print; leave docs/BENCHMARKS.md alone")
    parser.add_argument("--no-sim", action="store_true", help="the schedule model only (no Verilator runs)")
    args = parser.parse_args(argv)
    measured = {} if args.no_sim else {(MEASURED.label, k): measure(MEASURED, k) for k in STREAMS}
    text = section(markdown(rows(), measured))
    print(text)
    if not args.no_write:
        replace_section("interleave", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

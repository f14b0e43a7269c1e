"""Interleaved sequences (issue 15, part 2): utilization and timesteps per second at K = 1, 2, 4.

Run ``python bench/interleave.py`` (``--no-write`` to only print; ``--no-sim`` to skip Verilator;
``--no-synth`` to skip synthesis): prints a markdown table and writes it to the "Interleaved sequences"
section of ``docs/BENCHMARKS.md``.

K sequences share the lanes, each with its own state; the sequencer walks them round-robin
(``for t: for stream: for layer``), so while one stream's ``h`` is still in flight the lanes work on
another stream's step (``hardware.interleave``; :meth:`rnnhw.spec.schedule.Schedule.issue_times`).
Cycles per step count the timesteps of all streams, so ``bound / cycles_per_step`` is the utilization at
any K. *measured*: Verilator, K sequences of T and of 2T steps at once (one per stream), both bit-exact,
``(cycles(2T) - cycles(T)) / (K*T)``. The measured design is also synthesised for ECP5 at every K
(``bench/hardware.py``'s flow and cache), and its timesteps per second are given at each core's own Fmax.
"""

from __future__ import annotations

import argparse
import dataclasses
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

__all__ = ["DESIGNS", "STREAMS", "MEASURED", "rows", "measure", "synthesize", "markdown", "section", "main"]

DESIGNS = (Design("lstm", 12, 32, lanes=32), Design("lstm", 12, 32, lanes=16), Design("gru", 12, 32, lanes=32))
STREAMS = (1, 2, 4)
#: The design measured on Verilator and synthesised (at every K of STREAMS), and its T.
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



def synthesize(design: Design, streams: int):
    """ECP5 synthesis of ``design`` with ``streams`` interleaved sequences (``bench/hardware.py``'s cache)."""
    try:
        from . import hardware
    except ImportError:  # run as a script
        import hardware

    return hardware.synthesize_cached(dataclasses.replace(design, interleave=streams), "ecp5")


def markdown(table, measured=None, synthesized=None) -> str:
    """The table of :func:`rows` with utilization; ``measured``: ``{(label, K): cycles per step}`` on
    Verilator; ``synthesized``: ``{(label, K): SynthOutcome}`` (ECP5), whose Fmax gives the timesteps per
    second (of all streams, and of each) at the schedule's cycles per step."""
    measured, synthesized = measured or {}, synthesized or {}
    lines = ["| design | K | cycles/step (model) | measured | bound | utilization | LUTs | FFs | BRAMs | Fmax (MHz) "
             "| timesteps/s (all streams) | timesteps/s per stream |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for label, k, bound, cycles in table:
        found, ecp5 = measured.get((label, k)), synthesized.get((label, k))
        cells = ["—"] * 6
        if ecp5 is not None and ecp5.fmax_mhz:
            rate = ecp5.fmax_mhz * 1e6 / cycles
            cells = [f"{ecp5.luts:,}", f"{ecp5.ffs:,}", f"{ecp5.brams}", f"{ecp5.fmax_mhz:.1f}", f"{rate:,.0f}",
                     f"{rate / k:,.0f}"]
        lines.append(f"| {label} | {k} | {cycles:g} | {'—' if found is None else f'{found:g}'} | {bound} "
                     f"| {bound / cycles:.3f} | {' | '.join(cells)} |")
    return "\n".join(lines)


def section(text: str) -> str:
    return f"""## Interleaved sequences

Written by `bench/interleave.py`. K independent sequences interleaved on one core (`[hardware]
interleave = K`), each with its own state, walked round-robin (stream 0's step t over all layers, then
stream 1's, ...): `Schedule(config).cycles_per_step()`, per timestep of all streams, so *utilization* =
bound / cycles per step is comparable with K = 1. *measured*: Verilator, K sequences of {STEPS} and of
{2 * STEPS} steps at once (one per stream, bit-exact), (cycles(2T) - cycles(T)) / (K·T). Resources and
Fmax: ECP5 LFE5UM-85F, as in the hardware section, for {MEASURED.label} at every K; timesteps per second at
that core's own Fmax (— where a design was not synthesised).

{text}
"""


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-write", action="store_true", help="only print; leave docs/BENCHMARKS.md alone")
    parser.add_argument("--no-sim", action="store_true", help="the schedule model only (no Verilator runs)")
    parser.add_argument("--no-synth", action="store_true", help="no ECP5 synthesis (no resources or rates)")
    args = parser.parse_args(argv)
    measured = {} if args.no_sim else {(MEASURED.label, k): measure(MEASURED, k) for k in STREAMS}
    synthesized = {} if args.no_synth else {(MEASURED.label, k): synthesize(MEASURED, k) for k in STREAMS}
    text = section(markdown(rows(), measured, synthesized))
    print(text)
    if not args.no_write:
        replace_section("interleave", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

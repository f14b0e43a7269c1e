"""Interleaved sequences (issue 15, part 2) in the schedule model: utilization and timesteps per second.

Run ``python bench/interleave.py`` (``--no-write`` to only print): prints a markdown table and writes it
to the "Interleaved sequences" section of ``docs/BENCHMARKS.md``.

K sequences share the lanes, each with its own state; the sequencer would walk them round-robin
(``for t: for stream: for layer``), so while one stream's ``h`` is still in flight the lanes work on
another stream's step (:meth:`rnnhw.spec.schedule.Schedule.issue_times` with ``streams = K``). Cycles
per step count the timesteps of all streams, so ``bound / cycles_per_step`` is the utilization at any K.
"""

from __future__ import annotations

import argparse
import sys

from rnnhw.spec.schedule import Schedule, bound_cycles_per_step

try:
    from .benchmarks_md import replace_section
    from .designs import Design
except ImportError:  # run as a script
    from benchmarks_md import replace_section
    from designs import Design

__all__ = ["DESIGNS", "STREAMS", "CLOCK_MHZ", "rows", "markdown", "section", "main"]

DESIGNS = (Design("lstm", 12, 32, lanes=32), Design("lstm", 12, 32, lanes=16), Design("gru", 12, 32, lanes=32))
STREAMS = (1, 2, 4)
#: The clock the timesteps per second are given at: the ECP5 Fmax of LSTM I=12 H=32 head=9 P=32 (K = 1)
#: in the hardware section; an interleaved core's own Fmax is not measured (it has not been built yet).
CLOCK_MHZ = 133.8


def rows(designs=DESIGNS, streams=STREAMS) -> list[tuple[str, int, int, int | float]]:
    """``(design label, K, bound, cycles_per_step)`` from the schedule model."""
    return [(d.label, k, bound_cycles_per_step(d.config), Schedule(d.config).cycles_per_step(k))
            for d in designs for k in streams]



def markdown(table, clock_mhz: float = CLOCK_MHZ) -> str:
    """The table of :func:`rows`, with utilization and timesteps per second at ``clock_mhz``."""
    lines = ["| design | K | cycles/step (model) | bound | utilization | timesteps/s (all streams) "
             "| timesteps/s per stream |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for label, k, bound, cycles in table:
        rate = clock_mhz * 1e6 / cycles
        lines.append(f"| {label} | {k} | {cycles:g} | {bound} | {bound / cycles:.3f} | {rate:,.0f} "
                     f"| {rate / k:,.0f} |")
    return "\n".join(lines)


def section(text: str, clock_mhz: float = CLOCK_MHZ) -> str:
    return f"""## Interleaved sequences (schedule model)

Written by `bench/interleave.py`. K independent sequences interleaved on one core, each with its own
state, walked round-robin (stream 0's step t over all layers, then stream 1's, ...):
`Schedule(config).cycles_per_step(streams=K)`, per timestep of all streams, so *utilization* = bound /
cycles per step is comparable with K = 1. Model only: the interleaved RTL (`[hardware] interleave`) is
not built yet, so there is no measured column. Timesteps per second at {clock_mhz} MHz, the ECP5 Fmax of
LSTM I=12 H=32 head=9 P=32 (K = 1) in the hardware section.

{text}
"""


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-write", action="store_true", help="only print; leave docs/BENCHMARKS.md alone")
    args = parser.parse_args(argv)
    text = section(markdown(rows()))
    print(text)
    if not args.no_write:
        replace_section("interleave", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The clock rate as P grows (issue 15, part 1): LSTM I=64 H=128 at P = 16, 32, 64, 128 on the ECP5.

Run ``python bench/lanes.py`` (``--no-write`` to only print; ``--jobs N`` synthesis runs at once). For
each design of :data:`DESIGNS` it measures, as ``bench/hardware.py`` does (and with its functions and
synthesis cache): cycles per step on Verilator (runs of T and 2T steps, both bit-exact) against the
schedule model and the bound, then LUTs, FFs, DSPs, BRAMs and Fmax on the LFE5UM-85F (speed 8, 150 MHz
constraint), latency per step, GOP/s and the share of the device's multiplier peak. The lanes sit
behind the broadcast tree (``hardware.broadcast_fanout``, default 8: one register level up to P = 64,
two beyond), which the table names per design.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import sys
import time

from rnnhw.spec.errors import UserError, VerificationError
from rnnhw.spec.latency import broadcast_groups, broadcast_levels

try:
    from . import hardware
    from .benchmarks_md import machine_line, replace_section
    from .designs import BenchFailure, Design
    from .versions import source_revision, tool_versions
except ImportError:  # run as a script
    import hardware
    from benchmarks_md import machine_line, replace_section
    from designs import BenchFailure, Design
    from versions import source_revision, tool_versions

__all__ = ["LANES", "DESIGNS", "FMAX_TARGET_MHZ", "UTILIZATION_TARGET", "run", "tree_table", "goals", "section",
           "main"]

LANES = (16, 32, 64, 128)
#: The elementwise unit's three multipliers in DSP blocks (P + 3 of the 156): in logic, their shift-add
#: trees limited P = 64 to 134 MHz (7.46 ns, 4.7 of them routing through the crowded fabric).
DESIGNS = tuple(Design("lstm", 64, 128, lanes=p, elementwise_multipliers="dsp") for p in LANES)
#: The issue's goals for every design: Fmax on the LFE5UM-85F-8, and utilization.
FMAX_TARGET_MHZ, UTILIZATION_TARGET = 150.0, 0.99


def _say(text: str) -> None:
    print(f"lanes: {text}", file=sys.stderr, flush=True)


def run(jobs: int, cached_only: bool = False) -> list[hardware.HardwareRow]:
    """Synthesis in ``jobs`` worker threads (the largest design first) while Verilator measures cycles;
    ``cached_only``: only what the synthesis cache holds."""
    from rnnhw.spec.schedule import Schedule, bound_cycles_per_step

    for design in DESIGNS:
        _ = design.verilog  # generated here, before the threads read it
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=jobs)
    try:
        ecp5 = {d: pool.submit(hardware.synthesize_cached, d, "ecp5", cached_only=cached_only)
                for d in reversed(DESIGNS)}
        measured = {}
        for index, design in enumerate(DESIGNS, 1):
            _say(f"[{index}/{len(DESIGNS)}] {design.label}: cycles on Verilator")
            measured[design] = hardware.measure_cycles(design, build_dir=hardware.SIM_BUILD)
        return [hardware.HardwareRow(design=d, measured=measured[d], expected=Schedule(d.config).cycles_per_step(),
                                     bound=bound_cycles_per_step(d.config), ecp5=ecp5[d].result()) for d in DESIGNS]
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def tree_table(rows: list[hardware.HardwareRow]) -> str:
    """Per design: lane groups and register levels of the broadcast tree."""
    lines = ["| design | P | lane groups | tree levels |", "|---|---:|---:|---:|"]
    for row in rows:
        hw = row.design.config.hardware
        lines.append(f"| {row.design.model_label} | {row.design.lanes} | {broadcast_groups(hw)} "
                     f"| {broadcast_levels(hw)} |")
    return "\n".join(lines)


def goals(rows: list[hardware.HardwareRow]) -> list[str]:
    """One line per design: whether it meets the Fmax and utilization goals, and cycles = model."""
    notes = []
    for row in rows:
        fmax = row.ecp5.fmax_mhz
        met = fmax is not None and fmax >= FMAX_TARGET_MHZ and row.utilization >= UTILIZATION_TARGET
        clock = "no Fmax" if fmax is None else f"{fmax:.1f} MHz"
        exact = "= the schedule model" if row.measured == row.expected else f"!= the model's {row.expected:g}"
        notes.append(f"{row.design.label}: {clock}, utilization {row.utilization:.3f}, measured cycles {exact}: "
                     f"{'meets' if met else '**misses**'} the goal (>= {FMAX_TARGET_MHZ:g} MHz, >= "
                     f"{UTILIZATION_TARGET}).")
    return notes


def section(rows: list[hardware.HardwareRow], versions: str, machine: str, revision: str, seconds: float) -> str:
    bullet = "\n".join(f"- {note}" for note in goals(rows) + hardware.findings(rows))
    return f"""## Clock rate as P grows

Written by `bench/lanes.py` (issue 15, part 1). One LSTM layer, I=64 H=128 (default numerics, random
weights), at P = {", ".join(map(str, LANES))}, measured as in the hardware section: *cycles/step measured* on
Verilator (T = {hardware.STEPS} and {2 * hardware.STEPS} steps, both bit-exact), *schedule* the model, *bound*
ceil(G·H·(I+H)/P); ECP5 LFE5UM-85F speed 8 (150 MHz constraint, seed 1). Beyond 8 lanes the issued step,
the operand and the drain's controls reach the lanes through the broadcast tree (`hardware.broadcast_fanout
= 8`; docs/architecture.md, Broadcast tree, banked weights): no register drives more than 8 lanes or
tree registers, each multiplier has its own operand register and a register more on each side, and the
sequencer registers the operand's sources by their block RAMs; weight memories deeper than one block RAM
are banked, each bank's output registered twice. The synthesis flow keeps the tree's copies apart
(`keep`) and moves the registers before each MULT18X18D into the block (docs/synthesis.md, "The flow's own steps").

How it got here. Before the tree, P = 16 ran at 120.4 MHz (one operand register routed to all 16
multipliers). With the tree, banks and multiplier registers but every register in the fabric, and
Yosys merging the tree's copies back into one register per level, P = 16, 32 and 64 reached 141.3,
135.2 and 126.2 MHz, limited by the routes between fabric registers and the MULT18X18D blocks (2.5 to
3.4 ns in, 3.1 ns inside, 1.0 to 1.4 ns out) and by block RAM clock-to-out (4.1 to 4.3 ns) and the
route after it. Then, each measured at P = 16 to 64: the multipliers' input registers moved into the
blocks; the state, input and cell-state memories without read-write collision logic after them; the
LSTM cell state read a cycle ahead into two registers; the drain chain loaded from a register per lane
(P = 32 had been limited by the group's shift enable, 7.05 ns); the output buffer's room kept as a
register (P = 32: the issue decision, 6.96 ns); a second register per weight bank (P = 16: 3.2 ns from
a bank's block RAM to its register). Moving the product registers into the blocks as well made P = 64
unroutable (after 20 minutes nextpnr's router got no lower than 14,000 unrouted arcs; with only the
input registers moved it routes in 6 minutes, 153.8 MHz, at the RTL before the second bank register),
and so did moving the 129 block RAM read registers into the DP16KDs (78,700 arcs left after 5 minutes):
both stay in the fabric. With the second bank register, P = 64 did not finish routing either (65,000 of
about 78,000 arcs left after 7 minutes of routing, on a loaded machine): the register that lifted
P = 16 from 137.9 to 151.2 MHz costs P = 64 its route, and the table has no Fmax for it (nor for
P = 32, whose run with this flow did not finish in time). P = 128 has no Fmax here: it
was placed and routed only with its 129 block RAM read registers moved, and after 5 minutes of routing
106,600 of its 117,166 arcs were left, falling by about 100 per 1,000 router iterations (128 of the 156
multipliers; at the previous flow, 84,000 arcs after 40 minutes). The flow as it is now was not tried
on it: one run takes longer than was left.

{hardware.main_table(rows)}

{tree_table(rows)}

{bullet}

RTL and golden model of commit {revision}. Machine: {machine}. Tools: {versions}.
This script took {seconds / 60:.1f} min (synthesis results from the cache are not re-run).
"""


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=2, help="synthesis runs at once (default 2)")
    parser.add_argument("--no-write", action="store_true", help="only print; leave docs/BENCHMARKS.md alone")
    parser.add_argument("--cached-only", action="store_true",
                        help="no synthesis: the designs the cache holds (the others without resources)")
    args = parser.parse_args(argv)
    start = time.monotonic()
    revision = source_revision()
    try:
        rows = run(max(1, args.jobs), args.cached_only)
    except (BenchFailure, UserError, VerificationError) as failure:
        print(f"bench/lanes.py: {failure}", file=sys.stderr)
        return 1
    text = section(rows, tool_versions(simulators=("verilator",), synthesis=True), machine_line(), revision,
                   time.monotonic() - start)
    print(text)
    if not args.no_write:
        replace_section("lanes", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

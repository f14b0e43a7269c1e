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
135.2 and 126.2 MHz, limited by the routes between fabric registers and the MULT18X18D blocks and by
block RAM clock-to-out (4.1 to 4.3 ns) and the route after it. Then the multipliers' input registers
moved into the blocks, memories lost their read-write collision logic, the drain chain and the output
buffer's room got registers of their own and each weight bank two registers: P = 16 151.2 MHz (seed 1,
elementwise multipliers in logic). nextpnr's `router1` could not route P = 64 or 128 (tens of
thousands of arcs left after 7 to 40 minutes). This run's flow and RTL, each step measured on P = 64
or 128: designs beyond a quarter of the DSP blocks route with `router2` (P = 64 and 128 in 2 to 3
minutes; both then at about 100 MHz, limited by the core's reset reaching some 25,000 flip-flops across
the die, 7.8 to 8.9 ns); the lanes' datapath registers lost their reset (P = 64 117.1, P = 128 92.1
MHz); behind a tree the activation tables read their block RAM into two registers and each lane's
accumulator reads its own copy of the step's controls (P = 128 had 10.2 ns from a group register to
the accumulators) and keeps its bias registers (Yosys had merged equal bias registers of lanes far
apart, 6.6 ns); the elementwise unit's three multipliers in DSP blocks (in logic, its shift-add trees
limited P = 64 to 134.0 MHz, 4.7 ns of routing); and block RAM read registers that feed only registers
moved into the DP16KD (in the fabric the placer left the first of two registers 3.1 to 4.2 ns from its
block: P = 16 / 32 / 64 were at 138.9 / 136.7 / 120.6 MHz before, on the same netlists). Then the
sequencer's issue decision: the input buffer's count of the read slot became a register (the slot choice
had been the decision's first logic level: P = 32 went from 148.2 to 164.1 MHz), and behind the tree only
the step copies' `valid` flags kept a reset (with a reset on every copy of every field, P = 64 ran at
108.2 MHz, 8.3 ns of the reset's routing). Tried and left out: product registers moved into the
MULT18X18D (`REG_OUTPUT`) for designs routed with `router2` made P = 64 and 128 worse (106.5 and 94.4
MHz: longer routes elsewhere, hundreds of failing endpoints). The limit at P = 64 and 128 was then the
sequencer's issue decision again: the comparison of what has arrived (the input count, or the `h` units
written) with the operand index, then the decision's fan-out to the step and pass counters and the issue
registers (6.8 ns at P = 64, 7.8 ns at P = 128, more than half of it routing). Tried and left out:
that comparison decided a cycle ahead into a register (for the operand that follows or the same one,
from the registered counts with this cycle's arrivals entering last, and from own copies of the operand
indices): the same cycles, but P = 64 at 122.1, 138.7 and 128.8 MHz and P = 128 at 113.7 and 112.2 MHz
over three versions, each with routes of 1.4 to 4.1 ns between the sequencer's counters, the new
registers and the issue registers by the lanes. What the routes showed: the decision's slowest loads
were the step's weight address, bias address and first-row counters, which only the lanes read, so the
placer had put them by the lanes (at P = 128, 3.4 ns of routing from the decision to the weight address).
Now none of those is a register enabled by the decision: the bias address and the first row follow from
the job and its pass, the weight address is the last cycle's plus the step issued then (or the next
job's base), from the decision registered (docs/architecture.md, Broadcast tree). Same steps in the same
cycles; on the same flow P = 64 went from 146.9 to 157.9 MHz and P = 128 from 128.6 to 154.7 (P = 16 and
32, at 148.4 and 149.5 before, are at 167.2 and 168.1). The slowest paths now: P = 16 and 32 the output
FIFO's block RAM to the core's output pins (6.0 ns, 4.3 of them the block RAM's clock-to-out), P = 64 the
sigmoid table's address logic (6.3 ns), P = 128 the core's reset to one group's step `valid` copy (5.8 ns
of routing).

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

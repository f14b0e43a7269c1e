"""Bidirectional layers (issue 10): cycles per step, per-sequence overhead, ECP5 resources and clock rate.

Run ``python bench/bidirectional.py`` (``--no-write`` to only print): the bundled ``digits_bilstm``
configuration (bidirectional LSTM I=8 H=16 per direction, head 10, P=8) next to the same model run one
way only, and a 2-layer bidirectional GRU (I=8, H=16, P=8) with an output every step, each measured as
``bench/hardware.py`` measures its designs (random weights; the cycle counts and the resources do not
depend on the weights' values):

* **cycles per step** on Verilator, runs of ``T`` and of ``2T`` steps, all bit-exact against the golden
  model, ``(cycles(2T) - cycles(T)) / T``, and the **per-sequence overhead** ``cycles(T) - T * per_step``
  (a bidirectional core's layer barriers and output phase): of sequences back to back (:func:`measure`)
  and of one sequence alone (which includes its input's arrival),
  beside ``Schedule.cycles_per_step()`` and ``Schedule.sequence_overhead()``; bound and utilization;
* **ECP5** LFE5UM-85F synthesis and place and route through the synthesis cache of ``bench/hardware.py``
  (:func:`hardware.synthesize_cached`): LUTs, FFs, DSPs, BRAMs, Fmax, latency per step, GOP/s, peak.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import sys
from dataclasses import dataclass

from rnnhw.spec.schedule import Schedule, bound_cycles_per_step

try:
    from .benchmarks_md import replace_section
    from .designs import Design
    from .hardware import SIM_BUILD, STEPS, HardwareRow, _cycles, _number, ecp5_cells, synthesize_cached
except ImportError:  # run as a script
    from benchmarks_md import replace_section
    from designs import Design
    from hardware import SIM_BUILD, STEPS, HardwareRow, _cycles, _number, ecp5_cells, synthesize_cached

__all__ = ["DESIGNS", "BidirectionalRow", "measure", "markdown", "section", "main"]

#: ``examples/digits_bilstm``'s configuration, the same model one way only, and a stacked bidirectional GRU
#: with an output every step.
DESIGNS = (Design("lstm", 8, 16, lanes=8, head=10, bidirectional=True), Design("lstm", 8, 16, lanes=8, head=10),
           Design("gru", 8, 16, lanes=8, bidirectional=True, num_layers=2, return_sequences=True))


def _say(text: str) -> None:
    print(f"bidirectional: {text}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class BidirectionalRow(HardwareRow):
    """A :class:`HardwareRow` with the cycles one sequence of ``T`` steps costs beyond ``T`` steady steps."""

    overhead: float = 0.0  # measured back to back: sequence_cycles(T) - T * measured
    expected_overhead: float | None = None  # Schedule.sequence_overhead() (bidirectional cores only)
    single_step: float = 0.0  # one sequence alone: (cycles(2T) - cycles(T)) / T, its input's arrival included
    single_overhead: float = 0.0  # one sequence alone: cycles(T) - T * single_step


def _per_step(cycles_of, steps: int) -> tuple[float, float]:
    """``(cycles per step, cycles(T) - T * cycles per step)`` from ``cycles_of(T)`` and ``cycles_of(2T)``."""
    short, long = cycles_of(steps), cycles_of(2 * steps)
    per_step = (long - short) / steps
    return per_step, short - steps * per_step


def measure(design: Design, steps: int = STEPS) -> tuple[float, float, float, float]:
    """Verilator, every run bit-exact: ``(cycles per step, overhead per sequence)`` back to back (the
    cycles between the starts of two sequences: 4 sequences minus 2, over 2), then of one sequence alone
    (from ``rst``, so its input's arrival, one word a cycle, is included), each from ``steps`` and
    ``2 * steps`` timesteps."""
    def run(length: int, sequences: int) -> int:
        return design.simulate(length, build_dir=SIM_BUILD, sequences=sequences).cycles

    back_to_back = _per_step(lambda length: (run(length, 4) - run(length, 2)) / 2, steps)
    return (*back_to_back, *_per_step(lambda length: run(length, 1), steps))


def markdown(rows: list[BidirectionalRow]) -> str:
    lines = ["| design | P | cycles/step measured | schedule | overhead/sequence measured | schedule "
             "| one sequence: cycles/step | overhead | bound | utilization | LUTs | FFs | DSPs | BRAMs "
             "| Fmax (MHz) | latency/step (µs) | GOP/s | peak |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for row in rows:
        lines.append(f"| {row.design.model_label} | {row.design.lanes} | {_cycles(row.measured)} "
                     f"| {_cycles(row.expected)} | {_cycles(row.overhead)} "
                     f"| {'—' if row.expected_overhead is None else _cycles(row.expected_overhead)} "
                     f"| {_cycles(row.single_step)} | {_cycles(row.single_overhead)} "
                     f"| {row.bound:,} | {row.utilization:.3f} | {ecp5_cells(row.ecp5)} "
                     f"| {_number(row.latency_us, '.2f')} | {_number(row.gops, '.2f')} "
                     f"| {_number(row.peak_fraction, '.2%')} |")
    return "\n".join(lines)


def section(table: str, steps: int = STEPS) -> str:
    return f"""## Bidirectional layers

Written by `bench/bidirectional.py` (issue 10). `examples/digits_bilstm`'s configuration (bidirectional
LSTM, H = 16 per direction, the head reading [h_fwd; h_bwd]), the same model one way only, and a
2-layer bidirectional GRU with an output every step (layer 1 reads [h_fwd; h_bwd] of layer 0); default
numerics, random weights. Every Verilator run bit-exact against the golden model. *cycles/step
measured* and *overhead/sequence measured*: sequences back to back, as a bidirectional core runs a
batch (while one sequence runs the next one's input arrives in the other slot): the cycles between the
starts of two sequences, S(T) = (cycles of 4 sequences - cycles of 2) / 2, for T = {steps} and 2T;
cycles/step = (S(2T) - S(T)) / T with both directions of a step counted, overhead = S(T) - T x
cycles/step (a bidirectional core runs step s forward at t = s and backward at t = T-1-s, but each
layer waits for the whole layer below, and the output phase for the top layer's last h); against
`Schedule(config).cycles_per_step()` and `.sequence_overhead()` (of the one-way core, its pipeline's
fill and drain and the head, which the schedule model does not give: "—"). *one sequence*: one
sequence of T and one of 2T alone, from reset, (cycles(2T) - cycles(T)) / T and cycles(T) - T x that:
a bidirectional core takes the whole sequence in (I words per step, one a cycle) before it starts, so
a lone sequence pays I more cycles per step. *bound*: D x ceil(G·H·(I+H)/P) per layer, D directions;
*utilization*: bound / measured. ECP5 LFE5UM-85F as in the hardware section (through
`bench/hardware.py`'s synthesis cache); latency/step = measured cycles / Fmax; GOP/s count both
directions' MACs.

{table}
"""


def run() -> list[BidirectionalRow]:
    """Synthesis in a worker thread while the main thread measures cycles on Verilator."""
    for design in DESIGNS:
        _ = design.verilog  # generated here, before the thread reads it
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        ecp5 = {d: pool.submit(synthesize_cached, d, "ecp5") for d in DESIGNS}
        rows = []
        for design in DESIGNS:
            _say(f"{design.label}: cycles on Verilator (1, 2 and 4 sequences of {STEPS} and {2 * STEPS} steps)")
            per_step, overhead, single_step, single_overhead = measure(design)
            schedule = Schedule(design.config)
            expected_overhead = schedule.sequence_overhead() if design.bidirectional else None
            rows.append(BidirectionalRow(design=design, measured=per_step, expected=schedule.cycles_per_step(),
                                         bound=bound_cycles_per_step(design.config), ecp5=ecp5[design].result(),
                                         overhead=overhead, expected_overhead=expected_overhead,
                                         single_step=single_step, single_overhead=single_overhead))
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-write", action="store_true", help="only print; leave docs/BENCHMARKS.md alone")
    args = parser.parse_args(argv)
    text = section(markdown(run()))
    print(text)
    if not args.no_write:
        replace_section("bidirectional", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

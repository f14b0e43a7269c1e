"""Bidirectional layers (issue 10): cycles per step, per-sequence overhead, ECP5 resources and clock rate.

Run ``python bench/bidirectional.py`` (``--no-write`` to only print): the bundled ``digits_bilstm``
configuration (bidirectional LSTM I=8 H=16 per direction, head 10, P=8) next to the same model run one
way only, and a 2-layer bidirectional GRU (I=8, H=16, P=8) with an output every step, each measured as
``bench/hardware.py`` measures its designs (random weights; the cycle counts and the resources do not
depend on the weights' values):

* **cycles per step** on Verilator, one sequence of ``T`` and one of ``2T`` steps, both bit-exact against
  the golden model, ``(cycles(2T) - cycles(T)) / T``; the **per-sequence overhead** of a bidirectional
  core (layer barriers and the output phase) ``cycles(T) - T * per_step``,
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
    from .hardware import SIM_BUILD, STEPS, HardwareRow, _cycles, _number, synthesize_cached
except ImportError:  # run as a script
    from benchmarks_md import replace_section
    from designs import Design
    from hardware import SIM_BUILD, STEPS, HardwareRow, _cycles, _number, synthesize_cached

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

    overhead: float = 0.0  # measured: cycles(T) - T * measured
    expected_overhead: float | None = None  # Schedule.sequence_overhead() (bidirectional cores only)


def measure(design: Design, steps: int = STEPS) -> tuple[float, float]:
    """``(cycles per step, per-sequence overhead)`` on Verilator from bit-exact runs of ``steps`` and
    ``2 * steps`` timesteps."""
    short, long = (design.simulate(length, build_dir=SIM_BUILD).cycles for length in (steps, 2 * steps))
    per_step = (long - short) / steps
    return per_step, short - steps * per_step


def markdown(rows: list[BidirectionalRow]) -> str:
    lines = ["| design | P | cycles/step measured | schedule | overhead/sequence measured | schedule | bound "
             "| utilization | LUTs | FFs | DSPs | BRAMs | Fmax (MHz) | latency/step (µs) | GOP/s | peak |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for row in rows:
        e = row.ecp5
        resources = (f"{_number(e.luts, ',')} | {_number(e.ffs, ',')} | {_number(e.dsps, 'd')} "
                     f"| {_number(e.brams, 'd')} | {_number(e.fmax_mhz, '.1f')}")
        lines.append(f"| {row.design.model_label} | {row.design.lanes} | {_cycles(row.measured)} "
                     f"| {_cycles(row.expected)} | {_cycles(row.overhead)} "
                     f"| {'—' if row.expected_overhead is None else _cycles(row.expected_overhead)} "
                     f"| {row.bound:,} | {row.utilization:.3f} | {resources} | {_number(row.latency_us, '.2f')} "
                     f"| {_number(row.gops, '.2f')} | {_number(row.peak_fraction, '.2%')} |")
    return "\n".join(lines)


def section(table: str, steps: int = STEPS) -> str:
    return f"""## Bidirectional layers

Written by `bench/bidirectional.py` (issue 10). `examples/digits_bilstm`'s configuration (bidirectional
LSTM, H = 16 per direction, the head reading [h_fwd; h_bwd]), the same model one way only, and a
2-layer bidirectional GRU with an output every step (layer 1 reads [h_fwd; h_bwd] of layer 0); default
numerics, random weights. *cycles/step measured*: Verilator, one sequence of T = {steps} and one of 2T
steps, both bit-exact against the golden model, (cycles(2T) - cycles(T)) / T, both directions of a
step counted. *overhead/sequence*: what a sequence of T steps costs beyond T x cycles/step (a bidirectional
core runs step s forward at t = s and backward at t = T-1-s, but each layer waits for the whole layer
below, and the output phase for the top layer's last h): measured cycles(T) - T x cycles/step, against
`Schedule(config).sequence_overhead()`; of the one-way core, the pipeline's fill and drain and the
head, which the schedule model does not give ("—"). *bound*: D x ceil(G·H·(I+H)/P) per layer, D
directions; *utilization*: bound / measured. ECP5 LFE5UM-85F as in the hardware section (through
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
            _say(f"{design.label}: cycles on Verilator ({STEPS} and {2 * STEPS} steps)")
            per_step, overhead = measure(design)
            schedule = Schedule(design.config)
            expected_overhead = schedule.sequence_overhead() if design.bidirectional else None
            rows.append(BidirectionalRow(design=design, measured=per_step, expected=schedule.cycles_per_step(),
                                         bound=bound_cycles_per_step(design.config), ecp5=ecp5[design].result(),
                                         overhead=overhead, expected_overhead=expected_overhead))
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

"""The hardware suite (issue 6): cycles per step against the schedule and the bound, resources, Fmax, GOP/s.

Run ``python bench/hardware.py`` (``--no-write`` to only print; ``--jobs N`` synthesis runs at once)
for every design of :data:`DESIGNS`:

* **cycles per step** measured on Verilator: one sequence of ``T`` and one of ``2T`` steps
  (:data:`STEPS`), ``(cycles(2T) - cycles(T)) / T``, so that filling and draining the pipeline and the
  head cancel; both runs must match the golden model bit for bit. Beside it the schedule's steady-state
  prediction (``Schedule.cycles_per_step()``) and the bound ``ceil(G*H*(I+H)/P)``; utilization =
  bound / measured.
* **ECP5** (LFE5UM-85F, speed 8, 150 MHz constraint) synthesis and place and route: LUTs, FFs, DSPs,
  BRAMs, Fmax; latency per step = measured cycles / Fmax; GOP/s = 2 ops x MACs per step x Fmax /
  measured cycles per step (MACs ``G*H*(I+H)``; the head's, once per sequence, not counted); peak =
  P x Fmax against the device's multipliers x their Fmax (``rnnhw.spec.devices.peak_fraction``).
* iCE40 (UP5K) and xc7 (xc7a35t, synthesis only) resources for the designs in :data:`OTHER_TARGETS`;
  a design that does not fit is recorded with the tool's message.

Synthesis results are cached in ``build/bench/synth/`` under :func:`rnnhw.synth.cache_key` (a hash of
the Verilog, the target, the device, the clock constraint and the tool versions), so a re-run only
synthesises what changed; designs that do not fit are cached too (as outcomes with the message). The
plots (utilization and resources against P for the LSTM I=12 H=32) go to ``docs/``.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import math
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from rnnhw.spec.devices import device_facts, gops, peak_fraction
from rnnhw.spec.errors import UserError, VerificationError
from rnnhw.synth import TARGETS, design_needs
from rnnhw.synth import cache_key as synthesis_cache_key

try:
    from .benchmarks_md import BENCHMARKS_MD, machine_line, replace_section
    from .designs import BenchFailure, Design
    from .versions import source_revision, tool_versions
except ImportError:  # run as a script
    from benchmarks_md import BENCHMARKS_MD, machine_line, replace_section
    from designs import BenchFailure, Design
    from versions import source_revision, tool_versions

__all__ = ["SWEEP_LANES", "DESIGNS", "OTHER_TARGETS", "STEPS", "SynthOutcome", "HardwareRow",
           "measure_cycles", "synthesis_cache_key", "synthesize_cached", "ecp5_cells", "main_table",
           "targets_table", "findings", "section", "plot_utilization", "plot_resources"]

SWEEP_LANES = (1, 4, 8, 16, 32)
DESIGNS = (
    *(Design("lstm", 12, 32, lanes=p, head=9) for p in SWEEP_LANES),
    Design("lstm", 64, 128, lanes=16),
    Design("gru", 12, 32, lanes=8),
    Design("gru", 12, 32, lanes=8, gru_reset="before"),
    Design("gru", 12, 32, lanes=12, gru_reset="before"),
    Design("rnn_tanh", 1, 16, lanes=4),
    Design("jordan", 12, 32, lanes=8, output_size=10),
)
#: Designs also synthesised for iCE40 and xc7 (default devices).
OTHER_TARGETS = (DESIGNS[SWEEP_LANES.index(8)],)
ECP5_DEVICE = "LFE5UM-85F"
#: T of the cycle measurement (runs of T and 2T steps; even, for schedules that repeat every two steps).
STEPS = 32
CACHE = Path("build") / "bench" / "synth"
SIM_BUILD = Path("build") / "bench" / "sim-models"
DOCS = BENCHMARKS_MD.parent
UTILIZATION_PNG = "bench_utilization.png"
RESOURCES_PNG = "bench_resources.png"


def _say(text: str) -> None:
    print(f"hardware: {text}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------------
# Measuring


def measure_cycles(design: Design, steps: int = STEPS, build_dir: Path = SIM_BUILD) -> float:
    """Steady-state cycles per timestep on Verilator: ``(cycles(2T) - cycles(T)) / T``."""
    short, long = (design.simulate(length, build_dir=build_dir).cycles for length in (steps, 2 * steps))
    return (long - short) / steps


@dataclass(frozen=True)
class SynthOutcome:
    """A synthesis result, or why there is none (``error``: e.g. the design does not fit)."""

    target: str
    device: str
    luts: int | None = None
    ffs: int | None = None
    dsps: int | None = None
    brams: int | None = None
    fmax_mhz: float | None = None
    seconds: float | None = None
    error: str | None = None

    def to_json(self) -> dict:
        return {key: getattr(self, key) for key in self.__dataclass_fields__}


def synthesize_cached(design: Design, target: str, cache: Path = CACHE, *, cached_only: bool = False) -> SynthOutcome:
    """:func:`rnnhw.synth.synthesize` of ``design`` on the target's default device (ECP5: LFE5UM-85F),
    through the cache. A design that does not fit is an outcome with ``error`` (cached too); any other
    tool failure raises. ``cached_only``: a design not in the cache is an outcome with ``error`` saying
    so, and no tool runs."""
    from rnnhw.spec.outputs import atomic_file
    from rnnhw.synth import TARGETS, SynthesisError, synthesize

    spec = TARGETS[target]
    device = ECP5_DEVICE if target == "ecp5" else spec.default_device.name
    verilog = design.verilog
    path = cache / f"{target}-{synthesis_cache_key(verilog, target, device, spec.default_freq_mhz)}.json"
    if path.exists():
        _say(f"{design.label} on {target} {device}: cached ({path})")
        return SynthOutcome(**json.loads(path.read_text()))
    if cached_only:
        return SynthOutcome(target=target, device=device, error="not synthesised in this run (--cached-only)")
    _say(f"{design.label} on {target} {device}: synthesising ...")
    start = time.monotonic()
    try:
        result = synthesize(verilog, target=target, device=device, top="rnnhw_top", quiet=True)
        outcome = SynthOutcome(target=result.target, device=result.device, luts=result.luts, ffs=result.ffs,
                               dsps=result.dsps, brams=result.brams, fmax_mhz=result.fmax_mhz,
                               seconds=result.seconds)
    except SynthesisError as error:
        message = str(error).split("; logs kept in", 1)[0]
        if "does not fit" not in message:
            raise
        outcome = SynthOutcome(target=target, device=device, seconds=round(time.monotonic() - start, 1),
                               error=message)
    cache.mkdir(parents=True, exist_ok=True)
    with atomic_file(path) as tmp:
        tmp.write_text(json.dumps(outcome.to_json(), indent=2) + "\n")
    _say(f"{design.label} on {target} {device}: done in {time.monotonic() - start:.0f} s")
    return outcome


# --------------------------------------------------------------------------------------------------
# Derived numbers and formatting


@dataclass(frozen=True)
class HardwareRow:
    """Everything measured for one design."""

    design: Design
    measured: float  # cycles per step on Verilator
    expected: float  # Schedule.cycles_per_step()
    bound: int
    ecp5: SynthOutcome

    @property
    def utilization(self) -> float:
        return self.bound / self.measured

    @property
    def latency_us(self) -> float | None:
        """Microseconds per timestep at Fmax."""
        return self.measured / self.ecp5.fmax_mhz if self.ecp5.fmax_mhz else None

    @property
    def gops(self) -> float | None:
        """Giga-operations per second at Fmax, 2 per multiply-accumulate."""
        if not self.ecp5.fmax_mhz:
            return None
        return gops(self.design.macs_per_step, self.measured, self.ecp5.fmax_mhz)

    @property
    def peak_fraction(self) -> float | None:
        """P x Fmax against the device's multipliers x their Fmax (``rnnhw.spec.devices``)."""
        if not self.ecp5.fmax_mhz:
            return None
        return peak_fraction(self.design.lanes, self.ecp5.fmax_mhz, device_facts(self.ecp5.device))


def _number(value, spec: str) -> str:
    return "—" if value is None else format(value, spec)


def _cycles(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def ecp5_cells(e: SynthOutcome) -> str:
    """The LUTs, FFs, DSPs, BRAMs and Fmax cells of a table row ("—" each without a result)."""
    if e.error:  # named under the findings
        return " | ".join(["—"] * 5)
    return (f"{_number(e.luts, ',')} | {_number(e.ffs, ',')} | {_number(e.dsps, 'd')} "
            f"| {_number(e.brams, 'd')} | {_number(e.fmax_mhz, '.1f')}")


def main_table(rows: list[HardwareRow]) -> str:
    lines = ["| design | P | cycles/step measured | schedule | bound | utilization | LUTs | FFs | DSPs "
             "| BRAMs | Fmax (MHz) | latency/step (µs) | GOP/s | peak |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for row in rows:
        resources = ecp5_cells(row.ecp5)
        lines.append(f"| {row.design.model_label} | {row.design.lanes} | {_cycles(row.measured)} "
                     f"| {_cycles(row.expected)} | {row.bound:,} | {row.utilization:.3f} | {resources} "
                     f"| {_number(row.latency_us, '.2f')} | {_number(row.gops, '.2f')} "
                     f"| {_number(row.peak_fraction, '.2%')} |")
    return "\n".join(lines)


def targets_table(entries: list[tuple[Design, SynthOutcome]]) -> str:
    lines = ["| design | target | device | LUTs | FFs | DSPs | BRAMs | Fmax (MHz) | note |",
             "|---|---|---|---:|---:|---:|---:|---:|---|"]
    for design, o in entries:
        if o.error:
            lines.append(f"| {design.label} | {o.target} | {o.device} | — | — | — | — | — | {o.error} |")
            continue
        fmax = "synthesis only" if o.fmax_mhz is None and o.target == "xc7" else _number(o.fmax_mhz, ".1f")
        lines.append(f"| {design.label} | {o.target} | {o.device} | {o.luts:,} | {o.ffs:,} | {o.dsps} "
                     f"| {o.brams} | {fmax} | |")
    return "\n".join(lines)


def findings(rows: list[HardwareRow], fmax_target: float = 150.0) -> list[str]:
    """Numbers that differ from what the design promises (measured cycles != schedule, DSPs != P, no
    ECP5 result, Fmax under the target for the issue's reference design), and designs the schedule
    itself puts above the bound, with the reason."""
    notes = []
    for row in rows:
        label = row.design.label
        if not math.isclose(row.measured, row.expected):
            notes.append(f"{label}: measured {_cycles(row.measured)} cycles per step, the schedule model "
                         f"predicts {_cycles(row.expected)} ({row.measured / row.expected - 1:+.1%}).")
        elif row.measured > row.bound:
            notes.append(f"{label}: {_cycles(row.measured)} cycles per step, {_cycles(row.measured - row.bound)} "
                         f"above the bound (utilization {row.utilization:.3f}), as the schedule model "
                         f"predicts: {_shortfall(row.design)}.")
        multipliers = design_needs(row.design.config).dsps(TARGETS["ecp5"])  # P, or ceil(P/2) packed
        elementwise = row.design.config.hardware.elementwise_multipliers == "dsp"
        if row.ecp5.dsps is not None and elementwise and row.ecp5.dsps > multipliers:
            notes.append(f"{label}: {row.ecp5.dsps} DSP blocks (MULT18X18D): the lanes' {multipliers} and "
                         f"{row.ecp5.dsps - multipliers} of the elementwise unit (elementwise_multipliers = \"dsp\").")
        elif row.ecp5.dsps is not None and row.ecp5.dsps != multipliers:
            notes.append(f"{label}: {row.ecp5.dsps} DSP blocks (MULT18X18D), not the lanes' {multipliers} "
                         f"(P = {row.design.lanes}).")
        if row.ecp5.error:
            notes.append(f"{label}: no ECP5 result: {row.ecp5.error}.")
        reference = row.design == Design("lstm", 12, 32, lanes=8, head=9)
        if reference and row.ecp5.fmax_mhz is not None and row.ecp5.fmax_mhz < fmax_target:
            notes.append(f"{label}: Fmax {row.ecp5.fmax_mhz:.1f} MHz on the {row.ecp5.device}, under the "
                         f"{fmax_target:g} MHz target.")
    return notes


def _shortfall(design: Design) -> str:
    """Why the schedule model puts a design above the bound."""
    from rnnhw.spec.schedule import Schedule, bound_cycles_per_step

    schedule, model = Schedule(design.config), design.config.model
    layers = range(model.num_layers)
    if any(schedule.pass_cycles(k) > schedule.operands(k) for k in layers):
        return "draining a pass of P rows takes longer than issuing its operands"
    output_passes = schedule.head_passes * model.hidden_size if model.jordan else 0
    if sum(schedule.passes * schedule.operands(k) + output_passes for k in layers) > bound_cycles_per_step(
            design.config):
        return ("its passes leave lanes idle: the reset-before GRU's r, z rows and its n rows, or the Jordan "
                "cell's gate rows and its O output rows, each fill whole passes of P")
    return "a step's first pass waits for h values the previous step has not finished (the h recurrence)"


_FACTS = device_facts(ECP5_DEVICE)
_PEAK = f"{_FACTS.multipliers} multipliers x {_FACTS.multiplier_fmax_mhz:g} MHz"


def section(main: str, targets: str, notes: list[str], versions: str, machine: str, revision: str,
            seconds: float) -> str:
    found = "\n".join(f"- {note}" for note in notes) if notes else "- none: every measured number matches " \
        "the schedule model, DSPs = P (P/2 rounded up with packed lanes), and the reference design meets its " \
        "clock target."
    return f"""## Hardware: cycles, resources, clock rate

Written by `bench/hardware.py` (issue 6). Default numerics (16-bit values, 41-bit accumulator,
1024-entry tables, elementwise multipliers in logic), random weights, one layer. *cycles/step measured*:
Verilator, one sequence of T = {STEPS} and one of 2T steps, (cycles(2T) - cycles(T)) / T, both runs
bit-exact against the golden model. *schedule*: `Schedule(config).cycles_per_step()`, the steady
state the RTL is designed to reach. *bound*: ceil(G·H·(I+H)/P). *utilization*: bound / measured.
Resources and Fmax: ECP5 {ECP5_DEVICE} speed grade 8 (Yosys `synth_ecp5`, nextpnr with a 150 MHz
constraint, seed 1); counts are of the accelerator alone (see `docs/synthesis.md`). *latency/step*:
measured cycles / Fmax. *GOP/s*: 2 x G·H·(I+H) MACs per step x Fmax / measured cycles (the head's MACs,
once per sequence, not counted). *peak*: the share of the device's multiplier peak the lanes reach,
P x Fmax against {_PEAK} (`rnnhw.spec.devices`; the multiplier's clock measured in this flow, see
`docs/synthesis.md`).

{main}

![Utilization against P]({UTILIZATION_PNG})
![Resources against P]({RESOURCES_PNG})

### Other targets

iCE40 UP5K (`synth_ice40 -dsp`, nextpnr with a 50 MHz constraint) and xc7 xc7a35t (Yosys
`synth_xilinx`, no place and route, so no Fmax).

{targets}

### Findings

{found}

RTL and golden model of commit {revision}. Machine: {os.cpu_count()} cores shared with other jobs;
{machine}. Tools: {versions}.
This script took {seconds / 60:.1f} min (synthesis results from the cache are not re-run).
"""


# --------------------------------------------------------------------------------------------------
# Plots


def _sweep(rows: list[HardwareRow]) -> list[HardwareRow]:
    reference = Design("lstm", 12, 32, lanes=1, head=9)
    return sorted((r for r in rows if r.design.model_label == reference.model_label),
                  key=lambda r: r.design.lanes)


def plot_utilization(rows: list[HardwareRow], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sweep = _sweep(rows)
    lanes = [r.design.lanes for r in sweep]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(lanes, [r.utilization for r in sweep], "o-", label="measured (Verilator)")
    ax.plot(lanes, [r.bound / r.expected for r in sweep], "x--", label="schedule model")
    ax.set_xscale("log", base=2)
    ax.set_xticks(lanes, [str(p) for p in lanes])
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("lanes P")
    ax.set_ylabel("utilization = bound / cycles per step")
    ax.set_title(f"{sweep[0].design.model_label}: utilization against P" if sweep else "utilization")
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_resources(rows: list[HardwareRow], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sweep = [r for r in _sweep(rows) if r.ecp5.error is None]
    lanes = [r.design.lanes for r in sweep]
    fig, axes = plt.subplots(2, 2, figsize=(8, 6), sharex=True)
    for ax, key, name in zip(axes.flat, ("luts", "ffs", "dsps", "brams"), ("LUTs", "FFs", "DSPs", "BRAMs"),
                             strict=True):
        ax.plot(lanes, [getattr(r.ecp5, key) for r in sweep], "o-")
        ax.set_title(name)
        ax.set_xscale("log", base=2)
        ax.set_xticks(lanes, [str(p) for p in lanes])
        ax.set_ylim(bottom=0)
        ax.grid(True, alpha=0.3)
    for ax in axes[1]:
        ax.set_xlabel("lanes P")
    label = sweep[0].design.model_label if sweep else ""
    fig.suptitle(f"{label} on the {ECP5_DEVICE}: resources against P")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


# --------------------------------------------------------------------------------------------------


def run(jobs: int) -> tuple[list[HardwareRow], list[tuple[Design, SynthOutcome]]]:
    """Synthesis in ``jobs`` worker threads (each runs the tools as child processes) while the main
    thread measures cycles on Verilator."""
    from rnnhw.spec.schedule import Schedule, bound_cycles_per_step

    for design in (*DESIGNS, *OTHER_TARGETS):
        _ = design.verilog  # generated here, before the threads read it
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=jobs)
    try:
        # The largest designs first, so that the slowest synthesis does not start last.
        by_size = sorted(DESIGNS, key=lambda d: (d.macs_per_step, d.lanes), reverse=True)
        ecp5 = {d: pool.submit(synthesize_cached, d, "ecp5") for d in by_size}
        other = [(d, pool.submit(synthesize_cached, d, t)) for d in OTHER_TARGETS for t in ("ice40", "xc7")]
        measured = {}
        for index, design in enumerate(DESIGNS, 1):
            step = f"[{index}/{len(DESIGNS)}] {design.label}"
            _say(f"{step}: cycles on Verilator ({STEPS} and {2 * STEPS} steps)")
            measured[design] = measure_cycles(design)
            _say(f"{step}: {_cycles(measured[design])} cycles per step")
        rows = [HardwareRow(design=d, measured=measured[d], expected=Schedule(d.config).cycles_per_step(),
                            bound=bound_cycles_per_step(d.config), ecp5=ecp5[d].result()) for d in DESIGNS]
        return rows, [(d, future.result()) for d, future in other]
    finally:
        pool.shutdown(wait=True, cancel_futures=True)  # after a failure: only the running synthesis finishes


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=2,
                        help="synthesis runs at once (default 2; the Verilator runs go alongside)")
    parser.add_argument("--no-write", action="store_true",
                        help="only print; leave docs/BENCHMARKS.md and the plots alone")
    args = parser.parse_args(argv)
    start = time.monotonic()
    revision = source_revision()
    try:
        rows, others = run(max(1, args.jobs))
    except (BenchFailure, UserError, VerificationError) as failure:
        print(f"bench/hardware.py: {failure}", file=sys.stderr)
        return 1
    notes = findings(rows)
    text = section(main_table(rows), targets_table(others), notes,
                   tool_versions(simulators=("verilator",), synthesis=True), machine_line(), revision,
                   time.monotonic() - start)
    print(text)
    if not args.no_write:
        plot_utilization(rows, DOCS / UTILIZATION_PNG)
        plot_resources(rows, DOCS / RESOURCES_PNG)
        replace_section("hardware", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

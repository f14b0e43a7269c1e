import itertools

import pytest
from amaranth.hdl import Module, Signal, signed

from rnnhw.rtl.multiply import MULTIPLIER_LATENCY, multiply

from .hdl import run_testbench


@pytest.mark.parametrize("kind", ["dsp", "logic"])
@pytest.mark.parametrize(("a_shape", "b_shape"), [
    (signed(5), signed(4)), (signed(6), 3), (signed(3), signed(7)), (signed(4), 1), (signed(4), signed(1)),
])
def test_multiply_is_exact_on_every_operand_pair(kind, a_shape, b_shape):
    m = Module()
    a, b = Signal(a_shape), Signal(b_shape)
    product = multiply(m, a, b, kind=kind, name="p")
    a_values = range(a_shape.signed and -(1 << (a_shape.width - 1)), 1 << (a_shape.width - a_shape.signed))
    b_width = b_shape if isinstance(b_shape, int) else b_shape.width
    b_signed = not isinstance(b_shape, int)
    b_values = range(-(1 << (b_width - 1)) if b_signed else 0, 1 << (b_width - b_signed))
    pairs = list(itertools.product(a_values, b_values))
    got = []

    async def testbench(ctx):
        for cycle in range(len(pairs) + MULTIPLIER_LATENCY):
            if cycle < len(pairs):
                ctx.set(a, pairs[cycle][0])
                ctx.set(b, pairs[cycle][1])
            await ctx.tick()
            if cycle >= MULTIPLIER_LATENCY - 1 and len(got) < len(pairs):
                got.append(ctx.get(product))

    run_testbench(m, testbench)
    assert got == [x * y for x, y in pairs]

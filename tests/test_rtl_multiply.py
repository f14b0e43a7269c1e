import itertools

import pytest
from amaranth.hdl import Module, Signal, signed

from rnnhw.rtl.multiply import MULTIPLIER_LATENCY, multiply, times_constant

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


@pytest.mark.parametrize("constant", [0, 1, 2, 6, 12, 48, 255])
@pytest.mark.parametrize("shape", [5, signed(5)])
def test_times_constant_is_exact_on_every_value(shape, constant):
    """Address arithmetic's products by constants, unsigned and signed (a walk's ``t - 1`` at t = 0)."""
    m = Module()
    value, product = Signal(shape), Signal(signed(16))
    m.d.comb += product.eq(times_constant(value, constant))
    m.d.sync += Signal().eq(value[0])  # a clock domain for the harness
    values = range(-16 if shape == signed(5) else 0, 16 if shape == signed(5) else 32)
    got = []

    async def testbench(ctx):
        for v in values:
            ctx.set(value, v)
            got.append(ctx.get(product))

    run_testbench(m, testbench)
    assert got == [v * constant for v in values]


@pytest.mark.parametrize("constant", [-1, 2.0, "3"])
def test_times_constant_needs_an_integer_of_zero_or_more(constant):
    with pytest.raises(ValueError, match=f"constant must be an integer >= 0, not {constant!r}"):
        times_constant(Signal(4), constant)

"""``rtl/fixed.py`` against ``spec/fixed.py``: every input value of small widths, every mode."""

import itertools

import numpy as np
import pytest
from amaranth.hdl import Module, Shape, Signal, signed
from amaranth.sim import Simulator

from rnnhw.rtl import fixed as rtl
from rnnhw.spec import fixed as golden
from rnnhw.spec.fixed import FixedFormat, Overflow, Rounding

SHIFTS = range(-2, 5)
# Narrower, as wide as, and wider than the input; with negative, zero and full integer bits.
FORMATS = [FixedFormat(4, 1), FixedFormat(4, 4), FixedFormat(5, -1), FixedFormat(5, 3), FixedFormat(9, 4),
           FixedFormat(4, 2, signed=False), FixedFormat(5, 5, signed=False)]


def every_value(shape):
    """All integers of an Amaranth shape."""
    if shape.signed:
        return range(-(1 << (shape.width - 1)), 1 << (shape.width - 1))
    return range(1 << shape.width)


def evaluate(shape, builders):
    """``{key: [output for every input value]}`` of combinational ``builders[key](input)``."""
    shape = Shape.cast(shape)
    m = Module()
    value = Signal(shape)
    outputs = {}
    for key, build in builders.items():
        expr = build(value)
        outputs[key] = Signal(expr.shape(), name="out")
        m.d.comb += outputs[key].eq(expr)
    got = {key: [] for key in outputs}

    async def testbench(ctx):
        for v in every_value(shape):
            ctx.set(value, v)  # a testbench sees combinational logic settled
            for key, signal in outputs.items():
                got[key].append(ctx.get(signal))

    sim = Simulator(m)
    sim.add_testbench(testbench)
    sim.run()
    return got


def expected_of(shape, function):
    shape = Shape.cast(shape)
    return np.asarray(function(np.array(every_value(shape), dtype=np.int64))).tolist()


@pytest.mark.parametrize("shape", [signed(7), signed(5), 6], ids=["s7", "s5", "u6"])
def test_shift_round_equals_golden_for_every_value(shape):
    keys = list(itertools.product(Rounding, SHIFTS))
    got = evaluate(shape, {(r, s): (lambda v, r=r, s=s: rtl.shift_round(v, s, r)) for r, s in keys})
    for rounding, shift in keys:
        expected = expected_of(shape, lambda v, r=rounding, s=shift: golden.shift_round(v, s, r))
        assert got[rounding, shift] == expected, (rounding, shift)


@pytest.mark.parametrize("shape", [signed(7), signed(3), 6], ids=["s7", "s3", "u6"])
def test_fit_equals_golden_for_every_value(shape):
    keys = list(itertools.product(Overflow, FORMATS))
    got = evaluate(shape, {(o, f): (lambda v, o=o, f=f: rtl.fit(v, f, o)) for o, f in keys})
    for overflow, fmt in keys:
        expected = expected_of(shape, lambda v, o=overflow, f=fmt: golden.fit(v, f, o))
        assert got[overflow, fmt] == expected, (overflow, str(fmt))


@pytest.mark.parametrize("shape", [signed(12), signed(3)], ids=["s12", "s3"])
def test_fit_has_exactly_the_formats_shape(shape):
    for overflow, fmt in itertools.product(Overflow, FORMATS):
        got = rtl.fit(Signal(shape), fmt, overflow).shape()
        assert got == Shape.cast(rtl.format_shape(fmt)), (overflow, str(fmt))


@pytest.mark.parametrize("shape", [signed(7), 6], ids=["s7", "u6"])
def test_convert_equals_golden_for_every_value(shape):
    frac_bits = 4
    formats = [FixedFormat(4, 4), FixedFormat(4, 1), FixedFormat(5, 1), FixedFormat(5, 0), FixedFormat(5, -1),
               FixedFormat(4, 2, signed=False)]  # shifts frac_bits - fmt.frac_bits: 4, 1, 0, -1, -2, 2
    keys = list(itertools.product(Rounding, Overflow, formats))
    got = evaluate(shape, {k: (lambda v, k=k: rtl.convert(v, frac_bits, k[2], k[0], k[1])) for k in keys})
    for rounding, overflow, fmt in keys:
        expected = expected_of(shape, lambda v, r=rounding, o=overflow, f=fmt:
                               golden.convert(v, frac_bits, f, r, o))
        assert got[rounding, overflow, fmt] == expected, (rounding, overflow, str(fmt))


def test_align_equals_golden_for_every_value():
    shape = signed(7)
    keys = [(0, 0), (1, 3), (-2, 2)]
    got = evaluate(shape, {k: (lambda v, k=k: rtl.align(v, *k)) for k in keys})
    for frac_bits, to_frac_bits in keys:
        expected = expected_of(shape, lambda v, a=frac_bits, b=to_frac_bits: golden.align(v, a, b))
        assert got[frac_bits, to_frac_bits] == expected
    with pytest.raises(ValueError, match="cannot drop bits"):
        rtl.align(Signal(4), 3, 2)


@pytest.mark.parametrize("rounding", list(Rounding))
def test_shift_round_by_at_least_the_width_equals_golden(rounding):
    """Shifting out every bit leaves the sign (TRN) or the rounded sign; golden defines it for any shift."""
    shape = signed(3)
    shifts = [3, 4, 6]
    got = evaluate(shape, {s: (lambda v, s=s: rtl.shift_round(v, s, rounding)) for s in shifts})
    for shift in shifts:
        assert got[shift] == expected_of(shape, lambda v, s=shift: golden.shift_round(v, s, rounding)), shift

"""Two products from one multiplier: the width rule and the separation (spec/packing.py), and the RTL's
``PackedMultiplier`` in Amaranth simulation, exhaustively for small widths and at the format limits."""

from __future__ import annotations

import itertools

import pytest

from rnnhw.rtl.multiply import PackedMultiplier
from rnnhw.spec.packing import can_pack, guard_shift, pack, pack_images, packed_width, unpack

from .hdl import run_testbench


def signed_range(width: int) -> range:
    return range(-(1 << (width - 1)), 1 << (width - 1))


def test_widths_that_fit_an_18_bit_port():
    assert (guard_shift(6, 6), packed_width(6, 6)) == (11, 18)
    assert [(w, x) for w in range(1, 18) for x in range(1, 18) if can_pack(w, x) and w == x] == [
        (1, 1), (2, 2), (3, 3), (4, 4), (5, 5), (6, 6)]
    assert can_pack(5, 8) and can_pack(4, 10) and can_pack(1, 16) and not can_pack(1, 17)
    assert not can_pack(8, 8) and not can_pack(7, 5) and not can_pack(5, 9)
    assert can_pack(8, 8, port_bits=25) and not can_pack(9, 8, port_bits=25)  # xc7's DSP48E1 25-bit port


@pytest.mark.parametrize(("weight_width", "operand_width"), [(1, 1), (2, 3), (3, 3), (4, 2), (4, 4), (5, 3)])
def test_separation_is_exact_for_every_pair_and_operand(weight_width, operand_width):
    for high, low, x in itertools.product(signed_range(weight_width), signed_range(weight_width),
                                          signed_range(operand_width)):
        assert unpack(pack(high, low, weight_width, operand_width) * x, weight_width, operand_width) == (
            high * x, low * x)


@pytest.mark.parametrize(("weight_width", "operand_width"), [(6, 6), (5, 8), (4, 10), (1, 16)])
def test_separation_is_exact_at_the_18_bit_limit(weight_width, operand_width):
    bits = packed_width(weight_width, operand_width)
    assert bits <= 18
    weights, operands = extremes(weight_width), extremes(operand_width)
    for high, low, x in itertools.product(weights, weights, operands):
        packed = pack(high, low, weight_width, operand_width)
        assert -(1 << (bits - 1)) <= packed < 1 << (bits - 1)
        assert unpack(packed * x, weight_width, operand_width) == (high * x, low * x)


def extremes(width: int) -> list[int]:
    """The most negative, most positive and small values of a signed width."""
    low, high = -(1 << (width - 1)), (1 << (width - 1)) - 1
    return sorted(v for v in {low, low + 1, -1, 0, 1, high - 1, high} if low <= v <= high)


def test_pack_images_pairs_lanes_and_keeps_an_odd_last_lane():
    images = [[1, -2], [3, 4], [-5, 6]]
    assert pack_images(images, 4, 4) == [[3 * 128 + 1, 4 * 128 - 2], [-5, 6]]


def simulate(weight_width: int, operand_width: int, cases: list[tuple[int, int, int]]) -> list[tuple[int, int]]:
    dut = PackedMultiplier(weight_width=weight_width, operand_width=operand_width)
    got = []

    async def testbench(ctx):
        for high, low, x in cases:
            ctx.set(dut.weight, pack(high, low, weight_width, operand_width))
            ctx.set(dut.operand, x)
            await ctx.tick()
            got.append((ctx.get(dut.high), ctx.get(dut.low)))

    run_testbench(dut, testbench)
    return got


def test_packed_multiplier_on_every_3_bit_pair_and_operand():
    cases = list(itertools.product(signed_range(3), signed_range(3), signed_range(3)))
    assert simulate(3, 3, cases) == [(high * x, low * x) for high, low, x in cases]


@pytest.mark.parametrize(("weight_width", "operand_width"), [(6, 6), (5, 8), (4, 10), (1, 1)])
def test_packed_multiplier_at_the_format_limits(weight_width, operand_width):
    weights, operands = extremes(weight_width), extremes(operand_width)
    cases = list(itertools.product(weights, weights, operands))
    assert simulate(weight_width, operand_width, cases) == [(high * x, low * x) for high, low, x in cases]

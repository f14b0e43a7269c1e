"""The numeric specification (spec/fixed.py): formats, rounding, overflow, quantization.

Edge cases are computed by hand; the property tests compare against exact rational arithmetic.
"""

from fractions import Fraction
from math import floor

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rnnhw.spec.fixed import (
    MAX_FORMAT_WIDTH,
    FixedFormat,
    Overflow,
    Rounding,
    align,
    convert,
    fit,
    quantize,
    shift_round,
)

TRN, RND, CONV = Rounding.TRN, Rounding.RND, Rounding.RND_CONV


# -- formats ---------------------------------------------------------------------------------------
def test_format_properties():
    fmt = FixedFormat.parse("fixed<8,3>")
    assert (fmt.width, fmt.int_bits, fmt.signed, fmt.frac_bits) == (8, 3, True, 5)
    assert (fmt.min_int, fmt.max_int) == (-128, 127)
    assert (fmt.resolution, fmt.min_value, fmt.max_value) == (1 / 32, -4.0, 127 / 32)
    assert str(fmt) == "fixed<8,3>"

    unsigned = FixedFormat.parse("ufixed<8,0>")
    assert (unsigned.signed, unsigned.frac_bits, unsigned.min_int, unsigned.max_int) == (False, 8, 0, 255)
    assert str(unsigned) == "ufixed<8,0>"


def test_parse_accepts_spaces_and_negative_int_bits():
    assert FixedFormat.parse("  fixed < 16 , 6 > ") == FixedFormat(16, 6)
    fmt = FixedFormat.parse("fixed<8,-2>")
    assert (fmt.frac_bits, fmt.resolution) == (10, 2.0**-10)
    assert FixedFormat.parse("fixed<48,48>").frac_bits == 0


def test_to_float():
    fmt = FixedFormat(8, 3)
    assert fmt.to_float([-128, -1, 0, 1, 127]).tolist() == [-4.0, -1 / 32, 0.0, 1 / 32, 127 / 32]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("fixed<16>", "is not a format"),
        ("float32", "is not a format"),
        ("fixed<16,6", "is not a format"),
        ("fixed<16.0,6>", "is not a format"),
        ("ap_fixed<16,6>", "is not a format"),
        ("", "is not a format"),
        ("fixed<0,0>", "a signed format's width must be an integer from 2 to 48, not 0"),
        ("fixed<49,8>", "a signed format's width must be an integer from 2 to 48, not 49"),
        ("fixed<1,1>", "a signed format's width must be an integer from 2 to 48, not 1"),
        ("ufixed<0,0>", "the width must be an integer from 1 to 48, not 0"),
        ("fixed<16,17>", "integer bits must be from -32 to the width (16)"),
        ("fixed<16,-33>", "integer bits must be from -32 to the width (16)"),
    ],
)
def test_parse_errors(text, message):
    with pytest.raises(ValueError) as info:
        FixedFormat.parse(text)
    assert message in str(info.value)
    if message == "is not a format":
        expected = f"{text!r} is not a format; write fixed<W,I> or ufixed<W,I>, e.g. fixed<16,6>"
        assert str(info.value) == expected


def test_parse_rejects_non_strings():
    with pytest.raises(ValueError, match="^16 is not a format; write fixed<W,I>"):
        FixedFormat.parse(16)


def test_max_width_constant():
    assert FixedFormat(MAX_FORMAT_WIDTH, 0).max_int == (1 << 47) - 1
    assert FixedFormat(1, 0, signed=False).max_int == 1


# -- shift_round -----------------------------------------------------------------------------------
# (real value, TRN, RND, RND_CONV) for values on a 1/8 grid, applied at several shifts.
ROUNDING_CASES = [
    (2.5, 2, 3, 2),
    (3.5, 3, 4, 4),
    (-2.5, -3, -2, -2),
    (-3.5, -4, -3, -4),
    (0.5, 0, 1, 0),
    (-0.5, -1, 0, 0),
    (1.5, 1, 2, 2),
    (-1.5, -2, -1, -2),
    (2.25, 2, 2, 2),
    (2.75, 2, 3, 3),
    (-2.25, -3, -2, -2),
    (-2.75, -3, -3, -3),
    (2.375, 2, 2, 2),
    (-2.625, -3, -3, -3),
    (0.125, 0, 0, 0),
    (-0.125, -1, 0, 0),
    (4.0, 4, 4, 4),
    (-4.0, -4, -4, -4),
    (0.0, 0, 0, 0),
]


@pytest.mark.parametrize("shift", [3, 4, 7, 20])
@pytest.mark.parametrize(("value", "trn", "rnd", "conv"), ROUNDING_CASES)
def test_shift_round_hand_cases(shift, value, trn, rnd, conv):
    v = int(value * 8) << (shift - 3)  # value with `shift` fractional bits
    assert shift_round(v, shift, TRN) == trn
    assert shift_round(v, shift, RND) == rnd
    assert shift_round(v, shift, CONV) == conv


def test_shift_round_by_one_bit():
    v = np.array([5, 7, -5, -7, 4, -4, 1, -1, 3, -3])  # 2.5, 3.5, -2.5, -3.5, 2, -2, .5, -.5, 1.5, -1.5
    assert shift_round(v, 1, TRN).tolist() == [2, 3, -3, -4, 2, -2, 0, -1, 1, -2]
    assert shift_round(v, 1, RND).tolist() == [3, 4, -2, -3, 2, -2, 1, 0, 2, -1]
    assert shift_round(v, 1, CONV).tolist() == [2, 4, -2, -4, 2, -2, 0, 0, 2, -2]


@pytest.mark.parametrize("rounding", list(Rounding))
def test_shift_round_zero_and_left_shifts_are_exact(rounding):
    v = np.array([-7, -1, 0, 3, 1 << 40])
    assert shift_round(v, 0, rounding).tolist() == [-7, -1, 0, 3, 1 << 40]
    assert shift_round(v, -3, rounding).tolist() == [-56, -8, 0, 24, 1 << 43]


def test_shift_round_returns_int64():
    assert shift_round([1, 2], 1, RND).dtype == np.int64
    assert shift_round([1, 2], -1, RND).dtype == np.int64


def test_shift_round_large_values():
    big = (1 << 60) + (1 << 19)  # exactly ...+ 0.5 at shift 20
    assert shift_round(big, 20, TRN) == 1 << 40
    assert shift_round(big, 20, RND) == (1 << 40) + 1
    assert shift_round(big, 20, CONV) == 1 << 40  # 2**40 is even
    assert shift_round(-big, 20, RND) == -(1 << 40)
    assert shift_round(-big, 20, CONV) == -(1 << 40)


def _exact_round(value: Fraction, rounding: Rounding) -> int:
    if rounding is TRN:
        return floor(value)
    if rounding is RND:
        return floor(value + Fraction(1, 2))
    low = floor(value)
    rest = value - low
    if rest > Fraction(1, 2) or (rest == Fraction(1, 2) and low % 2):
        return low + 1
    return low


@given(
    v=st.integers(-(1 << 61), (1 << 61)),
    shift=st.integers(-8, 40),
    rounding=st.sampled_from(list(Rounding)),
)
def test_shift_round_is_exact_rational_rounding(v, shift, rounding):
    if shift < 0:
        v >>= 8  # room for the left shift
    expected = _exact_round(Fraction(v, 1 << shift) if shift >= 0 else Fraction(v << -shift), rounding)
    assert int(shift_round(v, shift, rounding)) == expected


@given(v=st.lists(st.integers(-(1 << 50), 1 << 50), min_size=1, max_size=20), shift=st.integers(1, 12),
       rounding=st.sampled_from(list(Rounding)))
def test_shift_round_arrays_match_scalars(v, shift, rounding):
    scalars = [int(shift_round(x, shift, rounding)) for x in v]
    assert shift_round(np.array(v), shift, rounding).tolist() == scalars


# -- fit -------------------------------------------------------------------------------------------
def test_fit_signed():
    fmt = FixedFormat(8, 4)
    v = np.array([-1000, -129, -128, -1, 0, 127, 128, 255, 256, 1000])
    assert fit(v, fmt, Overflow.SAT).tolist() == [-128, -128, -128, -1, 0, 127, 127, 127, 127, 127]
    assert fit(v, fmt, Overflow.WRAP).tolist() == [24, 127, -128, -1, 0, 127, -128, -1, 0, -24]


def test_fit_unsigned():
    fmt = FixedFormat(4, 0, signed=False)
    v = np.array([-17, -1, 0, 15, 16, 31, 100])
    assert fit(v, fmt, Overflow.SAT).tolist() == [0, 0, 0, 15, 15, 15, 15]
    assert fit(v, fmt, Overflow.WRAP).tolist() == [15, 15, 0, 15, 0, 15, 4]


def test_fit_two_bit_signed():
    fmt = FixedFormat(2, 1)
    assert fit([-3, -2, -1, 0, 1, 2, 3], fmt, Overflow.WRAP).tolist() == [1, -2, -1, 0, 1, -2, -1]
    assert fit([-3, -2, -1, 0, 1, 2, 3], fmt, Overflow.SAT).tolist() == [-2, -2, -1, 0, 1, 1, 1]


formats = st.builds(
    lambda width, int_bits, signed: FixedFormat(width, min(int_bits, width), signed=signed),
    st.integers(2, MAX_FORMAT_WIDTH),
    st.integers(-8, MAX_FORMAT_WIDTH),
    st.booleans(),
)


@given(v=st.integers(-(1 << 60), 1 << 60), fmt=formats)
def test_fit_wrap_is_modular(v, fmt):
    expected = (v - fmt.min_int) % (1 << fmt.width) + fmt.min_int
    assert int(fit(v, fmt, Overflow.WRAP)) == expected


@given(v=st.integers(-(1 << 60), 1 << 60), fmt=formats)
def test_fit_sat_clamps(v, fmt):
    assert int(fit(v, fmt, Overflow.SAT)) == min(max(v, fmt.min_int), fmt.max_int)


# -- convert / align -------------------------------------------------------------------------------
def test_convert_rounds_then_fits():
    fmt = FixedFormat(6, 2)  # 4 fractional bits, -2 .. 1.9375
    # 1.96875 (5 frac bits: 63) rounds up to 2.0 = 32/16, which overflows fixed<6,2>.
    assert convert(63, 5, fmt, RND, Overflow.SAT) == 31
    assert convert(63, 5, fmt, RND, Overflow.WRAP) == -32
    assert convert(63, 5, fmt, TRN, Overflow.SAT) == 31
    assert convert(-65, 5, fmt, TRN, Overflow.SAT) == -32  # -2.03125 floors to -2.0625 -> saturates
    assert convert(-65, 5, fmt, TRN, Overflow.WRAP) == 31
    assert convert(-65, 5, fmt, RND, Overflow.SAT) == -32  # -2.03125 -> -2.0 exactly representable
    assert convert(3, 1, fmt, RND, Overflow.SAT) == 24  # 1.5 gains fractional bits exactly


@given(
    fmt=formats,
    extra=st.integers(0, 14),
    rounding=st.sampled_from(list(Rounding)),
    overflow=st.sampled_from(list(Overflow)),
    data=st.data(),
)
def test_convert_of_representable_value_is_identity(fmt, extra, rounding, overflow, data):
    q = data.draw(st.integers(fmt.min_int, fmt.max_int))
    more_bits = q << extra  # the same value with `extra` more fractional bits
    assert int(convert(more_bits, fmt.frac_bits + extra, fmt, rounding, overflow)) == q
    if extra and q % (1 << extra) == 0:  # the same value with fewer fractional bits
        assert int(convert(q >> extra, fmt.frac_bits - extra, fmt, rounding, overflow)) == q


def test_align():
    assert align([3, -3], 2, 5).tolist() == [24, -24]
    assert align([3], 2, 2).tolist() == [3]
    with pytest.raises(ValueError, match=r"align\(\) cannot drop bits: 5 -> 2"):
        align([3], 5, 2)


# -- quantize --------------------------------------------------------------------------------------
def test_quantize_rounding_and_saturation():
    fmt = FixedFormat(8, 4)  # 4 fractional bits, -8 .. 7.9375
    x = [0.03125, 0.09375, -0.03125, -0.09375, 1.0, 100.0, -100.0, 7.96875, -8.03125, 7.9375, -8.0]
    expected = {
        TRN: ([0, 1, -1, -2, 16, 127, -128, 127, -128, 127, -128], 3),  # -8.03125 floors to -129: saturated
        RND: ([1, 2, 0, -1, 16, 127, -128, 127, -128, 127, -128], 3),  # 7.96875 rounds up to 128: saturated
        CONV: ([0, 2, 0, -2, 16, 127, -128, 127, -128, 127, -128], 3),
    }
    for rounding, (ints, saturated) in expected.items():
        q, n = quantize(x, fmt, rounding)
        assert q.dtype == np.int64
        assert q.tolist() == ints, rounding
        assert n == saturated, rounding


def test_quantize_rnd_is_exact_just_below_a_half():
    fmt = FixedFormat(8, 8)  # integers
    x = [0.49999999999999994, -0.5000000000000001, 2.4999999999999996, 0.5, -0.5]
    assert quantize(x, fmt, RND)[0].tolist() == [0, -1, 2, 1, 0]
    assert quantize(x, fmt, CONV)[0].tolist() == [0, -1, 2, 0, 0]


def test_quantize_keeps_shape_and_counts_only_out_of_range():
    q, n = quantize(np.array([[0.5, -0.25], [3.0, -3.0]]), FixedFormat(4, 2), RND)  # 2 frac bits, -2 .. 1.75
    assert q.tolist() == [[2, -1], [7, -8]]
    assert n == 2
    assert quantize([], FixedFormat(4, 2), RND)[1] == 0


@given(fmt=st.builds(lambda w, i: FixedFormat(w, min(i, w)), st.integers(2, 40), st.integers(-4, 12)),
       rounding=st.sampled_from(list(Rounding)), data=st.data())
def test_quantize_of_representable_value_is_identity(fmt, rounding, data):
    q = data.draw(st.integers(fmt.min_int, fmt.max_int))
    ints, saturated = quantize([q * 2.0**-fmt.frac_bits], fmt, rounding)
    assert (ints.tolist(), saturated) == ([q], 0)


@given(x=st.floats(-1e3, 1e3, allow_nan=False), rounding=st.sampled_from(list(Rounding)))
def test_quantize_is_exact_rounding_then_saturation(x, rounding):
    fmt = FixedFormat(16, 6)
    exact = _exact_round(Fraction(x) * (1 << fmt.frac_bits), rounding)
    ints, saturated = quantize([x], fmt, rounding)
    assert int(ints[0]) == min(max(exact, fmt.min_int), fmt.max_int)
    assert saturated == int(not fmt.min_int <= exact <= fmt.max_int)


@given(k=st.integers(-(1 << 20), 1 << 20), direction=st.sampled_from([-np.inf, 0.0, np.inf]),
       rounding=st.sampled_from(list(Rounding)))
def test_quantize_near_halves(k, direction, rounding):
    fmt = FixedFormat(32, 12)
    half_point = (k + 0.5) * 2.0**-fmt.frac_bits
    x = half_point if direction == 0.0 else float(np.nextafter(half_point, direction))
    exact = _exact_round(Fraction(x) * (1 << fmt.frac_bits), rounding)
    assert quantize([x], fmt, rounding)[0].tolist() == [exact]

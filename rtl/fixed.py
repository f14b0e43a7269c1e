"""Hardware form of the numeric specification in ``spec/fixed.py``.

Each function builds the Amaranth expression of its namesake there, for the same
:class:`~rnnhw.spec.fixed.Rounding` and :class:`~rnnhw.spec.fixed.Overflow` modes; the tests
check the pairs against each other exhaustively on small widths.
"""

from __future__ import annotations

from amaranth.hdl import Const, Mux, Value, signed

from rnnhw.spec.fixed import FixedFormat, Overflow, Rounding

__all__ = ["shift_round", "fit", "convert", "align", "format_shape"]


def format_shape(fmt: FixedFormat):
    return signed(fmt.width) if fmt.signed else fmt.width


def shift_round(value: Value, shift: int, rounding: Rounding) -> Value:
    """``value * 2**-shift`` rounded with ``rounding`` (a left shift when ``shift <= 0``)."""
    value = Value.cast(value)
    if shift <= 0:
        return value << -shift
    half = Const(1 << (shift - 1), shift + 1)
    if rounding is Rounding.TRN:
        return value >> shift
    if rounding is Rounding.RND:
        return (value + half) >> shift
    kept_lsb = (value >> shift)[0]  # (a shift past the width leaves the sign bit)
    return (value + (half - 1) + kept_lsb) >> shift


def fit(value: Value, fmt: FixedFormat, overflow: Overflow) -> Value:
    """``value`` brought into ``fmt`` (clamped or wrapped), as a value of exactly ``fmt``'s shape."""
    value = Value.cast(value)
    if len(value) < fmt.width:  # extend (by its signedness) to the format's width first
        value = value + Const(0, fmt.width)
    if overflow is Overflow.SAT:
        value = Mux(value > fmt.max_int, fmt.max_int, Mux(value < fmt.min_int, fmt.min_int, value))
    low = value[: fmt.width]
    return low.as_signed() if fmt.signed else low


def convert(value: Value, frac_bits: int, fmt: FixedFormat, rounding: Rounding, overflow: Overflow) -> Value:
    """The datapath's rounding point: ``fit(shift_round(value, frac_bits - fmt.frac_bits))``."""
    return fit(shift_round(value, frac_bits - fmt.frac_bits, rounding), fmt, overflow)


def align(value: Value, frac_bits: int, to_frac_bits: int) -> Value:
    """Exact left shift from ``frac_bits`` to ``to_frac_bits`` fractional bits."""
    if to_frac_bits < frac_bits:
        raise ValueError(f"align() cannot drop bits: {frac_bits!r} -> {to_frac_bits!r}")
    return Value.cast(value) << (to_frac_bits - frac_bits)

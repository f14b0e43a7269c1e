"""The numeric specification: fixed-point formats, rounding and overflow.

Everything that turns one number into another in rnnhw goes through the three operations defined
here, and ``rtl/`` builds its hardware from the same definitions (see ``rtl/fixed.py``):

* :func:`quantize` — a real value (weights, biases, inputs) to a format: scale, round, always saturate.
* :func:`shift_round` — drop ``shift`` fractional bits of an integer with the configured rounding.
* :func:`fit` — bring an integer into a format's range with the configured overflow mode.

:func:`convert` is ``fit(shift_round(...))``: the single rounding point used between datapath stages.
All integer work is done on ``int64`` NumPy arrays; the callers guarantee (through
:mod:`rnnhw.spec.datapath`) that no intermediate exceeds 62 bits.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

import numpy as np

__all__ = ["Rounding", "Overflow", "FixedFormat", "quantize", "shift_round", "fit", "convert", "align"]


class Rounding(enum.Enum):
    """How fractional bits are dropped (names follow ``ap_fixed``)."""

    TRN = "TRN"  #: towards minus infinity (floor): just drop the bits
    RND = "RND"  #: to nearest, halves towards plus infinity
    RND_CONV = "RND_CONV"  #: to nearest, halves to the even neighbour (convergent rounding)


class Overflow(enum.Enum):
    """What happens to a value outside a format's range."""

    SAT = "SAT"  #: clamp to the nearest representable value
    WRAP = "WRAP"  #: keep the low ``width`` bits (two's complement wrap-around)


_FORMAT_RE = re.compile(r"^\s*(u?fixed)\s*<\s*(\d+)\s*,\s*(-?\d+)\s*>\s*$")

#: Formats wider than this cannot be handled exactly by the int64 golden model.
MAX_FORMAT_WIDTH = 48


@dataclass(frozen=True)
class FixedFormat:
    """An ``ap_fixed``-style format: ``width`` bits of which ``int_bits`` are integer bits.

    For signed formats the sign bit counts as an integer bit, as in ``ap_fixed<W,I>``. A stored
    integer ``q`` means the real value ``q * 2**-frac_bits``.
    """

    width: int
    int_bits: int
    signed: bool = True

    def __post_init__(self):
        lowest = 2 if self.signed else 1  # a signed format needs a sign bit and a value bit
        if not isinstance(self.width, int) or not lowest <= self.width <= MAX_FORMAT_WIDTH:
            kind = "a signed format's width" if self.signed else "the width"
            raise ValueError(f"{kind} must be an integer from {lowest} to {MAX_FORMAT_WIDTH}, not {self.width!r}")
        if not isinstance(self.int_bits, int) or not -32 <= self.int_bits <= self.width:
            raise ValueError(
                f"integer bits must be from -32 to the width ({self.width}), not {self.int_bits!r}"
            )

    @classmethod
    def parse(cls, text: str) -> FixedFormat:
        """Parse ``"fixed<16,6>"`` or ``"ufixed<8,0>"``; raise :class:`ValueError` naming the problem."""
        match = _FORMAT_RE.match(text) if isinstance(text, str) else None
        if match is None:
            raise ValueError(f"{text!r} is not a format; write fixed<W,I> or ufixed<W,I>, e.g. fixed<16,6>")
        kind, width, int_bits = match.group(1), int(match.group(2)), int(match.group(3))
        return cls(width, int_bits, signed=(kind == "fixed"))

    def __str__(self) -> str:
        return f"{'fixed' if self.signed else 'ufixed'}<{self.width},{self.int_bits}>"

    @property
    def frac_bits(self) -> int:
        return self.width - self.int_bits

    @property
    def min_int(self) -> int:
        return -(1 << (self.width - 1)) if self.signed else 0

    @property
    def max_int(self) -> int:
        return (1 << (self.width - 1)) - 1 if self.signed else (1 << self.width) - 1

    @property
    def resolution(self) -> float:
        return 2.0**-self.frac_bits

    @property
    def min_value(self) -> float:
        return self.min_int * self.resolution

    @property
    def max_value(self) -> float:
        return self.max_int * self.resolution

    def to_float(self, q) -> np.ndarray:
        """Dequantize stored integers to float64 (exact for widths up to 53 bits)."""
        return np.asarray(q, dtype=np.float64) * self.resolution


def quantize(x, fmt: FixedFormat, rounding: Rounding) -> tuple[np.ndarray, int]:
    """Quantize real values to ``fmt``: scale, round with ``rounding``, saturate.

    Returns the int64 array and how many values saturated. External values always saturate,
    whatever the datapath's overflow mode: wrapping a weight is never what a user means.
    """
    scaled = np.asarray(x, dtype=np.float64) * 2.0**fmt.frac_bits
    if rounding is Rounding.TRN:
        q = np.floor(scaled)
    elif rounding is Rounding.RND:
        # Not floor(scaled + 0.5): that sum can round up (0.49999999999999994 + 0.5 == 1.0).
        q = np.floor(scaled)
        q += scaled - q >= 0.5  # the fractional part is exact
    else:
        q = np.rint(scaled)  # IEEE round-half-to-even
    saturated = int(np.count_nonzero((q < fmt.min_int) | (q > fmt.max_int)))
    return np.clip(q, fmt.min_int, fmt.max_int).astype(np.int64), saturated


def shift_round(v, shift: int, rounding: Rounding) -> np.ndarray:
    """``v * 2**-shift`` rounded to an integer with ``rounding``; ``shift <= 0`` shifts left exactly.

    Hardware: ``TRN`` is an arithmetic right shift; ``RND`` adds ``2**(shift-1)`` first; ``RND_CONV``
    adds ``2**(shift-1) - 1`` plus the lowest kept bit, which rounds exact halves to even.
    """
    v = np.asarray(v, dtype=np.int64)
    if shift <= 0:
        return v << -shift
    if rounding is Rounding.TRN:
        return v >> shift
    half = 1 << (shift - 1)
    if rounding is Rounding.RND:
        result = v + half
    else:
        result = (v >> shift) & 1  # the lowest kept bit
        result += v
        result += half - 1
    result >>= shift
    return result


# The clip ufunc itself: np.clip's Python wrapper costs more than clipping a few thousand values.
_clip = np._core.umath.clip if hasattr(np, "_core") else np.core.umath.clip


def fit(v, fmt: FixedFormat, overflow: Overflow) -> np.ndarray:
    """Bring integers into ``fmt``'s range: clamp (``SAT``) or keep the low ``width`` bits (``WRAP``)."""
    v = np.asarray(v, dtype=np.int64)
    if overflow is Overflow.SAT:
        return _clip(v, fmt.min_int, fmt.max_int)
    if not fmt.signed:
        return v & ((1 << fmt.width) - 1)
    # ((v - min) mod 2**width) + min, with min = -2**(width-1)
    low = v + (1 << (fmt.width - 1))
    low &= (1 << fmt.width) - 1
    low -= 1 << (fmt.width - 1)
    return low


def convert(v, frac_bits: int, fmt: FixedFormat, rounding: Rounding, overflow: Overflow) -> np.ndarray:
    """Convert integers with ``frac_bits`` fractional bits to ``fmt``: the datapath's rounding point."""
    shift = frac_bits - fmt.frac_bits
    return fit(shift_round(v, shift, rounding) if shift else v, fmt, overflow)


def align(v, frac_bits: int, to_frac_bits: int) -> np.ndarray:
    """Shift integers left so that they have ``to_frac_bits`` fractional bits (exact; never rounds)."""
    if to_frac_bits < frac_bits:
        raise ValueError(f"align() cannot drop bits: {frac_bits} -> {to_frac_bits}")
    return np.asarray(v, dtype=np.int64) << (to_frac_bits - frac_bits)

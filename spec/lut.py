"""Sigmoid and tanh tables: their contents and their lookup, shared by the golden model and ``rtl/``.

A table of ``size`` logical entries covers ``[-R, R)`` with bins of width ``Δ = 2R / size``
(``R = 2**range_log2``, ``Δ = 2**step_log2``). Both functions are point-symmetric
(``σ(-x) = 1 - σ(x)``, ``tanh(-x) = -tanh(x)``), so only the half ``[0, R)`` is stored:
``size / 2`` words (``size / 2 + 1`` with interpolation). Lookup of an integer ``v`` with ``frac_in``
fractional bits, in hardware order:

1. ``a = |v|`` (one bit wider than ``v``), ``s = frac_in + step_log2`` (bits below one bin).
2. ``k = a >> s`` (or ``a << -s``): the bin. Plain tables clamp ``k`` to the last entry.
3. Plain: ``y = T[k]``. Interpolated: for ``k < size/2``,
   ``y = T[k] + shift_round((T[k+1] - T[k]) * u, INTERP_BITS, RND)`` where ``u`` is the top
   ``INTERP_BITS`` bits of the position inside the bin; for ``k >= size/2``, ``y = T[size/2]``.
4. Negative ``v``: ``y = ONE - y`` (sigmoid) or ``y = -y`` (tanh), then saturate to the output format.

Plain entries hold the minimax constant of each bin, ``(f(kΔ) + f((k+1)Δ)) / 2`` rounded to nearest,
which halves hls4ml's error (it samples each bin's left edge and truncates the index).
Interpolated entries hold ``f(kΔ)``. The range ``R`` is chosen per function, size and mode as the
power of two with the lowest maximum error (see :func:`choose_range_log2`).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from .fixed import FixedFormat, Overflow, Rounding, fit, quantize

__all__ = ["ActivationTable", "activation_table", "INTERP_BITS", "FUNCTIONS"]

#: Bits of the in-bin position used by interpolation (keeps the interpolation multiplier small).
INTERP_BITS = 8

FUNCTIONS = {
    "sigmoid": lambda x: 0.5 * (1.0 + np.tanh(0.5 * np.asarray(x, dtype=np.float64))),
    "tanh": lambda x: np.tanh(np.asarray(x, dtype=np.float64)),
}

_RANGE_CANDIDATES = range(0, 6)  # R = 1 .. 32


@dataclass(frozen=True)
class ActivationTable:
    """One activation table: contents plus everything needed to index it.

    Members
    -------
    function : ``"sigmoid"`` or ``"tanh"``.
    size : logical entries over ``[-R, R)`` (the configured ``lut_size``).
    interpolate : linear interpolation between entries.
    range_log2 : ``R = 2**range_log2``.
    out_fmt : format of the stored entries and of the result.
    entries : the stored half table as Python ints.
    """

    function: str
    size: int
    interpolate: bool
    range_log2: int
    out_fmt: FixedFormat
    entries: tuple[int, ...]

    @property
    def half(self) -> int:
        return self.size // 2

    @functools.cached_property
    def step_log2(self) -> int:
        return self.range_log2 + 1 - int(math.log2(self.size))

    @property
    def one(self) -> int:
        """1.0 in the output format's scaling (may lie just outside its range; the result saturates)."""
        return 1 << self.out_fmt.frac_bits

    def index_shift(self, frac_in: int) -> int:
        return frac_in + self.step_log2

    def lookup(self, v, frac_in: int) -> np.ndarray:
        """The table's value for integers ``v`` with ``frac_in`` fractional bits (the hardware's result).

        Computes the steps of the module docstring; ``tests/test_lut.py`` checks it against a scalar
        transcription of them.
        """
        v = np.asarray(v, dtype=np.int64)
        s = self.index_shift(frac_in)
        if self.interpolate and s > 0:
            return self._lookup_interpolated(v, s)
        return self._lookup_entry(v, s)

    def _lookup_entry(self, v: np.ndarray, s: int) -> np.ndarray:
        """Steps 1-4 without interpolation, as one read of :attr:`_mirrored`.

        With ``k`` the bin of ``|v|``, the result is at ``n + k`` for ``v >= 0`` and at ``n - 1 - k`` for
        ``v < 0`` (``n`` stored entries); for ``v < 0``, ``(v - 1) >> s`` is ``-(k + 1)``, so the index is
        ``((v + sign) >> s) + n`` either way, and clamping it clamps ``k``.
        """
        sign = v >> 63  # -1 for negative v, else 0
        if s > 0:
            index = v + sign
            index >>= s
        else:  # the input is coarser than a bin: every step of v moves 2**-s bins
            index = v << -s
            index += sign
        index += len(self.entries)
        return self._mirrored.take(index, mode="clip")

    def _lookup_interpolated(self, v: np.ndarray, s: int) -> np.ndarray:
        """Steps 1-4 with interpolation (``s > 0``); bins ``k >= size/2`` read the last entry, step 0."""
        a = np.abs(v)
        k = np.minimum(a >> s, self.half)
        y = self._steps.take(k)
        y *= self.bin_position(a, s)
        y += 1 << (INTERP_BITS - 1)  # shift_round(..., INTERP_BITS, RND)
        y >>= INTERP_BITS
        y += self._stored.take(k)
        sign = v >> 63
        y ^= sign  # two's complement negation where v < 0: (y ^ -1) + 1 == -y
        y -= sign
        if self.function == "sigmoid":
            y += sign & self.one  # ONE - y
        return fit(y, self.out_fmt, Overflow.SAT)

    @functools.cached_property
    def _stored(self) -> np.ndarray:
        return np.array(self.entries, dtype=np.int64)

    @functools.cached_property
    def _steps(self) -> np.ndarray:
        """``T[k+1] - T[k]`` for each bin, and 0 for ``k = size/2`` (interpolated tables)."""
        return np.append(np.diff(self._stored), 0)

    @functools.cached_property
    def _mirrored(self) -> np.ndarray:
        """Every result of a plain lookup: the negative side's (mirrored), then the entries, saturated."""
        stored = self._stored
        negative = self.one - stored if self.function == "sigmoid" else -stored
        return fit(np.concatenate([negative[::-1], stored]), self.out_fmt, Overflow.SAT)

    @staticmethod
    def bin_position(a, s: int) -> np.ndarray:
        """Top ``INTERP_BITS`` bits of the ``s`` bits below the bin index (zero-extended if fewer)."""
        low = np.asarray(a, dtype=np.int64) & ((1 << s) - 1)
        return low >> (s - INTERP_BITS) if s >= INTERP_BITS else low << (INTERP_BITS - s)

    def lookup_real(self, x, frac_in: int = 24) -> np.ndarray:
        """Real-valued convenience: quantize ``x`` to ``frac_in`` bits, look up, dequantize."""
        fmt = FixedFormat(min(48, frac_in + 8), 8)
        q, _ = quantize(x, fmt, Rounding.RND)
        return self.out_fmt.to_float(self.lookup(q, fmt.frac_bits))


def _entries(function: str, size: int, interpolate: bool, range_log2: int, out_fmt: FixedFormat):
    f = FUNCTIONS[function]
    half = size // 2
    step = 2.0 ** (range_log2 + 1) / size
    if interpolate:
        values = f(np.arange(half + 1) * step)
    else:
        edges = f(np.arange(half + 1) * step)
        values = 0.5 * (edges[:-1] + edges[1:])
    q, _ = quantize(values, out_fmt, Rounding.RND_CONV)
    return tuple(int(e) for e in q)


def _float_error(function: str, size: int, interpolate: bool, range_log2: int) -> float:
    """Max abs error of the ideal (unquantized) table against the function, on a dense grid."""
    f = FUNCTIONS[function]
    half = size // 2
    step = 2.0 ** (range_log2 + 1) / size
    x = np.linspace(0.0, 2.0 ** (range_log2 + 1), 1 << 17)
    k = np.floor(x / step).astype(np.int64)
    edges = f(np.arange(half + 1) * step)
    if interpolate:
        kc = np.minimum(k, half - 1)
        t = x / step - kc
        approx = np.where(k < half, edges[kc] + (edges[kc + 1] - edges[kc]) * t, edges[half])
    else:
        approx = (0.5 * (edges[:-1] + edges[1:]))[np.minimum(k, half - 1)]
    tail = abs(float(f(np.inf)) - float(approx[-1]))
    return max(float(np.max(np.abs(f(x) - approx))), tail)


@functools.cache
def choose_range_log2(function: str, size: int, interpolate: bool) -> int:
    """The power-of-two range with the lowest maximum error for this function, size and mode."""
    errors = {r: _float_error(function, size, interpolate, r) for r in _RANGE_CANDIDATES}
    return min(errors, key=lambda r: (errors[r], r))


@functools.cache
def activation_table(function: str, size: int, interpolate: bool, out_fmt: FixedFormat) -> ActivationTable:
    """Build (once) the table used by both the golden model and the hardware."""
    if function not in FUNCTIONS:
        raise ValueError(f"unknown activation {function!r}; known: {', '.join(FUNCTIONS)}")
    if size < 4 or size & (size - 1):
        raise ValueError(f"table size must be a power of two of at least 4, not {size!r}")
    range_log2 = choose_range_log2(function, size, interpolate)
    entries = _entries(function, size, interpolate, range_log2, out_fmt)
    return ActivationTable(function, size, interpolate, range_log2, out_fmt, entries)

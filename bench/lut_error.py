"""Maximum error of rnnhw's sigmoid/tanh tables against the exact functions, and hls4ml's for comparison.

Run ``python bench/lut_error.py`` (``--no-write`` to only print): prints a markdown table and writes it
to the "Activation tables" section of ``docs/BENCHMARKS.md``.

hls4ml's tables (``nnet_activation.h``, ``sigmoid``/``tanh`` with a ``table_size`` of N) sample the
function at the left edge of N bins over ``[-8, 8)`` (sigmoid) or ``[-4, 4)`` (tanh):
``table[i] = f(span * (i - N/2) / N)`` with ``span`` 16 or 8, and look up
``index = (int)(x * N / span) + N/2`` clamped to ``[0, N-1]``; C's ``(int)`` of an ``ap_fixed``
truncates toward zero. Their entries are rounded here to the same output format as ours, to the
nearest (hls4ml's default ``table_t``, ``ap_fixed<18,8>``, would truncate them to 10 fractional
bits), so that the comparison measures the table designs alone.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from rnnhw.spec.fixed import FixedFormat, Rounding, quantize
from rnnhw.spec.lut import FUNCTIONS, activation_table

try:
    from .benchmarks_md import replace_section
except ImportError:  # run as a script
    from benchmarks_md import replace_section

__all__ = ["OUT_FORMAT", "SIZES", "HLS4ML_SPAN", "hls4ml_table", "hls4ml_lookup", "table_errors", "markdown"]

#: Output format of every table measured here.
OUT_FORMAT = FixedFormat(18, 2)
SIZES = (256, 1024, 4096)
#: Width of the input range hls4ml's table covers, centred on 0.
HLS4ML_SPAN = {"sigmoid": 16, "tanh": 8}
#: The measurement grid: every multiple of 2**-GRID_FRAC in [-GRID_RANGE, GRID_RANGE].
GRID_FRAC, GRID_RANGE = 16, 16


def hls4ml_table(function: str, size: int, out_fmt: FixedFormat = OUT_FORMAT) -> np.ndarray:
    """hls4ml's table of ``size`` entries, as integers of ``out_fmt`` (entries rounded to nearest)."""
    i = np.arange(size)
    values = FUNCTIONS[function](HLS4ML_SPAN[function] * (i - size // 2) / size)
    return quantize(values, out_fmt, Rounding.RND_CONV)[0]


def hls4ml_lookup(function: str, size: int, x, out_fmt: FixedFormat = OUT_FORMAT) -> np.ndarray:
    """hls4ml's activation of real inputs ``x`` (float64 results)."""
    x = np.asarray(x, dtype=np.float64)
    index = np.trunc(x * size / HLS4ML_SPAN[function]).astype(np.int64) + size // 2  # exact: size is 2**n
    table = hls4ml_table(function, size, out_fmt)
    return out_fmt.to_float(table[np.clip(index, 0, size - 1)])


def table_errors(function: str, size: int, out_fmt: FixedFormat = OUT_FORMAT, grid_frac: int = GRID_FRAC,
                 grid_range: int = GRID_RANGE) -> dict[str, float]:
    """Max abs error of rnnhw's plain and interpolated tables and of hls4ml's, on the grid.

    rnnhw's tables receive the grid points as integers with ``grid_frac`` fractional bits.
    """
    v = np.arange(-(grid_range << grid_frac), (grid_range << grid_frac) + 1, dtype=np.int64)
    x = v * 2.0**-grid_frac
    exact = FUNCTIONS[function](x)

    def worst(approx):
        return float(np.max(np.abs(approx - exact)))

    errors = {}
    for mode, interpolate in (("plain", False), ("interpolated", True)):
        table = activation_table(function, size, interpolate, out_fmt)
        errors[mode] = worst(out_fmt.to_float(table.lookup(v, grid_frac)))
    errors["hls4ml"] = worst(hls4ml_lookup(function, size, x, out_fmt))
    return errors


def markdown(results: dict[tuple[str, int], dict[str, float]], out_fmt: FixedFormat = OUT_FORMAT) -> str:
    """The results as a markdown table (errors in units of 1e-3), with the range each table covers."""
    lines = [
        "| function | entries | rnnhw plain | rnnhw interpolated | hls4ml | hls4ml / rnnhw plain |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for (function, size), e in results.items():
        plain = activation_table(function, size, False, out_fmt)
        interp = activation_table(function, size, True, out_fmt)
        lines.append(
            f"| {function} | {size} | {e['plain'] * 1e3:.4f} (±{2**plain.range_log2}) "
            f"| {e['interpolated'] * 1e3:.4f} (±{2**interp.range_log2}) "
            f"| {e['hls4ml'] * 1e3:.4f} (±{HLS4ML_SPAN[function] // 2}) | {e['hls4ml'] / e['plain']:.2f} |"
        )
    return "\n".join(lines)


def section(table: str) -> str:
    count = (2 * GRID_RANGE << GRID_FRAC) + 1
    return f"""## Activation tables

Written by `bench/lut_error.py`. Maximum absolute error (in units of 10⁻³) of each table against the
exact function over every multiple of 2^-{GRID_FRAC} in [-{GRID_RANGE}, {GRID_RANGE}] ({count:,} inputs,
given to rnnhw's tables as integers with {GRID_FRAC} fractional bits). Every table's output format is
`{OUT_FORMAT}` ({OUT_FORMAT.frac_bits} fractional bits, so rounding its entries alone costs up to
{2.0 ** -(OUT_FORMAT.frac_bits + 1) * 1e3:.4f}). In parentheses: the input range the table covers (rnnhw
chooses it per function, size and mode; beyond it a table returns its last entry). rnnhw stores half of
each table (entries/2 words, one more with interpolation), hls4ml all of it. hls4ml's entries are rounded
to nearest in the same output format (see the script's docstring).

{table}
"""


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-write", action="store_true", help="only print; leave docs/BENCHMARKS.md alone")
    args = parser.parse_args(argv)
    results = {(f, n): table_errors(f, n) for f in FUNCTIONS for n in SIZES}
    text = section(markdown(results))
    print(text)
    if not args.no_write:
        replace_section("lut_error", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

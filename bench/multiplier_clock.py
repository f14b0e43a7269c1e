"""The multiplier clock of each device family in rnnhw's flow: the figure ``rnnhw.spec.devices`` holds.

Run ``python bench/multiplier_clock.py`` (``--no-write`` to only print). One signed product between
registers goes through ``rnnhw.synth`` (Yosys, nextpnr, seed 1, a 400 MHz constraint): 18x18 on the
ECP5 LFE5UM-85F at speed grades 6, 7 and 8 (the flow moves the input registers into the MULT18X18D), 16x16
with reset-less registers on the iCE40UP5K (Yosys puts them in the SB_MAC16). The section compares each
Fmax with the device facts' figure; a difference means ``spec/devices.py`` needs the new number.
"""

from __future__ import annotations

import argparse
import sys

from amaranth import Module, Signal, signed
from amaranth.back import verilog
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from rnnhw.spec.devices import DEVICES, ECP5_MULTIPLIER_FMAX_MHZ

try:
    from .benchmarks_md import replace_section
    from .versions import source_revision, tool_versions
except ImportError:  # run as a script
    from benchmarks_md import replace_section
    from versions import source_revision, tool_versions

__all__ = ["RegisteredProduct", "MEASUREMENTS", "measure", "section", "main"]

CONSTRAINT_MHZ = 400.0


class RegisteredProduct(wiring.Component):
    """``p = a * b`` (signed, ``width`` x ``width``) with a register on each input and on the product."""

    def __init__(self, *, width: int, reset_less: bool):
        self._width, self._reset_less = width, reset_less
        super().__init__({"a": In(signed(width)), "b": In(signed(width)), "p": Out(signed(2 * width))})

    def elaborate(self, platform):
        m = Module()
        a, b = (Signal(signed(self._width), reset_less=self._reset_less) for _ in range(2))
        product = Signal(signed(2 * self._width), reset_less=self._reset_less)
        m.d.sync += [a.eq(self.a), b.eq(self.b), product.eq(a * b)]
        m.d.comb += self.p.eq(product)
        return m


#: (target, device, product width, reset-less registers, the figure rnnhw.spec.devices holds).
MEASUREMENTS = (
    *(("ecp5", f"LFE5UM-85F-{grade}BG381C", 18, False, ECP5_MULTIPLIER_FMAX_MHZ[grade]) for grade in (8, 7, 6)),
    ("ice40", "iCE40UP5K", 16, True, DEVICES["iCE40UP5K"].multiplier_fmax_mhz),
)


def measure() -> list[tuple[str, str, int, float, float]]:
    from rnnhw.synth import synthesize

    rows = []
    for target, device, width, reset_less, figure in MEASUREMENTS:
        text = verilog.convert(RegisteredProduct(width=width, reset_less=reset_less), name="product",
                               emit_src=False)
        print(f"multiplier_clock: {device} {width}x{width}", file=sys.stderr, flush=True)
        result = synthesize(text, target=target, device=device, top="product", freq_mhz=CONSTRAINT_MHZ, quiet=True)
        rows.append((target, device, width, result.fmax_mhz, figure))
    return rows


def section(rows, versions: str, revision: str) -> str:
    lines = ["| device | product | Fmax measured (MHz) | `rnnhw.spec.devices` (MHz) |", "|---|---|---:|---:|"]
    lines += [f"| {device} | {width}x{width} | {fmax:.2f} | {figure:.2f} |" for _, device, width, fmax, figure in rows]
    return f"""## Multiplier clock

Written by `bench/multiplier_clock.py`. One signed product between registers through `rnnhw.synth`
(seed 1, {CONSTRAINT_MHZ:g} MHz constraint): the clock a lane's multiplier reaches at best, which the
device facts use for the multiplier peak. On ECP5 the flow moves the two input registers into the
MULT18X18D; the product register stays in the fabric, as in the lanes. Tools: {versions}; source
{revision}.

{chr(10).join(lines)}
"""


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-write", action="store_true", help="print the section; leave docs/BENCHMARKS.md alone")
    args = parser.parse_args(argv)
    rows = measure()
    text = section(rows, tool_versions(), source_revision())
    print(text)
    if not args.no_write:
        replace_section("multiplier_clock", text)
    stale = [device for _, device, _, fmax, figure in rows if fmax != figure]
    if stale:
        print(f"multiplier_clock: spec/devices.py holds another figure for {', '.join(stale)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

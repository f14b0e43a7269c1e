"""Sigmoid / tanh lookup tables in hardware (the table and its indexing come from ``spec/lut.py``)."""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from rnnhw.spec.fixed import Overflow, Rounding
from rnnhw.spec.latency import table_latency
from rnnhw.spec.lut import INTERP_BITS, ActivationTable

from .fixed import fit, format_shape, shift_round
from .pipeline import delayed

__all__ = ["ActivationLUT"]


class ActivationLUT(wiring.Component):
    """Pipelined lookup of one :class:`~rnnhw.spec.lut.ActivationTable`.

    Stores only the half table for ``x >= 0`` and reflects negative inputs (``1 - y`` for sigmoid,
    ``-y`` for tanh), exactly as :meth:`ActivationTable.lookup`.

    Parameters
    ----------
    table : ActivationTable
    in_width : int
        Width of the signed input.
    in_frac : int
        Fractional bits of the input.

    Members
    -------
    x : In(signed(in_width))
        Input, sampled every cycle.
    y : Out(signed(out_fmt.width))
        ``table(x)`` :attr:`latency` cycles later.

    Latency: 5 cycles; 6 with interpolation. Throughput: one lookup per cycle.
    """

    def __init__(self, *, table: ActivationTable, in_width: int, in_frac: int):
        if not isinstance(table, ActivationTable):
            raise TypeError(f"table must be an ActivationTable, not {table!r}")
        if not isinstance(in_width, int) or in_width < 2:
            raise ValueError(f"in_width must be an integer of at least 2, not {in_width!r}")
        self.table, self.in_width, self.in_frac = table, in_width, in_frac
        self.shift = table.index_shift(in_frac)
        self.interpolated = table.interpolate and self.shift > 0
        self.latency = table_latency(table, in_frac)
        super().__init__({"x": In(signed(in_width)), "y": Out(format_shape(table.out_fmt))})

    def elaborate(self, platform):
        m = Module()
        table, out_fmt = self.table, self.table.out_fmt
        last = table.half if table.interpolate else table.half - 1
        m.submodules.rom = rom = Memory(shape=format_shape(out_fmt), depth=len(table.entries),
                                        init=table.entries)
        here = rom.read_port()

        # Stage 0: |x| (one bit wider than x), registered; stage 1: the bin index, clamped to the last
        # stored entry, registered as the ROM's address. Each wide carry chain gets a cycle of its own.
        negative_a = Signal(name="negative_a")
        magnitude = Signal(len(self.x), name="magnitude")
        m.d.sync += [negative_a.eq(self.x < 0), magnitude.eq(Mux(self.x < 0, -self.x, self.x))]
        index = magnitude >> self.shift if self.shift >= 0 else magnitude << -self.shift
        clamped = Signal(range(len(table.entries)))
        negative_0 = Signal()
        m.d.sync += [clamped.eq(Mux(index > last, last, index)), negative_0.eq(negative_a)]
        m.d.comb += here.addr.eq(clamped)
        negative_1 = Signal()
        m.d.sync += negative_1.eq(negative_0)

        if self.interpolated:
            there = rom.read_port()
            position = magnitude[self.shift - INTERP_BITS: self.shift] if self.shift >= INTERP_BITS else \
                magnitude[: self.shift] << (INTERP_BITS - self.shift)
            position_0, inside_0 = Signal(INTERP_BITS), Signal()
            m.d.sync += [position_0.eq(position), inside_0.eq(index < table.half)]
            m.d.comb += there.addr.eq(Mux(inside_0, clamped + 1, clamped))
            position_2, inside_2 = (delayed(m, s, 2, name) for s, name in
                                    ((position_0, "position"), (inside_0, "inside")))
            # Stage 2: interpolate between T[k] and T[k+1] (registered out of the block RAM).
            low, high = delayed(m, here.data, 1, "low"), delayed(m, there.data, 1, "high")
            interpolated = low + shift_round((high - low) * position_2, INTERP_BITS, Rounding.RND)
            value = Signal(signed(out_fmt.width + 2))
            m.d.sync += value.eq(Mux(inside_2, interpolated, low))
            sign = delayed(m, negative_1, 2, "negative")
        else:
            # The block RAM's clock-to-out gets a cycle of its own.
            value, sign = delayed(m, here.data, 1, "entry"), delayed(m, negative_1, 1, "negative")

        # Final stage: reflect for negative inputs, saturate.
        if table.function == "sigmoid":
            reflected = Mux(sign, table.one - value, value)
        else:
            reflected = Mux(sign, -value, value)
        m.d.sync += self.y.eq(fit(reflected, out_fmt, Overflow.SAT))
        return m

"""Sigmoid / tanh lookup tables in hardware (the table and its indexing come from ``spec/lut.py``)."""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from rnnhw.spec.fixed import Overflow
from rnnhw.spec.latency import MULTIPLIER_LATENCY, table_latency
from rnnhw.spec.lut import INTERP_BITS, ActivationTable

from .checks import check_type
from .fixed import fit, format_shape
from .multiply import MULTIPLIER_KINDS, multiply
from .pipeline import delayed

__all__ = ["ActivationLUT"]


class ActivationLUT(wiring.Component):
    """Pipelined lookup of one :class:`~rnnhw.spec.lut.ActivationTable`.

    Stores only the half table for ``x >= 0`` and reflects negative inputs (``1 - y`` for sigmoid,
    ``-y`` for tanh), exactly as :meth:`ActivationTable.lookup`. With interpolation, the slope
    ``(T[k+1] - T[k]) * position`` is one multiplier of the kind ``multipliers`` names
    (:func:`rtl.multiply.multiply`): a DSP block, or a shift-add tree in logic.

    Parameters
    ----------
    table : ActivationTable
    in_width : int
        Width of the signed input.
    in_frac : int
        Fractional bits of the input.
    multipliers : str
        ``"logic"`` or ``"dsp"`` (``hardware.elementwise_multipliers``); used only with interpolation.

    Members
    -------
    x : In(signed(in_width))
        Input, sampled every cycle.
    y : Out(signed(table.out_fmt.width))
        ``table(x)`` :attr:`latency` cycles later.

    Latency
    -------
    :attr:`latency` = :func:`rnnhw.spec.latency.table_latency`: 5 cycles (registered ``|x|``,
    registered index, block RAM, registered entry, reflection), one more per further register behind
    the block RAM (``read_registers``); 6 with interpolation (the multiplier's two stages in place of the
    registered entry; ``read_registers`` does not apply). Throughput: one lookup per cycle.

    Raises
    ------
    TypeError
        If ``table`` is not an ``ActivationTable`` or ``in_width``/``in_frac`` not an integer.
    ValueError
        If ``in_width`` is less than 2, ``multipliers`` is not ``"logic"`` or ``"dsp"`` or
        ``read_registers`` is not 1 or 2 (``spec.latency.table_read_registers``).
    """

    def __init__(self, *, table: ActivationTable, in_width: int, in_frac: int, multipliers: str,
                 read_registers: int = 1):
        check_type("table", table, ActivationTable, "an ActivationTable")
        if not isinstance(in_width, int) or isinstance(in_width, bool):
            raise TypeError(f"in_width must be an integer of at least 2, not {in_width!r}")
        if in_width < 2:
            raise ValueError(f"in_width must be an integer of at least 2, not {in_width!r}")
        if not isinstance(in_frac, int) or isinstance(in_frac, bool):
            raise TypeError(f"in_frac must be an integer, not {in_frac!r}")
        if multipliers not in MULTIPLIER_KINDS:
            raise ValueError(f"multipliers must be one of {MULTIPLIER_KINDS}, not {multipliers!r}")
        if read_registers not in (1, 2) or isinstance(read_registers, bool):
            raise ValueError(f"read_registers must be 1 or 2, not {read_registers!r}")
        self._table, self._in_width, self._in_frac, self._multipliers = table, in_width, in_frac, multipliers
        self._read_registers = read_registers
        super().__init__({"x": In(signed(in_width)), "y": Out(format_shape(table.out_fmt))})

    @property
    def table(self):
        return self._table

    @property
    def in_width(self):
        return self._in_width

    @property
    def in_frac(self):
        return self._in_frac

    @property
    def multipliers(self):
        return self._multipliers

    @property
    def read_registers(self):
        """Registers behind the block RAM of a lookup without interpolation."""
        return self._read_registers

    @property
    def shift(self):
        """Right shift of ``|x|`` to the table index (negative: a left shift)."""
        return self._table.index_shift(self._in_frac)

    @property
    def interpolated(self):
        """Whether lookups interpolate (the input has bits below the bin index)."""
        return self._table.interpolate and self.shift > 0

    @property
    def latency(self):
        """Cycles from ``x`` to ``y`` (``spec.latency.table_latency``)."""
        return table_latency(self._table, self._in_frac, self._read_registers)

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
            # T[k+1] from a second read port (T[k] again past the table's end, so the slope is 0 there
            # and the result T[k], as the specification says).
            there = rom.read_port()
            position = magnitude[self.shift - INTERP_BITS: self.shift] if self.shift >= INTERP_BITS else \
                magnitude[: self.shift] << (INTERP_BITS - self.shift)
            position_0, inside_0 = Signal(INTERP_BITS), Signal()
            m.d.sync += [position_0.eq(position), inside_0.eq(index < table.half)]
            m.d.comb += there.addr.eq(Mux(inside_0, clamped + 1, clamped))
            # Stages 2-3: the slope's multiplier, whose input registers take the block RAM's output.
            slope = multiply(m, there.data - here.data, delayed(m, position_0, 1, "position"),
                             kind=self.multipliers, name="slope")
            low = delayed(m, here.data, MULTIPLIER_LATENCY, "low")
            # T[k] + shift_round(slope, INTERP_BITS, RND) in one addition: T[k] << INTERP_BITS has no
            # bits below INTERP_BITS, so the rounding half is an OR.
            half = 1 << (INTERP_BITS - 1)
            value = (((low << INTERP_BITS) | half) + slope) >> INTERP_BITS
            sign = delayed(m, negative_1, MULTIPLIER_LATENCY, "negative")
        else:
            # The block RAM's clock-to-out gets a cycle of its own (two: the first by the block).
            value = delayed(m, here.data, self.read_registers, "entry", reset_less=True)
            sign = delayed(m, negative_1, self.read_registers, "negative")

        # Final stage: reflect for negative inputs, saturate.
        if table.function == "sigmoid":
            reflected = Mux(sign, table.one - value, value)
        else:
            reflected = Mux(sign, -value, value)
        m.d.sync += self.y.eq(fit(reflected, out_fmt, Overflow.SAT))
        return m

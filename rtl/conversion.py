"""The rounding point between the lanes and the rest: exact sums to gate pre-activations or head outputs."""

from __future__ import annotations

from amaranth.hdl import Module
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from rnnhw.spec.fixed import FixedFormat, Overflow, Rounding

from .checks import check_non_negative, check_type
from .fixed import convert
from .layouts import logit_element_layout, output_element_layout

__all__ = ["SumConverter"]


class SumConverter(wiring.Component):
    """Rounds each exact sum of :class:`~rtl.matvec.MatVecUnit` once, to where it goes next.

    Gate rows become pre-activations in the accumulator format for the elementwise unit; head rows
    become output elements in the output format (``last`` on the head's last row). Without a Linear
    head (``head_size`` = 0), rows marked ``job.head`` are the Jordan cell's output layer ``W_hy h``:
    they go to the elementwise unit like gate rows. This is the one rounding of the matrix-vector
    products (``golden.model.matvec_result``).

    Parameters
    ----------
    acc_frac : int
        Fractional bits of the incoming sums (the lane accumulator's fixed point).
    accum, output : FixedFormat
        Formats of the gate pre-activations and of the head's outputs.
    rounding : Rounding
    overflow : Overflow
    head_size : int
        Outputs of the Linear head (0: no head).
    sum_shape, item_shape : data.StructLayout
        Layouts of an incoming sum and of an outgoing gate item (:func:`rtl.layouts.item_layout`).
    sequence_end : bool
        Head items carry ``end`` (the job's ``end``: a sequence's last step), for the CTC decoder.

    Members
    -------
    sums : In(stream.Signature(sum_shape, always_ready=True))
    gates : Out(stream.Signature(item_shape, always_ready=True))
        Items of gate rows (``job.head`` = 0; every row without a head), value rounded to ``accum``.
    head : Out(stream.Signature(output_element_layout(output), always_ready=True))
        Items of head rows, rounded to ``output`` (``logit_element_layout(output)`` with ``sequence_end``).

    Latency
    -------
    1 cycle (one register after the rounding).

    Raises
    ------
    TypeError
        If a parameter has the wrong type.
    ValueError
        If ``acc_frac`` or ``head_size`` is negative.
    """

    def __init__(self, *, acc_frac: int, accum: FixedFormat, output: FixedFormat, rounding: Rounding,
                 overflow: Overflow, head_size: int, sum_shape: data.StructLayout, item_shape: data.StructLayout,
                 sequence_end: bool = False):
        check_non_negative("acc_frac", acc_frac)
        check_type("accum", accum, FixedFormat, "a FixedFormat")
        check_type("output", output, FixedFormat, "a FixedFormat")
        check_type("rounding", rounding, Rounding, "a Rounding")
        check_type("overflow", overflow, Overflow, "an Overflow")
        check_non_negative("head_size", head_size)
        check_type("sum_shape", sum_shape, data.StructLayout, "a StructLayout")
        check_type("item_shape", item_shape, data.StructLayout, "a StructLayout")
        check_type("sequence_end", sequence_end, bool, "a bool")
        self._acc_frac, self._accum, self._output = acc_frac, accum, output
        self._rounding, self._overflow, self._head_size = rounding, overflow, head_size
        self._sum_shape, self._item_shape, self._sequence_end = sum_shape, item_shape, sequence_end
        head_element = logit_element_layout(output) if sequence_end else output_element_layout(output)
        super().__init__({
            "sums": In(stream.Signature(sum_shape, always_ready=True)),
            "gates": Out(stream.Signature(item_shape, always_ready=True)),
            "head": Out(stream.Signature(head_element, always_ready=True)),
        })

    @property
    def acc_frac(self):
        return self._acc_frac

    @property
    def accum(self):
        return self._accum

    @property
    def output(self):
        return self._output

    @property
    def rounding(self):
        return self._rounding

    @property
    def overflow(self):
        return self._overflow

    @property
    def head_size(self):
        return self._head_size

    @property
    def sequence_end(self):
        return self._sequence_end

    @property
    def sum_shape(self):
        return self._sum_shape

    @property
    def item_shape(self):
        return self._item_shape

    def elaborate(self, platform):
        m = Module()
        total, item = self.sums.p, self.gates.p

        def rounded(fmt):
            return convert(total.value, self.acc_frac, fmt, self.rounding, self.overflow)

        m.d.sync += [
            self.gates.valid.eq(self.sums.valid & (~total.job.head if self.head_size else 1)),
            item.value.eq(rounded(self.accum)),
            item.part.eq(total.part), item.unit.eq(total.unit), item.gate.eq(total.gate), item.job.eq(total.job),
        ]
        if self.head_size:
            m.d.sync += [
                self.head.valid.eq(self.sums.valid & total.job.head),
                self.head.p.data.eq(rounded(self.output)),
                self.head.p.last.eq(total.unit == self.head_size - 1),
            ]
            if self.sequence_end:
                m.d.sync += self.head.p.end.eq(total.job.end)
        return m

"""The streaming CTC greedy decoder between the head and the output buffer (``spec/ctc.py``)."""

from __future__ import annotations

from amaranth.hdl import Const, Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from rnnhw.spec.ctc import EMPTY, MOST_BEATS_PER_STEP
from rnnhw.spec.fixed import FixedFormat

from .checks import check_non_negative, check_positive, check_type
from .interfaces import RefundSignature
from .layouts import label_element_layout, logit_element_layout

__all__ = ["CTCDecoder"]


class CTCDecoder(wiring.Component):
    """Greedy CTC decoding of the head's logits as they arrive, one per cycle.

    The argmax is kept by compare-and-keep (a later logit replaces the best only if strictly larger,
    so ties keep the lowest index). At a vector's last logit the step's class is known: a class that
    is not the blank and differs from the previous step's is a new label. The newest label is held
    back until the next one, or the sequence's end, shows whether it is the sequence's last (it then
    goes out with ``last``); a sequence with no label sends one ``EMPTY`` beat with ``last``.

    The sequencer reserves :data:`~rnnhw.spec.ctc.MOST_BEATS_PER_STEP` output places per head
    vector; ``refund`` returns those this step does not use.

    Parameters
    ----------
    classes : int
        C, logits per step (the head's outputs).
    blank : int
        Index of the blank class, ``0 .. classes-1``.
    logit_format : FixedFormat
        Format of the logits (``numerics.output``).

    Members
    -------
    logits : In(stream.Signature(logit_element_layout(logit_format), always_ready=True))
        The head's outputs in class order; ``last`` on class C-1, ``end`` on a sequence's last step.
    labels : Out(stream.Signature(label_element_layout(classes), always_ready=True))
        Decoded labels (or ``EMPTY``), ``last`` on a sequence's last one; at most one per cycle.
    refund : Out(RefundSignature(most=MOST_BEATS_PER_STEP))
        Reserved output places a vector leaves unused.

    Latency
    -------
    A vector's first beat leaves one cycle after its last logit arrives, a second beat (at a
    sequence's end) one cycle later; the next vector's logits may arrive from the cycle after that.
    It never stalls its input.

    Raises
    ------
    TypeError
        If ``classes`` or ``blank`` is not an integer or ``logit_format`` not a ``FixedFormat``.
    ValueError
        If ``classes`` is less than 1 or ``blank`` is not below it.
    """

    def __init__(self, *, classes: int, blank: int, logit_format: FixedFormat):
        check_positive("classes", classes)
        check_non_negative("blank", blank)
        check_type("logit_format", logit_format, FixedFormat, "a FixedFormat")
        if blank >= classes:
            raise ValueError(f"blank must be a class index below classes ({classes}), not {blank!r}")
        self._classes, self._blank, self._logit_format = classes, blank, logit_format
        super().__init__({
            "logits": In(stream.Signature(logit_element_layout(logit_format), always_ready=True)),
            "labels": Out(stream.Signature(label_element_layout(classes), always_ready=True)),
            "refund": Out(RefundSignature(most=MOST_BEATS_PER_STEP)),
        })

    @property
    def classes(self) -> int:
        return self._classes

    @property
    def blank(self) -> int:
        return self._blank

    @property
    def logit_format(self) -> FixedFormat:
        return self._logit_format

    def elaborate(self, platform):
        m = Module()
        logit = self.logits.p
        label_shape = self.labels.p.data.shape()

        # Compare-and-keep over the vector; `index` counts the classes as they arrive.
        index = Signal(range(max(self.classes, 2)))
        best_value = Signal.like(logit.data)
        best_index = Signal(range(max(self.classes, 2)))
        first = index == 0
        better = first | (logit.data > best_value)
        arrived_best = Mux(better, index, best_index)  # the argmax including this logit
        with m.If(self.logits.valid):
            m.d.sync += index.eq(Mux(logit.last, 0, index + 1))
            with m.If(better):
                m.d.sync += [best_value.eq(logit.data), best_index.eq(index)]

        # One cycle after a vector's last logit: its class, and whether the sequence ends there.
        decided = Signal()
        step_class = Signal.like(best_index)
        end = Signal()
        m.d.sync += decided.eq(self.logits.valid & logit.last)
        with m.If(self.logits.valid & logit.last):
            m.d.sync += [step_class.eq(arrived_best), end.eq(logit.end)]

        previous = Signal.like(best_index)  # the previous step's class in this sequence
        previous_valid = Signal()
        held = Signal(label_shape)  # the newest label, not yet sent
        held_valid = Signal()
        second = Signal()  # a second beat (the new label, last) goes out in the next cycle
        second_label = Signal(label_shape)

        new = Signal()
        m.d.comb += new.eq((step_class != self.blank) & ~(previous_valid & (step_class == previous)))
        flush = new & held_valid  # the held label goes out: it has a successor
        first_beat = Signal()
        m.d.comb += first_beat.eq(decided & (flush | end))
        with m.If(second):
            m.d.comb += [self.labels.valid.eq(1), self.labels.p.data.eq(second_label), self.labels.p.last.eq(1)]
        with m.Else():
            m.d.comb += [
                self.labels.valid.eq(first_beat),
                self.labels.p.data.eq(Mux(flush, held, Mux(new, step_class,
                                                           Mux(held_valid, held, Const(EMPTY, label_shape))))),
                self.labels.p.last.eq(end & ~flush),
            ]
        m.d.sync += second.eq(decided & end & flush)
        with m.If(decided):
            m.d.sync += [previous.eq(step_class), previous_valid.eq(~end), second_label.eq(step_class)]
            m.d.comb += self.refund.count.eq(MOST_BEATS_PER_STEP - first_beat - (end & flush))
            with m.If(end):
                m.d.sync += held_valid.eq(0)
            with m.Elif(new):
                m.d.sync += [held.eq(step_class), held_valid.eq(1)]
        return m

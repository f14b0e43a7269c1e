"""The input buffer: two timestep slots filled from the input stream while the datapath computes."""

from __future__ import annotations

from amaranth.hdl import Array, Module, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

__all__ = ["InputBuffer"]


class InputBuffer(wiring.Component):
    """Double-buffered storage of one timestep's input vector ``x_t``.

    The stream fills one slot while the matrix-vector unit reads the other, so ``x_{t+1}`` arrives
    during step ``t``. The reader sees how many elements of its slot have arrived (it may start
    before the slot is full) and releases the slot when every pass has read it.

    Parameters
    ----------
    features : int
        Elements per timestep (``I``).
    width : int
        Width of a signed element.

    Members
    -------
    input : In(stream.Signature({data, last}))
        Elements in order; ``last`` on the final element of a sequence (sampled on element I-1).
    read_index : In(range(features))
        Element of the read slot to read; ``read_data`` has it one cycle later.
    read_data : Out(signed(width))
    count : Out(range(features + 1))
        Elements of the read slot that have arrived.
    last : Out(1)
        The read slot holds the last timestep of its sequence (valid once ``count == features``).
    release : In(1)
        The read slot has been consumed: move to the other slot (next cycle) and free this one (the
        cycle after).
    """

    def __init__(self, *, features: int, width: int):
        if not isinstance(features, int) or features < 1:
            raise ValueError(f"features must be a positive integer, not {features!r}")
        self.features = features
        super().__init__({
            "input": In(stream.Signature(data.StructLayout({"data": signed(width), "last": 1}))),
            "read_index": In(range(features)),
            "read_data": Out(signed(width)),
            "count": Out(range(features + 1)),
            "last": Out(1),
            "release": In(1),
        })

    def elaborate(self, platform):
        m = Module()
        features = self.features
        m.submodules.slots = slots = Memory(shape=self.read_data.shape(), depth=2 * features, init=[])
        write, read = slots.write_port(), slots.read_port()
        counts = Array(Signal(range(features + 1), name=f"count{s}") for s in range(2))
        lasts = Array(Signal(name=f"last{s}") for s in range(2))
        write_slot, read_slot = Signal(), Signal()

        filling = counts[write_slot]
        m.d.comb += [
            self.input.ready.eq(filling < features),
            write.addr.eq(write_slot * features + filling),
            write.data.eq(self.input.p.data),
            write.en.eq(self.input.valid & self.input.ready),
            read.addr.eq(read_slot * features + self.read_index),
            self.read_data.eq(read.data),
            self.count.eq(counts[read_slot]),
            self.last.eq(lasts[read_slot]),
        ]
        with m.If(write.en):
            m.d.sync += filling.eq(filling + 1)
            with m.If(filling == features - 1):
                m.d.sync += [lasts[write_slot].eq(self.input.p.last), write_slot.eq(~write_slot)]
        # The reader moves to the other slot at once; the freed slot's count clears one cycle later
        # (from a register, off the sequencer's issue decision). The write side never touches a full
        # slot, so the two do not collide.
        freed = Signal()
        m.d.sync += [read_slot.eq(read_slot ^ self.release), freed.eq(self.release)]
        with m.If(freed):
            m.d.sync += counts[~read_slot].eq(0)
        return m

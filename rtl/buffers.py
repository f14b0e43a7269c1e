"""The input buffer (two timestep slots filled from the input stream while the datapath computes), the
sequence buffer of bidirectional cores (two whole-sequence slots) and the output buffer (a FIFO whose
places the sequencer reserves before results are computed)."""

from __future__ import annotations

from amaranth.hdl import Array, Module, Mux, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .checks import check_positive, check_type
from .interfaces import InputReadSignature, ReservationSignature, SequenceReadSignature
from .multiply import times_constant
from .pipeline import UNCHECKED_COLLISIONS

__all__ = ["InputBuffer", "StreamInputBuffers", "SequenceBuffer", "OutputBuffer"]


class _ElementStorage:
    """The read-only parameters the input buffers share: elements per timestep and their width."""

    @property
    def features(self) -> int:
        """Elements per timestep (``I``)."""
        return self._features

    @property
    def width(self) -> int:
        """Width of a signed element."""
        return self._width


class InputBuffer(_ElementStorage, wiring.Component):
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
    input : In(stream.Signature({data: signed(width), last: 1}))
        Elements in order; ``last`` on the final element of a sequence (sampled on element I-1).
    read : In(InputReadSignature(features=features, width=width))
        The reader's side: ``index`` -> ``data`` one cycle later, ``count`` and ``last`` of the read
        slot, and ``release``: move to the other slot (next cycle) and free this one (the cycle after).

    Latency
    -------
    ``read.data`` one cycle after ``read.index``; an element accepted from ``input`` counts in
    ``read.count`` from the next cycle; a released slot accepts elements again two cycles later.

    Raises
    ------
    TypeError
        If ``features`` or ``width`` is not an integer.
    ValueError
        If ``features`` or ``width`` is less than 1.
    """

    def __init__(self, *, features: int, width: int):
        check_positive("features", features)
        check_positive("width", width)
        self._features, self._width = features, width
        super().__init__({
            "input": In(stream.Signature(data.StructLayout({"data": signed(width), "last": 1}))),
            "read": In(InputReadSignature(features=features, width=width)),
        })

    def elaborate(self, platform):
        m = Module()
        features, read_side = self.features, self.read
        # A slot is read only where it is filled (index < count): never where it is written.
        m.submodules.slots = slots = Memory(shape=signed(self.width), depth=2 * features, init=[],
                                            attrs=UNCHECKED_COLLISIONS)
        write, read = slots.write_port(), slots.read_port()
        counts = Array(Signal(range(features + 1), name=f"count{s}") for s in range(2))
        lasts = Array(Signal(name=f"last{s}") for s in range(2))
        write_slot, read_slot = Signal(), Signal()

        filling = counts[write_slot]
        m.d.comb += [
            self.input.ready.eq(filling < features),
            write.addr.eq(times_constant(write_slot, features) + filling),
            write.data.eq(self.input.p.data),
            write.en.eq(self.input.valid & self.input.ready),
            read.addr.eq(times_constant(read_slot, features) + read_side.index),
            read_side.data.eq(read.data),
        ]
        # Each slot's next count and last flag, so that the read slot's can be registered: the sequencer
        # compares the count with its operand index to decide an issue, and a slot choice in front of
        # that comparison was on the critical path.
        freed = Signal()
        next_counts, next_lasts = [], []
        for s in range(2):
            written = write.en & (write_slot == s)
            next_counts.append(Mux(freed & (read_slot != s), 0, counts[s] + written))
            next_lasts.append(Mux(written & (filling == features - 1), self.input.p.last, lasts[s]))
            m.d.sync += [counts[s].eq(next_counts[s]), lasts[s].eq(next_lasts[s])]
        with m.If(write.en & (filling == features - 1)):
            m.d.sync += write_slot.eq(~write_slot)
        # The reader moves to the other slot at once; the freed slot's count clears one cycle later
        # (from a register, off the sequencer's issue decision). The write side never touches a full
        # slot, so the two do not collide.
        next_read_slot = read_slot ^ read_side.release
        read_count = Signal.like(read_side.count, name="read_count")
        read_last = Signal(name="read_last")
        m.d.sync += [read_slot.eq(next_read_slot), freed.eq(read_side.release),
                     read_count.eq(Mux(next_read_slot, next_counts[1], next_counts[0])),
                     read_last.eq(Mux(next_read_slot, next_lasts[1], next_lasts[0]))]
        m.d.comb += [read_side.count.eq(read_count), read_side.last.eq(read_last)]
        return m


class StreamInputBuffers(_ElementStorage, wiring.Component):
    """One :class:`InputBuffer` per interleaved stream, filled from one tid-tagged input stream.

    Each element goes to the buffer its ``tid`` names; the stream stalls while that buffer is full
    (so elements must come in the order the sequencer walks the streams, one timestep of each in turn,
    or at most one timestep ahead per stream). The reader reads, counts and releases the buffer of the
    stream ``stream`` names.

    Parameters
    ----------
    features : int
        Elements per timestep (``I``).
    width : int
        Width of a signed element.
    streams : int
        Interleaved streams K (at least 2).

    Members
    -------
    input : In(stream.Signature({data: signed(width), last: 1, tid: range(streams)}))
        Elements in order per stream; ``last`` on the final element of a sequence.
    read : In(InputReadSignature(features=features, width=width))
        As :class:`InputBuffer`'s, on the buffer of ``stream`` (``data``: of the stream one cycle earlier).
    stream : In(range(streams))
        The stream the reader is on.

    Latency
    -------
    As :class:`InputBuffer`.

    Raises
    ------
    TypeError
        If ``features``, ``width`` or ``streams`` is not an integer.
    ValueError
        If ``features`` or ``width`` is less than 1, or ``streams`` less than 2.
    """

    def __init__(self, *, features: int, width: int, streams: int):
        check_positive("features", features)
        check_positive("width", width)
        check_positive("streams", streams)
        if streams < 2:
            raise ValueError(f"streams must be at least 2 (one stream is an InputBuffer), not {streams!r}")
        self._features, self._width, self._streams = features, width, streams
        super().__init__({
            "input": In(stream.Signature(data.StructLayout({"data": signed(width), "last": 1,
                                                            "tid": range(streams)}))),
            "read": In(InputReadSignature(features=features, width=width)),
            "stream": In(range(streams)),
        })

    @property
    def streams(self) -> int:
        return self._streams

    def elaborate(self, platform):
        m = Module()
        buffers = []
        for s in range(self.streams):
            buffer = InputBuffer(features=self.features, width=self.width)
            m.submodules[f"stream{s}"] = buffer
            buffers.append(buffer)
            m.d.comb += [
                buffer.input.valid.eq(self.input.valid & (self.input.p.tid == s)),
                buffer.input.p.data.eq(self.input.p.data),
                buffer.input.p.last.eq(self.input.p.last),
                buffer.read.index.eq(self.read.index),
                buffer.read.release.eq(self.read.release & (self.stream == s)),
            ]
        stream_1 = Signal.like(self.stream)  # the stream of last cycle's index, whose data is due now
        m.d.sync += stream_1.eq(self.stream)
        m.d.comb += [
            self.input.ready.eq(Array(b.input.ready for b in buffers)[self.input.p.tid]),
            self.read.data.eq(Array(b.read.data for b in buffers)[stream_1]),
            self.read.count.eq(Array(b.read.count for b in buffers)[self.stream]),
            self.read.last.eq(Array(b.read.last for b in buffers)[self.stream]),
        ]
        return m


class SequenceBuffer(_ElementStorage, wiring.Component):
    """Double-buffered storage of whole input sequences (bidirectional cores: the backward direction
    starts at a sequence's last timestep).

    The stream fills one slot while the sequencer reads the other. A sequence longer than ``steps``
    timesteps is dropped: once the slot holds ``steps`` timesteps and the next element comes without the
    sequence having ended, the buffer accepts and discards every element up to and including the one with
    ``last``, leaves the slot empty (the sequence produces no output) and sets ``overflow``, which stays
    set until reset. The next sequence is taken normally.

    Parameters
    ----------
    features : int
        Elements per timestep (``I``).
    width : int
        Width of a signed element.
    steps : int
        Most timesteps of a sequence (``hardware.max_sequence_length``).

    Members
    -------
    input : In(stream.Signature({data: signed(width), last: 1}))
        Elements in order; ``last`` on the final element of a sequence (sampled on element I-1 of a
        timestep, also while discarding).
    read : In(SequenceReadSignature(features=features, width=width, steps=steps))
        The reader's side: ``index`` -> ``data`` one cycle later, ``full`` and ``length`` of the read slot,
        and ``release``: move to the other slot (next cycle) and free this one (the cycle after).
    overflow : Out(1)
        Sticky: a sequence longer than ``steps`` timesteps was dropped since reset.

    Latency
    -------
    ``read.data`` one cycle after ``read.index``; a sequence whose last element is accepted is ``full``
    from the next cycle; a released slot accepts elements again two cycles later.

    Raises
    ------
    TypeError
        If ``features``, ``width`` or ``steps`` is not an integer.
    ValueError
        If ``features``, ``width`` or ``steps`` is less than 1.
    """

    def __init__(self, *, features: int, width: int, steps: int):
        check_positive("features", features)
        check_positive("width", width)
        check_positive("steps", steps)
        self._features, self._width, self._steps = features, width, steps
        super().__init__({
            "input": In(stream.Signature(data.StructLayout({"data": signed(width), "last": 1}))),
            "read": In(SequenceReadSignature(features=features, width=width, steps=steps)),
            "overflow": Out(1),
        })

    @property
    def steps(self) -> int:
        return self._steps

    def elaborate(self, platform):
        m = Module()
        features, steps, read_side = self.features, self.steps, self.read
        words = steps * features
        # A slot is read only when it is full: never where it is written.
        m.submodules.slots = slots = Memory(shape=signed(self.width), depth=2 * words, init=[],
                                            attrs=UNCHECKED_COLLISIONS)
        write, read = slots.write_port(), slots.read_port()
        fulls = Array(Signal(name=f"full{s}") for s in range(2))
        lengths = Array(Signal(range(steps + 1), name=f"length{s}") for s in range(2))
        write_slot, read_slot = Signal(), Signal()
        element = Signal(range(words + 1))  # of the sequence being written
        j = Signal(range(features))  # its place in the timestep
        step = Signal(range(steps + 1))  # complete timesteps written
        discarding = Signal()

        accepted = self.input.valid & self.input.ready
        m.d.comb += [
            self.input.ready.eq(~fulls[write_slot]),
            write.addr.eq(times_constant(write_slot, words) + element),
            write.data.eq(self.input.p.data),
            write.en.eq(accepted & ~discarding & (step < steps)),
            read.addr.eq(times_constant(read_slot, words) + read_side.index),
            read_side.data.eq(read.data),
            read_side.full.eq(fulls[read_slot]),
            read_side.length.eq(lengths[read_slot]),
        ]
        with m.If(accepted):
            with m.If(discarding | (step == steps)):  # too long: drop everything up to its last element
                ends = (j == features - 1) & self.input.p.last
                m.d.sync += [discarding.eq(~ends), self.overflow.eq(1), j.eq(Mux(j == features - 1, 0, j + 1))]
                with m.If(ends):
                    m.d.sync += [element.eq(0), step.eq(0)]
            with m.Elif(j == features - 1):
                m.d.sync += [j.eq(0), element.eq(element + 1), step.eq(step + 1)]
                with m.If(self.input.p.last):  # a whole sequence: hand the slot over
                    m.d.sync += [fulls[write_slot].eq(1), lengths[write_slot].eq(step + 1), write_slot.eq(~write_slot),
                                 element.eq(0), step.eq(0)]
            with m.Else():
                m.d.sync += [j.eq(j + 1), element.eq(element + 1)]
        # The reader moves to the other slot at once; the freed slot empties one cycle later.
        freed = Signal()
        m.d.sync += [read_slot.eq(read_slot ^ read_side.release), freed.eq(read_side.release)]
        with m.If(freed):
            m.d.sync += fulls[~read_slot].eq(0)
        return m


class OutputBuffer(wiring.Component):
    """A FIFO between the datapath and the output stream, whose places the sequencer reserves.

    Its writer never waits: the sequencer reserves a whole output vector of places before it issues
    the job that computes it, and ``reservation.pop`` returns a place for each element leaving.

    Parameters
    ----------
    element : data.StructLayout
        An output element (:func:`rtl.layouts.output_element_layout`: ``data`` and ``last``).
    depth : int
        Elements the buffer holds.

    Members
    -------
    input : In(stream.Signature(element, always_ready=True))
        Elements from the datapath (there is always a reserved place for them).
    output : Out(stream.Signature(element))
        The output stream.
    reservation : Out(ReservationSignature())
        ``pop``: an element left (``output.valid & output.ready``).

    Latency
    -------
    An element written in one cycle is valid at ``output`` in the next (``SyncFIFOBuffered``).

    Raises
    ------
    TypeError
        If ``element`` is not a ``StructLayout`` or ``depth`` not an integer.
    ValueError
        If ``depth`` is less than 1.
    """

    def __init__(self, *, element: data.StructLayout, depth: int):
        check_type("element", element, data.StructLayout, "a StructLayout")
        check_positive("depth", depth)
        self._element, self._depth = element, depth
        super().__init__({
            "input": In(stream.Signature(element, always_ready=True)),
            "output": Out(stream.Signature(element)),
            "reservation": Out(ReservationSignature()),
        })

    @property
    def element(self) -> data.StructLayout:
        return self._element

    @property
    def depth(self) -> int:
        return self._depth

    def elaborate(self, platform):
        m = Module()
        m.submodules.fifo = fifo = SyncFIFOBuffered(width=self.element.size, depth=self.depth)
        m.d.comb += [
            fifo.w_en.eq(self.input.valid), fifo.w_data.eq(self.input.payload),
            self.output.valid.eq(fifo.r_rdy), self.output.payload.eq(fifo.r_data),
            fifo.r_en.eq(self.output.ready),
            self.reservation.pop.eq(fifo.r_rdy & self.output.ready),
        ]
        return m

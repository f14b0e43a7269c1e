"""The interfaces between the accelerator's components, as named ``wiring.Signature`` classes.

``RNNAccelerator`` connects its components with ``wiring.connect`` through these (from the ``Out``
side to the ``In`` side):

* :class:`IssueSignature`: ``Sequencer.issue`` -> ``MatVecUnit.issue``;
* :class:`InputReadSignature`: ``Sequencer.input`` -> ``InputBuffer.read``;
* :class:`WrittenSignature`: ``ElementwiseUnit.written`` -> ``Sequencer.written`` (and, for the
  cells that have them, ``reset_written`` (``r*h``) and ``output_written`` (Jordan ``y``, ``hidden`` = O));
* :class:`ReservationSignature`: ``OutputBuffer.reservation`` -> ``Sequencer.reservation``;
* :class:`WeightAccessSignature` (runtime weights only): ``ControlRegisters.weight_access`` ->
  ``MatVecUnit.weight_access``;
* :class:`RefundSignature`: ``CTCDecoder.refund`` -> ``Sequencer.refund`` (with CTC decoding);
* ``stream.Signature(..., always_ready=True)``: ``MatVecUnit.sums`` -> ``SumConverter.sums``,
  ``SumConverter.gates`` -> ``ElementwiseUnit.items``, and ``SumConverter.head`` (with a head) or
  ``ElementwiseUnit.output`` -> ``OutputBuffer.input``; with CTC decoding ``SumConverter.head`` ->
  ``CTCDecoder.logits`` and ``CTCDecoder.labels`` -> ``OutputBuffer.input``.

The state memory's ports are Amaranth's own :class:`amaranth.lib.memory.ReadPort.Signature` and
:class:`~amaranth.lib.memory.WritePort.Signature` (members seen from the memory), flipped in the
components that drive them: ``Sequencer.state`` (operand reads), ``ElementwiseUnit.h_write`` and
``ElementwiseUnit.h_read`` (GRU: ``h_{t-1}``). :func:`state_read_signature` and
:func:`state_write_signature` build them for a state memory of a given depth.

Each signature class takes keyword-only parameters, exposes them as read-only properties, and
compares equal to another of its class with the same parameters. Members are described from the
``Out`` side (the initiator, as in amaranth-soc's bus signatures).
"""

from __future__ import annotations

from amaranth.hdl import Shape, signed
from amaranth.lib import data, wiring
from amaranth.lib.memory import ReadPort, WritePort
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from rnnhw.spec.registers import WINDOW_REGIONS

from .checks import check_positive, check_type

__all__ = ["IssueSignature", "InputReadSignature", "SequenceReadSignature", "WrittenSignature", "ReservationSignature",
           "WeightAccessSignature", "RefundSignature", "state_read_signature", "state_write_signature"]


class _ParameterizedSignature(wiring.Signature):
    """A signature determined by its keyword parameters: equality and ``repr`` come from them."""

    def __init__(self, members: dict, **parameters):
        self._parameters = parameters
        super().__init__(members)

    def __eq__(self, other):
        return type(self) is type(other) and self._parameters == other._parameters

    def __hash__(self):
        return hash((type(self), tuple(self._parameters)))

    def __repr__(self):
        arguments = ", ".join(f"{name}={value!r}" for name, value in self._parameters.items())
        return f"{type(self).__name__}({arguments})"


class IssueSignature(_ParameterizedSignature):
    """Sequencer to lanes: one multiply-accumulate step of all lanes per cycle, and its operand.

    Parameters
    ----------
    issue_shape : data.StructLayout
        Layout of an issue word (:func:`rtl.layouts.issue_layout`).
    operand_width : int
        Width of the signed operand ``v[j]``.

    Members
    -------
    step : Out(issue_shape)
        Stage 0: weight and bias addresses, ``first``/``split``/``last``/``from_input`` and the job
        (``valid`` = 0 is a bubble).
    operand : Out(signed(operand_width))
        Stage 1: ``v[j]`` of the step issued one cycle earlier; stage 2 behind a broadcast tree
        (``spec.latency.operand_registers``).
    can_finish : In(1)
        The lanes' drain will be free when a pass whose last step is issued now completes.

    Raises
    ------
    TypeError
        If ``issue_shape`` is not a ``StructLayout`` or ``operand_width`` not an integer.
    ValueError
        If ``operand_width`` is less than 1.
    """

    def __init__(self, *, issue_shape: data.StructLayout, operand_width: int):
        check_type("issue_shape", issue_shape, data.StructLayout, "a StructLayout")
        check_positive("operand_width", operand_width)
        super().__init__({
            "step": Out(issue_shape),
            "operand": Out(signed(operand_width)),
            "can_finish": In(1),
        }, issue_shape=issue_shape, operand_width=operand_width)

    @property
    def issue_shape(self) -> data.StructLayout:
        return self._parameters["issue_shape"]

    @property
    def operand_width(self) -> int:
        return self._parameters["operand_width"]


class InputReadSignature(_ParameterizedSignature):
    """Sequencer to input buffer: read the current timestep's slot, see what has arrived, release it.

    Parameters
    ----------
    features : int
        Elements per timestep (``I``).
    width : int
        Width of a signed element.

    Members
    -------
    index : Out(range(features))
        Element of the read slot to read.
    data : In(signed(width))
        The element at ``index`` of one cycle earlier.
    count : In(range(features + 1))
        Elements of the read slot that have arrived.
    last : In(1)
        The read slot holds the last timestep of its sequence (valid once ``count == features``).
    release : Out(1)
        Every pass has read the slot: the buffer moves to its other slot.

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
        super().__init__({
            "index": Out(range(features)),
            "data": In(signed(width)),
            "count": In(range(features + 1)),
            "last": In(1),
            "release": Out(1),
        }, features=features, width=width)

    @property
    def features(self) -> int:
        return self._parameters["features"]

    @property
    def width(self) -> int:
        return self._parameters["width"]


class SequenceReadSignature(_ParameterizedSignature):
    """Sequencer to sequence buffer (bidirectional cores): read a whole input sequence, then release it.

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
    index : Out(range(steps * features))
        Element ``t * I + j`` of the read slot's sequence to read.
    data : In(signed(width))
        The element at ``index`` of one cycle earlier.
    full : In(1)
        The read slot holds a whole sequence.
    length : In(range(steps + 1))
        Its timesteps (valid with ``full``).
    release : Out(1)
        Every step has read the slot: the buffer moves to its other slot.

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
        super().__init__({
            "index": Out(range(steps * features)),
            "data": In(signed(width)),
            "full": In(1),
            "length": In(range(steps + 1)),
            "release": Out(1),
        }, features=features, width=width, steps=steps)

    @property
    def features(self) -> int:
        return self._parameters["features"]

    @property
    def width(self) -> int:
        return self._parameters["width"]

    @property
    def steps(self) -> int:
        return self._parameters["steps"]


class WrittenSignature(_ParameterizedSignature):
    """Elementwise unit to sequencer: which ``h`` the state memory holds now.

    Parameters
    ----------
    layers : int
        Layers of the model (``L``).
    hidden : int
        Hidden units per layer (``H``), or the elements of the reported vector (the Jordan cell's
        ``y``: ``O``).

    Members
    -------
    valid : Out(1)
        An ``h[unit]`` (or ``r*h[unit]``, ``y[unit]``) was written this cycle.
    layer : Out(range(max(layers, 2)))
    gen : Out(2)
        The step generation it belongs to (a layer's steps, modulo 4).
    count : Out(range(hidden + 1))
        ``unit + 1``: units ``0 .. count-1`` of that generation are readable from the next cycle.

    Raises
    ------
    TypeError
        If ``layers`` or ``hidden`` is not an integer.
    ValueError
        If ``layers`` or ``hidden`` is less than 1.
    """

    def __init__(self, *, layers: int, hidden: int):
        check_positive("layers", layers)
        check_positive("hidden", hidden)
        super().__init__({
            "valid": Out(1),
            "layer": Out(range(max(layers, 2))),
            "gen": Out(2),
            "count": Out(range(hidden + 1)),
        }, layers=layers, hidden=hidden)

    @property
    def layers(self) -> int:
        return self._parameters["layers"]

    @property
    def hidden(self) -> int:
        return self._parameters["hidden"]


class ReservationSignature(_ParameterizedSignature):
    """Output buffer to sequencer: places of the output buffer coming free.

    The sequencer reserves a whole output vector of places before a job that emits one; each element
    leaving the buffer returns one place, so nothing upstream of the buffer ever has to wait.

    Members
    -------
    pop : Out(1)
        An element left the output buffer this cycle.
    """

    def __init__(self):
        super().__init__({"pop": Out(1)})


class WeightAccessSignature(_ParameterizedSignature):
    """Register file to lanes (runtime weights): writes and reads of the weight and bias memories.

    Parameters
    ----------
    lanes : int
        P, the lanes.
    depth : int
        Words of the deepest memory.

    Members
    -------
    region : Out(range(len(WINDOW_REGIONS)))
        Index into :data:`rnnhw.spec.registers.WINDOW_REGIONS`: which memory of each lane.
    lane, addr : Out
        The lane and the word in its memory.
    w_en, w_data : Out(1), Out(32)
        A write stores the low bits of ``w_data`` at word ``addr``.
    r_en : Out(1)
        While high, the memories' read ports take ``addr``.
    r_data : In(32)
        Two cycles after ``r_en``: that word (from a register behind the read port), extended to 32
        bits (signed memories sign-extended), for one cycle.

    Raises
    ------
    TypeError
        If ``lanes`` or ``depth`` is not an integer.
    ValueError
        If ``lanes`` or ``depth`` is less than 1.
    """

    def __init__(self, *, lanes: int, depth: int):
        check_positive("lanes", lanes)
        check_positive("depth", depth)
        super().__init__({
            "region": Out(range(len(WINDOW_REGIONS))), "lane": Out(range(max(lanes, 2))),
            "addr": Out(range(max(depth, 2))), "w_en": Out(1), "w_data": Out(32), "r_en": Out(1),
            "r_data": In(32),
        }, lanes=lanes, depth=depth)

    @property
    def lanes(self) -> int:
        return self._parameters["lanes"]

    @property
    def depth(self) -> int:
        return self._parameters["depth"]


class RefundSignature(_ParameterizedSignature):
    """CTC decoder to sequencer: reserved output places a head vector did not use.

    The sequencer reserves the most places a head vector can need; the decoder returns the rest once
    it knows how many labels the vector sends.

    Parameters
    ----------
    most : int
        Places reserved per vector.

    Members
    -------
    count : Out(range(most + 1))
        Places returned this cycle.

    Raises
    ------
    TypeError
        If ``most`` is not an integer.
    ValueError
        If ``most`` is less than 1.
    """

    def __init__(self, *, most: int):
        check_positive("most", most)
        super().__init__({"count": Out(range(most + 1))}, most=most)

    @property
    def most(self) -> int:
        return self._parameters["most"]


def state_read_signature(*, depth: int, shape) -> ReadPort.Signature:
    """A read port of a state memory of ``depth`` words of ``shape`` (as the memory sees it)."""
    check_positive("depth", depth)
    return ReadPort.Signature(addr_width=ceil_log2(depth), shape=Shape.cast(shape))


def state_write_signature(*, depth: int, shape) -> WritePort.Signature:
    """The write port of a state memory of ``depth`` words of ``shape`` (as the memory sees it)."""
    check_positive("depth", depth)
    return WritePort.Signature(addr_width=ceil_log2(depth), shape=Shape.cast(shape))

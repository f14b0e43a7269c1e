"""The accelerator's top level, ``RNNAccelerator``, and Verilog generation."""

from __future__ import annotations

from amaranth.back import verilog
from amaranth.hdl import Module, ResetInserter, signed
from amaranth.lib import wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from rnnhw.spec.config import Config
from rnnhw.spec.datapath import datapath
from rnnhw.spec.design import lane_parameters, memory_sizes, output_places, ports
from rnnhw.spec.schedule import Schedule
from rnnhw.spec.weights import QuantizedWeights

from .buffers import InputBuffer, OutputBuffer, SequenceBuffer, StreamInputBuffers
from .checks import check_type
from .conversion import SumConverter
from .csr import ControlRegisters
from .ctc import CTCDecoder
from .elementwise import ElementwiseUnit
from .fixed import format_shape
from .layouts import design_layouts
from .matvec import MatVecUnit, lane_arguments
from .pipeline import UNCHECKED_COLLISIONS
from .sequencer import Sequencer

__all__ = ["RNNAccelerator", "generate_verilog"]


class RNNAccelerator(wiring.Component):
    """A fixed-point LSTM / GRU / Elman / Jordan accelerator with AXI-Stream input and output.

    Its components and their connections (``docs/architecture.md``; signatures in
    :mod:`rtl.interfaces`)::

        s_axis -> InputBuffer.input       InputBuffer.read <- Sequencer.input
        Sequencer.issue -> MatVecUnit.issue                   Sequencer.state -> state memory (read)
        MatVecUnit.sums -> SumConverter.sums
        SumConverter.gates -> ElementwiseUnit.items           ElementwiseUnit.h_write/h_read -> state memory
        ElementwiseUnit.written -> Sequencer.written
        ElementwiseUnit.reset_written (GRU reset before) / output_written (Jordan) -> Sequencer
        SumConverter.head (with a head) or ElementwiseUnit.output -> OutputBuffer.input
        with CTC: SumConverter.head -> CTCDecoder.logits, CTCDecoder.labels -> OutputBuffer.input,
                  CTCDecoder.refund -> Sequencer.refund
        OutputBuffer.output -> m_axis     OutputBuffer.reservation -> Sequencer.reservation

    Parameters
    ----------
    config : Config
    weights : QuantizedWeights or None
        Baked into the lanes' weight memories; ``None`` for ``hardware.weights = "runtime"``, whose
        memories start at zero and are written through the AXI4-Lite slave.

    Members
    -------
    s_axis_tdata : In(signed(input.width))
        Input elements (the input format's integers): ``I`` per timestep, timesteps in order.
    s_axis_tvalid, s_axis_tlast : In(1)
        ``tlast`` on the last element of a sequence's last timestep.
    s_axis_tready : Out(1)
    m_axis_tdata : Out(signed(output width))
        Output elements; ``head`` per sequence, or ``H`` (``head``) per timestep (``return_sequences``),
        or the final ``H`` per sequence (the Jordan cell: ``O``, its ``y``, instead of ``H``); with CTC
        decoding, each sequence's labels (``spec/ctc.py``).
    m_axis_tvalid, m_axis_tlast : Out(1)
        ``tlast`` on the last element of each output vector (CTC: of each sequence's labels).
    m_axis_tready : In(1)
    s_axis_tid, m_axis_tid : In / Out(ceil(log2 K))
        ``hardware.interleave = K > 1`` only: the stream of each input and output element
        (:class:`rnnhw.rtl.buffers.StreamInputBuffers`; ``docs/architecture.md``, Interleaved sequences).
    sequence_overflow : Out(1)
        Bidirectional cores only: sticky, a sequence longer than ``hardware.max_sequence_length`` was
        dropped (no output for it) since reset (:class:`rnnhw.rtl.buffers.SequenceBuffer`).
    s_axil_* : the AXI4-Lite slave of :class:`rnnhw.rtl.csr.ControlRegisters`, for runtime weights only.

    The ``sync`` domain's ``clk`` and synchronous, active-high ``rst`` complete the ports
    (:func:`rnnhw.spec.design.ports`). The state is zero at the start of every sequence.

    Latency
    -------
    Cycles per timestep: :meth:`rnnhw.spec.schedule.Schedule.cycles_per_step` (see
    ``docs/architecture.md``); inputs and outputs may stall at any time without loss. A bidirectional
    core starts a sequence once all of it is in: :meth:`~rnnhw.spec.schedule.Schedule.sequence_cycles`.

    Raises
    ------
    TypeError
        If ``config`` is not a ``Config``, ``weights`` not ``QuantizedWeights`` (``rom``), or not
        ``None`` (``runtime``).
    ValueError
        If ``weights`` has a different number of layers than ``config``.
    """

    def __init__(self, *, config: Config, weights: QuantizedWeights | None):
        check_type("config", config, Config, "a Config")
        if config.hardware.weights == "runtime":
            if weights is not None:
                raise TypeError('a core with hardware.weights = "runtime" is built without weights (weights=None); '
                                "they are written through its AXI4-Lite slave")
        else:
            check_type("weights", weights, QuantizedWeights, "QuantizedWeights")
            if len(weights.layers) != config.model.num_layers:
                raise ValueError(f"weights must have model.num_layers = {config.model.num_layers} layer(s), "
                                 f"not {len(weights.layers)}")
        self._config, self._weights = config, weights
        members = {}
        for port in ports(config):
            if port.name in ("clk", "rst"):  # the sync domain's
                continue
            shape = signed(port.width) if port.signed else port.width
            members[port.name] = In(shape) if port.direction == "input" else Out(shape)
        super().__init__(members)

    @property
    def config(self):
        return self._config

    @property
    def weights(self):
        return self._weights

    @property
    def schedule(self):
        return Schedule(self._config)

    def elaborate(self, platform):
        m = Module()
        config, sch = self.config, self.schedule
        model, n = config.model, config.numerics
        lanes, memories, layouts = lane_parameters(config), memory_sizes(config), design_layouts(config)

        if model.bidirectional:  # whole sequences: the backward direction starts at the last step
            m.submodules.inputs = inputs = SequenceBuffer(features=model.input_size, width=n.input.width,
                                                          steps=config.hardware.max_sequence_length)
            m.d.comb += self.sequence_overflow.eq(inputs.overflow)
        elif sch.streams > 1:  # interleaved sequences: one input buffer per stream
            m.submodules.inputs = inputs = StreamInputBuffers(features=model.input_size, width=n.input.width,
                                                              streams=sch.streams)
        else:
            m.submodules.inputs = inputs = InputBuffer(features=model.input_size, width=n.input.width)
        m.submodules.sequencer = sequencer = Sequencer(
            schedule=sch, issue_shape=layouts.issue, output_depth=memories.output_fifo_depth)
        runtime = config.hardware.weights == "runtime"
        if runtime:  # zero until the host writes them
            weight_images = [[0] * sch.weight_depth for _ in range(sch.lanes)]
            bias_images = [[(0, 0, 0)] * sch.bias_depth for _ in range(sch.lanes)]
        else:
            weight_images, bias_images = sch.weight_images(self.weights), sch.bias_images(self.weights)
        m.submodules.matvec = matvec = MatVecUnit(
            weight_images=weight_images, bias_images=bias_images, writable=runtime,
            **lane_arguments(lanes), issue_shape=layouts.issue, sum_shape=layouts.sums)
        m.submodules.converter = converter = SumConverter(
            acc_frac=lanes.acc_frac, accum=n.accum, output=n.output, rounding=n.rounding, overflow=n.overflow,
            head_size=model.head, sum_shape=layouts.sums, item_shape=layouts.gate_items, sequence_end=model.ctc)
        m.submodules.elementwise = elementwise = ElementwiseUnit(
            datapath=datapath(config), item_shape=layouts.gate_items, state_depth=memories.state_depth)
        m.submodules.output = output = OutputBuffer(
            element=layouts.output_element, depth=memories.output_fifo_depth)
        # State memory: h of every layer, two banks (this step's and the previous step's); bidirectional:
        # the sequence memory of [h_fwd_t ; h_bwd_t] rows.
        # A unit is readable a cycle after its write (``written`` comes with the write, the readiness one
        # register later), and the GRU's h read is of the other bank: no used read meets its write.
        m.submodules.state = state = Memory(shape=format_shape(n.state), depth=memories.state_depth, init=[],
                                            attrs=UNCHECKED_COLLISIONS)

        wiring.connect(m, sequencer.input, inputs.read)
        wiring.connect(m, sequencer.issue, matvec.issue)
        wiring.connect(m, sequencer.state, state.read_port())
        wiring.connect(m, matvec.sums, converter.sums)
        wiring.connect(m, converter.gates, elementwise.items)
        wiring.connect(m, elementwise.h_write, state.write_port())
        if model.cell == "gru":
            wiring.connect(m, elementwise.h_read, state.read_port())
        wiring.connect(m, elementwise.written, sequencer.written)
        if model.reset_before:
            wiring.connect(m, elementwise.reset_written, sequencer.reset_written)
        if model.jordan:
            wiring.connect(m, elementwise.output_written, sequencer.output_written)
        if model.ctc:  # the head's logits are decoded into labels on their way out
            m.submodules.decoder = decoder = CTCDecoder(classes=model.head, blank=model.ctc_blank,
                                                        logit_format=n.output)
            wiring.connect(m, converter.head, decoder.logits)
            wiring.connect(m, decoder.labels, output.input)
            wiring.connect(m, decoder.refund, sequencer.refund)
        elif model.bidirectional and not model.head:  # the sequencer reads the output vectors out
            wiring.connect(m, sequencer.output, output.input)
        else:
            wiring.connect(m, converter.head if model.head else elementwise.output, output.input)
        wiring.connect(m, output.reservation, sequencer.reservation)
        if sch.streams > 1:
            self._stream_ids(m, sequencer, inputs, output)

        m.d.comb += [
            inputs.input.valid.eq(self.s_axis_tvalid),
            inputs.input.p.data.eq(self.s_axis_tdata),
            inputs.input.p.last.eq(self.s_axis_tlast),
            self.s_axis_tready.eq(inputs.input.ready),
            self.m_axis_tvalid.eq(output.output.valid),
            self.m_axis_tdata.eq(output.output.p.data),
            self.m_axis_tlast.eq(output.output.p.last),
            output.output.ready.eq(self.m_axis_tready),
        ]
        if runtime:
            return self._with_registers(m, matvec)
        return m

    def _stream_ids(self, m, sequencer, inputs, output):
        """Interleaved streams: ``s_axis_tid`` picks the input buffer; each output vector's stream, noted
        when the sequencer reserves its places (vectors leave in that order), goes out on ``m_axis_tid``."""
        vectors = memory_sizes(self.config).output_fifo_depth // output_places(self.config) + 1
        m.submodules.output_tids = tids = SyncFIFOBuffered(width=len(self.m_axis_tid), depth=vectors)
        m.d.comb += [
            inputs.stream.eq(sequencer.stream),
            inputs.input.p.tid.eq(self.s_axis_tid),
            tids.w_en.eq(sequencer.output_tid.valid), tids.w_data.eq(sequencer.output_tid.payload),
            self.m_axis_tid.eq(tids.r_data),
            tids.r_en.eq(self.m_axis_tvalid & self.m_axis_tready & self.m_axis_tlast),
        ]

    def _with_registers(self, core, matvec):
        """The AXI4-Lite register file beside the datapath ``core``, which its soft reset resets."""
        m = Module()
        m.submodules.csr = csr = ControlRegisters(config=self.config)
        m.submodules.core = ResetInserter({"sync": csr.soft_reset})(core)
        for name, member in csr.bus.signature.members.items():
            port, inner = getattr(self, f"s_axil_{name}"), getattr(csr.bus, name)
            m.d.comb += inner.eq(port) if member.flow == In else port.eq(inner)
        wiring.connect(m, csr.weight_access, matvec.weight_access)
        m.d.comb += [
            csr.input_beat.eq(self.s_axis_tvalid & self.s_axis_tready),
            csr.input_last.eq(self.s_axis_tlast),
            csr.output_vector.eq(self.m_axis_tvalid & self.m_axis_tready & self.m_axis_tlast),
        ]
        return m


#: Verilator ``-Wall`` warnings waived in the generated file, and why. They are properties of the
#: netlist style of Yosys's Verilog backend (which Amaranth uses), not of the design.
LINT_WAIVERS = {
    "DECLFILENAME": "every module of the design is in this one file",
    "WIDTHEXPAND": "operands rely on Verilog's context-determined extension (widths checked by Amaranth)",
    "WIDTHTRUNC": "assignments rely on Verilog's truncation (widths checked by Amaranth)",
    "UNUSEDSIGNAL": "fields of packed structures that a component does not read",
    "CASEINCOMPLETE": "case statements that follow a default assignment",
    "PROCASSINIT": "registers with an initial (reset) value assigned in always blocks",
}


def generate_verilog(config: Config, weights: QuantizedWeights | None, *, name: str = "rnnhw_top") -> str:
    """Verilog of the accelerator: deterministic (no source paths or timestamps inside).

    ``weights`` is ``None`` for ``hardware.weights = "runtime"``.
    """
    top = RNNAccelerator(config=config, weights=weights)
    body = verilog.convert(top, name=name, emit_src=False, strip_internal_attrs=True)
    header = [f"// {name}: fixed-point {config.model.cell} accelerator generated by rnnhw.",
              "// Lint waivers (for Verilator -Wall), all for the netlist style of the Yosys Verilog backend:"]
    for warning, why in LINT_WAIVERS.items():
        header.append(f"/* verilator lint_off {warning} */  // {why}")
    return "\n".join(header) + "\n" + body

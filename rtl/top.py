"""The accelerator's top level, ``RNNAccelerator``, and Verilog generation."""

from __future__ import annotations

from amaranth.back import verilog
from amaranth.hdl import Module, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from rnnhw.spec.config import Config
from rnnhw.spec.datapath import datapath
from rnnhw.spec.design import lane_parameters, memory_sizes, ports
from rnnhw.spec.schedule import Schedule
from rnnhw.spec.weights import QuantizedWeights

from .buffers import InputBuffer
from .elementwise import ElementwiseUnit
from .fixed import convert, format_shape
from .layouts import issue_layout, item_layout, job_layout
from .matvec import MatVecUnit
from .sequencer import OperandSource, Sequencer

__all__ = ["RNNAccelerator", "generate_verilog"]


class RNNAccelerator(wiring.Component):
    """A fixed-point LSTM / GRU / Elman / Jordan accelerator with AXI-Stream input and output.

    Parameters
    ----------
    config : Config
    weights : QuantizedWeights
        Baked into the lanes' weight memories.

    Members
    -------
    s_axis_tdata : In(signed(input.width))
        Input elements (the input format's integers): ``I`` per timestep, timesteps in order.
    s_axis_tvalid, s_axis_tlast : In(1)
        ``tlast`` on the last element of a sequence's last timestep.
    s_axis_tready : Out(1)
    m_axis_tdata : Out(signed(output width))
        Output elements; ``head`` per sequence, or ``H`` per timestep (``return_sequences``), or the
        final ``H`` per sequence.
    m_axis_tvalid, m_axis_tlast : Out(1)
        ``tlast`` on the last element of each output vector.
    m_axis_tready : In(1)

    The ``sync`` domain's ``clk`` and synchronous, active-high ``rst`` complete the ports. The
    state is zero at the start of every sequence. Cycles per timestep: see ``docs/architecture.md``.
    """

    def __init__(self, *, config: Config, weights: QuantizedWeights):
        if not isinstance(config, Config):
            raise TypeError(f"config must be a Config, not {config!r}")
        if not isinstance(weights, QuantizedWeights) or len(weights.layers) != config.model.num_layers:
            raise TypeError(f"weights must be QuantizedWeights for {config.model.num_layers} layer(s), "
                            f"not {weights!r}")
        self.config, self.weights = config, weights
        self.schedule = Schedule(config)
        members = {}
        for port in ports(config):
            if port.name in ("clk", "rst"):  # the sync domain's
                continue
            shape = signed(port.width) if port.signed else port.width
            members[port.name] = In(shape) if port.direction == "input" else Out(shape)
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        config, sch, dp = self.config, self.schedule, datapath(self.config)
        model, n = config.model, config.numerics
        hidden, layers = model.hidden_size, model.num_layers
        lanes, memories = lane_parameters(config), memory_sizes(config)
        acc_frac, acc_width = lanes.acc_frac, lanes.acc_width
        units = max(hidden, model.head, model.output_size)
        job = job_layout(layers=layers, lanes=sch.lanes, units=units, gates=model.gates)
        issue = issue_layout(job=job, weight_depth=sch.weight_depth, bias_depth=sch.bias_depth)
        raw_item = item_layout(job=job, value_width=acc_width, units=units, gates=model.gates)
        gate_item = item_layout(job=job, value_width=n.accum.width, units=units, gates=model.gates)
        state_depth = memories.state_depth

        m.submodules.inputs = inputs = InputBuffer(features=model.input_size, width=n.input.width)
        m.d.comb += [
            inputs.input.valid.eq(self.s_axis_tvalid),
            inputs.input.p.data.eq(self.s_axis_tdata),
            inputs.input.p.last.eq(self.s_axis_tlast),
            self.s_axis_tready.eq(inputs.input.ready),
        ]

        weights = self.weights
        m.submodules.matvec = matvec = MatVecUnit(
            weight_images=sch.weight_images(weights), bias_images=sch.bias_images(weights),
            weight_width=lanes.weight_width, bias_width=lanes.bias_width,
            operand_width=lanes.operand_width, acc_width=acc_width,
            product_shift_input=lanes.product_shift_input, product_shift_state=lanes.product_shift_state,
            bias_shift=lanes.bias_shift, gates=lanes.gates, split_rows=lanes.split_rows,
            issue_shape=issue, item_shape=raw_item)
        m.submodules.elementwise = elementwise = ElementwiseUnit(
            datapath=dp, item_shape=gate_item, state_depth=state_depth)
        output_written = {"output_written_shape": elementwise.output_written.shape()} if model.jordan else {}
        m.submodules.sequencer = sequencer = Sequencer(
            schedule=sch, issue_shape=issue, written_shape=elementwise.written.shape(),
            state_depth=state_depth, output_depth=memories.output_fifo_depth, **output_written)

        # State memory: h of every layer, two banks (this step's and the previous step's).
        m.submodules.state = state = Memory(shape=format_shape(n.state), depth=state_depth, init=[])
        operand_port = state.read_port()
        write_port = state.write_port()
        m.d.comb += [
            write_port.addr.eq(elementwise.h_write.addr),
            write_port.data.eq(elementwise.h_write.data),
            write_port.en.eq(elementwise.h_write.en),
        ]
        if model.cell == "gru":
            previous_port = state.read_port()
            m.d.comb += [previous_port.addr.eq(elementwise.h_read_addr),
                         elementwise.h_read_data.eq(previous_port.data)]
        if model.reset_before:
            m.d.comb += sequencer.reset_written.eq(elementwise.reset_written)
        if model.jordan:
            m.d.comb += sequencer.output_written.eq(elementwise.output_written)

        # Issue: sequencer -> lanes; operands arrive one cycle later from the input buffer or state.
        m.d.comb += [
            matvec.issue.eq(sequencer.issue),
            sequencer.can_finish.eq(matvec.can_finish),
            inputs.read_index.eq(sequencer.input_index),
            operand_port.addr.eq(sequencer.state_addr),
            inputs.release.eq(sequencer.input_release),
            sequencer.input_count.eq(inputs.count),
            sequencer.input_last.eq(inputs.last),
            sequencer.written.eq(elementwise.written),
        ]
        with m.Switch(sequencer.source):
            with m.Case(OperandSource.INPUT):
                m.d.comb += matvec.operand.eq(inputs.read_data)
            with m.Case(OperandSource.STATE):
                m.d.comb += matvec.operand.eq(operand_port.data)
            with m.Default():
                m.d.comb += matvec.operand.eq(0)

        # Lanes' exact sums -> gate pre-activations (accum format) or head outputs (output format).
        raw = matvec.items
        to_gates = Signal(gate_item)
        to_gates_valid = Signal()
        m.d.sync += [
            # The Jordan cell's head jobs are its output layers: their sums go to the elementwise unit too.
            to_gates_valid.eq(raw.valid & (~raw.p.job.head | model.jordan)),
            to_gates.value.eq(convert(raw.p.value, acc_frac, n.accum, n.rounding, n.overflow)),
            to_gates.part.eq(raw.p.part), to_gates.unit.eq(raw.p.unit), to_gates.gate.eq(raw.p.gate),
            to_gates.job.eq(raw.p.job),
        ]
        m.d.comb += [elementwise.items.valid.eq(to_gates_valid), elementwise.items.p.eq(to_gates)]

        out_fmt = config.output_format
        element = data.StructLayout({"data": format_shape(out_fmt), "last": 1})
        m.submodules.output = fifo = SyncFIFOBuffered(width=element.size, depth=memories.output_fifo_depth)
        push = Signal(element)
        push_valid = Signal()
        if model.head:
            m.d.sync += [
                push_valid.eq(raw.valid & raw.p.job.head),
                push.data.eq(convert(raw.p.value, acc_frac, n.output, n.rounding, n.overflow)),
                push.last.eq(raw.p.unit == model.head - 1),
            ]
        else:
            m.d.comb += [push_valid.eq(elementwise.output.valid), push.eq(elementwise.output.p)]
        popped = Signal(element)
        m.d.comb += [
            fifo.w_en.eq(push_valid), fifo.w_data.eq(push),
            popped.eq(fifo.r_data),
            self.m_axis_tvalid.eq(fifo.r_rdy), self.m_axis_tdata.eq(popped.data),
            self.m_axis_tlast.eq(popped.last),
            fifo.r_en.eq(self.m_axis_tready),
            sequencer.output_pop.eq(fifo.r_rdy & self.m_axis_tready),
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


def generate_verilog(config: Config, weights: QuantizedWeights, *, name: str = "rnnhw_top") -> str:
    """Verilog of the accelerator: deterministic (no source paths or timestamps inside)."""
    top = RNNAccelerator(config=config, weights=weights)
    body = verilog.convert(top, name=name, emit_src=False, strip_internal_attrs=True)
    header = [f"// {name}: fixed-point {config.model.cell} accelerator generated by rnnhw.",
              "// Lint waivers (for Verilator -Wall), all for the netlist style of the Yosys Verilog backend:"]
    for warning, why in LINT_WAIVERS.items():
        header.append(f"/* verilator lint_off {warning} */  // {why}")
    return "\n".join(header) + "\n" + body

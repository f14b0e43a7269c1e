"""What a generated design is, derived once from a configuration: ports, lane parameters, memories.

The top level's ports (:func:`ports`), the matrix-vector lanes' parameters (:func:`lane_parameters`)
and the memory sizes are defined here and only here; ``rtl.top`` builds its signature and its lanes
from them, ``NAME.json`` (:func:`design_summary`) and the integration README report them, and the
tests read them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from .config import Config
from .ctc import MOST_BEATS_PER_STEP, label_width
from .datapath import datapath, lane_accumulator
from .packing import packs_lane_pairs
from .registers import axil_ports
from .schedule import Schedule, bound_cycles_per_step, macs_per_step

__all__ = ["Port", "ports", "stream_id_width", "output_places", "LaneParameters", "lane_parameters",
           "packs_lane_pairs", "MemorySizes", "memory_sizes", "design_summary"]


@dataclass(frozen=True)
class Port:
    """One top-level port. ``signed`` data ports carry two's complement fixed-point integers."""

    name: str
    direction: str  # "input" | "output"
    width: int
    meaning: str
    signed: bool = False

    def to_dict(self) -> dict:
        return {"name": self.name, "direction": self.direction, "width": self.width, "meaning": self.meaning}


def ports(config: Config) -> tuple[Port, ...]:
    """The top level's ports in declaration order (``clk`` and ``rst`` are the ``sync`` domain's)."""
    n = config.numerics
    out = config.output_format
    control = ()
    overflow = (Port("sequence_overflow", "output", 1, "sticky: a sequence longer than hardware.max_sequence_length "
                     f"({config.hardware.max_sequence_length}) was dropped without output; cleared by rst"),
                ) if config.model.bidirectional else ()
    streams = config.hardware.interleave
    tid_in = tid_out = ()
    if streams > 1:  # interleaved sequences: each beat names its stream
        width = stream_id_width(streams)
        tid_in = (Port("s_axis_tid", "input", width, f"stream (0 to {streams - 1}) of the input element"),)
        tid_out = (Port("m_axis_tid", "output", width, f"stream (0 to {streams - 1}) of the output element"),)
    if config.hardware.weights == "runtime":  # the AXI4-Lite slave (spec/registers.py)
        control = tuple(Port(name, direction, width, meaning) for name, direction, width, meaning in axil_ports(config))
    return (
        Port("clk", "input", 1, "clock (rising edge)"),
        Port("rst", "input", 1, "synchronous reset, active high"),
        Port("s_axis_tdata", "input", n.input.width, f"input element, {n.input} two's complement", signed=True),
        Port("s_axis_tvalid", "input", 1, "input element valid"),
        Port("s_axis_tready", "output", 1, "input element accepted"),
        Port("s_axis_tlast", "input", 1, "last element of a sequence (with element I-1 of its last timestep)"),
        *tid_in,
        Port("m_axis_tdata", "output", label_width(config.model.head), "decoded CTC label, two's complement "
             "(-1: the sequence decoded to nothing)", signed=True) if config.model.ctc else
        Port("m_axis_tdata", "output", out.width, f"output element, {out} two's complement", signed=True),
        Port("m_axis_tvalid", "output", 1, "output element valid"),
        Port("m_axis_tready", "input", 1, "output element accepted"),
        Port("m_axis_tlast", "output", 1, "last label of a sequence" if config.model.ctc else
             "last element of an output vector"),
        *tid_out,
    ) + overflow + control


def stream_id_width(streams: int) -> int:
    """Bits of ``s_axis_tid`` / ``m_axis_tid`` for ``streams`` interleaved sequences (at least one)."""
    return max(1, (streams - 1).bit_length())


def output_places(config: Config) -> int:
    """Output buffer places the sequencer reserves per output vector: its elements, or with CTC
    decoding the most labels one step can send."""
    return MOST_BEATS_PER_STEP if config.model.ctc else config.model.output_vector


@dataclass(frozen=True)
class LaneParameters:
    """Parameters of the P multiply-accumulate lanes (``rtl.matvec.MatVecUnit``).

    All matrix-vector products share one exact accumulator fixed point (``acc_frac`` fractional bits,
    ``acc_width`` bits); products and biases are shifted left to it before they are added.
    """

    lanes: int
    weight_width: int
    bias_width: int
    operand_width: int
    acc_width: int
    acc_frac: int
    product_shift_input: int
    product_shift_state: int
    bias_shift: int
    gates: int  # gates per unit in a pass over h (the reset-before GRU: r and z; its n rows are passes apart)
    split_rows: bool  # reset-after GRU: the n rows keep W_in x + b_in apart from W_hn h + b_hn
    broadcast_fanout: int  # lanes one register of the broadcast tree drives (spec/latency.py)
    packed_pairs: bool = False  # two lanes per multiplier (spec/packing.py)


def lane_parameters(config: Config) -> LaneParameters:
    n = config.numerics
    acc_frac, acc_width = lane_accumulator(datapath(config))
    return LaneParameters(
        lanes=config.hardware.lanes, weight_width=n.weight.width, bias_width=n.bias.width,
        operand_width=max(n.input.width, n.state.width), acc_width=acc_width, acc_frac=acc_frac,
        product_shift_input=acc_frac - n.weight.frac_bits - n.input.frac_bits,
        product_shift_state=acc_frac - n.weight.frac_bits - n.state.frac_bits,
        bias_shift=acc_frac - n.bias.frac_bits, gates=2 if config.model.reset_before else config.model.gates,
        split_rows=Schedule(config).split_rows, packed_pairs=packs_lane_pairs(config),
        broadcast_fanout=config.hardware.broadcast_fanout)


@dataclass(frozen=True)
class MemorySizes:
    """Depths and word widths of the design's memories."""

    weight_words_per_lane: int
    weight_word_bits: int
    bias_words_per_lane: int
    bias_word_bits: int
    bias_values_per_word: int  # GRU: the n rows' second bias b_hn rides along
    state_depth: int  # h of every layer, two banks (this step's and the previous step's); GRU reset before: r*h;
    # bidirectional: the sequence memory, max_sequence_length rows [h_fwd; h_bwd] per bank (one or two banks)
    state_word_bits: int
    sequence_buffer_words: int  # bidirectional: two whole input sequences (max_sequence_length * I each); else 2*I
    # per interleaved stream
    input_word_bits: int
    output_fifo_depth: int  # two output vectors (two steps' labels with CTC)

    @property
    def weight_bits(self) -> int:
        return self.weight_words_per_lane * self.weight_word_bits

    @property
    def bias_bits(self) -> int:
        return self.bias_words_per_lane * self.bias_word_bits * self.bias_values_per_word

    @property
    def state_bits(self) -> int:
        return self.state_depth * self.state_word_bits

    @property
    def input_bits(self) -> int:
        return self.sequence_buffer_words * self.input_word_bits


def memory_sizes(config: Config) -> MemorySizes:
    n, sch = config.numerics, Schedule(config)
    return MemorySizes(
        weight_words_per_lane=sch.weight_depth, weight_word_bits=n.weight.width,
        bias_words_per_lane=sch.bias_depth, bias_word_bits=n.bias.width,
        bias_values_per_word=2 if sch.split_rows else 1,
        state_depth=sch.state_depth, state_word_bits=n.state.width,
        sequence_buffer_words=2 * config.model.input_size * (config.hardware.max_sequence_length
                                                               if config.model.bidirectional
                                                               else config.hardware.interleave),
        input_word_bits=n.input.width, output_fifo_depth=2 * output_places(config))


def design_summary(config: Config, name: str) -> dict:
    """Everything ``NAME.json`` reports about a design (see ``docs/architecture.md``)."""
    model, n, sch = config.model, config.numerics, Schedule(config)
    dp, lanes, memories = datapath(config), lane_parameters(config), memory_sizes(config)
    tables = {}
    for function in ("sigmoid", "tanh"):
        table = dp.table(function)
        tables[function] = {"entries": table.size, "stored_words": len(table.entries),
                            "range": 2**table.range_log2, "interpolate": table.interpolate,
                            "format": str(table.out_fmt)}
    reset = {"reset_passes_per_layer": sch.reset_passes} if model.reset_before else {}
    if model.bidirectional:  # layer-major over whole sequences: cycles per sequence of T steps
        steps = config.hardware.max_sequence_length
        reset["bidirectional"] = {
            "max_sequence_length": steps, "input_buffer_bits": memories.input_bits,
            "cycles_per_sequence_of_max_length": sch.sequence_cycles(steps),
            "overhead_cycles_per_sequence": sch.sequence_overhead()}
    if config.hardware.interleave > 1:  # cycles per timestep count the steps of all streams
        reset["interleave"] = {"streams": config.hardware.interleave,
                               "cycles_per_step_one_stream": sch.cycles_per_step(1)}
    return {
        "name": name,
        "config": config.to_dict(),
        "lanes": lanes.lanes,
        "macs_per_step": model.directions * sum(macs_per_step(config, k) for k in range(model.num_layers)),
        "bound_cycles_per_step": bound_cycles_per_step(config),
        "expected_cycles_per_step": sch.cycles_per_step(),
        "passes_per_layer": sch.passes,
        **reset,
        "head_cycles_per_sequence": sch.head_passes * sch.head_operands if model.head else 0,
        "accumulator": {"width": lanes.acc_width, "frac_bits": lanes.acc_frac},
        "lane_parameters": asdict(lanes),
        "weight_memory": {"words_per_lane": memories.weight_words_per_lane, "word_bits": memories.weight_word_bits,
                          "bits": memories.weight_bits * lanes.lanes},
        "bias_memory_bits": memories.bias_bits * lanes.lanes,
        "state_memory_bits": memories.state_bits,
        "tables": tables,
        "input_format": str(n.input),
        "output_format": str(config.output_format),
        "output_vector": model.output_vector,
        "ports": [port.to_dict() for port in ports(config)],
    }

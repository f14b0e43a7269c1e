"""The text report ``rnnhw check`` prints: resolved configuration, formats, widths, tables, schedule."""

from __future__ import annotations

from rnnhw.spec.config import Config, default_lanes_note
from rnnhw.spec.datapath import INT64_SAFE_BITS, datapath
from rnnhw.spec.fixed import FixedFormat, Overflow, Rounding, quantize
from rnnhw.spec.formatting import number, shape, value_range
from rnnhw.spec.latency import broadcast_groups, broadcast_levels
from rnnhw.spec.registers import address_width, weight_window
from rnnhw.spec.schedule import Schedule, bound_cycles_per_step, layer_bound_cycles, macs_per_step
from rnnhw.spec.weights import Weights, expected_shapes, quantize_weights

__all__ = ["describe_config", "describe_weights"]

ROUNDING_MEANING = {
    Rounding.TRN: "towards minus infinity (drop the bits)",
    Rounding.RND: "to nearest, halves towards plus infinity",
    Rounding.RND_CONV: "to nearest, halves to even (convergent)",
}
OVERFLOW_MEANING = {
    Overflow.SAT: "clamp to the nearest representable value",
    Overflow.WRAP: "keep the low bits (two's complement wrap-around)",
}
_FORMAT_ROLE = {
    "input": "inputs x_t",
    "weight": "W_ih, W_hh, head weight",
    "bias": "b_ih + b_hh, head bias",
    "state": "h_t (next layer's input)",
    "cell_state": "LSTM c_t",
    "accum": "gate pre-activations",
    "activation": "sigmoid/tanh outputs",
    "output": "head outputs",
}


def _format_row(key: str, fmt: FixedFormat) -> str:
    span = value_range(fmt)
    resolution = f"2^{-fmt.frac_bits} ({fmt.resolution:.6g})"
    return f"  {key:<11} {str(fmt):<13} {span:<30} {resolution:<20} {_FORMAT_ROLE[key]}"


def _numerics_lines(config: Config) -> list[str]:
    model, n = config.model, config.numerics
    lines = ["numerics", f"  {'format':<11} {'type':<13} {'range':<30} {'resolution':<20} holds"]
    for key in ("input", "weight", "bias", "state", "cell_state", "accum", "activation", "output"):
        unused = (key == "cell_state" and model.cell != "lstm") or (key == "output" and not model.head)
        if not unused:
            lines.append(_format_row(key, getattr(n, key)))
    lines.append(f"  rounding    {n.rounding.value}: {ROUNDING_MEANING[n.rounding]} (inputs and weights too)")
    lines.append(f"  overflow    {n.overflow.value}: {OVERFLOW_MEANING[n.overflow]} "
                 "(inputs and weights always saturate)")
    return lines


def _width_lines(config: Config) -> list[str]:
    dp, model = datapath(config), config.model
    lines = [f"derived widths (exact: no partial sum rounds; the golden model holds up to {INT64_SAFE_BITS} "
             "bits)"]
    matvecs = [(f"layer {k} accumulator", dp.gates_matvec(k)) for k in range(model.num_layers)]
    if model.head:
        matvecs.append(("head accumulator", dp.head_matvec))
    if model.jordan:
        matvecs.append(("output accumulator", dp.head_matvec))
    for name, matvec in matvecs:
        worst = number(matvec.bound * 2.0**-matvec.frac_bits)
        lines.append(f"  {name:<22} {matvec.bits:>2} bits, {matvec.frac_bits} fractional "
                     f"(fixed<{matvec.bits},{matvec.bits - matvec.frac_bits}>), worst case ±{worst}")
    # intermediate_bits() lists both cells' elementwise widths; show only this cell's.
    other_cells = [tag for tag, cell in (("LSTM ", "lstm"), ("GRU ", "gru")) if model.cell != cell]
    for name, bits in dp.intermediate_bits().items():
        if not name.endswith("accumulator") and not name.startswith(tuple(other_cells)):
            lines.append(f"  {name:<22} {bits:>2} bits")
    return lines


_TABLES = {"lstm": ("sigmoid", "tanh"), "gru": ("sigmoid", "tanh"), "rnn_tanh": ("tanh",), "rnn_relu": ()}


def tables_used(config: Config) -> tuple[str, ...]:
    """The activation tables a configuration's datapath reads."""
    model = config.model
    if model.jordan:
        used = {model.nonlinearity, model.output_activation} & {"sigmoid", "tanh"}
        return tuple(function for function in ("sigmoid", "tanh") if function in used)
    return _TABLES[model.cell]


def _table_lines(config: Config) -> list[str]:
    dp, n = datapath(config), config.numerics
    mode = "interpolated" if n.lut_interpolate else "plain"
    lines = [f"activation tables ({n.lut_size} entries, {mode})"]
    for function in tables_used(config):
        table = dp.table(function)
        r = 2**table.range_log2
        lines.append(f"  {function:<8} covers [-{r}, {r}) in steps of 2^{table.step_log2}; "
                     f"{len(table.entries)} stored words of {table.out_fmt} (symmetry halves the table)")
    if not tables_used(config):
        lines.append("  none (rnn_relu uses max(a, 0))" if config.model.cell == "rnn_relu"
                     else "  none (relu uses max(a, 0), the identity nothing)")
    return lines


def _hardware_lines(config: Config) -> list[str]:
    model, lanes = config.model, config.hardware.lanes
    lines = [f"hardware: {lanes} lanes (P, multiply-accumulates per cycle)"]
    note = default_lanes_note(config)
    if note is not None:
        lines.append(f"  {note}")
    for k in range(model.num_layers):
        macs = macs_per_step(config, k)
        if model.jordan:
            formula = (f"H*(I+O) + O*H = {model.hidden_size}*({model.layer_input_size(k)}+{model.output_size}) + "
                       f"{model.output_size}*{model.hidden_size}")
        else:
            formula = (f"G*H*(I+H) = {model.gates}*{model.hidden_size}*"
                       f"({model.layer_input_size(k)}+{model.hidden_size})")
        lines.append(f"  layer {k}: {formula} = {macs:,} MACs per step{' per direction' * model.bidirectional}; "
                     f"schedule bound ceil({macs:,}/{lanes}) = {layer_bound_cycles(config, k):,} cycles per step")
    bound, expected = bound_cycles_per_step(config), Schedule(config).cycles_per_step()
    lines.append(f"  {'all layers' if model.num_layers > 1 else 'per step'}: bound {bound:,} cycles; "
                 f"expected {expected:,} cycles per step (schedule model), MAC utilization {bound / expected:.3f}")
    if model.jordan:
        sch = Schedule(config)
        lines.append(f"  Jordan: per layer {sch.passes} pass(es) over [x; y] for h, then {sch.head_passes} over h for "
                     "y = W_hy h (every step)")
    if model.reset_before:
        sch = Schedule(config)
        lines.append(f"  GRU reset before W_hn: per layer {sch.reset_passes} pass(es) over the r, z rows, then "
                     f"{sch.passes - sch.reset_passes} over the n rows reading r*h from the state memory "
                     f"({sch.passes} passes; {-(-sch.rows // lanes)} with the reset after)")
    if model.bidirectional:
        lines.append(f"  bidirectional: every layer runs forward and backward (from each sequence's last step), "
                     f"its output [h_fwd; h_bwd] of {model.layer_output_size}; sequences of up to "
                     f"hardware.max_sequence_length = {config.hardware.max_sequence_length} steps")
    if model.head:
        head_macs = model.head * model.layer_output_size
        when = "per step (return_sequences: the head at every step, in the expected cycles)" \
            if model.return_sequences else "per sequence"
        lines.append(f"  head: {model.head}*{model.layer_output_size} = {head_macs:,} MACs {when}")
        if model.ctc:
            lines.append(f"  CTC: greedy decoding in hardware, blank {model.ctc_blank}; outputs are label streams")
    if model.bidirectional:
        sch, steps = Schedule(config), config.hardware.max_sequence_length
        lines.append(f"  sequence walk: layer by layer, each step forward then backward on the shared lanes (the bound "
                     f"counts both directions); a sequence of T steps takes {sch.cycles_per_step():,}*T + "
                     f"{sch.sequence_overhead():,} cycles (layer waits, the outputs), {sch.sequence_cycles(steps):,} "
                     f"at T = {steps}; it starts once all of it is in")
    if config.hardware.interleave > 1:
        streams = config.hardware.interleave
        lines.append(f"  interleave: {streams} sequences walked round-robin (s_axis_tid / m_axis_tid), each with "
                     f"its own state; cycles per step count the timesteps of all streams (one stream alone: "
                     f"{Schedule(config).cycles_per_step(1):,})")
    levels = broadcast_levels(config.hardware)
    if levels:
        fanout = config.hardware.broadcast_fanout
        lines.append(f"  broadcast tree: {broadcast_groups(config.hardware)} groups of up to {fanout} lanes behind "
                     f"{levels} register level(s) (hardware.broadcast_fanout = {fanout}); a pass's sums leave "
                     f"{Schedule(config).drain_delay} cycles after its last step")
    if config.hardware.weights == "runtime":
        words = sum(region.lanes * region.depth for region in weight_window(config))
        lines.append(f"  weights: loaded at run time through AXI4-Lite ({address_width(config)}-bit addresses): "
                     f"{words:,} words of the weight window")
    return lines


def describe_config(config: Config) -> str:
    """The report ``rnnhw check`` prints for a valid configuration."""
    sections = [["# resolved configuration (defaults filled in)", config.to_toml().rstrip()],
                _numerics_lines(config), _width_lines(config), _table_lines(config), _hardware_lines(config)]
    return "\n\n".join("\n".join(lines) for lines in sections)


def describe_weights(weights: Weights, config: Config, source: str = "weights") -> str:
    """Each tensor's range and saturation count; warns (QuantizationWarning) if stored values saturate."""
    n = config.numerics
    tensors = weights.tensors()
    shapes = expected_shapes(config)
    width = max(14, *(len(name) for name in tensors))  # a bidirectional model's weight_ih_l0_reverse...
    lines = [f"weights {source}: {len(tensors)} tensors",
             f"  {'tensor':<{width}} {'shape':<12} {'format':<13} {'min':>12} {'max':>12}  saturated"]
    for name, values in tensors.items():
        fmt = n.bias if name.startswith("bias") or name == "head.bias" else n.weight
        _, saturated = quantize(values, fmt, n.rounding)
        lines.append(f"  {name:<{width}} {shape(shapes[name]):<12} {str(fmt):<13} {values.min():>12.6g} "
                     f"{values.max():>12.6g}  {saturated:,} of {values.size:,}")
    stored = quantize_weights(weights, config).saturated
    summary = "; ".join(f"{kind} values {count:,} of {size:,} saturated"
                        for kind, (count, size) in stored.items())
    lines.append(f"  as stored (b_ih + b_hh summed before quantizing): {summary}")
    return "\n".join(lines)

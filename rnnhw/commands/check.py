"""``rnnhw check CONFIG [--weights W]``: validate a configuration and show what its numerics mean.

Prints the resolved configuration (defaults filled in), every format's range and resolution, the
derived exact accumulator widths, the activation tables, and the schedule bound per layer. Warns
when ``numerics.accum`` cannot hold the worst-case pre-activation. With ``--weights``, also shows each
tensor's range and how many of its values saturate in its format.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from rnnhw.commands._options import add_config_argument
from rnnhw.config import Config, load_config
from rnnhw.formatting import number, shape, value_range
from rnnhw.golden.datapath import INT64_SAFE_BITS, MatVecShape, datapath
from rnnhw.golden.fixed import MAX_FORMAT_WIDTH, FixedFormat, Overflow, Rounding, quantize, shift_round
from rnnhw.rtl.schedule import macs_per_step
from rnnhw.weights import QuantizationWarning, Weights, expected_shapes, load_weights, quantize_weights

__all__ = ["register", "run", "describe_config", "describe_weights", "accumulator_warnings",
           "holds_worst_case", "schedule_bound"]

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


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "check",
        help="validate a configuration and print its numerics",
        description="Validate CONFIG and print the resolved configuration, every fixed-point format's range "
        "and resolution, the derived accumulator widths, the activation tables and the schedule bound "
        "per layer. Warns when numerics.accum is narrower than the worst-case pre-activation. Exit status "
        "0 if valid, 2 (one-line error) if not.",
    )
    add_config_argument(parser)
    parser.add_argument(
        "--weights",
        metavar="W",
        help="also validate this weights file (.npz, .pt or .pth with PyTorch names) against CONFIG and "
        "print each tensor's min/max and how many of its values saturate in its format",
    )
    parser.set_defaults(func=run)


def run(args) -> int:
    config = load_config(args.config)
    weights = load_weights(args.weights, config) if args.weights else None
    print(describe_config(config))
    for message in accumulator_warnings(config):
        warnings.warn(message, QuantizationWarning, stacklevel=1)
    if weights is not None:
        print()
        print(describe_weights(weights, config, source=args.weights))
    return 0


def _format_row(key: str, fmt: FixedFormat) -> str:
    span = value_range(fmt)
    resolution = f"2^{-fmt.frac_bits} ({fmt.resolution:.6g})"
    return f"  {key:<11} {str(fmt):<13} {span:<30} {resolution:<20} {_FORMAT_ROLE[key]}"


def schedule_bound(config: Config, layer: int) -> tuple[int, int]:
    """MACs of one timestep of ``layer``, ``G*H*(I+H)``, and the cycle bound ``ceil(MACs / lanes)``."""
    macs = macs_per_step(config, layer)
    return macs, math.ceil(macs / config.hardware.lanes)


def holds_worst_case(shape: MatVecShape, fmt: FixedFormat, rounding: Rounding) -> bool:
    """Whether ``fmt`` holds the exact sum's extremes ``±shape.bound`` once rounded to its fractional bits."""
    shift = shape.frac_bits - fmt.frac_bits
    if shift <= 0:  # an exact left shift, in Python ints (no overflow)
        low, high = -shape.bound << -shift, shape.bound << -shift
    else:
        low, high = (int(v) for v in shift_round(np.array([-shape.bound, shape.bound]), shift, rounding))
    return fmt.min_int <= low and high <= fmt.max_int


def _narrowest_holding(shape: MatVecShape, fmt: FixedFormat, rounding: Rounding) -> FixedFormat | None:
    """``fmt`` with the fewest extra integer bits that holds the worst case (at 48 bits, fewer fractional)."""
    for int_bits in range(fmt.int_bits + 1, MAX_FORMAT_WIDTH + 1):
        candidate = FixedFormat(min(int_bits + fmt.frac_bits, MAX_FORMAT_WIDTH), int_bits)
        if holds_worst_case(shape, candidate, rounding):
            return candidate
    return None


def accumulator_warnings(config: Config) -> list[str]:
    """One message per layer whose worst-case pre-activation does not fit ``numerics.accum``.

    The worst case is the exact accumulator bound (:attr:`MatVecShape.bound`: every weight, input,
    state and bias at full scale) rounded to ``accum``'s fractional bits as the datapath rounds it.
    """
    dp, n = datapath(config), config.numerics
    action = "saturate" if n.overflow is Overflow.SAT else "wrap around"
    messages = []
    for k in range(config.model.num_layers):
        shape = dp.gates_matvec(k)
        if holds_worst_case(shape, n.accum, n.rounding):
            continue
        wider = _narrowest_holding(shape, n.accum, n.rounding)
        fix = (f"use at least {wider.int_bits} integer bits, e.g. {wider}" if wider else
               f"no format of up to {MAX_FORMAT_WIDTH} bits can; use narrower weight, input or state formats")
        worst = number(shape.bound * 2.0**-shape.frac_bits)
        messages.append(
            f"numerics.accum = {n.accum} holds {value_range(n.accum)} but layer {k}'s pre-activations reach "
            f"±{worst} in the worst case (full-scale weights, inputs and state) and would {action}; {fix}"
        )
    return messages


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


def _table_lines(config: Config) -> list[str]:
    dp, n = datapath(config), config.numerics
    mode = "interpolated" if n.lut_interpolate else "plain"
    lines = [f"activation tables ({n.lut_size} entries, {mode})"]
    for function in _TABLES[config.model.cell]:
        table = dp.table(function)
        r = 2**table.range_log2
        lines.append(f"  {function:<8} covers [-{r}, {r}) in steps of 2^{table.step_log2}; "
                     f"{len(table.entries)} stored words of {table.out_fmt} (symmetry halves the table)")
    if not _TABLES[config.model.cell]:
        lines.append("  none (rnn_relu uses max(a, 0))")
    return lines


def _hardware_lines(config: Config) -> list[str]:
    model, lanes = config.model, config.hardware.lanes
    lines = [f"hardware: {lanes} lanes (P, multiply-accumulates per cycle)"]
    total = 0
    for k in range(model.num_layers):
        macs, cycles = schedule_bound(config, k)
        total += cycles
        lines.append(f"  layer {k}: G*H*(I+H) = {model.gates}*{model.hidden_size}*"
                     f"({model.layer_input_size(k)}+{model.hidden_size}) = {macs:,} MACs per step; "
                     f"schedule bound ceil({macs:,}/{lanes}) = {cycles:,} cycles per step")
    if model.num_layers > 1:
        lines.append(f"  all layers: {total:,} cycles per step (schedule bound)")
    if model.head:
        head_macs = model.head * model.hidden_size
        lines.append(f"  head: {model.head}*{model.hidden_size} = {head_macs:,} MACs per sequence")
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
    lines = [f"weights {source}: {len(tensors)} tensors",
             f"  {'tensor':<14} {'shape':<12} {'format':<13} {'min':>12} {'max':>12}  saturated"]
    for name, values in tensors.items():
        fmt = n.bias if name.startswith("bias") or name == "head.bias" else n.weight
        _, saturated = quantize(values, fmt, n.rounding)
        lines.append(f"  {name:<14} {shape(shapes[name]):<12} {str(fmt):<13} {values.min():>12.6g} "
                     f"{values.max():>12.6g}  {saturated:,} of {values.size:,}")
    stored = quantize_weights(weights, config).saturated
    summary = "; ".join(f"{kind} values {count:,} of {size:,} saturated"
                        for kind, (count, size) in stored.items())
    lines.append(f"  as stored (b_ih + b_hh summed before quantizing): {summary}")
    return "\n".join(lines)

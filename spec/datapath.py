"""Derived formats and widths of every datapath quantity, shared by the golden model and ``rtl/``.

The configuration names the formats a user chooses; this module derives the rest: the exact
internal accumulator of each matrix-vector product (wide enough that no partial sum ever rounds or
overflows), the alignment of products and biases inside it, and the widths of the elementwise
intermediates. It also refuses configurations whose intermediates would not fit the golden model's
int64 arithmetic. ``docs/numerics.md`` walks through the same quantities in hardware order.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from .config import Config
from .errors import ConfigError
from .fixed import FixedFormat
from .lut import ActivationTable, activation_table

__all__ = ["Datapath", "MatVecShape", "datapath", "lane_accumulator", "INT64_SAFE_BITS", "FLOAT64_EXACT_BITS"]

#: Largest signed intermediate the golden model holds exactly in int64 (one bit of headroom).
INT64_SAFE_BITS = 62
#: Integer sums up to this many bits are exact in float64, so the golden model may use BLAS for them.
FLOAT64_EXACT_BITS = 53


def _magnitude(fmt: FixedFormat) -> int:
    return max(-fmt.min_int, fmt.max_int)


def signed_bits(magnitude: int) -> int:
    """Bits of a two's complement number holding every value in ``[-magnitude, magnitude]``."""
    return magnitude.bit_length() + 1


@dataclass(frozen=True)
class MatVecShape:
    """One exact dot-product family ``sum_j W[r, j] * v[j] + b[r]`` and its internal fixed point.

    ``operands`` lists the (count, format) of each operand segment (``x`` then ``h``); every product
    and the bias are shifted left to ``frac_bits`` fractional bits before being added, so the sum is
    exact; it is rounded once, to the accumulator format, when the product is complete.
    """

    operands: tuple[tuple[int, FixedFormat], ...]
    weight: FixedFormat
    bias: FixedFormat

    @property
    def frac_bits(self) -> int:
        return max([self.weight.frac_bits + fmt.frac_bits for _, fmt in self.operands] + [self.bias.frac_bits])

    def product_shift(self, segment: int) -> int:
        return self.frac_bits - self.weight.frac_bits - self.operands[segment][1].frac_bits

    @property
    def bias_shift(self) -> int:
        return self.frac_bits - self.bias.frac_bits

    @property
    def bound(self) -> int:
        """Largest possible magnitude of the exact sum."""
        total = _magnitude(self.bias) << self.bias_shift
        for segment, (count, fmt) in enumerate(self.operands):
            total += count * ((_magnitude(self.weight) * _magnitude(fmt)) << self.product_shift(segment))
        return total

    @property
    def bits(self) -> int:
        """Width of the exact accumulator register."""
        return signed_bits(self.bound)


@dataclass(frozen=True)
class Datapath:
    """Everything numeric about one configuration, derived once."""

    config: Config

    @property
    def numerics(self):
        return self.config.numerics

    # -- matrix-vector products ------------------------------------------------------------------
    def layer_input_format(self, layer: int) -> FixedFormat:
        return self.numerics.input if layer == 0 else self.numerics.state

    def gates_matvec(self, layer: int) -> MatVecShape:
        """Gate pre-activations of ``layer``: operands ``[x_t; h_{t-1}]``."""
        model, n = self.config.model, self.numerics
        return MatVecShape(
            ((model.layer_input_size(layer), self.layer_input_format(layer)), (model.recurrent_size, n.state)),
            n.weight,
            n.bias,
        )

    @property
    def has_output_matvec(self) -> bool:
        """A head, or the Jordan cell's output layer ``W_hy h + b_hy`` (the same shape)."""
        return bool(self.config.model.head) or self.config.model.jordan

    @property
    def head_matvec(self) -> MatVecShape:
        """The head's sums over the last layer's output (bidirectional: ``[h_fwd; h_bwd]``); the Jordan
        cell's ``W_hy h_t + b_hy``."""
        n, model = self.numerics, self.config.model
        return MatVecShape(((model.hidden_size if model.jordan else model.layer_output_size, n.state),),
                           n.weight, n.bias)

    # -- elementwise intermediates ---------------------------------------------------------------
    @property
    def lstm_cell_frac(self) -> int:
        """Fractional bits of the exact sum ``f*c + i*g`` before it is rounded to ``cell_state``."""
        n = self.numerics
        return max(n.activation.frac_bits + n.cell_state.frac_bits, 2 * n.activation.frac_bits)

    @property
    def gru_reset_frac(self) -> int:
        """Fractional bits of the exact ``r*h`` before it is rounded to ``state`` (GRU, reset before)."""
        return self.numerics.activation.frac_bits + self.numerics.state.frac_bits

    @property
    def gru_state_frac(self) -> int:
        """Fractional bits of ``h - n`` (the GRU update computes ``n + z*(h - n)``)."""
        return max(self.numerics.state.frac_bits, self.numerics.activation.frac_bits)

    # -- tables ----------------------------------------------------------------------------------
    def table(self, function: str) -> ActivationTable:
        n = self.numerics
        return activation_table(function, n.lut_size, n.lut_interpolate, n.activation)

    @property
    def sigmoid(self) -> ActivationTable:
        return self.table("sigmoid")

    @property
    def tanh(self) -> ActivationTable:
        return self.table("tanh")

    # -- int64 safety ----------------------------------------------------------------------------
    def intermediate_bits(self) -> dict[str, int]:
        """Width of every intermediate the datapath forms, by name."""
        n = self.numerics
        act, acc = _magnitude(n.activation), _magnitude(n.accum)
        widths = {f"layer {k} accumulator": self.gates_matvec(k).bits for k in range(self.config.model.num_layers)}
        if self.has_output_matvec:
            widths["head accumulator" if self.config.model.head else "output accumulator"] = self.head_matvec.bits
        widths["shared lane accumulator"] = lane_accumulator(self)[1]
        af = n.activation.frac_bits
        cell = self.config.model.cell
        if cell == "lstm":
            frac, cf = self.lstm_cell_frac, n.cell_state.frac_bits
            widths["LSTM f*c + i*g"] = signed_bits(
                (act * _magnitude(n.cell_state) << (frac - af - cf)) + (act * act << (frac - 2 * af))
            )
        elif cell == "gru":
            if self.config.model.reset_before:
                widths["GRU r*h"] = signed_bits(act * _magnitude(n.state))
            else:
                widths["GRU xn + r*hn"] = signed_bits((acc << af) + act * acc)
            d = self.gru_state_frac
            diff = (_magnitude(n.state) << (d - n.state.frac_bits)) + (act << (d - af))
            widths["GRU n + z*(h - n)"] = signed_bits((act << d) + act * diff)
        return widths

    def check(self) -> None:
        """Refuse configurations the golden model cannot compute exactly in int64."""
        for name, bits in self.intermediate_bits().items():
            if bits > INT64_SAFE_BITS:
                where = f"{self.config.source}: " if self.config.source else ""
                raise ConfigError(
                    f"{where}the {name} needs {bits} bits, more than the {INT64_SAFE_BITS} the golden model holds "
                    "exactly; use narrower numerics formats (weight, input, state or accum)"
                )


@functools.lru_cache(maxsize=64)
def datapath(config: Config) -> Datapath:
    """The (validated) datapath of a configuration."""
    result = Datapath(config)
    result.check()
    return result


def lane_accumulator(dp: Datapath) -> tuple[int, int]:
    """(fractional bits, width) of the one accumulator format that every matrix-vector product shares.

    The hardware uses one internal fixed point for all layers and the head, the finest any of them
    needs; a sum that is exact in its own format is exact in this one, so it rounds identically.
    """
    shapes = [dp.gates_matvec(k) for k in range(dp.config.model.num_layers)]
    if dp.has_output_matvec:
        shapes.append(dp.head_matvec)
    frac = max(shape.frac_bits for shape in shapes)
    return frac, max(signed_bits(shape.bound << (frac - shape.frac_bits)) for shape in shapes)

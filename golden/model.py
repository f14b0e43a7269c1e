"""The bit-exact golden model: integer NumPy doing what the hardware does, in the hardware's order.

Its pieces carry the names of the ``rtl/`` components they model, so the two can be read side by side:

=========================  ===============================================================
golden                     rtl
=========================  ===============================================================
:func:`matvec_products`    ``MatVecUnit`` lanes: exact products in the wide accumulator
:func:`matvec_result`      ``MatVecUnit`` output: one rounding to ``accum``
:class:`ActivationTable`   ``ActivationLUT`` (``golden/lut.py``)
:func:`lstm_elementwise`   ``ElementwiseUnit`` for ``cell = "lstm"``
:func:`gru_elementwise`    ``ElementwiseUnit`` for ``cell = "gru"``
:func:`elman_elementwise`  ``ElementwiseUnit`` for ``cell = "rnn_tanh"``/``"rnn_relu"``
:class:`GoldenModel`       ``LSTMSequencer``/top level: layers, timesteps, head, outputs
=========================  ===============================================================

The model is vectorized over the batch, and over time for the input projection: every sum is exact
until its single rounding point, so splitting ``W_ih x + W_hh h + b`` into parts changes nothing.
The hardware computes the same sums in a different grouping; the results are identical integers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnnhw.config import Config
from rnnhw.errors import UserError
from rnnhw.weights import QuantizedWeights

from .batch import check_batch
from .datapath import FLOAT64_EXACT_BITS, Datapath, MatVecShape, datapath
from .fixed import FixedFormat, align, convert, quantize

__all__ = ["GoldenModel", "GoldenResult", "matvec_products", "matvec_result", "lstm_elementwise", "gru_elementwise", "elman_elementwise"]


def _exact_dot(v: np.ndarray, w: np.ndarray, exact_in_float: bool) -> np.ndarray:
    """``v @ w.T`` on integers; through float64 BLAS when every partial sum is below 2**53 (then exact)."""
    if exact_in_float:
        return (v.astype(np.float64) @ w.T.astype(np.float64)).astype(np.int64)
    return v @ w.T


def matvec_products(shape: MatVecShape, segment: int, w: np.ndarray, v: np.ndarray) -> np.ndarray:
    """``MatVecUnit`` products of one operand segment, ``v @ w.T`` aligned to the exact accumulator."""
    return _exact_dot(v, w, shape.bits <= FLOAT64_EXACT_BITS) << shape.product_shift(segment)


def matvec_result(shape: MatVecShape, total: np.ndarray, fmt: FixedFormat, config: Config) -> np.ndarray:
    """``MatVecUnit`` output stage: the exact sum rounded once to ``fmt`` (``accum``; ``output`` for the head)."""
    n = config.numerics
    return convert(total, shape.frac_bits, fmt, n.rounding, n.overflow)


def lstm_elementwise(dp: Datapath, pre: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """LSTM state update from pre-activations ``[..., 4H]`` (i, f, g, o) and ``c_{t-1}``.

    ``c_t = round(f*c + i*g)`` (one rounding of the exact sum), ``h_t = round(o * tanh(c_t))``.
    """
    n = dp.numerics
    af = n.accum.frac_bits
    i, f, g, o = np.split(pre, 4, axis=-1)
    i, f, o = (dp.sigmoid.lookup(a, af) for a in (i, f, o))
    g = dp.tanh.lookup(g, af)
    frac = dp.lstm_cell_frac
    total = align(f * c, n.activation.frac_bits + n.cell_state.frac_bits, frac) + align(
        i * g, 2 * n.activation.frac_bits, frac
    )
    c_new = convert(total, frac, n.cell_state, n.rounding, n.overflow)
    tanh_c = dp.tanh.lookup(c_new, n.cell_state.frac_bits)
    h_new = convert(o * tanh_c, 2 * n.activation.frac_bits, n.state, n.rounding, n.overflow)
    return h_new, c_new


def gru_elementwise(dp: Datapath, pre_rz: np.ndarray, xn: np.ndarray, hn: np.ndarray, h: np.ndarray) -> np.ndarray:
    """GRU state update in PyTorch's form.

    ``a_n = round(xn + r*hn)`` to ``accum``; ``n = tanh(a_n)``; ``h_t = round(n + z*(h - n))``, which
    equals ``(1-z)*n + z*h`` exactly before its single rounding and needs one multiplier, not two.
    """
    n = dp.numerics
    af, gf = n.accum.frac_bits, n.activation.frac_bits
    r, z = (dp.sigmoid.lookup(a, af) for a in np.split(pre_rz, 2, axis=-1))
    a_n = convert(align(xn, af, af + gf) + r * hn, af + gf, n.accum, n.rounding, n.overflow)
    n_gate = dp.tanh.lookup(a_n, af)
    d = dp.gru_state_frac
    diff = align(h, n.state.frac_bits, d) - align(n_gate, gf, d)
    total = align(n_gate, gf, gf + d) + z * diff
    return convert(total, gf + d, n.state, n.rounding, n.overflow)


def elman_elementwise(dp: Datapath, pre: np.ndarray, relu: bool) -> np.ndarray:
    """Elman update: ``h_t = round(tanh(a))`` or ``h_t = round(max(a, 0))``."""
    n = dp.numerics
    if relu:
        return convert(np.maximum(pre, 0), n.accum.frac_bits, n.state, n.rounding, n.overflow)
    return convert(dp.tanh.lookup(pre, n.accum.frac_bits), n.activation.frac_bits, n.state, n.rounding,
                   n.overflow)


@dataclass(frozen=True)
class GoldenResult:
    """Integer outputs of a batch and the format they are in.

    ``outputs``: head ``[N, head]`` (``output`` format); return_sequences ``[N, T, H]``; else ``[N, H]``
    (``state`` format). Timesteps past a sequence's length hold zeros. ``final_h[k]`` is layer ``k``'s
    hidden state at each sequence's last step, ``[N, H]``.
    """

    outputs: np.ndarray
    output_format: FixedFormat
    final_h: tuple[np.ndarray, ...]

    def to_float(self) -> np.ndarray:
        return self.output_format.to_float(self.outputs)


class GoldenModel:
    """Bit-exact model of the accelerator for one configuration and its quantized weights."""

    def __init__(self, config: Config, weights: QuantizedWeights):
        self.config = config
        self.dp = datapath(config)
        self.weights = weights

    def quantize_inputs(self, x) -> tuple[np.ndarray, int]:
        """Float inputs ``[N, T, I]`` to the input format; returns the integers and the saturation count."""
        n = self.config.numerics
        return quantize(x, n.input, n.rounding)

    def run(self, x_int: np.ndarray, lengths: np.ndarray | None = None) -> GoldenResult:
        """Run a batch of quantized sequences ``[N, T, I]`` (``lengths[n]`` in 1..T, default T)."""
        model = self.config.model
        x_int = np.asarray(x_int, dtype=np.int64)
        lengths = check_batch(x_int, model.input_size, lengths)
        layer_in, finals = x_int, []
        for k in range(model.num_layers):
            layer_in, final = self._layer(k, layer_in, lengths)
            finals.append(final)
        last = finals[-1]
        if model.head:
            outputs = self._head(last)
            fmt = self.config.numerics.output
        elif model.return_sequences:
            outputs, fmt = layer_in, self.config.numerics.state
        else:
            outputs, fmt = last, self.config.numerics.state
        return GoldenResult(outputs, fmt, tuple(finals))

    def _layer(self, k: int, x: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One layer over all timesteps: returns ``h`` at every step ``[N, T, H]`` and the final ``h``."""
        cfg, dp = self.config, self.dp
        accum = cfg.numerics.accum
        qw = self.weights.layers[k]
        hidden, cell = cfg.model.hidden_size, cfg.model.cell
        batch, steps, _ = x.shape
        shape = dp.gates_matvec(k)
        # The x segment of every timestep at once: it does not depend on h.
        x_products = matvec_products(shape, 0, qw.w_ih, x)
        bias = align(qw.bias, shape.bias.frac_bits, shape.frac_bits)
        h = np.zeros((batch, hidden), dtype=np.int64)
        c = np.zeros_like(h)
        sequence = np.zeros((batch, steps, hidden), dtype=np.int64)
        if cell == "gru":
            bias_hn = align(qw.bias_hn, shape.bias.frac_bits, shape.frac_bits)
            rz, n_rows = slice(0, 2 * hidden), slice(2 * hidden, 3 * hidden)
        for t in range(steps):
            h_products = matvec_products(shape, 1, qw.w_hh, h)
            if cell == "gru":
                # PyTorch's GRU keeps W_hn h + b_hn apart: it is gated by r before joining W_in x + b_in.
                pre_rz = matvec_result(shape, x_products[:, t, rz] + h_products[:, rz] + bias[rz], accum, cfg)
                xn = matvec_result(shape, x_products[:, t, n_rows] + bias[n_rows], accum, cfg)
                hn = matvec_result(shape, h_products[:, n_rows] + bias_hn, accum, cfg)
                h_new, c_new = gru_elementwise(dp, pre_rz, xn, hn, h), c
            else:
                pre = matvec_result(shape, x_products[:, t] + h_products + bias, accum, cfg)
                if cell == "lstm":
                    h_new, c_new = lstm_elementwise(dp, pre, c)
                else:
                    h_new, c_new = elman_elementwise(dp, pre, relu=(cell == "rnn_relu")), c
            if t >= lengths.min():  # some sequences have ended: they keep their state
                active = (t < lengths)[:, None]
                h_new, c_new = np.where(active, h_new, h), np.where(active, c_new, c)
                sequence[:, t] = np.where(active, h_new, 0)
            else:
                sequence[:, t] = h_new
            h, c = h_new, c_new
        return sequence, h

    def _head(self, h: np.ndarray) -> np.ndarray:
        shape = self.dp.head_matvec
        total = align(self.weights.head_bias, shape.bias.frac_bits, shape.frac_bits)
        total = total + matvec_products(shape, 0, self.weights.head_weight, h)
        return matvec_result(shape, total, self.config.numerics.output, self.config)


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
``docs/numerics.md`` states every format and rounding point; ``tests/reference.py`` transcribes it
into scalar Python and ``tests/test_model.py`` holds this model to it.

Speed: the sums go through float64 BLAS when every partial sum stays below 2**53 (exact then, in
any order), the weights are pre-shifted to the accumulator's fixed point once, and the LSTM's rows
are kept in the order i, f, o, g inside :class:`GoldenModel` so that one table lookup serves all
three sigmoid gates.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from rnnhw.config import Config
from rnnhw.weights import QuantizedWeights

from .batch import check_batch
from .datapath import FLOAT64_EXACT_BITS, Datapath, MatVecShape, datapath
from .fixed import FixedFormat, Overflow, Rounding, align, convert, quantize
from .lut import ActivationTable

__all__ = ["GoldenModel", "GoldenResult", "matvec_products", "matvec_result", "lstm_elementwise",
           "gru_elementwise", "elman_elementwise"]


# -- MatVecUnit --------------------------------------------------------------------------------------
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


class _MatVec:
    """One family of ``MatVecUnit`` sums, prepared once: ``sum_j W[r, j] v[j]`` per operand segment, plus bias.

    Each segment's weights are stored transposed and shifted left by the segment's product shift, the
    bias aligned, so that products and bias arrive at the exact accumulator's fixed point without
    further shifts. The arithmetic is float64 (BLAS) when the accumulator has at most 53 bits, as
    every partial sum is then an integer float64 holds exactly, and int64 otherwise.
    """

    def __init__(self, shape: MatVecShape, weights, bias: np.ndarray, use_float: bool):
        self.shape = shape
        self.dtype = np.float64 if use_float else np.int64
        self.weights = tuple(
            np.ascontiguousarray((np.asarray(w, dtype=np.int64) << shape.product_shift(segment)).T, dtype=self.dtype)
            for segment, w in enumerate(weights)
        )
        self.bias = align(bias, shape.bias.frac_bits, shape.frac_bits).astype(self.dtype)

    def products(self, segment: int, v: np.ndarray) -> np.ndarray:
        """``v @ W.T`` of one segment, aligned (``dtype`` array; its values are integers)."""
        return v.astype(self.dtype, copy=False) @ self.weights[segment]

    def result(self, total: np.ndarray, fmt: FixedFormat, numerics) -> np.ndarray:
        """The exact sum rounded once to ``fmt``, as int64 (the ``MatVecUnit`` output stage)."""
        return convert(total, self.shape.frac_bits, fmt, numerics.rounding, numerics.overflow)


# -- ElementwiseUnit ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Units:
    """What the elementwise units need from a configuration, looked up once rather than at every step."""

    sigmoid: ActivationTable
    tanh: ActivationTable
    rounding: Rounding
    overflow: Overflow
    accum: FixedFormat
    state: FixedFormat
    cell_state: FixedFormat
    acc_frac: int  # pre-activations
    act_frac: int  # table outputs
    lstm_frac: int  # f*c + i*g
    gru_frac: int  # h - n

    def round_to(self, v: np.ndarray, frac: int, fmt: FixedFormat) -> np.ndarray:
        return convert(v, frac, fmt, self.rounding, self.overflow)


@functools.lru_cache(maxsize=64)
def _units(dp: Datapath) -> _Units:
    n = dp.numerics
    return _Units(dp.sigmoid, dp.tanh, n.rounding, n.overflow, n.accum, n.state, n.cell_state,
                  n.accum.frac_bits, n.activation.frac_bits, dp.lstm_cell_frac, dp.gru_state_frac)


def _product(a: np.ndarray, b: np.ndarray, frac: int, to_frac: int) -> np.ndarray:
    """``a * b`` (``frac`` fractional bits) aligned to ``to_frac``: exact."""
    p = a * b
    if to_frac > frac:
        p <<= to_frac - frac
    return p


def _lstm_update(u: _Units, ifo_pre: np.ndarray, g_pre: np.ndarray, c: np.ndarray):
    """LSTM ``ElementwiseUnit`` with the sigmoid gates' pre-activations side by side ``[..., 3H]`` (i, f, o)."""
    hidden = g_pre.shape[-1]
    ifo = u.sigmoid.lookup(ifo_pre, u.acc_frac)
    i, f, o = ifo[..., :hidden], ifo[..., hidden : 2 * hidden], ifo[..., 2 * hidden :]
    g = u.tanh.lookup(g_pre, u.acc_frac)
    total = _product(f, c, u.act_frac + u.cell_state.frac_bits, u.lstm_frac)
    total += _product(i, g, 2 * u.act_frac, u.lstm_frac)
    c_new = u.round_to(total, u.lstm_frac, u.cell_state)
    o_tanh_c = u.tanh.lookup(c_new, u.cell_state.frac_bits)
    o_tanh_c *= o
    return u.round_to(o_tanh_c, 2 * u.act_frac, u.state), c_new


def lstm_elementwise(dp: Datapath, pre: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """LSTM state update from pre-activations ``[..., 4H]`` (i, f, g, o) and ``c_{t-1}``.

    ``c_t = round(f*c + i*g)`` (one rounding of the exact sum), ``h_t = round(o * tanh(c_t))``.
    Returns ``(h_t, c_t)``.
    """
    i, f, g, o = np.split(np.asarray(pre, dtype=np.int64), 4, axis=-1)
    return _lstm_update(_units(dp), np.concatenate([i, f, o], axis=-1), g, np.asarray(c, dtype=np.int64))


def gru_elementwise(dp: Datapath, pre_rz: np.ndarray, xn: np.ndarray, hn: np.ndarray, h: np.ndarray) -> np.ndarray:
    """GRU state update in PyTorch's form.

    ``a_n = round(xn + r*hn)`` to ``accum``; ``n = tanh(a_n)``; ``h_t = round(n + z*(h - n))``, which
    equals ``(1-z)*n + z*h`` exactly before its single rounding and needs one multiplier, not two.
    """
    u = _units(dp)
    pre_rz, xn, hn, h = (np.asarray(a, dtype=np.int64) for a in (pre_rz, xn, hn, h))
    hidden = h.shape[-1]
    rz = u.sigmoid.lookup(pre_rz, u.acc_frac)
    r, z = rz[..., :hidden], rz[..., hidden:]
    a_n = r * hn
    a_n += xn << u.act_frac
    n_gate = u.tanh.lookup(u.round_to(a_n, u.acc_frac + u.act_frac, u.accum), u.acc_frac)
    diff = align(h, u.state.frac_bits, u.gru_frac) - align(n_gate, u.act_frac, u.gru_frac)
    total = z * diff
    total += n_gate << u.gru_frac
    return u.round_to(total, u.act_frac + u.gru_frac, u.state)


def elman_elementwise(dp: Datapath, pre: np.ndarray, relu: bool) -> np.ndarray:
    """Elman update: ``h_t = round(tanh(a))`` or ``h_t = round(max(a, 0))``."""
    u = _units(dp)
    if relu:
        return u.round_to(np.maximum(pre, 0), u.acc_frac, u.state)
    return u.round_to(u.tanh.lookup(pre, u.acc_frac), u.act_frac, u.state)


# -- top level ---------------------------------------------------------------------------------------
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


def _lstm_rows(hidden: int) -> np.ndarray:
    """PyTorch's LSTM rows (i, f, g, o) in the order i, f, o, g: the sigmoid gates side by side."""
    return np.concatenate([np.arange(2 * hidden), np.arange(3 * hidden, 4 * hidden), np.arange(2 * hidden, 3 * hidden)])


class GoldenModel:
    """Bit-exact model of the accelerator for one configuration and its quantized weights.

    ``blas``: ``None`` (default) sums through float64 BLAS whenever that is exact and in int64
    otherwise; ``False`` always uses int64; ``True`` always uses float64 and raises :class:`ValueError`
    if some sum could exceed 2**53. All three give the same integers wherever they run.
    """

    def __init__(self, config: Config, weights: QuantizedWeights, *, blas: bool | None = None):
        self.config = config
        self.dp = datapath(config)
        self.weights = weights
        shapes = [self.dp.gates_matvec(k) for k in range(config.model.num_layers)]
        if config.model.head:
            shapes.append(self.dp.head_matvec)
        exact = all(shape.bits <= FLOAT64_EXACT_BITS for shape in shapes)
        if blas and not exact:
            raise ValueError(
                f"float64 BLAS is not exact for this configuration: its accumulators need "
                f"{max(shape.bits for shape in shapes)} bits, more than {FLOAT64_EXACT_BITS}"
            )
        use_float = exact if blas is None else blas
        hidden = config.model.hidden_size
        rows = _lstm_rows(hidden) if config.model.cell == "lstm" else slice(None)
        self._gates = [
            _MatVec(shapes[k], (layer.w_ih[rows], layer.w_hh[rows]), layer.bias[rows], use_float)
            for k, layer in enumerate(weights.layers)
        ]
        if config.model.cell == "gru":
            self._bias_hn = [
                align(layer.bias_hn, shapes[k].bias.frac_bits, shapes[k].frac_bits).astype(self._gates[k].dtype)
                for k, layer in enumerate(weights.layers)
            ]
        if config.model.head:
            self._head = _MatVec(shapes[-1], (weights.head_weight,), weights.head_bias, use_float)
        self._units = _units(self.dp)

    def quantize_inputs(self, x) -> tuple[np.ndarray, int]:
        """Float inputs ``[N, T, I]`` to the input format; returns the integers and the saturation count."""
        n = self.config.numerics
        return quantize(x, n.input, n.rounding)

    def run(self, x_int: np.ndarray, lengths: np.ndarray | None = None) -> GoldenResult:
        """Run a batch of quantized sequences ``[N, T, I]`` (``lengths[n]`` in 1..T, default T)."""
        model, numerics = self.config.model, self.config.numerics
        x_int = np.asarray(x_int, dtype=np.int64)
        lengths = check_batch(x_int, model.input_size, lengths)
        layer_in, finals = x_int, []
        for k in range(model.num_layers):
            keep_sequence = k < model.num_layers - 1 or model.return_sequences
            layer_in, final = self._layer(k, layer_in, lengths, keep_sequence)
            finals.append(final)
        last = finals[-1]
        if model.head:
            head = self._head
            outputs = head.result(head.products(0, last) + head.bias, numerics.output, numerics)
            fmt = numerics.output
        elif model.return_sequences:
            outputs, fmt = layer_in, numerics.state
        else:
            outputs, fmt = last, numerics.state
        return GoldenResult(outputs, fmt, tuple(finals))

    def _layer(self, k: int, x: np.ndarray, lengths: np.ndarray, keep_sequence: bool):
        """One layer over all timesteps: ``h`` at every step ``[N, T, H]`` (if kept) and the final ``h``."""
        numerics, u = self.config.numerics, self._units
        accum = numerics.accum
        gates = self._gates[k]
        hidden, cell = self.config.model.hidden_size, self.config.model.cell
        batch, steps, width = x.shape
        # The x segment and the bias of every timestep at once, timestep-major: they do not depend on h.
        x_part = gates.products(0, x.transpose(1, 0, 2).reshape(steps * batch, width))
        x_part = x_part.reshape(steps, batch, -1)
        x_part += gates.bias
        if cell == "gru":
            # PyTorch's GRU keeps W_hn h + b_hn apart: it is gated by r before joining W_in x + b_in.
            xn_all = gates.result(x_part[..., 2 * hidden :], accum, numerics)
            x_part = x_part[..., : 2 * hidden]
        h = np.zeros((batch, hidden), dtype=np.int64)
        c = np.zeros_like(h)
        sequence = np.zeros((batch, steps, hidden), dtype=np.int64) if keep_sequence else None
        first_ended = lengths.min()
        for t in range(steps):
            total = gates.products(1, h)
            if cell == "gru":
                hn = gates.result(total[:, 2 * hidden :] + self._bias_hn[k], accum, numerics)
                total = total[:, : 2 * hidden]
                total += x_part[t]
                h_new = gru_elementwise(self.dp, gates.result(total, accum, numerics), xn_all[t], hn, h)
                c_new = c
            else:
                total += x_part[t]
                pre = gates.result(total, accum, numerics)
                if cell == "lstm":
                    h_new, c_new = _lstm_update(u, pre[:, : 3 * hidden], pre[:, 3 * hidden :], c)
                else:
                    h_new, c_new = elman_elementwise(self.dp, pre, relu=(cell == "rnn_relu")), c
            if t >= first_ended:  # some sequences have ended: they keep their state
                active = (t < lengths)[:, None]
                h_new, c_new = np.where(active, h_new, h), np.where(active, c_new, c)
                if sequence is not None:
                    sequence[:, t] = np.where(active, h_new, 0)
            elif sequence is not None:
                sequence[:, t] = h_new
            h, c = h_new, c_new
        return sequence, h

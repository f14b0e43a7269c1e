"""The bit-exact golden model: integer NumPy doing what the hardware does, in the hardware's order.

Its pieces carry the names of the ``rtl/`` components they model, so the two can be read side by side:

=========================  ===============================================================
golden                     rtl
=========================  ===============================================================
:func:`matvec_products`    ``MatVecUnit`` lanes: exact products in the wide accumulator
:func:`matvec_result`      ``MatVecUnit`` output: one rounding to ``accum``
:class:`ActivationTable`   ``ActivationLUT`` (``spec/lut.py``)
:func:`lstm_elementwise`   ``ElementwiseUnit`` for ``cell = "lstm"``
:func:`gru_elementwise`    ``ElementwiseUnit`` for ``cell = "gru"``
:func:`gru_reset_...`      ``ElementwiseUnit`` for ``gru_reset = "before"``: r and z items
:func:`gru_candidate_...`  ``ElementwiseUnit`` for ``gru_reset = "before"``: n items
:func:`elman_elementwise`  ``ElementwiseUnit`` for ``cell = "rnn_tanh"``/``"rnn_relu"`` (and Jordan's h)
:class:`GoldenModel`       ``LSTMSequencer``/top level: layers, timesteps, head, outputs
=========================  ===============================================================

A bidirectional layer (``model.bidirectional``) runs the same integer operations twice: forward, and
backward over each sequence reversed within its own length (docs/bidirectional.md); its output per step
is ``[h_fwd; h_bwd]``.

The model is vectorized over the batch: every sum is exact until its single rounding point, so
the grouping of ``W_ih x + W_hh h + b`` cannot change it, and the hardware's grouping (lanes, passes)
gives identical integers. ``docs/numerics.md`` states every format and rounding point;
``tests/reference.py`` transcribes it into scalar Python and ``tests/test_model.py`` holds this model
to it.

Speed (``bench/golden.py``): the sums go through float64 BLAS when every partial sum stays below
2**53 (exact then, in any order), as one product ``M @ [x_t; h_{t-1}; 1]`` per step with the weights
pre-shifted to the accumulator's fixed point; vectors are columns, so each gate's block of rows is
contiguous, and the LSTM's rows are kept in the order i, f, o, g so that one table lookup serves the
three sigmoid gates; big batches run in blocks that fit the processor's cache, with one BLAS thread.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from rnnhw.spec.batch import check_batch, reversal
from rnnhw.spec.config import Config
from rnnhw.spec.ctc import greedy_decode
from rnnhw.spec.datapath import FLOAT64_EXACT_BITS, INT64_SAFE_BITS, Datapath, MatVecShape, datapath, signed_bits
from rnnhw.spec.fixed import FixedFormat, Overflow, Rounding, align, convert, quantize
from rnnhw.spec.lut import ActivationTable
from rnnhw.spec.weights import QuantizedWeights

__all__ = ["GoldenModel", "GoldenResult", "matvec_products", "matvec_result", "lstm_elementwise",
           "gru_elementwise", "gru_reset_elementwise", "gru_candidate_elementwise", "elman_elementwise"]


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
    """``MatVecUnit`` output stage: the exact sum rounded once to ``fmt`` (``accum``, or ``output``)."""
    n = config.numerics
    return convert(total, shape.frac_bits, fmt, n.rounding, n.overflow)


class _MatVec:
    """A family of ``MatVecUnit`` sums, prepared once: ``M @ [v_0; v_1; ..; 1]`` is every row's exact sum.

    ``M`` holds each operand segment's weights side by side, shifted left by the segment's product
    shift, and, as the column multiplying a constant 1, the aligned bias: products and bias arrive at
    the exact accumulator's fixed point without further shifts or additions. When the destination
    format has more fractional bits than that, ``M`` is shifted further, so that the rounding point
    only fits (if the sum stays within the arithmetic's exact range). The arithmetic is float64 (BLAS)
    when ``use_float``, which the caller allows only if every partial sum is an integer below 2**53
    (float64 holds those exactly, whatever the order of summation), else int64. Operand vectors are
    columns: the batch is the last axis.
    """

    def __init__(self, shape: MatVecShape, weights, bias: np.ndarray, fmt: FixedFormat, use_float: bool):
        self.dtype = np.float64 if use_float else np.int64
        extra = max(0, fmt.frac_bits - shape.frac_bits)
        if signed_bits(shape.bound << extra) > (FLOAT64_EXACT_BITS if use_float else INT64_SAFE_BITS):
            extra = 0
        self.frac_bits = shape.frac_bits + extra
        blocks = [np.asarray(w, dtype=np.int64) << (shape.product_shift(segment) + extra)
                  for segment, w in enumerate(weights)]
        blocks.append(align(bias, shape.bias.frac_bits, self.frac_bits)[:, None])
        self.matrix = np.ascontiguousarray(np.hstack(blocks), dtype=self.dtype)

    def operands(self, batch: int) -> np.ndarray:
        """A buffer for the operand vectors ``[inputs + 1, batch]``, its last row the bias's 1."""
        buffer = np.zeros((self.matrix.shape[1], batch), dtype=self.dtype)
        buffer[-1] = 1
        return buffer

    def result(self, operands: np.ndarray, fmt: FixedFormat, numerics) -> np.ndarray:
        """The sums rounded once to ``fmt``, as int64 ``[rows, batch]`` (the ``MatVecUnit`` output stage)."""
        return convert(self.matrix @ operands, self.frac_bits, fmt, numerics.rounding, numerics.overflow)


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
    """LSTM ``ElementwiseUnit``, gate-major: ``ifo_pre`` ``[3H, ...]`` holds the sigmoid gates i, f, o."""
    hidden = len(g_pre)
    ifo = u.sigmoid.lookup(ifo_pre, u.acc_frac)
    i, f, o = ifo[:hidden], ifo[hidden : 2 * hidden], ifo[2 * hidden :]
    g = u.tanh.lookup(g_pre, u.acc_frac)
    total = _product(f, c, u.act_frac + u.cell_state.frac_bits, u.lstm_frac)
    total += _product(i, g, 2 * u.act_frac, u.lstm_frac)
    c_new = u.round_to(total, u.lstm_frac, u.cell_state)
    o_tanh_c = u.tanh.lookup(c_new, u.cell_state.frac_bits)
    o_tanh_c *= o
    return u.round_to(o_tanh_c, 2 * u.act_frac, u.state), c_new


def _gru_update(u: _Units, rz_pre: np.ndarray, xn: np.ndarray, hn: np.ndarray, h: np.ndarray) -> np.ndarray:
    """GRU ``ElementwiseUnit``, gate-major: ``rz_pre`` ``[2H, ...]``."""
    hidden = len(h)
    rz = u.sigmoid.lookup(rz_pre, u.acc_frac)
    r, z = rz[:hidden], rz[hidden:]
    a_n = r * hn
    a_n += xn << u.act_frac
    n_gate = u.tanh.lookup(u.round_to(a_n, u.acc_frac + u.act_frac, u.accum), u.acc_frac)
    return _gru_blend(u, n_gate, z, h)


def _gru_blend(u: _Units, n_gate: np.ndarray, z: np.ndarray, h: np.ndarray) -> np.ndarray:
    """``h_t = round(n + z*(h - n))``: the GRU's last step, for both places of the reset gate."""
    diff = align(h, u.state.frac_bits, u.gru_frac) - align(n_gate, u.act_frac, u.gru_frac)
    total = z * diff
    total += n_gate << u.gru_frac
    return u.round_to(total, u.act_frac + u.gru_frac, u.state)


def _gru_reset(u: _Units, rz_pre: np.ndarray, h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Reset-before GRU, r and z rows (gate-major ``[2H, ...]``): ``(round(r*h), z)``."""
    hidden = len(h)
    rz = u.sigmoid.lookup(rz_pre, u.acc_frac)
    return u.round_to(rz[:hidden] * h, u.act_frac + u.state.frac_bits, u.state), rz[hidden:]


def _elman_update(u: _Units, pre: np.ndarray, relu: bool) -> np.ndarray:
    if relu:
        return u.round_to(np.maximum(pre, 0), u.acc_frac, u.state)
    return u.round_to(u.tanh.lookup(pre, u.acc_frac), u.act_frac, u.state)


def _gate_major(a) -> np.ndarray:
    """``[..., G]`` to ``[G, ...]``, the layout of the update functions above."""
    return np.moveaxis(np.asarray(a, dtype=np.int64), -1, 0)


def lstm_elementwise(dp: Datapath, pre: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """LSTM state update from pre-activations ``[..., 4H]`` (i, f, g, o) and ``c_{t-1}``.

    ``c_t = round(f*c + i*g)`` (one rounding of the exact sum), ``h_t = round(o * tanh(c_t))``.
    Returns ``(h_t, c_t)``.
    """
    i, f, g, o = np.split(_gate_major(pre), 4)
    h_new, c_new = _lstm_update(_units(dp), np.concatenate([i, f, o]), g, _gate_major(c))
    return np.moveaxis(h_new, 0, -1), np.moveaxis(c_new, 0, -1)


def gru_elementwise(dp: Datapath, pre_rz: np.ndarray, xn: np.ndarray, hn: np.ndarray,
                    h: np.ndarray) -> np.ndarray:
    """GRU state update in PyTorch's form.

    ``a_n = round(xn + r*hn)`` to ``accum``; ``n = tanh(a_n)``; ``h_t = round(n + z*(h - n))``, which
    equals ``(1-z)*n + z*h`` exactly before its single rounding and needs one multiplier, not two.
    """
    h_new = _gru_update(_units(dp), *(_gate_major(a) for a in (pre_rz, xn, hn, h)))
    return np.moveaxis(h_new, 0, -1)


def gru_reset_elementwise(dp: Datapath, pre_rz: np.ndarray, h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """GRU with the reset before ``W_hn``, from the r and z pre-activations ``[..., 2H]`` and ``h_{t-1}``:
    ``(r*h rounded once to state, z)``; ``r*h`` is the operand of the n rows' ``W_hn``."""
    rh, z = _gru_reset(_units(dp), *(_gate_major(a) for a in (pre_rz, h)))
    return np.moveaxis(rh, 0, -1), np.moveaxis(z, 0, -1)


def gru_candidate_elementwise(dp: Datapath, pre_n: np.ndarray, z: np.ndarray, h: np.ndarray) -> np.ndarray:
    """GRU with the reset before ``W_hn``, from ``a_n = W_in x + W_hn (r*h) + b_in + b_hn`` (``accum``):
    ``n = tanh(a_n)``, ``h_t = round(n + z*(h - n))``."""
    u = _units(dp)
    n_gate = u.tanh.lookup(_gate_major(pre_n), u.acc_frac)
    return np.moveaxis(_gru_blend(u, n_gate, _gate_major(z), _gate_major(h)), 0, -1)


def elman_elementwise(dp: Datapath, pre: np.ndarray, relu: bool) -> np.ndarray:
    """Elman update: ``h_t = round(tanh(a))`` or ``h_t = round(max(a, 0))``."""
    return _elman_update(_units(dp), np.asarray(pre, dtype=np.int64), relu)


# -- top level ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class GoldenResult:
    """Integer outputs of a batch and the format they are in.

    ``outputs``: head ``[N, head]`` (``output`` format); return_sequences ``[N, T, H]``, with a head
    ``[N, T, head]`` (the head at every step); else ``[N, H]`` (``state`` format). With
    ``model.ctc_blank``, ``labels`` holds the greedy decoding of these logits (:mod:`rnnhw.spec.ctc`). Timesteps past a
    sequence's length hold zeros. ``final_h[k]`` is layer ``k``'s hidden state at each sequence's last
    step, ``[N, H]``. Bidirectional: 2H for H, ``final_h[k]`` being ``[h_fwd at the last step; h_bwd at
    step 0]``.
    """

    outputs: np.ndarray
    output_format: FixedFormat
    final_h: tuple[np.ndarray, ...]
    labels: np.ndarray | None = None  # with model.ctc_blank: decoded labels [N, T] (spec/ctc.py)

    def to_float(self) -> np.ndarray:
        return self.output_format.to_float(self.outputs)


def _gate_weights(cell: str, hidden: int, layer) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The x and h weights and the bias of a layer's ``MatVecUnit`` sums, as :class:`GoldenModel` orders them.

    LSTM: PyTorch's rows (i, f, g, o) in the order i, f, o, g, the sigmoid gates side by side.
    GRU: rows r, z (x, h and bias), then ``xn = W_in x + b_in`` and ``hn = W_hn h + b_hn`` apart (zero
    weights for the other operand), as PyTorch gates ``hn`` by ``r`` before it joins ``xn``. The
    reset-before GRU (no separate ``b_hn``) keeps PyTorch's rows; :class:`GoldenModel` splits them.
    """
    w_ih, w_hh, bias = layer.w_ih, layer.w_hh, layer.bias
    if cell == "lstm":
        rows = np.r_[0 : 2 * hidden, 3 * hidden : 4 * hidden, 2 * hidden : 3 * hidden]
        return w_ih[rows], w_hh[rows], bias[rows]
    if cell == "gru" and layer.bias_hn is not None:
        rz, n = slice(0, 2 * hidden), slice(2 * hidden, 3 * hidden)
        w_x = np.concatenate([w_ih[rz], w_ih[n], np.zeros_like(w_ih[n])])
        w_h = np.concatenate([w_hh[rz], np.zeros_like(w_hh[n]), w_hh[n]])
        return w_x, w_h, np.concatenate([bias, layer.bias_hn])
    return w_ih, w_hh, bias


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
        model, numerics = config.model, config.numerics
        reverse = model.num_layers if model.bidirectional else 0
        if len(weights.reverse_layers) != reverse:
            raise ValueError(f"weights must have {reverse} reverse layer(s) (the backward directions) for this "
                             f"configuration, not {len(weights.reverse_layers)}; quantize them with its config")
        shapes = [self.dp.gates_matvec(k) for k in range(model.num_layers)]
        if self.dp.has_output_matvec:
            shapes.append(self.dp.head_matvec)
        widest = max(shape.bits for shape in shapes)
        if blas and widest > FLOAT64_EXACT_BITS:
            raise ValueError(
                f"float64 BLAS is not exact for this configuration: its accumulators need {widest} bits, "
                f"more than {FLOAT64_EXACT_BITS}"
            )
        use_float = widest <= FLOAT64_EXACT_BITS if blas is None else blas
        rz, n_rows = slice(0, 2 * model.hidden_size), slice(2 * model.hidden_size, None)

        def layer_sums(k: int, layer) -> tuple[_MatVec, _MatVec | None]:
            """A layer's (one direction's) gate sums, and for the reset-before GRU its n rows' sums."""
            w_x, w_h, bias = _gate_weights(model.cell, model.hidden_size, layer)
            candidate = None
            if model.reset_before:  # r, z over [x; h], then n over [x; r*h]
                candidate = _MatVec(shapes[k], (w_x[n_rows], w_h[n_rows]), bias[n_rows], numerics.accum, use_float)
                w_x, w_h, bias = w_x[rz], w_h[rz], bias[rz]
            return _MatVec(shapes[k], (w_x, w_h), bias, numerics.accum, use_float), candidate

        # _sums[d][k]: direction d's (0 forward, 1 backward) sums of layer k.
        self._sums = [[layer_sums(k, layer) for k, layer in enumerate(direction)]
                      for direction in (weights.layers, weights.reverse_layers)[: model.directions]]
        if model.head:
            self._head = _MatVec(shapes[-1], (weights.head_weight,), weights.head_bias, numerics.output,
                                 use_float)
        # The Jordan cell's output layers y = out_act(W_hy h + b_hy), pre-activations in accum.
        self._outputs = [_MatVec(shapes[-1], (layer.w_hy,), layer.bias_hy, numerics.accum, use_float)
                         for layer in weights.layers] if model.jordan else []
        self._units = _units(self.dp)

    def quantize_inputs(self, x) -> tuple[np.ndarray, int]:
        """Float inputs ``[N, T, I]`` to the input format; returns the integers and the saturation count."""
        n = self.config.numerics
        return quantize(x, n.input, n.rounding)

    def run(self, x_int: np.ndarray, lengths: np.ndarray | None = None) -> GoldenResult:
        """Run a batch of quantized sequences ``[N, T, I]`` (``lengths[n]`` in 1..T, default T)."""
        model = self.config.model
        x_int = np.asarray(x_int, dtype=np.int64)
        lengths = check_batch(x_int, model.input_size, lengths, config=self.config)
        # Blocks of sequences whose gate values fit the processor's cache: faster than one big batch.
        block = min(max(_BLOCK_VALUES // (model.directions * self._sums[0][0][0].matrix.shape[0]), 64), 512)
        with _one_blas_thread():
            parts = [self._run_block(x_int[s : s + block], lengths[s : s + block])
                     for s in range(0, max(len(x_int), 1), block)]
        outputs, finals = zip(*parts, strict=True)
        finals = tuple(np.concatenate(layer) for layer in zip(*finals, strict=True))
        outputs = np.concatenate(outputs)
        labels = greedy_decode(outputs, lengths, model.ctc_blank) if model.ctc else None
        return GoldenResult(outputs, self.config.output_format, finals, labels)

    def _run_block(self, x_int: np.ndarray, lengths: np.ndarray):
        """Outputs and final states of a block of sequences."""
        model, numerics = self.config.model, self.config.numerics
        # Inside, every vector is a column and the batch the last axis: [T, features, N].
        layer_in, finals = x_int.transpose(1, 2, 0), []
        final_out = None
        for k in range(model.num_layers):
            keep_sequence = k < model.num_layers - 1 or model.return_sequences
            if model.jordan:
                layer_in, final_out, final = self._jordan_layer(k, layer_in, lengths, keep_sequence)
            elif model.bidirectional:
                layer_in, final = self._bidirectional_layer(k, layer_in, lengths, keep_sequence)
            else:
                layer_in, final = self._layer(k, layer_in, lengths, keep_sequence)
            finals.append(final.T)
        if model.jordan and not model.return_sequences:
            outputs = final_out.T
        elif model.head and model.return_sequences:  # the head at every step, 0 past a sequence's length
            steps, hidden, batch = layer_in.shape
            operands = self._head.operands(steps * batch)
            operands[:-1] = layer_in.transpose(1, 0, 2).reshape(hidden, steps * batch)
            outputs = self._head.result(operands, numerics.output, numerics).reshape(-1, steps, batch)
            outputs = np.where(np.arange(steps)[:, None] < lengths, outputs, 0).transpose(2, 1, 0)
        elif model.head:
            operands = self._head.operands(len(lengths))
            operands[:-1] = finals[-1].T
            outputs = self._head.result(operands, numerics.output, numerics).T
        elif model.return_sequences:
            outputs = layer_in.transpose(2, 0, 1)
        else:
            outputs = finals[-1]
        return outputs, finals

    def _bidirectional_layer(self, k: int, x: np.ndarray, lengths: np.ndarray, keep_sequence: bool):
        """Both directions of layer ``k`` over ``x`` ``[T, I, N]``: ``[h_fwd_t; h_bwd_t]`` ``[T, 2H, N]`` (if
        kept) and ``[h_fwd at the last step; h_bwd at step 0]`` ``[2H, N]``.

        The backward direction is the forward computation on each sequence reversed within its own
        length; its outputs are put back in time order by the same (self-inverse) reversal.
        """
        order = reversal(lengths, x.shape[0]).T[:, None, :]  # [T, 1, N]
        sequence, final = self._layer(k, x, lengths, keep_sequence)
        sequence_b, final_b = self._layer(k, np.take_along_axis(x, order, axis=0), lengths, keep_sequence,
                                          direction=1)
        if keep_sequence:
            sequence = np.concatenate([sequence, np.take_along_axis(sequence_b, order, axis=0)], axis=1)
        return sequence, np.concatenate([final, final_b])

    def _layer(self, k: int, x: np.ndarray, lengths: np.ndarray, keep_sequence: bool, direction: int = 0):
        """One layer (one direction of it) over all timesteps of ``x`` ``[T, I, N]``: ``h`` at every step
        ``[T, H, N]`` (if kept) and the final ``h`` ``[H, N]``."""
        numerics, u = self.config.numerics, self._units
        accum = numerics.accum
        gates, candidate = self._sums[direction][k]
        hidden, cell = self.config.model.hidden_size, self.config.model.cell
        steps, width, batch = x.shape
        operands = gates.operands(batch)  # [x_t; h_{t-1}; 1]
        h_operand = operands[width : width + hidden]
        h = np.zeros((hidden, batch), dtype=np.int64)
        c = np.zeros_like(h)
        sequence = np.zeros((steps, hidden, batch), dtype=np.int64) if keep_sequence else None
        first_ended = lengths.min()
        if self.config.model.reset_before:
            n_operands = candidate.operands(batch)  # [x_t; r*h_{t-1}; 1]
        for t in range(steps):
            operands[:width] = x[t]
            pre = gates.result(operands, accum, numerics)
            if self.config.model.reset_before:
                rh, z = _gru_reset(u, pre, h)
                n_operands[:width] = x[t]
                n_operands[width : width + hidden] = rh
                n_gate = u.tanh.lookup(candidate.result(n_operands, accum, numerics), u.acc_frac)
                h_new, c_new = _gru_blend(u, n_gate, z, h), c
            elif cell == "lstm":
                h_new, c_new = _lstm_update(u, pre[: 3 * hidden], pre[3 * hidden :], c)
            elif cell == "gru":
                rz, xn, hn = pre[: 2 * hidden], pre[2 * hidden : 3 * hidden], pre[3 * hidden :]
                h_new, c_new = _gru_update(u, rz, xn, hn, h), c
            else:
                h_new, c_new = _elman_update(u, pre, relu=(cell == "rnn_relu")), c
            h, c = _advance(t, lengths, first_ended, sequence, (h_new, c_new), (h, c))
            h_operand[...] = h
        return sequence, h

    def _jordan_layer(self, k: int, x: np.ndarray, lengths: np.ndarray, keep_sequence: bool):
        """One Jordan layer over all timesteps of ``x`` ``[T, I, N]``: ``y`` at every step ``[T, O, N]``
        (if kept), the final ``y`` ``[O, N]`` and the final ``h`` ``[H, N]``.

        ``h_t = act(W_ih x_t + W_yh y_{t-1} + b)`` as the Elman update; ``y_t = out_act(W_hy h_t + b_hy)``:
        the sum rounded to ``accum``, then the identity, tanh or sigmoid rounded to ``state``.
        """
        numerics, u, model = self.config.numerics, self._units, self.config.model
        gates, output = self._sums[0][k][0], self._outputs[k]
        steps, width, batch = x.shape
        operands, h_operands = gates.operands(batch), output.operands(batch)  # [x_t; y_{t-1}; 1], [h_t; 1]
        y = np.zeros((model.output_size, batch), dtype=np.int64)
        h = np.zeros((model.hidden_size, batch), dtype=np.int64)
        sequence = np.zeros((steps, model.output_size, batch), dtype=np.int64) if keep_sequence else None
        first_ended = lengths.min()
        for t in range(steps):
            operands[:width] = x[t]
            h_new = _elman_update(u, gates.result(operands, numerics.accum, numerics),
                                  relu=model.nonlinearity == "relu")
            h_operands[:-1] = h_new
            y_new = _output_activation(u, output.result(h_operands, numerics.accum, numerics),
                                       model.output_activation)
            y, h = _advance(t, lengths, first_ended, sequence, (y_new, h_new), (y, h))
            operands[width:-1] = y
        return sequence, y, h


def _advance(t: int, lengths: np.ndarray, first_ended: int, sequence: np.ndarray | None, new: tuple, old: tuple):
    """The states after step ``t`` (sequences that have ended keep theirs); the first of them is the
    step's output, stored in ``sequence`` (0 past a sequence's end) if kept."""
    if t >= first_ended:  # some sequences have ended
        active = t < lengths
        new = tuple(np.where(active, a, b) for a, b in zip(new, old, strict=True))
        if sequence is not None:
            sequence[t] = np.where(active, new[0], 0)
    elif sequence is not None:
        sequence[t] = new[0]
    return new


def _output_activation(u: _Units, pre: np.ndarray, function: str) -> np.ndarray:
    """The Jordan cell's ``y = out_act(pre)`` rounded to ``state``: the identity, or a table lookup."""
    if function == "identity":
        return u.round_to(pre, u.acc_frac, u.state)
    table = u.tanh if function == "tanh" else u.sigmoid
    return u.round_to(table.lookup(pre, u.acc_frac), u.act_frac, u.state)


#: Gate values (rows x sequences) per block of :meth:`GoldenModel.run`.
_BLOCK_VALUES = 1 << 16


@functools.cache
def _blas_controller():
    from threadpoolctl import ThreadpoolController  # it inspects the loaded libraries: once, when needed

    return ThreadpoolController()


def _one_blas_thread():
    """BLAS limited to one thread: the golden model's products are small, and on a busy machine
    OpenBLAS's threads wait for each other far longer than they compute (ten times slower, measured)."""
    return _blas_controller().limit(limits=1, user_api="blas")

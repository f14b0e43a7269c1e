"""The float64 reference: what PyTorch computes, in NumPy, for measuring the cost of quantization.

It equals ``torch.nn.LSTM``/``nn.GRU``/``nn.RNN`` (``nonlinearity="tanh"``/``"relu"``), or for
``gru_reset = "before"`` :class:`rnnhw.models.ResetBeforeGRU` (Cho et al. 2014), or for
``cell = "jordan"`` :class:`rnnhw.models.JordanRNN`, followed by an optional ``nn.Linear`` head on the
last layer's final hidden state (with ``return_sequences``, on its hidden state at every step, as
``head(output)``); with ``model.bidirectional``, PyTorch's ``bidirectional=True`` (docs/bidirectional.md),
for the same weights (PyTorch's names and gate order,
:class:`rnnhw.spec.weights.Weights`). Its pieces mirror :mod:`rnnhw.golden.model` without the rounding,
so the two can be read side by side:

=========================  ===============================================================
float_ref                  golden model
=========================  ===============================================================
:func:`lstm_elementwise`   :func:`rnnhw.golden.model.lstm_elementwise`
:func:`gru_elementwise`    :func:`rnnhw.golden.model.gru_elementwise`
:func:`gru_before_...`     :func:`rnnhw.golden.model.gru_reset_elementwise`, ``gru_candidate_elementwise``
:func:`elman_elementwise`  :func:`rnnhw.golden.model.elman_elementwise`
:func:`jordan_elementwise` ``GoldenModel._jordan_layer``
:func:`float_forward`      :meth:`rnnhw.golden.model.GoldenModel.run`
=========================  ===============================================================

Sequences shorter than the batch's ``T`` (``lengths``) behave as with ``pack_padded_sequence``: the
final state is taken at each sequence's own last step, and return_sequences outputs are 0 past it
(as ``pad_packed_sequence`` returns them).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnnhw.spec.batch import check_batch, reversal
from rnnhw.spec.config import Config
from rnnhw.spec.weights import LayerWeights, Weights

__all__ = ["FloatResult", "float_forward"]


@dataclass(frozen=True)
class FloatResult:
    """Float64 outputs of a batch, shaped like :class:`rnnhw.golden.model.GoldenResult`'s.

    ``outputs``: head ``[N, head]``; return_sequences ``[N, T, H]``, with a head ``[N, T, head]``
    (0 past a sequence's length); else ``[N, H]``. ``final_h[k]`` is layer ``k``'s hidden state at
    each sequence's last step ``[N, H]``; ``final_c[k]`` its LSTM cell state (``None`` for other cells).
    Bidirectional: 2H for H, ``final_h[k]`` being ``[h_fwd at the last step; h_bwd at step 0]``.
    """

    outputs: np.ndarray
    final_h: tuple[np.ndarray, ...]
    final_c: tuple[np.ndarray, ...] | None


def sigmoid(a: np.ndarray) -> np.ndarray:
    # The tanh form never overflows, unlike 1 / (1 + exp(-a)) for large negative a.
    return 0.5 * (1.0 + np.tanh(0.5 * a))


def lstm_elementwise(pre: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """LSTM state update from pre-activations ``[..., 4H]`` (i, f, g, o) and ``c_{t-1}``."""
    i, f, g, o = np.split(pre, 4, axis=-1)
    c_new = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
    return sigmoid(o) * np.tanh(c_new), c_new


def gru_elementwise(pre_rz: np.ndarray, xn: np.ndarray, hn: np.ndarray, h: np.ndarray) -> np.ndarray:
    """GRU state update in PyTorch's form: ``n = tanh(xn + r*hn)``, ``h_t = (1-z)*n + z*h``.

    ``xn = W_in x + b_in`` and ``hn = W_hn h + b_hn``: ``b_hn`` is gated by ``r`` with ``W_hn h``.
    """
    r, z = np.split(sigmoid(pre_rz), 2, axis=-1)
    n_gate = np.tanh(xn + r * hn)
    return (1.0 - z) * n_gate + z * h


def gru_before_elementwise(pre_rz: np.ndarray, x_n: np.ndarray, w_hn: np.ndarray, b_hn: np.ndarray,
                           h: np.ndarray) -> np.ndarray:
    """GRU with the reset before ``W_hn`` (Cho et al. 2014): ``n = tanh(x_n + W_hn (r*h) + b_hn)``,
    ``h_t = (1-z)*n + z*h``, where ``x_n = W_in x + b_in``."""
    r, z = np.split(sigmoid(pre_rz), 2, axis=-1)
    n_gate = np.tanh(x_n + (r * h) @ w_hn.T + b_hn)
    return (1.0 - z) * n_gate + z * h


def elman_elementwise(pre: np.ndarray, relu: bool) -> np.ndarray:
    """Elman update: ``h_t = tanh(a)`` or ``h_t = max(a, 0)``."""
    return np.maximum(pre, 0.0) if relu else np.tanh(pre)


def float_forward(config: Config, weights: Weights, x: np.ndarray, lengths=None) -> FloatResult:
    """Run a batch of float sequences ``[N, T, I]`` (``lengths[n]`` in 1..T, default T) in float64."""
    model = config.model
    x = np.asarray(x, dtype=np.float64)
    lengths = check_batch(x, model.input_size, lengths, config=config)
    layer_in, finals_h, finals_c = x, [], []
    for k in range(model.num_layers):
        if model.jordan:
            layer_in, h, c = _jordan_layer(config, weights.layers[k], layer_in, lengths)
        elif model.bidirectional:
            layer_in, h, c = _bidirectional_layer(config, weights.layers[k], weights.reverse_layers[k], layer_in,
                                                  lengths)
        else:
            layer_in, h, c = _layer(config, weights.layers[k], layer_in, lengths)
        finals_h.append(h)
        finals_c.append(c)
    last = finals_h[-1]
    if model.jordan:  # the output is y: at every step, or at each sequence's last step
        outputs = layer_in if model.return_sequences else layer_in[np.arange(len(lengths)), lengths - 1]
    elif model.head and model.return_sequences:  # the head at every step; 0 past a sequence's length
        outputs = np.where((np.arange(x.shape[1]) < lengths[:, None])[..., None],
                           layer_in @ weights.head_weight.T + weights.head_bias, 0.0)
    elif model.head:
        outputs = last @ weights.head_weight.T + weights.head_bias
    elif model.return_sequences:
        outputs = layer_in
    else:
        outputs = last
    return FloatResult(outputs, tuple(finals_h), tuple(finals_c) if model.cell == "lstm" else None)


OUTPUT_ACTIVATIONS = {"identity": lambda a: a, "tanh": np.tanh, "sigmoid": sigmoid}


def jordan_elementwise(pre: np.ndarray, weight_hy: np.ndarray, bias_hy: np.ndarray, relu: bool,
                       output_activation: str) -> tuple[np.ndarray, np.ndarray]:
    """Jordan cell: ``h = act(pre)``, ``y = out_act(W_hy h + b_hy)``; returns ``(h, y)``."""
    h = elman_elementwise(pre, relu)
    return h, OUTPUT_ACTIVATIONS[output_activation](h @ weight_hy.T + bias_hy)


def _jordan_layer(config: Config, lw: LayerWeights, x: np.ndarray, lengths: np.ndarray):
    """One Jordan layer: ``y`` at each step ``[N, T, O]`` (0 past the lengths), the final ``h``, no c."""
    model = config.model
    batch, steps, _ = x.shape
    x_pre = x @ lw.weight_ih.T + lw.bias_ih
    h, y = np.zeros((batch, model.hidden_size)), np.zeros((batch, model.output_size))
    sequence = np.zeros((batch, steps, model.output_size))
    for t in range(steps):
        pre = x_pre[:, t] + y @ lw.weight_hh.T + lw.bias_hh  # W_yh y_{t-1} + b_yh
        h_new, y_new = jordan_elementwise(pre, lw.weight_hy, lw.bias_hy, model.nonlinearity == "relu",
                                          model.output_activation)
        active = (t < lengths)[:, None]  # ended sequences keep their state
        h, y = np.where(active, h_new, h), np.where(active, y_new, y)
        sequence[:, t] = np.where(active, y, 0.0)
    return sequence, h, None


def _bidirectional_layer(config: Config, forward: LayerWeights, backward: LayerWeights, x: np.ndarray,
                         lengths: np.ndarray):
    """Both directions of one layer: ``[h_fwd_t; h_bwd_t]`` ``[N, T, 2H]`` and the final states
    ``[h_fwd at the last step; h_bwd at step 0]`` ``[N, 2H]`` (LSTM: c likewise)."""
    order = reversal(lengths, x.shape[1])[..., None]
    sequence, h, c = _layer(config, forward, x, lengths)
    sequence_b, h_b, c_b = _layer(config, backward, np.take_along_axis(x, order, axis=1), lengths)
    sequence = np.concatenate([sequence, np.take_along_axis(sequence_b, order, axis=1)], axis=-1)
    return sequence, np.concatenate([h, h_b], axis=-1), np.concatenate([c, c_b], axis=-1)


def _layer(config: Config, lw: LayerWeights, x: np.ndarray, lengths: np.ndarray):
    """One layer over all timesteps: ``h`` at each step ``[N, T, H]`` (0 past the lengths), final h and c."""
    hidden, cell = config.model.hidden_size, config.model.cell
    batch, steps, _ = x.shape
    # The input projection of every timestep at once: it does not depend on h.
    x_pre = x @ lw.weight_ih.T + lw.bias_ih
    h = np.zeros((batch, hidden))
    c = np.zeros_like(h)
    sequence = np.zeros((batch, steps, hidden))
    rz, n_rows = slice(0, 2 * hidden), slice(2 * hidden, 3 * hidden)
    for t in range(steps):
        h_pre = h @ lw.weight_hh.T + lw.bias_hh
        if config.model.reset_before:
            pre_rz = x_pre[:, t, rz] + h_pre[:, rz]
            h_new = gru_before_elementwise(pre_rz, x_pre[:, t, n_rows], lw.weight_hh[n_rows], lw.bias_hh[n_rows], h)
            c_new = c
        elif cell == "gru":
            pre_rz = x_pre[:, t, rz] + h_pre[:, rz]
            h_new, c_new = gru_elementwise(pre_rz, x_pre[:, t, n_rows], h_pre[:, n_rows], h), c
        elif cell == "lstm":
            h_new, c_new = lstm_elementwise(x_pre[:, t] + h_pre, c)
        else:
            h_new, c_new = elman_elementwise(x_pre[:, t] + h_pre, relu=(cell == "rnn_relu")), c
        if t >= lengths.min():  # some sequences have ended: they keep their state
            active = (t < lengths)[:, None]
            h_new, c_new = np.where(active, h_new, h), np.where(active, c_new, c)
            sequence[:, t] = np.where(active, h_new, 0.0)
        else:
            sequence[:, t] = h_new
        h, c = h_new, c_new
    return sequence, h, c

"""Calibration: choosing each tensor's integer bits from the weights and the activations on data.

hls4ml leaves this to manual profiling; rnnhw measures the largest magnitude of every tensor kind and
gives each format the fewest integer bits that hold it, keeping the configured widths, so every
remaining bit becomes a fractional bit:

========== =====================================================================================
kind       largest magnitude of
========== =====================================================================================
input      the inputs ``x``
weight     ``W_ih``, ``W_hh`` of every layer (both directions of a bidirectional one), the head's weight
bias       the biases the hardware adds (``b_ih + b_hh``; the GRU's ``b_in``, ``b_hn`` apart), head bias
state      the hidden states ``h_t`` of every layer (also the next layer's input)
cell_state the LSTM cell states ``c_t``
accum      every pre-activation rounded to ``accum`` (LSTM/Elman ``W x + W h + b``; GRU ``r``/``z``
           pre-activations, ``W_in x + b_in``, ``W_hn h + b_hn`` and ``xn + r * hn``)
output     the head's outputs
========== =====================================================================================

Activations are those of the float reference (:mod:`rnnhw.golden.float_ref`) on the calibration data,
over every sequence's valid timesteps (a bidirectional layer's backward direction on each sequence
reversed within its length, as the float reference runs it). The rule (:func:`integer_bits`): the fewest
integer bits ``I`` with ``2**(I-1) > m``, so that the format's span ``[-2**(I-1), 2**(I-1))`` contains every
value seen in calibration and every other bit is a fractional bit. The rule does not depend on the width: a value in
the last step below ``2**(I-1)`` saturates by less than a step rather than costing a whole integer bit
(which matters for hidden states, always below 1 but often within a step of it at narrow widths).
Kinds a model does not use (``cell_state`` outside LSTMs, ``output`` without a head) keep their format;
``activation`` is the tables' output, whose range is fixed by sigmoid and tanh.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from rnnhw.datasets import Dataset, valid_steps
from rnnhw.golden.float_ref import float_forward, jordan_elementwise, lstm_elementwise, sigmoid
from rnnhw.spec.batch import reversal
from rnnhw.spec.config import Config
from rnnhw.spec.fixed import FixedFormat
from rnnhw.spec.outputs import Progress
from rnnhw.spec.weights import LayerWeights, Weights

__all__ = ["KINDS", "Ranges", "weight_ranges", "activation_ranges", "observe_ranges", "integer_bits",
           "calibrated_format", "calibrate_config", "batch_slices", "MIN_INT_BITS"]

#: Tensor kinds whose integer bits calibration chooses, in the configuration's order.
KINDS = ("input", "weight", "bias", "state", "cell_state", "accum", "output")

#: Fewest integer bits calibration gives (magnitudes below 2**-9 are not worth more fractional bits,
#: and bounding the fractional bits keeps every derived intermediate within the golden model's int64).
MIN_INT_BITS = -8

#: Float elements (sequences x steps x gate rows) processed at once, bounding memory for large data.
BATCH_ELEMENTS = 1 << 22


@dataclass(frozen=True)
class Ranges:
    """Largest magnitude of each tensor kind; ``None`` for a kind the model does not use."""

    input: float
    weight: float
    bias: float
    state: float
    cell_state: float | None
    accum: float
    output: float | None

    def as_dict(self) -> dict[str, float | None]:
        return {kind: getattr(self, kind) for kind in KINDS}


def batch_slices(count: int, elements_per_sequence: int) -> list[slice]:
    """Consecutive slices of ``count`` sequences, each holding about :data:`BATCH_ELEMENTS` elements."""
    size = max(1, BATCH_ELEMENTS // max(1, elements_per_sequence))
    return [slice(start, min(start + size, count)) for start in range(0, count, size)]


def _max_abs(*arrays) -> float:
    return max((float(np.max(np.abs(a))) for a in arrays if np.size(a)), default=0.0)


def hardware_biases(layer: LayerWeights, cell: str, hidden: int, reset_before: bool = False) -> tuple[np.ndarray, ...]:
    """The bias vectors the hardware adds, as :func:`rnnhw.spec.weights.quantize_weights` forms them."""
    if cell == "gru" and not reset_before:
        rz = slice(0, 2 * hidden)
        return layer.bias_ih[rz] + layer.bias_hh[rz], layer.bias_ih[2 * hidden:], layer.bias_hh[2 * hidden:]
    return (layer.bias_ih + layer.bias_hh,)


def weight_ranges(config: Config, weights: Weights) -> dict[str, float]:
    """Largest magnitude of the weights and of the biases (as the hardware adds them)."""
    model = config.model
    layers = weights.layers + weights.reverse_layers  # both directions of a bidirectional model
    matrices = [m for layer in layers for m in (layer.weight_ih, layer.weight_hh)]
    biases = [b for layer in layers for b in hardware_biases(layer, model.cell, model.hidden_size, model.reset_before)]
    if model.jordan:  # the output layers
        matrices += [layer.weight_hy for layer in weights.layers]
        biases += [layer.bias_hy for layer in weights.layers]
    if model.head:
        matrices.append(weights.head_weight)
        biases.append(weights.head_bias)
    return {"weight": _max_abs(*matrices), "bias": _max_abs(*biases)}


def _jordan_layer_ranges(config: Config, layer: LayerWeights, x: np.ndarray, lengths: np.ndarray):
    """Outputs ``y`` ``[N, T, O]`` of a Jordan layer and the largest |h|, |y| (both ``state``) and
    |pre-activation| (of h and of y) in it."""
    model = config.model
    batch, steps, _ = x.shape
    valid = valid_steps(lengths, steps)
    x_pre = x @ layer.weight_ih.T + layer.bias_ih
    y = np.zeros((batch, model.output_size))
    ys, states, accums = np.zeros((batch, steps, model.output_size)), [], []
    for t in range(steps):
        pre = x_pre[:, t] + y @ layer.weight_hh.T + layer.bias_hh
        h, y_new = jordan_elementwise(pre, layer.weight_hy, layer.bias_hy, model.nonlinearity == "relu",
                                      model.output_activation)
        active = valid[:, t]
        states += [h[active], y_new[active]]
        accums += [pre[active], (h @ layer.weight_hy.T + layer.bias_hy)[active]]
        y = np.where(active[:, None], y_new, y)
        ys[:, t] = np.where(active[:, None], y, 0.0)
    return ys, {"state": _max_abs(*states), "cell_state": None, "accum": _max_abs(*accums)}


def _layer_ranges(config: Config, k: int, layer: LayerWeights, x: np.ndarray, lengths: np.ndarray):
    """Hidden states ``[N, T, H]`` of layer ``k`` and the largest |h|, |c| and |pre-activation| in it."""
    model = config.model
    hidden, cell = model.hidden_size, model.cell
    single = config.replace("model", input_size=model.layer_input_size(k), num_layers=1, head=0,
                            return_sequences=True, ctc_blank=None, bidirectional=False)
    h_seq = float_forward(single, Weights((layer,)), x, lengths).outputs
    batch, steps, _ = x.shape
    valid = valid_steps(lengths, steps)
    h_prev = np.concatenate([np.zeros((batch, 1, hidden)), h_seq[:, :-1]], axis=1)
    x_pre = x @ layer.weight_ih.T + layer.bias_ih
    h_pre = h_prev @ layer.weight_hh.T + layer.bias_hh
    cell_max = None
    if model.reset_before:  # r, z over [x; h]; n over [x; r*h]
        rz, n_rows = slice(0, 2 * hidden), slice(2 * hidden, 3 * hidden)
        pre_rz = x_pre[..., rz] + h_pre[..., rz]
        rh = sigmoid(pre_rz[..., :hidden]) * h_prev
        a_n = x_pre[..., n_rows] + rh @ layer.weight_hh[n_rows].T + layer.bias_hh[n_rows]
        accum = _max_abs(*(a[valid] for a in (pre_rz, a_n)))
    elif cell == "gru":
        rz, n_rows = slice(0, 2 * hidden), slice(2 * hidden, 3 * hidden)
        pre_rz, xn, hn = x_pre[..., rz] + h_pre[..., rz], x_pre[..., n_rows], h_pre[..., n_rows]
        a_n = xn + sigmoid(pre_rz[..., :hidden]) * hn
        accum = _max_abs(*(a[valid] for a in (pre_rz, xn, hn, a_n)))
    else:
        pre = x_pre + h_pre
        accum = _max_abs(pre[valid])
        if cell == "lstm":
            # c_t follows from the pre-activations alone: the float h sequence already fixed them.
            c = np.zeros((batch, hidden))
            cell_max = 0.0
            for t in range(steps):
                c = np.where(valid[:, t, None], lstm_elementwise(pre[:, t], c)[1], c)
                cell_max = max(cell_max, _max_abs(c))
    return h_seq, {"state": _max_abs(h_seq[valid]), "cell_state": cell_max, "accum": accum}


def activation_ranges(config: Config, weights: Weights, x: np.ndarray,
                      lengths=None) -> dict[str, float | None]:
    """Largest magnitude of the inputs, states, cell states, pre-activations and head outputs on ``x``."""
    model = config.model
    batch, steps, _ = x.shape
    lengths = np.full(batch, steps) if lengths is None else np.asarray(lengths)
    valid = valid_steps(lengths, steps)  # padding past a sequence's end is never read
    found = {"input": _max_abs(x[valid]), "state": 0.0, "cell_state": None, "accum": 0.0, "output": None}
    layer_in = np.asarray(x, dtype=np.float64)
    order = reversal(lengths, steps)[..., None]
    for k, layer in enumerate(weights.layers):
        if model.jordan:
            layer_in, ranges = _jordan_layer_ranges(config, layer, layer_in, lengths)
            directions = [ranges]
        else:
            outputs, directions = _layer_ranges(config, k, layer, layer_in, lengths)
            if model.bidirectional:  # the backward direction reads the sequence reversed within its length
                backward, ranges = _layer_ranges(config, k, weights.reverse_layers[k],
                                                 np.take_along_axis(layer_in, order, axis=1), lengths)
                outputs = np.concatenate([outputs, np.take_along_axis(backward, order, axis=1)], axis=-1)
                directions = [directions, ranges]
            else:
                directions = [directions]
            layer_in = outputs
        for ranges in directions:
            for kind, value in ranges.items():
                if value is not None:
                    found[kind] = max(found[kind] or 0.0, value)
    if model.head:  # the head reads the final h, or with return_sequences h at every step
        read = layer_in[valid] if model.return_sequences else final_outputs(config, layer_in, lengths)
        found["output"] = _max_abs(read @ weights.head_weight.T + weights.head_bias)
    return found


def final_outputs(config: Config, sequence: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The last layer's final vector from its outputs at every step ``[N, T, D*H]``: ``h`` at each
    sequence's last step; bidirectional, ``[h_fwd at the last step; h_bwd at step 0]``."""
    last = sequence[np.arange(len(lengths)), lengths - 1]
    if not config.model.bidirectional:
        return last
    return np.concatenate([last[:, : config.model.hidden_size], sequence[:, 0, config.model.hidden_size :]], axis=1)


def observe_ranges(config: Config, weights: Weights, data: Dataset, progress: bool = False) -> Ranges:
    """:class:`Ranges` of a model on ``data`` (in batches; progress lines on stderr if asked)."""
    model = config.model
    slices = batch_slices(data.size, data.steps * model.gates * model.hidden_size * model.num_layers
                          * model.directions)
    meter = Progress("calibrating on the float reference", data.size, quiet=not progress)
    found = dict(weight_ranges(config, weights))
    for part in slices:
        lengths = data.lengths[part] if data.lengths is not None else None
        for kind, value in activation_ranges(config, weights, data.x[part], lengths).items():
            if value is not None:
                found[kind] = max(found.get(kind) or 0.0, value)
            else:
                found.setdefault(kind, None)
        meter.update(part.stop)
    return Ranges(**found)


def integer_bits(magnitude: float, width: int) -> int:
    """Fewest integer bits ``I`` (sign included) with ``2**(I-1) > magnitude``, within the width.

    ``fixed<width,I>`` then spans ``[-2**(I-1), 2**(I-1))``, which contains ``magnitude``. Clamped to
    ``MIN_INT_BITS..width``; a magnitude of 0 gets 1 integer bit, an infinite one ``width``.
    """
    if not magnitude > 0:
        return 1
    if not math.isfinite(magnitude):
        return width
    _, exponent = math.frexp(magnitude)  # 2**(exponent-1) <= magnitude < 2**exponent
    return min(width, max(MIN_INT_BITS, exponent + 1))


def calibrated_format(magnitude: float, width: int) -> FixedFormat:
    return FixedFormat(width, integer_bits(magnitude, width))


def calibrate_config(config: Config, ranges: Ranges) -> Config:
    """``config`` with the integer bits of every used kind chosen from ``ranges`` (widths kept)."""
    numerics = config.numerics
    changes = {
        kind: str(calibrated_format(value, getattr(numerics, kind).width))
        for kind, value in ranges.as_dict().items()
        if value is not None
    }
    return config.replace("numerics", **changes)

"""Shared pieces of the ``rtl/`` component tests: configurations and full-range integer weights.

Layouts, lane parameters and memory depths come from where the design takes them:
``rnnhw.rtl.layouts.design_layouts``, ``rnnhw.spec.design.lane_parameters`` and ``memory_sizes``.
"""

from __future__ import annotations

import numpy as np

from rnnhw.spec.config import config_from_dict
from rnnhw.spec.weights import QuantizedLayer, QuantizedWeights

#: 8-bit formats whose fractional bits differ, so every alignment shift is non-trivial.
NARROW = {"input": "fixed<8,1>", "weight": "fixed<8,2>", "bias": "fixed<8,3>", "state": "fixed<8,3>",
          "cell_state": "fixed<8,4>", "accum": "fixed<12,5>", "activation": "fixed<8,2>",
          "output": "fixed<8,4>", "lut_size": 64}


def make_config(cell, *, input_size, hidden, layers=1, head=0, lanes=1, numerics=None, multipliers="logic",
                return_sequences=False, hardware=None):
    return config_from_dict({
        "model": {"cell": cell, "input_size": input_size, "hidden_size": hidden, "num_layers": layers,
                  "head": head, "return_sequences": return_sequences},
        "numerics": dict(NARROW, **(numerics or {})),
        "hardware": {"lanes": lanes, "elementwise_multipliers": multipliers, **(hardware or {})},
    })


def uniform(rng, fmt, size):
    """Integers of ``fmt``, uniform over its whole range (extremes included)."""
    return rng.integers(fmt.min_int, fmt.max_int + 1, size=size, dtype=np.int64)


def full_range_weights(config, rng) -> QuantizedWeights:
    """Weights and biases drawn over their formats' whole ranges (not PyTorch's small initialisation)."""
    m, n = config.model, config.numerics
    rows = m.gates * m.hidden_size
    layers = tuple(
        QuantizedLayer(uniform(rng, n.weight, (rows, m.layer_input_size(k))),
                       uniform(rng, n.weight, (rows, m.hidden_size)), uniform(rng, n.bias, rows),
                       uniform(rng, n.bias, m.hidden_size) if m.cell == "gru" else None)
        for k in range(m.num_layers))
    head_weight = uniform(rng, n.weight, (m.head, m.hidden_size)) if m.head else None
    head_bias = uniform(rng, n.bias, m.head) if m.head else None
    return QuantizedWeights(layers, head_weight, head_bias, {})

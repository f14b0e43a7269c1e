"""Shared pieces of the ``rtl/`` component tests: configurations, layouts and full-range integer weights."""

from __future__ import annotations

import numpy as np

from rnnhw.rtl.layouts import issue_layout, item_layout, job_layout
from rnnhw.spec.config import config_from_dict
from rnnhw.spec.datapath import datapath, lane_accumulator
from rnnhw.spec.schedule import Schedule
from rnnhw.spec.weights import QuantizedLayer, QuantizedWeights

#: 8-bit formats whose fractional bits differ, so every alignment shift is non-trivial.
NARROW = {"input": "fixed<8,1>", "weight": "fixed<8,2>", "bias": "fixed<8,3>", "state": "fixed<8,3>",
          "cell_state": "fixed<8,4>", "accum": "fixed<12,5>", "activation": "fixed<8,2>",
          "output": "fixed<8,4>", "lut_size": 64}


def make_config(cell, *, input_size, hidden, layers=1, head=0, lanes=1, numerics=None, multipliers="logic"):
    return config_from_dict({
        "model": {"cell": cell, "input_size": input_size, "hidden_size": hidden, "num_layers": layers,
                  "head": head},
        "numerics": dict(NARROW, **(numerics or {})),
        "hardware": {"lanes": lanes, "elementwise_multipliers": multipliers},
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


def layouts(config, *, value_width=None):
    """``(job, issue, item)`` layouts as ``RNNAccelerator`` builds them (items of ``value_width`` bits,
    by default the lane accumulator's)."""
    sch = Schedule(config)
    m = config.model
    units = max(m.hidden_size, m.head)
    job = job_layout(layers=m.num_layers, lanes=sch.lanes, units=units, gates=m.gates)
    issue = issue_layout(job=job, weight_depth=sch.weight_depth, bias_depth=sch.bias_depth)
    if value_width is None:
        value_width = lane_accumulator(datapath(config))[1]
    item = item_layout(job=job, value_width=value_width, units=units, gates=m.gates)
    return job, issue, item

"""Worst-case range analysis: does the accumulator format hold every pre-activation?

The worst case is the exact accumulator bound (:attr:`~.datapath.MatVecShape.bound`: every weight,
input, state and bias at full scale) rounded to ``accum``'s fractional bits as the datapath rounds it.
"""

from __future__ import annotations

import numpy as np

from .config import Config
from .datapath import MatVecShape, datapath
from .fixed import MAX_FORMAT_WIDTH, FixedFormat, Overflow, Rounding, shift_round
from .formatting import number, value_range

__all__ = ["holds_worst_case", "narrowest_holding", "accumulator_warnings"]


def holds_worst_case(shape: MatVecShape, fmt: FixedFormat, rounding: Rounding) -> bool:
    """Whether ``fmt`` holds the exact sum's extremes ``±shape.bound`` once rounded to its fractional bits."""
    shift = shape.frac_bits - fmt.frac_bits
    if shift <= 0:  # an exact left shift, in Python ints (no overflow)
        low, high = -shape.bound << -shift, shape.bound << -shift
    else:
        low, high = (int(v) for v in shift_round(np.array([-shape.bound, shape.bound]), shift, rounding))
    return fmt.min_int <= low and high <= fmt.max_int


def narrowest_holding(shape: MatVecShape, fmt: FixedFormat, rounding: Rounding) -> FixedFormat | None:
    """``fmt`` with the fewest extra integer bits that holds the worst case (at 48 bits, fewer fractional)."""
    for int_bits in range(fmt.int_bits + 1, MAX_FORMAT_WIDTH + 1):
        candidate = FixedFormat(min(int_bits + fmt.frac_bits, MAX_FORMAT_WIDTH), int_bits)
        if holds_worst_case(shape, candidate, rounding):
            return candidate
    return None


def accumulator_warnings(config: Config) -> list[str]:
    """One message per layer whose worst-case pre-activation does not fit ``numerics.accum``."""
    dp, n = datapath(config), config.numerics
    action = "saturate" if n.overflow is Overflow.SAT else "wrap around"
    messages = []
    for k in range(config.model.num_layers):
        shape = dp.gates_matvec(k)
        if holds_worst_case(shape, n.accum, n.rounding):
            continue
        wider = narrowest_holding(shape, n.accum, n.rounding)
        fix = (f"use at least {wider.int_bits} integer bits, e.g. {wider}" if wider else
               f"no format of up to {MAX_FORMAT_WIDTH} bits can; use narrower weight, input or state formats")
        worst = number(shape.bound * 2.0**-shape.frac_bits)
        messages.append(
            f"numerics.accum = {n.accum} holds {value_range(n.accum)} but layer {k}'s pre-activations reach "
            f"±{worst} in the worst case (full-scale weights, inputs and state) and would {action}; {fix}"
        )
    return messages

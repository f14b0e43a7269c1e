"""Data layouts passed between the accelerator's components."""

from __future__ import annotations

from amaranth.hdl import signed
from amaranth.lib import data

__all__ = ["job_layout", "issue_layout", "item_layout", "Part"]


class Part:
    """Which sum a matrix-vector result item carries (GRU n rows produce two)."""

    WHOLE = 0  #: ``W x + W h + b``
    X = 1  #: GRU n row, ``W_in x + b_in``
    H = 2  #: GRU n row, ``W_hn h + b_hn``


def job_layout(*, layers: int, lanes: int, units: int, gates: int) -> data.StructLayout:
    """What a pass is for; it travels with the pass's results to the elementwise unit.

    ``units`` bounds the hidden size and the head size; ``unit0``/``gate0`` name the pass's first row.
    """
    return data.StructLayout({
        "head": 1,  # the Linear head rather than gate rows
        "layer": range(max(layers, 2)),
        "wgen": 2,  # step generation the results belong to (its low bit is the h bank)
        "t0": 1,  # first timestep of a sequence: previous state is zero
        "emit": 1,  # the new h (or head output) goes to the output stream
        "whole_units": 1,  # every row of the pass is a whole unit (the reset-before GRU's n rows)
        "rows": range(lanes + 1),  # valid lanes in this pass
        "unit0": range(max(units, 2)),
        "gate0": range(max(gates, 2)),
    })


def issue_layout(*, job: data.StructLayout, weight_depth: int, bias_depth: int) -> data.StructLayout:
    """One issued multiply-accumulate step of all lanes (stage 0 of :class:`MatVecUnit`)."""
    return data.StructLayout({
        "valid": 1,
        "first": 1,  # first operand: the sum restarts from the bias
        "split": 1,  # first operand of the h segment (GRU n rows restart here)
        "last": 1,  # last operand: the sums are complete
        "from_input": 1,  # operand is in the input format (layer 0, x segment)
        "w_addr": range(max(weight_depth, 2)),
        "b_addr": range(max(bias_depth, 2)),
        "job": job,
    })


def item_layout(*, job: data.StructLayout, value_width: int, units: int, gates: int) -> data.StructLayout:
    """One result of the matrix-vector unit, in row order."""
    return data.StructLayout({
        "value": signed(value_width),
        "part": 2,
        "unit": range(max(units, 2)),
        "gate": range(max(gates, 2)),
        "job": job,
    })

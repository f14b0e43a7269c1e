"""Data layouts passed between the accelerator's components."""

from __future__ import annotations

from dataclasses import dataclass

from amaranth.hdl import signed
from amaranth.lib import data

from rnnhw.spec.config import Config
from rnnhw.spec.ctc import label_width
from rnnhw.spec.design import lane_parameters
from rnnhw.spec.fixed import FixedFormat
from rnnhw.spec.schedule import Schedule

from .fixed import format_shape

__all__ = ["job_layout", "issue_layout", "item_layout", "output_element_layout", "logit_element_layout",
           "label_element_layout", "Part", "DesignLayouts", "design_layouts"]


class Part:
    """Which sum a matrix-vector result item carries (GRU n rows produce two)."""

    WHOLE = 0  #: ``W x + W h + b``
    X = 1  #: GRU n row, ``W_in x + b_in``
    H = 2  #: GRU n row, ``W_hn h + b_hn``


def job_layout(*, layers: int, lanes: int, units: int, gates: int, rows: int = 0) -> data.StructLayout:
    """What a pass is for; it travels with the pass's results to the elementwise unit.

    ``units`` bounds the hidden size, the head size and the Jordan cell's O; ``unit0``/``gate0`` name
    the pass's first row. ``layers`` counts state layers (per direction). A bidirectional core's jobs
    (``rows``: the state memory's words) also carry the state memory address of the ``h`` row they
    write (``row``) and of the previous step's (``prev_row``), which the elementwise unit adds units to.
    """
    sequence = {"row": range(max(rows, 2)), "prev_row": range(max(rows, 2))} if rows else {}
    return data.StructLayout({
        **sequence,
        "head": 1,  # the Linear head rather than gate rows
        "layer": range(max(layers, 2)),
        "wgen": 2,  # step generation the results belong to (its low bit is the h bank)
        "t0": 1,  # first timestep of a sequence: previous state is zero
        "emit": 1,  # the new h (or head output) goes to the output stream
        "whole_units": 1,  # every row of the pass is a whole unit (the reset-before GRU's n rows)
        "end": 1,  # head jobs: the step is its sequence's last (CTC decoding ends the sequence)
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


def output_element_layout(fmt: FixedFormat) -> data.StructLayout:
    """One element of the output stream: a value of ``fmt`` and ``last`` on a vector's last element."""
    return data.StructLayout({"data": format_shape(fmt), "last": 1})


def logit_element_layout(fmt: FixedFormat) -> data.StructLayout:
    """One head output on its way to the CTC decoder: ``end`` marks a sequence's last step's vector."""
    return data.StructLayout({"data": format_shape(fmt), "last": 1, "end": 1})


def label_element_layout(classes: int) -> data.StructLayout:
    """One element of a CTC output stream: a decoded label (or ``EMPTY``) and ``last`` (``spec/ctc.py``)."""
    return data.StructLayout({"data": signed(label_width(classes)), "last": 1})


@dataclass(frozen=True)
class DesignLayouts:
    """The layouts of one configuration's design (see :func:`design_layouts`)."""

    job: data.StructLayout
    issue: data.StructLayout
    sums: data.StructLayout  # items of MatVecUnit: exact sums, the lane accumulator's width
    gate_items: data.StructLayout  # items of ElementwiseUnit: pre-activations in the accum format
    output_element: data.StructLayout


def design_layouts(config: Config) -> DesignLayouts:
    """The layouts ``RNNAccelerator`` builds for ``config`` (its tests build the same)."""
    model, sch = config.model, Schedule(config)
    units = max(model.hidden_size, model.head, model.output_size)  # the Jordan cell's y rows: O
    job = job_layout(layers=sch.state_layers, lanes=sch.lanes, units=units, gates=model.gates,
                     rows=sch.state_depth if model.bidirectional else 0)
    return DesignLayouts(
        job=job,
        issue=issue_layout(job=job, weight_depth=sch.weight_depth, bias_depth=sch.bias_depth),
        sums=item_layout(job=job, value_width=lane_parameters(config).acc_width, units=units, gates=model.gates),
        gate_items=item_layout(job=job, value_width=config.numerics.accum.width, units=units, gates=model.gates),
        output_element=label_element_layout(model.head) if model.ctc else output_element_layout(config.output_format))

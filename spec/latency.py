"""Pipeline latencies of the hardware's blocks, as plain numbers.

The RTL builds its pipelines to these depths (and its tests check that it does); the schedule model
(:mod:`.schedule`) uses them to predict cycles per step without elaborating any hardware.
"""

from __future__ import annotations

from .datapath import Datapath
from .lut import ActivationTable

__all__ = ["DRAIN_DELAY", "MULTIPLIER_LATENCY", "TABLE_LATENCY", "INTERPOLATED_TABLE_LATENCY",
           "table_latency", "gate_latency", "elementwise_latency", "h_ready_delay"]

#: Cycles from issuing a pass's last step until its sums are in the drain (``MatVecUnit``).
DRAIN_DELAY = 5
#: Cycles from the operands to the product, for both multiplier kinds of the elementwise unit.
MULTIPLIER_LATENCY = 2
#: Cycles of an activation-table lookup: |x|, index, ROM address, ROM read, sign, output register.
TABLE_LATENCY = 5
#: With interpolation, one more cycle for the slope multiply.
INTERPOLATED_TABLE_LATENCY = 6


def table_latency(table: ActivationTable, in_frac: int) -> int:
    """Cycles of one lookup of ``table`` with inputs of ``in_frac`` fractional bits (``ActivationLUT``)."""
    interpolated = table.interpolate and table.index_shift(in_frac) > 0
    return INTERPOLATED_TABLE_LATENCY if interpolated else TABLE_LATENCY


def gate_latency(datapath: Datapath) -> int:
    """Cycles through the gate tables: the slower of sigmoid and tanh on accumulator-format inputs."""
    frac = datapath.numerics.accum.frac_bits
    return max(table_latency(datapath.sigmoid, frac), table_latency(datapath.tanh, frac))


def elementwise_latency(datapath: Datapath) -> int:
    """Cycles from a unit's last pre-activation to its ``h`` write (``ElementwiseUnit.latency``).

    For the GRU with the reset before ``W_hn``, also from an r item to its ``r*h`` write.
    """
    n, gates = datapath.numerics, gate_latency(datapath)
    if datapath.config.model.reset_before:
        # Gate tables (n = tanh of the n row), h - n registered, z*(h - n), the write register. An r
        # item's r*h takes the same cycles (its multiply, one register, the write register).
        return gates + 1 + MULTIPLIER_LATENCY + 1
    # Gate tables, then (LSTM, GRU) two multiplies, one table and four registers (LSTM five).
    update = gates + 4 + 2 * MULTIPLIER_LATENCY
    return {
        "lstm": update + 1 + table_latency(datapath.tanh, n.cell_state.frac_bits),
        "gru": update + table_latency(datapath.tanh, n.accum.frac_bits),
        "rnn_tanh": gates + 1,
        "rnn_relu": gates + 1,
        "jordan": gates + 1,  # h = act(pre) and y = out_act(pre) alike: the tables, then the write register
    }[datapath.config.model.cell]


def h_ready_delay(datapath: Datapath) -> int:
    """Cycles from a pass's last issued step until ``h`` of a unit at drain position 0 is readable.

    The drain delay, one conversion register, the elementwise latency and the state memory write.
    """
    return DRAIN_DELAY + 2 + elementwise_latency(datapath)

"""Pipeline latencies of the hardware's blocks, as plain numbers.

The RTL builds its pipelines to these depths (and its tests check that it does); the schedule model
(:mod:`.schedule`) uses them to predict cycles per step without elaborating any hardware.
"""

from __future__ import annotations

import math

from .config import HardwareConfig
from .datapath import Datapath
from .lut import ActivationTable

__all__ = ["DRAIN_DELAY", "MULTIPLIER_LATENCY", "TABLE_LATENCY", "INTERPOLATED_TABLE_LATENCY",
           "tree_levels", "broadcast_groups", "broadcast_levels", "block_ram_words", "weight_banks",
           "multiplier_registers", "operand_registers", "drain_delay", "table_latency", "gate_latency",
           "elementwise_latency", "h_ready_delay"]

#: Cycles from issuing a pass's last step until its first item leaves the drain (``MatVecUnit``), when
#: the issue reaches every lane without a broadcast tree (P <= ``hardware.broadcast_fanout``).
DRAIN_DELAY = 5
#: Cycles from the operands to the product, for both multiplier kinds of the elementwise unit.
MULTIPLIER_LATENCY = 2
#: Cycles of an activation-table lookup: |x|, index, ROM address, ROM read, sign, output register.
TABLE_LATENCY = 5
#: With interpolation, one more cycle for the slope multiply.
INTERPOLATED_TABLE_LATENCY = 6


def tree_levels(leaves: int, fanout: int) -> int:
    """Register levels of a tree that brings one value to ``leaves`` registers with no register driving
    more than ``fanout`` others: the fewest levels L with ``fanout**L >= leaves`` (0 for one leaf)."""
    levels, reach = 0, 1
    while reach < leaves:
        reach *= fanout
        levels += 1
    return levels


def broadcast_groups(hardware: HardwareConfig) -> int:
    """Groups of at most ``broadcast_fanout`` lanes: each has its own copy of the issued step and operand."""
    return math.ceil(hardware.lanes / hardware.broadcast_fanout)


def broadcast_levels(hardware: HardwareConfig) -> int:
    """Register levels of the matrix-vector unit's broadcast tree: the fewest that bring the issued step
    and operand to every lane group with no register driving more than ``broadcast_fanout`` others.

    0 while one group holds every lane (P <= fanout: the lanes read the issue directly); with the
    default fanout 8, 1 level up to P = 64 and 2 up to P = 512.
    """
    return tree_levels(broadcast_groups(hardware), hardware.broadcast_fanout)


#: (width, words) of one 18-Kbit block RAM (ECP5 DP16KD, xc7 RAMB18E1), narrowest first.
BLOCK_RAM_SHAPES = ((1, 16384), (2, 8192), (4, 4096), (9, 2048), (18, 1024))


def block_ram_words(width: int) -> int:
    """Words of ``width`` bits one 18-Kbit block RAM holds (wider words: 1,024, in blocks side by side)."""
    return next((words for bits, words in BLOCK_RAM_SHAPES if width <= bits), 1024)


def weight_banks(depth: int, width: int, writable: bool = False) -> int:
    """Banks of a lane's weight memory of ``depth`` words of ``width`` bits: one per block RAM
    (:func:`block_ram_words`) when it needs more than one, each with a register at its output, so that no
    logic follows a block RAM's slow clock-to-out; one for runtime weights (``writable``), whose
    read-back takes the memory's own read port."""
    words = block_ram_words(width)
    return 1 if writable or depth <= words else math.ceil(depth / words)


def multiplier_registers(hardware: HardwareConfig) -> int:
    """Registers added on each side of every lane's multiplier: 1 behind a broadcast tree (so that the
    multiplier's inputs and output each have a register by the DSP block to route from and to, whatever
    the placer does with the lane's other registers), else 0."""
    return int(broadcast_levels(hardware) > 0)


def operand_registers(hardware: HardwareConfig) -> int:
    """Cycles the issued operand comes after its step's stage 1 (``IssueSignature``): 1 behind a
    broadcast tree, where the sequencer registers the input buffer's and the state memory's read data
    before choosing between them, else 0."""
    return int(broadcast_levels(hardware) > 0)


def drain_delay(hardware: HardwareConfig, banks: int = 1) -> int:
    """Cycles from a pass's last issued step until its first item leaves the drain: :data:`DRAIN_DELAY`,
    plus one per broadcast level (every lane works that many cycles behind the issue), one when the
    weight memories are banked (the bank registers), two with :func:`multiplier_registers` and one
    with :func:`operand_registers`."""
    return (DRAIN_DELAY + broadcast_levels(hardware) + (banks > 1) + 2 * multiplier_registers(hardware)
            + operand_registers(hardware))


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


def h_ready_delay(datapath: Datapath, drain: int) -> int:
    """Cycles from a pass's last issued step until ``h`` of a unit at drain position 0 is readable.

    The drain delay ``drain`` (``Schedule.drain_delay``), one conversion register, the elementwise
    latency and the state memory write.
    """
    return drain + 2 + elementwise_latency(datapath)

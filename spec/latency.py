"""Pipeline latencies of the hardware's blocks, as plain numbers.

The RTL builds its pipelines to these depths (and its tests check that it does); the schedule model
(:mod:`.schedule`) uses them to predict cycles per step without elaborating any hardware.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .config import HardwareConfig
from .datapath import Datapath
from .lut import ActivationTable

__all__ = ["DRAIN_DELAY", "MULTIPLIER_LATENCY", "TABLE_LATENCY", "INTERPOLATED_TABLE_LATENCY",
           "tree_levels", "block_ram_words", "weight_banks", "LanePipeline", "lane_pipeline",
           "broadcast_groups", "broadcast_levels", "operand_registers", "table_read_registers", "table_latency",
           "gate_latency",
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


@dataclass(frozen=True)
class LanePipeline:
    """The matrix-vector unit's pipeline for ``lanes`` lanes, ``fanout`` = ``hardware.broadcast_fanout``
    and weight memories of ``banks`` banks (:func:`weight_banks`): every depth the RTL builds and the
    schedule counts, defined here once."""

    lanes: int
    fanout: int
    banks: int = 1

    @property
    def groups(self) -> int:
        """Groups of at most ``fanout`` lanes: each has its own copy of the issued step and operand."""
        return math.ceil(self.lanes / self.fanout)

    @property
    def levels(self) -> int:
        """Register levels of the broadcast tree: the fewest that bring the issued step and operand to
        every lane group with no register driving more than ``fanout`` others. 0 while one group holds
        every lane (P <= fanout: the lanes read the issue directly); with fanout 8, 1 level up to
        P = 64 and 2 up to P = 512."""
        return tree_levels(self.groups, self.fanout)

    @property
    def multiplier_registers(self) -> int:
        """Registers added on each side of every lane's multiplier: 1 behind a broadcast tree (so that
        the multiplier's inputs and output each have a register by the DSP block to route from and to,
        whatever the placer does with the lane's other registers), else 0."""
        return int(self.levels > 0)

    @property
    def operand_registers(self) -> int:
        """Cycles the issued operand comes after its step's stage 1 (``IssueSignature``): 1 behind a
        broadcast tree, where the sequencer registers the input buffer's and the state memory's read
        data before choosing between them, else 0."""
        return int(self.levels > 0)

    @property
    def read_delay(self) -> int:
        """Cycles the bank registers add to every lane: 2 with banks (each bank's output goes through
        two registers before the addressed one is chosen, so that the first can be the block RAM's
        output register), else 0."""
        return 2 * int(self.banks > 1)

    @property
    def lane_delay(self) -> int:
        """Cycles every lane adds to the 4 of a lane without banks or multiplier registers."""
        return self.read_delay + 2 * self.multiplier_registers

    @property
    def drain_delay(self) -> int:
        """Cycles from a pass's last issued step until its first item leaves the drain: :data:`DRAIN_DELAY`,
        plus one per broadcast level (every lane works that many cycles behind the issue), the lanes'
        :attr:`lane_delay` and the :attr:`operand_registers`."""
        return DRAIN_DELAY + self.levels + self.lane_delay + self.operand_registers


def lane_pipeline(hardware: HardwareConfig, banks: int = 1) -> LanePipeline:
    """The :class:`LanePipeline` of a configuration's lanes (``banks``: ``Schedule.weight_banks``)."""
    return LanePipeline(hardware.lanes, hardware.broadcast_fanout, banks)


def broadcast_groups(hardware: HardwareConfig) -> int:
    """:attr:`LanePipeline.groups` of a configuration."""
    return lane_pipeline(hardware).groups


def broadcast_levels(hardware: HardwareConfig) -> int:
    """:attr:`LanePipeline.levels` of a configuration."""
    return lane_pipeline(hardware).levels


def operand_registers(hardware: HardwareConfig) -> int:
    """:attr:`LanePipeline.operand_registers` of a configuration."""
    return lane_pipeline(hardware).operand_registers


def table_read_registers(hardware: HardwareConfig) -> int:
    """Registers behind an activation table's block RAM (``ActivationLUT.read_registers``): 2 behind a
    broadcast tree, else 1. Beyond ``broadcast_fanout`` lanes the lanes' block RAMs fill the device's
    RAM columns and the placer cannot keep a table's block RAM by the logic that reads it (LSTM I=64
    H=128 P=64 on the ECP5: 4.4 ns of routing after the cell-state table's 4.1 ns clock-to-out); with a
    second register the first can be the block's output register, and the route gets a cycle."""
    return 1 + int(broadcast_levels(hardware) > 0)


def table_latency(table: ActivationTable, in_frac: int, read_registers: int = 1) -> int:
    """Cycles of one lookup of ``table`` with inputs of ``in_frac`` fractional bits (``ActivationLUT``),
    ``read_registers`` registers behind its block RAM (interpolated lookups: the slope multiplier's
    input registers, always one)."""
    interpolated = table.interpolate and table.index_shift(in_frac) > 0
    return INTERPOLATED_TABLE_LATENCY if interpolated else TABLE_LATENCY + read_registers - 1


def gate_latency(datapath: Datapath) -> int:
    """Cycles through the gate tables: the slower of sigmoid and tanh on accumulator-format inputs."""
    frac, registers = datapath.numerics.accum.frac_bits, table_read_registers(datapath.config.hardware)
    return max(table_latency(datapath.sigmoid, frac, registers), table_latency(datapath.tanh, frac, registers))


def elementwise_latency(datapath: Datapath) -> int:
    """Cycles from a unit's last pre-activation to its ``h`` write (``ElementwiseUnit.latency``).

    For the GRU with the reset before ``W_hn``, also from an r item to its ``r*h`` write.
    """
    n, gates = datapath.numerics, gate_latency(datapath)
    registers = table_read_registers(datapath.config.hardware)
    if datapath.config.model.reset_before:
        # Gate tables (n = tanh of the n row), h - n registered, z*(h - n), the write register. An r
        # item's r*h takes the same cycles (its multiply, one register, the write register).
        return gates + 1 + MULTIPLIER_LATENCY + 1
    # Gate tables, then (LSTM, GRU) two multiplies, one table and four registers (LSTM five).
    update = gates + 4 + 2 * MULTIPLIER_LATENCY
    return {
        "lstm": update + 1 + table_latency(datapath.tanh, n.cell_state.frac_bits, registers),
        "gru": update + table_latency(datapath.tanh, n.accum.frac_bits, registers),
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

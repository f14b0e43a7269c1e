"""The accelerator's schedule and memory layout, as plain numbers (no hardware here).

Rows of a layer's gate matrix are processed unit-major (``row = unit * G + gate``), so every pass of
the P lanes completes whole hidden units as early as possible. Lane ``p`` computes rows
``q * P + p`` in pass ``q``; its weight memory holds, for each layer and pass, the row of
``[W_ih | W_hh]`` it will need, one word per operand, followed by the head's rows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .config import Config
from .datapath import datapath
from .latency import DRAIN_DELAY, h_ready_delay
from .weights import QuantizedWeights

__all__ = ["Schedule", "bound_cycles_per_step", "layer_bound_cycles", "macs_per_step", "DRAIN_DELAY"]


def macs_per_step(config: Config, layer: int) -> int:
    """Multiply-accumulates of one timestep of ``layer``: ``G*H*(I_k+H)``."""
    m = config.model
    return m.gates * m.hidden_size * (m.layer_input_size(layer) + m.hidden_size)


def layer_bound_cycles(config: Config, layer: int) -> int:
    """The lower bound ``ceil(G*H*(I_k+H)/P)`` on cycles per timestep of ``layer``."""
    return math.ceil(macs_per_step(config, layer) / config.hardware.lanes)


def bound_cycles_per_step(config: Config) -> int:
    """The lower bound ``sum_k ceil(G*H*(I_k+H)/P)`` on cycles per timestep (all layers)."""
    return sum(layer_bound_cycles(config, k) for k in range(config.model.num_layers))


@dataclass(frozen=True)
class Schedule:
    """Pass structure and memory layout for one configuration."""

    config: Config

    @property
    def lanes(self) -> int:
        return self.config.hardware.lanes

    @property
    def rows(self) -> int:
        """Gate rows per layer, ``G*H``."""
        return self.config.model.gates * self.config.model.hidden_size

    @property
    def passes(self) -> int:
        return math.ceil(self.rows / self.lanes)

    @property
    def head_passes(self) -> int:
        return math.ceil(self.config.model.head / self.lanes)

    def operands(self, layer: int) -> int:
        m = self.config.model
        return m.layer_input_size(layer) + m.hidden_size

    def weight_base(self, layer: int) -> int:
        """First weight address of ``layer`` (``layer == num_layers`` is the head)."""
        return sum(self.passes * self.operands(k) for k in range(layer))

    @property
    def weight_depth(self) -> int:
        m = self.config.model
        return self.weight_base(m.num_layers) + self.head_passes * m.hidden_size

    def bias_base(self, layer: int) -> int:
        return layer * self.passes

    @property
    def bias_depth(self) -> int:
        return self.config.model.num_layers * self.passes + self.head_passes

    def drain_items(self, rows: int) -> int:
        """Items the drain hands out for ``rows`` gate rows, at most (a GRU n row gives two)."""
        return rows + (math.ceil(rows / 3) if self.config.model.cell == "gru" else 0)

    def drain_items_of(self, rows) -> int:
        """Items the drain hands out for exactly these rows."""
        g = self.config.model.gates
        return sum(2 if self.config.model.cell == "gru" and row % g == 2 else 1 for row in rows)

    def pass_cycles(self, layer: int) -> int:
        """Cycles of one pass in steady state: the operands, unless the drain of P rows takes longer."""
        return max(self.operands(layer), DRAIN_DELAY + self.drain_items(self.lanes))

    def drain_positions(self, unit_rows) -> dict[int, int]:
        """For a pass with rows ``unit_rows``: each unit completed in it -> index of its last drain item."""
        g, positions, item = self.config.model.gates, {}, -1
        for row in unit_rows:
            item += 2 if self.config.model.cell == "gru" and row % g == 2 else 1
            if row % g == g - 1:
                positions[row // g] = item
        return positions

    def issue_times(self, steps: int = 6) -> list[int]:
        """Cycle of each timestep's last issued step, from a step-by-step model of the sequencer.

        Assumes inputs arrive in time and the output is never blocked. It applies the sequencer's
        rules: one step per cycle; pass 0 waits for each operand's ``h`` (an ``h[u]`` is readable
        ``DRAIN_DELAY + 2 + position + E`` cycles after its pass's last step: drain position, one
        conversion register, the elementwise latency ``E``, one write); a pass's last step waits for
        the drain (free ``DRAIN_DELAY + items`` cycles after the previous pass's last step). With a head
        and ``return_sequences``, the head's passes over the top layer's ``h`` follow every step.
        """
        model = self.config.model
        latency = h_ready_delay(datapath(self.config))
        ready = {k: [-(10**9)] * model.hidden_size for k in range(model.num_layers)}  # h[k][u] readable at
        time, drain_free, ends = -1, -(10**9), []
        for _ in range(steps):
            for k in range(model.num_layers):
                inputs = model.layer_input_size(k)
                below, own = (ready[k - 1] if k else None), ready[k]
                written = [-(10**9)] * model.hidden_size
                operands = self.operands(k)
                for q in range(self.passes):
                    if q == 0:  # each operand may wait for its h
                        for j in range(operands):
                            time += 1
                            source = below if j < inputs else own
                            if source is not None:
                                time = max(time, source[j if j < inputs else j - inputs])
                    else:  # later passes read operands already there: one per cycle (linear cost in all)
                        time += operands
                    time = max(time, drain_free)  # the pass's last step waits for the drain
                    rows = range(q * self.lanes, min((q + 1) * self.lanes, self.rows))
                    drain_free = time + DRAIN_DELAY + self.drain_items_of(rows)
                    for unit, position in self.drain_positions(rows).items():
                        written[unit] = time + latency + position
                ready[k] = written
            if model.head and model.return_sequences:  # the head's passes over this step's top h
                for q in range(self.head_passes):
                    for j in range(model.hidden_size):
                        time += 1
                        if q == 0:
                            time = max(time, ready[model.num_layers - 1][j])
                        if j == model.hidden_size - 1:
                            time = max(time, drain_free)
                    rows = min(self.lanes, model.head - q * self.lanes)
                    drain_free = time + DRAIN_DELAY + rows
            ends.append(time)
        return ends

    def cycles_per_step(self) -> int | float:
        """Cycles per timestep in steady state (all layers), from :meth:`issue_times`.

        An average over two steps (an int when it is whole), in case the pattern repeats every two.
        """
        ends = self.issue_times()
        two_steps = ends[-1] - ends[-3]
        return two_steps // 2 if two_steps % 2 == 0 else two_steps / 2

    # -- memory images -------------------------------------------------------------------------
    def unit_major(self, matrix: np.ndarray) -> np.ndarray:
        """Reorder PyTorch's gate-major rows (``gate * H + unit``) to ``unit * G + gate``."""
        g, h = self.config.model.gates, self.config.model.hidden_size
        return matrix.reshape(g, h, *matrix.shape[1:]).swapaxes(0, 1).reshape(g * h, *matrix.shape[1:])

    def weight_images(self, weights: QuantizedWeights) -> list[list[int]]:
        """Per lane: its weight memory contents (signed ints)."""
        m, lanes = self.config.model, self.lanes
        images = [[] for _ in range(lanes)]
        blocks = [(self.unit_major(np.concatenate([lw.w_ih, lw.w_hh], axis=1)), self.passes)
                  for lw in weights.layers]
        if m.head:
            blocks.append((weights.head_weight, self.head_passes))
        for matrix, passes in blocks:
            padded = np.zeros((passes * lanes, matrix.shape[1]), dtype=np.int64)
            padded[: matrix.shape[0]] = matrix
            for lane in range(lanes):
                images[lane].extend(padded[lane::lanes].reshape(-1).tolist())
        return images

    def bias_images(self, weights: QuantizedWeights) -> list[list[tuple[int, int, int]]]:
        """Per lane and pass: ``(bias at the first operand, bias at the h segment, n-row flag)``.

        Only the GRU's n rows (flag 1) restart their sum at the ``h`` segment, with ``b_hn``: the
        ``x`` part ``W_in x + b_in`` is kept apart.
        """
        m, lanes = self.config.model, self.lanes
        images = [[] for _ in range(lanes)]
        blocks = []
        for lw in weights.layers:
            second, flag = np.zeros_like(lw.bias), np.zeros_like(lw.bias)
            if m.cell == "gru":
                second[2 * m.hidden_size :], flag[2 * m.hidden_size :] = lw.bias_hn, 1
            blocks.append((self.unit_major(np.stack([lw.bias, second, flag], axis=1)), self.passes))
        if m.head:
            zeros = np.zeros_like(weights.head_bias)
            blocks.append((np.stack([weights.head_bias, zeros, zeros], axis=1), self.head_passes))
        for triples, passes in blocks:
            padded = np.zeros((passes * lanes, 3), dtype=np.int64)
            padded[: triples.shape[0]] = triples
            for lane in range(lanes):
                images[lane].extend(tuple(int(v) for v in row) for row in padded[lane::lanes])
        return images

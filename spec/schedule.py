"""The accelerator's schedule and memory layout, as plain numbers (no hardware here).

Rows of a layer's gate matrix are processed unit-major (``row = unit * G + gate``), so every pass of
the P lanes completes whole hidden units as early as possible. Lane ``p`` computes rows
``q * P + p`` in pass ``q``; its weight memory holds, for each layer and pass, the row of
``[W_ih | W_hh]`` it will need, one word per operand, followed by the head's rows. The reset-before
GRU's r, z rows and n rows fill passes of their own (:meth:`Schedule.pass_rows`); the Jordan cell's
output layers ``W_hy`` take the head's place, one block per layer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .config import Config
from .datapath import datapath
from .latency import DRAIN_DELAY, h_ready_delay, lane_pipeline, weight_banks
from .packing import weight_word_width
from .weights import QuantizedWeights

__all__ = ["Schedule", "bound_cycles_per_step", "layer_bound_cycles", "macs_per_step", "DRAIN_DELAY"]


def macs_per_step(config: Config, layer: int) -> int:
    """Multiply-accumulates of one timestep of ``layer``: ``G*H*(I_k+H)``; the Jordan cell's
    ``H*(I_k+O) + O*H`` (its output layer runs every step)."""
    m = config.model
    output = m.output_size * m.hidden_size if m.jordan else 0
    return m.gates * m.hidden_size * (m.layer_input_size(layer) + m.recurrent_size) + output


def layer_bound_cycles(config: Config, layer: int) -> int:
    """The lower bound ``ceil(macs_per_step / P)`` (``ceil(G*H*(I_k+H)/P)``) on cycles per timestep of ``layer``."""
    return math.ceil(macs_per_step(config, layer) / config.hardware.lanes)


def bound_cycles_per_step(config: Config) -> int:
    """The lower bound ``sum_k D*ceil(G*H*(I_k+H)/P)`` on cycles per timestep (all layers, D directions)."""
    return config.model.directions * sum(layer_bound_cycles(config, k) for k in range(config.model.num_layers))


#: A time before any other (never waited for).
NEVER = -(10**9)


def _whole(cycles: int, count: int = 1) -> int | float:
    """``cycles / count``, an int when it is whole."""
    return cycles // count if cycles % count == 0 else cycles / count


@dataclass(frozen=True)
class Schedule:
    """Pass structure and memory layout for one configuration."""

    config: Config

    @property
    def lanes(self) -> int:
        return self.config.hardware.lanes

    @property
    def directions(self) -> int:
        return self.config.model.directions

    @property
    def weight_banks(self) -> int:
        """Banks of each lane's weight memory (:func:`.latency.weight_banks`): 1 while it fits one block RAM."""
        return weight_banks(self.weight_depth, weight_word_width(self.config),
                            self.config.hardware.weights == "runtime")

    @property
    def drain_delay(self) -> int:
        """Cycles from a pass's last issued step to its first item (:attr:`.latency.LanePipeline.drain_delay`)."""
        return lane_pipeline(self.config.hardware, self.weight_banks).drain_delay

    @property
    def streams(self) -> int:
        """Interleaved sequences K (``hardware.interleave``)."""
        return self.config.hardware.interleave

    @property
    def weight_layers(self) -> int:
        """Layers with weights of their own: one per layer and direction, ``v = k*D + d``."""
        return self.config.model.num_layers * self.directions

    @property
    def state_layers(self) -> int:
        """Layers whose state the hardware keeps apart: one per layer and direction, ``v = k*D + d``
        (the backward direction of layer k is ``v = 2k + 1``); with K interleaved streams, one per
        stream and layer, ``v = s*L + k``, whose weights are those of layer ``v % L``."""
        return self.weight_layers * self.streams

    @property
    def rows(self) -> int:
        """Gate rows per layer, ``G*H``."""
        return self.config.model.gates * self.config.model.hidden_size

    @property
    def reset_passes(self) -> int:
        """GRU with the reset before ``W_hn``: the passes over the r and z rows (the n rows follow)."""
        return math.ceil(2 * self.config.model.hidden_size / self.lanes) if self.config.model.reset_before else 0

    @property
    def passes(self) -> int:
        if self.config.model.reset_before:  # the r, z rows, then the n rows, in passes of their own
            return self.reset_passes + math.ceil(self.config.model.hidden_size / self.lanes)
        return math.ceil(self.rows / self.lanes)

    def pass_rows(self, q: int) -> list[tuple[int, int]]:
        """(unit, gate) of each row of pass ``q``, in lane (and drain) order.

        Unit-major rows ``unit * G + gate``; with the reset before ``W_hn``, the r and z rows
        (``unit * 2 + gate``) fill the first :attr:`reset_passes` passes and the n rows the rest.
        """
        lanes, g = self.lanes, self.config.model.gates
        if self.config.model.reset_before:
            hidden, first = self.config.model.hidden_size, self.reset_passes
            if q < first:
                return [(row // 2, row % 2) for row in range(q * lanes, min((q + 1) * lanes, 2 * hidden))]
            return [(unit, 2) for unit in range((q - first) * lanes, min((q - first + 1) * lanes, hidden))]
        return [(row // g, row % g) for row in range(q * lanes, min((q + 1) * lanes, self.rows))]

    @property
    def output_rows(self) -> int:
        """Rows of a head job: the head's, or the Jordan cell's output layer ``W_hy`` (O)."""
        m = self.config.model
        return m.output_size if m.jordan else m.head

    @property
    def head_passes(self) -> int:
        """Passes of the head (once per sequence), or of a Jordan layer's ``W_hy h_t`` (every step)."""
        return math.ceil(self.output_rows / self.lanes)

    @property
    def head_jobs(self) -> int:
        """Head weight blocks: one per Jordan layer, else one for the head (or none)."""
        m = self.config.model
        return m.num_layers if m.jordan else int(bool(m.head))

    @property
    def head_operands(self) -> int:
        """Operands of a head job: the top layer's output vector (``D*H``), or ``h_t`` for a Jordan ``W_hy``."""
        return self.config.model.hidden_size * (1 if self.config.model.jordan else self.directions)

    # -- the bidirectional core's sequence memory: layer k's rows [h_fwd_t ; h_bwd_t] in bank k % 2 -------
    @property
    def row_words(self) -> int:
        """Words of one row of the sequence memory, ``[h_fwd_t ; h_bwd_t]`` (``2H``)."""
        return self.directions * self.config.model.hidden_size

    @property
    def sequence_banks(self) -> int:
        """Banks of the sequence memory: layer k writes bank ``k % 2`` while reading bank ``(k-1) % 2``."""
        return min(self.config.model.num_layers, 2)

    def row_address(self, layer: int, t: int, direction: int = 0) -> int:
        """State memory address of ``h`` (unit 0) of ``direction`` of ``layer`` at step ``t`` (bidirectional)."""
        words = self.config.hardware.max_sequence_length * self.row_words
        return (layer % 2) * words + t * self.row_words + direction * self.config.model.hidden_size

    @property
    def output_base(self) -> int:
        """State memory address of the Jordan cell's ``y``, after every layer's two ``h`` banks;
        layer k's ``y[u]`` of bank b is at ``output_base + (2k + b)*O + u``."""
        return self.reset_base

    @property
    def reset_base(self) -> int:
        """State memory address of ``r*h`` of layer 0 (the reset-before GRU), after every layer's two
        ``h`` banks (``layer * 2H + bank * H + unit``); layer k's ``r*h[u]`` is at ``reset_base + k*H + u``."""
        if self.config.model.bidirectional:  # after the sequence memory; one r*h per layer and direction
            return self.sequence_banks * self.config.hardware.max_sequence_length * self.row_words
        return 2 * self.state_layers * self.config.model.hidden_size

    @property
    def output_banks(self) -> list[int]:
        """The Jordan cell's first ``y`` address of bank ``2k + b`` (layer k, bank b): the hardware
        looks these up rather than multiplying by O."""
        m = self.config.model
        return [self.output_base + index * m.output_size for index in range(2 * m.num_layers)]

    @property
    def state_depth(self) -> int:
        m = self.config.model
        extra = self.state_layers * m.hidden_size if m.reset_before else 2 * m.num_layers * m.output_size
        return self.reset_base + extra

    def operands(self, layer: int) -> int:
        m = self.config.model
        return m.layer_input_size(layer) + m.recurrent_size

    def weight_base(self, layer: int) -> int:
        """First weight address of ``layer`` (``layer == num_layers`` is the head); of a bidirectional core,
        of the state layer ``v = 2k + d`` (``v == 2 * num_layers`` is the head)."""
        return sum(self.passes * self.operands(v // self.directions) for v in range(layer))

    def head_weight_base(self, layer: int = 0) -> int:
        """First weight address of the head (of layer ``layer``'s ``W_hy``, Jordan)."""
        return self.weight_base(self.weight_layers) + layer * self.head_passes * self.head_operands

    @property
    def weight_depth(self) -> int:
        return self.head_weight_base(self.head_jobs)

    def bias_base(self, layer: int) -> int:
        return layer * self.passes

    def head_bias_base(self, layer: int = 0) -> int:
        return self.bias_base(self.weight_layers) + layer * self.head_passes

    @property
    def bias_depth(self) -> int:
        return self.head_bias_base(self.head_jobs)

    @property
    def split_rows(self) -> bool:
        """GRU with the reset after ``W_hn``: each n row gives two drain items, ``W_in x + b_in`` and
        ``W_hn h + b_hn``."""
        return self.config.model.cell == "gru" and not self.config.model.reset_before

    def drain_items(self, rows: int) -> int:
        """Items the drain hands out for ``rows`` gate rows, at most (a split GRU n row gives two)."""
        return rows + (math.ceil(rows / 3) if self.split_rows else 0)

    def drain_items_of(self, rows) -> int:
        """Items the drain hands out for exactly these ``(unit, gate)`` rows."""
        return sum(2 if self.split_rows and gate == 2 else 1 for _, gate in rows)

    def pass_cycles(self, layer: int) -> int:
        """Cycles of one pass in steady state: the operands, unless the drain of P rows takes longer."""
        return max(self.operands(layer), self.drain_delay + self.drain_items(self.lanes))

    def drain_positions(self, rows, gate: int | None = None) -> dict[int, int]:
        """For a pass's ``(unit, gate)`` rows: each unit -> index of its last drain item, or, given
        ``gate``, of that gate's item."""
        last, positions, item = self.config.model.gates - 1, {}, -1
        for unit, row_gate in rows:
            item += 2 if self.split_rows and row_gate == 2 else 1
            if row_gate == (last if gate is None else gate):
                positions[unit] = item
        return positions

    def issue_times(self, steps: int = 6, streams: int | None = None) -> list[int]:
        """Cycle of each timestep's last issued step, from a step-by-step model of the sequencer.

        With ``streams`` = K > 1 (default ``hardware.interleave``): K independent sequences, each with
        its own ``h`` (and ``c``), share the lanes and the drain; the walk is strict round-robin,
        ``for t: for stream: for layer (and head)``, so a stream's step only waits on its own ``h``.
        Returns the cycle of each of the ``steps * K`` stream-steps' last issued step, in walk order.

        Assumes inputs arrive in time and the output is never blocked. It applies the sequencer's
        rules: one step per cycle; pass 0 waits for each operand's ``h`` (an ``h[u]`` is readable
        ``drain_delay + 2 + position + E`` cycles after its pass's last step: drain position, one
        conversion register, the elementwise latency ``E``, one write); a pass's last step waits for
        the drain (free ``drain_delay + items`` cycles after the previous pass's last step). With the
        GRU's reset before ``W_hn``, the first n pass also waits for each ``r*h[u]``, written like an
        ``h[u]`` but from unit ``u``'s r item. The Jordan cell reads ``y`` where the others read ``h``,
        and each layer's step ends with its ``W_hy`` passes over ``h_t`` (:meth:`_output_passes`). With a
        head and ``return_sequences``, the head's passes over the top layer's ``h`` follow every step.
        """
        model, streams = self.config.model, streams or self.streams
        latency = h_ready_delay(datapath(self.config), self.drain_delay)
        # h[k][u] (Jordan: y[k][u]) readable at
        ready = [{k: [NEVER] * model.recurrent_size for k in range(model.num_layers)} for _ in range(streams)]
        time, drain_free, ends = -1, NEVER, []
        for t in range(steps):
            for own in ready:  # each stream's h
                for k in range(model.num_layers):
                    # t = 0 is a sequence's first step: h_{-1} (and r*h) are zeros, read without a wait
                    time, drain_free, written = self._layer_step(time, drain_free, k, own[k - 1] if k else None,
                                                                 own[k] if t else None, latency)
                    if model.jordan:  # W_hy h_t, like a head's passes, over this step's h: y is what is read
                        time, drain_free, written = self._output_passes(time, written, drain_free, latency)
                    own[k] = written
                if model.head and model.return_sequences:  # the head's passes over this step's top h
                    time, drain_free = self._head_passes(time, drain_free, own[model.num_layers - 1])
                ends.append(time)
        return ends

    def _layer_step(self, time: int, drain_free: int, k: int, below, own, latency: int, start: int = NEVER):
        """One timestep of layer ``k``'s gate passes (one direction); ``below`` and ``own`` say when each
        ``x`` and ``h`` operand is readable (``None``: at once; ``own``: a sequence's first step, whose ``h``
        and ``r*h`` are zero), ``start`` when the first operand may go.

        Returns the last issue time, when the drain is free and when each new ``h[u]`` is readable.
        """
        inputs, operands = self.config.model.layer_input_size(k), self.operands(k)
        written = [NEVER] * self.config.model.hidden_size
        reset = list(written)  # r*h[u] readable at
        for q in range(self.passes):
            if q == 0:  # each operand may wait for its h
                for j in range(operands):
                    time = max(time + 1, start) if j == 0 else time + 1
                    source = below if j < inputs else own
                    if source is not None:
                        time = max(time, source[j if j < inputs else j - inputs])
            elif q == self.reset_passes and own is not None:  # the first n pass: each h operand waits for r*h
                time += inputs
                for j in range(inputs, operands):
                    time = max(time + 1, reset[j - inputs])
            else:  # later passes read operands already there: one per cycle (linear cost in all)
                time += operands
            time = max(time, drain_free)  # the pass's last step waits for the drain
            rows = self.pass_rows(q)
            drain_free = time + self.drain_delay + self.drain_items_of(rows)
            if q < self.reset_passes:
                for unit, position in self.drain_positions(rows, gate=0).items():
                    reset[unit] = time + latency + position
                continue
            for unit, position in self.drain_positions(rows).items():
                written[unit] = time + latency + position
        return time, drain_free, written

    def _head_passes(self, time: int, drain_free: int, ready=None, start: int = NEVER):
        """The head's passes over one output vector (pass 0 waits for each operand's ``ready`` time, and
        its first operand for ``start``). Returns the last issue time and when the drain is free."""
        operands = self.head_operands
        for q in range(self.head_passes):
            for j in range(operands):
                time = max(time + 1, start) if q == 0 and j == 0 else time + 1
                if q == 0 and ready is not None:
                    time = max(time, ready[j])
                if j == operands - 1:
                    time = max(time, drain_free)
            rows = min(self.lanes, self.config.model.head - q * self.lanes)
            drain_free = time + self.drain_delay + rows
        return time, drain_free

    def sequence_issue_times(self, lengths) -> list[int]:
        """Bidirectional cores: cycle of each sequence's last issued step (or output read), for sequences of
        ``lengths`` back to back, from a step-by-step model of the sequencer's sequence walk.

        Assumes each sequence is in the input buffer in time and the output is never blocked. Layer by
        layer, the steps ``s = 0 .. T-1`` each run the forward direction at ``t = s`` then the backward
        direction at ``t = T-1-s`` (:meth:`_layer_step`; each direction's operand ``h`` waits for its own
        previous step, ``x`` never waits); the first step of layer k > 0 waits until every ``h`` of layer
        k-1 is written, and so does the output phase for the top layer: the head's passes over each output
        vector (:meth:`_head_passes`), or without a head one read of the sequence memory per element.
        """
        model = self.config.model
        latency, hidden = h_ready_delay(datapath(self.config), self.drain_delay), model.hidden_size
        time, drain_free, ends = -1, NEVER, []
        for steps in lengths:
            ready, start = {}, NEVER
            for k in range(model.num_layers):
                for s in range(steps):
                    for d in range(2):
                        v = 2 * k + d
                        time, drain_free, ready[v] = self._layer_step(
                            time, drain_free, k, None, ready[v] if s else None, latency,
                            start if s == 0 and d == 0 else NEVER)
                start = max(ready[2 * k] + ready[2 * k + 1])  # the layer's last h written
            for _ in range(steps if model.return_sequences else 1):
                if model.head:
                    time, drain_free = self._head_passes(time, drain_free, start=start)
                else:
                    time = max(time + 1, start) + 2 * hidden - 1
                start = NEVER
            ends.append(time)
        return ends

    def sequence_cycles(self, steps: int) -> int:
        """Bidirectional cores: cycles between the starts of two sequences of ``steps`` timesteps in steady state.

        A sequence starts from what the one before left (the drain after its last output job, the same
        job whatever its length), so one short sequence before it sets the steady state up.
        """
        ends = self.sequence_issue_times([1, steps])
        return ends[1] - ends[0]

    def sequence_overhead(self) -> int | float:
        """Bidirectional cores: cycles a sequence costs beyond ``T * cycles_per_step()`` (layer barriers, outputs)."""
        steps = self.config.hardware.max_sequence_length
        return _whole(self.sequence_cycles(steps) - steps * self.cycles_per_step())

    def _output_passes(self, time: int, h_ready: list[int], drain_free: int, latency: int):
        """The Jordan cell's ``W_hy`` passes after a layer's gate passes: pass 0 waits for each ``h[j]``.

        Returns the last issue time, when the drain is free and when each ``y[u]`` is readable.
        """
        hidden, lanes = self.config.model.hidden_size, self.lanes
        y_ready = [NEVER] * self.output_rows
        for q in range(self.head_passes):
            for j in range(hidden):
                time += 1
                if q == 0:
                    time = max(time, h_ready[j])
                if j == hidden - 1:
                    time = max(time, drain_free)
            units = range(q * lanes, min((q + 1) * lanes, self.output_rows))
            drain_free = time + self.drain_delay + len(units)
            for position, unit in enumerate(units):
                y_ready[unit] = time + latency + position
        return time, drain_free, y_ready

    def cycles_per_step(self, streams: int | None = None) -> int | float:
        """Cycles per timestep in steady state (all layers), from :meth:`issue_times`; of a bidirectional
        core, what one more timestep adds to a sequence (:meth:`sequence_cycles`, both directions).
        With ``streams`` = K interleaved sequences (default ``hardware.interleave``), per timestep of any
        stream (a round of K steps / K), so that ``bound / cycles_per_step`` stays the utilization.

        An average over two rounds (an int when it is whole), in case the pattern repeats every two.
        """
        if self.config.model.bidirectional:
            return _whole(self.sequence_cycles(10) - self.sequence_cycles(8), 2)
        streams = streams or self.streams
        ends = self.issue_times(streams=streams)
        return _whole(ends[-1] - ends[-1 - 2 * streams], 2 * streams)

    # -- memory images -------------------------------------------------------------------------
    def unit_major(self, matrix: np.ndarray) -> np.ndarray:
        """Reorder PyTorch's gate-major rows (``gate * H + unit``) to ``unit * G + gate``."""
        g, h = self.config.model.gates, self.config.model.hidden_size
        return matrix.reshape(g, h, *matrix.shape[1:]).swapaxes(0, 1).reshape(g * h, *matrix.shape[1:])

    def pass_major(self, matrix: np.ndarray) -> np.ndarray:
        """A layer's gate-major rows in pass order, ``[passes * P, ...]``, zero rows padding each pass."""
        hidden, lanes = self.config.model.hidden_size, self.lanes
        out = np.zeros((self.passes * lanes, *matrix.shape[1:]), dtype=np.int64)
        for q in range(self.passes):
            for lane, (unit, gate) in enumerate(self.pass_rows(q)):
                out[q * lanes + lane] = matrix[gate * hidden + unit]
        return out

    def _lane_images(self, blocks) -> list[list]:
        """Per lane, the rows ``lane, lane + P, ..`` of each pass-ordered block, one after the other."""
        images = [[] for _ in range(self.lanes)]
        for block in blocks:
            for lane in range(self.lanes):
                images[lane].extend(block[lane :: self.lanes])
        return images

    def _head_block(self, matrix: np.ndarray) -> np.ndarray:
        padded = np.zeros((self.head_passes * self.lanes, *matrix.shape[1:]), dtype=np.int64)
        padded[: matrix.shape[0]] = matrix
        return padded

    def state_layer_weights(self, weights: QuantizedWeights) -> list:
        """The ``QuantizedLayer`` of each state layer: layer k's forward, then (bidirectional) its backward."""
        if not self.config.model.bidirectional:
            return list(weights.layers)
        return [lw for pair in zip(weights.layers, weights.reverse_layers, strict=True) for lw in pair]

    def weight_images(self, weights: QuantizedWeights) -> list[list[int]]:
        """Per lane: its weight memory contents (signed ints)."""
        blocks = [self.pass_major(np.concatenate([lw.w_ih, lw.w_hh], axis=1))
                  for lw in self.state_layer_weights(weights)]
        if self.config.model.jordan:
            blocks += [self._head_block(lw.w_hy) for lw in weights.layers]
        elif self.config.model.head:
            blocks.append(self._head_block(weights.head_weight))
        return [[int(v) for row in rows for v in row] for rows in self._lane_images(blocks)]

    def bias_images(self, weights: QuantizedWeights) -> list[list[tuple[int, int, int]]]:
        """Per lane and pass: ``(bias at the first operand, bias at the h segment, n-row flag)``.

        Only the reset-after GRU's n rows (flag 1) restart their sum at the ``h`` segment, with
        ``b_hn``: the ``x`` part ``W_in x + b_in`` is kept apart.
        """
        m = self.config.model
        blocks = []
        for lw in self.state_layer_weights(weights):
            second, flag = np.zeros_like(lw.bias), np.zeros_like(lw.bias)
            if self.split_rows:
                second[2 * m.hidden_size :], flag[2 * m.hidden_size :] = lw.bias_hn, 1
            blocks.append(self.pass_major(np.stack([lw.bias, second, flag], axis=1)))
        head_biases = [lw.bias_hy for lw in weights.layers] if m.jordan else [weights.head_bias] if m.head else []
        for bias in head_biases:
            zeros = np.zeros_like(bias)
            blocks.append(self._head_block(np.stack([bias, zeros, zeros], axis=1)))
        return [[tuple(int(v) for v in row) for row in rows] for rows in self._lane_images(blocks)]

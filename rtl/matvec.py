"""The matrix-vector unit: P multiply-accumulate lanes with banked weight memories."""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .layouts import Part
from .pipeline import delayed

__all__ = ["MatVecUnit"]


class MatVecUnit(wiring.Component):
    """P lanes computing exact dot products ``sum_j W[row, j] * v[j] + b[row]``, and their drain.

    All lanes see the same operand ``v[j]`` each cycle; lane ``p`` reads its own weight memory, so a
    pass of ``n`` operands completes P rows in ``n`` issue cycles. Each lane has one
    ``weight x operand`` multiplier (one DSP block for operands up to 18 bits) and an accumulator wide
    enough that no partial sum rounds or overflows (``golden.datapath.lane_accumulator``). When a
    pass completes, the sums move to a shift chain that hands them out one per cycle, in row order,
    while the lanes start the next pass.

    Parameters
    ----------
    weight_images, bias_images : per lane, the memory contents (``rtl.schedule.Schedule``).
    weight_width, bias_width, operand_width, acc_width : widths of the signed quantities.
    product_shift_input, product_shift_state : left shift of a product whose operand is in the
        input / state format, to the accumulator's fixed point.
    bias_shift : left shift of a bias to the accumulator's fixed point.
    gates : gates per unit in a pass (G; the reset-before GRU's r, z passes: 2, its n passes have
        ``job.whole_units``); ``split_rows`` enables the reset-after GRU's second sum per n row.
    issue_shape, item_shape : ``rtl.layouts`` layouts.

    Members
    -------
    issue : In(issue_shape)
        Stage 0: addresses and flags of the step (``valid`` = 0 is a bubble).
    operand : In(signed(operand_width))
        Stage 1: ``v[j]`` for the step issued one cycle earlier.
    items : Out(stream.Signature(item_shape, always_ready=True))
        Completed sums in row order; GRU n rows give a ``Part.X`` item then a ``Part.H`` item.
    can_finish : Out(1)
        A pass may issue its last step now: the drain will be free when its sums complete.

    Latency: a pass's sums are captured 4 cycles after its last step is issued; the first item
    leaves the next cycle (``rtl.schedule.DRAIN_DELAY`` = 5 cycles after the last step).
    """

    def __init__(self, *, weight_images, bias_images, weight_width: int, bias_width: int, operand_width: int,
                 acc_width: int, product_shift_input: int, product_shift_state: int, bias_shift: int,
                 gates: int, split_rows: bool, issue_shape: data.StructLayout, item_shape: data.StructLayout):
        if not weight_images or len(weight_images) != len(bias_images):
            raise ValueError(f"need one weight and one bias image per lane, got {len(weight_images)!r} "
                             f"and {len(bias_images)!r}")
        for name, shift in (("product_shift_input", product_shift_input),
                            ("product_shift_state", product_shift_state), ("bias_shift", bias_shift)):
            if shift < 0:
                raise ValueError(f"{name} must be non-negative, not {shift!r}")
        self.lanes = len(weight_images)
        self.weight_images, self.bias_images = weight_images, bias_images
        self.weight_width, self.bias_width = weight_width, bias_width
        self.acc_width = acc_width
        self.shifts = (product_shift_state, product_shift_input)
        self.bias_shift, self.gates, self.split_rows = bias_shift, gates, split_rows
        super().__init__({
            "issue": In(issue_shape),
            "operand": In(signed(operand_width)),
            "items": Out(stream.Signature(item_shape, always_ready=True)),
            "can_finish": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        issue_shape = self.issue.shape()
        # Stage 1: memory data and operand; 2: multiplier inputs; 3: product; 4: complete sums.
        stages = [Signal(issue_shape, name=f"step{s}") for s in (1, 2, 3, 4)]
        m.d.sync += [stages[0].eq(self.issue)] + [b.eq(a) for a, b in zip(stages, stages[1:], strict=False)]
        operand = Signal.like(self.operand, name="operand_reg")
        m.d.sync += operand.eq(self.operand)

        sums, x_sums = [], []
        for lane in range(self.lanes):
            total, x_total = self._lane(m, lane, operand, stages[2])
            sums.append(total)
            x_sums.append(x_total)

        self._drain(m, sums, x_sums, stages)
        return m

    def _lane(self, m, lane, operand, stage):
        """One lane: weight memory, multiplier, accumulator. Returns its sum (and GRU x-part sum)."""
        weights = Memory(shape=signed(self.weight_width), depth=len(self.weight_images[lane]),
                         init=self.weight_images[lane])
        firsts = Memory(shape=signed(self.bias_width), depth=len(self.bias_images[lane]),
                        init=[first for first, _, _ in self.bias_images[lane]])
        m.submodules[f"weights{lane}"] = weights
        m.submodules[f"bias{lane}"] = firsts
        w_port, b_port = weights.read_port(), firsts.read_port()
        m.d.comb += [w_port.addr.eq(self.issue.w_addr), b_port.addr.eq(self.issue.b_addr)]

        # Registers on both sides of the multiplier: block RAM clock-to-out and the multiply each get
        # a cycle of their own (and map into the DSP block's input and output registers).
        weight = Signal(signed(self.weight_width), name=f"weight{lane}")
        product = Signal(signed(self.weight_width + len(operand)), name=f"product{lane}")
        m.d.sync += [weight.eq(w_port.data), product.eq(weight * operand)]
        bias = delayed(m, b_port.data, 2, f"bias{lane}")

        total = Signal(signed(self.acc_width), name=f"sum{lane}")
        term = Mux(stage.from_input, product << self.shifts[1], product << self.shifts[0])
        restart = stage.first
        x_total = None
        if self.split_rows:
            # One word per pass: the n-row flag above b_hn (r and z rows must not restart at the split).
            mask = (1 << self.bias_width) - 1
            seconds = Memory(shape=self.bias_width + 1, depth=len(self.bias_images[lane]),
                             init=[(flag << self.bias_width) | (second & mask)
                                   for _, second, flag in self.bias_images[lane]])
            m.submodules[f"bias_hn{lane}"] = seconds
            s_port = seconds.read_port()
            m.d.comb += s_port.addr.eq(self.issue.b_addr)
            second = delayed(m, s_port.data[: self.bias_width].as_signed(), 2, f"bias_hn{lane}")
            is_split_row = delayed(m, s_port.data[self.bias_width], 2, f"split_row{lane}")
            x_total = Signal(signed(self.acc_width), name=f"x_sum{lane}")
            with m.If(stage.valid & stage.split & is_split_row):
                m.d.sync += [x_total.eq(total), total.eq((second << self.bias_shift) + term)]
        with m.If(stage.valid):
            with m.If(restart):
                m.d.sync += total.eq((bias << self.bias_shift) + term)
            with m.Elif(~(stage.split & (is_split_row if self.split_rows else 0))):
                m.d.sync += total.eq(total + term)
        return total, x_total

    def _drain(self, m, sums, x_sums, stages):
        complete = stages[-1]
        lanes, gates = self.lanes, self.gates
        chain = [Signal(signed(self.acc_width), name=f"chain{p}") for p in range(lanes)]
        x_chain = [Signal(signed(self.acc_width), name=f"x_chain{p}") for p in range(lanes)] if self.split_rows \
            else None
        job = Signal(self.items.p.job.shape())
        remaining = Signal(range(lanes + 1))
        second_half = Signal()  # GRU n row: the X item has gone, the H item is next
        unit = Signal.like(self.items.p.unit)
        gate = Signal.like(self.items.p.gate)

        is_n_row = ~job.head & (gate == 2) if self.split_rows else 0
        capture = complete.valid & complete.last
        shifting = ~(is_n_row & ~second_half)  # this cycle's item is a row's last
        # can_finish is registered (it sits at the start of the issue decision): next cycle, the drain
        # is empty and no pass's last step is on its way (that pass would claim the chain first).
        in_flight = self.issue.valid & self.issue.last
        for stage in stages[:-1]:
            in_flight = in_flight | (stage.valid & stage.last)
        empty_next = ~capture & ((remaining == 0) | ((remaining == 1) & shifting))
        can_finish = Signal(init=1)
        m.d.sync += can_finish.eq(empty_next & ~in_flight)
        m.d.comb += self.can_finish.eq(can_finish)

        item = self.items.p
        m.d.comb += [
            self.items.valid.eq(remaining != 0),
            item.job.eq(job), item.unit.eq(unit), item.gate.eq(gate),
            item.value.eq(chain[0]),
            item.part.eq(Mux(is_n_row, Part.H, Part.WHOLE)),
        ]
        if self.split_rows:
            with m.If(is_n_row & ~second_half):
                m.d.comb += [item.value.eq(x_chain[0]), item.part.eq(Part.X)]

        with m.If(capture):
            # The lanes' sums completed last cycle; capture them before the next pass overwrites.
            m.d.sync += [remaining.eq(complete.job.rows), job.eq(complete.job), unit.eq(complete.job.unit0),
                         gate.eq(complete.job.gate0), second_half.eq(0)]
            m.d.sync += [c.eq(s) for c, s in zip(chain, sums, strict=True)]
            if self.split_rows:
                m.d.sync += [c.eq(s) for c, s in zip(x_chain, x_sums, strict=True)]
        with m.Elif(remaining != 0):
            with m.If(~shifting):
                m.d.sync += second_half.eq(1)
            with m.Else():
                m.d.sync += [remaining.eq(remaining - 1), second_half.eq(0)]
                m.d.sync += [chain[p].eq(chain[p + 1]) for p in range(lanes - 1)]
                if self.split_rows:
                    m.d.sync += [x_chain[p].eq(x_chain[p + 1]) for p in range(lanes - 1)]
                with m.If(job.whole_units):  # the gate stays the pass's
                    m.d.sync += unit.eq(unit + 1)
                with m.Elif(job.head | (gate == gates - 1)):
                    m.d.sync += [gate.eq(0), unit.eq(unit + 1)]
                with m.Else():
                    m.d.sync += gate.eq(gate + 1)
        return m

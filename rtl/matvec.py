"""The matrix-vector unit: P multiply-accumulate lanes with banked weight memories."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from amaranth.hdl import Array, Cat, Module, Mux, Shape, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from rnnhw.spec.design import LaneParameters
from rnnhw.spec.latency import LanePipeline, block_ram_words, weight_banks
from rnnhw.spec.packing import pack_images, packed_width
from rnnhw.spec.registers import WINDOW_REGIONS, bias_hn_word

from .checks import check_non_negative, check_positive, check_type
from .interfaces import IssueSignature, WeightAccessSignature
from .layouts import Part
from .multiply import PackedMultiplier, check_packable
from .pipeline import KEEP, delayed, delayed_stages, fanned_out

__all__ = ["MatVecUnit", "lane_arguments"]


def lane_arguments(lanes: LaneParameters) -> dict:
    """:class:`MatVecUnit`'s width, shift and row arguments from :func:`rnnhw.spec.design.lane_parameters`."""
    arguments = asdict(lanes)
    del arguments["lanes"], arguments["acc_frac"]  # the images give the lanes; the shifts use acc_frac
    return arguments


class MatVecUnit(wiring.Component):
    """P lanes computing exact dot products ``sum_j W[row, j] * v[j] + b[row]``, and their drain.

    All lanes see the same operand ``v[j]`` each cycle; lane ``p`` reads its own weight memory, so a
    pass of ``n`` operands completes P rows in ``n`` issue cycles. Beyond ``broadcast_fanout`` lanes,
    the issue reaches groups of that many lanes through a tree of registers (each group with its own
    copy of the step, the operand and the drain's controls), so that no register drives more than
    ``broadcast_fanout`` lanes, and each multiplier gets a register more on each side: the clock rate
    holds as P grows, at a cycle of latency per level and two for the multiplier registers. A weight
    memory deeper than one block RAM is split into banks of one block RAM each, whose outputs are
    registered twice before the addressed one is chosen (:attr:`weight_banks`; two cycles more). Each lane has one
    ``weight x operand`` multiplier (one DSP block for operands up to 18 bits) and an accumulator wide
    enough that no partial sum rounds or overflows (``spec.datapath.lane_accumulator``). When a
    pass completes, the sums move to a shift chain that hands them out one per cycle, in row order,
    while the lanes start the next pass.

    Parameters
    ----------
    weight_images, bias_images : list of lists
        Per lane, the weight memory's words and the bias memory's ``(first, second, n-row flag)``
        triples (:meth:`rnnhw.spec.schedule.Schedule.weight_images` / ``bias_images``).
    weight_width, bias_width, operand_width, acc_width : int
        Widths of the signed weights, biases, operands and sums.
    product_shift_input, product_shift_state : int
        Left shift of a product whose operand is in the input / state format, to the accumulator's
        fixed point.
    bias_shift : int
        Left shift of a bias to the accumulator's fixed point.
    gates : int
        Gates per unit in a pass (G; the reset-before GRU's r, z passes: 2, its n passes have
        ``job.whole_units``: each row a whole unit).
    split_rows : bool
        GRU: the n rows keep ``W_in x + b_in`` apart from ``W_hn h + b_hn`` (two items each).
    broadcast_fanout : int
        Lanes (or tree registers) one register of the broadcast tree drives, at least 2
        (``hardware.broadcast_fanout``); :func:`rnnhw.spec.latency.broadcast_levels` levels.
    issue_shape, sum_shape : data.StructLayout
        Layouts of an issue word and of an item (``rtl.layouts``; ``sum_shape.value`` holds
        ``acc_width`` bits).

    :func:`rnnhw.spec.design.lane_parameters` derives all but the images and layouts from a
    configuration: ``MatVecUnit(**lane_arguments(lane_parameters(config)), ...)``.
    writable : bool
        Runtime weights (default False): each memory gets a write port and the read ports a read-back
        path, through ``weight_access``.
    packed_pairs : bool
        Two lanes per multiplier (default False): lanes ``2j`` and ``2j+1`` read one memory of packed
        weights (:func:`rnnhw.spec.packing.pack_images`) and share a :class:`~.multiply.PackedMultiplier`
        (an odd last lane keeps its own multiplier): ``ceil(P/2)`` DSP blocks, the same sums and cycles.

    Members
    -------
    issue : In(IssueSignature(issue_shape=issue_shape, operand_width=operand_width))
        The step (stage 0; ``valid`` = 0 is a bubble), its operand (stage 1; 2 behind a broadcast tree,
        :attr:`operand_delay`), and ``can_finish``: a
        pass may issue its last step now, the drain will be free when its sums complete.
    sums : Out(stream.Signature(sum_shape, always_ready=True))
        Completed sums in row order; GRU n rows give a ``Part.X`` item then a ``Part.H`` item.
    weight_access : In(WeightAccessSignature(lanes=lanes, depth=deepest memory)), only if ``writable``
        Writes and reads the memories; its reads take the read ports, so only while no pass runs.

    Latency
    -------
    A pass's sums are captured 4 + L + D + O cycles after its last step is issued: L =
    :attr:`broadcast_levels` (0 for P <= ``broadcast_fanout``), D = :attr:`lane_delay` (two for banked
    weight memories, two for the multiplier registers behind a tree), O = :attr:`operand_delay` (one
    behind a tree). Its first item leaves :attr:`drain_delay` = 5 + L + D + O cycles after it
    (:attr:`rnnhw.spec.latency.LanePipeline.drain_delay`), one item per cycle after that.

    Raises
    ------
    TypeError
        If a width, shift, ``gates`` or ``broadcast_fanout`` is not an integer, a layout not a
        ``StructLayout``, or ``packed_pairs`` not a bool.
    ValueError
        If the images are empty or their counts differ, a width or ``gates`` is less than 1,
        ``broadcast_fanout`` less than 2, a shift is negative, ``sum_shape.value`` is not ``acc_width``
        bits wide, or ``packed_pairs`` is asked for writable memories or for widths no multiplier port
        takes.
    """

    def __init__(self, *, weight_images, bias_images, weight_width: int, bias_width: int, operand_width: int,
                 acc_width: int, product_shift_input: int, product_shift_state: int, bias_shift: int,
                 gates: int, split_rows: bool, broadcast_fanout: int, issue_shape: data.StructLayout,
                 sum_shape: data.StructLayout, writable: bool = False, packed_pairs: bool = False):
        if not weight_images or len(weight_images) != len(bias_images):
            raise ValueError(f"need one weight and one bias image per lane, got {len(weight_images)!r} "
                             f"and {len(bias_images)!r}")
        for name, width in (("weight_width", weight_width), ("bias_width", bias_width),
                            ("operand_width", operand_width), ("acc_width", acc_width), ("gates", gates)):
            check_positive(name, width)
        check_positive("broadcast_fanout", broadcast_fanout)
        if broadcast_fanout < 2:
            raise ValueError(f"broadcast_fanout must be at least 2 (a tree), not {broadcast_fanout!r}")
        for name, shift in (("product_shift_input", product_shift_input),
                            ("product_shift_state", product_shift_state), ("bias_shift", bias_shift)):
            check_non_negative(name, shift)
        check_type("issue_shape", issue_shape, data.StructLayout, "a StructLayout")
        check_type("sum_shape", sum_shape, data.StructLayout, "a StructLayout")
        if sum_shape["value"].shape != signed(acc_width):
            raise ValueError(f"sum_shape's value must be signed({acc_width}) (acc_width), "
                             f"not {sum_shape['value'].shape!r}")
        self._weight_images, self._bias_images = weight_images, bias_images
        self._weight_width, self._bias_width, self._operand_width = weight_width, bias_width, operand_width
        self._acc_width = acc_width
        self._product_shift_input, self._product_shift_state = product_shift_input, product_shift_state
        self._bias_shift, self._gates, self._split_rows = bias_shift, gates, bool(split_rows)
        self._broadcast_fanout = broadcast_fanout
        self._issue_shape, self._sum_shape = issue_shape, sum_shape
        self._writable_memories = bool(writable)
        check_type("packed_pairs", packed_pairs, bool, "a bool")
        if packed_pairs and self._writable_memories:
            raise ValueError("packed_pairs needs ROM weights (writable=False): a pair's memory holds packed words")
        if packed_pairs:
            check_packable(weight_width, operand_width)
        self._packed_pairs = packed_pairs
        members = {
            "issue": In(IssueSignature(issue_shape=issue_shape, operand_width=operand_width)),
            "sums": Out(stream.Signature(sum_shape, always_ready=True)),
        }
        if self._writable_memories:
            depth = max(len(weight_images[0]), len(bias_images[0]))
            members["weight_access"] = In(WeightAccessSignature(lanes=self.lanes, depth=depth))
        super().__init__(members)

    @property
    def lanes(self):
        """P, the lanes (one image each)."""
        return len(self._weight_images)

    @property
    def weight_images(self):
        return self._weight_images

    @property
    def bias_images(self):
        return self._bias_images

    @property
    def weight_width(self):
        return self._weight_width

    @property
    def bias_width(self):
        return self._bias_width

    @property
    def operand_width(self):
        return self._operand_width

    @property
    def acc_width(self):
        return self._acc_width

    @property
    def product_shift_input(self):
        return self._product_shift_input

    @property
    def product_shift_state(self):
        return self._product_shift_state

    @property
    def bias_shift(self):
        return self._bias_shift

    @property
    def gates(self):
        return self._gates

    @property
    def split_rows(self):
        return self._split_rows

    @property
    def broadcast_fanout(self):
        """Lanes (and tree registers) one register of the broadcast tree drives."""
        return self._broadcast_fanout

    @property
    def pipeline(self):
        """Depths of the lanes' pipeline (:class:`rnnhw.spec.latency.LanePipeline`)."""
        return LanePipeline(self.lanes, self.broadcast_fanout, self.weight_banks)

    @property
    def groups(self):
        """Lane groups of at most :attr:`broadcast_fanout` lanes."""
        return self.pipeline.groups

    @property
    def broadcast_levels(self):
        """Register levels from the issue to the lane groups."""
        return self.pipeline.levels

    @property
    def issue_shape(self):
        return self._issue_shape

    @property
    def sum_shape(self):
        return self._sum_shape

    @property
    def writable(self):
        """Runtime weights: the memories have write ports and ``weight_access``."""
        return self._writable_memories

    @property
    def packed_pairs(self):
        """Lanes ``2j`` and ``2j+1`` share one multiplier (:class:`~.multiply.PackedMultiplier`)."""
        return self._packed_pairs

    @property
    def weight_banks(self):
        """Banks of each weight memory, one per block RAM (``spec.latency.weight_banks``; 1: no banks)."""
        width = packed_width(self.weight_width, self.operand_width) if self.packed_pairs else self.weight_width
        return weight_banks(len(self.weight_images[0]), width, self.writable)

    @property
    def read_delay(self):
        """Cycles the bank registers add to every lane (0, or 2 with banks)."""
        return self.pipeline.read_delay

    @property
    def multiplier_registers(self):
        """Registers added on each side of every multiplier behind a broadcast tree."""
        return self.pipeline.multiplier_registers

    @property
    def operand_delay(self):
        """Cycles the issued operand comes after stage 1: 1 behind a broadcast tree, where the sequencer
        registers its sources first; the lanes take the step a cycle later to match."""
        return self.pipeline.operand_registers

    @property
    def lane_delay(self):
        """Cycles every lane's pipeline adds to the 4 of a lane without banks or multiplier registers."""
        return self.pipeline.lane_delay

    @property
    def drain_delay(self):
        """Cycles from a pass's last step to its first item."""
        return self.pipeline.drain_delay

    def elaborate(self, platform):
        m = Module()
        self._read_back_registers = {}  # runtime weights: region -> each lane's read data, registered
        issue_shape = self.issue_shape
        # The issue word travels with its step: stage 1 memory data and operand; 2 multiplier inputs;
        # 3 product (added to the sum); 4 complete sums, captured by the drain, whose first item
        # leaves the cycle after: DRAIN_DELAY cycles after the pass's last step. With a broadcast tree,
        # every lane works ``broadcast_levels`` cycles later, and so does the drain.
        stages = [Signal(issue_shape, name=f"step{s}") for s in range(1, self.drain_delay)]
        step = self.issue.step
        m.d.sync += [stages[0].eq(step)] + [b.eq(a) for a, b in zip(stages, stages[1:], strict=False)]

        groups = self._lane_groups(m, stages)
        products = self._packed_products(m, groups) if self.packed_pairs else []
        sums, x_sums = [], []
        for lane in range(self.lanes):
            group = groups[lane // self.broadcast_fanout]
            total, x_total = self._lane(m, lane, group, products[lane] if lane < len(products) else None)
            sums.append(total)
            x_sums.append(x_total)

        self._drain(m, sums, x_sums, stages, groups)
        if self.writable:
            self._read_back(m)
        return m

    def _lane_groups(self, m, stages):
        """What each group of lanes reads of the issue: its step's addresses (stage 0), the multiplier's
        operand (stage 2), the accumulators' controls (stage 3) and, with more than one group, whether
        the drain captures its sums now (stage 4), all ``broadcast_levels`` cycles late.

        One group reads the issue and the unit's stages directly. More groups each get a copy of the
        step fields and the operand through a register tree (:func:`~.pipeline.fanned_out`) and delay
        their copy themselves, so that no register drives more than ``broadcast_fanout`` lanes (or tree
        registers): the broadcast, not the lanes, sets the clock rate as P grows.
        """
        issue, late = self.issue, self.lane_delay
        in_late = self.read_delay + self.multiplier_registers  # when the multiplier's inputs are due
        if self.groups == 1:
            operand = Signal.like(issue.operand, name="operand_reg", reset_less=True)
            m.d.sync += operand.eq(issue.operand)
            return [_LaneGroup(step=issue.step, operand=delayed(m, operand, in_late, "operand_reg"),
                               control=stages[2 + late])]
        fields = ("valid", "first", "split", "last", "from_input", "w_addr", "b_addr")
        layout = data.StructLayout({name: self.issue_shape[name].shape for name in fields}
                                   | {"job": data.StructLayout({name: self.issue_shape["job"].shape[name].shape
                                                                for name in _DRAIN_JOB_FIELDS})})
        word = Signal(layout, name="lane_step")
        step = stages[0] if self.operand_delay else issue.step  # a cycle later, like the operand
        m.d.comb += [getattr(word, name).eq(getattr(step, name)) for name in fields]
        m.d.comb += [getattr(word.job, name).eq(getattr(step.job, name)) for name in _DRAIN_JOB_FIELDS]
        # Only the steps' valid flags have a reset: a reset reaching every copy of every field took 8.3 to
        # 8.7 ns of routing at P = 64. The other fields are read only with a valid step (the lanes' own
        # copies of them, and each lane's drain load, move only datapath registers).
        fanout, count = self.broadcast_fanout, self.groups
        steps = fanned_out(m, word, count, fanout, "lane_step", reset_less=True)
        valids = fanned_out(m, step.valid, count, fanout, "lane_valid")
        operands = fanned_out(m, issue.operand, count, fanout, "lane_operand", reset_less=True)
        groups = []
        for g, (fields, valid, value) in enumerate(zip(steps, valids, operands, strict=True)):
            step = _with_valid(m, fields, valid, f"lane_step_g{g}")
            controls = [_with_valid(m, *stage, f"lane_step_g{g}_d{d}") for d, stage in enumerate(zip(
                delayed_stages(m, fields, 4 + late, f"lane_fields_g{g}", reset_less=True),
                delayed_stages(m, valid, 4 + late, f"lane_valid_g{g}"), strict=True), 1)]
            capture = Signal(name=f"capture_g{g}")  # the sums are complete: registered, it drives one group
            capture_source = controls[2 + late].valid & controls[2 + late].last
            m.d.sync += capture.eq(capture_source)
            groups.append(_LaneGroup(step=step, operand_source=value, control=controls[2 + late],
                                     control_source=controls[1 + late], capture=capture,
                                     capture_source=capture_source,
                                     completed=controls[3 + late], late=in_late))
        return groups

    def _writable(self, m, memory, lane, region, address):
        """Runtime weights: a write port on ``memory``; the read port takes the window's address on reads.

        Returns the read port's address (``address`` for ROM cores).
        """
        if not self.writable:
            return address
        access = self.weight_access
        write = memory.write_port()
        m.d.comb += [write.addr.eq(access.addr), write.data.eq(access.w_data),
                     write.en.eq(access.w_en & (access.region == WINDOW_REGIONS.index(region))
                                 & (access.lane == lane))]
        return Mux(access.r_en, access.addr, address)

    def _read_back(self, m):
        """``r_data``: the datapath's own register one cycle behind each read port (block RAM outputs are
        slow; no logic may follow them)."""
        access = self.weight_access
        with m.Switch(access.region):
            for region, registers in self._read_back_registers.items():
                with m.Case(WINDOW_REGIONS.index(region)):
                    with m.Switch(access.lane):
                        for lane, register in enumerate(registers):
                            with m.Case(lane):
                                m.d.comb += access.r_data.eq(register)

    def _packed_products(self, m, groups):
        """Each lane pair's memory of packed weights and shared multiplier: the products of lanes
        ``0 .. 2*(P//2) - 1``, with the timing of a lane's own multiplier (:meth:`_lane`)."""
        products = []
        images = pack_images(self.weight_images, self.weight_width, self.operand_width)
        for pair in range(self.lanes // 2):
            group = groups[2 * pair // self.broadcast_fanout]
            multiplier = PackedMultiplier(weight_width=self.weight_width, operand_width=self.operand_width)
            m.submodules[f"multiplier{2 * pair}_{2 * pair + 1}"] = multiplier
            name = f"{2 * pair}_{2 * pair + 1}"
            if self.weight_banks > 1:
                weight = self._banked_weight(m, images[pair], multiplier.weight.shape(), group.step.w_addr, name)
            else:
                weights = Memory(shape=multiplier.weight.shape(), depth=len(images[pair]), init=images[pair])
                m.submodules[f"weights{name}"] = weights
                w_port = weights.read_port()
                weight = Signal(multiplier.weight.shape(), name=f"weight{name}", reset_less=True)
                m.d.comb += w_port.addr.eq(group.step.w_addr)
                m.d.sync += weight.eq(w_port.data)
            m.d.comb += [multiplier.weight.eq(delayed(m, weight, self.multiplier_registers, f"weight{name}_in")),
                         multiplier.operand.eq(group.multiplier_operand(m, name))]
            products += [multiplier.low, multiplier.high]
        return products

    def _banked_weight(self, m, image, shape, address, name):
        """``weight{name}``: the word of ``image`` at ``address``, from banks of one block RAM each
        (:attr:`weight_banks`). Each bank's output goes through :attr:`read_delay` registers of its own
        (a block RAM's clock-to-out leaves no time for logic after it; the first, which feeds only the
        second, becomes the block RAM's output register in rnnhw's flow, and the second sits by the
        multiplexer), then the addressed bank's last
        register into ``weight``: :attr:`read_delay` cycles more than a single memory."""
        words = block_ram_words(Shape.cast(shape).width)
        bits = (words - 1).bit_length()
        registers = []
        for bank in range(self.weight_banks):
            part = image[bank * words:(bank + 1) * words]
            memory = Memory(shape=shape, depth=len(part), init=part)
            m.submodules[f"weights{name}_bank{bank}"] = memory
            port = memory.read_port()
            m.d.comb += port.addr.eq(address[:bits])
            registers.append(delayed(m, port.data, self.read_delay, f"weights{name}_bank{bank}_data",
                                     reset_less=True))
        # the bank of the words in the bank registers
        bank = delayed(m, address[bits:], 1 + self.read_delay, f"weights{name}_bank", reset_less=True)
        weight = Signal(shape, name=f"weight{name}", reset_less=True)
        m.d.sync += weight.eq(Array(registers)[bank])
        return weight

    def _lane(self, m, lane, group, product=None):
        """One lane of ``group``: weight memory and multiplier (unless its pair's ``product`` is given),
        bias memory, accumulator. Returns its sum (and GRU x-part sum)."""
        own, late, around = product is None, self.lane_delay, self.multiplier_registers
        stage = group.lane_control(m, str(lane))
        operand = group.multiplier_operand(m, str(lane)) if own else None
        single = own and self.weight_banks == 1  # one memory (else banks, or the pair's)
        if single:
            weights = Memory(shape=signed(self.weight_width), depth=len(self.weight_images[lane]),
                             init=self.weight_images[lane])
        firsts = Memory(shape=signed(self.bias_width), depth=len(self.bias_images[lane]),
                        init=[first for first, _, _ in self.bias_images[lane]])
        if single:
            m.submodules[f"weights{lane}"] = weights
        m.submodules[f"bias{lane}"] = firsts
        # (One statement for both ports, as before packing existed: the same names, the same Verilog.)
        w_port, b_port = (weights.read_port() if single else None), firsts.read_port()
        b_addr = b_port.addr.eq(self._writable(m, firsts, lane, "BIASES", group.step.b_addr))
        read_back = {}
        if single:
            m.d.comb += [w_port.addr.eq(self._writable(m, weights, lane, "WEIGHTS", group.step.w_addr)),
                         b_addr]
            # Registers on both sides of the multiplier: block RAM clock-to-out and the multiply each get
            # a cycle of their own (the flow moves the inputs' registers into the DSP block).
            weight = Signal(signed(self.weight_width), name=f"weight{lane}", reset_less=True)
            product = Signal(signed(self.weight_width + self.operand_width), name=f"product{lane}", reset_less=True)
            weight_in = delayed(m, weight, around, f"weight{lane}_in")
            m.d.sync += [weight.eq(w_port.data), product.eq(weight_in * operand)]
            read_back["WEIGHTS"] = weight
        elif own:
            m.d.comb += b_addr
            weight = self._banked_weight(m, self.weight_images[lane], signed(self.weight_width),
                                         group.step.w_addr, str(lane))
            product = Signal(signed(self.weight_width + self.operand_width), name=f"product{lane}", reset_less=True)
            m.d.sync += product.eq(delayed(m, weight, around, f"weight{lane}_in") * operand)
        else:
            m.d.comb += b_addr
        product = delayed(m, product, around, f"product{lane}_out")
        # Behind a tree each lane keeps its own bias registers: lanes' bias ROMs share many bit functions
        # (the same small values), and one merged register drove the adders of lanes across the die
        # (P = 128: 6.6 ns of routing).
        apart = self.groups > 1
        bias_stages = delayed_stages(m, b_port.data, 2 + late, f"bias{lane}", reset_less=True, keep=apart)
        bias = bias_stages[-1]
        read_back["BIASES"] = bias_stages[0]

        # Datapath registers have no reset (it would reach every lane): each pass's first step loads the
        # accumulator, and the drain reads a chain register only after loading it.
        total = Signal(signed(self.acc_width), name=f"sum{lane}", reset_less=True)
        term = Mux(stage.from_input, product << self.product_shift_input, product << self.product_shift_state)
        restart = stage.first
        x_total = None
        if self.split_rows:
            # One word per pass: the n-row flag above b_hn (r and z rows must not restart at the split).
            seconds = Memory(shape=self.bias_width + 1, depth=len(self.bias_images[lane]),
                             init=[bias_hn_word(second, flag, self.bias_width)
                                   for _, second, flag in self.bias_images[lane]])
            m.submodules[f"bias_hn{lane}"] = seconds
            s_port = seconds.read_port()
            m.d.comb += s_port.addr.eq(self._writable(m, seconds, lane, "BIAS_HN", group.step.b_addr))
            second_stages = delayed_stages(m, s_port.data[: self.bias_width].as_signed(), 2 + late,
                                           f"bias_hn{lane}", reset_less=True, keep=apart)
            split_stages = delayed_stages(m, s_port.data[self.bias_width], 2 + late, f"split_row{lane}",
                                          reset_less=True, keep=apart)
            second, is_split_row = second_stages[-1], split_stages[-1]
            read_back["BIAS_HN"] = Cat(second_stages[0], split_stages[0])
            x_total = Signal(signed(self.acc_width), name=f"x_sum{lane}", reset_less=True)
            with m.If(stage.valid & stage.split & is_split_row):
                m.d.sync += [x_total.eq(total), total.eq((second << self.bias_shift) + term)]
        for region, value in read_back.items():
            self._read_back_registers.setdefault(region, []).append(value)
        with m.If(stage.valid):
            with m.If(restart):
                m.d.sync += total.eq((bias << self.bias_shift) + term)
            with m.Elif(~(stage.split & (is_split_row if self.split_rows else 0))):
                m.d.sync += total.eq(total + term)
        return total, x_total

    def _walk(self, m, capture, completed, name=""):
        """Registers that follow the drain's items: the pass's job (from ``completed`` when ``capture``),
        the items left, the current item's gate (and unit, when the job has ``unit0``) and, for GRU n
        rows, whether the X item has gone; ``shifting``: this cycle's item is its row's last (a GRU n
        row's X item is not). Their updates go in with :meth:`_Walk.step`."""
        job = Signal(completed.shape(), name=f"job{name}")
        remaining = Signal(range(self.lanes + 1), name=f"remaining{name}")
        second_half = Signal(name=f"second_half{name}")  # GRU n row: the X item has gone, the H item is next
        unit = Signal.like(self.sums.p.unit, name=f"unit{name}") if "unit0" in completed.shape().members else None
        gate = Signal.like(self.sums.p.gate, name=f"gate{name}")
        is_n_row = ~job.head & (gate == 2) if self.split_rows else 0
        return _Walk(capture=capture, completed=completed, gates=self.gates, job=job, remaining=remaining,
                     second_half=second_half, gate=gate, unit=unit, is_n_row=is_n_row,
                     shifting=~(is_n_row & ~second_half))

    def _drain(self, m, sums, x_sums, stages, groups):
        """The shift chain that hands a pass's sums out one per cycle, in row order.

        One walk (:meth:`_walk`) names the items. With more than one lane group, each group's chain
        registers follow a copy of the walk in the group's own registers, started by the group's own
        ``capture``, so that no control signal drives more than ``broadcast_fanout`` lanes' registers.
        """
        complete = stages[-1]
        lanes = self.lanes
        chain = [Signal(signed(self.acc_width), name=f"chain{p}", reset_less=True) for p in range(lanes)]
        x_chain = [Signal(signed(self.acc_width), name=f"x_chain{p}", reset_less=True) for p in range(lanes)] \
            if self.split_rows else None
        chains = [chain, x_chain] if self.split_rows else [chain]
        sources = [sums, x_sums] if self.split_rows else [sums]
        walk = self._walk(m, complete.valid & complete.last, complete.job)
        capture, remaining, shifting = walk.capture, walk.remaining, walk.shifting
        # can_finish is registered (it sits at the start of the issue decision): next cycle, the drain
        # is empty and no pass's last step is on its way (that pass would claim the chain first).
        in_flight = self.issue.step.valid & self.issue.step.last
        for stage in stages[:-1]:
            in_flight = in_flight | (stage.valid & stage.last)
        empty_next = ~capture & ((remaining == 0) | ((remaining == 1) & shifting))
        can_finish = Signal(init=1)
        m.d.sync += can_finish.eq(empty_next & ~in_flight)
        m.d.comb += self.issue.can_finish.eq(can_finish)

        item = self.sums.p
        m.d.comb += [
            self.sums.valid.eq(remaining != 0),
            item.job.eq(walk.job), item.unit.eq(walk.unit), item.gate.eq(walk.gate),
            item.value.eq(chain[0]),
            item.part.eq(Mux(walk.is_n_row, Part.H, Part.WHOLE)),
        ]
        if self.split_rows:
            with m.If(walk.is_n_row & ~walk.second_half):
                m.d.comb += [item.value.eq(x_chain[0]), item.part.eq(Part.X)]

        if len(groups) == 1:
            walk.step(m, [c[p].eq(v[p]) for c, v in zip(chains, sources, strict=True) for p in range(lanes)],
                      [c[p].eq(c[p + 1]) for c in chains for p in range(lanes - 1)])
        else:
            walk.step(m, [], [])
            for g, group in enumerate(groups):
                group_walk = self._walk(m, group.capture, group.completed.job, f"_g{g}")
                group_walk.step(m, [], [])
                self._group_chain(m, g, group, group_walk.shifting, chains, sources)
        return m

    def _group_chain(self, m, g, group, shifting, chains, sources):
        """Group ``g``'s lanes of the drain chain. Each lane's registers load its sums when the lane's own
        copy of the group's capture register says so (``load{p}``, kept apart from the others: each
        drives one lane's registers), else take the next lane's whenever the group's walk shifts. They
        shift while the chain is empty too (its values are read only while items remain), so that
        their control is a register and the walk's GRU flag, not a decision over the items left that
        would reach every register of the group."""
        first = g * self.broadcast_fanout
        for p in range(first, min(first + self.broadcast_fanout, self.lanes)):
            load = Signal(name=f"load{p}", attrs=KEEP, reset_less=True)
            m.d.sync += load.eq(group.capture_source)
            with m.If(load):
                m.d.sync += [c[p].eq(v[p]) for c, v in zip(chains, sources, strict=True)]
            with m.Elif(shifting):
                m.d.sync += [c[p].eq(c[p + 1]) for c in chains if p + 1 < self.lanes]


def _with_valid(m, fields, valid, name):
    """A step word: ``fields`` (a register without reset) with the ``valid`` flag of a register with one."""
    step = Signal.like(fields, name=name)
    m.d.comb += [step.eq(fields), step.valid.eq(valid)]
    return step


#: The job fields a lane group's copy of the drain's walk reads (GRU n rows hold the chain).
_DRAIN_JOB_FIELDS = ("rows", "gate0", "head", "whole_units")
#: The step fields a lane's accumulator reads.
_ACCUMULATOR_FIELDS = ("valid", "first", "split", "from_input")


@dataclass(frozen=True)
class _LaneGroup:
    """What the lanes of one group read: ``step`` (stage 0: addresses), ``control`` (the accumulators',
    stage 3) and the multiplier's operand (stage 2): one register for all lanes (``operand``) or, behind
    a broadcast tree, one per multiplier from the group's copy (``operand_source``, stage 1), with the
    group's ``capture`` (stage 4) and the ``completed`` step with it."""

    step: object
    control: object
    control_source: object = None  # what ``control`` registers, for the lanes' own copies of it
    operand: object = None
    operand_source: object = None
    capture: object = None
    capture_source: object = None  # what ``capture`` registers, for the lanes' own copies of it
    completed: object = None
    late: int = 0  # cycles the multiplier's inputs come after a lane's without banks or multiplier registers

    def lane_control(self, m, name: str):
        """The accumulator controls of lane ``name``: ``control`` (one group), or behind a broadcast tree
        the lane's own copy of its fields the accumulator reads, registered from ``control_source``. A
        group's lanes spread over the DSP rows; one register driving the restart and enable logic of
        every accumulator bit in the group set the clock of P = 128 (10.2 ns of routing)."""
        if self.control_source is None:
            return self.control
        layout = data.StructLayout(dict.fromkeys(_ACCUMULATOR_FIELDS, 1))
        control = Signal(layout, name=f"control{name}", attrs=KEEP, reset_less=True)
        m.d.sync += [getattr(control, field).eq(getattr(self.control_source, field)) for field in _ACCUMULATOR_FIELDS]
        return control

    def multiplier_operand(self, m, name: str):
        """The operand register of multiplier ``name``: each sits by its DSP block, so that the group's
        copy drives registers, not the routing to ``broadcast_fanout`` multipliers."""
        if self.operand is not None:
            return self.operand
        source = delayed(m, self.operand_source, self.late, f"lane_operand{name}")
        register = Signal.like(self.operand_source, name=f"operand_reg{name}", attrs=KEEP)
        m.d.sync += register.eq(source)
        return register


@dataclass(frozen=True)
class _Walk:
    """The drain's walk over a pass's items (:meth:`MatVecUnit._walk`)."""

    capture: object
    completed: object
    gates: int
    job: object
    remaining: object
    second_half: object
    gate: object
    unit: object
    is_n_row: object
    shifting: object

    def step(self, m, load, shift):
        """The registers' updates; the chain statements ``load`` run at a capture and ``shift`` when an
        item has gone."""
        with m.If(self.capture):
            # The lanes' sums completed last cycle; capture them before the next pass overwrites.
            m.d.sync += [self.remaining.eq(self.completed.rows), self.job.eq(self.completed)]
            if self.unit is not None:
                m.d.sync += self.unit.eq(self.completed.unit0)
            m.d.sync += [self.gate.eq(self.completed.gate0), self.second_half.eq(0)]
            m.d.sync += load
        with m.Elif(self.remaining != 0):
            with m.If(~self.shifting):
                m.d.sync += self.second_half.eq(1)
            with m.Else():
                m.d.sync += [self.remaining.eq(self.remaining - 1), self.second_half.eq(0)]
                m.d.sync += shift
                with m.If(self.job.whole_units):  # the gate stays the pass's
                    if self.unit is not None:
                        m.d.sync += self.unit.eq(self.unit + 1)
                with m.Elif(self.job.head | (self.gate == self.gates - 1)):
                    m.d.sync += self.gate.eq(0)
                    if self.unit is not None:
                        m.d.sync += self.unit.eq(self.unit + 1)
                with m.Else():
                    m.d.sync += self.gate.eq(self.gate + 1)

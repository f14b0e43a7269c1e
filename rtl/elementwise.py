"""The elementwise unit: activations and the per-unit state update of LSTM, GRU, Elman and Jordan cells."""

from __future__ import annotations

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from rnnhw.spec.datapath import Datapath
from rnnhw.spec.latency import MULTIPLIER_LATENCY, elementwise_latency, gate_latency, table_read_registers
from rnnhw.spec.schedule import Schedule

from .checks import check_positive, check_type
from .fixed import align, convert, format_shape
from .interfaces import WrittenSignature, state_read_signature, state_write_signature
from .layouts import Part, output_element_layout
from .lut import ActivationLUT
from .multiply import multiply, times_constant
from .pipeline import UNCHECKED_COLLISIONS, delayed, delayed_all

__all__ = ["ElementwiseUnit"]


class ElementwiseUnit(wiring.Component):
    """Gate activations and state updates, one gate pre-activation in per cycle, in unit-major order.

    Mirrors ``golden.model.lstm_elementwise`` / ``gru_elementwise`` / ``elman_elementwise``: every
    rounding happens at the same point and in the same format. Each completed unit writes its new
    ``h`` to the state memory (bank = the step generation's low bit), reports it to the sequencer
    (``written``), and, when the job says so, sends it to the output stream. LSTM cell states live in
    a memory inside this unit. Its products (and its tables' interpolation) use multipliers of the
    kind ``hardware.elementwise_multipliers`` names.

    Parameters
    ----------
    datapath : Datapath
        Formats, tables and the configuration (cell, hidden size, layers, multiplier kind).
    item_shape : data.StructLayout
        Layout of an incoming item (:func:`rtl.layouts.item_layout`, values in the accumulator format).
    state_depth : int
        Words of the state memory (``2 * layers * hidden``: two banks per layer; the reset-before GRU's
        ``r*h`` and the Jordan cell's ``y`` banks after them; bidirectional: the sequence memory:
        ``Schedule.state_depth``). Layers here are state layers: one per layer and direction.

    With ``gru_reset = "before"``, r items write ``r*h_{t-1}`` (rounded to ``state``), z items keep
    ``z`` in a memory of their own, and n items (``a_n = W_in x + W_hn (r*h) + b``) write ``h``.

    Members
    -------
    items : In(stream.Signature(item_shape, always_ready=True))
        Pre-activations in the accumulator format (GRU n rows: ``Part.X`` then ``Part.H``).
    h_write : In(WritePort.Signature(...))
        Drives the state memory's write port (address ``layer*2H + bank*H + unit``; a bidirectional
        core's jobs carry their row: ``job.row + unit``, and ``job.prev_row + unit`` for ``h_{t-1}``).
    h_read : In(ReadPort.Signature(...))
        Drives a read port of the state memory (GRU: ``h_{t-1}[unit]``; one cycle latency; the
        other cells leave it idle).
    written : Out(WrittenSignature(layers=L, hidden=H))
        Each ``h`` write: its layer, step generation and ``count = unit + 1``.
    reset_written : Out(WrittenSignature(layers=L, hidden=H))
        GRU with ``gru_reset = "before"`` only: each ``r*h`` write (at ``reset_base + layer*H + unit``,
        generation of the r item's job), ``count = unit + 1``.
    output_written : Out(WrittenSignature(layers=L, hidden=O))
        Jordan cell only: each ``y`` write (at the layer's ``y`` bank of the head job's generation),
        ``count = unit + 1``.
    output : Out(stream.Signature({data: state, last: 1}, always_ready=True))
        (Jordan: new ``y`` values instead, ``last`` on the last output.)
        New ``h`` values of emitting jobs; ``last`` on the last unit.

    Latency
    -------
    From the last item of a unit to its ``h`` write, :attr:`latency` =
    :func:`rnnhw.spec.latency.elementwise_latency` cycles (LSTM 19, GRU 18, GRU with the reset before
    ``W_hn`` 9, Elman and Jordan 6 with plain tables on the default formats; the same from an r item to
    its ``r*h`` write and from a Jordan head item to its ``y`` write); ``written``,
    ``reset_written``, ``output_written`` and ``output`` in the same cycle as the write.

    Raises
    ------
    TypeError
        If ``datapath`` is not a ``Datapath``, ``item_shape`` not a ``StructLayout`` or ``state_depth``
        not an integer.
    ValueError
        If ``state_depth`` is less than ``2 * layers * hidden`` (plus the ``r*h`` or ``y`` words).
    """

    def __init__(self, *, datapath: Datapath, item_shape: data.StructLayout, state_depth: int):
        check_type("datapath", datapath, Datapath, "a Datapath")
        check_type("item_shape", item_shape, data.StructLayout, "a StructLayout")
        check_positive("state_depth", state_depth)
        model = datapath.config.model
        needed = Schedule(datapath.config).state_depth
        if state_depth < needed:
            extra = " and its r*h" if model.reset_before else " and two banks of its y" if model.jordan else ""
            raise ValueError(f"state_depth must hold two banks of every layer's h{extra} ({needed}), "
                             f"not {state_depth!r}")
        self._datapath, self._item_shape, self._state_depth = datapath, item_shape, state_depth
        state = format_shape(datapath.numerics.state)
        cell_members = {}
        if model.reset_before:
            cell_members["reset_written"] = Out(WrittenSignature(layers=self.layers, hidden=model.hidden_size))
        if model.jordan:
            cell_members["output_written"] = Out(WrittenSignature(layers=model.num_layers, hidden=model.output_size))
        super().__init__({
            "items": In(stream.Signature(item_shape, always_ready=True)),
            **cell_members,
            "h_write": In(state_write_signature(depth=state_depth, shape=state)),
            "h_read": In(state_read_signature(depth=state_depth, shape=state)),
            "written": Out(WrittenSignature(layers=self.layers, hidden=model.hidden_size)),
            "output": Out(stream.Signature(output_element_layout(datapath.numerics.state), always_ready=True)),
            **cell_members,
        })

    @property
    def datapath(self):
        return self._datapath

    @property
    def item_shape(self):
        return self._item_shape

    @property
    def state_depth(self):
        return self._state_depth

    @property
    def multipliers(self):
        """``"logic"`` or ``"dsp"``: the kind of every multiplier of the unit."""
        return self._datapath.config.hardware.elementwise_multipliers

    @property
    def cell(self):
        return self._datapath.config.model.cell

    @property
    def hidden(self):
        return self._datapath.config.model.hidden_size

    @property
    def layers(self):
        """State layers: one per layer and direction (``Schedule.state_layers``)."""
        return Schedule(self._datapath.config).state_layers

    @property
    def table_read_registers(self):
        """Registers behind each activation table's block RAM (``spec.latency.table_read_registers``)."""
        return table_read_registers(self._datapath.config.hardware)

    @property
    def latency(self):
        """Cycles from a unit's last item to its ``h`` write (``spec.latency``)."""
        return elementwise_latency(self._datapath)

    # -- shared pieces -------------------------------------------------------------------------
    def _gate_luts(self, m):
        """Sigmoid and tanh of every incoming item, aligned to the slower table's latency."""
        n, dp = self.datapath.numerics, self.datapath
        outputs = {}
        for function in ("sigmoid", "tanh"):
            lut = ActivationLUT(table=dp.table(function), in_width=n.accum.width, in_frac=n.accum.frac_bits,
                                multipliers=self.multipliers, read_registers=self.table_read_registers)
            m.submodules[f"{function}_lut"] = lut
            m.d.comb += lut.x.eq(self.items.p.value)
            outputs[function] = delayed(m, lut.y, gate_latency(self.datapath) - lut.latency, f"{function}_y")
        valid = delayed(m, self.items.valid, gate_latency(self.datapath), "item_valid")
        item = delayed(m, self.items.p, gate_latency(self.datapath), "item")
        return valid, item, outputs

    def _state_address(self, job, unit, previous=False):
        """Where ``h[unit]`` of ``job``'s step (``previous``: of the step before) is: bank = the step
        generation's low bit; a bidirectional core's jobs carry their rows."""
        if self.datapath.config.model.bidirectional:
            return (job.prev_row if previous else job.row) + unit
        bank = job.wgen[0] ^ 1 if previous else job.wgen[0]
        return times_constant(Cat(bank, job.layer), self.hidden) + unit

    def _write_h(self, m, valid, job, unit, h, second=None):
        """Write ``h`` one register later; where ``second``, the reset-before GRU's ``r*h`` or the Jordan
        cell's ``y`` instead (reported on ``reset_written`` / ``output_written``)."""
        # The final rounding gets a cycle of its own before the state memory's write port.
        h_new = Signal(format_shape(self.datapath.numerics.state), name="h_new")
        m.d.sync += h_new.eq(h)
        h = h_new
        valid, job, unit = (delayed(m, s, 1, name) for s, name in ((valid, "w_valid"), (job, "w_job"),
                                                                    (unit, "w_unit")))
        address, write = self._state_address(job, unit), valid
        emitting, last = valid & job.emit, unit == self.hidden - 1
        if second is not None:
            second = delayed(m, second, 1, "w_second")
            model, schedule = self.datapath.config.model, Schedule(self.datapath.config)
            if model.jordan:  # y is the output stream
                report, banks = self.output_written, schedule.output_banks
                banks = Array(Const(v, range(max(banks) + 1)) for v in banks)
                second_address = banks[Cat(job.wgen[0], job.layer)] + unit
                emitting, last = valid & second & job.emit, unit == model.output_size - 1
            else:
                report = self.reset_written
                second_address = schedule.reset_base + times_constant(job.layer, self.hidden) + unit
                emitting = valid & ~second & job.emit
            address = Mux(second, second_address, address)
            m.d.comb += [report.valid.eq(valid & second), report.layer.eq(job.layer), report.gen.eq(job.wgen),
                         report.count.eq(unit + 1)]
            valid = valid & ~second
        m.d.comb += [
            self.h_write.addr.eq(address),
            self.h_write.en.eq(write),
            self.h_write.data.eq(h),
            self.written.valid.eq(valid),
            self.written.layer.eq(job.layer),
            self.written.gen.eq(job.wgen),
            self.written.count.eq(unit + 1),
            self.output.valid.eq(emitting),
            self.output.p.data.eq(h),
            self.output.p.last.eq(last),
        ]

    def elaborate(self, platform):
        m = Module()
        model = self.datapath.config.model
        if model.reset_before:
            self._elaborate_gru_reset_before(m)
        elif model.jordan:
            self._elaborate_jordan(m)
        else:
            getattr(self, f"_elaborate_{self.cell}" if self.cell in ("lstm", "gru") else "_elaborate_elman")(m)
        return m

    # -- cells ---------------------------------------------------------------------------------
    def _elaborate_lstm(self, m):
        dp, n = self.datapath, self.datapath.numerics
        af = n.activation.frac_bits
        valid, item, act = self._gate_luts(m)
        value = Mux(item.gate == 2, act["tanh"], act["sigmoid"])  # i, f, o: sigmoid; g: tanh
        i_gate, f_gate, g_gate = (Signal(format_shape(n.activation), name=name) for name in "ifg")
        with m.If(valid):
            with m.Switch(item.gate):
                for gate, reg in enumerate((i_gate, f_gate, g_gate)):
                    with m.Case(gate):
                        m.d.sync += reg.eq(value)
        fire = valid & (item.gate == 3)

        # A unit's c is read a pass (9+ cycles) after its write, never in the same cycle.
        cells = Memory(shape=format_shape(n.cell_state), depth=self.layers * self.hidden, init=[],
                       attrs=UNCHECKED_COLLISIONS)
        m.submodules.cell_state = cells
        c_read, c_write = cells.read_port(), cells.write_port()
        # c_{t-1} of the firing item's unit is read a cycle ahead (the address from the item one register
        # before ``item``) and registered twice out of the memory: the first, which feeds only the
        # second, becomes the block RAM's own output register (rnnhw.hard_registers), and the route to
        # the second gets a cycle.
        early = delayed(m, self.items.p, gate_latency(self.datapath) - 1, "c_read_item")
        m.d.comb += c_read.addr.eq(times_constant(early.job.layer, self.hidden) + early.unit)
        c_read_data = delayed(m, c_read.data, 1, "c_read_data")

        # U0: operands of f*c + i*g (c_{t-1} arrives from its first register this cycle).
        v0 = Signal(name="u0_valid")
        meta0 = Signal.like(item, name="u0_item")
        i0, f0, g0, o0 = (Signal(format_shape(n.activation), name=f"u0_{x}") for x in "ifgo")
        m.d.sync += [v0.eq(fire), meta0.eq(item), i0.eq(i_gate), f0.eq(f_gate), g0.eq(g_gate), o0.eq(value)]
        # c_{t-1} is registered out of the memory before it is multiplied.
        c_prev = Signal(format_shape(n.cell_state), name="c_prev")
        m.d.sync += c_prev.eq(Mux(meta0.job.t0, 0, c_read_data))
        v0, meta0, i0, f0, g0, o0 = delayed_all(m, 1, "u0c", v0, meta0, i0, f0, g0, o0)
        fc = multiply(m, f0, c_prev, kind=self.multipliers, name="f_times_c")
        ig = multiply(m, i0, g0, kind=self.multipliers, name="i_times_g")
        v1, meta1, o1 = delayed_all(m, MULTIPLIER_LATENCY, "u1", v0, meta0, o0)

        # U1: the exact f*c + i*g; then c_t = round(f*c + i*g), written back.
        frac = dp.lstm_cell_frac
        total = Signal(signed(max(n.activation.width + n.cell_state.width + frac - af - n.cell_state.frac_bits,
                                  2 * n.activation.width + frac - 2 * af) + 1), name="f_c_plus_i_g")
        m.d.sync += total.eq(align(fc, af + n.cell_state.frac_bits, frac) + align(ig, 2 * af, frac))
        v1, meta1, o1 = delayed_all(m, 1, "u1s", v1, meta1, o1)
        c_new = convert(total, frac, n.cell_state, n.rounding, n.overflow)
        c_reg = Signal(format_shape(n.cell_state), name="c_new")
        m.d.sync += c_reg.eq(c_new)
        v2, meta2, o2 = delayed_all(m, 1, "u2", v1, meta1, o1)
        # Written back from the register: a unit's next c read is at least one pass (9+ cycles) away.
        m.d.comb += [c_write.addr.eq(times_constant(meta2.job.layer, self.hidden) + meta2.unit), c_write.data.eq(c_reg),
                     c_write.en.eq(v2)]

        # U2: tanh(c_t), then h_t = round(o * tanh(c_t)).
        cell_lut = ActivationLUT(table=dp.tanh, in_width=n.cell_state.width, in_frac=n.cell_state.frac_bits,
                                 multipliers=self.multipliers, read_registers=self.table_read_registers)
        m.submodules.cell_tanh = cell_lut
        m.d.comb += cell_lut.x.eq(c_reg)
        v3, meta3, o3 = delayed_all(m, cell_lut.latency, "u3", v2, meta2, o2)
        oh = multiply(m, o3, cell_lut.y, kind=self.multipliers, name="o_times_tanh_c")
        v4, meta4 = delayed_all(m, MULTIPLIER_LATENCY, "u4", v3, meta3)
        h = convert(oh, 2 * af, n.state, n.rounding, n.overflow)
        self._write_h(m, v4, meta4.job, meta4.unit, h)

    def _elaborate_gru(self, m):
        dp, n = self.datapath, self.datapath.numerics
        af, gf = n.accum.frac_bits, n.activation.frac_bits
        valid, item, act = self._gate_luts(m)
        r_gate, z_gate = (Signal(format_shape(n.activation), name=name) for name in "rz")
        xn = Signal(format_shape(n.accum), name="xn")
        with m.If(valid):
            with m.If(item.gate == 0):
                m.d.sync += r_gate.eq(act["sigmoid"])
            with m.If(item.gate == 1):
                m.d.sync += z_gate.eq(act["sigmoid"])
            with m.If(item.part == Part.X):
                m.d.sync += xn.eq(item.value)
        fire = valid & (item.part == Part.H)

        # U0: a_n = round(xn + r * hn).
        rhn = multiply(m, r_gate, item.value, kind=self.multipliers, name="r_times_hn")
        v0, meta0, z0, xn0 = delayed_all(m, MULTIPLIER_LATENCY, "u0", fire, item, z_gate, xn)
        exact = Signal(signed(max(n.accum.width + gf, len(rhn)) + 1), name="xn_plus_r_hn")
        m.d.sync += exact.eq(align(xn0, af, af + gf) + rhn)
        v0, meta0, z0 = delayed_all(m, 1, "u0s", v0, meta0, z0)
        a_n = Signal(format_shape(n.accum), name="a_n")
        m.d.sync += a_n.eq(convert(exact, af + gf, n.accum, n.rounding, n.overflow))

        # U1: n = tanh(a_n); h_{t-1}[unit] is read meanwhile.
        lut = ActivationLUT(table=dp.tanh, in_width=n.accum.width, in_frac=af, multipliers=self.multipliers,
                            read_registers=self.table_read_registers)
        m.submodules.n_tanh = lut
        m.d.comb += lut.x.eq(a_n)
        # The read address goes out one cycle before tanh(a_n) arrives, so both are there together.
        # h_{t-1}[unit] is read two cycles ahead and registered out of the memory.
        early = delayed(m, meta0, lut.latency - 1, "read_item")
        m.d.comb += self.h_read.addr.eq(self._state_address(early.job, early.unit, previous=True))
        h_read = delayed(m, self.h_read.data, 1, "h_read")
        v2, meta2, z2 = delayed_all(m, lut.latency, "u2", v0, meta0, z0)
        v3, meta3, z3 = delayed_all(m, 1, "u3", v2, meta2, z2)

        # U2: h_t = round(n + z * (h_{t-1} - n)).
        d = dp.gru_state_frac
        h_prev = Mux(meta3.job.t0, 0, h_read)
        diff = Signal(signed(max(n.state.width + d - n.state.frac_bits, n.activation.width + d - gf) + 1),
                      name="h_minus_n")
        n3 = Signal(format_shape(n.activation), name="n_gate")
        m.d.sync += [diff.eq(align(h_prev, n.state.frac_bits, d) - align(lut.y, gf, d)), n3.eq(lut.y)]
        v4, meta4, z4 = delayed_all(m, 1, "u4", v3, meta3, z3)
        zd = multiply(m, z4, diff, kind=self.multipliers, name="z_times_diff")
        n4 = delayed(m, n3, MULTIPLIER_LATENCY, "n_gate")
        v5, meta5 = delayed_all(m, MULTIPLIER_LATENCY, "u5", v4, meta4)
        h = convert(align(n4, gf, gf + d) + zd, gf + d, n.state, n.rounding, n.overflow)
        self._write_h(m, v5, meta5.job, meta5.unit, h)

    def _elaborate_gru_reset_before(self, m):
        """GRU with the reset before ``W_hn``: r items write ``r*h``, z items keep ``z``, n items write ``h``.

        Both writes come :attr:`latency` cycles after their item, so the one write port never
        collides; the sequencer reads ``r*h`` back as the n rows' operand.
        """
        dp, n = self.datapath, self.datapath.numerics
        sf, gf = n.state.frac_bits, n.activation.frac_bits
        valid, item, act = self._gate_luts(m)
        # h_{t-1}[unit] of r and n items: read two cycles ahead and registered out of the memory.
        early = delayed(m, self.items.p, gate_latency(self.datapath) - 2, "read_item")
        m.d.comb += self.h_read.addr.eq(self._state_address(early.job, early.unit, previous=True))
        h_prev = Mux(item.job.t0, 0, delayed(m, self.h_read.data, 1, "h_read"))
        is_reset, is_update = valid & (item.gate == 0), valid & (item.gate == 1)

        # z waits in a memory for its unit's n item, which comes at least a pass later.
        updates = Memory(shape=format_shape(n.activation), depth=self.layers * self.hidden, init=[])
        m.submodules.update_gate = updates
        z_write, z_read = updates.write_port(), updates.read_port()
        slot = times_constant(item.job.layer, self.hidden) + item.unit
        m.d.comb += [z_write.addr.eq(slot), z_write.data.eq(act["sigmoid"]), z_write.en.eq(is_update),
                     z_read.addr.eq(slot)]

        # r items: r*h, rounded to state.
        rh = multiply(m, act["sigmoid"], h_prev, kind=self.multipliers, name="r_times_h")
        rh = delayed(m, convert(rh, gf + sf, n.state, n.rounding, n.overflow), 1, "r_h")

        # n items: n = tanh(a_n); h_t = round(n + z * (h_{t-1} - n)).
        d = dp.gru_state_frac
        diff = Signal(signed(max(n.state.width + d - sf, n.activation.width + d - gf) + 1), name="h_minus_n")
        n1 = Signal(format_shape(n.activation), name="n_gate")
        m.d.sync += [diff.eq(align(h_prev, sf, d) - align(act["tanh"], gf, d)), n1.eq(act["tanh"])]
        zd = multiply(m, z_read.data, diff, kind=self.multipliers, name="z_times_diff")
        n3 = delayed(m, n1, MULTIPLIER_LATENCY, "n_gate")
        h = convert(align(n3, gf, gf + d) + zd, gf + d, n.state, n.rounding, n.overflow)

        cycles = 1 + MULTIPLIER_LATENCY
        v3, meta3, reset3 = delayed_all(m, cycles, "u3", valid & ~is_update, item, is_reset)
        self._write_h(m, v3, meta3.job, meta3.unit, Mux(reset3, rh, h), second=reset3)

    def _elman_h(self, item, act, relu):
        """``h = round(max(a, 0))`` or ``round(tanh(a))``, to ``state``."""
        n = self.datapath.numerics
        if relu:
            return convert(Mux(item.value < 0, 0, item.value), n.accum.frac_bits, n.state, n.rounding, n.overflow)
        return convert(act["tanh"], n.activation.frac_bits, n.state, n.rounding, n.overflow)

    def _elaborate_elman(self, m):
        valid, item, act = self._gate_luts(m)
        self._write_h(m, valid, item.job, item.unit, self._elman_h(item, act, self.cell == "rnn_relu"))

    def _elaborate_jordan(self, m):
        """Gate items (``job.head = 0``): ``h = act(a)`` as Elman's; head items: ``y = out_act(a)``."""
        model, n = self.datapath.config.model, self.datapath.numerics
        valid, item, act = self._gate_luts(m)
        h = self._elman_h(item, act, model.nonlinearity == "relu")
        if model.output_activation == "identity":
            y = convert(item.value, n.accum.frac_bits, n.state, n.rounding, n.overflow)
        else:
            y = convert(act[model.output_activation], n.activation.frac_bits, n.state, n.rounding, n.overflow)
        self._write_h(m, valid, item.job, item.unit, Mux(item.job.head, y, h), second=item.job.head)

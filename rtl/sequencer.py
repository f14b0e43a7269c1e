"""The sequencer: walks timesteps, layers, passes and operands, and issues them to the lanes."""

from __future__ import annotations

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from rnnhw.spec.design import lane_parameters, memory_sizes, output_places
from rnnhw.spec.latency import operand_registers
from rnnhw.spec.schedule import Schedule

from .checks import check_positive, check_type
from .fixed import format_shape
from .interfaces import (
    InputReadSignature,
    IssueSignature,
    RefundSignature,
    ReservationSignature,
    SequenceReadSignature,
    WrittenSignature,
    state_read_signature,
)
from .layouts import output_element_layout
from .multiply import times_constant
from .pipeline import delayed

__all__ = ["Sequencer", "OperandSource"]


class OperandSource:
    """Where the operand of an issued step comes from."""

    ZERO = 0  #: the previous state at the first timestep of a sequence
    INPUT = 1  #: the input buffer
    STATE = 2  #: the state memory


class Sequencer(wiring.Component):
    """Issues one multiply-accumulate step per cycle whenever its operand is ready.

    Order: for each timestep, for each layer, passes ``q = 0 .. Q-1`` over the operands
    ``[x_t; h_{t-1}]``; after a sequence's last timestep, the head's passes over the final ``h`` (with
    ``return_sequences``, after every timestep, over that step's ``h``).
    The reset-before GRU's n passes (after its r, z passes) read ``[x_t; r*h_{t-1}]`` instead, and
    the first of them checks each ``r*h`` operand (reported on ``reset_written``). A Jordan layer's
    gate job reads ``[x_t; y_{t-1}]`` (``x`` = the layer below's ``y``) and is followed by a head job,
    ``W_hy h_t``, whose results are the layer's ``y_t`` (reported on ``output_written``).
    A bidirectional core walks layer-major instead (``_SequenceWalk``): for each layer, steps
    ``s = 0 .. T-1``, each the forward direction at ``t = s`` then the backward direction at
    ``t = T-1-s`` (state layers ``v = 2k + d``); the first step of a sequence waits until the sequence
    buffer holds the whole sequence, the first step of layer k > 0 until every ``h`` of layer k-1 is
    written, and so does the output phase: the head's passes over each output vector ``[h_fwd_t ;
    h_bwd_t]`` of the top layer, or without a head, reads of those vectors to the ``output`` stream.
    There is no gap between passes, layers or timesteps: a pass only waits when an operand it needs
    is not there yet. Operands are checked in pass 0 only (later passes read what pass 0 read):

    * the input element ``x_t[j]`` must have arrived (layer 0);
    * ``h`` of the layer below (this step) or of this layer (previous step) must be written. The
      elementwise unit reports each write as (layer, step generation, unit + 1); generations count
      a layer's steps modulo 4, so a report from an older step never satisfies a newer reader.

    A pass's last step also waits until the lanes' drain is free, and in an emitting job (one whose
    results go to the output stream) until the output buffer has room reserved for the whole vector,
    so nothing downstream ever needs to stall. :meth:`rnnhw.spec.schedule.Schedule.issue_times`
    models these rules.

    Parameters
    ----------
    schedule : Schedule
        The configuration's pass structure and memory layout.
    issue_shape : data.StructLayout
        Layout of an issue word (:func:`rtl.layouts.issue_layout`).
    output_depth : int
        Places of the output buffer (at least one output vector).

    Members
    -------
    issue : Out(IssueSignature(issue_shape=issue_shape, operand_width=...))
        To :class:`MatVecUnit`: the step (stage 0) and its operand (stage 1: the input element, the
        state word, or zero at a sequence's first timestep); ``can_finish`` from the lanes' drain.
    input : Out(InputReadSignature(features=I, width=input width))
        Reads and releases the input buffer's read slot (bidirectional cores:
        ``Out(SequenceReadSignature(features=I, width=input width, steps=max_sequence_length))``, the
        sequence buffer's).
    state : In(ReadPort.Signature(...))
        A read port of the state memory (``h`` operands; one cycle latency).
    written : In(WrittenSignature(layers=L, hidden=H))
        ``h`` writes reported by the elementwise unit.
    reset_written : In(WrittenSignature(layers=L, hidden=H))
        GRU with ``gru_reset = "before"`` only: the elementwise unit's ``r*h`` writes.
    output_written : In(WrittenSignature(layers=L, hidden=O))
        Jordan cell only: the elementwise unit's ``y`` writes.
    reservation : In(ReservationSignature())
        ``pop``: an element left the output buffer (returns one reserved place).
    output : Out(stream.Signature({data: state, last: 1}, always_ready=True))
        Bidirectional cores without a head only: the top layer's output vectors read from the sequence
        memory (``last`` on each vector's last element), into places reserved like a head's.
    refund : In(RefundSignature(most=2))
        With CTC decoding only: reserved places a head vector left unused (the sequencer reserves
        :data:`~rnnhw.spec.ctc.MOST_BEATS_PER_STEP` per vector).

    Latency
    -------
    The issue decision is combinational (stage 0); the operand follows one cycle later (two behind a
    broadcast tree: ``spec.latency.operand_registers``). A reported
    ``h`` write can be read by a step issued in the cycle after the report.

    Raises
    ------
    TypeError
        If ``schedule`` is not a ``Schedule``, ``issue_shape`` not a ``StructLayout`` or
        ``output_depth`` not an integer.
    ValueError
        If ``output_depth`` cannot hold one output vector.
    """

    def __init__(self, *, schedule: Schedule, issue_shape: data.StructLayout, output_depth: int):
        check_type("schedule", schedule, Schedule, "a Schedule")
        check_type("issue_shape", issue_shape, data.StructLayout, "a StructLayout")
        check_positive("output_depth", output_depth)
        config = schedule.config
        model, n = config.model, config.numerics
        if output_depth < output_places(config):
            raise ValueError(f"output_depth must hold one output vector ({output_places(config)}), "
                             f"not {output_depth!r}")
        self._schedule, self._issue_shape, self._output_depth = schedule, issue_shape, output_depth
        cell_members, state_layers = {}, schedule.state_layers
        if model.reset_before:
            cell_members["reset_written"] = In(WrittenSignature(layers=state_layers, hidden=model.hidden_size))
        if model.jordan:
            cell_members["output_written"] = In(WrittenSignature(layers=model.num_layers, hidden=model.output_size))
        super().__init__({
            "issue": Out(IssueSignature(issue_shape=issue_shape,
                                        operand_width=lane_parameters(config).operand_width)),
            "input": Out(SequenceReadSignature(features=model.input_size, width=n.input.width,
                                               steps=config.hardware.max_sequence_length) if model.bidirectional
                         else InputReadSignature(features=model.input_size, width=n.input.width)),
            "state": In(state_read_signature(depth=memory_sizes(config).state_depth, shape=format_shape(n.state))),
            "written": In(WrittenSignature(layers=state_layers, hidden=model.hidden_size)),
            "reservation": In(ReservationSignature()),
            **({"output": Out(stream.Signature(output_element_layout(n.state), always_ready=True))}
               if model.bidirectional and not model.head else {}),
            **cell_members,
            **({"refund": In(RefundSignature(most=output_places(config)))} if model.ctc else {}),
            **({"stream": Out(range(schedule.streams)),
                "output_tid": Out(stream.Signature(range(schedule.streams), always_ready=True))}
               if schedule.streams > 1 else {}),
        })

    @property
    def schedule(self) -> Schedule:
        return self._schedule

    @property
    def issue_shape(self) -> data.StructLayout:
        return self._issue_shape

    @property
    def output_depth(self) -> int:
        return self._output_depth

    def elaborate(self, platform):
        m = Module()
        sch = self.schedule
        model, lanes = sch.config.model, sch.lanes
        layers, hidden = sch.state_layers, model.hidden_size  # per direction, bidirectional
        bidir = model.bidirectional
        vector, top = output_places(sch.config), model.num_layers - 1
        streaming = bidir and not model.head  # output jobs read the sequence memory to the output stream
        streams, depth = sch.streams, model.num_layers  # interleaved: state layer v = stream * L + layer

        def const_table(values):
            return Array(Const(v, range(max(values) + 1)) for v in values)

        # Where the walk is. Per-job constants are loaded into registers when a job starts, and the
        # operand's segment and index are counters, so that deciding to issue takes few logic levels.
        # Constants where the configuration fixes them, so that synthesis drops their logic.
        # The Jordan cell: each layer's step is a gate job over [x; y_{t-1}], then a head job (W_hy h_t).
        jordan, recurrent = model.jordan, model.recurrent_size
        head_mode = Signal() if model.head or jordan or bidir else Const(0, 1)  # bidirectional: output jobs
        layer = Signal(range(layers)) if layers > 1 else Const(0, 1)
        pass_ = Signal(range(max(sch.passes, sch.head_passes, 2)))
        widest = max(model.input_size, recurrent, sch.head_operands)
        j = Signal(range(widest + recurrent))
        last_j = Signal.like(j, init=model.input_size + recurrent - 1)  # operands of the job, minus one
        in_size = Signal(range(widest + 1), init=model.input_size)
        x_part = Signal(init=1)  # j < in_size
        h_index = Signal(range(max(sch.head_operands, recurrent) + 1))  # j - in_size in the h segment (j in the head)
        t0 = Signal(init=1)
        step_last = Signal()
        reserved = Signal(range(self.output_depth + 1))
        gen = Array(Signal(2, name=f"gen{k}") for k in range(layers))
        # Interleaved streams: the stream being walked, each one's "next step is a sequence's first",
        # and whether state layer v is its stream's first or top layer.
        if streams > 1:
            current = Signal(range(streams), name="stream")
            t0_of = Array(Signal(init=1, name=f"t0_stream{s}") for s in range(streams))
            first_layer = const_table([v % depth == 0 for v in range(layers)])[layer] if depth > 1 else Const(1, 1)
            top_layer = const_table([v % depth == top for v in range(layers)])[layer] if depth > 1 else Const(1, 1)
            m.d.comb += self.stream.eq(current)
        else:
            first_layer, top_layer = layer == 0, layer == top

        gen_step = [Signal(name=f"gen_step{k}") for k in range(layers)]
        readable = self._readiness(m, self.written, gen, gen_step, hidden, "")
        # The reset-before GRU's r*h: for the generation being computed; gen[k] never steps less than
        # a pass before an n pass reads it.
        reset_readable = self._readiness(m, self.reset_written, gen, None, hidden, "reset_", ahead=1) \
            if model.reset_before else None

        last_op = j == last_j
        below = (layer - 1)[: len(layer)]
        head_source = layer if streams > 1 else top  # interleaved head jobs keep their stream's top layer
        source_layer = Mux(head_mode, head_source, Mux(x_part, below, layer))
        own_readable = readable[Mux(head_mode, head_source, layer)]
        state_addr = times_constant(Cat(gen[source_layer][0], source_layer), hidden) + Mux(x_part, j, h_index)
        below_readable = readable[below]
        if bidir:
            walk = _SequenceWalk(m, sch, self.input, layer, head_mode, x_part, j, h_index, readable)
            state_addr = walk.state_addr
        if jordan:  # gate jobs read y (below's, and their own of the previous step); head jobs their h_t
            y_readable = self._readiness(m, self.output_written, gen, gen_step, recurrent, "y_")
            source_layer = Mux(x_part & ~head_mode, below, layer)
            own_readable = Mux(head_mode, readable[layer], y_readable[layer])
            below_readable = y_readable[below]
            y_addr = const_table(sch.output_banks)[Cat(gen[source_layer][0], source_layer)] + Mux(x_part, j, h_index)
            state_addr = Mux(head_mode, times_constant(Cat(gen[layer][0], layer), hidden) + h_index, y_addr)
        # The reset-before GRU's n passes: the h segment is r*h, written during this step's r, z passes.
        n_part = Signal() if model.reset_before else Const(0, 1)
        if model.reset_before:
            own_readable = Mux(n_part, reset_readable[layer], own_readable)
            state_addr = Mux(n_part & ~x_part, sch.reset_base + times_constant(layer, hidden) + h_index, state_addr)
        layer0 = (layer < 2) if bidir else first_layer
        from_input = x_part & layer0
        ready = Signal()
        if bidir:  # x and output jobs: a sequence's, layer's or output phase's first step waits for all of it
            m.d.comb += ready.eq(Mux(x_part | head_mode, walk.barrier_ok, t0 | (own_readable > h_index)))
        else:
            with m.If(from_input):
                m.d.comb += [self.input.index.eq(j), ready.eq(self.input.count > j)]
            with m.Elif(x_part):
                m.d.comb += ready.eq(below_readable > j)
            with m.Else():
                m.d.comb += ready.eq((t0 & ~head_mode) | (own_readable > h_index))
        m.d.comb += self.state.addr.eq(state_addr)
        source = Mux(from_input, OperandSource.INPUT,
                     Mux(~head_mode & ~x_part & t0, OperandSource.ZERO, OperandSource.STATE))
        source_1 = Signal(2)  # of the step issued last cycle, whose operand is due now
        m.d.sync += source_1.eq(source)
        # Behind a broadcast tree the operand comes a cycle later, from registers by the memories (a block
        # RAM's clock-to-out leaves no time for the choice between them and the routing to the tree).
        late = operand_registers(sch.config.hardware)
        chosen, input_data, state_data = (delayed(m, source_1, late, "operand_source"),
                                          delayed(m, self.input.data, late, "input_data"),
                                          delayed(m, self.state.data, late, "state_data"))
        with m.Switch(chosen):
            with m.Case(OperandSource.INPUT):
                m.d.comb += self.issue.operand.eq(input_data)
            with m.Case(OperandSource.STATE):
                m.d.comb += self.issue.operand.eq(state_data)
            with m.Default():
                m.d.comb += self.issue.operand.eq(0)

        # The head's outputs go out (every step with return_sequences, else at a sequence's end);
        # without a head, the top layer's h does.
        emits = head_mode | (top_layer & (model.head == 0) & (model.return_sequences | step_last))
        if bidir:  # only output jobs
            emits = head_mode
        if jordan:  # y of the top layer: every step, or a sequence's last
            emits = head_mode & (layer == top) & (model.return_sequences | step_last)
        reserving = (pass_ == 0) & last_op & emits
        if streaming:  # the vector's elements go out from its first read on
            reserving = head_mode & (j == 0)
        # Whether the output buffer has room for a vector: a register, compared from the count's next
        # value (the comparator stays off the issue decision).
        room = Signal(init=1)
        go = Signal()
        checked = pass_ == 0
        if model.reset_before:  # the first n pass checks its r*h operands
            checked = checked | ((pass_ == sch.reset_passes) & ~x_part)
        stream_job = head_mode if streaming else Const(0, 1)  # not issued to the lanes
        may_finish = (self.issue.can_finish | stream_job) if streaming else self.issue.can_finish
        m.d.comb += go.eq((~checked | ready) & (~reserving | room) & (~last_op | may_finish))
        if streaming:
            stream_valid, stream_last = Signal(), Signal()
            m.d.sync += [stream_valid.eq(go & stream_job), stream_last.eq(last_op)]
            m.d.comb += [self.output.valid.eq(stream_valid), self.output.p.data.eq(self.state.data),
                         self.output.p.last.eq(stream_last)]

        passes = Mux(head_mode, sch.head_passes if not streaming else 1, sch.passes)
        last_pass = pass_ == passes - 1
        if model.reset_before:
            layer_rows = const_table([len(sch.pass_rows(q)) for q in range(sch.passes)])[pass_]
        else:
            layer_rows = Mux(last_pass, sch.rows - (sch.passes - 1) * lanes, lanes)
        rows = Mux(head_mode, Mux(last_pass, sch.output_rows - (sch.head_passes - 1) * lanes, lanes), layer_rows)
        step = self.issue.step
        job = step.job
        wgen = gen[layer] + 1
        if jordan:  # a head job's y belongs to the step its layer has just finished
            wgen = Mux(head_mode, gen[layer], wgen)
        m.d.comb += [
            step.valid.eq(go & ~stream_job if streaming else go),
            step.first.eq(j == 0),
            step.split.eq(~head_mode & ~x_part & (h_index == 0)),
            step.last.eq(last_op),
            step.from_input.eq(from_input),
            job.head.eq(head_mode), job.layer.eq(layer), job.wgen.eq(wgen), job.t0.eq(t0),
            job.emit.eq(emits), job.end.eq(walk.last_vector if bidir else step_last), job.rows.eq(rows),
            job.whole_units.eq(n_part),
        ]
        if bidir:
            m.d.comb += [job.row.eq(walk.row), job.prev_row.eq(walk.prev_row)]

        weights_of = [v % sch.weight_layers for v in range(layers)] + [sch.weight_layers]  # the head after them
        weight_base = const_table([sch.weight_base(k) for k in weights_of])
        bias_base = const_table([sch.bias_base(k) for k in weights_of])
        job_in_size = const_table([model.layer_input_size(weights_of[v] // sch.directions) for v in range(layers)])
        if jordan:  # one head block per layer
            head_weight_base = const_table([sch.head_weight_base(k) for k in range(layers)])
            head_bias_base = const_table([sch.head_bias_base(k) for k in range(layers)])

        # The step's addresses and first row are read only by the lanes, so no register of theirs takes
        # the issue decision as its enable (that fan-out reached the lanes' side of the die: 3.4 ns of
        # routing at P = 128). The bias address and first row follow from the job and its pass; the weight
        # address is the last cycle's plus the step issued then, or the base of the job that step began.
        if jordan:
            w_base = Mux(head_mode, head_weight_base[layer], weight_base[layer])
            b_base = Mux(head_mode, head_bias_base[layer], bias_base[layer])
        else:
            w_base, b_base = (table[Mux(head_mode, layers, layer)] for table in (weight_base, bias_base))
        issued_1, job_began = Signal(name="issued_1"), Signal(name="job_began")
        w_addr_1 = Signal.like(step.w_addr, name="w_addr_1")
        m.d.sync += [issued_1.eq(go), job_began.eq(last_op & last_pass), w_addr_1.eq(step.w_addr)]
        m.d.comb += [step.w_addr.eq(Mux(issued_1, Mux(job_began, w_base, w_addr_1 + 1), w_addr_1)),
                     step.b_addr.eq(b_base + pass_)]
        first_rows = [sch.pass_rows(q)[0] for q in range(sch.passes)]  # (unit, gate) of each pass
        unit0, gate0 = (const_table([row[k] for row in first_rows])[pass_] for k in range(2))
        if model.head or jordan or bidir:  # a head's rows are its units
            unit0 = Mux(head_mode, const_table([q * lanes for q in range(max(sch.head_passes, 1))])[pass_], unit0)
            gate0 = Mux(head_mode, 0, gate0)
        m.d.comb += [job.unit0.eq(unit0), job.gate0.eq(gate0)]

        def start(next_layer, next_head, next_t0):
            size = 0 if next_head else job_in_size[next_layer]
            operands = sch.head_operands if next_head else recurrent
            m.d.sync += [t0.eq(next_t0), in_size.eq(size), last_j.eq(size + operands - 1),
                         x_part.eq(not next_head)]
            if layers > 1:
                m.d.sync += layer.eq(next_layer)
            if model.head or jordan or bidir:
                m.d.sync += head_mode.eq(next_head)

        # The reservation reaches the count one cycle late (keeping the adder off the issue decision);
        # reserving steps are at least two cycles apart, so the next decision sees it.
        reserve = Signal()
        reserved_next = (reserved - self.reservation.pop + Mux(reserve, vector, 0)
                         - (self.refund.count if model.ctc else 0))
        m.d.sync += [reserve.eq(go & reserving), reserved.eq(reserved_next),
                     room.eq(reserved_next <= self.output_depth - vector)]
        if streams > 1:  # the stream of each reserved output vector, in order: registered, as the vector's
            # first element is still drain_delay cycles away (from the decision, the route to the FIFO's
            # write counter set the clock of LSTM I=12 H=32 P=32 K=2: 7.2 ns)
            reserved_stream = Signal.like(current, name="reserved_stream")
            m.d.sync += reserved_stream.eq(current)
            m.d.comb += [self.output_tid.valid.eq(reserve), self.output_tid.payload.eq(reserved_stream)]
        m.d.sync += [stepped.eq(0) for stepped in gen_step]
        if bidir:
            walk.issued(m, go)
        with m.If(go):
            m.d.sync += j.eq(j + 1)
            with m.If(x_part):
                with m.If(j == in_size - 1):
                    m.d.sync += x_part.eq(0)
            with m.Else():
                m.d.sync += h_index.eq(h_index + 1)
            if not bidir:
                with m.If(x_part & first_layer & (pass_ == 0) & (j == model.input_size - 1)):
                    m.d.sync += step_last.eq(self.input.last)
            with m.If(last_op):
                m.d.sync += [j.eq(0), h_index.eq(0), x_part.eq(~head_mode)]
                with m.If(~last_pass):
                    m.d.sync += pass_.eq(pass_ + 1)
                    if model.reset_before:
                        with m.If(~head_mode):
                            m.d.sync += n_part.eq(pass_ + 1 >= sch.reset_passes)
                with m.Else():
                    m.d.sync += pass_.eq(0)
                    if model.reset_before:
                        m.d.sync += n_part.eq(0)
                    if bidir:
                        walk.job_end(m, start, t0, gen, gen_step)
                    elif streams > 1:
                        self._interleaved_job_end(m, start, head_mode, layer, first_layer, top_layer, current,
                                                  t0_of, t0, step_last, gen, gen_step)
                    else:
                        with m.If(head_mode):
                            if jordan:  # the layer's step is done: the next layer, or the next step
                                with m.If(layer != top):
                                    start(layer + 1, False, t0)
                                with m.Else():
                                    start(0, False, step_last)
                            else:  # step_last still names the step the head read
                                start(0, False, step_last)
                        with m.Else():
                            m.d.sync += gen[layer].eq(gen[layer] + 1)
                            m.d.sync += Array(gen_step)[layer].eq(1)
                            m.d.comb += self.input.release.eq(layer == 0)
                            if jordan:  # W_hy h_t of this layer
                                start(layer, True, t0)
                            else:
                                with m.If(layer != top):
                                    start(layer + 1, False, t0)
                                with m.Elif((step_last | model.return_sequences) & (model.head != 0)):
                                    start(0, True, t0)
                                with m.Else():
                                    start(0, False, step_last)
        return m

    def _interleaved_job_end(self, m, start, head_mode, layer, first_layer, top_layer, current, t0_of, t0,
                             step_last, gen, gen_step):
        """What follows a job of K interleaved streams: the stream's next layer, its head, or the next
        stream's first layer (round-robin), whose first-step flag comes from ``t0_of``."""
        model, streams = self.schedule.config.model, self.schedule.streams
        following = Mux(current == streams - 1, 0, current + 1)
        first_of = Array(Const(s * model.num_layers, range(self.schedule.state_layers)) for s in range(streams))

        def next_stream():
            m.d.sync += [t0_of[current].eq(step_last), current.eq(following)]
            start(first_of[following], False, t0_of[following])

        with m.If(head_mode):
            next_stream()
        with m.Else():
            m.d.sync += [gen[layer].eq(gen[layer] + 1), Array(gen_step)[layer].eq(1)]
            m.d.comb += self.input.release.eq(first_layer)
            with m.If(~top_layer):
                start(layer + 1, False, t0)
            with m.Elif((step_last | model.return_sequences) & (model.head != 0)):
                start(layer, True, t0)
            with m.Else():
                next_stream()

    def _readiness(self, m, report, gen, gen_step, size, prefix, ahead=0):
        """Per layer, units of a vector readable for the generation a reader wants (``gen[k] + ahead``).

        What the elementwise unit has ``report``-ed written, per layer ("generation 0 complete" after
        reset), one register stage away from the issue decision. When gen[k] steps, the value computed
        for the next generation takes over (without ``gen_step``, when no reader can come that soon).
        """
        readable = []
        for k in range(self.schedule.state_layers):
            done_gen = Signal(2, name=f"{prefix}done_gen{k}")
            done_count = Signal(range(size + 1), init=size, name=f"{prefix}done_count{k}")
            mine = report.valid & (report.layer == k)
            next_gen = Mux(mine, report.gen, done_gen)
            next_count = Mux(mine, report.count, done_count)
            m.d.sync += [done_gen.eq(next_gen), done_count.eq(next_count)]
            for_now = Signal(range(size + 1), name=f"{prefix}readable{k}")
            m.d.sync += for_now.eq(_units_written(next_gen, next_count, gen[k] + ahead, size))
            if gen_step is None:
                readable.append(for_now)
                continue
            for_next = Signal(range(size + 1), name=f"{prefix}readable_next{k}")
            m.d.sync += for_next.eq(_units_written(next_gen, next_count, gen[k] + ahead + 1, size))
            readable.append(Mux(gen_step[k], for_next, for_now))
        return Array(readable)


def _units_written(done_gen, done_count, want, hidden):
    """Units of generation ``want`` written, from the latest report (``done_gen``, ``done_count``):
    all of them when a newer generation is being written, none when an older one still is."""
    ahead = (done_gen - want)[:2]
    return Mux(ahead == 1, hidden, Mux(ahead == 0, done_count, 0))



class _SequenceWalk:
    """The bidirectional core's layer-major walk (see :class:`Sequencer`): its registers, the operand
    addresses in the sequence memory and the sequence buffer, its waits and what follows each job.

    Layer k's rows ``[h_fwd_t ; h_bwd_t]`` are at ``Schedule.row_address(k, t)``. Per job, registers hold
    the base of its ``x`` operands (the sequence buffer's ``t*I`` in layer 0, else row t of the layer
    below), of its ``h`` operands (the previous step's row of its direction, which the elementwise unit
    also reads as ``job.prev_row``) and the row it writes (``job.row``); an output job's ``h_base`` and
    ``h_base2`` are where its vector's two halves start (minus H for the second).
    """

    def __init__(self, m, sch, buffer, layer, head_mode, x_part, j, h_index, readable):
        model, steps = sch.config.model, sch.config.hardware.max_sequence_length
        self.sch, self.buffer, self.layer, self.head_mode = sch, buffer, layer, head_mode
        hidden = model.hidden_size
        words = max(sch.state_depth + 2 * sch.row_words, steps * model.input_size)
        self.s = Signal(range(steps), name="seq_step")  # steps s of the layer: fwd at t = s, bwd at T-1-s
        self.length_1 = Signal(range(steps), name="seq_length_1")  # T - 1 of the sequence
        self.vec = Signal(range(steps), name="seq_vector")  # output job: its vector
        self.wait_input = Signal(init=1, name="wait_input")  # the sequence's first job: a whole sequence
        self.wait_layer = Signal(name="wait_layer")  # the first job of a layer or the output phase
        self.barrier_k = Signal(range(model.num_layers), name="barrier_layer")  # the layer it waits for
        self.x_base, self.h_base, self.h_base2, self.row = (Signal(range(words), name=name) for name in
                                                            ("x_base", "h_base", "h_base2", "row"))
        self.prev_row = self.h_base
        self.state_addr = Mux(x_part, self.x_base + j, Mux(h_index >= hidden, self.h_base2, self.h_base) + h_index)
        self.last_vector = self.vec == (self.length_1 if model.return_sequences else 0)
        written_below = [readable[Cat(Const(d, 1), self.barrier_k)] == hidden for d in range(2)]
        waits_met = (~self.wait_input | buffer.full) & (~self.wait_layer | (written_below[0] & written_below[1]))
        self.barrier_ok = (j != 0) | waits_met
        m.d.comb += buffer.index.eq(self.x_base + j)

    def issued(self, m, go):
        """A step went: the job's waits are over (the sequence's length is latched at its first step)."""
        with m.If(go):
            m.d.sync += [self.wait_input.eq(0), self.wait_layer.eq(0)]
            with m.If(self.wait_input):
                m.d.sync += self.length_1.eq(self.buffer.length - 1)

    def _row(self, k, t):
        sch = self.sch
        bank = Mux(k[0], sch.row_address(1, 0), 0) if sch.config.model.num_layers > 1 else 0
        return bank + times_constant(t, sch.row_words)

    def _start_gates(self, m, start, v, t, t0):
        """Start state layer ``v``'s job at timestep ``t``."""
        model = self.sch.config.model
        k, d = v >> 1, v[0]
        start(v, False, t0)
        previous = Mux(d, t + 1, t - 1)
        m.d.sync += [
            self.x_base.eq(Mux(k == 0, times_constant(t, model.input_size), self._row(k - 1, t))),
            self.row.eq(self._row(k, t) + Mux(d, model.hidden_size, 0)),
            self.h_base.eq(self._row(k, previous) + Mux(d, model.hidden_size, 0)),
        ]

    def _start_output(self, m, start, vec):
        """Start the output job of vector ``vec``: row ``vec`` (return_sequences), else
        ``[h_fwd_{T-1} ; h_bwd_0]``."""
        model = self.sch.config.model
        top = Const(model.num_layers - 1, range(model.num_layers + 1))
        start(0, True, 0)
        first, second = (vec, vec) if model.return_sequences else (self.length_1, 0)
        m.d.sync += [self.h_base.eq(self._row(top, first)), self.h_base2.eq(self._row(top, second))]

    def job_end(self, m, start, t0, gen, gen_step):
        """What follows a job's last step: the other direction, the next step, layer, output vector or sequence."""
        model, v, s, length_1 = self.sch.config.model, self.layer, self.s, self.length_1
        k, d = v >> 1, v[0]
        with m.If(self.head_mode):
            with m.If(~self.last_vector):
                m.d.sync += self.vec.eq(self.vec + 1)
                self._start_output(m, start, self.vec + 1)
            with m.Else():  # the next sequence
                m.d.sync += [s.eq(0), self.wait_input.eq(1)]
                self._start_gates(m, start, Const(0, 2), Const(0, 1), 1)
        with m.Else():
            m.d.sync += [gen[v].eq(gen[v] + 1), Array(gen_step)[v].eq(1)]
            m.d.comb += self.buffer.release.eq((k == 0) & d & (s == length_1))
            with m.If(~d):  # the backward direction of the same step
                self._start_gates(m, start, v + 1, (length_1 - s)[: len(s)], t0)
            with m.Elif(s != length_1):
                m.d.sync += s.eq(s + 1)
                self._start_gates(m, start, (v - 1)[: len(v)], s + 1, 0)
            with m.Elif(k != model.num_layers - 1):  # the next layer, once this one is written
                m.d.sync += [s.eq(0), self.wait_layer.eq(1), self.barrier_k.eq(k)]
                self._start_gates(m, start, v + 1, Const(0, 1), 1)
            with m.Else():  # the output phase, once the top layer is written
                m.d.sync += [self.vec.eq(0), self.wait_layer.eq(1), self.barrier_k.eq(k)]
                self._start_output(m, start, Const(0, 1))

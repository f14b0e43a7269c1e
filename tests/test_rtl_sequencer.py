"""``Sequencer`` alone against the schedule model ``rnnhw.spec.schedule.Schedule``.

The testbench plays the sequencer's neighbours cycle by cycle, with the timing their own tests
establish: the input buffer (every element there, ``data`` one cycle after ``index``), the state
memory (``data`` one cycle after ``addr``), the lanes' drain (``can_finish`` low from the cycle after a
pass's last step until its last item leaves, ``DRAIN_DELAY`` + items cycles later), the elementwise
unit (``written`` for a unit ``DRAIN_DELAY + 1 + E + position`` cycles after its pass's last step, or
later when a test holds it back; the reset-before GRU's ``reset_written`` for ``r*h[u]`` likewise from unit
``u``'s r item) and the output buffer (``pop``).
"""

from dataclasses import dataclass, field

import pytest

from rnnhw.rtl.layouts import design_layouts
from rnnhw.rtl.sequencer import Sequencer
from rnnhw.spec import schedule as schedule_module
from rnnhw.spec.datapath import datapath
from rnnhw.spec.design import memory_sizes
from rnnhw.spec.latency import DRAIN_DELAY, h_ready_delay
from rnnhw.spec.schedule import Schedule

from .hdl import run_testbench
from .rtl_units import make_config

STEP_FIELDS = ("first", "split", "last", "from_input", "w_addr", "b_addr")
JOB_FIELDS = ("head", "layer", "wgen", "t0", "emit", "rows", "unit0", "gate0")
INPUT_MARK, STATE_MARK = 1, 50  # operand values: input element j -> 1 + j; state word a -> 50 + a


@dataclass
class Trace:
    steps: list = field(default_factory=list)  # (cycle, step fields, job fields, operand)
    reports: list = field(default_factory=list)  # (cycle, layer, gen, count)
    pops: list = field(default_factory=list)  # cycles


def _report(ctx, port, report):
    """Drive a ``WrittenSignature`` port with ``(layer, gen, count)``, or nothing."""
    ctx.set(port.valid, report is not None)
    if report is not None:
        ctx.set(port.layer, report[0])
        ctx.set(port.gen, report[1])
        ctx.set(port.count, report[2])


def run_sequencer(config, *, cycles, report_delay=lambda layer, unit: 0, pop_from=0):
    """Simulate the sequencer for ``cycles`` cycles among emulated neighbours (one endless sequence).

    ``report_delay(layer, unit)``: extra cycles before the elementwise unit reports ``h[unit]``.
    ``pop_from``: the output stream takes no element before this cycle (then one per cycle).
    """
    sch, model = Schedule(config), config.model
    dut = Sequencer(schedule=sch, issue_shape=design_layouts(config).issue,
                    output_depth=memory_sizes(config).output_fifo_depth)
    # + position: the report's cycle after a last step
    written_at = h_ready_delay(datapath(config), Schedule(config).drain_delay) - 1
    trace = Trace()
    reports, outputs = {}, []  # cycle -> report; cycles elements become available to pop
    reset_reports = {}  # the reset-before GRU's r*h writes: cycle -> report
    busy_until = -1  # can_finish is low through this cycle

    async def testbench(ctx):
        nonlocal busy_until
        ctx.set(dut.input.count, model.input_size)
        ctx.set(dut.input.last, 0)
        index, addr, pending = 0, 0, None
        for cycle in range(cycles):
            ctx.set(dut.input.data, INPUT_MARK + index)
            ctx.set(dut.state.data, STATE_MARK + addr)
            ctx.set(dut.issue.can_finish, cycle > busy_until)
            report = reports.pop(cycle, None)
            _report(ctx, dut.written, report)
            if report is not None:
                trace.reports.append((cycle, *report))
            if model.reset_before:
                _report(ctx, dut.reset_written, reset_reports.pop(cycle, None))
            pop = cycle >= pop_from and bool(outputs) and outputs[0] <= cycle
            ctx.set(dut.reservation.pop, pop)
            if pop:
                outputs.pop(0)
                trace.pops.append(cycle)
            if pending is not None:  # the operand of last cycle's step
                trace.steps.append((*pending, ctx.get(dut.issue.operand)))
                pending = None
            step = ctx.get(dut.issue.step)
            index, addr = ctx.get(dut.input.index), ctx.get(dut.state.addr)
            if step.valid:
                job = step.job
                pending = (cycle, tuple(getattr(step, f) for f in STEP_FIELDS),
                           tuple(getattr(job, f) for f in JOB_FIELDS))
                if step.last:
                    q = step.b_addr - sch.bias_base(job.layer % sch.weight_layers)  # the pass (of a gate job)
                    rows = [] if job.head else sch.pass_rows(q)
                    items = job.rows if job.head else sch.drain_items_of(rows)
                    busy_until = cycle + DRAIN_DELAY + items - 1
                    if job.head:
                        outputs.extend(cycle + DRAIN_DELAY + 2 + p for p in range(job.rows))
                    if q < sch.reset_passes:  # r items: r*h written like an h, no h
                        for unit, position in sch.drain_positions(rows, gate=0).items():
                            assert cycle + written_at + position not in reset_reports, "two r*h writes in one cycle"
                            reset_reports[cycle + written_at + position] = (job.layer, job.wgen, unit + 1)
                        rows = []
                    for unit, position in sch.drain_positions(rows).items():
                        at = cycle + written_at + position + report_delay(job.layer, unit)
                        assert at not in reports, "two h writes in one cycle"
                        reports[at] = (job.layer, job.wgen, unit + 1)
                        if job.emit:
                            outputs.append(at + 1)
            await ctx.tick()

    run_testbench(dut, testbench)
    return trace


def expected_steps(config, steps):
    """Every step the sequencer issues for ``steps`` timesteps of one sequence, in order, with its operand."""
    sch, model = Schedule(config), config.model
    hidden, top = model.hidden_size, model.num_layers - 1
    out = []
    for t in range(steps):
        for k in range(model.num_layers):
            inputs, operands = model.layer_input_size(k), sch.operands(k)
            for q in range(sch.passes):
                first_row = q * sch.lanes
                unit0, gate0 = divmod(first_row, model.gates)
                rows = min(sch.lanes, sch.rows - first_row)
                emit = int(k == top and model.return_sequences)
                job = (0, k, (t + 1) % 4, int(t == 0), emit, rows, unit0, gate0)
                for j in range(operands):
                    if k == 0 and j < inputs:
                        operand = INPUT_MARK + j
                    elif j >= inputs and t == 0:
                        operand = 0  # the state before the first timestep
                    elif j < inputs:  # h_t of the layer below, written this step
                        operand = STATE_MARK + ((k - 1) * 2 + (t + 1) % 2) * hidden + j
                    else:  # h_{t-1} of this layer
                        operand = STATE_MARK + (k * 2 + t % 2) * hidden + j - inputs
                    fields = (int(j == 0), int(j == inputs), int(j == operands - 1), int(k == 0 and j < inputs),
                              sch.weight_base(k) + q * operands + j, sch.bias_base(k) + q)
                    out.append((fields, job, operand))
    return out


def step_ends(config, trace):
    """Cycles of each timestep's last issued step (the last layer's last pass's last step)."""
    sch, model = Schedule(config), config.model
    if model.head and model.return_sequences:  # the head's last pass over the step's h
        return [cycle for cycle, fields, job, _ in trace.steps
                if fields[2] and fields[5] == sch.head_bias_base() + sch.head_passes - 1 and job[0]]
    last_pass = sch.bias_base(model.num_layers - 1) + sch.passes - 1
    return [cycle for cycle, fields, job, _ in trace.steps
            if fields[2] and fields[5] == last_pass and not job[0]]


CASES = {
    # drain-bound passes (3 rows, 5 and 4 operands), a second layer waiting for the first's h
    "lstm-2-layers": dict(cell="lstm", input_size=3, hidden=2, layers=2, lanes=3),
    # 9 rows over 4 lanes: n rows drain two items; passes of 4, 4 and 1 rows
    "gru": dict(cell="gru", input_size=2, hidden=3, lanes=4),
    # operand-bound (8 operands), and too short to hide the latency: pass 0 waits for h
    "rnn_tanh": dict(cell="rnn_tanh", input_size=6, hidden=2, lanes=1),
    # three layers of two units on two lanes, every step emitted
    "rnn_relu-3-layers": dict(cell="rnn_relu", input_size=2, hidden=2, layers=3, lanes=2, return_sequences=True),
}
STEPS = 5


@pytest.mark.parametrize("case", list(CASES))
def test_issue_order_and_cycles_equal_the_schedule_model(case):
    """Which weight and bias address, flags, job and operand each issued step has, in order; and the
    cycle each timestep's last step issues at equals ``Schedule.issue_times``."""
    config = make_config(**CASES[case])
    model_ends = Schedule(config).issue_times(STEPS)
    trace = run_sequencer(config, cycles=model_ends[-1] + 2)
    expected = expected_steps(config, STEPS)
    assert [(fields, job, operand) for _, fields, job, operand in trace.steps[: len(expected)]] == expected
    assert step_ends(config, trace)[:STEPS] == model_ends


def test_issue_cycles_without_any_wait_are_back_to_back():
    """A layer whose passes are operand-bound and whose h is ready in time issues one step every cycle."""
    config = make_config("rnn_tanh", input_size=40, hidden=2, lanes=1)
    ends = Schedule(config).issue_times(3)
    trace = run_sequencer(config, cycles=ends[-1] + 2)
    cycles = [cycle for cycle, *_ in trace.steps]
    assert cycles == list(range(len(cycles)))
    assert step_ends(config, trace)[:3] == ends == [83, 167, 251]


def check_h_operands_follow_their_reports(config, trace, until):
    """Every step issued up to cycle ``until`` that reads an ``h`` issues after the report of that ``h``."""
    sch, model = Schedule(config), config.model
    reported = {}
    for cycle, layer, gen, count in trace.reports:
        reported.setdefault((layer, gen, count - 1), cycle)  # generations repeat after 4 steps
    checked = 0
    for cycle, fields, job, _ in trace.steps:
        layer, wgen, t0 = job[1], job[2], job[3]
        j, inputs = (fields[4] - sch.weight_base(layer)) % sch.operands(layer), model.layer_input_size(layer)
        if cycle > until or (layer == 0 and j < inputs) or (j >= inputs and t0):
            continue  # an input element, or the zero state of a first timestep
        # x part: h of the layer below, this step; h part: h of this layer, the previous step.
        source = (layer - 1, wgen, j) if j < inputs else (layer, (wgen - 1) % 4, j - inputs)
        assert reported[source] < cycle, (cycle, source)
        checked += 1
    return checked


@pytest.mark.parametrize("case", ["lstm-2-layers", "rnn_tanh", "rnn_relu-3-layers"])
@pytest.mark.parametrize("extra", [1, 7])
def test_readiness_stalls_follow_the_h_reports(case, extra, monkeypatch):
    """Reports of h held back by ``extra`` cycles: every step reading an h issues after its report, and
    the timesteps end where the model of an elementwise unit ``extra`` cycles slower puts them."""
    config = make_config(**CASES[case])
    on_time = Schedule(config).issue_times(STEPS)
    original = h_ready_delay
    monkeypatch.setattr(schedule_module, "h_ready_delay", lambda dp, drain: original(dp, drain) + extra)
    slower = Schedule(config).issue_times(STEPS)
    assert slower[-1] > on_time[-1]
    trace = run_sequencer(config, cycles=slower[-1] + 2, report_delay=lambda layer, unit: extra)
    assert step_ends(config, trace)[:STEPS] == slower
    assert check_h_operands_follow_their_reports(config, trace, until=slower[3]) > 0


def test_a_report_held_back_stalls_exactly_the_step_that_reads_it():
    """h[1] reported 30 cycles late: step 1's pass 0 issues everything up to its h[1] operand on time,
    and that operand the cycle after the report."""
    config = make_config(**CASES["rnn_tanh"])  # I = 6, H = 2, one lane: h[0], h[1] at j = 6, 7 of pass 0
    on_time = run_sequencer(config, cycles=120)
    late = run_sequencer(config, cycles=160, report_delay=lambda layer, unit: 30 if unit == 1 else 0)
    report = next(cycle for cycle, layer, gen, count in late.reports if count == 2)
    # Step t = 1 (generation 2), pass 0 (w_addr = j): its read of h_0[1], state word (0 * 2 + 1) * 2 + 1.
    cycle, _, _, operand = next(step for step in late.steps if step[2][2] == 2 and step[1][4] == 7)
    assert (cycle, operand) == (report + 1, STATE_MARK + 3)
    before = [step for step in late.steps if step[0] < cycle]
    assert before == on_time.steps[: len(before)]
    assert on_time.steps[len(before)][0] < cycle  # on time, it would have issued earlier


def test_output_reservation_holds_an_emitting_step_until_places_return():
    """Every step emits H = 3 elements into a buffer of 2 vectors. With no element taken before
    ``pop_from``, two steps reserve the buffer; the third step's reserving step (pass 0's last step)
    waits until 3 places have returned: the cycle after the third pop. Everything before it is as
    without the hold."""
    config = make_config("rnn_tanh", input_size=2, hidden=3, lanes=1, return_sequences=True)
    assert memory_sizes(config).output_fifo_depth == 6 and Schedule(config).passes == 3
    free = run_sequencer(config, cycles=200)
    pop_from = 150
    held = run_sequencer(config, cycles=260, pop_from=pop_from)

    def reserving(trace):  # pass 0's last step of each timestep
        return [cycle for cycle, fields, _, _ in trace.steps if fields[2] and fields[5] == 0]

    assert reserving(free)[2] < pop_from  # without the hold it issues long before
    assert held.pops[:3] == [pop_from, pop_from + 1, pop_from + 2]
    assert reserving(held)[2] == held.pops[2] + 1
    before = [step for step in held.steps if step[0] < reserving(free)[2]]
    assert before == [step for step in free.steps if step[0] < reserving(free)[2]]
    assert [step for step in held.steps if reserving(free)[2] <= step[0] < reserving(held)[2]] == []


@pytest.mark.parametrize(("case", "streams", "one", "interleaved"), [
    ("lstm-2-layers", 2, 68, 68),  # drain-bound: nothing to hide
    ("rnn_tanh", 2, 21, 16),  # pass 0 waits for h at K = 1; at K = 2 two passes of I + H = 8
    ("gru", 3, 46, 27),
])
def test_interleaved_issue_cycles_equal_the_schedule_model(case, streams, one, interleaved):
    """K interleaved streams, round-robin: each stream-step's last step issues where the model puts it,
    and a stream's step only waits for its own h (cycles per step of all streams)."""
    config = make_config(**CASES[case]).replace("hardware", interleave=streams)
    model_ends = Schedule(config).issue_times(STEPS)
    assert len(model_ends) == STEPS * streams
    trace = run_sequencer(config, cycles=model_ends[-1] + 2)
    assert step_ends(config, trace)[: len(model_ends)] == model_ends
    layers = [job[1] for _, _, job, _ in trace.steps]
    per_layer = config.model.num_layers
    assert sorted(set(layers)) == list(range(per_layer * streams))  # every stream's own state layers
    assert Schedule(make_config(**CASES[case])).cycles_per_step() == one
    assert Schedule(config).cycles_per_step() == interleaved


@pytest.mark.parametrize(("layers", "hidden", "lanes", "head"), [
    (2, 3, 2, 3),  # 3 r, z passes and 2 n passes per layer; one head pass
    (1, 2, 1, 5),  # 5 head passes, more than the 4 r, z passes (the first n pass's check must not apply)
])
def test_reset_before_gru_with_a_head_at_every_step_equals_the_schedule_model(layers, hidden, lanes, head):
    """The reset-before GRU, the head after every step: each step's last head step issues where
    ``Schedule.issue_times`` puts it, and each head job reads that step's h of the top layer."""
    config = make_config("gru", input_size=2, hidden=hidden, layers=layers, lanes=lanes, head=head,
                         return_sequences=True).replace("model", gru_reset="before")
    sch, top = Schedule(config), layers - 1
    model_ends = sch.issue_times(STEPS)
    trace = run_sequencer(config, cycles=model_ends[-1] + 2)
    assert step_ends(config, trace)[:STEPS] == model_ends
    head_jobs = [(fields, job, operand) for _, fields, job, operand in trace.steps if job[0]]
    per_step = sch.head_passes * hidden
    assert len(head_jobs) >= STEPS * per_step
    for t in range(STEPS):
        operands = [operand for _, _, operand in head_jobs[t * per_step: (t + 1) * per_step]]
        h_t = [STATE_MARK + (top * 2 + (t + 1) % 2) * hidden + u for u in range(hidden)]
        assert operands == h_t * sch.head_passes
        assert [job[4] for _, job, _ in head_jobs[t * per_step: (t + 1) * per_step]] == [1] * per_step  # emit

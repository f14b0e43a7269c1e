"""``MatVecUnit`` alone, driven as the ``Sequencer`` drives it, against the golden model's exact sums."""

from collections import deque
from dataclasses import dataclass

import numpy as np
import pytest

from rnnhw.golden.model import matvec_products
from rnnhw.rtl.layouts import Part, design_layouts
from rnnhw.rtl.matvec import MatVecUnit, lane_arguments
from rnnhw.spec.datapath import datapath
from rnnhw.spec.design import lane_parameters
from rnnhw.spec.fixed import align
from rnnhw.spec.latency import broadcast_levels
from rnnhw.spec.schedule import DRAIN_DELAY, Schedule

from .hdl import ecp5_resources, run_testbench
from .rtl_units import full_range_weights, make_config, uniform

JOB_FIELDS = ("head", "layer", "wgen", "t0", "emit", "rows", "unit0", "gate0")


def matvec_unit(config, weights) -> MatVecUnit:
    """The unit with the parameters ``RNNAccelerator`` gives it."""
    sch, layouts = Schedule(config), design_layouts(config)
    return MatVecUnit(weight_images=sch.weight_images(weights), bias_images=sch.bias_images(weights),
                      **lane_arguments(lane_parameters(config)), issue_shape=layouts.issue, sum_shape=layouts.sums)


@dataclass
class Step:
    token: dict  # the issue word
    operand: int  # arrives one cycle after the token


@dataclass
class Pass:
    steps: list[Step]
    expected: list[tuple]  # items: (job fields, unit, gate, part, value)


def golden_sums(config, weights, layer, head, x, h):
    """Exact sums at the lane accumulator's fixed point, gate-major rows: ``(whole, x part, h part)``.

    The golden model's pieces: ``matvec_products`` per segment plus the aligned bias, each in the
    layer's own exact format, then aligned to the one accumulator format all lanes share.
    """
    dp, n = datapath(config), config.numerics
    acc_frac = lane_parameters(config).acc_frac
    if head:
        shape = dp.head_matvec
        total = matvec_products(shape, 0, weights.head_weight, h) + align(weights.head_bias, n.bias.frac_bits,
                                                                            shape.frac_bits)
        up = acc_frac - shape.frac_bits
        return total << up, None, None
    shape, lw = dp.gates_matvec(layer), weights.layers[layer]
    up = acc_frac - shape.frac_bits
    x_part = matvec_products(shape, 0, lw.w_ih, x) + align(lw.bias, n.bias.frac_bits, shape.frac_bits)
    h_part = matvec_products(shape, 1, lw.w_hh, h)
    hn = None
    if config.model.cell == "gru":
        b_hn = align(lw.bias_hn, n.bias.frac_bits, shape.frac_bits)
        hn = (h_part[2 * config.model.hidden_size:] + b_hn) << up
    return (x_part + h_part) << up, x_part << up, hn


def plan_job(config, weights, *, layer, head, x, h, wgen=1, t0=0, emit=0):
    """The passes of one job (a layer's step, or the head): issue words, operands and expected items."""
    sch, m = Schedule(config), config.model
    in_size = 0 if head else m.layer_input_size(layer)
    operands = list(x if not head else []) + list(h)
    whole, x_part, hn = golden_sums(config, weights, layer, head, np.array(x, dtype=np.int64),
                                    np.array(h, dtype=np.int64))
    total_rows = m.head if head else sch.rows
    passes = sch.head_passes if head else sch.passes
    block = m.num_layers if head else layer
    plans = []
    for q in range(passes):
        first_row = q * sch.lanes
        rows = min(sch.lanes, total_rows - first_row)
        unit0, gate0 = (first_row, 0) if head else divmod(first_row, m.gates)
        job = dict(head=int(head), layer=layer, wgen=wgen, t0=t0, emit=emit, rows=rows, unit0=unit0,
                   gate0=gate0)
        steps = [Step({"valid": 1, "first": int(j == 0), "split": int(not head and j == in_size),
                       "last": int(j == len(operands) - 1),
                       "from_input": int(not head and layer == 0 and j < in_size),
                       "w_addr": sch.weight_base(block) + q * len(operands) + j,
                       "b_addr": sch.bias_base(block) + q, "job": job}, int(v))
                 for j, v in enumerate(operands)]
        fields = tuple(job[f] for f in JOB_FIELDS)
        expected = []
        for row in range(first_row, first_row + rows):
            unit, gate = (row, 0) if head else divmod(row, m.gates)
            gate_major = gate * m.hidden_size + unit
            if m.cell == "gru" and not head and gate == 2:
                expected.append((fields, unit, gate, Part.X, int(x_part[gate_major])))
                expected.append((fields, unit, gate, Part.H, int(hn[unit])))
            else:
                expected.append((fields, unit, gate, Part.WHOLE, int(whole[gate_major])))
        plans.append(Pass(steps, expected))
    return plans


def plan_sequence(config, weights, rng, steps):
    """Every layer's passes for ``steps`` timesteps, then the head's, with random operands."""
    m, n = config.model, config.numerics
    plans = []
    for t in range(steps):
        for k in range(m.num_layers):
            x = uniform(rng, n.input if k == 0 else n.state, m.layer_input_size(k))
            h = uniform(rng, n.state, m.hidden_size)
            plans += plan_job(config, weights, layer=k, head=False, x=x, h=h, wgen=(t + 1) % 4,
                              t0=int(t == 0), emit=int(k == m.num_layers - 1))
    if m.head:
        plans += plan_job(config, weights, layer=0, head=True, x=[], h=uniform(rng, n.state, m.hidden_size),
                          emit=1)
    return plans


def run_passes(config, weights, plans, *, bubble_rate, seed=0, dut=None):
    """Issue the passes as the sequencer would: a last step waits for ``can_finish``; random bubbles
    (``valid`` = 0, other fields and the operand garbage) when ``bubble_rate`` > 0.

    Returns ``(items [(cycle, item)], cycles of each pass's last step, can_finish per cycle)``.
    """
    dut = matvec_unit(config, weights) if dut is None else dut
    rng = np.random.default_rng(seed)
    all_steps = [step for plan in plans for step in plan.steps]
    operand_width = len(dut.issue.operand)
    expected_items = sum(len(plan.expected) for plan in plans)
    items, last_cycles, can_finish_trace = [], [], []

    async def testbench(ctx):
        queue = deque(all_steps)
        issued = deque([None] * (1 + dut.operand_delay))  # the operand follows its step by 1 (or 2) cycles
        cycle = 0
        while queue or len(items) < expected_items or cycle < last_cycles[-1] + dut.drain_delay + 8:
            assert cycle < 20 * len(all_steps) + 100, "timeout"
            can_finish = ctx.get(dut.issue.can_finish)
            can_finish_trace.append(can_finish)
            step = None
            if queue and rng.random() >= bubble_rate and (not queue[0].token["last"] or can_finish):
                step = queue.popleft()
            if step is None:
                garbage = all_steps[rng.integers(len(all_steps))].token
                ctx.set(dut.issue.step, dict(garbage, valid=0))
            else:
                ctx.set(dut.issue.step, step.token)
                if step.token["last"]:
                    last_cycles.append(cycle)
            garbage_operand = int(rng.integers(-(1 << (operand_width - 1)), 1 << (operand_width - 1)))
            previous = issued.popleft()
            ctx.set(dut.issue.operand, garbage_operand if previous is None else previous.operand)
            issued.append(step)
            if ctx.get(dut.sums.valid):
                p = ctx.get(dut.sums.p)
                items.append((cycle, (tuple(getattr(p.job, f) for f in JOB_FIELDS), p.unit, p.gate, p.part,
                                      p.value)))
            await ctx.tick()
            cycle += 1

    run_testbench(dut, testbench)
    return items, last_cycles, can_finish_trace


def test_drain_delay_is_the_specifications():
    """One pass alone: its first item leaves ``spec.latency.DRAIN_DELAY`` = 5 cycles after its last step."""
    config = make_config(**CASES["rnn_relu"])
    weights = full_range_weights(config, np.random.default_rng(1))
    plans = plan_job(config, weights, layer=0, head=False, x=[1, 2, 3, 4], h=[5, 6])[:1]
    dut = matvec_unit(config, weights)
    assert dut.drain_delay == DRAIN_DELAY == 5
    items, last_cycles, _ = run_passes(config, weights, plans, bubble_rate=0.0, dut=dut)
    assert [cycle - last_cycles[0] for cycle, _ in items] == [5]


def check_drain_timing(plans, items, last_cycles, can_finish_trace, delay=DRAIN_DELAY):
    """Each pass's items leave one per cycle from ``delay`` (the schedule's drain delay) cycles after its
    last step, and ``can_finish`` is low exactly from the cycle after a last step until its drain is empty."""
    expected_cycles = [last + delay + i for plan, last in zip(plans, last_cycles, strict=True)
                       for i in range(len(plan.expected))]
    assert [cycle for cycle, _ in items] == expected_cycles
    busy = set()
    for plan, last in zip(plans, last_cycles, strict=True):
        busy.update(range(last + 1, last + delay + len(plan.expected)))
    assert can_finish_trace == [int(c not in busy) for c in range(len(can_finish_trace))]


CASES = {
    # 8 rows over 3 lanes: passes of 3, 3 and 2 rows, units straddling passes; a second layer
    # (operands in the state format) and a head of 3 rows.
    "lstm": dict(cell="lstm", input_size=3, hidden=2, layers=2, head=3, lanes=3),
    # 9 rows over 4 lanes (4, 4, 1): n rows give X then H items; a head of 2 rows in one pass.
    "gru": dict(cell="gru", input_size=2, hidden=3, head=2, lanes=4),
    "rnn_tanh": dict(cell="rnn_tanh", input_size=2, hidden=3, layers=2, lanes=2),
    "rnn_relu": dict(cell="rnn_relu", input_size=4, hidden=2, lanes=1),
}


#: Broadcast trees on small designs (``hardware.broadcast_fanout`` = 2): groups of 2 lanes, 1 or 2 levels.
TREES = {
    # 3 lanes: groups of 2 and 1, one level; the LSTM's second layer and head.
    "lstm_1_level": dict(CASES["lstm"], hardware={"broadcast_fanout": 2}),
    # 4 lanes, 2 groups: GRU n rows hold each group's chain for their H item (the walk in every group).
    "gru_1_level": dict(CASES["gru"], hardware={"broadcast_fanout": 2}),
    # 5 lanes: 3 groups under 2 levels (2, then 3 registers).
    "gru_2_levels": dict(cell="gru", input_size=2, hidden=3, head=2, lanes=5, hardware={"broadcast_fanout": 2}),
    # 6 lanes, 3 groups, 2 levels, one row per unit.
    "rnn_2_levels": dict(cell="rnn_tanh", input_size=3, hidden=6, layers=2, head=4, lanes=6,
                         hardware={"broadcast_fanout": 2}),
}


#: Weight memories deeper than one block RAM (2,048 words of 8 bits): banks with registered outputs.
BANKED = {
    # One lane, 2,800 words: 2 banks (the second part-filled).
    "rnn_2_banks": dict(cell="rnn_tanh", input_size=30, hidden=40, head=3, lanes=1),
    # 3 lanes in 2 groups (one tree level), 10 passes of 210 words each: 2 banks; GRU n rows hold the chains.
    "gru_tree_2_banks": dict(cell="gru", input_size=200, hidden=10, lanes=3, hardware={"broadcast_fanout": 2}),
}


def check_sequence(config, *, steps, bubble_rate):
    """The unit on ``steps`` timesteps of random passes: golden-exact items, leaving ``drain_delay`` (the
    schedule's) after each pass's last step. Returns the unit."""
    weights = full_range_weights(config, np.random.default_rng(1))
    plans = plan_sequence(config, weights, np.random.default_rng(2), steps=steps)
    dut = matvec_unit(config, weights)
    items, last_cycles, can_finish_trace = run_passes(config, weights, plans, bubble_rate=bubble_rate, dut=dut)
    assert [item for _, item in items] == [item for plan in plans for item in plan.expected]
    assert dut.drain_delay == Schedule(config).drain_delay
    check_drain_timing(plans, items, last_cycles, can_finish_trace, delay=dut.drain_delay)
    return dut


@pytest.mark.parametrize("case", list(BANKED))
@pytest.mark.parametrize("bubble_rate", [0.0, 0.3])
def test_banked_weight_memories_keep_every_sum_exact_two_cycles_later(case, bubble_rate):
    config = make_config(**BANKED[case])
    dut = check_sequence(config, steps=1, bubble_rate=bubble_rate)
    assert dut.weight_banks == Schedule(config).weight_banks == 2 and dut.read_delay == 2
    assert dut.drain_delay == DRAIN_DELAY + 4 * dut.broadcast_levels + 2


@pytest.mark.parametrize("case", list(TREES))
@pytest.mark.parametrize("bubble_rate", [0.0, 0.4])
def test_broadcast_tree_keeps_every_sum_exact_and_adds_its_levels(case, bubble_rate):
    """Lane groups behind a register tree: the same items, ``broadcast_levels`` cycles later, and
    ``can_finish`` still exact."""
    config = make_config(**TREES[case])
    dut = check_sequence(config, steps=2, bubble_rate=bubble_rate)
    levels = broadcast_levels(config.hardware)
    assert (dut.groups, dut.broadcast_levels) == ({"lstm_1_level": (2, 1), "gru_1_level": (2, 1),
                                                   "gru_2_levels": (3, 2), "rnn_2_levels": (3, 2)}[case])
    assert dut.broadcast_levels == levels
    # Each level, and the register on each side of every multiplier behind the tree.
    assert dut.multiplier_registers == 1
    assert dut.drain_delay == DRAIN_DELAY + levels + 3  # and the operand a cycle late


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("bubble_rate", [0.0, 0.4])
def test_items_are_golden_exact_sums_in_unit_major_order(case, bubble_rate):
    config = make_config(**CASES[case])
    weights = full_range_weights(config, np.random.default_rng(1))
    plans = plan_sequence(config, weights, np.random.default_rng(2), steps=2)
    items, last_cycles, can_finish_trace = run_passes(config, weights, plans, bubble_rate=bubble_rate)
    assert [item for _, item in items] == [item for plan in plans for item in plan.expected]
    check_drain_timing(plans, items, last_cycles, can_finish_trace)


def test_gru_pass_rows_and_parts():
    """The item stream of one GRU step spelled out: 9 rows, 4 lanes, passes of 4, 4 and 1 rows."""
    config = make_config(**CASES["gru"])
    weights = full_range_weights(config, np.random.default_rng(1))
    plans = plan_job(config, weights, layer=0, head=False, x=[1, 2], h=[3, 4, 5])
    items, _, _ = run_passes(config, weights, plans, bubble_rate=0.0)
    w, x = Part.WHOLE, Part.X
    assert [(job[5:], unit, gate, part) for _, (job, unit, gate, part, _) in items] == [
        ((4, 0, 0), 0, 0, w), ((4, 0, 0), 0, 1, w), ((4, 0, 0), 0, 2, x), ((4, 0, 0), 0, 2, Part.H),
        ((4, 0, 0), 1, 0, w),
        ((4, 1, 1), 1, 1, w), ((4, 1, 1), 1, 2, x), ((4, 1, 1), 1, 2, Part.H), ((4, 1, 1), 2, 0, w),
        ((4, 1, 1), 2, 1, w),
        ((1, 2, 2), 2, 2, x), ((1, 2, 2), 2, 2, Part.H),
    ]


def test_items_with_extreme_operands_and_weights_are_exact():
    """Every weight and operand at the most negative value: the largest magnitude the accumulator holds."""
    config = make_config(**CASES["lstm"])
    n = config.numerics
    weights = full_range_weights(config, np.random.default_rng(1))
    weights.layers[0].w_ih[:] = n.weight.min_int
    weights.layers[0].w_hh[:] = n.weight.min_int
    weights.layers[0].bias[:] = n.bias.min_int
    plans = plan_job(config, weights, layer=0, head=False, x=[n.input.min_int] * 3, h=[n.state.min_int] * 2)
    items, _, _ = run_passes(config, weights, plans, bubble_rate=0.0)
    values = {value for _, (*_, value) in items}
    assert len(values) == 1
    assert [item for _, item in items] == [item for plan in plans for item in plan.expected]


@pytest.mark.parametrize(("case", "period"), [
    # 3 operands, but each pass drains 4 items (3 rows, one an n row): the drain sets the pace.
    (dict(cell="gru", input_size=1, hidden=2, lanes=3), DRAIN_DELAY + 4),
    # 8 operands, 1 item per pass: the operands set the pace.
    (dict(cell="rnn_tanh", input_size=6, hidden=2, lanes=1), 8),
])
def test_back_to_back_passes_take_pass_cycles(case, period):
    config = make_config(**case)
    sch = Schedule(config)
    assert sch.pass_cycles(0) == period
    weights = full_range_weights(config, np.random.default_rng(1))
    plans = plan_sequence(config, weights, np.random.default_rng(2), steps=2)
    items, last_cycles, can_finish_trace = run_passes(config, weights, plans, bubble_rate=0.0)
    assert np.diff(last_cycles).tolist() == [period] * (2 * sch.passes - 1)
    assert last_cycles[sch.passes] - last_cycles[0] == sch.passes * sch.pass_cycles(0)
    assert [item for _, item in items] == [item for plan in plans for item in plan.expected]
    check_drain_timing(plans, items, last_cycles, can_finish_trace)


#: 6-bit weights and operands: 2*6 + 6 = 18 bits, so lanes 2j and 2j+1 share one multiplier.
PACKABLE = {"input": "fixed<6,1>", "weight": "fixed<6,2>", "state": "fixed<6,3>"}


@pytest.mark.parametrize("case", ["lstm", "gru", "rnn_tanh"])
def test_packed_lane_pairs_give_the_golden_sums(case):
    """Pairs of lanes on one multiplier (LSTM: 3 lanes, a pair and an odd one; GRU: two pairs), over
    the formats' whole ranges: the same items at the same cycles as one multiplier per lane."""
    config = make_config(**CASES[case], numerics=PACKABLE)
    assert lane_parameters(config).packed_pairs
    assert not lane_parameters(config.replace("hardware", dsp_packing="off")).packed_pairs
    weights = full_range_weights(config, np.random.default_rng(1))
    plans = plan_sequence(config, weights, np.random.default_rng(2), steps=2)
    items, last_cycles, can_finish_trace = run_passes(config, weights, plans, bubble_rate=0.4)
    assert [item for _, item in items] == [item for plan in plans for item in plan.expected]
    check_drain_timing(plans, items, last_cycles, can_finish_trace)


def test_packed_lane_pairs_with_extreme_operands_and_weights_are_exact():
    """Every weight and operand the most negative value: both products of a pair at +2**(Ww+Wx-2), the
    one value the low product's window holds at its top."""
    config = make_config(**CASES["lstm"], numerics=PACKABLE)
    n = config.numerics
    weights = full_range_weights(config, np.random.default_rng(1))
    for matrix in (weights.layers[0].w_ih, weights.layers[0].w_hh):
        matrix[:] = n.weight.min_int
    plans = plan_job(config, weights, layer=0, head=False, x=[n.input.min_int] * 3, h=[n.state.min_int] * 2)
    items, _, _ = run_passes(config, weights, plans, bubble_rate=0.0)
    assert [item for _, item in items] == [item for plan in plans for item in plan.expected]


def test_packed_lanes_synthesise_to_one_dsp_block_per_pair(tmp_path):
    """Yosys ``synth_ecp5`` of the unit: 5 lanes of 6-bit weights and operands take 3 MULT18X18D (two
    pairs and the odd lane), with dsp_packing = "off" 5."""
    config = make_config(**CASES["lstm"], numerics=PACKABLE).replace("hardware", lanes=5)
    weights = full_range_weights(config, np.random.default_rng(1))
    assert ecp5_resources(matvec_unit(config, weights), tmp_path)["dsps"] == 3
    off = config.replace("hardware", dsp_packing="off")
    assert ecp5_resources(matvec_unit(off, weights), tmp_path)["dsps"] == 5

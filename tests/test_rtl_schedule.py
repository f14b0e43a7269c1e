"""``Schedule``: pass structure, memory bases and images, cycle formulas, against hand-computed numbers."""

import numpy as np
import pytest

from rnnhw.spec.config import config_from_dict
from rnnhw.spec.schedule import DRAIN_DELAY, Schedule, bound_cycles_per_step, macs_per_step
from rnnhw.spec.weights import QuantizedLayer, QuantizedWeights

from .rtl_units import make_config


def marked_weights(config):
    """Weights whose values name their position: ``W[r, j] = sign * (100 r + j + 1)`` (layer 0 positive,
    layer 1 negative; head ``10000 + ...``), biases ``10 r + 1`` (layer 1: ``-``), ``b_hn[u] = 500 + u``."""
    m = config.model
    rows = m.gates * m.hidden_size
    layers = []
    for k in range(m.num_layers):
        sign = 1 if k == 0 else -1
        ops = m.layer_input_size(k) + m.hidden_size
        cat = sign * (100 * np.arange(rows)[:, None] + np.arange(ops)[None, :] + 1)
        split = m.layer_input_size(k)
        layers.append(QuantizedLayer(cat[:, :split], cat[:, split:], sign * (10 * np.arange(rows) + 1),
                                     500 + np.arange(m.hidden_size) if m.cell == "gru" else None))
    head_weight = head_bias = None
    if m.head:
        head_weight = 10000 + 100 * np.arange(m.head)[:, None] + np.arange(m.hidden_size)[None, :] + 1
        head_bias = 20000 + np.arange(m.head)
    return QuantizedWeights(tuple(layers), head_weight, head_bias, {})


def row(r, ops, sign=1):
    """Layer row ``r`` of ``marked_weights`` (``None``: a padding row of zeros)."""
    return [0] * ops if r is None else [sign * (100 * r + j + 1) for j in range(ops)]


def head_row(r, ops):
    return [0] * ops if r is None else [10000 + 100 * r + j + 1 for j in range(ops)]


LSTM = dict(cell="lstm", input_size=3, hidden=2, layers=2, head=3, lanes=3)
GRU = dict(cell="gru", input_size=1, hidden=2, head=3, lanes=4)
ELMAN = dict(cell="rnn_tanh", input_size=6, hidden=2, lanes=1)


def test_lstm_numbers():
    sch = Schedule(make_config(**LSTM))
    assert (sch.lanes, sch.rows, sch.passes, sch.head_passes) == (3, 8, 3, 1)
    assert [sch.operands(k) for k in range(2)] == [5, 4]
    assert [sch.weight_base(k) for k in range(3)] == [0, 15, 27]  # 3 passes of 5, 3 of 4, then the head
    assert sch.weight_depth == 29  # + 1 head pass of 2 operands
    assert [sch.bias_base(k) for k in range(3)] == [0, 3, 6]
    assert sch.bias_depth == 7
    assert [sch.drain_items(r) for r in (1, 2, 3)] == [1, 2, 3]
    assert [sch.pass_cycles(k) for k in range(2)] == [DRAIN_DELAY + 3, DRAIN_DELAY + 3]  # drain-bound
    # Without waiting for h: 3 passes per layer; the recurrence adds to that (measured exactly on
    # Verilator in test_sim_accelerator.py).
    assert sum(sch.passes * sch.pass_cycles(k) for k in range(2)) == 3 * (DRAIN_DELAY + 3) * 2
    assert sch.cycles_per_step() >= 3 * (DRAIN_DELAY + 3) * 2
    config = sch.config
    assert [macs_per_step(config, k) for k in range(2)] == [8 * 5, 8 * 4]
    assert bound_cycles_per_step(config) == 14 + 11  # ceil(40/3) + ceil(32/3)


def test_gru_numbers():
    sch = Schedule(make_config(**GRU))
    assert (sch.rows, sch.passes, sch.head_passes) == (6, 2, 1)
    assert sch.operands(0) == 3
    assert [sch.weight_base(k) for k in range(2)] == [0, 6]
    assert (sch.weight_depth, sch.bias_depth) == (8, 3)
    # P consecutive unit-major rows hold at most ceil(P/3) n rows, each giving two items.
    assert [sch.drain_items(r) for r in (1, 2, 3, 4, 6, 7)] == [2, 3, 4, 6, 8, 10]
    assert sch.pass_cycles(0) == DRAIN_DELAY + 6
    assert sch.passes * sch.pass_cycles(0) == 2 * (DRAIN_DELAY + 6)
    assert sch.cycles_per_step() >= 2 * (DRAIN_DELAY + 6)
    assert bound_cycles_per_step(sch.config) == 5  # ceil(3*2*3 / 4)


def test_elman_numbers_reach_the_bound():
    sch = Schedule(make_config(**ELMAN))
    assert (sch.rows, sch.passes, sch.operands(0)) == (2, 2, 8)
    assert sch.pass_cycles(0) == 8  # operand-bound
    assert sch.passes * sch.pass_cycles(0) == bound_cycles_per_step(sch.config) == 16
    # I + H = 8 is too short to hide the elementwise latency: the second step waits for h.
    assert sch.cycles_per_step() > 16


def test_unit_major_reorders_gate_major_rows():
    sch = Schedule(make_config(**LSTM))  # G = 4, H = 2
    rows = np.arange(8)
    assert sch.unit_major(rows).tolist() == [0, 2, 4, 6, 1, 3, 5, 7]
    matrix = np.arange(16).reshape(8, 2)
    assert sch.unit_major(matrix).tolist() == [[0, 1], [4, 5], [8, 9], [12, 13],
                                               [2, 3], [6, 7], [10, 11], [14, 15]]


def test_lstm_weight_images():
    config = make_config(**LSTM)
    sch = Schedule(config)
    images = sch.weight_images(marked_weights(config))
    # Unit-major rows 0..7 are gate-major rows 0, 2, 4, 6, 1, 3, 5, 7, padded with a zero row to 9;
    # lane p takes unit-major rows p, p + 3, p + 6.
    lane_rows = [[0, 6, 5], [2, 1, 7], [4, 3, None]]
    for lane, rows in enumerate(lane_rows):
        expected = [w for r in rows for w in row(r, 5)] + [w for r in rows for w in row(r, 4, -1)]
        expected += head_row(lane, 2)  # 3 head rows, one per lane
        assert images[lane] == expected, lane
        assert len(images[lane]) == sch.weight_depth


def test_lstm_bias_images():
    config = make_config(**LSTM)
    images = Schedule(config).bias_images(marked_weights(config))
    assert images == [
        [(1, 0, 0), (61, 0, 0), (51, 0, 0), (-1, 0, 0), (-61, 0, 0), (-51, 0, 0), (20000, 0, 0)],
        [(21, 0, 0), (11, 0, 0), (71, 0, 0), (-21, 0, 0), (-11, 0, 0), (-71, 0, 0), (20001, 0, 0)],
        [(41, 0, 0), (31, 0, 0), (0, 0, 0), (-41, 0, 0), (-31, 0, 0), (0, 0, 0), (20002, 0, 0)],
    ]


def test_gru_images_flag_the_n_rows_with_b_hn():
    config = make_config(**GRU)
    sch = Schedule(config)
    weights = marked_weights(config)
    # Unit-major: (u0: r, z, n), (u1: r, z, n) = gate-major rows 0, 2, 4, 1, 3, 5, padded to 8;
    # lane p takes unit-major rows p and p + 4. Rows 4 and 5 are the n rows of units 0 and 1.
    assert sch.bias_images(weights) == [
        [(1, 0, 0), (31, 0, 0), (20000, 0, 0)],
        [(21, 0, 0), (51, 501, 1), (20001, 0, 0)],
        [(41, 500, 1), (0, 0, 0), (20002, 0, 0)],
        [(11, 0, 0), (0, 0, 0), (0, 0, 0)],
    ]
    lane_rows = [[0, 3], [2, 5], [4, None], [1, None]]
    images = sch.weight_images(weights)
    for lane, rows in enumerate(lane_rows):
        head = head_row(lane if lane < 3 else None, 2)
        assert images[lane] == [w for r in rows for w in row(r, 3)] + head, lane


@pytest.mark.parametrize("case", [LSTM, GRU, ELMAN], ids=["lstm", "gru", "rnn_tanh"])
def test_image_sizes_match_depths(case):
    config = make_config(**case)
    sch = Schedule(config)
    weights = marked_weights(config)
    assert [len(image) for image in sch.weight_images(weights)] == [sch.weight_depth] * sch.lanes
    assert [len(image) for image in sch.bias_images(weights)] == [sch.bias_depth] * sch.lanes


def test_reset_before_gru_passes_images_and_state_layout():
    config = make_config(cell="gru", input_size=1, hidden=2, lanes=3).replace("model", gru_reset="before")
    sch = Schedule(config)
    # r, z rows unit-major in ceil(2H/P) = 2 passes, then the n rows in ceil(H/P) = 1 pass of their own.
    assert (sch.reset_passes, sch.passes, sch.split_rows) == (2, 3, False)
    assert [sch.pass_rows(q) for q in range(3)] == [[(0, 0), (0, 1), (1, 0)], [(1, 1)], [(0, 2), (1, 2)]]
    assert [sch.drain_items_of(sch.pass_rows(q)) for q in range(3)] == [3, 1, 2]
    assert sch.drain_positions(sch.pass_rows(0), gate=0) == {0: 0, 1: 2}
    assert sch.drain_positions(sch.pass_rows(2)) == {0: 0, 1: 1}
    assert (sch.reset_base, sch.state_depth) == (4, 6)  # r*h after the two h banks
    # Gate-major rows: r 0, 1; z 2, 3; n 4, 5. Lane p takes pass q's row p.
    weights = marked_weights(config)
    lane_rows = [[0, 3, 4], [2, None, 5], [1, None, None]]
    images = sch.weight_images(weights)
    for lane, rows in enumerate(lane_rows):
        assert images[lane] == [w for r in rows for w in row(r, 3)], lane
    # One bias per row (b_ih + b_hh, also for the n rows): no second bias, no split flag.
    assert sch.bias_images(weights) == [[(1, 0, 0), (31, 0, 0), (41, 0, 0)], [(21, 0, 0), (0, 0, 0), (51, 0, 0)],
                                        [(11, 0, 0), (0, 0, 0), (0, 0, 0)]]


def test_jordan_passes_images_and_state_layout():
    config = make_config(cell="rnn_tanh", input_size=2, hidden=3, layers=2, lanes=2).replace(
        "model", cell="jordan", output_size=3)
    sch = Schedule(config)
    # Gate rows: H = 3 in 2 passes over [x; y] (I_0 + O = 5, I_1 + O = 6); then W_hy: O = 3 rows over h.
    assert (sch.passes, sch.head_passes, sch.head_jobs, sch.operands(0), sch.operands(1)) == (2, 2, 2, 5, 6)
    assert [sch.weight_base(k) for k in range(3)] == [0, 10, 22]
    assert [sch.head_weight_base(k) for k in range(3)] == [22, 28, 34] and sch.weight_depth == 34
    assert [sch.head_bias_base(k) for k in range(3)] == [4, 6, 8] and sch.bias_depth == 8
    assert (sch.output_base, sch.state_depth) == (12, 12 + 12)  # y: two banks of O per layer after the h banks
    assert sch.output_banks == [12, 15, 18, 21]
    assert macs_per_step(config, 0) == 3 * 5 + 3 * 3 and bound_cycles_per_step(config) == 12 + 14
    layers = []
    for k, sign in enumerate((1, -1)):
        ops = 2 + 3 if k == 0 else 3 + 3
        cat = sign * (100 * np.arange(3)[:, None] + np.arange(ops)[None, :] + 1)
        split = 2 if k == 0 else 3
        hy = sign * (1000 + 100 * np.arange(3)[:, None] + np.arange(3)[None, :])
        layers.append(QuantizedLayer(cat[:, :split], cat[:, split:], sign * (10 * np.arange(3) + 1), None,
                                     hy, sign * (2000 + np.arange(3))))
    weights = QuantizedWeights(tuple(layers), None, None, {})
    images = sch.weight_images(weights)
    # Lane 0: layer 0 rows 0, 2; layer 1 rows 0, 2; W_hy rows 0, 2 of layer 0, then of layer 1.
    assert images[0] == (row(0, 5) + row(2, 5) + row(0, 6, -1) + row(2, 6, -1) + [1000, 1001, 1002, 1200, 1201, 1202]
                         + [-1000, -1001, -1002, -1200, -1201, -1202])
    assert images[1][-6:] == [-1100, -1101, -1102, 0, 0, 0]
    assert [first for first, _, _ in sch.bias_images(weights)[0]] == [1, 21, -1, -21, 2000, 2002, -2000, -2002]


def bidirectional(config, steps=5):
    data = config.to_dict()
    data["model"]["bidirectional"] = True
    data["hardware"]["max_sequence_length"] = steps
    return config_from_dict(data)


def test_bidirectional_memory_layout_and_bound():
    """State layers v = 2k + d in the weight and bias memories; layer k's rows [h_fwd_t ; h_bwd_t] in bank k % 2."""
    one = Schedule(bidirectional(make_config("lstm", input_size=3, hidden=4, lanes=3)))
    assert (one.directions, one.state_layers, one.passes, one.row_words, one.sequence_banks) == (2, 2, 6, 8, 1)
    assert [one.weight_base(v) for v in range(3)] == [0, 42, 84] and one.weight_depth == 84
    assert [one.bias_base(v) for v in range(3)] == [0, 6, 12] and one.bias_depth == 12
    assert one.row_address(0, 2, 1) == 2 * 8 + 4 and one.state_depth == 5 * 8
    assert bound_cycles_per_step(one.config) == 2 * 38  # both directions of ceil(4*4*7/3)
    two = Schedule(bidirectional(make_config("lstm", input_size=3, hidden=4, layers=2, head=2, lanes=3)))
    assert [two.weight_base(v) for v in range(5)] == [0, 42, 84, 84 + 72, 84 + 144]  # layer 1: 8 + 4 operands
    assert two.head_operands == 8 and two.head_weight_base() == 228 and two.weight_depth == 228 + 8
    assert (two.row_address(1, 0), two.row_address(2, 3, 1), two.state_depth) == (40, 3 * 8 + 4, 80)
    gru = Schedule(bidirectional(make_config("gru", input_size=2, hidden=5, layers=2, lanes=3), steps=4))
    gru = Schedule(gru.config.replace("model", gru_reset="before"))
    assert (gru.reset_base, gru.state_depth) == (2 * 4 * 10, 80 + 4 * 5)  # r*h of each layer and direction


def test_bidirectional_weight_images_hold_each_layer_forward_then_backward():
    config = bidirectional(make_config("rnn_tanh", input_size=2, hidden=2, lanes=2))
    forward = marked_weights(make_config("rnn_tanh", input_size=2, hidden=2, lanes=2))
    backward = QuantizedLayer(-forward.layers[0].w_ih, -forward.layers[0].w_hh, -forward.layers[0].bias, None)
    weights = QuantizedWeights(forward.layers, None, None, {}, reverse_layers=(backward,))
    images = Schedule(config).weight_images(weights)
    assert images == [row(0, 4) + row(0, 4, -1), row(1, 4) + row(1, 4, -1)]
    assert [lane[0] for lane in Schedule(config).bias_images(weights)] == [(1, 0, 0), (11, 0, 0)]


def test_bidirectional_sequence_cycles_are_linear_and_reach_the_bound():
    """Per sequence: T * cycles_per_step plus a constant overhead (the layer waits and the outputs)."""
    for config in (bidirectional(make_config("lstm", input_size=3, hidden=4, lanes=3)),
                   bidirectional(make_config("gru", input_size=3, hidden=4, layers=2, head=3, lanes=4),
                                 steps=9)):
        sch = Schedule(config)
        per_step, overhead = sch.cycles_per_step(), sch.sequence_overhead()
        assert [sch.sequence_cycles(t) for t in range(2, 10)] == [t * per_step + overhead for t in range(2, 10)]
        assert per_step >= bound_cycles_per_step(config) and overhead > 0
    # Operand-bound passes (24 operands, drain 13) and h in flight hidden behind the other direction: the bound.
    digits = bidirectional(make_config("lstm", input_size=8, hidden=16, head=10, lanes=8), steps=64)
    assert Schedule(digits).cycles_per_step() == bound_cycles_per_step(digits) == 384


def test_interleaved_streams_hide_the_recurrence():
    """K streams round-robin: one stream's h is in flight while the lanes run the other's step."""
    config = make_config("lstm", input_size=12, hidden=32, lanes=32)
    sch = Schedule(config)
    assert sch.issue_times(streams=1) == sch.issue_times()  # K = 1 is today's model
    assert bound_cycles_per_step(config) == 176
    # 32 lanes: one broadcast level, a register each side of the multipliers, the operand a cycle late.
    assert sch.drain_delay == DRAIN_DELAY + 4
    assert [sch.cycles_per_step(k) for k in (1, 2, 3, 4)] == [195, 176, 176, 176]
    ends = sch.issue_times(steps=3, streams=2)
    assert len(ends) == 6 and ends == sorted(ends)  # one entry per stream-step, in walk order
    assert ends[-1] - ends[-3] == 2 * 176  # a round of two steps at the bound
    gru = Schedule(make_config("gru", input_size=12, hidden=32, lanes=32))
    assert [gru.cycles_per_step(k) for k in (1, 2)] == [176, 155]  # then its passes are drain-bound (52 > 44)
    assert gru.pass_cycles(0) == DRAIN_DELAY + 4 + 32 + 11
    # Without the tree (one register drives all 32 lanes) each pass is four cycles shorter.
    flat = {"broadcast_fanout": 32}
    assert [Schedule(make_config("lstm", input_size=12, hidden=32, lanes=32, hardware=flat)).cycles_per_step(k)
            for k in (1, 2)] == [189, 176]
    assert [Schedule(make_config("gru", input_size=12, hidden=32, lanes=32, hardware=flat)).cycles_per_step(k)
            for k in (1, 2)] == [162, 143]

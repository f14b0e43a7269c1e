"""Output-stream bookkeeping of rnnhw.sim.verify (no simulator needed), and the check that a test starting
a simulator carries the ``sim`` marker (tests/conftest.py)."""

from __future__ import annotations

import numpy as np
import pytest
from cocotb_tools.runner import Runner

from rnnhw.sim.runner import build_model
from rnnhw.sim.verify import StreamLayout, _compare, bound_cycles_per_step, output_mode
from rnnhw.spec.config import config_from_dict

LENGTHS = np.array([3, 1, 2])


def test_per_timestep_vectors_map_to_sequence_timestep_and_unit():
    layout = StreamLayout("sequences", 4, LENGTHS)
    assert layout.vectors == 6 and layout.shape() == (3, 3, 4)
    assert [layout.vector_position(k) for k in range(6)] == [(0, 0), (0, 1), (0, 2), (1, 0), (2, 0), (2, 1)]
    assert layout.locate(0) == (0, 0, 0)
    assert layout.locate(13) == (1, 0, 1)  # vector 3, unit 1
    assert layout.locate(23) == (2, 1, 3)


@pytest.mark.parametrize("mode", ["final", "head"])
def test_per_sequence_vectors_name_the_last_timestep(mode):
    layout = StreamLayout(mode, 2, LENGTHS)
    assert layout.vectors == 3 and layout.shape() == (3, 2)
    assert [layout.locate(e) for e in (0, 3, 5)] == [(0, 2, 0), (1, 0, 1), (2, 1, 1)]


def test_flatten_and_unflatten_round_trip_with_zeros_past_lengths():
    layout = StreamLayout("sequences", 2, LENGTHS)
    outputs = np.arange(18).reshape(3, 3, 2)
    outputs[1, 1:] = 0
    outputs[2, 2:] = 0
    stream = layout.flatten(outputs)
    np.testing.assert_array_equal(stream, [[0, 1], [2, 3], [4, 5], [6, 7], [12, 13], [14, 15]])
    np.testing.assert_array_equal(layout.unflatten(stream), outputs)
    final = StreamLayout("final", 2, LENGTHS)
    np.testing.assert_array_equal(final.unflatten(final.flatten(outputs[:, 0])), outputs[:, 0])


def test_layout_rejects_unknown_modes():
    with pytest.raises(ValueError, match="mode must be one of"):
        StreamLayout("all", 2, LENGTHS)


def _config(cell, inputs, hidden, lanes, layers=1, **model):
    return config_from_dict({"model": {"cell": cell, "input_size": inputs, "hidden_size": hidden,
                                       "num_layers": layers, **model}, "hardware": {"lanes": lanes}})


def test_schedule_bound_sums_layers():
    assert bound_cycles_per_step(_config("lstm", 12, 32, 8)) == 704  # 4*32*44/8
    assert bound_cycles_per_step(_config("lstm", 64, 128, 16, layers=2)) == 6144 + 8192
    assert bound_cycles_per_step(_config("gru", 3, 5, 7)) == 18  # ceil(3*5*8/7)
    assert bound_cycles_per_step(_config("rnn_tanh", 3, 5, 1, layers=3)) == 40 + 50 + 50


def test_output_mode():
    assert output_mode(_config("gru", 3, 5, 1, head=2)) == "head"
    assert output_mode(_config("gru", 3, 5, 1, return_sequences=True)) == "sequences"
    assert output_mode(_config("gru", 3, 5, 1)) == "final"


def _results(timed_out=False, extra_frames=0, inputs_left=False):
    return {"timed_out": np.bool_(timed_out), "extra_frames": np.int64(extra_frames),
            "inputs_left": np.bool_(inputs_left)}


def test_compare_reports_short_vectors_and_extra_outputs():
    layout = StreamLayout("sequences", 2, LENGTHS)
    expected = np.arange(12).reshape(6, 2)
    received = [*expected[:2], expected[2, :1], *expected[3:], np.array([7, 7])]
    got, mismatches, first, notes = _compare(layout, expected, received, _results(extra_frames=1), 100)
    assert first == ("sequence 0, timestep 2: the RTL sent a vector of 1 elements, expected 2 "
                     "(m_axis_tlast misplaced)")
    assert notes == (first, "the RTL sent 2 output vector(s) more than the 6 expected")
    assert mismatches == 1 + 2 * 2
    np.testing.assert_array_equal(got[2], [4, 0])


def test_compare_reports_missing_vectors_after_a_timeout():
    layout = StreamLayout("final", 2, LENGTHS)
    expected = np.array([[1, 2], [3, 4], [5, -6]])
    received = [np.array([1, 2]), np.array([3, 5])]
    results = _results(timed_out=True, inputs_left=True)
    _, mismatches, first, notes = _compare(layout, expected, received, results, 1000)
    assert first == "sequence 1, timestep 0, unit 1: rtl 5, golden 4"
    assert notes == ("the RTL sent 2 of 3 output vectors",
                     "the RTL did not accept every input element (s_axis_tready stayed low)")
    assert mismatches == 1 + 2
    _, _, first, _ = _compare(layout, expected, received[:1], _results(timed_out=True), 1000)
    assert first == "sequence 1, timestep 0, unit 0: rtl nothing (timed out after 1,000 cycles), golden 3"


def test_a_test_without_the_sim_marker_cannot_start_a_simulator(tmp_path):
    refused = r"test_sim_verify\.py::test_a_test_without_the_sim_marker_cannot_start_a_simulator starts an HDL " \
              r"simulator: mark it @pytest\.mark\.sim$"
    with pytest.raises(pytest.fail.Exception, match=refused):
        build_model("module rnnhw_top(input clk);\nendmodule\n", build_dir=tmp_path)
    with pytest.raises(pytest.fail.Exception, match=refused):
        Runner.test(None)


def test_interleaved_frames_pad_the_short_streams_and_follow_the_walk():
    from rnnhw.sim.verify import _interleaved_frames

    x = np.arange(4 * 3 * 2).reshape(4, 3, 2) + 1  # sequence n, step t, feature i -> 6n + 2t + i + 1
    (elements, tids, ends), padding = _interleaved_frames(x, np.array([3, 1, 1, 1]), 2)
    # Stream 0: sequences 0 (3 steps) and 2 (1); stream 1: sequences 1 and 3 (1 each), then 2 padding steps.
    assert padding == [0, 2]
    assert tids.tolist() == [0, 1, 0, 1, 0, 1, 0, 1]
    assert ends.tolist() == [0, 1, 0, 1, 1, 0, 1, 1]
    assert elements.tolist() == [1, 2, 7, 8, 3, 4, 19, 20, 5, 6, 0, 0, 13, 14, 0, 0]


def test_interleaved_outputs_back_in_sequence_order():
    from rnnhw.sim.verify import _by_sequence

    received = [np.array([v]) for v in (10, 20, 11, 21, 12, 99)]
    tids = np.array([0, 1, 0, 1, 0, 1])  # stream 1's last vector: its padding sequence's
    ordered = _by_sequence(received, tids, [1, 1, 2, 1], 2)  # sequences 0, 2 on stream 0; 1, 3 on stream 1
    assert [int(v[0]) for v in ordered] == [10, 20, 11, 12, 21]
    assert [int(v[0]) for v in _by_sequence(received[:2], tids[:2], [1, 1, 2, 1], 2)] == [10, 20]  # then missing

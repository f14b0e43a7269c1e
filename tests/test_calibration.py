"""Calibration: measured ranges, the integer-bit rule, and ``rnnhw calibrate``."""

from __future__ import annotations

import numpy as np
import pytest

from rnnhw.calibration import (
    Ranges,
    activation_ranges,
    batch_slices,
    calibrate_config,
    integer_bits,
    observe_ranges,
    weight_ranges,
)
from rnnhw.cli import main
from rnnhw.datasets import Dataset, digits
from rnnhw.examples import example_config, example_paths, example_weights
from rnnhw.golden.float_ref import float_forward
from rnnhw.spec.config import config_from_dict, load_config
from rnnhw.spec.fixed import FixedFormat
from rnnhw.spec.weights import LayerWeights, Weights, random_weights


@pytest.mark.parametrize(("magnitude", "width", "bits"), [
    (0.0, 16, 1),  # nothing to hold
    (0.2, 8, -1),  # [-0.25, 0.25)
    (0.25, 16, 0),  # 0.25 is not inside [-0.25, 0.25)
    (0.4999, 16, 0),
    (0.5, 16, 1),
    (0.9987, 8, 1),  # hidden states: below 1, saturating by less than a step at 8 bits
    (1.0, 16, 2),
    (3.0, 8, 3),
    (4.0, 8, 4),
    (11.13, 40, 5),
    (1000.0, 6, 6),  # clamped to the width: an integer format
    (2.0**-10, 16, -8),  # clamped to MIN_INT_BITS
    (float("inf"), 12, 12),  # an overflowing relu network
])
def test_integer_bits(magnitude, width, bits):
    assert integer_bits(magnitude, width) == bits


def _single(cell: str, **model):
    base = {"cell": cell, "input_size": 1, "hidden_size": 1, "head": 1}
    return config_from_dict({"model": {**base, **model}, "hardware": {"lanes": 1}})


def _one_unit(config, w_ih, w_hh, b_ih, b_hh, head=(3.0, 1.0)):
    a = np.array
    column = [a(w, float).reshape(-1, 1) for w in (w_ih, w_hh)]
    layer = LayerWeights(*column, a(b_ih, float), a(b_hh, float))
    return Weights((layer,), a([[head[0]]]), a([head[1]]))


def test_ranges_of_a_relu_unit_by_hand():
    # h1 = relu(2 x1) = 2, h2 = relu(2 + 0.5*2) = 3, h3 = relu(2 + 0.5*3) = 3.5; head: 3*3.5 + 1.
    config = _single("rnn_relu")
    weights = _one_unit(config, [2.0], [0.5], [0.25], [-0.25])
    found = activation_ranges(config, weights, np.ones((1, 3, 1)))
    assert found == {"input": 1.0, "state": 3.5, "cell_state": None, "accum": 3.5, "output": 11.5}
    assert weight_ranges(config, weights) == {"weight": 3.0, "bias": 1.0}
    # A sequence of length 2 never reaches h3, and its padding (x = 100) is never read.
    x = np.array([[[1.0], [1.0], [100.0]]])
    assert activation_ranges(config, weights, x, np.array([2])) == {
        "input": 1.0, "state": 3.0, "cell_state": None, "accum": 3.0, "output": 10.0}


def test_head_at_every_step_ranges_over_every_step():
    # h = 2, 3, 3.5 (as above); head 3h + 1 at every step: 7, 10, 11.5; head weight -3: -5, -8, -9.5.
    config = _single("rnn_relu", return_sequences=True)
    weights = _one_unit(config, [2.0], [0.5], [0.25], [-0.25], head=(-3.0, 1.0))
    found = activation_ranges(config, weights, np.ones((2, 3, 1)), np.array([3, 1]))
    assert found["output"] == 9.5
    assert activation_ranges(config, weights, np.ones((1, 3, 1)), np.array([1]))["output"] == 5.0


def test_gru_ranges_include_the_n_gate_sum_and_separate_biases():
    # One step from h0 = 0: r = z = sigmoid(0) = 0.5, xn = 1*1 + 2 = 3, hn = b_hn = 4, a_n = 3 + 0.5*4 = 5.
    config = _single("gru")
    weights = _one_unit(config, [0.0, 0.0, 1.0], [0.0, 0.0, 0.0], [0.5, -1.0, 2.0], [-0.5, 1.0, 4.0])
    found = activation_ranges(config, weights, np.ones((1, 1, 1)))
    assert found["accum"] == 5.0
    h1 = 0.5 * np.tanh(5.0)
    assert found["state"] == h1 and found["output"] == 3.0 * h1 + 1.0
    # The hardware adds b_ir + b_hr = 0, b_iz + b_hz = 0, b_in = 2 and b_hn = 4 apart.
    assert weight_ranges(config, weights) == {"weight": 3.0, "bias": 4.0}


def test_reset_before_gru_ranges_by_hand():
    # r = z = sigmoid(0) = 0.5 always; a_n = x + b_in + 2 * (r * h) + b_hn = 7 + h_{t-1} for x = 1.
    config = _single("gru", gru_reset="before")
    weights = _one_unit(config, [0.0, 0.0, 1.0], [0.0, 0.0, 2.0], [0.5, -1.0, 2.0], [-0.5, 1.0, 4.0])
    found = activation_ranges(config, weights, np.ones((1, 2, 1)))
    h1 = 0.5 * np.tanh(7.0)
    h2 = 0.5 * np.tanh(7.0 + h1) + 0.5 * h1
    assert found["accum"] == pytest.approx(7.0 + h1, abs=1e-12)
    assert found["state"] == pytest.approx(max(h1, h2), abs=1e-12)
    # The hardware adds b_ih + b_hh for every row, the n rows too: 0, 0, 6.
    assert weight_ranges(config, weights) == {"weight": 3.0, "bias": 6.0}


def test_lstm_cell_states_follow_the_float_reference():
    config = config_from_dict({"model": {"cell": "lstm", "input_size": 3, "hidden_size": 5, "num_layers": 2,
                                         "head": 2}, "hardware": {"lanes": 4}})
    weights = random_weights(config, seed=3, scale=1.5)
    rng = np.random.default_rng(0)
    x, lengths = rng.normal(size=(6, 7, 3)), np.array([7, 1, 3, 7, 5, 2])
    found = activation_ranges(config, weights, x, lengths)
    reference = float_forward(config, weights, x, lengths)
    # Final states are among the states seen; the largest |c| bounds every layer's final c.
    assert found["cell_state"] >= max(np.abs(c).max() for c in reference.final_c)
    assert found["state"] >= max(np.abs(h).max() for h in reference.final_h)
    assert found["output"] == np.abs(reference.outputs).max()
    # Batches give the same ranges as one run.
    data = Dataset("d", x, lengths)
    whole = observe_ranges(config, weights, data)
    assert whole.as_dict() == {**found, **weight_ranges(config, weights)}
    from rnnhw import calibration

    saved = calibration.BATCH_ELEMENTS
    calibration.BATCH_ELEMENTS = 1  # one sequence per batch
    try:
        assert batch_slices(6, 7 * 4 * 5 * 2) == [slice(i, i + 1) for i in range(6)]
        assert observe_ranges(config, weights, data) == whole
    finally:
        calibration.BATCH_ELEMENTS = saved


def test_lstm_cell_state_of_one_unit_by_hand():
    # Saturated gates (pre-activation 30): i = f = o = 1, g = tanh(0.5): c grows by tanh(0.5) a step.
    config = _single("lstm")
    weights = _one_unit(config, [0, 0, 0, 0], [0, 0, 0, 0], [30.0, 30.0, 0.5, 30.0], [0, 0, 0, 0])
    found = activation_ranges(config, weights, np.zeros((1, 4, 1)))
    assert found["cell_state"] == pytest.approx(4 * np.tanh(0.5), abs=1e-12)
    assert found["accum"] == 30.0


def test_calibrate_config_keeps_widths_and_unused_formats():
    config = _single("gru", head=0).replace("numerics", accum="fixed<32,10>")
    ranges = Ranges(input=1.0, weight=0.3, bias=1.5, state=0.999, cell_state=None, accum=11.0, output=None)
    numerics = calibrate_config(config, ranges).numerics
    assert (numerics.input, numerics.weight, numerics.bias, numerics.state, numerics.accum) == (
        FixedFormat(16, 2), FixedFormat(16, 0), FixedFormat(16, 2), FixedFormat(16, 1), FixedFormat(32, 5))
    assert numerics.cell_state == config.numerics.cell_state and numerics.output == config.numerics.output
    assert numerics.activation == config.numerics.activation


def test_bundled_lstm_calibration_on_digits():
    config, weights = example_config("digits_lstm"), example_weights("digits_lstm")
    ranges = observe_ranges(config, weights, digits("train"))
    assert ranges.input == 1.0
    assert 0.99 < ranges.state < 1.0
    assert [str(getattr(calibrate_config(config, ranges).numerics, kind)) for kind in
            ("input", "weight", "bias", "state", "cell_state", "accum", "activation", "output")] == [
        "fixed<16,2>", "fixed<16,2>", "fixed<16,2>", "fixed<16,1>", "fixed<16,4>", "fixed<41,5>",
        "fixed<16,2>", "fixed<16,5>"]


def test_calibrate_command_writes_the_calibrated_config(tmp_path, capsys):
    config_path, weights_path = example_paths("digits_gru")
    out = tmp_path / "new.toml"
    assert main(["calibrate", str(config_path), "--weights", str(weights_path), "--data", "digits",
                 "-o", str(out)]) == 0
    calibrated = load_config(out)
    assert str(calibrated.numerics.accum) == "fixed<41,5>" and str(calibrated.numerics.state) == "fixed<16,1>"
    assert calibrated.model == load_config(config_path).model
    stdout = capsys.readouterr().out.splitlines()
    assert stdout[0] == "calibrated on digits (train split): 1,257 sequences"
    assert stdout[-1] == f"wrote {out}"
    assert any(line.split()[:2] == ["cell_state", "unused"] for line in stdout)


def _expect_error(capsys, argv, message, tmp_path):
    before = sorted(p.name for p in tmp_path.iterdir())
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert message in err
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no partial output


def test_calibrate_command_errors(tmp_path, capsys):
    config_path, weights_path = (str(p) for p in example_paths("digits_lstm"))
    out = str(tmp_path / "new.toml")
    directory = tmp_path / "dir.toml"
    directory.mkdir()
    wide = tmp_path / "wide.npz"
    np.savez(wide, X=np.zeros((2, 3, 5)))
    cases = [
        ([str(tmp_path / "missing.toml"), "--weights", weights_path, "--data", "digits", "-o", out],
         "configuration file"),
        ([config_path, "--weights", str(tmp_path / "w.npz"), "--data", "digits", "-o", out],
         "weights file"),
        ([config_path, "--weights", weights_path, "--data", str(tmp_path / "d.npz"), "-o", out],
         "does not exist; pass a .npz file"),
        ([config_path, "--weights", weights_path, "--data", str(wide), "-o", out],
         "X has shape [2, 3, 5] but the model reads 8 features"),
        ([config_path, "--weights", weights_path, "--data", "digits", "-o", str(tmp_path / "new.txt")],
         "the file name must end in .toml"),
        ([config_path, "--weights", weights_path, "--data", "digits", "-o",
          str(tmp_path / "no" / "new.toml")], "does not exist"),
        ([config_path, "--weights", weights_path, "--data", "digits", "-o", str(directory)],
         "it is a directory"),
    ]
    for argv, message in cases:
        _expect_error(capsys, ["calibrate", *argv], message, tmp_path)


def test_jordan_ranges_by_hand():
    # One unit, O = 1: h1 = tanh(1 + 0.5) (y0 = 0), y1 = 2 h1 + 1; h2 = tanh(1.5 + 0.25 y1), y2 = 2 h2 + 1.
    config = config_from_dict({"model": {"cell": "jordan", "input_size": 1, "hidden_size": 1, "output_size": 1},
                               "hardware": {"lanes": 1}})
    a = np.array
    layer = LayerWeights(a([[1.0]]), a([[0.25]]), a([0.5]), a([0.0]), a([[2.0]]), a([1.0]))
    weights = Weights((layer,))
    found = activation_ranges(config, weights, np.ones((1, 2, 1)))
    h1 = np.tanh(1.5)
    y1 = 2 * h1 + 1
    h2 = np.tanh(1.5 + 0.25 * y1)
    y2 = 2 * h2 + 1
    assert found["state"] == pytest.approx(max(y1, y2), abs=1e-12)  # y > h: both are stored as state
    assert found["accum"] == pytest.approx(max(1.5 + 0.25 * y1, y2), abs=1e-12)
    assert found["output"] is None and found["cell_state"] is None
    assert weight_ranges(config, weights) == {"weight": 2.0, "bias": 1.0}
    # A length of 1 never reaches step 2.
    assert activation_ranges(config, weights, np.ones((1, 2, 1)), np.array([1]))["state"] == pytest.approx(y1)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_bidirectional_ranges_cover_both_directions(cell):
    config = config_from_dict({"model": {"cell": cell, "input_size": 2, "hidden_size": 3, "head": 2,
                                         "bidirectional": True}, "hardware": {"lanes": 3}})
    weights = random_weights(config, seed=4, scale=1.5)
    weights.reverse_layers[0].weight_hh[0, 0] = 5.0  # the largest weight is the backward direction's
    x = np.random.default_rng(5).normal(size=(6, 5, 2))
    lengths = np.array([5, 1, 3, 5, 2, 4])
    found = activation_ranges(config, weights, x, lengths)
    assert weight_ranges(config, weights)["weight"] == 5.0
    # The head reads [h_fwd at the last step; h_bwd at step 0]; the states are both directions' at every step.
    assert found["output"] == np.abs(float_forward(config, weights, x, lengths).outputs).max()
    sequence = float_forward(config.replace("model", head=0, return_sequences=True), weights, x, lengths).outputs
    valid = np.arange(5)[None, :] < lengths[:, None]
    assert found["state"] == np.abs(sequence[valid]).max()
    assert np.abs(sequence[valid][:, 3:]).max() != np.abs(sequence[valid][:, :3]).max()
    if cell == "lstm":
        final_c = float_forward(config, weights, x, lengths).final_c[0]
        assert found["cell_state"] >= np.abs(final_c).max()


def test_bundled_bidirectional_lstm_calibration_on_digits():
    config, weights = example_config("digits_bilstm"), example_weights("digits_bilstm")
    ranges = observe_ranges(config, weights, digits("train"))
    assert ranges.input == 1.0 and 0.99 < ranges.state < 1.0
    assert [str(getattr(calibrate_config(config, ranges).numerics, kind)) for kind in
            ("input", "weight", "bias", "state", "cell_state", "accum", "activation", "output")] == [
        "fixed<16,2>", "fixed<16,2>", "fixed<16,2>", "fixed<16,1>", "fixed<16,4>", "fixed<41,5>",
        "fixed<16,2>", "fixed<16,5>"]

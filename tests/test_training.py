"""``rnnhw train`` and :mod:`rnnhw.training` on tiny quick runs."""

from __future__ import annotations

import numpy as np
import pytest

from rnnhw.cli import main
from rnnhw.datasets import Dataset, digits
from rnnhw.golden.float_ref import float_forward
from rnnhw.spec.config import load_config
from rnnhw.spec.weights import load_weights
from rnnhw.training import train

pytest.importorskip("torch")  # an optional dependency: rnnhw[torch]


@pytest.fixture(scope="module")
def small_digits():
    return digits("train").subset(120)


@pytest.mark.parametrize(("cell", "lanes"), [("lstm", 8), ("gru", 8), ("rnn_tanh", 3), ("rnn_relu", 3)])
def test_train_matches_the_float_reference(small_digits, cell, lanes):
    result = train(small_digits, cell=cell, hidden=3, epochs=2, seed=1)
    model = result.config.model
    described = (model.cell, model.input_size, model.hidden_size, model.num_layers, model.head)
    assert described == (cell, 8, 3, 1, 10)
    assert result.config.hardware.lanes == lanes and str(result.config.numerics.weight) == "fixed<16,6>"
    assert [s.epoch for s in result.history] == [1, 2] and result.history[0].test_metric is None
    gates = model.gates
    assert result.weights.layers[0].weight_ih.shape == (gates * 3, 8)
    assert result.weights.head_weight.shape == (10, 3)
    # PyTorch's accuracy on the training data is the float reference's on the trained weights.
    outputs = float_forward(result.config, result.weights, small_digits.x).outputs
    assert result.history[-1].train_metric == np.mean(outputs.argmax(axis=1) == small_digits.labels)


def test_train_reset_before_gru_matches_the_float_reference(small_digits, tmp_path, capsys):
    result = train(small_digits, cell="gru", gru_reset="before", hidden=3, layers=2, epochs=2, seed=1)
    assert result.config.model.reset_before and result.config.hardware.lanes == 8
    outputs = float_forward(result.config, result.weights, small_digits.x).outputs
    assert result.history[-1].train_metric == np.mean(outputs.argmax(axis=1) == small_digits.labels)
    # Not what nn.GRU computes with the same weights.
    after = float_forward(result.config.replace("model", gru_reset="after"), result.weights, small_digits.x)
    assert np.abs(after.outputs - outputs).max() > 1e-3
    with pytest.raises(ValueError, match="^gru_reset must be one of"):
        train(small_digits, cell="lstm", gru_reset="before", hidden=3, epochs=1)
    weights, config = tmp_path / "w.npz", tmp_path / "c.toml"
    assert main(["train", "--cell", "gru", "--gru-reset", "before", "--hidden", "2", "--epochs", "1",
                 "--data", "digits", "-o", str(weights), "--config-out", str(config)]) == 0
    assert load_config(config).model.gru_reset == "before"
    assert "train accuracy" in capsys.readouterr().out


def test_train_jordan_matches_the_float_reference(small_digits, tmp_path, capsys):
    result = train(small_digits, cell="jordan", hidden=6, layers=2, epochs=2, seed=1)
    model = result.config.model
    assert (model.cell, model.output_size, model.head, model.num_layers, result.config.hardware.lanes) == (
        "jordan", 10, 0, 2, 6)
    assert result.weights.layers[1].weight_ih.shape == (6, 10) and result.weights.layers[0].weight_hy.shape == (10, 6)
    outputs = float_forward(result.config, result.weights, small_digits.x).outputs
    assert result.history[-1].train_metric == np.mean(outputs.argmax(axis=1) == small_digits.labels)
    weights, config = tmp_path / "w.npz", tmp_path / "c.toml"
    assert main(["train", "--cell", "jordan", "--hidden", "3", "--epochs", "1", "--data", "digits",
                 "-o", str(weights), "--config-out", str(config)]) == 0
    assert capsys.readouterr().out.startswith("jordan, hidden 3, 1 layer(s), head 0: ")
    loaded = load_config(config)
    assert (loaded.model.cell, loaded.model.output_size) == ("jordan", 10)
    assert sorted(np.load(weights).files) == ["bias_hy_l0", "bias_ih_l0", "bias_yh_l0", "weight_hy_l0",
                                              "weight_ih_l0", "weight_yh_l0"]


def test_train_is_deterministic_and_reports_test_data(small_digits):
    test = digits("test").subset(50)
    first = train(small_digits, cell="gru", hidden=4, layers=2, epochs=1, seed=7, test=test)
    second = train(small_digits, cell="gru", hidden=4, layers=2, epochs=1, seed=7, test=test)
    assert all(np.array_equal(a, b) for a, b in zip(first.weights.tensors().values(),
                                                    second.weights.tensors().values(), strict=True))
    assert first.history == second.history and first.history[0].test_metric is not None
    other = train(small_digits, cell="gru", hidden=4, layers=2, epochs=1, seed=8)
    assert not np.array_equal(other.weights.layers[0].weight_ih, first.weights.layers[0].weight_ih)


def test_train_regression_with_lengths():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 5, 2))
    lengths = rng.integers(1, 6, size=40)
    targets = np.stack([x[np.arange(40), lengths - 1, 0], x[:, 0, 1]], axis=1)
    data = Dataset("regression", x, lengths, targets=targets)
    result = train(data, cell="lstm", hidden=6, epochs=3, seed=0)
    assert result.task == "regression" and result.metric_name == "MSE" and result.config.model.head == 2
    outputs = float_forward(result.config, result.weights, x, lengths).outputs
    assert result.history[-1].train_metric == pytest.approx(np.mean((outputs - targets) ** 2), rel=1e-5)


def test_train_command_writes_float32_weights_and_config(tmp_path, capsys):
    rng = np.random.default_rng(1)
    data = tmp_path / "d.npz"
    np.savez(data, X=rng.normal(size=(30, 4, 3)), y=rng.integers(0, 3, size=30), lengths=np.full(30, 4))
    weights, config = tmp_path / "w.npz", tmp_path / "c.toml"
    assert main(["train", "--cell", "rnn_relu", "--hidden", "5", "--epochs", "2", "--data", str(data),
                 "-o", str(weights), "--config-out", str(config)]) == 0
    captured = capsys.readouterr()
    assert captured.out.splitlines()[1:] == [f"wrote {weights}", f"wrote {config}"]
    assert captured.out.startswith("rnn_relu, hidden 5, 1 layer(s), head 3: train accuracy ")
    assert [line.split(":")[0] for line in captured.err.splitlines()[1:]] == ["  epoch 1/2", "  epoch 2/2"]
    loaded = load_config(config)
    assert (loaded.model.cell, loaded.model.input_size, loaded.model.head, loaded.hardware.lanes) == (
        "rnn_relu", 3, 3, 5)
    with np.load(weights) as stored:
        assert sorted(stored.files) == ["bias_hh_l0", "bias_ih_l0", "head.bias", "head.weight",
                                        "weight_hh_l0", "weight_ih_l0"]
        assert {stored[name].dtype for name in stored.files} == {np.dtype(np.float32)}
    assert load_weights(weights, loaded).layers[0].weight_hh.shape == (5, 5)


def test_train_command_errors(tmp_path, capsys):
    good = tmp_path / "d.npz"
    np.savez(good, X=np.zeros((4, 2, 1)), y=np.array([0, 1, 0, 1]))
    three_d = tmp_path / "y3.npz"
    np.savez(three_d, X=np.zeros((4, 2, 1)), Y=np.zeros((4, 2, 1)))
    out = str(tmp_path / "w.npz")
    directory = tmp_path / "dir.npz"
    directory.mkdir()
    cases = [
        (["--hidden", "0"], "--hidden must be from 1 to 4,096, not 0"),
        (["--layers", "17"], "--layers must be from 1 to 16, not 17"),
        (["--epochs", "0"], "--epochs must be from 1 to 100,000, not 0"),
        (["--batch-size", "0"], "--batch-size must be from 1 to 1,000,000, not 0"),
        (["--seed", "-1"], "--seed must be from 0 to"),
        (["--lr", "0"], "--lr must be a positive number, not 0.0"),
        (["--lr", "nan"], "--lr must be a positive number, not nan"),
        (["--data", str(tmp_path / "missing.npz")], "does not exist; pass a .npz file"),
        (["--data", str(three_d)],
         "train fits a head to one target vector per sequence; Y must be [N] or [N, K]"),
        (["-o", str(tmp_path / "w.pt")], "-o "),
        (["-o", str(tmp_path / "no" / "w.npz")], "does not exist"),
        (["-o", str(directory)], "it is a directory"),
        (["--config-out", str(tmp_path / "c.json")], "--config-out"),
        (["--gru-reset", "before"], "--gru-reset before applies to --cell gru only, not lstm"),
    ]
    for extra, message in cases:
        argv = ["train", "--data", str(good), "-o", out, "--epochs", "1", "--hidden", "2", *extra]
        before = sorted(p.name for p in tmp_path.iterdir())
        assert main(argv) == 2, extra
        err = capsys.readouterr().err
        assert err.startswith("rnnhw train: error: ") and err.count("\n") == 1 and message in err, err
        assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_train_ctc_on_digit_strings_matches_the_float_reference():
    from rnnhw.datasets import digit_strings
    from rnnhw.sequence_metrics import sequence_accuracy
    from rnnhw.spec.ctc import greedy_decode

    data = digit_strings("train").subset(64)
    result = train(data, cell="lstm", hidden=6, epochs=2, seed=0, test=digit_strings("test").subset(16))
    model = result.config.model
    assert (model.head, model.return_sequences, model.ctc_blank) == (11, True, 10)
    assert result.task == "ctc" and result.metric_name == "sequence accuracy"
    assert result.weights.head_weight.shape == (11, 6) and result.history[-1].test_metric is not None
    # PyTorch's decoded strings are the float reference's on the trained weights.
    outputs = float_forward(result.config, result.weights, data.x, data.lengths).outputs
    decoded = greedy_decode(outputs, data.lengths, 10)
    assert result.history[-1].train_metric == sequence_accuracy(decoded, data.sequences)


def test_train_command_ctc_flags(tmp_path, capsys):
    np.savez(tmp_path / "seq.npz", X=np.zeros((4, 3, 2)), labels=np.array([[0], [1], [0], [1]]))
    status = main(["train", "--data", str(tmp_path / "seq.npz"), "-o", str(tmp_path / "w.npz")])
    err = capsys.readouterr().err
    assert status == 2 and "holds label sequences; add --ctc to train a CTC model on them" in err
    status = main(["train", "--ctc", "--data", "digits", "-o", str(tmp_path / "w.npz")])
    err = capsys.readouterr().err
    assert status == 2 and "--ctc trains on label sequences; give data with labels [N, Lmax]" in err
    status = main(["train", "--ctc", "--data", str(tmp_path / "seq.npz"), "--hidden", "2", "--epochs", "1",
                   "-o", str(tmp_path / "w.npz"), "--config-out", str(tmp_path / "c.toml")])
    assert status == 0
    config = load_config(tmp_path / "c.toml")
    assert (config.model.head, config.model.ctc_blank) == (3, 2)
    assert set(load_weights(tmp_path / "w.npz", config).tensors()) >= {"head.weight", "weight_ih_l0"}


@pytest.mark.parametrize(("cell", "gru_reset"), [("lstm", "after"), ("gru", "before"), ("rnn_relu", "after")])
def test_train_bidirectional_matches_the_float_reference(small_digits, cell, gru_reset):
    result = train(small_digits, cell=cell, gru_reset=gru_reset, hidden=3, layers=2, epochs=2, seed=1,
                   bidirectional=True)
    model = result.config.model
    assert model.bidirectional and result.config.hardware.max_sequence_length == 64
    assert result.weights.reverse_layers[1].weight_ih.shape == (model.gates * 3, 6)
    assert result.weights.head_weight.shape == (10, 6)
    outputs = float_forward(result.config, result.weights, small_digits.x).outputs
    assert result.history[-1].train_metric == np.mean(outputs.argmax(axis=1) == small_digits.labels)


def test_train_bidirectional_with_lengths_is_packed():
    """The backward direction starts at each sequence's own last step: PyTorch's packed sequences."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=(40, 70, 2))
    lengths = rng.integers(1, 71, size=40)
    targets = x[np.arange(40), 0, 0] + x[np.arange(40), lengths - 1, 1]
    result = train(Dataset("regression", x, lengths, targets=targets), cell="gru", hidden=4, epochs=2, seed=0,
                   bidirectional=True)
    assert result.config.hardware.max_sequence_length == 70  # the data's steps: the configuration takes them
    outputs = float_forward(result.config, result.weights, x, lengths).outputs
    assert result.history[-1].train_metric == pytest.approx(np.mean((outputs[:, 0] - targets) ** 2), rel=1e-5)
    x_padded = x.copy()
    x_padded[np.arange(70)[None, :] >= lengths[:, None]] = 9.0  # the padding is never read
    np.testing.assert_array_equal(float_forward(result.config, result.weights, x_padded, lengths).outputs, outputs)


def test_train_command_bidirectional(tmp_path, capsys):
    weights, config = tmp_path / "w.npz", tmp_path / "c.toml"
    assert main(["train", "--bidirectional", "--cell", "rnn_tanh", "--hidden", "3", "--epochs", "1",
                 "--data", "digits", "-o", str(weights), "--config-out", str(config)]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("bidirectional rnn_tanh, hidden 3, 1 layer(s), head 10: train accuracy ")
    assert captured.err.startswith("training bidirectional rnn_tanh (hidden 3, 1 layer(s)) on digits")
    assert load_config(config).model.bidirectional
    assert sorted(np.load(weights).files) == sorted(
        ["bias_hh_l0", "bias_ih_l0", "weight_hh_l0", "weight_ih_l0", "bias_hh_l0_reverse", "bias_ih_l0_reverse",
         "weight_hh_l0_reverse", "weight_ih_l0_reverse", "head.bias", "head.weight"])
    status = main(["train", "--bidirectional", "--cell", "jordan", "-o", str(tmp_path / "j.npz")])
    assert status == 2 and capsys.readouterr().err == (
        "rnnhw train: error: --bidirectional does not apply to --cell jordan (its y feeds back through the output "
        "layer); use another cell\n")

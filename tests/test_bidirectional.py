"""Bidirectional layers (PyTorch's ``bidirectional=True``): the sequence limit, the float reference against
PyTorch, the golden model against the scalar reference, and the commands that run them."""

import re

import numpy as np
import pytest

from rnnhw.cli import main
from rnnhw.golden.float_ref import float_forward
from rnnhw.golden.model import GoldenModel
from rnnhw.spec.batch import check_batch
from rnnhw.spec.config import config_from_dict, load_config
from rnnhw.spec.errors import UserError
from rnnhw.spec.weights import quantize_weights, random_weights, save_weights, weights_from_tensors

LIMIT_MESSAGE = ("a sequence of 6 steps is longer than the 5 a bidirectional core holds; raise [hardware] "
                 "max_sequence_length to at least 6")


def bidirectional(cell="lstm", *, layers=1, head=0, sequences=False, limit=64, **model):
    return config_from_dict({"model": {"cell": cell, "input_size": 3, "hidden_size": 4, "num_layers": layers,
                                       "head": head, "return_sequences": sequences, "bidirectional": True,
                                       **model},
                             "hardware": {"lanes": 4, "max_sequence_length": limit}})


# ------------------------------------------------------------------------------------- sequence limit


def test_check_batch_refuses_sequences_past_the_limit():
    config = bidirectional(limit=5)
    x = np.zeros((2, 6, 3))
    with pytest.raises(UserError) as info:
        check_batch(x, 3, None, config=config)
    assert str(info.value) == LIMIT_MESSAGE
    with pytest.raises(UserError, match=f"^{re.escape(LIMIT_MESSAGE)}$"):
        check_batch(x, 3, np.array([6, 2]), config=config)
    # Padding past the limit is fine when no sequence is longer; a unidirectional core streams any length.
    assert check_batch(x, 3, np.array([5, 2]), config=config).tolist() == [5, 2]
    assert check_batch(x, 3, None, config=config.replace("model", bidirectional=False)).tolist() == [6, 6]
    assert check_batch(np.zeros((2, 5, 3)), 3, None, config=config).tolist() == [5, 5]


def test_models_refuse_sequences_past_the_limit():
    config = bidirectional("gru", limit=5)
    weights = random_weights(config, seed=1)
    with pytest.raises(UserError, match=f"^{re.escape(LIMIT_MESSAGE)}$"):
        float_forward(config, weights, np.zeros((1, 6, 3)))
    with pytest.raises(UserError, match=f"^{re.escape(LIMIT_MESSAGE)}$"):
        GoldenModel(config, quantize_weights(weights, config)).run(np.zeros((1, 6, 3), dtype=np.int64))


@pytest.mark.parametrize("extra", [[], ["--float"]])
def test_golden_command_refuses_a_long_sequence_with_exit_2(tmp_path, capsys, extra):
    config_path = tmp_path / "bi.toml"
    config_path.write_text("[model]\ncell = \"lstm\"\ninput_size = 3\nhidden_size = 4\nhead = 2\n"
                           "bidirectional = true\n[hardware]\nlanes = 4\nmax_sequence_length = 5\n")
    config = load_config(config_path)
    save_weights(random_weights(config, seed=0), tmp_path / "w.npz")
    np.save(tmp_path / "x.npy", np.zeros((3, 6, 3)))
    argv = ["golden", config_path, "--weights", tmp_path / "w.npz", "--inputs", tmp_path / "x.npy",
            "-o", tmp_path / "y.npy", *extra]
    status = main([str(a) for a in argv])
    captured = capsys.readouterr()
    assert (status, captured.out, captured.err) == (2, "", f"rnnhw golden: error: {LIMIT_MESSAGE}\n")
    assert not (tmp_path / "y.npy").exists()


# ------------------------------------------------------------------------------- float reference = PyTorch

TORCH_CELLS = ("lstm", "gru", "rnn_tanh", "rnn_relu")
OUTPUTS = ("final", "head", "sequences", "head_sequences")


def torch_case(cell, layers, output, seed):
    """A bidirectional PyTorch module with a Linear head, its config and weights, inputs and lengths."""
    import torch
    from torch import nn

    rng = np.random.default_rng(seed)
    inputs, hidden = int(rng.integers(1, 6)), int(rng.integers(1, 7))
    head = int(rng.integers(1, 5)) if output.startswith("head") else 0
    config = config_from_dict({"model": {"cell": cell, "input_size": inputs, "hidden_size": hidden,
                                         "num_layers": layers, "head": head, "bidirectional": True,
                                         "return_sequences": output.endswith("sequences")},
                               "hardware": {"lanes": 1}})
    torch.manual_seed(seed)
    kinds = {"lstm": nn.LSTM, "gru": nn.GRU}
    options = {} if cell in kinds else {"nonlinearity": cell.removeprefix("rnn_")}
    rnn = kinds.get(cell, nn.RNN)(inputs, hidden, layers, batch_first=True, bidirectional=True,
                                  **options).double()
    linear = nn.Linear(2 * hidden, max(head, 1)).double()
    with torch.no_grad():  # wider than PyTorch's init so that activations leave their linear region
        for p in [*rnn.parameters(), *linear.parameters()]:
            p.mul_(2.0)
    tensors = {k: v.numpy() for k, v in rnn.state_dict().items()}
    if head:
        tensors.update({f"head.{k}": v.numpy() for k, v in linear.state_dict().items()})
    batch, steps = int(rng.integers(1, 6)), int(rng.integers(1, 9))
    x = rng.normal(0.0, 1.5, (batch, steps, inputs))
    lengths = rng.integers(1, steps + 1, batch)
    return config, (rnn, linear), weights_from_tensors(tensors, config), x, lengths


def torch_outputs(config, modules, x, lengths):
    """PyTorch's outputs for rnnhw's definition, and the final states [layers, N, 2H] (c too for LSTM)."""
    import torch
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

    rnn, linear = modules
    steps = x.shape[1]
    with torch.no_grad():
        x = torch.as_tensor(x)
        if lengths is None:
            out, state = rnn(x)
        else:
            packed = pack_padded_sequence(x, torch.as_tensor(lengths), batch_first=True, enforce_sorted=False)
            out, state = rnn(packed)
            out, _ = pad_packed_sequence(out, batch_first=True, total_length=steps)
        h_n, c_n = state if isinstance(state, tuple) else (state, None)
        final = torch.cat([h_n[-2], h_n[-1]], 1)
        if config.model.head and config.model.return_sequences:
            outputs = linear(out)
            if lengths is not None:  # rnnhw's head outputs are 0 past a sequence's length
                outputs = outputs * (torch.arange(steps)[None, :] < torch.as_tensor(lengths)[:, None])[..., None]
        elif config.model.head:
            outputs = linear(final)
        else:
            outputs = out if config.model.return_sequences else final

        def per_layer(state):  # [layers * 2, N, H] -> [layers, N, 2H]
            return None if state is None else torch.cat([state[0::2], state[1::2]], -1).numpy()

        return outputs.numpy(), per_layer(h_n), per_layer(c_n)


BI_CASES = [(cell, layers, output) for cell in TORCH_CELLS for layers in (1, 2) for output in OUTPUTS]


@pytest.mark.parametrize(("cell", "layers", "output"), BI_CASES)
@pytest.mark.parametrize("packed", [False, True])
def test_float_reference_equals_pytorch(cell, layers, output, packed):
    seed = 2 * BI_CASES.index((cell, layers, output)) + packed
    config, modules, weights, x, lengths = torch_case(cell, layers, output, seed)
    lengths = lengths if packed else None
    result = float_forward(config, weights, x, lengths)
    outputs, h_n, c_n = torch_outputs(config, modules, x, lengths)
    assert result.outputs.shape == outputs.shape
    hidden = config.model.hidden_size
    assert outputs.shape[-1] == (config.model.head or 2 * hidden)
    np.testing.assert_allclose(result.outputs, outputs, rtol=0, atol=1e-5)
    np.testing.assert_allclose(np.stack(result.final_h), h_n, rtol=0, atol=1e-5)
    if cell == "lstm":
        np.testing.assert_allclose(np.stack(result.final_c), c_n, rtol=0, atol=1e-5)
    else:
        assert result.final_c is None
    # Far below the 1e-5 promised: the same float64 operations in another order.
    assert np.abs(result.outputs - outputs).max(initial=0.0) < 1e-12 * max(1.0, np.abs(outputs).max(initial=0.0))


# ------------------------------------------------------------------------------------------ golden model


@pytest.mark.parametrize("cell", TORCH_CELLS)
def test_golden_model_follows_the_float_reference(cell):
    """16-bit formats: the golden model within quantization error of the float reference, each direction
    starting at each sequence's own last step."""
    config = bidirectional(cell, layers=2, head=3, sequences=True)
    weights = random_weights(config, seed=3)
    model = GoldenModel(config, quantize_weights(weights, config))
    x = np.random.default_rng(4).normal(size=(6, 9, 3))
    lengths = np.array([9, 1, 4, 7, 2, 9])
    golden = model.run(model.quantize_inputs(x)[0], lengths)
    exact = float_forward(config, weights, x, lengths)
    assert golden.outputs.shape == (6, 9, 3) and [h.shape for h in golden.final_h] == [(6, 8), (6, 8)]
    assert np.abs(golden.to_float() - exact.outputs).max() < 1e-2  # 1024-entry tables: measured 2.7e-3 to 5e-3
    # A sequence alone gives what it gives in the padded batch: the padding is never read.
    alone = model.run(model.quantize_inputs(x[3:4, :7])[0])
    assert np.array_equal(alone.outputs[0], golden.outputs[3, :7]) and not golden.outputs[3, 7:].any()


def test_ctc_decodes_the_bidirectional_head():
    from rnnhw.spec.ctc import greedy_decode

    config = bidirectional("gru", head=4, sequences=True, ctc_blank=0)
    model = GoldenModel(config, quantize_weights(random_weights(config, seed=8, scale=2.0), config))
    x, _ = model.quantize_inputs(np.random.default_rng(9).normal(size=(3, 6, 3)))
    lengths = np.array([6, 3, 5])
    result = model.run(x, lengths)
    assert result.outputs.shape == (3, 6, 4)
    assert np.array_equal(result.labels, greedy_decode(result.outputs, lengths, 0)) and (result.labels >= 0).any()


def test_golden_command_runs_packed_sequences(tmp_path, capsys):
    config = bidirectional("rnn_tanh", layers=2, head=2, limit=5)
    (tmp_path / "bi.toml").write_text(config.to_toml())
    weights = random_weights(config, seed=6)
    save_weights(weights, tmp_path / "w.npz")
    x = np.random.default_rng(7).normal(size=(3, 6, 3))
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "lengths.npy", np.array([5, 1, 3]))
    common = ["golden", tmp_path / "bi.toml", "--weights", tmp_path / "w.npz", "--inputs", tmp_path / "x.npy",
              "--lengths", tmp_path / "lengths.npy"]
    assert main([str(a) for a in [*common, "-o", tmp_path / "y.npy"]]) == 0
    assert main([str(a) for a in [*common, "-o", tmp_path / "f.npy", "--float"]]) == 0
    capsys.readouterr()
    model = GoldenModel(config, quantize_weights(weights, config))
    expected = model.run(model.quantize_inputs(x)[0], np.array([5, 1, 3])).to_float()
    np.testing.assert_array_equal(np.load(tmp_path / "y.npy"), expected)
    np.testing.assert_array_equal(np.load(tmp_path / "f.npy"),
                                  float_forward(config, weights, x, np.array([5, 1, 3])).outputs)


@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("packed", [False, True])
def test_float_reference_equals_the_bidirectional_reset_before_gru(layers, packed):
    import torch

    from rnnhw.models import ResetBeforeGRU

    torch.manual_seed(layers)
    module = ResetBeforeGRU(3, 4, layers, bidirectional=True).double()
    config = bidirectional("gru", layers=layers, sequences=True, gru_reset="before")
    weights = weights_from_tensors({k: v.detach().numpy() * 2.0 for k, v in module.state_dict().items()}, config)
    with torch.no_grad():
        for p in module.parameters():
            p.mul_(2.0)
    assert [name for name, _ in module.named_parameters()] == list(weights.tensors())
    x = np.random.default_rng(layers).normal(0, 1.5, (4, 7, 3))
    lengths = np.array([7, 2, 5, 1]) if packed else None
    with torch.no_grad():
        out, h_n = module(torch.as_tensor(x), None if lengths is None else torch.as_tensor(lengths))
    result = float_forward(config, weights, x, lengths)
    np.testing.assert_allclose(result.outputs, out.numpy(), rtol=0, atol=1e-12)
    np.testing.assert_allclose(np.stack(result.final_h), torch.cat([h_n[0::2], h_n[1::2]], -1).numpy(),
                               rtol=0, atol=1e-12)
    nn_gru = torch.nn.GRU(3, 4, layers, batch_first=True, bidirectional=True).double()
    nn_gru.load_state_dict(module.state_dict())  # the same names and shapes as nn.GRU's


# ------------------------------------------------------------------------------------- reports, example


def test_check_reports_bidirectional_layers(capsys):
    from rnnhw.examples import example_paths

    config_path, weights_path = example_paths("digits_bilstm")
    assert main(["check", str(config_path), "--weights", str(weights_path)]) == 0
    out = capsys.readouterr().out
    assert ("  bidirectional: every layer runs forward and backward (from each sequence's last step), its output "
            "[h_fwd; h_bwd] of 32; sequences of up to hardware.max_sequence_length = 64 steps\n"
            "  head: 10*32 = 320 MACs per sequence\n") in out
    assert "\nbidirectional = true\n" in out and "\nmax_sequence_length = 64\n" in out
    assert "  weight_hh_l0_reverse [64, 16]     fixed<16,6> " in out


def test_datapath_reads_both_directions():
    """Layer 1's sums and the head's read [h_fwd; h_bwd]: the exact accumulators and range checks count 2H."""
    from rnnhw.spec.datapath import datapath
    from rnnhw.spec.ranges import accumulator_warnings

    config = bidirectional("gru", layers=2, head=3)
    dp = datapath(config)
    assert [count for count, _ in dp.gates_matvec(1).operands] == [8, 4]
    assert [count for count, _ in dp.head_matvec.operands] == [8]
    # Full scale: layer 0 reaches 7 * 32 * 32 + 32 = 7,200, layer 1 12 * 32 * 32 + 32 = 12,320; 2**13 = 8,192.
    narrow = config.replace("numerics", accum="fixed<30,14>")
    assert [message.split(" but ")[1].split("'s")[0] for message in accumulator_warnings(narrow)] == ["layer 1"]


def test_accuracy_command_refuses_data_past_the_limit(tmp_path, capsys):
    from rnnhw.examples import example_paths

    config_path, weights_path = example_paths("digits_bilstm")
    short = tmp_path / "short.toml"
    short.write_text(config_path.read_text().replace("max_sequence_length = 64", "max_sequence_length = 7"))
    status = main(["accuracy", str(short), "--weights", str(weights_path), "--data", "digits"])
    captured = capsys.readouterr()
    assert (status, captured.out) == (2, "")
    assert captured.err == ("rnnhw accuracy: error: a sequence of 8 steps is longer than the 7 a bidirectional core "
                            "holds; raise [hardware] max_sequence_length to at least 8\n")


def test_golden_model_needs_the_reverse_layers():
    config = bidirectional("gru", layers=2)
    plain = config.replace("model", bidirectional=False)
    with pytest.raises(ValueError) as info:
        GoldenModel(config, quantize_weights(random_weights(plain, seed=0), plain))
    assert str(info.value) == ("weights must have 2 reverse layer(s) (the backward directions) for this configuration, "
                               "not 0; quantize them with its config")
    with pytest.raises(ValueError, match=r"^weights must have 0 reverse layer\(s\) .* not 1; "):
        GoldenModel(plain.replace("model", num_layers=1),
                    quantize_weights(random_weights(config.replace("model", num_layers=1), seed=0), config))

"""The float64 reference against PyTorch itself: every cell, stacked layers, head, sequences, lengths."""

import itertools

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from rnnhw.golden.float_ref import FloatResult, float_forward
from rnnhw.spec.config import CELLS, config_from_dict
from rnnhw.spec.errors import UserError
from rnnhw.spec.weights import random_weights, weights_from_tensors

OUTPUTS = ("final", "head", "sequences", "head_sequences")
#: The cells PyTorch itself has (the Jordan cell's module is rnnhw.models.JordanRNN, tested below).
TORCH_CELLS = tuple(cell for cell in CELLS if cell != "jordan")
#: The reset-before GRU has no head at every step yet (spec/config.py refuses it).
RESET_BEFORE_OUTPUTS = ("final", "head", "sequences")


class TorchNet(nn.Module):
    """An RNN module under a prefix and an optional ``nn.Linear`` head, as users save them."""

    def __init__(self, cell, input_size, hidden_size, num_layers, head, head_name):
        super().__init__()
        kinds = {"lstm": nn.LSTM, "gru": nn.GRU}
        if cell in kinds:
            self.rnn = kinds[cell](input_size, hidden_size, num_layers, batch_first=True)
        else:
            self.rnn = nn.RNN(
                input_size, hidden_size, num_layers, nonlinearity=cell.removeprefix("rnn_"), batch_first=True
            )
        self.head_name = head_name
        if head:
            setattr(self, head_name, nn.Linear(hidden_size, head))

    def forward(self, x, lengths=None):
        """Returns (outputs [N,T,H], h_n [L,N,H], c_n [L,N,H] or None); lengths via packing."""
        steps = x.shape[1]
        if lengths is not None:
            packed = pack_padded_sequence(x, torch.as_tensor(lengths), batch_first=True, enforce_sorted=False)
            out, state = self.rnn(packed)
            out, _ = pad_packed_sequence(out, batch_first=True, total_length=steps)
        else:
            out, state = self.rnn(x)
        h_n, c_n = state if isinstance(state, tuple) else (state, None)
        return out, h_n, c_n


def make_case(cell, num_layers, output, with_lengths, seed, dtype=torch.float64):
    """A random-size configuration, a torch module built from ``seed`` and its weights in rnnhw."""
    rng = np.random.default_rng(seed)
    input_size, hidden_size = int(rng.integers(1, 10)), int(rng.integers(1, 13))
    head = int(rng.integers(1, 6)) if output.startswith("head") else 0
    config = config_from_dict(
        {
            "model": {
                "cell": cell,
                "input_size": input_size,
                "hidden_size": hidden_size,
                "num_layers": num_layers,
                "head": head,
                "return_sequences": output.endswith("sequences"),
            },
            "hardware": {"lanes": 1},
        }
    )
    torch.manual_seed(seed)
    net = TorchNet(cell, input_size, hidden_size, num_layers, head, ("head", "fc")[seed % 2]).to(dtype)
    with torch.no_grad():  # wider than PyTorch's init so that activations leave their linear region
        for p in net.parameters():
            p.mul_(2.0)
    weights = weights_from_tensors({k: v.numpy() for k, v in net.state_dict().items()}, config)
    batch, steps = int(rng.integers(1, 6)), int(rng.integers(1, 9))
    x = rng.normal(0.0, 1.5, (batch, steps, input_size))
    lengths = rng.integers(1, steps + 1, batch) if with_lengths else None
    return config, net, weights, x, lengths


def torch_outputs(config, net, x, lengths, dtype):
    """What PyTorch gives for the outputs rnnhw defines, plus the final states per layer."""
    with torch.no_grad():
        out, h_n, c_n = net(torch.as_tensor(x, dtype=dtype), lengths)
        if config.model.head and config.model.return_sequences:  # head(output), 0 past the lengths
            outputs = getattr(net, net.head_name)(out)
            if lengths is not None:
                outputs = outputs * (torch.arange(out.shape[1])[None, :] < torch.as_tensor(lengths)[:, None])[..., None]
        elif config.model.head:
            outputs = getattr(net, net.head_name)(h_n[-1])
        elif config.model.return_sequences:
            outputs = out
        else:
            outputs = h_n[-1]
    c_n = None if c_n is None else c_n.double().numpy()
    return outputs.double().numpy(), h_n.double().numpy(), c_n


def parity_error(result: FloatResult, expected) -> float:
    outputs, h_n, c_n = expected
    assert result.outputs.shape == outputs.shape
    assert len(result.final_h) == h_n.shape[0]
    errors = [np.abs(result.outputs - outputs).max(initial=0.0)]
    errors += [np.abs(h - ref).max() for h, ref in zip(result.final_h, h_n, strict=True)]
    if c_n is None:
        assert result.final_c is None
    else:
        errors += [np.abs(c - ref).max() for c, ref in zip(result.final_c, c_n, strict=True)]
    return float(max(errors))


CASES = list(itertools.product(TORCH_CELLS, (1, 2, 3), OUTPUTS, (False, True)))


@pytest.mark.parametrize(("cell", "num_layers", "output", "with_lengths"), CASES)
def test_matches_torch_float64(cell, num_layers, output, with_lengths):
    seed = CASES.index((cell, num_layers, output, with_lengths))
    config, net, weights, x, lengths = make_case(cell, num_layers, output, with_lengths, seed)
    result = float_forward(config, weights, x, lengths)
    expected = torch_outputs(config, net, x, lengths, torch.float64)
    # README: "equals PyTorch to 1e-14" (relative above 1: unbounded ReLU values reach 100 and more,
    # where one float64 step is 1.4e-14).
    scale = max(1.0, *(np.abs(a).max(initial=0.0) for a in expected if a is not None))
    assert parity_error(result, expected) <= 1e-14 * scale


@pytest.mark.parametrize("cell", TORCH_CELLS)
@pytest.mark.parametrize("seed", (101, 102))
def test_matches_torch_float32(cell, seed):
    """The usual case: a float32 PyTorch model against the float64 reference of its weights."""
    output = OUTPUTS[seed % 3]
    config, net, weights, x, lengths = make_case(cell, 2, output, True, seed, torch.float32)
    result = float_forward(config, weights, x, lengths)
    assert parity_error(result, torch_outputs(config, net, x, lengths, torch.float32)) <= 1e-5


def test_output_shapes_and_padding():
    config = config_from_dict(
        {
            "model": {
                "cell": "gru",
                "input_size": 3,
                "hidden_size": 4,
                "num_layers": 2,
                "return_sequences": True,
            }
        }
    )
    weights = random_weights(config, seed=5)
    x = np.random.default_rng(5).normal(size=(3, 6, 3))
    result = float_forward(config, weights, x, lengths=np.array([6, 2, 4]))
    assert result.outputs.shape == (3, 6, 4)
    assert [h.shape for h in result.final_h] == [(3, 4), (3, 4)]
    assert result.final_c is None
    assert np.all(result.outputs[1, 2:] == 0.0) and np.all(result.outputs[2, 4:] == 0.0)
    assert np.all(result.outputs[1, :2] != 0.0)
    # The final state of a shorter sequence is its output at its own last step.
    np.testing.assert_array_equal(result.final_h[1][1], result.outputs[1, 1])
    np.testing.assert_array_equal(result.final_h[1][2], result.outputs[2, 3])
    # lengths = T everywhere is the same as no lengths, and padding beyond a length changes nothing.
    full = float_forward(config, weights, x)
    same = float_forward(config, weights, x, np.array([6, 6, 6]))
    np.testing.assert_array_equal(same.outputs, full.outputs)
    short = float_forward(config, weights, x[1:2, :2], np.array([2]))  # BLAS may sum in another order
    np.testing.assert_allclose(short.outputs[0], result.outputs[1, :2], rtol=0, atol=1e-15)


def test_lstm_by_hand():
    """One LSTM unit, one step, written out: c = i*g (c0 = 0), h = o*tanh(c)."""
    config = config_from_dict(
        {"model": {"cell": "lstm", "input_size": 1, "hidden_size": 1}, "hardware": {"lanes": 1}}
    )
    w_ih = np.array([[0.5], [-1.0], [2.0], [0.25]])  # i, f, g, o
    raw = {
        "weight_ih_l0": w_ih,
        "weight_hh_l0": np.zeros((4, 1)),
        "bias_ih_l0": np.array([0.1, 0, 0, 0]),
        "bias_hh_l0": np.array([0, 0, -0.5, 0]),
    }
    result = float_forward(config, weights_from_tensors(raw, config), np.array([[[2.0]]]))

    def sigmoid(a):
        return 1 / (1 + np.exp(-a))

    c = sigmoid(1.1) * np.tanh(3.5)
    h = sigmoid(0.5) * np.tanh(c)
    np.testing.assert_allclose(result.final_c[0], [[c]], rtol=0, atol=1e-15)
    np.testing.assert_allclose(result.outputs, [[h]], rtol=0, atol=1e-15)


def test_extreme_preactivations_stay_finite():
    config = config_from_dict({"model": {"cell": "lstm", "input_size": 2, "hidden_size": 3}})
    weights = random_weights(config, seed=1, scale=50.0)
    with np.errstate(all="raise"):
        result = float_forward(config, weights, np.full((2, 4, 2), 1e3))
    assert np.all(np.abs(result.outputs) <= 1.0)


@pytest.mark.parametrize(
    ("x_shape", "lengths", "message"),
    [
        ((2, 3), None, r"inputs must have shape \[N, T, 4\], not \[2, 3\]"),
        ((2, 3, 5), None, r"inputs must have shape \[N, T, 4\], not \[2, 3, 5\]"),
        ((2, 3, 4), [1, 2, 3], r"lengths must be 2 integers \(one per sequence\), not int64 \[3\]"),
        ((2, 3, 4), [1.0, 2.0], r"lengths must be 2 integers \(one per sequence\), not float64 \[2\]"),
        ((2, 3, 4), [0, 3], r"lengths must lie in 1\.\.3 \(the number of timesteps\); found 0\.\.3"),
        ((2, 3, 4), [1, 4], r"lengths must lie in 1\.\.3 \(the number of timesteps\); found 1\.\.4"),
    ],
)
def test_bad_inputs(x_shape, lengths, message):
    config = config_from_dict({"model": {"cell": "rnn_tanh", "input_size": 4, "hidden_size": 8}})
    weights = random_weights(config, seed=0)
    with pytest.raises(UserError, match=f"^{message}$"):
        float_forward(config, weights, np.zeros(x_shape), None if lengths is None else np.array(lengths))


# -- the GRU with the reset gate before W_hn (rnnhw.models.ResetBeforeGRU) --------------------------
def _reset_before_case(num_layers, output, seed, dtype=torch.float64):
    from rnnhw.models import ResetBeforeGRU

    rng = np.random.default_rng(seed)
    input_size, hidden_size = int(rng.integers(1, 8)), int(rng.integers(1, 10))
    head = int(rng.integers(1, 5)) if output == "head" else 0
    config = config_from_dict({"model": {"cell": "gru", "gru_reset": "before", "input_size": input_size,
                                         "hidden_size": hidden_size, "num_layers": num_layers, "head": head,
                                         "return_sequences": output == "sequences"},
                               "hardware": {"lanes": 1}})
    torch.manual_seed(seed)
    net = ResetBeforeGRU(input_size, hidden_size, num_layers).to(dtype)
    linear = nn.Linear(hidden_size, head).to(dtype) if head else None
    with torch.no_grad():
        for p in net.parameters():
            p.mul_(2.0)
    tensors = {k: v.numpy() for k, v in net.state_dict().items()}
    if linear is not None:
        tensors.update({f"head.{k}": v.numpy() for k, v in linear.state_dict().items()})
    weights = weights_from_tensors(tensors, config)
    batch, steps = int(rng.integers(1, 6)), int(rng.integers(1, 9))
    x = rng.normal(0.0, 1.5, (batch, steps, input_size))
    lengths = rng.integers(1, steps + 1, batch)
    return config, net, linear, weights, x, lengths


def _reset_before_torch(config, net, linear, x, lengths, dtype):
    """The module run on each sequence up to its length (what packing gives), outputs padded with 0."""
    batch, steps, _ = x.shape
    sequences, finals = np.zeros((batch, steps, config.model.hidden_size)), []
    with torch.no_grad():
        for n, length in enumerate(lengths):
            out, h_n = net(torch.as_tensor(x[n : n + 1, :length], dtype=dtype))
            sequences[n, :length] = out[0].double().numpy()
            finals.append(h_n[:, 0].double().numpy())
        h_n = np.stack(finals, axis=1)
        if linear is not None:
            outputs = linear(torch.as_tensor(h_n[-1], dtype=dtype)).double().numpy()
        else:
            outputs = sequences if config.model.return_sequences else h_n[-1]
    return outputs, h_n, None


@pytest.mark.parametrize("num_layers", (1, 2))
@pytest.mark.parametrize("output", RESET_BEFORE_OUTPUTS)
def test_reset_before_gru_matches_its_torch_module(num_layers, output):
    seed = 40 + 3 * num_layers + OUTPUTS.index(output)
    config, net, linear, weights, x, lengths = _reset_before_case(num_layers, output, seed)
    result = float_forward(config, weights, x, lengths)
    assert parity_error(result, _reset_before_torch(config, net, linear, x, lengths, torch.float64)) <= 1e-12
    config, net, linear, weights, x, lengths = _reset_before_case(num_layers, output, seed, torch.float32)
    result = float_forward(config, weights, x, lengths)
    assert parity_error(result, _reset_before_torch(config, net, linear, x, lengths, torch.float32)) <= 1e-5


def test_reset_before_gru_follows_the_written_equations():
    """Cho et al. 2014, unit by unit in plain Python: n = tanh(W_in x + b_in + W_hn (r*h) + b_hn)."""
    config, _, _, weights, x, lengths = _reset_before_case(2, "sequences", 60)
    hidden = config.model.hidden_size

    def sig(v):
        return 1.0 / (1.0 + np.exp(-v))

    expected = np.zeros((x.shape[0], x.shape[1], hidden))
    for n, length in enumerate(lengths):
        layer_in = [list(step) for step in x[n, :length]]
        for lw in weights.layers:
            h, outs = [0.0] * hidden, []
            for xt in layer_in:
                def pre(row, v, xt=xt, lw=lw):
                    return (sum(w * e for w, e in zip(lw.weight_ih[row], xt, strict=True)) + lw.bias_ih[row],
                            sum(w * e for w, e in zip(lw.weight_hh[row], v, strict=True)) + lw.bias_hh[row])
                r = [sig(sum(pre(u, h))) for u in range(hidden)]
                z = [sig(sum(pre(hidden + u, h))) for u in range(hidden)]
                rh = [r[u] * h[u] for u in range(hidden)]
                h = [(1 - z[u]) * np.tanh(sum(pre(2 * hidden + u, rh))) + z[u] * h[u] for u in range(hidden)]
                outs.append(h)
            layer_in = outs
        expected[n, :length] = layer_in
    result = float_forward(config, weights, x, lengths)
    assert np.abs(result.outputs - expected).max() <= 1e-12
    # And it is not PyTorch's GRU: the same weights give other outputs there.
    after = float_forward(config.replace("model", gru_reset="after"), weights, x, lengths)
    assert np.abs(after.outputs - expected).max() > 1e-3


# -- the Jordan network (rnnhw.models.JordanRNN) -----------------------------------------------------
JORDAN_CASES = [(1, False, "tanh", "identity"), (2, True, "relu", "sigmoid"), (2, False, "tanh", "tanh"),
                (3, True, "tanh", "identity")]


def _jordan_case(num_layers, sequences, nonlinearity, output_activation, seed, dtype=torch.float64):
    from rnnhw.models import JordanRNN

    rng = np.random.default_rng(seed)
    input_size, hidden_size, output_size = (int(v) for v in rng.integers(1, 8, size=3))
    config = config_from_dict({"model": {"cell": "jordan", "input_size": input_size, "hidden_size": hidden_size,
                                         "output_size": output_size, "num_layers": num_layers,
                                         "return_sequences": sequences, "nonlinearity": nonlinearity,
                                         "output_activation": output_activation}, "hardware": {"lanes": 1}})
    torch.manual_seed(seed)
    net = JordanRNN(input_size, hidden_size, output_size, num_layers, nonlinearity=nonlinearity,
                    output_activation=output_activation).to(dtype)
    with torch.no_grad():
        for p in net.parameters():
            p.mul_(2.0)
    weights = weights_from_tensors({k: v.numpy() for k, v in net.state_dict().items()}, config)
    batch, steps = int(rng.integers(1, 6)), int(rng.integers(1, 9))
    x = rng.normal(0.0, 1.5, (batch, steps, input_size))
    return config, net, weights, x, rng.integers(1, steps + 1, batch)


def _jordan_torch(config, net, x, lengths, dtype):
    """The module on each sequence up to its length; y per step (0 past it) or the final y, and h_n."""
    sequences = np.zeros((x.shape[0], x.shape[1], config.model.output_size))
    finals_h, finals_y = [], []
    with torch.no_grad():
        for n, length in enumerate(lengths):
            y, (h_n, y_n) = net(torch.as_tensor(x[n : n + 1, :length], dtype=dtype))
            sequences[n, :length] = y[0].double().numpy()
            finals_h.append(h_n[:, 0].double().numpy())
            finals_y.append(y_n[-1, 0].double().numpy())
    outputs = sequences if config.model.return_sequences else np.stack(finals_y)
    return outputs, np.stack(finals_h, axis=1), None


@pytest.mark.parametrize(("num_layers", "sequences", "nonlinearity", "output_activation"), JORDAN_CASES)
def test_jordan_matches_its_torch_module(num_layers, sequences, nonlinearity, output_activation):
    seed = 70 + JORDAN_CASES.index((num_layers, sequences, nonlinearity, output_activation))
    for dtype, tolerance in ((torch.float64, 1e-12), (torch.float32, 1e-5)):
        config, net, weights, x, lengths = _jordan_case(num_layers, sequences, nonlinearity, output_activation,
                                                        seed, dtype)
        result = float_forward(config, weights, x, lengths)
        assert parity_error(result, _jordan_torch(config, net, x, lengths, dtype)) <= tolerance


def test_jordan_follows_the_written_equations():
    """h_t = act(W_ih x_t + b_ih + W_yh y_{t-1} + b_yh), y_t = out_act(W_hy h_t + b_hy), unit by unit."""
    config, _, weights, x, lengths = _jordan_case(2, True, "relu", "sigmoid", 80)
    model = config.model
    expected = np.zeros((x.shape[0], x.shape[1], model.output_size))
    for n, length in enumerate(lengths):
        layer_in = [list(step) for step in x[n, :length]]
        for lw in weights.layers:
            y, outs = [0.0] * model.output_size, []
            for xt in layer_in:
                h = [max(0.0, sum(w * e for w, e in zip(lw.weight_ih[u], xt, strict=True)) + lw.bias_ih[u]
                         + sum(w * e for w, e in zip(lw.weight_hh[u], y, strict=True)) + lw.bias_hh[u])
                     for u in range(model.hidden_size)]
                y = [1.0 / (1.0 + np.exp(-(sum(w * e for w, e in zip(lw.weight_hy[o], h, strict=True))
                                          + lw.bias_hy[o]))) for o in range(model.output_size)]
                outs.append(y)
            layer_in = outs
        expected[n, :length] = layer_in
    assert np.abs(float_forward(config, weights, x, lengths).outputs - expected).max() <= 1e-12

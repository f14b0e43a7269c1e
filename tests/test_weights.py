"""The weights contract: PyTorch names in (.npz, .pt, .pth), validated floats and quantized integers out."""

import re
import warnings

import numpy as np
import pytest
import torch
from torch import nn

from rnnhw.spec.config import config_from_dict
from rnnhw.spec.errors import UserError
from rnnhw.spec.fixed import FixedFormat, Rounding, quantize
from rnnhw.spec.weights import (
    QuantizationWarning,
    Weights,
    expected_shapes,
    load_weights,
    quantize_weights,
    random_weights,
    save_weights,
    weights_from_tensors,
)


def make_config(cell="lstm", input_size=3, hidden_size=4, num_layers=2, head=0, **numerics):
    return config_from_dict(
        {
            "model": {
                "cell": cell,
                "input_size": input_size,
                "hidden_size": hidden_size,
                "num_layers": num_layers,
                "head": head,
            },
            "numerics": numerics,
            "hardware": {"lanes": 1},
        }
    )


def assert_weights_equal(weights: Weights, tensors: dict):
    """``weights`` hold exactly ``tensors`` (PyTorch names, without prefixes) as float64."""
    got = weights.tensors()
    assert sorted(got) == sorted(tensors)
    for name, value in tensors.items():
        assert got[name].dtype == np.float64
        np.testing.assert_array_equal(got[name], np.asarray(value, dtype=np.float64), err_msg=name)


def raw_tensors(config, seed=0):
    rng = np.random.default_rng(seed)
    return {name: rng.uniform(-1, 1, shape) for name, shape in expected_shapes(config).items()}


class Net(nn.Module):
    """How users hold an RNN: a submodule (``rnn.``) and a head named ``fc``."""

    def __init__(self):
        super().__init__()
        self.rnn = nn.GRU(3, 4, num_layers=2)
        self.fc = nn.Linear(4, 2)


# ---------------------------------------------------------------------------------------------- loading


def test_expected_shapes():
    assert expected_shapes(make_config("gru", 3, 4, 2, head=5)) == {
        "weight_ih_l0": (12, 3),
        "weight_hh_l0": (12, 4),
        "bias_ih_l0": (12,),
        "bias_hh_l0": (12,),
        "weight_ih_l1": (12, 4),
        "weight_hh_l1": (12, 4),
        "bias_ih_l1": (12,),
        "bias_hh_l1": (12,),
        "head.weight": (5, 4),
        "head.bias": (5,),
    }


def test_npz_round_trip(tmp_path):
    config = make_config(head=2)
    weights = random_weights(config, seed=3)
    path = tmp_path / "w.npz"
    save_weights(weights, path)
    assert [p.name for p in tmp_path.iterdir()] == ["w.npz"]  # no temporary left behind
    assert_weights_equal(load_weights(path, config), weights.tensors())


def test_npz_with_prefix_and_fc_head(tmp_path):
    config = make_config(num_layers=1, head=2)
    raw = raw_tensors(config)
    named = {f"model.lstm.{k}": v for k, v in raw.items() if not k.startswith("head")}
    named["classifier.fc.weight"], named["classifier.fc.bias"] = raw["head.weight"], raw["head.bias"]
    np.savez(tmp_path / "w.npz", **named)
    assert_weights_equal(load_weights(tmp_path / "w.npz", config), raw)


def test_integer_arrays_are_accepted():
    config = make_config(num_layers=1)
    raw = {k: np.ones(v.shape, dtype=np.int16) for k, v in raw_tensors(config).items()}
    assert_weights_equal(weights_from_tensors(raw, config), raw)


@pytest.mark.parametrize("suffix", [".pt", ".pth", ".PT"])
def test_torch_state_dict(tmp_path, suffix):
    torch.manual_seed(0)
    net = Net()
    path = tmp_path / f"model{suffix}"
    torch.save(net.state_dict(), path)
    config = make_config("gru", 3, 4, 2, head=2)
    expected = {
        name.removeprefix("rnn.").replace("fc.", "head."): value.numpy()
        for name, value in net.state_dict().items()
    }
    assert_weights_equal(load_weights(path, config), expected)


def test_torch_bfloat16_is_widened(tmp_path):
    torch.manual_seed(1)
    rnn = nn.RNN(3, 4).to(torch.bfloat16)
    torch.save(rnn.state_dict(), tmp_path / "w.pt")
    weights = load_weights(tmp_path / "w.pt", make_config("rnn_tanh", num_layers=1))
    np.testing.assert_array_equal(weights.layers[0].weight_hh, rnn.weight_hh_l0.double().detach().numpy())


def test_weights_tensors_names():
    weights = random_weights(make_config(num_layers=2, head=3), seed=0)
    assert list(weights.tensors()) == [
        "weight_ih_l0",
        "weight_hh_l0",
        "bias_ih_l0",
        "bias_hh_l0",
        "weight_ih_l1",
        "weight_hh_l1",
        "bias_ih_l1",
        "bias_hh_l1",
        "head.weight",
        "head.bias",
    ]


# ----------------------------------------------------------------------------------------- bad tensors


def check_error(raw, config, message):
    with pytest.raises(UserError, match=f"^{re.escape(message)}$"):
        weights_from_tensors(raw, config, "w.npz")


def test_missing_tensor_names_its_shape():
    config = make_config(hidden_size=32, num_layers=2)
    raw = raw_tensors(config)
    del raw["weight_hh_l1"]
    check_error(raw, config, "w.npz: missing tensor weight_hh_l1 of shape [128, 32] for this configuration")


def test_missing_head():
    config = make_config(head=5)
    raw = {k: v for k, v in raw_tensors(config).items() if not k.startswith("head")}
    check_error(raw, config, "w.npz: missing tensor head.weight of shape [5, 4] for this configuration")


def test_unexpected_layer_and_head():
    config = make_config(num_layers=1)
    raw = raw_tensors(make_config(num_layers=2))
    check_error(
        raw, config, "w.npz: unexpected tensor weight_ih_l1; the configuration has 1 layer(s) and head = 0"
    )
    raw = raw_tensors(make_config(num_layers=1, head=2))
    check_error(
        raw, config, "w.npz: unexpected tensor head.weight; the configuration has 1 layer(s) and head = 0"
    )


@pytest.mark.parametrize("name", ["embedding.weight", "weight_ih_l0_backward", "rnn.weight_ih", "head.scale"])
def test_unknown_tensor_name(name):
    config = make_config(num_layers=1)
    raw = {**raw_tensors(config), name: np.zeros(3)}
    check_error(
        raw,
        config,
        f"w.npz: unexpected tensor {name!r}; expected PyTorch names such as weight_ih_l0, "
        "bias_hh_l0, head.weight",
    )


def test_different_prefixes():
    config = make_config(num_layers=1)
    raw = raw_tensors(config)
    raw = {("enc." if "ih" in k else "dec.") + k: v for k, v in raw.items()}
    check_error(raw, config, "w.npz: RNN tensors carry different prefixes ['dec.', 'enc.']; save one module")


def test_two_heads():
    config = make_config(num_layers=1, head=2)
    raw = raw_tensors(config)
    raw["fc.weight"] = raw["head.weight"]
    check_error(raw, config, "w.npz: tensors 'head.weight' and 'fc.weight' both give head.weight; keep one")


def test_wrong_shape():
    config = make_config(num_layers=1)
    raw = raw_tensors(config)
    raw["bias_ih_l0"] = np.zeros((16, 1))
    check_error(raw, config, "w.npz: tensor bias_ih_l0 has shape [16, 1], expected [16]")


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_not_finite(bad):
    config = make_config(num_layers=1, head=2)
    raw = raw_tensors(config)
    raw["head.bias"][1] = bad
    check_error(raw, config, "w.npz: tensor head.bias contains NaN or Inf")


@pytest.mark.parametrize(
    ("value", "dtype"),
    [
        (np.array(["a"] * 16), "<U1"),
        (np.ones(16, dtype=bool), "bool"),
        (np.ones(16, dtype=complex), "complex128"),
    ],
)
def test_wrong_dtype(value, dtype):
    config = make_config(num_layers=1)
    raw = {**raw_tensors(config), "bias_hh_l0": value}
    check_error(raw, config, f"w.npz: tensor bias_hh_l0 holds {dtype}, not numbers")


def test_torch_bool_tensor_is_rejected(tmp_path):
    config = make_config("rnn_relu", num_layers=1)
    state = {k: torch.from_numpy(v) for k, v in raw_tensors(config).items()}
    state["bias_ih_l0"] = state["bias_ih_l0"] > 0
    torch.save(state, tmp_path / "w.pt")
    with pytest.raises(UserError, match=r"^.*w\.pt: tensor bias_ih_l0 holds bool, not numbers$"):
        load_weights(tmp_path / "w.pt", config)


# ------------------------------------------------------------------------------------------- bad files


def load_error(path, message, config=None):
    with pytest.raises(UserError) as info:
        load_weights(path, config or make_config())
    assert str(info.value) == message.format(path=path)


def test_missing_file(tmp_path):
    load_error(tmp_path / "nope.npz", "weights file '{path}' does not exist")


def test_unknown_suffix(tmp_path):
    (tmp_path / "w.h5").write_bytes(b"\x89HDF")
    load_error(tmp_path / "w.h5", "{path}: unknown weights format '.h5'; use .npz, .pt or .pth")


def test_npz_not_a_zip(tmp_path):
    (tmp_path / "w.npz").write_text("hello")
    load_error(
        tmp_path / "w.npz", "{path}: not a readable .npz file (not a zip archive); write it with np.savez"
    )


def test_npz_truncated(tmp_path):
    save_weights(random_weights(make_config(), seed=0), tmp_path / "good.npz")
    data = (tmp_path / "good.npz").read_bytes()
    (tmp_path / "w.npz").write_bytes(data[: len(data) // 2])
    load_error(
        tmp_path / "w.npz", "{path}: not a readable .npz file (not a zip archive); write it with np.savez"
    )


def test_npz_corrupt_member(tmp_path):
    """A zip whose central directory is intact but whose compressed data is damaged."""
    path = tmp_path / "w.npz"
    np.savez_compressed(path, **random_weights(make_config(hidden_size=32), seed=0).tensors())
    data = bytearray(path.read_bytes())
    data[200:400] = bytes(200)
    path.write_bytes(bytes(data))
    with pytest.raises(UserError, match=rf"^{re.escape(str(path))}: not a readable \.npz file \(.+\)$"):
        load_weights(path, make_config(hidden_size=32))


def test_npz_object_array(tmp_path):
    np.savez(tmp_path / "w.npz", weight_ih_l0=np.array([{}], dtype=object))
    load_error(
        tmp_path / "w.npz",
        "{path}: not a readable .npz file (Object arrays cannot be loaded when allow_pickle=False)",
    )


@pytest.mark.parametrize(("content", "kind"), [(b"hello", "KeyError"), (None, "RuntimeError")])
def test_pt_corrupt(tmp_path, content, kind):
    path = tmp_path / "w.pt"
    if content is None:  # a real file cut short
        torch.save(nn.LSTM(3, 4).state_dict(), path)
        content = path.read_bytes()[:100]
    path.write_bytes(content)
    load_error(
        path,
        f"{{path}}: not a readable PyTorch state_dict file ({kind}); "
        "save it with torch.save(model.state_dict(), path)",
    )


def test_pt_whole_module(tmp_path):
    torch.save(nn.LSTM(3, 4), tmp_path / "w.pt")
    load_error(
        tmp_path / "w.pt",
        "{path}: not a readable PyTorch state_dict file (UnpicklingError); "
        "save it with torch.save(model.state_dict(), path)",
    )


def test_pt_not_a_dict(tmp_path):
    torch.save([torch.zeros(3)], tmp_path / "w.pt")
    load_error(tmp_path / "w.pt", "{path}: expected a state_dict (a dict of tensors), found list")


def test_pt_non_tensor_entry(tmp_path):
    torch.save({"weight_ih_l0": torch.zeros(16, 3), "epoch": 3}, tmp_path / "w.pt")
    load_error(tmp_path / "w.pt", "{path}: entry 'epoch' is not a tensor (int); save model.state_dict()")


def test_save_needs_npz_suffix(tmp_path):
    with pytest.raises(
        UserError, match=r"^cannot write weights to '.*w\.pt': the file name must end in \.npz$"
    ):
        save_weights(random_weights(make_config(), seed=0), tmp_path / "w.pt")
    assert list(tmp_path.iterdir()) == []


def test_save_into_missing_directory(tmp_path):
    with pytest.raises(UserError, match=r"directory '.*missing' does not exist"):
        save_weights(random_weights(make_config(), seed=0), tmp_path / "missing" / "w.npz")


# ------------------------------------------------------------------------------------------ quantizing


def quantize_recording(weights, config, warn=True):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        quantized = quantize_weights(weights, config, warn=warn)
    return quantized, [str(w.message) for w in caught if issubclass(w.category, QuantizationWarning)]


def test_saturation_count_and_warning():
    # LSTM, I = 8, H = 32: 128*8 + 128*32 = 5,120 weights.
    config = make_config("lstm", 8, 32, 1, weight="fixed<8,3>", bias="fixed<8,3>", rounding="RND")
    weights = random_weights(config, seed=0)
    w_hh = weights.layers[0].weight_hh
    w_hh.flat[:30] = 100.0
    w_hh.flat[30:35] = -4.05  # rounds to -129 LSB, below -4 = fixed<8,3>'s minimum
    w_hh.flat[35:37] = 3.985  # rounds to 4.0 = 128 LSB, one above the maximum
    w_hh.flat[37:39] = 3.98  # rounds to 127 LSB = the maximum: not saturated
    w_hh.flat[39] = -4.0  # exactly the minimum
    quantized, messages = quantize_recording(weights, config)
    assert messages == ["37 of 5,120 weights saturated to fixed<8,3>"]
    assert quantized.saturated == {"weight": (37, 5120), "bias": (0, 128)}
    flat = quantized.layers[0].w_hh.ravel()
    assert flat[:30].tolist() == [127] * 30
    assert flat[30:40].tolist() == [-128] * 5 + [127] * 4 + [-128]


def test_bias_saturation_warning_and_silence():
    config = make_config("rnn_tanh", 2, 3, 1, head=2, bias="fixed<6,1>")
    weights = random_weights(config, seed=0)
    weights.layers[0].bias_ih[:] = 0.6
    weights.layers[0].bias_hh[:] = [0.6, 0.6, -0.1]  # sum 1.2 > 1: the summed bias saturates, not its parts
    weights.head_bias[0] = -2.0
    quantized, messages = quantize_recording(weights, config)
    assert messages == ["3 of 5 biases saturated to fixed<6,1>"]
    assert quantized.saturated == {"weight": (0, 6 + 9 + 6), "bias": (3, 5)}
    assert quantized.layers[0].bias.tolist() == [31, 31, 16]
    assert quantized.head_bias[0] == -32
    assert quantize_recording(weights, config, warn=False)[1] == []


def test_quantized_values():
    config = make_config(
        "lstm", 3, 4, 2, head=2, weight="fixed<10,2>", bias="fixed<12,4>", rounding="RND_CONV"
    )
    weights = random_weights(config, seed=7)
    quantized, messages = quantize_recording(weights, config)
    assert messages == []
    wf, bf = FixedFormat(10, 2), FixedFormat(12, 4)
    for layer, q in zip(weights.layers, quantized.layers, strict=True):
        np.testing.assert_array_equal(q.w_ih, quantize(layer.weight_ih, wf, Rounding.RND_CONV)[0])
        np.testing.assert_array_equal(q.w_hh, quantize(layer.weight_hh, wf, Rounding.RND_CONV)[0])
        np.testing.assert_array_equal(
            q.bias, quantize(layer.bias_ih + layer.bias_hh, bf, Rounding.RND_CONV)[0]
        )
        assert q.bias_hn is None
        assert q.w_ih.dtype == np.int64
    np.testing.assert_array_equal(
        quantized.head_weight, quantize(weights.head_weight, wf, Rounding.RND_CONV)[0]
    )
    np.testing.assert_array_equal(quantized.head_bias, quantize(weights.head_bias, bf, Rounding.RND_CONV)[0])


def test_gru_bias_split():
    """r and z rows hold b_i + b_h; the n rows hold b_in only, and bias_hn holds b_hn."""
    config = make_config("gru", 2, 2, 1, bias="fixed<16,8>")
    b_ih = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    b_hh = np.array([0.5, 0.25, -1.0, -2.0, 0.125, -0.375])
    raw = {**raw_tensors(config), "bias_ih_l0": b_ih, "bias_hh_l0": b_hh}
    quantized, _ = quantize_recording(weights_from_tensors(raw, config), config)
    layer = quantized.layers[0]
    scale = 2**8
    assert layer.bias.tolist() == [x * scale for x in (1.5, 2.25, 2.0, 2.0, 5.0, 6.0)]
    assert layer.bias_hn.tolist() == [0.125 * scale, -0.375 * scale]
    assert quantized.saturated["bias"] == (0, 8)


def test_random_weights_reproducible():
    config = make_config("gru", 3, 16, 2, head=2)
    first, again, other = (random_weights(config, seed=s) for s in (11, 11, 12))
    assert_weights_equal(again, first.tensors())
    assert not np.array_equal(first.layers[0].weight_ih, other.layers[0].weight_ih)
    bound = 1 / np.sqrt(16)
    for value in first.tensors().values():
        assert np.abs(value).max() <= bound
    # The stream is NumPy's default_rng(seed), tensors drawn in expected_shapes() order.
    rng = np.random.default_rng(11)
    np.testing.assert_array_equal(first.layers[0].weight_ih, rng.uniform(-bound, bound, (48, 3)))
    np.testing.assert_array_equal(first.layers[0].weight_hh, rng.uniform(-bound, bound, (48, 16)))
    scaled = random_weights(config, seed=11, scale=3.0)
    assert 2.5 < np.abs(scaled.layers[1].weight_hh).max() <= 3.0


def test_jordan_tensors_load_quantize_and_round_trip(tmp_path):
    from rnnhw.models import JordanRNN

    config = config_from_dict({"model": {"cell": "jordan", "input_size": 3, "hidden_size": 4, "output_size": 2,
                                         "num_layers": 2}, "hardware": {"lanes": 4}})
    assert expected_shapes(config) == {
        "weight_ih_l0": (4, 3), "weight_yh_l0": (4, 2), "bias_ih_l0": (4,), "bias_yh_l0": (4,),
        "weight_hy_l0": (2, 4), "bias_hy_l0": (2,),
        "weight_ih_l1": (4, 2), "weight_yh_l1": (4, 2), "bias_ih_l1": (4,), "bias_yh_l1": (4,),
        "weight_hy_l1": (2, 4), "bias_hy_l1": (2,),
    }
    module = JordanRNN(3, 4, 2, 2)
    path = tmp_path / "jordan.pt"
    torch.save({f"rnn.{k}": v for k, v in module.state_dict().items()}, path)  # a prefix is stripped
    weights = load_weights(path, config)
    assert np.allclose(weights.layers[1].weight_hy, module.weight_hy_l1.detach().double().numpy())
    assert np.allclose(weights.layers[0].weight_hh, module.weight_yh_l0.detach().double().numpy())
    save_weights(weights, tmp_path / "w.npz")
    assert sorted(np.load(tmp_path / "w.npz").files) == sorted(expected_shapes(config))
    assert all(np.array_equal(a, b) for a, b in zip(load_weights(tmp_path / "w.npz", config).tensors().values(),
                                                    weights.tensors().values(), strict=True))
    quantized = quantize_weights(weights, config)
    layer = quantized.layers[0]
    n = config.numerics
    assert np.array_equal(layer.w_hy, quantize(weights.layers[0].weight_hy, n.weight, n.rounding)[0])
    assert np.array_equal(layer.bias, quantize(weights.layers[0].bias_ih + weights.layers[0].bias_hh, n.bias,
                                               n.rounding)[0])
    assert quantized.saturated["weight"][1] == 2 * (12 + 8 + 8) - 4  # every weight of both layers
    with pytest.raises(UserError, match="missing tensor weight_hy_l1 of shape"):
        weights_from_tensors({k: v for k, v in weights.tensors().items() if k != "weight_hy_l1"}, config)


# ------------------------------------------------------------------------------------------ bidirectional


def bidirectional_config(cell="gru", num_layers=2, head=2):
    return config_from_dict({"model": {"cell": cell, "input_size": 3, "hidden_size": 4, "num_layers": num_layers,
                                       "head": head, "bidirectional": True}, "hardware": {"lanes": 1}})


def test_bidirectional_shapes_follow_pytorch():
    """Names, shapes and order are nn.GRU(bidirectional=True)'s state_dict's, the head reads 2H."""
    config = bidirectional_config()
    rnn = nn.GRU(3, 4, num_layers=2, bidirectional=True)
    shapes = {name: tuple(value.shape) for name, value in rnn.state_dict().items()}
    assert list(expected_shapes(config)) == [*shapes, "head.weight", "head.bias"]
    assert expected_shapes(config) == {**shapes, "head.weight": (2, 8), "head.bias": (2,)}
    assert expected_shapes(config)["weight_ih_l1_reverse"] == (12, 8)


def test_bidirectional_state_dict_round_trip(tmp_path):
    torch.manual_seed(2)
    rnn = nn.LSTM(3, 4, num_layers=2, bidirectional=True)
    head = nn.Linear(8, 2)
    state = {**{f"lstm.{k}": v for k, v in rnn.state_dict().items()},
             **{f"fc.{k}": v for k, v in head.state_dict().items()}}
    torch.save(state, tmp_path / "bi.pt")
    config = bidirectional_config("lstm")
    weights = load_weights(tmp_path / "bi.pt", config)
    assert (len(weights.layers), len(weights.reverse_layers)) == (2, 2)
    np.testing.assert_array_equal(weights.reverse_layers[1].weight_ih, rnn.weight_ih_l1_reverse.detach().numpy())
    np.testing.assert_array_equal(weights.layers[1].weight_ih, rnn.weight_ih_l1.detach().numpy())
    expected = {k.removeprefix("lstm.").replace("fc.", "head."): v.numpy() for k, v in state.items()}
    assert_weights_equal(weights, expected)
    assert list(weights.tensors()) == list(expected)  # state_dict order
    save_weights(weights, tmp_path / "bi.npz")
    assert_weights_equal(load_weights(tmp_path / "bi.npz", config), expected)


def test_bidirectional_quantized_and_random():
    config = bidirectional_config("gru", num_layers=1, head=0)
    weights = random_weights(config, seed=5)
    assert len(weights.reverse_layers) == 1 and weights.reverse_layers[0].weight_ih.shape == (12, 3)
    quantized = quantize_weights(weights, config)
    n = config.numerics
    backward = quantized.reverse_layers[0]
    assert np.array_equal(backward.w_hh, quantize(weights.reverse_layers[0].weight_hh, n.weight, n.rounding)[0])
    assert np.array_equal(backward.bias_hn, quantize(weights.reverse_layers[0].bias_hh[8:], n.bias, n.rounding)[0])
    assert quantized.saturated["weight"][1] == 2 * (36 + 48)  # both directions' weights are counted
    assert quantize_weights(random_weights(make_config(), seed=5), make_config()).reverse_layers == ()
    assert random_weights(make_config(), seed=5).reverse_layers == ()


def test_reverse_tensors_need_bidirectional():
    raw = raw_tensors(bidirectional_config(num_layers=1, head=0))
    with pytest.raises(UserError) as info:
        weights_from_tensors(raw, make_config("gru", num_layers=1))
    assert str(info.value) == ("weights: unexpected tensor weight_ih_l0_reverse; the configuration has 1 layer(s) "
                               "and head = 0; set model.bidirectional = true")
    del raw["bias_hh_l0_reverse"]
    with pytest.raises(UserError) as info:
        weights_from_tensors(raw, bidirectional_config(num_layers=1, head=0))
    assert str(info.value) == "weights: missing tensor bias_hh_l0_reverse of shape [12] for this configuration"

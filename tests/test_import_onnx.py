"""``rnnhw import MODEL.onnx``: every supported operator and attribute against onnxruntime, every refusal.

Graphs come from ``torch.onnx.export`` (the TorchScript exporter, which needs no onnxscript) and are
built by hand with ``onnx.helper`` for each operator and attribute. ``rnnhw golden --float`` on the
imported model must equal onnxruntime to 1e-5.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper

from rnnhw.spec.config import load_config
from tests.importing import assert_bit_exact_on_verilator, golden_float, import_cli, import_model, refusal

# The exporters' and Keras's own warnings (tracing, deprecations) are not about rnnhw.
pytestmark = [pytest.mark.filterwarnings("ignore:::torch")]

GATES = {"LSTM": 4, "GRU": 3, "RNN": 1}
BATCH, STEPS = 4, 6


# ------------------------------------------------------------------------------------------ hand-built


def _tensor(name, value):
    return numpy_helper.from_array(np.asarray(value, dtype=np.float32), name)


def recurrent_graph(op, *, input_size=3, hidden=4, layout=0, direction="forward", bias=True, lengths=False,
                    initial=None, peepholes=None, output="Y_h", seed=0, **attrs):
    """One LSTM/GRU/RNN node reading graph input X; ``output`` is the graph output (Y, Y_h or Y_c)."""
    rng = np.random.default_rng(seed)
    directions = 2 if direction == "bidirectional" else 1
    rows = GATES[op] * hidden
    initializers = [_tensor("W", rng.normal(0, 0.5, (directions, rows, input_size))),
                    _tensor("R", rng.normal(0, 0.5, (directions, rows, hidden)))]
    names = ["X", "W", "R", ""]
    if bias:
        initializers.append(_tensor("B", rng.normal(0, 0.5, (directions, 2 * rows))))
        names[3] = "B"
    inputs = [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["T", "N", input_size] if layout == 0
                                            else ["N", "T", input_size])]
    names.append("seq_lens" if lengths else "")
    if lengths:
        inputs.append(helper.make_tensor_value_info("seq_lens", TensorProto.INT32, ["N"]))
    for name, value in (initial or {}).items():  # initial_h / initial_c: an array, or "input"
        if isinstance(value, str):
            inputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, [1, "N", hidden]))
        else:
            initializers.append(_tensor(name, value))
    names += [name if name in (initial or {}) else "" for name in ("initial_h", "initial_c")]
    if peepholes is not None:
        initializers.append(_tensor("P", peepholes))
        names.append("P")
    if op != "LSTM":
        names = names[:6]
    while names[-1] == "":
        names.pop()
    outputs = ["Y", "Y_h", "Y_c"] if op == "LSTM" else ["Y", "Y_h"]
    if op == "GRU":
        attrs.setdefault("linear_before_reset", 1)
    if layout:
        attrs["layout"] = layout
    node = helper.make_node(op, names, outputs, name=f"{op.lower()}0", hidden_size=hidden, direction=direction,
                            **attrs)
    graph = helper.make_graph([node], "handmade", inputs, [helper.make_tensor_value_info(output, TensorProto.FLOAT,
                                                                                           None)], initializers)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=9)


def save(model, tmp_path, name="model.onnx"):
    path = tmp_path / name
    onnx.save(model, path)
    return path


def run_ort(path, output=0, **feeds) -> np.ndarray:
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, feeds)[output]


def inputs(input_size=3, seed=1) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(BATCH, STEPS, input_size)).astype(np.float32)


def reference(tmp_path, op, x, output="Y_h", seq_lens=None, **graph_options) -> np.ndarray:
    """onnxruntime on the layout-0 graph (its CPU kernels have no layout 1), outputs as rnnhw writes them.

    Layout 1 differs from layout 0 only by the axis order of X, Y, Y_h and Y_c (ONNX's definition).
    """
    path = save(recurrent_graph(op, output=output, **{**graph_options, "layout": 0}), tmp_path, "reference.onnx")
    feeds = {"X": np.ascontiguousarray(x.transpose(1, 0, 2))}
    if seq_lens is not None:
        feeds["seq_lens"] = seq_lens
    y = run_ort(path, **feeds)
    return y[0] if output == "Y_h" else y[:, 0].transpose(1, 0, 2)  # [1, N, H] or [T, 1, N, H]


CELLS = {"LSTM": ("LSTM", {}), "GRU": ("GRU", {}), "GRU-reset-before": ("GRU", {"linear_before_reset": 0}),
         "RNN": ("RNN", {}), "RNN-Relu": ("RNN", {"activations": ["Relu"]})}


@pytest.mark.parametrize("output", ["Y_h", "Y"])
@pytest.mark.parametrize("layout", [0, 1])
@pytest.mark.parametrize("cell", sorted(CELLS))
def test_one_node_equals_onnxruntime(tmp_path, capsys, cell, layout, output):
    op, attrs = CELLS[cell]
    path = save(recurrent_graph(op, layout=layout, output=output, **attrs), tmp_path)
    config, weights, printed = import_model(capsys, path)
    x = inputs()
    expected = reference(tmp_path, op, x, output, **attrs)
    np.testing.assert_allclose(golden_float(capsys, config, weights, x), expected, rtol=0, atol=1e-5)
    assert ("every step [N, T, 4]" if output == "Y" else "final hidden state [N, 4]") in printed
    assert ("time-major" in printed) == (layout == 0)


# Attribute combinations beyond the defaults, each on the operators it applies to.
VARIANTS = {
    "no-bias": ("LSTM", {"bias": False}),
    "default-activations-spelled-out": ("LSTM", {"activations": ["Sigmoid", "Tanh", "Tanh"]}),
    "gru-activations-lowercase": ("GRU", {"activations": ["sigmoid", "tanh"]}),
    "rnn-tanh-spelled-out": ("RNN", {"activations": ["Tanh"]}),
    "zero-initial-states": ("LSTM", {"initial": {"initial_h": np.zeros((1, BATCH, 4)),
                                                 "initial_c": np.zeros((1, BATCH, 4))}}),
    "zero-peepholes": ("LSTM", {"peepholes": np.zeros((1, 12))}),
    "input-forget-0": ("LSTM", {"input_forget": 0}),
    "gru-no-bias": ("GRU", {"bias": False}),
    "rnn-input-5-hidden-2": ("RNN", {"input_size": 5, "hidden": 2}),
}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_attribute_variants_equal_onnxruntime(tmp_path, capsys, variant):
    op, attrs = VARIANTS[variant]
    path = save(recurrent_graph(op, layout=1, **attrs), tmp_path)
    config, weights, _ = import_model(capsys, path)
    x = inputs(attrs.get("input_size", 3))
    expected = reference(tmp_path, op, x, **attrs)
    np.testing.assert_allclose(golden_float(capsys, config, weights, x), expected, rtol=0, atol=1e-5)


@pytest.mark.parametrize("output", ["Y_h", "Y"])
@pytest.mark.parametrize("op", sorted(GATES))
def test_sequence_lens_from_a_graph_input_are_rnnhws_lengths(tmp_path, capsys, op, output):
    path = save(recurrent_graph(op, layout=1, lengths=True, output=output), tmp_path)
    config, weights, printed = import_model(capsys, path)
    assert 'the sequence lengths come from graph input "seq_lens": give them to rnnhw with --lengths' in printed
    x, lengths = inputs(), np.array([6, 1, 3, 5], dtype=np.int32)
    expected = reference(tmp_path, op, x, output, lengths, lengths=True)
    np.testing.assert_allclose(golden_float(capsys, config, weights, x, lengths), expected, rtol=0, atol=1e-5)


def test_sequence_lens_cast_from_an_int64_graph_input(tmp_path, capsys):
    model = recurrent_graph("LSTM", layout=1, lengths=True, output="Y")
    model.graph.input[1].type.tensor_type.elem_type = TensorProto.INT64
    model.graph.input[1].name = "lengths"
    model.graph.node.insert(0, helper.make_node("Cast", ["lengths"], ["seq_lens"], to=TensorProto.INT32))
    path = save(model, tmp_path)
    config, weights, printed = import_model(capsys, path)
    assert 'the sequence lengths come from graph input "lengths"' in printed
    x, lengths = inputs(), np.array([2, 6, 5, 1])
    expected = reference(tmp_path, "LSTM", x, "Y", lengths.astype(np.int32), lengths=True)
    np.testing.assert_allclose(golden_float(capsys, config, weights, x, lengths), expected, rtol=0, atol=1e-5)


def test_output_paths_are_checked_before_reading(tmp_path, capsys):
    out = tmp_path / "missing" / "model.toml"
    assert import_cli(capsys, tmp_path / "nothing.onnx", out) == (
        2, "", f"rnnhw import: error: cannot write '{out}': directory '{out.parent}' does not exist\n")


def _stacked_graph(head: str, resets=(1, 1)):
    """Two GRU layers joined by Squeeze (as exporters write them), the last step's state into a head.

    ``resets`` are the layers' ``linear_before_reset`` (1: PyTorch's reset after ``R_h``, 0: before).
    """
    rng = np.random.default_rng(3)
    init = [_tensor(f"{n}{k}", rng.normal(0, 0.5, s)) for k, size in ((0, 3), (1, 4))
            for n, s in (("W", (1, 12, size)), ("R", (1, 12, 4)), ("B", (1, 24)))]
    init += [_tensor("head_w", rng.normal(0, 0.5, (2, 4) if head == "Gemm" else (4, 2))),
             _tensor("head_b", rng.normal(0, 0.5, (2,))),
             numpy_helper.from_array(np.array([1], dtype=np.int64), "axis1"),
             numpy_helper.from_array(np.array([-1], dtype=np.int64), "last")]
    nodes = [helper.make_node("GRU", ["X", "W0", "R0", "B0"], ["Y0", ""], hidden_size=4,
                               linear_before_reset=resets[0]),
             helper.make_node("Squeeze", ["Y0", "axis1"], ["S0"]),
             helper.make_node("GRU", ["S0", "W1", "R1", "B1"], ["Y1", "H1"], hidden_size=4,
                               linear_before_reset=resets[1]),
             helper.make_node("Squeeze", ["Y1", "axis1"], ["S1"]),  # [T, N, H]
             helper.make_node("Gather", ["S1", "last"], ["G"], axis=0),  # [1, N, H]
             helper.make_node("Reshape", ["G", "shape"], ["last_h"])]
    init.append(numpy_helper.from_array(np.array([-1, 4], dtype=np.int64), "shape"))
    if head == "Gemm":
        nodes.append(helper.make_node("Gemm", ["last_h", "head_w", "head_b"], ["out"], transB=1, alpha=0.5,
                                      beta=2.0, name="head"))
    else:
        nodes += [helper.make_node("MatMul", ["last_h", "head_w"], ["mm"], name="head"),
                  helper.make_node("Add", ["head_b", "mm"], ["out"], name="bias")]
    graph = helper.make_graph(nodes, "stacked", [helper.make_tensor_value_info("X", TensorProto.FLOAT,
                                                                                ["T", "N", 3])],
                              [helper.make_tensor_value_info("out", TensorProto.FLOAT, None)], init)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=9)


@pytest.mark.parametrize("reset", [1, 0])
@pytest.mark.parametrize("head", ["Gemm", "MatMul+Add"])
def test_stacked_layers_with_a_head_equal_onnxruntime(tmp_path, capsys, head, reset):
    path = save(_stacked_graph(head, (reset, reset)), tmp_path)
    config, weights, printed = import_model(capsys, path)
    assert "layer 1: gru GRU node" in printed and "-> 2" in printed and "output: head [N, 2]" in printed
    assert load_config(config).model.gru_reset == ("after" if reset else "before")
    x = inputs()
    expected = run_ort(path, X=np.ascontiguousarray(x.transpose(1, 0, 2)))
    np.testing.assert_allclose(golden_float(capsys, config, weights, x), expected, rtol=0, atol=1e-5)


def _glue_graph():
    """Two LSTM layers joined by a detour through every kind of glue, Y_h flattened into a Gemm head."""
    rng = np.random.default_rng(5)
    ints = {"zero": [0], "two": [2], "big": [2**62], "minus1": [-1], "minus_big": [-(2**62)], "halves": [2, 2],
            "axis0": [0], "axis1": [1]}
    init = [numpy_helper.from_array(np.array(v, dtype=np.int64), n) for n, v in ints.items()]
    init += [_tensor(f"{n}{k}", rng.normal(0, 0.5, s)) for k, size in ((0, 3), (1, 4))
             for n, s in (("W", (1, 16, size)), ("R", (1, 16, 4)), ("B", (1, 32)))]
    init += [_tensor("head_w", rng.normal(0, 0.5, (4, 3))), _tensor("head_b", rng.normal(0, 0.5, (1, 3)))]
    node = helper.make_node
    nodes = [
        node("Transpose", ["X"], ["x_tn"], perm=[1, 0, 2]),
        node("LSTM", ["x_tn", "W0", "R0", "B0"], ["Y0"], hidden_size=4, name="lstm0"),  # [T, 1, N, H]
        node("Transpose", ["Y0"], ["y_nt1h"], perm=[2, 0, 1, 3]),  # [N, T, 1, H]
        node("Shape", ["y_nt1h"], ["shape"]),
        node("Slice", ["shape", "zero", "two"], ["nt"]),  # [N, T]
        node("Concat", ["nt", "minus1"], ["nt_h"], axis=0),
        node("Reshape", ["y_nt1h", "nt_h"], ["y_nth"]),  # [N, T, H]
        node("Split", ["y_nth", "halves"], ["low", "high"], axis=2),
        node("Concat", ["low", "high"], ["joined"], axis=2),
        node("Slice", ["joined", "minus1", "minus_big", "axis1", "minus1"], ["reversed"]),  # time reversed
        node("Slice", ["reversed", "minus1", "minus_big", "axis1", "minus1"], ["forward"]),  # and back
        node("Transpose", ["forward"], ["s1"], perm=[1, 0, 2]),
        node("Identity", ["s1"], ["s1b"]),
        node("LSTM", ["s1b", "W1", "R1", "B1"], ["", "H1"], hidden_size=4),  # Y_h [1, N, H]; unnamed
        node("Transpose", ["H1"], ["h_n1h"], perm=[1, 0, 2]),
        node("Flatten", ["h_n1h"], ["h"], axis=1),  # [N, H]
        node("Gemm", ["h", "head_w", "head_b"], ["out"], name="head"),
    ]
    graph = helper.make_graph(nodes, "glue", [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["N", "T", 3])],
                              [helper.make_tensor_value_info("out", TensorProto.FLOAT, None)], init)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=9)


def test_glue_that_reorders_time_is_refused(tmp_path, capsys):
    model = _glue_graph()
    second = next(n for n in model.graph.node if n.output[0] == "forward")
    second.input[0] = "joined"
    second.output[0] = "forward"
    first = next(n for n in model.graph.node if n.output[0] == "reversed")
    model.graph.node.remove(first)
    second.input[:] = ["joined", "minus1", "minus_big", "axis1", "minus1"]  # reversed once only
    assert refusal(capsys, save(model, tmp_path), tmp_path) == (
        'ONNX graph "glue" (model.onnx): LSTM node "H1" reads the output sequence of the layer before (LSTM node '
        '"lstm0") rearranged (timesteps, sequences or units in another order); rnnhw stacks layers that each read '
        "the one before as it is")


def test_any_reshaping_glue_between_layers_equals_onnxruntime(tmp_path, capsys):
    path = save(_glue_graph(), tmp_path)
    config, weights, printed = import_model(capsys, path)
    assert "layer 1: lstm LSTM node" in printed and "time-major" not in printed
    x = inputs()
    np.testing.assert_allclose(golden_float(capsys, config, weights, x), run_ort(path, X=x), rtol=0, atol=1e-5)


# ---------------------------------------------------------------------------------------- torch export


class Classifier(torch.nn.Module):
    """An nn.LSTM/GRU/RNN (``bidirectional``: both ways) and what the model returns: ``head`` (Linear on the
    last step ``y[:, -1]``), ``head_all`` (Linear on every step, then the last step), ``head_every_step``
    (Linear on every step), ``final`` (the last layer's final state: ``h_n[-1]``, bidirectional
    ``cat(h_n[-2], h_n[-1])``), ``head_final`` (Linear on it), ``sequence`` or ``all`` (output, h_n: two
    graph outputs)."""

    def __init__(self, cell, layers, returns, nonlinearity="tanh", bidirectional=False):
        super().__init__()
        kind = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn": torch.nn.RNN}[cell]
        extra = {"nonlinearity": nonlinearity} if cell == "rnn" else {}
        self.rnn = kind(3, 5, num_layers=layers, batch_first=True, bidirectional=bidirectional, **extra)
        self.head = torch.nn.Linear(10 if bidirectional else 5, 2)
        self.returns = returns

    def forward(self, x):
        y, state = self.rnn(x)
        h = state[0] if isinstance(state, tuple) else state
        final = torch.cat([h[-2], h[-1]], 1) if self.rnn.bidirectional else h[-1]
        return {"head": lambda: self.head(y[:, -1]), "head_all": lambda: self.head(y)[:, -1],
                "head_every_step": lambda: self.head(y), "head_final": lambda: self.head(final),
                "final": lambda: final, "sequence": lambda: y, "all": lambda: (y, h)}[self.returns]()


TORCH_MODELS = {
    "lstm_2layers_head": ("lstm", 2, "head", "tanh"),
    "gru_sequence": ("gru", 1, "sequence", "tanh"),
    "rnn_tanh_final": ("rnn", 1, "final", "tanh"),
    "rnn_relu_2layers_head_on_all_then_last": ("rnn", 2, "head_all", "relu"),
    "lstm_head_on_all_then_last": ("lstm", 1, "head_all", "tanh"),
    "gru_3layers_final": ("gru", 3, "final", "tanh"),
    "lstm_2layers_head_every_step": ("lstm", 2, "head_every_step", "tanh"),
    "gru_head_every_step": ("gru", 1, "head_every_step", "tanh"),
    "rnn_tanh_head_every_step": ("rnn", 1, "head_every_step", "tanh"),
    "bidirectional_lstm_2layers_head": ("lstm", 2, "head_final", "tanh", True),
    "bidirectional_lstm_2layers_head_every_step": ("lstm", 2, "head_every_step", "tanh", True),
    "bidirectional_gru_2layers_head": ("gru", 2, "head_final", "tanh", True),
    "bidirectional_gru_2layers_head_every_step": ("gru", 2, "head_every_step", "tanh", True),
    "bidirectional_gru_final": ("gru", 1, "final", "tanh", True),
    "bidirectional_rnn_relu_2layers_sequence": ("rnn", 2, "sequence", "relu", True),
    "bidirectional_rnn_tanh_head": ("rnn", 1, "head_final", "tanh", True),
}


def export(module, path, outputs=("y",), **options):
    module.eval()
    torch.onnx.export(module, (torch.randn(2, 5, 3),), str(path), dynamo=False, input_names=["x"],
                      output_names=list(outputs), dynamic_axes={"x": {0: "batch", 1: "time"}}, **options)
    return path


@pytest.fixture(scope="module")
def torch_models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("torch_onnx")
    paths = {}
    for name, spec in TORCH_MODELS.items():
        torch.manual_seed(len(paths))
        paths[name] = export(Classifier(*spec), folder / f"{name}.onnx")
    return paths


@pytest.mark.parametrize("name", sorted(TORCH_MODELS))
def test_torch_export_equals_onnxruntime(torch_models, capsys, name):
    config, weights, printed = import_model(capsys, torch_models[name])
    cell, layers, returns, _, *bidirectional = TORCH_MODELS[name]
    directions = ("", "_reverse") if bidirectional else ("",)
    assert f"layer {layers - 1}: {cell}" in printed
    assert (f"input {5 * len(directions) if layers > 1 else 3}, hidden 5, bidirectional" in printed) == \
        bool(bidirectional)
    assert sorted(np.load(weights).files) == sorted(
        [f"{n}_l{k}{suffix}" for k in range(layers) for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
         for suffix in directions] + (["head.weight", "head.bias"] if "head" in returns else []))
    x = inputs()
    expected = run_ort(torch_models[name], x=x)
    result = golden_float(capsys, config, weights, x)
    assert result.shape == expected.shape
    np.testing.assert_allclose(result, expected, rtol=0, atol=1e-5)


@pytest.mark.parametrize("options", [{"do_constant_folding": False}, {"keep_initializers_as_inputs": True},
                                     {"opset_version": 9}], ids=["weights-reordered-in-graph", "initializers-as-inputs",
                                                                 "opset-9"])
def test_torch_export_options(tmp_path, capsys, options):
    torch.manual_seed(1)
    path = export(Classifier("gru", 2, "head"), tmp_path / "model.onnx", **options)
    config, weights, _ = import_model(capsys, path)
    x = inputs()
    np.testing.assert_allclose(golden_float(capsys, config, weights, x), run_ort(path, x=x), rtol=0, atol=1e-5)


def test_torch_export_with_two_outputs_needs_graph_output(tmp_path, capsys):
    torch.manual_seed(0)
    path = export(Classifier("lstm", 1, "all"), tmp_path / "two.onnx", outputs=("y", "h_n"))
    assert refusal(capsys, path, tmp_path) == (
        'ONNX graph "main_graph" (two.onnx) has 2 outputs (y, h_n); choose the model\'s output with '
        "--graph-output NAME")
    config, weights, printed = import_model(capsys, path, "--graph-output", "y")
    x = inputs()
    np.testing.assert_allclose(golden_float(capsys, config, weights, x), run_ort(path, x=x), rtol=0, atol=1e-5)
    config, weights, printed = import_model(capsys, path, "--graph-output", "h_n")
    assert "final hidden state [N, 5]" in printed
    np.testing.assert_allclose(golden_float(capsys, config, weights, x), run_ort(path, 1, x=x)[0], rtol=0,
                               atol=1e-5)
    assert refusal(capsys, path, tmp_path, "--graph-output", "c") == (
        '--graph-output \'c\': ONNX graph "main_graph" (two.onnx) has no such output; its outputs are y, h_n')


def test_import_writes_the_configuration_and_prints_what_it_found(torch_models, capsys):
    config, weights, printed = import_model(capsys, torch_models["lstm_2layers_head"])
    assert config.read_text().startswith('[model]\ncell = "lstm"\ninput_size = 3\nhidden_size = 5\nnum_layers = 2\n'
                                         'head = 2\nreturn_sequences = false\n')
    assert "[hardware]\nlanes = 8\n" in config.read_text()
    assert sorted(np.load(weights).files) == sorted(
        [f"{n}_l{k}" for k in range(2) for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
        + ["head.weight", "head.bias"])
    assert printed.splitlines() == [
        'ONNX graph "main_graph" (lstm_2layers_head.onnx):',
        '  layer 0: lstm LSTM node "/rnn/LSTM", input 3, hidden 5',
        '  layer 1: lstm LSTM node "/rnn/LSTM_1", input 5, hidden 5',
        '  head: linear Gemm node "/head/Gemm", 5 -> 2',
        "  output: head [N, 2]",
        f"wrote {config} (cell lstm, input 3, hidden 5, 2 layer(s), head 2, return_sequences false; default "
        "numerics, 8 lanes)",
        f"wrote {weights}",
    ]


# ----------------------------------------------------------------------------------------- bidirectional


def bidirectional_graph(op, *, output="sequence", head=False, layout=0, **options):
    """One bidirectional node and the glue exporters write after it: ``sequence``: Y ([T, 2, N, H], layout 1
    [N, T, 2, H]) -> [N, T, 2H]; ``final``: Y_h ([2, N, H], layout 1 [N, 2, H]) -> [N, 2H]; ``head``: MatMul +
    Add on that."""
    if "activations" in options:  # one list per direction
        options["activations"] = options["activations"] * 2
    model = recurrent_graph(op, direction="bidirectional", output="Y" if output == "sequence" else "Y_h",
                            layout=layout, **options)
    perm = {("sequence", 0): [2, 0, 1, 3], ("final", 0): [1, 0, 2]}.get((output, layout))
    source, nodes = model.graph.output[0].name, []
    if perm:
        nodes.append(helper.make_node("Transpose", [source], ["moved"], perm=perm))
        source = "moved"
    nodes.append(helper.make_node("Reshape", [source, "merged_shape"], ["merged"]))
    rng = np.random.default_rng(11)
    init = [numpy_helper.from_array(np.array([0, 0, -1] if output == "sequence" else [0, -1], dtype=np.int64),
                                    "merged_shape"),
            _tensor("head_w", rng.normal(0, 0.5, (8, 3))), _tensor("head_b", rng.normal(0, 0.5, (3,)))]
    if head:
        nodes += [helper.make_node("MatMul", ["merged", "head_w"], ["mm"], name="head"),
                  helper.make_node("Add", ["mm", "head_b"], ["out"], name="bias")]
    return _append(model, *nodes, output="out" if head else "merged", initializers=init[:3 if head else 1])


@pytest.mark.parametrize("cell, output, head", [
    (cell, output, head) for cell in sorted(CELLS) for output in ("sequence", "final") for head in (False, True)])
def test_bidirectional_node_equals_onnxruntime(tmp_path, capsys, cell, output, head):
    op, attrs = CELLS[cell]
    path = save(bidirectional_graph(op, output=output, head=head, **attrs), tmp_path)
    config, weights, printed = import_model(capsys, path)
    assert "hidden 4, bidirectional" in printed
    model = load_config(config).model
    assert (model.bidirectional, model.return_sequences, model.head) == (True, output == "sequence", 3 * head)
    x = inputs()
    expected = run_ort(path, X=np.ascontiguousarray(x.transpose(1, 0, 2)))
    np.testing.assert_allclose(golden_float(capsys, config, weights, x), expected, rtol=0, atol=1e-5)


@pytest.mark.parametrize("output", ["sequence", "final"])
def test_bidirectional_layout_1_equals_layout_0(tmp_path, capsys, output):
    """onnxruntime's CPU kernels have no layout 1: the same weights in a layout-0 graph are the reference."""
    config, weights, _ = import_model(capsys, save(bidirectional_graph("GRU", output=output, layout=1), tmp_path))
    reference_path = save(bidirectional_graph("GRU", output=output), tmp_path, "reference.onnx")
    x = inputs()
    expected = run_ort(reference_path, X=np.ascontiguousarray(x.transpose(1, 0, 2)))
    np.testing.assert_allclose(golden_float(capsys, config, weights, x), expected, rtol=0, atol=1e-5)


@pytest.mark.parametrize("output", ["sequence", "final"])
@pytest.mark.parametrize("op", sorted(GATES))
def test_bidirectional_sequence_lens_are_rnnhws_lengths(tmp_path, capsys, op, output):
    path = save(bidirectional_graph(op, output=output, lengths=True), tmp_path)
    config, weights, printed = import_model(capsys, path)
    assert "--lengths" in printed
    x, lengths = inputs(), np.array([6, 1, 3, 5], dtype=np.int32)
    expected = run_ort(path, X=np.ascontiguousarray(x.transpose(1, 0, 2)), seq_lens=lengths)
    np.testing.assert_allclose(golden_float(capsys, config, weights, x, lengths), expected, rtol=0, atol=1e-5)


def test_bidirectional_input_of_a_fixed_length_sets_max_sequence_length(tmp_path, capsys):
    model = bidirectional_graph("GRU", output="final")
    model.graph.input[0].type.tensor_type.shape.dim[0].dim_value = 80  # X [80, N, 3]
    path = save(model, tmp_path)
    config, weights, printed = import_model(capsys, path)
    assert load_config(config).hardware.max_sequence_length == 80
    assert "a bidirectional core holds sequences of up to [hardware] max_sequence_length = 80 steps" in printed
    x = np.random.default_rng(3).normal(size=(2, 80, 3)).astype(np.float32)
    expected = run_ort(path, X=np.ascontiguousarray(x.transpose(1, 0, 2)))
    np.testing.assert_allclose(golden_float(capsys, config, weights, x), expected, rtol=0, atol=1e-5)


def test_bidirectional_directions_split_and_concatenated_equal_onnxruntime(tmp_path, capsys):
    """Y [T, 2, N, H] split into its directions and concatenated along the units: [T, N, 2H], time-major."""
    model = recurrent_graph("LSTM", direction="bidirectional", output="Y")
    model = _append(model, helper.make_node("Split", ["Y", "halves"], ["fwd", "bwd"], axis=1),
                    helper.make_node("Concat", ["fwd", "bwd"], ["both"], axis=3),
                    helper.make_node("Squeeze", ["both", "axis1"], ["out"]), output="out",
                    initializers=[numpy_helper.from_array(np.array([1, 1], dtype=np.int64), "halves"),
                                  numpy_helper.from_array(np.array([1], dtype=np.int64), "axis1")])
    path = save(model, tmp_path)
    config, weights, printed = import_model(capsys, path)
    assert 'graph output "out" is time-major [T, N, 8]; rnnhw writes [N, T, 8]' in printed
    x = inputs()
    expected = run_ort(path, X=np.ascontiguousarray(x.transpose(1, 0, 2))).transpose(1, 0, 2)
    np.testing.assert_allclose(golden_float(capsys, config, weights, x), expected, rtol=0, atol=1e-5)


def test_bidirectional_import_writes_the_configuration(tmp_path, capsys):
    torch.manual_seed(2)
    path = export(Classifier("gru", 2, "head_final", bidirectional=True), tmp_path / "bi.onnx")
    config, _, printed = import_model(capsys, path)
    assert config.read_text().startswith('[model]\ncell = "gru"\ninput_size = 3\nhidden_size = 5\nnum_layers = 2\n'
                                         "head = 2\nreturn_sequences = false\n")
    assert "bidirectional = true\n" in config.read_text() and "max_sequence_length = 64\n" in config.read_text()
    assert printed.splitlines()[:6] == [
        'ONNX graph "main_graph" (bi.onnx):',
        '  layer 0: gru GRU node "/rnn/GRU", input 3, hidden 5, bidirectional',
        '  layer 1: gru GRU node "/rnn/GRU_1", input 10, hidden 5, bidirectional',
        '  head: linear Gemm node "/head/Gemm", 10 -> 2',
        "  output: head [N, 2]",
        "  note: a bidirectional core holds sequences of up to [hardware] max_sequence_length = 64 steps: raise it "
        "for longer sequences",
    ]


# --------------------------------------------------------------------------------------------- refusals


def _lstm_with(**attrs):
    return recurrent_graph("LSTM", **attrs)


REFUSALS = {
    "clip": (_lstm_with(clip=3.0), 'LSTM node "lstm0" has clip = 3; rnnhw does not clip pre-activations: export '
             "without clip"),
    "input_forget": (_lstm_with(input_forget=1), 'LSTM node "lstm0" has input_forget = 1 (coupled input and '
                     "forget gates); rnnhw's LSTM has separate gates: export with input_forget = 0"),
    "peepholes": (_lstm_with(peepholes=np.ones((1, 12))), 'LSTM node "lstm0" has peephole weights P; rnnhw\'s '
                  "LSTM has no peepholes: export without P"),
    "activations": (_lstm_with(activations=["Sigmoid", "Relu", "Tanh"]), "LSTM node \"lstm0\" has activations "
                    "['sigmoid', 'relu', 'tanh']; rnnhw supports ['sigmoid', 'tanh', 'tanh'] (case-insensitive)"),
    "rnn-activation": (recurrent_graph("RNN", activations=["Sigmoid"]), "RNN node \"rnn0\" has activations "
                       "['sigmoid']; rnnhw supports ['tanh'] or ['relu'] (case-insensitive)"),
    "activation_alpha": (_lstm_with(activation_alpha=[1.0, 1.0, 1.0]), 'LSTM node "lstm0" has attribute '
                         "activation_alpha; only the default activations without parameters are supported"),
    "activation_beta": (_lstm_with(activation_beta=[1.0, 1.0, 1.0]), 'LSTM node "lstm0" has attribute '
                        "activation_beta; only the default activations without parameters are supported"),
    "initial_h": (_lstm_with(initial={"initial_h": np.full((1, BATCH, 4), 0.5)}), 'LSTM node "lstm0" has a '
                  "non-zero initial_h; rnnhw starts every sequence from zero states"),
    "initial_c": (_lstm_with(initial={"initial_c": np.full((1, BATCH, 4), 0.5)}), 'LSTM node "lstm0" has a '
                  "non-zero initial_c; rnnhw starts every sequence from zero states"),
    "initial_h-input": (recurrent_graph("GRU", initial={"initial_h": "input"}), 'GRU node "gru0" takes initial_h '
                        'from graph input "initial_h"; rnnhw starts every sequence from zero states: export '
                        "without initial states"),
    "reverse": (recurrent_graph("GRU", direction="reverse"), 'GRU node "gru0" runs backward in time only (ONNX '
                'direction = "reverse" or Keras go_backwards); rnnhw has no reverse-only layer (its layers run '
                "forward, or both ways when bidirectional): export a forward or a bidirectional layer"),
    "bidirectional-Y_h-as-it-is": (recurrent_graph("LSTM", direction="bidirectional"), 'graph output "Y_h" holds '
                                   'the hidden states of layer 0 (LSTM node "lstm0"); rnnhw\'s model outputs the '
                                   "head's output or the last layer's final hidden state for each sequence, or "
                                   "either at every step (a bidirectional layer's final state is [h_fwd at the last "
                                   "step ; h_bwd at the first], torch.cat([h_n[-2], h_n[-1]], 1); y[:, -1] holds "
                                   "the backward direction after one step only)"),
    "cell-state-output": (_lstm_with(output="Y_c"), 'graph output "Y_c" holds the LSTM cell states of layer 0 '
                          '(LSTM node "lstm0"); rnnhw\'s model outputs the head\'s output or the last layer\'s '
                          "final hidden state for each sequence, or either at every step"),
}


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_refusals_name_the_node_and_what_is_supported(tmp_path, capsys, case):
    model, message = REFUSALS[case]
    assert refusal(capsys, save(model, tmp_path), tmp_path) == f'ONNX graph "handmade" (model.onnx): {message}'


def test_refuses_gru_layers_of_both_reset_forms(tmp_path, capsys):
    assert refusal(capsys, save(_stacked_graph("Gemm", (0, 1)), tmp_path), tmp_path) == (
        'ONNX graph "stacked" (model.onnx): GRU layers with the reset gate before (GRU node "Y0") and after '
        '(GRU node "Y1") the recurrent matrix; rnnhw stacks layers of one form: export every GRU with the same '
        "linear_before_reset / reset_after")


def _append(model, *nodes, output, initializers=()):
    """``model`` with more nodes and a new graph output."""
    graph = model.graph
    graph.node.extend(nodes)
    graph.initializer.extend(initializers)
    del graph.output[:]
    graph.output.append(helper.make_tensor_value_info(output, TensorProto.FLOAT, None))
    return model


def test_refuses_weights_given_as_graph_inputs(tmp_path, capsys):
    model = recurrent_graph("RNN")
    weights = next(t for t in model.graph.initializer if t.name == "R")
    model.graph.initializer.remove(weights)
    model.graph.input.append(helper.make_tensor_value_info("R", TensorProto.FLOAT, [1, 4, 4]))
    assert refusal(capsys, save(model, tmp_path), tmp_path) == (
        'ONNX graph "handmade" (model.onnx): RNN node "rnn0" takes its weights R from graph input "R"; they must '
        "be constants (initializers): export the model with its weights")


def test_refuses_an_unsupported_operator(tmp_path, capsys):
    model = _append(recurrent_graph("GRU"), helper.make_node("Softmax", ["Y_h"], ["p"], name="soft"), output="p")
    assert refusal(capsys, save(model, tmp_path), tmp_path) == (
        'ONNX graph "handmade" (model.onnx): operator Softmax (Softmax node "soft") is not supported; rnnhw imports '
        "LSTM, GRU and RNN nodes, a linear head (Gemm, or MatMul and Add) and reshaping glue (Transpose, Squeeze, "
        "Unsqueeze, Slice, Gather, Concat, Reshape, ...)")


def test_refuses_arithmetic_on_the_data(tmp_path, capsys):
    model = _append(recurrent_graph("RNN"), helper.make_node("Mul", ["Y_h", "Y_h"], ["sq"], name="square"),
                    output="sq")
    assert refusal(capsys, save(model, tmp_path), tmp_path) == (
        'ONNX graph "handmade" (model.onnx): Mul node "square" computes on the model\'s data; rnnhw imports '
        "recurrent layers and a linear head, with only reshaping in between")


def _head_on_every_step(op="LSTM", *, gemm=False, lengths=False, classes=2, **attrs):
    """A layer-0 recurrent node and a linear head on its Y at every step.

    ``gemm``: Y [T, 1, N, H] -> [N, T, H] -> [N*T, H] -> Gemm -> [N, T, C] (as exporters flatten for Gemm);
    else MatMul + Add on Y as it is (time-major [T, 1, N, C]).
    """
    rng = np.random.default_rng(7)
    node = helper.make_node
    init = [_tensor("head_b", rng.normal(0, 0.5, (classes,)))]
    if gemm:
        init += [_tensor("head_w", rng.normal(0, 0.5, (classes, 4))),
                 numpy_helper.from_array(np.array([1], dtype=np.int64), "axis1"),
                 numpy_helper.from_array(np.array([-1, 4], dtype=np.int64), "rows"),
                 numpy_helper.from_array(np.array([0], dtype=np.int64), "zero"),
                 numpy_helper.from_array(np.array([2], dtype=np.int64), "two"),
                 numpy_helper.from_array(np.array([classes], dtype=np.int64), "classes")]
        nodes = [node("Squeeze", ["Y", "axis1"], ["y_tnh"]),
                 node("Transpose", ["y_tnh"], ["y_nth"], perm=[1, 0, 2]),
                 node("Reshape", ["y_nth", "rows"], ["flat"]),
                 node("Gemm", ["flat", "head_w", "head_b"], ["flat_out"], transB=1, name="head"),
                 node("Shape", ["y_nth"], ["shape"]),
                 node("Slice", ["shape", "zero", "two"], ["nt"]),
                 node("Concat", ["nt", "classes"], ["ntc"], axis=0),
                 node("Reshape", ["flat_out", "ntc"], ["out"])]
    else:
        init.append(_tensor("head_w", rng.normal(0, 0.5, (4, classes))))
        nodes = [node("MatMul", ["Y", "head_w"], ["mm"], name="head"), node("Add", ["mm", "head_b"], ["out"],
                                                                              name="bias")]
    return _append(recurrent_graph(op, output="Y", lengths=lengths, **attrs), *nodes, output="out",
                   initializers=init)


@pytest.mark.parametrize("gemm", [False, True], ids=["MatMul+Add-time-major", "Gemm-flattened"])
@pytest.mark.parametrize("cell", ["LSTM", "GRU", "GRU-reset-before", "RNN"])
def test_a_head_on_every_step_equals_onnxruntime(tmp_path, capsys, cell, gemm):
    op, attrs = CELLS[cell]
    path = save(_head_on_every_step(op, gemm=gemm, **attrs), tmp_path)
    config, weights, printed = import_model(capsys, path)
    assert "output: every step [N, T, 2]" in printed
    assert ('graph output "out" is time-major [T, N, 2]; rnnhw writes [N, T, 2]' in printed) == (not gemm)
    model = load_config(config).model
    assert (model.head, model.return_sequences) == (2, True)
    x = inputs()
    expected = run_ort(path, X=np.ascontiguousarray(x.transpose(1, 0, 2)))
    expected = expected if gemm else expected[:, 0].transpose(1, 0, 2)
    np.testing.assert_allclose(golden_float(capsys, config, weights, x), expected, rtol=0, atol=1e-5)


def test_a_head_on_every_step_with_sequence_lens_is_zero_past_the_lengths(tmp_path, capsys):
    path = save(_head_on_every_step("GRU", gemm=True, lengths=True), tmp_path)
    config, weights, printed = import_model(capsys, path)
    assert ("note: past each sequence's length rnnhw outputs 0, the original the head's bias (its output for a zero "
            "state)") in printed
    x, lengths = inputs(), np.array([6, 1, 3, 5], dtype=np.int32)
    expected = run_ort(path, X=np.ascontiguousarray(x.transpose(1, 0, 2)), seq_lens=lengths)
    result = golden_float(capsys, config, weights, x, lengths)
    inside = np.arange(STEPS)[None, :] < lengths[:, None]
    np.testing.assert_allclose(result[inside], expected[inside], rtol=0, atol=1e-5)
    assert not result[~inside].any()
    bias = numpy_helper.to_array(next(t for t in onnx.load(path).graph.initializer if t.name == "head_b"))
    np.testing.assert_allclose(expected[~inside], np.broadcast_to(bias, expected[~inside].shape), rtol=0, atol=1e-6)


@pytest.mark.parametrize("make, message", [
    (lambda: _head_on_every_step("RNN", classes=5000),
     "rnnhw cannot run this model: model.head must be an integer from 0 to 4,096, not 5000"),
], ids=["configuration-refusal"])
def test_refuses_what_rnnhws_configuration_refuses(tmp_path, capsys, make, message):
    assert refusal(capsys, save(make(), tmp_path), tmp_path) == f'ONNX graph "handmade" (model.onnx): {message}'


def test_refuses_a_head_on_some_steps(tmp_path, capsys):
    model = _head_on_every_step("LSTM")
    model.graph.initializer.extend([numpy_helper.from_array(np.array(v, dtype=np.int64), n)
                                    for n, v in (("one", [1]), ("three", [3]), ("axis0", [0]))])
    model = _append(model, helper.make_node("Slice", ["out", "one", "three", "axis0"], ["some"]), output="some")
    assert refusal(capsys, save(model, tmp_path), tmp_path) == (
        'ONNX graph "handmade" (model.onnx): graph output "some" holds the head\'s outputs (MatMul node "head" + Add '
        "node \"bias\"); rnnhw's model outputs the head's output or the last layer's final hidden state for each "
        "sequence, or either at every step")


def _with_sequence_lens_from_shape(model, minus: int):
    """sequence_lens = T - minus for every sequence, computed from X's shape (as tf2onnx writes it)."""
    consts = [numpy_helper.from_array(np.array(v, dtype=np.int64), n) for n, v in
              (("zero", [0]), ("one", [1]), ("minus", [minus]))]
    nodes = [helper.make_node("Shape", ["X"], ["shape"]),
             helper.make_node("Gather", ["shape", "zero"], ["steps"], axis=0),
             helper.make_node("Gather", ["shape", "one"], ["batch"], axis=0),
             helper.make_node("Sub", ["steps", "minus"], ["length"]),
             helper.make_node("Expand", ["length", "batch"], ["lengths64"]),
             helper.make_node("Cast", ["lengths64"], ["lens"], to=TensorProto.INT32)]
    model.graph.initializer.extend(consts)
    recurrent = model.graph.node.pop()
    recurrent.input.extend(["lens"])
    model.graph.node.extend([*nodes, recurrent])
    return model


def test_sequence_lens_of_the_whole_input_length_are_no_lengths(tmp_path, capsys):
    path = save(_with_sequence_lens_from_shape(recurrent_graph("GRU"), 0), tmp_path)
    config, weights, printed = import_model(capsys, path)
    assert "--lengths" not in printed
    x = inputs()
    expected = run_ort(path, X=np.ascontiguousarray(x.transpose(1, 0, 2)))[0]
    np.testing.assert_allclose(golden_float(capsys, config, weights, x), expected, rtol=0, atol=1e-5)


def test_refuses_constant_sequence_lens(tmp_path, capsys):
    model = _with_sequence_lens_from_shape(recurrent_graph("GRU"), 1)
    assert refusal(capsys, save(model, tmp_path), tmp_path) == (
        'ONNX graph "handmade" (model.onnx): GRU node "gru0" has constant sequence_lens shorter than the input; '
        "rnnhw takes each sequence's length at run time (--lengths L.npy): make the lengths a graph input or "
        "leave them out")


def test_refuses_the_last_step_of_a_bidirectional_output(tmp_path, capsys):
    path = export(Classifier("lstm", 1, "head", bidirectional=True), tmp_path / "bi.onnx")
    assert refusal(capsys, path, tmp_path) == (
        'ONNX graph "main_graph" (bi.onnx): graph output "y" holds the head\'s outputs (Gemm node "/head/Gemm"); '
        "rnnhw's model outputs the head's output or the last layer's final hidden state for each sequence, or "
        "either at every step (a bidirectional layer's final state is [h_fwd at the last step ; h_bwd at the "
        "first], torch.cat([h_n[-2], h_n[-1]], 1); y[:, -1] holds the backward direction after one step only)")


def test_refuses_forward_and_bidirectional_layers_in_one_stack(tmp_path, capsys):
    class Mixed(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.first = torch.nn.GRU(3, 4, batch_first=True)
            self.second = torch.nn.GRU(4, 4, batch_first=True, bidirectional=True)

        def forward(self, x):
            return self.second(self.first(x)[0])[0]

    path = export(Mixed(), tmp_path / "mixed.onnx")
    assert refusal(capsys, path, tmp_path) == (
        'ONNX graph "main_graph" (mixed.onnx): forward (GRU node "/first/GRU") and bidirectional (GRU node '
        '"/second/GRU") layers; rnnhw stacks layers that are all bidirectional or all forward')


def test_refuses_a_layer_that_skips_the_one_before(tmp_path, capsys):
    rng = np.random.default_rng(0)
    weights = [_tensor(f"{n}{k}", rng.normal(size=(1, 4, 4))) for k in (1, 2) for n in ("W", "R")]
    model = _append(recurrent_graph("RNN", output="Y"),
                    helper.make_node("Squeeze", ["Y", "axis1"], ["S0"]),
                    helper.make_node("RNN", ["S0", "W1", "R1"], ["", "H1"], hidden_size=4, name="second"),
                    helper.make_node("RNN", ["S0", "W2", "R2"], ["", "H2"], hidden_size=4, name="third"),
                    helper.make_node("Concat", ["H1", "H2"], ["both"], axis=2), output="both",
                    initializers=[*weights, numpy_helper.from_array(np.array([1], dtype=np.int64), "axis1")])
    assert refusal(capsys, save(model, tmp_path), tmp_path) == (
        'ONNX graph "handmade" (model.onnx): RNN node "third" reads the hidden states of layer 0 (RNN node "rnn0"), '
        'not the whole output sequence of the layer before (RNN node "second"); rnnhw stacks layers that each read '
        "the one before")


@pytest.mark.parametrize("name, content, message", [
    ("missing.onnx", None, "model file '{path}' does not exist"),
    ("junk.onnx", b"not a model", "{path}: not a readable ONNX model (DecodeError)"),
    ("text.onnx", b"x\n", "{path}: not an ONNX model (no graph outputs); give a file written by an ONNX exporter"),
    ("model.h5", b"", "{path}: unknown model format '.h5'; rnnhw imports .onnx and .keras (Keras 3) files"),
])
def test_refuses_unreadable_files(tmp_path, capsys, name, content, message):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    assert refusal(capsys, path, tmp_path) == message.format(path=path)


def test_refuses_an_output_name_without_toml(tmp_path, capsys):
    path = save(recurrent_graph("GRU"), tmp_path)
    out = tmp_path / "x.cfg"
    assert import_cli(capsys, path, out) == (2, "", f"rnnhw import: error: -o '{out}': the file name must end in "
                                             ".toml\n")


# ------------------------------------------------------------------------------------- on the simulator

SIM_MODELS = {"lstm": "lstm_2layers_head", "gru": "gru_sequence", "rnn_tanh": "rnn_tanh_final",
              "rnn_relu": "rnn_relu_2layers_head_on_all_then_last",
              "lstm-head-every-step": "lstm_2layers_head_every_step",
              "lstm-bidirectional": "bidirectional_lstm_2layers_head"}
BUILD = Path(__file__).resolve().parent.parent / "build" / "sim"


@pytest.mark.sim
@pytest.mark.parametrize("cell", sorted(SIM_MODELS))
def test_imported_model_runs_bit_exact_on_verilator(torch_models, capsys, cell):
    config_path, weights_path, _ = import_model(capsys, torch_models[SIM_MODELS[cell]])
    config = assert_bit_exact_on_verilator(config_path, weights_path, inputs(), np.array([6, 1, 4, 6]), BUILD)
    assert config.model.cell == cell.split("-")[0]
    assert config.model.bidirectional == cell.endswith("bidirectional")

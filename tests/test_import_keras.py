"""``rnnhw import MODEL.keras``: Keras 3 models built here (torch backend) equal ``model.predict`` to 1e-5.

The importer reads the archive with json and h5py only; keras is needed here to build the models.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
import keras  # noqa: E402  (after choosing the backend)

from rnnhw.spec.config import load_config  # noqa: E402
from tests.importing import assert_bit_exact_on_verilator, golden_float, import_model, refusal  # noqa: E402

layers = keras.layers

# The exporters' and Keras's own warnings (tracing, deprecations) are not about rnnhw.
pytestmark = [pytest.mark.filterwarnings("ignore:::keras")]

STEPS, FEATURES = 6, 3


@pytest.fixture(autouse=True)
def fresh_layer_names():
    keras.backend.clear_session(free_memory=False)  # names restart at "lstm", "gru", ... so messages are exact


def build(*stack, steps=STEPS, functional=False, seed=0):
    """A model on [N, steps, 3] inputs with random weights (biases too), as Sequential or Functional."""
    if functional:
        x = inputs = keras.Input((steps, FEATURES), name="sequence")
        for layer in stack:
            x = layer(x)
        model = keras.Model(inputs, x, name="functional_model")
    else:
        model = keras.Sequential([keras.Input((steps, FEATURES)), *stack], name="sequential_model")
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(0, 0.4, w.shape).astype(np.float32) for w in model.get_weights()])
    return model


def save(model, tmp_path, name="model.keras"):
    path = tmp_path / name
    model.save(path)
    return path


MODELS = {
    "lstm_2layers_dense": lambda: build(layers.LSTM(5, return_sequences=True), layers.LSTM(5), layers.Dense(2)),
    "gru_sequences": lambda: build(layers.GRU(4, return_sequences=True)),
    "gru_reset_before_sequences": lambda: build(layers.GRU(4, reset_after=False, return_sequences=True)),
    "gru_reset_before_2layers_dense": lambda: build(layers.GRU(4, reset_after=False, return_sequences=True),
                                                    layers.GRU(4, reset_after=False), layers.Dense(2)),
    "gru_2layers_dense_functional": lambda: build(layers.GRU(4, return_sequences=True), layers.Dropout(0.5),
                                                  layers.GRU(4), layers.Dense(3), functional=True),
    "simple_rnn_final": lambda: build(layers.SimpleRNN(4)),
    "simple_rnn_relu_dense": lambda: build(layers.SimpleRNN(4, activation="relu", return_sequences=True),
                                           layers.SimpleRNN(4, activation="relu"), layers.Dense(2)),
    "lstm_no_bias_dense_no_bias": lambda: build(layers.LSTM(3, use_bias=False), layers.Dense(2, use_bias=False)),
    "lstm_variable_length_input": lambda: build(layers.LSTM(4), layers.Dense(1), steps=None),
    "gru_dense_on_every_step": lambda: build(layers.GRU(4, return_sequences=True), layers.Dense(2)),
    "gru_reset_before_2layers_dense_on_every_step": lambda: build(
        layers.GRU(4, reset_after=False, return_sequences=True),
        layers.GRU(4, reset_after=False, return_sequences=True), layers.Dense(2)),
    "lstm_2layers_time_distributed_dense": lambda: build(layers.LSTM(5, return_sequences=True),
                                                         layers.LSTM(5, return_sequences=True),
                                                         layers.TimeDistributed(layers.Dense(3))),
    "simple_rnn_dense_on_every_step_functional": lambda: build(layers.SimpleRNN(4, return_sequences=True),
                                                               layers.Dense(2), functional=True),
    "bidirectional_lstm_final": lambda: build(layers.Bidirectional(layers.LSTM(4))),
    "bidirectional_lstm_2layers_dense": lambda: build(layers.Bidirectional(layers.LSTM(5, return_sequences=True)),
                                                      layers.Bidirectional(layers.LSTM(5)), layers.Dense(2)),
    "bidirectional_gru_2layers_dense_on_every_step": lambda: build(
        layers.Bidirectional(layers.GRU(4, return_sequences=True)), layers.Dropout(0.3),
        layers.Bidirectional(layers.GRU(4, return_sequences=True)), layers.TimeDistributed(layers.Dense(3))),
    "bidirectional_gru_reset_before_sequences": lambda: build(
        layers.Bidirectional(layers.GRU(4, reset_after=False, return_sequences=True))),
    "bidirectional_gru_reset_before_2layers_dense": lambda: build(
        layers.Bidirectional(layers.GRU(4, reset_after=False, return_sequences=True)),
        layers.Bidirectional(layers.GRU(4, reset_after=False)), layers.Dense(2)),
    "bidirectional_simple_rnn_relu_dense_functional": lambda: build(
        layers.Bidirectional(layers.SimpleRNN(4, activation="relu")), layers.Dense(2), functional=True),
    "bidirectional_simple_rnn_sequences_dense_on_every_step": lambda: build(
        layers.Bidirectional(layers.SimpleRNN(3, return_sequences=True)), layers.Dense(2)),
    "bidirectional_lstm_backward_layer_no_bias": lambda: build(layers.Bidirectional(
        layers.LSTM(4, return_sequences=True), backward_layer=layers.LSTM(4, use_bias=False, go_backwards=True,
                                                                         return_sequences=True))),
}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_keras_model_equals_predict(tmp_path, capsys, name):
    model = MODELS[name]()
    path = save(model, tmp_path)
    config, weights, printed = import_model(capsys, path)
    assert printed.startswith(f'Keras model "{model.name}" (model.keras):\n  layer 0: ')
    x = np.random.default_rng(1).normal(size=(5, STEPS, FEATURES)).astype(np.float32)
    expected = model.predict(x, verbose=0)
    result = golden_float(capsys, config, weights, x)
    assert result.shape == expected.shape
    np.testing.assert_allclose(result, expected, rtol=0, atol=1e-5)


def test_keras_summary_and_configuration(tmp_path, capsys):
    path = save(MODELS["gru_2layers_dense_functional"](), tmp_path)
    config, weights, printed = import_model(capsys, path)
    assert printed.splitlines()[:5] == [
        'Keras model "functional_model" (model.keras):',
        '  layer 0: gru layer "gru" (GRU), input 3, hidden 4',
        '  layer 1: gru layer "gru_1" (GRU), input 4, hidden 4',
        '  head: linear layer "dense" (Dense), 4 -> 3',
        "  output: head [N, 3]",
    ]
    assert '[model]\ncell = "gru"\ninput_size = 3\nhidden_size = 4\nnum_layers = 2\nhead = 3\n' in config.read_text()


@pytest.mark.parametrize("steps", [70, None])
def test_keras_bidirectional_max_sequence_length_is_the_inputs_fixed_length(tmp_path, capsys, steps):
    model = build(layers.Bidirectional(layers.GRU(3)), layers.Dense(2), steps=steps)
    config, weights, printed = import_model(capsys, save(model, tmp_path))
    assert load_config(config).hardware.max_sequence_length == (steps or 64)
    assert f"max_sequence_length = {steps or 64} steps: raise it for longer sequences" in printed
    x = np.random.default_rng(1).normal(size=(3, steps or 60, FEATURES)).astype(np.float32)
    np.testing.assert_allclose(golden_float(capsys, config, weights, x), model.predict(x, verbose=0), rtol=0,
                               atol=1e-5)


def test_keras_reset_before_gru_has_one_bias_and_imports_as_gru_reset_before(tmp_path, capsys):
    model = MODELS["gru_reset_before_sequences"]()
    assert [w.shape for w in model.get_weights()] == [(3, 12), (4, 12), (12,)]  # no recurrent bias
    config, weights, _ = import_model(capsys, save(model, tmp_path))
    assert load_config(config).model.gru_reset == "before"
    assert not np.load(weights)["bias_hh_l0"].any()


REFUSALS = {
    "mixed_reset_forms": (lambda: build(layers.GRU(4, return_sequences=True), layers.GRU(4, reset_after=False)),
                          'GRU layers with the reset gate after (layer "gru" (GRU)) and before (layer "gru_1" (GRU)) '
                          "the recurrent matrix; rnnhw stacks layers of one form: export every GRU with the same "
                          "linear_before_reset / reset_after"),
    **{f"merge_mode_{mode}": (lambda mode=mode: build(layers.Bidirectional(layers.LSTM(4), merge_mode=mode)),
                              f'layer "bidirectional" (Bidirectional) has merge_mode = {mode!r}; rnnhw concatenates '
                              "the two directions' outputs ([h_fwd ; h_bwd], as PyTorch): use merge_mode=\"concat\" "
                              "(the default)") for mode in ("sum", "mul", "ave", None)},
    "bidirectional_of_a_backward_layer": (lambda: build(layers.Bidirectional(layers.GRU(4, go_backwards=True),
                                                                              backward_layer=layers.GRU(4))),
                                          'layer "bidirectional" (Bidirectional) has a forward layer that runs '
                                          "backward (go_backwards=True) or a backward_layer that runs forward; rnnhw's "
                                          "bidirectional layer is [forward ; backward] in time"),
    "bidirectional_backward_layer_of_another_cell": (
        lambda: build(layers.Bidirectional(layers.LSTM(4), backward_layer=layers.GRU(4, go_backwards=True))),
        'layer "bidirectional" (Bidirectional) has a backward_layer of another kind (layer "gru" (GRU)) than its '
        "layer (layer \"forward_lstm\" (LSTM)); rnnhw's two directions have the same cell, units and reset form"),
    "bidirectional_after_forward": (lambda: build(layers.GRU(4, return_sequences=True),
                                                  layers.Bidirectional(layers.GRU(4))),
                                    'forward (layer "gru" (GRU)) and bidirectional (layer "bidirectional" '
                                    "(Bidirectional)) layers; rnnhw stacks layers that are all bidirectional or all "
                                    "forward"),
    "bidirectional_softmax_head": (lambda: build(layers.Bidirectional(layers.LSTM(4)),
                                                 layers.Dense(2, activation="softmax")),
                                   'layer "dense" (Dense) has activation \'softmax\'; rnnhw\'s head is linear: rebuild '
                                   "the model with activation=None (softmax does not change the predicted class)"),
    "go_backwards": (lambda: build(layers.LSTM(4, go_backwards=True)), 'layer "lstm" (LSTM) runs backward in time '
                     'only (ONNX direction = "reverse" or Keras go_backwards); rnnhw has no reverse-only layer (its '
                     "layers run forward, or both ways when bidirectional): export a forward or a bidirectional "
                     "layer"),
    "hard_sigmoid": (lambda: build(layers.LSTM(4, recurrent_activation="hard_sigmoid")), 'layer "lstm" (LSTM) has '
                     "recurrent_activation = 'hard_sigmoid'; rnnhw supports only 'sigmoid'"),
    "lstm_relu": (lambda: build(layers.LSTM(4, activation="relu")), 'layer "lstm" (LSTM) has activation \'relu\'; '
                  'rnnhw supports only the default "tanh"'),
    "simple_rnn_sigmoid": (lambda: build(layers.SimpleRNN(4, activation="sigmoid")), 'layer "simple_rnn" '
                           "(SimpleRNN) has activation 'sigmoid'; rnnhw's SimpleRNN supports \"tanh\" and \"relu\""),
    "softmax_head": (lambda: build(layers.GRU(4), layers.Dense(2, activation="softmax")), 'layer "dense" (Dense) '
                     "has activation 'softmax'; rnnhw's head is linear: rebuild the model with activation=None "
                     "(softmax does not change the predicted class)"),
    "time_distributed_other": (lambda: build(layers.GRU(4, return_sequences=True),
                                             layers.TimeDistributed(layers.Activation("tanh"))),
                               'layer "time_distributed" (TimeDistributed) wraps Activation; rnnhw supports only '
                               "TimeDistributed(Dense)"),
    "time_distributed_softmax": (lambda: build(layers.GRU(4, return_sequences=True),
                                               layers.TimeDistributed(layers.Dense(2, activation="softmax"))),
                                 'layer "dense" (Dense) has activation \'softmax\'; rnnhw\'s head is linear: rebuild '
                                 "the model with activation=None (softmax does not change the predicted class)"),
    "masking": (lambda: build(layers.Masking(), layers.LSTM(4)), 'layer "masking" (Masking) is not supported: give '
                "rnnhw each sequence's length with --lengths instead"),
    "conv": (lambda: build(layers.Conv1D(4, 2), layers.LSTM(4)), 'layer "conv1d" (Conv1D) is not supported; rnnhw '
             "imports LSTM, GRU, SimpleRNN, Bidirectional of these, Dropout and a final Dense"),
    "mixed_cells": (lambda: build(layers.LSTM(4, return_sequences=True), layers.GRU(4)), "layers of different "
                    'cells (lstm layer "lstm" (LSTM), gru layer "gru" (GRU)); rnnhw stacks layers of one cell'),
    "mixed_sizes": (lambda: build(layers.GRU(4, return_sequences=True), layers.GRU(5)), "layers of different "
                    'hidden sizes (4 layer "gru" (GRU), 5 layer "gru_1" (GRU)); rnnhw stacks layers of one '
                    "hidden_size"),
    "stateful": (lambda: keras.Sequential([keras.Input(batch_shape=(2, STEPS, FEATURES)),
                                           layers.GRU(4, stateful=True)], name="sequential_model"),
                 'layer "gru" (GRU) has stateful = True; rnnhw supports only False'),
    "dense_after_dense": (lambda: build(layers.LSTM(4), layers.Dense(3), layers.Dense(2)), 'layer "dense_1" '
                          "(Dense) comes after the Dense head; rnnhw's model ends with the head"),
}


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_refusals_name_the_layer_and_what_is_supported(tmp_path, capsys, case):
    make, message = REFUSALS[case]
    assert refusal(capsys, save(make(), tmp_path), tmp_path) == f'Keras model "sequential_model" (model.keras): ' \
        f"{message}"


def test_refuses_files_that_are_not_keras_archives(tmp_path, capsys):
    junk = tmp_path / "junk.keras"
    junk.write_bytes(b"not a zip")
    assert refusal(capsys, junk, tmp_path) == f"{junk}: not a readable Keras 3 .keras file (File is not a zip file)"
    legacy = tmp_path / "legacy.keras"
    with zipfile.ZipFile(legacy, "w") as archive:
        archive.writestr("config.json", "{}")
    assert refusal(capsys, legacy, tmp_path) == (f"{legacy}: the archive has no model.weights.h5; save the model "
                                                 "with model.save(...keras) in Keras 3")


def test_graph_output_is_for_onnx_only(tmp_path, capsys):
    path = save(MODELS["simple_rnn_final"](), tmp_path)
    assert refusal(capsys, path, tmp_path, "--graph-output", "y") == (
        "--graph-output chooses an ONNX graph output; a .keras model has one output")


# ------------------------------------------------------------------------------------- on the simulator

BUILD = Path(__file__).resolve().parent.parent / "build" / "sim"


@pytest.mark.sim
def test_imported_bidirectional_gru_runs_bit_exact_on_verilator(tmp_path, capsys):
    path = save(MODELS["bidirectional_gru_2layers_dense_on_every_step"](), tmp_path)
    config, weights, _ = import_model(capsys, path)
    x = np.random.default_rng(1).normal(size=(4, STEPS, FEATURES)).astype(np.float32)
    loaded = assert_bit_exact_on_verilator(config, weights, x, np.array([6, 1, 4, 6]), BUILD)
    assert (loaded.model.cell, loaded.model.bidirectional, loaded.model.num_layers) == ("gru", True, 2)

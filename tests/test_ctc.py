"""CTC greedy decoding (spec/ctc.py) by hand, and the golden model's decoded labels."""

from __future__ import annotations

import numpy as np
import pytest

from rnnhw.golden.model import GoldenModel
from rnnhw.spec.config import config_from_dict
from rnnhw.spec.ctc import EMPTY, PAD, greedy_decode, label_strings, label_width, labels_from_frames, stream_frames
from rnnhw.spec.weights import quantize_weights, random_weights


def _logits(paths, classes=4):
    """One-hot logits [N, T, C] whose argmax follows ``paths``."""
    out = np.zeros((len(paths), max(len(p) for p in paths), classes))
    for n, path in enumerate(paths):
        for t, c in enumerate(path):
            out[n, t, c] = 1.0
    return out


@pytest.mark.parametrize(("path", "labels"), [
    ([1, 0, 1], [1, 1]),  # a blank a -> a a
    ([1, 1], [1]),  # repeats collapse
    ([0, 0, 0], []),  # all blank
    ([3], [3]),  # one step
    ([2, 2, 0, 0, 2, 3, 3, 0], [2, 2, 3]),
    ([0, 1, 2, 1, 0], [1, 2, 1]),
])
def test_decode_by_hand(path, labels):
    decoded = greedy_decode(_logits([path]), None, blank=0)
    assert decoded.tolist() == [labels + [PAD] * (len(path) - len(labels))]
    assert stream_frames(decoded) == [labels or [EMPTY]]
    assert labels_from_frames(stream_frames(decoded), len(path)).tolist() == decoded.tolist()


def test_ties_take_the_lowest_index_and_blank_can_be_any_class():
    logits = np.array([[[1.0, 5.0, 5.0, 2.0], [5.0, 5.0, 0.0, 0.0], [0.0, 0.0, 3.0, 3.0], [0.0, 0.0, 0.0, 0.0]]])
    assert greedy_decode(logits, None, blank=1).tolist() == [[0, 2, 0, PAD]]  # paths 1, 0, 2, 0
    assert greedy_decode(logits, None, blank=2).tolist() == [[1, 0, 0, PAD]]  # 0 blank 0 -> 0 0


def test_lengths_cut_the_sequences():
    logits = _logits([[1, 2, 3, 3], [1, 0, 1, 2]])
    assert greedy_decode(logits, np.array([2, 1]), blank=0).tolist() == [[1, 2, PAD, PAD], [1, PAD, PAD, PAD]]
    assert label_strings(greedy_decode(logits, np.array([4, 3]), blank=0)) == [(1, 2, 3), (1, 1)]


def test_label_width_holds_every_label_and_empty():
    assert [label_width(c) for c in (1, 2, 3, 4, 5, 128, 129, 4096)] == [2, 2, 3, 3, 4, 8, 9, 13]


def test_golden_model_decodes_its_bit_exact_logits():
    config = config_from_dict({"model": {"cell": "gru", "input_size": 3, "hidden_size": 5, "head": 4,
                                         "return_sequences": True, "ctc_blank": 1},
                               "hardware": {"lanes": 2}})
    model = GoldenModel(config, quantize_weights(random_weights(config, 2, scale=2.0), config, warn=False))
    x = np.random.default_rng(0).integers(-3000, 3000, size=(6, 9, 3))
    lengths = np.array([9, 1, 4, 9, 2, 7])
    result = model.run(x, lengths)
    assert result.outputs.shape == (6, 9, 4)
    assert np.array_equal(result.labels, greedy_decode(result.outputs, lengths, 1))
    assert result.labels.dtype == np.int64 and (result.labels[1, 1:] == PAD).all()


# -- rnnhw golden ------------------------------------------------------------------------------------
CTC_TOML = """\
[model]
cell = "lstm"
input_size = 3
hidden_size = 6
head = 5
return_sequences = true
ctc_blank = 4
"""


def _golden(tmp_path, capsys, *extra):
    from .test_cli import golden_argv, make_case, run_cli

    config_path, weights_path, inputs_path, config = make_case(tmp_path, CTC_TOML, batch=4, steps=6, seed=3)
    np.save(tmp_path / "l.npy", np.array([6, 1, 3, 6]))
    argv = golden_argv(config_path, weights_path, inputs_path, tmp_path / "y.npy", "--lengths", tmp_path / "l.npy",
                       *extra)
    status, out, err = run_cli(capsys, *argv)
    return config, weights_path, np.load(inputs_path), status, out, err


def test_golden_writes_decoded_labels(tmp_path, capsys):
    from rnnhw.spec.weights import load_weights

    config, weights_path, x, status, out, err = _golden(tmp_path, capsys)
    assert (status, err) == (0, "")
    assert out.startswith("4 sequence(s) of 6 timestep(s) -> outputs [4, 6] int64 (golden model, CTC-decoded "
                          "labels padded with -1)\n")
    y = np.load(tmp_path / "y.npy")
    model = GoldenModel(config, quantize_weights(load_weights(weights_path, config), config, warn=False))
    lengths = np.array([6, 1, 3, 6])
    result = model.run(model.quantize_inputs(x)[0], lengths)
    assert y.dtype == np.int64 and np.array_equal(y, greedy_decode(result.outputs, lengths, 4))
    assert ((y >= -1) & (y < 4)).all() and (y[1, 1:] == PAD).all()


def test_golden_float_decodes_the_float_logits(tmp_path, capsys):
    from rnnhw.golden.float_ref import float_forward
    from rnnhw.spec.weights import load_weights

    config, weights_path, x, status, out, err = _golden(tmp_path, capsys, "--float")
    assert (status, err) == (0, "")
    lengths = np.array([6, 1, 3, 6])
    logits = float_forward(config, load_weights(weights_path, config), x, lengths).outputs
    assert np.array_equal(np.load(tmp_path / "y.npy"), greedy_decode(logits, lengths, 4))


@pytest.mark.parametrize("model", ['head = 5\nctc_blank = 1', 'return_sequences = true\nctc_blank = 0',
                                   'head = 3\nreturn_sequences = true\nctc_blank = 3'])
def test_bad_ctc_configuration_exits_2_without_outputs(tmp_path, capsys, model):
    from .test_cli import golden_argv, run_cli

    (tmp_path / "m.toml").write_text(f"[model]\n{model}\n")
    status, out, err = run_cli(capsys, *golden_argv(tmp_path / "m.toml", "w.npz", "x.npy", tmp_path / "y.npy"))
    assert status == 2 and out == "" and "model.ctc_blank" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "y.npy").exists()


def test_design_ports_and_integration_readme_describe_the_label_stream():
    from rnnhw.integration import integration_readme
    from rnnhw.spec.design import design_summary, memory_sizes, ports

    config = config_from_dict({"model": {"head": 5, "return_sequences": True, "ctc_blank": 4}})
    tdata = {p.name: p for p in ports(config)}["m_axis_tdata"]
    assert (tdata.width, tdata.signed) == (label_width(5), True) == (4, True)
    assert memory_sizes(config).output_fifo_depth == 4  # two steps of at most two labels
    readme = integration_readme(design_summary(config, "core"))
    assert "one label per beat, `m_axis_tlast` on the last label" in readme
    assert "a\nsequence that decodes to nothing" not in readme
    assert "a sequence that decodes to nothing sends one beat of -1 (all ones) with `m_axis_tlast`" in readme


# -- sequence metrics --------------------------------------------------------------------------------
def test_edit_distance_and_label_error_rate_by_hand():
    from rnnhw.sequence_metrics import agreement, edit_distance, label_error_rate, sequence_accuracy

    assert edit_distance([], []) == 0 and edit_distance([1, 2, 3], []) == 3 and edit_distance([], [4]) == 1
    assert edit_distance([1, 2, 3], [1, 3]) == 1 and edit_distance([1, 2], [2, 1]) == 2
    assert edit_distance([7, 1, 1, 2], [1, 1, 2, 3]) == 2
    decoded = np.array([[1, 2, -1], [3, -1, -1], [-1, -1, -1], [5, 5, 5]])
    reference = np.array([[1, 2, -1], [4, 3, -1], [6, -1, -1], [5, 5, -1]])
    assert sequence_accuracy(decoded, reference) == 0.25
    # Edits 0 + 1 + 1 + 1 over reference labels 2 + 2 + 1 + 2.
    assert label_error_rate(decoded, reference) == 3 / 7
    assert agreement(decoded, decoded) == 1.0 and agreement(decoded, reference) == 0.25

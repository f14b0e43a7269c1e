"""CTC decoding in hardware on Verilator: the RTL's label stream equals the golden model's decoding.

One pytest function per simulator build. The first design makes the head's logits follow the inputs
(``h = relu(x)``, head = identity), so each stimulus chooses the best path of every step: empty
decodes, all-blank, ``a blank a``, repeats, ties, length-1 and back-to-back sequences, lengths.
The second is a random 8-bit LSTM (ties between logits are frequent there).
"""

from __future__ import annotations

import numpy as np
import pytest

from rnnhw.cli import main
from rnnhw.golden.model import GoldenModel
from rnnhw.rtl.top import generate_verilog
from rnnhw.sim.verify import run_simulation
from rnnhw.spec.config import config_from_dict
from rnnhw.spec.ctc import EMPTY, stream_frames
from rnnhw.spec.schedule import Schedule
from rnnhw.spec.weights import quantize_weights, random_weights, save_weights, weights_from_tensors

from .test_sim_accelerator import BITS_8, BUILD

pytestmark = pytest.mark.sim

BLANK = 2


def _identity_weights(config):
    eye, zeros = np.eye(4), np.zeros((4, 4))
    return weights_from_tensors({"weight_ih_l0": eye, "weight_hh_l0": zeros, "bias_ih_l0": np.zeros(4),
                                 "bias_hh_l0": np.zeros(4), "head.weight": eye, "head.bias": np.zeros(4)}, config)


def _identity_design():
    config = config_from_dict({"model": {"cell": "rnn_relu", "input_size": 4, "hidden_size": 4, "head": 4,
                                         "return_sequences": True, "ctc_blank": BLANK},
                               "hardware": {"lanes": 3}})  # two head passes of 3 and 1 rows
    return config, quantize_weights(_identity_weights(config), config, warn=False)


# Best paths (one class per step; "tie" is a step whose logits are all equal: class 0) and the labels.
PATHS = [
    ([2, 2, 2], []),  # all blank: the EMPTY beat
    ([1, 2, 1], [1, 1]),  # a blank a -> a a
    ([1, 1], [1]),  # a a -> a
    ([3], [3]),  # length 1
    ([2], []),  # length 1, blank
    (["tie", 1, "tie"], [0, 1, 0]),
    ([1, 1, 2, 3, 3, 0, 2, 0, 1], [1, 3, 0, 0, 1]),
    ([0, 3], [0, 3]),  # two labels, the second one at the last step
    ([3, 3, 3, 2, 2], [3]),
]


def _inputs(paths, steps, rng):
    x = rng.uniform(-2.0, 2.0, size=(len(paths), steps, 4))  # past a sequence's length: never read
    for n, path in enumerate(paths):
        for t, c in enumerate(path):
            x[n, t] = 0.75 if c == "tie" else np.where(np.arange(4) == c, 1.5, rng.uniform(-1.0, 1.0, 4))
    return x


def test_identity_head_decodes_every_case_under_backpressure(tmp_path, capsys):
    config, qweights = _identity_design()
    verilog = generate_verilog(config, qweights)
    model = GoldenModel(config, qweights)
    paths = [p for p, _ in PATHS]
    lengths = np.array([len(p) for p in paths])
    x_int, _ = model.quantize_inputs(_inputs(paths, int(lengths.max()), np.random.default_rng(0)))
    labels = model.run(x_int, lengths).labels
    assert stream_frames(labels) == [want or [EMPTY] for _, want in PATHS]  # the golden model decodes as planned
    for seed, backpressure in ((1, True), (2, True), (3, False)):
        result = run_simulation(config, qweights, x_int, lengths, verilog=verilog, backpressure=backpressure,
                                build_dir=BUILD, progress=False, seed=seed)
        assert result.bit_exact, result.first_mismatch
        assert np.array_equal(result.outputs, labels)
    # Only empty decodes, back to back (each an EMPTY beat), then long sequences ending in a label.
    empty = [[2], [2, 2], ["tie"] * 1, [2, 2, 2, 2]]
    x_int, _ = model.quantize_inputs(_inputs(empty, 4, np.random.default_rng(1)))
    lengths = np.array([1, 2, 1, 4])
    result = run_simulation(config, qweights, x_int, lengths, verilog=verilog, backpressure=True, build_dir=BUILD,
                            progress=False, seed=4)
    assert result.bit_exact, result.first_mismatch
    assert stream_frames(result.outputs) == [[EMPTY], [EMPTY], [0], [EMPTY]]
    # rnnhw simulate compares label sequences (the same design: the build is reused).
    (tmp_path / "m.toml").write_text(config.to_toml())
    save_weights(_identity_weights(config), tmp_path / "w.npz")
    np.save(tmp_path / "x.npy", _inputs(paths, int(max(map(len, paths))), np.random.default_rng(0)))
    np.save(tmp_path / "l.npy", np.array([len(p) for p in paths]))
    status = main(["simulate", str(tmp_path / "m.toml"), "--weights", str(tmp_path / "w.npz"), "--inputs",
                   str(tmp_path / "x.npy"), "--lengths", str(tmp_path / "l.npy"), "--backpressure",
                   "--build-dir", str(BUILD), "-o", str(tmp_path / "out")])
    out = capsys.readouterr().out
    assert status == 0 and "bit-exact: yes (every output label sequence equals the golden model's)" in out
    assert stream_frames(np.load(tmp_path / "out" / "rtl_outputs.npy")) == [want or [EMPTY] for _, want in PATHS]


def test_random_8bit_lstm_decodes_bit_exact_at_its_expected_cycles():
    config = config_from_dict({"model": {"cell": "lstm", "input_size": 3, "hidden_size": 5, "num_layers": 2,
                                         "head": 6, "return_sequences": True, "ctc_blank": 0},
                               "numerics": BITS_8, "hardware": {"lanes": 4}})
    qweights = quantize_weights(random_weights(config, 1, scale=2.0), config, warn=False)
    verilog = generate_verilog(config, qweights)
    rng = np.random.default_rng(5)
    fmt = config.numerics.input
    x = rng.integers(fmt.min_int, fmt.max_int + 1, size=(12, 9, 3))
    lengths = rng.integers(1, 10, size=12)
    lengths[0], lengths[-1] = 9, 1
    labels = GoldenModel(config, qweights).run(x, lengths).labels
    assert len({len(f) for f in stream_frames(labels)}) > 2  # labels of several lengths
    result = run_simulation(config, qweights, x, lengths, verilog=verilog, backpressure=True, build_dir=BUILD,
                            progress=False, seed=6)
    assert result.bit_exact, result.first_mismatch
    cycles = {}
    for steps in (20, 40):  # decoding does not slow the step; constant inputs end both runs alike (one beat)
        x = np.zeros((1, steps, 3), dtype=np.int64)
        result = run_simulation(config, qweights, x, verilog=verilog, build_dir=BUILD, progress=False)
        assert result.bit_exact, result.first_mismatch
        cycles[steps] = result.cycles
    assert cycles[40] - cycles[20] == 20 * Schedule(config).cycles_per_step()


def test_accuracy_rtl_check_compares_decoded_labels():
    from rnnhw.accuracy import check_rtl
    from rnnhw.datasets import digit_strings
    from rnnhw.golden.model import GoldenModel
    from rnnhw.sequence_metrics import label_error_rate, sequence_accuracy

    config = config_from_dict({"model": {"cell": "gru", "input_size": 8, "hidden_size": 6, "head": 11,
                                         "return_sequences": True, "ctc_blank": 10}, "hardware": {"lanes": 6}})
    weights = random_weights(config, 4, scale=1.5)
    data = digit_strings("test").subset(5)
    rtl = check_rtl(config, weights, data, 5, progress=False)
    assert rtl.bit_exact and rtl.mismatches == 0 and rtl.sequences == 5
    model = GoldenModel(config, quantize_weights(weights, config, warn=False))
    labels = model.run(model.quantize_inputs(data.x)[0], data.lengths).labels
    assert rtl.accuracy == sequence_accuracy(labels, data.sequences)
    assert rtl.label_error_rate == label_error_rate(labels, data.sequences)

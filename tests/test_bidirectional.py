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
from rnnhw.spec.weights import quantize_weights, random_weights, save_weights

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

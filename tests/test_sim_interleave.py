"""Interleaved cores on Verilator: bit-exact per stream under random backpressure on the input and
output streams, sequences of different lengths per stream, and the schedule model's cycles per step
(K = 2); ``rnnhw simulate`` on K = 3. One simulator build per test function."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rnnhw.rtl.top import generate_verilog
from rnnhw.sim.verify import run_simulation
from rnnhw.spec.config import config_from_dict
from rnnhw.spec.schedule import Schedule
from rnnhw.spec.weights import quantize_weights, random_weights

pytestmark = pytest.mark.sim

BUILD = Path(__file__).resolve().parent.parent / "build" / "sim"


def test_two_streams_bit_exact_under_backpressure_at_the_model_cycles():
    config = config_from_dict({"model": {"cell": "lstm", "input_size": 3, "hidden_size": 4, "num_layers": 2,
                                         "head": 2},
                               "hardware": {"lanes": 4, "interleave": 2}})
    qweights = quantize_weights(random_weights(config, 0), config, warn=False)
    verilog = generate_verilog(config, qweights)
    fmt = config.numerics.input
    rng = np.random.default_rng(3)
    # Stream 0: sequences 0, 2, 4 (5 + 1 + 3 steps); stream 1: 1, 3 (2 + 4, then 3 padding steps).
    lengths = np.array([5, 2, 1, 4, 3])
    x = rng.integers(fmt.min_int, fmt.max_int + 1, size=(5, 5, 3))
    result = run_simulation(config, qweights, x, lengths, verilog=verilog, backpressure=True, build_dir=BUILD,
                            progress=False, seed=2)
    assert result.bit_exact, result.first_mismatch
    assert result.mismatches == 0 and result.sequences == 5 and result.timesteps == 15
    cycles = {}
    for steps in (10, 20):  # one sequence per stream; the difference is 10 rounds of the steady state
        x = rng.integers(-8, 8, size=(2, steps, 3))
        run = run_simulation(config, qweights, x, verilog=verilog, build_dir=BUILD, progress=False)
        assert run.bit_exact, run.first_mismatch
        cycles[steps] = run.cycles
    per_step = Schedule(config).cycles_per_step()
    assert per_step == 96  # drain-bound passes: as at K = 1 (test_rtl_sequencer has cases K speeds up)
    assert cycles[20] - cycles[10] == 10 * 2 * per_step


def test_simulate_command_spreads_sequences_over_three_streams(tmp_path, capsys):
    """``rnnhw simulate``: sequence n on stream n % 3, all at once under backpressure, bit-exact per stream;
    streams short of timesteps padded (24 timesteps streamed for 21), the progress counting their vectors."""
    from rnnhw.cli import main

    (tmp_path / "k3.toml").write_text('[model]\ncell = "gru"\ninput_size = 3\nhidden_size = 4\n'
                                      'return_sequences = true\n[hardware]\nlanes = 4\ninterleave = 3\n')
    np.save(tmp_path / "x.npy", np.random.default_rng(0).normal(size=(7, 5, 3)).astype(np.float32))
    np.save(tmp_path / "l.npy", np.array([5, 1, 3, 2, 4, 5, 1]))  # per stream 8, 5 and 8 timesteps
    status = main(["simulate", str(tmp_path / "k3.toml"), "--random-weights", "1", "--inputs",
                   str(tmp_path / "x.npy"), "--lengths", str(tmp_path / "l.npy"), "--backpressure",
                   "--build-dir", str(BUILD)])
    out, err = capsys.readouterr()
    assert status == 0, out + err
    assert "bit-exact: yes" in out and "simulated 7 sequence(s), 21 timestep(s)" in out
    assert "output vectors: 24/24 (100%)" in err

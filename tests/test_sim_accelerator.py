"""The generated accelerator on Verilator, bit-exact against the golden model (issue 4's matrix).

One pytest function per simulator build: each configuration is generated and built once (cached in
build/sim by the Verilog's hash), then every stimulus of that configuration runs on the same model.
Every run streams back-to-back sequences of different lengths with random pauses on both AXI
streams, and includes inputs at the limits of the input format.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from rnnhw.rtl.top import generate_verilog
from rnnhw.sim.verify import run_simulation
from rnnhw.spec.config import config_from_dict
from rnnhw.spec.schedule import Schedule
from rnnhw.spec.weights import quantize_weights, random_weights, weights_from_tensors

pytestmark = pytest.mark.sim

BUILD = Path(__file__).resolve().parent.parent / "build" / "sim"

BITS_8 = {"input": "fixed<8,3>", "weight": "fixed<8,2>", "bias": "fixed<8,3>", "state": "fixed<8,3>",
          "cell_state": "fixed<8,4>", "accum": "fixed<16,8>", "activation": "fixed<8,2>", "output": "fixed<8,4>"}


def _config(cell, inputs, hidden, lanes, *, layers=1, head=0, sequences=False, bits8=False, multipliers="logic",
            jordan=None, fanout=None, **numerics):
    reset = {"gru_reset": "before"} if cell == "gru_before" else {}
    if jordan:  # (O, nonlinearity, output activation)
        reset = dict(zip(("output_size", "nonlinearity", "output_activation"), jordan, strict=True))
    return config_from_dict({
        "model": {"cell": cell.removesuffix("_before"), "input_size": inputs, "hidden_size": hidden,
                  "num_layers": layers, "head": head, "return_sequences": sequences, **reset},
        "numerics": {**(BITS_8 if bits8 else {}), **numerics},
        "hardware": {"lanes": lanes, "elementwise_multipliers": multipliers,
                     **({"broadcast_fanout": fanout} if fanout else {})},
    })


# name: (config, weight scale or "limits"); together they cover every cell and the reset-before GRU, I != H,
# P = 1, P dividing and not dividing G*H, P = G*H, 1-3 layers, head on/off, return_sequences (with a head: at
# every step, in several passes), 8- and 16-bit numerics, every rounding and overflow mode, interpolated tables,
# both elementwise multiplier kinds, broadcast trees of 1 and 2 levels.
DESIGNS = {
    "lstm_p1_head": (_config("lstm", 5, 7, 1, head=3), 1.0),
    "lstm_3layers_seq_8bit_trn_wrap": (_config("lstm", 4, 6, 8, layers=3, sequences=True, bits8=True,
                                               rounding="TRN", overflow="WRAP"), 1.5),
    "lstm_limits_8bit_rndconv": (_config("lstm", 3, 4, 5, layers=2, head=2, bits8=True, rounding="RND_CONV"),
                                 "limits"),
    "gru_2layers_head_interp_rndconv": (_config("gru", 6, 5, 4, layers=2, head=4, rounding="RND_CONV",
                                                lut_interpolate=True, lut_size=256), 1.0),
    "gru_full_lanes_8bit_wrap": (_config("gru", 3, 8, 24, bits8=True, overflow="WRAP"), 2.0),
    # The GRU with the reset gate before W_hn ("gru_before"): r*h through the state memory.
    "gru_before_2layers_seq": (_config("gru_before", 3, 5, 4, layers=2, sequences=True), 1.5),
    "gru_before_final_8bit_rndconv": (_config("gru_before", 4, 6, 5, bits8=True, rounding="RND_CONV"), 2.0),
    "gru_before_2layers_head_8bit_dsp": (_config("gru_before", 2, 3, 1, layers=2, head=3, bits8=True,
                                                 multipliers="dsp"), 1.5),
    "gru_before_2layers_head_every_step_8bit": (_config("gru_before", 3, 4, 3, layers=2, head=3, sequences=True,
                                                        bits8=True), 1.5),
    # The Jordan cell: y fed back, W_hy every step.
    "jordan_2layers_seq_relu_sigmoid": (_config("jordan", 3, 5, 2, layers=2, sequences=True,
                                                jordan=(3, "relu", "sigmoid")), 1.5),
    "jordan_final_8bit_identity": (_config("jordan", 4, 6, 4, bits8=True, jordan=(2, "tanh", "identity"),
                                           rounding="RND_CONV"), 2.0),
    "jordan_2layers_final_8bit_tanh": (_config("jordan", 2, 3, 3, layers=2, bits8=True, jordan=(4, "tanh", "tanh"),
                                               overflow="WRAP"), 1.5),
    "rnn_tanh_2layers_head_trn": (_config("rnn_tanh", 2, 9, 3, layers=2, head=2, rounding="TRN"), 1.0),
    "lstm_2layers_head_every_step": (_config("lstm", 3, 5, 3, layers=2, head=7, sequences=True), 1.0),
    # Lanes behind a broadcast tree (hardware.broadcast_fanout = 2): 3 groups under 2 levels, and the
    # reset-after GRU's n rows holding each group's chain.
    "lstm_2layers_head_tree_2levels": (_config("lstm", 3, 4, 5, layers=2, head=3, fanout=2), 1.5),
    "gru_head_every_step_tree_8bit": (_config("gru", 4, 3, 4, head=2, sequences=True, bits8=True, fanout=2), 1.5),
    # Weight memories of 2,160 16-bit words: 3 banks of one block RAM each; and 9 lanes behind the default
    # tree (2 groups) with 2 banks.
    "lstm_head_3_banks": (_config("lstm", 20, 24, 2, head=3), 1.0),
    "lstm_head_tree_2_banks": (_config("lstm", 70, 24, 9, head=2), 1.0),
    "rnn_relu_3layers_seq_8bit_rndconv_wrap": (_config("rnn_relu", 7, 4, 3, layers=3, sequences=True, bits8=True,
                                                       rounding="RND_CONV", overflow="WRAP"), 1.0),
}


def _weights(config, scale, seed=0):
    if scale != "limits":
        return random_weights(config, seed, scale=scale / math.sqrt(config.model.hidden_size))
    # Every weight and bias at the extremes of its format (and beyond: they saturate to them).
    rng = np.random.default_rng(seed)
    tensors = random_weights(config, seed).tensors()
    return weights_from_tensors({name: rng.choice([-100.0, 100.0, 0.0], size=t.shape) for name, t in
                                 tensors.items()}, config)


def _stimulus(config, sequences=9, steps=7, seed=0):
    """Back-to-back sequences of lengths 1..steps; the first two sit at the input format's limits."""
    rng = np.random.default_rng(seed)
    fmt = config.numerics.input
    x = rng.integers(fmt.min_int // 2, fmt.max_int // 2 + 1, size=(sequences, steps, config.model.input_size))
    x[0] = fmt.min_int
    x[1] = rng.choice([fmt.min_int, fmt.max_int], size=x[1].shape)
    lengths = rng.integers(1, steps + 1, size=sequences)
    lengths[0], lengths[-1] = steps, 1
    return x, lengths


@pytest.fixture(scope="module", params=sorted(DESIGNS))
def design(request):
    config, scale = DESIGNS[request.param]
    qweights = quantize_weights(_weights(config, scale), config, warn=False)
    return config, qweights, generate_verilog(config, qweights)


def test_design_is_bit_exact_under_backpressure(design):
    config, qweights, verilog = design
    x, lengths = _stimulus(config)
    result = run_simulation(config, qweights, x, lengths, verilog=verilog, backpressure=True, build_dir=BUILD,
                            progress=False, seed=1)
    assert result.bit_exact, result.first_mismatch
    assert result.mismatches == 0 and result.sequences == len(lengths) and result.timesteps == lengths.sum()


def test_design_runs_at_its_expected_cycles_per_step(design):
    config, qweights, verilog = design
    cycles = {}
    for steps in (20, 40):  # the difference is 20 steady-state steps: fill, drain and head cancel out
        x = np.random.default_rng(steps).integers(-8, 8, size=(1, steps, config.model.input_size))
        result = run_simulation(config, qweights, x, verilog=verilog, build_dir=BUILD, progress=False)
        assert result.bit_exact, result.first_mismatch
        cycles[steps] = result.cycles
    assert cycles[40] - cycles[20] == 20 * Schedule(config).cycles_per_step()


@pytest.fixture(scope="module")
def lstm_i12_h32():
    """The benchmark LSTM (I=12, H=32, head 9, P=8), 16-bit defaults."""
    config = _config("lstm", 12, 32, 8, head=9)
    qweights = quantize_weights(random_weights(config, 7), config, warn=False)
    return config, qweights, generate_verilog(config, qweights)


def test_one_sequence_of_5000_steps(lstm_i12_h32):
    config, qweights, verilog = lstm_i12_h32
    x = np.random.default_rng(3).integers(-2048, 2048, size=(1, 5000, 12))
    result = run_simulation(config, qweights, x, verilog=verilog, build_dir=BUILD, progress=False)
    assert result.bit_exact, result.first_mismatch
    assert result.cycles_per_step == pytest.approx(704, abs=0.1)  # = ceil(4*32*44/8): 100 % utilization
    assert result.utilization > 0.999


def test_reset_in_the_middle_of_a_sequence_then_clean_sequences(lstm_i12_h32):
    config, qweights, verilog = lstm_i12_h32
    x, lengths = _stimulus(config, sequences=4, steps=5, seed=4)
    result = run_simulation(config, qweights, x, lengths, verilog=verilog, build_dir=BUILD, progress=False,
                            reset_after=12 * 3 + 5, backpressure=True)
    assert result.bit_exact, result.first_mismatch


@pytest.mark.parametrize("name", ["lstm_2layers_head_tree_2levels", "lstm_head_tree_2_banks"])
def test_reset_in_the_middle_of_a_sequence_behind_a_broadcast_tree(name):
    """Behind a tree only the steps' valid flags have a reset; the lanes' copies of the other fields,
    their controls and drain loads do not, and must not carry a step across the reset."""
    config, scale = DESIGNS[name]
    qweights = quantize_weights(_weights(config, scale), config, warn=False)
    x, lengths = _stimulus(config, sequences=4, steps=5, seed=4)
    result = run_simulation(config, qweights, x, lengths, verilog=generate_verilog(config, qweights),
                            build_dir=BUILD, progress=False, reset_after=config.model.input_size * 3 + 2,
                            backpressure=True)
    assert result.bit_exact, result.first_mismatch
    assert result.sequences == 4 and result.timesteps == lengths.sum()

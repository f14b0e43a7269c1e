import re

import numpy as np
import pytest
from amaranth.back import rtlil

from rnnhw.rtl.top import RNNAccelerator
from rnnhw.spec.config import config_from_dict
from rnnhw.spec.design import lane_parameters
from rnnhw.spec.latency import broadcast_levels
from rnnhw.spec.weights import quantize_weights, random_weights

from .hdl import ecp5_resources
from .rtl_harness import simulate, simulate_interleaved


def _case(cell, *, input_size=3, hidden=4, layers=1, head=0, lanes=3, return_sequences=False, numerics=None,
          batch=3, steps=4, seed=0, scale=None, multipliers="logic", hardware=None):
    config = config_from_dict({
        "model": {"cell": cell, "input_size": input_size, "hidden_size": hidden, "num_layers": layers,
                  "head": head, "return_sequences": return_sequences},
        "numerics": numerics or {},
        "hardware": {"lanes": min(lanes, hidden * (4 if cell == "lstm" else 3 if cell == "gru" else 1)),
                     "elementwise_multipliers": multipliers, **(hardware or {})},
    })
    qweights = quantize_weights(random_weights(config, seed, scale=scale), config, warn=False)
    rng = np.random.default_rng(seed + 1)
    fmt = config.numerics.input
    x = rng.integers(fmt.min_int, fmt.max_int + 1, size=(batch, steps, input_size)) // 4
    return config, qweights, x


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn_tanh", "rnn_relu"])
def test_single_layer_with_head_matches_golden(cell):
    config, qweights, x = _case(cell, head=2)
    vectors, _, expected = simulate(config, qweights, x)
    assert vectors == expected


CELLS = ["lstm", "gru", "rnn_tanh", "rnn_relu"]


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize(("layers", "head", "return_sequences", "lanes"), [
    (1, 0, False, 1),
    (2, 0, True, 4),
    (3, 3, False, 5),
    (2, 0, False, 2),
])
def test_layers_heads_and_lanes_match_golden(cell, layers, head, return_sequences, lanes):
    config, qweights, x = _case(cell, layers=layers, head=head, return_sequences=return_sequences, lanes=lanes)
    lengths = np.array([4, 1, 3])
    vectors, _, expected = simulate(config, qweights, x, lengths, stall_in=0.3, stall_out=0.4)
    assert vectors == expected


NARROW = {"input": "fixed<8,3>", "weight": "fixed<8,2>", "bias": "fixed<8,3>", "state": "fixed<8,3>",
          "cell_state": "fixed<8,4>", "accum": "fixed<14,6>", "activation": "fixed<8,2>", "output": "fixed<8,4>"}


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("rounding", ["TRN", "RND", "RND_CONV"])
@pytest.mark.parametrize("overflow", ["SAT", "WRAP"])
def test_8_bit_numerics_every_mode_matches_golden(cell, rounding, overflow):
    numerics = dict(NARROW, rounding=rounding, overflow=overflow, lut_size=64, lut_interpolate=rounding == "RND")
    config, qweights, x = _case(cell, numerics=numerics, head=2 if overflow == "SAT" else 0, lanes=2,
                                scale=2.0)
    vectors, _, expected = simulate(config, qweights, x * 4)
    assert vectors == expected


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_dsp_elementwise_multipliers_match_golden(cell):
    config, qweights, x = _case(cell, layers=2, head=2, multipliers="dsp")
    vectors, _, expected = simulate(config, qweights, x, stall_out=0.5)
    assert vectors == expected


@pytest.mark.parametrize(("layers", "head", "return_sequences", "lanes", "numerics"), [
    (1, 2, False, 3, None),
    (2, 0, True, 5, NARROW),
    (2, 0, False, 1, None),
    (2, 3, True, 4, None),  # the head after every step
    (1, 2, True, 1, NARROW),
])
def test_reset_before_gru_matches_golden(layers, head, return_sequences, lanes, numerics):
    config, qweights, x = _case("gru", layers=layers, head=head, return_sequences=return_sequences, lanes=lanes,
                                numerics=numerics, scale=1.5)
    config = config.replace("model", gru_reset="before")
    qweights = quantize_weights(random_weights(config, 0, scale=1.5), config, warn=False)
    vectors, _, expected = simulate(config, qweights, x, np.array([4, 1, 3]), stall_in=0.3, stall_out=0.4)
    assert vectors == expected


@pytest.mark.parametrize(("layers", "return_sequences", "lanes", "activations", "numerics"), [
    (1, False, 3, ("tanh", "identity"), None),
    (2, True, 4, ("relu", "sigmoid"), NARROW),
    (2, False, 1, ("tanh", "tanh"), None),
])
def test_jordan_matches_golden(layers, return_sequences, lanes, activations, numerics):
    config = config_from_dict({
        "model": {"cell": "jordan", "input_size": 3, "hidden_size": 4, "output_size": 2 + layers,
                  "num_layers": layers, "return_sequences": return_sequences, "nonlinearity": activations[0],
                  "output_activation": activations[1]},
        "numerics": numerics or {}, "hardware": {"lanes": lanes}})
    qweights = quantize_weights(random_weights(config, 0, scale=1.5), config, warn=False)
    fmt = config.numerics.input
    x = np.random.default_rng(1).integers(fmt.min_int, fmt.max_int + 1, size=(3, 4, 3)) // 4
    vectors, _, expected = simulate(config, qweights, x, np.array([4, 1, 3]), stall_in=0.3, stall_out=0.4)
    assert vectors == expected


#: 6-bit weights, inputs and states: 2*6 + 6 = 18 bits, so lane pairs share a multiplier (dsp_packing "auto").
PACKABLE = {"input": "fixed<6,2>", "weight": "fixed<6,2>", "bias": "fixed<8,3>", "state": "fixed<6,3>",
            "cell_state": "fixed<8,4>", "accum": "fixed<14,6>", "activation": "fixed<8,2>", "output": "fixed<8,4>",
            "lut_size": 64}


@pytest.mark.parametrize("cell", CELLS)
def test_packed_lane_pairs_match_golden(cell):
    """Two layers, a head, 5 lanes (two pairs and an odd lane) on packed multipliers: bit-exact."""
    config, qweights, x = _case(cell, numerics=PACKABLE, layers=2, head=2, lanes=5, scale=2.0)
    assert lane_parameters(config).packed_pairs
    vectors, _, expected = simulate(config, qweights, x * 4, stall_out=0.3)
    assert vectors == expected


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize(("numerics", "lanes"), [(None, 5), (PACKABLE, 6)])
def test_lanes_behind_a_broadcast_tree_match_golden(cell, numerics, lanes):
    """``broadcast_fanout`` = 2: 3 lane groups under 2 register levels (with packed pairs too), every cell,
    two layers and a head, under backpressure."""
    config, qweights, x = _case(cell, numerics=numerics, hidden=6, layers=2, head=2, lanes=lanes,
                                scale=2.0 if numerics else None,
                                hardware={"broadcast_fanout": 2})
    assert broadcast_levels(config.hardware) == 2
    vectors, _, expected = simulate(config, qweights, x * (4 if numerics else 1), lengths=np.array([4, 1, 3]),
                                    stall_in=0.3, stall_out=0.3)
    assert vectors == expected


# Address arithmetic (state rows, sequence rows, buffer slots) multiplies by I, H, 2H: constants that are
# not powers of two here, which Yosys would map to DSP blocks if they were written as "*".
ADDRESSING = {
    "lstm-3-layers-head": {"cell": "lstm", "num_layers": 3, "head": 2},
    "gru-reset-before-3-layers": {"cell": "gru", "gru_reset": "before", "num_layers": 3},
    "jordan-3-layers": {"cell": "jordan", "num_layers": 3, "output_size": 3},
    "bidirectional-lstm-2-layers-head": {"cell": "lstm", "num_layers": 2, "head": 2, "bidirectional": True},
    "bidirectional-gru-reset-before-2-layers": {"cell": "gru", "gru_reset": "before", "num_layers": 2,
                                                "bidirectional": True},
    "interleaved-lstm-2-layers-head": {"cell": "lstm", "num_layers": 2, "head": 2, "interleave": 3},
    "interleaved-gru-2-layers-sequences": {"cell": "gru", "num_layers": 2, "return_sequences": True,
                                           "interleave": 3},
}


def _addressing_design(name):
    model = dict(ADDRESSING[name])
    hardware = {"interleave": model.pop("interleave")} if "interleave" in model else {"max_sequence_length": 12}
    config = config_from_dict({
        "model": {"input_size": 5, "hidden_size": 6, **model},
        "hardware": {"lanes": 3, **hardware},
    })
    return config, RNNAccelerator(config=config, weights=quantize_weights(random_weights(config, 0), config,
                                                                          warn=False))


@pytest.mark.parametrize("name", sorted(ADDRESSING))
def test_no_multiply_by_a_constant(name):
    """Every ``$mul`` cell of the design multiplies two signals (the lanes'); products by constants are
    shift-adds (``rtl.multiply.times_constant``)."""
    _, dut = _addressing_design(name)
    cells = re.findall(r"cell \$mul .*?\n(.*?)\n\s*end", rtlil.convert(dut, emit_src=False), re.S)
    assert len(cells) == 3  # the lanes
    constant = re.compile(r"connect \\[AB] \d+'[01]+$", re.M)
    assert [cell for cell in cells if constant.search(cell)] == []


@pytest.mark.parametrize("name", ["lstm-3-layers-head", "bidirectional-gru-reset-before-2-layers"])
def test_the_lanes_are_the_only_dsp_blocks(name, tmp_path):
    """Yosys ``synth_ecp5``: P MULT18X18D, one per lane (before the address products were shift-adds,
    7 and 8 of them for these designs)."""
    config, dut = _addressing_design(name)
    assert ecp5_resources(dut, tmp_path)["dsps"] == config.hardware.lanes


def _interleaved(cell, streams, **model):
    config = config_from_dict({
        "model": {"cell": cell, "input_size": 3, "hidden_size": 4, **model},
        "hardware": {"lanes": 4, "interleave": streams},
    })
    qweights = quantize_weights(random_weights(config, 0), config, warn=False)
    rng = np.random.default_rng(1)
    fmt = config.numerics.input
    x = rng.integers(fmt.min_int, fmt.max_int + 1, size=(6, 4, 3)) // 4
    return config, qweights, x


@pytest.mark.parametrize(("cell", "streams", "model", "lengths"), [
    ("lstm", 2, {"num_layers": 2, "head": 2}, [3, 1, 1, 4, 2, 1]),  # stream 0: 3+1+2, stream 1: 1+4+1
    ("gru", 3, {"return_sequences": True}, [2, 1, 3, 2, 3, 1]),  # 4 timesteps per stream
    ("rnn_tanh", 2, {}, [1, 2, 3, 2]),
])
def test_interleaved_streams_match_golden_under_backpressure(cell, streams, model, lengths):
    config, qweights, x = _interleaved(cell, streams, **model)
    vectors, _, expected = simulate_interleaved(config, qweights, x[: len(lengths)], lengths, stall_in=0.3,
                                                stall_out=0.4)
    assert vectors == expected

"""The bit-exact golden model (golden/model.py).

Tiny configurations computed by hand from docs/numerics.md; the model against a slow scalar
re-implementation of that document (tests/reference.py) on random configurations of every cell,
rounding and overflow mode; lengths; the int64 limits; and the error against the float reference.
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rnnhw.golden.float_ref import float_forward
from rnnhw.golden.model import GoldenModel, gru_elementwise, lstm_elementwise
from rnnhw.spec.config import CELLS, config_from_dict
from rnnhw.spec.datapath import FLOAT64_EXACT_BITS, datapath
from rnnhw.spec.errors import UserError
from rnnhw.spec.fixed import FixedFormat, Overflow, Rounding
from rnnhw.spec.weights import quantize_weights, random_weights, weights_from_tensors

from .reference import reference_run

# Every format has 4 fractional bits except accum (8) and activation (6: ONE = 64); 16-entry tables.
SMALL = {"input": "fixed<8,4>", "weight": "fixed<8,4>", "bias": "fixed<8,4>", "state": "fixed<8,4>",
         "cell_state": "fixed<8,4>", "accum": "fixed<16,8>", "activation": "fixed<8,2>",
         "output": "fixed<8,4>", "lut_size": 16}
# The 16-entry plain tables of fixed<8,2> (docs/numerics.md): sigmoid over [-4, 4) in bins of 1/2,
# tanh over [-2, 2) in bins of 1/4, each entry the mean of the function at its bin's edges.
SIGMOID_16 = (36, 43, 50, 54, 58, 60, 62, 62)
TANH_16 = (8, 23, 35, 45, 52, 56, 59, 61)


#: Every cell, the GRU with its reset gate before W_hn ("gru_before") and the Jordan cell's activations.
JORDAN = {"jordan": ("tanh", "identity"), "jordan_relu": ("relu", "sigmoid"), "jordan_tanh": ("tanh", "tanh")}
VARIANTS = (*(cell for cell in CELLS if cell != "jordan"), "gru_before", *JORDAN)


def _config(cell, input_size=1, hidden_size=1, head=0, return_sequences=False, num_layers=1, bidirectional=False,
            **numerics):
    extra = {"gru_reset": "before"} if cell == "gru_before" else {}
    if bidirectional and cell not in JORDAN:  # spec/config.py refuses a bidirectional Jordan cell
        extra["bidirectional"] = True
    if cell == "gru_before" and return_sequences:  # no head at every step yet (spec/config.py refuses it)
        head = 0
    if cell in JORDAN:  # O = 1 + H % 3; the head is the cell's own output layer
        extra = {"output_size": 1 + hidden_size % 3, "nonlinearity": JORDAN[cell][0],
                 "output_activation": JORDAN[cell][1]}
        cell, return_sequences, head = "jordan", return_sequences or bool(head), 0
    return config_from_dict({
        "model": {"cell": cell.removesuffix("_before"), "input_size": input_size, "hidden_size": hidden_size,
                  "head": head, "return_sequences": return_sequences, "num_layers": num_layers, **extra},
        "numerics": numerics,
        "hardware": {"lanes": 1},
    })


def _model(config, tensors, **options):
    weights = weights_from_tensors({k: np.array(v, dtype=float) for k, v in tensors.items()}, config)
    return GoldenModel(config, quantize_weights(weights, config, warn=False), **options)


# -- by hand ---------------------------------------------------------------------------------------
LSTM_TENSORS = {
    # rows i, f, g, o; in the weight format (x16): w_ih 16, 8, 32, -16; w_hh 4, 8, -8, 16; bias 8, 16, 0, 4
    "weight_ih_l0": [[1.0], [0.5], [2.0], [-1.0]],
    "weight_hh_l0": [[0.25], [0.5], [-0.5], [1.0]],
    "bias_ih_l0": [0.5, 1.0, 0.0, 0.25],
    "bias_hh_l0": [0.0, 0.0, 0.0, 0.0],
    "head.weight": [[2.0]],
    "head.bias": [-0.5],
}


def test_tables_of_the_hand_examples():
    dp = datapath(_config("lstm", head=1, **SMALL))
    assert (dp.sigmoid.range_log2, dp.sigmoid.entries) == (2, SIGMOID_16)
    assert (dp.tanh.range_log2, dp.tanh.entries) == (1, TANH_16)


def test_lstm_by_hand():
    model = _model(_config("lstm", head=1, **SMALL), LSTM_TENSORS)
    x, saturated = model.quantize_inputs([[[1.5], [-0.75]]])
    assert (x.tolist(), saturated) == ([[[24], [-12]]], 0)
    # Exact sums have 8 fractional bits (weight 4 + input/state 4; bias << 4), as accum: no rounding.
    # Step 1, h = c = 0: pre = 16*24 + 128 = 512, 8*24 + 256 = 448, 32*24 = 768, -16*24 + 64 = -320.
    #   sigmoid (index |pre| >> 7): i = T[4] = 58, f = T[3] = 54, o = 64 - T[2] = 14;
    #   tanh (index |pre| >> 6): g = U[min(12, 7)] = 61.
    #   c = round(f*0 + 58*61 = 3538 (12 frac bits) >> 8) = (3538 + 128) >> 8 = 14
    #   h = round(o * tanh(c)) = round(14 * U[14 >> 2] = 14 * 45 = 630 >> 8) = (630 + 128) >> 8 = 2
    h, c = lstm_elementwise(model.dp, np.array([[512, 448, 768, -320]]), np.array([[0]]))
    assert (h.tolist(), c.tolist()) == ([[2]], [[14]])
    # Step 2, x = -12, h = 2: pre = -192 + 8 + 128 = -56, -96 + 16 + 256 = 176, -384 - 16 = -400,
    #   192 + 32 + 64 = 288.
    #   i = 64 - T[0] = 28, f = T[1] = 43, g = -U[6] = -59, o = T[2] = 50.
    #   c = round((43*14 << 2) + 28*(-59) = 2408 - 1652 = 756 >> 8) = 3;  h = round(50 * U[0] = 400 >> 8) = 2
    h, c = lstm_elementwise(model.dp, np.array([[-56, 176, -400, 288]]), np.array([[14]]))
    assert (h.tolist(), c.tolist()) == ([[2]], [[3]])
    # Head: 32*2 + (-8 << 4) = -64 (8 frac bits) -> round to 4: (-64 + 8) >> 4 = -4.
    result = model.run(x)
    assert result.outputs.tolist() == [[-4]]
    assert result.output_format == FixedFormat(8, 4)
    assert [f.tolist() for f in result.final_h] == [[[2]]]
    assert result.to_float().tolist() == [[-0.25]]


def test_gru_by_hand():
    tensors = {
        # rows r, z, n: w_ih 16, -16, 32; w_hh 8, 8, 16; bias r, z: b_ih + b_hh = 8, 8; b_in 8; b_hn -4
        "weight_ih_l0": [[1.0], [-1.0], [2.0]],
        "weight_hh_l0": [[0.5], [0.5], [1.0]],
        "bias_ih_l0": [0.25, 0.0, 0.5],
        "bias_hh_l0": [0.25, 0.5, -0.25],
    }
    model = _model(_config("gru", return_sequences=True, **SMALL), tensors)
    layer = model.weights.layers[0]
    assert (layer.bias.tolist(), layer.bias_hn.tolist()) == ([8, 8, 8], [-4])
    # Step 1, x = 16, h = 0: r_pre = 256 + 128 = 384 -> r = T[3] = 54;
    #   z_pre = -256 + 128 = -128 -> z = 64 - T[1] = 21
    #   xn = 512 + 128 = 640, hn = -4 << 4 = -64; a_n = round((640 << 6) + 54*(-64) = 37504 >> 6) = 586
    #   n = U[min(586 >> 6, 7)] = 61; h = round(n + z*(h - n)) = round((61 << 6) + 21*(0 - 61) = 2623 >> 8)
    #   = 10
    assert gru_elementwise(model.dp, np.array([[384, -128]]), np.array([[640]]), np.array([[-64]]),
                           np.array([[0]])).tolist() == [[10]]
    # Step 2, x = -16, h = 10: r_pre = -256 + 80 + 128 = -48 -> r = 64 - T[0] = 28;
    #   z_pre = 464 -> z = T[3] = 54
    #   xn = -512 + 128 = -384, hn = 160 - 64 = 96; a_n = round(-24576 + 28*96 = -21888 >> 6) = -342
    #   n = -U[342 >> 6] = -56; h = round((-56 << 6) + 54*((10 << 2) + 56) = 1600 >> 8) = 6
    x, _ = model.quantize_inputs([[[1.0], [-1.0]]])
    result = model.run(x)
    assert result.outputs.tolist() == [[[10], [6]]]
    assert result.final_h[0].tolist() == [[6]]


@pytest.mark.parametrize(("overflow", "expected"), [("WRAP", [28, -8, 20]), ("SAT", [28, 31, 31])])
def test_elman_relu_overflow_by_hand(overflow, expected):
    # state fixed<6,2>: -2 .. 1.9375 (-32 .. 31). w_ih 24, w_hh 16, bias 4 (<< 4 = 64); x = 16 each step.
    # t1: 384 + 64 = 448 -> TRN >> 4 = 28.  t2: 384 + 16*28 + 64 = 896 -> 56: wraps to -8 or saturates to 31.
    # t3 (WRAP): 384 - 128 + 64 = 320 -> 20.  t3 (SAT): 384 + 496 + 64 = 944 -> 59 -> 31.
    numerics = {**SMALL, "state": "fixed<6,2>", "overflow": overflow, "rounding": "TRN"}
    config = _config("rnn_relu", return_sequences=True, **numerics)
    model = _model(config, {"weight_ih_l0": [[1.5]], "weight_hh_l0": [[1.0]], "bias_ih_l0": [0.25],
                            "bias_hh_l0": [0.0]})
    x, _ = model.quantize_inputs(np.ones((1, 3, 1)))
    assert model.run(x).outputs.ravel().tolist() == expected


def test_elman_tanh_by_hand():
    # pre = 16*x + 16*h: x = 0.5 (8) -> 128 -> U[128 >> 6] = U[2] = 35 -> state: round(35 >> 2) = 9 (8.75)
    config = _config("rnn_tanh", **SMALL)
    model = _model(config, {"weight_ih_l0": [[1.0]], "weight_hh_l0": [[1.0]], "bias_ih_l0": [0.0],
                            "bias_hh_l0": [0.0]})
    assert model.run(np.array([[[8]]])).outputs.tolist() == [[9]]
    # then 16*(-8) + 16*9 = 16 -> U[0] = 8 -> 2
    assert model.run(np.array([[[8], [-8]]])).outputs.tolist() == [[2]]


# -- lengths ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("cell", VARIANTS)
def test_ended_sequences_keep_their_state(cell):
    config = _config(cell, input_size=3, hidden_size=4, num_layers=2, return_sequences=True)
    model = _random_model(config, 1)
    x, _ = model.quantize_inputs(np.random.default_rng(2).normal(size=(3, 6, 3)))
    lengths = np.array([6, 2, 4])
    result = model.run(x, lengths)
    for n, length in enumerate(lengths):
        alone = model.run(x[n : n + 1, :length])
        assert np.array_equal(result.outputs[n, :length], alone.outputs[0])
        assert not result.outputs[n, length:].any()  # zeros past the length
        for k in range(2):
            assert np.array_equal(result.final_h[k][n], alone.final_h[k][0])
    # The padding does not matter.
    x_changed = x.copy()
    x_changed[1, 2:] = 5
    assert np.array_equal(model.run(x_changed, lengths).outputs, result.outputs)


def test_bad_batches():
    config = _config("lstm", input_size=2, hidden_size=2)
    model = GoldenModel(config, quantize_weights(random_weights(config, seed=0), config))
    with pytest.raises(UserError, match=r"^inputs must have shape \[N, T, 2\], not \[1, 3, 3\]$"):
        model.run(np.zeros((1, 3, 3), dtype=np.int64))
    with pytest.raises(UserError, match=r"^lengths must lie in 1\.\.3"):
        model.run(np.zeros((2, 3, 2), dtype=np.int64), np.array([0, 3]))


@pytest.mark.parametrize("cell", ["lstm", "gru", "gru_before"])
def test_large_batches_run_in_blocks_with_the_same_result(cell):
    # 8 or 6 gate rows: blocks of 512 sequences, so 700 sequences run as two blocks.
    config = _config(cell, input_size=1, hidden_size=2, return_sequences=True, **SMALL)
    model = _random_model(config, 14, scale=2.0)
    rng = np.random.default_rng(15)
    x = rng.integers(-128, 128, size=(700, 3, 1))
    lengths = rng.integers(1, 4, size=700)
    result = model.run(x, lengths)
    expected, finals = reference_run(config, model.weights, x.tolist(), lengths.tolist())
    assert result.outputs.tolist() == expected
    assert result.final_h[0].tolist() == finals[0]


# -- int64 limits and the float64 BLAS path --------------------------------------------------------
def test_int64_refusal():
    config = _config("lstm", weight="fixed<44,8>", state="fixed<44,8>", cell_state="fixed<44,8>")
    weights = quantize_weights(random_weights(config, seed=0), config, warn=False)
    with pytest.raises(UserError, match=r"^the layer 0 accumulator needs \d+ bits, more than the 62"):
        GoldenModel(config, weights)


def _random_model(config, seed, scale=1.0, **options):
    weights = quantize_weights(random_weights(config, seed=seed, scale=scale), config, warn=False)
    return GoldenModel(config, weights, **options)


@pytest.mark.parametrize("cell", VARIANTS)
def test_float64_blas_equals_int64(cell):
    config = _config(cell, input_size=5, hidden_size=7, num_layers=2, head=3,
                     **{"weight": "fixed<20,4>", "state": "fixed<20,4>", "input": "fixed<20,6>"})
    assert datapath(config).gates_matvec(0).bits <= FLOAT64_EXACT_BITS
    x = np.random.default_rng(3).integers(-(1 << 19), 1 << 19, size=(6, 5, 5))
    lengths = np.array([5, 1, 3, 5, 2, 4])
    blas = _random_model(config, 4, scale=3.0, blas=True).run(x, lengths)
    ints = _random_model(config, 4, scale=3.0, blas=False).run(x, lengths)
    assert np.array_equal(blas.outputs, ints.outputs)
    assert all(np.array_equal(a, b) for a, b in zip(blas.final_h, ints.final_h, strict=True))


@pytest.mark.parametrize("blas", [True, False])
def test_accumulator_finer_than_the_products(blas):
    # Products have 40 fractional bits, accum 48: the rounding point only shifts left (and saturates).
    # The 50-bit sums shifted by 8 exceed float64's 53 bits, so only the int64 path folds that shift in.
    config = _config("lstm", input_size=2, hidden_size=3, input="fixed<24,4>", weight="fixed<24,4>",
                     state="fixed<24,4>", bias="fixed<24,4>", accum="fixed<48,0>", return_sequences=True)
    assert datapath(config).gates_matvec(0).bits == 50
    model = _random_model(config, 16, scale=0.2, blas=blas)
    x = np.random.default_rng(17).integers(-(1 << 21), 1 << 21, size=(4, 3, 2))
    lengths = np.array([3, 3, 2, 1])
    expected, _ = reference_run(config, model.weights, x.tolist(), lengths.tolist())
    assert model.run(x, lengths).outputs.tolist() == expected


def test_blas_refused_when_inexact():
    config = _config("lstm", weight="fixed<30,4>", state="fixed<30,4>")
    assert datapath(config).gates_matvec(0).bits > FLOAT64_EXACT_BITS
    with pytest.raises(ValueError, match="^float64 BLAS is not exact for this configuration"):
        _random_model(config, 0, blas=True)


@pytest.mark.parametrize("cell", VARIANTS)
def test_wide_formats_use_int64_exactly(cell):
    # 57-bit accumulators: beyond float64, within int64.
    config = _config(cell, input_size=2, hidden_size=3, head=2, weight="fixed<30,4>", state="fixed<28,4>",
                     cell_state="fixed<28,4>", accum="fixed<40,12>", bias="fixed<30,4>", input="fixed<24,6>")
    assert datapath(config).gates_matvec(0).bits > FLOAT64_EXACT_BITS
    model = _random_model(config, 5, scale=2.0)
    x = np.random.default_rng(6).integers(-(1 << 23), 1 << 23, size=(3, 4, 2))
    lengths = [4, 2, 3]
    expected, finals = reference_run(config, model.weights, x.tolist(), lengths)
    result = model.run(x, np.array(lengths))
    assert result.outputs.tolist() == expected
    assert [f.tolist() for f in result.final_h] == finals


# -- against the scalar reference ------------------------------------------------------------------
def _format(draw, widths, int_bits):
    width = draw(st.integers(*widths))
    return f"fixed<{width},{draw(st.integers(int_bits[0], min(int_bits[1], width)))}>"


@st.composite
def small_cases(draw, tiny=False):
    """A random small configuration, weights, inputs and lengths.

    ``tiny``: formats of a few fractional bits and 16- or 32-entry tables, where a change of one
    bit anywhere changes the outputs often (as a broken rounding point would).
    """
    cell = draw(st.sampled_from(VARIANTS))
    head = draw(st.integers(0, 2))
    if tiny:
        formats = {key: _format(draw, (4, 7), (1, 4)) for key in
                   ("input", "weight", "bias", "state", "cell_state", "accum", "activation", "output")}
        sizes = [16, 32]
    else:
        formats = {
            "input": _format(draw, (4, 12), (1, 5)),
            "weight": _format(draw, (4, 12), (-1, 4)),
            "bias": _format(draw, (4, 14), (0, 5)),
            "state": _format(draw, (4, 14), (1, 5)),
            "cell_state": _format(draw, (4, 14), (1, 6)),
            "accum": _format(draw, (8, 28), (2, 10)),
            "activation": _format(draw, (4, 14), (1, 3)),
            "output": _format(draw, (4, 14), (1, 6)),
        }
        sizes = [16, 32, 64, 256, 1024]
    numerics = {
        **formats,
        "rounding": draw(st.sampled_from([m.value for m in Rounding])),
        "overflow": draw(st.sampled_from([m.value for m in Overflow])),
        "lut_size": draw(st.sampled_from(sizes)),
        "lut_interpolate": draw(st.booleans()),
    }
    config = _config(cell, input_size=draw(st.integers(1, 3)), hidden_size=draw(st.integers(1, 3)), head=head,
                     return_sequences=draw(st.booleans()), num_layers=draw(st.integers(1, 2)),
                     bidirectional=draw(st.booleans()), **numerics)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    scale = draw(st.sampled_from([0.5, 1.0, 3.0]))
    weights = quantize_weights(random_weights(config, seed=int(rng.integers(1 << 31)), scale=scale), config,
                               warn=False)
    batch, steps = draw(st.integers(1, 3)), draw(st.integers(1, 4))
    fmt = config.numerics.input
    x = rng.integers(fmt.min_int, fmt.max_int + 1, size=(batch, steps, config.model.input_size))
    lengths = rng.integers(1, steps + 1, size=batch)
    return config, weights, x, lengths


def _assert_equals_reference(config, weights, x, lengths, **options):
    expected, finals = reference_run(config, weights, x.tolist(), lengths.tolist())
    result = GoldenModel(config, weights, **options).run(x, lengths)
    assert result.outputs.tolist() == expected
    assert [f.tolist() for f in result.final_h] == finals


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=small_cases())
def test_equals_scalar_reference_on_random_small_configs(case):
    _assert_equals_reference(*case)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=small_cases(tiny=True))
def test_equals_scalar_reference_on_random_tiny_formats(case):
    _assert_equals_reference(*case)


@pytest.mark.parametrize("cell", VARIANTS)
@pytest.mark.parametrize(("rounding", "overflow", "interpolate"), [
    ("RND", "SAT", False), ("RND_CONV", "WRAP", True), ("TRN", "SAT", True), ("RND_CONV", "SAT", False),
    ("TRN", "WRAP", False), ("RND", "WRAP", True),
])
def test_equals_scalar_reference_on_medium_configs(cell, rounding, overflow, interpolate):
    # Narrow state and accum so that both overflow modes matter; big weights saturate some gates.
    config = _config(cell, input_size=4, hidden_size=6, num_layers=2, head=0, return_sequences=True,
                     input="fixed<10,4>", weight="fixed<10,3>", bias="fixed<12,4>", state="fixed<9,2>",
                     cell_state="fixed<10,3>", accum="fixed<14,5>", activation="fixed<10,2>",
                     rounding=rounding, overflow=overflow, lut_size=64, lut_interpolate=interpolate)
    weights = quantize_weights(random_weights(config, seed=7, scale=1.5), config, warn=False)
    x_float = np.random.default_rng(8).normal(scale=3, size=(5, 7, 4))
    x, _ = GoldenModel(config, weights).quantize_inputs(x_float)
    lengths = np.array([7, 3, 1, 6, 7])
    _assert_equals_reference(config, weights, x, lengths)
    if datapath(config).gates_matvec(0).bits <= FLOAT64_EXACT_BITS:
        _assert_equals_reference(config, weights, x, lengths, blas=False)


@pytest.mark.parametrize("cell", [v for v in VARIANTS if v not in JORDAN])
@pytest.mark.parametrize(("head", "return_sequences"), [(0, False), (3, False), (0, True), (3, True)])
def test_bidirectional_equals_scalar_reference_on_medium_configs(cell, head, return_sequences):
    """Two bidirectional layers (the second reads [h_fwd; h_bwd]), every output form, packed lengths."""
    config = _config(cell, input_size=3, hidden_size=5, num_layers=2, head=head, return_sequences=return_sequences,
                     bidirectional=True, input="fixed<10,4>", weight="fixed<10,3>", bias="fixed<12,4>",
                     state="fixed<9,2>", cell_state="fixed<10,3>", accum="fixed<14,5>", activation="fixed<10,2>",
                     rounding="RND_CONV", overflow="WRAP", lut_size=64, lut_interpolate=True)
    assert config.model.bidirectional and config.model.layer_input_size(1) == 10
    weights = quantize_weights(random_weights(config, seed=21, scale=1.5), config, warn=False)
    x, _ = GoldenModel(config, weights).quantize_inputs(np.random.default_rng(22).normal(scale=3, size=(4, 6, 3)))
    lengths = np.array([6, 2, 1, 5])
    _assert_equals_reference(config, weights, x, lengths)
    _assert_equals_reference(config, weights, x, lengths, blas=False)
    result = GoldenModel(config, weights).run(x, lengths)
    assert [f.shape for f in result.final_h] == [(4, 10), (4, 10)]


def test_default_config_equals_scalar_reference():
    config = _config("lstm", input_size=12, hidden_size=32, head=9)  # the defaults, as in bench/golden.py
    config = config.replace("hardware", lanes=8)
    weights = quantize_weights(random_weights(config, seed=9), config)
    x, _ = GoldenModel(config, weights).quantize_inputs(np.random.default_rng(10).normal(size=(3, 5, 12)))
    _assert_equals_reference(config, weights, x, np.array([5, 4, 5]))


# -- against the float reference -------------------------------------------------------------------
@pytest.mark.parametrize("cell", VARIANTS)
def test_error_against_float_falls_as_widths_grow(cell):
    errors = []
    for width in (8, 12, 16, 24):
        fmt = f"fixed<{width},4>"
        config = _config(cell, input_size=6, hidden_size=16, head=3,
                         input=fmt, weight=fmt, bias=fmt, state=fmt, cell_state=fmt, output=fmt,
                         activation=f"fixed<{width},2>", accum=f"fixed<{min(2 * width + 8, 36)},10>",
                         lut_size=4096, lut_interpolate=True)
        float_weights = random_weights(config, seed=11)
        model = GoldenModel(config, quantize_weights(float_weights, config, warn=False))
        x = np.random.default_rng(12).normal(size=(40, 12, 6))
        lengths = np.random.default_rng(13).integers(1, 13, size=40)
        x_int, _ = model.quantize_inputs(x)
        golden = model.run(x_int, lengths).to_float()
        exact = float_forward(config, float_weights, x, lengths).outputs
        errors.append(float(np.max(np.abs(golden - exact))))
    # Four more bits of every format: about 16 times less error (measured 7.5 to 65 times).
    assert all(finer < coarser / 6 for coarser, finer in zip(errors, errors[1:], strict=False)), errors
    assert errors[-1] < 5e-5, errors

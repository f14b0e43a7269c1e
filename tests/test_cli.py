"""``rnnhw check`` and ``rnnhw golden`` end to end: exact reports and outputs, every way they refuse input.

Commands run in-process through :func:`rnnhw.cli.main`; one test runs the installed console script to
prove the entry point and its exit statuses.
"""

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from rnnhw.cli import main
from rnnhw.golden.float_ref import float_forward
from rnnhw.golden.model import GoldenModel
from rnnhw.spec.config import load_config
from rnnhw.spec.datapath import MatVecShape
from rnnhw.spec.fixed import FixedFormat, Rounding
from rnnhw.spec.ranges import holds_worst_case
from rnnhw.spec.weights import load_weights, quantize_weights, random_weights, save_weights

SMALL_LSTM = """\
[model]
cell = "lstm"
input_size = 3
hidden_size = 4
head = 2

[hardware]
lanes = 4
"""


def run_cli(capsys, *argv) -> tuple[int, str, str]:
    status = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text))
    return path


def make_case(tmp_path, config_text=SMALL_LSTM, batch=5, steps=7, seed=1):
    """A configuration, random weights and inputs on disk; returns their paths and the config."""
    config_path = write(tmp_path / "model.toml", config_text)
    config = load_config(config_path)
    weights_path = tmp_path / "w.npz"
    save_weights(random_weights(config, seed), weights_path)
    x = np.random.default_rng(seed).normal(size=(batch, steps, config.model.input_size))
    inputs_path = tmp_path / "x.npy"
    np.save(inputs_path, x)
    return config_path, weights_path, inputs_path, config


def golden_reference(config, weights_path, x, lengths=None) -> np.ndarray:
    """What the golden model computes, through its Python API."""
    model = GoldenModel(config, quantize_weights(load_weights(weights_path, config), config, warn=False))
    return model.run(model.quantize_inputs(x)[0], lengths).to_float()


def golden_argv(config_path, weights_path, inputs_path, output, *extra) -> list:
    return ["golden", config_path, "--weights", weights_path, "--inputs", inputs_path, "-o", output, *extra]


def files_in(directory: Path) -> set[str]:
    return {p.name for p in directory.iterdir()}


# ------------------------------------------------------------------------------------------------- check

EXPECTED_CHECK = """\
# resolved configuration (defaults filled in)
[model]
cell = "lstm"
input_size = 3
hidden_size = 4
num_layers = 1
head = 2
return_sequences = false
gru_reset = "after"
output_size = 0
nonlinearity = "tanh"
output_activation = "identity"

[numerics]
input = "fixed<16,6>"
weight = "fixed<16,6>"
bias = "fixed<16,6>"
state = "fixed<16,6>"
cell_state = "fixed<16,6>"
accum = "fixed<41,17>"
activation = "fixed<16,2>"
output = "fixed<16,6>"
rounding = "RND"
overflow = "SAT"
lut_size = 1024
lut_interpolate = false

[hardware]
lanes = 4
elementwise_multipliers = "logic"
weights = "rom"
dsp_packing = "auto"

numerics
  format      type          range                          resolution           holds
  input       fixed<16,6>   [-32, 31.9990234375]           2^-10 (0.000976562)  inputs x_t
  weight      fixed<16,6>   [-32, 31.9990234375]           2^-10 (0.000976562)  W_ih, W_hh, head weight
  bias        fixed<16,6>   [-32, 31.9990234375]           2^-10 (0.000976562)  b_ih + b_hh, head bias
  state       fixed<16,6>   [-32, 31.9990234375]           2^-10 (0.000976562)  h_t (next layer's input)
  cell_state  fixed<16,6>   [-32, 31.9990234375]           2^-10 (0.000976562)  LSTM c_t
  accum       fixed<41,17>  [-65536, 65535.999999940395]   2^-24 (5.96046e-08)  gate pre-activations
  activation  fixed<16,2>   [-2, 1.99993896484375]         2^-14 (6.10352e-05)  sigmoid/tanh outputs
  output      fixed<16,6>   [-32, 31.9990234375]           2^-10 (0.000976562)  head outputs
  rounding    RND: to nearest, halves towards plus infinity (inputs and weights too)
  overflow    SAT: clamp to the nearest representable value (inputs and weights always saturate)

derived widths (exact: no partial sum rounds; the golden model holds up to 62 bits)
  layer 0 accumulator    34 bits, 20 fractional (fixed<34,14>), worst case ±7200
  head accumulator       34 bits, 20 fractional (fixed<34,14>), worst case ±4128
  LSTM f*c + i*g         36 bits

activation tables (1024 entries, plain)
  sigmoid  covers [-8, 8) in steps of 2^-6; 512 stored words of fixed<16,2> (symmetry halves the table)
  tanh     covers [-4, 4) in steps of 2^-7; 512 stored words of fixed<16,2> (symmetry halves the table)

hardware: 4 lanes (P, multiply-accumulates per cycle)
  layer 0: G*H*(I+H) = 4*4*(3+4) = 112 MACs per step; schedule bound ceil(112/4) = 28 cycles per step
  per step: bound 28 cycles; expected 56 cycles per step (schedule model), MAC utilization 0.500
  head: 2*4 = 8 MACs per sequence

needs: 2,048 weight bits and 320 bias bits in 4 lane memories, 4 multipliers of 16 x 16 bits
  ecp5: about 8 18 kbit block RAMs (DP16KD), 4 DSP blocks: fits the LFE5UM-25F and larger
  ice40: about 8 4 kbit block RAMs (SB_RAM40_4K), 4 DSP blocks: fits the iCE40HX1K and larger
  xc7: about 8 18 kbit block RAMs (RAMB18E1), 4 DSP blocks: fits the xc7a35t and larger
"""


def test_check_prints_the_resolved_configuration_and_its_numerics(tmp_path, capsys):
    # Worst cases by hand: 7 products of 32*32 plus a bias of 32 = 7200 (layer 0), 4*32*32 + 32 = 4128
    # (head); both below 2**13, at 20 fractional bits: 34 bits. Schedule: 4*4*(3+4) MACs on 4 lanes.
    config_path = write(tmp_path / "model.toml", SMALL_LSTM)
    assert run_cli(capsys, "check", config_path) == (0, EXPECTED_CHECK, "")


def test_check_reports_only_what_the_cell_uses(tmp_path, capsys):
    config_path = write(
        tmp_path / "relu.toml",
        """\
        [model]
        cell = "rnn_relu"
        input_size = 5
        hidden_size = 6
        num_layers = 3
        [hardware]
        lanes = 4
        """,
    )
    status, out, err = run_cli(capsys, "check", config_path)
    assert (status, err) == (0, "")
    numerics = out.split("\n\nnumerics\n")[1].split("\n\n")[0]
    assert [line.split()[0] for line in numerics.splitlines()] == [
        "format",
        "input",
        "weight",
        "bias",
        "state",
        "accum",
        "activation",
        "rounding",
        "overflow",
    ]
    assert "LSTM" not in out and "GRU" not in out
    assert "activation tables (1024 entries, plain)\n  none (rnn_relu uses max(a, 0))\n" in out
    assert out.split("\n\nneeds: ")[0].endswith(
        "hardware: 4 lanes (P, multiply-accumulates per cycle)\n"
        "  layer 0: G*H*(I+H) = 1*6*(5+6) = 66 MACs per step; "
        "schedule bound ceil(66/4) = 17 cycles per step\n"
        "  layer 1: G*H*(I+H) = 1*6*(6+6) = 72 MACs per step; "
        "schedule bound ceil(72/4) = 18 cycles per step\n"
        "  layer 2: G*H*(I+H) = 1*6*(6+6) = 72 MACs per step; "
        "schedule bound ceil(72/4) = 18 cycles per step\n"
        "  all layers: bound 53 cycles; expected 86 cycles per step (schedule model), MAC utilization 0.616"
    )


def test_check_shows_the_jordan_output_layer(tmp_path, capsys):
    config_path = write(tmp_path / "jordan.toml", '[model]\ncell = "jordan"\ninput_size = 3\nhidden_size = 8\n'
                        'output_size = 2\nnum_layers = 2\nnonlinearity = "relu"\n[hardware]\nlanes = 4\n')
    status, out, err = run_cli(capsys, "check", config_path)
    assert (status, err) == (0, "")
    # Worst case of W_hy h + b_hy: 8 products of 32*32 plus 32 = 8224 < 2**14, 20 fractional bits.
    assert "  output accumulator     35 bits, 20 fractional (fixed<35,15>), worst case ±8224\n" in out
    assert "activation tables (1024 entries, plain)\n  none (relu uses max(a, 0), the identity nothing)\n" in out
    assert out.split("\n\nneeds: ")[0].endswith(
        "  layer 0: H*(I+O) + O*H = 8*(3+2) + 2*8 = 56 MACs per step; schedule bound ceil(56/4) = 14 cycles per step\n"
        "  layer 1: H*(I+O) + O*H = 8*(2+2) + 2*8 = 48 MACs per step; schedule bound ceil(48/4) = 12 cycles per step\n"
        "  all layers: bound 26 cycles; expected 73 cycles per step (schedule model), MAC utilization 0.356\n"
        "  Jordan: per layer 2 pass(es) over [x; y] for h, then 1 over h for y = W_hy h (every step)")


def test_check_shows_the_reset_before_gru_passes(tmp_path, capsys):
    config_path = write(tmp_path / "gru.toml", '[model]\ncell = "gru"\ngru_reset = "before"\ninput_size = 12\n'
                        'hidden_size = 32\n[hardware]\nlanes = 12\n')
    status, out, err = run_cli(capsys, "check", config_path)
    assert (status, err) == (0, "")
    assert "  GRU r*h                32 bits\n" in out and "GRU xn + r*hn" not in out
    # 64 r, z rows in 6 passes of 12, 32 n rows in 3: one pass more than ceil(96/12) = 8.
    assert out.split("\n\nneeds: ")[0].endswith(
        "  per step: bound 352 cycles; expected 396 cycles per step (schedule model), MAC utilization 0.889\n"
        "  GRU reset before W_hn: per layer 6 pass(es) over the r, z rows, then 3 over the n rows reading r*h "
        "from the state memory (9 passes; 8 with the reset after)\n"
        "  broadcast tree: 2 groups of up to 8 lanes behind 1 register level(s) (hardware.broadcast_fanout = 8); "
        "a pass's sums leave 9 cycles after its last step")


def test_check_shows_gru_widths_and_interpolated_tables(tmp_path, capsys):
    config_path = write(
        tmp_path / "gru.toml",
        """\
        [model]
        cell = "gru"
        input_size = 2
        hidden_size = 3
        [numerics]
        lut_size = 64
        lut_interpolate = true
        [hardware]
        lanes = 9
        """,
    )
    status, out, err = run_cli(capsys, "check", config_path)
    assert (status, err) == (0, "")
    assert "LSTM" not in out
    assert "  GRU xn + r*hn" in out and "  GRU n + z*(h - n)" in out
    assert "activation tables (64 entries, interpolated)\n" in out
    # Interpolated tables store one more word than half their logical entries.
    assert "; 33 stored words of fixed<16,2>" in out
    assert (
        "layer 0: G*H*(I+H) = 3*3*(2+3) = 45 MACs per step; schedule bound ceil(45/9) = 5 cycles per step"
        in out
    )


def test_check_warns_when_accum_is_narrower_than_the_worst_case(tmp_path, capsys):
    config_path = write(
        tmp_path / "narrow.toml",
        """\
        [model]
        input_size = 3
        hidden_size = 4
        num_layers = 2
        [numerics]
        accum = "fixed<20,8>"
        overflow = "WRAP"
        """,
    )
    status, out, err = run_cli(capsys, "check", config_path)
    assert status == 0
    assert "layer 1 accumulator    35 bits, 20 fractional (fixed<35,15>), worst case ±8224" in out
    # 7200 needs 14 integer bits (2**13 > 7200), 8224 needs 15; accum keeps its 12 fractional bits.
    assert err == (
        "rnnhw: warning: numerics.accum = fixed<20,8> holds [-128, 127.999755859375] but layer 0's "
        "pre-activations reach ±7200 in the worst case (full-scale weights, inputs and state) and would wrap "
        "around; use at least 14 integer bits, e.g. fixed<26,14>\n"
        "rnnhw: warning: numerics.accum = fixed<20,8> holds [-128, 127.999755859375] but layer 1's "
        "pre-activations reach ±8224 in the worst case (full-scale weights, inputs and state) and would wrap "
        "around; use at least 15 integer bits, e.g. fixed<27,15>\n"
    )


@pytest.mark.parametrize("accum, warned", [("fixed<38,14>", False), ("fixed<37,13>", True)])
def test_accum_warning_depends_on_the_integer_bits(tmp_path, capsys, accum, warned):
    # Worst case ±7200 with 24 fractional bits: fixed<38,14> holds up to 8192, fixed<37,13> only 4096.
    config_path = write(
        tmp_path / "t.toml",
        f"""\
        [model]
        input_size = 3
        hidden_size = 4
        [numerics]
        accum = "{accum}"
        """,
    )
    status, _, err = run_cli(capsys, "check", config_path)
    assert status == 0
    assert err.startswith("rnnhw: warning: numerics.accum = fixed<37,13>") if warned else err == ""


@pytest.mark.parametrize(
    "numerics, fix",
    [
        # More fractional bits than the exact sum (a left shift); the suggestion stops at 48 bits.
        ('accum = "fixed<44,4>"', "use at least 14 integer bits, e.g. fixed<48,14>"),
        (
            'accum = "fixed<20,2>"\nweight = "fixed<40,36>"\ninput = "fixed<20,19>"\nbias = "fixed<4,4>"\n'
            'state = "fixed<4,4>"',
            "no format of up to 48 bits can; use narrower weight, input or state formats",
        ),
    ],
)
def test_accum_warning_suggests_a_format_that_exists(tmp_path, capsys, numerics, fix):
    config_path = write(
        tmp_path / "t.toml", f"[model]\ninput_size = 3\nhidden_size = 4\n[numerics]\n{numerics}\n"
    )
    status, _, err = run_cli(capsys, "check", config_path)
    assert status == 0
    assert err.count("\n") == 1 and err.endswith(f"; {fix}\n")


@pytest.mark.parametrize(
    "rounding, holds", [(Rounding.TRN, True), (Rounding.RND, False), (Rounding.RND_CONV, False)]
)
def test_worst_case_is_compared_after_the_datapaths_rounding(rounding, holds):
    # bound = bias 2 + one product 2*2 = 6 quarter units (1.5); rounded to whole units it is 1 (TRN)
    # or 2 (RND, RND_CONV), and fixed<2,2> holds [-2, 1].
    shape = MatVecShape(((1, FixedFormat(2, 1)),), FixedFormat(2, 1), FixedFormat(2, 0))
    assert (shape.bound, shape.frac_bits) == (6, 2)
    assert holds_worst_case(shape, FixedFormat(2, 2), rounding) is holds
    assert holds_worst_case(shape, FixedFormat(3, 3), rounding) is True


def test_check_with_weights_shows_ranges_and_saturation(tmp_path, capsys):
    config_path = write(
        tmp_path / "model.toml",
        """\
        [model]
        input_size = 3
        hidden_size = 4
        [numerics]
        weight = "fixed<8,2>"
        bias = "fixed<8,2>"
        """,
    )
    tensors = {
        "weight_ih_l0": np.linspace(-1.0, 1.0, 48).reshape(16, 3),
        # fixed<8,2> holds [-2, 1.96875]: -3 and 2.5 saturate, -2 and 0.5 do not.
        "weight_hh_l0": np.tile([-3.0, -2.0, 0.5, 2.5], 16).reshape(16, 4),
        "bias_ih_l0": np.full(16, 1.5),
        "bias_hh_l0": np.full(16, 1.0),  # each fits, but the stored sum 2.5 does not
    }
    weights_path = tmp_path / "w.npz"
    np.savez(weights_path, **tensors)
    status, out, err = run_cli(capsys, "check", config_path, "--weights", weights_path)
    assert status == 0
    assert out.endswith(
        f"\n\nweights {weights_path}: 4 tensors\n"
        "  tensor         shape        format                 min          max  saturated\n"
        "  weight_ih_l0   [16, 3]      fixed<8,2>              -1            1  0 of 48\n"
        "  weight_hh_l0   [16, 4]      fixed<8,2>              -3          2.5  32 of 64\n"
        "  bias_ih_l0     [16]         fixed<8,2>             1.5          1.5  0 of 16\n"
        "  bias_hh_l0     [16]         fixed<8,2>               1            1  0 of 16\n"
        "  as stored (b_ih + b_hh summed before quantizing): weight values 32 of 112 saturated; "
        "bias values 16 of 16 saturated\n"
    )
    lines = err.splitlines()
    assert len(lines) == 2
    assert lines[0] == "rnnhw: warning: 32 of 112 weights saturated to fixed<8,2>"
    assert lines[1].startswith("rnnhw: warning: 16 of 16 bias")
    assert lines[1].endswith(" saturated to fixed<8,2>")


# ------------------------------------------------------------------------------------------------ golden

GOLDEN_CASES = {
    "lstm head, 2 layers": (
        SMALL_LSTM.replace("head = 2", "head = 2\nnum_layers = 2"),
        (5, 2),
        [7, 1, 3, 7, 5],
    ),
    "gru sequences": (
        '[model]\ncell = "gru"\ninput_size = 3\nhidden_size = 4\nreturn_sequences = true\n',
        (5, 7, 4),
        [2, 7, 7, 1, 4],
    ),
    "rnn_relu final state": (
        '[model]\ncell = "rnn_relu"\ninput_size = 3\nhidden_size = 4\n[hardware]\nlanes = 3\n',
        (5, 4),
        None,
    ),
}


@pytest.mark.parametrize("case", GOLDEN_CASES)
def test_golden_writes_exactly_the_golden_models_outputs(tmp_path, capsys, case):
    config_text, out_shape, lengths = GOLDEN_CASES[case]
    config_path, weights_path, inputs_path, config = make_case(tmp_path, config_text)
    argv = golden_argv(config_path, weights_path, inputs_path, tmp_path / "y.npy")
    if lengths is not None:
        np.save(tmp_path / "l.npy", np.array(lengths))
        argv += ["--lengths", tmp_path / "l.npy"]
        lengths = np.array(lengths)
    status, out, err = run_cli(capsys, *argv)
    fmt = "fixed<16,6>"
    dims = "[" + ", ".join(map(str, out_shape)) + "]"
    assert (status, err) == (0, "")
    assert out == (
        f"5 sequence(s) of 7 timestep(s) -> outputs {dims} float64 (golden model, values in {fmt})\n"
        f"wrote {tmp_path / 'y.npy'}\n"
    )
    y = np.load(tmp_path / "y.npy")
    assert y.dtype == np.float64 and y.shape == out_shape
    expected = golden_reference(config, weights_path, np.load(inputs_path), lengths)
    np.testing.assert_array_equal(y, expected)
    # Every output is a value of the output format: integers times 2**-10.
    np.testing.assert_array_equal(y * 1024, np.round(y * 1024))
    assert files_in(tmp_path) == {"model.toml", "w.npz", "x.npy", "y.npy"} | (
        {"l.npy"} if lengths is not None else set()
    )


def test_golden_float_writes_the_float_reference(tmp_path, capsys):
    config_path, weights_path, inputs_path, config = make_case(tmp_path)
    argv = golden_argv(config_path, weights_path, inputs_path, tmp_path / "yf.npy", "--float")
    status, out, err = run_cli(capsys, *argv)
    assert (status, err) == (0, "")
    assert out == (
        "5 sequence(s) of 7 timestep(s) -> outputs [5, 2] float64 (float reference, no quantization)\n"
        f"wrote {tmp_path / 'yf.npy'}\n"
    )
    y_float = np.load(tmp_path / "yf.npy")
    x = np.load(inputs_path)
    np.testing.assert_array_equal(
        y_float, float_forward(config, load_weights(weights_path, config), x).outputs
    )
    # The golden model is the quantized version of the same network: close to it, but not equal.
    error = np.abs(golden_reference(config, weights_path, x) - y_float).max()
    assert 0 < error < 0.02


def test_golden_warns_about_saturated_inputs(tmp_path, capsys):
    config_path, weights_path, inputs_path, config = make_case(tmp_path, batch=2, steps=5)
    x = np.load(inputs_path)
    x[0, 1, 2], x[1, 4, 0] = 100.0, -40.0
    np.save(inputs_path, x)
    status, _, err = run_cli(capsys, *golden_argv(config_path, weights_path, inputs_path, tmp_path / "y.npy"))
    assert status == 0
    assert err == (
        "rnnhw: warning: 2 of 30 input values saturated to fixed<16,6> (range [-32, 31.9990234375])\n"
    )
    np.testing.assert_array_equal(np.load(tmp_path / "y.npy"), golden_reference(config, weights_path, x))


def test_golden_replaces_an_existing_output(tmp_path, capsys):
    config_path, weights_path, inputs_path, config = make_case(tmp_path)
    np.save(tmp_path / "y.npy", np.zeros(3))
    status, _, _ = run_cli(capsys, *golden_argv(config_path, weights_path, inputs_path, tmp_path / "y.npy"))
    assert status == 0
    np.testing.assert_array_equal(
        np.load(tmp_path / "y.npy"), golden_reference(config, weights_path, np.load(inputs_path))
    )


# ----------------------------------------------------------------------------------------------- errors


def assert_one_line_error(status, out, err, command, *fragments):
    assert status == 2
    assert out == ""
    assert err.count("\n") == 1 and err.endswith("\n"), err
    assert err.startswith(f"rnnhw {command}: error: "), err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in err, (fragment, err)


def broken_config(tmp_path, text):
    return write(tmp_path / "bad.toml", text)


CHECK_ERRORS = {
    "missing config": (lambda d: d / "nope.toml", None, "does not exist"),
    "not TOML": (lambda d: broken_config(d, "[model\n"), None, "not valid TOML"),
    "unknown key": (lambda d: broken_config(d, "[model]\ncells = 3\n"), None, "unknown key model.cells"),
    "bad value": (
        lambda d: broken_config(d, '[numerics]\nrounding = "UP"\n'),
        None,
        'numerics.rounding must be one of "TRN", "RND", "RND_CONV"',
    ),
    "too wide for int64": (
        lambda d: broken_config(d, '[numerics]\nweight = "fixed<40,8>"\ninput = "fixed<40,8>"\n'),
        None,
        "use narrower numerics formats",
    ),
    "missing weights": (
        lambda d: write(d / "model.toml", SMALL_LSTM),
        lambda d: d / "none.npz",
        "does not exist",
    ),
    "weights of another shape": (
        lambda d: write(d / "model.toml", SMALL_LSTM.replace("hidden_size = 4", "hidden_size = 5")),
        lambda d: d / "w.npz",
        "has shape [16, 3], expected [20, 3]",
    ),
}


@pytest.mark.parametrize("case", CHECK_ERRORS)
def test_check_errors_are_one_line_with_exit_status_2(tmp_path, capsys, case):
    make_config, make_weights, fragment = CHECK_ERRORS[case]
    config = load_config(write(tmp_path / "ref.toml", SMALL_LSTM))
    save_weights(random_weights(config, 0), tmp_path / "w.npz")
    argv = ["check", make_config(tmp_path)]
    if make_weights:
        argv += ["--weights", make_weights(tmp_path)]
    assert_one_line_error(*run_cli(capsys, *argv), "check", fragment)


def test_check_error_message_names_the_file_and_the_fix(tmp_path, capsys):
    path = broken_config(tmp_path, "[hardware]\nlanes = 0\n")
    assert run_cli(capsys, "check", path) == (
        2,
        "",
        f"rnnhw check: error: {path}: hardware.lanes must be an integer from 1 to 4,096, not 0\n",
    )


def _golden_error_cases():
    """name -> (change the default arguments, text the one-line error must contain)."""

    def arg(name, value):
        return lambda d, a: a.__setitem__(name, value(d) if callable(value) else value)

    def npy(name, array):
        def change(d, a):
            np.save(d / name, array)
            a["--inputs" if name.startswith("x") else "--lengths"] = d / name

        return change

    nan_inputs = np.zeros((5, 7, 3))
    nan_inputs[2, 3, 1] = np.nan
    return {
        "missing config": (arg("config", lambda d: d / "nope.toml"), "does not exist"),
        "invalid config": (
            arg("config", lambda d: broken_config(d, "[model]\nhidden_size = -4\n")),
            "model.hidden_size must be an integer from 1 to 4,096, not -4",
        ),
        "missing weights": (arg("--weights", lambda d: d / "none.npz"), "weights file"),
        "weights for another model": (
            arg("config", lambda d: broken_config(d, SMALL_LSTM.replace("head = 2", "head = 3"))),
            "tensor head.weight has shape [2, 4], expected [3, 4]",
        ),
        "missing inputs": (arg("--inputs", lambda d: d / "none.npy"), "inputs file"),
        "inputs of the wrong width": (
            npy("x2.npy", np.zeros((5, 7, 4))),
            "inputs have shape [5, 7, 4], expected [N, T, 3]",
        ),
        "NaN inputs": (npy("x3.npy", nan_inputs), "the first at [2, 3, 1]"),
        "empty inputs": (npy("x4.npy", np.zeros((0, 7, 3))), "inputs are empty"),
        "lengths of the wrong count": (
            npy("l1.npy", np.array([7, 7])),
            "lengths have shape [2], expected [5]",
        ),
        "lengths out of range": (npy("l2.npy", np.array([7, 8, 1, 1, 1])), "lengths[1] = 8 is outside 1..7"),
        "output not .npy": (arg("-o", lambda d: d / "y.txt"), "must end in .npy"),
        "output directory missing": (arg("-o", lambda d: d / "nowhere" / "y.npy"), "nowhere' does not exist"),
        "output is a directory": (
            arg("-o", lambda d: (d / "dir.npy").mkdir() or d / "dir.npy"),
            "it is a directory; give a file name",
        ),
        "datapath too wide": (
            arg(
                "config",
                lambda d: broken_config(
                    d, SMALL_LSTM + '[numerics]\nweight = "fixed<40,8>"\nstate = "fixed<40,8>"\n'
                ),
            ),
            "use narrower numerics formats",
        ),
    }


GOLDEN_ERRORS = _golden_error_cases()


@pytest.mark.parametrize("case", GOLDEN_ERRORS)
def test_golden_errors_are_one_line_and_leave_no_output(tmp_path, capsys, case):
    change, fragment = GOLDEN_ERRORS[case]
    config_path, weights_path, inputs_path, _ = make_case(tmp_path)
    args = {
        "config": config_path,
        "--weights": weights_path,
        "--inputs": inputs_path,
        "-o": tmp_path / "y.npy",
    }
    change(tmp_path, args)
    before = files_in(tmp_path)
    argv = ["golden", args.pop("config")] + [str(v) for item in args.items() for v in item]
    assert_one_line_error(*run_cli(capsys, *argv), "golden", fragment)
    assert files_in(tmp_path) == before  # no output, no temporary file left behind
    assert not (tmp_path / "y.npy").exists()


def test_golden_missing_option_exits_2_without_traceback(tmp_path, capsys):
    config_path, weights_path, _, _ = make_case(tmp_path)
    with pytest.raises(SystemExit) as info:
        main(["golden", str(config_path), "--weights", str(weights_path), "-o", str(tmp_path / "y.npy")])
    err = capsys.readouterr().err
    assert info.value.code == 2
    assert err.splitlines()[-1] == "rnnhw golden: error: the following arguments are required: --inputs"
    assert "Traceback" not in err and not (tmp_path / "y.npy").exists()


# --------------------------------------------------------------------------------------- console script


def test_installed_console_script_exit_statuses(tmp_path):
    script = Path(sys.executable).with_name("rnnhw")
    assert script.is_file(), f"{script} is missing: run make install"
    config_path, weights_path, inputs_path, config = make_case(tmp_path)

    def run_script(output):
        argv = [script, *golden_argv(config_path, weights_path, inputs_path, output)]
        return subprocess.run(
            [str(a) for a in argv], capture_output=True, text=True, stdin=subprocess.DEVNULL
        )

    ok = run_script(tmp_path / "y.npy")
    assert (ok.returncode, ok.stderr) == (0, "")
    np.testing.assert_array_equal(
        np.load(tmp_path / "y.npy"), golden_reference(config, weights_path, np.load(inputs_path))
    )

    bad = run_script(tmp_path / "y.csv")
    assert (bad.returncode, bad.stdout) == (2, "")
    assert (
        bad.stderr == f"rnnhw golden: error: -o {str(tmp_path / 'y.csv')!r}: the file name must end in .npy\n"
    )

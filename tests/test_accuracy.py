"""``rnnhw accuracy``: float against fixed point, the sweep, the report and its error paths."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rnnhw import calibration
from rnnhw.accuracy import (
    evaluate_fixed,
    float_reference,
    measure_accuracy,
    predictions,
    report_lines,
    run_golden,
    uniform_config,
    write_plot,
)
from rnnhw.calibration import Ranges
from rnnhw.cli import main
from rnnhw.commands.accuracy import parse_widths
from rnnhw.datasets import Dataset, digits
from rnnhw.examples import EXAMPLES, example_config, example_paths, example_weights
from rnnhw.golden.float_ref import float_forward
from rnnhw.golden.model import GoldenModel
from rnnhw.spec.config import config_from_dict
from rnnhw.spec.errors import UserError
from rnnhw.spec.weights import quantize_weights, random_weights

TEST_SIZE = 540  # digits test split


@pytest.fixture(scope="module")
def test_split():
    return digits("test")


@pytest.fixture(scope="module")
def train_split():
    return digits("train")


# Correct test predictions (of 540) and float/fixed agreements at the default 16-bit numerics.
BUNDLED_16_BIT = {"digits_lstm": (527, 528, 539), "digits_gru": (523, 522, 539),
                  "digits_gru_before": (529, 529, 540), "digits_jordan": (514, 513, 539),
                  "digits_bilstm": (529, 529, 540)}
# Largest |fixed - float| of the final h: the Jordan cell feeds back its unsquashed outputs y (scores),
# so its h errors are larger than the gated cells'.
# The bidirectional LSTM's final vector holds both directions' states (measured 0.060).
STATE_ERROR = {"digits_jordan": 0.15, "digits_bilstm": 0.07}


@pytest.mark.parametrize("name", EXAMPLES)
def test_bundled_models_meet_the_16_bit_targets(name, test_split):
    report = measure_accuracy(example_config(name), example_weights(name), test_split)
    float_correct, fixed_correct, agree = BUNDLED_16_BIT[name]
    assert report.float_accuracy == float_correct / TEST_SIZE
    assert report.fixed.accuracy == fixed_correct / TEST_SIZE
    assert report.fixed.agreement == agree / TEST_SIZE
    assert abs(report.fixed.accuracy - report.float_accuracy) <= 0.003  # within 0.3 points
    assert report.fixed.agreement >= 0.995
    assert report.float_accuracy >= 0.95
    assert report.fixed.input_saturated == 0 and report.fixed.weights_saturated["weight"][0] == 0
    assert report.fixed.max_abs_err < 0.2 and report.fixed.state_max_abs_err < STATE_ERROR.get(name, 0.05)


# Correct predictions and agreements of the calibrated uniform sweep at 8 and 10 bits.
BUNDLED_SWEEP = {
    "digits_lstm": [(8, 527, 540), (10, 528, 539)],
    "digits_gru": [(8, 522, 539), (10, 523, 540)],
    "digits_gru_before": [(8, 528, 539), (10, 529, 540)],
    "digits_jordan": [(8, 515, 522), (10, 513, 536)],
    "digits_bilstm": [(8, 527, 538), (10, 529, 540)],
}


@pytest.mark.parametrize("name", EXAMPLES)
def test_bundled_models_meet_the_calibrated_sweep_targets(name, test_split, train_split):
    report = measure_accuracy(example_config(name), example_weights(name), test_split,
                              calibration_data=train_split, widths=(8, 10))
    assert [(p.bits, round(p.evaluation.accuracy * TEST_SIZE), round(p.evaluation.agreement * TEST_SIZE))
            for p in report.sweep] == BUNDLED_SWEEP[name]
    limits = {8: 0.03, 10: 0.01}
    for point in report.sweep:
        assert abs(point.evaluation.accuracy - report.float_accuracy) <= limits[point.bits]
    assert report.calibrated_on == "digits (train split)"
    assert str(report.fixed.config.numerics.accum) == "fixed<41,5>"


def test_uniform_config_formats():
    config = example_config("digits_lstm")
    ranges = Ranges(input=1.0, weight=1.9, bias=1.6, state=0.9987, cell_state=4.9, accum=11.1, output=13.5)
    numerics = uniform_config(config, 8, ranges).numerics
    assert [str(getattr(numerics, k)) for k in ("input", "weight", "bias", "state", "cell_state", "accum",
                                                 "activation", "output")] == [
        "fixed<8,2>", "fixed<8,2>", "fixed<8,2>", "fixed<8,1>", "fixed<8,4>", "fixed<25,5>", "fixed<16,2>",
        "fixed<8,5>"]
    # Without ranges each format keeps its configured integer bits, at most the width.
    numerics = uniform_config(config, 4, None).numerics
    assert [str(numerics.input), str(numerics.accum), str(numerics.activation)] == [
        "fixed<4,4>", "fixed<17,17>", "fixed<16,2>"]
    assert str(uniform_config(config, 10, None).numerics.weight) == "fixed<10,6>"
    with pytest.raises(UserError, match="sweep widths must be from 2 to 19 bits, not 20"):
        uniform_config(config, 20)


def test_parse_widths():
    assert parse_widths("10, 6,8,6") == (6, 8, 10)
    cases = [("6,x", "'x' is not a width"), ("", "'' is not a width"), ("1", "width 1 is outside 2..19"),
             ("8,20", "width 20 is outside 2..19"), ("-4", "'-4' is not a width"),
             ("²", "'²' is not a width")]
    for text, message in cases:
        with pytest.raises(UserError, match=message):
            parse_widths(text)


def _regression_setup(return_sequences: bool):
    model = {"cell": "gru", "input_size": 2, "hidden_size": 4, "head": 0 if return_sequences else 3,
             "return_sequences": return_sequences}
    config = config_from_dict({"model": model, "hardware": {"lanes": 2}})
    weights = random_weights(config, seed=5, scale=0.8)
    rng = np.random.default_rng(2)
    x, lengths = rng.uniform(-1, 1, size=(9, 5, 2)), rng.integers(1, 6, size=9)
    shape = (9, 5, 4) if return_sequences else (9, 3)
    return config, weights, Dataset("synthetic", x, lengths, targets=rng.normal(size=shape))


@pytest.mark.parametrize("return_sequences", [False, True])
def test_regression_reports_mse(return_sequences):
    config, weights, data = _regression_setup(return_sequences)
    report = measure_accuracy(config, weights, data, widths=(8, 12))
    reference = float_forward(config, weights, data.x, data.lengths).outputs
    golden = GoldenModel(config, quantize_weights(weights, config, warn=False))
    fixed = golden.run(golden.quantize_inputs(data.x)[0], data.lengths).to_float()
    valid = data.valid_steps() if return_sequences else np.ones(9, dtype=bool)
    assert report.float_mse == np.mean(((reference - data.targets) ** 2)[valid])
    assert report.fixed.mse == np.mean(((fixed - data.targets) ** 2)[valid])
    assert report.fixed.max_abs_err == np.abs(fixed - reference)[valid].max()
    assert report.fixed.mean_abs_err == np.abs(fixed - reference)[valid].mean()
    assert report.float_accuracy is None and report.fixed.accuracy is None and report.fixed.agreement is None
    doc = report.to_json()
    assert doc["float"] == {"accuracy": None, "mse": report.float_mse, "label_error_rate": None}
    sweep = [(p["bits"], p["accuracy"], p["agreement"]) for p in doc["sweep"]]
    assert sweep == [(8, None, None), (12, None, None)]
    assert report_lines(report)[2] == f"float reference: MSE {report.float_mse:.6g}"


def test_final_state_errors_cover_every_layer():
    config = config_from_dict({"model": {"cell": "lstm", "input_size": 2, "hidden_size": 3, "num_layers": 2,
                                         "head": 2}, "hardware": {"lanes": 1}})
    weights = random_weights(config, seed=1)
    x = np.random.default_rng(0).uniform(-1, 1, size=(4, 3, 2))
    data = Dataset("d", x, labels=np.array([0, 1, 1, 0]))
    reference = float_reference(config, weights, data)
    evaluation = evaluate_fixed(config, weights, data, reference)
    golden = GoldenModel(config, quantize_weights(weights, config, warn=False))
    result = golden.run(golden.quantize_inputs(data.x)[0])
    state = config.numerics.state
    pairs = zip(result.final_h, reference.final_h, strict=True)
    diffs = np.concatenate([np.abs(state.to_float(h) - f).ravel() for h, f in pairs])
    assert evaluation.state_max_abs_err == diffs.max() and evaluation.state_mean_abs_err == diffs.mean()


def test_single_output_predicts_class_one_when_positive():
    assert predictions(np.array([[0.5], [0.0], [-1.0]])).tolist() == [1, 0, 0]
    assert predictions(np.array([[0.1, 0.3, 0.2]])).tolist() == [1]


def test_batches_give_the_same_results(test_split):
    config, weights = example_config("digits_gru"), example_weights("digits_gru")
    data = test_split.subset(30)
    golden = GoldenModel(config, quantize_weights(weights, config))
    x_int = golden.quantize_inputs(data.x)[0]
    whole, whole_float = run_golden(golden, x_int, None), float_reference(config, weights, data)
    saved = calibration.BATCH_ELEMENTS
    calibration.BATCH_ELEMENTS = 8 * 3 * 32 * 7  # 7 sequences per batch
    try:
        parts, parts_float = run_golden(golden, x_int, None), float_reference(config, weights, data)
    finally:
        calibration.BATCH_ELEMENTS = saved
    assert np.array_equal(whole.outputs, parts.outputs) and np.array_equal(whole.final_h[0], parts.final_h[0])
    assert np.allclose(whole_float.outputs, parts_float.outputs, rtol=1e-12, atol=1e-12)  # BLAS sums by size


def test_accuracy_command_json_plot_and_text(tmp_path, capsys):
    config_path, weights_path = example_paths("digits_lstm")
    json_path, plot_path = tmp_path / "r.json", tmp_path / "p.png"
    assert main(["accuracy", str(config_path), "--weights", str(weights_path), "--data", "digits",
                 "--calibrate", "--sweep", "8,10", "--json", str(json_path), "--plot", str(plot_path)]) == 0
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert lines[0] == "data: digits (test split): 540 sequences of 8 steps x 8 features, 10 classes"
    assert lines[2] == "  (integer bits calibrated on digits (train split))"
    assert lines[3] == "float reference: accuracy 97.59%"
    assert lines[4] == "fixed point:     accuracy 97.78% (+0.19 points), label agreement with float 99.81%"
    assert lines[-2:] == [f"wrote {json_path}", f"wrote {plot_path}"]
    assert "calibrating on the float reference: 1,257/1,257 (100%)" in captured.err
    doc = json.loads(json_path.read_text())
    assert doc["float"]["accuracy"] == 527 / 540
    assert doc["fixed"]["accuracy"] == 528 / 540 and doc["fixed"]["agreement"] == 539 / 540
    assert doc["fixed"]["max_abs_err"] > 0 and "rtl" not in doc
    assert [(p["bits"], round(p["accuracy"] * 540), round(p["agreement"] * 540)) for p in doc["sweep"]] == [
        (8, 527, 540), (10, 528, 539)]
    assert doc["sweep"][0]["numerics"]["weight"] == "fixed<8,2>"
    assert doc["numerics"]["state"] == "fixed<16,1>"
    assert doc["calibration"]["data"] == "digits (train split)"
    assert doc["calibration"]["max_abs"]["input"] == 1.0
    assert plot_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_of_a_regression_sweep(tmp_path):
    config, weights, data = _regression_setup(False)
    report = measure_accuracy(config, weights, data, calibration_data=data, widths=(6, 10))
    write_plot(report, tmp_path / "p.png")
    assert (tmp_path / "p.png").read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(ValueError, match="no sweep"):
        write_plot(measure_accuracy(config, weights, data), tmp_path / "q.png")


def test_accuracy_command_errors(tmp_path, capsys):
    config_path, weights_path = (str(p) for p in example_paths("digits_lstm"))
    gru_weights = str(example_paths("digits_gru")[1])
    unlabelled, wide = tmp_path / "x.npz", tmp_path / "wide.npz"
    np.savez(unlabelled, X=np.zeros((2, 8, 8)))
    np.savez(wide, X=np.zeros((2, 8, 5)), y=np.array([0, 1]))
    many = tmp_path / "many.npz"
    np.savez(many, X=np.zeros((2, 8, 8)), y=np.array([0, 10]))
    base = [config_path, "--weights", weights_path, "--data", "digits"]
    cases = [
        (["--sweep", "6,x"], "--sweep '6,x': 'x' is not a width"),
        (["--sweep", "40"], "width 40 is outside 2..19"),
        (["--rtl", "0"], "--rtl must be from 1 to 1,000,000, not 0"),
        (["--plot", str(tmp_path / "p.png")], "--plot draws the sweep; add --sweep"),
        (["--sweep", "--plot", str(tmp_path / "p.svg")], "--plot '"),
        (["--json", str(tmp_path / "r.txt")], "the file name must end in .json"),
        (["--json", str(tmp_path / "no" / "r.json")], "does not exist"),
    ]
    replaced = [
        ([str(tmp_path / "c.toml"), "--weights", weights_path, "--data", "digits"], "configuration file"),
        ([config_path, "--weights", gru_weights, "--data", "digits"],
         "weight_ih_l0 has shape [96, 8], expected"),
        ([config_path, "--weights", weights_path, "--data", str(unlabelled)], "no y, Y or labels"),
        ([config_path, "--weights", weights_path, "--data", str(wide)],
         "X has shape [2, 8, 5] but the model reads 8"),
        ([config_path, "--weights", weights_path, "--data", str(many)],
         "y holds label 10 but the model has 10 outputs"),
        ([config_path, "--weights", weights_path, "--data", str(tmp_path / "none.npz")], "does not exist"),
    ]
    for argv, message in [(base + extra, m) for extra, m in cases] + replaced:
        before = sorted(p.name for p in tmp_path.iterdir())
        assert main(["accuracy", *argv]) == 2, argv
        err = capsys.readouterr().err
        assert err.startswith("rnnhw accuracy: error: ") and err.count("\n") == 1 and message in err, err
        assert sorted(p.name for p in tmp_path.iterdir()) == before


@pytest.mark.sim
def test_accuracy_command_checks_the_rtl(tmp_path, capsys):
    """``--rtl N`` simulates the generated hardware (Verilator) on the first N sequences: bit-exact."""
    config_path, weights_path = example_paths("digits_lstm")
    report = tmp_path / "r.json"
    status = main(["accuracy", str(config_path), "--weights", str(weights_path), "--data", "digits",
                   "--rtl", "4", "--json", str(report)])
    out = capsys.readouterr().out
    assert status == 0
    rtl = json.loads(report.read_text())["rtl"]
    assert rtl["bit_exact"] is True and rtl["mismatches"] == 0 and rtl["sequences"] == 4
    assert "bit-exact with the golden model" in out


def _ctc_setup():
    from rnnhw.datasets import digit_strings

    config = config_from_dict({"model": {"cell": "gru", "input_size": 8, "hidden_size": 6, "head": 11,
                                         "return_sequences": True, "ctc_blank": 10}, "hardware": {"lanes": 6}})
    return config, random_weights(config, 4, scale=1.5), digit_strings("test").subset(40)


def test_ctc_model_reports_sequence_accuracy_label_error_rate_and_agreement(tmp_path):
    from rnnhw.accuracy import measure_accuracy, report_lines, write_plot
    from rnnhw.golden.float_ref import float_forward
    from rnnhw.golden.model import GoldenModel
    from rnnhw.sequence_metrics import label_error_rate, sequence_accuracy
    from rnnhw.spec.ctc import greedy_decode
    from rnnhw.spec.weights import quantize_weights

    config, weights, data = _ctc_setup()
    config = config.replace("numerics", state="fixed<6,2>", weight="fixed<6,2>")  # coarse: decodings differ
    report = measure_accuracy(config, weights, data, widths=(4, 16))
    floats = greedy_decode(float_forward(config, weights, data.x, data.lengths).outputs, data.lengths, 10)
    model = GoldenModel(config, quantize_weights(weights, config, warn=False))
    fixed = model.run(model.quantize_inputs(data.x)[0], data.lengths).labels
    assert report.float_accuracy == sequence_accuracy(floats, data.sequences)
    assert report.float_label_error_rate == label_error_rate(floats, data.sequences) > 0
    assert report.fixed.accuracy == sequence_accuracy(fixed, data.sequences)
    assert report.fixed.label_error_rate == label_error_rate(fixed, data.sequences)
    assert report.fixed.agreement == sequence_accuracy(fixed, floats) < 1.0
    assert [p.evaluation.label_error_rate is not None for p in report.sweep] == [True, True]
    doc = report.to_json()
    assert doc["data"]["task"] == "ctc" and doc["float"]["label_error_rate"] == report.float_label_error_rate
    assert doc["fixed"]["label_error_rate"] == report.fixed.label_error_rate
    assert doc["sweep"][1]["label_error_rate"] == report.sweep[1].evaluation.label_error_rate
    lines = report_lines(report)
    assert lines[0].endswith("40 sequences of 40 steps x 8 features, label sequences (CTC)")
    assert any(line.startswith("float reference: sequence accuracy ") and "label error rate" in line
               for line in lines)
    assert any("decoded strings equal to float's" in line for line in lines)
    assert any("seq. acc.  label err.  agreement" in line for line in lines)
    write_plot(report, tmp_path / "p.png")
    assert (tmp_path / "p.png").read_bytes().startswith(b"\x89PNG")


def test_ctc_model_calibrates_on_label_sequence_data():
    from rnnhw.accuracy import measure_accuracy

    config, weights, data = _ctc_setup()
    report = measure_accuracy(config, weights, data, calibration_data=data, widths=(8,))
    assert report.ranges is not None and report.fixed.config.model.ctc_blank == 10
    assert report.ranges.output is not None and report.sweep[0].evaluation.label_error_rate is not None


def test_bundled_ctc_example_decodes_digit_strings():
    """``examples/digit_strings_lstm`` (numbers in docs/BENCHMARKS.md): a CTC model that reads digit strings."""
    from rnnhw.accuracy import measure_accuracy
    from rnnhw.datasets import digit_strings
    from rnnhw.examples import CTC_EXAMPLES

    assert CTC_EXAMPLES == ("digit_strings_lstm",)
    config, weights = example_config("digit_strings_lstm"), example_weights("digit_strings_lstm")
    assert (config.model.cell, config.model.head, config.model.ctc_blank) == ("lstm", 11, 10)
    report = measure_accuracy(config, weights, digit_strings("test"))
    assert report.float_label_error_rate < 0.025 and report.float_accuracy > 0.93
    assert report.fixed.label_error_rate < report.float_label_error_rate + 0.002
    assert report.fixed.agreement >= 0.99


def test_accuracy_command_on_the_ctc_example(tmp_path, capsys):
    config_path, weights_path = example_paths("digit_strings_lstm")
    status = main(["accuracy", str(config_path), "--weights", str(weights_path), "--data", "digit-strings",
                   "--calibrate", "--sweep", "8,10", "--json", str(tmp_path / "r.json"), "--plot",
                   str(tmp_path / "p.png")])
    out = capsys.readouterr().out
    assert status == 0 and "(integer bits calibrated on digit-strings (train split))" in out
    doc = json.loads((tmp_path / "r.json").read_text())
    assert doc["data"]["task"] == "ctc" and doc["calibration"]["data"] == "digit-strings (train split)"
    assert [p["bits"] for p in doc["sweep"]] == [8, 10] and all(p["label_error_rate"] < 0.05 for p in doc["sweep"])
    assert f"label error rate {100 * doc['float']['label_error_rate']:.2f}%" in out
    status = main(["accuracy", str(config_path), "--weights", str(weights_path), "--data", "digits"])
    err = capsys.readouterr().err
    assert status == 2 and "the model decodes CTC label sequences (model.ctc_blank)" in err

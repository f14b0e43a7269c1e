"""``rnnhw simulate`` on the stand-in design (``--verilog``), whose golden twin is an identity Elman ReLU."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from rnnhw.cli import main
from rnnhw.golden.model import GoldenModel
from rnnhw.spec.weights import LayerWeights, Weights, quantize_weights, save_weights

from .standin import identity_relu_weights, standin_reference, standin_verilog
from .test_sim_runner import BUILD, COMPUTE, FINAL, LENGTHS, inputs

pytestmark = pytest.mark.sim


def _double_layer():
    """Identity weights but unit 4 takes input 1 twice, so the golden model differs there."""
    layer = identity_relu_weights(FINAL).layers[0]
    w_ih = layer.weight_ih.copy()
    w_ih[4, 1] = 2.0
    return w_ih, layer.weight_hh, layer.bias_ih, layer.bias_hh


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("simulate")
    (folder / "config.toml").write_text(FINAL.to_toml())
    save_weights(identity_relu_weights(FINAL), folder / "identity.npz")
    save_weights(Weights(layers=(LayerWeights(*_double_layer()),)), folder / "double.npz")
    x_int = inputs(FINAL, low=-300, high=900, seed=8)
    np.save(folder / "x.npy", x_int * FINAL.numerics.input.resolution)
    np.save(folder / "lengths.npy", LENGTHS)
    (folder / "standin.v").write_text(standin_verilog(FINAL, compute_cycles=COMPUTE))
    return folder, x_int


def simulate(folder, *options):
    return main(["simulate", str(folder / "config.toml"), "--inputs", str(folder / "x.npy"), "--lengths",
                 str(folder / "lengths.npy"), "--verilog", str(folder / "standin.v"),
                 "--build-dir", str(BUILD),
                 *options])


def test_bit_exact_run_prints_summary_and_writes_json(files, capsys):
    folder, _ = files
    status = simulate(folder, "--weights", str(folder / "identity.npz"), "--json", str(folder / "r.json"))
    out, err = capsys.readouterr()
    assert status == 0
    assert "bit-exact: yes" in out
    assert "cycles: 118 in total, 8.4 per timestep; bound 20 per timestep; utilization 237.3%" in out
    assert re.search(r"^  simulating: cycle [\d,]+, output vectors: 4/4 \(100%\), [\d.]+ s$", err, re.M)
    summary = json.loads((folder / "r.json").read_text())
    assert {k: summary[k] for k in ("bit_exact", "mismatches", "sequences", "timesteps", "cycles",
                                    "bound_cycles_per_step", "simulator")} == {
        "bit_exact": True, "mismatches": 0, "sequences": 4, "timesteps": 14, "cycles": 118,
        "bound_cycles_per_step": 20, "simulator": "verilator"}
    assert summary["cycles_per_step"] == 118 / 14 and summary["utilization"] == 20 / (118 / 14)
    assert summary["wall_seconds"] > 0


def test_mismatch_exits_1_naming_the_first_difference(files, capsys):
    folder, x_int = files
    status = simulate(folder, "--weights", str(folder / "double.npz"), "--backpressure")
    out, err = capsys.readouterr()
    assert status == 1
    qweights = quantize_weights(Weights(layers=(LayerWeights(*_double_layer()),)), FINAL)
    golden = GoldenModel(FINAL, qweights).run(x_int, LENGTHS).outputs
    rtl = standin_reference(FINAL, x_int, LENGTHS)
    differ = np.argwhere(golden != rtl)
    assert len(differ) and set(differ[:, 1]) == {4}
    n = differ[0, 0]
    first = f"sequence {n}, timestep {LENGTHS[n] - 1}, unit 4: rtl {rtl[n, 4]}, golden {golden[n, 4]}"
    assert err.splitlines()[-1] == (f"rnnhw simulate: error: the RTL differs from the golden model in "
                                    f"{len(differ)} element(s); first: {first}")
    assert f"bit-exact: NO ({len(differ)} mismatching element(s)); first: {first}" in out


def test_waves_and_output_dir(files, capsys, tmp_path):
    folder, x_int = files
    out_dir = tmp_path / "run"
    status = simulate(folder, "--weights", str(folder / "identity.npz"), "--waves", "-o", str(out_dir))
    out, _ = capsys.readouterr()
    assert status == 0
    waves = [p for p in out_dir.iterdir() if p.suffix in (".fst", ".vcd")]
    assert len(waves) == 1 and waves[0].stat().st_size > 1000
    assert f"waves: {waves[0].resolve()}" in out
    rtl = np.load(out_dir / "rtl_outputs.npy")
    np.testing.assert_array_equal(rtl, standin_reference(FINAL, x_int, LENGTHS))
    np.testing.assert_array_equal(np.load(out_dir / "golden_outputs.npy"), rtl)
    assert json.loads((out_dir / "summary.json").read_text())["waves_path"] == str(waves[0].resolve())


def test_missing_verilog_file_is_a_user_error(files, capsys):
    folder, _ = files
    status = main(["simulate", str(folder / "config.toml"), "--inputs", str(folder / "x.npy"),
                   "--random-weights", "1", "--verilog", str(folder / "missing.v"),
                   "--json", str(folder / "never.json")])
    assert status == 2
    assert capsys.readouterr().err.strip() == (f"rnnhw simulate: error: Verilog file "
                                               f"{str(folder / 'missing.v')!r} does not exist")
    assert not (folder / "never.json").exists()


def test_icarus_missing_is_a_user_error(files, capsys, monkeypatch, tmp_path):
    folder, _ = files
    monkeypatch.setenv("PATH", str(tmp_path))
    status = simulate(folder, "--weights", str(folder / "identity.npz"), "--sim", "icarus")
    assert status == 2
    assert "Icarus Verilog (iverilog, vvp) not found" in capsys.readouterr().err

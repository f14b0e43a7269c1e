"""``rnnhw sweep`` on the digits LSTM: lanes x width with ECP5 synthesis, serially and on the local cluster.

Run ``python bench/sweep.py`` (``--phases cluster,serial`` to choose the runs, ``--write-only`` to only
write the section from the runs' directories, ``--no-write`` to only run). The grid is
lanes {1, 2, 4, 8, 16, 32} x width {6, 8, 10, 12, 16} of ``examples/digits_lstm`` (calibrated on the
digits train split, accuracy on the test split, ECP5 LFE5UM-85F synthesis and place and route at the
150 MHz constraint): 30 syntheses. Each phase is one ``rnnhw sweep`` command run from an empty
directory (nothing cached) under ``build/bench/sweep/``: ``cluster`` on the default local Dask cluster
(one worker process per core), ``serial`` with ``--serial``. A phase stopped before the end is
reported with the points it finished. The section of ``docs/BENCHMARKS.md`` gets the wall times, the
results table and the Pareto plots (copied to ``docs/``).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

try:
    from .benchmarks_md import BENCHMARKS_MD, machine_line, replace_section
    from .versions import tool_versions
except ImportError:  # run as a script
    from benchmarks_md import BENCHMARKS_MD, machine_line, replace_section
    from versions import tool_versions

__all__ = ["SPEC", "PHASES", "run_phase", "phase_record", "section", "main"]

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "build" / "bench" / "sweep"
DOCS = BENCHMARKS_MD.parent
LANES = (1, 2, 4, 8, 16, 32)
WIDTHS = (6, 8, 10, 12, 16)
PHASES = ("cluster", "serial")
PLOTS = {"pareto_latency.png": "sweep_pareto_latency.png", "pareto_resources.png": "sweep_pareto_resources.png"}

SPEC = f"""\
[base]
config = "{ROOT / 'examples' / 'digits_lstm.toml'}"
weights = "{ROOT / 'examples' / 'digits_lstm.npz'}"
data = "digits"

[axes]
lanes = {list(LANES)}
width = {list(WIDTHS)}

[evaluate]
calibrate = true
cycles = true
synth = "ecp5"

[constraints]
max_accuracy_loss = 1.0
max_latency_us = 5.0
device = "LFE5UM-85F"
"""


def _say(text: str) -> None:
    print(f"sweep bench: {text}", file=sys.stderr, flush=True)


def run_phase(phase: str) -> None:
    """One ``rnnhw sweep`` from scratch; its wall time goes to ``WORK/<phase>.json``."""
    out = WORK / phase
    shutil.rmtree(out, ignore_errors=True)
    WORK.mkdir(parents=True, exist_ok=True)
    (WORK / "spec.toml").write_text(SPEC)
    command = [str(Path(sys.executable).parent / "rnnhw"), "sweep", str(WORK / "spec.toml"), "-o", str(out)]
    if phase == "serial":
        command.append("--serial")
    record = {"phase": phase, "start": time.time(), "end": None, "seconds": None, "command": command[1:]}
    (WORK / f"{phase}.json").write_text(json.dumps(record, indent=1))
    _say(f"{phase}: {' '.join(command[1:])}")
    status = subprocess.run(command, cwd=ROOT).returncode
    record["end"] = time.time()
    record["seconds"] = round(record["end"] - record["start"], 1)
    record["status"] = status
    (WORK / f"{phase}.json").write_text(json.dumps(record, indent=1))
    _say(f"{phase}: exit {status} after {record['seconds'] / 60:.1f} min")


def phase_record(phase: str) -> dict | None:
    """The phase's wall time, or for a stopped phase the points it finished and when the last one did."""
    path = WORK / f"{phase}.json"
    if not path.exists():
        return None
    record = json.loads(path.read_text())
    cached = sorted((WORK / phase / "points").glob("*.json")) if (WORK / phase / "points").is_dir() else []
    record["points_done"] = len(cached)
    if record["end"] is None and cached:
        record["last_point_after"] = round(max(p.stat().st_mtime for p in cached) - record["start"], 1)
    return record


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min"


def _rows(phase: str) -> list[dict]:
    path = WORK / phase / "results.csv"
    if not path.exists():
        return []
    with open(path) as handle:
        return list(csv.DictReader(handle))


def _number(text: str, spec: str) -> str:
    return format(float(text), spec) if text else "—"


def results_table(rows: list[dict]) -> str:
    lines = ["| lanes | W | accuracy (%) | loss (points) | cycles/step | LUTs | FFs | DSPs | BRAMs | Fmax (MHz) "
             "| latency/step (µs) | status |", "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        lines.append(f"| {r['lanes']} | {r['width']} | {_number(r['accuracy'], '.2f')} "
                     f"| {_number(r['accuracy_loss'], '+.2f')} | {r['cycles_per_step']} | {r['luts'] or '—'} "
                     f"| {r['ffs'] or '—'} | {r['dsps'] or '—'} | {r['brams'] or '—'} "
                     f"| {_number(r['fmax_mhz'], '.1f')} | {_number(r['latency_us'], '.2f')} "
                     f"| {r['status']}{': ' + r['reason'] if r['reason'] else ''} |")
    return "\n".join(lines)


def _time_line(phase: str, record: dict | None) -> str:
    what = {"cluster": f"local Dask cluster ({os.cpu_count()} single-threaded worker processes)",
            "serial": "serially (`--serial`)"}[phase]
    if record is None:
        return f"| {what} | not run | |"
    if record["end"] is not None:
        return f"| {what} | {_minutes(record['seconds'])} | all {record['points_done']} points |"
    last = record.get("last_point_after")
    done = f"{record['points_done']} of {len(LANES) * len(WIDTHS)} points"
    return f"| {what} | stopped | {done}" + (f", the last after {_minutes(last)}" if last else "") + " |"


def section(records: dict, rows: list[dict], report: str) -> str:
    recommended = report.split("## Recommended point", 1)[1].split("## Pareto", 1)[0].strip() if report else ""
    equal = ""
    serial, cluster = _rows("serial"), _rows("cluster")
    if serial and cluster:
        equal = ("The serial run's results.csv equals the cluster run's." if serial == cluster
                 else "**The serial and cluster results differ.**")
    lines = [
        "## Design-space exploration (`rnnhw sweep`)", "",
        "Written by `bench/sweep.py`. `examples/digits_lstm` (LSTM, hidden 32, head 10) over lanes "
        f"{{{', '.join(map(str, LANES))}}} x uniform width W {{{', '.join(map(str, WIDTHS))}}} (calibrated on "
        "the digits train split, accuracy on the test split; accum 2W+9 bits), each point synthesised, placed "
        "and routed for the ECP5 LFE5UM-85F (150 MHz constraint). Each run starts from an empty output "
        "directory (nothing cached).", "",
        f"Machine: {machine_line()}, {os.cpu_count()} cores shared with other jobs (the timings are "
        f"noisy). Tools: {tool_versions(synthesis=True)}.", "",
        "| run | wall time | points |", "|---|---:|---|",
        *(_time_line(phase, records.get(phase)) for phase in PHASES), "",
    ]
    if equal:
        lines += [equal, ""]
    if rows:
        lines += [results_table(rows), ""]
    if recommended:
        lines += ["Recommended under max_accuracy_loss = 1.0, max_latency_us = 5.0, device = LFE5UM-85F: "
                  + recommended.replace("\n\n", "\n\n", 1), ""]
    for source, target in PLOTS.items():
        if (DOCS / target).exists():
            lines.append(f"![{source}]({target})")
    return "\n".join(lines) + "\n"


def write(source_phase: str | None) -> None:
    records = {phase: phase_record(phase) for phase in PHASES}
    rows, report = [], ""
    if source_phase is not None:
        rows = _rows(source_phase)
        report_path = WORK / source_phase / "report.md"
        report = report_path.read_text() if report_path.exists() else ""
        for source, target in PLOTS.items():
            if (WORK / source_phase / source).exists():
                shutil.copyfile(WORK / source_phase / source, DOCS / target)
    replace_section("sweep", section(records, rows, report))
    _say(f"wrote the sweep section of {BENCHMARKS_MD}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--phases", default=",".join(PHASES), help="runs, in order (default: cluster,serial)")
    parser.add_argument("--write-only", action="store_true", help="only write the section from earlier runs")
    parser.add_argument("--no-write", action="store_true", help="do not write docs/BENCHMARKS.md")
    args = parser.parse_args(argv)
    phases = [p for p in args.phases.split(",") if p]
    unknown = [p for p in phases if p not in PHASES]
    if unknown:
        parser.error(f"unknown phase {unknown[0]!r}; phases are {', '.join(PHASES)}")
    if not args.write_only:
        for phase in phases:
            run_phase(phase)
            if not args.no_write:
                write(_finished_phase())
    elif not args.no_write:
        write(_finished_phase())
    return 0


def _finished_phase() -> str | None:
    """The phase whose results fill the table: a finished one, the cluster's first."""
    for phase in PHASES:
        record = phase_record(phase)
        if record is not None and record["end"] is not None and (WORK / phase / "results.csv").exists():
            return phase
    return None


if __name__ == "__main__":
    sys.exit(main())

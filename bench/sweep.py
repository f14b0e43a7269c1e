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
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

try:
    from .benchmarks_md import BENCHMARKS_MD, machine_line, replace_section
    from .versions import source_revision, tool_versions
except ImportError:  # run as a script
    from benchmarks_md import BENCHMARKS_MD, machine_line, replace_section
    from versions import source_revision, tool_versions

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
    record = {"phase": phase, "start": time.time(), "end": None, "seconds": None, "command": command[1:],
              "revision": source_revision(("rtl", "golden", "spec"))}
    (WORK / f"{phase}.json").write_text(json.dumps(record, indent=1))
    _say(f"{phase}: {' '.join(command[1:])}")
    process = subprocess.Popen(command, cwd=ROOT)
    loads = []
    while True:  # the machine's load during the run, for reading its wall time
        loads.append(os.getloadavg()[0])
        try:
            status = process.wait(timeout=15)
            break
        except subprocess.TimeoutExpired:
            pass
    record["end"] = time.time()
    record["load_average"] = round(sum(loads) / len(loads), 2) if loads else None
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
    record["point_seconds"] = round(sum(json.loads(p.read_text())["result"]["seconds"] for p in cached), 1)
    if record["end"] is None and cached:
        record["last_point_after"] = round(max(p.stat().st_mtime for p in cached) - record["start"], 1)
    return record


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min"


def finished_rows(phase: str):
    """(rows as in results.csv, the spec, the recommended row) of the points a phase finished, in grid order.

    Read from the run's per-point cache files, so a run stopped half-way gives the points it finished.
    """
    from rnnhw.sweep.points import Point, PointResult
    from rnnhw.sweep.report import Baseline, recommend, rows
    from rnnhw.sweep.run import prepare
    from rnnhw.sweep.spec import load_spec

    folder = WORK / phase / "points"
    if not (WORK / "spec.toml").exists() or not folder.is_dir():
        return [], None, None
    spec = load_spec(WORK / "spec.toml")
    points, _, baseline = prepare(spec)
    found = {}
    for path in folder.glob("[0-9a-f]*.json"):
        doc = json.loads(path.read_text())
        found[json.dumps(doc["point"], sort_keys=True)] = PointResult.from_json(doc["result"])
    done, results = [], {}
    for point in points:
        result = found.get(json.dumps(point.values, sort_keys=True))
        if result is not None:
            done.append(Point(point.index, point.values, None))
            results[point.index] = result
    table = rows(done, results, spec, Baseline(baseline.float_accuracy, baseline.float_mse, spec.clock_mhz))
    return table, spec, recommend(table, spec)


def _number(value, spec: str) -> str:
    return "—" if value is None or value == "" else format(float(value), spec)


def _plain(value) -> str:
    return "—" if value is None else str(value)


def results_table(rows: list[dict]) -> str:
    lines = ["| lanes | W | accuracy (%) | loss (points) | cycles/step | LUTs | FFs | DSPs | BRAMs | Fmax (MHz) "
             "| latency/step (µs) | status |", "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        lines.append(f"| {r['lanes']} | {r['width']} | {_number(r['accuracy'], '.2f')} "
                     f"| {_number(r['accuracy_loss'], '+.2f')} | {_plain(r['cycles_per_step'])} "
                     f"| {_plain(r['luts'])} | {_plain(r['ffs'])} | {_plain(r['dsps'])} | {_plain(r['brams'])} "
                     f"| {_number(r['fmax_mhz'], '.1f')} | {_number(r['latency_us'], '.2f')} "
                     f"| {r['status']}{': ' + r['reason'] if r['reason'] else ''} |")
    return "\n".join(lines)


def _time_line(phase: str, record: dict | None) -> str:
    what = {"cluster": f"local Dask cluster ({os.cpu_count()} single-threaded worker processes)",
            "serial": "serially (`--serial`)"}[phase]
    if record is None:
        return f"| {what} | not run | |"
    if record["end"] is not None:
        load = record.get("load_average")
        load = f"; mean load average {load:.1f}" if load is not None else ""
        each = record["point_seconds"] / max(record["points_done"], 1)
        return (f"| {what} | {_minutes(record['seconds'])} | all {record['points_done']} points, whose evaluations "
                f"took {_minutes(record['point_seconds'])} together ({each:.0f} s each on average){load} |")
    last = record.get("last_point_after")
    done = f"{record['points_done']} of {len(LANES) * len(WIDTHS)} points"
    if last:
        done += (f", the last after {_minutes(last)}; their evaluations took {_minutes(record['point_seconds'])} "
                 "together")
    return f"| {what} | stopped unfinished | {done} |"


def _recommended_text(row: dict | None, spec) -> str:
    if spec is None:
        return ""
    head = "Recommended under max_accuracy_loss = 1.0, max_latency_us = 5.0, device = LFE5UM-85F"
    if row is None:
        return f"{head}: no finished point meets the constraints."
    return (f"{head} (the fewest LUTs, then DSPs, block RAMs, flip-flops, latency, among the finished points): "
            f"**lanes = {row['lanes']}, W = {row['width']}**: accuracy {row['accuracy']:.2f}% "
            f"({row['accuracy_loss']:+.2f} points), {row['latency_us']:.2f} µs per step at {row['fmax_mhz']:.1f} MHz, "
            f"{row['luts']:,} LUTs, {row['dsps']} DSPs, {row['brams']} BRAMs.")


def _revisions(records: dict) -> str:
    """The commit(s) the runs generated their designs from."""
    found = sorted({r.get("revision") or "unknown" for r in records.values() if r is not None})
    return " and ".join(found) or "unknown"


def section(records: dict, rows: list[dict], recommended: str, equal: str) -> str:
    lines = [
        "## Design-space exploration (`rnnhw sweep`)", "",
        "Written by `bench/sweep.py`. `examples/digits_lstm` (LSTM, hidden 32, head 10) over lanes "
        f"{{{', '.join(map(str, LANES))}}} x uniform width W {{{', '.join(map(str, WIDTHS))}}} (calibrated on "
        "the digits train split, accuracy on the test split; accum 2W+9 bits), each point synthesised, placed "
        "and routed for the ECP5 LFE5UM-85F (150 MHz constraint). Each run starts from an empty output "
        "directory (nothing cached).", "",
        f"Machine: {machine_line()}, {os.cpu_count()} cores shared with other jobs (each run's mean "
        "1-minute load average is in its row; a load above the core count means other jobs took part "
        "of the machine). "
        f"Tools: {tool_versions(synthesis=True)}. "
        f"RTL and golden model of commit {_revisions(records)}.", "",
        "| run | wall time | points |", "|---|---:|---|",
        *(_time_line(phase, records.get(phase)) for phase in PHASES), "",
    ]
    unfinished = [p for p in PHASES if records.get(p) is None or records[p]["end"] is None]
    if unfinished:
        lines += ["A run marked *stopped unfinished* was stopped before its end (the time available for the "
                  "benchmark ran out); *not run* had not started, so there is no serial time to compare with yet. "
                  "`python bench/sweep.py` runs both from scratch.", ""]
    finished = [records.get(p) for p in PHASES]
    if all(r is not None and r["end"] is not None for r in finished):
        cluster, serial = finished
        lines += [f"The cluster ran the sweep {serial['seconds'] / cluster['seconds']:.2f} times as fast as the serial "
                  f"run. Its {os.cpu_count()} workers evaluated points side by side, but each evaluation took "
                  f"{cluster['point_seconds'] / serial['point_seconds']:.2f} times as long as serially: two "
                  "evaluations at once did not each get a whole core's speed here (other jobs shared the "
                  "machine; see the load averages), so the speed-up stays under the worker count.", ""]
    if equal:
        lines += [equal, ""]
    if rows:
        lines += [results_table(rows), ""]
    if recommended:
        lines += [recommended, ""]
    for source, target in PLOTS.items():
        if (DOCS / target).exists():
            lines.append(f"![{source}]({target})")
    return "\n".join(lines) + "\n"


def write() -> None:
    """The section from the runs' directories: the table and plots from the first phase with results."""
    from rnnhw.sweep.report import write_plots

    records = {phase: phase_record(phase) for phase in PHASES}
    tables = {phase: finished_rows(phase) for phase in PHASES}
    source = next((phase for phase in PHASES if tables[phase][0]), None)
    rows, spec, recommended = tables[source] if source else ([], None, None)
    equal = ""
    serial, cluster = tables["serial"][0], tables["cluster"][0]
    common = [(a, b) for a in serial for b in cluster if a["lanes"] == b["lanes"] and a["width"] == b["width"]]
    if common:
        same = all(a == b for a, b in common)
        equal = (f"The {len(common)} points both runs finished have {'equal' if same else '**different**'} "
                 "results.")
    if rows:
        plots = WORK / source / "plots"
        plots.mkdir(exist_ok=True)
        for name in write_plots(rows, spec, recommended, plots):
            shutil.copyfile(plots / name, DOCS / PLOTS[name])
    replace_section("sweep", section(records, rows, _recommended_text(recommended, spec), equal))
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
                write()
    elif not args.no_write:
        write()
    return 0


if __name__ == "__main__":
    sys.exit(main())

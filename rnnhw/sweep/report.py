"""The sweep's outputs: the results table, the Pareto fronts and the recommendation.

:func:`rows` turns each point's measurements into a row of :data:`COLUMNS` (accuracy in %, the loss in
percentage points against the float model, latency per timestep in microseconds at the point's Fmax,
or at the assumed clock without it). :func:`recommend` picks the smallest point that meets the
constraints: with FPGA synthesis the fewest LUTs (then DSPs, block RAMs, flip-flops, latency); with
asic synthesis the smallest cell area (then latency); without synthesis the fewest lanes, then the
narrowest width and the smallest tables (the axes that size the hardware), then the lowest latency; a
tie goes to the higher accuracy. Cell areas (``area_um2``, ``sequential_area_um2``) are in µm² of the
asic flow's library; the FPGA columns are empty for asic, and the other way round.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass

from rnnhw.asic import DEFAULT_CLOCK_NS
from rnnhw.spec.outputs import atomic_file
from rnnhw.synth import TARGETS

from .points import Point, PointResult
from .spec import ASIC, SweepSpec, timed

__all__ = ["COLUMNS", "Baseline", "rows", "pareto_front", "recommend", "constraint_failures", "write_csv",
           "write_json", "write_plots", "report_markdown", "clock_text", "PLOTS"]

#: Columns after the axes' values, in order.
COLUMNS = ("accuracy", "accuracy_loss", "agreement", "mse", "cycles_per_step", "latency_us", "luts", "ffs",
           "dsps", "brams", "area_um2", "sequential_area_um2", "fmax_mhz", "rtl_bit_exact", "status", "reason")
#: Plot files: accuracy against latency, and against LUTs and DSPs (asic: against cell area).
PLOTS = {"latency": "pareto_latency.png", "resources": "pareto_resources.png"}


@dataclass(frozen=True)
class Baseline:
    """The float model on the data (``None`` without accuracy), and how latency is computed."""

    float_accuracy: float | None  # %
    float_mse: float | None
    clock_mhz: float  # assumed without an Fmax


def _measures_fmax(spec: SweepSpec) -> bool:
    """Whether the points' latency uses their Fmax (place and route, or an asic library with timing)."""
    return timed(spec.synth, spec.library)


def _round(value, digits: int):
    return None if value is None else round(float(value), digits)


def rows(points: list[Point], results: dict[int, PointResult], spec: SweepSpec, baseline: Baseline) -> list[dict]:
    """One row per point, in grid order (see the module docstring for the units)."""
    table = []
    for point in points:
        result = results[point.index]
        found = result.measurements
        row = dict(point.values)
        accuracy = None if found.get("accuracy") is None else 100 * found["accuracy"]
        loss = None
        if accuracy is not None and baseline.float_accuracy is not None:
            loss = baseline.float_accuracy - accuracy
        cycles = found.get("cycles_per_step")
        clock = found.get("fmax_mhz") if _measures_fmax(spec) else baseline.clock_mhz
        latency = cycles / clock if cycles is not None and clock else None
        row.update(accuracy=_round(accuracy, 4), accuracy_loss=_round(loss, 4),
                   agreement=_round(None if found.get("agreement") is None else 100 * found["agreement"], 4),
                   mse=found.get("mse"), cycles_per_step=cycles, latency_us=_round(latency, 6),
                   luts=found.get("luts"), ffs=found.get("ffs"), dsps=found.get("dsps"), brams=found.get("brams"),
                   area_um2=found.get("area_um2"), sequential_area_um2=found.get("sequential_area_um2"),
                   fmax_mhz=found.get("fmax_mhz"), rtl_bit_exact=found.get("rtl_bit_exact"),
                   status=result.status, reason=result.reason)
        table.append(row)
    return table


def _quality(row: dict, regression: bool) -> float | None:
    """Larger is better: accuracy, or minus the MSE."""
    value = row["mse"] if regression else row["accuracy"]
    return None if value is None else (-value if regression else value)


def pareto_front(table: list[dict], cost: str, regression: bool = False) -> list[dict]:
    """The ``ok`` rows no other row beats: at most the cost and at least the quality, one of them strictly.

    Sorted by cost.
    """
    candidates = [r for r in table if r["status"] == "ok" and r[cost] is not None
                  and _quality(r, regression) is not None]
    front = []
    for row in candidates:
        q = _quality(row, regression)
        beaten = any(o[cost] <= row[cost] and _quality(o, regression) >= q
                     and (o[cost] < row[cost] or _quality(o, regression) > q) for o in candidates)
        if not beaten:
            front.append(row)
    return sorted(front, key=lambda r: (r[cost], -_quality(r, regression)))


def constraint_failures(row: dict, spec: SweepSpec) -> list[str]:
    """Why a row does not meet the constraints (empty if it does)."""
    reasons = []
    if row["status"] != "ok":
        reasons.append("failed" if not spec.device else "failed (or does not fit the device)")
        return reasons
    if spec.max_accuracy_loss is not None and (row["accuracy_loss"] is None
                                               or row["accuracy_loss"] > spec.max_accuracy_loss + 1e-9):
        reasons.append(f"accuracy loss above {spec.max_accuracy_loss:g} points")
    if spec.max_latency_us is not None and (row["latency_us"] is None or row["latency_us"] > spec.max_latency_us):
        reasons.append(f"latency above {spec.max_latency_us:g} µs")
    if spec.max_area_um2 is not None and (row["area_um2"] is None or row["area_um2"] > spec.max_area_um2):
        reasons.append(f"cell area above {spec.max_area_um2:g} µm²")
    return reasons


def _size(row: dict, spec: SweepSpec) -> tuple:
    regression = row["accuracy"] is None and row["mse"] is not None
    quality = _quality(row, regression)
    tail = (row["latency_us"] if row["latency_us"] is not None else math.inf,
            -quality if quality is not None else 0.0)
    if spec.synth == ASIC:
        return (row["area_um2"], *tail)
    if spec.synth:
        return (row["luts"], row["dsps"], row["brams"], row["ffs"], *tail)
    hardware = tuple(row.get(axis, 0) for axis in ("lanes", "width", "lut_size") if axis in spec.axes)
    return (*hardware, *tail)


def recommend(table: list[dict], spec: SweepSpec) -> dict | None:
    """The smallest row that meets the constraints (see the module docstring), ``None`` if none does."""
    meeting = [row for row in table if not constraint_failures(row, spec)]
    return min(meeting, key=lambda row: _size(row, spec)) if meeting else None


def clock_text(spec: SweepSpec, baseline: Baseline) -> str:
    """How latency was computed, for the report."""
    if spec.synth == ASIC:
        clock = f"{1000 / spec.synth_freq_mhz:g} ns" if spec.synth_freq_mhz else f"{DEFAULT_CLOCK_NS:g} ns"
        if _measures_fmax(spec):
            return (f"latency per timestep = cycles per step / the point's Fmax from OpenSTA ({spec.library} cells, "
                    f"clock {clock}, no wires or clock tree)")
        return (f"latency per timestep = cycles per step / an assumed {baseline.clock_mhz:g} MHz clock "
                f"({spec.library} has no timing: no Fmax)")
    if _measures_fmax(spec):
        target = TARGETS[spec.synth]
        freq = spec.synth_freq_mhz or target.default_freq_mhz
        device = spec.device or target.default_device.name
        return (f"latency per timestep = cycles per step / the point's Fmax after place and route ({spec.synth} "
                f"{device}, clock constraint {freq:g} MHz)")
    return f"latency per timestep = cycles per step / an assumed {baseline.clock_mhz:g} MHz clock" + (
        f" ({spec.synth} is synthesis only: no Fmax)" if spec.synth else " (no synthesis; evaluate.clock_mhz)")


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def write_csv(table: list[dict], spec: SweepSpec, path) -> None:
    columns = [*spec.axes, *COLUMNS]
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(columns)
        for row in table:
            writer.writerow([_cell(row[c]) for c in columns])


def write_json(table: list[dict], spec: SweepSpec, baseline: Baseline, recommended: dict | None, runner: str,
               path) -> None:
    doc = {"spec": spec.to_json(), "runner": runner,
           "float": {"accuracy": baseline.float_accuracy, "mse": baseline.float_mse},
           "latency": clock_text(spec, baseline), "points": table,
           "recommended": None if recommended is None else table.index(recommended)}
    with open(path, "w") as handle:
        handle.write(json.dumps(doc, indent=1) + "\n")


def _label(row: dict, spec: SweepSpec) -> str:
    return " ".join(f"{axis}={_cell(row[axis])}" for axis in spec.axes) or "base"


def _front_panel(axes, table, cost: str, label: str, regression: bool, recommended, log: bool) -> None:
    ok = [r for r in table if r["status"] == "ok" and r[cost] is not None and _quality(r, regression) is not None]
    metric = "mse" if regression else "accuracy"
    axes.scatter([r[cost] for r in ok], [r[metric] for r in ok], color="0.6", s=18, label="points")
    front = pareto_front(table, cost, regression)
    axes.plot([r[cost] for r in front], [r[metric] for r in front], "o-", color="tab:red", drawstyle="steps-post",
              label="Pareto front")
    if recommended is not None and recommended[cost] is not None:
        axes.scatter([recommended[cost]], [recommended[metric]], marker="*", s=220, color="tab:green", zorder=3,
                     label="recommended")
    # A log axis within one decade has no labelled tick: linear then.
    if log and ok and min(r[cost] for r in ok) > 0 and max(r[cost] for r in ok) >= 10 * min(r[cost] for r in ok):
        from matplotlib.ticker import NullFormatter

        axes.set_xscale("log")
        axes.xaxis.set_minor_formatter(NullFormatter())  # labels on every minor tick overlap
    axes.set_xlabel(label)
    axes.set_ylabel("mean squared error" if regression else "accuracy (%)")
    if regression:
        axes.set_yscale("log")
    axes.grid(True, alpha=0.3)
    axes.legend(loc="best", fontsize="small")


def write_plots(table: list[dict], spec: SweepSpec, recommended: dict | None, directory) -> list[str]:
    """The Pareto plots there are data for (accuracy against latency; against LUTs and DSPs); their names."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    regression = not any(r["accuracy"] is not None for r in table)
    if not any(_quality(r, regression) is not None for r in table if r["status"] == "ok"):
        return []
    panels = {}
    if any(r["latency_us"] is not None for r in table):
        panels["latency"] = [("latency_us", "latency per timestep (µs)", True)]
    if any(r["luts"] is not None for r in table):
        panels["resources"] = [("luts", "LUTs", True), ("dsps", "DSP blocks", False)]
    elif any(r["area_um2"] is not None for r in table):
        panels["resources"] = [("area_um2", f"cell area (µm², {spec.library})", True)]
    written = []
    for name, specs in panels.items():
        figure = Figure(figsize=(6 * len(specs), 4.2), dpi=100)
        FigureCanvasAgg(figure)
        for k, (cost, label, log) in enumerate(specs):
            _front_panel(figure.add_subplot(1, len(specs), k + 1), table, cost, label, regression, recommended, log)
        figure.suptitle(f"rnnhw sweep: {spec.source}", fontsize="medium")
        figure.tight_layout()
        with atomic_file(directory / PLOTS[name]) as tmp:
            figure.savefig(tmp, format="png")
        written.append(PLOTS[name])
    return written


def _table(rows_: list[dict], columns: list[str]) -> list[str]:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows_:
        lines.append("| " + " | ".join(_cell(row[c]) for c in columns) + " |")
    return lines


def report_markdown(table: list[dict], spec: SweepSpec, baseline: Baseline, recommended: dict | None,
                    runner: str, counts: dict, plots: list[str]) -> str:
    """``report.md``: what was swept, the recommended point, the Pareto fronts, the failures."""
    ok = sum(r["status"] == "ok" for r in table)
    points = f"{len(table)} point{'s' if len(table) != 1 else ''}"
    lines = [f"# Sweep of {spec.source}", "",
             f"{points} ({ok} ok, {len(table) - ok} failed), run {runner}; {counts['cached']} taken from the cache, "
             f"{counts['computed']} computed.", ""]
    if baseline.float_accuracy is not None:
        lines.append(f"Float model: accuracy {baseline.float_accuracy:.2f}% on {spec.data}"
                     f"{f' (first {spec.sequences} sequences)' if spec.sequences else ''}.")
    elif baseline.float_mse is not None:
        lines.append(f"Float model: MSE {baseline.float_mse:.4g} on {spec.data}.")
    text = clock_text(spec, baseline)
    lines += [f"{text[0].upper()}{text[1:]}.", "", "## Recommended point", ""]
    constraints = [f"accuracy loss at most {spec.max_accuracy_loss:g} points" if spec.max_accuracy_loss is not None
                   else None, f"latency at most {spec.max_latency_us:g} µs per timestep"
                   if spec.max_latency_us is not None else None,
                   f"fits the {spec.device}" if spec.device else None,
                   f"cell area at most {spec.max_area_um2:g} µm²" if spec.max_area_um2 is not None else None]
    constraints = [c for c in constraints if c]
    wanted = "; ".join(constraints) if constraints else "no constraints given: every point that succeeded"
    lines.append(f"Constraints: {wanted}.")
    lines.append("")
    order = ("smallest cell area, then latency" if spec.synth == ASIC
             else "fewest LUTs, then DSPs, block RAMs, flip-flops, latency" if spec.synth
             else "fewest lanes, then narrowest width and smallest tables, then lowest latency")
    if recommended is not None:
        lines.append(f"**{_label(recommended, spec)}**: the smallest point that meets them ({order}).")
        lines.append("")
        shown = [c for c in COLUMNS if c not in ("status", "reason") and recommended[c] is not None]
        lines += _table([recommended], shown)
    else:
        tally: dict[str, int] = {}
        for row in table:
            for reason in constraint_failures(row, spec):
                tally[reason] = tally.get(reason, 0) + 1
        why = ", ".join(f"{reason}: {count}" for reason, count in tally.items())
        lines.append(f"**No point meets the constraints** ({why}).")
    regression = not any(r["accuracy"] is not None for r in table)
    metric = "mse" if regression else "accuracy"
    for cost, title in (("latency_us", "latency"), ("luts", "LUTs"), ("dsps", "DSPs"), ("area_um2", "cell area")):
        front = pareto_front(table, cost, regression)
        if front:
            lines += ["", f"## Pareto front: {metric} against {title}", ""]
            lines += _table(front, [*spec.axes, metric, cost])
    if plots:
        lines += ["", "Plots: " + ", ".join(f"[{p}]({p})" for p in plots) + "."]
    failed = [r for r in table if r["status"] != "ok"]
    if failed:
        lines += ["", "## Failed points", ""]
        lines += _table(failed, [*spec.axes, "reason"])
    lines += ["", "Every point: [results.csv](results.csv), [results.json](results.json).", ""]
    return "\n".join(lines)

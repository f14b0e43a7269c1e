"""``run_sweep``: the whole of ``rnnhw sweep`` (specification in, ``DIR`` written)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rnnhw.accuracy import _score, float_reference
from rnnhw.calibration import observe_ranges
from rnnhw.datasets import DIGITS, Dataset, digits, load_data
from rnnhw.spec.config import load_config
from rnnhw.spec.errors import UserError
from rnnhw.spec.outputs import atomic_file, check_output_dir
from rnnhw.spec.weights import load_weights

from .cache import ResultCache, point_key
from .cluster import Runner, SweepProgress, run_points
from .points import Point, PointResult, PointTask, SynthOptions, grid, synthesize_design
from .report import (
    Baseline,
    recommend,
    report_markdown,
    rows,
    write_csv,
    write_json,
    write_plots,
)
from .spec import ASIC, SweepSpec, load_spec

__all__ = ["SweepOutcome", "run_sweep", "prepare"]

#: Folder of the per-point results inside ``DIR``.
POINTS_DIR = "points"


@dataclass(frozen=True)
class SweepOutcome:
    """What a sweep did: rows (as in ``results.csv``), how many points were computed or cached, the
    recommended row (``None`` if no point meets the constraints) and the files written."""

    rows: list[dict]
    computed: int
    cached: int
    failed: int
    recommended: dict | None
    files: list[str]

    @property
    def all_failed(self) -> bool:
        return bool(self.rows) and self.failed == len(self.rows)


def _data(spec: SweepSpec) -> tuple[Dataset | None, Dataset | None]:
    """(evaluation data, calibration data): digits evaluates the test split and calibrates on train."""
    if spec.data is None:
        return None, None
    data = load_data(spec.data, split="test")
    if spec.sequences:
        data = data.subset(min(spec.sequences, data.size))
    calibration = None
    if spec.calibrate:
        calibration = digits("train") if spec.data == DIGITS else data
    return data, calibration


def prepare(spec: SweepSpec, synthesizer: Callable = synthesize_design):
    """Points, their tasks and the baseline (the float model), before anything is evaluated."""
    config = load_config(spec.config)
    weights = load_weights(spec.weights, config)
    data, calibration = _data(spec)
    reference, float_accuracy, float_mse = None, None, None
    if data is not None:
        data.check_against(config)
        reference = float_reference(config, weights, data)
        float_accuracy, float_mse = _score(config, reference.outputs, data)
    ranges = observe_ranges(config, weights, calibration) if calibration is not None else None
    synth = SynthOptions(spec.synth, spec.device, spec.synth_freq_mhz, spec.library) if spec.synth else None
    points = grid(spec, config, ranges)
    tasks = {}
    for point in points:
        if point.config is not None:
            tasks[point.index] = PointTask(point.config, weights, data if spec.accuracy or spec.rtl_sequences
                                           else None, reference if spec.accuracy else None, spec.accuracy,
                                           spec.cycles, synth, spec.rtl_sequences, synthesizer)
    baseline = Baseline(None if float_accuracy is None else 100 * float_accuracy, float_mse, spec.clock_mhz)
    return points, tasks, baseline


def _check_asic_tools(spec: SweepSpec) -> None:
    """The cell library is installed and, for a timed one, OpenSTA: an error now, not in every point."""
    from rnnhw.asic import check_asic_options, sta_available

    library, _ = check_asic_options(spec.library, None if spec.synth_freq_mhz is None else 1000 / spec.synth_freq_mhz)
    if library.timed and not sta_available():
        raise UserError(f'evaluate.library = "{library.name}" times every point with OpenSTA (command sta), which '
                        "is not installed: apt-get install opensta")


def run_sweep(spec_path, out_dir, *, runner: Runner | None = None, progress: bool = True,
              synthesizer: Callable = synthesize_design) -> SweepOutcome:
    """Evaluate every point of the specification's grid and write the outputs into ``out_dir``.

    Points already in ``out_dir``'s cache are not evaluated again. ``synthesizer`` replaces
    :func:`~.points.synthesize_design` (it is part of the cache key).
    """
    runner = runner or Runner()
    spec = load_spec(spec_path)
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise UserError(f"-o {str(out_dir)!r} is a file; give a directory for the results")
    check_output_dir(out_dir, inputs=(spec_path,))  # before any work: writable, and not the spec itself
    if spec.synth == ASIC:
        _check_asic_tools(spec)
    points, tasks, baseline = prepare(spec, synthesizer)
    cache = ResultCache(out_dir / POINTS_DIR)
    results: dict[int, PointResult] = {}
    keys = {index: point_key(task) for index, task in tasks.items()}
    for point in points:
        if point.config is None:
            results[point.index] = PointResult("failed", point.error)
        elif (stored := cache.get(keys[point.index])) is not None:
            results[point.index] = stored
    cached = sum(1 for index in results if index in tasks)
    todo: dict[str, list[Point]] = {}
    for point in points:
        if point.index not in results:
            todo.setdefault(keys[point.index], []).append(point)
    out_dir.mkdir(exist_ok=True)
    meter = SweepProgress(len(points), len(results), sum(r.status != "ok" for r in results.values()),
                          quiet=not progress)

    def on_result(key: str, result: PointResult, final: bool) -> None:
        if final:
            cache.put(key, todo[key][0].values, result)
        for point in todo[key]:
            results[point.index] = result

    labels = {key: same[0].label for key, same in todo.items()}
    try:
        run_points([(key, tasks[same[0].index]) for key, same in todo.items()], runner, meter, labels, on_result)
    finally:
        meter.close()
    return _write_outputs(spec, points, results, baseline, runner, out_dir, cached)


def _write_outputs(spec, points, results, baseline, runner: Runner, out_dir: Path, cached: int) -> SweepOutcome:
    table = rows(points, results, spec, baseline)
    recommended = recommend(table, spec)
    computed = sum(1 for p in points if p.config is not None) - cached
    counts = {"cached": cached, "computed": computed}
    with atomic_file(out_dir / "results.csv") as tmp:
        write_csv(table, spec, tmp)
    with atomic_file(out_dir / "results.json") as tmp:
        write_json(table, spec, baseline, recommended, runner.describe(), tmp)
    plots = write_plots(table, spec, recommended, out_dir)
    with atomic_file(out_dir / "report.md") as tmp:
        tmp.write_text(report_markdown(table, spec, baseline, recommended, runner.describe(), counts, plots))
    files = ["results.csv", "results.json", *plots, "report.md"]
    failed = sum(r["status"] != "ok" for r in table)
    return SweepOutcome(table, computed, cached, failed, recommended, files)

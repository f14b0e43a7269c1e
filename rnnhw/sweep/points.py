"""The grid's points and the evaluation of one point.

:func:`grid` turns the axes into points: the product of the lists in the order the specification gives
them, each point's configuration derived from the base one (``width`` through
:func:`rnnhw.accuracy.uniform_config`, integer bits from calibration when asked). A point whose
configuration is not valid (say more lanes than gate rows) carries the reason instead.

:func:`evaluate_point` measures one point from a :class:`PointTask`, which holds everything by value
(configuration, weights, data), so that a Dask worker on another machine needs no file of the sweep.
It returns a :class:`PointResult`; a point that fails in a way that says something about the point
(it does not fit, a tool refuses it, the RTL differs from the golden model) is a result with status
``failed`` and the reason, not an exception.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from rnnhw.accuracy import Reference, evaluate_fixed, uniform_config
from rnnhw.calibration import Ranges, calibrate_config
from rnnhw.datasets import Dataset
from rnnhw.spec.config import Config
from rnnhw.spec.errors import UserError, VerificationError
from rnnhw.spec.weights import Weights, quantize_weights

from .spec import ASIC, AXES, SweepSpec

__all__ = ["Point", "PointTask", "PointResult", "SynthOptions", "grid", "point_config", "evaluate_point",
           "synthesize_design", "MEASUREMENTS"]

#: What a result may hold besides its status, in the order of the results table.
MEASUREMENTS = ("accuracy", "agreement", "mse", "cycles_per_step", "luts", "ffs", "dsps", "brams", "area_um2",
                "sequential_area_um2", "fmax_mhz", "rtl_bit_exact", "rtl_cycles_per_step")


@dataclass(frozen=True)
class Point:
    """One point of the grid: its axis values and configuration, or why there is no configuration."""

    index: int
    values: dict
    config: Config | None
    error: str | None = None

    @property
    def label(self) -> str:
        return " ".join(f"{name}={_text(value)}" for name, value in self.values.items()) or "base"


def _text(value) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def point_config(base: Config, values: dict, ranges: Ranges | None) -> Config:
    """The configuration of a point (``ranges``: calibration, or ``None``)."""
    config = base
    for name, value in values.items():
        section, key = AXES[name]
        if key is not None:
            config = config.replace(section, **{key: value})
    if "width" in values:
        return uniform_config(config, values["width"], ranges)
    return calibrate_config(config, ranges) if ranges is not None else config


def grid(spec: SweepSpec, base: Config, ranges: Ranges | None) -> list[Point]:
    """Every point of the product of the axes, in order (the last axis varies fastest)."""
    names = list(spec.axes)
    points = []
    for index, combination in enumerate(itertools.product(*spec.axes.values())):
        values = dict(zip(names, combination, strict=True))
        try:
            points.append(Point(index, values, point_config(base, values, ranges)))
        except UserError as exc:
            points.append(Point(index, values, None, str(exc)))
    return points


@dataclass(frozen=True)
class SynthOptions:
    """Synthesis of every point: target (an FPGA family or ``"asic"``), device (``None``: the target's
    default), clock constraint (for asic the clock period of ABC and OpenSTA is 1000 / it), cell library
    (asic only)."""

    target: str
    device: str | None = None
    freq_mhz: float | None = None
    library: str | None = None

    @property
    def asic(self) -> bool:
        return self.target == ASIC


def synthesize_design(config: Config, weights: Weights, options: SynthOptions, cache=None):
    """Generate the accelerator and synthesise it, without progress lines: :func:`rnnhw.synth.synthesize`,
    or for asic :func:`rnnhw.asic.synthesize_asic` (its blocks by the core's kind of weights); ``cache``:
    the flow's directory of cached results (``None``: none; the sweep caches whole points)."""
    from rnnhw.rtl.top import generate_verilog

    runtime = config.hardware.weights == "runtime"
    verilog = generate_verilog(config, None if runtime else quantize_weights(weights, config, warn=False),
                               name="rnnhw_top")
    if options.asic:
        from rnnhw.asic import accelerator_blocks, synthesize_asic

        return synthesize_asic(verilog, library=options.library, top="rnnhw_top",
                               clock_ns=None if options.freq_mhz is None else 1000 / options.freq_mhz,
                               rules=accelerator_blocks(config.hardware.weights), cache=cache, quiet=True)
    from rnnhw.synth import synthesize

    return synthesize(verilog, target=options.target, device=options.device, top="rnnhw_top",
                      freq_mhz=options.freq_mhz, cache=cache, quiet=True)


@dataclass(frozen=True)
class PointTask:
    """Everything one point's evaluation needs, by value.

    ``data`` and ``reference`` (the float model's outputs on it) are given when accuracy is measured
    or RTL sequences simulated; ``synthesizer(config, weights, synth)`` returns an object with
    ``luts``, ``ffs``, ``dsps``, ``brams`` and ``fmax_mhz``, for asic ``area_um2``,
    ``sequential_area_um2`` and ``fmax_mhz`` (:func:`synthesize_design` by default).
    """

    config: Config
    weights: Weights
    data: Dataset | None = None
    reference: Reference | None = None
    accuracy: bool = False
    cycles: bool = True
    synth: SynthOptions | None = None
    rtl_sequences: int = 0
    synthesizer: Callable = field(default=synthesize_design, compare=False)


@dataclass(frozen=True)
class PointResult:
    """What was measured at a point (``None``: not measured), ``status`` ``ok`` or ``failed``."""

    status: str
    reason: str | None = None
    measurements: dict = field(default_factory=dict)
    seconds: float = 0.0

    def to_json(self) -> dict:
        return {"status": self.status, "reason": self.reason, "measurements": self.measurements,
                "seconds": self.seconds}

    @classmethod
    def from_json(cls, doc: dict) -> PointResult:
        return cls(doc["status"], doc["reason"], dict(doc["measurements"]), float(doc["seconds"]))


def _measure(task: PointTask, found: dict) -> None:
    """Fill ``found`` step by step (what was measured before a failure is kept)."""
    config = task.config
    from rnnhw.spec.datapath import datapath

    datapath(config)  # refuses numerics the hardware cannot have
    if task.accuracy:
        evaluation = evaluate_fixed(config, task.weights, task.data, task.reference)
        found.update(accuracy=evaluation.accuracy, agreement=evaluation.agreement, mse=evaluation.mse)
    if task.cycles:
        from rnnhw.spec.schedule import Schedule

        found["cycles_per_step"] = Schedule(config).cycles_per_step()
    if task.synth is not None:
        result = task.synthesizer(config, task.weights, task.synth)
        if task.synth.asic:
            found.update(area_um2=result.area_um2, sequential_area_um2=result.sequential_area_um2,
                         fmax_mhz=result.fmax_mhz)
        else:
            found.update(luts=result.luts, ffs=result.ffs, dsps=result.dsps, brams=result.brams,
                         fmax_mhz=result.fmax_mhz)
    if task.rtl_sequences:
        from rnnhw.accuracy import check_rtl

        rtl = check_rtl(config, task.weights, task.data, task.rtl_sequences, progress=False)
        found.update(rtl_bit_exact=rtl.bit_exact, rtl_cycles_per_step=rtl.cycles_per_step)
        if not rtl.bit_exact:
            raise VerificationError(f"the RTL differs from the golden model in {rtl.mismatches:,} value(s) on "
                                    f"{rtl.sequences} sequences; first: {rtl.first_mismatch}")


def evaluate_point(task: PointTask) -> PointResult:
    """Measure one point; a failure that belongs to the point is a ``failed`` result with its reason."""
    start = time.monotonic()
    found: dict = {}
    try:
        _measure(task, found)
    except (UserError, VerificationError) as exc:
        return PointResult("failed", _one_line(str(exc)), found, round(time.monotonic() - start, 2))
    return PointResult("ok", None, found, round(time.monotonic() - start, 2))


def _one_line(message: str) -> str:
    """A tool's message without the path of the logs it kept (they differ from run to run)."""
    return message.split("; logs kept in ", 1)[0].splitlines()[0] if message else "failed"

"""What a number format costs: the float reference against the bit-exact golden model on labelled data.

:func:`measure_accuracy` is the core of ``rnnhw accuracy`` (and of ``rnnhw demo``): it runs the float64
reference and the golden model on a :class:`~rnnhw.datasets.Dataset` and compares them, optionally
after calibrating the integer bits (:mod:`rnnhw.calibration`), sweeping uniform widths and checking
the generated RTL on the first sequences. Everything returns dataclasses; :meth:`AccuracyReport.to_json`
gives the JSON document and :func:`report_lines` the text the command prints.

Metrics
-------
Classification (labels ``y``): the predicted class is the largest output (with one output: class 1
when it is positive); *accuracy* is the fraction of correct predictions and *agreement* the fraction
of sequences whose fixed-point prediction equals the float prediction. Regression (targets ``Y``):
*mse* is the mean squared error against the targets; agreement does not apply. *max_abs_err* and
*mean_abs_err* compare the fixed-point outputs (dequantized) with the float outputs, *state_* the
final hidden states of every layer; timesteps past a sequence's length are left out. Label sequences
(``labels``, a CTC model): both models' logits are greedily decoded (:mod:`rnnhw.spec.ctc`; the fixed
point's from its bit-exact logits); *accuracy* is the sequence accuracy (exact string match),
*label_error_rate* the edit distance over the reference length (:mod:`rnnhw.sequence_metrics`), and
*agreement* the fraction of sequences decoded to the same string by both.

Sweep
-----
At each width ``W`` the input, weight, bias, state, cell_state and output formats are all ``W`` bits;
``accum`` gets ``2W + ACCUM_MARGIN`` bits: a product of two ``W``-bit numbers plus the default
configuration's headroom for the sum, so that at ``W = 16`` every width is the default's. Integer bits
come from calibration when ranges are given, else each format keeps its configured integer bits (at
most ``W``). ``activation`` (the sigmoid/tanh
tables' output) keeps its configured format: its range is fixed by the functions, and its precision is
the tables' own knob (``lut_size``), not the data path's width.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from rnnhw.calibration import Ranges, batch_slices, calibrate_config, calibrated_format, observe_ranges
from rnnhw.datasets import Dataset
from rnnhw.golden.float_ref import float_forward
from rnnhw.golden.model import GoldenModel, GoldenResult
from rnnhw.sequence_metrics import agreement as sequence_agreement
from rnnhw.sequence_metrics import label_error_rate, sequence_accuracy
from rnnhw.spec.config import Config, NumericsConfig
from rnnhw.spec.ctc import greedy_decode
from rnnhw.spec.errors import UserError
from rnnhw.spec.fixed import MAX_FORMAT_WIDTH, FixedFormat
from rnnhw.spec.outputs import Progress
from rnnhw.spec.weights import Weights, quantize_weights

__all__ = ["Reference", "FixedEvaluation", "SweepPoint", "RtlCheck", "AccuracyReport", "float_reference",
           "run_golden", "evaluate_fixed", "uniform_config", "sweep", "check_rtl", "measure_accuracy",
           "report_lines", "rtl_line", "write_plot", "SWEEP_WIDTHS", "MIN_SWEEP_WIDTH", "MAX_SWEEP_WIDTH",
           "ACCUM_MARGIN",
           "UNIFORM_KINDS"]

#: Widths ``--sweep`` uses when asked for without a list.
SWEEP_WIDTHS = (6, 8, 10, 12, 16)
#: Bits of the sweep's ``accum`` beyond a product of two ``W``-bit operands: the default configuration's.
ACCUM_MARGIN = NumericsConfig().accum.width - NumericsConfig().weight.width - NumericsConfig().state.width
#: Sweep widths allowed: ``accum`` is ``2W + ACCUM_MARGIN`` bits, at most the widest format.
MIN_SWEEP_WIDTH, MAX_SWEEP_WIDTH = 2, (MAX_FORMAT_WIDTH - ACCUM_MARGIN) // 2
#: Formats that the sweep sets to ``W`` bits (``accum`` gets ``2W + ACCUM_MARGIN``; ``activation`` is kept).
UNIFORM_KINDS = ("input", "weight", "bias", "state", "cell_state", "output")


@dataclass(frozen=True)
class Reference:
    """Float64 reference outputs on a dataset (``final_h[k]``: layer ``k``'s final states)."""

    outputs: np.ndarray
    final_h: tuple[np.ndarray, ...]


@dataclass(frozen=True)
class FixedEvaluation:
    """The golden model at one configuration, compared with the float reference and the labels."""

    config: Config
    outputs: np.ndarray  # dequantized golden outputs
    accuracy: float | None
    mse: float | None
    agreement: float | None
    max_abs_err: float
    mean_abs_err: float
    state_max_abs_err: float
    state_mean_abs_err: float
    input_saturated: int
    inputs: int
    weights_saturated: dict[str, tuple[int, int]]
    label_error_rate: float | None = None  # CTC

    def to_json(self) -> dict:
        return {
            "accuracy": self.accuracy, "mse": self.mse, "agreement": self.agreement,
            "label_error_rate": self.label_error_rate,
            "max_abs_err": self.max_abs_err, "mean_abs_err": self.mean_abs_err,
            "state_max_abs_err": self.state_max_abs_err, "state_mean_abs_err": self.state_mean_abs_err,
            "input_saturated": self.input_saturated,
            "weights_saturated": self.weights_saturated["weight"][0],
            "biases_saturated": self.weights_saturated["bias"][0],
        }


@dataclass(frozen=True)
class SweepPoint:
    bits: int
    evaluation: FixedEvaluation

    def to_json(self) -> dict:
        e = self.evaluation
        return {"bits": self.bits, "accuracy": e.accuracy, "mse": e.mse, "agreement": e.agreement,
                "label_error_rate": e.label_error_rate,
                "max_abs_err": e.max_abs_err, "numerics": _formats(e.config)}


@dataclass(frozen=True)
class RtlCheck:
    """The generated hardware simulated on the first ``sequences`` sequences, against the golden model."""

    sequences: int
    bit_exact: bool
    mismatches: int
    first_mismatch: str | None
    accuracy: float | None
    mse: float | None
    cycles_per_step: float
    utilization: float | None = None
    notes: tuple[str, ...] = ()
    label_error_rate: float | None = None  # CTC

    def to_json(self) -> dict:
        return {"sequences": self.sequences, "bit_exact": self.bit_exact, "mismatches": self.mismatches,
                "first_mismatch": self.first_mismatch, "accuracy": self.accuracy, "mse": self.mse,
                "label_error_rate": self.label_error_rate,
                "cycles_per_step": self.cycles_per_step, "utilization": self.utilization,
                "notes": list(self.notes)}


@dataclass(frozen=True)
class AccuracyReport:
    """Everything ``rnnhw accuracy`` measures (``calibrated_on`` names the data calibration used)."""

    data: Dataset
    float_accuracy: float | None
    float_mse: float | None
    fixed: FixedEvaluation
    sweep: tuple[SweepPoint, ...] = ()
    rtl: RtlCheck | None = None
    calibrated_on: str | None = None
    ranges: Ranges | None = None
    original_config: Config | None = field(default=None, repr=False)
    float_label_error_rate: float | None = None  # CTC

    @property
    def task(self) -> str:
        return self.data.task

    def to_json(self) -> dict:
        data = self.data
        doc = {
            "data": {"name": data.name, "sequences": data.size, "timesteps": data.steps,
                     "features": data.features, "task": data.task},
            "numerics": _formats(self.fixed.config),
            "calibration": None if self.ranges is None else {
                "data": self.calibrated_on, "max_abs": self.ranges.as_dict()},
            "float": {"accuracy": self.float_accuracy, "mse": self.float_mse,
                      "label_error_rate": self.float_label_error_rate},
            "fixed": self.fixed.to_json(),
            "sweep": [point.to_json() for point in self.sweep],
        }
        if self.rtl is not None:
            doc["rtl"] = self.rtl.to_json()
        return doc


def _formats(config: Config) -> dict[str, str]:
    n = config.numerics
    kinds = ("input", "weight", "bias", "state", "cell_state", "accum", "activation", "output")
    return {kind: str(getattr(n, kind)) for kind in kinds}


def _slices(config: Config, data: Dataset) -> list[slice]:
    model = config.model
    return batch_slices(data.size, data.steps * model.gates * model.hidden_size * model.num_layers * model.directions)


def _lengths(data: Dataset, part: slice):
    return None if data.lengths is None else data.lengths[part]


def float_reference(config: Config, weights: Weights, data: Dataset, progress: bool = False) -> Reference:
    """The float64 reference on ``data``, in batches (progress lines on stderr if asked)."""
    meter = Progress("float reference", data.size, quiet=not progress)
    outputs, finals = [], []
    for part in _slices(config, data):
        result = float_forward(config, weights, data.x[part], _lengths(data, part))
        outputs.append(result.outputs)
        finals.append(result.final_h)
        meter.update(part.stop)
    return Reference(np.concatenate(outputs), _join_layers(finals))


def _join_layers(batches) -> tuple[np.ndarray, ...]:
    """Per-layer arrays of consecutive batches, joined along the batch."""
    return tuple(np.concatenate(layer) for layer in zip(*batches, strict=True))


def run_golden(model: GoldenModel, x_int: np.ndarray, lengths,
               progress: Progress | None = None) -> GoldenResult:
    """:meth:`GoldenModel.run` in batches that bound memory for large data."""
    parts = []
    for part in _slices(model.config, Dataset("", x_int)):
        parts.append(model.run(x_int[part], None if lengths is None else lengths[part]))
        if progress is not None:
            progress.update(part.stop)
    labels = np.concatenate([p.labels for p in parts]) if parts[0].labels is not None else None
    return GoldenResult(np.concatenate([p.outputs for p in parts]), parts[0].output_format,
                        _join_layers(p.final_h for p in parts), labels)


def predictions(outputs: np.ndarray) -> np.ndarray:
    """Predicted classes: the largest output, or ``output > 0`` for a single output."""
    if outputs.shape[-1] == 1:
        return (outputs[..., 0] > 0).astype(np.int64)
    return np.argmax(outputs, axis=-1)


def _valid_mask(config: Config, data: Dataset) -> np.ndarray | None:
    """Boolean ``[N, T]`` of the timesteps that exist, for return_sequences outputs (else ``None``)."""
    return data.valid_steps() if config.model.return_sequences else None


def decoded(config: Config, outputs: np.ndarray, data: Dataset) -> np.ndarray:
    """CTC greedy decoding of logits ``[N, T, C]`` (padded labels ``[N, T]``)."""
    return greedy_decode(outputs, data.lengths, config.model.ctc_blank)


def _ctc_score(labels: np.ndarray, data: Dataset) -> tuple[float, float]:
    """(sequence accuracy, label error rate) of decoded ``labels`` against the data's label sequences."""
    return sequence_accuracy(labels, data.sequences), label_error_rate(labels, data.sequences)


def _score(config: Config, outputs: np.ndarray, data: Dataset) -> tuple[float | None, float | None]:
    """(accuracy, mse) of ``outputs`` against the data's labels or targets (CTC: sequence accuracy)."""
    if data.sequences is not None:
        return _ctc_score(decoded(config, outputs, data), data)[0], None
    if data.labels is not None:
        return float(np.mean(predictions(outputs) == data.labels)), None
    targets = data.targets.reshape(outputs.shape)
    mask = _valid_mask(config, data)
    errors = (outputs - targets) ** 2
    return None, float(np.mean(errors[mask] if mask is not None else errors))


def _abs_errors(a: np.ndarray, b: np.ndarray, mask=None) -> tuple[float, float]:
    diff = np.abs(a - b)
    if mask is not None:
        diff = diff[mask]
    return (float(diff.max()), float(diff.mean())) if diff.size else (0.0, 0.0)


def evaluate_fixed(config: Config, weights: Weights, data: Dataset, reference: Reference,
                   progress: Progress | None = None) -> FixedEvaluation:
    """Quantize weights and inputs as ``config`` says, run the golden model and compare."""
    qweights = quantize_weights(weights, config, warn=False)
    model = GoldenModel(config, qweights)
    x_int, input_saturated = model.quantize_inputs(data.x)
    result = run_golden(model, x_int, data.lengths, progress)
    outputs = result.to_float()
    accuracy, mse = _score(config, outputs, data)
    agreement, ler = None, None
    if data.labels is not None:
        agreement = float(np.mean(predictions(outputs) == predictions(reference.outputs)))
    if data.sequences is not None:  # the fixed point's labels decode its bit-exact logits
        accuracy, ler = _ctc_score(result.labels, data)
        agreement = sequence_agreement(result.labels, decoded(config, reference.outputs, data))
    max_err, mean_err = _abs_errors(outputs, reference.outputs, _valid_mask(config, data))
    state = config.numerics.state
    fixed_h = np.concatenate([state.to_float(h) for h in result.final_h], axis=-1)
    state_max, state_mean = _abs_errors(fixed_h, np.concatenate(reference.final_h, axis=-1))
    return FixedEvaluation(config, outputs, accuracy, mse, agreement, max_err, mean_err, state_max,
                           state_mean, input_saturated, data.x.size, dict(qweights.saturated), ler)


def uniform_config(config: Config, width: int, ranges: Ranges | None = None) -> Config:
    """``config`` with uniform ``width``-bit formats, as the sweep evaluates them (see the module doc)."""
    if not MIN_SWEEP_WIDTH <= width <= MAX_SWEEP_WIDTH:
        raise UserError(f"sweep widths must be from {MIN_SWEEP_WIDTH} to {MAX_SWEEP_WIDTH} bits, not {width}")
    numerics = config.numerics

    def fmt(kind: str, bits: int) -> str:
        magnitude = getattr(ranges, kind) if ranges is not None else None
        if magnitude is None:  # not calibrated, or a kind this model does not use
            return str(FixedFormat(bits, min(getattr(numerics, kind).int_bits, bits)))
        return str(calibrated_format(magnitude, bits))

    changes = {kind: fmt(kind, width) for kind in UNIFORM_KINDS}
    changes["accum"] = fmt("accum", 2 * width + ACCUM_MARGIN)
    return config.replace("numerics", **changes)


def sweep(config: Config, weights: Weights, data: Dataset, reference: Reference, widths: Sequence[int],
          ranges: Ranges | None = None, progress: bool = False) -> tuple[SweepPoint, ...]:
    """The golden model at each uniform width (integer bits from ``ranges`` if given)."""
    points = []
    for width in widths:
        meter = Progress(f"sweep at {width} bits", data.size, quiet=not progress)
        points.append(SweepPoint(width, evaluate_fixed(uniform_config(config, width, ranges), weights, data,
                                                       reference, meter)))
    return tuple(points)


def check_rtl(config: Config, weights: Weights, data: Dataset, count: int, progress: bool = True,
              simulator: str = "verilator") -> RtlCheck:
    """Simulate the generated hardware on the first ``count`` sequences and compare with the golden model."""
    try:
        from rnnhw.sim.verify import run_simulation
    except ModuleNotFoundError as exc:
        if exc.name is None or not exc.name.startswith("rnnhw"):
            raise
        raise UserError("--rtl needs the RTL simulation (rnnhw.sim.verify), which this installation lacks; "
                        "leave out --rtl") from None
    subset = data.subset(min(count, data.size))
    qweights = quantize_weights(weights, config, warn=False)
    x_int, _ = GoldenModel(config, qweights).quantize_inputs(subset.x)
    host = None
    if config.hardware.weights == "runtime":  # the weights go in through AXI4-Lite first
        from rnnhw.runtime import load_program

        host = load_program(config, qweights)
    result = run_simulation(config, qweights, x_int, subset.lengths, progress=progress, simulator=simulator,
                            host=host)
    ler = None
    if config.model.ctc:  # the RTL's outputs are its decoded labels
        (accuracy, ler), mse = _ctc_score(np.asarray(result.outputs), subset), None
    else:
        accuracy, mse = _score(config, config.output_format.to_float(np.asarray(result.outputs)), subset)
    return RtlCheck(subset.size, bool(result.bit_exact), int(result.mismatches),
                    result.first_mismatch or None, accuracy, mse, float(result.cycles_per_step),
                    float(result.utilization) if result.bound_cycles_per_step else None, tuple(result.notes), ler)


def measure_accuracy(config: Config, weights: Weights, data: Dataset, *,
                     calibration_data: Dataset | None = None, widths: Sequence[int] = (), rtl: int = 0,
                     progress: bool = False, simulator: str = "verilator") -> AccuracyReport:
    """Float against fixed point on ``data``: the whole of ``rnnhw accuracy``.

    Parameters
    ----------
    config, weights : Config, Weights
        The model and its float weights.
    data : Dataset
        Evaluation data with labels or targets (checked against ``config``).
    calibration_data : Dataset, optional
        If given, the integer bits of every format (and of the sweep's) are calibrated on it first.
    widths : sequence of int
        Uniform widths to sweep (none by default).
    rtl : int
        If positive, simulate the generated hardware on the first ``rtl`` sequences (needs the simulator).
    simulator : {"verilator", "icarus"}
        The HDL simulator for ``rtl``.
    progress : bool
        Progress lines on stderr.

    Returns
    -------
    AccuracyReport
    """
    data.check_against(config)
    if data.task is None:
        raise UserError(f"{data.name}: no labels y or targets Y to measure accuracy against")
    original, ranges = config, None
    if calibration_data is not None:
        calibration_data.check_features(config)  # its labels, if any, play no part
        ranges = observe_ranges(config, weights, calibration_data, progress=progress)
        config = calibrate_config(config, ranges)
    reference = float_reference(config, weights, data, progress=progress)
    float_accuracy, float_mse = _score(config, reference.outputs, data)
    float_ler = _ctc_score(decoded(config, reference.outputs, data), data)[1] if data.sequences is not None else None
    meter = Progress("golden model", data.size, quiet=not progress)
    fixed = evaluate_fixed(config, weights, data, reference, meter)
    points = sweep(config, weights, data, reference, widths, ranges, progress=progress)
    rtl_check = check_rtl(config, weights, data, rtl, progress=progress, simulator=simulator) if rtl else None
    return AccuracyReport(data, float_accuracy, float_mse, fixed, points, rtl_check,
                          calibration_data.name if calibration_data is not None else None, ranges, original,
                          float_ler)


# -- presentation ------------------------------------------------------------------------------------------

def _percent(value: float) -> str:
    return f"{100 * value:.2f}%"


def _metric_text(accuracy: float | None, mse: float | None, ler: float | None = None) -> str:
    if ler is not None:
        return f"sequence accuracy {_percent(accuracy)}, label error rate {_percent(ler)}"
    return f"accuracy {_percent(accuracy)}" if accuracy is not None else f"MSE {mse:.6g}"


def report_lines(report: AccuracyReport) -> list[str]:
    """The human-readable summary ``rnnhw accuracy`` prints."""
    data, fixed = report.data, report.fixed
    what = {"classification": f"{data.classes} classes", "regression": "regression targets",
            "ctc": "label sequences (CTC)"}[data.task]
    lines = [f"data: {data.name}: {data.size:,} sequences of {data.steps} steps x {data.features} features, "
             f"{what}"]
    formats = ", ".join(f"{kind} {fmt}" for kind, fmt in _formats(fixed.config).items())
    lines.append(f"numerics: {formats}")
    if report.ranges is not None:
        lines.append(f"  (integer bits calibrated on {report.calibrated_on})")
    float_text = _metric_text(report.float_accuracy, report.float_mse, report.float_label_error_rate)
    lines.append(f"float reference: {float_text}")
    text = f"fixed point:     {_metric_text(fixed.accuracy, fixed.mse, fixed.label_error_rate)}"
    if fixed.accuracy is not None:
        agreeing = "decoded strings equal to float's" if data.task == "ctc" else "label agreement with float"
        text += (f" ({100 * (fixed.accuracy - report.float_accuracy):+.2f} points), "
                 f"{agreeing} {_percent(fixed.agreement)}")
    lines.append(text)
    lines.append(f"  outputs: max |fixed - float| {fixed.max_abs_err:.4g}, mean {fixed.mean_abs_err:.4g}")
    lines.append(f"  final h: max |fixed - float| {fixed.state_max_abs_err:.4g}, "
                 f"mean {fixed.state_mean_abs_err:.4g}")
    weights_sat, bias_sat = fixed.weights_saturated["weight"], fixed.weights_saturated["bias"]
    lines.append(f"  saturated: {fixed.input_saturated:,} of {fixed.inputs:,} inputs, {weights_sat[0]:,} of "
                 f"{weights_sat[1]:,} weights, {bias_sat[0]:,} of {bias_sat[1]:,} biases")
    if report.sweep:
        source = "calibrated" if report.ranges is not None else "as configured"
        activation = fixed.config.numerics.activation
        lines.append(f"sweep: uniform W-bit formats, accum 2W+{ACCUM_MARGIN} bits, activation {activation}, "
                     f"integer bits {source}:")
        metric = {"classification": "accuracy", "regression": "MSE", "ctc": "seq. acc."}[data.task]
        ler_column = "  label err." if data.task == "ctc" else ""
        lines.append(f"  bits  {metric:>9}{ler_column}  agreement  max |err|")
        for point in report.sweep:
            e = point.evaluation
            value = _percent(e.accuracy) if e.accuracy is not None else f"{e.mse:.4g}"
            ler = f"  {_percent(e.label_error_rate):>10}" if e.label_error_rate is not None else ""
            agree = _percent(e.agreement) if e.agreement is not None else "-"
            lines.append(f"  {point.bits:>4}  {value:>9}{ler}  {agree:>9}  {e.max_abs_err:.4g}")
    if report.rtl is not None:
        lines.append(rtl_line(report.rtl))
    return lines


def rtl_line(rtl: RtlCheck) -> str:
    """One line summarising the RTL check."""
    status = "bit-exact with the golden model" if rtl.bit_exact else (
        f"NOT bit-exact: {rtl.mismatches:,} mismatches; first: {rtl.first_mismatch}")
    speed = f"{rtl.cycles_per_step:.1f} cycles per step"
    if rtl.utilization is not None:
        speed += f" ({100 * rtl.utilization:.1f}% of the schedule bound)"
    metric = _metric_text(rtl.accuracy, rtl.mse, rtl.label_error_rate)
    return f"rtl: {rtl.sequences:,} sequences simulated, {status}; {metric}, {speed}"


def write_plot(report: AccuracyReport, path) -> None:
    """PNG of accuracy (MSE; CTC: label error rate) against the sweep's width, the float reference a line."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if not report.sweep:
        raise ValueError("the report has no sweep to plot")
    classification = report.task in ("classification", "ctc")
    bits = [p.bits for p in report.sweep]
    if report.task == "ctc":
        values = [100 * p.evaluation.label_error_rate for p in report.sweep]
        reference, label = 100 * report.float_label_error_rate, "label error rate (%)"
        reference_text = f"{reference:.2f}%"
    elif classification:
        values = [100 * p.evaluation.accuracy for p in report.sweep]
        reference, label = 100 * report.float_accuracy, "accuracy (%)"
        reference_text = f"{reference:.2f}%"
    else:
        values = [p.evaluation.mse for p in report.sweep]
        reference, label = report.float_mse, "mean squared error"
        reference_text = f"MSE {reference:.4g}"
    figure = Figure(figsize=(6, 4), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.plot(bits, values, "o-", label="fixed point (golden model)")
    axes.axhline(reference, color="gray", linestyle="--", label=f"float reference ({reference_text})")
    source = "calibrated" if report.ranges is not None else "configured"
    axes.set_xlabel(f"uniform width W (bits; integer bits {source})")
    axes.set_ylabel(label)
    if not classification:
        axes.set_yscale("log")
    axes.set_xticks(bits)
    axes.set_title(f"{report.fixed.config.model.cell} on {report.data.name}")
    axes.grid(True, alpha=0.3)
    axes.legend(loc="best")
    figure.tight_layout()
    with open(path, "wb") as handle:
        figure.savefig(handle, format="png")

"""Quantized accuracy of the bundled digits models: the issue's targets, the width sweeps, and timings.

Run ``python bench/accuracy_digits.py`` (``--no-write`` to only print): measures the bundled models
(``examples/digits_lstm``, ``examples/digits_gru``, ``examples/digits_gru_before``,
``examples/digits_jordan``, ``examples/digits_bilstm``) on the digits test split with
:func:`rnnhw.accuracy.measure_accuracy` and writes the "accuracy" section of ``docs/BENCHMARKS.md``:

* the default 16-bit numerics against the float reference;
* uniform widths with calibrated integer bits (calibrated on the train split), as ``rnnhw accuracy
  --calibrate --sweep`` reports them, and the same with the configured integer bits (no calibration);
* for comparison, the calibrated sweep with the activation tables' output also ``W`` bits
  (``fixed<W,2>``) instead of the configured ``fixed<16,2>``.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time

from rnnhw.accuracy import ACCUM_MARGIN, evaluate_fixed, float_reference, measure_accuracy, uniform_config
from rnnhw.datasets import digits
from rnnhw.examples import EXAMPLES, example_config, example_weights
from rnnhw.spec.config import NumericsConfig

try:
    from .benchmarks_md import machine_line, replace_section
except ImportError:  # run as a script
    from benchmarks_md import machine_line, replace_section

__all__ = ["WIDTHS", "TARGETS", "measure", "markdown"]

WIDTHS = (4, 5, 6, 7, 8, 10, 12, 16)
#: The issue's targets: (what, width or None for the default numerics, largest loss in points).
TARGETS = (("default 16-bit numerics", None, 0.3), ("uniform 10 bits, calibrated", 10, 1.0),
           ("uniform 8 bits, calibrated", 8, 3.0))
MIN_AGREEMENT_16_BIT = 0.995


@dataclasses.dataclass(frozen=True)
class Measurement:
    name: str
    default: object  # AccuracyReport at the configured numerics
    calibrated: object  # AccuracyReport with calibration and the sweep
    uncalibrated: object  # AccuracyReport with the sweep at configured integer bits
    narrow_activation: dict[int, object]  # width -> FixedEvaluation with activation fixed<W,2>
    seconds: float  # one `rnnhw accuracy --calibrate --sweep` worth of work


def measure(name: str) -> Measurement:
    config, weights = example_config(name), example_weights(name)
    test, train = digits("test"), digits("train")
    default = measure_accuracy(config, weights, test)
    start = time.perf_counter()
    calibrated = measure_accuracy(config, weights, test, calibration_data=train, widths=WIDTHS)
    seconds = time.perf_counter() - start
    uncalibrated = measure_accuracy(config, weights, test, widths=WIDTHS)
    floats = float_reference(config, weights, test)
    narrow = {}
    for width in WIDTHS:
        uniform = uniform_config(config, width, calibrated.ranges)
        uniform = uniform.replace("numerics", activation=f"fixed<{width},2>")
        narrow[width] = evaluate_fixed(uniform, weights, test, floats)
    return Measurement(name, default, calibrated, uncalibrated, narrow, seconds)


def _pct(value: float) -> str:
    return f"{100 * value:.2f}"


def _points(value: float, reference: float) -> str:
    return f"{100 * (value - reference):+.2f}"


def _calibrated_formats(report) -> str:
    """The formats calibration chose, leaving out kinds the model does not use."""
    numerics = report.fixed.config.numerics
    used = [kind for kind, value in report.ranges.as_dict().items() if value is not None]
    return ", ".join(f"{kind} {getattr(numerics, kind)}" for kind in used)


def markdown(results: list[Measurement]) -> str:
    defaults = NumericsConfig()
    lines = ["## Quantized accuracy (digits)", "",
             "Written by `bench/accuracy_digits.py`. The bundled models (`examples/`: LSTM, GRU, GRU with "
             "the reset gate before W_hn (`digits_gru_before`) and Jordan (`digits_jordan`, whose own output "
             "layer gives the 10 scores), hidden 32, and a bidirectional LSTM (`digits_bilstm`, hidden 16 per "
             "direction, its head reading [h_fwd; h_bwd]), 10 outputs) on the digits test split (540 sequences "
             "of 8 rows x 8 pixels); "
             "calibration on the train split (1,257). Accuracy in %, loss in points against the float64 "
             "reference, agreement = fixed-point label equal to the float label.", "",
             f"Machine: {machine_line()}.", "", "### Targets (issue 5)", "",
             "| model | numerics | float | fixed | loss (points) | agreement | target | met |",
             "|---|---|---|---|---|---|---|---|"]
    for m in results:
        base = m.default.float_accuracy
        for what, width, limit in TARGETS:
            if width is None:
                fixed = m.default.fixed
                met = abs(fixed.accuracy - base) <= limit / 100 and fixed.agreement >= MIN_AGREEMENT_16_BIT
                target = f"within {limit} points, agreement >= 99.5%"
            else:
                fixed = next(p.evaluation for p in m.calibrated.sweep if p.bits == width)
                met = abs(fixed.accuracy - base) <= limit / 100
                target = f"within {limit:g} point{'s' if limit != 1 else ''}"
            lines.append(f"| {m.name} | {what} | {_pct(base)} | {_pct(fixed.accuracy)} | "
                         f"{_points(fixed.accuracy, base)} | {_pct(fixed.agreement)} | {target} | "
                         f"{'yes' if met else '**no**'} |")
    lines += ["", "### Sweeps: accuracy (agreement) at uniform width W", "",
              f"W bits for input, weight, bias, state, cell_state and output; accum 2W+{ACCUM_MARGIN} bits. "
              "*calibrated*: integer bits from `--calibrate`; *configured*: the default integer bits "
              f"({defaults.state.int_bits}; accum {defaults.accum.int_bits}), at most W; *W-bit tables*: "
              "calibrated, and the activation tables' output fixed<W,2> instead of "
              f"{defaults.activation}.", "",
              "| model | integer bits | " + " | ".join(f"W={w}" for w in WIDTHS) + " |",
              "|---|---|" + "---|" * len(WIDTHS)]

    def row(evaluations):
        return " | ".join(f"{_pct(e.accuracy)} ({_pct(e.agreement)})" for e in evaluations)

    for m in results:
        lines.append(f"| {m.name} | calibrated | {row(p.evaluation for p in m.calibrated.sweep)} |")
        lines.append(f"| {m.name} | configured | {row(p.evaluation for p in m.uncalibrated.sweep)} |")
        lines.append(f"| {m.name} | W-bit tables | {row(m.narrow_activation[w] for w in WIDTHS)} |")
    formats = "; ".join(f"{m.name}: {_calibrated_formats(m.calibrated)}" for m in results)
    times = ", ".join(f"{m.name} {m.seconds:.2f} s" for m in results)
    lines += ["", f"Calibrated formats (train split): {formats}.", "",
              "Time of one `rnnhw accuracy --calibrate --sweep` evaluation (calibration, float reference, "
              f"golden model at the configured numerics and at {len(WIDTHS)} widths; without start-up): "
              f"{times}."]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-write", action="store_true", help="only print; leave docs/BENCHMARKS.md alone")
    args = parser.parse_args(argv)
    text = markdown([measure(name) for name in EXAMPLES])
    print(text)
    if not args.no_write:
        replace_section("accuracy", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

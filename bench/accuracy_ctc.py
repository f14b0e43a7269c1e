"""Label error rate of the bundled CTC example at float, 16-bit and calibrated 10- and 8-bit numerics.

Run ``python bench/accuracy_ctc.py`` (``--no-write`` to only print): measures
``examples/digit_strings_lstm`` on the digit strings' test split with
:func:`rnnhw.accuracy.measure_accuracy` (calibration on the train split) and writes the "ctc" section
of ``docs/BENCHMARKS.md``.
"""

from __future__ import annotations

import argparse
import sys

from rnnhw.accuracy import measure_accuracy
from rnnhw.datasets import digit_strings
from rnnhw.examples import example_config, example_weights

try:
    from .benchmarks_md import machine_line, replace_section
except ImportError:  # run as a script
    from benchmarks_md import machine_line, replace_section

__all__ = ["EXAMPLE", "measure", "markdown"]

EXAMPLE = "digit_strings_lstm"


def measure() -> list[tuple[str, float, float, float]]:
    """(numerics, label error rate, sequence accuracy, agreement with float) rows; the first is float."""
    config, weights = example_config(EXAMPLE), example_weights(EXAMPLE)
    test, train = digit_strings("test"), digit_strings("train")
    default = measure_accuracy(config, weights, test)
    calibrated = measure_accuracy(config, weights, test, calibration_data=train, widths=(10, 8))
    rows = [("float64 reference", default.float_label_error_rate, default.float_accuracy, 1.0),
            ("default 16-bit numerics", default.fixed.label_error_rate, default.fixed.accuracy,
             default.fixed.agreement)]
    for point in calibrated.sweep:  # 10, then 8 bits
        e = point.evaluation
        rows.append((f"uniform {point.bits} bits, calibrated", e.label_error_rate, e.accuracy, e.agreement))
    return rows


def markdown(rows) -> str:
    lines = ["## CTC example (digit strings)", "",
             f"Written by `bench/accuracy_ctc.py`. `examples/{EXAMPLE}` (LSTM, hidden 32, head 11 = 10 digits "
             "and the blank, CTC-decoded in hardware) on the digit strings' test split (1,000 strings of 1-5 "
             "test-split digit images, read column by column); calibration on the train split (4,000). Label "
             "error rate = edit distance / reference length; sequence accuracy = exact string; agreement = "
             "decoded string equal to the float reference's.", "", f"Machine: {machine_line()}.", "",
             "| numerics | label error rate | sequence accuracy | agreement |", "|---|---|---|---|"]
    for name, ler, accuracy, agreement in rows:
        lines.append(f"| {name} | {100 * ler:.2f} % | {100 * accuracy:.2f} % | {100 * agreement:.2f} % |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-write", action="store_true", help="only print; leave docs/BENCHMARKS.md alone")
    args = parser.parse_args(argv)
    text = markdown(measure())
    print(text)
    if not args.no_write:
        replace_section("ctc", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""``rnnhw accuracy``: what the number format costs — float reference against fixed point on labelled data.

The measurements are :func:`rnnhw.accuracy.measure_accuracy`'s; this module parses the options, prints
:func:`rnnhw.accuracy.report_lines` and writes the JSON and the plot. Exit status 1 when ``--rtl`` finds
the hardware differing from the golden model (after writing the outputs, which record the mismatch).
"""

from __future__ import annotations

import dataclasses
import json

from rnnhw.accuracy import (
    ACCUM_MARGIN,
    MAX_SWEEP_WIDTH,
    MIN_SWEEP_WIDTH,
    SWEEP_WIDTHS,
    check_rtl,
    measure_accuracy,
    report_lines,
    rtl_line,
    write_plot,
)
from rnnhw.commands._options import DATA_HELP, add_config_argument, integer_option, output_path
from rnnhw.datasets import calibration_data as bundled_calibration_data
from rnnhw.datasets import load_data
from rnnhw.spec.config import load_config
from rnnhw.spec.errors import UserError, VerificationError
from rnnhw.spec.fixed import MAX_FORMAT_WIDTH
from rnnhw.spec.outputs import atomic_file
from rnnhw.spec.weights import load_weights

__all__ = ["register", "run", "parse_widths"]

_DEFAULT_SWEEP = ",".join(str(w) for w in SWEEP_WIDTHS)


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "accuracy",
        help="compare the float model with the fixed-point golden model on labelled data",
        description="Run the float64 reference and the bit-exact golden model on the data and report the "
        "float and fixed-point accuracy (MSE for regression targets Y), the fraction of predicted labels "
        "on which they agree, and the largest and mean absolute difference of the outputs and of the final "
        "hidden states. With label sequences (a CTC model) it reports the sequence accuracy, the label error "
        "rate and the agreement of the decoded strings. On 'digits' and 'digit-strings' it evaluates the "
        "test split (and calibrates on the train split). "
        "Exit status 0; 2 for bad input; 1 if --rtl finds the hardware differing from the golden model.",
    )
    add_config_argument(parser)
    parser.add_argument("--weights", metavar="W", required=True,
                        help="weights file (.npz, .pt or .pth with PyTorch names) matching CONFIG")
    parser.add_argument("--data", metavar="D", required=True, help=f"evaluation data: {DATA_HELP}")
    parser.add_argument("--calibrate", action="store_true",
                        help="first choose every format's integer bits from the weights and the "
                        "activations on the data (the train split for 'digits'), as rnnhw calibrate does; "
                        "also for --sweep")
    parser.add_argument("--sweep", metavar="W1,W2,...", nargs="?", const=_DEFAULT_SWEEP,
                        help="also evaluate uniform widths: input, weight, bias, state, cell_state and "
                        f"output W bits, accum 2W+{ACCUM_MARGIN} bits, activation as configured; integer "
                        "bits calibrated with --calibrate, else as configured (at most W). Widths "
                        f"{MIN_SWEEP_WIDTH} to {MAX_SWEEP_WIDTH}; --sweep alone means {_DEFAULT_SWEEP}")
    parser.add_argument("--rtl", metavar="N", type=int,
                        help="also simulate the generated hardware on the first N sequences and check that "
                        "it equals the golden model bit for bit (needs Verilator; slow)")
    parser.add_argument("--json", metavar="R.json",
                        help="write every number to a JSON file (keys float.accuracy, fixed.accuracy, "
                        "fixed.agreement, fixed.max_abs_err, sweep[].bits/accuracy/agreement, rtl.bit_exact)")
    parser.add_argument("--plot", metavar="P.png",
                        help="with --sweep: write a PNG of accuracy (MSE) against W, the float model as a "
                        "line")
    parser.set_defaults(func=run)


def parse_widths(text: str) -> tuple[int, ...]:
    """``"6,8,10"`` → ``(6, 8, 10)`` (sorted, without repeats); :class:`UserError` if malformed."""
    widths = []
    for item in text.split(","):
        item = item.strip()
        if not (item.isascii() and item.isdigit()):
            raise UserError(f"--sweep {text!r}: {item!r} is not a width; give bit widths separated by "
                            f"commas, e.g. {_DEFAULT_SWEEP}")
        width = int(item)
        if not MIN_SWEEP_WIDTH <= width <= MAX_SWEEP_WIDTH:
            raise UserError(f"--sweep {text!r}: width {width} is outside {MIN_SWEEP_WIDTH}.."
                            f"{MAX_SWEEP_WIDTH} (the accumulator is 2W+{ACCUM_MARGIN} bits, at most "
                            f"{MAX_FORMAT_WIDTH})")
        widths.append(width)
    return tuple(sorted(set(widths)))


def run(args) -> int:
    widths = parse_widths(args.sweep) if args.sweep is not None else ()
    if args.rtl is not None:
        integer_option(args.rtl, "--rtl", 1, 1_000_000)
    if args.plot is not None and not widths:
        raise UserError("--plot draws the sweep; add --sweep (e.g. --sweep 6,8,10,12,16)")
    inputs = (args.config, args.weights, args.data)
    json_path = output_path(args.json, "--json", (".json",), inputs) if args.json else None
    plot_path = output_path(args.plot, "--plot", (".png",), inputs) if args.plot else None
    if args.rtl:
        from rnnhw.sim.runner import prepare_build_dir

        prepare_build_dir()  # the simulation model is built there: checked before the slow work
    config = load_config(args.config)
    weights = load_weights(args.weights, config)
    data = load_data(args.data, split="test")
    calibration_data = None
    if args.calibrate:
        # Digits calibrate on the train split; a user's file is all the data there is.
        calibration_data = bundled_calibration_data(args.data, data)
    report = measure_accuracy(config, weights, data, calibration_data=calibration_data, widths=widths,
                              progress=True)
    for line in report_lines(report):
        print(line, flush=True)
    if args.rtl:  # slow: the numbers above are shown first
        report = dataclasses.replace(report, rtl=check_rtl(report.fixed.config, weights, data, args.rtl))
        print(rtl_line(report.rtl))
    if json_path is not None:
        with atomic_file(json_path) as tmp:
            tmp.write_text(json.dumps(report.to_json(), indent=2) + "\n")
        print(f"wrote {json_path}")
    if plot_path is not None:
        with atomic_file(plot_path) as tmp:
            write_plot(report, tmp)
        print(f"wrote {plot_path}")
    if report.rtl is not None and not report.rtl.bit_exact:
        raise VerificationError(f"the RTL differs from the golden model in {report.rtl.mismatches:,} "
                                f"value(s); first: {report.rtl.first_mismatch}")
    return 0

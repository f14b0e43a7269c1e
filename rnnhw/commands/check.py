"""``rnnhw check CONFIG [--weights W]``: validate a configuration and show what its numerics mean.

Prints the resolved configuration (defaults filled in), every format's range and resolution, the
derived exact accumulator widths, the activation tables, the schedule bound per layer and the expected
cycles per step. Warns
when ``numerics.accum`` cannot hold the worst-case pre-activation. With ``--weights``, also shows each
tensor's range and how many of its values saturate in its format.
"""

from __future__ import annotations

import warnings

from rnnhw.commands._options import add_config_argument, add_fit_options, check_fit_options, report_fit
from rnnhw.describe import describe_config, describe_weights
from rnnhw.spec.config import load_config
from rnnhw.spec.ranges import accumulator_warnings
from rnnhw.spec.weights import QuantizationWarning, load_weights

__all__ = ["register", "run"]


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "check",
        help="validate a configuration and print its numerics",
        description="Validate CONFIG and print the resolved configuration, every fixed-point format's range "
        "and resolution, the derived accumulator widths, the activation tables, the schedule bound "
        "per layer and the expected cycles per step (schedule model), and what the design needs (weight "
        "bits, block RAMs, DSP blocks) against each FPGA family or --target. Warns when numerics.accum is "
        "narrower than the worst-case pre-activation and when no device can hold the design. Exit status 0 "
        "if valid, 2 (one-line error) if not.",
    )
    add_config_argument(parser)
    parser.add_argument(
        "--weights",
        metavar="W",
        help="also validate this weights file (.npz, .pt or .pth with PyTorch names) against CONFIG and "
        "print each tensor's min/max and how many of its values saturate in its format",
    )
    add_fit_options(parser)
    parser.set_defaults(func=run)


def run(args) -> int:
    check_fit_options(args)
    config = load_config(args.config)
    weights = load_weights(args.weights, config) if args.weights else None
    print(describe_config(config))
    print()
    report_fit(args, config)
    for message in accumulator_warnings(config):
        warnings.warn(message, QuantizationWarning, stacklevel=1)
    if weights is not None:
        print()
        print(describe_weights(weights, config, source=args.weights))
    return 0



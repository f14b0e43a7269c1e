"""Option checks shared by the ``train``, ``calibrate`` and ``accuracy`` commands (not a command itself)."""

from __future__ import annotations

import math
from pathlib import Path

from rnnhw.spec.errors import UserError
from rnnhw.spec.outputs import check_output_path
from rnnhw.spec.weights import load_weights, quantize_weights, random_weights

__all__ = ["DATA_HELP", "output_path", "integer_option", "positive_float_option", "add_config_argument",
           "add_weights_options", "weights_from_args", "add_fit_options", "check_fit_options",
           "report_fit", "baked_weights"]

DATA_HELP = ("'digits' (the bundled scikit-learn digits: 8 rows of 8 pixels per sequence), 'digit-strings' "
             "(1-5 of those digits side by side, read column by column, label sequences for CTC) or a .npz file "
             "with X [N, T, F] float, y [N] integer labels, Y float targets or labels [N, Lmax] label sequences "
             "padded with -1, and optionally lengths [N]")


def output_path(path, option: str, suffixes: tuple[str, ...], inputs=()) -> Path:
    """Check an output file option before any work: its suffix, that it can be written and is no input.

    ``inputs`` are the command's input files (``None`` entries are skipped): the output must not be one
    of them, also through links.
    """
    path = Path(path)
    if path.suffix.lower() not in suffixes:
        allowed = " or ".join(suffixes)
        raise UserError(f"{option} {str(path)!r}: the file name must end in {allowed}")
    check_output_path(path, inputs)
    return path


def integer_option(value: int, option: str, lowest: int, highest: int) -> int:
    if not lowest <= value <= highest:
        raise UserError(f"{option} must be from {lowest} to {highest:,}, not {value}")
    return value


def positive_float_option(value: float, option: str) -> float:
    if not (math.isfinite(value) and value > 0):
        raise UserError(f"{option} must be a positive number, not {value}")
    return value


def add_config_argument(parser) -> None:
    parser.add_argument("config", metavar="CONFIG", help="TOML configuration file (keys: docs/config.md)")


def add_weights_options(parser, *, required: bool = True, several: bool = False) -> None:
    """``--weights W`` or ``--random-weights SEED`` (exactly one), shared by the hardware commands.

    ``required=False`` for commands that also build runtime cores (no weights); ``several``: ``--weights``
    may be repeated (a list).
    """
    group = parser.add_mutually_exclusive_group(required=required)
    more = "; repeat it to run several weights files through one runtime core" if several else ""
    runtime = '; not for hardware.weights = "runtime" cores' if not required and not several else ""
    group.add_argument("--weights", metavar="W", action="append" if several else "store",
                       help=f"weights file (.npz, .pt or .pth with PyTorch names) matching CONFIG{more}{runtime}")
    group.add_argument("--random-weights", metavar="SEED", type=int,
                       help="instead of a file: PyTorch-style random weights U(-1/sqrt(H), 1/sqrt(H)) from SEED")


def add_fit_options(parser) -> None:
    """``--target`` and ``--device``: which FPGA the design's needs are compared with (``check``, ``generate``)."""
    from rnnhw.synth import TARGETS

    parser.add_argument("--target", choices=sorted(TARGETS),
                        help="compare what the design needs (block RAMs, DSP blocks) with this FPGA family "
                        "(default: every family)")
    parser.add_argument("--device", metavar="DEV",
                        help="with --target: compare with this device (names as for rnnhw synth)")


def check_fit_options(args) -> None:
    """Refuse a ``--device`` without ``--target`` or one the target lacks, before any work."""
    from rnnhw.synth import resolve_device

    if args.device is not None and args.target is None:
        raise UserError("--device needs --target (the device's family: ecp5, ice40 or xc7)")
    if args.target is not None:
        resolve_device(args.target, args.device)


def report_fit(args, config, stream=None) -> None:
    """Print what the design needs against ``--target``/``--device``; warn when it cannot fit."""
    import sys
    import warnings

    from rnnhw.synth import fit_report

    check_fit_options(args)
    lines, problems = fit_report(config, args.target, args.device)
    for line in lines:
        print(line, file=stream or sys.stdout, flush=True)
    for problem in problems:
        warnings.warn(problem, UserWarning, stacklevel=1)


def baked_weights(args, config):
    """Quantized weights to bake into a ``rom`` core, or None for a ``runtime`` core (which takes none)."""
    given = args.weights is not None or args.random_weights is not None
    if config.hardware.weights == "runtime":
        if given:
            raise UserError('hardware.weights = "runtime" cores are built without weights (they are loaded at '
                            "run time through AXI4-Lite, see rnnhw.driver); drop --weights/--random-weights")
        return None
    if not given:
        raise UserError('give --weights W or --random-weights SEED: hardware.weights = "rom" bakes them into '
                        "the design")
    return quantize_weights(weights_from_args(args, config), config)


def weights_from_args(args, config):
    """Float weights from ``--weights`` or ``--random-weights``."""
    if args.weights is not None:
        return load_weights(args.weights, config)
    if args.random_weights < 0:
        raise UserError(f"--random-weights must be a non-negative integer, not {args.random_weights}")
    integer_option(args.random_weights, "--random-weights", 0, 2**32 - 1)
    return random_weights(config, args.random_weights)

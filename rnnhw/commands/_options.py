"""Option checks shared by the ``train``, ``calibrate`` and ``accuracy`` commands (not a command itself)."""

from __future__ import annotations

import math
from pathlib import Path

from rnnhw.spec.errors import UserError
from rnnhw.spec.outputs import check_output_path
from rnnhw.spec.weights import load_weights, random_weights

__all__ = ["DATA_HELP", "output_path", "integer_option", "positive_float_option", "add_config_argument",
           "add_weights_options", "weights_from_args"]

DATA_HELP = ("'digits' (the bundled scikit-learn digits: 8 rows of 8 pixels per sequence), 'digit-strings' "
             "(1-5 of those digits side by side, read column by column, label sequences for CTC) or a .npz file "
             "with X [N, T, F] float, y [N] integer labels, Y float targets or labels [N, Lmax] label sequences "
             "padded with -1, and optionally lengths [N]")


def output_path(path, option: str, suffixes: tuple[str, ...]) -> Path:
    """Check an output file option before any work: its suffix and that its directory exists."""
    path = Path(path)
    if path.suffix.lower() not in suffixes:
        allowed = " or ".join(suffixes)
        raise UserError(f"{option} {str(path)!r}: the file name must end in {allowed}")
    check_output_path(path)
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


def add_weights_options(parser) -> None:
    """``--weights W`` or ``--random-weights SEED`` (exactly one), shared by the hardware commands."""
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--weights", metavar="W",
                       help="weights file (.npz, .pt or .pth with PyTorch names) matching CONFIG")
    group.add_argument("--random-weights", metavar="SEED", type=int,
                       help="instead of a file: PyTorch-style random weights U(-1/sqrt(H), 1/sqrt(H)) from SEED")


def weights_from_args(args, config):
    """Float weights from ``--weights`` or ``--random-weights``."""
    if args.weights is not None:
        return load_weights(args.weights, config)
    if args.random_weights < 0:
        raise UserError(f"--random-weights must be a non-negative integer, not {args.random_weights}")
    integer_option(args.random_weights, "--random-weights", 0, 2**32 - 1)
    return random_weights(config, args.random_weights)

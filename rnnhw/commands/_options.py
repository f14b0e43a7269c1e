"""Option checks shared by the ``train``, ``calibrate`` and ``accuracy`` commands (not a command itself)."""

from __future__ import annotations

import math
from pathlib import Path

from rnnhw.errors import UserError
from rnnhw.outputs import check_output_path

__all__ = ["DATA_HELP", "output_path", "integer_option", "positive_float_option"]

DATA_HELP = ("'digits' (the bundled scikit-learn digits: 8 rows of 8 pixels per sequence) or a .npz file "
             "with X [N, T, F] float, y [N] integer labels or Y float targets, and optionally lengths [N]")


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

"""Small text helpers shared by the commands' messages and reports."""

from __future__ import annotations

from .fixed import FixedFormat

__all__ = ["number", "shape", "value_range"]


def number(value: float) -> str:
    """A float as the shortest text that reads back to it, without a trailing ``.0``.

    Fixed-point values are dyadic rationals of at most 48 bits, so this is their exact value.
    """
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


def shape(dims) -> str:
    """An array shape as ``[2, 3, 4]``."""
    return "[" + ", ".join(str(int(d)) for d in dims) + "]"


def value_range(fmt: FixedFormat) -> str:
    """The closed range of real values ``fmt`` holds, e.g. ``[-32, 31.9990234375]``."""
    return f"[{number(fmt.min_value)}, {number(fmt.max_value)}]"

"""Checks of component parameters, with messages that name the parameter and what it must be."""

from __future__ import annotations

__all__ = ["check_positive", "check_non_negative", "check_type"]


def check_type(name: str, value, kind: type, what: str) -> None:
    """``value`` must be an instance of ``kind`` (``what`` names it in the message)."""
    if not isinstance(value, kind):
        raise TypeError(f"{name} must be {what}, not {value!r}")


def _integer(name: str, value, what: str) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be {what}, not {value!r}")


def check_positive(name: str, value) -> None:
    """``value`` must be an integer of at least 1."""
    _integer(name, value, "a positive integer")
    if value < 1:
        raise ValueError(f"{name} must be a positive integer, not {value!r}")


def check_non_negative(name: str, value) -> None:
    """``value`` must be an integer of at least 0."""
    _integer(name, value, "a non-negative integer")
    if value < 0:
        raise ValueError(f"{name} must be a non-negative integer, not {value!r}")

"""Pipeline registers."""

from __future__ import annotations

from amaranth.hdl import Module, Signal

__all__ = ["delayed"]


def delayed(m: Module, value, cycles: int, name: str):
    """``value`` registered ``cycles`` times (``cycles == 0`` returns it unchanged)."""
    for stage in range(cycles):
        reg = Signal.like(value, name=f"{name}_d{stage + 1}")
        m.d.sync += reg.eq(value)
        value = reg
    return value

"""Pipeline registers."""

from __future__ import annotations

from amaranth.hdl import Module, Signal

__all__ = ["delayed", "delayed_all", "delayed_stages"]


def delayed_stages(m: Module, value, cycles: int, name: str) -> list:
    """``value`` registered ``cycles`` times: every stage's register, the first (``{name}_d1``) first."""
    stages = []
    for stage in range(cycles):
        reg = Signal.like(value, name=f"{name}_d{stage + 1}")
        m.d.sync += reg.eq(value)
        stages.append(value := reg)
    return stages


def delayed(m: Module, value, cycles: int, name: str):
    """``value`` registered ``cycles`` times (``cycles == 0`` returns it unchanged)."""
    stages = delayed_stages(m, value, cycles, name)
    return stages[-1] if stages else value


def delayed_all(m: Module, cycles: int, stage: str, *values):
    """Each of ``values`` registered ``cycles`` times (names ``{stage}_{index}``), as a tuple."""
    return tuple(delayed(m, value, cycles, f"{stage}_{index}") for index, value in enumerate(values))

"""Pipelined signed multipliers for the elementwise unit: in DSP blocks or in logic."""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal, Value, signed

from rnnhw.spec.latency import MULTIPLIER_LATENCY

__all__ = ["MULTIPLIER_LATENCY", "MULTIPLIER_KINDS", "multiply"]

#: ``"dsp"``: a ``*`` that Yosys maps to a DSP block; ``"logic"``: a shift-add tree in LUTs, so that the
#: only DSP blocks of a design are the matrix-vector lanes' multipliers.
MULTIPLIER_KINDS = ("dsp", "logic")


def multiply(m: Module, a: Value, b: Value, *, kind: str, name: str) -> Signal:
    """``a * b`` (signed), registered, :data:`MULTIPLIER_LATENCY` cycles after ``a`` and ``b``.

    ``"logic"`` sums the partial products ``b[k] * (a << k)`` (the sign bit's negated) in a balanced
    adder tree with a register halfway, so that each stage is two or three adder levels deep.
    """
    if kind not in MULTIPLIER_KINDS:
        raise ValueError(f"kind must be one of {MULTIPLIER_KINDS}, not {kind!r}")
    a, b = Value.cast(a), Value.cast(b)
    width = len(a) + len(b)
    product = Signal(signed(width), name=name)
    if kind == "dsp":
        a_reg, b_reg = Signal.like(a, name=f"{name}_a"), Signal.like(b, name=f"{name}_b")
        m.d.sync += [a_reg.eq(a), b_reg.eq(b), product.eq(a_reg * b_reg)]
        return product
    b_signed = b.as_signed() if not b.shape().signed else b
    partials = []
    for k in range(len(b)):
        term = Mux(b_signed[k], a << k, 0)
        partials.append(-term if k == len(b) - 1 and b.shape().signed else term)
    levels = 0
    while len(partials) > 1:
        partials = [partials[i] + partials[i + 1] if i + 1 < len(partials) else partials[i]
                    for i in range(0, len(partials), 2)]
        levels += 1
        if levels == max(1, _tree_depth(len(b)) // 2):
            registered = []
            for index, partial in enumerate(partials):
                reg = Signal(signed(width), name=f"{name}_sum{index}")
                m.d.sync += reg.eq(partial)
                registered.append(reg)
            partials = registered
    if levels < max(1, _tree_depth(len(b)) // 2):  # a 1-bit multiplier: register once here
        reg = Signal(signed(width), name=f"{name}_sum0")
        m.d.sync += reg.eq(partials[0])
        partials = [reg]
    m.d.sync += product.eq(partials[0])
    return product


def _tree_depth(count: int) -> int:
    depth = 0
    while count > 1:
        count = (count + 1) // 2
        depth += 1
    return depth

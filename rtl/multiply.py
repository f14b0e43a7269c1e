"""Pipelined signed multipliers: for the elementwise unit in DSP blocks or in logic, and the lanes'
packed multiplier that gives two lanes' products from one DSP block."""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal, Value, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from rnnhw.spec.latency import MULTIPLIER_LATENCY
from rnnhw.spec.packing import PACKED_PORT_BITS, guard_shift, packed_width

from .checks import check_positive

__all__ = ["MULTIPLIER_LATENCY", "MULTIPLIER_KINDS", "multiply", "times_constant", "PackedMultiplier", "check_packable"]

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


def times_constant(value, constant: int) -> Value:
    """``value * constant`` as the sum of ``value << k`` over the set bits k of ``constant`` (an integer
    >= 0): address arithmetic in adders. Yosys maps a ``*`` by a constant that is not a power of two to a
    DSP block, which belongs to the lanes."""
    if not isinstance(constant, int) or constant < 0:
        raise ValueError(f"constant must be an integer >= 0, not {constant!r}")
    value = Value.cast(value)
    terms = [value << k for k in range(constant.bit_length()) if constant >> k & 1]
    return sum(terms[1:], terms[0]) if terms else Const(0, 1)


def _tree_depth(count: int) -> int:
    depth = 0
    while count > 1:
        count = (count + 1) // 2
        depth += 1
    return depth


def check_packable(weight_width: int, operand_width: int) -> int:
    """The packed weight's width, after checking that it and the operand fit a multiplier port."""
    check_positive("weight_width", weight_width)
    check_positive("operand_width", operand_width)
    bits = packed_width(weight_width, operand_width)
    if bits > PACKED_PORT_BITS or operand_width > PACKED_PORT_BITS:
        raise ValueError(f"weight_width {weight_width} and operand_width {operand_width} need a {bits}-bit "
                         f"packed weight and a {operand_width}-bit operand; a multiplier port takes at most "
                         f"{PACKED_PORT_BITS} bits (2 * weight_width + operand_width <= {PACKED_PORT_BITS})")
    return bits


class PackedMultiplier(wiring.Component):
    """Two products ``a * x`` and ``b * x`` from one signed multiply of the packed weight
    ``A = a * 2**k + b`` (``k = weight_width + operand_width - 1``, :mod:`rnnhw.spec.packing`) by ``x``.

    The product ``P = A * x`` is registered (one DSP block with its output register); both products are
    separated from it exactly: ``low = P - high * 2**k``, ``high = floor(P / 2**k) + borrow``, where the
    registered borrow is set when the low product is negative (``b`` and ``x`` non-zero, of opposite
    signs): ``low`` is ``P``'s ``k`` low bits below that sign bit.

    Parameters
    ----------
    weight_width, operand_width : int
        Widths of the signed weights ``a``, ``b`` and of the signed operand ``x``.

    Members
    -------
    weight : In(signed(2 * weight_width + operand_width))
        The packed weight ``A`` (:func:`rnnhw.spec.packing.pack`).
    operand : In(signed(operand_width))
        ``x``.
    high, low : Out(signed(weight_width + operand_width + 1))
        ``a * x`` and ``b * x``.

    Latency
    -------
    1 cycle: ``high`` and ``low`` are those of the ``weight`` and ``operand`` of the cycle before.

    Raises
    ------
    TypeError
        If a width is not an integer.
    ValueError
        If a width is less than 1, or the packed weight or the operand would not fit an 18-bit
        multiplier port (``2 * weight_width + operand_width > 18``).
    """

    def __init__(self, *, weight_width: int, operand_width: int):
        bits = check_packable(weight_width, operand_width)
        self._weight_width, self._operand_width = weight_width, operand_width
        result = signed(weight_width + operand_width + 1)
        super().__init__({"weight": In(signed(bits)), "operand": In(signed(operand_width)),
                          "high": Out(result), "low": Out(result)})

    @property
    def weight_width(self):
        return self._weight_width

    @property
    def operand_width(self):
        return self._operand_width

    def elaborate(self, platform):
        m = Module()
        k = guard_shift(self.weight_width, self.operand_width)
        product = Signal(signed(len(self.weight) + self.operand_width), name="product", reset_less=True)
        # The low product b * x is negative when b and x are non-zero and of opposite signs (b: the packed
        # weight's low weight_width bits). Decided from the factors beside the multiply, it is a register
        # when the product is, and no logic of the product's lies before the accumulators' adders.
        low_weight = self.weight[: self.weight_width]
        borrow = Signal(name="borrow", reset_less=True)
        m.d.sync += [product.eq(self.weight * self.operand),
                     borrow.eq((low_weight[-1] ^ self.operand[-1]) & low_weight.any() & self.operand.any())]
        m.d.comb += [self.low.eq(Cat(product[:k], borrow).as_signed()), self.high.eq((product >> k) + borrow)]
        return m

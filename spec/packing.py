"""Two lanes' products from one multiplier block: which widths allow it, and the exact arithmetic.

Lanes ``2j`` and ``2j+1`` multiply their weights ``a`` (lane ``2j+1``) and ``b`` (lane ``2j``) by the
same operand ``x`` every cycle. With the *packed weight* ``A = a * 2**k + b`` one signed multiply gives
``A * x = (a * x) * 2**k + b * x``, and both products separate exactly when ``b * x`` takes fewer
than ``k`` bits' worth of values:

* ``b * x`` of a ``Ww``-bit weight and a ``Wx``-bit operand (two's complement) lies in
  ``[-2**(Ww+Wx-2) + 2**(min-1), 2**(Ww+Wx-2)]``: never ``-2**(Ww+Wx-2)``, so ``k = Ww + Wx - 1`` bits
  hold it in the window ``(-2**(k-1), 2**(k-1)]`` (one guard bit fewer than plain two's complement).
* Separation: ``hi = floor((P + 2**(k-1) - 1) / 2**k)`` is ``a * x`` and ``lo = P - hi * 2**k`` is
  ``b * x`` (:func:`unpack`): the sign correction that takes back the borrow ``b * x < 0`` lends the
  high part.
* ``A`` lies in ``[-2**(Ww-1+k) - 2**(Ww-1), 2**(Ww-1+k))``, so it needs ``Ww + k + 1 = 2 Ww + Wx``
  signed bits: it fits a multiplier port of ``n`` bits if ``2 Ww + Wx <= n`` (and ``x`` the other port).

ECP5's MULT18X18D (18 x 18): ``2 Ww + Wx <= 18``: uniform 6-bit weights and operands (18), 5-bit
weights with up to 8-bit operands, 4-bit weights with up to 10-bit operands; *not* 8-bit weights with
8-bit operands (24 bits). An xc7 DSP48E1 (25 x 18) would take 8 x 8 (24 <= 25), an iCE40 SB_MAC16
(16 x 16) 5 x 5 or 4 x 8; rnnhw generates one design for every target, so it packs only what an 18 x 18
multiplier takes (:data:`PACKED_PORT_BITS`), which the DSP48E1 takes too.
"""

from __future__ import annotations

__all__ = ["PACKED_PORT_BITS", "DSP_PACKING", "guard_shift", "packed_width", "can_pack", "packs_lane_pairs",
           "weight_word_width", "pack", "unpack", "pack_images"]

#: The multiplier port the packed weight must fit: ECP5's MULT18X18D (and xc7's DSP48E1 18-bit port).
PACKED_PORT_BITS = 18
#: Values of ``hardware.dsp_packing``: pack where the formats allow it, or never.
DSP_PACKING = ("auto", "off")


def guard_shift(weight_width: int, operand_width: int) -> int:
    """``k``: where the second product starts in the packed product (``Ww + Wx - 1``)."""
    return weight_width + operand_width - 1


def packed_width(weight_width: int, operand_width: int) -> int:
    """Signed bits of a packed weight ``a * 2**k + b``: ``2 Ww + Wx``."""
    return weight_width + guard_shift(weight_width, operand_width) + 1


def can_pack(weight_width: int, operand_width: int, port_bits: int = PACKED_PORT_BITS) -> bool:
    """Whether a packed weight and the operand each fit a ``port_bits``-bit multiplier port."""
    return packed_width(weight_width, operand_width) <= port_bits and operand_width <= port_bits


def packs_lane_pairs(config) -> bool:
    """Whether lanes ``2j`` and ``2j+1`` of a :class:`.config.Config` share one multiplier:
    ``hardware.dsp_packing = "auto"``, ROM weights, at least two lanes, and weights and operands narrow
    enough (:func:`can_pack`)."""
    n, hardware = config.numerics, config.hardware
    return (hardware.dsp_packing == "auto" and hardware.weights == "rom" and hardware.lanes >= 2
            and can_pack(n.weight.width, max(n.input.width, n.state.width)))


def weight_word_width(config) -> int:
    """Bits of a word of a lane's weight memory: the weight, or a lane pair's packed weight.

    (``config`` is a :class:`.config.Config`, not imported: config.py reads :data:`DSP_PACKING` here.)
    """
    n = config.numerics
    if packs_lane_pairs(config):
        return packed_width(n.weight.width, max(n.input.width, n.state.width))
    return n.weight.width


def pack(high: int, low: int, weight_width: int, operand_width: int) -> int:
    """The packed weight ``high * 2**k + low`` of two signed weights."""
    return high * (1 << guard_shift(weight_width, operand_width)) + low


def unpack(product: int, weight_width: int, operand_width: int) -> tuple[int, int]:
    """``(high * x, low * x)`` from ``pack(high, low) * x``: the hardware's separation, as integers."""
    k = guard_shift(weight_width, operand_width)
    high = (product + (1 << (k - 1)) - 1) >> k
    return high, product - (high << k)


def pack_images(images: list[list[int]], weight_width: int, operand_width: int) -> list[list[int]]:
    """Per lane pair ``(2j, 2j+1)`` one memory image of packed weights (lane ``2j+1`` high); an odd last
    lane keeps its own image."""
    pairs = [[pack(high, low, weight_width, operand_width) for low, high in zip(images[2 * j], images[2 * j + 1],
                                                                                    strict=True)]
             for j in range(len(images) // 2)]
    return pairs + ([list(images[-1])] if len(images) % 2 else [])

"""The FPGA devices rnnhw targets, as numbers, and what a design reaches of them.

Each :class:`DeviceFacts` holds a device's logic (LUTs), block RAM (blocks and bits per block), its
multiplier blocks and the fastest clock one multiplier block runs at: its *multiplier peak* is
``multipliers`` multiply-accumulates per cycle at ``multiplier_fmax_mhz``. ``rnnhw.synth`` takes the
capacities of its devices from here; ``rnnhw synth`` and the benchmarks report against them with
:func:`gops` and :func:`peak_fraction`.

Sources. Logic, memory and multipliers: the vendors' family tables (Lattice ECP5 and ECP5-5G Family
Data Sheet, FPGA-DS-02012, Table 1.1; iCE40 UltraPlus Family Data Sheet, FPGA-DS-02008, Table 1.1, and
iCE40 LP/HX Family Data Sheet, DS1040, Table 1-1; AMD 7 Series FPGAs Overview, DS180, and Zynq-7000
Overview, DS190). Multiplier clock: for ECP5 and iCE40 *measured* in rnnhw's own flow (Yosys, nextpnr
0.11, seed 1, ``bench/multiplier_clock.py``): one 18x18 (iCE40: 16x16) signed product between
registers, the best a lane's multiplier can do there. On ECP5 the flow moves the input registers into
the MULT18X18D (``rnnhw.hard_registers``) and keeps the product register by it, as in the lanes. For
xc7, which rnnhw synthesises without place and route, the data sheet's DSP48E1 F_MAX with all pipeline
registers at speed grade -1 (DS181 Artix-7, DS187 Zynq-7000, DS182 Kintex-7).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["DeviceFacts", "DEVICES", "BLOCK_BITS", "MULTIPLIER_INPUTS", "ECP5_MULTIPLIER_FMAX_MHZ", "device_facts",
           "gops", "peak_fraction", "steps_per_second"]

#: ECP5 18x18 multiplier between registers (the input registers in the MULT18X18D, the product register
#: in the fabric), placed and routed by nextpnr-ecp5 0.11 (seed 1, 400 MHz constraint) on the LFE5UM-85F,
#: by speed grade (8 is the fastest and rnnhw's default). With all three registers in the fabric (before
#: the flow moved registers into the block): 135.5, 155.71, 182.35 MHz.
ECP5_MULTIPLIER_FMAX_MHZ = {6: 191.28, 7: 217.11, 8: 246.67}
# iCE40UP5K SB_MAC16 16x16 with its input and output registers, nextpnr-ice40 0.11 (seed 1, 100 MHz).
_ICE40_MAC16_FMAX_MHZ = 198.45
# DSP48E1 F_MAX, all registers, speed grade -1: Artix-7 and Zynq-7000 (DS181, DS187), Kintex-7 (DS182).
_ARTIX7_DSP_FMAX_MHZ = 464.0
_KINTEX7_DSP_FMAX_MHZ = 563.0

#: Bits of one counted block RAM: ECP5 DP16KD and xc7 RAMB18E1 hold 18 kbit (with parity), iCE40 4 kbit.
BLOCK_BITS = {"ecp5": 18 * 1024, "ice40": 4 * 1024, "xc7": 18 * 1024}
#: Widths of the two signed factors of one multiplier block, by family.
MULTIPLIER_INPUTS = {"ecp5": (18, 18), "ice40": (16, 16), "xc7": (25, 18)}


@dataclass(frozen=True)
class DeviceFacts:
    """One device's resources and multiplier clock.

    Members
    -------
    name : canonical name (``LFE5UM-85F``, ``iCE40UP5K``, ``xc7a35t``).
    family : ``ecp5``, ``ice40`` or ``xc7`` (the ``rnnhw synth`` target).
    luts : LUTs (ECP5, iCE40: LUT4; xc7: LUT6).
    brams : block RAMs, each of ``bram_block_bits`` (ECP5 DP16KD, iCE40 SB_RAM40_4K, xc7 RAMB18E1).
    multipliers : DSP multiplier blocks (ECP5 MULT18X18D, iCE40 SB_MAC16, xc7 DSP48E1).
    multiplier_fmax_mhz : the fastest clock of one multiplier block (see the module docstring).
    ffs : flip-flops, where the fit check counts them (xc7 only), else ``None``.
    """

    name: str
    family: str
    luts: int
    brams: int
    multipliers: int
    multiplier_fmax_mhz: float
    ffs: int | None = None

    @property
    def bram_block_bits(self) -> int:
        return BLOCK_BITS[self.family]

    @property
    def bram_bits(self) -> int:
        return self.brams * self.bram_block_bits

    @property
    def multiplier_inputs(self) -> tuple[int, int]:
        """Widths of the two signed factors one multiplier block takes."""
        return MULTIPLIER_INPUTS[self.family]

    @property
    def peak_macs_per_second(self) -> float:
        """Every multiplier block busy at its fastest clock: ``multipliers x multiplier_fmax_mhz``."""
        return self.multipliers * self.multiplier_fmax_mhz * 1e6

    @property
    def capacity(self) -> dict[str, int]:
        """Resources by ``rnnhw synth`` report key (``luts``, ``dsps``, ``brams``; xc7 also ``ffs``)."""
        flip_flops = {} if self.ffs is None else {"ffs": self.ffs}
        return {"luts": self.luts, **flip_flops, "dsps": self.multipliers, "brams": self.brams}


def _ecp5(prefix: str, size: int, luts: int, brams: int, multipliers: int) -> DeviceFacts:
    return DeviceFacts(f"{prefix}-{size}F", "ecp5", luts, brams, multipliers, ECP5_MULTIPLIER_FMAX_MHZ[8])


def _ice40(name: str, luts: int, brams: int, multipliers: int = 0) -> DeviceFacts:
    return DeviceFacts(name, "ice40", luts, brams, multipliers, _ICE40_MAC16_FMAX_MHZ if multipliers else 0.0)


def _xc7(name: str, luts: int, ffs: int, multipliers: int, bram36: int, fmax: float) -> DeviceFacts:
    return DeviceFacts(name, "xc7", luts, 2 * bram36, multipliers, fmax, ffs=ffs)


# ECP5 LUT4s, 18 kbit EBR blocks, 18x18 multipliers (FPGA-DS-02012 Table 1.1: 24K/44K/84K LUTs,
# 56/108/208 EBR = 1,008/1,944/3,744 kbit, 28/72/156 multipliers); the U, UM and UM5G parts of a size
# share the fabric.
_ECP5_SIZES = {25: (24288, 56, 28), 45: (43848, 108, 72), 85: (83640, 208, 156)}

#: Every device rnnhw targets, by canonical name.
DEVICES: dict[str, DeviceFacts] = {facts.name: facts for facts in (
    *(_ecp5(prefix, size, *_ECP5_SIZES[size]) for prefix in ("LFE5UM", "LFE5U", "LFE5UM5G") for size in (85, 45, 25)),
    # iCE40 LUT4s, 4 kbit EBR, SB_MAC16 (UltraPlus: 5,280 LUTs, 30 EBR, 8 DSP; LP/HX tables).
    _ice40("iCE40UP5K", 5280, 30, 8), _ice40("iCE40HX8K", 7680, 32), _ice40("iCE40HX1K", 1280, 16),
    _ice40("iCE40LP8K", 7680, 32), _ice40("iCE40LP1K", 1280, 16), _ice40("iCE40LP384", 384, 0),
    # 7 series LUTs, flip-flops, DSP48E1 and 36 kbit block RAMs (each two RAMB18E1).
    _xc7("xc7a35t", 20800, 41600, 90, 50, _ARTIX7_DSP_FMAX_MHZ),
    _xc7("xc7a50t", 32600, 65200, 120, 75, _ARTIX7_DSP_FMAX_MHZ),
    _xc7("xc7a100t", 63400, 126800, 240, 135, _ARTIX7_DSP_FMAX_MHZ),
    _xc7("xc7a200t", 134600, 269200, 740, 365, _ARTIX7_DSP_FMAX_MHZ),
    _xc7("xc7z010", 17600, 35200, 80, 60, _ARTIX7_DSP_FMAX_MHZ),
    _xc7("xc7z020", 53200, 106400, 220, 140, _ARTIX7_DSP_FMAX_MHZ),
    _xc7("xc7k325t", 203800, 407600, 840, 445, _KINTEX7_DSP_FMAX_MHZ),
)}

# An ECP5 ordering code: base name, speed grade, optional package and temperature grade.
_ECP5_CODE = re.compile(r"^(LFE5U(?:M5G|M)?-(?:25|45|85)F)-([678])", re.I)


def device_facts(name: str) -> DeviceFacts:
    """The facts of a device by canonical name, or by an ECP5 ordering code (``LFE5UM-85F-7BG381C``),
    whose speed grade sets the multiplier clock.

    Raises
    ------
    KeyError
        An unknown device (``rnnhw.synth.resolve_device`` names the supported ones to the user).
    """
    if name in DEVICES:
        return DEVICES[name]
    match = _ECP5_CODE.match(name)
    if match is None:
        raise KeyError(name)
    base = next(facts for key, facts in DEVICES.items() if key.lower() == match.group(1).lower())
    return DeviceFacts(name, base.family, base.luts, base.brams, base.multipliers,
                       ECP5_MULTIPLIER_FMAX_MHZ[int(match.group(2))])


def steps_per_second(cycles_per_step: float, fmax_mhz: float) -> float:
    """Timesteps per second at ``fmax_mhz``."""
    return fmax_mhz * 1e6 / cycles_per_step


def gops(macs_per_step: int, cycles_per_step: float, fmax_mhz: float) -> float:
    """Giga-operations per second: ``2 x macs_per_step x steps per second / 1e9`` (a multiply-accumulate
    is two operations)."""
    return 2 * macs_per_step * steps_per_second(cycles_per_step, fmax_mhz) / 1e9


def peak_fraction(lanes: int, fmax_mhz: float, device: DeviceFacts) -> float | None:
    """The share of the device's multiplier peak the lanes reach: ``P x Fmax`` against
    ``multipliers x multiplier_fmax_mhz`` (``None`` for a device without multipliers)."""
    if not device.multipliers:
        return None
    return lanes * fmax_mhz * 1e6 / device.peak_macs_per_second

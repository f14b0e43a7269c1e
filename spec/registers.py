"""The AXI4-Lite register map and weight window of cores built with ``[hardware] weights = "runtime"``.

Defined here once; the RTL (``rtl.csr``), the C header and the integration README (``rnnhw generate``),
the host driver (``rnnhw.driver``) and the tests all read it from here.

Every register is one 32-bit word at a byte offset below :data:`REGISTER_SPACE`. Beyond it lies the
**weight window**: one region per kind of lane memory (:func:`weight_window`). Word ``i`` of lane
``p``'s memory is at byte address ``region.base + 4 * (p * region.lane_stride + i)``; ``lane_stride``
is the memory depth rounded up to a power of two, and each region is aligned to its power-of-two size,
so the hardware decodes a window address by slicing bits. The words' contents are the lanes' memory
images of :meth:`rnnhw.spec.schedule.Schedule.weight_images` / ``bias_images`` (:func:`window_words`).

The rules of access are :data:`ACCESS_RULES`.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass

from .config import CELLS, GRU_RESETS, NONLINEARITIES, OUTPUT_ACTIVATIONS, Config
from .errors import ConfigError
from .fixed import Overflow, Rounding
from .schedule import Schedule
from .weights import QuantizedWeights

__all__ = ["ACCESS_RULES", "layout_rules", "image_constants", "Field", "Register", "WindowRegion", "IDENTIFICATION",
           "MAP_VERSION", "REGISTER_SPACE", "WORD_BYTES", "registers", "register", "weight_window", "window_words",
           "address_width", "bias_hn_word", "config_crc", "check_runtime", "FORMAT_REGISTERS", "ACCESSES",
           "CONTROL_SPACE", "CYCLES_BITS", "COUNTER_BITS", "WINDOW_REGIONS", "axil_ports"]

#: ``ID`` register: ASCII "RNNH".
IDENTIFICATION = 0x524E4E48
#: ``VERSION`` register: major << 16 | minor of this register map.
MAP_VERSION = (1 << 16) | 1
WORD_BYTES = 4
#: Bytes of the register space at the bottom of the address map; the weight window lies above.
REGISTER_SPACE = 0x100
#: How the slave answers; the integration README and the C header quote these.
ACCESS_RULES = (
    "Accesses are 32-bit words, little-endian; the low two address bits are ignored and so is wstrb "
    "(a write writes the whole word).",
    "A read of a register or of a mapped window word answers OKAY.",
    "A write to a read-only register, and any access to an address that maps to nothing (a gap in the "
    "register space, a lane beyond the last, a word beyond a memory's depth), answers SLVERR, changes nothing "
    "and sets STATUS.BAD_ACCESS.",
    "While the core is busy (STATUS.BUSY: a sequence has entered and its last output has not left), every "
    "weight-window access answers SLVERR, changes nothing and sets STATUS.WINDOW_REFUSED: weights never change "
    "under a running sequence. Wait for BUSY = 0 (or write CONTROL.SOFT_RESET) and retry.",
    "One access is served at a time (a write first if both come together); a write is answered 2 cycles after "
    "it is taken (a window write 3), a register read 3 cycles (a window read 5): nothing waits for anything else.",
)

#: Registers below this offset are constants (identification and configuration); control, status and
#: counters start here.
CONTROL_SPACE = 0x80
#: Access kinds: read-only, read/write, write-1-to-act (each 1 bit acts once; reads as 0).
ACCESSES = {"ro": "read-only (a write answers SLVERR)", "rw": "read/write",
            "pulse": "write 1 to a bit to act once; reads as 0"}

#: The weight window's regions, in address order (``BIAS_HN`` only in GRU cores).
WINDOW_REGIONS = ("WEIGHTS", "BIASES", "BIAS_HN")

#: Width of the CYCLES counter (CYCLES_HI holds its bits 47..32).
CYCLES_BITS = 48
#: Width of the TIMESTEPS and SEQUENCES counters.
COUNTER_BITS = 32

#: The format registers, in order, and the ``[numerics]`` key each describes.
FORMAT_REGISTERS = ("input", "weight", "bias", "state", "cell_state", "accum", "activation", "output")


@dataclass(frozen=True)
class Field:
    """A bit field of a register: bits ``lsb .. lsb + width - 1``."""

    name: str
    lsb: int
    width: int
    meaning: str

    @property
    def mask(self) -> int:
        return ((1 << self.width) - 1) << self.lsb


@dataclass(frozen=True)
class Register:
    """One 32-bit register. ``reset`` is its value after reset (for the live ones, with nothing run)."""

    name: str
    offset: int
    access: str
    reset: int
    meaning: str
    fields: tuple[Field, ...] = ()

    @property
    def constant(self) -> bool:
        """Identification and configuration: the value is fixed when the core is generated."""
        return self.offset < CONTROL_SPACE

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"register {self.name} has no field {name!r}")


@dataclass(frozen=True)
class WindowRegion:
    """One region of the weight window: a memory of ``depth`` words in each of ``lanes`` lanes."""

    name: str
    base: int  # byte address of lane 0's word 0
    lanes: int
    depth: int
    lane_stride: int  # words from one lane's word 0 to the next lane's (a power of two)
    word_bits: int  # low bits of the 32-bit word that are stored
    signed: bool  # a read returns the stored bits sign-extended (else zero-extended) to 32 bits
    meaning: str

    @property
    def size(self) -> int:
        """Bytes the region spans (a power of two; ``base`` is a multiple of it)."""
        return WORD_BYTES * _power_of_two(self.lanes * self.lane_stride)

    def address(self, lane: int, index: int) -> int:
        return self.base + WORD_BYTES * (lane * self.lane_stride + index)


def _power_of_two(n: int) -> int:
    return 1 << max(0, math.ceil(math.log2(max(n, 1))))


def check_runtime(config: Config) -> None:
    """Refuse a configuration without the register map (``spec.config`` checks the word widths)."""
    if config.hardware.weights != "runtime":
        raise ConfigError('only cores with hardware.weights = "runtime" have registers; this one has "rom"')


def config_crc(config: Config) -> int:
    """CRC-32 of the configuration's canonical TOML text (``CONFIG_CRC``): one register for all keys."""
    return zlib.crc32(config.to_toml().encode())


def _choices(names) -> str:
    return ", ".join(f"{k} {name}" for k, name in enumerate(names))


def _cell_register(model) -> Register:
    """``CELL``: the cell and what else decides the weight layout and the outputs."""
    fields = (Field("CELL", 0, 4, _choices(CELLS)),
              Field("RETURN_SEQUENCES", 8, 1, "1: one output vector per timestep"),
              Field("GRU_RESET", 9, 1, f"model.gru_reset: {_choices(GRU_RESETS)} (the passes' rows and biases "
                                       "differ)"),
              Field("NONLINEARITY", 12, 2, f"Jordan: model.nonlinearity, {_choices(NONLINEARITIES)}"),
              Field("OUTPUT_ACTIVATION", 16, 2, f"Jordan: model.output_activation, {_choices(OUTPUT_ACTIVATIONS)}"))
    values = (CELLS.index(model.cell), int(model.return_sequences), GRU_RESETS.index(model.gru_reset),
              NONLINEARITIES.index(model.nonlinearity), OUTPUT_ACTIVATIONS.index(model.output_activation))
    return Register("CELL", 0x08, "ro", sum(value << f.lsb for f, value in zip(fields, values, strict=True)),
                    "cell type and output mode", fields)


def _format_word(fmt) -> int:
    return fmt.width | ((fmt.int_bits & 0xFF) << 8) | (int(fmt.signed) << 16)


_FORMAT_FIELDS = (Field("WIDTH", 0, 8, "total bits W"), Field("INT_BITS", 8, 8, "integer bits I (two's complement)"),
                  Field("SIGNED", 16, 1, "1: signed (fixed<W,I>), 0: unsigned"))


def registers(config: Config) -> tuple[Register, ...]:
    """Every register, in address order, with the reset values of the core built for ``config``."""
    check_runtime(config)
    model, n, sch = config.model, config.numerics, Schedule(config)
    rounding, overflow = list(Rounding).index(n.rounding), list(Overflow).index(n.overflow)
    numerics = rounding | (overflow << 4) | (int(n.lut_interpolate) << 8) | (int(math.log2(n.lut_size)) << 16)
    regs = [
        Register("ID", 0x00, "ro", IDENTIFICATION, 'identification: 0x524E4E48, ASCII "RNNH"'),
        Register("VERSION", 0x04, "ro", MAP_VERSION, "register map version",
                 (Field("MINOR", 0, 16, "minor version"), Field("MAJOR", 16, 16, "major version"))),
        _cell_register(model),
        Register("INPUT_SIZE", 0x0C, "ro", model.input_size, "model.input_size (I)"),
        Register("HIDDEN_SIZE", 0x10, "ro", model.hidden_size, "model.hidden_size (H)"),
        Register("NUM_LAYERS", 0x14, "ro", model.num_layers, "model.num_layers"),
        Register("HEAD", 0x18, "ro", model.head, "model.head (0: no head)"),
        Register("LANES", 0x1C, "ro", config.hardware.lanes, "hardware.lanes (P)"),
    ]
    for k, key in enumerate(FORMAT_REGISTERS):
        regs.append(Register(f"FORMAT_{key.upper()}", 0x20 + WORD_BYTES * k, "ro", _format_word(getattr(n, key)),
                             f"numerics.{key} ({getattr(n, key)})", _FORMAT_FIELDS))
    regs += [
        Register("NUMERICS", 0x40, "ro", numerics, "rounding, overflow and activation tables",
                 (Field("ROUNDING", 0, 4, "0 TRN, 1 RND, 2 RND_CONV"), Field("OVERFLOW", 4, 4, "0 SAT, 1 WRAP"),
                  Field("LUT_INTERPOLATE", 8, 1, "numerics.lut_interpolate"),
                  Field("LUT_SIZE_LOG2", 16, 5, "log2(numerics.lut_size)"))),
        Register("WEIGHT_DEPTH", 0x44, "ro", sch.weight_depth, "weight words per lane"),
        Register("BIAS_DEPTH", 0x48, "ro", sch.bias_depth, "bias words per lane"),
        Register("CONFIG_CRC", 0x4C, "ro", config_crc(config), "CRC-32 of the configuration's canonical TOML"),
        Register("OUTPUT_SIZE", 0x50, "ro", model.output_size, "model.output_size (O: the Jordan cell's outputs "
                                                               "per layer; 0 for the other cells)"),
        Register("CONTROL", CONTROL_SPACE, "pulse", 0, "control",
                 (Field("SOFT_RESET", 0, 1, "return the datapath to idle, dropping sequences in flight "
                                            "(weights, counters and registers are kept)"),
                  Field("CLEAR_COUNTERS", 1, 1, "set CYCLES, TIMESTEPS and SEQUENCES to 0"),
                  Field("CLEAR_ERRORS", 2, 1, "clear STATUS.WINDOW_REFUSED and STATUS.BAD_ACCESS"))),
        Register("STATUS", 0x84, "ro", 0, "status",
                 (Field("BUSY", 0, 1, "a sequence has entered and its last output has not left"),
                  Field("WINDOW_REFUSED", 1, 1, "sticky: a weight-window access came while busy (SLVERR)"),
                  Field("BAD_ACCESS", 2, 1, "sticky: an unmapped access or a write to a read-only register "
                                            "(SLVERR)"))),
        Register("SCRATCH", 0x88, "rw", 0, "free for software (bus checks)"),
        Register("CYCLES_LO", 0x90, "ro", 0, "busy clock cycles since clear, bits 31..0"),
        Register("CYCLES_HI", 0x94, "ro", 0, "busy clock cycles since clear, bits 47..32 (read HI, LO, HI; "
                                             "repeat if HI changed)"),
        Register("TIMESTEPS", 0x98, "ro", 0, "timesteps whose inputs entered since clear"),
        Register("SEQUENCES", 0x9C, "ro", 0, "sequences whose inputs entered since clear"),
    ]
    return tuple(regs)


def register(config: Config, name: str) -> Register:
    for reg in registers(config):
        if reg.name == name:
            return reg
    raise KeyError(f"no register {name!r}")


def weight_window(config: Config) -> tuple[WindowRegion, ...]:
    """The weight window's regions, in address order (reset-after GRU cores have a third, ``BIAS_HN``)."""
    check_runtime(config)
    sch, lanes, n, model = Schedule(config), config.hardware.lanes, config.numerics, config.model
    recurrent, outputs, output_biases = ("W_yh", "each layer's output layer W_hy", "each layer's b_hy") \
        if model.jordan else ("W_hh", "the head", "the head's")
    n_rows = "; n rows b_in" if sch.split_rows else ""
    kinds = [("WEIGHTS", sch.weight_depth, n.weight.width, True,
              f"weights: per lane, each pass's row of [W_ih | {recurrent}], layer by layer, then the rows of "
              f"{outputs} (Schedule.weight_images)"),
             ("BIASES", sch.bias_depth, n.bias.width, True,
              f"biases: per lane, one word per pass (b_ih + b_hh{n_rows}), layers, then {output_biases} "
              "(Schedule.bias_images, first value)")]
    if sch.split_rows:  # design.MemorySizes.bias_values_per_word == 2
        kinds.append(("BIAS_HN", sch.bias_depth, n.bias.width + 1, False,
                      f"GRU: per lane and pass, b_hn in bits {n.bias.width - 1}..0 and the n-row flag in bit "
                      f"{n.bias.width} (Schedule.bias_images, second value and flag)"))
    regions, cursor = [], REGISTER_SPACE
    for name, depth, bits, signed, meaning in kinds:
        stride = _power_of_two(depth)
        size = WORD_BYTES * _power_of_two(lanes * stride)
        base = -(-cursor // size) * size
        regions.append(WindowRegion(name, base, lanes, depth, stride, bits, signed, meaning))
        cursor = base + size
    return tuple(regions)


def address_width(config: Config) -> int:
    """Bits of ``s_axil_awaddr`` / ``s_axil_araddr``: enough for the whole window."""
    end = max(region.base + region.size for region in weight_window(config))
    return max(12, math.ceil(math.log2(end)))


def bias_hn_word(second: int, flag: int, bias_width: int) -> int:
    """A ``BIAS_HN`` memory word (reset-after GRU): ``b_hn`` in the low ``bias_width`` bits, the n-row flag
    above. The ROM core's memory contents (``rtl.matvec``) and the runtime window words are both this."""
    return (flag << bias_width) | (second & ((1 << bias_width) - 1))


def window_words(config: Config, weights: QuantizedWeights) -> dict[str, list[list[int]]]:
    """Per region and lane, the words to write (unsigned 32-bit: two's complement of the stored bits).

    They are the memory images a ROM core bakes in: :meth:`Schedule.weight_images`, and
    :meth:`Schedule.bias_images` split into the ``BIASES`` and (reset-after GRU) ``BIAS_HN`` words.
    """
    sch = Schedule(config)
    bias_width = config.numerics.bias.width
    biases = sch.bias_images(weights)
    images = {"WEIGHTS": sch.weight_images(weights),
              "BIASES": [[first for first, _, _ in lane] for lane in biases],
              "BIAS_HN": [[bias_hn_word(second, flag, bias_width) for _, second, flag in lane] for lane in biases]}
    return {region.name: [[int(v) & 0xFFFFFFFF for v in lane] for lane in images[region.name]]
            for region in weight_window(config)}


#: The AXI4-Lite slave's signals (Vivado's ``s_axil_`` names): (suffix, direction, width or None for the
#: address width, meaning).
_AXIL_SIGNALS = (
    ("awaddr", "input", None, "write address (byte address)"),
    ("awprot", "input", 3, "write protection (ignored)"),
    ("awvalid", "input", 1, "write address valid"),
    ("awready", "output", 1, "write address accepted"),
    ("wdata", "input", 32, "write data"),
    ("wstrb", "input", 4, "write strobes (ignored: every write writes the whole word)"),
    ("wvalid", "input", 1, "write data valid"),
    ("wready", "output", 1, "write data accepted"),
    ("bresp", "output", 2, "write response: 0 OKAY, 2 SLVERR"),
    ("bvalid", "output", 1, "write response valid"),
    ("bready", "input", 1, "write response accepted"),
    ("araddr", "input", None, "read address (byte address)"),
    ("arprot", "input", 3, "read protection (ignored)"),
    ("arvalid", "input", 1, "read address valid"),
    ("arready", "output", 1, "read address accepted"),
    ("rdata", "output", 32, "read data"),
    ("rresp", "output", 2, "read response: 0 OKAY, 2 SLVERR"),
    ("rvalid", "output", 1, "read data valid"),
    ("rready", "input", 1, "read data accepted"),
)


def axil_ports(config: Config) -> tuple[tuple[str, str, int, str], ...]:
    """``(name, direction, width, meaning)`` of each ``s_axil_*`` port of a runtime core."""
    width = address_width(config)
    return tuple((f"s_axil_{suffix}", direction, bits or width, meaning)
                 for suffix, direction, bits, meaning in _AXIL_SIGNALS)


def layout_rules(config: Config) -> tuple[str, ...]:
    """Where each weight and bias of ``config``'s model goes in the window (numbers: :func:`image_constants`).

    The rules restate :meth:`Schedule.pass_rows` and :meth:`Schedule.weight_images` / ``bias_images``
    for firmware; the tests apply them by hand and compare with :func:`window_words`.
    """
    model, sch = config.model, Schedule(config)
    if model.reset_before:
        rows = ("Gate rows (GRU with the reset before W_hn): a layer's first RESET_PASSES passes compute the r and z "
                "rows, row r = unit * 2 + gate (0 r, 1 z) on lane r % LANES in pass r // LANES; the n rows follow "
                "in passes of their own, unit u's on lane u % LANES in pass RESET_PASSES + u // LANES (PASSES "
                "passes per layer). A row's PyTorch row is gate * HIDDEN_SIZE + unit.")
    else:
        rows = ("Gate rows are unit-major: row r = unit * GATES + gate, gates in PyTorch's order (LSTM i f g o, GRU "
                "r z n), PyTorch row gate * HIDDEN_SIZE + unit. Row r of a layer is computed by lane r % LANES in "
                "pass r // LANES (PASSES passes per layer).")
    recurrent = "W_yh[row, j - input size] (weight_hh_l<k>: the recurrent operands are y_{t-1})" if model.jordan \
        else "W_hh[row, j - input size]"
    rules = [rows,
             "WEIGHTS word of lane p for layer k, pass q, operand j: index LAYER<k>_WEIGHT_BASE + q * "
             f"LAYER<k>_OPERANDS + j, holding W_ih[row, j] for j < the layer's input size, else {recurrent} (row: "
             "the PyTorch row of lane p in pass q)."]
    if sch.split_rows:
        biases = "b_ih[row] + b_hh[row] (GRU n rows: b_in[row] alone)"
    elif model.reset_before:
        biases = "b_ih[row] + b_hh[row] (n rows too: with the reset before W_hn, b_hn is added with b_in)"
    else:
        biases = "b_ih[row] + b_hh[row]"
    rules.append(f"BIASES word of lane p for layer k, pass q: index LAYER<k>_BIAS_BASE + q, holding {biases}.")
    if model.jordan:
        rules.append("Layer k's output layer, OUTPUT_PASSES passes after its gate passes: WEIGHTS index "
                     "OUTPUT<k>_WEIGHT_BASE + q * HIDDEN_SIZE + j holds weight_hy_l<k>[q * LANES + p, j], BIASES "
                     "index OUTPUT<k>_BIAS_BASE + q holds bias_hy_l<k>[q * LANES + p].")
    elif model.head:
        rules.append("The head, HEAD_PASSES passes: WEIGHTS index HEAD_WEIGHT_BASE + q * HIDDEN_SIZE + j holds "
                     "head.weight[q * LANES + p, j], BIASES index HEAD_BIAS_BASE + q holds head.bias[q * LANES + p].")
    if sch.split_rows:
        rules.append("BIAS_HN, same index as BIASES: b_hn of an n row and the flag bit set, else 0.")
    rules.append("Rows past the last (when LANES does not divide the rows) hold 0. Values are two's complement in the "
                 "numerics.weight / numerics.bias formats (integer = value * 2^fraction bits, rounded and saturated "
                 "as rnnhw golden does).")
    return tuple(rules)


def image_constants(config: Config) -> tuple[tuple[str, int, str], ...]:
    """``(name, value, meaning)`` of the numbers :func:`layout_rules` refer to."""
    model, sch = config.model, Schedule(config)
    out = [("GATES", model.gates, "gates per hidden unit"),
           ("LANES", config.hardware.lanes, "lanes (P)"),
           ("HIDDEN_SIZE", model.hidden_size, "hidden units (H)")]
    if model.reset_before:
        out += [("RESET_PASSES", sch.reset_passes, "passes over the r and z rows: ceil(2 * H / P)"),
                ("PASSES", sch.passes, "passes per layer: RESET_PASSES + ceil(H / P)")]
    else:
        out.append(("PASSES", sch.passes, "passes per layer: ceil(GATES * H / P)"))
    if model.jordan:
        out += [("OUTPUT_SIZE", model.output_size, "outputs y of each layer (O)"),
                ("OUTPUT_PASSES", sch.head_passes, "passes of a layer's output layer: ceil(O / P)")]
    else:
        out.append(("HEAD_PASSES", sch.head_passes, "passes of the head: ceil(head / P)"))
    recurrent = "O" if model.jordan else "H"
    for k in range(model.num_layers):
        out += [(f"LAYER{k}_OPERANDS", sch.operands(k), f"operands of layer {k}: its input size + {recurrent}"),
                (f"LAYER{k}_WEIGHT_BASE", sch.weight_base(k), f"first WEIGHTS index of layer {k}"),
                (f"LAYER{k}_BIAS_BASE", sch.bias_base(k), f"first BIASES index of layer {k}")]
    for k in range(sch.head_jobs if model.jordan else 0):
        out += [(f"OUTPUT{k}_WEIGHT_BASE", sch.head_weight_base(k), f"first WEIGHTS index of layer {k}'s W_hy"),
                (f"OUTPUT{k}_BIAS_BASE", sch.head_bias_base(k), f"first BIASES index of layer {k}'s b_hy")]
    if model.head:
        out += [("HEAD_WEIGHT_BASE", sch.head_weight_base(), "first WEIGHTS index of the head"),
                ("HEAD_BIAS_BASE", sch.head_bias_base(), "first BIASES index of the head")]
    return tuple(out)

"""A design against its device: throughput, the share of the multiplier peak, and the largest LSTM that fits.

:func:`performance` turns a place-and-route result into GOP/s and the fraction of the device's
multiplier peak (``rnnhw synth`` reports them). :func:`estimate_resources` is a resource model of a
one-layer LSTM on an ECP5 device, without synthesis; :func:`largest_lstm` searches it for the largest
hidden size that fits. ``docs/synthesis.md`` ("Filling the device") describes the model and how it
compares with real syntheses.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from rnnhw.spec.config import Config, config_from_dict
from rnnhw.spec.datapath import datapath
from rnnhw.spec.design import memory_sizes, packs_lane_pairs
from rnnhw.spec.devices import DeviceFacts, device_facts, gops, peak_fraction
from rnnhw.spec.errors import UserError
from rnnhw.spec.packing import packed_width
from rnnhw.spec.schedule import Schedule, macs_per_step

__all__ = ["Performance", "performance", "Memory", "memories", "ResourceEstimate", "estimate_resources",
           "LstmFit", "largest_lstm", "lstm_config", "LUT_RAM_MAX_BITS", "LANE_LUTS", "BASE_LUTS",
           "ASSUMED_FMAX_MHZ"]


@dataclass(frozen=True)
class Performance:
    """Throughput of a design at its Fmax on a device.

    Members
    -------
    macs_per_step : multiply-accumulates of one timestep, all layers (the head's, once per sequence, excluded).
    cycles_per_step : the schedule model's steady state (``Schedule.cycles_per_step()``).
    latency_per_step_us : cycles per step / Fmax.
    gops : ``2 x macs_per_step x steps per second / 1e9``.
    peak_fraction : ``P x Fmax`` against ``multipliers x multiplier Fmax`` of the device (``None`` if it has
        no multipliers).
    """

    macs_per_step: int
    cycles_per_step: int
    latency_per_step_us: float | None
    gops: float | None
    peak_fraction: float | None

    def to_json(self) -> dict:
        return {"macs_per_step": self.macs_per_step, "cycles_per_step": self.cycles_per_step,
                **{key: None if value is None else round(value, 4) for key, value in (
                    ("latency_per_step_us", self.latency_per_step_us), ("gops", self.gops),
                    ("peak_fraction", self.peak_fraction))}}

    def line(self, device: str) -> str:
        """One report line: cycles, latency, GOP/s and the share of ``device``'s multiplier peak."""
        text = f"{self.macs_per_step:,} MACs in {self.cycles_per_step:,} cycles per step (schedule model)"
        if self.gops is None:
            return text + "; no Fmax, so no rate"
        facts = device_facts(device)
        peak = ("no multipliers" if self.peak_fraction is None else
                f"{self.peak_fraction:.1%} of the {device}'s multiplier peak "
                f"({facts.multipliers} x {facts.multiplier_fmax_mhz:g} MHz)")
        return f"{text}: {self.latency_per_step_us:.2f} us per step, {self.gops:.2f} GOP/s, {peak}"


def performance(config: Config, fmax_mhz: float | None, device: str) -> Performance:
    """:class:`Performance` of ``config``'s design at ``fmax_mhz`` (``None``: not placed and routed, so
    only the counts) on ``device`` (a canonical name or an ECP5 ordering code)."""
    macs = sum(macs_per_step(config, k) for k in range(config.model.num_layers))
    cycles = Schedule(config).cycles_per_step()
    if fmax_mhz is None:
        return Performance(macs, cycles, None, None, None)
    return Performance(macs_per_step=macs, cycles_per_step=cycles, latency_per_step_us=cycles / fmax_mhz,
                       gops=gops(macs, cycles, fmax_mhz),
                       peak_fraction=peak_fraction(config.hardware.lanes, fmax_mhz, device_facts(device)))


# --------------------------------------------------------------------------------------------------
# The resource model (ECP5)

#: Memories of at most this many bits go to LUT RAM, larger ones to DP16KD blocks: Yosys put every memory of
#: the bench's designs of up to 1,104 bits (the 8-bit biases of P = 1, 138 x 8) into LUT RAM and every one
#: of 2,048 bits or more (the 16-bit h memory of H = 128, 128 x 16) into blocks; the limit lies between.
LUT_RAM_MAX_BITS = 1536
# ECP5 block RAM shapes (depth, width) of one DP16KD and LUTs per 16 x 4 bit LUT RAM (TRELLIS_DPR16X4,
# counted as 6 LUTs, as rnnhw.synth counts it).
_DP16KD_SHAPES = ((16384, 1), (8192, 2), (4096, 4), (2048, 9), (1024, 18), (512, 36))
_LUTS_PER_DPR16X4 = 6
#: LUTs of logic outside the memories (fixed part, per lane), by weight width, fitted to the measured
#: LSTM designs in docs/BENCHMARKS.md after their modelled LUT RAM was taken out: 16 bits from
#: LSTM I=12 H=32 head=9 at P = 8 and 32 (4,288 and 7,431 LUTs), 8 bits from the sweep's digits LSTM
#: I=8 H=32 head=10 at W = 8, P = 8 and 16 (3,579 and 4,314 LUTs).
BASE_LUTS = {16: 2732, 8: 2532}
LANE_LUTS = {16: 115, 8: 92}
#: Clock assumed for latencies of designs not placed and routed, kept conservative: the lowest Fmax of the
#: bench's LSTMs on the LFE5UM-85F before the flow moved registers into the DSP blocks and block RAMs
#: (LSTM I=64 H=128 P=16, 121.0 MHz; it now reaches 158.1 MHz, and no bench LSTM is below 150 MHz).
ASSUMED_FMAX_MHZ = 121.0


@dataclass(frozen=True)
class Memory:
    """One memory of the design: what it holds, how many copies, depth and word width."""

    name: str
    copies: int
    depth: int
    width: int

    @property
    def in_blocks(self) -> bool:
        return self.depth * self.width > LUT_RAM_MAX_BITS

    def brams(self) -> int:
        """DP16KD blocks of all copies (none if it goes to LUT RAM)."""
        return self.copies * self._blocks() if self.in_blocks else 0

    def _blocks(self) -> int:
        return min(math.ceil(self.depth / d) * math.ceil(self.width / w) for d, w in _DP16KD_SHAPES)

    def luts(self) -> int:
        """LUTs of all copies: as LUT RAM, or in blocks the read multiplexer of a memory deeper than one
        block (one LUT per bit and further block)."""
        if self.in_blocks:
            return self.copies * (self._blocks() - 1) * self.width
        return self.copies * _LUTS_PER_DPR16X4 * math.ceil(self.depth / 16) * math.ceil(self.width / 4)


def memories(config: Config) -> list[Memory]:
    """The memories of a one-layer LSTM's design (``rtl.top``): lane weights and biases, activation
    tables (sigmoid and tanh of the gates, tanh of the cell state), h and c, the input slots and the
    output FIFO."""
    model, n = config.model, config.numerics
    if model.cell != "lstm" or model.num_layers != 1:
        raise UserError("the resource model covers one-layer LSTMs only")
    sizes, dp, lanes = memory_sizes(config), datapath(config), config.hardware.lanes
    tables = [dp.table(function) for function in ("sigmoid", "tanh", "tanh")]
    pairs = lanes // 2 if packs_lane_pairs(config) else 0
    packed = [Memory("packed weights", pairs, sizes.weight_words_per_lane,
                     packed_width(n.weight.width, max(n.input.width, n.state.width)))] if pairs else []
    return [
        *packed,
        Memory("weights", lanes - 2 * pairs, sizes.weight_words_per_lane, sizes.weight_word_bits),
        Memory("biases", lanes, sizes.bias_words_per_lane, sizes.bias_word_bits),
        *(Memory(f"{name} table", 1, len(t.entries), t.out_fmt.width)
          for name, t in zip(("sigmoid", "tanh", "cell tanh"), tables, strict=True)),
        Memory("h", 1, sizes.state_depth, sizes.state_word_bits),
        Memory("c", 1, model.hidden_size, n.cell_state.width),
        Memory("input slots", 1, 2 * model.input_size, n.input.width),
        Memory("output FIFO", 1, sizes.output_fifo_depth - 1, config.output_format.width + 1),
    ]


@dataclass(frozen=True)
class ResourceEstimate:
    luts: int
    dsps: int
    brams: int

    def fits(self, device: DeviceFacts) -> bool:
        return self.luts <= device.luts and self.dsps <= device.multipliers and self.brams <= device.brams


def estimate_resources(config: Config, device: DeviceFacts) -> ResourceEstimate:
    """LUTs, DSP blocks and block RAMs of a one-layer LSTM's design on an ECP5 device (16- or 8-bit weights).

    Block RAMs: each memory of :func:`memories` of more than :data:`LUT_RAM_MAX_BITS` bits in the fewest
    DP16KD blocks of one shape. DSPs: per lane (per lane pair where they share one,
    ``hardware.dsp_packing``), the multiplier blocks of a weight x operand product.
    LUTs: :data:`BASE_LUTS` + :data:`LANE_LUTS` x P + :meth:`Memory.luts` of every memory.
    """
    if device.family != "ecp5":
        raise UserError(f"the resource model covers ECP5 devices only, not the {device.name}")
    width = config.numerics.weight.width
    if width not in LANE_LUTS:
        raise UserError(f"the resource model is fitted for {' and '.join(map(str, LANE_LUTS))}-bit weights, "
                        f"not {width}")
    mems, lanes = memories(config), config.hardware.lanes
    a, b = device.multiplier_inputs
    factors = sorted((width, max(config.numerics.input.width, config.numerics.state.width)), reverse=True)
    return ResourceEstimate(
        luts=BASE_LUTS[width] + LANE_LUTS[width] * lanes + sum(m.luts() for m in mems),
        dsps=((lanes + 1) // 2 if packs_lane_pairs(config) else lanes) * math.ceil(factors[0] / a)
        * math.ceil(factors[1] / b),
        brams=sum(m.brams() for m in mems))


def lstm_config(hidden: int, lanes: int, width: int) -> Config:
    """One-layer LSTM with ``I = H = hidden``, no head, ``lanes`` lanes, uniform ``width``-bit numerics
    (16: the defaults; else as ``rnnhw sweep`` makes them: accumulator 2W+9 bits)."""
    config = config_from_dict({"model": {"cell": "lstm", "input_size": hidden, "hidden_size": hidden},
                               "hardware": {"lanes": lanes}})
    if width == 16:
        return config
    from rnnhw.accuracy import uniform_config

    return uniform_config(config, width)


@dataclass(frozen=True)
class LstmFit:
    """The largest LSTM of :func:`largest_lstm` and its fastest fitting lane count."""

    hidden: int
    lanes: int
    width: int
    estimate: ResourceEstimate
    cycles_per_step: int
    fmax_mhz: float

    @property
    def latency_per_step_us(self) -> float:
        return self.cycles_per_step / self.fmax_mhz


def largest_lstm(device: str, width: int, fmax_mhz: float = ASSUMED_FMAX_MHZ, lanes: int | None = None) -> LstmFit:
    """The largest hidden size ``H`` (``I = H``, one layer) whose design fits ``device`` by
    :func:`estimate_resources` at some lane count ``P`` (only ``lanes``, if given), with the ``P`` of
    fewest cycles per step (the schedule model's; the fewest lanes among equals) and its latency per
    step at ``fmax_mhz``."""
    facts = device_facts(device)
    # No H beyond the one whose weights alone fill every block's bits.
    hidden = math.isqrt(facts.bram_bits // (8 * width)) + 1
    while hidden > 0:
        choices = range(1, min(facts.multipliers, 4 * hidden) + 1) if lanes is None else [lanes]
        fitting = [p for p in choices if p <= 4 * hidden
                   and estimate_resources(lstm_config(hidden, p, width), facts).fits(facts)]
        if fitting:
            cycles = {p: Schedule(lstm_config(hidden, p, width)).cycles_per_step() for p in fitting}
            lanes = min(fitting, key=lambda p: (cycles[p], p))
            return LstmFit(hidden, lanes, width, estimate_resources(lstm_config(hidden, lanes, width), facts),
                           cycles[lanes], fmax_mhz)
        hidden -= 1
    raise UserError(f"no LSTM fits the {device}")

"""The AXI4-Lite control/status registers and weight window of runtime cores (``spec/registers.py``)."""

from __future__ import annotations

from amaranth.hdl import Const, Module, Mux, Signal
from amaranth.lib import enum, wiring
from amaranth.lib.wiring import In, Out

from rnnhw.spec.config import Config
from rnnhw.spec.registers import (
    COUNTER_BITS,
    CYCLES_BITS,
    REGISTER_SPACE,
    WINDOW_REGIONS,
    WORD_BYTES,
    address_width,
    registers,
    weight_window,
)

from .checks import check_type
from .interfaces import WeightAccessSignature

__all__ = ["AXI4LiteSignature", "ControlRegisters", "Response"]


class Response(enum.Enum, shape=2):
    """AXI response codes used by the slave."""

    OKAY = 0
    SLVERR = 2


class AXI4LiteSignature(wiring.Signature):
    """An AXI4-Lite bus seen from the manager (32-bit data). Members are the AXI names without prefix.

    Parameters
    ----------
    addr_width : int
        Bits of ``awaddr`` and ``araddr`` (byte addresses).
    """

    def __init__(self, *, addr_width: int):
        if not isinstance(addr_width, int) or not 2 < addr_width <= 64:
            raise ValueError(f"addr_width must be an integer from 3 to 64, not {addr_width!r}")
        self._addr_width = addr_width
        super().__init__({
            "awaddr": Out(addr_width), "awprot": Out(3), "awvalid": Out(1), "awready": In(1),
            "wdata": Out(32), "wstrb": Out(4), "wvalid": Out(1), "wready": In(1),
            "bresp": In(2), "bvalid": In(1), "bready": Out(1),
            "araddr": Out(addr_width), "arprot": Out(3), "arvalid": Out(1), "arready": In(1),
            "rdata": In(32), "rresp": In(2), "rvalid": In(1), "rready": Out(1),
        })

    @property
    def addr_width(self) -> int:
        return self._addr_width

    def __eq__(self, other):
        return isinstance(other, AXI4LiteSignature) and other.addr_width == self.addr_width

    def __repr__(self):
        return f"AXI4LiteSignature(addr_width={self.addr_width})"


class ControlRegisters(wiring.Component):
    """AXI4-Lite slave with the register map and weight window of ``spec/registers.py``.

    One access at a time: a write is taken when its address and data are both valid (a write has
    priority over a read offered in the same cycle). Register offsets, access kinds, fields and reset
    values come from :func:`rnnhw.spec.registers.registers`, the window from
    :func:`~rnnhw.spec.registers.weight_window`.

    Parameters
    ----------
    config : Config
        A configuration with ``hardware.weights = "runtime"``.

    Members
    -------
    bus : In(AXI4LiteSignature(addr_width=address_width(config)))
        The ``s_axil_*`` ports.
    weight_access : Out(WeightAccessSignature(lanes=hardware.lanes, depth=deepest window memory))
        To :class:`rnnhw.rtl.matvec.MatVecUnit`; ``w_en`` and ``r_en`` come from registers, only while
        idle (decided while not ``busy`` and no input is taken).
    input_beat, input_last : In(1)
        An input element was accepted (``s_axis`` handshake) and its ``tlast``.
    output_vector : In(1)
        The last element of an output vector was accepted (``m_axis`` handshake with ``tlast``).
    busy : Out(1)
        A sequence has entered and its last output vector has not left (``STATUS.BUSY``).
    soft_reset : Out(1)
        One-cycle pulse after a write of ``CONTROL.SOFT_RESET``: resets the datapath.

    Latency
    -------
    ``bvalid`` comes 2 cycles (window: 3) after a write's address and data are taken, ``rvalid``
    3 cycles (window: 5) after a read's address is taken.

    Raises
    ------
    TypeError
        If ``config`` is not a ``Config``.
    rnnhw.spec.errors.ConfigError
        If ``config`` has ``hardware.weights = "rom"`` (no registers).
    """

    def __init__(self, *, config: Config):
        check_type("config", config, Config, "a Config")
        self._registers = registers(config)  # raises ConfigError for a "rom" configuration
        self._window = weight_window(config)
        self._config = config
        model = config.model
        self._input_size = model.input_size
        self._vector_per_timestep = model.return_sequences and not model.head
        super().__init__({
            "bus": In(AXI4LiteSignature(addr_width=address_width(config))),
            "weight_access": Out(WeightAccessSignature(lanes=config.hardware.lanes,
                                                       depth=max(r.depth for r in self._window))),
            "input_beat": In(1), "input_last": In(1), "output_vector": In(1),
            "busy": Out(1), "soft_reset": Out(1),
        })

    @property
    def config(self) -> Config:
        return self._config

    def elaborate(self, platform):
        m = Module()
        bus, access = self.bus, self.weight_access
        regs = {reg.name: reg for reg in self._registers}

        # -- activity: busy, counters ----------------------------------------------------------------
        element = Signal(range(max(self._input_size, 2)))
        in_sequence = Signal()
        pending = Signal(16)  # output vectors owed for inputs that have entered
        cycles, timesteps, sequences = Signal(CYCLES_BITS), Signal(COUNTER_BITS), Signal(COUNTER_BITS)
        refused, bad_access, scratch = Signal(), Signal(), Signal(32)
        clear_counters, clear_errors, soft_reset = Signal(), Signal(), Signal()
        timestep_end = self.input_beat & (element == self._input_size - 1)
        sequence_end = timestep_end & self.input_last
        owed = timestep_end if self._vector_per_timestep else sequence_end
        m.d.comb += [self.busy.eq(in_sequence | (pending != 0)), self.soft_reset.eq(soft_reset)]
        with m.If(soft_reset):
            m.d.sync += [element.eq(0), in_sequence.eq(0), pending.eq(0)]
        with m.Else():
            with m.If(self.input_beat):
                m.d.sync += [element.eq(Mux(element == self._input_size - 1, 0, element + 1)),
                             in_sequence.eq(~sequence_end)]
            m.d.sync += pending.eq(pending + owed - self.output_vector)
        with m.If(clear_counters):
            m.d.sync += [cycles.eq(0), timesteps.eq(0), sequences.eq(0)]
        with m.Else():
            # A sequence's cycles run from the edge taking its first input to the one sending its last output.
            with m.If(self.busy | self.input_beat):
                m.d.sync += cycles.eq(cycles + 1)
            m.d.sync += [timesteps.eq(timesteps + timestep_end), sequences.eq(sequences + sequence_end)]

        status = regs["STATUS"]
        live = {
            "STATUS": (self.busy << status.field("BUSY").lsb) | (refused << status.field("WINDOW_REFUSED").lsb)
            | (bad_access << status.field("BAD_ACCESS").lsb),
            "SCRATCH": scratch, "CYCLES_LO": cycles[:32], "CYCLES_HI": cycles[32:],
            "TIMESTEPS": timesteps, "SEQUENCES": sequences, "CONTROL": Const(0, 32),
        }

        # -- the transaction ----------------------------------------------------------------------
        addr = Signal(self.bus.awaddr.shape())
        wdata = Signal(32)
        region, lane, index, in_window = self._decode(m, addr)
        # The memories see the decoded address from registers (it is used from the second cycle on).
        m.d.sync += [access.region.eq(region), access.lane.eq(lane), access.addr.eq(index)]
        m.d.comb += access.w_data.eq(wdata)
        register_value = Signal(32)  # a register read, one cycle before it goes out
        rdata, resp = Signal(32), Signal(Response)
        m.d.comb += [bus.rdata.eq(rdata), bus.rresp.eq(resp), bus.bresp.eq(resp)]
        m.d.sync += [clear_counters.eq(0), clear_errors.eq(0), soft_reset.eq(0)]
        with m.If(clear_errors):
            m.d.sync += [refused.eq(0), bad_access.eq(0)]

        def answer(error_flag=None):
            m.d.sync += resp.eq(Response.SLVERR if error_flag is not None else Response.OKAY)
            if error_flag is not None:
                m.d.sync += error_flag.eq(1)

        # Window accesses are decided one cycle and carried out the next, from registers only: the
        # memories' address and write enable must not wait for the decode. A sequence whose first input
        # is taken in the deciding cycle could issue no earlier than the cycle after the access.
        refuse = self.busy | self.input_beat
        select, commit = Signal(), Signal()
        m.d.sync += [select.eq(0), commit.eq(0)]
        m.d.comb += [access.r_en.eq(select), access.w_en.eq(commit)]
        with m.FSM():
            with m.State("IDLE"):
                with m.If(bus.awvalid & bus.wvalid):
                    m.d.comb += [bus.awready.eq(1), bus.wready.eq(1)]
                    m.d.sync += [addr.eq(bus.awaddr), wdata.eq(bus.wdata)]
                    m.next = "WRITE"
                with m.Elif(bus.arvalid):
                    m.d.comb += bus.arready.eq(1)
                    m.d.sync += addr.eq(bus.araddr)
                    m.next = "READ"
            with m.State("WRITE"):
                m.next = "WRITE_RESPONSE"
                with m.If(in_window):
                    with m.If(refuse):
                        answer(refused)
                    with m.Else():
                        m.d.sync += commit.eq(1)
                        m.next = "WRITE_WINDOW"
                with m.Else():
                    with m.Switch(addr[2:]):
                        for reg in self._registers:
                            with m.Case(reg.offset // WORD_BYTES):
                                if reg.access == "ro":
                                    answer(bad_access)
                                elif reg.name == "SCRATCH":
                                    m.d.sync += scratch.eq(wdata)
                                    answer()
                                else:  # CONTROL
                                    fields = {f.name: wdata[f.lsb] for f in reg.fields}
                                    m.d.sync += [soft_reset.eq(fields["SOFT_RESET"]),
                                                 clear_counters.eq(fields["CLEAR_COUNTERS"]),
                                                 clear_errors.eq(fields["CLEAR_ERRORS"])]
                                    answer()
                        with m.Default():
                            answer(bad_access)
            with m.State("WRITE_WINDOW"):  # commit: the memory takes the word at the end of this cycle
                answer()
                m.next = "WRITE_RESPONSE"
            with m.State("WRITE_RESPONSE"):
                m.d.comb += bus.bvalid.eq(1)
                with m.If(bus.bready):
                    m.next = "IDLE"
            with m.State("READ"):
                m.next = "READ_RESPONSE"
                m.d.sync += rdata.eq(0)
                with m.If(in_window):
                    with m.If(refuse):
                        answer(refused)
                    with m.Else():
                        m.d.sync += select.eq(1)
                        m.next = "READ_SELECT"
                with m.Else():
                    with m.Switch(addr[2:]):
                        for reg in self._registers:
                            with m.Case(reg.offset // WORD_BYTES):
                                m.d.sync += register_value.eq(Const(reg.reset, 32) if reg.constant
                                                              else live[reg.name])
                                answer()
                                m.next = "READ_REGISTER"
                        with m.Default():
                            answer(bad_access)
            with m.State("READ_REGISTER"):
                m.d.sync += rdata.eq(register_value)
                m.next = "READ_RESPONSE"
            with m.State("READ_SELECT"):  # select: the read ports take the window's address
                m.next = "READ_MEMORY"
            with m.State("READ_MEMORY"):  # the memories answer; the lanes register it
                m.next = "READ_WINDOW"
            with m.State("READ_WINDOW"):
                m.d.sync += rdata.eq(access.r_data)
                answer()
                m.next = "READ_RESPONSE"
            with m.State("READ_RESPONSE"):
                m.d.comb += bus.rvalid.eq(1)
                with m.If(bus.rready):
                    m.next = "IDLE"
        return m

    def _decode(self, m, addr):
        """Region index, lane, word index and whether ``addr`` is a mapped window word."""
        region = Signal(range(len(WINDOW_REGIONS)))
        lane = Signal.like(self.weight_access.lane)
        index = Signal.like(self.weight_access.addr)
        in_window = Signal()
        width = len(addr)
        for window in self._window:
            size_bits = (window.size - 1).bit_length()
            stride_bits = (window.lane_stride - 1).bit_length()
            lane_bits = size_bits - 2 - stride_bits
            word_index = addr[2:2 + stride_bits] if stride_bits else Const(0, 1)
            word_lane = addr[2 + stride_bits:size_bits] if lane_bits else Const(0, 1)
            hit = (addr[size_bits:width] == window.base >> size_bits) if size_bits < width else Const(1, 1)
            with m.If(hit):
                m.d.comb += [region.eq(WINDOW_REGIONS.index(window.name)), lane.eq(word_lane),
                             index.eq(word_index),
                             in_window.eq((word_lane < window.lanes) & (word_index < window.depth))]
        assert REGISTER_SPACE <= min(window.base for window in self._window)
        return region, lane, index, in_window

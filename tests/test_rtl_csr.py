"""``ControlRegisters`` alone in the Amaranth simulator: busy tracking, counters, soft reset, window strobes."""

from __future__ import annotations

from rnnhw.rtl.csr import ControlRegisters
from rnnhw.spec.config import config_from_dict
from rnnhw.spec.registers import WINDOW_REGIONS, register, weight_window

from .hdl import run_testbench

CONFIG = config_from_dict({"model": {"cell": "lstm", "input_size": 3, "hidden_size": 4, "head": 2},
                           "hardware": {"lanes": 3, "weights": "runtime"}})
SEQUENCES_CONFIG = config_from_dict({"model": {"cell": "rnn_tanh", "input_size": 2, "hidden_size": 3,
                                               "return_sequences": True},
                                     "hardware": {"lanes": 2, "weights": "runtime"}})


class Bus:
    """One AXI4-Lite access at a time from an Amaranth testbench; every access is answered in a few cycles."""

    def __init__(self, ctx, dut):
        self.ctx, self.dut, self.log = ctx, dut, []

    async def _handshake(self, ready, valid_signals):
        for _ in range(8):
            taken = self.ctx.get(ready)
            await self.ctx.tick()
            if taken:
                for signal in valid_signals:
                    self.ctx.set(signal, 0)
                return
        raise AssertionError("address not taken within 8 cycles")

    async def _response(self, valid, ready):
        self.ctx.set(ready, 1)
        for _ in range(8):
            if self.ctx.get(valid):
                await self.ctx.tick()
                self.ctx.set(ready, 0)
                return
            await self.ctx.tick()
        raise AssertionError("no response within 8 cycles")

    async def write(self, address, value) -> int:
        bus = self.dut.bus
        self.ctx.set(bus.awaddr, address)
        self.ctx.set(bus.wdata, value)
        self.ctx.set(bus.awvalid, 1)
        self.ctx.set(bus.wvalid, 1)
        await self._handshake(bus.awready, (bus.awvalid, bus.wvalid))
        while not self.ctx.get(bus.bvalid):
            await self.ctx.tick()
        response = self.ctx.get(bus.bresp)
        await self._response(bus.bvalid, bus.bready)
        return response

    async def read(self, address) -> tuple[int, int]:
        bus = self.dut.bus
        self.ctx.set(bus.araddr, address)
        self.ctx.set(bus.arvalid, 1)
        await self._handshake(bus.arready, (bus.arvalid,))
        while not self.ctx.get(bus.rvalid):
            await self.ctx.tick()
        answer = (self.ctx.get(bus.rdata), self.ctx.get(bus.rresp))
        await self._response(bus.rvalid, bus.rready)
        return answer


def offset(config, name):
    return register(config, name).offset


def test_busy_counters_soft_reset_and_window_strobes():
    dut = ControlRegisters(config=CONFIG)
    status = register(CONFIG, "STATUS")
    control = register(CONFIG, "CONTROL")
    weights = weight_window(CONFIG)[0]
    seen = {}

    async def beat(ctx, last=0, vector=0):
        ctx.set(dut.input_beat, 1)
        ctx.set(dut.input_last, last)
        ctx.set(dut.output_vector, vector)
        await ctx.tick()
        ctx.set(dut.input_beat, 0)
        ctx.set(dut.input_last, 0)
        ctx.set(dut.output_vector, 0)

    async def testbench(ctx):
        bus = Bus(ctx, dut)

        # A window write while idle reaches the memories once, with region, lane and word index.
        address = weights.address(2, 5)
        ctx.set(dut.weight_access.r_data, 0xFFFF8001)
        assert await bus.write(address, 0x1234) == 0
        assert await bus.read(address) == (0xFFFF8001, 0)
        # One input element: busy; a window write is refused (SLVERR) and flagged.
        await beat(ctx)
        seen["busy"] = ctx.get(dut.busy)
        seen["refused"] = await bus.write(address, 1), await bus.read(address)
        seen["status"] = (await bus.read(status.offset))[0]
        # Soft reset: a one-cycle pulse; busy drops; the sticky flag stays until CLEAR_ERRORS.
        ctx.set(dut.bus.awaddr, control.offset)
        ctx.set(dut.bus.wdata, control.field("SOFT_RESET").mask)
        ctx.set(dut.bus.awvalid, 1)
        ctx.set(dut.bus.wvalid, 1)
        pulses = 0
        for _ in range(6):
            await ctx.tick()
            ctx.set(dut.bus.awvalid, 0)
            ctx.set(dut.bus.wvalid, 0)
            ctx.set(dut.bus.bready, 1)
            pulses += ctx.get(dut.soft_reset)
        ctx.set(dut.bus.bready, 0)
        seen["pulses"], seen["busy_after_reset"] = pulses, ctx.get(dut.busy)
        seen["status_after_reset"] = (await bus.read(status.offset))[0]
        assert await bus.write(control.offset, control.field("CLEAR_ERRORS").mask | control.field(
            "CLEAR_COUNTERS").mask) == 0
        # A whole sequence of 2 timesteps (3 elements each), then its output vector.
        for element in range(6):
            await beat(ctx, last=int(element == 5))
        seen["busy_computing"] = ctx.get(dut.busy)
        for _ in range(10):
            await ctx.tick()
        await beat_output(ctx)
        seen["busy_done"] = ctx.get(dut.busy)
        seen["counters"] = [(await bus.read(offset(CONFIG, name)))[0]
                            for name in ("CYCLES_LO", "CYCLES_HI", "TIMESTEPS", "SEQUENCES")]

    async def beat_output(ctx):
        ctx.set(dut.output_vector, 1)
        await ctx.tick()
        ctx.set(dut.output_vector, 0)

    run_testbench(dut, testbench, deadline_cycles=2000)
    assert seen["busy"] == 1
    assert seen["refused"] == (2, (0, 2))
    assert seen["status"] == status.field("BUSY").mask | status.field("WINDOW_REFUSED").mask
    assert seen["pulses"] == 1 and seen["busy_after_reset"] == 0
    assert seen["status_after_reset"] == status.field("WINDOW_REFUSED").mask
    assert seen["busy_computing"] == 1 and seen["busy_done"] == 0
    # Cycles: the edge taking the first element (counted) to the one sending the vector: 6 + 10 + 1.
    assert seen["counters"] == [17, 0, 2, 1]


def test_window_write_strobe_and_lane_decode():
    dut = ControlRegisters(config=CONFIG)
    window = weight_window(CONFIG)
    seen = []

    async def testbench(ctx):
        bus = Bus(ctx, dut)
        for region in window:
            address = region.address(region.lanes - 1, region.depth - 1)
            ctx.set(dut.bus.awaddr, address)
            ctx.set(dut.bus.wdata, 0xABCD)
            ctx.set(dut.bus.awvalid, 1)
            ctx.set(dut.bus.wvalid, 1)
            for _ in range(4):
                await ctx.tick()
                ctx.set(dut.bus.awvalid, 0)
                ctx.set(dut.bus.wvalid, 0)
                access = dut.weight_access
                if ctx.get(access.w_en):
                    seen.append((ctx.get(access.region), ctx.get(access.lane), ctx.get(access.addr),
                                 ctx.get(access.w_data)))
            ctx.set(dut.bus.bready, 1)
            await ctx.tick()
            ctx.set(dut.bus.bready, 0)
            await ctx.tick()
        assert await bus.write(window[0].address(window[0].lanes, 0), 1) == 2  # a lane past the last

    run_testbench(dut, testbench, deadline_cycles=500)
    assert seen == [(WINDOW_REGIONS.index(r.name), r.lanes - 1, r.depth - 1, 0xABCD) for r in window]


def test_return_sequences_owes_a_vector_per_timestep():
    dut = ControlRegisters(config=SEQUENCES_CONFIG)
    seen = []

    async def testbench(ctx):
        ctx.set(dut.input_beat, 1)
        for element in range(4):  # two timesteps of 2 elements, the second the last
            ctx.set(dut.input_last, int(element == 3))
            await ctx.tick()
        ctx.set(dut.input_beat, 0)
        for _ in range(2):
            seen.append(ctx.get(dut.busy))
            ctx.set(dut.output_vector, 1)
            await ctx.tick()
            ctx.set(dut.output_vector, 0)
        seen.append(ctx.get(dut.busy))

    run_testbench(dut, testbench, deadline_cycles=100)
    assert seen == [1, 1, 0]

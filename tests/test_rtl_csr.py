"""``ControlRegisters`` alone in the Amaranth simulator: busy tracking, counters, soft reset, window strobes."""

from __future__ import annotations

from rnnhw.rtl.csr import ControlRegisters
from rnnhw.spec.config import config_from_dict
from rnnhw.spec.registers import WINDOW_REGIONS, register, weight_window, window_words

from .hdl import run_testbench

CONFIG = config_from_dict({"model": {"cell": "lstm", "input_size": 3, "hidden_size": 4, "head": 2},
                           "hardware": {"lanes": 3, "weights": "runtime"}})
SEQUENCES_CONFIG = config_from_dict({"model": {"cell": "rnn_tanh", "input_size": 2, "hidden_size": 3,
                                               "return_sequences": True},
                                     "hardware": {"lanes": 2, "weights": "runtime"}})


class _Signals:
    def __init__(self, lookup):
        self._lookup = lookup

    def __getattr__(self, name):
        return self._lookup(name)


class Bus:
    """One AXI4-Lite access at a time from an Amaranth testbench; every access is answered in a few cycles.

    ``signal(name)`` gives the bus signal ``name`` (``awaddr``, ...); default: ``dut.bus``'s.
    """

    def __init__(self, ctx, dut, signal=None):
        self.ctx = ctx
        self.bus = _Signals(signal or (lambda name: getattr(dut.bus, name)))

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
        bus = self.bus
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
        bus = self.bus
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


def test_whole_core_loads_weights_and_soft_reset_drops_the_sequence_in_flight():
    """The runtime ``RNNAccelerator``: weights written through the port, a partial sequence dropped by
    ``CONTROL.SOFT_RESET``, the next sequence bit-exact against the golden model."""
    import numpy as np

    from rnnhw.golden.model import GoldenModel
    from rnnhw.rtl.top import RNNAccelerator
    from rnnhw.spec.weights import quantize_weights, random_weights

    config = config_from_dict({"model": {"cell": "rnn_tanh", "input_size": 2, "hidden_size": 2},
                               "hardware": {"lanes": 2, "weights": "runtime"}})
    qweights = quantize_weights(random_weights(config, 7, scale=1.0), config)
    words = window_words(config, qweights)
    sequence = np.random.default_rng(1).integers(-900, 900, size=(1, 3, 2))
    expected = GoldenModel(config, qweights).run(sequence).outputs[0].tolist()
    dut = RNNAccelerator(config=config, weights=None)
    control, status = register(config, "CONTROL"), register(config, "STATUS")
    seen = {}

    async def send(ctx, values, lasts):
        for value, last in zip(values, lasts, strict=True):
            ctx.set(dut.s_axis_tdata, value)
            ctx.set(dut.s_axis_tlast, last)
            ctx.set(dut.s_axis_tvalid, 1)
            while True:
                taken = ctx.get(dut.s_axis_tready)
                await ctx.tick()
                if taken:
                    break
        ctx.set(dut.s_axis_tvalid, 0)

    async def testbench(ctx):
        bus = Bus(ctx, dut, lambda name: getattr(dut, f"s_axil_{name}"))
        for region in weight_window(config):
            for lane in range(region.lanes):
                for index in range(region.depth):
                    assert await bus.write(region.address(lane, index), words[region.name][lane][index]) == 0
        ctx.set(dut.m_axis_tready, 1)
        await send(ctx, [500, -500, 300], [0, 0, 0])  # a timestep and a half, then the host gives up
        for _ in range(20):
            await ctx.tick()
        seen["busy"] = (await bus.read(status.offset))[0]
        assert await bus.write(control.offset, control.field("SOFT_RESET").mask) == 0
        seen["after_reset"] = (await bus.read(status.offset))[0]
        flat = sequence.reshape(-1).tolist()
        await send(ctx, flat, [0] * (len(flat) - 1) + [1])
        vectors, current = [], []
        for _ in range(400):
            if ctx.get(dut.m_axis_tvalid):
                current.append(ctx.get(dut.m_axis_tdata))
                if ctx.get(dut.m_axis_tlast):
                    vectors.append(current)
                    current = []
            await ctx.tick()
        seen["vectors"] = vectors

    run_testbench(dut, testbench, deadline_cycles=6000)
    assert seen["busy"] == status.field("BUSY").mask and seen["after_reset"] == 0
    assert seen["vectors"] == [expected]

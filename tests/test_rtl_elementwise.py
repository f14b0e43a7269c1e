"""``ElementwiseUnit`` alone against ``golden.model``'s elementwise functions."""

from dataclasses import dataclass

import numpy as np
import pytest

from rnnhw.golden.model import elman_elementwise, gru_elementwise, lstm_elementwise
from rnnhw.rtl.elementwise import ElementwiseUnit
from rnnhw.rtl.layouts import Part, design_layouts
from rnnhw.spec.datapath import datapath
from rnnhw.spec.design import memory_sizes
from rnnhw.spec.latency import elementwise_latency

from .hdl import run_testbench
from .rtl_units import make_config, uniform

HIDDEN = 3
LAYERS = 2


@dataclass
class Job:
    """One layer's step: its items in unit-major order and what the unit must write for it."""

    items: list[dict]  # item words
    last_item_of_unit: list[int]  # index into items
    writes: list[tuple]  # (addr, data)
    written: list[tuple]  # (layer, gen, count)
    outputs: list[tuple]  # (data, last)


def pre_activations(config, rng, size):
    """Accumulator-format integers: mostly where the activations bend, some over the whole range."""
    accum = config.numerics.accum
    bend = min(4 << accum.frac_bits, accum.max_int)
    values = rng.integers(-bend, bend + 1, size=size)
    wide = rng.random(size) < 0.25
    values[wide] = uniform(rng, accum, int(wide.sum()))
    return values


class GoldenState:
    """The golden model's per-layer ``h`` and ``c`` across timesteps, and the job words that go with them."""

    def __init__(self, config, rng):
        self.config, self.dp, self.rng = config, datapath(config), rng
        self.h = np.zeros((LAYERS, HIDDEN), dtype=np.int64)
        self.c = np.zeros((LAYERS, HIDDEN), dtype=np.int64)
        self.generation = [0] * LAYERS

    def step(self, layer, *, t0, emit) -> Job:
        cell, hidden = self.config.model.cell, HIDDEN
        if t0:
            self.h[layer] = 0
            self.c[layer] = 0
        self.generation[layer] = wgen = (self.generation[layer] + 1) % 4
        job = {"head": 0, "layer": layer, "wgen": wgen, "t0": t0, "emit": emit,
               "rows": 1, "unit0": 0, "gate0": 0}
        if cell == "lstm":
            pre = pre_activations(self.config, self.rng, 4 * hidden)  # gate-major: i, f, g, o
            h, self.c[layer] = lstm_elementwise(self.dp, pre, self.c[layer])
            parts = [[(gate, Part.WHOLE, pre[gate * hidden + u]) for gate in range(4)] for u in range(hidden)]
        elif cell == "gru":
            pre_rz, xn, hn = (pre_activations(self.config, self.rng, n) for n in (2 * hidden, hidden, hidden))
            h = gru_elementwise(self.dp, pre_rz, xn, hn, self.h[layer])
            parts = [[(0, Part.WHOLE, pre_rz[u]), (1, Part.WHOLE, pre_rz[hidden + u]), (2, Part.X, xn[u]),
                      (2, Part.H, hn[u])] for u in range(hidden)]
        else:
            pre = pre_activations(self.config, self.rng, hidden)
            h = elman_elementwise(self.dp, pre, relu=cell == "rnn_relu")
            parts = [[(0, Part.WHOLE, pre[u])] for u in range(hidden)]
        self.h[layer] = h
        items, lasts = [], []
        for unit, unit_parts in enumerate(parts):
            items += [{"value": int(v), "part": part, "unit": unit, "gate": gate, "job": job}
                      for gate, part, v in unit_parts]
            lasts.append(len(items) - 1)
        bank = wgen & 1
        return Job(items, lasts,
                   writes=[(layer * 2 * hidden + bank * hidden + u, int(h[u])) for u in range(hidden)],
                   written=[(layer, wgen, u + 1) for u in range(hidden)],
                   outputs=[(int(h[u]), int(u == hidden - 1)) for u in range(hidden)] if emit else [])


def program(config, rng):
    """Two sequences of two timesteps over both layers: t0 (zero state, stale memory), then carried state."""
    golden = GoldenState(config, rng)
    jobs = []
    for t in (0, 1, 0, 1):
        for layer in range(LAYERS):
            jobs.append(golden.step(layer, t0=int(t == 0), emit=int(layer == LAYERS - 1)))
    return jobs


def simulate(config, jobs, *, bubble_rate, seed=0):
    """Feed the jobs' items (random bubbles between them) to the unit over an emulated state memory.

    The memory starts full of garbage, so a ``t0`` step that read it would show. Returns the unit,
    the h writes ``(cycle, addr, data)``, the ``written`` reports and the output elements.
    """
    dp = datapath(config)
    dut = ElementwiseUnit(datapath=dp, item_shape=design_layouts(config).gate_items,
                          state_depth=memory_sizes(config).state_depth)
    rng = np.random.default_rng(seed)
    state = config.numerics.state
    memory = uniform(rng, state, 2 * LAYERS * HIDDEN).tolist()
    items = [item for job in jobs for item in job.items]
    writes, written, outputs, item_cycles = [], [], [], []
    drain = dut.latency + 10

    async def testbench(ctx):
        queue = list(items)
        cycle, idle = 0, 0
        while queue or idle < drain:
            send = bool(queue) and rng.random() >= bubble_rate
            ctx.set(dut.items.valid, send)
            if send:
                ctx.set(dut.items.p, queue.pop(0))
                item_cycles.append(cycle)
            else:
                ctx.set(dut.items.p, items[rng.integers(len(items))])  # garbage with valid low
            idle = 0 if queue else idle + 1
            read_value = memory[ctx.get(dut.h_read.addr)]  # before this cycle's write: not transparent
            if ctx.get(dut.h_write.en):
                addr, data = ctx.get(dut.h_write.addr), ctx.get(dut.h_write.data)
                writes.append((cycle, addr, data))
                memory[addr] = data
            if ctx.get(dut.written.valid):
                written.append(tuple(ctx.get(getattr(dut.written, name)) for name in ("layer", "gen", "count")))
            if ctx.get(dut.output.valid):
                element = ctx.get(dut.output.p)
                outputs.append((element.data, element.last))
            await ctx.tick()
            ctx.set(dut.h_read.data, read_value)
            cycle += 1

    run_testbench(dut, testbench)
    return dut, writes, written, outputs, item_cycles


def check(config, jobs, *, bubble_rate):
    """Every h write, ``written`` report and output element equals the golden model's, in order."""
    _, writes, written, outputs, _ = simulate(config, jobs, bubble_rate=bubble_rate)
    assert [(addr, data) for _, addr, data in writes] == [w for job in jobs for w in job.writes]
    assert written == [w for job in jobs for w in job.written]
    assert outputs == [o for job in jobs for o in job.outputs]


CELLS = ["lstm", "gru", "rnn_tanh", "rnn_relu"]


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize(("multipliers", "bubble_rate"), [("logic", 0.0), ("logic", 0.5), ("dsp", 0.3)])
def test_h_writes_and_outputs_equal_golden(cell, multipliers, bubble_rate):
    config = make_config(cell, input_size=2, hidden=HIDDEN, layers=LAYERS, lanes=1, multipliers=multipliers)
    check(config, program(config, np.random.default_rng(3)), bubble_rate=bubble_rate)


#: Cycles from a unit's last item to its h write (the tables' inputs have bits below the index, so
#: interpolation lengthens every table lookup by one cycle).
LATENCIES = {False: {"lstm": 19, "gru": 18, "rnn_tanh": 6, "rnn_relu": 6},
             True: {"lstm": 21, "gru": 20, "rnn_tanh": 7, "rnn_relu": 7}}


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("multipliers", ["logic", "dsp"])
@pytest.mark.parametrize("interpolate", [False, True])
def test_h_is_written_latency_cycles_after_the_units_last_item(cell, multipliers, interpolate):
    """The elaborated pipeline is as deep as ``spec.latency.elementwise_latency`` says (the number the
    schedule model uses): every h write, measured, that many cycles after its unit's last item."""
    config = make_config(cell, input_size=2, hidden=HIDDEN, layers=LAYERS, lanes=1, multipliers=multipliers,
                         numerics={"lut_interpolate": interpolate})
    assert elementwise_latency(datapath(config)) == LATENCIES[interpolate][cell]
    jobs = program(config, np.random.default_rng(3))[:2]
    dut, writes, _, _, item_cycles = simulate(config, jobs, bubble_rate=0.5)
    lasts, offset = [], 0
    for job in jobs:
        lasts += [item_cycles[offset + i] for i in job.last_item_of_unit]
        offset += len(job.items)
    delays = [cycle - last for (cycle, _, _), last in zip(writes, lasts, strict=True)]
    assert dut.latency == LATENCIES[interpolate][cell]
    assert delays == [LATENCIES[interpolate][cell]] * len(lasts)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("numerics", [
    # interpolated tables (3-cycle lookups), truncation, wrap-around
    {"rounding": "TRN", "overflow": "WRAP", "lut_interpolate": True},
    # convergent rounding, an accumulator narrower than the state
    {"rounding": "RND_CONV", "accum": "fixed<7,4>", "cell_state": "fixed<6,2>", "lut_interpolate": True},
], ids=["trn-wrap-interp", "rnd_conv-narrow"])
def test_h_writes_equal_golden_in_other_numerics(cell, numerics):
    config = make_config(cell, input_size=2, hidden=HIDDEN, layers=LAYERS, lanes=1, numerics=numerics)
    check(config, program(config, np.random.default_rng(4)), bubble_rate=0.3)


def test_relu_with_a_state_coarser_than_the_accumulator_equals_golden():
    """``convert(relu, accum.frac, state)`` drops as many bits as the sum has (a valid configuration)."""
    config = make_config("rnn_relu", input_size=2, hidden=HIDDEN, layers=LAYERS, lanes=1,
                         numerics={"rounding": "RND_CONV", "accum": "fixed<12,0>", "state": "fixed<8,8>"})
    check(config, program(config, np.random.default_rng(5)), bubble_rate=0.0)

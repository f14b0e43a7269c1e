"""``InputBuffer`` and ``SequenceBuffer`` against their specifications: timestep (or whole-sequence)
slots, filled from the stream while read."""

import numpy as np
import pytest

from rnnhw.rtl.buffers import InputBuffer, SequenceBuffer

from .hdl import run_testbench

WIDTH = 8


def stream_of(rng, features, steps):
    """Elements ``(data, tlast)`` of ``steps`` timesteps; ``tlast`` is set at random on every element,
    so only the value on element I-1 may count. Returns the beats and each timestep's expected ``last``."""
    data = rng.integers(-(1 << (WIDTH - 1)), 1 << (WIDTH - 1), size=(steps, features))
    tlast = rng.random((steps, features)) < 0.5
    beats = [(int(data[t, i]), int(tlast[t, i])) for t in range(steps) for i in range(features)]
    return beats, data, tlast[:, -1].astype(int).tolist()


def run(features, steps, *, stall_in, release_rate, seed):
    """Random producer and reader; checks every cycle against the specification (see the asserts)."""
    rng = np.random.default_rng(seed)
    beats, data, lasts = stream_of(rng, features, steps)
    dut = InputBuffer(features=features, width=WIDTH)
    stats = {"stalled": 0, "reads": 0}

    async def testbench(ctx):
        accepted, step = 0, 0  # elements taken from the stream; timestep in the read slot
        just_released = False  # a freed slot takes one more cycle to accept data
        for _ in range(40 * steps * features + 50):
            if step == steps:
                break
            offer = accepted < len(beats) and rng.random() >= stall_in
            ctx.set(dut.input.valid, offer)
            if offer:
                ctx.set(dut.input.p, {"data": beats[accepted][0], "last": beats[accepted][1]})
            arrived = accepted - step * features  # elements of this timestep and the next one
            count, ready = ctx.get(dut.read.count), ctx.get(dut.input.ready)
            assert count == min(arrived, features)
            # Both slots full (this timestep and the next): the stream must wait.
            assert ready == (arrived + features * just_released < 2 * features)
            stats["stalled"] += offer and not ready
            if count == features:
                assert ctx.get(dut.read.last) == lasts[step]
            read = None
            if count:
                read = int(rng.integers(count))
                ctx.set(dut.read.index, read)
            release = count == features and rng.random() < release_rate
            ctx.set(dut.read.release, release)
            await ctx.tick()
            if read is not None:  # read_data: one cycle after read_index
                assert ctx.get(dut.read.data) == data[step, read]
                stats["reads"] += 1
            accepted += offer and ready
            step += release
            just_released = release
        assert step == steps, "timeout"

    run_testbench(dut, testbench)
    return stats


@pytest.mark.parametrize("features", [1, 3, 5])
@pytest.mark.parametrize(("stall_in", "release_rate"), [(0.0, 0.2), (0.6, 0.9), (0.3, 0.5)],
                         ids=["fast-stream", "slow-stream", "mixed"])
def test_input_buffer_follows_its_specification(features, stall_in, release_rate):
    stats = run(features, 12, stall_in=stall_in, release_rate=release_rate, seed=features)
    assert stats["reads"] > 0
    if stall_in == 0.0:
        assert stats["stalled"] > 0  # the backpressure case happened


def test_backpressure_when_both_slots_are_full():
    """Two timesteps fill both slots; the third waits until the first is released and freed."""
    features = 3
    dut = InputBuffer(features=features, width=WIDTH)
    trace = []

    async def testbench(ctx):
        ctx.set(dut.input.valid, 1)
        for cycle in range(12):
            ctx.set(dut.input.p, {"data": cycle, "last": 0})
            ctx.set(dut.read.release, cycle == 8)
            trace.append((ctx.get(dut.input.ready), ctx.get(dut.read.count)))
            await ctx.tick()

    run_testbench(dut, testbench)
    assert trace == [(1, 0), (1, 1), (1, 2), (1, 3), (1, 3), (1, 3),  # x_0, then x_1 behind it
                     (0, 3), (0, 3), (0, 3),  # full; released in cycle 8
                     (0, 3),  # the reader has moved to x_1; x_0's slot is freed at the end of cycle 9
                     (1, 3), (1, 3)]  # x_2 flows into the freed slot


def test_read_data_and_last_of_two_timesteps():
    """Reading x_0 while x_1 arrives; ``last`` comes from element I-1 only; after release the slot is x_1."""
    features = 2
    dut = InputBuffer(features=features, width=WIDTH)
    seen = []

    async def testbench(ctx):
        # x_0 = (5, -6) with tlast on the first element only; x_1 = (7, 8) with tlast on its last element.
        beats = [(5, 1), (-6, 0), (7, 0), (8, 1)]
        for cycle, (value, tlast) in enumerate(beats + [(0, 0)] * 6):
            ctx.set(dut.input.valid, cycle < len(beats))
            ctx.set(dut.input.p, {"data": value, "last": tlast})
            ctx.set(dut.read.index, cycle % 2)
            ctx.set(dut.read.release, cycle == 5)
            seen.append((ctx.get(dut.read.count), ctx.get(dut.read.last)))
            await ctx.tick()
            seen[-1] += (ctx.get(dut.read.data),)

    run_testbench(dut, testbench)
    counts_and_lasts = [(count, last) for count, last, _ in seen]
    assert counts_and_lasts[:6] == [(0, 0), (1, 0), (2, 0), (2, 0), (2, 0), (2, 0)]
    assert counts_and_lasts[6:] == [(2, 1)] * 4
    # read_data one cycle after read_index (0, 1, 0, 1, ...): x_0 until the release, then x_1. (Cycles 0
    # and 1 read elements as they are being written: the reader never does that, as count is not above them.)
    reads = [data for _, _, data in seen]
    assert reads[2:] == [5, -6, 5, -6, 7, 8, 7, 8]


@pytest.mark.parametrize(("stall_in", "seed"), [(0.0, 1), (0.5, 2)])
def test_sequence_buffer_hands_over_whole_sequences_and_drops_too_long_ones(stall_in, seed):
    """Sequences of 1..steps timesteps reach the reader whole, with their length; longer ones are discarded
    up to their last element (``tlast`` on element I-1 of a timestep) and set the sticky flag."""
    features, steps = 3, 4
    rng = np.random.default_rng(seed)
    lengths = [2, steps, steps + 2, 1, steps + 1, 3, steps]
    sequences = [rng.integers(-(1 << (WIDTH - 1)), 1 << (WIDTH - 1), size=(t, features)) for t in lengths]
    # tlast on the sequence's final element, and (ignored) on some element other than a timestep's last.
    beats = [(int(v), int(n == t * features - 1 or n % features == 1 and rng.random() < 0.5))
             for t, seq in zip(lengths, sequences, strict=True) for n, v in enumerate(seq.reshape(-1))]
    # The index of each beat past a sequence's limit (the first of them sets the flag).
    starts = np.cumsum([0] + [t * features for t in lengths])
    first_dropped = min(starts[n] + steps * features for n, t in enumerate(lengths) if t > steps)
    kept = [seq for seq in sequences if len(seq) <= steps]
    dut = SequenceBuffer(features=features, width=WIDTH, steps=steps)
    received = []

    async def testbench(ctx):
        accepted, reading, index = 0, None, 0
        for _ in range(40 * len(beats)):
            if len(received) == len(kept):
                break
            offer = accepted < len(beats) and rng.random() >= stall_in
            ctx.set(dut.input.valid, offer)
            if offer:
                ctx.set(dut.input.p, {"data": beats[accepted][0], "last": beats[accepted][1]})
            assert ctx.get(dut.overflow) == (accepted > first_dropped)
            ready = ctx.get(dut.input.ready)
            release = False
            if reading is None and ctx.get(dut.read.full):
                reading, index = np.zeros((ctx.get(dut.read.length), features), dtype=np.int64), 0
            if reading is not None:
                ctx.set(dut.read.index, index)
                release = index == reading.size - 1
            ctx.set(dut.read.release, release)
            await ctx.tick()
            if reading is not None:  # data one cycle after the index
                reading.reshape(-1)[index] = ctx.get(dut.read.data)
                index += 1
                if release:
                    received.append(reading)
                    reading = None
            accepted += offer and ready

    run_testbench(dut, testbench)
    assert len(received) == len(kept)
    for got, want in zip(received, kept, strict=True):
        np.testing.assert_array_equal(got, want)

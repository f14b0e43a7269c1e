"""Drive a whole ``RNNAccelerator`` in the Amaranth simulator (small configurations)."""

from __future__ import annotations

import numpy as np

from rnnhw.golden.model import GoldenModel
from rnnhw.rtl.top import RNNAccelerator

from .hdl import run_testbench


def flat_expected(config, golden_outputs, lengths):
    """The golden outputs in stream order: one vector per sequence, or per timestep."""
    if config.model.return_sequences:
        return [golden_outputs[s, t].tolist() for s in range(len(lengths)) for t in range(lengths[s])]
    return [row.tolist() for row in golden_outputs]


def simulate(config, qweights, x_int, lengths=None, *, stall_in=0.0, stall_out=0.0, seed=0,
             max_cycles=200_000):
    """Stream the sequences through the design; returns (output vectors, cycles, expected vectors)."""
    batch, steps, features = x_int.shape
    lengths = np.full(batch, steps) if lengths is None else np.asarray(lengths)
    golden = GoldenModel(config, qweights).run(x_int, lengths)
    expected = flat_expected(config, golden.outputs, lengths)
    beats = []
    for s in range(batch):
        for t in range(lengths[s]):
            for i in range(features):
                beats.append((int(x_int[s, t, i]), int(t == lengths[s] - 1 and i == features - 1)))
    vectors, cycles = _drive(RNNAccelerator(config=config, weights=qweights), beats, len(expected),
                             stall_in=stall_in, stall_out=stall_out, seed=seed, max_cycles=max_cycles)
    return [vector for vector, _ in vectors], cycles, expected


def _drive(dut, beats, vectors_wanted, *, stall_in, stall_out, seed, max_cycles):
    """Send ``beats`` (``(data, last)``, or ``(data, last, tid)`` to an interleaved core) with random
    pauses on both streams until ``vectors_wanted`` output vectors are in; returns ``[(vector, tid)]``
    (tid 0 without one; every element of a vector must carry the same) and the cycles."""
    rng = np.random.default_rng(seed)
    tagged = bool(beats) and len(beats[0]) == 3
    tid_out = dut.m_axis_tid if tagged else dut.m_axis_tlast  # sampled, ignored without a tid
    vectors, current = [], []
    result = {}

    async def testbench(ctx):
        sent, cycles = 0, 0
        while len(vectors) < vectors_wanted:
            if cycles > max_cycles:
                raise AssertionError(f"timeout: {len(vectors)} of {vectors_wanted} vectors after {cycles} cycles")
            offer = sent < len(beats) and rng.random() >= stall_in
            if offer:
                ctx.set(dut.s_axis_tdata, beats[sent][0])
                ctx.set(dut.s_axis_tlast, beats[sent][1])
                if tagged:
                    ctx.set(dut.s_axis_tid, beats[sent][2])
            ctx.set(dut.s_axis_tvalid, offer)
            accept = rng.random() >= stall_out
            ctx.set(dut.m_axis_tready, accept)
            _, _, in_ready, out_valid, out_data, out_last, out_tid = await ctx.tick().sample(
                dut.s_axis_tready, dut.m_axis_tvalid, dut.m_axis_tdata, dut.m_axis_tlast, tid_out)
            cycles += 1
            if offer and in_ready:
                sent += 1
            if accept and out_valid:
                current.append((out_data, out_tid if tagged else 0))
                if out_last:
                    tids = {tid for _, tid in current}
                    assert len(tids) == 1, f"one vector's elements carry streams {tids}"
                    vectors.append(([value for value, _ in current], tids.pop()))
                    current.clear()
        result["cycles"] = cycles

    run_testbench(dut, testbench)
    return vectors, result["cycles"]


def interleaved_beats(x_int, lengths, streams):
    """Sequence ``n`` goes to stream ``n % streams``; the beats ``(data, last, tid)`` in the walk's order:
    one timestep of each stream in turn (every stream must hold as many timesteps in all)."""
    features = x_int.shape[2]
    steps = [[(n, t) for n in range(len(lengths)) if n % streams == s for t in range(lengths[n])]
             for s in range(streams)]
    if len({len(each) for each in steps}) != 1:
        raise ValueError("every stream must carry the same number of timesteps")
    beats = []
    for round_ in zip(*steps, strict=True):
        for s, (n, t) in enumerate(round_):
            beats += [(int(x_int[n, t, i]), int(t == lengths[n] - 1 and i == features - 1), s)
                      for i in range(features)]
    return beats


def simulate_interleaved(config, qweights, x_int, lengths, *, stall_in=0.0, stall_out=0.0, seed=0,
                         max_cycles=200_000):
    """Like :func:`simulate` for K = ``hardware.interleave`` streams (:func:`interleaved_beats`).

    Returns (output vectors per stream, cycles, expected vectors per stream)."""
    streams = config.hardware.interleave
    lengths = np.asarray(lengths)
    golden = GoldenModel(config, qweights).run(x_int, lengths)
    flat = flat_expected(config, golden.outputs, lengths)
    per_sequence = [lengths[n] if config.model.return_sequences else 1 for n in range(len(lengths))]
    starts = np.concatenate([[0], np.cumsum(per_sequence)])
    expected = [[v for n in range(s, len(lengths), streams) for v in flat[starts[n]:starts[n + 1]]]
                for s in range(streams)]
    beats = interleaved_beats(x_int, lengths, streams)
    received, cycles = _drive(RNNAccelerator(config=config, weights=qweights), beats,
                              sum(len(e) for e in expected), stall_in=stall_in, stall_out=stall_out, seed=seed,
                              max_cycles=max_cycles)
    vectors = [[vector for vector, tid in received if tid == s] for s in range(streams)]
    return vectors, cycles, expected

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
    dut = RNNAccelerator(config=config, weights=qweights)
    rng = np.random.default_rng(seed)
    vectors, current = [], []
    result = {}

    async def testbench(ctx):
        sent, cycles = 0, 0
        while len(vectors) < len(expected):
            if cycles > max_cycles:
                raise AssertionError(f"timeout: {len(vectors)} of {len(expected)} vectors after {cycles} cycles")
            offer = sent < len(beats) and rng.random() >= stall_in
            if offer:
                ctx.set(dut.s_axis_tdata, beats[sent][0])
                ctx.set(dut.s_axis_tlast, beats[sent][1])
            ctx.set(dut.s_axis_tvalid, offer)
            accept = rng.random() >= stall_out
            ctx.set(dut.m_axis_tready, accept)
            _, _, in_ready, out_valid, out_data, out_last = await ctx.tick().sample(
                dut.s_axis_tready, dut.m_axis_tvalid, dut.m_axis_tdata, dut.m_axis_tlast)
            cycles += 1
            if offer and in_ready:
                sent += 1
            if accept and out_valid:
                current.append(out_data)
                if out_last:
                    vectors.append(current.copy())
                    current.clear()
        result["cycles"] = cycles

    run_testbench(dut, testbench)
    return vectors, result["cycles"], expected

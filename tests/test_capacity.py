"""Throughput against the device and the resource model of rnnhw.capacity, with exact values."""

from __future__ import annotations

from pathlib import Path

import pytest

from rnnhw.capacity import (
    ASSUMED_FMAX_MHZ,
    Memory,
    ResourceEstimate,
    estimate_resources,
    largest_lstm,
    lstm_config,
    memories,
    performance,
)
from rnnhw.spec.config import config_from_dict
from rnnhw.spec.devices import DEVICES
from rnnhw.spec.errors import UserError
from rnnhw.synth import TARGETS, design_needs, fit_report

LFE5UM_85F = DEVICES["LFE5UM-85F"]


def lstm(i: int, h: int, head: int, lanes: int):
    return config_from_dict({"model": {"cell": "lstm", "input_size": i, "hidden_size": h, "head": head},
                             "hardware": {"lanes": lanes}})


def test_performance_of_the_reference_lstm():
    rate = performance(lstm(12, 32, 9, 8), 158.0, "LFE5UM-85F")
    assert (rate.macs_per_step, rate.cycles_per_step) == (5632, 704)
    assert rate.to_json() == {"macs_per_step": 5632, "cycles_per_step": 704, "latency_per_step_us": 4.4557,
                              "gops": 2.528, "peak_fraction": 0.0328}
    assert rate.line("LFE5UM-85F") == ("5,632 MACs in 704 cycles per step (schedule model): 4.46 us per step, "
                                       "2.53 GOP/s, 3.3% of the LFE5UM-85F's multiplier peak (156 x 246.67 MHz)")


def test_performance_without_fmax_has_counts_only():
    rate = performance(lstm(12, 32, 9, 8), None, "xc7a35t")
    assert rate.to_json() == {"macs_per_step": 5632, "cycles_per_step": 704, "latency_per_step_us": None,
                              "gops": None, "peak_fraction": None}
    assert rate.line("xc7a35t").endswith("; no Fmax, so no rate")


def test_memories_of_the_largest_16_bit_lstm():
    assert memories(lstm_config(160, 40, 16)) == [
        Memory("weights", 40, 5120, 16), Memory("biases", 40, 16, 16), Memory("sigmoid table", 1, 512, 16),
        Memory("tanh table", 1, 512, 16), Memory("cell tanh table", 1, 512, 16), Memory("h", 1, 320, 16),
        Memory("c", 1, 160, 16), Memory("input slots", 1, 320, 16), Memory("output FIFO", 1, 319, 17)]
    # 5 blocks of 1024 x 18 per lane and a 5:1 read multiplexer; biases (256 bits) in LUT RAM.
    assert (Memory("weights", 40, 5120, 16).brams(), Memory("weights", 40, 5120, 16).luts()) == (200, 2560)
    assert (Memory("biases", 40, 16, 16).brams(), Memory("biases", 40, 16, 16).luts()) == (0, 40 * 6 * 4)


@pytest.mark.parametrize(("design", "measured_brams", "estimate"), [
    ((12, 32, 9, 1), 10, ResourceEstimate(3179, 1, 10)),
    ((12, 32, 9, 4), 11, ResourceEstimate(3796, 4, 11)),
    ((12, 32, 9, 8), 11, ResourceEstimate(4288, 8, 11)),
    ((12, 32, 9, 16), 19, ResourceEstimate(5208, 16, 19)),
    ((12, 32, 9, 32), 35, ResourceEstimate(7432, 32, 35)),
    ((64, 128, 0, 16), 103, ResourceEstimate(6620, 16, 103)),
])
def test_estimates_of_the_bench_designs(design, measured_brams, estimate):
    """Block RAMs and DSPs as Yosys and nextpnr counted them (docs/BENCHMARKS.md, hardware table)."""
    assert estimate_resources(lstm(*design), LFE5UM_85F) == estimate
    assert estimate.brams == measured_brams and estimate.dsps == design[3]


def test_the_largest_lstms_on_the_lfe5um_85f():
    fit = largest_lstm("LFE5UM-85F", 16)
    assert (fit.hidden, fit.lanes, fit.estimate, fit.cycles_per_step) == (160, 40, ResourceEstimate(10852, 40, 207),
                                                                           5120)
    assert fit.latency_per_step_us == 5120 / ASSUMED_FMAX_MHZ
    # One lane more needs 212 blocks: H = 160 fits no faster.
    assert estimate_resources(lstm_config(160, 41, 16), LFE5UM_85F).brams == 212
    fit = largest_lstm("LFE5UM-85F", 8)
    assert (fit.hidden, fit.lanes, fit.estimate.brams, fit.cycles_per_step) == (226, 8, 207, 51076)
    fit = largest_lstm("LFE5UM-85F", 16, lanes=156)
    assert (fit.hidden, fit.lanes, fit.estimate, fit.cycles_per_step) == (128, 156, ResourceEstimate(24416, 156, 163),
                                                                           1024)


def test_the_model_refuses_what_it_does_not_cover():
    with pytest.raises(UserError, match="one-layer LSTMs only"):
        memories(config_from_dict({"model": {"cell": "gru"}}))
    with pytest.raises(UserError, match="ECP5 devices only, not the xc7a35t"):
        estimate_resources(lstm(12, 32, 0, 8), DEVICES["xc7a35t"])
    with pytest.raises(UserError, match="fitted for 16 and 8-bit weights, not 10"):
        estimate_resources(lstm_config(32, 8, 10), LFE5UM_85F)


def test_docs_state_the_largest_lstms():
    text = (Path(__file__).resolve().parent.parent / "docs" / "synthesis.md").read_text()
    for width, label in ((16, "16 bits (default numerics)"), (8, "8 bits (uniform, accumulator 25 bits)")):
        fit = largest_lstm("LFE5UM-85F", width)
        assert (f"| {label} | {fit.hidden} | {fit.lanes} | {fit.estimate.brams} | {fit.estimate.dsps} "
                f"| {fit.estimate.luts:,} | {fit.cycles_per_step:,} | {fit.latency_per_step_us:.1f} µs |") in text


def test_the_fit_estimate_counts_shared_multipliers_and_packed_memories():
    """LSTM I=8 H=16 P=8 with 6-bit weights and operands: four lane pairs, each one 192 x 18-bit packed
    memory (one block) and one DSP; with dsp_packing = "off", eight 192 x 6-bit memories and eight DSPs.
    Eight bias memories (one block each, an upper estimate) either way."""
    numerics = {"input": "fixed<6,2>", "weight": "fixed<6,2>", "state": "fixed<6,3>", "bias": "fixed<8,3>",
                "cell_state": "fixed<8,4>", "accum": "fixed<21,6>", "output": "fixed<8,4>"}
    config = config_from_dict({"model": {"cell": "lstm", "input_size": 8, "hidden_size": 16},
                               "numerics": numerics, "hardware": {"lanes": 8}})
    ecp5 = TARGETS["ecp5"]
    packed, plain = design_needs(config), design_needs(config.replace("hardware", dsp_packing="off"))
    assert (packed.packed_pairs, packed.dsps(ecp5), packed.brams(ecp5)) == (True, 4, 12)
    assert (plain.packed_pairs, plain.dsps(ecp5), plain.brams(ecp5)) == (False, 8, 16)
    assert design_needs(config.replace("hardware", lanes=7)).dsps(ecp5) == 4  # three pairs and one lane
    lines, _ = fit_report(config, "ecp5")
    assert lines[0] == ("needs: 9,216 weight bits and 512 bias bits in 8 lane memories, 4 multipliers (lane pairs "
                        "share one: packed weights of 18 bits) of 6 x 6 bits")

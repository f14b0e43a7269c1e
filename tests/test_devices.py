"""Device facts (spec/devices.py) and the throughput formulas, with exact values."""

from __future__ import annotations

import pytest

from rnnhw.spec.devices import DEVICES, device_facts, gops, peak_fraction, steps_per_second
from rnnhw.synth import TARGETS


def test_the_lfe5um_85f():
    device = DEVICES["LFE5UM-85F"]
    assert (device.luts, device.brams, device.multipliers, device.multiplier_inputs) == (83640, 208, 156, (18, 18))
    assert device.bram_bits == 208 * 18432 == 3_833_856
    assert device.multiplier_fmax_mhz == 246.67
    assert device.peak_macs_per_second == pytest.approx(156 * 246.67e6, rel=1e-15)


def test_every_synthesis_device_has_facts_and_takes_its_capacity_from_them():
    for target in TARGETS.values():
        for device in target.devices:
            facts = DEVICES[device.name]
            assert facts.family == target.name
            assert device.capacity == facts.capacity
            assert target.dsp_inputs == facts.multiplier_inputs
    assert DEVICES["xc7a35t"].capacity == {"luts": 20800, "ffs": 41600, "dsps": 90, "brams": 100}
    assert DEVICES["iCE40UP5K"].capacity == {"luts": 5280, "dsps": 8, "brams": 30}


def test_ordering_codes_take_the_multiplier_clock_of_their_speed_grade():
    assert device_facts("LFE5UM-85F-7BG381C").multiplier_fmax_mhz == 217.11
    assert device_facts("LFE5U-25F-6").multiplier_fmax_mhz == 191.28
    assert device_facts("LFE5U-25F-6").multipliers == 28
    assert device_facts("LFE5UM-85F-8").peak_macs_per_second == DEVICES["LFE5UM-85F"].peak_macs_per_second
    with pytest.raises(KeyError):
        device_facts("LFE5UM-99F")


def test_gops_and_peak_fraction_of_the_reference_lstm():
    """LSTM I=12 H=32 P=8: 4*32*44 = 5,632 MACs in 704 cycles at 158.0 MHz (docs/BENCHMARKS.md)."""
    assert steps_per_second(704, 158.0) == 158e6 / 704
    assert gops(5632, 704, 158.0) == pytest.approx(2.528, abs=1e-12)
    assert peak_fraction(8, 158.0, DEVICES["LFE5UM-85F"]) == pytest.approx(8 * 158.0 / (156 * 246.67), rel=1e-15)
    assert peak_fraction(156, 246.67, DEVICES["LFE5UM-85F"]) == pytest.approx(1.0, rel=1e-15)


def test_no_peak_without_multipliers():
    assert peak_fraction(1, 100.0, DEVICES["iCE40HX8K"]) is None

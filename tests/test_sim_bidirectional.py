"""Bidirectional cores on Verilator: bit-exact against the golden model under random backpressure, at the
schedule model's cycles, and dropping sequences longer than ``hardware.max_sequence_length``.

One pytest function per simulator build (each design is generated and built once, cached in build/sim
by the Verilog's hash); the overflow test reuses the first design's build.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from rnnhw.golden.model import GoldenModel
from rnnhw.rtl.top import generate_verilog
from rnnhw.sim.verify import output_mode, run_simulation, simulate_stream
from rnnhw.spec.config import config_from_dict
from rnnhw.spec.schedule import Schedule
from rnnhw.spec.weights import quantize_weights, random_weights

from .test_sim_accelerator import BUILD, _config, _stimulus

pytestmark = pytest.mark.sim

#: Longest sequence of every design here; the stimulus's sequences have 1..STEPS timesteps.
STEPS = 6


def _bidirectional(cell, inputs, hidden, lanes, ctc_blank=None, **keys):
    data = _config(cell, inputs, hidden, lanes, **keys).to_dict()
    data["model"]["bidirectional"] = True
    if ctc_blank is not None:
        data["model"]["ctc_blank"] = ctc_blank
    data["hardware"]["max_sequence_length"] = STEPS
    return config_from_dict(data)


# name: config. Together: LSTM, GRU (both forms), Elman; 1 to 3 layers (bank k % 2 reused); no head, a head
# on the final vector (in three passes), a head at every step (and CTC-decoded, also after reset-before GRUs);
# return_sequences on and off; 8- and 16-bit numerics; P dividing G*H or not.
DESIGNS = {
    "lstm_final": _bidirectional("lstm", 3, 4, 3),
    "lstm_2layers_head_8bit": _bidirectional("lstm", 4, 5, 4, layers=2, head=3, bits8=True),
    "gru_2layers_seq": _bidirectional("gru", 3, 4, 5, layers=2, sequences=True),
    "gru_head_every_step_8bit": _bidirectional("gru", 3, 4, 4, head=3, sequences=True, bits8=True,
                                               rounding="RND_CONV"),
    "gru_before_2layers_seq_8bit": _bidirectional("gru_before", 2, 5, 3, layers=2, sequences=True, bits8=True),
    "gru_before_head_every_step_ctc": _bidirectional("gru_before", 3, 4, 3, head=4, sequences=True, ctc_blank=0),
    "rnn_tanh_3layers_head_3passes": _bidirectional("rnn_tanh", 3, 6, 2, layers=3, head=5),
    "lstm_ctc": _bidirectional("lstm", 3, 4, 4, head=4, sequences=True, ctc_blank=0),
}


def _design(name):
    config = DESIGNS[name]
    weights = random_weights(config, 0, scale=1.5 / math.sqrt(config.model.hidden_size))
    qweights = quantize_weights(weights, config, warn=False)
    return config, qweights, generate_verilog(config, qweights)


def _equal_sequences(config, count, steps, seed=0):
    fmt = config.numerics.input
    return np.random.default_rng(seed).integers(fmt.min_int // 2, fmt.max_int // 2 + 1,
                                                size=(count, steps, config.model.input_size))


@pytest.mark.parametrize("name", sorted(DESIGNS))
def test_bidirectional_design_is_bit_exact_at_its_model_cycles(name):
    config, qweights, verilog = _design(name)
    x, lengths = _stimulus(config, steps=STEPS)
    result = run_simulation(config, qweights, x, lengths, verilog=verilog, backpressure=True, build_dir=BUILD,
                            progress=False, seed=1)
    assert result.bit_exact, result.first_mismatch
    assert result.mismatches == 0 and result.sequences == len(lengths) and result.timesteps == lengths.sum()
    assert result.sequence_overflow is False
    # Sequences back to back without pauses: two more sequences of T steps cost two sequence periods.
    schedule = Schedule(config)
    for steps in (STEPS, 2):
        cycles = {}
        for count in (2, 4):
            x = _equal_sequences(config, count, steps, seed=count)
            result = run_simulation(config, qweights, x, verilog=verilog, build_dir=BUILD, progress=False)
            assert result.bit_exact, result.first_mismatch
            cycles[count] = result.cycles
        assert cycles[4] - cycles[2] == 2 * schedule.sequence_cycles(steps)


def test_too_long_sequences_are_dropped_with_the_overflow_flag():
    config, qweights, verilog = _design("lstm_final")
    # Sequences 1 and 3 are longer than max_sequence_length (6): no output for them, the others exact.
    lengths = np.array([4, STEPS + 3, 2, STEPS + 1, STEPS, 1])
    x = _equal_sequences(config, len(lengths), STEPS + 3, seed=5)
    dropped = lengths > STEPS
    expected = np.zeros((len(lengths), 2 * config.model.hidden_size), dtype=np.int64)
    expected[~dropped] = GoldenModel(config, qweights).run(x[~dropped, :STEPS], lengths[~dropped]).outputs
    result = simulate_stream(verilog, x, lengths, expected, mode=output_mode(config), build_dir=BUILD, progress=False,
                             backpressure=True, seed=3, dropped=dropped)
    assert result.bit_exact, result.first_mismatch
    assert result.sequences == 4 and result.sequence_overflow is True


def test_reset_in_the_middle_of_a_sequence_then_clean_sequences():
    config, qweights, verilog = _design("lstm_2layers_head_8bit")
    x, lengths = _stimulus(config, sequences=4, steps=STEPS, seed=4)
    # The reset comes while the first sequence loads, or once it is in and computing: the core starts clean.
    for reset_after in (config.model.input_size * 2 + 1, int(lengths[0]) * config.model.input_size):
        result = run_simulation(config, qweights, x, lengths, verilog=verilog, build_dir=BUILD, progress=False,
                                reset_after=reset_after, backpressure=True)
        assert result.bit_exact, result.first_mismatch
        assert result.sequence_overflow is False

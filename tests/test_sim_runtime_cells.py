"""Runtime cores of the Jordan cell and of the GRU with the reset before ``W_hn`` on Verilator.

Each core is built once (cached in build/sim) without weights; two models are loaded one after the
other through the AXI4-Lite port by ``rnnhw.driver`` (which first checks every configuration register,
then reads every word back) and each model's outputs are compared bit for bit with its golden model.
"""

from __future__ import annotations

import numpy as np
import pytest

from rnnhw.driver import CoreDriver
from rnnhw.rtl.top import generate_verilog
from rnnhw.sim.verify import run_simulation
from rnnhw.spec.config import config_from_dict
from rnnhw.spec.registers import weight_window
from rnnhw.spec.weights import quantize_weights, random_weights

from .test_sim_accelerator import BUILD

pytestmark = pytest.mark.sim

LENGTHS = np.array([4, 2, 3])
# Tiny sizes whose lanes leave holes: the Jordan core's O = 5 outputs take two passes of its P = 3 lanes
# in each layer's W_hy block; the reset-before GRU's 8 r, z rows and 4 n rows take 3 + 2 passes of P = 3.
MODELS = {
    "jordan": {"cell": "jordan", "input_size": 3, "hidden_size": 4, "output_size": 5, "num_layers": 2,
               "return_sequences": True, "output_activation": "tanh"},
    "gru_before": {"cell": "gru", "gru_reset": "before", "input_size": 3, "hidden_size": 4, "num_layers": 2,
                   "head": 2},
}


def host_program(config, qweights):
    """Identify the core, load ``qweights`` and read them back, run the sequences, then read status and counters."""

    def program(bus):
        core = CoreDriver(read=bus.read, write=bus.write, config=config)
        core.identify()
        out = {"words": core.load(qweights), "read_back": core.mismatches(qweights)}
        core.control("CLEAR_COUNTERS")
        bus.go()
        bus.wait_done()
        out["status"], out["counters"] = core.status(), core.counters()
        return out

    return program


@pytest.mark.parametrize("name", list(MODELS))
def test_two_models_through_one_runtime_build(name):
    config = config_from_dict({"model": MODELS[name], "hardware": {"lanes": 3, "weights": "runtime"}})
    verilog = generate_verilog(config, None)  # one build for both models
    x = np.random.default_rng(0).integers(-400, 400, size=(len(LENGTHS), int(LENGTHS.max()), 3))
    words = sum(region.lanes * region.depth for region in weight_window(config))
    outputs = []
    for seed in (3, 4):
        qweights = quantize_weights(random_weights(config, seed, scale=1.0), config)
        result = run_simulation(config, qweights, x, LENGTHS, verilog=verilog, host=host_program(config, qweights),
                                build_dir=BUILD, progress=False)
        assert result.bit_exact, result.first_mismatch
        assert result.host_result == {
            "words": words, "read_back": [], "status": {"BUSY": 0, "WINDOW_REFUSED": 0, "BAD_ACCESS": 0},
            "counters": {"cycles": result.cycles, "timesteps": int(LENGTHS.sum()), "sequences": len(LENGTHS)}}
        outputs.append(result.outputs)
    assert not np.array_equal(*outputs)  # each model computed its own outputs

"""Runtime cores of the Jordan cell and of the GRU with the reset before ``W_hn`` on Verilator.

Each core is built once (cached in build/sim) without weights; two models are loaded one after the
other through the AXI4-Lite port by ``rnnhw.driver`` (which first checks every configuration register)
and each model's outputs are compared bit for bit with its golden model.
"""

from __future__ import annotations

import numpy as np
import pytest

from rnnhw.rtl.top import generate_verilog
from rnnhw.runtime import simulate_models
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


@pytest.mark.parametrize("name", list(MODELS))
def test_two_models_through_one_runtime_build(name):
    config = config_from_dict({"model": MODELS[name], "hardware": {"lanes": 3, "weights": "runtime"}})
    models = [(label, quantize_weights(random_weights(config, seed, scale=1.0), config))
              for label, seed in (("A", 3), ("B", 4))]
    x = np.random.default_rng(0).integers(-400, 400, size=(len(LENGTHS), int(LENGTHS.max()), 3))
    run = simulate_models(config, models, x, LENGTHS, verilog=generate_verilog(config, None), build_dir=BUILD,
                          progress=False)
    assert run.bit_exact, run.first_mismatch
    assert run.builds == 1 and [r.weights for r in run.runs] == ["A", "B"]
    first, second = (r.result.outputs for r in run.runs)
    assert not np.array_equal(first, second)  # each model computed its own outputs
    words = sum(region.lanes * region.depth for region in weight_window(config))
    assert [r.words for r in run.runs] == [words, words]

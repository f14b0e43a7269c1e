"""The accelerator configurations the simulation and hardware benchmarks measure, with their data.

Every design uses the default numerics (16-bit values, 41-bit accumulator, 1024-entry tables), random
weights in PyTorch's default initialisation (seed 0) and standard-normal inputs (seed 1), quantized to
the input format; all runs are batch 1.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from rnnhw.spec.config import Config, config_from_dict
from rnnhw.spec.fixed import quantize
from rnnhw.spec.schedule import macs_per_step
from rnnhw.spec.weights import QuantizedWeights, quantize_weights, random_weights

__all__ = ["Design", "CELL_NAMES", "BenchFailure"]

CELL_NAMES = {"lstm": "LSTM", "gru": "GRU", "rnn_tanh": "Elman tanh", "rnn_relu": "Elman relu", "jordan": "Jordan"}


class BenchFailure(Exception):
    """A measurement that must not be reported: the simulation does not match the golden model."""


@dataclass(frozen=True)
class Design:
    """One accelerator: cell, sizes, classifier head (0: none) and lanes ``P``."""

    cell: str
    input_size: int
    hidden_size: int
    lanes: int
    head: int = 0
    gru_reset: str = "after"
    output_size: int = 0  # the Jordan cell's O

    def __post_init__(self):
        if self.cell not in CELL_NAMES:
            raise ValueError(f"cell must be one of {tuple(CELL_NAMES)}, not {self.cell!r}")

    @property
    def model_label(self) -> str:
        """``LSTM I=12 H=32 head=9`` (no lanes); ``GRU (reset before) ...`` for ``gru_reset = "before"``."""
        head = f" head={self.head}" if self.head else ""
        reset = " (reset before)" if self.gru_reset == "before" else ""
        outputs = f" O={self.output_size}" if self.output_size else ""
        return f"{CELL_NAMES[self.cell]}{reset} I={self.input_size} H={self.hidden_size}{outputs}{head}"

    @property
    def label(self) -> str:
        """``LSTM I=12 H=32 head=9 P=8``."""
        return f"{self.model_label} P={self.lanes}"

    @functools.cached_property
    def config(self) -> Config:
        return config_from_dict({
            "model": {"cell": self.cell, "input_size": self.input_size, "hidden_size": self.hidden_size,
                      "head": self.head, "gru_reset": self.gru_reset, "output_size": self.output_size},
            "hardware": {"lanes": self.lanes},
        })

    @functools.cached_property
    def qweights(self) -> QuantizedWeights:
        return quantize_weights(random_weights(self.config, seed=0), self.config, warn=False)

    @functools.cached_property
    def verilog(self) -> str:
        from rnnhw.rtl.top import generate_verilog

        return generate_verilog(self.config, self.qweights, name="rnnhw_top")

    @property
    def macs_per_step(self) -> int:
        """Multiply-accumulates of one timestep, all layers (the head's, once per sequence, excluded)."""
        return sum(macs_per_step(self.config, k) for k in range(self.config.model.num_layers))

    def inputs(self, steps: int) -> np.ndarray:
        """One sequence of ``steps`` timesteps as input integers ``[1, steps, I]`` (the same prefix for
        every ``steps``)."""
        n = self.config.numerics
        x = np.random.default_rng(1).normal(size=(steps, self.input_size))[None]
        return quantize(x, n.input, n.rounding)[0]

    def simulate(self, steps: int, *, simulator: str = "verilator", build_dir, progress: bool = False):
        """:func:`rnnhw.sim.verify.run_simulation` of :meth:`inputs` ``(steps)``; the ``SimResult``.

        Raises
        ------
        BenchFailure
            The outputs are not bit-exact (the message names the design, the first mismatch and the log).
        """
        from rnnhw.sim.verify import run_simulation

        result = run_simulation(self.config, self.qweights, self.inputs(steps), simulator=simulator,
                                verilog=self.verilog, build_dir=build_dir, progress=progress)
        if not result.bit_exact:
            notes = "; ".join(result.notes) or "no protocol notes"
            raise BenchFailure(f"{self.label}, {steps} steps on {simulator}: not bit-exact against the "
                               f"golden model ({result.mismatches} mismatches; first: "
                               f"{result.first_mismatch}; {notes}; log {result.log_path})")
        return result

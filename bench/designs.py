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
    """One accelerator: cell, sizes, classifier head (0: none), lanes ``P`` and a few hardware keys."""

    cell: str
    input_size: int
    hidden_size: int
    lanes: int
    head: int = 0
    gru_reset: str = "after"
    output_size: int = 0  # the Jordan cell's O
    bidirectional: bool = False  # each layer also runs backward in time (``H`` per direction)
    num_layers: int = 1
    return_sequences: bool = False  # an output every timestep, not only after the last
    interleave: int = 1  # K interleaved sequences (``hardware.interleave``)
    elementwise_multipliers: str = "logic"  # ``hardware.elementwise_multipliers``

    def __post_init__(self):
        if self.cell not in CELL_NAMES:
            raise ValueError(f"cell must be one of {tuple(CELL_NAMES)}, not {self.cell!r}")

    @property
    def model_label(self) -> str:
        """``LSTM I=12 H=32 head=9`` (no lanes); ``GRU (reset before) ...`` for ``gru_reset = "before"``;
        ``2-layer bidirectional GRU I=8 H=16 (outputs every step)`` (``H`` per direction); ``... (elementwise
        DSP)`` with ``hardware.elementwise_multipliers = "dsp"``."""
        head = f" head={self.head}" if self.head else ""
        reset = " (reset before)" if self.gru_reset == "before" else ""
        outputs = f" O={self.output_size}" if self.output_size else ""
        layers = f"{self.num_layers}-layer " if self.num_layers > 1 else ""
        direction = "bidirectional " if self.bidirectional else ""
        sequences = " (outputs every step)" if self.return_sequences else ""
        elementwise = " (elementwise DSP)" if self.elementwise_multipliers == "dsp" else ""
        return (f"{layers}{direction}{CELL_NAMES[self.cell]}{reset} I={self.input_size} H={self.hidden_size}"
                f"{outputs}{head}{sequences}{elementwise}")

    @property
    def label(self) -> str:
        """``LSTM I=12 H=32 head=9 P=8``; ``... P=32 K=2`` with interleaved sequences."""
        return f"{self.model_label} P={self.lanes}" + (f" K={self.interleave}" if self.interleave > 1 else "")

    @functools.cached_property
    def config(self) -> Config:
        return config_from_dict({
            "model": {"cell": self.cell, "input_size": self.input_size, "hidden_size": self.hidden_size,
                      "head": self.head, "gru_reset": self.gru_reset, "output_size": self.output_size,
                      "bidirectional": self.bidirectional, "num_layers": self.num_layers,
                      "return_sequences": self.return_sequences},
            "hardware": {"lanes": self.lanes, "interleave": self.interleave,
                         "elementwise_multipliers": self.elementwise_multipliers},
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
        """Multiply-accumulates of one timestep, all layers and directions (the head's, once per sequence,
        excluded)."""
        model = self.config.model
        return model.directions * sum(macs_per_step(self.config, k) for k in range(model.num_layers))

    def inputs(self, steps: int) -> np.ndarray:
        """One sequence of ``steps`` timesteps as input integers ``[1, steps, I]`` (the same prefix for
        every ``steps``)."""
        n = self.config.numerics
        x = np.random.default_rng(1).normal(size=(steps, self.input_size))[None]
        return quantize(x, n.input, n.rounding)[0]

    def simulate(self, steps: int, *, simulator: str = "verilator", build_dir, progress: bool = False,
                 sequences: int = 1):
        """:func:`rnnhw.sim.verify.run_simulation` of :meth:`inputs` ``(steps)`` (``sequences`` copies of it,
        back to back); the ``SimResult``.

        Raises
        ------
        BenchFailure
            The outputs are not bit-exact (the message names the design, the first mismatch and the log).
        """
        from rnnhw.sim.verify import run_simulation

        x = np.repeat(self.inputs(steps), sequences, axis=0)
        result = run_simulation(self.config, self.qweights, x, simulator=simulator,
                                verilog=self.verilog, build_dir=build_dir, progress=progress)
        if not result.bit_exact:
            notes = "; ".join(result.notes) or "no protocol notes"
            raise BenchFailure(f"{self.label}, {steps} steps on {simulator}: not bit-exact against the "
                               f"golden model ({result.mismatches} mismatches; first: "
                               f"{result.first_mismatch}; {notes}; log {result.log_path})")
        return result

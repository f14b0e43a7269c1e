"""A small stand-in accelerator with the real top level's AXI-Stream ports, and its own reference.

It lets the simulation infrastructure (``rnnhw.sim``) be tested without the real RTL. Each unit ``u``
of ``units`` keeps a running sum of input element ``u % I`` of every timestep, clamped to
``[0, 2**(W-1) - 1]`` of its output width ``W``: that equals the golden model of an Elman ReLU network
whose weights map input ``u % I`` to unit ``u`` with weight 1 (see :func:`identity_relu_weights`).

Like the real design it takes ``I`` elements per timestep (``s_axis_tready`` low while it
"computes" for ``compute_cycles`` and while it sends), and sends one vector per timestep
(``return_sequences``) or one per sequence (final state or head), ``m_axis_tlast`` on each vector's
last element. ``wrong_at = (vector, unit)`` adds 1 to one output element, counted from reset, for
testing mismatch reports.

:func:`standin_synthesizer` stands in for synthesis in tests of ``rnnhw sweep``'s orchestration:
resources by fixed rules from the configuration, and the real flow's "does not fit" failure.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from amaranth import Array, Module, Mux, Signal, signed
from amaranth.back import verilog
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from rnnhw.spec.batch import check_batch
from rnnhw.spec.config import Config
from rnnhw.spec.weights import LayerWeights, Weights


def output_units(config: Config) -> int:
    return config.model.head or config.model.hidden_size


def output_width(config: Config) -> int:
    numerics = config.numerics
    return numerics.output.width if config.model.head else numerics.state.width


class StandIn(wiring.Component):
    def __init__(self, *, input_width: int, output_width: int, input_size: int, units: int, per_step: bool,
                 compute_cycles: int = 0, wrong_at: tuple[int, int] | None = None):
        self.input_width, self.output_width = input_width, output_width
        self.input_size, self.units, self.per_step = input_size, units, per_step
        self.compute_cycles, self.wrong_at = compute_cycles, wrong_at
        super().__init__({
            "s_axis_tdata": In(input_width), "s_axis_tvalid": In(1), "s_axis_tready": Out(1),
            "s_axis_tlast": In(1),
            "m_axis_tdata": Out(output_width), "m_axis_tvalid": Out(1), "m_axis_tready": In(1),
            "m_axis_tlast": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        width, units, inputs = self.output_width, self.units, self.input_size
        top = (1 << (width - 1)) - 1
        acc = Array(Signal(signed(width), name=f"acc{u}") for u in range(units))
        element = Signal(range(max(inputs, 2)))
        unit = Signal(range(max(units, 2)))
        sequence_end = Signal()
        countdown = Signal(range(max(self.compute_cycles, 1) + 1))
        vectors = Signal(32)  # output vectors sent since reset
        x = self.s_axis_tdata.as_signed()

        def after_timestep():
            with m.If(self.per_step | sequence_end):
                m.next = "OUTPUT"
            with m.Else():
                m.next = "INPUT"

        with m.FSM():
            with m.State("INPUT"):
                m.d.comb += self.s_axis_tready.eq(1)
                with m.If(self.s_axis_tvalid):
                    for u in range(units):
                        total = Signal(signed(max(width, self.input_width) + 2), name=f"total{u}")
                        m.d.comb += total.eq(acc[u] + x)
                        with m.If(element == u % inputs):
                            m.d.sync += acc[u].eq(Mux(total < 0, 0, Mux(total > top, top, total)))
                    with m.If(element == inputs - 1):
                        m.d.sync += [element.eq(0), sequence_end.eq(self.s_axis_tlast)]
                        if self.compute_cycles:
                            m.d.sync += countdown.eq(self.compute_cycles - 1)
                            m.next = "COMPUTE"
                        else:
                            with m.If(self.per_step | self.s_axis_tlast):
                                m.next = "OUTPUT"
                    with m.Else():
                        m.d.sync += element.eq(element + 1)
            with m.State("COMPUTE"):
                with m.If(countdown == 0):
                    after_timestep()
                with m.Else():
                    m.d.sync += countdown.eq(countdown - 1)
            with m.State("OUTPUT"):
                value = acc[unit]
                if self.wrong_at is not None:
                    wrong = (vectors == self.wrong_at[0]) & (unit == self.wrong_at[1])
                    value = Mux(wrong, value + 1, value)
                m.d.comb += [
                    self.m_axis_tvalid.eq(1),
                    self.m_axis_tdata.eq(value),
                    self.m_axis_tlast.eq(unit == units - 1),
                ]
                with m.If(self.m_axis_tready):
                    with m.If(unit == units - 1):
                        m.d.sync += [unit.eq(0), vectors.eq(vectors + 1)]
                        with m.If(sequence_end):
                            m.d.sync += [a.eq(0) for a in acc]
                        m.next = "INPUT"
                    with m.Else():
                        m.d.sync += unit.eq(unit + 1)
        return m


def standin_verilog(config: Config, *, compute_cycles: int = 0, wrong_at=None,
                    name: str = "rnnhw_top") -> str:
    """Verilog of the stand-in with the port widths and output mode ``config`` gives the real design."""
    model = config.model
    design = StandIn(
        input_width=config.numerics.input.width, output_width=output_width(config),
        input_size=model.input_size, units=output_units(config), per_step=model.return_sequences,
        compute_cycles=compute_cycles, wrong_at=wrong_at,
    )
    return verilog.convert(design, name=name)


def standin_reference(config: Config, x_int: np.ndarray, lengths=None) -> np.ndarray:
    """The stand-in's outputs in the golden model's layout (``GoldenResult.outputs``)."""
    x_int = np.asarray(x_int, dtype=np.int64)
    lengths = check_batch(x_int, config.model.input_size, lengths)
    batch, steps, inputs = x_int.shape
    units, top = output_units(config), (1 << (output_width(config) - 1)) - 1
    source = np.arange(units) % inputs
    acc = np.zeros((batch, units), dtype=np.int64)
    per_step = np.zeros((batch, steps, units), dtype=np.int64)
    for t in range(steps):
        active = (t < lengths)[:, None]
        acc = np.where(active, np.clip(acc + x_int[:, t, source], 0, top), acc)
        per_step[:, t] = np.where(active, acc, 0)
    return per_step if config.model.return_sequences else acc


def identity_relu_weights(config: Config) -> Weights:
    """Weights under which the golden model of an ``rnn_relu`` config computes what the stand-in does.

    Needs one layer, no head, and input, weight and state formats whose fraction bits agree.
    """
    model = config.model
    hidden, inputs = model.hidden_size, model.input_size
    w_ih = np.zeros((hidden, inputs))
    w_ih[np.arange(hidden), np.arange(hidden) % inputs] = 1.0
    zeros = np.zeros(hidden)
    return Weights(layers=(LayerWeights(w_ih, np.eye(hidden), zeros, zeros),))


# --------------------------------------------------------------------------------------------------
# A stand-in for synthesis, for tests of the sweep's orchestration (real synthesis takes minutes)


@dataclass(frozen=True)
class StandInSynthesis:
    """What :func:`standin_synthesizer` reports (the fields of :class:`rnnhw.synth.SynthResult` the sweep reads)."""

    luts: int
    ffs: int
    dsps: int
    brams: int
    fmax_mhz: float


#: DSP blocks of the devices the stand-in knows (as nextpnr reports them).
STANDIN_DSPS = {"LFE5UM-25F": 28, "LFE5UM-45F": 72, "LFE5UM-85F": 156}


def standin_synthesizer(config: Config, weights: Weights, options) -> StandInSynthesis:
    """Resources from the configuration by fixed rules: a DSP per lane, LUTs growing with lanes and width.

    Fmax falls with the lanes (``200 - lanes`` MHz). A design needing more DSP blocks than the device has
    fails as :func:`rnnhw.synth.synthesize` does.
    """
    from rnnhw.synth import SynthesisError

    lanes, width = config.hardware.lanes, config.numerics.weight.width
    device = options.device or "LFE5UM-85F"
    if lanes > STANDIN_DSPS[device]:
        raise SynthesisError(f"the design does not fit the {device}: it needs {lanes} DSP blocks (MULT18X18D), "
                             f"the {device} has {STANDIN_DSPS[device]}; logs kept in build/synth/x")
    return StandInSynthesis(luts=100 * lanes + 10 * width, ffs=50 * lanes + width, dsps=lanes, brams=2,
                            fmax_mhz=float(200 - lanes))


def slow_standin_synthesizer(config: Config, weights: Weights, options) -> StandInSynthesis:
    """:func:`standin_synthesizer` taking 0.4 s, so that a sweep can be stopped half-way."""
    import time

    time.sleep(0.4)
    return standin_synthesizer(config, weights, options)

"""Every constructor argument check of every ``rtl/`` component and interface, each message exactly."""

import importlib
import inspect
import pkgutil
import re

import numpy as np
import pytest
from amaranth.hdl import Fragment, Module, Signal, signed
from amaranth.lib import data, wiring

import rnnhw.rtl
from rnnhw.rtl.buffers import InputBuffer, OutputBuffer, SequenceBuffer, StreamInputBuffers
from rnnhw.rtl.conversion import SumConverter
from rnnhw.rtl.csr import ControlRegisters
from rnnhw.rtl.ctc import CTCDecoder
from rnnhw.rtl.elementwise import ElementwiseUnit
from rnnhw.rtl.interfaces import (
    InputReadSignature,
    IssueSignature,
    RefundSignature,
    ReservationSignature,
    SequenceReadSignature,
    WeightAccessSignature,
    WrittenSignature,
    state_read_signature,
    state_write_signature,
)
from rnnhw.rtl.layouts import design_layouts, output_element_layout
from rnnhw.rtl.lut import ActivationLUT
from rnnhw.rtl.matvec import MatVecUnit, lane_arguments
from rnnhw.rtl.multiply import PackedMultiplier, multiply
from rnnhw.rtl.sequencer import Sequencer
from rnnhw.rtl.top import RNNAccelerator
from rnnhw.spec.config import config_from_dict
from rnnhw.spec.datapath import datapath
from rnnhw.spec.design import lane_parameters, memory_sizes
from rnnhw.spec.errors import ConfigError
from rnnhw.spec.fixed import FixedFormat
from rnnhw.spec.schedule import Schedule

from .rtl_units import full_range_weights, make_config

# A component whose constructor raised was never meant to be elaborated.
pytestmark = pytest.mark.filterwarnings("ignore::amaranth.hdl.UnusedElaboratable")

CONFIG = make_config("gru", input_size=2, hidden=3, head=2, lanes=4)  # output vector: 2 elements
# r*h after the two h banks: 6 + 3 words; Jordan: y banks after them, 6 + 2*2 words.
RESET_BEFORE = CONFIG.replace("model", gru_reset="before")
JORDAN = config_from_dict({"model": {"cell": "jordan", "input_size": 2, "hidden_size": 3, "output_size": 2},
                           "hardware": {"lanes": 3}})
WEIGHTS = full_range_weights(CONFIG, np.random.default_rng(0))
RUNTIME = CONFIG.replace("hardware", weights="runtime")
LAYOUTS = design_layouts(CONFIG)
LAYOUT = data.StructLayout({"a": 1})


def input_buffer(**changes):
    return InputBuffer(**dict(features=3, width=8) | changes)


def stream_input_buffers(**changes):
    return StreamInputBuffers(**dict(features=3, width=8, streams=2) | changes)


def sequence_buffer(**changes):
    return SequenceBuffer(**dict(features=3, width=8, steps=5) | changes)


def output_buffer(**changes):
    return OutputBuffer(**dict(element=LAYOUTS.output_element, depth=4) | changes)


def sequencer(**changes):
    return Sequencer(**dict(schedule=Schedule(CONFIG), issue_shape=LAYOUTS.issue, output_depth=4) | changes)


def matvec(**changes):
    sch = Schedule(CONFIG)
    arguments = dict(weight_images=sch.weight_images(WEIGHTS), bias_images=sch.bias_images(WEIGHTS),
                     **lane_arguments(lane_parameters(CONFIG)), issue_shape=LAYOUTS.issue, sum_shape=LAYOUTS.sums)
    return MatVecUnit(**arguments | changes)


def converter(**changes):
    n = CONFIG.numerics
    return SumConverter(**dict(acc_frac=10, accum=n.accum, output=n.output, rounding=n.rounding,
                               overflow=n.overflow, head_size=2, sum_shape=LAYOUTS.sums,
                               item_shape=LAYOUTS.gate_items) | changes)


def decoder(**changes):
    return CTCDecoder(**dict(classes=3, blank=1, logit_format=FixedFormat(8, 4)) | changes)


def lut(**changes):
    return ActivationLUT(**dict(table=datapath(CONFIG).tanh, in_width=12, in_frac=5, multipliers="logic") | changes)


def elementwise(config=CONFIG, **changes):
    return ElementwiseUnit(**dict(datapath=datapath(config), item_shape=design_layouts(config).gate_items,
                                  state_depth=memory_sizes(config).state_depth) | changes)


def accelerator(**changes):
    return RNNAccelerator(**dict(config=CONFIG, weights=WEIGHTS) | changes)


def registers(**changes):
    return ControlRegisters(**dict(config=RUNTIME) | changes)


def multiplier(kind):
    m = Module()
    try:
        return multiply(m, Signal(4), Signal(4), kind=kind, name="p")
    finally:
        Fragment.get(m, None)  # used, whatever happened


CHECKS = [
    # interfaces
    (lambda: IssueSignature(issue_shape=8, operand_width=8), TypeError, "issue_shape must be a StructLayout, not 8"),
    (lambda: IssueSignature(issue_shape=LAYOUT, operand_width=8.0), TypeError,
     "operand_width must be a positive integer, not 8.0"),
    (lambda: IssueSignature(issue_shape=LAYOUT, operand_width=0), ValueError,
     "operand_width must be a positive integer, not 0"),
    (lambda: InputReadSignature(features=0, width=8), ValueError, "features must be a positive integer, not 0"),
    (lambda: InputReadSignature(features="3", width=8), TypeError, "features must be a positive integer, not '3'"),
    (lambda: InputReadSignature(features=3, width=-1), ValueError, "width must be a positive integer, not -1"),
    (lambda: InputReadSignature(features=3, width=None), TypeError, "width must be a positive integer, not None"),
    (lambda: SequenceReadSignature(features=0, width=8, steps=4), ValueError,
     "features must be a positive integer, not 0"),
    (lambda: SequenceReadSignature(features=3, width=8.0, steps=4), TypeError,
     "width must be a positive integer, not 8.0"),
    (lambda: SequenceReadSignature(features=3, width=8, steps=0), ValueError,
     "steps must be a positive integer, not 0"),
    (lambda: SequenceReadSignature(features=3, width=8, steps="4"), TypeError,
     "steps must be a positive integer, not '4'"),
    (lambda: WrittenSignature(layers=0, hidden=3), ValueError, "layers must be a positive integer, not 0"),
    (lambda: WrittenSignature(layers=True, hidden=3), TypeError, "layers must be a positive integer, not True"),
    (lambda: WrittenSignature(layers=1, hidden=0), ValueError, "hidden must be a positive integer, not 0"),
    (lambda: WrittenSignature(layers=1, hidden=[3]), TypeError, "hidden must be a positive integer, not [3]"),
    (lambda: state_read_signature(depth=0, shape=8), ValueError, "depth must be a positive integer, not 0"),
    (lambda: state_write_signature(depth=2.5, shape=8), TypeError, "depth must be a positive integer, not 2.5"),
    (lambda: WeightAccessSignature(lanes=0, depth=4), ValueError, "lanes must be a positive integer, not 0"),
    (lambda: WeightAccessSignature(lanes=2, depth=4.0), TypeError, "depth must be a positive integer, not 4.0"),
    # InputBuffer
    (lambda: input_buffer(features=0), ValueError, "features must be a positive integer, not 0"),
    (lambda: input_buffer(features=1.5), TypeError, "features must be a positive integer, not 1.5"),
    (lambda: input_buffer(width=0), ValueError, "width must be a positive integer, not 0"),
    (lambda: input_buffer(width="8"), TypeError, "width must be a positive integer, not '8'"),
    # StreamInputBuffers
    (lambda: stream_input_buffers(features=0), ValueError, "features must be a positive integer, not 0"),
    (lambda: stream_input_buffers(features=1.5), TypeError, "features must be a positive integer, not 1.5"),
    (lambda: stream_input_buffers(width=0), ValueError, "width must be a positive integer, not 0"),
    (lambda: stream_input_buffers(width="8"), TypeError, "width must be a positive integer, not '8'"),
    (lambda: stream_input_buffers(streams=2.0), TypeError, "streams must be a positive integer, not 2.0"),
    (lambda: stream_input_buffers(streams=1), ValueError,
     "streams must be at least 2 (one stream is an InputBuffer), not 1"),
    # SequenceBuffer
    (lambda: sequence_buffer(features=0), ValueError, "features must be a positive integer, not 0"),
    (lambda: sequence_buffer(features=None), TypeError, "features must be a positive integer, not None"),
    (lambda: sequence_buffer(width=-2), ValueError, "width must be a positive integer, not -2"),
    (lambda: sequence_buffer(width=[8]), TypeError, "width must be a positive integer, not [8]"),
    (lambda: sequence_buffer(steps=0), ValueError, "steps must be a positive integer, not 0"),
    (lambda: sequence_buffer(steps=2.0), TypeError, "steps must be a positive integer, not 2.0"),
    # OutputBuffer
    (lambda: output_buffer(element=8), TypeError, "element must be a StructLayout, not 8"),
    (lambda: output_buffer(depth=0), ValueError, "depth must be a positive integer, not 0"),
    (lambda: output_buffer(depth=None), TypeError, "depth must be a positive integer, not None"),
    # Sequencer
    (lambda: sequencer(schedule=CONFIG), TypeError, f"schedule must be a Schedule, not {CONFIG!r}"),
    (lambda: sequencer(issue_shape=7), TypeError, "issue_shape must be a StructLayout, not 7"),
    (lambda: sequencer(output_depth=0), ValueError, "output_depth must be a positive integer, not 0"),
    (lambda: sequencer(output_depth=2.0), TypeError, "output_depth must be a positive integer, not 2.0"),
    (lambda: sequencer(output_depth=1), ValueError, "output_depth must hold one output vector (2), not 1"),
    # MatVecUnit
    (lambda: matvec(weight_images=[], bias_images=[]), ValueError,
     "need one weight and one bias image per lane, got 0 and 0"),
    (lambda: matvec(bias_images=[[(0, 0, 0)]]), ValueError,
     "need one weight and one bias image per lane, got 4 and 1"),
    *[(lambda name=name: matvec(**{name: 0}), ValueError, f"{name} must be a positive integer, not 0")
      for name in ("weight_width", "bias_width", "operand_width", "acc_width", "gates")],
    (lambda: matvec(acc_width=24.0), TypeError, "acc_width must be a positive integer, not 24.0"),
    *[(lambda name=name: matvec(**{name: -1}), ValueError, f"{name} must be a non-negative integer, not -1")
      for name in ("product_shift_input", "product_shift_state", "bias_shift")],
    (lambda: matvec(bias_shift=None), TypeError, "bias_shift must be a non-negative integer, not None"),
    (lambda: matvec(issue_shape=None), TypeError, "issue_shape must be a StructLayout, not None"),
    (lambda: matvec(sum_shape=None), TypeError, "sum_shape must be a StructLayout, not None"),
    (lambda: matvec(sum_shape=LAYOUTS.gate_items), ValueError,
     f"sum_shape's value must be signed({lane_parameters(CONFIG).acc_width}) (acc_width), "
     f"not signed({CONFIG.numerics.accum.width})"),
    (lambda: matvec(broadcast_fanout=0), ValueError, "broadcast_fanout must be a positive integer, not 0"),
    (lambda: matvec(broadcast_fanout=8.0), TypeError, "broadcast_fanout must be a positive integer, not 8.0"),
    (lambda: matvec(broadcast_fanout=1), ValueError, "broadcast_fanout must be at least 2 (a tree), not 1"),
    (lambda: matvec(packed_pairs=1), TypeError, "packed_pairs must be a bool, not 1"),
    (lambda: matvec(packed_pairs=True, writable=True), ValueError,
     "packed_pairs needs ROM weights (writable=False): a pair's memory holds packed words"),
    (lambda: matvec(packed_pairs=True), ValueError,
     "weight_width 8 and operand_width 8 need a 24-bit packed weight and a 8-bit operand; a multiplier port "
     "takes at most 18 bits (2 * weight_width + operand_width <= 18)"),
    # PackedMultiplier
    (lambda: PackedMultiplier(weight_width=0, operand_width=4), ValueError,
     "weight_width must be a positive integer, not 0"),
    (lambda: PackedMultiplier(weight_width=4, operand_width=4.0), TypeError,
     "operand_width must be a positive integer, not 4.0"),
    (lambda: PackedMultiplier(weight_width=1, operand_width=19), ValueError,
     "weight_width 1 and operand_width 19 need a 21-bit packed weight and a 19-bit operand; a multiplier port "
     "takes at most 18 bits (2 * weight_width + operand_width <= 18)"),
    # SumConverter
    (lambda: converter(acc_frac=-1), ValueError, "acc_frac must be a non-negative integer, not -1"),
    (lambda: converter(acc_frac="10"), TypeError, "acc_frac must be a non-negative integer, not '10'"),
    (lambda: converter(accum="fixed<16,8>"), TypeError, "accum must be a FixedFormat, not 'fixed<16,8>'"),
    (lambda: converter(output=16), TypeError, "output must be a FixedFormat, not 16"),
    (lambda: converter(rounding="RND"), TypeError, "rounding must be a Rounding, not 'RND'"),
    (lambda: converter(overflow="SAT"), TypeError, "overflow must be an Overflow, not 'SAT'"),
    (lambda: converter(head_size=-2), ValueError, "head_size must be a non-negative integer, not -2"),
    (lambda: converter(sum_shape=1), TypeError, "sum_shape must be a StructLayout, not 1"),
    (lambda: converter(item_shape=1), TypeError, "item_shape must be a StructLayout, not 1"),
    (lambda: converter(sequence_end=1), TypeError, "sequence_end must be a bool, not 1"),
    # CTCDecoder
    (lambda: decoder(classes=0), ValueError, "classes must be a positive integer, not 0"),
    (lambda: decoder(classes=3.0), TypeError, "classes must be a positive integer, not 3.0"),
    (lambda: decoder(blank=-1), ValueError, "blank must be a non-negative integer, not -1"),
    (lambda: decoder(blank=3), ValueError, "blank must be a class index below classes (3), not 3"),
    (lambda: decoder(blank=None), TypeError, "blank must be a non-negative integer, not None"),
    (lambda: decoder(logit_format="fixed<8,4>"), TypeError, "logit_format must be a FixedFormat, not 'fixed<8,4>'"),
    (lambda: RefundSignature(most=0), ValueError, "most must be a positive integer, not 0"),
    # ActivationLUT
    (lambda: lut(table="tanh"), TypeError, "table must be an ActivationTable, not 'tanh'"),
    (lambda: lut(in_width=1), ValueError, "in_width must be an integer of at least 2, not 1"),
    (lambda: lut(in_width=12.0), TypeError, "in_width must be an integer of at least 2, not 12.0"),
    (lambda: lut(in_frac=None), TypeError, "in_frac must be an integer, not None"),
    (lambda: lut(multipliers="mult"), ValueError, "multipliers must be one of ('dsp', 'logic'), not 'mult'"),
    (lambda: lut(read_registers=3), ValueError, "read_registers must be 1 or 2, not 3"),
    (lambda: lut(read_registers=True), ValueError, "read_registers must be 1 or 2, not True"),
    # ElementwiseUnit
    (lambda: elementwise(datapath=CONFIG), TypeError, f"datapath must be a Datapath, not {CONFIG!r}"),
    (lambda: elementwise(item_shape=None), TypeError, "item_shape must be a StructLayout, not None"),
    (lambda: elementwise(state_depth=0), ValueError, "state_depth must be a positive integer, not 0"),
    (lambda: elementwise(state_depth="12"), TypeError, "state_depth must be a positive integer, not '12'"),
    (lambda: elementwise(state_depth=5), ValueError, "state_depth must hold two banks of every layer's h (6), not 5"),
    (lambda: elementwise(RESET_BEFORE, state_depth=8), ValueError,
     "state_depth must hold two banks of every layer's h and its r*h (9), not 8"),
    (lambda: elementwise(JORDAN, state_depth=9), ValueError,
     "state_depth must hold two banks of every layer's h and two banks of its y (10), not 9"),
    # RNNAccelerator
    (lambda: accelerator(config=None), TypeError, "config must be a Config, not None"),
    (lambda: accelerator(weights=None), TypeError, "weights must be QuantizedWeights, not None"),
    (lambda: accelerator(weights=full_range_weights(make_config("gru", input_size=2, hidden=3, layers=2),
                                                     np.random.default_rng(0))),
     ValueError, "weights must have model.num_layers = 1 layer(s), not 2"),
    (lambda: accelerator(config=RUNTIME), TypeError,
     'a core with hardware.weights = "runtime" is built without weights (weights=None); '
     "they are written through its AXI4-Lite slave"),
    # ControlRegisters
    (lambda: registers(config="gru.toml"), TypeError, "config must be a Config, not 'gru.toml'"),
    (lambda: registers(config=CONFIG), ConfigError,
     'only cores with hardware.weights = "runtime" have registers; this one has "rom"'),
    # multiply()
    (lambda: multiplier("lut"), ValueError, "kind must be one of ('dsp', 'logic'), not 'lut'"),
]


@pytest.mark.parametrize(("build", "error", "message"), CHECKS, ids=[message for _, _, message in CHECKS])
def test_argument_check(build, error, message):
    with pytest.raises(error, match=f"^{re.escape(message)}$"):
        build()


def test_valid_arguments_build():
    """The base arguments of the checks above are valid: each check fails for its one argument only."""
    for build in (input_buffer, output_buffer, sequencer, matvec, converter, decoder, lut, elementwise, accelerator,
                  registers, lambda: matvec(writable=True), lambda: accelerator(config=RUNTIME, weights=None),
                  lambda: converter(sequence_end=True)):
        Fragment.get(build(), None)
    for config in (RESET_BEFORE, JORDAN):
        Fragment.get(elementwise(config), None)


@pytest.mark.parametrize(("config", "member", "signature"), [
    (RESET_BEFORE, "reset_written", WrittenSignature(layers=1, hidden=3)),  # r*h of H units
    (JORDAN, "output_written", WrittenSignature(layers=1, hidden=2)),  # y of O outputs
])
def test_cell_reports_connect_elementwise_to_sequencer(config, member, signature):
    """Only the cell that has them: the elementwise unit's extra write reports, the sequencer's matching In."""
    unit = elementwise(config)
    issuer = Sequencer(schedule=Schedule(config), issue_shape=design_layouts(config).issue,
                       output_depth=memory_sizes(config).output_fifo_depth)
    assert unit.signature.members[member] == wiring.Out(signature)
    assert issuer.signature.members[member] == wiring.In(signature)
    for other in {"reset_written", "output_written"} - {member}:
        assert other not in unit.signature.members and other not in issuer.signature.members
    plain, plain_issuer = elementwise(), sequencer()
    assert "reset_written" not in plain.signature.members and "output_written" not in plain_issuer.signature.members
    m = Module()
    m.submodules.unit, m.submodules.issuer = unit, issuer
    wiring.connect(m, getattr(unit, member), getattr(issuer, member))
    Fragment.get(m, None)
    Fragment.get(plain, None), Fragment.get(plain_issuer, None)


@pytest.mark.parametrize(("signature", "same", "other", "text"), [
    (IssueSignature(issue_shape=LAYOUT, operand_width=8), IssueSignature(issue_shape=LAYOUT, operand_width=8),
     IssueSignature(issue_shape=LAYOUT, operand_width=9),
     "IssueSignature(issue_shape=StructLayout({'a': 1}), operand_width=8)"),
    (InputReadSignature(features=3, width=8), InputReadSignature(features=3, width=8),
     InputReadSignature(features=2, width=8), "InputReadSignature(features=3, width=8)"),
    (SequenceReadSignature(features=3, width=8, steps=4), SequenceReadSignature(features=3, width=8, steps=4),
     SequenceReadSignature(features=3, width=8, steps=5), "SequenceReadSignature(features=3, width=8, steps=4)"),
    (WrittenSignature(layers=2, hidden=3), WrittenSignature(layers=2, hidden=3), WrittenSignature(layers=2, hidden=4),
     "WrittenSignature(layers=2, hidden=3)"),
    (WeightAccessSignature(lanes=4, depth=6), WeightAccessSignature(lanes=4, depth=6),
     WeightAccessSignature(lanes=4, depth=7), "WeightAccessSignature(lanes=4, depth=6)"),
    (ReservationSignature(), ReservationSignature(), IssueSignature(issue_shape=LAYOUT, operand_width=1),
     "ReservationSignature()"),
    (RefundSignature(most=2), RefundSignature(most=2), RefundSignature(most=3), "RefundSignature(most=2)"),
])
def test_signatures_compare_by_parameters(signature, same, other, text):
    assert signature == same and signature.flip() == same.flip()
    assert signature != other
    assert repr(signature) == text


def test_signature_parameters_are_read_only():
    signature = InputReadSignature(features=3, width=8)
    assert (signature.features, signature.width) == (3, 8)
    with pytest.raises(AttributeError):
        signature.features = 4
    for unit in (input_buffer(), sequence_buffer()):
        with pytest.raises(AttributeError):
            unit.features = 4
        Fragment.get(unit, None)
    signature = SequenceReadSignature(features=3, width=8, steps=4)
    assert (signature.features, signature.width, signature.steps) == (3, 8, 4)
    assert sequence_buffer().steps == 5


def test_output_element_layout():
    assert output_element_layout(FixedFormat(8, 4)) == data.StructLayout({"data": signed(8), "last": 1})


def rtl_components():
    """Every ``wiring.Component`` class defined in ``rtl/``."""
    found = set()
    for info in pkgutil.iter_modules(rnnhw.rtl.__path__):
        module = importlib.import_module(f"rnnhw.rtl.{info.name}")
        found.update(value for value in vars(module).values()
                     if inspect.isclass(value) and issubclass(value, wiring.Component)
                     and value.__module__ == module.__name__)
    return found


COMPONENTS = [InputBuffer, StreamInputBuffers, SequenceBuffer, OutputBuffer, Sequencer, MatVecUnit, SumConverter,
              CTCDecoder, ActivationLUT, ElementwiseUnit, ControlRegisters, RNNAccelerator, PackedMultiplier]


def test_every_component_is_checked_here():
    assert rtl_components() == set(COMPONENTS)


@pytest.mark.parametrize("component", COMPONENTS, ids=lambda c: c.__name__)
def test_component_parameters_are_read_only_properties_and_documented(component):
    doc = inspect.getdoc(component)
    for section in ("Parameters", "Members", "Latency", "Raises"):
        assert f"\n{section}\n{'-' * len(section)}\n" in doc, section
    parameters = [name for name, p in inspect.signature(component.__init__).parameters.items()
                  if p.kind is inspect.Parameter.KEYWORD_ONLY]
    assert parameters
    for name in parameters:
        attribute = inspect.getattr_static(component, name)
        assert isinstance(attribute, property) and attribute.fset is None, name
        assert name in doc, name

"""The TOML configuration: the contract between users, the golden model and the hardware generator.

Every key, its default and what it allows is listed in :data:`SCHEMA`; ``docs/config.md`` documents
them. :func:`load_config` and :func:`config_from_dict` validate and raise :class:`~.errors.ConfigError` (a
:class:`~.errors.UserError`) with a
message that names the key and what is allowed.
"""

from __future__ import annotations

import dataclasses
import difflib
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ConfigError
from .fixed import FixedFormat, Overflow, Rounding
from .packing import DSP_PACKING

__all__ = ["Config", "ModelConfig", "NumericsConfig", "HardwareConfig", "load_config", "config_from_dict",
           "CELLS", "GATES", "DEFAULT_LANES", "default_lanes_note", "GRU_RESETS", "NONLINEARITIES",
           "OUTPUT_ACTIVATIONS", "WEIGHT_STORAGE", "BIDIRECTIONAL_KEYS", "ADDED_KEYS"]

#: Gates per hidden unit, in PyTorch's order; their count is G in the schedule bound.
GATES = {"lstm": ("i", "f", "g", "o"), "gru": ("r", "z", "n"), "rnn_tanh": ("h",), "rnn_relu": ("h",),
         "jordan": ("h",)}
CELLS = tuple(GATES)
#: The Jordan cell's nonlinearity (of h) and output activation (of y).
NONLINEARITIES = ("tanh", "relu")
OUTPUT_ACTIVATIONS = ("identity", "tanh", "sigmoid")
#: Where the GRU applies its reset gate: to ``W_hn h + b_hn`` (PyTorch) or to ``h`` (Cho et al. 2014).
GRU_RESETS = ("after", "before")
#: Where the weights live: baked into the memories ("rom") or written through AXI4-Lite ("runtime").
WEIGHT_STORAGE = ("rom", "runtime")


@dataclass(frozen=True)
class ModelConfig:
    cell: str = "lstm"
    input_size: int = 12
    hidden_size: int = 32
    num_layers: int = 1
    head: int = 0
    return_sequences: bool = False
    gru_reset: str = "after"
    output_size: int = 0
    nonlinearity: str = "tanh"
    output_activation: str = "identity"
    ctc_blank: int | None = None  # CTC greedy decoding of the head's outputs (spec/ctc.py); None: off
    bidirectional: bool = False  # PyTorch's bidirectional=True: each layer also runs backward in time

    @property
    def directions(self) -> int:
        """Directions each layer runs: 2 when bidirectional (forward, then backward), else 1."""
        return 2 if self.bidirectional else 1

    @property
    def jordan(self) -> bool:
        return self.cell == "jordan"

    @property
    def recurrent_size(self) -> int:
        """Operands of the recurrent segment: ``y_{t-1}`` (O) for the Jordan cell, else ``h_{t-1}`` (H)."""
        return self.output_size if self.jordan else self.hidden_size

    @property
    def reset_before(self) -> bool:
        """A GRU with the reset gate applied to ``h`` before ``W_hn`` (Cho et al. 2014)."""
        return self.cell == "gru" and self.gru_reset == "before"

    @property
    def gates(self) -> int:
        return len(GATES[self.cell])

    def layer_input_size(self, layer: int) -> int:
        """Layer 0 reads x; layer k > 0 reads layer k-1's h (Jordan: its y; bidirectional: ``[h_fwd; h_bwd]``)."""
        return self.input_size if layer == 0 else self.directions * self.recurrent_size

    @property
    def layer_output_size(self) -> int:
        """Elements of a layer's output at one step: ``h`` (Jordan: ``y``), or ``[h_fwd; h_bwd]`` (2H)."""
        return self.directions * self.recurrent_size

    @property
    def output_vector(self) -> int:
        """Elements of one output vector: the head's, else the last layer's output (:attr:`layer_output_size`)."""
        return self.head if self.head else self.layer_output_size

    @property
    def ctc(self) -> bool:
        """Whether the outputs are CTC-decoded labels (``ctc_blank`` set)."""
        return self.ctc_blank is not None


@dataclass(frozen=True)
class NumericsConfig:
    input: FixedFormat = FixedFormat(16, 6)
    weight: FixedFormat = FixedFormat(16, 6)
    bias: FixedFormat = FixedFormat(16, 6)
    state: FixedFormat = FixedFormat(16, 6)
    cell_state: FixedFormat = FixedFormat(16, 6)
    accum: FixedFormat = FixedFormat(41, 17)
    activation: FixedFormat = FixedFormat(16, 2)
    output: FixedFormat = FixedFormat(16, 6)
    rounding: Rounding = Rounding.RND
    overflow: Overflow = Overflow.SAT
    lut_size: int = 1024
    lut_interpolate: bool = False


#: Lanes when ``hardware.lanes`` is not given, or the layer's G*H gate rows if it has fewer.
DEFAULT_LANES = 8


@dataclass(frozen=True)
class HardwareConfig:
    lanes: int = DEFAULT_LANES
    elementwise_multipliers: str = "logic"
    weights: str = "rom"  # "runtime": loaded through the AXI4-Lite port (spec/registers.py)
    dsp_packing: str = "auto"  # two lanes per multiplier where the formats allow it (spec/packing.py)
    max_sequence_length: int = 64  # bidirectional cores: the longest sequence their buffers hold
    interleave: int = 1  # K independent sequences walked round-robin (s_axis_tid / m_axis_tid name the stream)
    broadcast_fanout: int = 8  # lanes one register of the matrix-vector unit's broadcast tree drives (spec/latency.py)


@dataclass(frozen=True)
class Config:
    model: ModelConfig = field(default_factory=ModelConfig)
    numerics: NumericsConfig = field(default_factory=NumericsConfig)
    hardware: HardwareConfig = field(default_factory=HardwareConfig)
    #: Keys the file gave (``"hardware.lanes"``...); the others took their defaults. Not part of equality.
    given: frozenset[str] = field(default=frozenset(), compare=False, repr=False)
    #: The file it was read from, for messages about it found later (``None``: not read from a file).
    source: str | None = field(default=None, compare=False, repr=False)

    @property
    def output_format(self) -> FixedFormat:
        """Format of the model's outputs: the head's ``output`` format, else the ``state`` format."""
        return self.numerics.output if self.model.head else self.numerics.state

    def replace(self, section: str, **changes) -> Config:
        """A copy with some keys of one section changed (validated like a loaded file).

        Values are written as in TOML (``weight="fixed<8,3>"``) or as objects (``FixedFormat(8, 3)``);
        ``None`` unsets an optional key (``ctc_blank=None``).
        """
        data = self.to_dict()
        if "hardware.lanes" not in self.given:
            del data["hardware"]["lanes"]  # still the default: derived again for the changed model
        objects = (FixedFormat, Rounding, Overflow)
        changes = {k: _plain(v) if isinstance(v, objects) else v for k, v in changes.items()}
        values = data.setdefault(section, {})
        values.update(changes)
        for key in [k for k, v in values.items() if v is None]:  # None unsets an optional key (ctc_blank)
            del values[key]
        return config_from_dict(data)

    def to_dict(self) -> dict:
        out = {}
        for section in ("model", "numerics", "hardware"):
            out[section] = {k: _plain(v) for k, v in dataclasses.asdict(getattr(self, section)).items()
                            if v is not None}  # an unset optional key (model.ctc_blank) is left out
        # Bidirectional keys at their defaults are left out of unidirectional models, so that their files
        # (and the configuration hash in their registers, spec/registers.py) stay as they were.
        if not self.model.bidirectional:
            for section, key in BIDIRECTIONAL_KEYS:
                if out[section][key] == getattr(_CLASSES[section], key):
                    del out[section][key]
        for section, key in ADDED_KEYS:  # a core that does not use them reads as before the keys existed
            if out[section][key] == getattr(_CLASSES[section], key):
                del out[section][key]
        return out

    def to_toml(self) -> str:
        lines = []
        for section, values in self.to_dict().items():
            lines.append(f"[{section}]")
            for key, value in values.items():
                if isinstance(value, bool):
                    text = "true" if value else "false"
                elif isinstance(value, str):
                    text = f'"{value}"'
                else:
                    text = str(value)
                lines.append(f"{key} = {text}")
            lines.append("")
        return "\n".join(lines)


def _plain(value):
    if isinstance(value, FixedFormat):
        return str(value)
    if isinstance(value, (Rounding, Overflow)):
        return value.value
    if isinstance(value, dict):  # dataclasses.asdict() turns nested formats into dicts
        return str(FixedFormat(**value))
    return value


def _positive_int(name: str, lowest: int, highest: int):
    def check(value):
        if isinstance(value, bool) or not isinstance(value, int) or not lowest <= value <= highest:
            raise ConfigError(f"{name} must be an integer from {lowest} to {highest:,}, not {value!r}")
        return value

    return check


def _boolean(name: str):
    def check(value):
        if not isinstance(value, bool):
            raise ConfigError(f"{name} must be true or false, not {value!r}")
        return value

    return check


def _choice(name: str, choices, convert=lambda v: v):
    def check(value):
        if value not in choices:
            allowed = ", ".join(f'"{c}"' for c in choices)
            raise ConfigError(f"{name} must be one of {allowed}, not {value!r}")
        return convert(value)

    return check


def _format(name: str):
    def check(value):
        try:
            return FixedFormat.parse(value)
        except ValueError as exc:
            raise ConfigError(f"{name}: {exc}") from None

    return check


def _lut_size(value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 16 or value > 65536 or value & (value - 1):
        raise ConfigError(f"numerics.lut_size must be a power of two from 16 to 65536, not {value!r}")
    return value


_FORMAT_KEYS = ("input", "weight", "bias", "state", "cell_state", "accum", "activation", "output")

SCHEMA = {
    "model": {
        "cell": _choice("model.cell", CELLS),
        "input_size": _positive_int("model.input_size", 1, 4096),
        "hidden_size": _positive_int("model.hidden_size", 1, 4096),
        "num_layers": _positive_int("model.num_layers", 1, 16),
        "head": _positive_int("model.head", 0, 4096),
        "return_sequences": _boolean("model.return_sequences"),
        "gru_reset": _choice("model.gru_reset", GRU_RESETS),
        "output_size": _positive_int("model.output_size", 0, 4096),
        "nonlinearity": _choice("model.nonlinearity", NONLINEARITIES),
        "output_activation": _choice("model.output_activation", OUTPUT_ACTIVATIONS),
        "ctc_blank": _positive_int("model.ctc_blank", 0, 4095),
        "bidirectional": _boolean("model.bidirectional"),
    },
    "numerics": {
        **{key: _format(f"numerics.{key}") for key in _FORMAT_KEYS},
        "rounding": _choice("numerics.rounding", [m.value for m in Rounding], Rounding),
        "overflow": _choice("numerics.overflow", [m.value for m in Overflow], Overflow),
        "lut_size": _lut_size,
        "lut_interpolate": _boolean("numerics.lut_interpolate"),
    },
    "hardware": {
        "lanes": _positive_int("hardware.lanes", 1, 4096),
        "elementwise_multipliers": _choice("hardware.elementwise_multipliers", ("logic", "dsp")),
        "weights": _choice("hardware.weights", WEIGHT_STORAGE),
        "dsp_packing": _choice("hardware.dsp_packing", DSP_PACKING),
        "max_sequence_length": _positive_int("hardware.max_sequence_length", 1, 65536),
        "interleave": _positive_int("hardware.interleave", 1, 16),
        "broadcast_fanout": _positive_int("hardware.broadcast_fanout", 2, 4096),
    },
}
_CLASSES = {"model": ModelConfig, "numerics": NumericsConfig, "hardware": HardwareConfig}
#: Keys that only bidirectional models use: :meth:`Config.to_dict` leaves them out of others at their defaults.
BIDIRECTIONAL_KEYS = (("model", "bidirectional"), ("hardware", "max_sequence_length"))
#: Keys added after configuration files (and the hash in a core's registers) existed: :meth:`Config.to_dict`
#: leaves them out at their defaults (interleaved sequences, the broadcast tree's fanout).
ADDED_KEYS = (("hardware", "interleave"), ("hardware", "broadcast_fanout"))


def config_from_dict(data: dict) -> Config:
    """Validate a parsed TOML document (missing keys take their defaults)."""
    if not isinstance(data, dict):
        raise ConfigError("the configuration must be a TOML table")
    unknown = set(data) - set(SCHEMA)
    if unknown:
        name = sorted(unknown)[0]
        raise ConfigError(f"unknown section [{name}]{_did_you_mean(name, SCHEMA, '[{}]')}; sections are [model], "
                          "[numerics], [hardware]")
    sections = {}
    for section, checks in SCHEMA.items():
        values = data.get(section, {})
        if not isinstance(values, dict):
            raise ConfigError(f"[{section}] must be a table")
        unknown = set(values) - set(checks)
        if unknown:
            key = sorted(unknown)[0]
            raise ConfigError(f"unknown key {section}.{key}{_did_you_mean(key, checks, section + '.{}')}; "
                              f"allowed in [{section}]: {', '.join(checks)}")
        sections[section] = _CLASSES[section](**{k: checks[k](v) for k, v in values.items()})
    given = frozenset(f"{section}.{key}" for section in SCHEMA for key in data.get(section, {}))
    if "hardware.lanes" not in given:  # a default must never refuse a valid model
        model = sections["model"]
        lanes = min(DEFAULT_LANES, model.gates * model.hidden_size)
        sections["hardware"] = dataclasses.replace(sections["hardware"], lanes=lanes)
    config = Config(**sections, given=given)
    _check_consistency(config)
    return config


def _did_you_mean(name: str, allowed, template: str) -> str:
    """`` (did you mean model.hidden_size?)`` for a near miss, else ``""``."""
    close = difflib.get_close_matches(name, list(allowed), n=1, cutoff=0.6)
    return f" (did you mean {template.format(close[0])}?)" if close else ""


def default_lanes_note(config: Config) -> str | None:
    """Why ``hardware.lanes`` has the value it has when the file does not give it (``None`` if it does)."""
    if "hardware.lanes" in config.given:
        return None
    rows = config.model.gates * config.model.hidden_size
    if config.hardware.lanes < DEFAULT_LANES:
        return (f"hardware.lanes not given: {config.hardware.lanes}, the {rows} gate rows of a {config.model.cell} "
                f"layer with hidden_size {config.model.hidden_size} (the default {DEFAULT_LANES} is more than it has)")
    return f"hardware.lanes not given: the default {DEFAULT_LANES}"


def _check_consistency(config: Config):
    model, numerics = config.model, config.numerics
    if model.gru_reset != "after" and model.cell != "gru":
        raise ConfigError(f'model.gru_reset = "{model.gru_reset}" applies to cell = "gru" only, not to '
                          f'"{model.cell}"; remove the key')
    if model.jordan and model.ctc:
        raise ConfigError('cell = "jordan" with CTC decoding (model.ctc_blank) is not supported yet: its y has no '
                          "head to decode; use another cell")
    if model.jordan:
        if not model.output_size:
            raise ConfigError('cell = "jordan" needs model.output_size (O, the outputs y_t of each layer) of 1 or more')
        if model.head:
            raise ConfigError('cell = "jordan" needs model.head = 0 (its output layer W_hy is part of the cell)')
    else:
        for key, default in (("output_size", 0), ("nonlinearity", "tanh"), ("output_activation", "identity")):
            if getattr(model, key) != default:
                raise ConfigError(f'model.{key} applies to cell = "jordan" only, not to "{model.cell}"; '
                                  "remove the key")
    if model.ctc and not (model.head and model.return_sequences):
        raise ConfigError("model.ctc_blank needs a head on every step: set model.head to the number of CTC "
                          "classes (blank included) and model.return_sequences = true")
    if model.ctc and model.ctc_blank >= model.head:
        raise ConfigError(f"model.ctc_blank = {model.ctc_blank} is not one of the head's {model.head} outputs; "
                          f"use 0 to {model.head - 1}")
    if model.bidirectional and model.jordan:
        raise ConfigError('model.bidirectional with cell = "jordan" is not supported (its y feeds back through the '
                          "output layer); use another cell or bidirectional = false")
    if model.bidirectional and config.hardware.weights == "runtime":
        raise ConfigError('model.bidirectional with hardware.weights = "runtime" is not supported yet; '
                          'use hardware.weights = "rom"')
    _check_interleave(config)
    lanes = config.hardware.lanes
    if lanes > model.gates * model.hidden_size:
        raise ConfigError(
            f"hardware.lanes = {lanes} exceeds the {model.gates * model.hidden_size} gate rows of a "
            f"{model.cell} layer with hidden_size {model.hidden_size}; use at most that many"
        )
    if not numerics.activation.signed or numerics.activation.int_bits < 1:
        raise ConfigError(
            f"numerics.activation = {numerics.activation} cannot hold tanh's range [-1, 1]; "
            "use a signed format with at least 1 integer bit, e.g. fixed<16,2>"
        )
    if config.hardware.weights == "runtime":
        for key in ("weight", "bias"):  # the GRU's b_hn word carries a flag bit above the bias
            if getattr(numerics, key).width > 31:
                raise ConfigError(f'hardware.weights = "runtime" needs numerics.{key} of at most 31 bits (one '
                                  f"32-bit AXI4-Lite word), not {getattr(numerics, key)}")
    for key in ("input", "weight", "bias", "state", "cell_state", "accum", "output"):
        if not getattr(numerics, key).signed:
            raise ConfigError(f"numerics.{key} must be signed (fixed<W,I>); unsigned formats are for the future")


def _check_interleave(config: Config):
    """Interleaved sequences are built for unidirectional LSTM, GRU (reset after) and Elman cores with ROM weights."""
    if config.hardware.interleave == 1:
        return
    model = config.model
    refused = [("model.bidirectional", model.bidirectional), ('cell = "jordan"', model.jordan),
               ('model.gru_reset = "before"', model.reset_before), ("model.ctc_blank (CTC decoding)", model.ctc),
               ('hardware.weights = "runtime"', config.hardware.weights == "runtime")]
    for what, present in refused:
        if present:
            raise ConfigError(f"hardware.interleave = {config.hardware.interleave} with {what} is not supported "
                              "yet; use hardware.interleave = 1")


def load_config(path) -> Config:
    """Read and validate a TOML file."""
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ConfigError(f"configuration file {str(path)!r} does not exist") from None
    except OSError as exc:
        raise ConfigError(f"cannot read configuration {str(path)!r}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not valid TOML (not UTF-8 text)") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    try:
        return dataclasses.replace(config_from_dict(data), source=str(path))
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None

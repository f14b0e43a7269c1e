"""The TOML configuration: the contract between users, the golden model and the hardware generator.

Every key, its default and what it allows is listed in :data:`SCHEMA`; ``docs/config.md`` documents
them. :func:`load_config` and :func:`config_from_dict` validate and raise :class:`~.errors.ConfigError` (a
:class:`~.errors.UserError`) with a
message that names the key and what is allowed.
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ConfigError
from .fixed import FixedFormat, Overflow, Rounding

__all__ = ["Config", "ModelConfig", "NumericsConfig", "HardwareConfig", "load_config", "config_from_dict",
           "CELLS", "GATES", "GRU_RESETS", "NONLINEARITIES", "OUTPUT_ACTIVATIONS"]

#: Gates per hidden unit, in PyTorch's order; their count is G in the schedule bound.
GATES = {"lstm": ("i", "f", "g", "o"), "gru": ("r", "z", "n"), "rnn_tanh": ("h",), "rnn_relu": ("h",),
         "jordan": ("h",)}
CELLS = tuple(GATES)
#: The Jordan cell's nonlinearity (of h) and output activation (of y).
NONLINEARITIES = ("tanh", "relu")
OUTPUT_ACTIVATIONS = ("identity", "tanh", "sigmoid")
#: Where the GRU applies its reset gate: to ``W_hn h + b_hn`` (PyTorch) or to ``h`` (Cho et al. 2014).
GRU_RESETS = ("after", "before")


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
        """Layer 0 reads x; layer k > 0 reads layer k-1's h (Jordan: its y)."""
        return self.input_size if layer == 0 else self.recurrent_size

    @property
    def output_vector(self) -> int:
        """Elements of one output vector: the head's, else the last layer's h (Jordan: y)."""
        return self.head if self.head else self.recurrent_size


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


@dataclass(frozen=True)
class HardwareConfig:
    lanes: int = 8
    elementwise_multipliers: str = "logic"


@dataclass(frozen=True)
class Config:
    model: ModelConfig = field(default_factory=ModelConfig)
    numerics: NumericsConfig = field(default_factory=NumericsConfig)
    hardware: HardwareConfig = field(default_factory=HardwareConfig)

    @property
    def output_format(self) -> FixedFormat:
        """Format of the model's outputs: the head's ``output`` format, else the ``state`` format."""
        return self.numerics.output if self.model.head else self.numerics.state

    def replace(self, section: str, **changes) -> Config:
        """A copy with some keys of one section changed (validated like a loaded file).

        Values are written as in TOML (``weight="fixed<8,3>"``) or as objects (``FixedFormat(8, 3)``).
        """
        data = self.to_dict()
        objects = (FixedFormat, Rounding, Overflow)
        changes = {k: _plain(v) if isinstance(v, objects) else v for k, v in changes.items()}
        data.setdefault(section, {}).update(changes)
        return config_from_dict(data)

    def to_dict(self) -> dict:
        out = {}
        for section in ("model", "numerics", "hardware"):
            out[section] = {k: _plain(v) for k, v in dataclasses.asdict(getattr(self, section)).items()}
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
    },
}
_CLASSES = {"model": ModelConfig, "numerics": NumericsConfig, "hardware": HardwareConfig}


def config_from_dict(data: dict) -> Config:
    """Validate a parsed TOML document (missing keys take their defaults)."""
    if not isinstance(data, dict):
        raise ConfigError("the configuration must be a TOML table")
    unknown = set(data) - set(SCHEMA)
    if unknown:
        raise ConfigError(f"unknown section [{sorted(unknown)[0]}]; sections are [model], [numerics], [hardware]")
    sections = {}
    for section, checks in SCHEMA.items():
        values = data.get(section, {})
        if not isinstance(values, dict):
            raise ConfigError(f"[{section}] must be a table")
        unknown = set(values) - set(checks)
        if unknown:
            key = sorted(unknown)[0]
            raise ConfigError(f"unknown key {section}.{key}; allowed in [{section}]: {', '.join(checks)}")
        sections[section] = _CLASSES[section](**{k: checks[k](v) for k, v in values.items()})
    config = Config(**sections)
    _check_consistency(config)
    return config


def _check_consistency(config: Config):
    model, numerics = config.model, config.numerics
    if model.return_sequences and model.head:
        raise ConfigError("model.return_sequences needs model.head = 0 (the head reads only the final state)")
    if model.gru_reset != "after" and model.cell != "gru":
        raise ConfigError(f'model.gru_reset = "{model.gru_reset}" applies to cell = "gru" only, not to '
                          f'"{model.cell}"; remove the key')
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
    for key in ("input", "weight", "bias", "state", "cell_state", "accum", "output"):
        if not getattr(numerics, key).signed:
            raise ConfigError(f"numerics.{key} must be signed (fixed<W,I>); unsigned formats are for the future")


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
        return config_from_dict(data)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None

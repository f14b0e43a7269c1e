"""The sweep specification (``SPEC.toml``): what to vary, what to measure, what to look for.

Every key is listed in :data:`KEYS` with its default and meaning (``docs/sweep.md`` lists the same);
an unknown section or key is refused with the nearest known name. :func:`load_spec` reads and checks a
file and raises :class:`~rnnhw.spec.errors.UserError` naming the key and what is allowed; paths are
relative to the specification file.
"""

from __future__ import annotations

import difflib
import math
import tomllib
from dataclasses import dataclass
from pathlib import Path

from rnnhw.accuracy import MAX_SWEEP_WIDTH, MIN_SWEEP_WIDTH
from rnnhw.asic import LIBRARIES
from rnnhw.spec.config import SCHEMA, ConfigError
from rnnhw.spec.errors import UserError
from rnnhw.synth import TARGETS

__all__ = ["SweepSpec", "KEYS", "AXES", "load_spec", "spec_from_dict", "timed", "DEFAULT_CLOCK_MHZ", "MAX_POINTS",
           "ASIC", "DEFAULT_LIBRARY"]

#: Clock assumed for the latency when the points are not synthesised (``evaluate.clock_mhz``).
DEFAULT_CLOCK_MHZ = 100.0
#: Largest grid accepted (a typing error in an axis should not start a week of synthesis).
MAX_POINTS = 10_000
#: ``evaluate.synth`` of the standard-cell flow (:mod:`rnnhw.asic`), and its default library.
ASIC = "asic"
DEFAULT_LIBRARY = "sky130hd"

#: Axes: their configuration section and key (``width`` is the uniform width of the value formats).
AXES = {
    "lanes": ("hardware", "lanes"),
    "width": ("numerics", None),
    "lut_size": ("numerics", "lut_size"),
    "lut_interpolate": ("numerics", "lut_interpolate"),
    "elementwise_multipliers": ("hardware", "elementwise_multipliers"),
    "dsp_packing": ("hardware", "dsp_packing"),
}

#: Every section and key: ``(default, meaning)``; ``None`` as default means "not given".
KEYS = {
    "base": {
        "config": (None, "the model's configuration TOML (required)"),
        "weights": (None, "its weights (.npz, .pt, .pth; required)"),
        "data": (None, '"digits" or a labelled .npz (X and y or Y); without it no accuracy'),
        "sequences": (0, "evaluate the first N sequences of the data only (0: all)"),
    },
    "axes": {
        "lanes": (None, "hardware.lanes values"),
        "width": (None, "uniform widths W of the value formats (accum 2W+9, as rnnhw accuracy --sweep)"),
        "lut_size": (None, "numerics.lut_size values"),
        "lut_interpolate": (None, "numerics.lut_interpolate values"),
        "elementwise_multipliers": (None, 'hardware.elementwise_multipliers values ("logic", "dsp")'),
        "dsp_packing": (None, 'hardware.dsp_packing values ("auto", "off")'),
    },
    "evaluate": {
        "accuracy": (None, "golden model on the data (default: true when base.data is given)"),
        "calibrate": (False, "choose the integer bits on the data first, as rnnhw calibrate does"),
        "cycles": (True, "cycles per timestep from the schedule model"),
        "synth": (False, 'false, "ecp5", "ice40", "xc7" or "asic": synthesise every point (resources or cell '
                  "area, Fmax)"),
        "synth_freq_mhz": (None, "clock constraint for place and route, or asic's clock for ABC and OpenSTA "
                           "(default: the target's; asic 100)"),
        "library": (None, f'asic only: the cell library, "sky130hd" (area only) or "osu018" (timed by OpenSTA); '
                    f"default {DEFAULT_LIBRARY}"),
        "clock_mhz": (None, "without place and route (no synthesis, xc7, or an asic library without timing): "
                      f"the clock the latency assumes (default {DEFAULT_CLOCK_MHZ:g})"),
        "rtl_sequences": (0, "N > 0: also simulate N sequences on Verilator, requiring bit-exactness"),
    },
    "constraints": {
        "max_accuracy_loss": (None, "largest accuracy loss against the float model, in percentage points"),
        "max_latency_us": (None, "largest latency per timestep in microseconds"),
        "device": (None, "a device of evaluate.synth's family the point must fit (synthesised on it)"),
        "max_area_um2": (None, 'largest cell area in µm² (evaluate.synth = "asic")'),
    },
}


@dataclass(frozen=True)
class SweepSpec:
    """A checked specification (paths resolved; ``source`` names the file for messages)."""

    source: str
    config: Path
    weights: Path
    data: str | None
    sequences: int
    axes: dict[str, tuple]
    accuracy: bool
    calibrate: bool
    cycles: bool
    synth: str | None
    synth_freq_mhz: float | None
    library: str | None
    clock_mhz: float
    rtl_sequences: int
    max_accuracy_loss: float | None
    max_latency_us: float | None
    device: str | None
    max_area_um2: float | None = None

    @property
    def points(self) -> int:
        return math.prod(len(values) for values in self.axes.values())

    def to_json(self) -> dict:
        return {
            "base": {"config": str(self.config), "weights": str(self.weights), "data": self.data,
                     "sequences": self.sequences},
            "axes": {name: list(values) for name, values in self.axes.items()},
            "evaluate": {"accuracy": self.accuracy, "calibrate": self.calibrate, "cycles": self.cycles,
                         "synth": self.synth or False, "synth_freq_mhz": self.synth_freq_mhz,
                         "library": self.library, "clock_mhz": self.clock_mhz, "rtl_sequences": self.rtl_sequences},
            "constraints": {"max_accuracy_loss": self.max_accuracy_loss, "max_latency_us": self.max_latency_us,
                            "device": self.device, "max_area_um2": self.max_area_um2},
        }


def _did_you_mean(name: str, known) -> str:
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}? " if close else ""


def _check_names(data: dict) -> None:
    for section, values in data.items():
        if section not in KEYS:
            raise UserError(f"unknown section [{section}]; {_did_you_mean(section, KEYS)}"
                            f"sections are {', '.join(f'[{s}]' for s in KEYS)}")
        if not isinstance(values, dict):
            raise UserError(f"[{section}] must be a table of keys")
        for key in values:
            if key not in KEYS[section]:
                raise UserError(f"unknown key {section}.{key}; {_did_you_mean(key, KEYS[section])}"
                                f"allowed in [{section}]: {', '.join(KEYS[section])}")


def _boolean(name: str, value) -> bool:
    if not isinstance(value, bool):
        raise UserError(f"{name} must be true or false, not {value!r}")
    return value


def _integer(name: str, value, lowest: int, highest: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lowest <= value <= highest:
        raise UserError(f"{name} must be an integer from {lowest} to {highest:,}, not {value!r}")
    return value


def _positive(name: str, value, zero: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or value < 0 or (value == 0 and not zero):
        what = "a number of at least 0" if zero else "a positive number"
        raise UserError(f"{name} must be {what}, not {value!r}")
    return float(value)


def _path(source: Path, name: str, value) -> Path:
    if not isinstance(value, str) or not value:
        raise UserError(f"{name} must be a file name (a string), not {value!r}")
    path = Path(value) if Path(value).is_absolute() else source.parent / value
    if not path.is_file():
        raise UserError(f"{name} = {value!r}: file {str(path)!r} does not exist (paths are relative to the "
                        "specification file)")
    return path


def _axis_value(name: str, value):
    """One axis value, checked by the configuration's own rule for its key."""
    if name == "width":
        if isinstance(value, bool) or not isinstance(value, int) \
                or not MIN_SWEEP_WIDTH <= value <= MAX_SWEEP_WIDTH:
            raise UserError(f"axes.width: widths must be integers from {MIN_SWEEP_WIDTH} to {MAX_SWEEP_WIDTH}, "
                            f"not {value!r}")
        return value
    section, key = AXES[name]
    try:
        return SCHEMA[section][key](value)
    except ConfigError as exc:
        raise UserError(f"axes.{name}: {exc}") from None


def _axes(values: dict) -> dict[str, tuple]:
    axes = {}
    for name, items in values.items():
        if not isinstance(items, list) or not items:
            raise UserError(f"axes.{name} must be a non-empty list of values, e.g. {name} = "
                            f"{_EXAMPLES[name]}, not {items!r}")
        checked = [_axis_value(name, item) for item in items]
        repeated = sorted({repr(v) for v in checked if checked.count(v) > 1})
        if repeated:
            raise UserError(f"axes.{name} lists {repeated[0]} more than once; give each value once")
        axes[name] = tuple(checked)
    return axes


_EXAMPLES = {"lanes": "[4, 8, 16]", "width": "[8, 10, 12, 16]", "lut_size": "[256, 1024]",
             "lut_interpolate": "[false, true]", "elementwise_multipliers": '["logic", "dsp"]',
             "dsp_packing": '["auto", "off"]'}


def _synth_target(value) -> str | None:
    if value is False:
        return None
    if isinstance(value, str) and (value in TARGETS or value == ASIC):
        return value
    allowed = "false, " + ", ".join(f'"{t}"' for t in (*TARGETS, ASIC))
    raise UserError(f"evaluate.synth must be {allowed}, not {value!r}")


def _library(target: str | None, value) -> str | None:
    """``evaluate.library``: the asic flow's cell library (its default without the key)."""
    if target != ASIC:
        if value is not None:
            raise UserError(f'evaluate.library is the cell library of evaluate.synth = "{ASIC}"; leave it out '
                            f"for {'no synthesis' if target is None else target}")
        return None
    if value is None:
        return DEFAULT_LIBRARY
    if value not in LIBRARIES:
        raise UserError(f"evaluate.library must be {' or '.join(repr(name) for name in LIBRARIES)}, not {value!r}")
    return value


def timed(synth: str | None, library: str | None) -> bool:
    """Whether the points get an Fmax: place and route (ECP5, iCE40) or an asic library with timing."""
    if synth == ASIC:
        return LIBRARIES[library].timed
    return synth is not None and TARGETS[synth].nextpnr is not None


def _device(target: str | None, value) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise UserError(f"constraints.device must be a device name (a string), not {value!r}")
    if target is None:
        raise UserError(f"constraints.device = {value!r} needs synthesis to know whether a point fits; set "
                        'evaluate.synth to the device\'s family (e.g. "ecp5")')
    if target == ASIC:
        raise UserError(f'constraints.device = {value!r} is an FPGA\'s; evaluate.synth = "{ASIC}" maps onto a '
                        "cell library (evaluate.library): limit the area with constraints.max_area_um2")
    for device in TARGETS[target].devices:
        if value.strip().lower() in (device.name.lower(), *(a.lower() for a in device.aliases)):
            return device.name
    names = ", ".join(d.name for d in TARGETS[target].devices)
    raise UserError(f"constraints.device = {value!r} is not a {target} device (evaluate.synth = "
                    f'"{target}"); {target} devices: {names}')


def spec_from_dict(data: dict, source: Path) -> SweepSpec:
    """Check a parsed specification; ``source`` is the file (paths are relative to it)."""
    _check_names(data)
    base, evaluate = data.get("base", {}), data.get("evaluate", {})
    constraints = data.get("constraints", {})
    for key, what in (("config", "configuration TOML file"), ("weights", "weights file (.npz, .pt or .pth)")):
        if key not in base:
            raise UserError(f"base.{key} is missing; give the model's {what}")
    config, weights = _path(source, "base.config", base["config"]), _path(source, "base.weights", base["weights"])
    data_source = base.get("data")
    if data_source is not None:
        if not isinstance(data_source, str):
            raise UserError(f'base.data must be "digits" or a file name, not {data_source!r}')
        if data_source != "digits":
            data_source = str(_path(source, "base.data", data_source))
    sequences = _integer("base.sequences", base.get("sequences", 0), 0, 10**9)
    accuracy = _boolean("evaluate.accuracy", evaluate.get("accuracy", data_source is not None))
    calibrate = _boolean("evaluate.calibrate", evaluate.get("calibrate", False))
    cycles = _boolean("evaluate.cycles", evaluate.get("cycles", True))
    synth = _synth_target(evaluate.get("synth", False))
    library = _library(synth, evaluate.get("library"))
    rtl = _integer("evaluate.rtl_sequences", evaluate.get("rtl_sequences", 0), 0, 1_000_000)
    needs_data = [name for name, wanted in (("evaluate.accuracy", accuracy), ("evaluate.calibrate", calibrate),
                                            ("evaluate.rtl_sequences", rtl > 0)) if wanted]
    if needs_data and data_source is None:
        raise UserError(f"{needs_data[0]} needs data; set base.data (\"digits\" or a labelled .npz)")
    if not (accuracy or cycles or synth or rtl):
        raise UserError("nothing to evaluate: set evaluate.accuracy, evaluate.cycles, evaluate.synth or "
                        "evaluate.rtl_sequences")
    freq = evaluate.get("synth_freq_mhz")
    if freq is not None:
        if synth is None:
            raise UserError("evaluate.synth_freq_mhz is the clock constraint of synthesis; set evaluate.synth too")
        freq = _positive("evaluate.synth_freq_mhz", freq)
    clock = evaluate.get("clock_mhz")
    if clock is not None and timed(synth, library):
        raise UserError("evaluate.clock_mhz is the clock assumed without synthesis; with evaluate.synth the "
                        "latency uses each point's Fmax (evaluate.synth_freq_mhz sets the constraint)")
    clock = DEFAULT_CLOCK_MHZ if clock is None else _positive("evaluate.clock_mhz", clock)
    loss, latency = constraints.get("max_accuracy_loss"), constraints.get("max_latency_us")
    if loss is not None:
        if not accuracy:
            raise UserError("constraints.max_accuracy_loss needs evaluate.accuracy = true (and base.data)")
        loss = _positive("constraints.max_accuracy_loss", loss, zero=True)
    if latency is not None:
        if not cycles:
            raise UserError("constraints.max_latency_us needs evaluate.cycles = true")
        latency = _positive("constraints.max_latency_us", latency)
    device = _device(synth, constraints.get("device"))
    area = constraints.get("max_area_um2")
    if area is not None:
        if synth != ASIC:
            raise UserError(f'constraints.max_area_um2 needs the cell area of evaluate.synth = "{ASIC}"')
        area = _positive("constraints.max_area_um2", area)
    axes = _axes(data.get("axes", {}))
    spec = SweepSpec(str(source), config, weights, data_source, sequences, axes, accuracy, calibrate, cycles,
                     synth, freq, library, clock, rtl, loss, latency, device, area)
    if spec.points > MAX_POINTS:
        raise UserError(f"the grid has {spec.points:,} points, more than {MAX_POINTS:,}; shorten the axes")
    return spec


def load_spec(path) -> SweepSpec:
    """Read and check a specification file; every problem is a one-line :class:`UserError`."""
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise UserError(f"sweep specification {str(path)!r} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read sweep specification {str(path)!r}: {exc}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"{path}: not valid TOML ({exc})") from None
    try:
        return spec_from_dict(data, path)
    except UserError as exc:
        raise UserError(f"{path}: {exc}") from None

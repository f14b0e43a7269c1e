"""Fabric registers moved into the ECP5 blocks' own registers, on Yosys's JSON netlist (before nextpnr).

Yosys's ECP5 flow maps each ``*`` to a MULT18X18D and each memory to DP16KD blocks with none of their
registers in use: a register the design puts before or after a multiplier, or after a block RAM's
output, stays a flip-flop in the fabric, and the route between it and the block is on the clock's
critical path (about 2.5 ns into a MULT18X18D, 1.4 ns out of it, 4.1 ns clock-to-out of a DP16KD plus the
route). This pass moves those flip-flops into the blocks:

* **Multiplier inputs.** A MULT18X18D input port (``A`` or ``B``) whose every bit is a constant 0 or the
  output of a plain flip-flop (below) takes the flip-flops' inputs instead and registers them itself
  (``REG_INPUTA_CLK``/``REG_INPUTB_CLK``). A flip-flop that drives nothing else any more is removed; one
  that also drives other logic stays for it (the block's register is a copy of it, so a register the
  Yosys flow shared between several multipliers becomes one per multiplier again).
* **Block RAM read data** (``ram_outputs``, on in rnnhw's flow, see :func:`move_registers_into_blocks`).
  If every used data output bit of a DP16KD port drives exactly
  one plain flip-flop clocked by that port's clock and nothing else, and those drive only registers,
  the port's output register (``REGMODE_A``/``REGMODE_B = "OUTREG"``) replaces them.

A block RAM's output register that feeds logic stays in the fabric: moved into the block, the route
from the block (which the placer may put far from that logic) and the logic would share one cycle,
where in the fabric the register can sit by the logic and the route has a cycle of its own.

A multiplier's product register stays in the fabric. Moved into the block (``REG_OUTPUT_CLK``), the
product would run from the block to registers by the accumulators: nextpnr's ``router1`` could not route
LSTM I=64 H=128 at P = 64 (the routes out of 64 blocks congest the rows of DSP blocks), and with
``router2`` P = 64 and 128 routed but ran slower (106.5 and 94.4 MHz against 146.9 and 128.6); in the fabric,
the placer puts it by its block. Its path, the multiply from the block's input registers (3.1 ns) and
a short route, fits the clock.

A *plain* flip-flop is a ``TRELLIS_FF`` on the rising edge that is always enabled and has a synchronous
reset to 0 or none. Each register moved keeps its clock and its reset, so the design's behaviour is
unchanged cycle for cycle: the block's register loads what the flip-flop loaded, when it did.
A multiplier's input registers share one clock; their resets use the block's ``RST0`` .. ``RST3``. A
block RAM's output register has the port's clock and reset pin, which is only used when the pin was unused.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

__all__ = ["MovedRegisters", "move_registers_into_blocks"]

_MULTIPLIER = "MULT18X18D"
_BLOCK_RAM = "DP16KD"
_FLIP_FLOP = "TRELLIS_FF"
_MULTIPLIER_PORT_BITS = 18
_PRODUCT_BITS = 36
_RAM_DATA_BITS = 18
_RESET_PINS = ("RST0", "RST1", "RST2", "RST3")


@dataclass(frozen=True)
class MovedRegisters:
    """What :func:`move_registers_into_blocks` did: the ports whose registers moved into their blocks
    (``multiplier_inputs`` counts A and B ports), and the flip-flops removed from the fabric."""

    multiplier_inputs: int = 0
    ram_outputs: int = 0
    flip_flops_removed: int = 0

    def __str__(self):
        return (f"{self.multiplier_inputs} multiplier input registers, {self.ram_outputs} block RAM output "
                f"registers; {self.flip_flops_removed} flip-flops removed")


class _Netlist:
    """One module of a Yosys JSON netlist with each net's driver and users."""

    def __init__(self, module: dict):
        self.cells = module["cells"]
        self.drivers: dict[int, tuple[str, str]] = {}
        self.users: dict[int, list[tuple[str, str]]] = defaultdict(list)
        for name, cell in self.cells.items():
            for port, bits in cell["connections"].items():
                output = cell["port_directions"].get(port) == "output"
                for bit in bits:
                    if isinstance(bit, int):
                        if output:
                            self.drivers[bit] = (name, port)
                        else:
                            self.users[bit].append((name, port))
        for port in module.get("ports", {}).values():
            if port["direction"] != "input":
                for bit in port["bits"]:
                    if isinstance(bit, int):
                        self.users[bit].append(("", "port"))

    def pin(self, cell: str, port: str):
        bits = self.cells[cell]["connections"].get(port)
        return bits[0] if bits else None

    def connect(self, cell: str, port: str, bit):
        """Connect ``port`` of ``cell`` to ``bit`` (a net or a constant ``"0"``/``"1"``/``"x"``)."""
        output = self.cells[cell]["port_directions"].get(port) == "output"
        old = self.pin(cell, port)
        if isinstance(old, int):
            if output:
                self.drivers.pop(old, None)
            else:
                self.users[old].remove((cell, port))
        self.cells[cell]["connections"][port] = [bit]
        if isinstance(bit, int):
            if output:
                self.drivers[bit] = (cell, port)
            else:
                self.users[bit].append((cell, port))

    def remove(self, cell: str):
        for port in list(self.cells[cell]["connections"]):
            self.connect(cell, port, "x")
        del self.cells[cell]

    def plain_flip_flop(self, name: str):
        """``(clock, reset)`` of a plain flip-flop (its reset ``"0"`` if none), else ``None``."""
        cell = self.cells.get(name)
        if cell is None or cell["type"] != _FLIP_FLOP:
            return None
        params = cell["parameters"]
        if (str(params.get("CLKMUX", "CLK")).strip() != "CLK" or str(params.get("REGSET", "RESET")).strip() != "RESET"
                or str(params.get("SRMODE", "LSR_OVER_CE")).strip() == "ASYNC"
                or str(params.get("LSRMUX", "LSR")).strip() != "LSR"):
            return None
        if str(params.get("CEMUX", "1")).strip() != "1" and self.pin(name, "CE") not in ("1", None):
            return None
        clock, reset = self.pin(name, "CLK"), self.pin(name, "LSR")
        if not isinstance(clock, int):
            return None
        return clock, ("0" if reset in (None, "0", "x") else reset)

    def remove_if_unused(self, name: str) -> int:
        q = self.pin(name, "Q")
        if isinstance(q, int) and self.users[q]:
            return 0
        self.remove(name)
        return 1

    def registers_behind(self, outputs: list):
        """The plain flip-flops that are the only users of ``outputs`` (each used bit has one, at its DI;
        all with one clock and reset): ``(flip-flops, (clock, reset))``, or ``None``."""
        flip_flops, kinds = [], set()
        for bit in outputs:
            if not isinstance(bit, int) or not self.users[bit]:
                continue
            users = self.users[bit]
            if len(users) != 1 or users[0][1] != "DI":
                return None
            kind = self.plain_flip_flop(users[0][0])
            if kind is None:
                return None
            flip_flops.append(users[0][0])
            kinds.add(kind)
        if len(kinds) != 1 or not all(self.feeds_registers(flip_flop) for flip_flop in flip_flops):
            return None
        return flip_flops, kinds.pop()

    def feeds_registers(self, name: str) -> bool:
        """Whether flip-flop ``name`` drives only registers: flip-flop data inputs, multiplier inputs or
        the module's outputs (which the level above registers). Moved into its block, a register that
        fed logic would put the route from the block and that logic into one cycle."""
        q = self.pin(name, "Q")
        return all(port == "port" or (port == "DI" and self.cells[user]["type"] == _FLIP_FLOP)
                   or (self.cells[user]["type"] == _MULTIPLIER and port[:1] in "AB" and port[1:].isdigit())
                   for user, port in self.users[q])


def move_registers_into_blocks(netlist: dict, module: str, *, ram_outputs: bool = False) -> MovedRegisters:
    """Move the plain flip-flops before the MULT18X18D blocks of ``module`` (flattened) and, with
    ``ram_outputs``, those behind the DP16KD outputs into the blocks' registers, in place. Returns what
    moved.

    rnnhw's flow asks for ``ram_outputs``. Where the design puts two registers behind a block RAM (weight
    banks, tables behind a broadcast tree, the LSTM cell state), the first moves into the block, and
    the route to the second gets a whole cycle: in the fabric the placer did not keep the first by its
    block in the crowded designs (LSTM I=64 H=128: 3.1 ns at P = 16, 4.2 ns at P = 64 after the block's
    4.1 ns clock-to-out). Measured on those netlists, P = 16 / 32 / 64 went from 138.9 / 136.7 / 120.6 to
    175.0 / 148.2 / 146.0 MHz. (With ``router1``, before the flow routed crowded designs with ``router2``,
    P = 64 did not route with them moved.)"""
    design = _Netlist(netlist["modules"][module])
    inputs = rams = removed = 0
    for name in [n for n, c in design.cells.items() if c["type"] == _MULTIPLIER]:
        cell = design.cells[name]
        if any(key.startswith("REG_") and str(value).strip() != "NONE" for key, value in cell["parameters"].items()):
            continue  # registers already in use: not Yosys's plain mapping, left as it is
        cell["port_directions"].update({pin: "input" for pin in ("CLK0", "CE0", *_RESET_PINS)})
        resets: list = []
        for side in ("A", "B"):
            moved = _move_multiplier_input(design, name, side, resets)
            if moved is not None:
                inputs += 1
                removed += moved
        if resets:
            for pin, reset in zip(_RESET_PINS[: len(resets)], resets, strict=True):
                design.connect(name, pin, reset)
            cell["parameters"]["RESETMODE"] = "SYNC"
    for name in [n for n, c in design.cells.items() if c["type"] == _BLOCK_RAM and ram_outputs]:
        for side in ("A", "B"):
            moved = _move_ram_output(design, name, side)
            if moved is not None:
                rams += 1
                removed += moved
    return MovedRegisters(inputs, rams, removed)


def _reset_pin(design: _Netlist, name: str, resets: list, clock, reset) -> str | None:
    """The RSTn pin for ``reset`` on multiplier ``name`` (whose registers all have ``clock``)."""
    present = design.pin(name, "CLK0")
    if isinstance(present, int) and present != clock:
        return None
    if reset not in resets:
        if len(resets) == len(_RESET_PINS):
            return None
        resets.append(reset)
    design.connect(name, "CLK0", clock)
    design.connect(name, "CE0", "1")
    return _RESET_PINS[resets.index(reset)]


def _move_multiplier_input(design: _Netlist, name: str, side: str, resets: list) -> int | None:
    params = design.cells[name]["parameters"]
    if str(params.get(f"REG_INPUT{side}_CLK", "NONE")).strip() != "NONE":
        return None
    pins = [f"{side}{index}" for index in range(_MULTIPLIER_PORT_BITS)]
    sources, kinds = {}, set()
    for pin in pins:
        bit = design.pin(name, pin)
        if bit in ("0", "x", None):
            continue
        if not isinstance(bit, int) or bit not in design.drivers:
            return None
        driver, port = design.drivers[bit]
        kind = design.plain_flip_flop(driver) if port == "Q" else None
        if kind is None:
            return None
        sources[pin] = driver
        kinds.add(kind)
    if len(kinds) != 1:
        return None
    clock, reset = kinds.pop()
    pin = _reset_pin(design, name, resets, clock, reset)
    if pin is None:
        return None
    for port, flip_flop in sources.items():
        design.connect(name, port, design.pin(flip_flop, "DI"))
    params.update({f"REG_INPUT{side}_CLK": "CLK0", f"REG_INPUT{side}_CE": "CE0", f"REG_INPUT{side}_RST": pin})
    return sum(design.remove_if_unused(flip_flop) for flip_flop in set(sources.values()))


def _move_ram_output(design: _Netlist, name: str, side: str) -> int | None:
    params = design.cells[name]["parameters"]
    if str(params.get(f"REGMODE_{side}", "NOREG")).strip() != "NOREG":
        return None
    pins = [f"DO{side}{index}" for index in range(_RAM_DATA_BITS)]
    found = design.registers_behind([design.pin(name, pin) for pin in pins])
    if found is None:
        return None
    flip_flops, (clock, reset) = found
    other = "B" if side == "A" else "A"
    # The block has one RESETMODE; RST also clears its output latch: only an unused pin may take the reset.
    if (design.pin(name, f"CLK{side}") != clock or design.pin(name, f"RST{side}") not in ("0", None)
            or design.pin(name, f"OCE{side}") not in ("1", None)
            or (reset != "0" and design.pin(name, f"RST{other}") not in ("0", None))):
        return None
    _replace_flip_flops(design, name, pins, flip_flops)
    design.connect(name, f"RST{side}", reset)
    design.connect(name, f"OCE{side}", "1")
    params[f"REGMODE_{side}"] = "OUTREG"
    if reset != "0":
        params["RESETMODE"] = "SYNC"
    return len(flip_flops)


def _replace_flip_flops(design: _Netlist, name: str, pins: list, flip_flops: list):
    """Block ``name``'s output ``pins`` drive what ``flip_flops`` (each the only user of one) drove."""
    by_input = {design.pin(flip_flop, "DI"): flip_flop for flip_flop in flip_flops}
    for pin in pins:
        flip_flop = by_input.get(design.pin(name, pin))
        if flip_flop is not None:
            q = design.pin(flip_flop, "Q")
            design.remove(flip_flop)
            design.connect(name, pin, q)

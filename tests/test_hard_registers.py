"""``rnnhw.hard_registers``: fabric flip-flops moved into MULT18X18D and DP16KD registers.

Small netlists in Yosys's JSON form, built here cell by cell, check what moves and what must stay; one
real run puts a multiply-accumulate with a block RAM through Yosys, the pass and nextpnr.
"""

import json

import pytest
from amaranth import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from rnnhw.hard_registers import MovedRegisters, move_registers_into_blocks
from rnnhw.synth import synthesize

from .test_synth import MacWithMemory, to_verilog

CLK, RST, OTHER_CLK, CE = 2, 3, 4, 5


class Netlist:
    """A one-module netlist: nets are numbered from 10 up."""

    def __init__(self):
        self.cells, self.next_net, self.outputs = {}, 10, []

    def net(self):
        self.next_net += 1
        return self.next_net

    def add(self, name, kind, inputs, outputs, **parameters):
        self.cells[name] = {
            "type": kind, "parameters": parameters, "attributes": {},
            "port_directions": {**{p: "input" for p in inputs}, **{p: "output" for p in outputs}},
            "connections": {p: [b] for p, b in {**inputs, **outputs}.items()}}

    def flip_flop(self, name, d, q=None, *, clock=CLK, reset=RST, **parameters):
        q = self.net() if q is None else q
        params = {"CEMUX": "1 ", "CLKMUX": "CLK", "GSR": "DISABLED", "LSRMUX": "LSR", "REGSET": "RESET",
                  "SRMODE": "LSR_OVER_CE"} | parameters
        inputs = {"CLK": clock, "DI": d, "LSR": reset} | ({"CE": CE} if params["CEMUX"] == "CE" else {})
        self.add(name, "TRELLIS_FF", inputs, {"Q": q}, **params)
        return q

    def register(self, name, width, **options):
        """``width`` flip-flops fed from new nets: (their D nets, their Q nets)."""
        d = [self.net() for _ in range(width)]
        return d, [self.flip_flop(f"{name}{i}", d[i], **options) for i in range(width)]

    def multiplier(self, name, a, b, width=8):
        """A MULT18X18D of ``a`` and ``b`` (sign-extended to 18 bits); returns its ``width`` product nets."""
        a, b = a + [a[-1]] * (18 - len(a)), b + [b[-1]] * (18 - len(b))
        p = [self.net() for _ in range(36)]
        self.add(name, "MULT18X18D", {**{f"A{i}": a[i] for i in range(18)}, **{f"B{i}": b[i] for i in range(18)},
                                      "SIGNEDA": "1", "SIGNEDB": "1"},
                 {f"P{i}": p[i] for i in range(36)})
        return p[:width]

    def ram(self, name, width=4, clock=CLK, rst="0"):
        do = [self.net() for _ in range(18)]
        self.add(name, "DP16KD", {"CLKA": clock, "CLKB": clock, "RSTA": "0", "RSTB": rst, "OCEA": "1", "OCEB": "1",
                                  "ADB0": self.net()},
                 {f"DOB{i}": do[i] for i in range(18)}, REGMODE_A="NOREG", REGMODE_B="NOREG", RESETMODE="ASYNC")
        return do[:width]

    def use(self, bits):
        self.outputs += bits

    def json(self):
        return {"modules": {"top": {"ports": {"y": {"direction": "output", "bits": self.outputs}},
                                    "cells": self.cells, "netnames": {}}}}


def move(netlist, ram_outputs=True):
    design = netlist.json()
    return move_registers_into_blocks(design, "top", ram_outputs=ram_outputs), design["modules"]["top"]["cells"]


def pins(cell, prefix, count):
    return [cell["connections"][f"{prefix}{i}"][0] for i in range(count)]


def test_registers_before_a_multiplier_move_into_it_and_the_product_register_stays():
    n = Netlist()
    a_in, a = n.register("a", 4)
    b_in, b = n.register("b", 3)
    product = n.multiplier("mul", a, b)
    q = [n.flip_flop(f"p{i}", bit) for i, bit in enumerate(product)]
    n.use(q)
    moved, cells = move(n)
    assert moved == MovedRegisters(multiplier_inputs=2, flip_flops_removed=4 + 3)
    assert sorted(cells) == ["mul"] + [f"p{i}" for i in range(8)]
    mul = cells["mul"]
    assert pins(mul, "A", 18) == a_in + [a_in[-1]] * 14 and pins(mul, "B", 18) == b_in + [b_in[-1]] * 15
    assert pins(mul, "P", 8) == product and [cells[f"p{i}"]["connections"]["DI"] for i in range(8)] == [
        [bit] for bit in product]
    assert {k: v for k, v in mul["parameters"].items() if k.startswith(("REG_", "RESET"))} == {
        "REG_INPUTA_CLK": "CLK0", "REG_INPUTA_CE": "CE0", "REG_INPUTA_RST": "RST0",
        "REG_INPUTB_CLK": "CLK0", "REG_INPUTB_CE": "CE0", "REG_INPUTB_RST": "RST0", "RESETMODE": "SYNC"}
    assert [mul["connections"][p] for p in ("CLK0", "CE0", "RST0")] == [[CLK], ["1"], [RST]]


def test_a_shared_input_register_stays_for_its_other_users_and_each_multiplier_gets_a_copy():
    n = Netlist()
    a_in, a = n.register("a", 4)
    _, b1 = n.register("b", 4)
    _, b2 = n.register("c", 4)
    n.use(n.multiplier("mul1", a, b1) + n.multiplier("mul2", a, b2) + [a[0]])
    moved, cells = move(n)
    assert moved == MovedRegisters(multiplier_inputs=4, flip_flops_removed=3 + 4 + 4)
    assert "a0" in cells and not {"a1", "a2", "a3"} & set(cells)  # a0 also drives the output
    assert pins(cells["mul1"], "A", 4) == pins(cells["mul2"], "A", 4) == a_in


def test_registers_without_reset_take_another_reset_pin():
    n = Netlist()
    _, a = n.register("a", 2)
    _, b = n.register("b", 2, reset="0")
    n.use(n.multiplier("mul", a, b))
    moved, cells = move(n)
    assert moved.multiplier_inputs == 2
    params, connections = cells["mul"]["parameters"], cells["mul"]["connections"]
    assert (params["REG_INPUTA_RST"], params["REG_INPUTB_RST"]) == ("RST0", "RST1")
    assert (connections["RST0"], connections["RST1"]) == ([RST], ["0"])


@pytest.mark.parametrize("options", [
    {"CEMUX": "CE"},  # an enable
    {"SRMODE": "ASYNC"},  # an asynchronous reset
    {"REGSET": "SET"},  # a reset to 1
    {"CLKMUX": "INV"},  # the falling edge
])
def test_flip_flops_that_are_not_plain_stay(options):
    n = Netlist()
    _, a = n.register("a", 2, **options)
    _, b = n.register("b", 2)
    n.use(n.multiplier("mul", a, b))
    moved, cells = move(n)
    assert moved == MovedRegisters(multiplier_inputs=1, flip_flops_removed=2)  # only B
    assert {"a0", "a1"} <= set(cells) and cells["mul"]["parameters"].get("REG_INPUTA_CLK", "NONE") == "NONE"


def test_an_input_of_logic_or_of_two_clocks_stays():
    n = Netlist()
    _, a = n.register("a", 2)
    a_clock2 = n.flip_flop("a2", n.net(), clock=OTHER_CLK)
    logic = n.net()
    n.add("lut", "LUT4", {"A": a[0]}, {"Z": logic})
    n.use(n.multiplier("mul", [logic, a[1]], a + [a_clock2]))
    moved, _ = move(n)
    assert moved == MovedRegisters()


def test_a_constant_one_input_bit_stays():
    n = Netlist()
    _, a = n.register("a", 2)
    _, b = n.register("b", 2)
    n.use(n.multiplier("mul", a + ["1"], b))
    moved, cells = move(n)
    assert moved == MovedRegisters(multiplier_inputs=1, flip_flops_removed=2)  # only B
    assert cells["mul"]["parameters"].get("REG_INPUTA_CLK", "NONE") == "NONE"


def test_a_port_on_a_second_clock_stays():
    n = Netlist()
    _, a = n.register("a", 2)
    _, b = n.register("b", 2, clock=OTHER_CLK)
    n.use(n.multiplier("mul", a, b))
    moved, cells = move(n)
    assert moved == MovedRegisters(multiplier_inputs=1, flip_flops_removed=2)  # only A
    assert cells["mul"]["connections"]["CLK0"] == [CLK] and {"b0", "b1"} <= set(cells)


def test_a_block_ram_output_register_that_feeds_logic_stays():
    n = Netlist()
    data = n.ram("ram", width=2)
    r = [n.flip_flop(f"r{i}", bit) for i, bit in enumerate(data)]
    sums = [n.net() for _ in range(2)]
    n.add("sum0", "LUT4", {"A": r[0], "B": r[1]}, {"Z": sums[0]})
    n.flip_flop("next", r[1])
    n.use(sums)
    moved, cells = move(n)
    assert moved == MovedRegisters()
    assert {"r0", "r1"} <= set(cells) and cells["ram"]["parameters"]["REGMODE_B"] == "NOREG"


def test_a_register_between_block_ram_and_multiplier_moves_into_the_multiplier():
    n = Netlist()
    data = n.ram("ram", width=3)
    r = [n.flip_flop(f"r{i}", bit) for i, bit in enumerate(data)]
    _, b = n.register("b", 3, reset="0")
    n.use(n.multiplier("mul", r, b))
    moved, cells = move(n)
    # The multipliers come first: r becomes the A port's register, the block RAM keeps no register.
    assert moved == MovedRegisters(multiplier_inputs=2, flip_flops_removed=6)
    assert pins(cells["mul"], "A", 3) == data and cells["ram"]["parameters"]["REGMODE_B"] == "NOREG"


def test_two_registers_between_block_ram_and_multiplier_move_into_both():
    n = Netlist()
    data = n.ram("ram", width=3)
    first = [n.flip_flop(f"r{i}", bit) for i, bit in enumerate(data)]
    second = [n.flip_flop(f"s{i}", bit) for i, bit in enumerate(first)]
    _, b = n.register("b", 3)
    n.use(n.multiplier("mul", second, b))
    moved, cells = move(n)
    assert moved == MovedRegisters(multiplier_inputs=2, ram_outputs=1, flip_flops_removed=3 + 3 + 3)
    assert pins(cells["mul"], "A", 3) == pins(cells["ram"], "DOB", 3)
    assert cells["ram"]["parameters"]["REGMODE_B"] == "OUTREG"


def test_a_block_ram_output_register_moves_into_the_block_with_its_reset():
    n = Netlist()
    data = n.ram("ram")
    q = [n.flip_flop(f"r{i}", bit) for i, bit in enumerate(data)]
    n.use(q)
    moved, cells = move(n)
    assert moved == MovedRegisters(ram_outputs=1, flip_flops_removed=4)
    ram = cells["ram"]
    assert pins(ram, "DOB", 4) == q
    assert (ram["parameters"]["REGMODE_B"], ram["parameters"]["REGMODE_A"], ram["parameters"]["RESETMODE"]) == (
        "OUTREG", "NOREG", "SYNC")
    assert (ram["connections"]["RSTB"], ram["connections"]["OCEB"]) == ([RST], ["1"])


@pytest.mark.parametrize("case", ["logic", "other clock", "reset pin in use"])
def test_a_block_ram_output_that_is_not_only_a_register_stays(case):
    n = Netlist()
    data = n.ram("ram", rst=n.net() if case == "reset pin in use" else "0")
    q = [n.flip_flop(f"r{i}", bit, clock=OTHER_CLK if case == "other clock" else CLK) for i, bit in enumerate(data)]
    if case == "logic":
        n.add("lut", "LUT4", {"A": data[1]}, {"Z": n.net()})
    n.use(q)
    moved, cells = move(n)
    assert moved == MovedRegisters() and cells["ram"]["parameters"]["REGMODE_B"] == "NOREG"


def test_a_real_design_moves_its_registers_and_places(tmp_path):
    """MacWithMemory on ECP5: the multiplier's input registers (x, and w, the memory's read register)
    move into the MULT18X18D; the product register feeds the accumulator's adder and stays; nextpnr
    places, routes and times it."""
    result = synthesize(to_verilog(MacWithMemory(), "mac"), target="ecp5", top="mac", work_root=tmp_path,
                        keep=tmp_path / "kept", quiet=True)
    netlist = json.loads((tmp_path / "kept" / "netlist.json").read_text())
    cells = netlist["modules"]["mac"]["cells"].values()
    (mul,) = [c for c in cells if c["type"] == "MULT18X18D"]
    assert [mul["parameters"].get(f"REG_{p}_CLK", "NONE") for p in ("INPUTA", "INPUTB", "OUTPUT")] == [
        "CLK0", "CLK0", "NONE"]
    (ram,) = [c for c in cells if c["type"] == "DP16KD"]  # its register is the multiplier's now
    assert (ram["parameters"]["REGMODE_A"], ram["parameters"]["REGMODE_B"]) == ("NOREG", "NOREG")
    assert result.dsps == 1 and result.fmax_mhz > 0
    assert result.ffs == sum(c["type"] == "TRELLIS_FF" for c in cells) == 32 + 32  # product, accumulator
    assert "Info: Router1 time" in (tmp_path / "kept" / "nextpnr.log").read_text()  # one DSP block


class TwoRegistersBehindBlockRam(wiring.Component):
    """A 1024 x 16 ROM read into two registers: the flow moves the first into the DP16KD."""

    def __init__(self):
        super().__init__({"addr": In(10), "data": Out(16)})

    def elaborate(self, platform):
        m = Module()
        m.submodules.rom = rom = Memory(shape=16, depth=1024, init=[(k * 40503) & 0xFFFF for k in range(1024)])
        port = rom.read_port()
        first, second = Signal(16, reset_less=True), Signal(16, reset_less=True)
        m.d.comb += [port.addr.eq(self.addr), self.data.eq(second)]
        m.d.sync += [first.eq(port.data), second.eq(first)]
        return m


def test_the_flow_moves_a_block_ram_register_that_feeds_a_register(tmp_path):
    result = synthesize(to_verilog(TwoRegistersBehindBlockRam(), "rom2"), target="ecp5", top="rom2",
                        work_root=tmp_path, keep=tmp_path / "kept", quiet=True)
    cells = json.loads((tmp_path / "kept" / "netlist.json").read_text())["modules"]["rom2"]["cells"].values()
    (ram,) = [c for c in cells if c["type"] == "DP16KD"]
    assert {ram["parameters"]["REGMODE_A"], ram["parameters"]["REGMODE_B"]} == {"NOREG", "OUTREG"}
    assert result.ffs == 16 and result.brams == 1  # the second register


def test_block_ram_outputs_move_only_when_asked():
    n = Netlist()
    data = n.ram("ram")
    n.use([n.flip_flop(f"r{i}", bit) for i, bit in enumerate(data)])
    moved, cells = move(n, ram_outputs=False)
    assert moved == MovedRegisters() and cells["ram"]["parameters"]["REGMODE_B"] == "NOREG"

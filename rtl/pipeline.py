"""Pipeline registers."""

from __future__ import annotations

from amaranth.hdl import Module, Signal

from rnnhw.spec.latency import tree_levels

__all__ = ["KEEP", "UNCHECKED_COLLISIONS", "delayed", "delayed_all", "delayed_stages", "fanned_out"]

#: Attributes of a register that copies another on purpose (to drive fewer loads): Yosys merges equal
#: registers, and ``rnnhw.synth`` carries ``keep`` from such a register's wire to its flip-flop.
KEEP = {"keep": 1}

#: Attributes of a memory whose design never uses a read of an address written in the same cycle (a
#: reader waits for a value until a cycle after its write): Yosys then maps the read port straight to
#: the block RAM's port, without the bypass logic that would decide a collision, so that a register can
#: follow its output directly.
UNCHECKED_COLLISIONS = {"no_rw_check": 1}


def delayed_stages(m: Module, value, cycles: int, name: str, *, reset_less: bool | None = None,
                   keep: bool = False) -> list:
    """``value`` registered ``cycles`` times: every stage's register, the first (``{name}_d1``) first.

    The registers are ``reset_less`` as ``value`` is unless ``reset_less`` says otherwise: datapath
    values whose reader waits for a valid flag need no reset (which would reach every one of them).
    ``keep``: the registers carry :data:`KEEP`, so that a synthesis flow does not merge them with
    registers of equal input elsewhere (another lane's)."""
    like = ({} if reset_less is None else {"reset_less": reset_less}) | ({"attrs": KEEP} if keep else {})
    stages = []
    for stage in range(cycles):
        reg = Signal.like(value, name=f"{name}_d{stage + 1}", **like)
        m.d.sync += reg.eq(value)
        stages.append(value := reg)
    return stages


def delayed(m: Module, value, cycles: int, name: str, *, reset_less: bool | None = None):
    """``value`` registered ``cycles`` times (``cycles == 0`` returns it unchanged; ``reset_less`` as in
    :func:`delayed_stages`)."""
    stages = delayed_stages(m, value, cycles, name, reset_less=reset_less)
    return stages[-1] if stages else value


def delayed_all(m: Module, cycles: int, stage: str, *values):
    """Each of ``values`` registered ``cycles`` times (names ``{stage}_{index}``), as a tuple."""
    return tuple(delayed(m, value, cycles, f"{stage}_{index}") for index, value in enumerate(values))


def fanned_out(m: Module, value, leaves: int, fanout: int, name: str, *, reset_less: bool | None = None) -> list:
    """``leaves`` copies of ``value`` through a tree of registers in which no register drives more than
    ``fanout`` others: each copy ``tree_levels(leaves, fanout)`` cycles late (``value`` itself for one leaf).

    Level ``l`` (1 .. L) has ``ceil(leaves / fanout**(L - l))`` registers (``{name}_l{l}_{i}``); register
    ``i`` of a level is driven by register ``i // fanout`` of the level above. The registers of a level
    hold the same value, so each carries the ``keep`` attribute (:data:`KEEP`): a synthesis flow that
    merges equal registers must leave the copies apart. ``reset_less`` as in :func:`delayed_stages`.
    """
    like = {} if reset_less is None else {"reset_less": reset_less}
    levels = tree_levels(leaves, fanout)
    level = [value]
    for depth in range(1, levels + 1):
        registers = []
        for index in range(-(-leaves // fanout ** (levels - depth))):
            register = Signal.like(value, name=f"{name}_l{depth}_{index}", attrs=KEEP, **like)
            m.d.sync += register.eq(level[index // fanout])
            registers.append(register)
        level = registers
    return level

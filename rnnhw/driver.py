"""Host driver for cores built with ``[hardware] weights = "runtime"``: check the core, load its weights.

:class:`CoreDriver` talks to the core through two plain callables, ``read(address) -> int`` and
``write(address, value)``, on 32-bit words at byte addresses relative to the core's base. So the same
code drives the simulated core (:class:`rnnhw.sim.axil.RemoteBus`, which wraps cocotbext-axi's
``AxiLiteMaster``) and a board::

    from pynq import MMIO                              # PYNQ: the core's AXI4-Lite base from the block design
    mmio = MMIO(0x43C0_0000, 0x2_0000)
    core = CoreDriver(read=mmio.read, write=mmio.write, config=load_config("digits_lstm.toml"))
    core.identify()                                    # refuses a core built for another configuration
    core.load("digits_lstm.npz")                       # every weight and bias, through the weight window

    with MappedBus("/dev/uio0", size=0x2_0000) as bus:  # Linux without PYNQ: UIO (or /dev/mem, offset=base)
        core = CoreDriver(read=bus.read, write=bus.write, config=config)

The register map and the window layout come from :mod:`rnnhw.spec.registers`.
"""

from __future__ import annotations

import mmap
import os
from collections.abc import Callable
from pathlib import Path

from rnnhw.spec.config import Config
from rnnhw.spec.errors import UserError
from rnnhw.spec.registers import (
    IDENTIFICATION,
    MAP_VERSION,
    WORD_BYTES,
    register,
    registers,
    weight_window,
    window_words,
)
from rnnhw.spec.weights import QuantizedWeights, load_weights, quantize_weights

__all__ = ["CoreDriver", "MappedBus"]


class CoreDriver:
    """Checks and loads one runtime core.

    Parameters
    ----------
    read : callable
        ``read(address) -> int``: the 32-bit word at byte ``address`` (the base is added first).
    write : callable
        ``write(address, value)``: write a 32-bit word (``0 <= value < 2**32``).
    config : Config
        The configuration the core was generated from (``hardware.weights = "runtime"``).
    base : int
        Byte offset added to every address (0 when the callables already address the core).

    Errors of the bus (SLVERR) are whatever the callables raise.
    """

    def __init__(self, *, read: Callable[[int], int], write: Callable[[int, int], None], config: Config,
                 base: int = 0):
        if not callable(read) or not callable(write):
            raise TypeError(f"read and write must be callables, not {read!r} and {write!r}")
        if not isinstance(config, Config):
            raise TypeError(f"config must be a Config, not {config!r}")
        if config.hardware.weights != "runtime":
            raise UserError('the driver is for cores with hardware.weights = "runtime"; this configuration '
                            'bakes its weights in ("rom")')
        if isinstance(base, bool) or not isinstance(base, int) or base < 0 or base % WORD_BYTES:
            raise ValueError(f"base must be a non-negative multiple of {WORD_BYTES}, not {base!r}")
        self._read, self._write, self._config, self._base = read, write, config, base
        self._registers = registers(config)

    @property
    def config(self) -> Config:
        return self._config

    @property
    def base(self) -> int:
        return self._base

    def read(self, name: str) -> int:
        """The register ``name`` (``spec.registers`` names, e.g. ``"STATUS"``)."""
        return int(self._read(self._base + register(self._config, name).offset))

    def write(self, name: str, value: int) -> None:
        self._write(self._base + register(self._config, name).offset, int(value))

    def identify(self) -> None:
        """Check that the core is an rnnhw runtime core built for :attr:`config`; raise UserError if not."""
        found = self.read("ID")
        if found != IDENTIFICATION:
            raise UserError(f"no rnnhw core at {self._base:#x}: ID reads {found:#010x}, not {IDENTIFICATION:#010x}")
        version = self.read("VERSION")
        if version >> 16 != MAP_VERSION >> 16:
            raise UserError(f"the core's register map is version {version >> 16}.{version & 0xFFFF}; this driver "
                            f"knows version {MAP_VERSION >> 16}: regenerate the core or update rnnhw")
        for reg in self._registers:
            if reg.constant and reg.name not in ("ID", "VERSION"):
                found = self.read(reg.name)
                if found != reg.reset:
                    raise UserError(f"the core was built for another configuration: {reg.name} ({reg.meaning}) "
                                    f"reads {found:#x}, the configuration gives {reg.reset:#x}")

    def status(self) -> dict[str, int]:
        """``STATUS`` by field: BUSY, WINDOW_REFUSED, BAD_ACCESS."""
        value = self.read("STATUS")
        return {f.name: (value & f.mask) >> f.lsb for f in register(self._config, "STATUS").fields}

    def counters(self) -> dict[str, int]:
        """``cycles`` (busy cycles, 48 bits read consistently), ``timesteps`` and ``sequences`` since clear."""
        while True:
            high = self.read("CYCLES_HI")
            low = self.read("CYCLES_LO")
            if self.read("CYCLES_HI") == high:
                break
        return {"cycles": (high << 32) | low, "timesteps": self.read("TIMESTEPS"), "sequences": self.read("SEQUENCES")}

    def control(self, *names: str) -> None:
        """Act on ``CONTROL`` fields at once, e.g. ``control("CLEAR_COUNTERS", "CLEAR_ERRORS")``."""
        reg = register(self._config, "CONTROL")
        self.write("CONTROL", sum(1 << reg.field(name).lsb for name in names))

    def _words(self, weights) -> dict[str, list[list[int]]]:
        if isinstance(weights, (str, Path)):
            weights = quantize_weights(load_weights(weights, self._config), self._config)
        if not isinstance(weights, QuantizedWeights):
            raise TypeError(f"weights must be a weights file or QuantizedWeights, not {weights!r}")
        return window_words(self._config, weights)

    def _window(self):
        """``(address, word index in region)`` pairs, region by region, lane by lane."""
        for region in weight_window(self._config):
            for lane in range(region.lanes):
                for index in range(region.depth):
                    yield region, lane, index, self._base + region.address(lane, index)

    def load(self, weights) -> int:
        """Write every weight and bias (a weights file or QuantizedWeights); returns the words written.

        The core must be idle (``STATUS.BUSY = 0``): the window refuses writes under a running sequence.
        """
        words = self._words(weights)
        if self.status()["BUSY"]:
            raise UserError("the core is busy (a sequence is in flight); wait until STATUS.BUSY = 0 or "
                            "soft-reset it before loading weights")
        written = 0
        for region, lane, index, address in self._window():
            self._write(address, words[region.name][lane][index])
            written += 1
        return written

    def mismatches(self, weights) -> list[str]:
        """Read the whole window back; one line per word that differs from ``weights``' image."""
        words, wrong = self._words(weights), []
        for region, lane, index, address in self._window():
            found = int(self._read(address))
            if found != words[region.name][lane][index]:
                wrong.append(f"{region.name} lane {lane} word {index} ({address:#x}): reads {found:#x}, "
                             f"expected {words[region.name][lane][index]:#x}")
        return wrong


class MappedBus:
    """``read``/``write`` callables on a memory-mapped device file (``/dev/uioN``, or ``/dev/mem``).

    Parameters
    ----------
    path : str or Path
        The device (or any file as large as ``offset + size``).
    size : int
        Bytes to map (the core's address space: ``2 ** address_width``).
    offset : int
        Physical base address for ``/dev/mem`` (a multiple of the page size); 0 for UIO.
    """

    def __init__(self, path, *, size: int, offset: int = 0):
        if isinstance(size, bool) or not isinstance(size, int) or size <= 0 or size % WORD_BYTES:
            raise ValueError(f"size must be a positive multiple of {WORD_BYTES}, not {size!r}")
        if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0 or offset % mmap.PAGESIZE:
            raise ValueError(f"offset must be a non-negative multiple of the page size {mmap.PAGESIZE}, "
                             f"not {offset!r}")
        try:
            self._fd = os.open(path, os.O_RDWR | os.O_SYNC)
        except OSError as exc:
            raise UserError(f"cannot open {str(path)!r} for the core's registers: {exc.strerror}") from None
        try:
            self._map = mmap.mmap(self._fd, size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE, offset=offset)
        except (OSError, ValueError) as exc:
            os.close(self._fd)
            raise UserError(f"cannot map {size:#x} bytes of {str(path)!r} at {offset:#x}: {exc}") from None
        self._words = memoryview(self._map).cast("I")  # 32-bit accesses, never split into bytes

    def read(self, address: int) -> int:
        return int(self._words[address // WORD_BYTES])

    def write(self, address: int, value: int) -> None:
        self._words[address // WORD_BYTES] = value

    def close(self) -> None:
        self._words.release()
        self._map.close()
        os.close(self._fd)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

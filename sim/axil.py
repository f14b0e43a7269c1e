"""The AXI4-Lite port of runtime cores in simulation: a host program drives it from outside the simulator.

The testbench (:mod:`rnnhw.sim.testbench`) starts :func:`start_session` when ``RNNHW_SIM_AXIL`` names a
Unix socket. It connects to it and serves one line-based request at a time with cocotbext-axi's
``AxiLiteMaster``; the simulator advances only while a request is served, so a run is as
deterministic as the host program. The host side is :class:`RemoteBus` (:func:`serve` opens it and
runs a host program in a thread while the simulator runs): its ``read``/``write`` are the plain
callables that :class:`rnnhw.driver.CoreDriver` takes, exactly as on a board.

Requests (one line each) and answers (``OK`` or ``SLVERR``, then numbers, then the clock cycle):

``R addr``        read a word: ``OK value cycle``
``W addr value``  write a word: ``OK cycle``
``GO``            let the testbench stream its sequences (it waits for this before sending any)
``WAIT n``        let ``n`` clock cycles pass
``DONE``          wait until the testbench has every output it expects (or timed out)
``END``           (or closing the socket) end the session

Cycles count rising clock edges from time 0, like the testbench's results; an access's cycle is the
one at which its response handshake completed.
"""

from __future__ import annotations

import contextlib
import os
import socket
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

from rnnhw.spec.errors import VerificationError

__all__ = ["AXIL_ENV", "BusError", "RemoteBus", "serve", "start_session"]

AXIL_ENV = "RNNHW_SIM_AXIL"
#: Seconds either side waits for the other before giving up (a stuck simulator or host program).
SOCKET_TIMEOUT = 600.0


class BusError(Exception):
    """An access answered SLVERR. ``address`` and ``write`` say which."""

    def __init__(self, address: int, write: bool):
        super().__init__(f"SLVERR on the {'write to' if write else 'read of'} address {address:#x}")
        self.address, self.write = address, write


# -- the simulator side ---------------------------------------------------------------------------
class _Session:
    def __init__(self, dut, path: str, cycle):
        import cocotb
        from cocotb.triggers import Event
        from cocotbext.axi import AxiLiteBus, AxiLiteMaster

        self.dut, self.cycle = dut, cycle
        self.master = AxiLiteMaster(AxiLiteBus.from_prefix(dut, "s_axil"), dut.clk, dut.rst)
        self.master.write_if.log.setLevel("ERROR")
        self.master.read_if.log.setLevel("ERROR")
        self.released, self.stream_done, self.ended = Event(), Event(), Event()
        self.socket = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.socket.settimeout(SOCKET_TIMEOUT)
        self.socket.connect(path)
        self.lines = self.socket.makefile("rw", buffering=1)
        self.task = cocotb.start_soon(self._serve())

    async def _serve(self):
        from cocotb.triggers import ClockCycles
        from cocotbext.axi.constants import AxiResp

        try:
            while True:
                line = self.lines.readline()  # blocks the simulator: time stands still between requests
                words = line.split()
                if not words or words[0] == "END":
                    break
                op, args = words[0], [int(w, 0) for w in words[1:]]
                if op == "R":
                    answer = await self.master.read(args[0], 4)
                    value = int.from_bytes(answer.data, "little")
                    ok = answer.resp == AxiResp.OKAY
                    reply = f"{'OK' if ok else 'SLVERR'} {value}"
                elif op == "W":
                    answer = await self.master.write(args[0], args[1].to_bytes(4, "little"))
                    reply = "OK" if answer.resp == AxiResp.OKAY else "SLVERR"
                elif op == "GO":
                    self.released.set()
                    reply = "OK"
                elif op == "WAIT":
                    await ClockCycles(self.dut.clk, args[0])
                    reply = "OK"
                elif op == "DONE":
                    await self.stream_done.wait()
                    reply = "OK"
                else:
                    reply = f"ERROR unknown request {op}"
                self.lines.write(f"{reply} {self.cycle()}\n")
        finally:
            self.released.set()  # a host program that ends early must not leave the stream waiting
            self.ended.set()
            with contextlib.suppress(OSError):
                self.socket.close()


async def start_session(dut, cycle: Callable[[], int]):
    """Connect to the host program named by ``RNNHW_SIM_AXIL`` and wait for its ``GO``; None without one."""
    path = os.environ.get(AXIL_ENV)
    if not path:
        return None
    session = _Session(dut, path, cycle)
    await session.released.wait()
    return session


async def end_session(session) -> None:
    """Tell the host program that the stream is done and wait until it ends the session."""
    if session is not None:
        session.stream_done.set()
        await session.ended.wait()


# -- the host side ----------------------------------------------------------------------------------
class RemoteBus:
    """The host end of a session: ``read(address)`` and ``write(address, value)`` on the core's port.

    Both raise :class:`BusError` when the access answers SLVERR. ``cycle`` is the clock cycle at
    which the last answer arrived.
    """

    def __init__(self, connection: socket.socket):
        self._connection = connection
        self._lines = connection.makefile("rw", buffering=1)
        self.cycle = 0

    def _request(self, line: str) -> list[str]:
        self._lines.write(line + "\n")
        answer = self._lines.readline().split()
        if not answer:
            raise VerificationError("the simulator ended the AXI4-Lite session (see its log)")
        if answer[0] == "ERROR":
            raise ValueError(" ".join(answer[1:]))
        self.cycle = int(answer[-1])
        return answer

    def read(self, address: int) -> int:
        answer = self._request(f"R {int(address)}")
        if answer[0] != "OK":
            raise BusError(address, write=False)
        return int(answer[1])

    def write(self, address: int, value: int) -> None:
        if not 0 <= int(value) < 1 << 32:
            raise ValueError(f"value must be a 32-bit word (0 .. 2**32 - 1), not {value!r}")
        if self._request(f"W {int(address)} {int(value)}")[0] != "OK":
            raise BusError(address, write=True)

    def access(self, address: int, value: int | None = None) -> str:
        """One read (``value`` None) or write, returning ``"OK"`` or ``"SLVERR"`` instead of raising."""
        if value is None:
            return self._request(f"R {int(address)}")[0]
        return self._request(f"W {int(address)} {int(value)}")[0]

    def go(self) -> None:
        """Let the testbench stream its sequences."""
        self._request("GO")

    def wait_cycles(self, cycles: int) -> None:
        self._request(f"WAIT {int(cycles)}")

    def wait_done(self) -> None:
        """Wait until the testbench has received every output vector (or timed out)."""
        self._request("DONE")

    def end(self) -> None:
        with contextlib.suppress(OSError):
            self._lines.write("END\n")
            self._lines.flush()


@contextlib.contextmanager
def serve(program: Callable[[RemoteBus], object]):
    """Run ``program(bus)`` in a thread once the simulator connects; yields ``(env, finish)``.

    ``env`` is the testbench environment naming the socket. After the simulation, ``finish()``
    returns what ``program`` returned, or re-raises what it raised. ``program`` need not call
    :meth:`RemoteBus.go`: the stream starts when it returns, and the session ends when the stream is done.
    """
    folder = Path(tempfile.mkdtemp(prefix="rnnhw-axil-"))  # short: Unix socket paths are limited
    path = folder / "bus"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen(1)
    listener.settimeout(0.2)
    outcome: dict = {}
    stop = threading.Event()

    def host():
        while True:
            try:
                connection, _ = listener.accept()
                break
            except TimeoutError:
                if stop.is_set():
                    outcome["error"] = VerificationError("the simulator never opened the AXI4-Lite session "
                                                         "(see its log)")
                    return
            except OSError as exc:  # the listener closed under us
                outcome["error"] = VerificationError(f"the AXI4-Lite session could not start ({exc})")
                return
        connection.settimeout(SOCKET_TIMEOUT)
        bus = RemoteBus(connection)
        try:
            outcome["value"] = program(bus)
            bus.go()
            bus.wait_done()
        except BaseException as exc:  # noqa: BLE001 - re-raised by finish()
            outcome["error"] = exc
        finally:
            bus.end()
            connection.close()

    thread = threading.Thread(target=host, name="rnnhw-axil-host", daemon=True)
    thread.start()

    def finish():
        stop.set()
        thread.join(timeout=SOCKET_TIMEOUT)
        if "error" in outcome:
            raise outcome["error"]
        return outcome.get("value")

    try:
        yield {AXIL_ENV: str(path)}, finish
    finally:
        stop.set()
        listener.close()
        with contextlib.suppress(OSError):
            path.unlink()
            folder.rmdir()

"""The cocotb testbench: moves sequences into the accelerator and its outputs back out, nothing more.

The runner (:mod:`rnnhw.sim.runner`) starts the simulator with this module as the cocotb test module.
It reads its stimulus from the ``.npz`` file named by ``RNNHW_SIM_STIMULUS`` and writes what it
received to the ``.npz`` file named by ``RNNHW_SIM_RESULTS``; the comparison with the golden model is
done afterwards in plain Python (:mod:`rnnhw.sim.verify`), so this module knows no reference model.

Stimulus keys (all NumPy arrays):

``in_data``, ``in_counts``
    Every sequence's input elements, concatenated; ``in_counts[n]`` of them belong to sequence ``n``,
    which goes out as one AXI-Stream frame (``tlast`` on its last element).
``in_tids``, ``in_ends`` (interleaved cores only)
    Then each frame ``n`` is one timestep of stream ``in_tids[n]`` (driven on ``s_axis_tid``), with
    ``tlast`` on its last element only if ``in_ends[n]`` (the timestep ends its sequence).
``out_vectors``, ``vector_size``
    How many output frames (vectors) each sequence produces, and their expected length; the run ends
    when ``sum(out_vectors)`` frames are in, or after ``timeout_cycles``.
``reset_data``, ``reset_after``
    If ``reset_after >= 0``: first send ``reset_data`` as a sequence, assert ``rst`` once the DUT has
    accepted ``reset_after`` of its elements, then run the clean sequences. Outputs seen before the
    reset are counted (``discarded_frames``) and dropped.
``pause_in``, ``pause_out``, ``seed``
    Probability of a random pause per clock cycle on the input (``tvalid`` low) and output
    (``tready`` low) streams.

Results keys: ``out_data`` (raw unsigned elements), ``out_counts`` (elements per received frame),
``out_start``/``out_end`` (clock cycle of each output frame's first/last beat), ``in_start``/``in_end``
(clock cycle at which the DUT accepted each sequence's first/last element), ``timed_out``,
``inputs_left`` (the DUT did not take every input), ``output_width`` (bits of ``m_axis_tdata``),
``extra_frames`` (frames beyond those expected), ``discarded_frames``, ``end_cycle``,
``sequence_overflow`` (a bidirectional core's sticky overflow output at the end; -1 without one).

Cycle numbers count rising clock edges from time 0; differences between them are cycle counts.
Per-clock Python work is only what cocotbext-axi does while a stream is active or paused: an idle
sink sleeps until ``tvalid`` rises, and the DUT's own computing needs no Python at all.

Why cocotbext-axi is pinned to one release (:data:`rnnhw.sim.tools.COCOTBEXT_AXI_VERSION`)
----------------------------------------------------------------------------------------------
The sink and the monitor are cocotbext-axi's, used through its public API. The input source is
:class:`StallAwareSource`, which replaces the private ``_run`` loop of ``AxiStreamSource`` and uses its
private fields (``queue``, ``active_event``, ``current_frame``...): the public source wakes Python on
every clock edge while ``tvalid`` is high and ``tready`` low, and the accelerator holds ``tready`` low
for the hundreds of cycles each timestep computes (about 98 % of all cycles). Measured on LSTM I=12
H=32 head=9 P=8, 2,000 steps on Verilator (CPU time of the simulator process, start-up taken out):
600 steps/s with :class:`StallAwareSource`, 165 steps/s with the public ``AxiStreamSource`` (3.6
times slower), same outputs and cycles. Keeping ``tvalid`` low during a stall instead (handing the
public source its next elements only once ``tready`` has risen) would change the cycle counts: that
source drives new data only on the clock edge after it is given some, so every stall would end a
cycle late. Hence ``pyproject.toml`` pins the exact release this loop is written against,
:func:`rnnhw.sim.runner.run_testbench` refuses to run with another one (a one-line error naming the
fix), and ``tests/test_sim_runner.py`` checks that the installed release is the pinned one. To move
to a new release: compare its ``AxiStreamSource._run`` with :meth:`StallAwareSource._run`, then
update the pin in both places.
"""

from __future__ import annotations

import logging
import os
import random
import time

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, ReadOnly, RisingEdge, SimTimeoutError, Timer, with_timeout
from cocotb.utils import get_sim_steps, get_sim_time
from cocotbext.axi import AxiStreamBus, AxiStreamFrame, AxiStreamMonitor, AxiStreamSink, AxiStreamSource

from .axil import end_session, start_session

STIMULUS_ENV, RESULTS_ENV, PROGRESS_ENV = "RNNHW_SIM_STIMULUS", "RNNHW_SIM_RESULTS", "RNNHW_SIM_PROGRESS"
CLOCK_NS = 10
RESET_CYCLES = 4
#: Cycles to watch for unexpected extra outputs after the expected ones are in.
TRAILING_CYCLES = 64
#: Progress updates also come every this many cycles (one Python wake-up each).
PROGRESS_CYCLES = 20_000


def _pauses(probability: float, rng: random.Random):
    while True:
        yield rng.random() < probability


def _write_atomically(path: str, write) -> None:
    """``write(handle)`` into a temporary file, then move it to ``path`` (readers never see half a file)."""
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "wb") as handle:
        write(handle)
    os.replace(tmp, path)


class _ProgressFile:
    """Writes ``vectors_received vectors_expected cycle`` to a file a few times a second for the runner."""

    def __init__(self, path: str | None, total: int, cycle, interval: float = 0.5):
        self.path, self.total, self.cycle, self.interval = path, total, cycle, interval
        self.last = time.monotonic()

    def update(self, done: int) -> None:
        now = time.monotonic()
        if self.path and self.last is not None and (now - self.last >= self.interval or done == self.total):
            self.last = None if done == self.total else now  # the last line is written once
            line = f"{done} {self.total} {self.cycle(get_sim_time())}\n"
            _write_atomically(self.path, lambda handle: handle.write(line.encode()))

    async def tick(self, frames: list, period_steps: int) -> None:
        """Update every :data:`PROGRESS_CYCLES` cycles, also while no output arrives (long sequences)."""
        interval = Timer(PROGRESS_CYCLES * period_steps, "step")
        while True:
            await interval
            self.update(len(frames))


class StallAwareSource(AxiStreamSource):
    """cocotbext-axi's ``AxiStreamSource`` that sleeps while the DUT holds ``tready`` low.

    The original wakes on every clock edge while it has data; the accelerator holds ``tready`` low
    for the hundreds of cycles each timestep computes, so that per-clock Python work would dominate
    the run time. This ``_run`` is the original's loop for a bus of ``tdata``/``tvalid``/``tready``/
    ``tlast`` with one element per beat, plus one change: on a stall it waits for ``tready`` to rise.
    Pauses (:meth:`set_pause_generator`), resets and the queue behave as in the original. With a ``tid``
    on the bus it drives each beat's ``frame.tid``, and a frame whose ``tuser`` is 0 ends without ``tlast``
    (an interleaved core's timestep that does not end its sequence). It relies on
    the original's private fields, so it is written against one cocotbext-axi release (see the
    module's docstring).
    """

    async def _run(self):
        bus, frame, offset = self.bus, None, 0
        has_tid = hasattr(bus, "tid")
        self.active = False
        clock_edge, ready_rise, settled = RisingEdge(self.clock), RisingEdge(bus.tready), ReadOnly()
        while True:
            await clock_edge
            if bus.tvalid.value and not bus.tready.value:
                await settled  # tready may rise in this very time step, after the edge
                if not bus.tready.value:
                    await ready_rise
                continue
            if frame is None and not self.queue.empty():
                frame, offset = self.queue.get_nowait(), 0
                self.dequeue_event.set()
                self.queue_occupancy_bytes -= len(frame)
                self.queue_occupancy_frames -= 1
                self.current_frame = frame
                frame.sim_time_start, frame.sim_time_end = get_sim_time(), None
                self.active = True
            if frame is not None and not self.pause:
                bus.tdata.value = frame.tdata[offset] & self.byte_mask
                if has_tid:
                    tid = frame.tid
                    bus.tid.value = tid[offset] if isinstance(tid, list) and tid else _first(tid)
                offset += 1
                last = offset >= len(frame.tdata)
                bus.tvalid.value = 1
                ends = frame.tuser[-1] if isinstance(frame.tuser, list) and frame.tuser else frame.tuser
                bus.tlast.value = int(last and ends != 0)
                if last:
                    frame.sim_time_end = get_sim_time()
                    frame.handle_tx_complete()
                    frame = self.current_frame = None
            else:
                bus.tvalid.value = 0
                bus.tlast.value = 0
                self.active = frame is not None
                if frame is None and self.queue.empty():
                    self.idle_event.set()
                    self.active_event.clear()
                    await self.active_event.wait()


def _first(values) -> int:
    """A frame field's first beat: a list per beat (empty without the signal), one value or ``None``."""
    if isinstance(values, list):
        return int(values[0]) if values else 0
    return int(values or 0)


async def _reset(dut, cycles: int = RESET_CYCLES) -> None:
    dut.rst.value = 1
    await ClockCycles(dut.clk, cycles)
    dut.rst.value = 0
    await RisingEdge(dut.clk)


async def _accepted_inputs(dut, count: int) -> None:
    """Wait until the DUT has accepted ``count`` input elements (one clock edge at a time)."""
    accepted = 0
    while accepted < count:
        await RisingEdge(dut.clk)
        if dut.s_axis_tvalid.value and dut.s_axis_tready.value:
            accepted += 1


@cocotb.test()
async def stream(dut):
    """Send every sequence, collect every output vector, record cycle counts."""
    stimulus = dict(np.load(os.environ[STIMULUS_ENV], allow_pickle=False))
    rng = random.Random(int(stimulus["seed"]))
    period = get_sim_steps(CLOCK_NS, "ns")

    def cycle(sim_time) -> int:
        return int(sim_time) // period

    Clock(dut.clk, CLOCK_NS, unit="ns").start()
    inputs = AxiStreamBus.from_prefix(dut, "s_axis")
    source = StallAwareSource(inputs, dut.clk, dut.rst, byte_lanes=1)
    # The monitor sleeps until a handshake: it times each sequence's first and last accepted input.
    accepted = AxiStreamMonitor(inputs, dut.clk, dut.rst, byte_lanes=1)
    sink = AxiStreamSink(AxiStreamBus.from_prefix(dut, "m_axis"), dut.clk, dut.rst, byte_lanes=1)
    for endpoint in (source, accepted, sink):
        endpoint.log.setLevel(logging.ERROR)  # no per-frame log lines (nor whole frames printed at a reset)
    if float(stimulus["pause_in"]) > 0:
        source.set_pause_generator(_pauses(float(stimulus["pause_in"]), rng))
    if float(stimulus["pause_out"]) > 0:
        sink.set_pause_generator(_pauses(float(stimulus["pause_out"]), rng))
    timeout = int(stimulus["timeout_cycles"]) * period
    await _reset(dut)
    # Runtime cores: a host program on the AXI4-Lite port (rnnhw.sim.axil) goes first, e.g. loads weights.
    session = await start_session(dut, lambda: cycle(get_sim_time()))

    discarded = 0
    reset_after = int(stimulus["reset_after"])
    if reset_after >= 0:
        await source.send(AxiStreamFrame(stimulus["reset_data"].tolist()))
        try:
            await with_timeout(_accepted_inputs(dut, reset_after), timeout, "step")
        except SimTimeoutError:
            pass  # the DUT stalled before the reset point: reset it anyway
        await _reset(dut)
        discarded = sink.count()
        sink.clear()
        accepted.clear()

    in_counts = stimulus["in_counts"]
    offsets = np.concatenate([[0], np.cumsum(in_counts)])
    in_data = stimulus["in_data"]
    tids, ends = stimulus.get("in_tids"), stimulus.get("in_ends")
    for n in range(len(in_counts)):
        elements = in_data[offsets[n]:offsets[n + 1]].tolist()
        if tids is None:
            source.send_nowait(AxiStreamFrame(elements))
        else:  # one timestep of one stream
            source.send_nowait(AxiStreamFrame(elements, tid=int(tids[n]), tuser=int(ends[n])))

    expected_frames = int(np.sum(stimulus["out_vectors"]))
    frames = []
    progress = _ProgressFile(os.environ.get(PROGRESS_ENV), expected_frames, cycle)
    if progress.path:
        cocotb.start_soon(progress.tick(frames, period))

    async def receive():
        while len(frames) < expected_frames:
            frames.append(await sink.recv(compact=False))
            progress.update(len(frames))

    timed_out = False
    try:
        await with_timeout(receive(), timeout, "step")
    except SimTimeoutError:
        timed_out = True
    end_cycle = cycle(get_sim_time())
    extra = 0
    if not timed_out:
        await ClockCycles(dut.clk, TRAILING_CYCLES)
        extra = sink.count() + int(not sink.idle())

    await end_session(session)

    inputs_seen = [accepted.recv_nowait(compact=False) for _ in range(accepted.count())]
    out_counts = np.array([len(f.tdata) for f in frames], dtype=np.int64)
    out_data = np.array([v for f in frames for v in f.tdata], dtype=np.uint64)
    results = {
        "out_data": out_data,
        "out_counts": out_counts,
        # Interleaved cores: the stream of each output frame (its first beat's m_axis_tid); else zeros.
        "out_tids": np.array([_first(f.tid) for f in frames], dtype=np.int64),
        "out_start": np.array([cycle(f.sim_time_start) for f in frames], dtype=np.int64),
        "out_end": np.array([cycle(f.sim_time_end) for f in frames], dtype=np.int64),
        "in_start": np.array([cycle(f.sim_time_start) for f in inputs_seen], dtype=np.int64),
        "in_end": np.array([cycle(f.sim_time_end) for f in inputs_seen], dtype=np.int64),
        "timed_out": np.bool_(timed_out),
        "inputs_left": np.bool_(not source.idle()),
        "extra_frames": np.int64(extra),
        "discarded_frames": np.int64(discarded),
        "end_cycle": np.int64(end_cycle),
        "output_width": np.int64(len(dut.m_axis_tdata)),
        # Bidirectional cores: the sticky flag of dropped (too long) sequences; -1: no such port.
        "sequence_overflow": np.int64(int(dut.sequence_overflow.value) if hasattr(dut, "sequence_overflow") else -1),
    }
    _write_atomically(os.environ[RESULTS_ENV], lambda handle: np.savez(handle, **results))

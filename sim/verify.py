"""Simulating the accelerator and comparing every output element with the golden model.

:func:`run_simulation` is the entry point: it generates (or takes) the Verilog, builds the simulation
model once (:mod:`rnnhw.sim.runner`), streams the inputs through the cocotb testbench
(:mod:`rnnhw.sim.testbench`) and compares the outputs bit for bit with
:class:`rnnhw.golden.model.GoldenModel`. :func:`simulate_stream` does the same for any design with
the accelerator's ports and any expected outputs (the tests use a small stand-in design).

The output stream is a series of vectors (one AXI-Stream frame each): ``head`` elements per sequence
with a head, ``H`` (Jordan: ``O``, or ``head``) per timestep with ``return_sequences``, else ``H`` (``O``)
per sequence (the last layer's final state). :class:`StreamLayout` maps positions in that stream back to
(sequence, timestep, unit). With CTC decoding (mode ``"labels"``) each sequence is one frame of its decoded
labels (:func:`rnnhw.spec.ctc.stream_frames`), compared as label sequences.
"""

from __future__ import annotations

import contextlib
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rnnhw.spec.batch import check_batch
from rnnhw.spec.config import Config
from rnnhw.spec.ctc import PAD, labels_from_frames, stream_frames
from rnnhw.spec.errors import UserError
from rnnhw.spec.outputs import Heartbeat, Progress
from rnnhw.spec.schedule import bound_cycles_per_step

from .axil import RemoteBus, serve
from .runner import build_model, run_folder, run_testbench
from .testbench import PROGRESS_ENV, RESULTS_ENV, STIMULUS_ENV
from .tools import waves_format

__all__ = ["SimResult", "StreamLayout", "OUTPUT_MODES", "run_simulation", "simulate_stream", "output_mode",
           "bound_cycles_per_step", "BACKPRESSURE_PAUSE"]

OUTPUT_MODES = ("head", "sequences", "final", "labels")
#: Probability of a pause per clock cycle on each stream with ``backpressure=True``.
BACKPRESSURE_PAUSE = 0.3


def output_mode(config: Config) -> str:
    """``"labels"`` (CTC), ``"sequences"`` (return_sequences: ``H``, or ``head``, per step), ``"head"``, ``"final"``."""
    model = config.model
    if model.ctc:
        return "labels"
    return "sequences" if model.return_sequences else ("head" if model.head else "final")


@dataclass(frozen=True)
class StreamLayout:
    """Where each output vector of a batch comes in the stream, and back.

    Parameters
    ----------
    mode : {"head", "sequences", "final"}
        One vector per sequence (``head``, ``final``) or per timestep (``sequences``).
    vector_size : int
        Elements per vector.
    lengths : numpy.ndarray
        Timesteps of each sequence.
    """

    mode: str
    vector_size: int
    lengths: np.ndarray

    def __post_init__(self):
        if self.mode not in OUTPUT_MODES:
            raise ValueError(f"mode must be one of {OUTPUT_MODES}, not {self.mode!r}")
        if self.vector_size < 1:
            raise ValueError(f"vector_size must be positive, not {self.vector_size!r}")

    @property
    def vectors_per_sequence(self) -> np.ndarray:
        return self.lengths.copy() if self.mode == "sequences" else np.ones_like(self.lengths)

    @property
    def vectors(self) -> int:
        return int(self.vectors_per_sequence.sum())

    def shape(self) -> tuple[int, ...]:
        """Shape of the outputs in the golden model's layout (labels: ``[N, longest sequence]`` at least)."""
        batch = len(self.lengths)
        if self.mode == "labels":
            return (batch, int(self.lengths.max()))
        if self.mode == "sequences":
            return (batch, int(self.lengths.max()), self.vector_size)
        return (batch, self.vector_size)

    def vector_position(self, vector: int) -> tuple[int, int]:
        """``(sequence, timestep)`` of the ``vector``-th output vector (final/head: the last timestep)."""
        if self.mode == "sequences":
            starts = np.concatenate([[0], np.cumsum(self.lengths)])
            sequence = int(np.searchsorted(starts, vector, side="right") - 1)
            return sequence, vector - int(starts[sequence])
        return vector, int(self.lengths[vector]) - 1

    def locate(self, element: int) -> tuple[int, int, int]:
        """``(sequence, timestep, unit)`` of the ``element``-th element of the stream."""
        sequence, timestep = self.vector_position(element // self.vector_size)
        return sequence, timestep, element % self.vector_size

    def flatten(self, outputs: np.ndarray) -> np.ndarray:
        """The stream, ``[vectors, vector_size]``, from outputs in the golden model's layout."""
        outputs = np.asarray(outputs)
        if outputs.shape[:1] + outputs.shape[-1:] != (len(self.lengths), self.vector_size):
            raise ValueError(f"outputs of shape {outputs.shape} do not fit {self}")
        if self.mode != "sequences":
            return outputs.reshape(-1, self.vector_size)
        mask = np.arange(outputs.shape[1])[None, :] < self.lengths[:, None]
        return outputs[mask]

    def unflatten(self, vectors: np.ndarray) -> np.ndarray:
        """Outputs in the golden model's layout (zeros past lengths) from the stream ``[vectors, size]``."""
        out = np.zeros(self.shape(), dtype=np.int64)
        if self.mode != "sequences":
            return vectors.reshape(out.shape).astype(np.int64)
        mask = np.arange(out.shape[1])[None, :] < self.lengths[:, None]
        out[mask] = vectors
        return out


@dataclass(frozen=True)
class SimResult:
    """What a simulation produced and how it compares with the golden model.

    ``outputs`` and ``expected`` have the golden model's layout (``GoldenResult.outputs``); elements the
    RTL never sent are 0 in ``outputs``. ``mismatches`` counts expected elements not received
    bit-exactly (missing ones included) plus any elements beyond those expected; ``first_mismatch``
    names the first (``""`` if none). ``notes`` lists protocol problems (timeout, inputs not taken,
    extra or short vectors). ``cycles`` runs from the clock edge that accepted the first input to the
    one that delivered the last output, both included; ``sequence_cycles[n]`` likewise for sequence
    ``n``; ``cycles_per_step = cycles / timesteps``; ``utilization = bound_cycles_per_step /
    cycles_per_step`` (0 when no bound is known). ``wall_seconds`` is the whole call (a model build
    included), ``simulation_seconds`` the simulator's run alone.
    """

    outputs: np.ndarray
    expected: np.ndarray
    bit_exact: bool
    mismatches: int
    first_mismatch: str
    notes: tuple[str, ...]
    sequences: int
    timesteps: int
    cycles: int
    cycles_per_step: float
    sequence_cycles: np.ndarray
    bound_cycles_per_step: int
    utilization: float
    simulator: str
    wall_seconds: float
    simulation_seconds: float
    waves_path: Path | None
    log_path: Path | None
    host_result: object = None  # what the ``host`` program returned (runtime cores)
    compared: str = "element"  # what ``mismatches`` counts: output elements, or (CTC) label sequences
    sequence_overflow: bool | None = None  # bidirectional cores: the sticky overflow output at the end

    def summary(self) -> dict:
        """The JSON summary (``rnnhw simulate --json``)."""
        return {
            "bit_exact": self.bit_exact, "mismatches": self.mismatches, "first_mismatch": self.first_mismatch,
            "notes": list(self.notes), "sequences": self.sequences, "timesteps": self.timesteps,
            "cycles": self.cycles, "cycles_per_step": self.cycles_per_step,
            "bound_cycles_per_step": self.bound_cycles_per_step, "utilization": self.utilization,
            "simulator": self.simulator, "wall_seconds": self.wall_seconds,
            "simulation_seconds": self.simulation_seconds, "compared": self.compared,
            "waves_path": str(self.waves_path) if self.waves_path else None,
        }


def _signed(raw: np.ndarray, width: int) -> np.ndarray:
    values = raw.astype(np.int64) & ((1 << width) - 1) if width < 64 else raw.astype(np.int64)
    return np.where(values >= 1 << (width - 1), values - (1 << width), values)


def _place(word: str, rtl: str, golden: str) -> str:
    return f"{word}: rtl {rtl}, golden {golden}"


def _compare(layout: StreamLayout, expected_vectors: np.ndarray, received: list[np.ndarray], results: dict,
             timeout_cycles: int):
    """Element-by-element comparison of received frames with the expected vectors.

    Returns the received vectors ``[vectors, size]`` (0 where missing), the mismatch count, the first
    mismatch's description and the protocol notes.
    """
    size, count = layout.vector_size, layout.vectors
    got = np.zeros((count, size), dtype=np.int64)
    mismatches, first, notes = 0, "", []

    def where(vector: int, unit: int) -> str:
        sequence, timestep = layout.vector_position(vector)
        return f"sequence {sequence}, timestep {timestep}, unit {unit}"

    for k in range(count):
        frame = received[k] if k < len(received) else None
        want = expected_vectors[k]
        if frame is None:
            missing = f"nothing (timed out after {timeout_cycles:,} cycles)" if bool(results["timed_out"]) \
                else "nothing"
            mismatches += size * (count - k)
            first = first or _place(where(k, 0), missing, str(want[0]))
            notes.append(f"the RTL sent {len(received)} of {count} output vectors")
            break
        n = min(len(frame), size)
        got[k, :n] = frame[:n]
        wrong = np.flatnonzero(frame[:n] != want[:n])
        mismatches += len(wrong) + abs(len(frame) - size)
        if len(wrong) and not first:
            unit = int(wrong[0])
            first = _place(where(k, unit), str(int(frame[unit])), str(int(want[unit])))
        if len(frame) != size:
            sequence, timestep = layout.vector_position(k)
            text = (f"sequence {sequence}, timestep {timestep}: the RTL sent a vector of {len(frame)} "
                    f"elements, expected {size} (m_axis_tlast misplaced)")
            notes.append(text)
            first = first or text
    extra = int(results["extra_frames"]) + max(0, len(received) - count)
    if extra:
        notes.append(f"the RTL sent {extra} output vector(s) more than the {count} expected")
        mismatches += extra * size
        first = first or notes[-1]
    if bool(results["timed_out"]) and len(received) >= count:
        notes.append(f"timed out after {timeout_cycles:,} cycles")
    if bool(results["inputs_left"]):
        notes.append("the RTL did not accept every input element (s_axis_tready stayed low)")
        first = first or notes[-1]
    return got, mismatches, first, tuple(notes)


def _compare_labels(expected: np.ndarray, received: list[np.ndarray], results: dict, timeout_cycles: int):
    """Frame-by-frame comparison of decoded label sequences (CTC): the received labels ``[N, T]``
    (padded with -1; missing sequences decode to nothing), the count of sequences that differ (plus
    extra frames), the first difference and the protocol notes."""
    want = stream_frames(expected)
    got = labels_from_frames(received[: len(want)], expected.shape[1])
    got = np.vstack([got, np.full((len(want) - len(got), expected.shape[1]), PAD, dtype=np.int64)])
    mismatches, first, notes = 0, "", []
    for n, frame in enumerate(want):
        rtl = [int(v) for v in received[n]] if n < len(received) else None
        if rtl != frame:
            mismatches += 1
            shown = "nothing" if rtl is None else str(rtl)
            first = first or _place(f"sequence {n} labels", shown, str(frame))
    if len(received) < len(want):
        missing = f" (timed out after {timeout_cycles:,} cycles)" if bool(results["timed_out"]) else ""
        notes.append(f"the RTL sent {len(received)} of {len(want)} label sequences{missing}")
    extra = int(results["extra_frames"]) + max(0, len(received) - len(want))
    if extra:
        notes.append(f"the RTL sent {extra} label sequence(s) more than the {len(want)} expected")
        mismatches += extra
        first = first or notes[-1]
    if bool(results["inputs_left"]):
        notes.append("the RTL did not accept every input element (s_axis_tready stayed low)")
        first = first or notes[-1]
    return got, mismatches, first, tuple(notes)


def _cycle_counts(layout: StreamLayout, results: dict) -> tuple[int, np.ndarray]:
    in_start, out_end = results["in_start"], results["out_end"]
    sequences = len(layout.lengths)
    last_vector = np.cumsum(layout.vectors_per_sequence) - 1
    per_sequence = np.zeros(sequences, dtype=np.int64)
    for n in range(sequences):
        if n < len(in_start) and last_vector[n] < len(out_end):
            per_sequence[n] = out_end[last_vector[n]] - in_start[n] + 1
    total = int(out_end[-1] - in_start[0] + 1) if len(in_start) and len(out_end) else 0
    return total, per_sequence


def _stream_elements(x_int: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Every sequence's elements, timestep after timestep, concatenated (the input stream)."""
    mask = np.arange(x_int.shape[1])[None, :] < lengths[:, None]
    return x_int[mask].reshape(-1)


def _interleaved_frames(x_int: np.ndarray, lengths: np.ndarray, streams: int):
    """An interleaved core's input: sequence ``n`` goes to stream ``n % streams``; a stream with fewer
    timesteps than the longest gets a padding sequence of zeros (the walk is round-robin, so every
    stream must keep being fed). Returns the frames (one timestep of one stream each, in the walk's
    order) as ``(elements, tids, ends)`` and the padding sequences' lengths per stream (0: none)."""
    steps = [[(x_int[n, t], t == lengths[n] - 1) for n in range(len(lengths)) if n % streams == s
              for t in range(lengths[n])] for s in range(streams)]
    longest = max(len(each) for each in steps)
    padding = [longest - len(each) for each in steps]
    zeros = np.zeros(x_int.shape[2], dtype=np.int64)
    for s in range(streams):
        steps[s] += [(zeros, t == padding[s] - 1) for t in range(padding[s])]
    frames = [(steps[s][r][0], s, steps[s][r][1]) for r in range(longest) for s in range(streams)]
    elements = np.concatenate([f[0] for f in frames]) if frames else np.zeros(0, dtype=np.int64)
    return (elements, np.array([f[1] for f in frames], dtype=np.int64),
            np.array([f[2] for f in frames], dtype=np.int64)), padding


def _by_sequence(received: list, tids: np.ndarray, vectors_per_sequence, streams: int) -> list:
    """An interleaved core's output vectors in the golden model's order (sequence ``n`` from stream
    ``n % streams``, each stream's in order); a stream's padding outputs, and anything after the first
    missing vector, left out."""
    queues = [[frame for frame, tid in zip(received, tids, strict=True) if tid == s] for s in range(streams)]
    ordered = []
    for n, count in enumerate(vectors_per_sequence):
        queue = queues[n % streams]
        if len(queue) < count:
            break
        ordered += queue[:count]
        del queue[:count]
    return ordered


def simulate_stream(verilog: str, x_int, lengths, expected, *, mode: str, simulator: str = "verilator",
                    waves: bool = False, backpressure: bool = False, progress: bool = True,
                    build_dir="build/sim", seed: int = 0, toplevel: str = "rnnhw_top",
                    bound_cycles_per_step: int = 0, timeout_cycles: int | None = None,
                    reset_after: int | None = None, waves_dir=None,
                    host: Callable[[RemoteBus], object] | None = None, dropped=None,
                    streams: int = 1) -> SimResult:
    """Stream ``x_int`` through the design in ``verilog`` and compare its outputs with ``expected``.

    Parameters
    ----------
    verilog : str
        The design; its top-level module ``toplevel`` has the accelerator's ports (``clk``, ``rst``,
        ``s_axis_*`` with ``tdata`` as wide as the input integers, ``m_axis_*``).
    x_int : array_like of int
        Input integers ``[N, T, I]``.
    lengths : array_like of int, optional
        Timesteps of each sequence (default all ``T``).
    expected : array_like of int
        Expected outputs in the golden model's layout for ``mode``.
    mode : {"head", "sequences", "final", "labels"}
        Output layout (see :class:`StreamLayout`); ``"labels"``: ``expected`` holds decoded CTC labels
        ``[N, T]`` padded with -1, each sequence one frame (:mod:`rnnhw.spec.ctc`).
    simulator : {"verilator", "icarus"}
    waves : bool
        Write a wave trace (``SimResult.waves_path``): FST, or VCD where Verilator cannot write FST
        (see :func:`rnnhw.sim.tools.waves_format`).
    backpressure : bool
        Random pauses on both streams (probability :data:`BACKPRESSURE_PAUSE` per cycle each).
    progress : bool
        Progress lines on stderr.
    build_dir : str or Path
        Where models are built and kept (see :func:`rnnhw.sim.runner.build_model`).
    seed : int
        Seed of the pause generators and cocotb.
    bound_cycles_per_step : int
        The schedule bound, for ``utilization`` (0: unknown).
    timeout_cycles : int, optional
        Give up after this many cycles (default: generous, from the bound and the data size).
    reset_after : int, optional
        First stream sequence 0 alone and assert ``rst`` once the design has accepted this many of its
        elements; then run the whole batch from the clean state.
    waves_dir : str or Path, optional
        Where to put the wave file (default: the run's folder under ``build_dir``).
    host : callable, optional
        A host program for the design's AXI4-Lite port (``s_axil_*``, runtime cores):
        ``host(bus)`` with a :class:`rnnhw.sim.axil.RemoteBus` runs after the reset and before any
        input is sent (e.g. it loads the weights); it may call ``bus.go()`` to start the stream and
        go on accessing the port while it runs. What it returns is ``SimResult.host_result``.

    dropped : array_like of bool, optional
        Sequences the design must drop without output (a bidirectional core's sequences longer than
        ``hardware.max_sequence_length``); their rows of ``expected`` are not compared.
    streams : int
        Interleaved streams of the design (``hardware.interleave``): sequence ``n`` goes to stream
        ``n % streams``, all streams at once, one timestep of each in turn (streams with fewer timesteps
        get a padding sequence of zeros, whose outputs are not compared). ``cycles_per_step`` counts the
        timesteps of all streams, padding included; ``sequence_cycles`` is zero.

    Returns
    -------
    SimResult
    """
    started = time.monotonic()
    x_int = np.asarray(x_int, dtype=np.int64)
    if x_int.ndim != 3:
        raise UserError(f"inputs must have shape [N, T, I], not {list(x_int.shape)}")
    lengths = check_batch(x_int, x_int.shape[2], lengths)
    batch, _, inputs = x_int.shape
    expected = np.asarray(expected, dtype=np.int64)
    kept = np.ones(batch, dtype=bool) if dropped is None else ~np.asarray(dropped, dtype=bool)
    out_vectors = StreamLayout(mode, 1, lengths).vectors_per_sequence * kept
    expected, lengths_in = expected[kept], lengths
    lengths = lengths[kept]
    layout = StreamLayout(mode, 1 if mode == "labels" else int(expected.shape[-1]), lengths)
    if mode == "labels" and (expected.ndim != 2 or expected.shape[0] != batch or
                             expected.shape[1] < int(lengths.max())):
        raise ValueError(f"expected labels have shape {expected.shape}, not [{batch}, T]")
    if mode != "labels" and expected.shape != layout.shape():
        raise ValueError(f"expected outputs have shape {expected.shape}, not {layout.shape()} "
                         f"for mode {mode!r}")
    timesteps = int(lengths.sum())
    if timeout_cycles is None:
        per_step = (bound_cycles_per_step or 1000) + inputs + layout.vector_size
        timeout_cycles = 10 * (int(lengths_in.sum()) * per_step + batch * layout.vector_size) + 10_000
    if streams > 1 and (reset_after is not None or dropped is not None):
        raise ValueError("reset_after and dropped are not supported with interleaved streams")
    if reset_after is not None and not 0 <= reset_after <= int(lengths_in[0]) * inputs:
        raise ValueError(f"reset_after must lie in 0..{int(lengths_in[0]) * inputs}, not {reset_after!r}")

    def announce(message: str) -> None:
        if progress:
            print(f"  {message}", file=sys.stderr)

    model = build_model(verilog, simulator=simulator, toplevel=toplevel, waves=waves, build_dir=build_dir,
                        announce=announce)
    # The run's folder goes if anything below fails or is interrupted (see run_folder).
    with run_folder(model) as run_dir:
        stimulus, results_path = run_dir / "stimulus.npz", run_dir / "results.npz"
        progress_path = run_dir / "progress"
        sequence_input = dict(in_data=_stream_elements(x_int, lengths_in), in_counts=lengths_in * inputs)
        padding = [0]
        if streams > 1:
            (elements, tids, ends), padding = _interleaved_frames(x_int, lengths_in, streams)
            sequence_input = dict(in_data=elements, in_counts=np.full(len(tids), inputs), in_tids=tids, in_ends=ends)
            padded = StreamLayout(mode, 1, np.array([p for p in padding if p], dtype=np.int64))
            out_vectors = np.concatenate([out_vectors, padded.vectors_per_sequence])
        np.savez(
            stimulus, **sequence_input,
            out_vectors=out_vectors, vector_size=np.int64(layout.vector_size),
            reset_data=x_int[0, :lengths_in[0]].reshape(-1),
            reset_after=np.int64(-1 if reset_after is None else reset_after),
            pause_in=np.float64(BACKPRESSURE_PAUSE if backpressure else 0.0),
            pause_out=np.float64(BACKPRESSURE_PAUSE if backpressure else 0.0),
            seed=np.int64(seed), timeout_cycles=np.int64(timeout_cycles),
        )

        report = Progress("simulating: output vectors", int(out_vectors.sum()), quiet=not progress)
        shown = [-1]

        def show_progress() -> None:
            try:
                done, _, cycle = (int(word) for word in progress_path.read_text().split())
            except (OSError, ValueError):
                return
            if cycle != shown[0]:
                shown[0] = cycle
                report.what = f"simulating: cycle {cycle:,}, output vectors"
                report.update(done)

        waves_path = None
        if waves:
            target = Path(waves_dir) if waves_dir is not None else run_dir
            target.mkdir(parents=True, exist_ok=True)
            waves_path = (target / f"{toplevel}.{waves_format(model.simulator.name)}").resolve()
        env = {STIMULUS_ENV: str(stimulus), RESULTS_ENV: str(results_path), PROGRESS_ENV: str(progress_path)}
        simulation_started = time.monotonic()
        try:
            with serve(host) if host is not None else contextlib.nullcontext(({}, lambda: None)) as (bus_env,
                                                                                                 finish):
                run_testbench(model, run_dir, {**env, **bus_env}, waves_file=waves_path, seed=seed,
                              on_wait=show_progress)
                host_result = finish()
        except BaseException:
            if waves_path is not None:  # a partial trace is of no use and may be huge
                waves_path.unlink(missing_ok=True)
            raise
        simulation_seconds = time.monotonic() - simulation_started
        show_progress()
        with np.load(results_path) as data:
            results = dict(data)

    out_data = _signed(results["out_data"], int(results["output_width"]))
    bounds = np.concatenate([[0], np.cumsum(results["out_counts"])])
    received = [out_data[bounds[k]:bounds[k + 1]] for k in range(len(results["out_counts"]))]
    if streams > 1:
        padding_vectors = int(out_vectors.sum()) - layout.vectors
        results["extra_frames"] = results["extra_frames"] + max(0, len(received) - layout.vectors - padding_vectors)
        received = _by_sequence(received, results["out_tids"], layout.vectors_per_sequence, streams)
    if mode == "labels":
        got, mismatches, first, notes = _compare_labels(expected, received, results, timeout_cycles)
    else:
        got, mismatches, first, notes = _compare(layout, layout.flatten(expected), received, results,
                                                 timeout_cycles)
        got = layout.unflatten(got)
    cycles, sequence_cycles = _cycle_counts(layout, results)
    streamed = timesteps
    if streams > 1:  # all streams' timesteps, padding included; no per-sequence times
        streamed += sum(padding)
        sequence_cycles = np.zeros(len(lengths), dtype=np.int64)
        cycles = int(results["out_end"].max() - results["in_start"][0] + 1) \
            if len(results["in_start"]) and len(results["out_end"]) else 0
    cycles_per_step = cycles / streamed if streamed else 0.0
    bit_exact = mismatches == 0 and not notes
    log_path = run_dir / "sim.log"
    if bit_exact and not waves:
        shutil.rmtree(run_dir, ignore_errors=True)
        log_path = None
    return SimResult(
        outputs=got, expected=expected, bit_exact=bit_exact, mismatches=mismatches,
        first_mismatch=first, notes=notes, sequences=len(lengths), timesteps=timesteps, cycles=cycles,
        cycles_per_step=cycles_per_step, sequence_cycles=sequence_cycles,
        bound_cycles_per_step=bound_cycles_per_step,
        utilization=bound_cycles_per_step / cycles_per_step if cycles_per_step else 0.0,
        simulator=model.simulator.name, wall_seconds=time.monotonic() - started,
        simulation_seconds=simulation_seconds, waves_path=waves_path, log_path=log_path,
        host_result=host_result,
        compared="label sequence" if mode == "labels" else "element",
        sequence_overflow=None if int(results["sequence_overflow"]) < 0 else bool(results["sequence_overflow"]),
    )


def run_simulation(config: Config, qweights, x_int, lengths=None, *, simulator: str = "verilator",
                   waves: bool = False, backpressure: bool = False, progress: bool = True,
                   build_dir="build/sim", verilog: str | None = None, seed: int = 0,
                   reset_after: int | None = None, waves_dir=None,
                   timeout_cycles: int | None = None, host=None) -> SimResult:
    """Simulate the accelerator for ``config`` and compare it bit for bit with the golden model.

    Parameters
    ----------
    config : Config
    qweights : QuantizedWeights
        From :func:`rnnhw.spec.weights.quantize_weights`.
    x_int : array_like of int
        Quantized inputs ``[N, T, I]`` (``GoldenModel.quantize_inputs``), within ``numerics.input``.
    lengths : array_like of int, optional
        Timesteps of each sequence, in ``1..T`` (default all ``T``).
    simulator : {"verilator", "icarus"}
    waves : bool
        Write a wave trace (FST, else VCD); its path is ``SimResult.waves_path``.
    backpressure : bool
        Random pauses on both AXI streams.
    progress : bool
        Progress lines on stderr.
    build_dir : str or Path
        Where simulation models are built once and reused.
    verilog : str, optional
        The design to simulate (default: ``rnnhw.rtl.top.generate_verilog(config, qweights)``); its
        top-level module must be ``rnnhw_top``.
    seed : int
        Seed of the random pauses.
    reset_after, waves_dir, timeout_cycles, host
        As for :func:`simulate_stream`. A runtime core (``hardware.weights = "runtime"``) computes with
        the weights its ``host`` program loads (see :mod:`rnnhw.driver`); ``qweights`` are the golden model's.

    Returns
    -------
    SimResult
        With ``bound_cycles_per_step`` from :func:`bound_cycles_per_step` and ``expected`` from
        ``GoldenModel(config, qweights).run(x_int, lengths).outputs``.

    Raises
    ------
    UserError
        Inputs of the wrong shape or outside ``numerics.input``, bad lengths, missing simulator.
    VerificationError
        The simulator could not build or run the design (not raised for mismatches: see ``bit_exact``).
    """
    from rnnhw.golden.model import GoldenModel

    x_int = np.asarray(x_int)
    if x_int.dtype.kind not in "iu":
        raise UserError(f"x_int must hold integers (quantize the inputs first), not {x_int.dtype}")
    x_int = x_int.astype(np.int64)
    fmt = config.numerics.input
    if x_int.size and (x_int.min() < fmt.min_int or x_int.max() > fmt.max_int):
        raise UserError(f"input integers must lie in {fmt.min_int}..{fmt.max_int} (numerics.input = {fmt}); "
                        f"found {x_int.min()}..{x_int.max()}")
    if config.hardware.weights == "runtime" and host is None:
        raise UserError('a core with hardware.weights = "runtime" computes with the weights a host program loads '
                        "through AXI4-Lite; pass host= (e.g. rnnhw.runtime.load_program)")
    golden = GoldenModel(config, qweights).run(x_int, lengths)
    expected = golden.labels if config.model.ctc else golden.outputs
    if verilog is None:
        try:
            from rnnhw.rtl.top import generate_verilog
        except ImportError as exc:
            raise UserError(f"the RTL generator is not available ({exc}); pass the Verilog explicitly"
                            ) from None
        runtime = config.hardware.weights == "runtime"
        with Heartbeat("generating the Verilog", quiet=not progress):
            verilog = generate_verilog(config, None if runtime else qweights, name="rnnhw_top")
    return simulate_stream(
        verilog, x_int, lengths, expected, mode=output_mode(config), simulator=simulator, waves=waves,
        backpressure=backpressure, progress=progress, build_dir=build_dir, seed=seed,
        bound_cycles_per_step=bound_cycles_per_step(config), timeout_cycles=timeout_cycles,
        reset_after=reset_after, waves_dir=waves_dir, host=host, streams=config.hardware.interleave,
    )

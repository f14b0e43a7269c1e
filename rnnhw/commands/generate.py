"""``rnnhw generate``: write the accelerator's Verilog, a JSON description and an integration README."""

from __future__ import annotations

import json
import re
import sys
import warnings
from pathlib import Path

from rnnhw.cheader import c_header
from rnnhw.integration import integration_readme
from rnnhw.spec.config import load_config
from rnnhw.spec.datapath import datapath
from rnnhw.spec.design import design_summary
from rnnhw.spec.errors import UserError
from rnnhw.spec.outputs import Heartbeat, atomic_dir, check_output_dir
from rnnhw.spec.weights import QuantizationWarning

from ._options import (
    add_config_argument,
    add_fit_options,
    add_weights_options,
    baked_weights,
    check_fit_options,
    report_fit,
)

__all__ = ["register", "run"]

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "generate",
        help="generate the accelerator's Verilog",
        description="Generate synthesizable Verilog for CONFIG with the weights baked into on-chip memories "
        '(hardware.weights = "rom"), or without weights for a core that loads them at run time through '
        'AXI4-Lite (hardware.weights = "runtime", no weights options). '
        "Writes DIR/NAME.v (deterministic: same inputs, same file), DIR/NAME.json (schedule, cycles per step, "
        "memory sizes, tables, ports), DIR/README.md (ports and protocol for integration; for runtime cores "
        "the register map and weight window) and, for runtime cores, DIR/NAME.h (the register map for C).",
    )
    add_config_argument(parser)
    add_weights_options(parser, required=False)
    parser.add_argument("-o", "--output", metavar="DIR", required=True,
                        help="output directory (created if missing; its parent must exist)")
    parser.add_argument("--name", default="rnnhw_top",
                        help="Verilog module name of the top level and the files' base name (default: rnnhw_top)")
    add_fit_options(parser)
    parser.set_defaults(func=run)


def run(args) -> int:
    if not _IDENTIFIER.match(args.name):
        raise UserError(f"--name {args.name!r} is not a Verilog identifier; use letters, digits and _ "
                        "(not starting with a digit)")
    check_fit_options(args)
    output = Path(args.output)
    check_output_dir(output, inputs=(args.config, args.weights),
                     files=(f"{args.name}.v", f"{args.name}.json", "README.md"))
    config = load_config(args.config)
    datapath(config)  # refuse impossible numerics before any work
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", QuantizationWarning)
        qweights = baked_weights(args, config)
    for warning in caught:
        warnings.warn(str(warning.message), QuantizationWarning, stacklevel=1)
    report_fit(args, config, stream=sys.stderr)  # before generating, which takes long for a huge design

    from rnnhw.rtl.top import generate_verilog  # Amaranth is imported only when needed

    summary = design_summary(config, args.name)
    runtime = config.hardware.weights == "runtime"
    with Heartbeat(f"generating the Verilog ({summary['weight_memory']['bits']:,} weight bits)"):
        verilog_text = generate_verilog(config, qweights, name=args.name)
    with atomic_dir(output) as tmp:
        (tmp / f"{args.name}.v").write_text(verilog_text)
        (tmp / f"{args.name}.json").write_text(json.dumps(summary, indent=2) + "\n")
        (tmp / "README.md").write_text(integration_readme(summary))
        if runtime:
            (tmp / f"{args.name}.h").write_text(c_header(config, args.name))
    print(f"{config.model.cell} I={config.model.input_size} H={config.model.hidden_size} "
          f"layers={config.model.num_layers} head={config.model.head} on {summary['lanes']} lanes: "
          f"{summary['expected_cycles_per_step']} cycles/step (bound {summary['bound_cycles_per_step']}), "
          f"{summary['weight_memory']['bits']:,} weight bits" + (", loaded at run time" if runtime else ""))
    for suffix in (".v", ".json", ".h") if runtime else (".v", ".json"):
        print(f"wrote {output / (args.name + suffix)}")
    print(f"wrote {output / 'README.md'}")
    return 0

"""``rnnhw calibrate``: choose each format's integer bits from the weights and the activations on data.

See :mod:`rnnhw.calibration` for what is measured and the rule; widths are kept, so the hardware's
size does not change, only where its binary points lie.
"""

from __future__ import annotations

from rnnhw.calibration import calibrate_config, observe_ranges
from rnnhw.commands._options import DATA_HELP, add_config_argument, output_path
from rnnhw.datasets import load_data
from rnnhw.spec.config import load_config
from rnnhw.spec.outputs import atomic_file
from rnnhw.spec.weights import load_weights

__all__ = ["register", "run"]


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "calibrate",
        help="choose the integer bits of every format from the weights and the activations on data",
        description="Run the float reference on the data, measure the largest magnitude of the inputs, "
        "weights, biases, hidden states, LSTM cell states, pre-activations and head outputs, and give each "
        "format the fewest integer bits that hold it (widths unchanged, so every spare bit becomes a "
        "fractional bit). Writes CONFIG with the new formats to NEW.toml. On 'digits' it calibrates on the "
        "train split (the test split stays for measuring accuracy).",
    )
    add_config_argument(parser)
    parser.add_argument("--weights", metavar="W", required=True,
                        help="weights file (.npz, .pt or .pth with PyTorch names) matching CONFIG")
    parser.add_argument("--data", metavar="D", required=True,
                        help=f"calibration data: {DATA_HELP}; labels and targets are not needed here")
    parser.add_argument("-o", "--output", metavar="NEW.toml", required=True,
                        help="where to write the calibrated configuration (.toml; may be CONFIG itself)")
    parser.set_defaults(func=run)


def _magnitude(value) -> str:
    return "unused" if value is None else f"{value:.4g}"


def run(args) -> int:
    # Writing over CONFIG is allowed (documented): the calibrated file replaces the one it came from.
    output = output_path(args.output, "-o", (".toml",), inputs=(args.weights, args.data))
    config = load_config(args.config)
    weights = load_weights(args.weights, config)
    data = load_data(args.data, split="train", require_targets=False)
    data.check_features(config)
    ranges = observe_ranges(config, weights, data, progress=True)
    calibrated = calibrate_config(config, ranges)
    with atomic_file(output) as tmp:
        tmp.write_text(calibrated.to_toml())
    print(f"calibrated on {data.name}: {data.size:,} sequences")
    print(f"  {'format':<10}  {'max |value|':>11}  {'was':<14}  now")
    for kind, value in ranges.as_dict().items():
        before, after = getattr(config.numerics, kind), getattr(calibrated.numerics, kind)
        print(f"  {kind:<10}  {_magnitude(value):>11}  {str(before):<14}  {after}")
    print(f"wrote {output}")
    return 0

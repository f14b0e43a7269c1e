"""``rnnhw golden``: run the bit-exact golden model (or the float reference) on the user's inputs.

The golden model quantizes the inputs and weights, runs the integer datapath and writes its outputs
dequantized to float64: exactly the values the generated hardware produces. ``--float`` runs the
unquantized float64 reference instead, for measuring quantization error.
"""

from __future__ import annotations

import warnings

import numpy as np

from rnnhw.commands._options import add_config_argument, output_path
from rnnhw.data import load_inputs, load_lengths
from rnnhw.golden.model import GoldenModel
from rnnhw.spec.config import load_config
from rnnhw.spec.ctc import greedy_decode
from rnnhw.spec.formatting import shape, value_range
from rnnhw.spec.outputs import atomic_file
from rnnhw.spec.weights import QuantizationWarning, load_weights, quantize_weights

__all__ = ["register", "run"]


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "golden",
        help="run the bit-exact golden model (or the float reference) on inputs",
        description="Quantize X.npy and the weights as CONFIG says, run the bit-exact golden model and write "
        "its outputs, dequantized to float64, to Y.npy. Outputs are [N, head] with a head, [N, T, H] with "
        "model.return_sequences ([N, T, head] with a head too), else [N, H] (the last layer's final state; "
        "with model.bidirectional 2H for H, [h_fwd; h_bwd]). "
        "With model.ctc_blank, Y.npy holds the CTC-decoded labels, int64 [N, T] padded with -1. With --float, "
        "run the float64 reference (what PyTorch computes) instead (decoded the same way with CTC).",
    )
    add_config_argument(parser)
    parser.add_argument("--weights", metavar="W", required=True,
                        help="weights file (.npz, .pt or .pth with PyTorch names) matching CONFIG")
    parser.add_argument("--inputs", metavar="X.npy", required=True,
                        help="input sequences: a .npy array of shape [N, T, model.input_size]")
    parser.add_argument("-o", "--output", metavar="Y.npy", required=True,
                        help="where to write the outputs (.npy; float64, or int64 labels with CTC); written "
                        "only if the run succeeds")
    parser.add_argument("--lengths", metavar="L.npy",
                        help="per-sequence lengths: a .npy array of N integers in 1..T (default: all T); "
                        "each sequence's final state is taken at its own last step (with "
                        "model.return_sequences, its outputs past that step are zeros)")
    parser.add_argument("--float", action="store_true", dest="float_reference",
                        help="run the float64 reference model (no quantization) instead of the golden model")
    parser.set_defaults(func=run)


def run(args) -> int:
    output = output_path(args.output, "-o", (".npy",),
                         inputs=(args.config, args.weights, args.inputs, args.lengths))
    config = load_config(args.config)
    weights = load_weights(args.weights, config)
    x = load_inputs(args.inputs, config)
    batch, steps, _ = x.shape
    lengths = load_lengths(args.lengths, batch, steps) if args.lengths else None
    if args.float_reference:
        from rnnhw.golden.float_ref import float_forward

        y = np.asarray(float_forward(config, weights, x, lengths).outputs, dtype=np.float64)
        what = "float reference, no quantization"
        if config.model.ctc:
            y = greedy_decode(y, lengths, config.model.ctc_blank)
            what = "float reference, no quantization, CTC-decoded labels padded with -1"
    else:
        model = GoldenModel(config, quantize_weights(weights, config))
        x_int, saturated = model.quantize_inputs(x)
        if saturated:
            fmt = config.numerics.input
            warnings.warn(f"{saturated:,} of {x.size:,} input values saturated to {fmt} "
                          f"(range {value_range(fmt)})", QuantizationWarning, stacklevel=1)
        result = model.run(x_int, lengths)
        y = result.to_float()
        what = f"golden model, values in {result.output_format}"
        if config.model.ctc:
            y, what = result.labels, "golden model, CTC-decoded labels padded with -1"
    with atomic_file(output) as tmp, open(tmp, "wb") as handle:
        np.save(handle, y)
    print(f"{batch} sequence(s) of {steps} timestep(s) -> outputs {shape(y.shape)} {y.dtype} ({what})")
    print(f"wrote {output}")
    return 0

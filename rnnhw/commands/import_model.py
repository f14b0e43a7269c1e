"""``rnnhw import``: read an ONNX or Keras model and write its rnnhw configuration and weights.

The work is :mod:`rnnhw.importer`; docs/import.md documents what maps to what.
"""

from __future__ import annotations

from rnnhw.importer import import_model

__all__ = ["register", "run"]


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "import",
        help="read an ONNX or Keras model and write its configuration and weights",
        description="Read MODEL.onnx (LSTM, GRU and RNN nodes, forward or bidirectional, stacked, with an optional "
        "linear head) or MODEL.keras (Keras 3: LSTM, GRU, SimpleRNN, Bidirectional of these, and a final Dense) and "
        "write OUT.toml ([model] from the "
        "file, default [numerics] and [hardware]) and OUT.npz beside it (the weights with PyTorch's names and "
        "gate order), so every other command runs on them. Prints what it found. The mapping and what is "
        "refused: docs/import.md.",
    )
    parser.add_argument("model", metavar="MODEL", help="the model file: .onnx or .keras")
    parser.add_argument("-o", "--output", metavar="OUT.toml", required=True,
                        help="where to write the configuration (.toml); the weights go to OUT.npz beside it")
    parser.add_argument("--graph-output", metavar="NAME",
                        help="ONNX only: the graph output that is the model's output (needed when the graph has "
                        "several, e.g. y, h_n, c_n)")
    parser.set_defaults(func=run)


def run(args) -> int:
    result = import_model(args.model, args.output, args.graph_output)
    for line in result.model.summary():
        print(line)
    model = result.config.model
    print(f"wrote {result.config_path} (cell {model.cell}, input {model.input_size}, hidden {model.hidden_size}, "
          f"{model.num_layers} layer(s), head {model.head}, return_sequences "
          f"{str(model.return_sequences).lower()}; default numerics, {result.config.hardware.lanes} lanes)")
    print(f"wrote {result.weights_path}")
    return 0

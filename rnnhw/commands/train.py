"""``rnnhw train``: train a small PyTorch RNN classifier (or regressor) and write its weights and config.

The bundled examples (``examples/digits_*.npz``) are made by this command; ``examples/README.md``
gives the exact invocations.
"""

from __future__ import annotations

import sys

from rnnhw.commands._options import DATA_HELP, integer_option, output_path, positive_float_option
from rnnhw.datasets import DIGIT_STRINGS, DIGITS, load_data
from rnnhw.spec.config import CELLS, GRU_RESETS
from rnnhw.spec.errors import UserError
from rnnhw.spec.outputs import atomic_file
from rnnhw.training import EpochStats, head_size, save_float32_weights, train

__all__ = ["register", "run"]


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train a small RNN with a linear head (PyTorch) and write its weights and configuration",
        description="Train nn.LSTM/nn.GRU/nn.RNN followed by an nn.Linear head on the final hidden state, on "
        "the CPU, deterministically (same seed, same machine: same weights). Classification data (y labels) "
        "trains with cross-entropy, one head output per class; regression data (Y [N] or [N, K]) with mean "
        "squared error; label sequences with --ctc and CTC loss (a head at every step). On 'digits' (and "
        "'digit-strings') it trains on the 70% train split and reports the 30% test split. "
        "Writes the weights with PyTorch names as float32 .npz and, with --config-out, a matching "
        "configuration with default (16-bit) numerics. Progress per epoch goes to stderr. --cell jordan "
        "trains a Jordan network (rnnhw.models.JordanRNN, tanh, identity output) whose output layer gives "
        "the scores (output_size = classes, no head).",
    )
    parser.add_argument("--cell", choices=CELLS, default="lstm", help="recurrent cell (default: lstm)")
    parser.add_argument("--gru-reset", choices=GRU_RESETS, default="after",
                        help="GRU only: apply the reset gate after W_hn (PyTorch's nn.GRU, default) or before it "
                        "(Cho et al. 2014, rnnhw.models.ResetBeforeGRU)")
    parser.add_argument("--bidirectional", action="store_true",
                        help="bidirectional layers (PyTorch's bidirectional=True, model.bidirectional): each layer "
                        "also runs backward from each sequence's last step; the head reads [h_fwd; h_bwd]")
    parser.add_argument("--hidden", type=int, default=32, metavar="H", help="hidden size (default: 32)")
    parser.add_argument("--layers", type=int, default=1, metavar="L", help="stacked layers (default: 1)")
    parser.add_argument("--data", metavar="D",
                        help=f"training data: {DATA_HELP} (default: digits, with --ctc digit-strings)")
    parser.add_argument("--ctc", action="store_true",
                        help="train a CTC sequence labeller with torch.nn.CTCLoss on label sequences (labels "
                        "[N, Lmax] padded with -1; 'digit-strings': 1-5 digit images side by side): the head at "
                        "every step, C = classes + 1 outputs, the blank the last (model.ctc_blank)")
    parser.add_argument("--epochs", type=int, default=40, metavar="N",
                        help="passes through the data (default: 40)")
    parser.add_argument("--seed", type=int, default=0, metavar="S",
                        help="seed of the initial weights and the batch order (default: 0)")
    parser.add_argument("--lr", type=float, default=0.01, metavar="RATE",
                        help="Adam's initial learning rate, cosine-annealed to 0 (default: 0.01)")
    parser.add_argument("--batch-size", type=int, default=32, metavar="B",
                        help="mini-batch size (default: 32)")
    parser.add_argument("-o", "--output", required=True, metavar="W.npz",
                        help="where to write the trained weights (.npz, PyTorch names, float32)")
    parser.add_argument("--config-out", metavar="C.toml",
                        help="also write the matching configuration (.toml) with default numerics and 8 "
                        "lanes")
    parser.set_defaults(func=run)


def _print_epoch(epochs: int):
    def show(stats: EpochStats, metric: str):
        text = (f"  epoch {stats.epoch}/{epochs}: loss {stats.loss:.4f}, "
                f"train {metric} {_metric(metric, stats.train_metric)}")
        if stats.test_metric is not None:
            text += f", test {metric} {_metric(metric, stats.test_metric)}"
        print(text, file=sys.stderr)

    return show


def _metric(name: str, value: float) -> str:
    return f"{value:.6g}" if name == "MSE" else f"{100 * value:.2f}%"


def run(args) -> int:
    if args.gru_reset != "after" and args.cell != "gru":
        raise UserError(f"--gru-reset {args.gru_reset} applies to --cell gru only, not {args.cell}")
    if args.bidirectional and args.cell == "jordan":
        raise UserError("--bidirectional does not apply to --cell jordan (its y feeds back through the output "
                        "layer); use another cell")
    integer_option(args.hidden, "--hidden", 1, 4096)
    integer_option(args.layers, "--layers", 1, 16)
    integer_option(args.epochs, "--epochs", 1, 100_000)
    integer_option(args.batch_size, "--batch-size", 1, 1_000_000)
    integer_option(args.seed, "--seed", 0, 2**63 - 1)
    positive_float_option(args.lr, "--lr")
    source = args.data if args.data is not None else (DIGIT_STRINGS if args.ctc else DIGITS)
    weights_path = output_path(args.output, "-o", (".npz",), inputs=(args.data,))
    config_path = output_path(args.config_out, "--config-out", (".toml",), inputs=(args.data,)) \
        if args.config_out else None
    data = load_data(source, split="train")
    if args.ctc and data.sequences is None:
        raise UserError(f"{data.name}: --ctc trains on label sequences; give data with labels [N, Lmax] padded "
                        f"with -1, or --data {DIGIT_STRINGS}")
    if data.sequences is not None and not args.ctc:
        raise UserError(f"{data.name}: holds label sequences; add --ctc to train a CTC model on them")
    test = load_data(source, split="test") if source in (DIGITS, DIGIT_STRINGS) else None
    head_size(data)  # refuse targets a head cannot fit before announcing the run
    kind = f"bidirectional {args.cell}" if args.bidirectional else args.cell
    print(f"training {kind} (hidden {args.hidden}, {args.layers} layer(s)) on {data.name}: "
          f"{data.size:,} sequences of {data.steps} steps x {data.features} features", file=sys.stderr)
    result = train(data, cell=args.cell, hidden=args.hidden, layers=args.layers, epochs=args.epochs,
                   seed=args.seed, learning_rate=args.lr, batch_size=args.batch_size, test=test,
                   progress=_print_epoch(args.epochs), gru_reset=args.gru_reset, bidirectional=args.bidirectional)
    last = result.history[-1]
    metric = result.metric_name
    summary = f"train {metric} {_metric(metric, last.train_metric)}"
    if last.test_metric is not None:
        summary += f", test {metric} {_metric(metric, last.test_metric)} on {test.name}"
    with atomic_file(weights_path) as tmp_weights:
        save_float32_weights(result.weights, tmp_weights)
        if config_path is not None:
            with atomic_file(config_path) as tmp_config:
                tmp_config.write_text(result.config.to_toml())
    model = result.config.model
    print(f"{'bidirectional ' if model.bidirectional else ''}{model.cell}, hidden {model.hidden_size}, "
          f"{model.num_layers} layer(s), head {model.head}: "
          f"{summary}")
    print(f"wrote {weights_path}")
    if config_path is not None:
        print(f"wrote {config_path}")
    return 0

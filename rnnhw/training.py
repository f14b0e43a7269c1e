"""Training small PyTorch sequence models whose weights rnnhw turns into hardware.

The model is ``nn.LSTM``/``nn.GRU``/``nn.RNN`` (``batch_first``; ``bidirectional=True`` on packed
sequences for a bidirectional model, the head reading ``[h_fwd at the last step; h_bwd at step 0]``), or
:class:`rnnhw.models.ResetBeforeGRU`
for ``gru_reset = "before"``, followed by an ``nn.Linear`` head on the last layer's hidden state at each
sequence's last step; or :class:`rnnhw.models.JordanRNN` (``cell = "jordan"``, tanh, identity output),
whose own output ``y`` at the last step is the output (``output_size`` = the head's size, no head):
exactly what :mod:`rnnhw.golden.float_ref` and the golden model compute. Classification (labels ``y``)
trains with cross-entropy, one output per class; regression (targets ``Y [N]`` or ``[N, K]``) with mean
squared error. Label sequences (``labels [N, Lmax]``, CTC) train the head at every step with
``torch.nn.CTCLoss``: C = classes + 1 head outputs, the blank the last; the metric is the sequence
accuracy of greedy decoding.

Training runs on the CPU in one thread with deterministic algorithms, so a seed reproduces the weights
on the same machine and PyTorch version (other CPUs may round differently in the last bits).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from rnnhw.datasets import Dataset
from rnnhw.sequence_metrics import sequence_accuracy
from rnnhw.spec.config import CELLS, GATES, GRU_RESETS, Config, config_from_dict
from rnnhw.spec.ctc import greedy_decode
from rnnhw.spec.errors import UserError
from rnnhw.spec.weights import Weights, weights_from_tensors

__all__ = ["EpochStats", "TrainingResult", "train", "head_size", "model_config", "save_float32_weights",
           "DEFAULT_LANES"]

#: Lanes of the configurations ``train`` writes (fewer when a layer has fewer gate rows).
DEFAULT_LANES = 8
#: Added to the blank's initial head bias in CTC training.
CTC_BLANK_BIAS = 3.0


@dataclass(frozen=True)
class EpochStats:
    """One epoch: mean training loss and the metric (accuracy or MSE) on the training and test data."""

    epoch: int
    loss: float
    train_metric: float
    test_metric: float | None


@dataclass(frozen=True)
class TrainingResult:
    config: Config
    weights: Weights
    history: tuple[EpochStats, ...]
    task: str

    @property
    def metric_name(self) -> str:
        return _METRICS[self.task]


_METRICS = {"classification": "accuracy", "regression": "MSE", "ctc": "sequence accuracy"}


def _import_torch():
    try:
        import torch
    except ImportError:
        raise UserError("training needs PyTorch; install it with pip install 'rnnhw[torch]'") from None
    return torch


def head_size(data: Dataset) -> int:
    """Head outputs the data asks for: one per class (CTC: and the blank), or one per regression target."""
    if data.sequences is not None:
        return data.classes + 1
    if data.labels is not None:
        return max(2, data.classes)
    if data.targets.ndim == 3:
        raise UserError(f"{data.name}: train fits a head to one target vector per sequence; Y must be [N] or "
                        f"[N, K], not [N, T, K]")
    return 1 if data.targets.ndim == 1 else data.targets.shape[1]


def model_config(cell: str, input_size: int, hidden: int, layers: int, head: int,
                 gru_reset: str = "after", ctc: bool = False, bidirectional: bool = False) -> Config:
    """The configuration of a trained model: default numerics, :data:`DEFAULT_LANES` lanes; with ``ctc``
    the head at every step and the blank its last output.

    The Jordan cell has no head: its output layer (``output_size = head``) gives the scores.
    """
    lanes = min(DEFAULT_LANES, len(GATES[cell]) * hidden)
    extra = {"gru_reset": gru_reset} if gru_reset != "after" else {}
    if bidirectional:
        extra["bidirectional"] = True
    if ctc:
        extra |= {"return_sequences": True, "ctc_blank": head - 1}
    if cell == "jordan":
        extra, head = {**extra, "output_size": head}, 0
    return config_from_dict({
        "model": {"cell": cell, "input_size": input_size, "hidden_size": hidden, "num_layers": layers,
                  "head": head, **extra},
        "hardware": {"lanes": lanes},
    })


def _build_module(torch, config: Config):
    nn = torch.nn
    model = config.model

    class SequenceClassifier(nn.Module):
        def __init__(self):
            super().__init__()
            kinds = {
                "lstm": (nn.LSTM, {}),
                "gru": (nn.GRU, {}),
                "rnn_tanh": (nn.RNN, {"nonlinearity": "tanh"}),
                "rnn_relu": (nn.RNN, {"nonlinearity": "relu"}),
            }
            if model.reset_before:
                from rnnhw.models import ResetBeforeGRU

                self.rnn = ResetBeforeGRU(model.input_size, model.hidden_size, model.num_layers,
                                          bidirectional=model.bidirectional)
            elif model.jordan:
                from rnnhw.models import JordanRNN

                self.rnn = JordanRNN(model.input_size, model.hidden_size, model.output_size, model.num_layers,
                                     nonlinearity=model.nonlinearity, output_activation=model.output_activation)
            else:
                kind, extra = kinds[model.cell]
                self.rnn = kind(model.input_size, model.hidden_size, model.num_layers, batch_first=True,
                                bidirectional=model.bidirectional, **extra)
            # The Jordan cell's y is the output: no head.
            self.head = nn.Linear(model.layer_output_size, model.head) if model.head else nn.Identity()
            if model.ctc:  # blanks likely from the start: no label is emitted before its input is seen
                with torch.no_grad():
                    self.head.bias[model.ctc_blank] += CTC_BLANK_BIAS

        def forward(self, x, last_step):
            if model.bidirectional:
                sequence = self._bidirectional(x, last_step + 1)
            else:
                sequence, _ = self.rnn(x)
            if model.ctc:  # logits at every step
                return self.head(sequence)
            # Every layer is causal, so the state at a sequence's last step ignores the padding after it.
            final = sequence[torch.arange(x.shape[0]), last_step]
            if model.bidirectional:  # [h_fwd at the last step; h_bwd at step 0, where it ends]
                final = torch.cat([final[:, : model.hidden_size], sequence[:, 0, model.hidden_size :]], dim=1)
            return self.head(final)

        def _bidirectional(self, x, lengths):
            """``[h_fwd_t; h_bwd_t]`` at every step, the backward direction starting at each sequence's
            own last step (a packed sequence), 0 past it."""
            if model.reset_before:
                return self.rnn(x, lengths)[0]
            rnn_utils = torch.nn.utils.rnn
            packed = rnn_utils.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
            return rnn_utils.pad_packed_sequence(self.rnn(packed)[0], batch_first=True, total_length=x.shape[1])[0]

    return SequenceClassifier()


@contextlib.contextmanager
def _deterministic(torch):
    threads, deterministic = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(deterministic)


def train(data: Dataset, *, cell: str, hidden: int, layers: int = 1, epochs: int = 40, seed: int = 0,
          learning_rate: float = 0.01, batch_size: int = 32, test: Dataset | None = None,
          progress: Callable[[EpochStats, str], None] | None = None, gru_reset: str = "after",
          bidirectional: bool = False) -> TrainingResult:
    """Train a sequence model with a linear head on ``data``.

    Parameters
    ----------
    data : Dataset
        Training sequences with labels or targets.
    cell, hidden, layers : str, int, int
        ``model.cell``, ``model.hidden_size``, ``model.num_layers``.
    gru_reset : str
        ``model.gru_reset`` of a GRU: ``"after"`` trains ``nn.GRU``, ``"before"``
        :class:`rnnhw.models.ResetBeforeGRU`.
    bidirectional : bool
        ``model.bidirectional``: the modules with ``bidirectional=True`` (not the Jordan cell), fed packed
        sequences, the head reading ``[h_fwd; h_bwd]``.
    epochs, seed, learning_rate, batch_size : int, int, float, int
        Adam with a cosine-annealed learning rate over ``epochs`` passes through shuffled mini-batches.
    test : Dataset, optional
        Held-out data whose metric is reported after every epoch.
    progress : callable, optional
        Called with each epoch's :class:`EpochStats` and the metric's name.

    Returns
    -------
    TrainingResult
        The configuration (default numerics), float weights with PyTorch names, and the history.
    """
    if cell not in CELLS:
        raise ValueError(f"cell must be one of {CELLS}, not {cell!r}")
    if gru_reset not in GRU_RESETS or (gru_reset != "after" and cell != "gru"):
        raise ValueError(f"gru_reset must be one of {GRU_RESETS} (not 'after' only for cell 'gru'), "
                         f"not {gru_reset!r}")
    sizes = {"hidden": hidden, "layers": layers, "epochs": epochs, "batch_size": batch_size}
    for name, value in sizes.items():
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, not {value!r}")
    if data.task is None:
        raise ValueError("training data needs labels or targets")
    torch = _import_torch()
    if bidirectional and cell == "jordan":
        raise ValueError("a Jordan network cannot be bidirectional")
    config = model_config(cell, data.features, hidden, layers, head_size(data), gru_reset, ctc=data.task == "ctc",
                          bidirectional=bidirectional)
    if bidirectional:  # the configuration must take the data's sequences
        config = config.replace("hardware", max_sequence_length=max(data.steps, config.hardware.max_sequence_length))
    if test is not None:
        test.check_against(config)
    task = data.task
    with _deterministic(torch):
        torch.manual_seed(seed)
        module = _build_module(torch, config)
        optimizer = torch.optim.Adam(module.parameters(), lr=learning_rate)
        batches_per_epoch = -(-data.size // batch_size)
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs * batches_per_epoch)
        order = torch.Generator().manual_seed(seed)
        x, last, goal = _tensors(torch, data)
        history = []
        for epoch in range(1, epochs + 1):
            module.train()
            total = 0.0
            for index in torch.randperm(data.size, generator=order).split(batch_size):
                optimizer.zero_grad()
                loss = _loss(torch, task, module(x[index], last[index]), goal[index], last[index])
                loss.backward()
                optimizer.step()
                schedule.step()
                total += float(loss.detach()) * len(index)
            stats = EpochStats(epoch, total / data.size, _metric(torch, module, data),
                               _metric(torch, module, test) if test is not None else None)
            history.append(stats)
            if progress is not None:
                progress(stats, _METRICS[task])
        raw = {name: value.detach().double().numpy() for name, value in module.state_dict().items()}
    return TrainingResult(config, weights_from_tensors(raw, config, "trained model"), tuple(history), task)


def _tensors(torch, data: Dataset):
    x = torch.tensor(data.x, dtype=torch.float32)
    lengths = data.lengths if data.lengths is not None else np.full(data.size, data.steps)
    last = torch.tensor(lengths - 1, dtype=torch.long)
    if data.sequences is not None:
        goal = torch.tensor(data.sequences, dtype=torch.long)
    elif data.labels is not None:
        goal = torch.tensor(data.labels, dtype=torch.long)
    else:
        goal = torch.tensor(data.targets.reshape(data.size, -1), dtype=torch.float32)
    return x, last, goal


def _loss(torch, task: str, outputs, goal, last):
    if task == "ctc":  # the blank is the last class; CTCLoss wants [T, N, C] log-probabilities
        log_probs = torch.nn.functional.log_softmax(outputs, dim=-1).transpose(0, 1)
        target_lengths = (goal >= 0).sum(dim=1)
        return torch.nn.functional.ctc_loss(log_probs, goal.clamp(min=0), last + 1, target_lengths,
                                            blank=outputs.shape[-1] - 1, zero_infinity=True)
    if task == "classification":
        return torch.nn.functional.cross_entropy(outputs, goal)
    return torch.nn.functional.mse_loss(outputs, goal)


def _metric(torch, module, data: Dataset) -> float:
    """Accuracy (classification) or mean squared error (regression) of ``module`` on ``data``."""
    module.eval()
    x, last, goal = _tensors(torch, data)
    with torch.no_grad():
        outputs = module(x, last)
    if data.sequences is not None:
        decoded = greedy_decode(outputs.double().numpy(), last.numpy() + 1, outputs.shape[-1] - 1)
        return sequence_accuracy(decoded, data.sequences)
    if data.labels is not None:
        return float((outputs.argmax(dim=1) == goal).double().mean())
    return float(((outputs - goal) ** 2).double().mean())


def save_float32_weights(weights: Weights, path) -> None:
    """Write PyTorch-named tensors as float32 (PyTorch's own precision: exact, half the size).

    Not atomic by itself: callers write through :func:`rnnhw.spec.outputs.atomic_file`.
    """
    with open(path, "wb") as handle:  # a file object: numpy.savez would append ".npz" to a path without it
        np.savez(handle, **{name: value.astype(np.float32) for name, value in weights.tensors().items()})

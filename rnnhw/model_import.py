"""Importing models from other frameworks: a neutral description of the layers, mapped onto rnnhw's model.

A front end (:mod:`rnnhw.onnx_import`, :mod:`rnnhw.keras_import`) reads a file into an
:class:`ImportedModel`: each recurrent layer with its cell, direction, GRU reset form and weights already
in PyTorch's names and gate order, the optional linear head and what the model outputs. It describes
what the file holds, also what rnnhw cannot run yet; :func:`to_rnnhw` maps the description onto a
:class:`~rnnhw.spec.config.Config` and :class:`~rnnhw.spec.weights.Weights` and refuses, in one place,
what rnnhw cannot run (reverse-only layers, stacks of unlike layers).
:mod:`rnnhw.importer` reads a file with the front end for its suffix and writes the result.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnnhw.spec.config import GATES, Config, ConfigError, HardwareConfig, config_from_dict
from rnnhw.spec.errors import UserError
from rnnhw.spec.weights import LayerWeights, Weights, weights_from_tensors

__all__ = ["ImportedLayer", "ImportedHead", "ImportedModel", "DIRECTIONS", "GRU_RESETS", "DEFAULT_LANES",
           "gates_to_pytorch", "check_layer", "to_rnnhw"]

DIRECTIONS = ("forward", "reverse", "bidirectional")
#: ``after``: PyTorch's form, ``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``; ``before``: the
#: original GRU's, ``n = tanh(W_in x + b_in + W_hn (r * h) + b_hn)``.
GRU_RESETS = ("after", "before")
#: Lanes of the written configuration (fewer when a layer has fewer gate rows).
DEFAULT_LANES = 8


@dataclass(frozen=True)
class ImportedLayer:
    """One recurrent layer as the file describes it.

    ``weights`` holds one :class:`LayerWeights` per direction (forward, then backward), in PyTorch's
    gate order (LSTM i, f, g, o; GRU r, z, n) with separate input and recurrent biases.
    """

    where: str  # how messages name it: 'node "LSTM_0"', 'layer "lstm"'
    cell: str
    weights: tuple[LayerWeights, ...]
    direction: str = "forward"
    gru_reset: str = "after"

    @property
    def input_size(self) -> int:
        return self.weights[0].weight_ih.shape[1]

    @property
    def hidden_size(self) -> int:
        return self.weights[0].weight_hh.shape[1]

    @property
    def output_size(self) -> int:
        return self.hidden_size * len(self.weights)


@dataclass(frozen=True)
class ImportedHead:
    """A linear layer ``y = W h + b`` on the last layer's output: ``weight`` ``[C, H]``, ``bias`` ``[C]``."""

    where: str
    weight: np.ndarray
    bias: np.ndarray


@dataclass(frozen=True)
class ImportedModel:
    """What a file holds: ``source`` names it in messages (``ONNX graph "main_graph"``)."""

    source: str
    layers: tuple[ImportedLayer, ...]
    head: ImportedHead | None = None
    return_sequences: bool = False
    notes: tuple[str, ...] = ()
    steps: int | None = None  # the input's fixed sequence length, None when it varies

    @property
    def bidirectional(self) -> bool:
        return bool(self.layers) and self.layers[0].direction == "bidirectional"

    @property
    def max_sequence_length(self) -> int:
        """What a bidirectional core of this model must hold: the input's fixed length, at least the default."""
        return max(HardwareConfig.max_sequence_length, self.steps or 0)

    def summary(self) -> list[str]:
        """Lines saying what was found: layers, sizes, head, output, notes."""
        lines = [f"{self.source}:"]
        for k, layer in enumerate(self.layers):
            extra = "" if layer.direction == "forward" else f", {layer.direction}"
            lines.append(f"  layer {k}: {layer.cell} {layer.where}, input {layer.input_size}, "
                         f"hidden {layer.hidden_size}{extra}")
        last = self.layers[-1].output_size if self.layers else 0
        if self.head is not None:
            lines.append(f"  head: linear {self.head.where}, {last} -> {self.head.weight.shape[0]}")
        if self.return_sequences:
            outputs = f"every step [N, T, {self.head.weight.shape[0] if self.head else last}]"
        elif self.head is not None:
            outputs = f"head [N, {self.head.weight.shape[0]}]"
        else:
            outputs = f"final hidden state [N, {last}]"
        lines.append(f"  output: {outputs}")
        notes = list(self.notes)
        if self.bidirectional:
            notes.append(f"a bidirectional core holds sequences of up to [hardware] max_sequence_length = "
                         f"{self.max_sequence_length} steps: raise it for longer sequences")
        lines.extend(f"  note: {note}" for note in notes)
        return lines


def gates_to_pytorch(values: np.ndarray, order: tuple[int, ...], axis: int = 0) -> np.ndarray:
    """Reorder gate blocks along ``axis``: block ``j`` of the result is block ``order[j]`` of ``values``."""
    blocks = np.split(np.asarray(values, dtype=np.float64), len(order), axis=axis)
    return np.concatenate([blocks[j] for j in order], axis=axis)


def check_layer(source: str, layer: ImportedLayer):
    """Refuse a layer that runs backward in time only: rnnhw's layers run forward, or both ways."""
    if layer.direction == "reverse":
        raise UserError(f"{source}: {layer.where} runs backward in time only (ONNX direction = \"reverse\" or Keras "
                        "go_backwards); rnnhw has no reverse-only layer (its layers run forward, or both ways when "
                        "bidirectional): export a forward or a bidirectional layer")


def _lanes(cell: str, hidden: int) -> int:
    return min(DEFAULT_LANES, len(GATES[cell]) * hidden)


def _config(model: ImportedModel, table: dict) -> Config:
    """The configuration ``table`` describes; a combination rnnhw's configuration refuses is named for the file."""
    try:
        return config_from_dict(table)
    except ConfigError as exc:
        raise UserError(f"{model.source}: rnnhw cannot run this model: {exc}") from None


def to_rnnhw(model: ImportedModel) -> tuple[Config, Weights]:
    """The rnnhw configuration (default numerics and hardware) and weights of an imported model."""
    if not model.layers:
        raise UserError(f"{model.source}: no recurrent layer found; rnnhw imports LSTM, GRU and simple RNN layers")
    for layer in model.layers:
        check_layer(model.source, layer)
    first = model.layers[0]
    for layer in model.layers[1:]:
        if layer.cell != first.cell:
            raise UserError(f"{model.source}: layers of different cells ({first.cell} {first.where}, "
                            f"{layer.cell} {layer.where}); rnnhw stacks layers of one cell")
        if layer.hidden_size != first.hidden_size:
            raise UserError(f"{model.source}: layers of different hidden sizes ({first.hidden_size} {first.where}, "
                            f"{layer.hidden_size} {layer.where}); rnnhw stacks layers of one hidden_size")
        if layer.direction != first.direction:
            raise UserError(f"{model.source}: {first.direction} ({first.where}) and {layer.direction} "
                            f"({layer.where}) layers; rnnhw stacks layers that are all bidirectional or all forward")
        if layer.gru_reset != first.gru_reset:
            raise UserError(f"{model.source}: GRU layers with the reset gate {first.gru_reset} ({first.where}) and "
                            f"{layer.gru_reset} ({layer.where}) the recurrent matrix; rnnhw stacks layers of one "
                            "form: export every GRU with the same linear_before_reset / reset_after")
    hardware = {"lanes": _lanes(first.cell, first.hidden_size)}
    if model.bidirectional:  # only bidirectional cores hold whole sequences
        hardware["max_sequence_length"] = model.max_sequence_length
    config = _config(model, {
        "model": {"cell": first.cell, "input_size": first.input_size, "hidden_size": first.hidden_size,
                  "num_layers": len(model.layers), "head": 0 if model.head is None else model.head.weight.shape[0],
                  "return_sequences": model.return_sequences, "gru_reset": first.gru_reset,
                  "bidirectional": model.bidirectional},
        "hardware": hardware,
    })
    tensors = {}
    for k, layer in enumerate(model.layers):
        for weights, suffix in zip(layer.weights, ("", "_reverse"), strict=False):  # forward, then backward
            for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                tensors[f"{name}_l{k}{suffix}"] = getattr(weights, name)
    if model.head is not None:
        tensors["head.weight"], tensors["head.bias"] = model.head.weight, model.head.bias
    return config, weights_from_tensors(tensors, config, model.source)

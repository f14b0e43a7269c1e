"""Reading Keras 3 ``.keras`` files without Keras or TensorFlow: the archive's JSON and HDF5 weights.

A ``.keras`` file is a zip archive holding ``config.json`` (the model's layers and their settings) and
``model.weights.h5`` (each layer's variables under ``layers/<path>/vars/<i>``, the group's ``name``
attribute naming its layer). The model must be a ``Sequential`` or a ``Functional`` chain:
``LSTM``/``GRU``/``SimpleRNN`` layers, or ``Bidirectional`` of them (``merge_mode="concat"``: the forward
and backward layers' weights become the ``*_reverse``-paired tensors), ``Dropout`` between them being the
identity in inference, then an optional ``Dense`` head (on a sequence, or ``TimeDistributed(Dense)``: the
head on every step). Keras's gate orders (LSTM i, f, c, o; GRU z, r, h) and its single bias (GRU
``reset_after``: ``[2, 3H]``, input and recurrent; ``reset_after=False``, rnnhw's ``gru_reset = "before"``:
``[3H]``, input only) are converted to PyTorch's; kernels ``[I, G*H]`` are transposed. docs/import.md lists
every mapping and refusal.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np

from rnnhw.model_import import ImportedHead, ImportedLayer, ImportedModel, gates_to_pytorch
from rnnhw.spec.errors import UserError
from rnnhw.spec.weights import LayerWeights

__all__ = ["read_keras", "RECURRENT_LAYERS"]

#: Keras gate block of each PyTorch gate block.
RECURRENT_LAYERS = {"LSTM": (0, 1, 2, 3), "GRU": (1, 0, 2), "SimpleRNN": (0,)}
#: Layers that do nothing in inference.
IDENTITY_LAYERS = ("InputLayer", "Dropout", "SpatialDropout1D", "GaussianNoise", "GaussianDropout", "AlphaDropout")
#: Settings that must keep these values (a recurrent layer's; "activation" is checked per cell).
_RECURRENT_SETTINGS = {"recurrent_activation": "sigmoid", "stateful": False, "return_state": False}


def _where(layer: dict) -> str:
    return f'layer "{layer["config"].get("name", "?")}" ({layer["class_name"]})'


def read_keras(path: Path) -> ImportedModel:
    """Read a Keras 3 ``.keras`` file."""
    config, weights = _open(path)
    layers = _chain(config, path)
    return _Reader(f"Keras model \"{config['config'].get('name', '?')}\" ({path.name})", weights).read(layers)


def _open(path: Path):
    try:
        import h5py
    except ImportError:
        raise UserError("importing Keras models needs the h5py package: pip install h5py") from None
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            missing = [n for n in ("config.json", "model.weights.h5") if n not in names]
            if missing:
                raise UserError(f"{path}: the archive has no {missing[0]}; save the model with model.save(...keras) "
                                "in Keras 3")
            config = json.loads(archive.read("config.json"))
            weights_file = h5py.File(io.BytesIO(archive.read("model.weights.h5")), "r")
    except (zipfile.BadZipFile, json.JSONDecodeError, OSError) as exc:
        raise UserError(f"{path}: not a readable Keras 3 .keras file ({exc})") from None
    arrays, groups = {}, {}
    with weights_file:
        weights_file.visititems(lambda name, item: _collect(arrays, groups, name, item))
    return config, _Weights(arrays, groups)


def _collect(arrays: dict, groups: dict, name: str, item):
    """Each ``.../vars`` group's arrays by the path above it, and which path each layer name has."""
    if not name.endswith("vars") or "name" not in item.attrs:
        return
    path = name.rpartition("/")[0]
    arrays[path] = [np.asarray(item[str(i)], dtype=np.float64) for i in range(len(item))]
    if not path.endswith("/cell"):
        groups.setdefault(str(item.attrs["name"]), path)


class _Weights:
    """A layer's arrays by its name: those of its cell for a recurrent layer."""

    def __init__(self, arrays: dict, groups: dict):
        self.arrays, self.groups = arrays, groups

    def of(self, name: str, part: str = "") -> list[np.ndarray] | None:
        if name not in self.groups:
            return None
        path = self.groups[name] + part
        return self.arrays.get(f"{path}/cell") or self.arrays.get(path)


def _chain(config: dict, path: Path) -> list[dict]:
    """The model's layers in order, from a Sequential or a single-path Functional model."""
    kind, body = config.get("class_name"), config.get("config", {})
    layers = body.get("layers", [])
    if kind == "Sequential":
        return layers
    if kind not in ("Functional", "Model"):
        raise UserError(f"{path}: a {kind} model; rnnhw imports Sequential and Functional Keras models")
    by_name = {layer.get("name", layer["config"].get("name")): layer for layer in layers}
    outputs = body.get("output_layers", [])
    outputs = outputs if outputs and isinstance(outputs[0], list) else [outputs]
    if len(outputs) != 1:
        raise UserError(f"{path}: the model has {len(outputs)} outputs; rnnhw models have one")
    chain, name = [], outputs[0][0]
    while name is not None:
        layer = by_name[name]
        chain.append(layer)
        sources = [arg["config"]["keras_history"][0] for node in layer.get("inbound_nodes", [])
                   for arg in node.get("args", [])
                   if isinstance(arg, dict) and "keras_history" in arg.get("config", {})]
        if len(sources) > 1:
            raise UserError(f"{path}: {_where(layer)} has {len(sources)} inputs; rnnhw imports a chain of layers")
        name = sources[0] if sources else None
    return chain[::-1]


class _Reader:
    def __init__(self, source: str, weights: _Weights):
        self.source, self.weights = source, weights

    def _fail(self, layer: dict, message: str):
        raise UserError(f"{self.source}: {_where(layer)} {message}")

    def read(self, layers: list[dict]) -> ImportedModel:
        recurrent, head, return_sequences, steps = [], None, False, None
        for layer in layers:
            kind = layer["class_name"]
            if kind == "InputLayer":  # batch_shape [N, T, I]: T is None when the length varies
                steps = (layer["config"].get("batch_shape") or [None, None])[1]
            if kind in IDENTITY_LAYERS:
                continue
            if head is not None:
                self._fail(layer, "comes after the Dense head; rnnhw's model ends with the head")
            if kind in RECURRENT_LAYERS or kind == "Bidirectional":
                if recurrent and not return_sequences:
                    self._fail(layer, "reads only the final state of the layer before (return_sequences = False)")
                imported, return_sequences = self._recurrent(layer)
                recurrent.append(imported)
            elif kind in ("Dense", "TimeDistributed"):
                if not recurrent:
                    self._fail(layer, "comes before any recurrent layer; rnnhw supports Dense only as the final head")
                head = self._dense(layer)
            elif kind == "Masking":
                self._fail(layer, "is not supported: give rnnhw each sequence's length with --lengths instead")
            else:
                self._fail(layer, "is not supported; rnnhw imports LSTM, GRU, SimpleRNN, Bidirectional of these, "
                           "Dropout and a final Dense")
        return ImportedModel(self.source, tuple(recurrent), head, return_sequences, steps=steps)

    def _arrays(self, layer: dict, count: int, part: str = "") -> list[np.ndarray]:
        arrays = self.weights.of(layer["config"]["name"], part)
        if arrays is None or len(arrays) < count:
            self._fail(layer, "has no weights in model.weights.h5")
        return arrays

    def _recurrent(self, layer: dict) -> tuple[ImportedLayer, bool]:
        settings = layer["config"]
        if layer["class_name"] == "Bidirectional":
            return self._bidirectional(layer)
        kind, cell = self._cell(layer)
        direction = "reverse" if settings.get("go_backwards") else "forward"
        weights = self._layer_weights(layer, self._arrays(layer, 2 + bool(settings.get("use_bias", True))))
        return (ImportedLayer(_where(layer), cell, (weights,), direction, self._gru_reset(layer)),
                bool(settings.get("return_sequences")))

    def _bidirectional(self, layer: dict) -> tuple[ImportedLayer, bool]:
        """``Bidirectional(forward, merge_mode="concat")``: ``[h_fwd ; h_bwd]`` at each step, as PyTorch's."""
        settings = layer["config"]
        mode = settings.get("merge_mode", "concat")
        if mode != "concat":
            self._fail(layer, f"has merge_mode = {mode!r}; rnnhw concatenates the two directions' outputs "
                       "([h_fwd ; h_bwd], as PyTorch): use merge_mode=\"concat\" (the default)")
        forward = settings["layer"]
        backward = settings.get("backward_layer") or forward  # Keras runs a copy of the layer backward
        if forward["config"].get("go_backwards", False) or not (backward is forward
                                                                 or backward["config"].get("go_backwards")):
            self._fail(layer, "has a forward layer that runs backward (go_backwards=True) or a backward_layer that "
                       "runs forward; rnnhw's bidirectional layer is [forward ; backward] in time")
        (_, cell), reset = self._cell(forward), self._gru_reset(forward)
        if (self._cell(backward), backward["config"].get("units"), self._gru_reset(backward)) != \
                ((forward["class_name"], cell), forward["config"].get("units"), reset):
            self._fail(layer, f"has a backward_layer of another kind ({_where(backward)}) than its layer "
                       f"({_where(forward)}); rnnhw's two directions have the same cell, units and reset form")
        weights = tuple(self._layer_weights(sub, self._arrays(layer, 2 + bool(sub["config"].get("use_bias", True)),
                                                              part))
                        for part, sub in (("/forward_layer", forward), ("/backward_layer", backward)))
        return (ImportedLayer(_where(layer), cell, weights, "bidirectional", reset),
                bool(forward["config"].get("return_sequences")))

    def _cell(self, layer: dict) -> tuple[str, str]:
        kind, settings = layer["class_name"], layer["config"]
        if kind not in RECURRENT_LAYERS:
            self._fail(layer, "is not supported inside Bidirectional; use LSTM, GRU or SimpleRNN")
        activation = settings.get("activation", "tanh")
        if kind == "SimpleRNN":
            if activation not in ("tanh", "relu"):
                self._fail(layer, f"has activation {activation!r}; rnnhw's SimpleRNN supports \"tanh\" and \"relu\"")
            cell = f"rnn_{activation}"
        else:
            if activation != "tanh":
                self._fail(layer, f"has activation {activation!r}; rnnhw supports only the default \"tanh\"")
            cell = kind.lower()
        for key, default in _RECURRENT_SETTINGS.items():
            if key == "recurrent_activation" and kind == "SimpleRNN":
                continue
            if settings.get(key, default) != default:
                self._fail(layer, f"has {key} = {settings[key]!r}; rnnhw supports only {default!r}")
        return kind, cell

    def _gru_reset(self, layer: dict) -> str:
        if layer["class_name"] != "GRU":
            return "after"
        return "after" if layer["config"].get("reset_after", True) else "before"

    def _layer_weights(self, layer: dict, arrays: list[np.ndarray]) -> LayerWeights:
        order = RECURRENT_LAYERS[layer["class_name"]]
        kernel, recurrent = arrays[0], arrays[1]
        rows = recurrent.shape[1]
        bias = arrays[2] if layer["config"].get("use_bias", True) else np.zeros(rows)
        if bias.ndim == 2:  # GRU reset_after: [input bias ; recurrent bias]; otherwise no recurrent bias
            bias_ih, bias_hh = bias[0], bias[1]
        else:
            bias_ih, bias_hh = bias, np.zeros(rows)
        return LayerWeights(gates_to_pytorch(kernel.T, order), gates_to_pytorch(recurrent.T, order),
                            gates_to_pytorch(bias_ih, order), gates_to_pytorch(bias_hh, order))

    def _dense(self, layer: dict) -> ImportedHead:
        """A ``Dense`` head, or ``TimeDistributed(Dense)`` (the same on a sequence: Dense on every step)."""
        dense, part = layer, ""
        if layer["class_name"] == "TimeDistributed":
            dense, part = layer["config"]["layer"], "/layer"
            if dense["class_name"] != "Dense":
                self._fail(layer, f"wraps {dense['class_name']}; rnnhw supports only TimeDistributed(Dense)")
        settings = dense["config"]
        if settings.get("activation", "linear") not in ("linear", None):
            self._fail(dense, f"has activation {settings['activation']!r}; rnnhw's head is linear: rebuild the "
                       "model with activation=None (softmax does not change the predicted class)")
        arrays = self._arrays(layer, 1 + bool(settings.get("use_bias", True)), part)
        kernel = arrays[0]
        if kernel.ndim != 2:
            self._fail(layer, f"has a kernel of shape {list(kernel.shape)}; a head needs [H, C]")
        bias = arrays[1] if settings.get("use_bias", True) else np.zeros(kernel.shape[1])
        return ImportedHead(_where(layer), kernel.T.copy(), bias)

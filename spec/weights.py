"""Weights: PyTorch-named tensors in, validated float arrays and quantized integer arrays out.

Files are ``.npz`` or PyTorch ``state_dict`` files (``.pt``/``.pth``, torch needed only for these)
with PyTorch's names: ``weight_ih_l{k}``, ``weight_hh_l{k}``, ``bias_ih_l{k}``, ``bias_hh_l{k}`` (the
Jordan cell: ``weight_ih_l{k}``, ``weight_yh_l{k}``, ``bias_ih_l{k}``, ``bias_yh_l{k}``,
``weight_hy_l{k}``, ``bias_hy_l{k}``) and
``head.weight``/``head.bias`` (``fc.`` is accepted for the head). A bidirectional model
(``model.bidirectional``) has each layer's backward direction under the same names with ``_reverse``
appended (``weight_ih_l{k}_reverse``, ...), as ``nn.LSTM(bidirectional=True)`` names them; layer k > 0's
``weight_ih`` then reads ``[h_fwd; h_bwd]`` of the layer below (``2H`` columns), as does the head.
A module prefix common to the RNN tensors (``rnn.``, ``lstm.``, ...) is stripped.
Gate order is PyTorch's (LSTM i,f,g,o; GRU r,z,n).
"""

from __future__ import annotations

import re
import warnings
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .config import Config
from .errors import UserError
from .fixed import quantize
from .outputs import atomic_file
from .torchfile import UnsupportedFile, read_state_dict

__all__ = ["LayerWeights", "Weights", "QuantizedLayer", "QuantizedWeights", "load_weights", "random_weights",
           "quantize_weights", "save_weights", "QuantizationWarning"]


class QuantizationWarning(UserWarning):
    """Values saturated while quantizing weights, or a narrow accumulator."""


@dataclass(frozen=True)
class LayerWeights:
    """One layer's tensors. The Jordan cell's recurrent ones are ``weight_yh``/``bias_yh`` (held in
    ``weight_hh``/``bias_hh``: ``[H, O]``, ``[H]``) and its output layer ``weight_hy`` ``[O, H]``,
    ``bias_hy`` ``[O]``."""

    weight_ih: np.ndarray  # [G*H, I]
    weight_hh: np.ndarray  # [G*H, H] (Jordan: W_yh [H, O])
    bias_ih: np.ndarray  # [G*H]
    bias_hh: np.ndarray  # [G*H]
    weight_hy: np.ndarray | None = None  # Jordan: [O, H]
    bias_hy: np.ndarray | None = None  # Jordan: [O]


@dataclass(frozen=True)
class Weights:
    """``layers``: each layer's forward direction; ``reverse_layers``: its backward direction when the
    model is bidirectional (PyTorch's ``*_reverse`` tensors), else ``()``."""

    layers: tuple[LayerWeights, ...]
    head_weight: np.ndarray | None = None  # [head, H] (bidirectional: [head, 2H])
    head_bias: np.ndarray | None = None  # [head]
    reverse_layers: tuple[LayerWeights, ...] = ()

    def tensors(self) -> dict[str, np.ndarray]:
        """PyTorch-named tensors (the format :func:`save_weights` writes), in ``state_dict`` order."""
        out = {}
        for k, layer in enumerate(self.layers):
            directions = [(layer, "")] + ([(self.reverse_layers[k], _REVERSE)] if self.reverse_layers else [])
            for direction, suffix in directions:
                for name, field in _layer_names(direction.weight_hy is not None):
                    out[f"{name}_l{k}{suffix}"] = getattr(direction, field)
        if self.head_weight is not None:
            out["head.weight"], out["head.bias"] = self.head_weight, self.head_bias
        return out


#: Appended to a layer's tensor names for its backward direction (PyTorch's ``bidirectional=True``).
_REVERSE = "_reverse"


def _layer_names(jordan: bool) -> tuple[tuple[str, str], ...]:
    """(tensor name, :class:`LayerWeights` field) of a layer's tensors."""
    if jordan:
        return (("weight_ih", "weight_ih"), ("weight_yh", "weight_hh"), ("bias_ih", "bias_ih"),
                ("bias_yh", "bias_hh"), ("weight_hy", "weight_hy"), ("bias_hy", "bias_hy"))
    return tuple((name, name) for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))


@dataclass(frozen=True)
class QuantizedLayer:
    """Integers in the weight and bias formats, rows in PyTorch's gate-major order.

    ``bias`` is ``b_ih + b_hh`` quantized once, except for the (reset-after) GRU's n rows, which hold
    ``b_in`` only: that GRU keeps ``b_hn`` apart (``bias_hn``) because it is added inside
    ``r * (W_hn h + b_hn)``. The reset-before GRU adds ``b_hn`` with ``b_in`` like the other rows.
    """

    w_ih: np.ndarray
    w_hh: np.ndarray
    bias: np.ndarray
    bias_hn: np.ndarray | None
    w_hy: np.ndarray | None = None  # Jordan: the output layer
    bias_hy: np.ndarray | None = None


@dataclass(frozen=True)
class QuantizedWeights:
    """``layers``: forward directions; ``reverse_layers``: backward directions (bidirectional), else ``()``."""

    layers: tuple[QuantizedLayer, ...]
    head_weight: np.ndarray | None
    head_bias: np.ndarray | None
    saturated: dict[str, tuple[int, int]]  # kind -> (saturated, total)
    reverse_layers: tuple[QuantizedLayer, ...] = ()


def expected_shapes(config: Config) -> dict[str, tuple[int, ...]]:
    model = config.model
    gh, h = model.gates * model.hidden_size, model.hidden_size
    shapes = {}
    for k in range(model.num_layers):
        recurrent = "yh" if model.jordan else "hh"
        for suffix in ("", _REVERSE)[: model.directions]:
            shapes[f"weight_ih_l{k}{suffix}"] = (gh, model.layer_input_size(k))
            shapes[f"weight_{recurrent}_l{k}{suffix}"] = (gh, model.recurrent_size)
            shapes[f"bias_ih_l{k}{suffix}"] = (gh,)
            shapes[f"bias_{recurrent}_l{k}{suffix}"] = (gh,)
        if model.jordan:
            shapes[f"weight_hy_l{k}"] = (model.output_size, h)
            shapes[f"bias_hy_l{k}"] = (model.output_size,)
    if model.head:
        shapes["head.weight"] = (model.head, model.layer_output_size)
        shapes["head.bias"] = (model.head,)
    return shapes


_RNN_NAME = re.compile(r"^(.*?)((?:weight|bias)_(?:ih|hh|yh|hy)_l\d+(?:_reverse)?)$")
_HEAD_NAME = re.compile(r"^(.*?)(?:head|fc)\.(weight|bias)$")


def _normalise_names(raw: dict[str, np.ndarray], source: str) -> dict[str, np.ndarray]:
    out, original, prefixes = {}, {}, set()
    for name, value in raw.items():
        if match := _RNN_NAME.match(name):
            prefixes.add(match.group(1))
            short = match.group(2)
        elif match := _HEAD_NAME.match(name):
            short = f"head.{match.group(2)}"
        else:
            raise UserError(
                f"{source}: unexpected tensor {name!r}; expected PyTorch names such as weight_ih_l0, "
                "bias_hh_l0, head.weight"
            )
        if short in out:  # e.g. both head.weight and fc.weight: which one is meant is unknowable
            raise UserError(f"{source}: tensors {original[short]!r} and {name!r} both give {short}; keep one")
        out[short], original[short] = value, name
    if len(prefixes) > 1:
        raise UserError(f"{source}: RNN tensors carry different prefixes {sorted(prefixes)}; save one module")
    return out


def _read_file(path: Path) -> dict[str, np.ndarray]:
    if not path.exists():
        raise UserError(f"weights file {str(path)!r} does not exist")
    suffix = path.suffix.lower()
    if suffix == ".npz":
        if path.is_file() and not zipfile.is_zipfile(path):
            raise UserError(f"{path}: not a readable .npz file (not a zip archive); write it with np.savez")
        try:
            with np.load(path, allow_pickle=False) as data:
                return {name: np.asarray(data[name]) for name in data.files}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
            raise UserError(f"{path}: not a readable .npz file ({exc})") from None
    if suffix in (".pt", ".pth"):
        try:
            return _checked_state(read_state_dict(path), path, np.ndarray)  # no PyTorch import: seconds saved
        except UnsupportedFile:
            pass  # another kind of file: PyTorch reads it (or says what is wrong)
        try:
            import torch
        except ImportError:
            raise UserError(
                f"{path}: reading .pt files needs PyTorch; install it with pip install 'rnnhw[torch]' "
                "or save the weights as .npz"
            ) from None
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # torch raises many kinds for a bad file
            raise UserError(
                f"{path}: not a readable PyTorch state_dict file ({type(exc).__name__}); "
                "save it with torch.save(model.state_dict(), path)"
            ) from None
        if hasattr(state, "state_dict"):
            state = state.state_dict()
        # Only floats are widened (bfloat16 has no NumPy type); other dtypes stay for the dtype check.
        return {name: (value.double() if value.is_floating_point() else value).numpy()
                for name, value in _checked_state(state, path, torch.Tensor).items()}
    raise UserError(f"{path}: unknown weights format {suffix!r}; use .npz, .pt or .pth")


def _checked_state(state, path: Path, tensor_type) -> dict:
    """``state`` if it is a dict of ``tensor_type`` values (detached, on the CPU for torch tensors)."""
    if not isinstance(state, dict):
        raise UserError(f"{path}: expected a state_dict (a dict of tensors), found {type(state).__name__}")
    for name, value in state.items():
        if not isinstance(value, tensor_type):
            raise UserError(
                f"{path}: entry {name!r} is not a tensor ({type(value).__name__}); save model.state_dict()"
            )
    if tensor_type is np.ndarray:
        return state
    return {name: value.detach().cpu() for name, value in state.items()}


def weights_from_tensors(raw: dict[str, np.ndarray], config: Config, source: str = "weights") -> Weights:
    """Validate names, shapes and values against ``config``."""
    tensors = _normalise_names(raw, source)
    shapes = expected_shapes(config)
    for name, shape in shapes.items():
        if name not in tensors:
            raise UserError(f"{source}: missing tensor {name} of shape {list(shape)} for this configuration")
    for name in tensors:
        if name not in shapes:
            hint = "; set model.bidirectional = true" if name.endswith(_REVERSE) else ""
            raise UserError(
                f"{source}: unexpected tensor {name}; the configuration has "
                f"{config.model.num_layers} layer(s) and head = {config.model.head}{hint}"
            )
    arrays = {}
    for name, shape in shapes.items():
        value = np.asarray(tensors[name])
        if value.dtype.kind not in "fiu":
            raise UserError(f"{source}: tensor {name} holds {value.dtype}, not numbers")
        value = value.astype(np.float64)
        if value.shape != shape:
            raise UserError(f"{source}: tensor {name} has shape {list(value.shape)}, expected {list(shape)}")
        if not np.all(np.isfinite(value)):
            raise UserError(f"{source}: tensor {name} contains NaN or Inf")
        arrays[name] = value
    names = _layer_names(config.model.jordan)

    def direction(suffix: str) -> tuple[LayerWeights, ...]:
        return tuple(LayerWeights(**{field: arrays[f"{name}_l{k}{suffix}"] for name, field in names})
                     for k in range(config.model.num_layers))

    reverse = direction(_REVERSE) if config.model.bidirectional else ()
    return Weights(direction(""), arrays.get("head.weight"), arrays.get("head.bias"), reverse)


def load_weights(path, config: Config) -> Weights:
    """Read a weights file and validate it against ``config``."""
    path = Path(path)
    return weights_from_tensors(_read_file(path), config, str(path))


def save_weights(weights: Weights, path) -> None:
    """Write PyTorch-named tensors to an ``.npz`` file (atomically)."""
    path = Path(path)
    if path.suffix.lower() != ".npz":
        raise UserError(f"cannot write weights to {str(path)!r}: the file name must end in .npz")
    with atomic_file(path) as tmp:
        np.savez(tmp, **weights.tensors())


def random_weights(config: Config, seed: int, scale: float | None = None) -> Weights:
    """PyTorch's default initialisation U(-1/sqrt(H), 1/sqrt(H)), reproducible from ``seed``."""
    rng = np.random.default_rng(seed)
    h = config.model.hidden_size
    bound = scale if scale is not None else 1.0 / np.sqrt(h)
    raw = {name: rng.uniform(-bound, bound, shape) for name, shape in expected_shapes(config).items()}
    return weights_from_tensors(raw, config, f"random weights (seed {seed})")


def quantize_weights(weights: Weights, config: Config, warn: bool = True) -> QuantizedWeights:
    """Quantize to the weight and bias formats (configured rounding, always saturating)."""
    n = config.numerics
    counts = {"weight": [0, 0], "bias": [0, 0]}

    def q(values, kind):
        fmt = n.weight if kind == "weight" else n.bias
        ints, saturated = quantize(values, fmt, n.rounding)
        counts[kind][0] += saturated
        counts[kind][1] += ints.size
        return ints

    h = config.model.hidden_size

    def quantize_layer(layer: LayerWeights) -> QuantizedLayer:
        bias = layer.bias_ih + layer.bias_hh
        bias_hn = None
        if config.model.cell == "gru" and not config.model.reset_before:
            bias = np.concatenate([bias[: 2 * h], layer.bias_ih[2 * h :]])
            bias_hn = q(layer.bias_hh[2 * h :], "bias")
        output = {}
        if layer.weight_hy is not None:
            output = {"w_hy": q(layer.weight_hy, "weight"), "bias_hy": q(layer.bias_hy, "bias")}
        return QuantizedLayer(q(layer.weight_ih, "weight"), q(layer.weight_hh, "weight"), q(bias, "bias"),
                              bias_hn, **output)

    layers = tuple(quantize_layer(layer) for layer in weights.layers)
    reverse_layers = tuple(quantize_layer(layer) for layer in weights.reverse_layers)
    head_w = head_b = None
    if weights.head_weight is not None:
        head_w, head_b = q(weights.head_weight, "weight"), q(weights.head_bias, "bias")
    saturated = {kind: (c[0], c[1]) for kind, c in counts.items()}
    if warn:
        for kind, (count, total) in saturated.items():
            if count:
                fmt = n.weight if kind == "weight" else n.bias
                plural = "weights" if kind == "weight" else "biases"
                warnings.warn(f"{count:,} of {total:,} {plural} saturated to {fmt}", QuantizationWarning,
                              stacklevel=2)
    return QuantizedWeights(layers, head_w, head_b, saturated, reverse_layers)

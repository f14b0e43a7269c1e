"""``rnnhw import``: read a model file with the front end for its suffix, map it, write OUT.toml and OUT.npz.

The front ends (:mod:`rnnhw.onnx_import`, :mod:`rnnhw.keras_import`) describe the file as an
:class:`~rnnhw.model_import.ImportedModel`; :func:`~rnnhw.model_import.to_rnnhw` maps it onto rnnhw's
configuration and weights. Both files are written only when everything succeeded.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rnnhw.model_import import ImportedModel, to_rnnhw
from rnnhw.spec.config import Config
from rnnhw.spec.errors import UserError
from rnnhw.spec.outputs import atomic_file, check_output_path
from rnnhw.spec.weights import Weights, save_weights

__all__ = ["ImportResult", "read_model", "import_model"]


@dataclass(frozen=True)
class ImportResult:
    model: ImportedModel
    config: Config
    weights: Weights
    config_path: Path
    weights_path: Path


def read_model(path: Path, output: str | None = None) -> ImportedModel:
    """The front end for the file's suffix: ``.onnx`` or ``.keras``."""
    if not path.exists():
        raise UserError(f"model file {str(path)!r} does not exist")
    if not path.is_file():
        raise UserError(f"{str(path)!r} is not a file; give an .onnx or .keras model file")
    suffix = path.suffix.lower()
    if suffix == ".onnx":
        from rnnhw.onnx_import import read_onnx

        return read_onnx(path, output)
    if suffix == ".keras":
        if output is not None:
            raise UserError("--graph-output chooses an ONNX graph output; a .keras model has one output")
        from rnnhw.keras_import import read_keras

        return read_keras(path)
    raise UserError(f"{path}: unknown model format {suffix!r}; rnnhw imports .onnx and .keras (Keras 3) files")


def import_model(path, config_path, output: str | None = None) -> ImportResult:
    """Read ``path`` and write ``config_path`` (.toml) and the weights beside it (.npz), atomically."""
    path, config_path = Path(path), Path(config_path)
    if config_path.suffix.lower() != ".toml":
        raise UserError(f"-o {str(config_path)!r}: the file name must end in .toml")
    weights_path = config_path.with_suffix(".npz")
    check_output_path(config_path)
    check_output_path(weights_path)
    model = read_model(path, output)
    config, weights = to_rnnhw(model)
    with atomic_file(config_path) as tmp_config:
        tmp_config.write_text(config.to_toml())
        save_weights(weights, weights_path)
    return ImportResult(model, config, weights, config_path, weights_path)

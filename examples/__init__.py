"""Bundled example models: small LSTM and GRU classifiers of scikit-learn's digits (8 rows x 8 pixels).

Each example is a configuration ``<name>.toml`` and its weights ``<name>.npz`` (PyTorch names), made by
``rnnhw train`` as ``examples/README.md`` records. Use them from Python::

    from rnnhw.examples import example_config, example_weights
    config = example_config("digits_lstm")
    weights = example_weights("digits_lstm")

or from the command line with :func:`example_paths`' files (``examples/digits_lstm.toml`` in a clone).
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path

__all__ = ["EXAMPLES", "example_paths", "example_config", "example_weights"]

#: Names of the bundled examples.
EXAMPLES = ("digits_lstm", "digits_gru", "digits_gru_before", "digits_jordan")


def example_paths(name: str) -> tuple[Path, Path]:
    """The configuration and weights files of a bundled example."""
    if name not in EXAMPLES:
        raise ValueError(f"unknown example {name!r}; the bundled examples are {', '.join(EXAMPLES)}")
    root = importlib.resources.files(__name__)
    return Path(str(root / f"{name}.toml")), Path(str(root / f"{name}.npz"))


def example_config(name: str):
    """The bundled example's :class:`~rnnhw.spec.config.Config`."""
    from rnnhw.spec.config import load_config

    return load_config(example_paths(name)[0])


def example_weights(name: str):
    """The bundled example's float :class:`~rnnhw.spec.weights.Weights`."""
    from rnnhw.spec.weights import load_weights

    return load_weights(example_paths(name)[1], example_config(name))

"""Bundled example models: small LSTM, GRU, Jordan and bidirectional LSTM classifiers of scikit-learn's
digits (8 rows x 8 pixels), and an LSTM that reads digit strings with CTC decoding.

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

__all__ = ["EXAMPLES", "CTC_EXAMPLES", "example_paths", "example_config", "example_weights"]

#: Names of the bundled classifiers.
EXAMPLES = ("digits_lstm", "digits_gru", "digits_gru_before", "digits_jordan", "digits_bilstm")
#: Names of the bundled CTC sequence labellers (digit strings, ``rnnhw.datasets.digit_strings``).
CTC_EXAMPLES = ("digit_strings_lstm",)


def example_paths(name: str) -> tuple[Path, Path]:
    """The configuration and weights files of a bundled example."""
    if name not in EXAMPLES + CTC_EXAMPLES:
        raise ValueError(f"unknown example {name!r}; the bundled examples are "
                         f"{', '.join(EXAMPLES + CTC_EXAMPLES)}")
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

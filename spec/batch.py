"""Validation of a batch of input sequences, shared by the golden model and the float reference."""

from __future__ import annotations

import numpy as np

from .config import Config
from .errors import UserError

__all__ = ["check_batch", "check_lengths", "check_sequence_limit", "reversal"]


def check_batch(x: np.ndarray, input_size: int, lengths, *, config: Config | None = None) -> np.ndarray:
    """Check that ``x`` is ``[N, T, input_size]``; return its lengths as :func:`check_lengths` does.

    With ``config``, also the sequences' lengths against what its hardware takes (:func:`check_sequence_limit`).
    """
    if x.ndim != 3 or x.shape[2] != input_size:
        raise UserError(f"inputs must have shape [N, T, {input_size}], not {list(x.shape)}")
    batch, steps, _ = x.shape
    lengths = check_lengths(lengths, batch, steps)
    if config is not None:
        check_sequence_limit(config, lengths)
    return lengths


def check_sequence_limit(config: Config, lengths: np.ndarray) -> None:
    """Refuse sequences longer than a bidirectional core's buffers (``hardware.max_sequence_length``).

    The backward direction starts at a sequence's last step, so the core holds the whole sequence;
    a unidirectional core streams and takes sequences of any length.
    """
    limit = config.hardware.max_sequence_length
    if config.model.bidirectional and lengths.size and lengths.max() > limit:
        raise UserError(f"a sequence of {lengths.max()} steps is longer than the {limit} a bidirectional core "
                        f"holds; raise [hardware] max_sequence_length to at least {lengths.max()}")


def check_lengths(lengths, batch: int, steps: int) -> np.ndarray:
    """``lengths`` as ``int64 [batch]`` in ``1..steps``; ``None`` means every sequence has ``steps`` steps."""
    if lengths is None:
        return np.full(batch, steps, dtype=np.int64)
    lengths = np.asarray(lengths)
    if lengths.shape != (batch,) or lengths.dtype.kind not in "iu":
        raise UserError(
            f"lengths must be {batch} integers (one per sequence), not {lengths.dtype} {list(lengths.shape)}"
        )
    if lengths.size and (lengths.min() < 1 or lengths.max() > steps):
        raise UserError(
            f"lengths must lie in 1..{steps} (the number of timesteps); "
            f"found {lengths.min()}..{lengths.max()}"
        )
    return lengths.astype(np.int64)


def reversal(lengths: np.ndarray, steps: int) -> np.ndarray:
    """``[N, T]`` step indices that reverse each sequence within its own length (steps past it stay in
    place): a bidirectional layer's backward direction reads the input in this order. The map is its own
    inverse, so it also puts that direction's outputs back in time order."""
    t = np.arange(steps)
    return np.where(t < lengths[:, None], lengths[:, None] - 1 - t, t)

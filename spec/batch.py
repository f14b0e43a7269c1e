"""Validation of a batch of input sequences, shared by the golden model and the float reference."""

from __future__ import annotations

import numpy as np

from .errors import UserError

__all__ = ["check_batch", "check_lengths"]


def check_batch(x: np.ndarray, input_size: int, lengths) -> np.ndarray:
    """Check that ``x`` is ``[N, T, input_size]``; return its lengths as :func:`check_lengths` does."""
    if x.ndim != 3 or x.shape[2] != input_size:
        raise UserError(f"inputs must have shape [N, T, {input_size}], not {list(x.shape)}")
    batch, steps, _ = x.shape
    return check_lengths(lengths, batch, steps)


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

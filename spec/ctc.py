"""CTC greedy decoding and the decoded label stream: one definition for the golden model, RTL, simulation
and documentation.

With ``[model] ctc_blank = K`` the head's C outputs at each timestep are the logits of C classes, class
``K`` the blank. A sequence of ``T`` steps decodes as:

1. per step, the argmax of the C logits (on a tie, the lowest index; no softmax is needed);
2. runs of the same class collapse to one (``a a -> a``);
3. blanks are dropped (so ``a blank a -> a a``).

Decoded labels are written as an int64 array ``[N, T]``, each row a sequence's labels padded with
:data:`PAD` (-1); a sequence decodes to at most ``T`` labels.

The output stream (``m_axis``) carries each sequence as one AXI-Stream frame: its labels in order, one
per beat, ``tlast`` on the last one. A sequence that decodes to nothing sends one beat holding
:data:`EMPTY` (-1, all ones) with ``tlast``: no label is negative, so it is never a label. The labels are
two's complement integers of :func:`label_width` bits.
"""

from __future__ import annotations

import numpy as np

__all__ = ["PAD", "EMPTY", "MOST_BEATS_PER_STEP", "label_width", "best_paths", "greedy_decode", "stream_frames",
           "labels_from_frames", "label_strings"]

#: Padding of decoded label rows.
PAD = -1
#: The one beat of a sequence that decodes to nothing (with ``tlast``).
EMPTY = -1
#: Beats one timestep can send: at a sequence's last step, the label held back and a new label.
MOST_BEATS_PER_STEP = 2


def label_width(classes: int) -> int:
    """Bits of a signed label of ``classes`` classes (labels ``0 .. classes-1`` and :data:`EMPTY`)."""
    return max(classes - 1, 1).bit_length() + 1


def best_paths(logits: np.ndarray) -> np.ndarray:
    """The argmax class of each step, ``[N, T]`` from ``[N, T, C]`` (ties: the lowest index)."""
    return np.argmax(np.asarray(logits), axis=-1)


def greedy_decode(logits: np.ndarray, lengths: np.ndarray | None, blank: int) -> np.ndarray:
    """Decoded labels ``int64 [N, T]`` padded with :data:`PAD`, from logits ``[N, T, C]``.

    ``lengths[n]`` steps of sequence ``n`` count (default all ``T``).
    """
    paths = best_paths(logits)
    batch, steps = paths.shape
    lengths = np.full(batch, steps) if lengths is None else np.asarray(lengths)
    exists = np.arange(steps)[None, :] < lengths[:, None]
    changed = np.ones_like(exists)
    changed[:, 1:] = paths[:, 1:] != paths[:, :-1]
    keep = exists & changed & (paths != blank)
    out = np.full((batch, steps), PAD, dtype=np.int64)
    counts = keep.sum(axis=1)
    out[np.arange(steps)[None, :] < counts[:, None]] = paths[keep]
    return out


def label_strings(labels: np.ndarray) -> list[tuple[int, ...]]:
    """Each row of a padded label array as a tuple of its labels."""
    return [tuple(int(v) for v in row if v != PAD) for row in np.asarray(labels)]


def stream_frames(labels: np.ndarray) -> list[list[int]]:
    """The output stream's frames (one per sequence) for decoded labels ``[N, T]``."""
    return [list(row) if row else [EMPTY] for row in label_strings(labels)]


def labels_from_frames(frames, steps: int) -> np.ndarray:
    """Padded labels ``[len(frames), steps]`` from received frames (inverse of :func:`stream_frames`).

    A frame longer than ``steps`` is cut to ``steps`` labels.
    """
    out = np.full((len(frames), steps), PAD, dtype=np.int64)
    for n, frame in enumerate(frames):
        frame = [int(v) for v in frame]
        if frame != [EMPTY]:
            out[n, : min(len(frame), steps)] = frame[:steps]
    return out

"""Metrics of decoded label sequences (CTC): sequence accuracy, label error rate, agreement.

*Sequence accuracy* is the fraction of sequences decoded exactly (the whole string). The *label error
rate* is the total edit distance (insertions, deletions, substitutions; Levenshtein) between decoded
and reference sequences divided by the total length of the references. *Agreement* is the fraction of
sequences on which two decodings (fixed point and float) give the same string. Sequences are rows
padded with -1 (:mod:`rnnhw.spec.ctc`).
"""

from __future__ import annotations

import numpy as np

from rnnhw.spec.ctc import label_strings

__all__ = ["edit_distance", "sequence_accuracy", "label_error_rate", "agreement"]


def edit_distance(a, b) -> int:
    """Levenshtein distance between two label sequences."""
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        current = [i]
        for j, y in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y)))
        previous = current
    return previous[-1]


def sequence_accuracy(decoded: np.ndarray, references: np.ndarray) -> float:
    """Fraction of rows decoded exactly."""
    pairs = zip(label_strings(decoded), label_strings(references), strict=True)
    return float(np.mean([d == r for d, r in pairs]))


def label_error_rate(decoded: np.ndarray, references: np.ndarray) -> float:
    """Total edit distance over the total reference length."""
    pairs = list(zip(label_strings(decoded), label_strings(references), strict=True))
    total = sum(len(r) for _, r in pairs)
    return sum(edit_distance(d, r) for d, r in pairs) / max(total, 1)


def agreement(a: np.ndarray, b: np.ndarray) -> float:
    """Fraction of rows on which two decodings give the same string."""
    return sequence_accuracy(a, b)

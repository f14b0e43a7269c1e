"""CTC greedy decoding (spec/ctc.py) by hand, and the golden model's decoded labels."""

from __future__ import annotations

import numpy as np
import pytest

from rnnhw.golden.model import GoldenModel
from rnnhw.spec.config import config_from_dict
from rnnhw.spec.ctc import EMPTY, PAD, greedy_decode, label_strings, label_width, labels_from_frames, stream_frames
from rnnhw.spec.weights import quantize_weights, random_weights


def _logits(paths, classes=4):
    """One-hot logits [N, T, C] whose argmax follows ``paths``."""
    out = np.zeros((len(paths), max(len(p) for p in paths), classes))
    for n, path in enumerate(paths):
        for t, c in enumerate(path):
            out[n, t, c] = 1.0
    return out


@pytest.mark.parametrize(("path", "labels"), [
    ([1, 0, 1], [1, 1]),  # a blank a -> a a
    ([1, 1], [1]),  # repeats collapse
    ([0, 0, 0], []),  # all blank
    ([3], [3]),  # one step
    ([2, 2, 0, 0, 2, 3, 3, 0], [2, 2, 3]),
    ([0, 1, 2, 1, 0], [1, 2, 1]),
])
def test_decode_by_hand(path, labels):
    decoded = greedy_decode(_logits([path]), None, blank=0)
    assert decoded.tolist() == [labels + [PAD] * (len(path) - len(labels))]
    assert stream_frames(decoded) == [labels or [EMPTY]]
    assert labels_from_frames(stream_frames(decoded), len(path)).tolist() == decoded.tolist()


def test_ties_take_the_lowest_index_and_blank_can_be_any_class():
    logits = np.array([[[1.0, 5.0, 5.0, 2.0], [5.0, 5.0, 0.0, 0.0], [0.0, 0.0, 3.0, 3.0], [0.0, 0.0, 0.0, 0.0]]])
    assert greedy_decode(logits, None, blank=1).tolist() == [[0, 2, 0, PAD]]  # paths 1, 0, 2, 0
    assert greedy_decode(logits, None, blank=2).tolist() == [[1, 0, 0, PAD]]  # 0 blank 0 -> 0 0


def test_lengths_cut_the_sequences():
    logits = _logits([[1, 2, 3, 3], [1, 0, 1, 2]])
    assert greedy_decode(logits, np.array([2, 1]), blank=0).tolist() == [[1, 2, PAD, PAD], [1, PAD, PAD, PAD]]
    assert label_strings(greedy_decode(logits, np.array([4, 3]), blank=0)) == [(1, 2, 3), (1, 1)]


def test_label_width_holds_every_label_and_empty():
    assert [label_width(c) for c in (1, 2, 3, 4, 5, 128, 129, 4096)] == [2, 2, 3, 3, 4, 8, 9, 13]


def test_golden_model_decodes_its_bit_exact_logits():
    config = config_from_dict({"model": {"cell": "gru", "input_size": 3, "hidden_size": 5, "head": 4,
                                         "return_sequences": True, "ctc_blank": 1},
                               "hardware": {"lanes": 2}})
    model = GoldenModel(config, quantize_weights(random_weights(config, 2, scale=2.0), config, warn=False))
    x = np.random.default_rng(0).integers(-3000, 3000, size=(6, 9, 3))
    lengths = np.array([9, 1, 4, 9, 2, 7])
    result = model.run(x, lengths)
    assert result.outputs.shape == (6, 9, 4)
    assert np.array_equal(result.labels, greedy_decode(result.outputs, lengths, 1))
    assert result.labels.dtype == np.int64 and (result.labels[1, 1:] == PAD).all()

"""The bundled digits sequences and the validation of users' D.npz files."""

from __future__ import annotations

import numpy as np
import pytest

from rnnhw.datasets import (
    DIGIT_STRINGS,
    Dataset,
    calibration_data,
    digit_strings,
    digits,
    load_data,
    load_npz,
    valid_steps,
)
from rnnhw.spec.config import config_from_dict
from rnnhw.spec.errors import UserError


def test_digits_split_is_reproducible_stratified_and_scaled():
    train, test, everything = digits("train"), digits("test"), digits("all")
    assert (train.size, test.size, everything.size) == (1257, 540, 1797)
    assert train.x.shape == (1257, 8, 8) and test.x.shape == (540, 8, 8)
    assert train.x.dtype == np.float64 and train.labels.dtype == np.int64
    assert train.x.min() == 0.0 and train.x.max() == 1.0
    assert test.lengths is None and test.task == "classification" and test.classes == 10
    assert np.bincount(test.labels).tolist() == [54, 55, 53, 55, 54, 55, 54, 54, 52, 54]
    again = digits("test")
    assert np.array_equal(again.x, test.x) and np.array_equal(again.labels, test.labels)
    # The two splits partition the whole set: together they hold every image exactly once.
    rows = sorted(map(bytes, np.concatenate([train.x, test.x]).reshape(1797, -1)))
    assert rows == sorted(map(bytes, everything.x.reshape(1797, -1)))
    assert load_data("digits").name == "digits (test split)"
    assert load_data("digits", split="train").size == 1257
    with pytest.raises(ValueError):
        digits("validation")


def test_digits_rows_are_timesteps():
    from sklearn.datasets import load_digits

    images = load_digits().images
    everything = digits("all")
    assert np.array_equal(everything.x[5], images[5] / 16.0)


def _write(path, **arrays):
    np.savez(path, **arrays)
    return path


def test_load_npz_classification_with_lengths(tmp_path):
    x = np.arange(2 * 3 * 4, dtype=np.float32).reshape(2, 3, 4)
    data = load_npz(_write(tmp_path / "d.npz", X=x, y=np.array([1, 0]), lengths=np.array([3, 2])))
    assert data.x.dtype == np.float64 and np.array_equal(data.x, x)
    assert data.labels.tolist() == [1, 0] and data.lengths.tolist() == [3, 2]
    assert data.task == "classification" and data.classes == 2 and data.targets is None
    assert data.valid_steps().tolist() == [[True, True, True], [True, True, False]]
    assert valid_steps(np.array([1]), 2).tolist() == [[True, False]]
    first = data.subset(1)
    assert first.size == 1 and first.lengths.tolist() == [3] and first.labels.tolist() == [1]


def test_load_npz_regression_and_integral_float_labels(tmp_path):
    x = np.zeros((3, 2, 1))
    data = load_npz(_write(tmp_path / "r.npz", X=x, Y=np.ones((3, 2))))
    assert data.task == "regression" and data.targets.shape == (3, 2) and data.labels is None
    data = load_npz(_write(tmp_path / "f.npz", X=x, y=np.array([0.0, 2.0, 1.0])))
    assert data.labels.dtype == np.int64 and data.labels.tolist() == [0, 2, 1]
    only_x = load_npz(_write(tmp_path / "x.npz", X=x), require_targets=False)
    assert only_x.task is None


X = np.zeros((2, 3, 4))

BAD_FILES = [
    ({"y": np.array([0, 1])}, "no array X; save the input sequences as X with shape [N, T, F]"),
    ({"X": np.zeros((2, 3)), "y": np.array([0, 1])}, "X has shape [2, 3], expected [N, T, F]"),
    ({"X": np.array([[["a"]]]), "y": np.array([0])}, "X holds <U1 values, not numbers"),
    ({"X": np.zeros((0, 3, 4)), "y": np.zeros(0, dtype=int)}, "X is empty (shape [0, 3, 4])"),
    ({"X": np.full((2, 3, 4), np.nan), "y": np.array([0, 1])},
     "X contains 24 NaN or Inf value(s), the first at [0, 0, 0]"),
    ({"X": X}, "no y, Y or labels; save integer class labels as y [2], float regression targets as Y [2, K] or "
               "label sequences as labels [2, Lmax] padded with -1"),
    ({"X": X, "y": np.array([0, 1]), "labels": np.array([[1], [2]])}, "holds both y and labels; keep one of y"),
    ({"X": X, "labels": np.array([[1, 2, 3, 4]])}, "labels has shape [1, 4]; labels must be [2, Lmax] integer"),
    ({"X": X, "labels": np.array([[1.0], [2.0]])}, "labels holds float64 values; labels must be [2, Lmax]"),
    ({"X": X, "labels": np.array([[1, -1, 2], [0, -1, -1]])}, "labels[0] = [1, -1, 2] is not a label sequence"),
    ({"X": X, "labels": np.array([[1, 2, 3], [-2, -1, -1]])}, "labels[1] = [-2, -1, -1] is not a label sequence"),
    ({"X": X, "y": np.array([0, 1]), "Y": np.zeros(2)}, "holds both y (labels) and Y (regression targets)"),
    ({"X": X, "y": np.array([0, 1, 2])}, "y has shape [3]; y must be [2] integer class labels from 0"),
    ({"X": X, "y": np.array([0.5, 1.0])}, "y holds non-integer values; y must be [2] integer class labels"),
    ({"X": X, "y": np.array([True, False])}, "y holds bool values; y must be [2] integer class labels"),
    ({"X": X, "y": np.array([0, -1])}, "y[1] = -1 is negative"),
    ({"X": X, "Y": np.zeros((3, 1))}, "Y has shape [3, 1]; Y must be [2], [2, K] or [2, T, K] float targets"),
    ({"X": X, "Y": np.zeros((2, 1, 1, 1))}, "Y has shape [2, 1, 1, 1]"),
    ({"X": X, "Y": np.array([np.inf, 0])}, "Y contains 1 NaN or Inf value(s), the first at [0]"),
    ({"X": X, "Y": np.array(["a", "b"])}, "Y holds <U1 values"),
    ({"X": X, "y": np.array([0, 1]), "lengths": np.array([3])},
     "lengths has shape [1]; lengths must be [2] integers from 1 to 3"),
    ({"X": X, "y": np.array([0, 1]), "lengths": np.array([3.0, 1.0])}, "lengths holds float64 values"),
    ({"X": X, "y": np.array([0, 1]), "lengths": np.array([3, 4])}, "lengths[1] = 4 is outside 1..3"),
    ({"X": X, "y": np.array([0, 1]), "lengths": np.array([0, 1])}, "lengths[0] = 0 is outside 1..3"),
    ({"X": X, "y": np.array([0, 1]), "extra": np.zeros(1)}, "unexpected array 'extra'; a data file holds X"),
]


@pytest.mark.parametrize(("arrays", "message"), BAD_FILES)
def test_load_npz_rejects_malformed_files(tmp_path, arrays, message):
    path = _write(tmp_path / "bad.npz", **arrays)
    with pytest.raises(UserError) as info:
        load_npz(path)
    assert str(info.value).startswith(f"{path}: {message}")
    assert "\n" not in str(info.value)


def test_load_npz_rejects_missing_unreadable_and_pickled_files(tmp_path):
    with pytest.raises(UserError, match=r"data file '.*nope.npz' does not exist; pass a .npz file"):
        load_npz(tmp_path / "nope.npz")
    with pytest.raises(UserError, match=r"data path '.*' is not a file"):
        load_npz(tmp_path)
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"not a zip archive")
    with pytest.raises(UserError, match=r"garbage.npz: not a .npz archive; write it with numpy.savez"):
        load_npz(garbage)
    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, X=np.array([[[object()]]], dtype=object), y=np.array([0]))
    with pytest.raises(UserError, match=r"pickled.npz: not a readable .npz archive \(Object arrays cannot"):
        load_npz(pickled)


def _config(**model):
    base = {"cell": "lstm", "input_size": 4, "hidden_size": 8, "head": 3}
    return config_from_dict({"model": {**base, **model}, "hardware": {"lanes": 1}})


def test_check_against_config():
    labels = Dataset("d", X, labels=np.array([0, 2]))
    labels.check_against(_config())
    with pytest.raises(UserError, match=r"^d: X has shape \[2, 3, 4\] but the model reads 5 features "
                       r"\(model.input_size\); X must be \[N, T, 5\]$"):
        labels.check_against(_config(input_size=5))
    with pytest.raises(UserError, match=r"^d: y holds label 2 but the model has 2 outputs; labels must be 0"):
        labels.check_against(_config(head=2))
    with pytest.raises(UserError, match=r"y holds label 2 but the model has one output \(class 1 when it is"):
        labels.check_against(_config(head=1))
    with pytest.raises(UserError, match=r"labels y \[N\] need one output vector per sequence"):
        labels.check_against(_config(head=0, return_sequences=True))
    Dataset("d", X, labels=np.array([0, 7])).check_against(_config(head=0))  # 8 hidden outputs
    Dataset("d", X, targets=np.zeros((2, 3))).check_against(_config())
    Dataset("d", X, targets=np.zeros(2)).check_against(_config(head=1))
    Dataset("d", X, targets=np.zeros((2, 3, 8))).check_against(_config(head=0, return_sequences=True))
    with pytest.raises(UserError, match=r"^d: Y has shape \[2\] but the model's outputs are \[2, 3\]; "
                       r"Y must have the outputs' shape$"):
        Dataset("d", X, targets=np.zeros(2)).check_against(_config())


def test_digit_strings_are_digit_images_side_by_side_read_by_columns():
    test, images = digit_strings("test"), digits("test")
    assert test.x.shape == (1000, 40, 8) and test.sequences.shape == (1000, 5) and test.task == "ctc"
    counts = (test.sequences >= 0).sum(axis=1)
    assert np.array_equal(test.lengths, 8 * counts) and set(counts.tolist()) == {1, 2, 3, 4, 5}
    assert (test.x[valid_steps(test.lengths, 40) == 0] == 0).all() and test.classes == 10
    # Each 8-column block is a test image, transposed (its columns are the timesteps).
    for n in range(5):
        for k in range(counts[n]):
            block = test.x[n, 8 * k : 8 * k + 8].T
            match = [i for i in range(images.size) if np.array_equal(images.x[i], block)]
            assert match and images.labels[match[0]] == test.sequences[n, k]
    assert load_data(DIGIT_STRINGS, "test").name == "digit-strings (test split)"
    assert calibration_data(DIGIT_STRINGS, test).name == "digit-strings (train split)"
    assert calibration_data("d.npz", test) is test
    assert np.array_equal(digit_strings("test").x, test.x)  # reproducible


def test_label_sequences_need_a_ctc_model_and_its_labels(tmp_path):
    path = _write(tmp_path / "seq.npz", X=np.zeros((2, 3, 4)), labels=np.array([[1, 0], [2, -1]]),
                  lengths=np.array([3, 2]))
    data = load_npz(path)
    assert data.task == "ctc" and data.classes == 3 and data.sequences.tolist() == [[1, 0], [2, -1]]
    ctc = {"input_size": 4, "head": 4, "return_sequences": True, "ctc_blank": 3}
    data.check_against(config_from_dict({"model": ctc}))
    with pytest.raises(UserError, match="labels hold 2 but the model's labels are 0..3 without the blank 2"):
        data.check_against(config_from_dict({"model": {**ctc, "ctc_blank": 2}}))
    with pytest.raises(UserError, match="label sequences need a CTC model"):
        data.check_against(config_from_dict({"model": {"input_size": 4, "head": 4}}))
    classes = Dataset("d", np.zeros((2, 3, 4)), labels=np.array([0, 1]))
    with pytest.raises(UserError, match="the model decodes CTC label sequences"):
        classes.check_against(config_from_dict({"model": ctc}))

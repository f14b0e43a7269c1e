"""Loading the user's input sequences and lengths: exact arrays out, one clear UserError for every problem."""

import numpy as np
import pytest

from rnnhw.data import load_inputs, load_lengths
from rnnhw.spec.config import config_from_dict
from rnnhw.spec.errors import UserError

CONFIG = config_from_dict({"model": {"input_size": 3, "hidden_size": 4}, "hardware": {"lanes": 1}})
EXPECTED = "an array of shape [N, T, 3] (N sequences, T timesteps, 3 features)"


def save(tmp_path, name, array):
    path = tmp_path / name
    np.save(path, array)
    return path


def error_of(call, *args) -> str:
    with pytest.raises(UserError) as info:
        call(*args)
    return str(info.value)


# ------------------------------------------------------------------------------------------------ inputs

@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.float16, np.int8, np.int64, np.uint16])
def test_inputs_come_back_as_float64_with_the_same_values(tmp_path, dtype):
    values = np.arange(2 * 5 * 3).reshape(2, 5, 3)
    x = load_inputs(save(tmp_path, "x.npy", values.astype(dtype)), CONFIG)
    assert x.dtype == np.float64
    assert x.shape == (2, 5, 3)
    np.testing.assert_array_equal(x, values)


def test_inputs_keep_every_float64_bit(tmp_path):
    values = np.random.default_rng(0).normal(scale=100.0, size=(3, 4, 3))
    np.testing.assert_array_equal(load_inputs(save(tmp_path, "x.npy", values), CONFIG), values)


def test_inputs_accept_a_str_path(tmp_path):
    values = np.ones((1, 1, 3))
    np.testing.assert_array_equal(load_inputs(str(save(tmp_path, "x.npy", values)), CONFIG), values)


def test_missing_inputs_file(tmp_path):
    path = tmp_path / "nope.npy"
    assert error_of(load_inputs, path, CONFIG) == (
        f"inputs file {str(path)!r} does not exist; pass a .npy file holding {EXPECTED}"
    )


def test_inputs_path_is_a_directory(tmp_path):
    assert error_of(load_inputs, tmp_path, CONFIG) == (
        f"inputs path {str(tmp_path)!r} is not a file; pass a .npy file holding {EXPECTED}"
    )


@pytest.mark.parametrize("name, said", [("x.npz", "'.npz'"), ("x.csv", "'.csv'"),
                                        ("x", "a name without a suffix")])
def test_inputs_must_be_npy(tmp_path, name, said):
    path = tmp_path / name
    path.write_bytes(b"1,2,3\n")
    assert error_of(load_inputs, path, CONFIG) == (
        f"{path}: inputs must be a .npy file, not {said}; save {EXPECTED} with numpy.save"
    )


@pytest.mark.parametrize("content", [b"", b"not numpy at all", b"\x93NUMPY\x01\x00garbage"])
def test_unreadable_inputs(tmp_path, content):
    path = tmp_path / "x.npy"
    path.write_bytes(content)
    message = error_of(load_inputs, path, CONFIG)
    assert message.startswith(f"{path}: not a readable .npy file (")
    assert message.endswith(f"); save {EXPECTED} with numpy.save")
    assert "\n" not in message


def test_truncated_inputs(tmp_path):
    path = save(tmp_path, "x.npy", np.zeros((4, 5, 3)))
    path.write_bytes(path.read_bytes()[:-8])
    assert error_of(load_inputs, path, CONFIG).startswith(f"{path}: not a readable .npy file (")


def test_npz_archive_named_npy(tmp_path):
    path = tmp_path / "x.npy"
    with open(path, "wb") as handle:
        np.savez(handle, x=np.zeros((1, 2, 3)))
    assert error_of(load_inputs, path, CONFIG) == (
        f"{path}: holds an .npz archive, not one array; save {EXPECTED} with numpy.save"
    )


def test_pickled_object_inputs_are_refused_without_unpickling(tmp_path):
    path = tmp_path / "x.npy"
    np.save(path, np.array([[[{"a": 1}]]], dtype=object), allow_pickle=True)
    assert error_of(load_inputs, path, CONFIG).startswith(f"{path}: not a readable .npy file (")


@pytest.mark.parametrize("shape", [(3,), (4, 5, 3, 1), (2, 5, 4), (2, 5, 1), ()])
def test_inputs_of_the_wrong_shape(tmp_path, shape):
    path = save(tmp_path, "x.npy", np.zeros(shape))
    dims = "[" + ", ".join(map(str, shape)) + "]"
    assert error_of(load_inputs, path, CONFIG) == (
        f"{path}: inputs have shape {dims}, expected [N, T, 3] (model.input_size = 3)"
    )


def test_one_sequence_without_its_batch_axis_gets_a_hint(tmp_path):
    path = save(tmp_path, "x.npy", np.zeros((7, 3)))
    assert error_of(load_inputs, path, CONFIG) == (
        f"{path}: inputs have shape [7, 3], expected [N, T, 3] (model.input_size = 3); "
        "for one sequence use x[None] (shape [1, T, I])"
    )


@pytest.mark.parametrize("array, dtype", [
    (np.zeros((1, 2, 3), dtype=bool), "bool"),
    (np.zeros((1, 2, 3), dtype=complex), "complex128"),
    (np.full((1, 2, 3), "a"), "<U1"),
])
def test_inputs_that_are_not_real_numbers(tmp_path, array, dtype):
    path = save(tmp_path, "x.npy", array)
    assert error_of(load_inputs, path, CONFIG) == (
        f"{path}: inputs hold {dtype} values, not numbers; save {EXPECTED}"
    )


@pytest.mark.parametrize("shape", [(0, 5, 3), (2, 0, 3)])
def test_empty_inputs(tmp_path, shape):
    path = save(tmp_path, "x.npy", np.zeros(shape))
    dims = "[" + ", ".join(map(str, shape)) + "]"
    assert error_of(load_inputs, path, CONFIG) == (
        f"{path}: inputs are empty (shape {dims}); give at least one sequence of at least one timestep"
    )


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_inputs_name_the_first_one(tmp_path, bad):
    x = np.zeros((2, 4, 3))
    x[1, 2, 0] = bad
    x[1, 3, 2] = bad
    path = save(tmp_path, "x.npy", x)
    assert error_of(load_inputs, path, CONFIG) == (
        f"{path}: inputs contain 2 NaN or Inf value(s), the first at [1, 2, 0]; "
        "replace them with finite numbers"
    )


def test_huge_finite_inputs_are_kept(tmp_path):
    # Only NaN/Inf are refused: large values are the quantizer's business (it saturates and warns).
    x = np.full((1, 1, 3), 1e30, dtype=np.float32)
    expected = np.full((1, 1, 3), np.float64(np.float32(1e30)))
    np.testing.assert_array_equal(load_inputs(save(tmp_path, "x.npy", x), CONFIG), expected)


# ----------------------------------------------------------------------------------------------- lengths

LENGTHS_EXPECTED = "4 integers from 1 to 6 (one length per input sequence)"


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.int8, np.uint8, np.uint64])
def test_lengths_come_back_as_int64(tmp_path, dtype):
    path = save(tmp_path, "l.npy", np.array([6, 1, 3, 6], dtype=dtype))
    lengths = load_lengths(path, 4, 6)
    assert lengths.dtype == np.int64
    np.testing.assert_array_equal(lengths, [6, 1, 3, 6])


def test_missing_lengths_file(tmp_path):
    path = tmp_path / "l.npy"
    assert error_of(load_lengths, path, 4, 6) == (
        f"lengths file {str(path)!r} does not exist; pass a .npy file holding {LENGTHS_EXPECTED}"
    )


def test_lengths_must_be_npy(tmp_path):
    path = tmp_path / "l.txt"
    path.write_text("1 2 3 4\n")
    assert error_of(load_lengths, path, 4, 6) == (
        f"{path}: lengths must be a .npy file, not '.txt'; save {LENGTHS_EXPECTED} with numpy.save"
    )


def test_unreadable_lengths(tmp_path):
    path = tmp_path / "l.npy"
    path.write_bytes(b"1 2 3 4")
    assert error_of(load_lengths, path, 4, 6).startswith(f"{path}: not a readable .npy file (")


@pytest.mark.parametrize("shape", [(3,), (5,), (4, 1), (1, 4), ()])
def test_lengths_of_the_wrong_shape(tmp_path, shape):
    path = save(tmp_path, "l.npy", np.ones(shape, dtype=np.int64))
    dims = "[" + ", ".join(map(str, shape)) + "]"
    assert error_of(load_lengths, path, 4, 6) == (
        f"{path}: lengths have shape {dims}, expected [4]: {LENGTHS_EXPECTED}"
    )


@pytest.mark.parametrize("array, dtype", [(np.array([1.0, 2.0, 3.0, 4.0]), "float64"),
                                          (np.array([True, True, True, True]), "bool")])
def test_lengths_must_be_integers(tmp_path, array, dtype):
    path = save(tmp_path, "l.npy", array)
    assert error_of(load_lengths, path, 4, 6) == (
        f"{path}: lengths hold {dtype} values, not integers; save {LENGTHS_EXPECTED} as an integer array"
    )


@pytest.mark.parametrize("values, index, value", [([1, 0, 3, 4], 1, 0), ([1, 2, 7, 0], 2, 7),
                                                   ([-1, 2, 3, 4], 0, -1), ([6, 6, 6, 100], 3, 100)])
def test_lengths_outside_one_to_t_name_the_first_bad_one(tmp_path, values, index, value):
    path = save(tmp_path, "l.npy", np.array(values))
    assert error_of(load_lengths, path, 4, 6) == (
        f"{path}: lengths[{index}] = {value} is outside 1..6 (the inputs have 6 timesteps); "
        "every length must be from 1 to 6"
    )


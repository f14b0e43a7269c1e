"""Loading the user's arrays (input sequences and their lengths) for the command line.

Both are ``.npy`` files (``numpy.save``). Every problem raises :class:`UserError` with a message that
names the file, what is wrong and how to fix it; nothing here ever returns a half-checked array.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rnnhw.spec.config import Config
from rnnhw.spec.errors import UserError
from rnnhw.spec.formatting import shape

__all__ = ["load_inputs", "load_lengths"]


def _load_npy(path, what: str, expected: str) -> np.ndarray:
    """Read one array from a ``.npy`` file; ``what`` names it and ``expected`` describes its shape."""
    path = Path(path)
    save_hint = f"save {expected} with numpy.save"
    if not path.exists():
        raise UserError(f"{what} file {str(path)!r} does not exist; pass a .npy file holding {expected}")
    if not path.is_file():
        raise UserError(f"{what} path {str(path)!r} is not a file; pass a .npy file holding {expected}")
    if path.suffix.lower() != ".npy":
        suffix = repr(path.suffix) if path.suffix else "a name without a suffix"
        raise UserError(f"{path}: {what} must be a .npy file, not {suffix}; {save_hint}")
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UserError(f"{path}: not a readable .npy file ({reason}); {save_hint}") from None
    if not isinstance(array, np.ndarray):  # an .npz archive renamed to .npy
        array.close()
        raise UserError(f"{path}: holds an .npz archive, not one array; {save_hint}")
    return array


def _check_kind(array: np.ndarray, path, what: str, kinds: str, noun: str, expected: str) -> None:
    if array.dtype.kind not in kinds:
        raise UserError(f"{path}: {what} hold {array.dtype} values, not {noun}; save {expected}")


def load_inputs(path, config: Config) -> np.ndarray:
    """Read input sequences ``[N, T, I]`` (``I = model.input_size``) as float64.

    Parameters
    ----------
    path : str or Path
        A ``.npy`` file holding a real (float or integer) array of shape ``[N, T, I]``.
    config : Config
        Gives the feature count ``I``.

    Returns
    -------
    numpy.ndarray
        float64 ``[N, T, I]`` with ``N >= 1`` and ``T >= 1``, every value finite.

    Raises
    ------
    UserError
        Missing or unreadable file, not ``.npy``, wrong shape, not numbers, NaN/Inf, or empty.
    """
    features = config.model.input_size
    expected = f"an array of shape [N, T, {features}] (N sequences, T timesteps, {features} features)"
    array = _load_npy(path, "inputs", expected)
    if array.ndim != 3 or array.shape[2] != features:
        hint = ""
        if array.ndim == 2 and array.shape[1] == features:
            hint = "; for one sequence use x[None] (shape [1, T, I])"
        raise UserError(f"{path}: inputs have shape {shape(array.shape)}, expected [N, T, {features}] "
                        f"(model.input_size = {features}){hint}")
    _check_kind(array, path, "inputs", "fiu", "numbers", expected)
    if array.size == 0:
        raise UserError(f"{path}: inputs are empty (shape {shape(array.shape)}); "
                        "give at least one sequence of at least one timestep")
    array = array.astype(np.float64)
    bad = ~np.isfinite(array)
    if bad.any():
        first = shape(np.argwhere(bad)[0])
        raise UserError(f"{path}: inputs contain {int(bad.sum()):,} NaN or Inf value(s), the first at "
                        f"{first}; replace them with finite numbers")
    return array


def load_lengths(path, n: int, t: int) -> np.ndarray:
    """Read per-sequence lengths ``[N]``, each from 1 to ``T``, as int64.

    Parameters
    ----------
    path : str or Path
        A ``.npy`` file holding ``n`` integers.
    n, t : int
        Number of sequences and of timesteps of the inputs they belong to.

    Returns
    -------
    numpy.ndarray
        int64 ``[n]`` with every value in ``1..t``.

    Raises
    ------
    UserError
        Missing or unreadable file, not ``.npy``, wrong shape, not integers, or a length outside ``1..t``.
    """
    expected = f"{n} integers from 1 to {t} (one length per input sequence)"
    array = _load_npy(path, "lengths", expected)
    if array.shape != (n,):
        raise UserError(f"{path}: lengths have shape {shape(array.shape)}, expected [{n}]: {expected}")
    _check_kind(array, path, "lengths", "iu", "integers", f"{expected} as an integer array")
    outside = (array < 1) | (array > t)
    if outside.any():
        index = int(np.argmax(outside))
        raise UserError(f"{path}: lengths[{index}] = {int(array[index])} is outside 1..{t} "
                        f"(the inputs have {t} timesteps); every length must be from 1 to {t}")
    return array.astype(np.int64)

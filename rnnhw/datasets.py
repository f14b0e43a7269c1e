"""Labelled sequence data: the bundled digits set and the user's ``D.npz`` files.

A :class:`Dataset` holds input sequences ``X [N, T, F]`` and either integer class labels ``y [N]``
(classification through the model's outputs: the largest output is the predicted class) or float
targets ``Y`` (regression), plus optional per-sequence ``lengths [N]``.

The bundled set is scikit-learn's handwritten digits (1,797 images of 8x8 pixels, shipped inside
scikit-learn, no download): each image is a sequence of its 8 rows (timesteps) of 8 pixels (features)
scaled to ``[0, 1]``, split 70/30 into train and test, stratified by class with a fixed seed.

The bundled digit strings (:func:`digit_strings`, for CTC) put 1 to 5 of those images side by side
and read them column by column: a sequence of 8 columns of 8 pixels per digit, padded to 40 steps
(``lengths`` = 8 per digit), its label sequence the digits.

A user's ``D.npz`` (``numpy.savez``) holds the arrays ``X``, ``y`` or ``Y`` or ``labels`` (label
sequences ``[N, Lmax]`` padded with -1, for CTC models), and optionally ``lengths``. Every problem
raises :class:`UserError` naming the array, its expected shape and the fix.
"""

from __future__ import annotations

import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rnnhw.spec.config import Config
from rnnhw.spec.errors import UserError
from rnnhw.spec.formatting import shape

__all__ = ["Dataset", "valid_steps", "digits", "digit_strings", "load_npz", "load_data", "calibration_data",
           "DIGITS", "DIGIT_STRINGS", "DIGITS_SEED", "DIGITS_TEST_FRACTION", "MAX_DIGITS"]

#: Name that selects the bundled digits set wherever a ``D.npz`` is accepted.
DIGITS = "digits"
#: Name that selects the bundled digit strings (label sequences, for CTC).
DIGIT_STRINGS = "digit-strings"
#: Most digits of a digit string.
MAX_DIGITS = 5
#: Seed and test fraction of the digits split (changing them changes the bundled models' numbers).
DIGITS_SEED = 0
DIGITS_TEST_FRACTION = 0.3

_KEYS = ("X", "y", "Y", "labels", "lengths")


def valid_steps(lengths: np.ndarray, steps: int) -> np.ndarray:
    """Boolean ``[N, T]``: which timesteps exist for sequences of ``lengths`` in a batch of ``steps``."""
    return np.arange(steps)[None, :] < np.asarray(lengths)[:, None]


@dataclass(frozen=True)
class Dataset:
    """Sequences and what the model should produce for them.

    Members
    -------
    name : where the data came from, for messages and reports.
    x : float64 ``[N, T, F]``.
    lengths : int64 ``[N]`` in ``1..T``, or ``None`` (every sequence has ``T`` steps).
    labels : int64 ``[N]`` class labels (classification), or ``None``.
    targets : float64 regression targets (``[N]``, ``[N, K]`` or ``[N, T, K]``), or ``None``.
    sequences : int64 ``[N, Lmax]`` label sequences padded with -1 (CTC), or ``None``.
    """

    name: str
    x: np.ndarray
    lengths: np.ndarray | None = None
    labels: np.ndarray | None = None
    targets: np.ndarray | None = None
    sequences: np.ndarray | None = None

    @property
    def size(self) -> int:
        return self.x.shape[0]

    @property
    def steps(self) -> int:
        return self.x.shape[1]

    @property
    def features(self) -> int:
        return self.x.shape[2]

    def valid_steps(self) -> np.ndarray:
        """Boolean ``[N, T]``: which timesteps exist (all of them without ``lengths``)."""
        lengths = self.lengths if self.lengths is not None else np.full(self.size, self.steps)
        return valid_steps(lengths, self.steps)

    @property
    def task(self) -> str | None:
        """``"classification"``, ``"regression"``, ``"ctc"`` (label sequences), or ``None`` for inputs alone."""
        if self.labels is not None:
            return "classification"
        if self.targets is not None:
            return "regression"
        if self.sequences is not None:
            return "ctc"
        return None

    @property
    def classes(self) -> int:
        """Number of classes the labels (or label sequences) imply (largest label + 1)."""
        if self.sequences is not None:
            return int(self.sequences.max(initial=-1)) + 1
        return int(self.labels.max()) + 1 if self.labels is not None else 0

    def subset(self, count: int) -> Dataset:
        """The first ``count`` sequences."""

        def head(a):
            return None if a is None else a[:count]

        return Dataset(f"{self.name}, first {count}", self.x[:count], head(self.lengths), head(self.labels),
                       head(self.targets), head(self.sequences))

    def check_features(self, config: Config) -> None:
        """Raise :class:`UserError` unless the sequences have the model's number of features."""
        features = config.model.input_size
        if self.features != features:
            raise UserError(f"{self.name}: X has shape {shape(self.x.shape)} but the model reads {features} "
                            f"features (model.input_size); X must be [N, T, {features}]")

    def check_against(self, config: Config) -> None:
        """Raise :class:`UserError` unless a model with ``config`` can be evaluated on this data."""
        self.check_features(config)
        model = config.model
        outputs = model.output_vector
        if model.ctc and self.sequences is None and self.task is not None:
            raise UserError(f"{self.name}: the model decodes CTC label sequences (model.ctc_blank); give label "
                            "sequences as labels [N, Lmax] padded with -1, not y or Y")
        if self.sequences is not None:
            if not model.ctc:
                raise UserError(f"{self.name}: label sequences need a CTC model (model.ctc_blank, a head at "
                                "every step); use y [N] labels or Y targets for this model")
            bad = [v for v in np.unique(self.sequences[self.sequences >= 0]).tolist()
                   if v >= model.head or v == model.ctc_blank]
            if bad:
                raise UserError(f"{self.name}: labels hold {bad[0]} but the model's labels are 0..{model.head - 1} "
                                f"without the blank {model.ctc_blank}")
        if self.labels is not None:
            if model.return_sequences:
                raise UserError(f"{self.name}: labels y [N] need one output vector per sequence, but the "
                                "model has model.return_sequences = true; use regression targets Y [N, T, K]")
            limit = 2 if outputs == 1 else outputs
            if self.classes > limit:
                what = "one output (class 1 when it is > 0)" if outputs == 1 else f"{outputs} outputs"
                raise UserError(f"{self.name}: y holds label {self.classes - 1} but the model has {what}; "
                                f"labels must be 0..{limit - 1}")
        if self.targets is not None:
            expected = _output_shape(config, self.size, self.steps)
            if self.targets.shape != expected and not (outputs == 1 and self.targets.shape == expected[:1]):
                raise UserError(f"{self.name}: Y has shape {shape(self.targets.shape)} but the model's "
                                f"outputs are {shape(expected)}; Y must have the outputs' shape")


def _output_shape(config: Config, batch: int, steps: int) -> tuple[int, ...]:
    model = config.model
    if model.return_sequences:
        return (batch, steps, model.output_vector)
    return (batch, model.output_vector)


def digits(split: str = "test") -> Dataset:
    """The bundled digits set as sequences of 8 rows of 8 pixels in ``[0, 1]``.

    Parameters
    ----------
    split : ``"train"`` (70 %), ``"test"`` (30 %) or ``"all"``.
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    if split not in ("train", "test", "all"):
        raise ValueError(f"split must be 'train', 'test' or 'all', not {split!r}")
    bunch = load_digits()
    x = bunch.images.astype(np.float64) / 16.0  # pixels are 0..16
    y = bunch.target.astype(np.int64)
    if split == "all":
        return Dataset(f"{DIGITS} (all)", x, None, y)
    index = np.arange(len(y))
    train, test = train_test_split(index, test_size=DIGITS_TEST_FRACTION, random_state=DIGITS_SEED,
                                   stratify=y)
    chosen = np.sort(train if split == "train" else test)
    return Dataset(f"{DIGITS} ({split} split)", x[chosen], None, y[chosen])


#: Digit strings per split of :func:`digit_strings`.
DIGIT_STRINGS_COUNT = {"train": 4000, "test": 1000}


def digit_strings(split: str = "test") -> Dataset:
    """The bundled digit strings: 1 to :data:`MAX_DIGITS` digit images side by side, read column by column.

    Each string draws its digits at random from the digits set's ``split`` (so test strings hold only
    test images); sequence ``[5*8, 8]`` padded with zeros after ``lengths = 8 * digits`` columns, label
    sequence the digits ``[N, 5]`` padded with -1. ``split``: ``"train"`` (4,000 strings) or ``"test"``
    (1,000).
    """
    if split not in DIGIT_STRINGS_COUNT:
        raise ValueError(f"split must be 'train' or 'test', not {split!r}")
    images = digits(split)
    rng = np.random.default_rng(DIGITS_SEED + (split == "test"))
    count, width = DIGIT_STRINGS_COUNT[split], images.x.shape[2]
    x = np.zeros((count, MAX_DIGITS * width, images.x.shape[1]))
    sequences = np.full((count, MAX_DIGITS), -1, dtype=np.int64)
    digits_per_string = rng.integers(1, MAX_DIGITS + 1, size=count)
    for n, k in enumerate(digits_per_string):
        chosen = rng.integers(0, images.size, size=k)
        # Image [rows, columns] -> its columns as timesteps, the rows as features.
        x[n, : k * width] = np.concatenate([images.x[i].T for i in chosen])
        sequences[n, :k] = images.labels[chosen]
    return Dataset(f"{DIGIT_STRINGS} ({split} split)", x, digits_per_string * width, sequences=sequences)


def load_data(source, split: str = "test", require_targets: bool = True) -> Dataset:
    """``"digits"``, ``"digit-strings"`` (a bundled set's ``split``) or the path of a user's ``D.npz``."""
    if str(source) == DIGITS:
        return digits(split)
    if str(source) == DIGIT_STRINGS:
        return digit_strings(split)
    return load_npz(source, require_targets=require_targets)


def calibration_data(source, data: Dataset) -> Dataset:
    """Data to calibrate on when evaluating ``data`` from ``source``: a bundled set's train split, else the
    data itself."""
    return load_data(source, split="train") if str(source) in (DIGITS, DIGIT_STRINGS) else data


def load_npz(path, require_targets: bool = True) -> Dataset:
    """Read and validate a user's ``D.npz``.

    Parameters
    ----------
    path : str or Path
        An ``.npz`` archive (``numpy.savez``) with ``X`` ``[N, T, F]`` (real numbers), ``y`` ``[N]``
        (integer labels from 0) or ``Y`` (float targets with first dimension ``N``), and optionally
        ``lengths`` ``[N]`` (integers in ``1..T``).
    require_targets : bool
        Whether ``y`` or ``Y`` must be present (calibration needs only ``X``).

    Raises
    ------
    UserError
        Missing or unreadable file, a missing or unexpected array, or an array with the wrong shape,
        type or values; the message names the array and its expected shape.
    """
    path = Path(path)
    arrays = _read_npz(path)
    unknown = sorted(set(arrays) - set(_KEYS))
    if unknown:
        raise UserError(f"{path}: unexpected array {unknown[0]!r}; a data file holds X [N, T, F], y [N] or "
                        "Y, and optionally lengths [N]")
    if "X" not in arrays:
        raise UserError(f"{path}: no array X; save the input sequences as X with shape [N, T, F] "
                        "(N sequences, T timesteps, F features)")
    x = _check_inputs(path, arrays["X"])
    batch, steps, _ = x.shape
    given = [key for key in ("y", "Y", "labels") if key in arrays]
    if given[:2] == ["y", "Y"]:
        raise UserError(f"{path}: holds both y (labels) and Y (regression targets); keep one")
    if len(given) > 1:
        raise UserError(f"{path}: holds both {given[0]} and {given[1]}; keep one of y (class labels), Y "
                        "(regression targets), labels (label sequences)")
    labels = _check_labels(path, arrays["y"], batch) if "y" in arrays else None
    targets = _check_targets(path, arrays["Y"], batch) if "Y" in arrays else None
    sequences = _check_sequences(path, arrays["labels"], batch, steps) if "labels" in arrays else None
    if require_targets and labels is None and targets is None and sequences is None:
        raise UserError(f"{path}: no y, Y or labels; save integer class labels as y [{batch}], float regression "
                        f"targets as Y [{batch}, K] or label sequences as labels [{batch}, Lmax] padded with -1")
    lengths = _check_lengths(path, arrays["lengths"], batch, steps) if "lengths" in arrays else None
    return Dataset(str(path), x, lengths, labels, targets, sequences)


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    hint = "write it with numpy.savez(path, X=..., y=...)"
    if not path.exists():
        raise UserError(f"data file {str(path)!r} does not exist; pass a .npz file ({hint}) or 'digits'")
    if not path.is_file():
        raise UserError(f"data path {str(path)!r} is not a file; pass a .npz file ({hint}) or 'digits'")
    if not zipfile.is_zipfile(path):
        raise UserError(f"{path}: not a .npz archive; {hint}")
    try:
        with np.load(path, allow_pickle=False) as data:
            return {name: np.asarray(data[name]) for name in data.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UserError(f"{path}: not a readable .npz archive ({reason}); {hint}") from None


def _check_finite(path, name: str, array: np.ndarray) -> None:
    bad = ~np.isfinite(array)
    if bad.any():
        raise UserError(f"{path}: {name} contains {int(bad.sum()):,} NaN or Inf value(s), the first at "
                        f"{shape(np.argwhere(bad)[0])}; replace them with finite numbers")


def _check_inputs(path, x: np.ndarray) -> np.ndarray:
    if x.ndim != 3:
        raise UserError(f"{path}: X has shape {shape(x.shape)}, expected [N, T, F] (N sequences, "
                        "T timesteps, F features)")
    if x.dtype.kind not in "fiu":
        raise UserError(f"{path}: X holds {x.dtype} values, not numbers; save X [N, T, F] as a float array")
    if x.size == 0:
        raise UserError(f"{path}: X is empty (shape {shape(x.shape)}); give at least one sequence of at "
                        "least one timestep of at least one feature")
    x = x.astype(np.float64)
    _check_finite(path, "X", x)
    return x


def _check_labels(path, y: np.ndarray, batch: int) -> np.ndarray:
    expected = f"y must be [{batch}] integer class labels from 0 (one per sequence of X)"
    if y.shape != (batch,):
        raise UserError(f"{path}: y has shape {shape(y.shape)}; {expected}")
    if y.dtype.kind == "f":
        if not np.all(np.isfinite(y)) or np.any(y != np.round(y)):
            raise UserError(f"{path}: y holds non-integer values; {expected} (for float targets use Y)")
    elif y.dtype.kind not in "iu":
        raise UserError(f"{path}: y holds {y.dtype} values; {expected}")
    y = y.astype(np.int64)
    if y.min() < 0:
        index = int(np.argmax(y < 0))
        raise UserError(f"{path}: y[{index}] = {int(y[index])} is negative; {expected}")
    return y


def _check_sequences(path, sequences: np.ndarray, batch: int, steps: int) -> np.ndarray:
    expected = (f"labels must be [{batch}, Lmax] integer label sequences (Lmax at most {steps}), each padded "
                "with -1 after its labels")
    if sequences.ndim != 2 or sequences.shape[0] != batch or sequences.shape[1] > steps:
        raise UserError(f"{path}: labels has shape {shape(sequences.shape)}; {expected}")
    if sequences.dtype.kind not in "iu":
        raise UserError(f"{path}: labels holds {sequences.dtype} values; {expected}")
    sequences = sequences.astype(np.int64)
    padding = sequences < 0
    if (sequences < -1).any() or (padding[:, :-1] & ~padding[:, 1:]).any():
        row = int(np.argwhere((sequences < -1).any(axis=1) | (padding[:, :-1] & ~padding[:, 1:]).any(axis=1))[0, 0])
        raise UserError(f"{path}: labels[{row}] = {sequences[row].tolist()} is not a label sequence; {expected}")
    return sequences


def _check_targets(path, targets: np.ndarray, batch: int) -> np.ndarray:
    expected = (f"Y must be [{batch}], [{batch}, K] or [{batch}, T, K] float targets "
                "(one row per sequence of X)")
    if targets.ndim not in (1, 2, 3) or targets.shape[0] != batch:
        raise UserError(f"{path}: Y has shape {shape(targets.shape)}; {expected}")
    if targets.dtype.kind not in "fiu":
        raise UserError(f"{path}: Y holds {targets.dtype} values; {expected}")
    targets = targets.astype(np.float64)
    _check_finite(path, "Y", targets)
    return targets


def _check_lengths(path, lengths: np.ndarray, batch: int, steps: int) -> np.ndarray:
    expected = f"lengths must be [{batch}] integers from 1 to {steps} (one per sequence of X)"
    if lengths.shape != (batch,):
        raise UserError(f"{path}: lengths has shape {shape(lengths.shape)}; {expected}")
    if lengths.dtype.kind not in "iu":
        raise UserError(f"{path}: lengths holds {lengths.dtype} values; {expected}")
    outside = (lengths < 1) | (lengths > steps)
    if outside.any():
        index = int(np.argmax(outside))
        raise UserError(f"{path}: lengths[{index}] = {int(lengths[index])} is outside 1..{steps}; {expected}")
    return lengths.astype(np.int64)

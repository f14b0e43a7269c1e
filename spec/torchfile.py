"""Reading a PyTorch ``state_dict`` file (``torch.save``) into NumPy arrays without importing PyTorch.

Importing ``torch`` takes seconds to over ten seconds on a cold or busy machine, most of a ``.pt`` file's
load time, while the file itself is a zip archive of one pickle and raw little-endian storages. The
pickle is read with an unpickler that knows only what a ``state_dict`` of dense tensors holds (an
``OrderedDict``, ``torch._utils._rebuild_tensor_v2``/``_rebuild_parameter`` and the typed storages)
and refuses anything else, so, like ``torch.load(weights_only=True)``, it never runs code from the file.
A file it does not understand (the legacy format, other tensor kinds, big-endian storages) raises
:class:`UnsupportedFile`; the caller then lets PyTorch read it.
"""

from __future__ import annotations

import collections
import pickle
import zipfile
from pathlib import Path

import numpy as np

__all__ = ["UnsupportedFile", "read_state_dict"]

# torch.<Name>Storage -> NumPy dtype of its elements (little-endian, as torch.save writes them).
_STORAGES = {
    "DoubleStorage": "<f8", "FloatStorage": "<f4", "HalfStorage": "<f2", "LongStorage": "<i8",
    "IntStorage": "<i4", "ShortStorage": "<i2", "CharStorage": "i1", "ByteStorage": "u1", "BoolStorage": "?",
}


class UnsupportedFile(Exception):
    """Not a file this reader understands (not necessarily a bad one): let PyTorch try."""


def _rebuild_tensor(storage, offset, size, stride, requires_grad=False, hooks=None, metadata=None):
    if not (isinstance(storage, np.ndarray) and all(isinstance(v, int) and v >= 0 for v in (offset, *size, *stride))
            and len(size) == len(stride)):
        raise UnsupportedFile("not a dense tensor")
    last = offset + sum((n - 1) * s for n, s in zip(size, stride, strict=True)) if all(size) else offset - 1
    if last >= storage.size:
        raise UnsupportedFile("a tensor reaches past its storage")
    view = np.lib.stride_tricks.as_strided(storage[offset:], shape=tuple(size),
                                           strides=tuple(s * storage.itemsize for s in stride), writeable=False)
    return np.array(view)


def _rebuild_parameter(data, requires_grad=False, hooks=None):
    return data


class _Unpickler(pickle.Unpickler):
    def __init__(self, file, archive: zipfile.ZipFile, prefix: str):
        super().__init__(file)
        self.archive, self.prefix = archive, prefix

    def find_class(self, module, name):
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return _rebuild_tensor
        if module == "torch._utils" and name == "_rebuild_parameter":
            return _rebuild_parameter
        if module == "torch" and name in _STORAGES:
            return np.dtype(_STORAGES[name])
        raise UnsupportedFile(f"{module}.{name}")

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"
                and isinstance(pid[1], np.dtype)):
            raise UnsupportedFile("an unknown storage")
        _, dtype, key, _, count = pid
        try:
            raw = self.archive.read(f"{self.prefix}/data/{key}")
        except KeyError:
            raise UnsupportedFile("a missing storage") from None
        if len(raw) < count * dtype.itemsize:
            raise UnsupportedFile("a short storage")
        return np.frombuffer(raw, dtype=dtype, count=count)


def read_state_dict(path) -> dict:
    """The file's ``state_dict``: names -> arrays (floating-point tensors as float64, others as stored).

    Raises
    ------
    UnsupportedFile
        For anything but a zip-format file of dense little-endian tensors (PyTorch can then read it).
    """
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as archive:
            pickles = [name for name in archive.namelist() if name.endswith("/data.pkl") and name.count("/") == 1]
            if len(pickles) != 1:
                raise UnsupportedFile("no data.pkl")
            prefix = pickles[0].split("/")[0]
            names = set(archive.namelist())
            if f"{prefix}/byteorder" in names and archive.read(f"{prefix}/byteorder").strip() != b"little":
                raise UnsupportedFile("big-endian storages")
            with archive.open(pickles[0]) as handle:
                state = _Unpickler(handle, archive, prefix).load()
    except (OSError, zipfile.BadZipFile, pickle.UnpicklingError, EOFError, ValueError, TypeError,
            AttributeError, IndexError) as exc:
        raise UnsupportedFile(str(exc)) from None
    if not isinstance(state, dict):
        raise UnsupportedFile("not a dict")
    return {name: value.astype(np.float64) if isinstance(value, np.ndarray) and value.dtype.kind == "f" else value
            for name, value in state.items()}

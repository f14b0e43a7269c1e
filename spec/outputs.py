"""Writing results safely: nothing half-written is ever left behind."""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from .errors import UserError

__all__ = ["atomic_file", "atomic_dir", "check_output_path", "Progress"]


def _check_parent(path: Path):
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise UserError(f"cannot write {str(path)!r}: directory {str(parent)!r} does not exist")


def check_output_path(path) -> None:
    """Raise :class:`UserError` now, before long work, if ``path`` could not be written later."""
    path = Path(path)
    _check_parent(path)
    if path.is_dir():
        raise UserError(f"cannot write {str(path)!r}: it is a directory; give a file name")


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_file(path, suffix: str = ""):
    """Yield a temporary path next to ``path``; move it into place only if the block succeeds."""
    path = Path(path)
    _check_parent(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix or path.suffix, dir=path.parent or ".")
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; a result file gets the usual mode
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


@contextlib.contextmanager
def atomic_dir(path):
    """Yield a temporary directory; on success its files are moved into ``path`` (created if needed)."""
    path = Path(path)
    _check_parent(path)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent or "."))
    try:
        yield tmp
        path.mkdir(exist_ok=True)
        for item in tmp.iterdir():
            target = path / item.name
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
            os.replace(item, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


class Progress:
    """Progress lines on stderr for long work, at most a few per second."""

    def __init__(self, what: str, total: int, quiet: bool = False, interval: float = 0.5):
        self.what, self.total, self.quiet, self.interval = what, total, quiet, interval
        self.start = self._last = time.monotonic()

    def update(self, done: int):
        now = time.monotonic()
        if self.quiet or (now - self._last < self.interval and done < self.total):
            return
        self._last = now
        pct = 100.0 * done / self.total if self.total else 100.0
        print(f"  {self.what}: {done:,}/{self.total:,} ({pct:.0f}%), {now - self.start:.1f} s", file=sys.stderr)

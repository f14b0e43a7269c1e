"""Writing results safely: nothing half-written is ever left behind."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

from .errors import UserError

__all__ = ["atomic_file", "atomic_dir", "check_output_path", "check_output_dir", "cannot_write", "file_lock",
           "Heartbeat", "Progress"]


def _check_parent(path: Path):
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        if parent.exists():
            raise UserError(f"cannot write {str(path)!r}: {str(parent)!r} is a file, not a directory")
        raise UserError(f"cannot write {str(path)!r}: directory {str(parent)!r} does not exist")


def _probe_writable(directory: Path, path: Path) -> None:
    """Create and remove a file in ``directory``: the surest test that ``path`` can be written there."""
    try:
        fd, probe = tempfile.mkstemp(prefix=".rnnhw-probe.", dir=directory)
    except OSError as exc:
        raise cannot_write(path, exc) from None
    os.close(fd)
    os.unlink(probe)


def cannot_write(path, exc: OSError) -> UserError:
    """The one-line error for a file-system failure while writing ``path``."""
    code = exc.errno
    if code is None and _no_space_left(Path(path)):  # a short write (NumPy) says only how much it wrote
        code = errno.ENOSPC
    cause = os.strerror(code) if code is not None and not exc.strerror else (exc.strerror or str(exc))
    fix = ("free some space or choose another place" if code in (errno.ENOSPC, errno.EDQUOT)
           else "choose a writable place")
    return UserError(f"cannot write {str(path)!r}: {cause}; {fix}")


def _no_space_left(path: Path) -> bool:
    for place in (path.parent, path):
        try:
            return os.statvfs(place).f_bavail == 0
        except OSError:
            continue
    return False


def _refuse_inputs(path: Path, inputs) -> None:
    for source in inputs:
        if source is None:
            continue
        try:
            same = os.path.samefile(path, source)
        except OSError:  # one of them does not exist (yet)
            continue
        if same:
            raise UserError(f"the output {str(path)!r} is the input {str(source)!r}; writing it would destroy "
                            "the input: choose another output name")


def check_output_path(path, inputs=()) -> None:
    """Raise :class:`UserError` now, before long work, if ``path`` could not be written later.

    Its directory must exist and accept a new file, ``path`` must not be a directory, and it must not be
    one of ``inputs`` (the same file, also through symbolic or hard links).
    """
    path = Path(path)
    _check_parent(path)
    if path.is_dir():
        raise UserError(f"cannot write {str(path)!r}: it is a directory; give a file name")
    _refuse_inputs(path, inputs)
    _probe_writable(path.parent, path)


def check_output_dir(path, inputs=(), files=()) -> None:
    """Like :func:`check_output_path` for an output directory that will receive ``files`` (names)."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise UserError(f"cannot write into {str(path)!r}: it is a file; give a directory")
    _check_parent(path)
    for name in files:
        _refuse_inputs(path / name, inputs)
    _refuse_inputs(path, inputs)
    _probe_writable(path if path.is_dir() else path.parent, path)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def _writing(path: Path):
    """File-system failures while writing ``path`` become one-line :class:`UserError`s."""
    try:
        yield
    except OSError as exc:
        raise cannot_write(path, exc) from None


@contextlib.contextmanager
def atomic_file(path, suffix: str = ""):
    """Yield a temporary path next to ``path``; move it into place only if the block succeeds.

    An :class:`OSError` in the block (a full disk...) becomes a :class:`UserError` naming ``path``; the
    temporary file is removed whatever happens.
    """
    path = Path(path)
    _check_parent(path)
    with _writing(path):
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix or path.suffix, dir=path.parent or ".")
    os.close(fd)
    try:
        with _writing(path):
            yield Path(tmp)
            os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; a result file gets the usual mode
            os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


@contextlib.contextmanager
def atomic_dir(path):
    """Yield a temporary directory; on success its files are moved into ``path`` (created if needed).

    An :class:`OSError` in the block becomes a :class:`UserError` naming ``path``; the temporary directory
    is removed whatever happens.
    """
    path = Path(path)
    _check_parent(path)
    with _writing(path):
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent or "."))
    try:
        with _writing(path):
            yield tmp
            path.mkdir(exist_ok=True)
            for item in tmp.iterdir():
                target = path / item.name
                if target.is_dir() and not target.is_symlink():
                    shutil.rmtree(target)
                os.replace(item, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@contextlib.contextmanager
def file_lock(path, on_wait=None):
    """An exclusive lock on the file ``path`` (created if missing) for the block.

    ``on_wait`` is called once, before waiting, if another process holds it. The lock goes with the
    process: a killed holder never blocks the next one.
    """
    with open(path, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if on_wait is not None:
                on_wait()
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class Heartbeat:
    """For work that cannot count its progress: a line on stderr every ``interval`` s while it lasts.

    ``with Heartbeat("generating the Verilog"):`` prints ``  generating the Verilog: 10 s``, ``... 20 s``...
    """

    def __init__(self, what: str, quiet: bool = False, interval: float = 10.0):
        self.what, self.quiet, self.interval = what, quiet, interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _beat(self):
        start = time.monotonic()
        while not self._stop.wait(self.interval):
            print(f"  {self.what}: {time.monotonic() - start:.0f} s", file=sys.stderr, flush=True)

    def __enter__(self):
        if not self.quiet:
            self._thread = threading.Thread(target=self._beat, name="rnnhw-heartbeat", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        return False


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

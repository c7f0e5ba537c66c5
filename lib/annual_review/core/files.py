"""Files written whole or not at all, and locks: the one atomic writer every output, font, workbook and new
year's file goes through, and the umask it honours (read once, before any thread starts)."""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from pathlib import Path

from .exceptions import BuildError


def read_umask() -> int:
    """The process's umask, read once: on Linux without changing it; elsewhere set back at once, at import."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


UMASK = read_umask()  # read before any thread starts: changing it, even for a moment, races with them


def file_digest(path: str | Path) -> str | None:
    """SHA-256 of a regular file's bytes; None if there is no such file (a pipe or a device is no file: reading
    one would wait for ever, or never end)."""
    import hashlib
    import stat

    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return None
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError, ValueError):
        return None


def write_atomic(path: Path, content: str | bytes) -> Path:
    """Write ``content`` to ``path`` through a temporary file, so readers never see half a file.

    The file is flushed to disk before it takes its name, and made readable as the umask
    allows (a report is for sharing).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~UMASK) if hasattr(os, "fchmod") else os.chmod(tmp, 0o666 & ~UMASK)
        with os.fdopen(fd, "wb") as handle:
            handle.write(content.encode("utf-8") if isinstance(content, str) else content)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _lock_file(handle) -> None:
    """Take an exclusive, non-blocking lock on an open file; raise OSError if another process holds it."""
    try:
        import fcntl
    except ImportError:  # Windows
        import msvcrt

        handle.seek(0)
        msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
        return
    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)


class Lock:
    """An exclusive lock held through a file of ``path`` naming its holder; ``busy`` says what to do when it is taken."""

    def __init__(self, path: Path, busy: str):
        self.path, self.busy = Path(path), busy
        self._handle = None

    def __enter__(self) -> "Lock":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._handle = open(self.path, "a+", encoding="utf-8")
        try:
            _lock_file(self._handle)
        except OSError:
            self._handle.seek(0)
            holder = self._handle.read().strip() or "another process"
            self._handle.close()
            raise BuildError(self.busy.format(holder=holder)) from None
        self._handle.seek(0)
        self._handle.truncate()
        self._handle.write(f"pid {os.getpid()}, since {dt.datetime.now():%Y-%m-%d %H:%M:%S}")
        self._handle.flush()
        return self

    def __exit__(self, *exc) -> None:
        if self._handle is not None:
            self._handle.truncate(0)
            self._handle.close()  # closing releases the lock
            self._handle = None

"""Which files a section read, so the build knows when to run it again.

This module runs inside the kernels. Every file the section's process opens for reading is seen by a
Python audit hook (``sys.addaudithook``, event ``open``), whichever library opens it — the library's own
loaders, pandas, openpyxl, a plain ``open`` in a notebook — and is stamped (its time and size) as it is
first opened, so the build can tell a file that changed while the section ran. The library's loaders also
record the files they look for but do not find (their appearing later changes the result). The files of
the Python installation and the kernel's own machinery are not the section's inputs and are left out.
"""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path


# Set by a build that checks the data itself (every register of the year, before anything is published): its
# sections' tables are loaded without their schema check, and each loaded file's digest is recorded
# (:func:`unchecked`), for the build to compare with the content it checked. Not set (JupyterLab), or "0": every
# table is checked as it is loaded.
CHECKED_ENV = "ANNUAL_REVIEW_DATA_CHECKED"


def checked_by_build() -> bool:
    """Whether this section's data is checked by the build that runs it (see :data:`CHECKED_ENV`)."""
    return os.environ.get(CHECKED_ENV) == "1"


class _Record:
    """What the running section read: its private state is not the library's (isolation does not compare it)."""

    def __init__(self):
        self._unchecked: dict[str, str] = {}  # loaded without a schema check (the build checks): real path → digest
        self._named: set[str] = set()  # recorded by the library's loaders, absent files included
        self._opened: dict[str, tuple[int, int]] = {}  # opened for reading → (mtime_ns, size) when first opened
        self._active = False
        self._skip: tuple[str, ...] = ()


_record = _Record()
_READ_FLAGS = os.O_WRONLY | os.O_RDWR  # (os.open's flags: either one means it writes)


def record(path: str | Path) -> None:
    """Note a file the library looked for, whether or not it exists."""
    _record._named.add(str(Path(path).resolve()))


def unchecked(path: str | Path, digest: str) -> None:
    """Note a file a table was loaded from without its schema check, with the digest of what was loaded."""
    _record._unchecked[os.path.realpath(path)] = digest


def unchecked_loads() -> dict[str, str]:
    """Each file the section's tables were loaded from unchecked → its digest: the build's check must have seen the
    same content, or the section runs again with its tables checked."""
    return dict(_record._unchecked)


def reads() -> list[str]:
    """Every file the section read or looked for, absolute."""
    return sorted(_record._named | set(_record._opened))


def stamps() -> dict[str, list[int]]:
    """Each file the section opened, with its modification time and size when it first opened it."""
    return {path: list(stamp) for path, stamp in _record._opened.items()}


def clear() -> None:
    """Start a new section's record (the build calls it before each section)."""
    _record._named.clear()
    _record._opened.clear()
    _record._unchecked.clear()
    _record._active = True


def _installation() -> tuple[str, ...]:
    """Folders whose files are the Python installation's and the kernel's, not a section's inputs."""
    import site
    import sysconfig

    folders = {sys.prefix, sys.base_prefix, sys.exec_prefix, *sysconfig.get_paths().values(),
               *getattr(site, "getsitepackages", lambda: [])(), "/proc", "/sys", "/dev", "/usr", "/etc", "/lib", "/lib64",
               "/var/cache", "/var/lib"}
    try:
        import matplotlib

        folders |= {matplotlib.get_cachedir(), matplotlib.get_configdir(), matplotlib.get_data_path()}
    except Exception:  # noqa: BLE001 - matplotlib not there yet: nothing of it to leave out
        pass
    try:
        from jupyter_core.paths import jupyter_runtime_dir

        folders.add(jupyter_runtime_dir())
    except Exception:  # noqa: BLE001
        pass
    folders.add(str(Path.home() / ".ipython"))
    return tuple(sorted({str(Path(f).resolve()) + os.sep for f in folders if f}))


def _hook(event: str, args: tuple) -> None:
    if event != "open" or not _record._active:
        return
    path, mode, flags = (list(args) + [None, None, None])[:3]
    if isinstance(mode, str):
        if any(c in mode for c in "wax"):
            return  # written, not read
    elif isinstance(flags, int) and flags & _READ_FLAGS == os.O_WRONLY:
        return
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    if not isinstance(path, (str, os.PathLike)):
        return  # a file descriptor: already open
    try:
        full = os.path.realpath(path)
        if full.startswith(_record._skip) or full in _record._opened:
            return
        info = os.stat(full)
    except (OSError, ValueError):
        return
    if stat.S_ISREG(info.st_mode):
        _record._opened[full] = (info.st_mtime_ns, info.st_size)


def install() -> None:
    """Watch what this process opens (once per kernel, at its warm-up: an audit hook cannot be removed)."""
    if not _record._skip:
        _record._skip = _installation()
        sys.addaudithook(_hook)

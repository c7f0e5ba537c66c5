"""Which input files a section read, so the build knows when to run it again.

The library's loaders record every file they open; after a section runs, the build
asks its kernel for the list and stores each file's fingerprint in the manifest.
"""

from __future__ import annotations

from pathlib import Path

_reads: set[str] = set()


def record(path: str | Path) -> None:
    _reads.add(str(Path(path).resolve()))


def reads() -> list[str]:
    return sorted(_reads)


def clear() -> None:
    _reads.clear()

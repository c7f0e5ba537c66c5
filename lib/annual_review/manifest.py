"""What a build was made from: fingerprints of inputs, code and environment, kept in ``manifest.json``.

A section is re-executed only when something it depends on changed: its notebook,
its parameters, a data file it read, the library's code, or the environment. The
manifest records, per section, its status, duration, cache key and input
fingerprints, plus the versions and git commit the report was built with.
"""

from __future__ import annotations

import functools
import hashlib
import json
import platform
import subprocess
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

MANIFEST = "manifest.json"
KEY_PACKAGES = ("annual-review", "papermill", "nbclient", "nbconvert", "nbformat", "ipykernel", "pandas", "matplotlib", "pandera", "openpyxl", "fonttools")
PACKAGE_DIR = Path(__file__).resolve().parent


def file_digest(path: str | Path) -> str | None:
    """SHA-256 of a file's bytes; None if it does not exist."""
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return None


def digest(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str, ensure_ascii=False).encode()).hexdigest()


@functools.cache
def library_fingerprint() -> str:
    """The library's own code and templates."""
    files = sorted(p for p in PACKAGE_DIR.rglob("*") if p.is_file() and p.suffix in {".py", ".j2", ".css", ".json"})
    return digest([(str(p.relative_to(PACKAGE_DIR)), file_digest(p)) for p in files])


@functools.cache
def versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name in KEY_PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "absent"
    return found


def environment_fingerprint() -> str:
    return digest(versions(), sys.executable)


@functools.cache
def git_commit(where: Path) -> str | None:
    """The commit of the checkout ``where`` is in, with '+dirty' if it has uncommitted changes."""
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=where, capture_output=True, text=True, timeout=10)
        if commit.returncode != 0:
            return None
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=where,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return commit.stdout.strip() + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return None


def section_key(notebook: Path, parameters: dict) -> str:
    """What a section's result depends on before knowing which files it reads."""
    return digest(file_digest(notebook), parameters, library_fingerprint(), environment_fingerprint())


@dataclass(frozen=True)
class Verdict:
    reuse: bool
    reason: str


def judge(previous: dict | None, key: str, notebook: Path, parameters: dict, executed: Path) -> Verdict:
    """Whether a section's earlier result still stands, and why not if it does not."""
    if previous is None or previous.get("status") != "ok":
        return Verdict(False, "no earlier result")
    if not executed.is_file():
        return Verdict(False, "its executed notebook is gone")
    if previous.get("key") != key:
        if previous.get("notebook_digest") != file_digest(notebook):
            return Verdict(False, "notebook changed")
        if previous.get("parameters") != parameters:
            return Verdict(False, "parameters changed")
        if previous.get("library") != library_fingerprint():
            return Verdict(False, "library changed")
        return Verdict(False, "environment changed")
    changed = [Path(p).name for p, digest in previous.get("inputs", {}).items() if file_digest(p) != digest]
    if changed:
        return Verdict(False, f"data changed: {', '.join(sorted(changed))}")
    return Verdict(True, "unchanged")


def read(out: Path) -> dict:
    try:
        return json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


def fingerprints(paths: list[str]) -> dict[str, str | None]:
    return {p: file_digest(p) for p in paths}


def data_fingerprint(data_dir: Path, year: int) -> str:
    """Every file of a year's data and the table declarations, for skipping a re-validation of the same data."""
    folder = data_dir / str(year)
    files = sorted(p for p in folder.rglob("*") if p.is_file()) + [data_dir / "tables.yml"]
    return digest([(str(p), file_digest(p)) for p in files], library_fingerprint())

"""What a build was made from and what it wrote: the record kept in ``manifest.json``.

A section is re-executed only when something it depends on changed: its notebook,
its parameters, a data file it read, the library's code, or the environment. The
manifest records, per section, its status, duration, cache key, input fingerprints
and the digest of its executed notebook; the digest of every report file; the
versions and git commit the report was built with. Nothing is reused unless it is
byte for byte what the record says, and a record that cannot be read is no record.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import sys
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from ..core.files import file_digest
from ..core.outputs import MANIFEST  # noqa: F401 - public here too
from ..core.paths import TABLES_FILE, stamp
KEY_PACKAGES = ("annual-review", "papermill", "nbclient", "nbconvert", "nbformat", "ipykernel", "pandas", "matplotlib", "pandera", "openpyxl", "fonttools")
PACKAGE_DIR = Path(__file__).resolve().parents[1]  # the whole package: its code and templates



def digest(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str, ensure_ascii=False).encode()).hexdigest()


@functools.cache
def library_fingerprint() -> str:
    """The library's own code and templates."""
    files = sorted(p for p in PACKAGE_DIR.rglob("*") if p.is_file() and p.suffix in {".py", ".j2", ".css", ".json"})
    return digest([(str(p.relative_to(PACKAGE_DIR)), file_digest(p)) for p in files])


@functools.cache
def versions() -> dict[str, str]:
    """Python's version and each key package's, as installed: read from the names of the distributions' metadata
    folders on the import path (``pandas-2.2.3.dist-info``), the first of each name as Python would import it —
    a listing of a few folders, where reading every package's metadata took a tenth of a second of every build."""
    wanted = {_normal(name): name for name in KEY_PACKAGES}
    found: dict[str, str] = {}
    for folder in sys.path:
        try:
            entries = os.listdir(folder or ".")
        except OSError:
            continue
        for entry in entries:
            if entry.endswith((".dist-info", ".egg-info")):
                name, _, version = entry.rsplit(".", 1)[0].partition("-")
                package = wanted.get(_normal(name))
                if package and package not in found:
                    found[package] = version.split("-")[0]
    return {"python": sys.version.split()[0], **{name: found.get(name, "absent") for name in KEY_PACKAGES}}


def _normal(name: str) -> str:
    """A distribution's name as its metadata folder spells it (PEP 503, with underscores)."""
    return re.sub(r"[-_.]+", "_", name).lower()


def environment_fingerprint() -> str:
    return digest(versions(), sys.executable)


@functools.cache
def git_commit(where: Path) -> str | None:
    """The commit of the checkout ``where`` is in, with '+dirty' if it has uncommitted changes."""
    import subprocess  # (only a build that publishes asks)

    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=where, capture_output=True, text=True, timeout=10)
        if commit.returncode != 0:
            return None
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=where,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return commit.stdout.strip() + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return None


def section_key(notebook: Path, parameters: dict, context: dict | None = None) -> str:
    """What a section's result depends on before knowing which files it reads (``context``: what its kernel is told)."""
    return digest(file_digest(notebook), parameters, library_fingerprint(), environment_fingerprint(), context or {})


@dataclass(frozen=True)
class Verdict:
    reuse: bool
    reason: str


def judge(previous: "SectionRecord | None", key: str, notebook: Path, parameters: dict, executed: Path,
          roots: tuple = ()) -> Verdict:
    """Whether a section's earlier result still stands, and why not if it does not.

    The record is the output folder's, so it is read as untrusted: an input it names outside ``roots`` (the data
    and project folders) is not read at all, and the section runs again."""
    if previous is None or previous.status != "ok":
        return Verdict(False, "no earlier result")
    if not executed.is_file():
        return Verdict(False, "its executed notebook is gone")
    if previous.executed != file_digest(executed):
        return Verdict(False, "its executed notebook is not the one recorded")
    if previous.key != key:
        if previous.notebook_digest != file_digest(notebook):
            return Verdict(False, "notebook changed")
        if previous.parameters != parameters:
            return Verdict(False, "parameters changed")
        if previous.library != library_fingerprint():
            return Verdict(False, "library changed")
        return Verdict(False, "environment changed")
    inputs = previous.inputs
    if inputs is None:
        return Verdict(False, "no record of what it read")
    inside = tuple(os.path.join(os.path.realpath(r), "") for r in roots)  # ("/project/data/", …)
    strays = [p for p in inputs if inside and not os.path.join(os.path.realpath(p), "").startswith(inside)]
    if strays:
        return Verdict(False, f"its record names a file outside the project ({strays[0]}); not read")
    changed = [Path(p).name for p, digest in inputs.items() if file_digest(p) != digest]
    if changed:
        return Verdict(False, f"data changed: {', '.join(sorted(changed))}")
    return Verdict(True, "unchanged")


def read(out: Path, warn=None) -> dict:
    """The record of the last build in ``out``; {} when there is none or it cannot be read (``warn`` is told why)."""
    path = out / MANIFEST
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        reason = f"not readable ({type(exc).__name__})"
    else:
        reason = _invalid(record)
        if reason is None:
            return record
    if warn:
        warn(f"warning: {path} is {reason}; building as if nothing had been built before")
    return {}


_SECTION_FIELDS = {"notebook": str, "notebook_digest": (str, type(None)), "parameters": dict, "status": str,
                   "state": str, "reason": str, "seconds": (int, float), "key": str, "inputs": dict,
                   "executed": (str, type(None)), "kernel": int, "library": str}
_RECORD_FIELDS = {"year": int, "data": str, "earlier_data": dict, "tables_with_rows": (list, type(None)),
                  "render": (str, type(None)), "mode": str, "outputs": dict, "sections": dict,
                  "render_seconds": (int, float), "built_at": str, "data_dir": str, "git_commit": (str, type(None)),
                  "versions": dict, "library": str, "sources": (str, type(None))}


def _invalid(record) -> str | None:
    """Why a build record is not one a build can trust (its schema), or None: a record of the wrong shape is no
    record, and the next build starts afresh rather than failing on it."""
    if not isinstance(record, dict):
        return "not a build record"
    for name, kind in _RECORD_FIELDS.items():
        if name in record and (not isinstance(record[name], kind) or isinstance(record[name], bool)):
            return f"not a build record ('{name}' is a {type(record[name]).__name__})"
    if not all(isinstance(v, str) for v in record.get("outputs", {}).values()):
        return "not a build record ('outputs': a file without its digest)"
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in record.get("earlier_data", {}).items()):
        return "not a build record ('earlier_data')"
    if not all(isinstance(t, str) for t in record.get("tables_with_rows", [])):
        return "not a build record ('tables_with_rows')"
    for name, section in record.get("sections", {}).items():
        if not isinstance(section, dict):
            return f"not a build record (section '{name}')"
        for key, kind in _SECTION_FIELDS.items():
            if key in section and (not isinstance(section[key], kind)
                                   or (isinstance(section[key], bool) and kind is not bool)):
                return f"not a build record (section '{name}': '{key}')"
        inputs = section.get("inputs", {})
        if not all(isinstance(k, str) and isinstance(v, (str, type(None))) for k, v in inputs.items()):
            return f"not a build record (section '{name}': 'inputs')"
    return None


def fingerprints(paths: list[str]) -> dict[str, str | None]:
    return {p: file_digest(p) for p in paths}


def data_files(data_dir: Path, year: int) -> dict[Path, tuple]:
    """Every file of a year's data and the table declarations: each → (its digest, its time and size) as read now."""
    folder = data_dir / str(year)
    found = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()) + [data_dir / TABLES_FILE]:
        before = stamp(path)
        found[path] = (file_digest(path), before if stamp(path) == before else None)  # (None: written while read)
    return found


def data_fingerprint(data_dir: Path, year: int, files: dict | None = None) -> str:
    """Every file of a year's data and the table declarations (``files``, if :func:`data_files` has read them), for
    skipping a re-validation of the same data."""
    files = data_files(data_dir, year) if files is None else files
    # By their place in the data folder, not where it is: the same data checked on another machine (a cluster's
    # worker) or moved is the same data.
    return digest([(p.relative_to(data_dir).as_posix(), d) for p, (d, _) in files.items()], library_fingerprint())


def checked_digests(files: dict[Path, tuple]) -> dict[str, str]:
    """Of the files :func:`data_files` read before the data was checked, those still as they were then (unchanged
    through the check, so the content checked is the content digested): each real path → its digest."""
    return {os.path.realpath(p): d for p, (d, before) in files.items() if d is not None and before is not None
            and stamp(p) == before}


# --- the record, typed -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SectionRecord:
    """What the last build recorded of one section."""

    notebook: str = ""
    notebook_digest: str | None = None
    parameters: dict = field(default_factory=dict)
    library: str = ""
    status: str = ""  # "ok" or "failed"
    state: str = ""  # "ran", "reused", "failed"
    reason: str = ""
    seconds: float = 0.0
    key: str = ""
    inputs: dict | None = None  # each file it read (absolute) → its digest (None: changing as read); None: unknown
    executed: str | None = None  # the digest of its executed notebook
    kernel: int = 0


@dataclass(frozen=True)
class BuildRecord:
    """What the last build of a year was made from and what it wrote (``manifest.json``); empty when there is none.

    Loaded through :func:`read`'s checks: the record is the output folder's, so read as untrusted; a record of
    the wrong shape is no record."""

    year: int = 0
    built_at: str = ""
    data_dir: str = ""
    data: str = ""  # the fingerprint of the year's data, as checked
    earlier_data: dict = field(default_factory=dict)  # year → the fingerprint of each earlier year's, as checked
    tables_with_rows: list | None = None
    render: str | None = None  # the render key: what the published files were rendered from
    mode: str = "final"
    git_commit: str | None = None
    versions: dict = field(default_factory=dict)
    library: str = ""
    outputs: dict = field(default_factory=dict)  # file name → sha256 of what was published
    render_seconds: float = 0.0
    sections: dict = field(default_factory=dict)  # section id → SectionRecord
    sources: str | None = None  # on a cluster: what the client sent (build.remote.sources_key); nothing to send if same

    @classmethod
    def load(cls, out: Path, warn=None) -> "BuildRecord":
        raw = read(out, warn=warn)
        known = {f.name for f in fields(SectionRecord)}
        sections = {name: SectionRecord(**{k: v for k, v in entry.items() if k in known})
                    for name, entry in raw.get("sections", {}).items()}
        mine = {f.name for f in fields(cls)} - {"sections"}
        return cls(**{k: v for k, v in raw.items() if k in mine}, sections=sections)

    def dump(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, indent=2)

    def section(self, section_id: str) -> SectionRecord | None:
        return self.sections.get(section_id)

    def intact(self, out: Path, names) -> bool:
        """Whether each of ``names`` in ``out`` is the file this record says the last build wrote."""
        return all(name in self.outputs and self.outputs[name] == file_digest(out / name) for name in names)

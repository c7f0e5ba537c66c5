"""A body-year as one cluster task: what the client packs and publishes, and what a worker builds.

The client's share of a body-year is small and the same whatever its sections do: fingerprint
its inputs (the config, the notebooks folder, the table declarations and the year folders up to
the report year), compare them with what its output folder's record says the last build was made
from (the same, with every report file intact: nothing is sent), pack them with the output
folder as it stands, and publish what comes back into the output folder as one transaction.
The rest — the data checks, which sections' earlier results stand, the sections themselves,
the render and the personal-data checks — runs on a worker, by the same
:func:`~annual_review.build.builder.build_year` a one-machine build runs, on the worker's warm
kernels, in the body's own notebooks folder with its own environment.

Inputs are content-addressed: a worker unpacks each packing once and keeps it while it fits
under its cache's cap (:class:`~annual_review.build.cluster.WarmKernels`). Paths the worker
writes into the record and into messages (its folder) are said back as the client's.
"""

from __future__ import annotations

import hashlib
import io
import os
import traceback
import zipfile
from dataclasses import dataclass, replace
from pathlib import Path

from ..core import exceptions
from ..core.config import ReportConfig
from ..core.outputs import FORMATS, MANIFEST
from ..core.paths import TABLES_FILE
from . import manifest
from .plan import BuildOptions
from .store import JOURNAL, LOCK_FILE, OutputFolder, leftover_name


@dataclass(frozen=True)
class BodyYear:
    """One body-year as sent to a worker: every path relative to ``root``, the client's folder holding them all."""

    root: str  # the client's folder (the worker's own is said back as this)
    config: str
    data: str
    year: int
    options: BuildOptions
    inputs: bytes  # the config, the notebooks and the data up to the year (a zip, stored: packing costs no CPU)
    digest: str  # their content address (of the files' contents and names, not of the packing)
    sources: str  # what the build is made from: the inputs, the library, the options (see :func:`sources_key`)
    previous: bytes | None  # the output folder as it stands (its record: which sections' results stand)


@dataclass(frozen=True)
class Built:
    """What a worker sends back: the output folder after the build, its log, and its error if it failed."""

    outputs: bytes | None
    lines: tuple[str, ...]
    error: tuple[str, str, int] | None = None  # (the error's class, its message, the exit code)


def _internal(name: str) -> bool:
    """The output folder's own bookkeeping (its lock, a publication's journal, staging), never sent or published."""
    return name in (LOCK_FILE, JOURNAL) or leftover_name(name)


def _zip(files: dict[str, Path]) -> bytes:
    return _zip_contents({name: path.read_bytes() for name, path in files.items()})


def _zip_contents(contents: dict[str, bytes]) -> bytes:
    """Files' bytes as a zip, stored, each dated 1980-01-01: the same files, the same bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as bundle:
        for name, data in contents.items():
            bundle.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), data)
    return buffer.getvalue()


def _folder_files(folder: Path) -> dict[str, Path]:
    """Every file under ``folder`` but its bookkeeping, by its path inside it."""
    if not folder.is_dir():
        return {}
    return {p.relative_to(folder).as_posix(): p for p in sorted(folder.rglob("*"))
            if p.is_file() and not _internal(p.relative_to(folder).parts[0])}


def _top_names(archive: bytes | None) -> set[str]:
    if not archive:
        return set()
    with zipfile.ZipFile(io.BytesIO(archive)) as bundle:
        return {name.split("/", 1)[0] for name in bundle.namelist()}


def _walk(folder: str, hidden: bool = False) -> list[str]:
    """Every regular file under ``folder`` (plain strings: a body-year's files are listed on every build), in order;
    without hidden ones and ``__pycache__`` unless ``hidden``."""
    found = []
    for top, folders, names in os.walk(folder):
        if not hidden:
            folders[:] = [f for f in folders if not f.startswith(".") and f != "__pycache__"]
            names = [n for n in names if not n.startswith(".")]
        folders.sort()
        found += [os.path.join(top, n) for n in sorted(names) if os.path.isfile(os.path.join(top, n))]
    return found


def input_files(config: ReportConfig, data_dir: Path, year: int) -> tuple[Path, dict[str, str]]:
    """The folder holding a body-year's inputs, and each input (its path) by its path inside it."""
    data = str(data_dir.resolve())
    root = os.path.commonpath([str(config.path.parent), str(config.notebooks_dir), data])
    wanted = [str(config.path), os.path.join(data, TABLES_FILE), *_walk(str(config.notebooks_dir))]
    for entry in sorted(os.scandir(data), key=lambda e: e.name):
        if entry.name.isdigit() and int(entry.name) <= year and entry.is_dir():
            wanted += _walk(entry.path, hidden=True)  # (a year's .carried.json is read by its sections)
    return Path(root), {os.path.relpath(p, root).replace(os.sep, "/"): p for p in wanted if os.path.isfile(p)}


def pack(config: ReportConfig, year: int, data_dir: Path, output_dir: Path, options: BuildOptions) -> BodyYear | None:
    """A body-year as a worker needs it; None when its output folder is already what these inputs make."""
    root, files = input_files(config, data_dir, year)
    contents = {}
    for name, path in files.items():
        with open(path, "rb") as handle:  # each read once: its digest and its bytes in the packing
            contents[name] = handle.read()
    digests = {name: hashlib.sha256(data).hexdigest() for name, data in contents.items()}
    sources = sources_key(digests, options)
    out = output_dir / str(year)
    out.mkdir(parents=True, exist_ok=True)
    with OutputFolder(out, log=options.log):  # (repairs what an interrupted publication left, then reads)
        record = manifest.BuildRecord.load(out)
        if (not options.force and record.sources == sources
                and record.intact(out, [FORMATS[f] for f in options.formats])):
            return None
        existing = _folder_files(out)
        previous = _zip(existing) if existing else None
    return BodyYear(str(root), config.path.relative_to(root).as_posix(), data_dir.resolve().relative_to(root).as_posix(),
                    year, replace(options, log=print), _zip_contents(contents),
                    manifest.digest(sorted(digests.items()))[:32], sources, previous)


def sources_key(digests: dict, options: BuildOptions) -> str:
    """What a cluster build of a body-year was made from: its inputs, the library, and how it was asked to build."""
    return manifest.digest(sorted(digests.items()), manifest.library_fingerprint(), manifest.environment_fingerprint(),
                           sorted(options.formats), options.draft, options.redline, options.allow_partial,
                           options.timeout)


def _relocate(text: str, old: str, new: str) -> str:
    """``text`` with every path under the folder ``old`` under ``new`` instead."""
    return text.replace(old.rstrip("/") + "/", new.rstrip("/") + "/")


def _relocate_record(folder: Path, old: str, new: str, sources: str | None = None) -> None:
    """The folder's paths under ``old`` said under ``new``: in the record (the data, each file a section read), in the
    executed notebooks (their parameters) and in failed sections' logs — the record's digest of each notebook
    following it, so that the same section is the same result on either side. With ``sources``, the record says it
    was made from them too (when every section in it succeeded)."""
    import json

    old_json, new_json = (json.dumps(s, ensure_ascii=False)[1:-1] for s in (old, new))
    digests = {}  # a notebook's digest before → after
    for notebook in sorted([*folder.glob("sections/*.ipynb"), *folder.glob("failed/*.ipynb")]):
        text = notebook.read_text(encoding="utf-8")
        moved = _relocate(text, old_json, new_json)
        if moved != text:
            before = manifest.file_digest(notebook)
            notebook.write_text(moved, encoding="utf-8")
            digests[before] = manifest.file_digest(notebook)
    record = folder / MANIFEST
    try:
        entries = json.loads(_relocate(record.read_text(encoding="utf-8"), old_json, new_json))
    except (OSError, UnicodeDecodeError, ValueError):
        entries = None  # none, or not one: the build says so when it reads it, as on one machine
    if isinstance(entries, dict):
        for section in entries.get("sections", {}).values():
            if isinstance(section, dict) and section.get("executed") in digests:
                section["executed"] = digests[section["executed"]]
        if sources and all(isinstance(s, dict) and s.get("status") == "ok" for s in entries.get("sections", {}).values()):
            entries["sources"] = sources
        record.write_text(json.dumps(entries, ensure_ascii=False, indent=2), encoding="utf-8")
    for log in sorted(folder.glob("failed/*.log")):
        log.write_text(_relocate(log.read_text(encoding="utf-8"), old, new), encoding="utf-8")


def build_here(job: BodyYear, root: Path, work: Path, runner) -> Built:
    """On a worker: build the body-year from its inputs unpacked at ``root``, in ``work``; the output folder after."""
    from .builder import build_year
    from ..core.config import load_config

    out = work / "out"
    year_out = out / str(job.year)
    year_out.mkdir(parents=True)
    if job.previous:
        with zipfile.ZipFile(io.BytesIO(job.previous)) as bundle:
            bundle.extractall(year_out)
        _relocate_record(year_out, job.root, str(root))
    lines: list[str] = []
    error = None
    try:
        config = load_config(root / job.config)
        build_year(config, job.year, root / job.data, out, replace(job.options, log=lines.append), runner=runner)
    except exceptions.AnnualReviewError as exc:
        error = (type(exc).__name__, str(exc), exc.exit_code)
    except Exception as exc:  # noqa: BLE001 - our bug: said with its traceback, as on one machine
        error = ("BuildError", f"{type(exc).__name__}: {exc}\n{''.join(traceback.format_exception(exc))}", 1)
    _relocate_record(year_out, str(root), job.root, job.sources if error is None else None)
    said = lambda text: _relocate(text, str(root), job.root)  # noqa: E731
    return Built(_zip(_folder_files(year_out)), tuple(map(said, lines)),
                 error and (error[0], said(error[1]), error[2]))


def publish(job: BodyYear, built: Built, output_dir: Path, log) -> None:
    """Put what a worker built into the body-year's output folder as one transaction; raise its error, if any."""
    out = output_dir / str(job.year)
    if built.outputs is not None:
        with OutputFolder(out, log=log) as folder:
            staging = folder.staging()
            try:
                with zipfile.ZipFile(io.BytesIO(built.outputs)) as bundle:
                    bundle.extractall(staging)
                names = sorted(p.name for p in staging.iterdir())
                names.sort(key=lambda name: name == MANIFEST)  # the record of them last
                # What the build removed: sent and not sent back (a file it was never shown is not its to remove).
                stale = sorted(_top_names(job.previous) - set(names))
                if names:
                    folder.publish(staging, names, stale)
            finally:
                folder.discard(staging)
    for line in built.lines:
        log(line)
    if built.error is not None:
        kind, message, code = built.error
        error = getattr(exceptions, kind, exceptions.BuildError)
        if not (isinstance(error, type) and issubclass(error, exceptions.AnnualReviewError)):
            error = exceptions.BuildError
        raised = error(message)
        raised.exit_code = code
        raise raised

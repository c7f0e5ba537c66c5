"""The build: a year's data → executed section notebooks → one HTML report.

The story of :func:`build_year`: load the config → check the year's data is there →
execute each section notebook with Papermill into a staging folder → on success,
render the report and swap it in; on failure, keep the failed notebooks for
inspection, leave the last good report untouched, and raise a BuildError that
names the section, notebook, cell and error.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path

import nbformat

from . import __version__
from .config import ReportConfig, Section, load_config
from .data import check_year, resolve_year, year_dir
from .exceptions import BuildError
from .render import render_report

REPORT_FILE = "report.html"
SECTIONS_DIR = "sections"
FAILED_DIR = "failed"
KERNEL_NAME = "python3"


@dataclass(frozen=True)
class SectionFailure:
    section: Section
    notebook: Path  # the executed notebook, saved with its error
    cell: int | None  # 1-based index of the failing cell among the notebook's cells
    error: str

    def __str__(self) -> str:
        where = f"cell {self.cell}" if self.cell else "before any cell ran"
        return f"section '{self.section.id}' ({self.section.notebook.name}), {where}: {self.error}\n    saved: {self.notebook}"


def _execute(section: Section, target: Path, parameters: dict, cwd: Path) -> SectionFailure | None:
    import papermill
    from papermill.exceptions import PapermillExecutionError

    try:
        papermill.execute_notebook(
            str(section.notebook),
            str(target),
            parameters=parameters,
            cwd=str(cwd),
            kernel_name=KERNEL_NAME,
            progress_bar=False,
            log_output=False,
            request_save_on_cell_execute=False,
            # Keep the kernel's own start-up notices off the build's console.
            extra_arguments=["--Application.log_level=ERROR"],
            # A graceful shutdown adds nothing to a finished run and sometimes stalls for seconds.
            shutdown_kernel="immediate",
        )
    except PapermillExecutionError as exc:
        cell = _failing_cell(target, exc.exec_count)
        return SectionFailure(section, target, cell, f"{exc.ename}: {exc.evalue}")
    except Exception as exc:  # the kernel died, the notebook could not be read, …
        return SectionFailure(section, target, None, f"{type(exc).__name__}: {exc}")
    return None


_PAPERMILL_TAGS = {"injected-parameters", "papermill-error-cell-tag"}


def _failing_cell(notebook: Path, exec_count: int | None) -> int | None:
    """The 1-based position, in the notebook as written, of the cell that raised.

    Cells papermill adds (injected parameters, error banners) are not counted, so the
    number matches what the author sees when opening the source notebook.
    """
    try:
        nb = nbformat.read(notebook, as_version=4)
    except Exception:
        return None
    own = [c for c in nb.cells if not _PAPERMILL_TAGS & set(c.metadata.get("tags", []))]
    for i, cell in enumerate(own, 1):
        outputs = cell.get("outputs", []) if cell.cell_type == "code" else []
        if any(o.get("output_type") == "error" for o in outputs) or (
            exec_count is not None and cell.get("execution_count") == exec_count
        ):
            return i
    return None


def _replace_dir(new: Path, final: Path) -> None:
    """Put ``new`` in place of ``final`` (a folder), never leaving neither behind."""
    old = final.with_name(f".{final.name}.old-{os.getpid()}")
    if final.exists():
        final.rename(old)
    new.rename(final)
    shutil.rmtree(old, ignore_errors=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file, so readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes owner-only files; a report is for sharing
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def build_year(
    config: ReportConfig,
    year: int,
    data_dir: Path,
    output_dir: Path,
    *,
    log: Callable[[str], None] = print,
) -> Path:
    """Build ``year``'s report into ``output_dir/<year>/``; return the report's path."""
    out = output_dir / str(year)
    out.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=out))
    staging.chmod(0o777 & ~_umask())
    try:
        failures, executed = [], {}
        sections = config.executable_sections()
        for n, section in enumerate(sections, 1):
            target = staging / section.notebook.name
            parameters = {"year": year, "data_dir": str(data_dir), **section.parameters}
            started = dt.datetime.now()
            failure = _execute(section, target, parameters, config.notebooks_dir)
            seconds = (dt.datetime.now() - started).total_seconds()
            state = "failed" if failure else "ok"
            log(f"[{n}/{len(sections)}] {section.notebook.name:<28} {state:<6} {seconds:5.1f} s")
            if failure:
                failures.append(failure)
            else:
                executed[section.id] = nbformat.read(target, as_version=4)
        if failures:
            _replace_dir(staging, out / FAILED_DIR)
            failed_paths = [replace(f, notebook=out / FAILED_DIR / f.notebook.name) for f in failures]
            raise BuildError(
                f"{len(failures)} of {len(sections)} section(s) failed for {year}; "
                f"the last good report was left as it was.\n" + "\n".join(f"  {f}" for f in failed_paths)
            )
        provenance = (
            f"本报告由 annual-review {__version__} 根据数据目录 {data_dir.name}/{year} "
            f"执行 {len(sections)} 个章节笔记本自动生成。"
        )
        html = render_report(config, year, executed, provenance=provenance)
        _replace_dir(staging, out / SECTIONS_DIR)
        shutil.rmtree(out / FAILED_DIR, ignore_errors=True)
        report = out / REPORT_FILE
        write_atomic(report, html)
        return report
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def build(
    config_path: str | Path,
    data_dir: str | Path,
    output_dir: str | Path,
    years: Iterable[int] | None = None,
    *,
    log: Callable[[str], None] = print,
) -> list[Path]:
    """Build the report for each of ``years`` (default: the latest year in ``data_dir``)."""
    config = load_config(config_path)
    data_dir, output_dir = Path(data_dir).resolve(), Path(output_dir).resolve()
    wanted = list(years) if years else [None]
    resolved = [resolve_year(data_dir, y) for y in wanted]
    reports = []
    for year in resolved:
        # Refuse invalid data before any notebook runs, so no earlier output is touched.
        tables = check_year(data_dir, year)
        outline = config.for_year({name for name, table in tables.items() if len(table)})
        log(f"Building {config.title(year)} from {year_dir(data_dir, year)}")
        reports.append(build_year(outline, year, data_dir, output_dir, log=log))
    return reports

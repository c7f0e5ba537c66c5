"""The build: a year's data → executed section notebooks → one HTML report.

The story of :func:`build_year`: take the output folder's lock → check the year's
data (skipped when it is byte-for-byte what was last checked) → decide, section by
section, whether its earlier result stands → execute the others with Papermill on
warm kernels, in parallel, into a staging folder → render the report in the
config's order → swap everything in and write the manifest. A failing section is
saved with its error and named; the other sections still run; the last good report
is kept unless ``allow_partial``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import queue
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from . import __version__, manifest
from .config import ReportConfig, Section, load_config
from .paths import available_years, resolve_year, year_dir
from .exceptions import AnnualReviewError, BuildError, DataError

REPORT_FILE = "report.html"
FORMATS = {"html": REPORT_FILE, "pdf": "report.pdf", "docx": "report.docx"}  # all from the one rendered report
SECTIONS_DIR = "sections"
FAILED_DIR = "failed"
LOCK_FILE = ".lock"


@dataclass
class SectionResult:
    section: Section
    state: str  # "ran", "reused", "failed"
    reason: str
    seconds: float = 0.0
    key: str = ""
    inputs: dict = field(default_factory=dict)
    cell: int | None = None
    error: str = ""

    def line(self) -> str:
        name = self.section.executed_name
        detail = self.reason if self.state != "failed" else f"cell {self.cell or '?'}: {self.error}"
        return f"{name:<28} {self.state:<7} {self.seconds:5.1f} s  {detail}"


_PAPERMILL_TAGS = {"injected-parameters", "papermill-error-cell-tag"}


def _failing_cell(notebook: Path, exec_count: int | None) -> int | None:
    """The 1-based position, in the notebook as written, of the cell that raised.

    Cells papermill adds (injected parameters, error banners) are not counted, so the
    number matches what the author sees when opening the source notebook.
    """
    import nbformat

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


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_atomic(path: Path, content: str | bytes) -> None:
    """Write ``content`` to ``path`` through a temporary file, so readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes owner-only files; a report is for sharing
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content.encode("utf-8") if isinstance(content, str) else content)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


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


class _Lock:
    """An exclusive lock on an output folder, so two builds never write it at once."""

    def __init__(self, folder: Path):
        self.path = folder / LOCK_FILE
        self.handle = None

    def __enter__(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.handle = open(self.path, "a+")
        try:
            _lock_file(self.handle)
        except OSError:
            self.handle.seek(0)
            holder = self.handle.read().strip() or "another process"
            self.handle.close()
            raise BuildError(
                f"{self.path.parent}: another build is writing here ({holder}); wait for it to finish, "
                "or build into another --output-dir"
            ) from None
        self.handle.seek(0)
        self.handle.truncate()
        self.handle.write(f"pid {os.getpid()}, since {dt.datetime.now():%Y-%m-%d %H:%M:%S}")
        self.handle.flush()
        return self

    def __exit__(self, *exc):
        self.handle.truncate(0)
        self.handle.close()  # closing releases the lock


class _Progress:
    """One line per section as it finishes; a bar as well when on a terminal."""

    def __init__(self, total: int, log: Callable[[str], None]):
        self.log, self.done, self.total = log, 0, total
        self.bar = None
        if total and log is print and sys.stdout.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit="section", leave=False)

    def report(self, result: SectionResult) -> None:
        self.done += 1
        line = f"[{self.done}/{self.total}] {result.line()}"
        if self.bar is not None:
            self.bar.write(line)
            self.bar.update(1)
        else:
            self.log(line)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


@dataclass(frozen=True)
class _Plan:
    """A section as this build means to treat it."""

    section: Section
    parameters: dict
    key: str
    verdict: manifest.Verdict  # whether its earlier result stands, and why not
    before: dict | None  # its entry in the previous manifest

    @property
    def runs(self) -> bool:
        return not self.verdict.reuse


def _plan(config: ReportConfig, year: int, data_dir: Path, out: Path, previous: dict, force: bool) -> list[_Plan]:
    """For each section: its parameters, cache key, and whether its earlier result stands."""
    plans = []
    for section in config.executable_sections():
        parameters = {"year": year, "data_dir": str(data_dir), **section.parameters}
        key = manifest.section_key(section.notebook, parameters)
        before = previous.get("sections", {}).get(section.id)
        verdict = manifest.judge(before, key, section.notebook, parameters, out / SECTIONS_DIR / section.executed_name)
        if force and verdict.reuse:
            verdict = manifest.Verdict(False, "--force")
        plans.append(_Plan(section, parameters, key, verdict, before))
    return plans


def _execute_all(plans, staging: Path, pool, progress: _Progress) -> dict[str, SectionResult]:
    from papermill.exceptions import PapermillExecutionError

    results: dict[str, SectionResult] = {}
    to_run = [p for p in plans if p.runs]
    if not to_run:
        return results

    def run(plan: _Plan) -> SectionResult:
        section = plan.section
        target = staging / section.executed_name
        started = time.monotonic()
        result = SectionResult(section, "ran", plan.verdict.reason, key=plan.key)
        try:
            reads = pool.execute(section.notebook, target, plan.parameters)
            result.inputs = manifest.fingerprints(reads)
        except PapermillExecutionError as exc:
            result.state, result.cell, result.error = "failed", _failing_cell(target, exc.exec_count), f"{exc.ename}: {exc.evalue}"
        except Exception as exc:  # the kernel died, the notebook could not be read, …
            result.state, result.error = "failed", f"{type(exc).__name__}: {exc}"
        result.seconds = time.monotonic() - started
        return result

    # Daemon threads, not an executor: on Ctrl-C the kernels are shut down and the process must
    # exit without waiting for a thread still listening to a kernel that is gone.
    work: queue.Queue = queue.Queue()
    done: queue.Queue = queue.Queue()
    for plan in to_run:
        work.put(plan)

    def worker() -> None:
        while True:
            try:
                plan = work.get_nowait()
            except queue.Empty:
                return
            done.put(run(plan))

    for _ in range(pool.size):
        threading.Thread(target=worker, daemon=True).start()
    for _ in to_run:
        result = done.get()
        results[result.section.id] = result
        progress.report(result)
    return results


def build_year(
    config: ReportConfig,
    year: int,
    data_dir: Path,
    output_dir: Path,
    *,
    jobs: int | None = None,
    force: bool = False,
    allow_partial: bool = False,
    formats: tuple[str, ...] = ("html", "pdf"),
    log: Callable[[str], None] = print,
    kernels: "_Kernels | None" = None,
) -> Path:
    """Build ``year``'s report into ``output_dir/<year>/`` in ``formats``; return the HTML report's path.

    ``kernels``, when given, are warm kernels shared with the builds of other years (the
    caller shuts them down); otherwise this build starts its own and shuts them down
    before rendering.
    """
    out = output_dir / str(year)
    jobs = jobs or os.cpu_count() or 1
    own = kernels is None
    with _Lock(out), contextlib.ExitStack() as stack:
        if own:
            kernels = stack.enter_context(_Kernels(jobs, config))
        previous = manifest.read(out)
        data_print = manifest.data_fingerprint(data_dir, year)
        # Earlier years are read too (last year's figures, the trends): checked as well, when they changed.
        earlier = {str(y): manifest.data_fingerprint(data_dir, y) for y in available_years(data_dir) if y < year}
        known_rows = previous.get("tables_with_rows") if previous.get("data") == data_print else None
        # Start the kernels this build will likely need now, so they warm up while the data is checked.
        guess = _plan(config.for_year(set(known_rows or previous.get("tables_with_rows") or [])), year, data_dir, out, previous, force)
        pool = kernels.pool_for(guess) if any(p.runs for p in guess) else None
        # Refuse invalid data before any notebook runs, so no earlier output is touched.
        changed_earlier = [int(y) for y, print_ in earlier.items() if previous.get("earlier_data", {}).get(y) != print_]
        tables = _check_data(data_dir, [year] if known_rows is None else [], changed_earlier)
        if known_rows is None:
            if not config.allow_personal_data:
                _refuse_personal_data(_narrative_findings(data_dir, year))
            known_rows = sorted(name for name, table in tables.items() if len(table))
        outline = config.for_year(set(known_rows))
        log(f"Building {config.title(year)} from {year_dir(data_dir, year)}")
        kept = {s.id for s in outline.all_sections()}
        for section in config.all_sections():
            if section.id not in kept and section.requires:
                log(f"Left out for {year}: '{section.heading or section.id}' (its table '{section.requires}' has no rows)")
        plans = _plan(outline, year, data_dir, out, previous, force)
        progress = _Progress(len(plans), log)
        for plan in plans:
            if not plan.runs:
                progress.report(SectionResult(plan.section, "reused", "unchanged", key=plan.key))
        render_key = manifest.digest([p.key for p in plans], manifest.file_digest(config.path), allow_partial, sorted(formats))
        report = out / REPORT_FILE
        up_to_date = all((out / FORMATS[f]).is_file() for f in formats) and report.is_file()
        if not any(p.runs for p in plans) and previous.get("render") == render_key and up_to_date:
            progress.close()
            log("Nothing changed: the report is up to date.")
            return report
        if pool is None and any(p.runs for p in plans):
            pool = kernels.pool_for(plans)
        # While the kernels work, load what rendering needs (nbconvert, the font) on this idle core.
        preparing = threading.Thread(target=_prepare_render, daemon=True)
        preparing.start()
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=out))
        try:
            staging.chmod(0o777 & ~_umask())
            try:
                results = _execute_all(plans, staging, pool, progress)
            finally:
                progress.close()
                if own:
                    kernels.close()  # shut the kernels down before rendering
            preparing.join()  # rendering shares what it prepared
            data_prints = {"data": data_print, "earlier_data": earlier}
            return _finish(out, year, data_dir, data_prints, known_rows, outline, plans, results, staging,
                           render_key, allow_partial, formats, log)
        finally:
            shutil.rmtree(staging, ignore_errors=True)


def _check_data(data_dir: Path, years: list[int], earlier: list[int]) -> dict:
    """Check the report year's data (if in ``years``) and the ``earlier`` years its sections read.

    Raises one DataError listing every problem in all of them; returns the report year's tables.
    """
    if not years and not earlier:
        return {}  # nothing changed since the last check: not even pandas is imported
    from .data import check_year

    tables, lines = {}, []
    for each in [*years, *earlier]:
        try:
            found = check_year(data_dir, each)
        except DataError as exc:
            lines += exc.problems
            continue
        if each in years:
            tables = found
    if lines:
        raise DataError(lines)
    return tables


def _narrative_findings(data_dir: Path, year: int) -> list:
    from .privacy import scan_lines

    folder = year_dir(data_dir, year) / "narrative"
    return [f for path in sorted(folder.glob("*.md")) for f in scan_lines(path.read_text(encoding="utf-8-sig"), str(path))]


def _refuse_personal_data(findings: list) -> None:
    if findings:
        raise DataError(
            ["Personal data found; nothing was published (发现个人信息，报告未生成). Remove it, or set "
             "'allow_personal_data: true' in the report config if it must be published:"]
            + [f"  - {f}" for f in findings]
        )


def _prepare_render() -> None:
    try:
        from . import render
        from .fonts import find_cjk_font

        find_cjk_font()
        render.prepare()
    except Exception:  # noqa: BLE001 - only a head start; rendering reports any real problem itself
        pass


class _Kernels:
    """A build's warm kernels: started when a section first needs one, shut down on close (or on leaving ``with``).

    One build of one year sizes the pool to its sections to run (never more than
    ``jobs``); shared by the builds of several years it is sized to ``jobs`` and kept
    warm from one year to the next.
    """

    def __init__(self, jobs: int, config: ReportConfig, *, shared: bool = False):
        self.jobs, self.config, self.shared = jobs, config, shared
        self._stack = contextlib.ExitStack()
        self._pool = None

    def pool_for(self, plans):
        if self._pool is None:
            from .engine import KernelPool

            size = self.jobs if self.shared else min(self.jobs, sum(1 for p in plans if p.runs))
            self._pool = self._stack.enter_context(KernelPool(size, self.config.notebooks_dir))
        return self._pool

    def close(self) -> None:
        self._pool = None
        self._stack.close()

    def __enter__(self) -> "_Kernels":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _finish(out, year, data_dir, data_prints, known_rows, outline, plans, results, staging, render_key, allow_partial,
            formats, log):
    """Bring in the reused sections, render, and swap the new results in (or keep the old on failure)."""
    for plan in plans:
        if not plan.runs:
            name = plan.section.executed_name
            shutil.copy2(out / SECTIONS_DIR / name, staging / name)
            results[plan.section.id] = SectionResult(plan.section, "reused", "unchanged", plan.before.get("seconds", 0.0),
                                                     plan.key, plan.before.get("inputs", {}))
    failures = [results[p.section.id] for p in plans if results[p.section.id].state == "failed"]
    if failures:
        failed_dir = out / FAILED_DIR
        shutil.rmtree(failed_dir, ignore_errors=True)
        failed_dir.mkdir()
        for failure in failures:
            if (staging / failure.section.executed_name).is_file():
                shutil.copy2(staging / failure.section.executed_name, failed_dir / failure.section.executed_name)
        summary = f"{len(failures)} of {len(plans)} section(s) failed for {year}:\n" + "\n".join(
            f"  section '{f.section.id}' ({f.section.notebook.name}), cell {f.cell or '?'}: {f.error}\n"
            f"    saved: {failed_dir / f.section.executed_name}"
            for f in failures
        )
        if not allow_partial:
            raise BuildError(summary + "\nThe last good report was left as it was "
                                       "(--allow-partial writes one that marks the failed sections).")
        log(summary)
    report = out / REPORT_FILE
    report_html = _render(outline, year, data_dir, staging, plans, results, out.parent / ".cache")
    extra = {}
    if "pdf" in formats:
        from .pdf import pdf_bytes

        extra[FORMATS["pdf"]] = pdf_bytes(report_html)
    if "docx" in formats:
        from .word import docx_bytes

        extra[FORMATS["docx"]] = docx_bytes(report_html)
    # Swap in: the executed notebooks, then the report, then the record of both.
    old = out / f".{SECTIONS_DIR}.old-{os.getpid()}"
    if (out / SECTIONS_DIR).exists():
        (out / SECTIONS_DIR).rename(old)
    staging.rename(out / SECTIONS_DIR)
    shutil.rmtree(old, ignore_errors=True)
    if not failures:
        shutil.rmtree(out / FAILED_DIR, ignore_errors=True)
    for name, content in extra.items():
        write_atomic(out / name, content)
    write_atomic(report, report_html)
    _write_manifest(out, year, data_dir, data_prints, known_rows, plans, results, None if failures else render_key)
    if failures:
        raise BuildError(f"{len(failures)} section(s) failed; a partial report marking them was written to {report}")
    return report


def _render(outline, year, data_dir, staging: Path, plans, results, cache_dir: Path) -> str:
    import nbformat

    from .render import render_report, report_outputs

    executed, failed = {}, {}
    for section in (p.section for p in plans):
        result = results[section.id]
        if result.state == "failed":
            failed[section.id] = f"本部分未能生成（{section.notebook.name}，第{result.cell or '?'}个单元格：{result.error}）"
        else:
            executed[section.id] = nbformat.read(staging / section.executed_name, as_version=4)
    empty = [s for s in outline.executable_sections() if s.required and s.id in executed and not report_outputs(executed[s.id])]
    if empty:
        raise BuildError("Required section(s) showed nothing for the report; it was not published: "
                         + ", ".join(f"'{s.id}' ({s.notebook.name})" for s in empty))
    if not outline.allow_personal_data:
        _refuse_personal_data(_report_findings(outline, executed))
    ran = sum(1 for r in results.values() if r.state == "ran")
    commit = manifest.git_commit(Path(__file__).parent)
    provenance = (
        f"本报告由 annual-review {__version__} 根据数据目录 {data_dir.name}/{year} 执行 {len(plans)} 个章节笔记本自动生成"
        f"（本次执行 {ran} 个，沿用 {len(plans) - ran} 个未变的结果）"
        + (f"，代码版本 {commit[:12]}" if commit else "")
        + "。"
    )
    return render_report(outline, year, executed, provenance=provenance, data_notes=data_notes(data_dir, results.values()),
                         failed=failed, cache_dir=cache_dir)


PROVENANCE_FILE = "provenance.md"  # data/<year>/provenance.md: where that year's figures come from, for the footer


def data_notes(data_dir: Path, results) -> list[str]:
    """The provenance note of each year whose data the sections read (the report year, last year, …), newest first."""
    years = set()
    for result in results:
        for path in result.inputs:
            try:
                first = Path(path).resolve().relative_to(data_dir.resolve()).parts[0]
            except (ValueError, IndexError):
                continue
            if first.isdigit():
                years.add(int(first))
    notes = []
    for each in sorted(years, reverse=True):
        note = year_dir(data_dir, each) / PROVENANCE_FILE
        if note.is_file():
            notes.append(" ".join(note.read_text(encoding="utf-8-sig").split()))
    return notes


def _report_findings(outline: ReportConfig, executed: dict) -> list:
    """Personal data in what the sections show (values from tables as well as narrative)."""
    from bs4 import BeautifulSoup

    from .privacy import scan
    from .render import report_outputs

    findings = []
    for section in outline.executable_sections():
        for output in report_outputs(executed.get(section.id)) if section.id in executed else []:
            markup = output.get("data", {}).get("text/html")
            if markup:
                text = BeautifulSoup(markup, "html.parser").get_text(" ")
                findings += scan(text, f"section '{section.id}' ({section.notebook.name})")
    return findings


def _write_manifest(out, year, data_dir, data_prints, tables_with_rows, plans, results, render_key) -> None:
    record = {
        "year": year,
        "built_at": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "data_dir": str(data_dir),
        **data_prints,  # fingerprints of the year's data and of each earlier year's, as checked
        "tables_with_rows": tables_with_rows,
        "render": render_key,
        "git_commit": manifest.git_commit(Path(__file__).parent),
        "versions": manifest.versions(),
        "library": manifest.library_fingerprint(),
        "sections": {
            section.id: {
                "notebook": section.notebook.name,
                "notebook_digest": manifest.file_digest(section.notebook),
                "parameters": parameters,
                "library": manifest.library_fingerprint(),
                "status": "ok" if results[section.id].state != "failed" else "failed",
                "state": results[section.id].state,
                "reason": results[section.id].reason,
                "seconds": round(results[section.id].seconds, 3),
                "key": key,
                "inputs": results[section.id].inputs,
            }
            for section, parameters, key in ((p.section, p.parameters, p.key) for p in plans)
        },
    }
    write_atomic(out / manifest.MANIFEST, json.dumps(record, ensure_ascii=False, indent=2))


def build(
    config_path: str | Path,
    data_dir: str | Path,
    output_dir: str | Path,
    years: Iterable[int] | None = None,
    *,
    all_years: bool = False,
    jobs: int | None = None,
    force: bool = False,
    allow_partial: bool = False,
    formats: tuple[str, ...] = ("html", "pdf"),
    log: Callable[[str], None] = print,
) -> list[Path]:
    """Build the report for each of ``years`` (default: the latest year in ``data_dir``; ``all_years``: every one)."""
    config = load_config(config_path)
    if "pdf" in formats:
        from .pdf import check_pdf_support

        check_pdf_support()  # before any work: say now if this machine cannot make a PDF
    data_dir, output_dir = Path(data_dir).resolve(), Path(output_dir).resolve()
    if all_years:
        resolved = available_years(data_dir)
    else:
        resolved = [resolve_year(data_dir, y) for y in (list(years) if years else [None])]
    reports, failed = [], {}
    jobs = jobs or os.cpu_count() or 1
    try:
        # Several years share warm kernels: a year's sections run where the last year's ran.
        with _Kernels(jobs, config, shared=True) if len(resolved) > 1 else contextlib.nullcontext() as kernels:
            for year in resolved:
                try:
                    report = build_year(config, year, data_dir, output_dir, jobs=jobs, force=force,
                                        allow_partial=allow_partial, formats=formats, log=log, kernels=kernels)
                    reports.append(report)
                    for fmt in formats:
                        log(f"Report written: {report.with_name(FORMATS[fmt])}")
                except AnnualReviewError as exc:  # one year's failure does not stop the others
                    if len(resolved) == 1:
                        raise
                    failed[year] = exc
                    log(f"{year}: not built (see below); going on with the other years")
    finally:
        write_index(output_dir, config)
    if failed:
        error = BuildError(f"{len(failed)} of {len(resolved)} years failed; the others were built:\n"
                           + "\n".join(f"--- {year}:\n{exc}" for year, exc in failed.items()))
        error.exit_code = max(exc.exit_code for exc in failed.values())
        raise error
    return reports


def write_index(output_dir: Path, config: ReportConfig) -> Path | None:
    """``<output_dir>/index.html``: every built year, with links to its HTML, PDF and Word files and the build date."""
    import html

    if not output_dir.is_dir():
        return None
    rows = []
    for folder in sorted((p for p in output_dir.iterdir() if p.is_dir() and p.name.isdigit()), reverse=True):
        record = manifest.read(folder)
        if not (folder / REPORT_FILE).is_file() or not record:
            continue
        links = " ".join(
            f'<a href="{folder.name}/{name}">{label}</a>'
            for label, name in (("网页版", REPORT_FILE), ("PDF", FORMATS["pdf"]), ("Word", FORMATS["docx"]))
            if (folder / name).is_file()
        )
        built = html.escape(str(record.get("built_at", ""))[:16].replace("T", " "))
        title = html.escape(config.title(int(folder.name)))
        rows.append(f"<tr><td>{folder.name}</td><td>{title}</td><td>{links}</td><td>{built}</td></tr>")
    if not rows:
        return None
    page = f"""<!DOCTYPE html>
<html lang="{html.escape(config.language)}">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(config.body)}法治政府建设年度报告</title>
<style>body {{ font-family: sans-serif; margin: 2em auto; max-width: 48em; }} table {{ border-collapse: collapse; width: 100%; }}
th, td {{ border-bottom: 1px solid #ccc; padding: 0.4em; text-align: left; }}</style></head>
<body><h1>{html.escape(config.body)}法治政府建设年度报告</h1>
<table><thead><tr><th scope="col">年度</th><th scope="col">报告</th><th scope="col">文件</th><th scope="col">生成时间</th></tr></thead>
<tbody>
{chr(10).join(rows)}
</tbody></table></body></html>
"""
    index = output_dir / "index.html"
    write_atomic(index, page)
    return index

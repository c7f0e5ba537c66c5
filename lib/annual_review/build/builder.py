"""The build: a year's data → executed section notebooks → one HTML report.

The story of :func:`build_year`: take the output folder (its lock; what an
interrupted build left is repaired) → check the year's data (skipped when it is
byte-for-byte what was last checked) → decide, section by section, whether its
earlier result stands → execute the others with Papermill on warm kernels, in
parallel, into a staging folder → render the report in the config's order and look
for personal data in everything it publishes → publish the executed notebooks, the
report files and their record as one transaction. A failing section is saved with
its error and named; the other sections still run; the last good report is kept
unless ``allow_partial``. The output folder itself is :mod:`annual_review.build.store`'s.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import datetime as dt
import json
import os
import shutil
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .. import __version__
from . import manifest
from ..core.config import MEMORY_ENV, ReportConfig, Section, load_config
from ..core.paths import (OUTSIDE, available_years, narrative_dir, narratives, read_narrative, resolve_year, shown,
                    year_dir)
from ..core.exceptions import AnnualReviewError, BuildError, DataError, plain_os_error
from .store import OutputFolder, write_atomic, write_index  # noqa: F401 - write_atomic: public here too

REPORT_FILE = "report.html"
FORMATS = {"html": REPORT_FILE, "pdf": "report.pdf", "docx": "report.docx"}  # all from the one rendered report
SECTIONS_DIR = "sections"
FAILED_DIR = "failed"


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
    kernel: int = 0  # the process id of the kernel it ran on

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
    timeout: float  # seconds it may run

    @property
    def runs(self) -> bool:
        return not self.verdict.reuse


def _plan(config: ReportConfig, year: int, data_dir: Path, out: Path, previous: dict, force: bool,
          timeout: float | None, env: dict) -> list[_Plan]:
    """For each section: its parameters, cache key, time limit, and whether its earlier result stands.

    ``env`` is what its kernel is told (the body, the params, the chart fonts): part of the key.
    """
    from ..core.config import declared_parameters

    plans = []
    offered = {"body": config.body, **config.params}
    for section in config.executable_sections():
        declared = set(declared_parameters(section.notebook))
        # The body and the config's params, to the notebooks that declare them (no "unknown parameter" for the others).
        parameters = {"year": year, "data_dir": str(data_dir),
                      **{k: v for k, v in offered.items() if k in declared}, **section.parameters}
        key = manifest.section_key(section.notebook, parameters, env)
        before = previous.get("sections", {}).get(section.id)
        verdict = manifest.judge(before, key, section.notebook, parameters, out / SECTIONS_DIR / section.executed_name,
                                 (data_dir.resolve(), config.path.parent.resolve()))
        if force and verdict.reuse:
            verdict = manifest.Verdict(False, "--force")
        limit = timeout or section.timeout or config.timeout
        plans.append(_Plan(section, parameters, key, verdict, before, limit))
    return plans


MAX_RERUNS = 3  # a section whose input changed while it ran is run again, this many times at most


def _execute_all(plans, sections: Path, pool, progress: _Progress, env: dict | None = None, roots: tuple = (),
                 log=print) -> dict[str, SectionResult]:
    """Run the plans that must run, on the pool's kernels, into ``sections``; their results as they finish.

    Every file a section read inside ``roots`` (the data and project folders) is fingerprinted for the cache; one
    that changed while the section ran (its time or size is not what it was when the section opened it) runs the
    section again, so its output is never recorded against content it did not read. Reads elsewhere are said.
    """
    from .engine import SectionStopped, imports

    imports()  # the kernels' threads may be importing it too
    from papermill.exceptions import PapermillExecutionError

    def submit(plan):
        return pool.submit(plan.section.notebook, sections / plan.section.executed_name, plan.parameters,
                           timeout=plan.timeout, env=env)

    started = time.monotonic()
    running = {submit(p): (p, 0) for p in plans if p.runs}
    results: dict[str, SectionResult] = {}
    while running:
        done, _ = concurrent.futures.wait(running, return_when=concurrent.futures.FIRST_COMPLETED)
        for future in done:
            plan, reruns = running.pop(future)
            section = plan.section
            result = SectionResult(section, "ran", plan.verdict.reason, key=plan.key)
            try:
                run = future.result()
                result.kernel = run.kernel
                result.inputs, outside, changed = _inputs(run, roots)
                if changed and reruns < MAX_RERUNS:
                    log(f"note: section '{section.id}': {', '.join(Path(c).name for c in changed)} changed while it ran; "
                        "running it again")
                    running[submit(plan)] = (plan, reruns + 1)
                    continue
                if changed:  # still changing: recorded as unknown, so the next build runs it again
                    result.inputs.update({path: None for path in changed})
                for path in outside:
                    log(f"note: section '{section.id}' read {path}, outside the project and its data: a change to it "
                        "does not run the section again (copy it into the data folder)")
            except PapermillExecutionError as exc:
                result.state, result.cell = "failed", _failing_cell(sections / section.executed_name, exc.exec_count)
                result.error = f"{exc.ename}: {exc.evalue}"
                if exc.ename == "MemoryError":
                    result.error = ("MemoryError: the section needed more memory than its kernel may take "
                                    f"({int(env.get(MEMORY_ENV, 0)) // 1024**2 if env else '?'} MB; memory: in the config)")
            except SectionStopped as exc:  # out of time, or its kernel died: named, and the kernel replaced
                result.state, result.cell, result.error = "failed", _failing_cell(sections / section.executed_name, None), str(exc)
            except OSError as exc:  # the notebook could not be read or written (a full disk, …): said plainly
                result.state, result.error = "failed", plain_os_error(exc)
            except Exception as exc:  # the notebook could not be read, no kernel could start, …
                result.state, result.error = "failed", f"{type(exc).__name__}: {exc}"
            result.seconds = getattr(future, "elapsed", time.monotonic() - started)
            results[section.id] = result
            progress.report(result)
    return results


def _inputs(run, roots: tuple) -> tuple[dict, list[str], list[str]]:
    """(fingerprints of the files read inside ``roots``, files opened outside them, files that changed while read)."""
    inside, outside = [], []
    for path in run.reads:
        if not roots or any(Path(path).is_relative_to(root) for root in roots):
            inside.append(path)
        elif path in run.stamps:  # opened (the library's look-ups of absent files elsewhere are nobody's input)
            outside.append(path)
    changed = []
    for path in inside:
        opened = run.stamps.get(path)
        if opened is None:
            continue
        try:
            info = os.stat(path)
        except OSError:
            changed.append(path)
            continue
        if [info.st_mtime_ns, info.st_size] != list(opened):
            changed.append(path)
    return manifest.fingerprints(inside), outside, changed


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
    timeout: float | None = None,
    draft: bool = False,
) -> Path:
    """Build ``year``'s report into ``output_dir/<year>/`` in ``formats``; return the HTML report's path.

    ``kernels``, when given, are warm kernels shared with the builds of other years (the
    caller shuts them down); otherwise this build starts its own and shuts them down
    before rendering. ``timeout`` overrides the config's time limit for each section.
    """
    from ..core.config import kernel_environment

    out = output_dir / str(year)
    jobs = jobs or os.cpu_count() or 1
    own = kernels is None
    env = kernel_environment(config)
    if not draft:  # a final build publishes only finished text: refused before anything runs or is touched
        _refuse_unfinished(config, data_dir, year)
    with OutputFolder(out, log=log) as folder, contextlib.ExitStack() as stack:
        if own:
            kernels = stack.enter_context(_Kernels(jobs, config, log=log))
        previous = manifest.read(out, warn=log)
        data_print = manifest.data_fingerprint(data_dir, year)
        # Earlier years are read too (last year's figures, the trends): checked as well, when they changed.
        earlier = {str(y): manifest.data_fingerprint(data_dir, y) for y in available_years(data_dir) if y < year}
        known_rows = previous.get("tables_with_rows") if previous.get("data") == data_print else None
        # Start the kernels this build will likely need now, so they warm up while the data is checked.
        guess = _plan(config.for_year(set(known_rows or previous.get("tables_with_rows") or [])), year, data_dir, out,
                      previous, force, timeout, env)
        pool = kernels.pool_for(guess) if any(p.runs for p in guess) else None
        # Refuse invalid data before any notebook runs, so no earlier output is touched.
        changed_earlier = [int(y) for y, print_ in earlier.items() if previous.get("earlier_data", {}).get(y) != print_]
        unread: list = []
        tables = _check_data(data_dir, [year] if known_rows is None else [], changed_earlier, log, unread)
        if known_rows is None:
            if not config.allow_personal_data:
                _refuse_personal_data(_narrative_findings(data_dir, year))
            _proofread(config, data_dir, year, log)
            known_rows = sorted(name for name, table in tables.items() if len(table))
        outline = config.for_year(set(known_rows))
        log(f"Building {config.title(year)} from {year_dir(data_dir, year)}")
        kept = {s.id for s in outline.all_sections()}
        for section in config.all_sections():
            if section.id not in kept and section.requires:
                log(f"Left out for {year}: '{config.heading(section, year) or section.id}' (its table '{section.requires}' has no rows)")
        from .rules import check as rules_check

        for line in rules_check(config, data_dir, year, tables_with_rows=set(known_rows)):
            log(f"note: {line}")
        plans = _plan(outline, year, data_dir, out, previous, force, timeout, env)
        progress = _Progress(len(plans), log)
        for plan in plans:
            if not plan.runs:
                progress.report(SectionResult(plan.section, "reused", "unchanged", key=plan.key))
        render_key = manifest.digest([p.key for p in plans], manifest.file_digest(config.path), allow_partial, sorted(formats),
                                     "draft" if draft else "final", manifest.library_fingerprint())
        files = [FORMATS[f] for f in formats]
        if (not any(p.runs for p in plans) and previous.get("render") == render_key
                and manifest.outputs_intact(previous, out, files)):
            progress.close()
            log("Nothing changed: the report is up to date.")
            return out / REPORT_FILE
        if pool is None and any(p.runs for p in plans):
            pool = kernels.pool_for(plans)
        # While the kernels work, load what rendering needs (nbconvert, the font) on this idle core.
        preparing = threading.Thread(target=_prepare_render, daemon=True)
        preparing.start()
        staging = folder.staging()
        try:
            (staging / SECTIONS_DIR).mkdir()
            try:
                roots = (data_dir.resolve(), config.path.parent.resolve())
                results = _execute_all(plans, staging / SECTIONS_DIR, pool, progress, env, roots, log)
                read = {Path(p) for r in results.values() for p in r.inputs} | {
                    Path(p) for plan in plans if not plan.runs for p in (plan.before or {}).get("inputs", {})}
                for note in unread:  # only now is it known that no section read it either
                    if note.path not in read:
                        log(f"note: {note}")
            finally:
                progress.close()
                if own:
                    kernels.close()  # shut the kernels down before rendering
            preparing.join()  # rendering shares what it prepared
            data_prints = {"data": data_print, "earlier_data": earlier}
            return _finish(folder, year, data_dir, data_prints, known_rows, outline, plans, results, staging,
                           render_key, allow_partial, formats, log, draft, getattr(kernels, "render", None))
        finally:
            folder.discard(staging)


def _check_data(data_dir: Path, years: list[int], earlier: list[int], log=print, unread: list | None = None) -> dict:
    """Check the report year's data (if in ``years``) and the ``earlier`` years its sections read.

    Raises one DataError listing every problem in all of them (each once); returns the report year's tables.
    What the reading set aside (a title row, a 合计 row, a hidden sheet) is logged; files no table reads are put in
    ``unread``, to be named once the sections have run (one may read such a file itself).
    """
    if not years and not earlier:
        return {}  # nothing changed since the last check: not even pandas is imported
    from ..registers.reading import UnreadFile, check_year

    tables, lines = {}, []
    for each in [*years, *earlier]:
        notes: list[str] = []
        try:
            found = check_year(data_dir, each, notes)
        except DataError as exc:
            lines += exc.problems
            continue
        for note in notes:
            if isinstance(note, UnreadFile) and unread is not None:
                unread.append(note)
            else:
                log(f"note: {note}")
        if each in years:
            tables = found
    if lines:
        raise DataError(list(dict.fromkeys(lines)))  # (the declarations' problems are every year's: said once)
    return tables


def _narrative_findings(data_dir: Path, year: int) -> list:
    from .privacy import scan_lines

    inside, outside = narratives(data_dir, year)
    if outside:
        raise DataError([f"{shown(p)}: {OUTSIDE.format(folder=narrative_dir(data_dir, year))}" for p in outside])
    return [f for path in inside for f in scan_lines(read_narrative(path), shown(path))]


def _proofread(config: ReportConfig, data_dir: Path, year: int, log) -> None:
    from .proofing import check_year, summary

    try:
        found = check_year(config, data_dir, year)
    except ImportError:  # autocorrect-py missing: the check is advice, the build goes on without it
        log("note: copy check skipped (autocorrect-py is not installed)")
        return
    if found:
        log(f"note: {summary(found)}")


def _refuse_unfinished(config: ReportConfig, data_dir: Path, year: int) -> None:
    from ..notebook.finished import unfinished

    found = unfinished(config, data_dir, year)
    if found:
        raise DataError([f"Unfinished text; nothing was published (有未完成的内容，报告未生成). Finish each, or build a "
                         f"draft to see them highlighted (--draft):"] + [f"  - {f}" for f in found])


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
        from ..core.fonts import find_cjk_font

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

    def __init__(self, jobs: int, config: ReportConfig, *, shared: bool = False, log=None):
        self.jobs, self.config, self.shared, self.log = jobs, config, shared, log
        self._stack = contextlib.ExitStack()
        self._pool = None

    def pool_for(self, plans):
        if self._pool is None:
            from .engine import KernelPool

            size = self.jobs if self.shared else min(self.jobs, sum(1 for p in plans if p.runs))
            from ..core.config import kernel_environment

            self._pool = self._stack.enter_context(KernelPool(size, self.config.notebooks_dir, log=self.log,
                                                              env=kernel_environment(self.config)))
        return self._pool

    def start(self):
        """Start the kernels now (a preview keeps them warm from the first edit on)."""
        return self.pool_for([])

    def close(self) -> None:
        self._pool = None
        self._stack.close()

    def __enter__(self) -> "_Kernels":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _finish(folder: OutputFolder, year, data_dir, data_prints, known_rows, outline, plans, results, staging: Path,
            render_key, allow_partial, formats, log, draft=False, renderer=None):
    """Bring in the reused sections, render, and publish the new results (or keep the old on failure)."""
    out = folder.path
    sections = staging / SECTIONS_DIR
    for plan in plans:
        if not plan.runs:
            name = plan.section.executed_name
            shutil.copy2(out / SECTIONS_DIR / name, sections / name)
            results[plan.section.id] = SectionResult(plan.section, "reused", "unchanged", plan.before.get("seconds", 0.0),
                                                     plan.key, plan.before.get("inputs", {}))
    failures = [results[p.section.id] for p in plans if results[p.section.id].state == "failed"]
    if failures:
        saved = {f.section.executed_name: sections / f.section.executed_name for f in failures
                 if (sections / f.section.executed_name).is_file()}
        failed_dir = folder.replace_folder(FAILED_DIR, saved)
        summary = f"{len(failures)} of {len(plans)} section(s) failed for {year}:\n" + "\n".join(
            f"  section '{f.section.id}' ({f.section.notebook.name}), cell {f.cell or '?'}: {f.error}\n"
            + (f"    saved: {failed_dir / f.section.executed_name}" if f.section.executed_name in saved
               else "    nothing was saved (the notebook could not be run)")
            for f in failures
        )
        if not allow_partial:
            raise BuildError(summary + "\nThe last good report was left as it was "
                                       "(--allow-partial writes one that marks the failed sections).")
        log(summary)
    job = _render_job(outline, year, data_dir, sections, plans, results, out.parent / ".cache", draft, formats)
    from .render import section_notes

    for section_id, executed in job.executed.items():
        for note in section_notes(executed):
            log(f"note: section '{section_id}': {note}")
    started = time.monotonic()
    published = renderer(job) if renderer is not None else render_outputs(job)
    render_seconds = time.monotonic() - started
    for name, content in published.items():
        (staging / name).write_bytes(content)
    record = _manifest(out, year, data_dir, data_prints, known_rows, plans, results, None if failures else render_key,
                       sections, published, draft, render_seconds)
    (staging / manifest.MANIFEST).write_text(json.dumps(record, ensure_ascii=False, indent=2), encoding="utf-8")
    # One transaction: the executed notebooks, the report in each format, then their record; formats not
    # built this time go, so every file of the year is from this build.
    stale = [name for fmt, name in FORMATS.items() if fmt not in formats] + ([] if failures else [FAILED_DIR])
    folder.publish(staging, [SECTIONS_DIR, *published, manifest.MANIFEST], stale)
    report = out / REPORT_FILE
    if failures:
        raise BuildError(f"{len(failures)} section(s) failed; a partial report marking them was written to {report}")
    return report


@dataclass
class RenderJob:
    """Everything rendering a report needs, and nothing it would have to read from disk: it can run on any machine."""

    outline: ReportConfig
    year: int
    executed: dict  # section id → executed notebook (nbformat node)
    failed: dict  # section id → the notice shown in its place
    notes: list  # the data's provenance notes, for the footer
    built_with: str  # tool, version, data, commit, time: kept out of the page's text
    draft: bool
    formats: tuple
    cache_dir: Path | None = None  # where the font subset is kept between builds, if this machine has one
    base: Path | None = None  # the project folder the PDF may take files from
    built_at: dt.datetime = field(default_factory=lambda: dt.datetime.now().astimezone())


def _render_job(outline, year, data_dir, sections: Path, plans, results, cache_dir: Path, draft: bool, formats) -> RenderJob:
    import nbformat

    executed, failed = {}, {}
    for section in (p.section for p in plans):
        result = results[section.id]
        if result.state == "failed":
            failed[section.id] = f"本部分未能生成（{section.notebook.name}，第{result.cell or '?'}个单元格：{result.error}）"
        else:
            executed[section.id] = nbformat.read(sections / section.executed_name, as_version=4)
    ran = sum(1 for r in results.values() if r.state == "ran")
    commit = manifest.git_commit(Path(__file__).parent)
    built_with = (  # kept out of the page's text: in a <meta> and a comment, and in manifest.json
        f"annual-review {__version__}; data {data_dir.name}/{year}; {len(plans)} sections "
        f"({ran} run, {len(plans) - ran} reused)" + (f"; commit {commit[:12]}" if commit else "")
        + f"; built {dt.datetime.now().astimezone():%Y-%m-%d %H:%M}"
    )
    return RenderJob(outline, year, executed, failed, data_notes(data_dir, results.values()), built_with, draft,
                     tuple(formats), cache_dir, outline.path.parent)


def render_outputs(job: RenderJob) -> dict[str, bytes]:
    """The report in each of the job's formats, checked for personal data: name → bytes, ready to publish."""
    from .render import render_report, report_outputs

    outline, executed = job.outline, job.executed
    empty = [s for s in outline.executable_sections() if s.id in executed and _required(s) and not _shows(executed[s.id])]
    if empty and not job.draft:
        raise BuildError("Required part(s) show nothing; the report was not published (必报内容为空，报告未生成): "
                         + ", ".join(f"'{outline.heading(s, job.year) or s.id}' (section '{s.id}', {s.notebook.name})"
                                     for s in empty)
                         + "; write their text, or build a draft (--draft) to see them marked")
    failed = {**job.failed, **{s.id: UNFINISHED_NOTICE for s in empty}}
    if not outline.allow_personal_data:
        from .privacy import scan_notebook

        names = {s.id: s.executed_name for s in outline.executable_sections()}
        _refuse_personal_data(_report_findings(outline, executed) + [  # and the executed notebooks kept beside it
            f for section_id, notebook in executed.items() for f in scan_notebook(notebook, f"{SECTIONS_DIR}/{names[section_id]}")])
    with _RENDERING:  # nbconvert's exporter and WeasyPrint, one report at a time in a process
        report_html = render_report(outline, job.year, executed, provenance=job.built_with, data_notes=job.notes,
                                    failed=failed, cache_dir=job.cache_dir, draft=job.draft, built_at=job.built_at)
        published = {FORMATS["html"]: report_html.encode("utf-8")}
        if "pdf" in job.formats:
            from .pdf import pdf_bytes

            published[FORMATS["pdf"]] = pdf_bytes(report_html, base=job.base if job.base and job.base.is_dir() else None)
        if "docx" in job.formats:
            from .word import docx_bytes

            published[FORMATS["docx"]] = docx_bytes(report_html, outline.document, author=outline.body,
                                                     language=outline.language, built=job.built_at)
    if not outline.allow_personal_data:
        from .privacy import scan_published

        _refuse_personal_data(scan_published(published))
    return published


_RENDERING = threading.Lock()
UNFINISHED_NOTICE = "本部分尚无内容（必报内容，待填写）"  # in a draft, in place of a required part that shows nothing


def _required(section: Section) -> bool:
    """A part the report may not be published without: ``required: true``, or reporting on one of the 2019 rules'
    required items."""
    from ..core.config import REQUIRED_ITEMS

    return section.required or bool(set(section.covers) & (set(REQUIRED_ITEMS) - {"other"}))


def _shows(notebook) -> bool:
    """Whether a section shows a reader anything: a table, a chart, or a narrative with text."""
    from bs4 import BeautifulSoup

    from .render import report_outputs

    for output in report_outputs(notebook):
        data = output.get("data", {})
        if "image/png" in data or BeautifulSoup(data.get("text/html", ""), "html.parser").get_text(strip=True):
            return True
    return False


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
    """Personal data in what the sections show: narrative, table cells, and each chart's words and alt text."""
    from .privacy import scan, scan_html
    from .render import report_outputs

    findings = []
    for section in outline.executable_sections():
        where = f"section '{section.id}' ({section.notebook.name})"
        for output in report_outputs(executed.get(section.id)) if section.id in executed else []:
            markup = output.get("data", {}).get("text/html")
            if markup:  # each cell and paragraph as a reader reads it, whole: never digits of two cells run together
                findings += [type(f)(f.kind, f.text, where) for f in scan_html(markup, where)]
            metadata = output.get("metadata", {})
            if "image/png" in output.get("data", {}):
                chart = [metadata.get("image/png", {}).get("alt", ""), metadata.get("caption", ""),
                         *metadata.get("texts", [])]
                findings += [f for text in chart if text for f in scan(str(text), f"{where}, chart")]
    return findings


def _manifest(out, year, data_dir, data_prints, tables_with_rows, plans, results, render_key, sections: Path,
              published: dict[str, bytes], draft: bool = False, render_seconds: float = 0.0) -> dict:
    """The record of this build: what each section read and wrote, and the digest of every file published."""
    import hashlib

    return {
        "year": year,
        "built_at": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "data_dir": str(data_dir),
        **data_prints,  # fingerprints of the year's data and of each earlier year's, as checked
        "tables_with_rows": tables_with_rows,
        "render": render_key,
        "mode": "draft" if draft else "final",
        "git_commit": manifest.git_commit(Path(__file__).parent),
        "versions": manifest.versions(),
        "library": manifest.library_fingerprint(),
        "outputs": {name: hashlib.sha256(content).hexdigest() for name, content in published.items()},
        "render_seconds": round(render_seconds, 3),
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
                "executed": manifest.file_digest(sections / section.executed_name),
                "kernel": results[section.id].kernel or (plan.before or {}).get("kernel", 0),
            }
            for plan, section, parameters, key in ((p, p.section, p.parameters, p.key) for p in plans)
        },
    }


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
    timeout: float | None = None,
    draft: bool = False,
    trusted: tuple = (),
) -> list[Path]:
    """Build the report for each of ``years`` (default: the latest year in ``data_dir``; ``all_years``: every one).

    ``trusted``: folders outside the project the config may take notebooks from."""
    config = load_config(config_path, trusted=trusted)
    if not config.allow_personal_data:
        _refuse_personal_data(list(config.findings))  # the body, title and headings are published too
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
        shared = _Kernels(jobs, config, shared=True, log=log) if len(resolved) > 1 else contextlib.nullcontext()
        with shared as kernels:
            for year in resolved:
                try:
                    report = build_year(config, year, data_dir, output_dir, jobs=jobs, force=force, timeout=timeout,
                                        allow_partial=allow_partial, formats=formats, log=log, kernels=kernels,
                                        draft=draft)
                    reports.append(report)
                    for fmt in formats:
                        log(f"Report written: {report.with_name(FORMATS[fmt])}")
                except AnnualReviewError as exc:  # one year's failure does not stop the others
                    if len(resolved) == 1:
                        raise
                    failed[year] = exc
                    log(f"{year}: not built (see below); going on with the other years")
    except BaseException:
        _index_quietly(output_dir, config, log)  # the years built so far are listed; the error is the one told
        raise
    write_index(output_dir, config)
    if failed:
        error = BuildError(f"{len(failed)} of {len(resolved)} years failed; the others were built:\n"
                           + "\n".join(f"--- {year}:\n{exc}" for year, exc in failed.items()))
        error.exit_code = max(exc.exit_code for exc in failed.values())
        raise error
    return reports


def _index_quietly(output_dir: Path, config: ReportConfig, log) -> None:
    try:
        write_index(output_dir, config)
    except Exception as exc:  # noqa: BLE001 - never hide the error that stopped the build
        log(f"warning: {output_dir / 'index.html'} was not updated ({exc})")

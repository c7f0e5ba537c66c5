"""Publishing a year's build: bring in the reused sections, render the report, check it, record it, and put it
all in place as one transaction (or keep the last good report when sections failed)."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..core.config import REQUIRED_ITEMS, ReportConfig, Section
from ..core.exceptions import BuildError
from ..core.outputs import FAILED_DIR, FORMATS, MANIFEST, REPORT_FILE, SECTIONS_DIR
from ..core.paths import year_dir
from . import manifest
from .checks import refuse_personal_data
from .plan import BuildOptions, Plan, SectionResult
from .store import OutputFolder

LOGS_DIR = ".logs"  # in the staging folder: each failed section's traceback, published into failed/


@dataclass
class Publication:
    """What a year's build hands over once its sections have run."""

    folder: OutputFolder
    staging: Path
    year: int
    data_dir: Path
    data_prints: dict  # fingerprints of the year's data and of each earlier year's, as checked
    known_rows: list  # the tables with rows
    outline: ReportConfig  # the config as it applies to this year
    plans: list[Plan]
    results: dict  # section id → SectionResult, for the sections that ran
    render_key: str
    options: BuildOptions


def publish(p: Publication) -> Path:
    """Bring in the reused sections, render, and publish the new results (or keep the old on failure)."""
    folder, staging, year, plans, results, options = p.folder, p.staging, p.year, p.plans, p.results, p.options
    log, formats = options.log, options.formats
    out = folder.path
    sections = staging / SECTIONS_DIR
    for plan in plans:
        if not plan.runs:
            name = plan.section.executed_name
            shutil.copy2(out / SECTIONS_DIR / name, sections / name)
            results[plan.section.id] = SectionResult(plan.section, "reused", "unchanged", plan.before.seconds,
                                                     plan.key, dict(plan.before.inputs or {}))
    failures = [results[p.section.id] for p in plans if results[p.section.id].state == "failed"]
    if failures:
        saved = {f.section.executed_name: sections / f.section.executed_name for f in failures
                 if (sections / f.section.executed_name).is_file()}
        logs = _write_logs(staging / LOGS_DIR, failures)
        failed_dir = folder.replace_folder(FAILED_DIR, {**saved, **logs})
        summary = f"{len(failures)} of {len(plans)} section(s) failed for {year}:\n" + "\n".join(
            f"  section '{f.section.id}' ({f.section.notebook.name}), cell {f.cell or '?'}: {f.error}\n"
            + (f"    saved: {failed_dir / f.section.executed_name}" if f.section.executed_name in saved
               else "    nothing was saved (the notebook could not be run)")
            + (f"\n    traceback: {failed_dir / _log_name(f)}" if _log_name(f) in logs else "")
            + ("\n" + _indent(f.traceback) if options.verbose and f.traceback else "")
            for f in failures
        )
        if not options.allow_partial:
            raise BuildError(summary + "\nThe last good report was left as it was "
                                       "(--allow-partial writes one that marks the failed sections).")
        log(summary)
    job = render_job(p.outline, year, p.data_dir, sections, plans, results, out.parent / ".cache", options.draft, formats)
    if options.redline and options.draft:
        job.previous = _previous_draft(out, log)
    from .render import section_notes

    for section_id, executed in job.executed.items():
        for note in section_notes(executed):
            log(f"note: section '{section_id}': {note}")
    started = time.monotonic()
    published = render_outputs(job)
    render_seconds = time.monotonic() - started
    for name, content in published.items():
        (staging / name).write_bytes(content)
    built = record(year, p.data_dir, p.data_prints, p.known_rows, plans, results, None if failures else p.render_key,
                   sections, published, options.draft, render_seconds)
    (staging / MANIFEST).write_text(built.dump(), encoding="utf-8")
    # One transaction: the executed notebooks, the report in each format, then their record; formats not
    # built this time go, so every file of the year is from this build.
    stale = [name for fmt, name in FORMATS.items() if fmt not in formats] + ([] if failures else [FAILED_DIR])
    folder.publish(staging, [SECTIONS_DIR, *published, MANIFEST], stale)
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
    previous: str | None = None  # the previous draft's HTML, to mark what changed since (a redline)


def render_job(outline, year, data_dir, sections: Path, plans, results, cache_dir: Path, draft: bool, formats) -> RenderJob:
    import nbformat

    executed, failed = {}, {}
    for section in (p.section for p in plans):
        result = results[section.id]
        if result.state == "failed":
            failed[section.id] = f"本部分未能生成（{section.notebook.name}，第{result.cell or '?'}个单元格：{result.error}）"
        else:
            executed[section.id] = nbformat.read(sections / section.executed_name, as_version=4)
    from .. import __version__

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
    from .render import render_report

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
        refuse_personal_data(_report_findings(outline, executed) + [  # and the executed notebooks kept beside it
            f for section_id, notebook in executed.items() for f in scan_notebook(notebook, f"{SECTIONS_DIR}/{names[section_id]}")])
    with _RENDERING:  # nbconvert's exporter and WeasyPrint, one report at a time in a process
        figures: list[dict] = []
        report_html = render_report(outline, job.year, executed, provenance=job.built_with, data_notes=job.notes,
                                    failed=failed, cache_dir=job.cache_dir, draft=job.draft, built_at=job.built_at,
                                    figures=figures)
        if job.previous is not None:
            from .changes import redline

            report_html = redline(job.previous, report_html)
        from .opendata import CSV_FILE, JSON_FILE, csv_bytes, json_bytes

        published = {FORMATS["html"]: report_html.encode("utf-8"), CSV_FILE: csv_bytes(figures),
                     JSON_FILE: json_bytes(figures, title=outline.title(job.year), body=outline.body, year=job.year)}
        if "pdf" in job.formats:
            from .pdf import pdf_bytes

            published[FORMATS["pdf"]] = pdf_bytes(report_html, base=job.base if job.base and job.base.is_dir() else None)
        if "docx" in job.formats:
            from .word import docx_bytes

            published[FORMATS["docx"]] = docx_bytes(report_html, outline.document, author=outline.body,
                                                     language=outline.language, built=job.built_at)
    if not outline.allow_personal_data:
        from .privacy import scan_published

        refuse_personal_data(scan_published(published))
    return published


_RENDERING = threading.Lock()


UNFINISHED_NOTICE = "本部分尚无内容（必报内容，待填写）"  # in a draft, in place of a required part that shows nothing


def _required(section: Section) -> bool:
    """A part the report may not be published without: ``required: true``, or reporting on one of the 2019 rules'
    required items."""
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
    from .privacy import scan
    from .render import report_outputs

    findings = []
    for section in outline.executable_sections():
        where = f"section '{section.id}' ({section.notebook.name})"
        for output in report_outputs(executed.get(section.id)) if section.id in executed else []:
            markup = output.get("data", {}).get("text/html")
            if markup:  # each cell and paragraph as a reader reads it, whole: never digits of two cells run together
                findings += _markup_findings(markup, where)
            metadata = output.get("metadata", {})
            if "image/png" in output.get("data", {}):
                chart = [metadata.get("image/png", {}).get("alt", ""), metadata.get("caption", ""),
                         *metadata.get("texts", [])]
                findings += [f for text in chart if text for f in scan(str(text), f"{where}, chart")]
    return findings


@functools.lru_cache(maxsize=512)
def _markup_findings(markup: str, where: str) -> tuple:
    """Personal data in one output's markup (kept: a preview's rebuild scans again only the outputs that changed)."""
    from .privacy import scan_html

    return tuple(type(f)(f.kind, f.text, where) for f in scan_html(markup, where))


def record(year, data_dir, data_prints, tables_with_rows, plans, results, render_key, sections: Path,
           published: dict[str, bytes], draft: bool = False, render_seconds: float = 0.0) -> manifest.BuildRecord:
    """The record of this build: what each section read and wrote, and the digest of every file published."""
    library = manifest.library_fingerprint()
    return manifest.BuildRecord(
        year=year,
        built_at=dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        data_dir=str(data_dir),
        data=data_prints["data"],  # fingerprints of the year's data and of each earlier year's, as checked
        earlier_data=data_prints["earlier_data"],
        tables_with_rows=tables_with_rows,
        render=render_key,
        mode="draft" if draft else "final",
        git_commit=manifest.git_commit(Path(__file__).parent),
        versions=manifest.versions(),
        library=library,
        outputs={name: hashlib.sha256(content).hexdigest() for name, content in published.items()},
        render_seconds=round(render_seconds, 3),
        sections={
            plan.section.id: manifest.SectionRecord(
                notebook=plan.section.notebook.name,
                notebook_digest=manifest.file_digest(plan.section.notebook),
                parameters=plan.parameters,
                library=library,
                status="ok" if results[plan.section.id].state != "failed" else "failed",
                state=results[plan.section.id].state,
                reason=results[plan.section.id].reason,
                seconds=round(results[plan.section.id].seconds, 3),
                key=plan.key,
                inputs=results[plan.section.id].inputs,
                executed=manifest.file_digest(sections / plan.section.executed_name),
                kernel=results[plan.section.id].kernel or (plan.before.kernel if plan.before else 0),
            )
            for plan in plans
        },
    )


def prepare_render(document=None) -> None:
    """Rendering's one-time costs, paid while the sections run: its imports, templates, and the report's own font
    (found, its characters read, the subsetter loaded)."""
    try:
        from . import page, render  # noqa: F401 - page: imported for what it imports (budoux)
        from ..core import fonts

        fonts.prepare(document)
        render.prepare()
    except Exception:  # noqa: BLE001 - only a head start; rendering reports any real problem itself
        pass


def _log_name(result: SectionResult) -> str:
    return f"{Path(result.section.executed_name).stem}.log"


def _write_logs(folder: Path, failures: list[SectionResult]) -> dict[str, Path]:
    """Each failed section's full traceback (a fault of ours, a library's, or the cell's own), kept beside its
    notebook in ``failed/``: never lost to a one-line summary."""
    logs = {}
    for failure in failures:
        if failure.traceback:
            folder.mkdir(exist_ok=True)
            path = folder / _log_name(failure)
            path.write_text(f"section '{failure.section.id}' ({failure.section.notebook.name}), cell "
                            f"{failure.cell or '?'}: {failure.error}\n\n{failure.traceback}\n", encoding="utf-8")
            logs[path.name] = path
    return logs


def _indent(text: str) -> str:
    return "\n".join("      " + line for line in text.rstrip().splitlines())


def _previous_draft(out: Path, log) -> str | None:
    """The HTML of the last draft built into ``out``, to mark what changed since; None (and said) when there is none."""
    report = out / REPORT_FILE
    if report.is_file() and manifest.BuildRecord.load(out).mode == "draft":
        return report.read_text(encoding="utf-8")
    log(f"note: --redline: no earlier draft in {out} to compare with; this draft marks no change")
    return None

"""The build: a year's data → executed section notebooks → one report, in HTML, PDF and Word.

The story of :func:`build_year`: take the output folder (its lock; what an
interrupted build left is repaired) → check the year's data (skipped when it is
byte-for-byte what was last checked; :mod:`.checks`) → decide, section by section,
whether its earlier result stands (:mod:`.plan`) → run the others on a
:class:`~annual_review.build.engine.SectionRunner`, in parallel, into a staging folder
(:mod:`.execute`) → render the report in the config's order, look for personal data in
everything it publishes, and publish the executed notebooks, the report files and their
record as one transaction (:mod:`.publish`). A failing section is saved with its error
and named; the other sections still run; the last good report is kept unless
``allow_partial``. The output folder itself is :mod:`annual_review.build.store`'s.

What runs and publishes sections (:mod:`.engine`, :mod:`.execute`, :mod:`.publish`) is imported once a build has
sections to run: a build with nothing to do — the commonest build of all — answers without loading them.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

from ..core.config import ReportConfig, load_config
from ..core.context import kernel_environment
from ..core.exceptions import AnnualReviewError, BuildError
from ..core.outputs import FORMATS, REPORT_FILE, SECTIONS_DIR
from ..core.paths import available_years, resolve_year, year_dir
from ..core.tracking import CHECKED_ENV
from . import manifest
from .checks import check_data, config_findings, narrative_findings, proofread, refuse_personal_data, refuse_unfinished
from .plan import BuildOptions, SectionResult, plan_sections
from .progress import Progress
from .index import write_index
from .store import OutputFolder

TYPE_CHECKING = False  # (typing's constant, without importing typing: every build would pay for it)
if TYPE_CHECKING:
    from .engine import SectionRunner


def build_year(config: ReportConfig, year: int, data_dir: Path, output_dir: Path, options: BuildOptions = BuildOptions(),
               *, runner: SectionRunner | None = None) -> Path:
    """Build ``year``'s report into ``output_dir/<year>/``; return the HTML report's path.

    ``runner``, when given, runs the sections (kernels shared with other years or bodies, a cluster; the caller
    closes it); otherwise this build starts its own kernels, sized to the sections that run, and stops them before
    rendering.
    """
    out, log = output_dir / str(year), options.log
    env = kernel_environment(config)
    if not config.allow_personal_data:
        refuse_personal_data(config_findings(config))  # the body, title and headings are published too
    if not options.draft:  # a final build publishes only finished text: refused before anything runs or is touched
        refuse_unfinished(config, data_dir, year)
    with OutputFolder(out, log=log) as folder, contextlib.ExitStack() as own:
        previous = manifest.BuildRecord.load(out, warn=log)
        files = {y: manifest.data_files(data_dir, y) for y in available_years(data_dir) if y <= year}
        data_print = manifest.data_fingerprint(data_dir, year, files.get(year))
        # Earlier years are read too (last year's figures, the trends): checked as well, when they changed.
        earlier = {str(y): manifest.data_fingerprint(data_dir, y, f) for y, f in files.items() if y < year}
        known_rows = previous.tables_with_rows if previous.data == data_print else None

        # The sections' kernels load tables without checking their schema: this build checks every register (or
        # knows them unchanged since a build that did), and runs again, checking, a section that loaded other content.
        jobs_env = {**env, CHECKED_ENV: "1"}

        def plan(outline):
            return plan_sections(outline, year, data_dir, out, previous, options.force, options.timeout, env)

        def start_kernels(plans) -> SectionRunner | None:
            if not any(p.runs for p in plans):
                return None
            if runner is not None:
                return runner.start()
            from .engine import KernelPool

            runs = sum(1 for p in plans if p.runs)
            size = min(options.kernels, runs)
            return own.enter_context(KernelPool(size, config.notebooks_dir, log=log, env=jobs_env,
                                                single_use=runs <= size)).start()

        # Start the kernels this build will likely need now, so they warm up while the data is checked.
        data_unchanged = known_rows is not None  # (this year's data is then not checked below: this plan stands)
        expected = plan(config.for_year(set(known_rows or previous.tables_with_rows or [])))
        pool = start_kernels(expected)
        # What rendering needs (nbconvert, the templates, the font) is loaded meanwhile, on this process's idle moments:
        # as soon as sections are to run, since a rebuild's one section may end before the data check does.
        preparing = threading.Thread(target=_prepare_render, args=(config.document,), name="prepare-render",
                                     daemon=True)
        if pool is not None:
            preparing.start()
        staging = folder.staging()
        (staging / SECTIONS_DIR).mkdir()
        # This build's own kernels are shut down once its sections have run, while it renders (joined before it
        # returns or raises: no kernel outlives a build).
        stopping = threading.Thread(target=own.close, name="stop-kernels", daemon=True)
        # After a build of this year, the sections whose inputs changed start now, on kernels already warm (a preview:
        # a save shows sooner), into the staging folder: if the data is refused, their work is dropped with it, and no
        # output is touched. A first build checks its data before any notebook runs.
        early = [] if pool is None or not previous.sections else [
            (job, pool.submit(job)) for job in (p.job(staging / SECTIONS_DIR, jobs_env) for p in expected if p.runs)]
        try:
            # Refuse invalid data before anything is published, so no earlier output is touched.
            changed_earlier = [int(y) for y, print_ in earlier.items() if previous.earlier_data.get(y) != print_]
            unread: list = []
            tables = check_data(data_dir, [year] if known_rows is None else [], changed_earlier, log, unread)
            if known_rows is None:
                if not config.allow_personal_data:
                    refuse_personal_data(narrative_findings(data_dir, year))
                proofread(config, data_dir, year, log)
                known_rows = sorted(name for name, table in tables.items() if len(table))
            outline = config.for_year(set(known_rows))
            log(f"Building {config.title(year)} from {year_dir(data_dir, year)}")
            _say_left_out(config, outline, year, set(known_rows), data_dir, log)
            plans = expected if data_unchanged else plan(outline)
            progress = Progress(len(plans), log)
            for each in plans:
                if not each.runs:
                    progress.report(SectionResult(each.section, "reused", "unchanged", key=each.key).line())
            render_key = manifest.digest([p.key for p in plans], manifest.file_digest(config.path),
                                         options.allow_partial, sorted(options.formats),
                                         "draft" if options.draft else "final", options.redline and options.draft,
                                         manifest.library_fingerprint())
            if (not any(p.runs for p in plans) and previous.render == render_key
                    and previous.intact(out, [FORMATS[f] for f in options.formats])):
                progress.close()
                log("Nothing changed: the report is up to date.")
                return out / REPORT_FILE
            pool = pool or start_kernels(plans)
            if preparing.ident is None:  # (no section was expected to run before the check)
                preparing.start()
            from .execute import execute_all
            from .publish import Publication, publish

            try:
                roots = (data_dir.resolve(), config.path.parent.resolve())
                checked = manifest.checked_digests({p: f for each in files.values() for p, f in each.items()})
                results = execute_all(plans, staging / SECTIONS_DIR, pool, progress, jobs_env, roots, log, started=early,
                                      checked=checked)
                read = {Path(p) for r in results.values() for p in r.inputs} | {
                    Path(p) for each in plans if not each.runs for p in each.before.inputs or {}}
                for note in unread:  # only now is it known that no section read it either
                    if note.path not in read:
                        log(f"note: {note}")
            finally:
                progress.close()
                stopping.start()
            preparing.join()  # rendering shares what it prepared
            return publish(Publication(folder, staging, year, data_dir, {"data": data_print, "earlier_data": earlier},
                                       known_rows, outline, plans, results, render_key, options))
        finally:
            for _, future in early:  # started early, and this build ended before using them: not run if not yet begun
                future.cancel()
            if stopping.ident is not None:
                stopping.join()
            folder.discard(staging)


def _prepare_render(document) -> None:
    """:func:`.publish.prepare_render`, imported in the thread that prepares (a build with nothing to run never
    does)."""
    from .publish import prepare_render

    prepare_render(document)


def _say_left_out(config: ReportConfig, outline: ReportConfig, year: int, with_rows: set, data_dir: Path, log) -> None:
    """The parts this year leaves out (their table has no rows), and what the 2019 rules would miss."""
    from .rules import check as rules_check

    kept = {s.id for s in outline.all_sections()}
    for section in config.all_sections():
        if section.id not in kept and section.requires:
            log(f"Left out for {year}: '{config.heading(section, year) or section.id}' "
                f"(its table '{section.requires}' has no rows)")
    for line in rules_check(config, data_dir, year, tables_with_rows=with_rows):
        log(f"note: {line}")


def build(config_path: str | Path, data_dir: str | Path, output_dir: str | Path, years: Iterable[int] | None = None,
          *, all_years: bool = False, trusted: tuple = (), options: BuildOptions | None = None, **settings) -> list[Path]:
    """Build the report for each of ``years`` (default: the latest year in ``data_dir``; ``all_years``: every one).

    ``trusted``: folders outside the project the config may take notebooks from. ``options`` (or its fields as
    keywords: ``formats=("html",)``, ``force=True``, …) say how."""
    options = replace(options or BuildOptions(), **settings)
    log = options.log
    config = load_config(config_path, trusted=trusted)
    if "pdf" in options.formats:
        from .pdf import check_pdf_support

        check_pdf_support()  # before any work: say now if this machine cannot make a PDF
    data_dir, output_dir = Path(data_dir).resolve(), Path(output_dir).resolve()
    if all_years:
        resolved = available_years(data_dir)
    else:
        resolved = [resolve_year(data_dir, y) for y in (list(years) if years else [None])]
    reports, failed = [], {}
    try:
        shared = contextlib.nullcontext()
        if len(resolved) > 1:  # several years share warm kernels: a year's sections run where the last year's ran
            from .engine import KernelPool

            shared = KernelPool(options.kernels, config.notebooks_dir, log=log, env=kernel_environment(config))
        with shared as runner:
            for year in resolved:
                try:
                    report = build_year(config, year, data_dir, output_dir, options, runner=runner)
                    reports.append(report)
                    for fmt in options.formats:
                        log(f"Report written: {report.with_name(FORMATS[fmt])}")
                except AnnualReviewError as exc:  # one year's failure does not stop the others
                    if len(resolved) == 1:
                        raise
                    failed[year] = exc
                    log(f"{year}: not built (see below); going on with the other years")
    except BaseException:
        index_quietly(output_dir, config, log)  # the years built so far are listed; the error is the one told
        raise
    write_index(output_dir, config)
    if failed:
        error = BuildError(f"{len(failed)} of {len(resolved)} years failed; the others were built:\n"
                           + "\n".join(f"--- {year}:\n{exc}" for year, exc in failed.items()))
        error.exit_code = max(exc.exit_code for exc in failed.values())
        raise error
    return reports


def index_quietly(output_dir: Path, config: ReportConfig, log) -> None:
    """Update ``output_dir``'s index, saying (never raising) when it cannot: the error that stopped a build is the
    one to tell."""
    try:
        write_index(output_dir, config)
    except Exception as exc:  # noqa: BLE001 - never hide the error that stopped the build
        log(f"warning: {output_dir / 'index.html'} was not updated ({exc})")

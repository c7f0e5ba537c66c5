"""The ``annual-review`` command line: a thin layer over the library."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from pathlib import Path

from ..core.exceptions import AnnualReviewError, ConfigError, plain_os_error


def _formats(text: str) -> tuple[str, ...]:
    from ..core.outputs import FORMATS

    chosen = tuple(dict.fromkeys(f.strip().lower() for f in text.split(",") if f.strip()))
    unknown = [f for f in chosen if f not in FORMATS]
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(f"unknown format {unknown or text!r}; choose from {', '.join(FORMATS)}")
    return chosen


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0
    if not 0 < value <= 24 * 3600:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds from 1 to 86400")
    return value


class _Version(argparse.Action):
    """``--version``: the installed package's version, looked up only when asked (reading package metadata is a
    tenth of a second every command would otherwise pay)."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, help=None):
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        from .. import __version__

        parser.exit(message=f"annual-review {__version__}\n")


def _parser() -> argparse.ArgumentParser:
    from ..core.config import DEFAULT_CONFIG, DEFAULT_DATA_DIR, DEFAULT_OUTPUT_DIR

    parser = argparse.ArgumentParser(
        prog="annual-review",
        description="Build a body's annual rule-of-law report from its yearly data and section notebooks.",
    )
    parser.add_argument("--version", action=_Version, help="show the version and exit")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    build = commands.add_parser("build", help="execute the section notebooks and render the report")
    build.add_argument("--year", type=int, nargs="+", help="year(s) to build (default: the latest in the data folder)")
    build.add_argument("--config", default=DEFAULT_CONFIG, help=f"report config file (default: {DEFAULT_CONFIG})")
    build.add_argument("--data-dir", default=DEFAULT_DATA_DIR, help=f"folder with one sub-folder per year (default: {DEFAULT_DATA_DIR}/)")
    build.add_argument("--output-dir", default=DEFAULT_OUTPUT_DIR, help=f"where <year>/report.html is written (default: {DEFAULT_OUTPUT_DIR}/)")
    build.add_argument("--all", action="store_true", help="build every year in the data folder")
    build.add_argument("--format", default=("html", "pdf"), type=_formats,
                       help="comma-separated outputs: html, pdf, docx (default: html,pdf); all from one execution")
    build.add_argument("--jobs", type=int, default=None, help="sections run at once (default: the number of cores)")
    build.add_argument("--workspace", help="a workspace.yml listing many bodies: build every body × year asked for "
                                           "into <output-dir>/<body>/<year>/")
    build.add_argument("--body", nargs="+", help="with --workspace: only these bodies (default: all)")
    build.add_argument("--scheduler", help="with --workspace: run on a Dask cluster, tcp://HOST:8786, or 'local' to "
                                           "start one here (default: this machine's warm kernels, no Dask)")
    build.add_argument("--force", action="store_true", help="re-run every section, even those whose inputs did not change")
    build.add_argument("--verbose", action="store_true",
                       help="a failed section's full traceback in the error too (it is always in failed/<section>.log)")
    build.add_argument("--allow-partial", action="store_true",
                       help="if sections fail, still write the report, marking them (default: keep the last good report)")
    mode = build.add_mutually_exclusive_group()
    mode.add_argument("--final", dest="draft", action="store_false",
                      help="the report as published (the default): no tool name, version, commit or build time in it")
    mode.add_argument("--draft", dest="draft", action="store_true",
                      help="a draft for review: a 征求意见稿 mark, and each figure from data showing its source")
    build.set_defaults(draft=False)
    build.add_argument("--redline", action="store_true",
                       help="with --draft: mark what changed since the previous draft in this output folder (struck "
                            "and underlined words; tracked changes in the Word version), for the next round of review")
    build.add_argument("--trust-folder", action="append", default=[], metavar="DIR",
                       help="a folder outside the project the config may take notebooks from (repeatable; by default "
                            "only the project's own)")
    build.add_argument("--timeout", type=_seconds, default=None,
                       help="seconds a section may run before it is stopped and reported failed "
                            "(default: the config's 'timeout', else 600)")

    preview = commands.add_parser("preview", help="build a year, serve it on 127.0.0.1 and rebuild on every change "
                                                  "(the page reloads itself)")
    preview.add_argument("--year", type=int, default=None, help="the year to preview (default: the latest in the data folder)")
    preview.add_argument("--port", type=int, default=8000, help="port to serve on (default: 8000; 0 picks a free one)")
    preview.add_argument("--host", default=None,
                         help="address to serve on (default: 127.0.0.1; another is refused unless given here, with a warning)")
    preview.add_argument("--config", default=DEFAULT_CONFIG, help=f"report config file (default: {DEFAULT_CONFIG})")
    preview.add_argument("--data-dir", default=DEFAULT_DATA_DIR, help=f"folder with one sub-folder per year (default: {DEFAULT_DATA_DIR}/)")
    preview.add_argument("--output-dir", default=DEFAULT_OUTPUT_DIR, help=f"where <year>/report.html is written (default: {DEFAULT_OUTPUT_DIR}/)")
    preview.add_argument("--jobs", type=int, default=None, help="sections run at once (default: the number of cores)")
    preview.add_argument("--draft", action="store_true", help="preview the draft (每个数字显示来源) instead of the final report")
    preview.add_argument("--trust-folder", action="append", default=[], metavar="DIR",
                         help="a folder outside the project the config may take notebooks from (repeatable)")

    validate = commands.add_parser("validate", help="check a year's data against tables.yml; exit 2 on any problem")
    validate.add_argument("--year", type=int, nargs="+", help="year(s) to check (default: the latest in the data folder)")
    validate.add_argument("--data-dir", default=DEFAULT_DATA_DIR, help=f"folder with one sub-folder per year (default: {DEFAULT_DATA_DIR}/)")

    template = commands.add_parser("template", help="write a data-entry workbook (.xlsx) for a year")
    template.add_argument("--year", type=int, required=True, help="the year the workbook is for")
    template.add_argument("--data-dir", default=DEFAULT_DATA_DIR, help=f"folder holding tables.yml (default: {DEFAULT_DATA_DIR}/)")
    template.add_argument("--output", help="where to write it (default: <data-dir>/<year>/tables.xlsx, read by validate and build)")
    template.add_argument("--force", action="store_true", help="replace the file if it exists")

    new_year = commands.add_parser("new-year", help="start a year's data folder from the year before")
    new_year.add_argument("year", type=int, help="the new year")
    new_year.add_argument("--data-dir", default=DEFAULT_DATA_DIR, help=f"folder with one sub-folder per year (default: {DEFAULT_DATA_DIR}/)")
    new_year.add_argument("--config", default=DEFAULT_CONFIG, help=f"report config, for the plans section (default: {DEFAULT_CONFIG})")
    new_year.add_argument("--plans", help="last year's narrative listing the next steps (default: the section that covers: plans)")
    new_year.add_argument("--follow-up", default="follow_up", help="the table the next steps are carried into (default: follow_up)")

    init = commands.add_parser("init", help="start a new body's project: config, notebooks, tables, narrative stubs")
    init.add_argument("folder", help="the project's folder (new, or empty)")
    init.add_argument("--body", required=True, help="the body's name, such as 某某县教育局")
    init.add_argument("--outline", choices=("three-part", "five-item"), default="five-item",
                      help="five-item: the five contents of the 2019 rules (default); three-part: measures, problems, plans")
    init.add_argument("--year", type=int, help="the first report's year (default: last year)")

    check = commands.add_parser("check", help="pre-publication checks: the 2019 rules' five items and the deadline, "
                                              "half-width punctuation among Chinese, notebooks' parameters cells")
    check.add_argument("--year", type=int, nargs="+", help="year(s) to check (default: the latest in the data folder)")
    check.add_argument("--config", default=DEFAULT_CONFIG, help=f"report config file (default: {DEFAULT_CONFIG})")
    check.add_argument("--data-dir", default=DEFAULT_DATA_DIR, help=f"folder with one sub-folder per year (default: {DEFAULT_DATA_DIR}/)")
    check.add_argument("--trust-folder", action="append", default=[], metavar="DIR",
                       help="a folder outside the project the config may take notebooks from (repeatable)")

    diff = commands.add_parser("diff", help="what changed between two builds of a year: paragraphs, table rows and "
                                            "figures, and why (notebook, narrative, register)")
    diff.add_argument("old", help="the output folder of the earlier build, such as old-outputs/2020")
    diff.add_argument("new", help="the output folder of the later build, such as outputs/2020")

    review = commands.add_parser("review", help="take reviewers' comments and tracked changes in copies of a draft's "
                                                "Word version back to the narrative lines they belong to")
    review.add_argument("files", nargs="+", metavar="FILE.docx", help="reviewed copies of a draft built with --draft "
                                                                      "--format docx (Word or WPS)")
    review.add_argument("--year", type=int, nargs="+", help="the year(s) of the draft (default: every year in the data)")
    review.add_argument("--data-dir", default=DEFAULT_DATA_DIR, help=f"folder with one sub-folder per year (default: {DEFAULT_DATA_DIR}/)")
    review.add_argument("--apply", action="store_true",
                        help="write the tracked wording changes into the narrative files (never a figure, never a "
                             "placeholder; conflicts between reviewers are listed, not applied)")

    fonts = commands.add_parser("fonts", help="list the font each role uses (title, body, headings, tables and charts); "
                                              "exit 1 if none draws Chinese")
    fonts.add_argument("--aliases", action="store_true",
                       help="also write a fontconfig file (Linux) that draws each role's office fonts, where they are "
                            "missing, in the open-licence face of the same role: LibreOffice then shows the Word "
                            "version with a serif body, sans headings and a 楷体 for level 2")
    return parser


_stopping = False  # set by the first SIGINT or SIGTERM


def _stop(signum, frame) -> None:
    """SIGINT or SIGTERM: the first unwinds like Ctrl-C (kernels stopped, the last good output kept); a second ends
    the process at once, its kernels killed first."""
    global _stopping
    if _stopping:
        from ..build.kernels import kill_all

        kill_all()
        os._exit(128 + signum)
    _stopping = True
    raise KeyboardInterrupt


def _handle_signals() -> None:
    """The one owner of the process's signals (the library sets none): only on the main thread, where Python runs
    handlers. Ctrl-C must stop a build even when started from a shell that ignores it for background jobs."""
    global _stopping
    _stopping = False
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, _stop)
        signal.signal(signal.SIGTERM, _stop)


def _options(args):
    from ..build.plan import BuildOptions

    if args.redline and not args.draft:
        raise ConfigError("--redline marks a draft against the previous draft: it goes with --draft")

    return BuildOptions(jobs=args.jobs, force=args.force, allow_partial=args.allow_partial, formats=args.format,
                        timeout=args.timeout, draft=args.draft, verbose=args.verbose, redline=args.redline)


def run() -> None:
    """The ``annual-review`` command: :func:`main`, then out at once.

    Exit handlers run and output is flushed as usual; what is skipped is the interpreter taking apart, object by
    object, the half-gigabyte of modules a build imported (pandas, nbconvert, the kernels' clients): half a second
    of every command, for nothing — the process's memory goes back to the system whole."""
    import atexit

    code = main()
    atexit._run_exitfuncs()  # (what a normal exit runs first: temporary folders removed, loggers flushed)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _builds_here(argv: list[str]) -> bool:
    """Whether ``argv`` asks for a build on this machine's kernels (not a workspace's, nor only for help), read before
    the parser is even made: such a build's first kernel then starts first thing."""
    words = [a for a in argv if not a.startswith("-")]
    options = {a.split("=", 1)[0] for a in argv if a.startswith("-")}  # (--workspace=… as well as --workspace …)
    return bool(words) and words[0] == "build" and not {"-h", "--help", "--workspace", "--scheduler"} & options


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if not _builds_here(argv):
        return _command(argv)
    from ..build import kernels

    # The build's first kernel starts now and boots while the build loads, reads its config, checks and plans; one
    # that no section took (nothing to run, an error, a stop) is ended here.
    kernels.start_spare()
    try:
        return _command(argv)
    finally:
        kernels.end_spare()


def _command(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    _handle_signals()
    try:
        if args.command == "build" and args.workspace:
            from .workspace import build_workspace

            build_workspace(args.workspace, args.output_dir, args.year, all_years=args.all, bodies=args.body,
                            scheduler=args.scheduler, options=_options(args))
        elif args.command == "build":
            from ..build.builder import build

            if args.body or args.scheduler:
                raise ConfigError("--body and --scheduler go with --workspace")
            build(args.config, args.data_dir, args.output_dir, args.year, all_years=args.all,
                  trusted=tuple(args.trust_folder), options=_options(args))
        elif args.command == "preview":
            from .preview import preview

            preview(args.config, args.data_dir, args.output_dir, args.year, port=args.port, host=args.host,
                    jobs=args.jobs, draft=args.draft, trusted=tuple(args.trust_folder))
        elif args.command == "validate":
            from ..registers.checking import check_year
            from ..registers.reading import resolve_year

            for year in args.year or [0]:
                year = resolve_year(args.data_dir, year)
                notes: list[str] = []
                tables = check_year(args.data_dir, year, notes)
                for note in notes:
                    print(f"note: {note}")
                rows = sum(len(t) for t in tables.values())
                print(f"{args.data_dir}/{year}: OK — {len(tables)} tables, {rows} rows (数据检查通过)")
        elif args.command == "diff":
            from ..build.changes import diff

            for line in diff(Path(args.old), Path(args.new)):
                print(line)
        elif args.command == "review":
            from ..core.paths import available_years
            from .review import apply, narratives_of, read_remarks, report

            data_dir = Path(args.data_dir)
            narratives = narratives_of(data_dir, args.year or available_years(data_dir))
            remarks = [r for path in args.files for r in read_remarks(Path(path), narratives)]
            outcomes = apply(remarks, data_dir) if args.apply else None
            for line in report(remarks, outcomes):
                print(line)
            comments, changes = (sum(r.kind == kind for r in remarks) for kind in ("comment", "change"))
            print(f"{len(args.files)} 份审阅稿：{comments} 条批注，{changes} 处修订"
                  + (f"；已写入 {sum(o.applied for o in outcomes)} 处，未写入 {sum(not o.applied for o in outcomes)} 处"
                     if outcomes is not None else "（--apply 将修订写入叙述文本）"))
        elif args.command == "template":
            from ..registers.workbook import write_template

            path = write_template(args.data_dir, args.year, args.output, force=args.force)
            print(f"Data-entry workbook written: {path}")
        elif args.command == "new-year":
            from .scaffold import new_year

            from ..core.config import load_config

            config = load_config(args.config) if Path(args.config).is_file() else None
            notes: list[str] = []
            written = new_year(args.data_dir, args.year, plans=args.plans, follow_up=args.follow_up, config=config,
                               notes=notes)
            print(f"Started {args.data_dir}/{args.year} from {args.year - 1}: {len(written)} files")
            for path in written:
                print(f"  {path}")
            for note in notes:
                print(f"warning: {note}")
        elif args.command == "init":
            from .project import init

            written = init(args.folder, args.body, args.outline, args.year)
            print(f"Started {args.body}'s project in {args.folder}: {len(written)} files. Build it with:")
            print(f"  cd {args.folder} && annual-review build --all")
        elif args.command == "check":
            from ..core.config import load_config
            from ..core.paths import resolve_year
            from ..build.proofing import check_year as copy_warnings
            from ..build.rules import check as rules_check

            from ..notebook.finished import unfinished

            config = load_config(args.config, trusted=tuple(args.trust_folder))
            for warning in _parameters_cells(config):
                print(f"warning: {warning}")
            unfinished_total = 0
            for year in args.year or [0]:
                year = resolve_year(args.data_dir, year)
                for line in rules_check(config, Path(args.data_dir), year):
                    print(line if line.startswith("reminder") else f"warning: {line}")
                found = copy_warnings(config, Path(args.data_dir), year)
                for warning in found:
                    print(f"warning: {warning}")
                print(f"{args.data_dir}/{year}: copy check: {len(found)} line(s) to look at (nothing was changed)")
                to_finish = unfinished(config, Path(args.data_dir), year)
                for item in to_finish:
                    print(f"error: {item}")
                unfinished_total += len(to_finish)
                print(f"{args.data_dir}/{year}: {len(to_finish)} unfinished part(s): a final build refuses them "
                      "(build --draft shows them highlighted)" if to_finish else f"{args.data_dir}/{year}: no unfinished text")
            if unfinished_total:
                return 2
        elif args.command == "fonts":
            from ..notebook.charts import check_glyphs
            from ..core.config import DEFAULT_CONFIG as config_file, load_config
            from ..core.fonts import ROLE_NAMES, rescan, role_fonts

            document = load_config(config_file).document if Path(config_file).is_file() else None
            rescan()  # fonts installed since matplotlib last looked (make system-deps) are found, and remembered
            check_glyphs()
            for role, font in role_fonts(document).items():
                where = f"{font.family} ({font.source} font: {font.path})" if font else "none found"
                print(f"{role:<9} {ROLE_NAMES[role]}: {where}")
            if args.aliases:
                from ..core.fonts import aliases_path, fontconfig_aliases
                from ..core.files import write_atomic

                path = write_atomic(aliases_path(), fontconfig_aliases(document))
                print(f"fontconfig aliases written: {path} (LibreOffice and other programs read it when they start)")
    except AnnualReviewError as exc:
        print(f"annual-review {args.command}: error:\n{exc}", file=sys.stderr)
        return exc.exit_code
    except OSError as exc:  # a full disk, a read-only folder, a file that vanished: said plainly, never a traceback
        folder = getattr(args, "output_dir", None) if args.command in ("build", "preview") else None
        kept = "; the last good output was left as it was (已有的报告保持不变)" if args.command == "build" else ""
        print(f"annual-review {args.command}: error: {plain_os_error(exc, folder)}{kept}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("annual-review: interrupted", file=sys.stderr)
        if [t for t in threading.enumerate() if t.is_alive() and not t.daemon and t is not threading.current_thread()]:
            # A body-year still rendering on a thread of a workspace build: its kernels are stopped and its output
            # folder untouched (the next build tidies what it staged); the process ends now, not when it is done.
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(130)
        return 130
    return 0


def _parameters_cells(config) -> list[str]:
    """Notebooks whose parameters cell Papermill cannot read line by line (a comment holding '=' defeats it)."""
    import nbformat
    from papermill.translators import PythonTranslator

    from ..core.parameters import declared_parameters

    found = []
    for notebook in sorted({s.notebook for s in config.executable_sections()}):
        cell = next((c for c in nbformat.read(notebook, as_version=4).cells
                     if "parameters" in c.metadata.get("tags", [])), None)
        if cell is None:
            found.append(f"{notebook}: no cell tagged 'parameters'; the build's parameters are added without defaults")
            continue
        read = {p.name for p in PythonTranslator.inspect(cell)}
        missed = sorted(set(declared_parameters(notebook)) - read)
        if missed:
            found.append(f"{notebook}: Papermill cannot read the parameters cell's line(s) for {missed}; "
                         "keep '=' out of their comments (#)")
    return found

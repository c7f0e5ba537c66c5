"""What a build checks before any notebook runs: the year's data, its narratives (personal data, unfinished
text), the copy; each refusal lists every problem at once and touches no output."""

from __future__ import annotations

from pathlib import Path

from ..core.config import ReportConfig
from ..core.exceptions import DataError
from ..core.paths import OUTSIDE, narrative_dir, narratives, read_narrative, shown


def check_data(data_dir: Path, years: list[int], earlier: list[int], log=print, unread: list | None = None) -> dict:
    """Check the report year's data (if in ``years``) and the ``earlier`` years its sections read.

    Raises one DataError listing every problem in all of them (each once); returns the report year's tables.
    What the reading set aside (a title row, a 合计 row, a hidden sheet) is logged; files no table reads are put in
    ``unread``, to be named once the sections have run (one may read such a file itself).
    """
    if not years and not earlier:
        return {}  # nothing changed since the last check: not even pandas is imported
    from ..registers.checking import UnreadFile, check_year

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


def config_findings(config: ReportConfig) -> list:
    """Personal data in the config's own text: the body, title and headings are published too."""
    from .privacy import scan

    where = shown(config.path)
    return [f for line, text in config.texts for f in scan(text, f"{where}, line {line}")]


def narrative_findings(data_dir: Path, year: int) -> list:
    from .privacy import scan_lines

    inside, outside = narratives(data_dir, year)
    if outside:
        raise DataError([f"{shown(p)}: {OUTSIDE.format(folder=narrative_dir(data_dir, year))}" for p in outside])
    return [f for path in inside for f in scan_lines(read_narrative(path), shown(path))]


def proofread(config: ReportConfig, data_dir: Path, year: int, log) -> None:
    from .proofing import check_year, summary

    try:
        found = check_year(config, data_dir, year)
    except ImportError:  # autocorrect-py missing: the check is advice, the build goes on without it
        log("note: copy check skipped (autocorrect-py is not installed)")
        return
    if found:
        log(f"note: {summary(found)}")


def refuse_unfinished(config: ReportConfig, data_dir: Path, year: int) -> None:
    from ..notebook.finished import unfinished

    found = unfinished(config, data_dir, year)
    if found:
        raise DataError(["Unfinished text; nothing was published (有未完成的内容，报告未生成). Finish each, or build a "
                         "draft to see them highlighted (--draft):"] + [f"  - {f}" for f in found])


def refuse_personal_data(findings: list) -> None:
    if findings:
        raise DataError(
            ["Personal data found; nothing was published (发现个人信息，报告未生成). Remove it, or set "
             "'allow_personal_data: true' in the report config if it must be published:"]
            + [f"  - {f}" for f in findings]
        )

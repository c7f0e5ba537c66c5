"""A year's tables checked together: every table read, the checks across tables (a headline figure against its
register), and the files and sheets no table reads, named rather than skipped in silence."""

from __future__ import annotations

import functools
from pathlib import Path

import pandas as pd

from ..core import tracking
from ..core.exceptions import DataError
from ..core.paths import stamp, year_dir
from .reading import Read, cell_text, read_table, sheets_for, table_files, year_workbook
from .rows import select, total
from .schemas import TABLES_FILE, declarations
from .sources import SPREADSHEET_LIKE, WORKBOOK_FORMATS, WORKBOOK_STEM, Problem, SourceError, open_workbook


def check_year(data_dir: str | Path, year: int, notes: list[str] | None = None) -> dict[str, pd.DataFrame]:
    """Every declared table for ``year``; raise DataError listing every problem if there is any.

    What was read other than as typed — a title row skipped, a 合计 row left out, a hidden
    sheet not read, a file not read — is appended to ``notes``.
    """
    tables, problems, said = validate_year(data_dir, year)
    if notes is not None:
        notes += said
    if problems:
        raise DataError(
            [f"{len(problems)} problem(s) in {year_dir(data_dir, year)} (发现{len(problems)}处问题):"]
            + [f"  - {p}" for p in problems]
            + [f"  note: {n}" for n in said]
        )
    return tables


def validate_year(data_dir: str | Path, year: int) -> tuple[dict[str, pd.DataFrame], list[Problem], list[str]]:
    """Every declared table for ``year``, every problem in them and across them, and notes on what was set aside."""
    decl = declarations(data_dir)
    folder = year_dir(data_dir, year)
    if not folder.is_dir():
        return {}, [Problem(str(folder), f"没有{year}年的数据目录 (no data folder for {year})")], []
    tables, problems, notes, reads = {}, [], [], {}
    try:
        year_workbook(data_dir, year)
    except SourceError as exc:  # two workbooks: said once, here, rather than for every table
        return {}, exc.problems, []
    for name, spec in decl.tables.items():
        read = _read(data_dir, year, spec)
        tables[name], reads[name] = read.frame.copy(), read
        problems += read.problems
        notes += read.notes
    for check in decl.checks:
        left_read, right_read = reads[check.total.table], reads[check.equals.table]
        if not (left_read.readable and right_read.readable):
            continue  # a register that could not be read at all: its own problem says so
        problems += _cross_check(check, decl, left_read, right_read, folder)
    notes += _unread(data_dir, year, decl)
    # A workbook that cannot be opened is one problem, not one per table it should hold.
    return tables, list(dict.fromkeys(problems)), list(dict.fromkeys(notes))


def _read(data_dir: str | Path, year: int, spec) -> Read:
    """:func:`read_table`'s result, read again only when one of the table's files changed: a preview checks the
    year on every save, and a save changes one or two registers of a dozen."""
    files = table_files(data_dir, year, spec)
    for path in files:
        tracking.record(path)
    return _read_unchanged(data_dir, str(Path(data_dir).resolve()), int(year), spec, tuple(map(stamp, files)))


@functools.lru_cache(maxsize=64)
def _read_unchanged(data_dir: str | Path, where: str, year: int, spec, state: tuple) -> Read:
    return read_table(data_dir, year, spec)  # (shared: read, never changed; its messages name data_dir as given)


def _cross_check(check, decl, left_read: Read, right_read: Read, folder: Path) -> list[Problem]:
    """A headline figure against its register, in the clerk's words: the table titles, the row, the two values."""
    left_spec, right_spec = decl.tables[check.total.table], decl.tables[check.equals.table]
    left = total(left_read.frame, check.total.column, where=check.total.where)
    right = total(right_read.frame, check.equals.column, where=check.equals.where)
    rows = select(left_read.frame, check.total.where).index
    if left == right or (right is None and not len(rows)):  # or neither keeps the figure that year
        return []
    numbers = [left_read.row_numbers[i] for i in rows if i < len(left_read.row_numbers)]
    what = "".join(str(v) for v in check.total.where.values()) or left_spec.column(check.total.column).label
    if numbers:
        row_text = "、".join(str(n) for n in numbers)
        said = f"{left_spec.title} 第{row_text}行 {what} = {cell_text(left)}"
    else:
        said = f"{left_spec.title} 没有“{what}”一行（视为 0）"
    partial = "（该表另有问题，已按可读的值计算）" if left_read.problems or right_read.problems else ""
    return [Problem(
        left_read.file or str(folder / left_spec.file),
        f"{said}，但{check.equals.describe(right_spec, right)}{partial} ({check.description}: the two must be equal)",
        sheet=left_read.sheet, row=numbers[0] if len(numbers) == 1 else None,
    )]


_IGNORED = ("~$", ".~lock.", ".")  # Excel's and LibreOffice's lock files, hidden files


class UnreadFile(str):
    """A note on a file no table reads: a section may still read it itself (the build says so once it knows)."""

    def __new__(cls, path: Path, text: str):
        note = super().__new__(cls, text)
        note.path = Path(path).resolve()
        return note


def _unread(data_dir: str | Path, year: int, decl) -> list[str]:
    """Spreadsheet-like files in the year's folder that no table reads, and workbook sheets no table is: named, never skipped in silence."""
    from .workbook import INSTRUCTIONS, LISTS

    folder = year_dir(data_dir, year)
    read = {spec.file for spec in decl.tables.values()} | {f"{WORKBOOK_STEM}{s}" for s in WORKBOOK_FORMATS}
    notes: list[str] = [UnreadFile(path, f"{path}: not read by any table (no table in {TABLES_FILE} is kept in this file)")
                        for path in sorted(folder.iterdir())
                        if path.is_file() and path.suffix.lower() in SPREADSHEET_LIKE and path.name not in read
                        and not path.name.startswith(_IGNORED)]
    workbook = year_workbook(data_dir, year)
    try:
        book = open_workbook(workbook) if workbook is not None else None
    except SourceError:
        book = None  # unreadable: every table it should hold says so
    if book is not None:
        used = {s for spec in decl.tables.values() for group in sheets_for(book, spec) for s in group}
        notes += [f"{workbook}: sheet '{name}' is not a table; not read" for name, shown in book.sheets
                  if name not in used and name not in (INSTRUCTIONS, LISTS) and shown]
        notes += [f"{workbook}: hidden sheet '{name}' not read" for name, shown in book.sheets
                  if name not in used and name not in (INSTRUCTIONS, LISTS) and not shown]
    return notes

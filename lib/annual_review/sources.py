"""Reading a table as users save it: CSV (UTF-8, UTF-8 with BOM, GB18030/GBK) or a sheet of an .xlsx workbook.

Whatever the source, the result is the same: a header and rows of text cells, each
row carrying the number a spreadsheet shows for it, so that every message can
point at the cell to fix.
"""

from __future__ import annotations

import csv
import functools
import datetime as dt
import io
from dataclasses import dataclass
from pathlib import Path

WORKBOOK = "tables.xlsx"  # a year's workbook: one sheet per table
ENCODINGS = ("utf-8-sig", "gb18030")  # Excel/WPS "CSV UTF-8", and what they write on Chinese Windows


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the input, located as precisely as it can be."""

    file: str
    message: str
    sheet: str | None = None
    row: int | None = None
    column: str | None = None
    value: object = None

    def __str__(self) -> str:
        where = [self.file]
        if self.sheet:
            where.append(f"sheet '{self.sheet}'")
        if self.row:
            where.append(f"row {self.row}")
        if self.column:
            where.append(f"column '{self.column}'")
        value = f" {self.value!r}:" if self.value not in (None, "") else ""
        return f"{', '.join(where)}:{value} {self.message}"


@dataclass(frozen=True)
class RawTable:
    """A table as read: header cells and (spreadsheet row number, cells) pairs, blank rows left out."""

    file: str
    sheet: str | None
    header: list[str]
    rows: list[tuple[int, list[str]]]
    header_row: int = 1


class SourceError(Exception):
    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(map(str, problems)))


def _decode(path: Path, data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise SourceError([Problem(str(path), "文件为 UTF-16 编码（Excel 的“Unicode 文本”）；请另存为“CSV UTF-8” "
                                              "(saved as UTF-16 'Unicode text'; save as 'CSV UTF-8' instead)")])
    error = None
    for encoding in ENCODINGS:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError as exc:
            error = exc
    line = data[: error.start].count(b"\n") + 1
    raise SourceError([Problem(
        str(path),
        f"第{line}行有无法识别的字节 0x{data[error.start]:02X}，文件既不是 UTF-8 也不是 GB18030/GBK 文本；"
        f"请在 Excel/WPS 中另存为“CSV UTF-8” (line {line}: byte 0x{data[error.start]:02X} is neither UTF-8 "
        "nor GB18030/GBK text; save the file again as 'CSV UTF-8')",
        row=line,
    )])


def _blank(cells: list[str]) -> bool:
    return all(not c.strip() for c in cells)


def read_csv(path: Path) -> RawTable:
    data = path.read_bytes()
    text = _decode(path, data)
    records = list(csv.reader(io.StringIO(text, newline="")))
    return _raw(str(path), None, [(n, [str(c) for c in cells]) for n, cells in enumerate(records, 1)])


def _raw(file: str, sheet: str | None, numbered: list[tuple[int, list[str]]]) -> RawTable:
    if not numbered or all(_blank(cells) for _, cells in numbered):
        raise SourceError([Problem(file, "文件是空的，至少要有标题行 (the table is empty: it needs at least its header row)", sheet=sheet)])
    header_row, header = numbered[0]
    rows = [(n, cells) for n, cells in numbered[1:] if not _blank(cells)]
    return RawTable(file, sheet, header, rows, header_row)


def _cell_text(value) -> str:
    """A workbook cell as the text a CSV would hold."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time(0) else value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _open(path: Path, **options):
    stat = path.stat()
    return _load(path.resolve(), stat.st_mtime_ns, stat.st_size, tuple(sorted(options.items())))


@functools.lru_cache(maxsize=4)
def _load(path: Path, mtime_ns: int, size: int, options: tuple):
    """A workbook, read once however many of its sheets are wanted (again if the file changes)."""
    import openpyxl

    try:
        return openpyxl.load_workbook(path, **dict(options))
    except Exception as exc:  # zipfile.BadZipFile, KeyError, InvalidFileException …
        raise SourceError([Problem(str(path), f"无法作为 .xlsx 工作簿打开 (not a readable .xlsx workbook: {exc})")]) from None


def workbook_sheets(path: Path) -> list[str]:
    return list(_open(path, data_only=True).sheetnames)


def read_sheet(path: Path, names: tuple[str, ...]) -> RawTable:
    """The first sheet of the workbook called one of ``names``, formulas read as their saved results."""
    values = _open(path, data_only=True)
    sheet_name = next((n for n in names if n in values.sheetnames), None)
    if sheet_name is None:
        raise SourceError([Problem(
            str(path),
            f"缺少工作表“{names[-1]}” (no sheet named {' or '.join(repr(n) for n in names)}; sheets: {values.sheetnames})",
        )])
    sheet = values[sheet_name]
    problems = []
    for merged in sheet.merged_cells.ranges:
        if merged.min_row == 1:
            problems.append(Problem(str(path), f"标题行含合并单元格 {merged.coord}，请取消合并，每列一个列名 "
                                              f"(merged cells {merged.coord} in the header row: unmerge them, one name per column)",
                                    sheet=sheet_name, row=1))
    if problems:
        raise SourceError(problems)
    formulas = None
    numbered = []
    for row in sheet.iter_rows():
        if not row:
            continue
        cells = []
        for cell in row:
            if cell.value is None:
                if formulas is None:  # read the formulas only if some cell has no value
                    formulas = _open(path, data_only=False)[sheet_name]
                source = formulas.cell(row=cell.row, column=cell.column).value
                if isinstance(source, str) and source.startswith("="):
                    problems.append(Problem(str(path), "公式没有保存计算结果，请在 Excel/WPS 中打开并保存一次 "
                                                      "(a formula with no saved result: open and save the workbook in Excel or WPS)",
                                            sheet=sheet_name, row=cell.row, column=cell.column_letter, value=source))
            cells.append(_cell_text(cell.value))
        numbered.append((row[0].row, cells))
    if problems:
        raise SourceError(problems)
    return _raw(str(path), sheet_name, numbered)

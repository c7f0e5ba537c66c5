"""Reading a table as offices save it: CSV, or a sheet of the year's workbook in any format Excel and WPS save.

CSV files may be UTF-8 (with or without BOM) or GB18030/GBK. A year's workbook is
``tables.xlsx`` — or ``.xlsm``, ``.xls`` (Excel 97–2003, as WPS and many systems
still export), ``.ods``, ``.et`` (WPS, when it is the .xls format inside) — one sheet
per table; its format is told from the file's content, not its name. Values are read
with python-calamine (fast, every format); what calamine does not report — error
values such as ``#N/A``, rows hidden by a filter, formulas saved without a result,
merged cells in ``.ods`` — is read from the file itself (the sheet's XML, or xlrd
for ``.xls``).

Whatever the source, the result is the same: rows of text cells, each carrying the
number a spreadsheet shows for it, so that every message can point at the cell to fix.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import io
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from ..core.numbers import whole
from ..core.paths import WORKBOOK, WORKBOOK_FORMATS, WORKBOOK_STEM, shown  # noqa: F401 - public here too

SPREADSHEET_LIKE = {".xlsx", ".xlsm", ".xls", ".xlsb", ".ods", ".et", ".ett", ".xltx", ".xlt", ".numbers", ".csv", ".tsv", ".txt"}
ENCODINGS = ("utf-8-sig", "gb18030")  # Excel/WPS "CSV UTF-8", and what they write on Chinese Windows
# Excel's error values: a formula that failed. Never data.
ERROR_VALUES = ("#N/A", "#REF!", "#VALUE!", "#DIV/0!", "#NAME?", "#NULL!", "#NUM!", "#SPILL!", "#CALC!", "#GETTING_DATA")
_XLS_ERRORS = {0x00: "#NULL!", 0x07: "#DIV/0!", 0x0F: "#VALUE!", 0x17: "#REF!", 0x1D: "#NAME?", 0x24: "#NUM!", 0x2A: "#N/A"}


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
        where = [shown(self.file)]
        if self.sheet:
            where.append(f"sheet '{self.sheet}'")
        if self.row:
            where.append(f"row {self.row}")
        if self.column:  # as the clerk sees it: its letter and header, D「资助人次」
            where.append(f"column {self.column}")
        value = f" {self.value!r}:" if self.value not in (None, "") else ""
        return f"{', '.join(where)}:{value} {self.message}"


@dataclass(frozen=True)
class RawTable:
    """A table as read: (spreadsheet row number, cells) pairs, blank rows left out; the header is found later.

    ``merged`` lists merged ranges as (first row, first column, last row, last column),
    rows numbered as the spreadsheet shows them and columns from 0; ``hidden_rows`` the
    rows a filter (or the clerk) hid.
    """

    file: str
    sheet: str | None
    rows: list[tuple[int, list[str]]]
    merged: tuple[tuple[int, int, int, int], ...] = ()
    hidden_rows: tuple[int, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def where(self) -> str:
        return f"{self.file}, sheet '{self.sheet}'" if self.sheet else self.file


class SourceError(Exception):
    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(map(str, problems)))


# --- CSV ------------------------------------------------------------------------------------------

def _decode(path: Path, data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise SourceError([Problem(str(path), "文件为 UTF-16 编码（Excel 的“Unicode 文本”）；请另存为“CSV UTF-8” "
                                              "(saved as UTF-16 'Unicode text'; save as 'CSV UTF-8' instead)")])
    if data.startswith((b"PK\x03\x04", b"\xd0\xcf\x11\xe0")):
        raise SourceError([Problem(str(path), "这是 Excel/WPS 工作簿，不是 CSV 文本；请另存为“CSV UTF-8”，或把它的工作表放进 "
                                              "tables.xlsx (a spreadsheet workbook named .csv: save it as 'CSV UTF-8', "
                                              "or put its sheet in the year's workbook)")])
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


SEPARATORS = {",": "comma", ";": "semicolon", "\t": "tab"}  # what CSV files are saved with (Excel in some locales: ;)


def _separator(text: str) -> str:
    """The separator a CSV file uses: of comma, semicolon and tab, the one its first line is split by most."""
    first = next((line for line in text.splitlines() if line.strip()), "")
    counts = {sep: len(next(csv.reader([first], delimiter=sep))) for sep in SEPARATORS}
    return max(SEPARATORS, key=lambda sep: (counts[sep], sep == ","))


def read_csv(path: Path) -> RawTable:
    data = path.read_bytes()
    text = _decode(path, data)
    separator = _separator(text)
    records = list(csv.reader(io.StringIO(text, newline=""), delimiter=separator))
    notes = () if separator == "," else (f"{path}: read as {SEPARATORS[separator]}-separated (its first line has no "
                                         "commas between its columns)",)
    return _raw(str(path), None, [(n, [str(c) for c in cells]) for n, cells in enumerate(records, 1)], notes=notes)


def _raw(file: str, sheet: str | None, numbered: list[tuple[int, list[str]]], **extras) -> RawTable:
    rows = [(n, cells) for n, cells in numbered if not _blank(cells)]
    if not rows:
        raise SourceError([Problem(file, "文件是空的，至少要有标题行 (the table is empty: it needs at least its header row)", sheet=sheet)])
    return RawTable(file, sheet, rows, **extras)


# --- workbooks ------------------------------------------------------------------------------------

def _cell_text(value) -> str:
    """A workbook cell as the text a CSV would hold."""
    if value is None or value == "":
        return ""
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time(0) else value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and isinstance(whole(value), int):
        return str(whole(value))
    if isinstance(value, (dt.time, dt.timedelta)):
        return str(value)
    return str(value)


def _kind(path: Path) -> str:
    """The workbook's real format, from its first bytes (a renamed file is read as what it is)."""
    with open(path, "rb") as handle:
        head = handle.read(8)
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        return "xls"
    if head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(path) as archive:
                names = set(archive.namelist())
        except (zipfile.BadZipFile, OSError):
            return "unknown"  # a damaged file, or one that only starts like a workbook
        if "content.xml" in names:
            return "ods"
        if "xl/workbook.xml" in names:
            return "xlsx"
        if "xl/workbook.bin" in names:
            return "xlsb"
    return "unknown"


_NAMES = {"xlsx": "Excel 工作簿 (.xlsx)", "xls": "Excel 97–2003 工作簿 (.xls)", "ods": "OpenDocument 表格 (.ods)",
          "xlsb": "Excel 二进制工作簿 (.xlsb)"}


@dataclass
class Workbook:
    """A year's workbook, opened once however many of its sheets are read (again if the file changes)."""

    path: Path
    kind: str
    sheets: list[tuple[str, bool]]  # (name, visible) in workbook order
    notes: list[str] = field(default_factory=list)
    _book: object = None

    def visible(self) -> list[str]:
        return [name for name, shown in self.sheets if shown]

    def hidden(self) -> list[str]:
        return [name for name, shown in self.sheets if not shown]

    def read(self, name: str) -> RawTable:
        """A sheet's rows, with its merged ranges, hidden rows and error values (as their text)."""
        sheet = self._book.get_sheet_by_name(name)
        values = sheet.to_python(skip_empty_area=False)
        extras = {"xlsx": _xlsx_extras, "ods": _ods_extras, "xls": _xls_extras}.get(self.kind, _no_extras)(self.path, name)
        merged = sheet.merged_cell_ranges if self.kind in ("xlsx", "xls") else None
        merged = tuple((r0 + 1, c0, r1 + 1, c1) for (r0, c0), (r1, c1) in (merged or [])) or extras.merged
        problems = [Problem(str(self.path), "公式没有保存计算结果，请在 Excel/WPS 中打开并保存一次 "
                                            "(a formula with no saved result: open and save the workbook in Excel or WPS)",
                            sheet=name, row=row, column=column, value=formula)
                    for (row, column), formula in extras.unsaved.items()]
        if problems:
            raise SourceError(problems)
        numbered = []
        for r, cells in enumerate(values, 1):
            texts = [_cell_text(v) for v in cells]
            for (row, col), error in extras.errors.items():
                if row == r and col < len(texts):
                    texts[col] = error
            numbered.append((r, texts))
        return _raw(str(self.path), name, numbered, merged=merged, hidden_rows=tuple(sorted(extras.hidden_rows)),
                    notes=tuple(self.notes))


@dataclass
class _Extras:
    errors: dict = field(default_factory=dict)  # (row, column index) → "#N/A"
    hidden_rows: set = field(default_factory=set)
    unsaved: dict = field(default_factory=dict)  # (row, column letter) → formula
    merged: tuple = ()


def _no_extras(path: Path, sheet: str) -> _Extras:
    return _Extras()


def _column_index(letters: str) -> int:
    """A column's index counted from 0, from its letters."""
    from openpyxl.utils import column_index_from_string

    return column_index_from_string(letters) - 1


_XLSX_ROW = re.compile(r'<row\b[^>]*?\br="(\d+)"[^>]*?\bhidden="(?:1|true)"|<row\b[^>]*?\bhidden="(?:1|true)"[^>]*?\br="(\d+)"')
_XLSX_ERROR = re.compile(r'<c\b[^>]*?\br="([A-Z]+)(\d+)"[^>]*?\bt="e"[^>]*>(?:<f\b[^>]*(?:/>|>[^<]*</f>))?<v>([^<]*)</v>')
_XLSX_UNSAVED = re.compile(r'<c\b[^>]*?\br="([A-Z]+)(\d+)"[^>]*>(<f\b[^>]*>([^<]*)</f>|<f\b[^>]*/>)(?:<v/>|<v></v>)?</c>')


def _xlsx_extras(path: Path, sheet: str) -> _Extras:
    """Error values, hidden rows and formulas without a saved result, from the sheet's XML (calamine reports none)."""
    with zipfile.ZipFile(path) as archive:
        xml = archive.read(_xlsx_sheet_part(archive, sheet)).decode("utf-8", errors="replace")
    extras = _Extras()
    for match in _XLSX_ROW.finditer(xml):
        extras.hidden_rows.add(int(match.group(1) or match.group(3)))
    for letters, row, value in _XLSX_ERROR.findall(xml):
        extras.errors[(int(row), _column_index(letters))] = value
    for letters, row, _, formula in _XLSX_UNSAVED.findall(xml):
        extras.unsaved[(int(row), letters)] = f"={formula}" if formula else "=(shared formula)"
    return extras


def _xlsx_sheet_part(archive: zipfile.ZipFile, sheet: str) -> str:
    import xml.etree.ElementTree as ET

    ns = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
          "r": "http://schemas.openxmlformats.org/officeDocument/2006/relationships"}
    book = ET.fromstring(archive.read("xl/workbook.xml"))
    rels = ET.fromstring(archive.read("xl/_rels/workbook.xml.rels"))
    targets = {rel.get("Id"): rel.get("Target") for rel in rels}
    for element in book.iterfind("m:sheets/m:sheet", ns):
        if element.get("name") == sheet:
            target = targets[element.get(f"{{{ns['r']}}}id")]
            return target.lstrip("/") if target.startswith("/") else f"xl/{target}"
    raise KeyError(sheet)


def _ods_extras(path: Path, sheet: str) -> _Extras:
    """Error values, hidden rows and merged cells of an .ods sheet, from its content.xml."""
    import xml.etree.ElementTree as ET

    table_ns = "urn:oasis:names:tc:opendocument:xmlns:table:1.0"
    calc_ns = "urn:org:documentfoundation:names:experimental:calc:xmlns:calcext:1.0"
    t = lambda name: f"{{{table_ns}}}{name}"  # noqa: E731 - a namespace helper
    extras, merged = _Extras(), []
    with zipfile.ZipFile(path) as archive, archive.open("content.xml") as content:
        inside, row = False, 0
        for event, element in ET.iterparse(content, events=("start", "end")):
            if element.tag == t("table"):
                if event == "start":
                    inside = element.get(t("name")) == sheet
                    row = 0
                elif inside:
                    break
                continue
            if not inside or event != "end" or element.tag != t("table-row"):
                continue
            repeat = int(element.get(t("number-rows-repeated"), "1"))
            hidden = element.get(t("visibility"), "visible") in ("collapse", "filter")
            column = 0
            for cell in element:
                span = int(cell.get(t("number-columns-repeated"), "1"))
                if cell.tag == t("table-cell"):
                    if cell.get(f"{{{calc_ns}}}value-type") == "error":
                        extras.errors[(row + 1, column)] = "".join(cell.itertext()) or "#N/A"
                    rows_spanned = int(cell.get(t("number-rows-spanned"), "1"))
                    columns_spanned = int(cell.get(t("number-columns-spanned"), "1"))
                    if rows_spanned > 1 or columns_spanned > 1:
                        merged.append((row + 1, column, row + rows_spanned, column + columns_spanned - 1))
                column += span
            if hidden and repeat < 1000:  # (the sheet's unused tail is one huge repeated row)
                extras.hidden_rows.update(range(row + 1, row + repeat + 1))
            row += repeat
            element.clear()
    extras.merged = tuple(merged)
    return extras


def _xls_extras(path: Path, sheet: str) -> _Extras:
    """Error values and hidden rows of an .xls sheet (read with xlrd, which keeps both)."""
    import xlrd

    book = xlrd.open_workbook(str(path), formatting_info=True, on_demand=True)
    try:
        found = book.sheet_by_name(sheet)
        extras = _Extras()
        for r in range(found.nrows):
            info = found.rowinfo_map.get(r)
            if info is not None and info.hidden:
                extras.hidden_rows.add(r + 1)
            for c, cell in enumerate(found.row(r)):
                if cell.ctype == xlrd.XL_CELL_ERROR:
                    extras.errors[(r + 1, c)] = _XLS_ERRORS.get(cell.value, "#N/A")
        return extras
    finally:
        book.release_resources()


def _open(path: Path) -> Workbook:
    stat = path.stat()
    return _load(path, path.resolve(), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=4)
def _load(path: Path, resolved: Path, mtime_ns: int, size: int) -> Workbook:
    """A workbook, opened once however many of its sheets are wanted (again if the file changes)."""
    import python_calamine

    kind = _kind(path)
    stated = path.suffix.lower().lstrip(".")
    notes = []
    if kind in ("unknown",):
        raise SourceError([Problem(str(path), "不是 Excel/WPS/OpenDocument 工作簿，无法打开；请在 Excel 或 WPS 中另存为 .xlsx "
                                              "(not a workbook Excel, WPS or LibreOffice saved: save it again as .xlsx)")])
    if {"xlsx": "xlsx", "xlsm": "xlsx", "xls": "xls", "et": "xls", "ods": "ods"}.get(stated) != kind:
        notes.append(f"{path}: named .{stated} but saved as {_NAMES.get(kind, kind)}; read as what it is")
    try:  # from the bytes, so that calamine tells the format by content, not by the file's name
        book = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(path.read_bytes()))
    except Exception as exc:  # calamine's errors: a damaged or password-protected file
        raise SourceError([Problem(str(path), f"工作簿无法读取，可能已损坏或加了密码 (the workbook cannot be read: "
                                              f"{type(exc).__name__}: {str(exc)[:200]})")]) from None
    sheets = [(meta.name, str(meta.visible).rsplit(".", 1)[-1] == "Visible")
              for meta in book.sheets_metadata if str(meta.typ).rsplit(".", 1)[-1] == "WorkSheet"]
    return Workbook(path, kind, sheets, notes, book)


def open_workbook(path: Path) -> Workbook:
    """The workbook at ``path`` (any format of :data:`WORKBOOK_FORMATS`), told apart by its content."""
    return _open(Path(path))


def copy_name(sheet: str, wanted: str) -> bool:
    """Whether ``sheet`` is the name Excel gives a copy of ``wanted`` ("Move or Copy": ``wanted (2)``)."""
    return re.fullmatch(re.escape(wanted) + r"\s*\(\d+\)", sheet) is not None

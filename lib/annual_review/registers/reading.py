"""Loading a year's tables as declared in ``<data-dir>/tables.yml``, and summing them.

Tables are what the office already keeps: record-level registers (one row per
licence decision, per inspection, per aid payment…). The declaration names each
table's file, columns, types, units and allowed categories, so the library
stays the same whatever tables a body keeps.
"""

from __future__ import annotations

import functools
import math
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..core import provenance, tracking
from ..core.exceptions import DataError
from ..core.files import file_digest
from ..core.numbers import whole
from ..core.paths import OUTSIDE, available_years, contained, resolve_year, stamp, workbook_path, year_dir  # noqa: F401 - public here too
from .layout import lay_out, normalise, row_ranges
from .schemas import TABLES_FILE, TableSpec, pandera_schema, table_specs
from .sources import (ERROR_VALUES, WORKBOOK_FORMATS, WORKBOOK_STEM, Problem, RawTable, SourceError,
                      Workbook, copy_name, open_workbook, read_csv)

_THOUSANDS = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$")
_DATE_FORMS = (
    re.compile(r"^(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})$"),
    re.compile(r"^(?P<y>\d{4})/(?P<m>\d{1,2})/(?P<d>\d{1,2})$"),
    re.compile(r"^(?P<y>\d{4})\.(?P<m>\d{1,2})\.(?P<d>\d{1,2})$"),
    re.compile(r"^(?P<y>\d{4})年(?P<m>\d{1,2})月(?P<d>\d{1,2})日$"),
)
_SPACES = " \t\u3000\xa0"


def year_workbook(data_dir: str | Path, year: int) -> Path | None:
    """The year's workbook (``tables.xlsx``, ``.xlsm``, ``.xls``, ``.ods`` or ``.et``); SourceError if there are two."""
    folder = year_dir(data_dir, year)
    found = [folder / f"{WORKBOOK_STEM}{suffix}" for suffix in WORKBOOK_FORMATS if (folder / f"{WORKBOOK_STEM}{suffix}").is_file()]
    if len(found) > 1:
        raise SourceError([Problem(str(found[0]), f"同一年有两个工作簿：{'、'.join(p.name for p in found)}；请只保留一个 "
                                                  f"(two workbooks for one year: {', '.join(p.name for p in found)}; keep one)")])
    return found[0] if found else None


def sheets_for(book: Workbook, spec: TableSpec) -> tuple[list[str], list[str]]:
    """The visible and the hidden sheets that would hold the table: named by its title or name (spaces of any width
    around or inside it aside), or Excel's copy of either."""
    def matches(sheet: str) -> bool:
        name = _unspaced(sheet)
        return any(name == _unspaced(wanted) or copy_name(name, _unspaced(wanted)) for wanted in (spec.title, spec.name))

    return [s for s in book.visible() if matches(s)], [s for s in book.hidden() if matches(s)]


def _unspaced(name: str) -> str:
    """A sheet's name without spaces of any width (a trailing space, a full-width 　 typed by an IME)."""
    return re.sub(r"[\s\u3000\xa0\u200b]+", "", unicodedata.normalize("NFC", name))


def present(data_dir: Path, year: int, spec: TableSpec) -> bool:
    """Whether ``year`` keeps the table: a visible sheet of its workbook, or its CSV file."""
    if (year_dir(data_dir, year) / spec.file).is_file():
        return True
    try:
        workbook = year_workbook(data_dir, year)
        return workbook is not None and bool(sheets_for(open_workbook(workbook), spec)[0])
    except SourceError:
        return True  # a workbook that cannot be read: reading the table will say why


def _read_raw(data_dir: Path, year: int, spec: TableSpec) -> RawTable | None:
    """The table's cells from a visible sheet of the year's workbook, or from its CSV; None if not required and absent."""
    folder = year_dir(data_dir, year)
    csv_path, workbook = folder / spec.file, year_workbook(data_dir, year)
    for path in (workbook, csv_path):
        if path is not None and path.exists() and not contained(path, folder):
            raise SourceError([Problem(str(path), OUTSIDE.format(folder=folder))])
    book = open_workbook(workbook) if workbook is not None else None
    visible, hidden = sheets_for(book, spec) if book is not None else ([], [])
    if visible and csv_path.is_file():
        raise SourceError([Problem(str(csv_path), f"与工作簿 {workbook.name} 的工作表“{visible[0]}”重复：请只保留一处 "
                                                 f"(the same table is also sheet '{visible[0]}' of {workbook.name}; keep one of them)")])
    if not visible and not csv_path.is_file() and not hidden:
        if not spec.kept_in(year):
            return None
        return _missing(folder, spec, book)
    if len(visible) > 1:
        raise SourceError([Problem(str(workbook), f"有两个可见的工作表都像是“{spec.title}”：{'、'.join(visible)}；请删除或隐藏旧的一个 "
                                                  f"(two visible sheets could both be table '{spec.name}': "
                                                  f"{', '.join(repr(v) for v in visible)}; delete or hide the old one)")])
    if not visible and hidden and not csv_path.is_file():
        raise SourceError([Problem(str(workbook), f"工作表“{hidden[0]}”是隐藏的，未读取；如果它是本年度的登记表，请取消隐藏 "
                                                  f"(sheet '{hidden[0]}' is hidden, so it was not read; if it is this year's "
                                                  f"register, unhide it)", sheet=hidden[0])])
    if visible:
        raw = book.read(visible[0])
        notes = list(raw.notes)
        if visible[0] not in (spec.title, spec.name):
            spaced = _unspaced(visible[0]) in (_unspaced(spec.title), _unspaced(spec.name))
            notes.append(f"{workbook}: sheet {visible[0]!r} read as table '{spec.name}' ({spec.title}); "
                         + ("its name has spaces around or inside it" if spaced else "its name looks like Excel's copy of the sheet"))
        notes += [f"{workbook}: hidden sheet '{h}' not read (an older copy?); the visible sheet '{visible[0]}' was"
                  for h in hidden]
        return RawTable(raw.file, raw.sheet, raw.rows, raw.merged, raw.hidden_rows, tuple(notes))
    raw = read_csv(csv_path)
    if hidden:
        raw = RawTable(raw.file, raw.sheet, raw.rows, notes=(f"{workbook}: hidden sheet '{hidden[0]}' not read; "
                                                              f"{csv_path.name} was",))
    return raw


def _missing(folder: Path, spec: TableSpec, book: Workbook | None):
    nearby = [p.name for p in folder.iterdir() if p.is_file() and p.stem == Path(spec.file).stem and p.name != spec.file]
    hint = f"；文件夹里有 {'、'.join(nearby)}：请另存为 {spec.file} 或放进工作簿 (found {', '.join(nearby)}: save it as " \
           f"{spec.file}, or as a sheet of the year's workbook)" if nearby else ""
    where = (f"既不在工作簿 {book.path.name} 中（工作表：{'、'.join(book.visible())}），也没有 {spec.file} "
             f"(neither a sheet of {book.path.name} nor {spec.file})") if book is not None else \
        f"文件缺失 (missing: table '{spec.name}')"
    raise SourceError([Problem(str(folder / spec.file) if book is None else str(book.path),
                               f"缺少“{spec.title}”：{where}{hint}")])


def _number(text: str) -> float | None:
    text = unicodedata.normalize("NFKC", text).strip(_SPACES)
    if _THOUSANDS.match(text):
        text = text.replace(",", "")
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _date(text: str) -> pd.Timestamp | None:
    text = unicodedata.normalize("NFKC", text).strip(_SPACES)
    for form in _DATE_FORMS:
        match = form.match(text)
        if match:
            try:
                return pd.Timestamp(int(match["y"]), int(match["m"]), int(match["d"]))
            except ValueError:
                return None
    return None


def _typed(raw: RawTable, spec: TableSpec, year: int, schema: bool = True) -> "Read":
    layout = lay_out(raw, spec, year)
    problems, notes = list(layout.problems), [*raw.notes, *layout.notes]
    if problems:
        return Read(_empty(spec), problems, notes, readable=False)
    rows = layout.rows
    row_numbers = [n for n, _ in rows]
    cells = {col.name: [] for col in spec.columns}
    unconvertible: set[tuple[int, str]] = set()
    width = len(layout.columns)
    where = {col.name: layout.column(col.name, spec) for col in spec.columns}  # D「资助人次」, as the clerk sees it
    for i, (n, values) in enumerate(rows):
        by_name = {name: (values[j] if j < len(values) else "") for j, name in enumerate(layout.columns) if name}
        for j, extra in enumerate(values):
            if extra.strip(_SPACES) in ERROR_VALUES:
                column = layout.columns[j] if j < width else None
                problems.append(Problem(raw.file, "Excel 错误值：公式出错，请改正公式或填入数值 (an Excel error value: the "
                                                  "formula behind it failed; fix it or type the value)",
                                        sheet=raw.sheet, row=n, column=where[column] if column else layout.position(j),
                                        value=extra.strip(_SPACES)))
                if column:
                    unconvertible.add((i, column))
                    by_name[column] = ""
            elif j >= width and extra.strip(_SPACES):
                problems.append(Problem(raw.file, "此单元格在标题行之外：没有列名 (a value beyond the last named column)",
                                        sheet=raw.sheet, row=n, column=layout.position(j), value=extra))
            elif layout.columns[j] is None and j not in layout.notes_columns and extra.strip(_SPACES):
                problems.append(Problem(raw.file, "此列没有列名：请填写列名或删除此值 (a value under a column with no header: "
                                                  "name the column, or remove the value)",
                                        sheet=raw.sheet, row=n, column=layout.position(j), value=extra))
        for col in spec.columns:
            text = by_name.get(col.name, "").strip(_SPACES)
            if (i, col.name) in unconvertible:
                cells[col.name].append(None)
                continue
            if not text:
                cells[col.name].append(None)
                if col.required_in(year):
                    problems.append(Problem(raw.file, f"必填，不能为空；{col.expectation()} (required)",
                                            sheet=raw.sheet, row=n, column=where[col.name]))
                    unconvertible.add((i, col.name))
                continue
            if col.numeric:
                value = _number(text)
                if value is not None and col.type == "integer" and not value.is_integer():
                    value = None
            elif col.type == "date":
                value = _date(text)
            else:
                value = text
            if value is None:
                problems.append(Problem(raw.file, _date_hint(text) if col.type == "date" else col.expectation(),
                                        sheet=raw.sheet, row=n, column=where[col.name], value=text))
                unconvertible.add((i, col.name))
            cells[col.name].append(value)
    frame = pd.DataFrame({name: pd.Series(values, dtype=object) for name, values in cells.items()})
    for col in spec.columns:
        if col.type == "date":
            frame[col.name] = pd.to_datetime(frame[col.name])
        elif col.numeric:
            frame[col.name] = pd.to_numeric(frame[col.name]).astype("float64")
    if schema:
        problems += _schema_problems(frame, spec, year, raw, row_numbers, unconvertible, where)
    total_problems, total_notes = _check_totals(layout, frame, spec, raw, where)
    return Read(_final(frame, spec), problems + total_problems, notes + total_notes, row_numbers=row_numbers)


def _date_hint(text: str) -> str:
    """What a date cell must hold; for a number such as 43864, the date Excel meant by it."""
    import datetime as dt

    expected = "应为日期，写作 YYYY-MM-DD (a date, e.g. 2020-03-31)"
    value = _number(text)
    if value is not None and value.is_integer() and 20000 <= value <= 80000:  # 1954–2119 as Excel counts days
        meant = dt.date(1899, 12, 30) + dt.timedelta(days=int(value))
        return (f"像是 Excel 的日期序号：{int(value)} = {meant.isoformat()}；请把单元格格式设为日期 (looks like an Excel "
                f"date serial: {int(value)} = {meant.isoformat()}; format the cell as a date)")
    return expected


def _check_totals(layout, frame: pd.DataFrame, spec: TableSpec, raw: RawTable, where: dict) -> tuple[list[Problem], list[str]]:
    """Each subtotal and total row against the rows it adds up: left out of the data with a note when it agrees; a
    problem that says which rows were added and which row was taken as the total when it does not."""
    problems, notes = [], []
    numeric = [c for c in spec.columns if c.numeric]
    subtotals = [t for t in layout.totals if t[3] == "小计"]
    for n, cells, label, kind, start, end in layout.totals:
        by_name = {name: (cells[j] if j < len(cells) else "") for j, name in enumerate(layout.columns) if name}
        compared, wrong = 0, []
        for col in numeric:
            text = by_name.get(col.name, "").strip(_SPACES)
            if not text:
                continue
            stated, added = _number(text), frame[col.name].iloc[start:end].sum()
            compared += 1
            if stated is None or abs(stated - added) > 1e-9 * max(1.0, abs(added)):
                wrong.append((col, text, added))
        rows = [layout.rows[i][0] for i in range(start, end)]
        span = (f"第{row_ranges(rows)}行" if rows else "没有数据行")
        span_en = f"rows {row_ranges(rows)}" if rows else "no data rows"
        left_out = [m for m, *_ in subtotals if rows and rows[0] < m < rows[-1]] if kind == "合计" else []
        for col, text, added in wrong:
            subtotal_sum = sum(_number(str(c[j] if j < len(c) else "")) or 0 for _, c, *_ in subtotals
                               for j, name in enumerate(layout.columns) if name == col.name) if kind == "合计" else None
            also = (f"；各小计行之和为 {cell_text(subtotal_sum)}" if subtotals and subtotal_sum is not None else "")
            problems.append(Problem(raw.file, (
                f"{kind}行与所加各行之和不符：第{n}行“{label}”为 {text}，而{span}（{len(rows)}行数据）之和为 {cell_text(added)}{also}"
                f"{'（小计行 ' + row_ranges(left_out) + ' 未计入）' if left_out else ''} "
                f"(taken as the {'subtotal' if kind == '小计' else 'total'}: row {n} '{label}'; added: {span_en}, "
                f"{cell_text(added)}; either a row above is wrong, or row {n} is not a {kind})"),
                sheet=raw.sheet, row=n, column=where.get(col.name, col.name), value=text))
        if not wrong:
            named = label if normalise(label) == kind else f"{label}, a {kind}"
            notes.append(f"{raw.where}: row {n} ({named}) "
                         + (f"equals the sum of {span_en}; left out of the data" if compared else "left out of the data"))
    return problems, notes


def _schema_problems(frame, spec, year, raw, row_numbers, unconvertible, where: dict) -> list[Problem]:
    import pandera.errors

    try:
        pandera_schema(spec, year).validate(frame, lazy=True)
        return []
    except pandera.errors.SchemaErrors as exc:
        cases = exc.failure_cases
    problems = []
    for case in cases.itertuples(index=False):
        index = None if pd.isna(case.index) else int(case.index)
        column = None if pd.isna(case.column) else str(case.column)
        if index is not None and (index, column) in unconvertible:
            continue
        row = row_numbers[index] if index is not None and index < len(row_numbers) else None
        check = str(case.check)
        if check.startswith("rule: ") and index is not None:
            rule = next(r for r in spec.rules if check == f"rule: {r.text}")
            values = {c: cell_text(frame.at[index, c]) for c in rule.columns}
            problems.append(Problem(raw.file, rule.explain(values), sheet=raw.sheet, row=row))
            continue
        if spec.key and ("unique" in check or column in spec.key and check.startswith("field_uniqueness")):
            key = {k: cell_text(frame.at[index, k]) for k in spec.key} if index is not None else {}
            problems.append(Problem(raw.file, f"与其他行重复：{key} 应唯一 (this key appears on more than one row)",
                                    sheet=raw.sheet, row=row))
            continue
        col = spec.column(column) if column in {c.name for c in spec.columns} else None
        if col is not None and col.type == "date" and "in_range" in check:
            message = f"日期不在{year}年内 (the date is outside the report year {year})"
        elif col is not None:
            message = col.expectation()
        else:
            message = check
        problems.append(Problem(raw.file, message, sheet=raw.sheet, row=row, column=where.get(column, column),
                                value=cell_text(case.failure_case)))
    # A key repeated on n rows yields one message per row: keep them, but each row once.
    return list(dict.fromkeys(problems))


def cell_text(value) -> str:
    """A value as the clerk's sheet shows it (2618, not 2618.0; a date without its time), for messages."""
    if isinstance(value, float) and isinstance(whole(value), int):
        return str(whole(value))
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat()
    return value if isinstance(value, str) else str(value)


def _final(frame: pd.DataFrame, spec: TableSpec) -> pd.DataFrame:
    """The typed table notebooks see: categories in declared order, whole numbers as integers."""
    frame = frame.copy()
    for col in spec.columns:
        if col.type == "category":
            values = frame[col.name].where(frame[col.name].isin(col.categories))
            frame[col.name] = pd.Categorical(values, categories=list(col.categories))
        elif col.type == "integer":
            series = frame[col.name]
            frame[col.name] = series.astype("int64") if series.notna().all() else series.astype("Int64")
        elif col.type == "text":
            frame[col.name] = frame[col.name].astype(object)
    return frame


def _empty(spec: TableSpec) -> pd.DataFrame:
    frame = pd.DataFrame({c.name: pd.Series([], dtype="float64" if c.numeric else object) for c in spec.columns})
    for col in spec.columns:
        if col.type == "date":
            frame[col.name] = pd.to_datetime(frame[col.name])
    return _final(frame, spec)


@dataclass
class Read:
    """A table as read and checked: the typed frame (partial if there were problems), problems, notes."""

    frame: pd.DataFrame
    problems: list[Problem]
    notes: list[str] = field(default_factory=list)
    readable: bool = True  # the header could be matched: the frame's rows are the register's
    row_numbers: list[int] = field(default_factory=list)  # each frame row's number in the spreadsheet
    file: str = ""
    sheet: str | None = None


def table_files(data_dir: str | Path, year: int, spec: TableSpec) -> tuple[Path, ...]:
    """Every file a table's reading depends on, absent ones too (their appearing later changes it): the declarations,
    its CSV and the year's workbook in each format."""
    folder = year_dir(data_dir, year)
    return (Path(data_dir) / TABLES_FILE, folder / spec.file, *(folder / f"{WORKBOOK_STEM}{s}" for s in WORKBOOK_FORMATS))


def read_table(data_dir: str | Path, year: int, spec: TableSpec, schema: bool = True) -> Read:
    """Read and check one table: the typed frame (possibly partial), every problem found, and notes. ``schema``:
    False leaves out the schema's checks (the declared types, ranges, keys and rules; a build has checked them)."""
    for path in table_files(data_dir, year, spec):
        tracking.record(path)
    try:
        raw = _read_raw(Path(data_dir), year, spec)
    except SourceError as exc:
        return Read(_empty(spec), exc.problems, readable=False)
    if raw is None:
        return Read(_empty(spec), [])
    read = _typed(raw, spec, year, schema)
    read.file, read.sheet = raw.file, raw.sheet
    return read


def load_table(data_dir: str | Path, year: int, name: str) -> pd.DataFrame:
    """Read table ``name`` for ``year``, typed and checked as declared; raise DataError listing every problem.

    In a build, which has checked every register itself, the schema's checks (types, ranges, keys, rules) are not
    run a second time: the digest of what was loaded is noted, and the build runs the section again, checking,
    if its check saw other content.

    Rows are numbered as the user sees them in a spreadsheet (the header is row 1): the frame's index (named 行)
    is those numbers, so a figure counted from a few rows names them in a draft.
    """
    specs = table_specs(data_dir)
    if name not in specs:
        raise DataError(f"{Path(data_dir) / TABLES_FILE}: no table named '{name}' (declared: {sorted(specs)})")
    files = table_files(data_dir, year, specs[name])
    for path in files:
        tracking.record(path)
    schema = not tracking.checked_by_build()  # (see the docstring)
    # Read once per notebook however often it is asked for (again whenever one of its files changes).
    state = tuple(map(stamp, files))
    frame = _load_cached(str(Path(data_dir).resolve()), int(year), name, state, schema)
    if not schema:
        for path, each in zip(files, state):
            if len(each) > 1:  # (a file that is there)
                tracking.unchecked(path, _digest(each))
    return frame.copy(deep=True)


@functools.lru_cache(maxsize=64)
def _digest(state: tuple) -> str | None:
    """A file's digest, kept by its stamp (path, time, size)."""
    return file_digest(state[0])


@functools.lru_cache(maxsize=32)
def _load_cached(data_dir: str, year: int, name: str, state: tuple, schema: bool = True) -> pd.DataFrame:
    spec = table_specs(data_dir)[name]
    read = read_table(data_dir, year, spec, schema)
    if read.problems:
        raise DataError([str(p) for p in read.problems])
    frame = provenance.with_source(read.frame, spec.title, year)
    if len(read.row_numbers) == len(frame):  # each row numbered as the spreadsheet shows it: a figure names its rows
        frame.index = pd.Index(read.row_numbers, name=provenance.ROW_INDEX)
    frame.attrs[provenance.SOURCE]["labels"] = {c.name: c.label for c in spec.columns}
    frame.attrs[provenance.SOURCE]["units"] = {c.name: c.unit for c in spec.columns if c.unit}
    return frame

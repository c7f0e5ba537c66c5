"""The data-entry workbook: one sheet per declared table, ready for Excel or WPS.

Each sheet has its header row (the columns' Chinese labels), a note on every
column (meaning, unit, example), drop-down lists for categories, number and date
formats with input checks, and a first sheet of instructions. A filled-in workbook
saved as ``data/<year>/tables.xlsx`` is read by ``validate`` and ``build`` as it is.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from ..core.exceptions import DataError
from ..core.numbers import whole
from .schemas import Column, TableSpec, declarations

INSTRUCTIONS = "填写说明"
LISTS = "_lists"  # hidden sheet holding the drop-down values
MAX_ROWS = 5000  # rows prepared with formats and checks


def _note(col: Column) -> str:
    lines = [f"{col.label}（{col.name}）"]
    if col.description:
        lines.append(col.description)
    lines.append(col.expectation())
    if col.unit:
        lines.append(f"单位：{col.unit}")
    example = col.example or {"date": "2020-03-31", "integer": "12", "number": "12.5"}.get(col.type, "")
    if col.categories:
        example = col.categories[0]
    if example:
        lines.append(f"示例：{example}")
    if not col.required:
        lines.append("可不填 (optional)")
    return "\n".join(lines)


def write_workbook(
    path: Path, specs: Mapping[str, TableSpec], year: int, tables: Mapping[str, pd.DataFrame] | None = None
) -> Path:
    """Write the entry workbook for ``year`` to ``path`` (rows from ``tables`` if given)."""
    from openpyxl import Workbook
    from openpyxl.comments import Comment
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter, quote_sheetname
    from openpyxl.worksheet.datavalidation import DataValidation

    book = Workbook()
    guide = book.active
    guide.title = INSTRUCTIONS
    guide.column_dimensions["A"].width = 110
    lines = [
        f"{year}年度数据录入工作簿",
        "",
        "1. 每个工作表是一张登记表，第1行是列名，请勿修改、合并或删除列名；从第2行起每行填写一条记录。",
        "2. 将鼠标移到列名上可以看到该列的说明、单位和示例；带下拉箭头的列请从列表中选择。",
        f"3. 日期写作 YYYY-MM-DD（如 {year}-03-31），须在{year}年内；数量和金额填写不小于0的数字，不要带单位。",
        f"4. 填好后保存为 data/{year}/tables.xlsx，然后运行：annual-review validate --year {year}，"
        f"检查通过后运行：annual-review build --year {year}。",
        "5. 检查发现的问题会写明工作表、行号、列名和应填写的内容，请按提示修改后再次检查。",
        "",
        "工作表：",
    ] + [f"  {spec.title}：{spec.description}" for spec in specs.values()]
    for i, line in enumerate(lines, 1):
        guide.cell(row=i, column=1, value=line).alignment = Alignment(wrap_text=True)
    guide["A1"].font = Font(bold=True, size=14)

    lists = book.create_sheet(LISTS)
    lists.sheet_state = "hidden"
    list_column = 0
    header_fill = PatternFill("solid", fgColor="DDEBF7")
    for spec in specs.values():
        sheet = book.create_sheet(spec.title[:31])
        sheet.freeze_panes = "A2"
        for j, col in enumerate(spec.columns, 1):
            letter = get_column_letter(j)
            cell = sheet.cell(row=1, column=j, value=col.label)
            cell.font = Font(bold=True)
            cell.fill = header_fill
            cell.comment = Comment(_note(col), "annual-review", width=320, height=160)
            sheet.column_dimensions[letter].width = max(12, 2.2 * len(col.label) + 4)
            cells = f"{letter}2:{letter}{MAX_ROWS}"
            check = None
            if col.type == "category":
                list_column += 1
                list_letter = get_column_letter(list_column)
                for k, value in enumerate(col.categories, 1):
                    lists.cell(row=k, column=list_column, value=value)
                source = f"{quote_sheetname(LISTS)}!${list_letter}$1:${list_letter}${len(col.categories)}"
                check = DataValidation(type="list", formula1=source, allow_blank=not col.required)
                check.error = f"请从列表中选择：{'、'.join(col.categories)}"
            elif col.type == "date":
                check = DataValidation(type="date", operator="between", formula1=f"DATE({year},1,1)", formula2=f"DATE({year},12,31)")
                check.error = f"请填写{year}年内的日期，如 {year}-03-31"
            elif col.numeric:
                check = DataValidation(type="whole" if col.type == "integer" else "decimal", operator="greaterThanOrEqual",
                                       formula1=str(0 if col.min is None else col.min))
                check.error = col.expectation()
            if check is not None:
                check.showErrorMessage = True
                check.errorTitle = col.label
                check.add(cells)
                sheet.add_data_validation(check)
            # A column style, not 5000 formatted cells: the file stays small and quick to read.
            sheet.column_dimensions[letter].number_format = {"date": "yyyy-mm-dd", "integer": "0"}.get(col.type, "General")
        if tables is not None and spec.name in tables:
            for i, record in enumerate(tables[spec.name].itertuples(index=False), 2):
                for j, (col, value) in enumerate(zip(spec.columns, record), 1):
                    cell = sheet.cell(row=i, column=j, value=_excel_value(value))
                    cell.number_format = {"date": "yyyy-mm-dd", "integer": "0"}.get(col.type, "General")
    import io

    from ..core.files import write_atomic

    buffer = io.BytesIO()
    book.save(buffer)
    return write_atomic(path, buffer.getvalue())


def _excel_value(value):
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime().date()
    value = whole(value)
    return value if isinstance(value, (int, float, str, dt.date)) else str(value)


def write_template(data_dir: str | Path, year: int, path: str | Path | None = None, *, force: bool = False) -> Path:
    """The empty entry workbook for ``year`` (default ``<data_dir>/<year>/tables.xlsx``); never overwrites unless ``force``."""
    from .reading import workbook_path

    target = Path(path) if path else workbook_path(data_dir, year)
    if target.exists() and not force:
        raise DataError(f"{target}: already exists; it was left as it is (choose another --output, or --force to replace it)")
    return write_workbook(target, declarations(data_dir).tables, year)

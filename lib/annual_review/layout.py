"""Finding the table in a sheet as people lay registers out, and saying what was set aside.

Office registers are made for people: a title above the header, header cells broken
over two lines, a 备注 column, category cells merged down a block of rows, a 合计
row at the bottom. This module finds the header row by the declared column names and
labels, maps each header cell to its column, fills merged cells down, and sets total
rows (合计/总计/小计) aside to be checked against the rows they add up. Everything it
skips or changes is said in a note; what it cannot read as the clerk meant it is a
problem naming the row and column.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from dataclasses import dataclass, field

from .schemas import TableSpec
from .sources import Problem, RawTable

HEADER_SEARCH = 10  # the header is looked for in the first rows with anything in them
TOTAL_WORDS = ("合计", "总计", "小计", "总合计", "共计")


def normalise(text: str) -> str:
    """A header cell as compared: full-width forms folded (（）→ ()), all spaces and line breaks removed."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(text)))


def header_forms(spec: TableSpec) -> dict[str, str]:
    """Every header a user may write for a column (name, Chinese label, label with unit), normalised → column."""
    forms = {}
    for col in spec.columns:
        for form in (col.name, col.label, f"{col.label}（{col.unit}）", f"{col.label}({col.unit})"):
            forms[normalise(form)] = col.name
    return forms


@dataclass
class Layout:
    """Where the table is in the sheet, and what was set aside."""

    header_row: int
    header: list[str]
    columns: list[str | None]  # the declared column each position holds; None: blank, notes or unknown
    rows: list[tuple[int, list[str]]]  # the data rows, merged cells filled down
    # (row, cells, word, first and end index in ``rows`` of the rows it adds up)
    totals: list[tuple[int, list[str], str, int, int]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def _cell(raw: RawTable, row: int, column: str | None = None, value=None, message: str = "") -> Problem:
    return Problem(raw.file, message, sheet=raw.sheet, row=row, column=column, value=value)


def _letters(index: int) -> str:
    """A column's letters as Excel shows them, from its index counted from 0."""
    from openpyxl.utils import get_column_letter

    return get_column_letter(index + 1)


def lay_out(raw: RawTable, spec: TableSpec, year: int | None = None) -> Layout:
    """The table in ``raw`` as ``spec`` declares it for ``year``: its header row found, its rows ready to type."""
    forms = header_forms(spec)
    notes_forms = {normalise(n) for n in spec.notes}
    candidates = raw.rows[:HEADER_SEARCH]
    scores = [sum(1 for c in cells if normalise(c) in forms) for _, cells in candidates]
    best = max(range(len(candidates)), key=lambda i: (scores[i], -i)) if candidates else 0
    if not scores or scores[best] == 0:
        best = 0  # nothing looks like the header: the first row is taken, and its cells are named as unknown
    header_row, header = candidates[best] if candidates else (1, [])
    layout = Layout(header_row, header, [], [])
    skipped = [(n, " ".join(c for c in cells if c.strip())) for n, cells in raw.rows[:best]]
    if skipped:
        layout.notes.append(f"{raw.where}: row{'s' if len(skipped) > 1 else ''} {', '.join(str(n) for n, _ in skipped)} "
                            f"above the header (row {header_row}) skipped: "
                            + "; ".join(repr(text[:40]) for _, text in skipped))
    _map_header(raw, spec, layout, forms, notes_forms, year)
    rows = [(n, list(cells)) for n, cells in raw.rows[best + 1:]]
    _fill_merged(raw, layout, rows)
    if raw.hidden_rows:
        hidden = [n for n in raw.hidden_rows if n > header_row]
        if hidden:
            layout.notes.append(f"{raw.where}: row{'s' if len(hidden) > 1 else ''} {_ranges(hidden)} hidden "
                                f"(a filter is on?); read as data like the others, as they count")
    since_subtotal = 0  # a 小计 adds up the rows since the last 小计; a 合计 every row above it
    for n, cells in rows:
        word = _total_word(cells, layout.columns, spec)
        if word:
            start = since_subtotal if word == "小计" else 0
            layout.totals.append((n, cells, word, start, len(layout.rows)))
            if word == "小计":
                since_subtotal = len(layout.rows)
        else:
            layout.rows.append((n, cells))
    return layout


def _map_header(raw: RawTable, spec: TableSpec, layout: Layout, forms: dict, notes_forms: set, year: int | None) -> None:
    seen: dict[str, int] = {}
    for i, cell in enumerate(layout.header):
        text = normalise(cell)
        if not text:
            layout.columns.append(None)
            continue
        if text in notes_forms:
            layout.columns.append(None)
            layout.notes.append(f"{raw.where}: column {_letters(i)} '{cell.strip()}' holds notes; kept out of the data")
            continue
        name = forms.get(text)
        if name is None:
            close = difflib.get_close_matches(text, list(forms), n=1)
            hint = f"；是否应为“{close[0]}”？ (did you mean {close[0]!r}?)" if close else ""
            notes = "、".join(spec.notes)
            layout.problems.append(_cell(raw, layout.header_row, cell.strip(), message=(
                f"未声明的列名{hint} (not a declared column of {spec.name}; expected {[c.name for c in spec.columns]}"
                f"{f', or a notes column: {notes}' if notes else ''})")))
        elif name in seen:
            layout.problems.append(_cell(raw, layout.header_row, cell.strip(), message="列名重复 (the column appears twice)"))
        else:
            seen[name] = i
        layout.columns.append(name)
    for col in spec.columns:
        if col.name not in seen and (year is None or col.kept_in(year)):
            layout.problems.append(_cell(raw, layout.header_row, message=(
                f"缺少列“{col.label}”（{col.name}） (missing column {col.name!r}; the header row must name "
                f"{[c.name for c in spec.columns]})")))
    for r0, c0, r1, c1 in raw.merged:
        if r0 <= layout.header_row <= r1 and c1 > c0:
            layout.problems.append(_cell(raw, layout.header_row, message=(
                f"标题行含合并单元格 {_letters(c0)}{r0}:{_letters(c1)}{r1}，请取消合并，每列一个列名 "
                f"(merged cells {_letters(c0)}{r0}:{_letters(c1)}{r1} in the header row: unmerge them, one name per column)")))


def _fill_merged(raw: RawTable, layout: Layout, rows: list[tuple[int, list[str]]]) -> None:
    """A block of cells merged down a column means "the same value on each row": fill it in, and say so."""
    by_row = {n: cells for n, cells in rows}
    filled: dict[int, list[str]] = {}  # column index → the blocks filled
    for r0, c0, r1, c1 in sorted(raw.merged):
        if r0 <= layout.header_row:
            continue  # above the header, or the header's own (told in _map_header)
        where = f"{_letters(c0)}{r0}:{_letters(c1)}{r1}"
        if c1 > c0:
            layout.problems.append(_cell(raw, r0, _letters(c0), message=(
                f"数据区有横向合并的单元格 {where}，请取消合并，每个单元格填写一个值 "
                f"(cells {where} are merged across columns: unmerge them, one value per cell)")))
            continue
        if r0 not in by_row:
            continue
        value = by_row[r0][c0] if c0 < len(by_row[r0]) else ""
        for n in range(r0 + 1, r1 + 1):
            if n in by_row:
                while len(by_row[n]) <= c0:
                    by_row[n].append("")
                by_row[n][c0] = value
        filled.setdefault(c0, []).append(where)
    for c0, blocks in filled.items():
        column = layout.columns[c0] if c0 < len(layout.columns) else None
        shown = ", ".join(blocks) if len(blocks) <= 3 else f"{blocks[0]}, {blocks[1]} … {blocks[-1]}"
        layout.notes.append(f"{raw.where}: column {_letters(c0)}{f' ({column})' if column else ''} has "
                            f"{len(blocks)} block{'s' if len(blocks) > 1 else ''} of merged cells ({shown}); "
                            "each cell read as its block's value")


def _total_word(cells: list[str], columns: list[str | None], spec: TableSpec) -> str | None:
    """合计, 总计 or 小计 if the row is a total row (the word in any cell that is not a number column's)."""
    numeric = {c.name for c in spec.columns if c.numeric}
    for i, cell in enumerate(cells):
        if i < len(columns) and columns[i] in numeric:
            continue
        text = normalise(cell).rstrip(":：")
        if text in TOTAL_WORDS:
            return "小计" if text == "小计" else "合计"
    return None


def _ranges(numbers: list[int]) -> str:
    """7, 8, 9, 12 → "7–9, 12"."""
    parts, start = [], None
    for i, n in enumerate(numbers):
        if start is None:
            start = n
        if i + 1 == len(numbers) or numbers[i + 1] != n + 1:
            parts.append(f"{start}–{n}" if n != start else str(n))
            start = None
    return ", ".join(parts)

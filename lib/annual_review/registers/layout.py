"""Finding the table in a sheet as people lay registers out, and saying what was set aside.

Office registers are made for people: a title above the header, a header of two rows (资助情况 merged over
人次 and 金额), a row of units under it, header cells broken over two lines, a 备注 column, category cells
merged down a block of rows, subtotal and total rows (春季学期小计, 全年合计, 本页小计), a sign-off line at the
end (填表人、审核人、填报日期). This module finds the header by the declared column names and labels, maps
each header cell to its column, checks the units row against the declared units, fills merged cells down,
sets subtotal and total rows aside to be checked against the rows they add up, and leaves the sign-off line
out. Everything it skips or changes is said in a note; what it cannot read as the clerk meant it is a
problem naming the row and the column as the clerk sees it (column D「资助人次」).
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from dataclasses import dataclass, field

from .schemas import TableSpec
from .sources import Problem, RawTable

HEADER_SEARCH = 10  # the header is looked for in the first rows with anything in them
TOTAL_WORDS = ("总合计", "合计", "总计", "小计", "共计", "累计")
# A label cell that names a total: the word alone or ending a short label (春季学期小计, 全年合计, 本页小计).
_TOTAL = re.compile(r"^(?P<lead>.{0,10}?)(?P<word>总合计|合计|总计|小计|共计|累计)[:：]?$")
_UNIT = re.compile(r"^[（(](?:单位[:：])?(?P<unit>[^（）()]{1,8})[）)]$|^单位[:：](?P<bare>.{1,8})$")
_SIGN_OFF = re.compile(r"^(?:填表人|填报人|制表人|审核人|负责人|单位负责人|填表日期|填报日期|制表日期|联系电话)\s*[:：]")
SIGN_OFF_ROWS = 3  # a sign-off line is one of a table's last rows


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


def letters(index: int) -> str:
    """A column's letters as Excel shows them (A … Z, AA …), from its index counted from 0.

    Counted here rather than by openpyxl's ``get_column_letter``: every kernel reading a CSV register names its
    columns, and importing openpyxl for that costs each kernel a fifth of a second."""
    if index < 0:
        raise ValueError(f"no column has the index {index}")
    found = ""
    index += 1
    while index:
        index, digit = divmod(index - 1, 26)
        found = chr(ord("A") + digit) + found
    return found


_letters = letters  # (the name other modules used)


@dataclass
class Layout:
    """Where the table is in the sheet, and what was set aside."""

    header_row: int
    header: list[str]  # each column's header as the clerk sees it (a two-row header's lower label)
    columns: list[str | None]  # the declared column each position holds; None: blank, notes or unknown
    rows: list[tuple[int, list[str]]]  # the data rows, merged cells filled down
    # (row, cells, word as written, kind "小计"/"合计", first and end index in ``rows`` of the rows it adds up)
    totals: list[tuple[int, list[str], str, str, int, int]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    notes_columns: set[int] = field(default_factory=set)  # positions of 备注-like columns

    def column(self, name: str, spec: TableSpec | None = None) -> str:
        """A declared column as the clerk sees it: its letter and its header, D「资助人次」 (and its label where the
        header is the column's name: D「children」资助人次)."""
        label = next((c.label for c in spec.columns if c.name == name), name) if spec is not None else name
        if name in self.columns:
            j = self.columns.index(name)
            shown = re.sub(r"\s+", "", self.header[j]) if j < len(self.header) else ""
            return f"{letters(j)}「{shown or name}」" + (label if normalise(shown) == normalise(name) != normalise(label) else "")
        return f"「{label}」"

    def position(self, j: int) -> str:
        """A column by its position: F, or F「备注」 where it has a header."""
        shown = re.sub(r"\s+", "", self.header[j]) if j < len(self.header) else ""
        return f"{letters(j)}「{shown}」" if shown else letters(j)


def _cell(raw: RawTable, row: int, column: str | None = None, value=None, message: str = "") -> Problem:
    return Problem(raw.file, message, sheet=raw.sheet, row=row, column=column, value=value)


def lay_out(raw: RawTable, spec: TableSpec, year: int | None = None) -> Layout:
    """The table in ``raw`` as ``spec`` declares it for ``year``: its header row found, its rows ready to type."""
    forms = header_forms(spec)
    notes_forms = {normalise(n) for n in spec.notes}
    candidates = raw.rows[:HEADER_SEARCH]
    best, lower = _find_header(raw, spec, forms, candidates)
    header_row, header = candidates[best] if candidates else (1, [])
    if lower is not None:  # a two-row header: the lower row names the columns, the upper one groups them
        upper_cells = _filled_across(raw, header_row, header)
        lower_row, lower_cells = candidates[lower]
        header = [lo if lo.strip() else up for up, lo in zip(upper_cells, lower_cells + [""] * len(upper_cells))]
        header += lower_cells[len(header):]
        groups = {up.strip() for up, lo in zip(upper_cells, lower_cells) if up.strip() and lo.strip()}
        layout = Layout(lower_row, header, [], [])
        layout.notes.append(f"{raw.where}: rows {header_row}–{lower_row} are a two-row header; its columns are named by "
                            f"row {lower_row}, grouped under {'、'.join(sorted(groups))} (kept as a note)")
        first_data = lower + 1
    else:
        layout = Layout(header_row, header, [], [])
        first_data = best + 1
    skipped = [(n, " ".join(c for c in cells if c.strip())) for n, cells in raw.rows[:best]]
    if skipped:
        layout.notes.append(f"{raw.where}: row{'s' if len(skipped) > 1 else ''} {', '.join(str(n) for n, _ in skipped)} "
                            f"above the header (row {header_row}) skipped: "
                            + "; ".join(repr(text[:40]) for _, text in skipped))
    _map_header(raw, spec, layout, forms, notes_forms, year, two_rows=lower is not None, header_rows=(header_row, layout.header_row))
    rows = [(n, list(cells)) for n, cells in raw.rows[first_data:]]
    rows = _units_row(raw, spec, layout, rows)
    rows = _sign_off(raw, layout, rows)
    _fill_merged(raw, layout, rows, spec)
    if raw.hidden_rows:
        hidden = [n for n in raw.hidden_rows if n > layout.header_row]
        if hidden:
            layout.notes.append(f"{raw.where}: row{'s' if len(hidden) > 1 else ''} {row_ranges(hidden)} hidden "
                                f"(a filter is on?); read as data like the others, as they count")
    _set_totals_aside(spec, layout, rows)
    return layout


def _find_header(raw: RawTable, spec: TableSpec, forms: dict, candidates) -> tuple[int, int | None]:
    """The header's row (its index among ``candidates``), and the index of a lower row that names the columns of a
    two-row header, if it is one."""
    scores = [sum(1 for c in cells if normalise(c) in forms) for _, cells in candidates]
    best = max(range(len(candidates)), key=lambda i: (scores[i], -i)) if candidates else 0
    if not scores or scores[best] == 0:
        best = 0  # nothing looks like the header: the first row is taken, and its cells are named as unknown
    for upper in range(len(candidates) - 1):
        n, cells = candidates[upper]
        if not any(r0 == n and c1 > c0 for r0, c0, _, c1 in raw.merged):
            continue  # a two-row header groups columns under cells merged across
        combined = _combined(raw, candidates[upper], candidates[upper + 1])
        matched = len(_match_lower(spec, forms, combined))
        if matched > max(scores[upper], scores[best]) and matched >= 2:
            return upper, upper + 1
    return best, None


def _filled_across(raw: RawTable, row: int, cells: list[str]) -> list[str]:
    """A header row's cells with each cell merged across columns repeated over them (资助情况 over D and E)."""
    filled = list(cells)
    for r0, c0, r1, c1 in raw.merged:
        if r0 <= row <= r1 and c1 > c0 and c0 < len(filled):
            while len(filled) <= c1:
                filled.append("")
            for j in range(c0 + 1, c1 + 1):
                filled[j] = filled[c0]
    return filled


def _combined(raw: RawTable, upper, lower) -> list[tuple[str, str]]:
    """(group, label) for each column of a two-row header: the upper cell (merged across) and the lower one."""
    (n, up), (_, lo) = upper, lower
    up = _filled_across(raw, n, up)
    width = max(len(up), len(lo))
    return [((up + [""] * width)[j], (lo + [""] * width)[j]) for j in range(width)]


def _match_lower(spec: TableSpec, forms: dict, combined: list[tuple[str, str]]) -> dict[int, str]:
    """The declared column each position of a two-row header names: by its lower label as a header, by group and
    label together (资助情况 + 人次), or as the one column whose label ends in it or whose unit it is (资助人次: 人次)."""
    found: dict[int, str] = {}
    for j, (group, label) in enumerate(combined):
        text = normalise(label) or normalise(group)
        name = forms.get(text) or forms.get(normalise(group + label))
        if name is None and normalise(label):
            fits = [c.name for c in spec.columns
                    if normalise(c.label).endswith(text) or (c.unit and normalise(c.unit) == text)]
            fits = [f for f in fits if f not in found.values()]
            name = fits[0] if len(fits) == 1 else None
        if name is not None and name not in found.values():
            found[j] = name
    return found


def _map_header(raw: RawTable, spec: TableSpec, layout: Layout, forms: dict, notes_forms: set, year: int | None,
                *, two_rows: bool = False, header_rows: tuple[int, int] = (0, 0)) -> None:
    seen: dict[str, int] = {}
    lower = {}
    if two_rows:
        upper_cells = _filled_across(raw, header_rows[0], next(c for n, c in raw.rows if n == header_rows[0]))
        lower_cells = next(c for n, c in raw.rows if n == header_rows[1])
        lower = _match_lower(spec, forms, _combined(raw, (header_rows[0], upper_cells), (header_rows[1], lower_cells)))
    for i, cell in enumerate(layout.header):
        text = normalise(cell)
        if not text:
            layout.columns.append(None)
            continue
        if text in notes_forms:
            layout.columns.append(None)
            layout.notes_columns.add(i)
            layout.notes.append(f"{raw.where}: column {letters(i)} '{cell.strip()}' holds notes; kept out of the data")
            continue
        name = lower.get(i) if two_rows else forms.get(text)
        if name is None:
            close = difflib.get_close_matches(text, list(forms), n=1)
            hint = f"；是否应为“{close[0]}”？ (did you mean {close[0]!r}?)" if close else ""
            notes = "、".join(spec.notes)
            labels = "、".join(c.label for c in spec.columns)
            layout.problems.append(_cell(raw, layout.header_row, layout.position(i), message=(
                f"未声明的列名{hint} (not a declared column of {spec.title}; its columns are {labels}"
                f"{f', or a notes column: {notes}' if notes else ''})")))
        elif name in seen:
            layout.problems.append(_cell(raw, layout.header_row, layout.position(i),
                                         message="列名重复 (the column appears twice)"))
        else:
            seen[name] = i
        layout.columns.append(name)
    for col in spec.columns:
        if col.name not in seen and (year is None or col.kept_in(year)):
            layout.problems.append(_cell(raw, layout.header_row, message=(
                f"缺少列“{col.label}” (missing column 「{col.label}」; the header row must name every declared column: "
                f"{'、'.join(c.label for c in spec.columns)})")))
    header_rows = set(range(header_rows[0], header_rows[1] + 1)) if two_rows else {layout.header_row}
    for r0, c0, r1, c1 in raw.merged:
        if any(r0 <= h <= r1 for h in header_rows) and c1 > c0 and not two_rows:
            layout.problems.append(_cell(raw, layout.header_row, message=(
                f"标题行含合并单元格 {letters(c0)}{r0}:{letters(c1)}{r1}，请取消合并，每列一个列名 "
                f"(merged cells {letters(c0)}{r0}:{letters(c1)}{r1} in the header row: unmerge them, one name per column, "
                "or put each column's own name in a second header row under the merged cell)")))


def _units_row(raw: RawTable, spec: TableSpec, layout: Layout, rows: list) -> list:
    """A row of units under the header (（人次） （元）): checked against the declared units, then left out."""
    if not rows:
        return rows
    n, cells = rows[0]
    filled = [(j, c.strip()) for j, c in enumerate(cells) if c.strip()]
    units = [_unit_of(c) for _, c in filled]
    if not filled or None in units:
        return rows
    wrong = []
    for (j, text), unit in zip(filled, units):
        name = layout.columns[j] if j < len(layout.columns) else None
        declared = next((c.unit for c in spec.columns if c.name == name), None)
        if name is not None and declared != unit:
            wrong.append(_cell(raw, n, layout.position(j), text, message=(
                f"单位与声明不符：应为“{declared or '（无单位）'}” (the units row says {unit}, but tables.yml declares "
                f"{declared or 'no unit'} for this column; write the figures in {declared or 'plain numbers'}, or change "
                "the declaration)")))
    layout.problems += wrong
    if not wrong:
        layout.notes.append(f"{raw.where}: row {n} gives the columns' units ({' '.join(t for _, t in filled)}); they agree "
                            "with tables.yml; left out of the data")
    return rows[1:]


def _unit_of(text: str) -> str | None:
    """The unit a units-row cell gives (（人次）, (元), 单位：元), or None if the cell is not one."""
    match = _UNIT.match(normalise(text))
    return (match["unit"] or match["bare"]).strip() if match else None


def _sign_off(raw: RawTable, layout: Layout, rows: list) -> list:
    """A sign-off line at the end (填表人：… 审核人：… 填报日期：…): noted, and left out with anything under it."""
    for i, (n, cells) in enumerate(rows):
        if i < len(rows) - SIGN_OFF_ROWS:
            continue
        first = next((c.strip() for c in cells if c.strip()), "")
        if _SIGN_OFF.match(first):
            layout.notes.append(f"{raw.where}: row {n} is a sign-off line ({_SIGN_OFF.match(first).group().rstrip(':：')}…)"
                                + (f" with {len(rows) - i - 1} row(s) under it" if len(rows) > i + 1 else "")
                                + "; left out of the data")
            return rows[:i]
    return rows


def _fill_merged(raw: RawTable, layout: Layout, rows: list[tuple[int, list[str]]], spec: TableSpec) -> None:
    """A block of cells merged down a column means "the same value on each row": fill it in, and say so."""
    by_row = {n: cells for n, cells in rows}
    filled: dict[int, list[str]] = {}  # column index → the blocks filled
    for r0, c0, r1, c1 in sorted(raw.merged):
        if r0 <= layout.header_row:
            continue  # above the header, or the header's own (told in _map_header)
        where = f"{letters(c0)}{r0}:{letters(c1)}{r1}"
        if c1 > c0:
            layout.problems.append(_cell(raw, r0, layout.position(c0), message=(
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
        shown = ", ".join(blocks) if len(blocks) <= 3 else f"{blocks[0]}, {blocks[1]} … {blocks[-1]}"
        name = layout.columns[c0] if c0 < len(layout.columns) else None
        layout.notes.append(f"{raw.where}: column {layout.column(name, spec) if name else layout.position(c0)} has "
                            f"{len(blocks)} block{'s' if len(blocks) > 1 else ''} of merged cells ({shown}); "
                            "each cell read as its block's value")


def total_label(cells: list[str], columns: list[str | None], spec: TableSpec) -> tuple[str, str] | None:
    """(the label as written, "小计" or "合计") if the row is a subtotal or total row: a label column's cell that is a
    total word or a short label ending in one (春季学期小计, 全年合计, 本页小计); numbers' columns are never labels."""
    numeric = {c.name for c in spec.columns if c.numeric}
    for i, cell in enumerate(cells):
        if i < len(columns) and columns[i] in numeric:
            continue
        match = _TOTAL.match(normalise(cell))
        if match:
            return cell.strip(), "小计" if match["word"] == "小计" else "合计"
    return None


def _set_totals_aside(spec: TableSpec, layout: Layout, rows: list[tuple[int, list[str]]]) -> None:
    """Total and subtotal rows out of the data, each with the rows it adds up: a 小计 the rows since the last 小计,
    a 合计 every row above it — or every row below it, when it stands first under the header."""
    since_subtotal = 0
    leading = []
    for n, cells in rows:
        found = total_label(cells, layout.columns, spec)
        if found:
            label, kind = found
            start = since_subtotal if kind == "小计" else 0
            layout.totals.append((n, cells, label, kind, start, len(layout.rows)))
            if not layout.rows:
                leading.append(len(layout.totals) - 1)
            if kind == "小计":
                since_subtotal = len(layout.rows)
        else:
            layout.rows.append((n, cells))
    for index in leading:  # statistical tables put the 合计 first: it adds up every row below it
        n, cells, label, kind, _, _ = layout.totals[index]
        layout.totals[index] = (n, cells, label, kind, 0, len(layout.rows))


def row_ranges(numbers: list[int]) -> str:
    """7, 8, 9, 12 → "7–9, 12"."""
    parts, start = [], None
    for i, n in enumerate(numbers):
        if start is None:
            start = n
        if i + 1 == len(numbers) or numbers[i + 1] != n + 1:
            parts.append(f"{start}–{n}" if n != start else str(n))
            start = None
    return ", ".join(parts)

"""Loading a year's tables as declared in ``<data-dir>/tables.yml``, and summing them.

Tables are what the office already keeps: record-level registers (one row per
licence decision, per inspection, per aid payment…). The declaration names each
table's file, columns, types, units and allowed categories, so the library
stays the same whatever tables a body keeps.
"""

from __future__ import annotations

import difflib
import math
import re
import unicodedata
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from . import tracking
from .exceptions import DataError
from .paths import OUTSIDE, available_years, contained, resolve_year, workbook_path, year_dir  # noqa: F401 - public here too
from .schemas import TABLES_FILE, TableSpec, declarations, pandera_schema, table_specs
from .sources import WORKBOOK, Problem, RawTable, SourceError, read_csv, read_sheet, workbook_sheets

_THOUSANDS = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$")
_DATE_FORMS = (
    re.compile(r"^(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})$"),
    re.compile(r"^(?P<y>\d{4})/(?P<m>\d{1,2})/(?P<d>\d{1,2})$"),
    re.compile(r"^(?P<y>\d{4})\.(?P<m>\d{1,2})\.(?P<d>\d{1,2})$"),
    re.compile(r"^(?P<y>\d{4})年(?P<m>\d{1,2})月(?P<d>\d{1,2})日$"),
)
_SPACES = " \t\u3000\xa0"


def _present(data_dir: Path, year: int, spec: TableSpec) -> bool:
    """Whether ``year`` keeps the table: a sheet of its workbook if it has one, else its CSV file."""
    workbook = workbook_path(data_dir, year)
    if workbook.is_file():
        return bool({spec.title, spec.name} & set(workbook_sheets(workbook)))
    return (year_dir(data_dir, year) / spec.file).is_file()


def _read_raw(data_dir: Path, year: int, spec: TableSpec) -> RawTable | None:
    """The table's cells from the year's workbook if it has one, else from its CSV; None if not required and absent."""
    folder = year_dir(data_dir, year)
    csv_path, workbook = folder / spec.file, workbook_path(data_dir, year)
    if workbook.is_file() and csv_path.is_file():
        raise SourceError([Problem(str(csv_path), f"与工作簿 {WORKBOOK} 重复：请只保留一处 (the same table is also "
                                                 f"in {WORKBOOK}; keep one of them)")])
    if not spec.kept_in(year) and not _present(data_dir, year, spec):
        return None
    for path in (workbook, csv_path):
        if path.exists() and not contained(path, folder):
            raise SourceError([Problem(str(path), OUTSIDE.format(folder=folder))])
    if workbook.is_file():
        return read_sheet(workbook, (spec.name, spec.title))
    if not csv_path.is_file():
        raise SourceError([Problem(str(csv_path), f"文件缺失（{spec.title}） (missing: table '{spec.name}', {spec.title})")])
    return read_csv(csv_path)


def _header_names(spec: TableSpec) -> dict[str, str]:
    """Every header a user may write for a column: its name, its Chinese label, label with unit."""
    names = {}
    for col in spec.columns:
        for form in (col.name, col.label, f"{col.label}（{col.unit}）", f"{col.label}({col.unit})"):
            names[form] = col.name
    return names


def _map_header(raw: RawTable, spec: TableSpec) -> tuple[list[str | None], list[Problem]]:
    known = _header_names(spec)
    mapped, problems, seen = [], [], {}
    for i, cell in enumerate(raw.header):
        text = cell.strip(_SPACES)
        name = known.get(text)
        if not text:
            mapped.append(None)
            continue
        if name is None:
            close = difflib.get_close_matches(text, list(known), n=1)
            hint = f"；是否应为“{close[0]}”？ (did you mean {close[0]!r}?)" if close else ""
            problems.append(Problem(raw.file, f"未声明的列名{hint} (not a declared column of {spec.name}; "
                                              f"expected {[c.name for c in spec.columns]})",
                                    sheet=raw.sheet, row=raw.header_row, column=text))
        elif name in seen:
            problems.append(Problem(raw.file, "列名重复 (the column appears twice)", sheet=raw.sheet, row=raw.header_row, column=text))
        seen[name] = i
        mapped.append(name)
    for col in spec.columns:
        if col.name not in seen:
            problems.append(Problem(raw.file, f"缺少列“{col.label}”（{col.name}） (missing column {col.name!r}; the header "
                                              f"row must name {[c.name for c in spec.columns]})",
                                    sheet=raw.sheet, row=raw.header_row))
    return mapped, problems


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


def _typed(raw: RawTable, spec: TableSpec, year: int) -> tuple[pd.DataFrame, list[Problem]]:
    mapped, problems = _map_header(raw, spec)
    if problems:
        return _empty(spec), problems
    row_numbers = [n for n, _ in raw.rows]
    cells = {col.name: [] for col in spec.columns}
    unconvertible: set[tuple[int, str]] = set()
    for i, (n, values) in enumerate(raw.rows):
        by_name = {name: (values[j] if j < len(values) else "") for j, name in enumerate(mapped) if name}
        for extra in values[len(mapped):]:
            if extra.strip(_SPACES):
                problems.append(Problem(raw.file, "此单元格在标题行之外：没有列名 (a value beyond the last named column)",
                                        sheet=raw.sheet, row=n, value=extra))
        for col in spec.columns:
            text = by_name.get(col.name, "").strip(_SPACES)
            if not text:
                cells[col.name].append(None)
                if col.required:
                    problems.append(Problem(raw.file, f"必填，不能为空；{col.expectation()} (required)",
                                            sheet=raw.sheet, row=n, column=col.name))
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
                problems.append(Problem(raw.file, col.expectation(), sheet=raw.sheet, row=n, column=col.name, value=text))
                unconvertible.add((i, col.name))
            cells[col.name].append(value)
    frame = pd.DataFrame({name: pd.Series(values, dtype=object) for name, values in cells.items()})
    for col in spec.columns:
        if col.type == "date":
            frame[col.name] = pd.to_datetime(frame[col.name])
        elif col.numeric:
            frame[col.name] = pd.to_numeric(frame[col.name]).astype("float64")
    problems += _schema_problems(frame, spec, year, raw, row_numbers, unconvertible)
    return _final(frame, spec), problems


def _schema_problems(frame, spec, year, raw, row_numbers, unconvertible) -> list[Problem]:
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
        if spec.key and ("unique" in check or column in spec.key and check.startswith("field_uniqueness")):
            key = {k: _shown(frame.at[index, k]) for k in spec.key} if index is not None else {}
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
        problems.append(Problem(raw.file, message, sheet=raw.sheet, row=row, column=column, value=_shown(case.failure_case)))
    # A key repeated on n rows yields one message per row: keep them, but each row once.
    return list(dict.fromkeys(problems))


def _shown(value):
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
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


def read_table(data_dir: str | Path, year: int, spec: TableSpec) -> tuple[pd.DataFrame, list[Problem]]:
    """Read and check one table; return it (possibly partial) and every problem found."""
    folder = year_dir(data_dir, year)
    for path in (Path(data_dir) / TABLES_FILE, folder / spec.file, folder / WORKBOOK):
        tracking.record(path)  # absent files too: their appearing later changes the result
    try:
        raw = _read_raw(Path(data_dir), year, spec)
    except SourceError as exc:
        return _empty(spec), exc.problems
    if raw is None:
        return _empty(spec), []
    return _typed(raw, spec, year)


def load_table(data_dir: str | Path, year: int, name: str) -> pd.DataFrame:
    """Read table ``name`` for ``year``, typed and checked as declared; raise DataError listing every problem.

    Rows are numbered as the user sees them in a spreadsheet (the header is row 1).
    """
    specs = table_specs(data_dir)
    if name not in specs:
        raise DataError(f"{Path(data_dir) / TABLES_FILE}: no table named '{name}' (declared: {sorted(specs)})")
    table, problems = read_table(data_dir, year, specs[name])
    if problems:
        raise DataError([str(p) for p in problems])
    return table


def check_year(data_dir: str | Path, year: int) -> dict[str, pd.DataFrame]:
    """Every declared table for ``year``; raise DataError listing every problem if there is any."""
    tables, problems = validate_year(data_dir, year)
    if problems:
        raise DataError(
            [f"{len(problems)} problem(s) in {year_dir(data_dir, year)} (发现{len(problems)}处问题):"]
            + [f"  - {p}" for p in problems]
        )
    return tables


def validate_year(data_dir: str | Path, year: int) -> tuple[dict[str, pd.DataFrame], list[Problem]]:
    """Every declared table for ``year``, and every problem in them and across them."""
    decl = declarations(data_dir)
    folder = year_dir(data_dir, year)
    if not folder.is_dir():
        return {}, [Problem(str(folder), f"没有{year}年的数据目录 (no data folder for {year})")]
    tables, problems, clean = {}, [], set()
    for name, spec in decl.tables.items():
        table, found = read_table(data_dir, year, spec)
        tables[name] = table
        problems += found
        if not found:
            clean.add(name)
    for check in decl.checks:
        if not {check.total.table, check.equals.table} <= clean:
            continue  # already reported; the totals would only repeat it
        left = total(tables[check.total.table], check.total.column, where=check.total.where)
        right = total(tables[check.equals.table], check.equals.column, where=check.equals.where)
        if left != right:
            spec = decl.tables[check.total.table]
            problems.append(Problem(
                str(folder / spec.file),
                f"{check.description}：{check.total.describe()} = {left:g}，但 {check.equals.describe()} = {right:g} "
                f"(the two must be equal)",
            ))
    return tables, problems


def tally(
    table: pd.DataFrame,
    by: Sequence[str],
    *,
    sums: Sequence[str] = (),
    count: str | None = "count",
    where: Mapping[str, object] | None = None,
) -> pd.DataFrame:
    """For each combination of ``by`` (in the declared category order): how many rows, and the sum of each of ``sums``.

    ``where`` keeps only rows whose columns equal the given values; ``count`` names the
    row-count column (None leaves it out). Combinations with no rows are left out.
    """
    rows = select(table, where)
    missing = [c for c in [*by, *sums] if c not in rows.columns]
    if missing:
        raise DataError(f"tally: no column {missing} in the table (it has {list(rows.columns)})")
    grouped = rows.groupby(list(by), observed=True, sort=True)
    parts = [grouped.size().rename(count)] if count else []
    parts += [grouped[column].sum() for column in sums]
    if not parts:
        raise DataError("tally: nothing to compute; give `sums` or a `count` name")
    return pd.concat(parts, axis=1).reset_index()


def load_previous(data_dir: str | Path, year: int, name: str) -> pd.DataFrame | None:
    """Table ``name`` for the year before ``year``; None when there is nothing to compare with.

    None when ``data_dir`` has no folder for that year (``year`` is the first), or that
    year does not keep the table (it is optional, or declared ``since`` a later year).
    A table present but invalid raises DataError, as :func:`load_table` does.
    """
    before = int(year) - 1
    if before not in available_years(data_dir):
        return None
    return _load_if_kept(data_dir, before, name)


def load_history(data_dir: str | Path, year: int, name: str) -> pd.DataFrame:
    """Table ``name`` for every year up to ``year`` that keeps it, one table with a leading ``year`` column."""
    frames = []
    for each in (y for y in available_years(data_dir) if y <= int(year)):
        table = _load_if_kept(data_dir, each, name)
        if table is not None:
            frames.append(table.assign(year=each)[["year", *table.columns]])
    if not frames:
        raise DataError(f"{Path(data_dir)}: no year up to {year} keeps table '{name}'")
    return pd.concat(frames, ignore_index=True)


def _load_if_kept(data_dir: str | Path, year: int, name: str) -> pd.DataFrame | None:
    """The table, or None if ``year`` need not and does not keep it (a table that did not exist yet is no zero)."""
    table = load_table(data_dir, year, name)  # records the files it looks for, absent ones too
    spec = table_specs(data_dir)[name]
    if not spec.kept_in(year) and not _present(Path(data_dir), year, spec):
        return None
    return table


def total(table: pd.DataFrame | None, value: str | None = None, *, where: Mapping[str, object] | None = None):
    """How many rows (or the sum of ``value``) match ``where``; a plain int when whole.

    ``None`` for no table (no previous year to compare with) gives None, which the
    year-over-year phrasing (:func:`annual_review.numbers.change`) reads as "nothing to say".
    """
    if table is None:
        return None
    rows = select(table, where)
    return _whole(rows[value].sum() if value else len(rows))


def _whole(number) -> int | float:
    """A plain int when the number is whole (as reports write counts), else a plain float."""
    return int(number) if float(number).is_integer() else float(number)


def select(table: pd.DataFrame, where: Mapping[str, object] | None = None) -> pd.DataFrame:
    """The rows whose columns equal every value in ``where``."""
    if not where:
        return table
    missing = [c for c in where if c not in table.columns]
    if missing:
        raise DataError(f"no column {missing} in the table (it has {list(table.columns)})")
    mask = pd.Series(True, index=table.index)
    for column, wanted in where.items():
        mask &= table[column] == wanted
    return table[mask]


def month_labels(dates: pd.Series) -> pd.Categorical:
    """Each date's month as a report labels it (``3月``), ordered January to December for charts and tables."""
    labels = [f"{m}月" for m in range(1, 13)]
    return pd.Categorical(dates.dt.month.map(lambda m: f"{m}月", na_action="ignore"), categories=labels, ordered=True)


def months_of(table: pd.DataFrame, column: str) -> list[int]:
    """The calendar months in which a date column has entries, in order."""
    return sorted(table[column].dropna().dt.month.unique().tolist())


def headline(
    history: pd.DataFrame,
    year: int,
    indicators: Sequence[str] = (),
    *,
    label: str = "indicator",
    value: str = "value",
    unit: str = "unit",
) -> list[tuple[str, str, object, object]]:
    """``(indicator, unit, this year, last year)`` for each headline indicator, from a :func:`load_history` table.

    ``indicators`` picks and orders them (all of this year's, in table order, when
    empty); last year is None where that year has no such row (a new indicator) or
    there is no such year. An indicator the year does not keep (one added later) is left
    out; a name that is not an indicator at all (a misspelling in the config) is an error.
    """
    now = history[history["year"] == int(year)].set_index(label)
    before = history[history["year"] == int(year) - 1].set_index(label)
    wanted = list(indicators) or list(now.index)
    column = history[label]
    known = list(column.cat.categories) if isinstance(column.dtype, pd.CategoricalDtype) else list(dict.fromkeys(column))
    unknown = [i for i in wanted if i not in known]
    if unknown:
        raise DataError(f"headline indicators {unknown} are not indicators (known: {known})")
    wanted = [i for i in wanted if i in now.index]
    return [
        (str(i), str(now.at[i, unit]), _whole(now.at[i, value]), _whole(before.at[i, value]) if i in before.index else None)
        for i in wanted
    ]

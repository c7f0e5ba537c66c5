"""Loading a year's tables as declared in ``<data-dir>/tables.yml``, and summing them.

Tables are what the office already keeps: record-level registers (one row per
licence decision, per inspection, per aid payment…). The declaration names each
table's file, columns, types, units and allowed categories, so the library
stays the same whatever tables a body keeps.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import yaml

from .exceptions import DataError

TABLES_FILE = "tables.yml"
NARRATIVE_DIR = "narrative"
COLUMN_TYPES = ("text", "integer", "number", "date", "category")
_YEAR = re.compile(r"^\d{4}$")


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    label: str
    description: str = ""
    unit: str = ""
    categories: tuple[str, ...] = ()
    required: bool = True


@dataclass(frozen=True)
class TableSpec:
    name: str
    file: str
    title: str
    description: str
    columns: tuple[Column, ...]
    key: tuple[str, ...] = field(default=())

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


def available_years(data_dir: str | Path) -> list[int]:
    """The years with a folder in ``data_dir``, oldest first."""
    root = Path(data_dir)
    if not root.is_dir():
        raise DataError(f"{root}: the data folder does not exist")
    return sorted(int(p.name) for p in root.iterdir() if p.is_dir() and _YEAR.match(p.name))


def resolve_year(data_dir: str | Path, year: int | None = None) -> int:
    """``year`` if ``data_dir`` has a folder for it; the latest year there when ``year`` is 0 or None."""
    years = available_years(data_dir)
    if not years:
        raise DataError(f"{data_dir}: no year folders (such as 2020/) were found")
    if not year:
        return years[-1]
    if int(year) not in years:
        raise DataError(f"{Path(data_dir) / str(year)}: no data for {year}; years available: {years}")
    return int(year)


def year_dir(data_dir: str | Path, year: int) -> Path:
    return Path(data_dir) / str(year)


@functools.cache
def _read_specs(path: Path, mtime: float) -> dict[str, TableSpec]:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise DataError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(raw, Mapping):
        raise DataError(f"{path}: expected a mapping of table names to table declarations")
    problems, specs = [], {}
    for name, body in raw.items():
        where = f"{path}: table '{name}'"
        if not isinstance(body, Mapping) or not isinstance(body.get("columns"), Mapping):
            problems.append(f"{where}: needs 'file' and a 'columns' mapping")
            continue
        columns = []
        for col, decl in body["columns"].items():
            decl = decl or {}
            kind = decl.get("type", "text")
            if kind not in COLUMN_TYPES:
                problems.append(f"{where}, column '{col}': type '{kind}' is not one of {COLUMN_TYPES}")
                continue
            if kind == "category" and not decl.get("categories"):
                problems.append(f"{where}, column '{col}': a category column needs its 'categories' listed")
            columns.append(
                Column(
                    name=str(col),
                    type=kind,
                    label=str(decl.get("label", col)),
                    description=str(decl.get("description", "")),
                    unit=str(decl.get("unit", "")),
                    categories=tuple(str(c) for c in decl.get("categories", ())),
                    required=bool(decl.get("required", True)),
                )
            )
        key = tuple(body.get("key", ()))
        unknown_key = [k for k in key if k not in body["columns"]]
        if unknown_key:
            problems.append(f"{where}: key names unknown columns {unknown_key}")
        specs[str(name)] = TableSpec(
            name=str(name),
            file=str(body.get("file", f"{name}.csv")),
            title=str(body.get("title", name)),
            description=str(body.get("description", "")),
            columns=tuple(columns),
            key=key,
        )
    if problems:
        raise DataError(problems)
    return specs


def table_specs(data_dir: str | Path) -> dict[str, TableSpec]:
    """The table declarations of ``<data_dir>/tables.yml``."""
    path = Path(data_dir) / TABLES_FILE
    if not path.is_file():
        raise DataError(f"{path}: missing; it declares the tables each year's folder holds")
    return _read_specs(path.resolve(), path.stat().st_mtime)


def load_table(data_dir: str | Path, year: int, name: str) -> pd.DataFrame:
    """Read table ``name`` for ``year``, typed as declared; raise DataError listing every problem.

    Rows are numbered as the user sees them in a spreadsheet (the header is row 1).
    """
    specs = table_specs(data_dir)
    if name not in specs:
        raise DataError(f"{Path(data_dir) / TABLES_FILE}: no table named '{name}' (declared: {sorted(specs)})")
    spec = specs[name]
    path = year_dir(data_dir, year) / spec.file
    if not path.is_file():
        raise DataError(f"{path}: missing (table '{name}', {spec.title})")
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig", skip_blank_lines=True)
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start}); save it as CSV UTF-8") from None
    except pd.errors.EmptyDataError:
        raise DataError(f"{path}: the file is empty; expected a header row {[c.name for c in spec.columns]}") from None
    return _typed(raw, spec, path)


def _typed(raw: pd.DataFrame, spec: TableSpec, path: Path) -> pd.DataFrame:
    raw = raw.rename(columns=lambda c: str(c).strip())
    expected = [c.name for c in spec.columns]
    missing = [c for c in expected if c not in raw.columns]
    extra = [c for c in raw.columns if c not in expected]
    problems = []
    if missing:
        problems.append(f"{path}: missing column(s) {missing}; the header row must be {expected}")
    if extra:
        problems.append(f"{path}: unexpected column(s) {extra}; the header row must be {expected}")
    if problems:
        raise DataError(problems)
    table = pd.DataFrame(index=raw.index)
    for col in spec.columns:
        values = raw[col.name].str.strip()
        converted, bad = _convert(values, col)
        for idx in bad:
            problems.append(
                f"{path}, row {idx + 2}, column '{col.name}' ({col.label}): "
                f"{raw.at[idx, col.name]!r} is not {_expected(col)}"
            )
        table[col.name] = converted
    if spec.key and not problems:
        dupes = table[table.duplicated(list(spec.key), keep=False)]
        for idx in dupes.index:
            problems.append(f"{path}, row {idx + 2}: key {dict(table.loc[idx, list(spec.key)])} appears more than once")
    if problems:
        raise DataError(problems)
    return table


def _expected(col: Column) -> str:
    return {
        "text": "text" + ("" if not col.required else " (required)"),
        "integer": "a whole number of at least 0" + (f" ({col.unit})" if col.unit else ""),
        "number": "a number of at least 0" + (f" ({col.unit})" if col.unit else ""),
        "date": "a date written YYYY-MM-DD",
        "category": f"one of {list(col.categories)}",
    }[col.type]


def _convert(values: pd.Series, col: Column) -> tuple[pd.Series, list[int]]:
    blank = values == ""
    if col.type == "text":
        bad = list(values.index[blank]) if col.required else []
        return values, bad
    if col.type == "category":
        ok = values.isin(col.categories) | (blank & (not col.required))
        return pd.Categorical(values.where(ok & ~blank), categories=list(col.categories)), list(values.index[~ok])
    if col.type == "date":
        parsed = pd.to_datetime(values, format="%Y-%m-%d", errors="coerce")
    else:
        parsed = pd.to_numeric(values, errors="coerce")
        parsed = parsed.where(parsed >= 0)
        if col.type == "integer":
            parsed = parsed.where(parsed == parsed.round())
    bad_mask = parsed.isna() & (~blank | col.required)
    if col.type == "integer" and not bad_mask.any() and not blank.any():
        parsed = parsed.astype("int64")
    return parsed, list(values.index[bad_mask])


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


def total(table: pd.DataFrame, value: str | None = None, *, where: Mapping[str, object] | None = None):
    """How many rows (or the sum of ``value``) match ``where``; a plain int when whole."""
    rows = select(table, where)
    result = rows[value].sum() if value else len(rows)
    return int(result) if float(result).is_integer() else float(result)


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

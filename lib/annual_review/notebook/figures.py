"""The figures a section shows, as the notebooks ask for them (``ar.tally``, ``ar.total``, ``ar.figure``,
``ar.headline``, …): each one carrying its source (register, year, filter, rows counted) for the draft's appendix.

Reading and checking the registers is :mod:`annual_review.registers.reading`'s; this is what sections do with them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..core import provenance
from ..core.exceptions import DataError
from ..core.numbers import whole
from ..core.paths import available_years
from ..registers.reading import load_table, present
from ..registers.rows import select, total  # noqa: F401 - the notebooks' API too (ar.select, ar.total)
from ..registers.schemas import TABLES_FILE, table_specs


def tally(
    table: pd.DataFrame,
    by: Sequence[str],
    *,
    sums: Sequence[str] = (),
    count: str | None = "count",
    where: Mapping[str, object] | None = None,
) -> pd.DataFrame:
    """For each combination of ``by`` (in the declared category order): how many rows, and the sum of each of ``sums``.

    ``where`` keeps only rows as :func:`select` does; ``count`` names the row-count
    column (None leaves it out). Combinations with no rows are left out. Each row
    of the result knows the rows it counted (shown as its source in a draft).
    """
    rows = select(table, where)
    missing = [c for c in [*by, *sums] if c not in rows.columns]
    if missing:
        raise DataError(f"tally: no column {missing} in the table (it has {list(rows.columns)})")
    grouped = rows.groupby(list(by), observed=True, sort=True)
    sizes = grouped.size()
    parts = [sizes.rename(count)] if count else []
    parts += [grouped[column].sum() for column in sums]
    if not parts:
        raise DataError("tally: nothing to compute; give `sums` or a `count` name")
    result = pd.concat(parts, axis=1).reset_index()
    source = provenance.table_source(rows)
    if source:
        labels = source.get("labels", {})
        grouping = "按" + "、".join(labels.get(b, b) for b in by) + "分组"
        result.attrs[provenance.SOURCE] = source
        result.attrs[provenance.ROWS] = int(len(rows))
        numbers = provenance.register_rows(rows)
        members = grouped.indices  # each group's rows, by position
        result.attrs[provenance.ROW_SOURCES] = [
            provenance.describe(rows, f"{grouping}（{'、'.join(map(str, key if isinstance(key, tuple) else (key,)))}）", int(n),
                                [numbers[i] for i in members[key]] if numbers is not None and key in members else None)
            for key, n in sizes.items()
        ]
    return result


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
    history = pd.concat(frames)  # (each row keeps its number in its year's register: a headline figure names it)
    history.attrs[provenance.SOURCE] = {"title": table_specs(data_dir)[name].title, "year": "各年度", "filters": []}
    return history


def _load_if_kept(data_dir: str | Path, year: int, name: str) -> pd.DataFrame | None:
    """The table, or None if ``year`` need not and does not keep it (a table that did not exist yet is no zero)."""
    table = load_table(data_dir, year, name)  # records the files it looks for, absent ones too
    spec = table_specs(data_dir)[name]
    if not spec.kept_in(year) and not present(Path(data_dir), year, spec):
        return None
    return table


@dataclass(frozen=True)
class Indicator:
    """One figure this year and last: ``f.now``, ``f.last``, ``f.change`` (较上年增加3所、增长11.5%), its label and unit.

    It is a row of :func:`annual_review.notebook.elements.show_changes` as it is, and a narrative
    may write ``{{ f }}`` (this year's value), ``{{ f.last }}``, ``{{ f | more }}`` or
    ``{{ f | change(prefix="，") }}``.
    """

    label: str
    unit: str
    now: object
    last: object

    narrative_fields = ("now", "last", "change", "unit", "label")

    @property
    def change(self) -> str:
        from ..core.numbers import change

        return provenance.SourcedText(change(self.now, self.last, self.unit), provenance.sources_of(self.now, self.last))

    @property
    def source(self) -> str:
        return getattr(self.now, "source", "")

    def __iter__(self):  # (label, unit, now, last): a row of show_changes
        return iter((self.label, self.unit, self.now, self.last))

    def __str__(self) -> str:
        from ..core.numbers import NO_FIGURE

        return NO_FIGURE if self.now is None else str(self.now)


def figure(
    data_dir: str | Path,
    year: int,
    table: str,
    value: str | None = None,
    *,
    where: Mapping[str, object] | None = None,
    label: str | None = None,
    unit: str | None = None,
) -> Indicator:
    """This year's and last year's count of rows (or sum of ``value``) of ``table`` matching ``where``, in one call.

    ``label`` and ``unit`` default to the column's (or, for a count, the table's title and no unit).
    Last year is None in a first year, or where that year does not keep the table.
    """
    specs = table_specs(data_dir)
    if table not in specs:
        raise DataError(f"figure: no table named {table!r} in {TABLES_FILE} (declared: {sorted(specs)})")
    spec = specs[table]
    if value is not None and value not in {c.name for c in spec.columns}:
        raise DataError(f"figure: table {table!r} has no column {value!r} (it has {[c.name for c in spec.columns]})")
    column = spec.column(value) if value else None
    now = total(load_table(data_dir, year, table), value, where=where)
    last = total(load_previous(data_dir, year, table), value, where=where)
    return Indicator(label or (column.label if column else spec.title), column.unit if unit is None and column else unit or "",
                     now, last)


def month_labels(dates: pd.Series) -> pd.Categorical:
    """Each date's month as a report labels it (``3月``), ordered January to December for charts and tables."""
    labels = [f"{m}月" for m in range(1, 13)]
    return pd.Categorical(dates.dt.month.map(lambda m: f"{m}月", na_action="ignore"), categories=labels, ordered=True)


def months_of(table: pd.DataFrame, column: str) -> list[int]:
    """The calendar months in which a date column has entries, in order (saying which register they are from, so
    a draft sources "1至10月" as it does a figure)."""
    months = sorted(table[column].dropna().dt.month.unique().tolist())
    label = provenance.table_source(table).get("labels", {}).get(column, column)
    return provenance.SourcedList(months, provenance.describe(table, f"{label}所在月份", len(table)))


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
    missing = [c for c in ("year", label, value, unit) if c not in history.columns]
    if missing:
        raise DataError(f"headline: the table has no column {missing} (it has {list(history.columns)}); "
                        "name its columns with label=, value= and unit=")
    now = history[history["year"] == int(year)].set_index(label)
    before = history[history["year"] == int(year) - 1].set_index(label)
    wanted = list(indicators) or list(now.index)
    column = history[label]
    known = list(column.cat.categories) if isinstance(column.dtype, pd.CategoricalDtype) else list(dict.fromkeys(column))
    unknown = [i for i in wanted if i not in known]
    if unknown:
        raise DataError(f"headline indicators {unknown} are not indicators (known: {known})")
    wanted = [i for i in wanted if i in now.index]
    title = history.attrs.get(provenance.SOURCE, {}).get("title", "")

    numbered = history.index.name == provenance.ROW_INDEX
    rows = {(int(y), i): n for n, y, i in zip(history.index, history["year"], history[label])} if numbered else {}

    def sourced(number, each_year: int, indicator: str):
        row = rows.get((each_year, indicator))
        which = f"（第{row}行）" if row is not None else ""
        return provenance.figure(whole(float(number)), f"{title} {each_year}，{indicator}，共1行{which}" if title else "")

    return [
        (str(i), str(now.at[i, unit]), sourced(now.at[i, value], int(year), i),
         sourced(before.at[i, value], int(year) - 1, i) if i in before.index else None)
        for i in wanted
    ]

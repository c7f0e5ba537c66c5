"""Choosing rows of a register and adding them up, each result saying which rows it came from (for the draft's
source appendix): what the register checks and the sections' figures both use."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from ..core import provenance
from ..core.exceptions import DataError
from ..core.numbers import whole


def total(table: pd.DataFrame | None, value: str | None = None, *, where: Mapping[str, object] | None = None):
    """How many rows (or the sum of ``value``) match ``where``; a plain int when whole.

    ``None`` for no table (no previous year to compare with) gives None, which the
    year-over-year phrasing (:func:`annual_review.core.numbers.change`) reads as "nothing to say".
    The number also says where it comes from (register, year, filter, rows), for drafts.
    """
    if table is None:
        return None
    rows = select(table, where)
    if value is not None and value not in rows.columns:
        raise DataError(f"total: no column {value!r} in the table (it has {list(rows.columns)})")
    if value is None or rows.empty:
        amount = len(rows) if value is None else 0  # no rows: nothing counted, nothing paid
    else:  # rows whose cells are all empty (a column the year did not keep): no figure, not zero
        summed = rows[value].sum(min_count=1)
        amount = None if pd.isna(summed) else whole(float(summed))
    labels = provenance.table_source(rows).get("labels", {})
    aggregation = f"{labels.get(value, value)}合计" if value else ""
    return provenance.figure(amount, provenance.describe(rows, aggregation, len(rows)))


def select(table: pd.DataFrame, where: Mapping[str, object] | None = None) -> pd.DataFrame:
    """The rows matching every condition in ``where``: a value (equal to it), a list or set (one of them),
    a ``range`` (within it), or a function of the column giving True or False for each row."""
    if not where:
        return table
    if not isinstance(where, Mapping):
        raise DataError(f"where= must map column names to values, not {type(where).__name__}")
    missing = [c for c in where if c not in table.columns]
    if missing:
        raise DataError(f"no column {missing} in the table (it has {list(table.columns)})")
    mask = pd.Series(True, index=table.index)
    for column, wanted in where.items():
        series = table[column]
        if isinstance(wanted, range):
            mask &= series.between(wanted.start, wanted.stop - 1) if wanted.step == 1 else series.isin(list(wanted))
        elif isinstance(wanted, (list, tuple, set, frozenset)):
            mask &= series.isin(list(wanted))
        elif callable(wanted):
            chosen = wanted(series)
            if not isinstance(chosen, pd.Series) or chosen.dtype != bool:
                raise DataError(f"where: the function for {column!r} must give True or False for each row")
            mask &= chosen
        else:
            mask &= series == wanted
    labels = provenance.table_source(table).get("labels", {})
    return provenance.filtered(table, table[mask], provenance.where_words(where, labels))

"""What a section notebook puts into the report: narrative, tables and charts.

Each ``show_*`` call displays one element, marked in the output's metadata so the
build can take exactly these into the report and leave out anything else a
notebook prints (scratch results, warnings, logs).
"""

from __future__ import annotations

import base64
import html
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from .charts import figure_png
from .narrative import render_narrative
from ..core.numbers import BRACKETED, labelled

MARKER = "annual_review"


def _display(data: Mapping[str, object], element: str, extra: Mapping[str, object] | None = None) -> None:
    from IPython.display import display

    metadata = {MARKER: {"element": element}, **(extra or {})}
    display(dict(data), metadata=metadata, raw=True)


def show_narrative(data_dir: str | Path, year: int, section: str, **figures) -> None:
    """Show ``section``'s narrative for ``year`` with ``figures`` filled in (and tell the build what it should know)."""
    notes: list[str] = []
    body = render_narrative(data_dir, year, section, figures, notes)
    _display({"text/html": f'<div class="ar-narrative">{body}</div>', "text/plain": section}, "narrative")
    for note in notes:
        tell(note)


def tell(note: str) -> None:
    """A note for whoever builds the report (the build prints it); nothing of it enters the report."""
    _display({"text/plain": note}, NOTE)


NOTE = "note"  # the element of an output that only tells the build something


def _label_html(label: str) -> str:
    """A label whose unit in brackets is never broken over two lines."""
    bracket = BRACKETED.search(label)
    if not bracket or not bracket.start():
        return html.escape(label)
    return f'{html.escape(label[: bracket.start()])}<span class="ar-unit">{html.escape(bracket.group())}</span>'


def table_html(
    table: pd.DataFrame,
    *,
    caption: str,
    columns: Mapping[str, str] | None = None,
    unit_note: str | None = None,
    total_label: str | None = None,
    keep_whole: Sequence[str] = (),
) -> str:
    """A report table as HTML: columns renamed to ``columns``' labels, each with its unit said once.

    Figures are written one way throughout the report (:func:`annual_review.core.numbers.figure_text`): money by
    the document's rule, no figure as "—", an empty text cell empty. With ``total_label`` a totals row sums
    the numeric columns. Cells of the columns (by label) in ``keep_whole`` are never broken over two lines
    (short phrases such as 增加3所、增长11.5%). Each number from data carries its source, shown in drafts.
    """
    from ..core import provenance
    from ..core.numbers import figure_text

    row_sources = list(table.attrs.get(provenance.ROW_SOURCES) or [])
    cell_sources = dict(table.attrs.get(provenance.CELL_SOURCES) or {})
    units = dict(provenance.table_source(table).get("units") or {})
    row_units = list(table.attrs.get(provenance.ROW_UNITS) or [])
    shown = table[list(columns)] if columns else table.copy()
    numeric = {c for c in shown.columns if pd.api.types.is_numeric_dtype(shown[c])
               or any(isinstance(v, (int, float)) and not isinstance(v, bool) and v == v for v in shown[c])}
    if total_label:
        totals = {c: (shown[c].sum() if c in numeric else "") for c in shown.columns}
        totals[shown.columns[0]] = total_label
        everything = provenance.describe(table, "合计", len(table)) if provenance.table_source(table) else ""
        row_sources = row_sources[: len(shown)] + [everything] if row_sources else []
        shown = pd.concat([shown.astype(object), pd.DataFrame([totals])], ignore_index=True)
    names = list(shown.columns)
    declared = dict(provenance.table_source(table).get("labels") or {})  # the register's own column labels
    labels = [labelled(str((columns or {}).get(name) or declared.get(name, name)), units.get(name, "")) for name in names]

    head = "".join(f'<th scope="col">{_label_html(label)}</th>' for label in labels)
    rows = []
    last = len(shown) - 1
    # Where a page may not break before a row: the first two body rows (with the header), the last two body rows
    # (and the 合计 below them).
    keep = {0, 1, last} | ({last - 1} if total_label else set())
    for i, record in enumerate(shown.itertuples(index=False)):
        classes = (["ar-total"] if total_label and i == last else []) + (["ar-keep"] if i in keep else [])
        css = f' class="{" ".join(classes)}"' if classes else ""
        cells = []
        for j, value in enumerate(record):
            missing = value is None or (isinstance(value, float) and value != value)
            number = (isinstance(value, (int, float)) and not isinstance(value, bool)) or (missing and names[j] in numeric)
            unit = units.get(names[j]) or (row_units[i] if i < len(row_units) else "")
            kind = "ar-num" if number else "ar-change" if labels[j] in keep_whole or names[j] in keep_whole else "ar-text"
            source = cell_sources.get((i, names[j])) or (row_sources[i] if number and i < len(row_sources) else "")
            attribute = f' data-source="{html.escape(source)}"' if source and (number or (i, names[j]) in cell_sources) else ""
            if number:
                text = html.escape(figure_text(None if missing else value, unit))
            elif missing:
                text = ""  # an optional cell left empty: nothing, never "None"
            elif j == 0 and isinstance(value, str):
                text = _label_html(value)
            elif isinstance(value, pd.Timestamp):
                text = value.date().isoformat()  # a day, as the register gives it
            else:
                text = html.escape(str(value))
            cells.append(f'<td class="{kind}"{attribute}>{text}</td>')
        rows.append(f"<tr{css}>{''.join(cells)}</tr>")
    note = f'<p class="ar-table-note">{html.escape(unit_note)}</p>' if unit_note else ""
    # A table wider than a phone scrolls inside its own box, which a keyboard can reach (WCAG 2.1.1).
    return (
        f'<figure class="ar-table" role="region" tabindex="0" aria-label="{html.escape(caption)}">'
        f'<table><caption>{html.escape(caption)}</caption>'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>{note}</figure>"
    )


def show_table(table: pd.DataFrame, *, caption: str, **options) -> None:
    """Show a table in the report (see :func:`table_html` for the options)."""
    markup = table_html(table, caption=caption, **options)
    _display({"text/html": markup, "text/plain": caption}, "table", {"caption": caption})


def show_chart(fig, *, alt: str | None = None, caption: str | None = None) -> None:
    """Show a chart drawn by :mod:`annual_review.notebook.charts`, with alt text for readers who cannot see it."""
    alt = alt or getattr(fig, "alt", None)
    if not alt:
        raise ValueError("show_chart: a chart needs alt text (charts made by bar_chart carry their own)")
    png = base64.b64encode(figure_png(fig)).decode("ascii")
    # The words drawn in the picture (title, axis and tick labels, legend, value labels, source), so the
    # build can look for personal data in them as it does in text.
    from matplotlib.text import Text

    shown = [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]
    texts = list(dict.fromkeys(t.get_text() for t in shown))
    # What the print check found (figure_png refuses text over text): kept so a reviewer or a test can see it.
    layout = {"overlaps": 0, "width_in": round(float(fig.get_figwidth()), 2),
              "smallest_pt": min((float(t.get_fontsize()) for t in shown), default=0.0)}
    _display(
        {"image/png": png, "text/plain": alt},
        "chart",
        {"image/png": {"alt": alt}, "caption": caption or "", "texts": texts, "layout": layout,
         "wide": bool(getattr(fig, "wide", False)), "source": getattr(fig, "provenance", "") or ""},
    )


COMPARISON_LABELS = {"item": "项目", "now": "{year}年", "last": "{prev_year}年", "change": "较上年"}


def comparison_table(rows, year: int, *, label: str | None = None, labels: Mapping[str, str] | None = None) -> pd.DataFrame:
    """This year's figures beside last year's, with the change in words.

    ``rows`` are :func:`annual_review.figure` results or ``(label, unit, now, before)``.
    ``labels`` names the columns (keys ``item``, ``now``, ``last``, ``change``; ``{year}`` and
    ``{prev_year}`` are filled in). Without any previous figure (a first year) only this
    year's column is kept; a row whose previous figure is missing shows "—", never a false change.
    """
    from ..core import provenance
    from ..core.numbers import change

    names = {**COMPARISON_LABELS, **({"item": label} if label else {}), **(labels or {})}
    unknown = sorted(set(names) - set(COMPARISON_LABELS))
    if unknown:
        from ..core.exceptions import DataError

        raise DataError(f"show_changes: labels may name {list(COMPARISON_LABELS)}, not {unknown}")
    item, now_column, last_column, change_column = (
        names[k].format(year=year, prev_year=year - 1) for k in ("item", "now", "last", "change"))
    compare = any(before is not None for *_, before in rows)
    records, sources, units = [], {}, []
    for i, (name, unit, now, before) in enumerate(rows):
        units.append(unit)
        record = {item: labelled(name, unit), now_column: now}
        sources[(i, now_column)] = getattr(now, "source", "")
        if compare:
            record[last_column] = before  # None: the year kept no such figure, shown "—"
            record[change_column] = change(now, before, unit, lead="") or "—"
            sources[(i, last_column)] = getattr(before, "source", "")
            # No figure last year: "—" in both columns, and neither is this year's register's to source.
            sources[(i, change_column)] = "；".join(provenance.sources_of(now, before)) if before is not None else ""
        records.append(record)
    table = pd.DataFrame.from_records(records)
    table.attrs[provenance.CELL_SOURCES] = {k: v for k, v in sources.items() if v}
    table.attrs[provenance.ROW_UNITS] = units
    table.attrs["ar_change_column"] = change_column
    return table


def show_changes(rows, *, year: int, caption: str, always: bool = False, labels: Mapping[str, str] | None = None) -> None:
    """Show a section's figures against last year's (see :func:`comparison_table`; ``labels`` names its columns).

    In a year with nothing to compare with it shows nothing, unless ``always`` asks for
    this year's figures alone (the key-figures overview does).
    """
    rows = [tuple(row) for row in rows]
    if not rows or (not always and all(before is None for *_, before in rows)):
        return
    table = comparison_table(rows, year, labels=labels)
    show_table(table, caption=caption, keep_whole=(table.attrs["ar_change_column"],))


def show_trends(history: pd.DataFrame, *, indicators=(), year: int, title: str, source: str | None = None,
                panel: str = "indicator", value: str = "value", unit: str = "unit") -> None:
    """Show small trend charts, one per indicator (column ``panel``), over every year in ``history``; nothing with a
    single year. ``value`` and ``unit`` name the columns holding each figure and its unit."""
    from .charts import trend_chart

    if "year" not in history.columns:
        from ..core.exceptions import DataError

        raise DataError(f"show_trends: the table has no 'year' column (it has {list(history.columns)}); use ar.load_history")
    if history["year"].nunique() < 2:
        return
    show_chart(trend_chart(history, indicators=indicators, highlight=year, title=title, source=source,
                           panel=panel, value=value, unit=unit))


FOLLOW_UP_COLUMNS = {"item": "工作措施", "status": "落实情况", "progress": "进展说明"}


def show_follow_up(data_dir: str | Path, year: int, table: str = "follow_up", section: str = "follow-up", *,
                   status: str = "status", columns: Mapping[str, str] | None = None, caption: str | None = None) -> None:
    """Report on last year's next-step measures: the narrative, with counts by ``status``, and the list itself.

    ``columns`` maps the list's columns to the labels shown (default: item, status,
    progress); ``caption`` may name {year} and {prev_year}. A year without a follow-up
    list (the first year) shows a notice instead; the report leaves such a section out
    (``requires:`` in the config).
    """
    from ..registers.reading import load_table
    from .figures import tally
    from ..core.exceptions import DataError

    follow_up = load_table(data_dir, year, table)
    columns = dict(columns or FOLLOW_UP_COLUMNS)
    missing = [c for c in [status, *columns] if c not in follow_up.columns]
    if missing:
        raise DataError(f"show_follow_up: table {table!r} has no column {missing} (it has {list(follow_up.columns)})")
    if follow_up.empty:
        _display({"text/html": f'<p class="ar-notice">{year}年没有上年工作措施落实情况数据（{table}）。</p>',
                  "text/plain": "no follow-up list"}, "notice")
        return
    by_status = tally(follow_up, by=[status])
    counts = dict(zip(by_status[status].astype(str), by_status["count"]))
    show_narrative(data_dir, year, section, measures=len(follow_up), by_status=counts)
    show_table(
        follow_up,
        caption=(caption or "{prev_year}年度报告所列下一阶段工作措施落实情况").format(year=year, prev_year=year - 1),
        columns=columns,
    )

"""Charts in one house style, drawn with matplotlib, Chinese included.

A notebook makes a chart in one call (:func:`bar_chart`) and shows it with
:func:`annual_review.elements.show_chart`. Drawing fails, rather than printing
boxes, when a glyph is missing from the chosen font.
"""

from __future__ import annotations

import io
import math
import warnings

import pandas as pd

from .exceptions import ChartError
from .fonts import PROBE_TEXT, require_cjk_font

# Okabe–Ito: distinguishable by readers with the common colour-vision deficiencies.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
DPI = 150


def apply_style() -> str:
    """Set matplotlib's fonts, sizes and colours for report charts; return the Chinese font family used."""
    import matplotlib
    from cycler import cycler

    font = require_cjk_font()
    matplotlib.rcParams.update(
        {
            "font.family": "sans-serif",
            "font.sans-serif": [font.family, "DejaVu Sans"],
            "axes.unicode_minus": False,  # CJK fonts often lack U+2212
            "axes.prop_cycle": cycler(color=PALETTE),
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.titlesize": 13,
            "axes.labelsize": 11,
            "xtick.labelsize": 10,
            "ytick.labelsize": 10,
            "legend.fontsize": 10,
            "legend.frameon": False,
            "figure.figsize": (7.2, 3.8),
            "figure.dpi": DPI,
        }
    )
    return font.family


def bar_chart(
    table: pd.DataFrame,
    *,
    x: str,
    y: str,
    title: str,
    value_label: str,
    unit: str,
    group: str | None = None,
    source: str | None = None,
    horizontal: bool = False,
):
    """A bar chart of ``y`` by ``x`` (bars side by side per ``group``), value labels on the bars.

    ``value_label`` and ``unit`` label the value axis (``出动人次（人次）``); ``source`` is printed under the chart. Returns the
    matplotlib Figure with an ``alt`` attribute describing it in words for readers who
    cannot see it.
    """
    import matplotlib.pyplot as plt

    missing = [c for c in (x, y, group) if c and c not in table.columns]
    if missing:
        raise ChartError(f"bar_chart: the table has no column {missing} (it has {list(table.columns)})")
    apply_style()
    wide = (
        table.pivot_table(index=x, columns=group, values=y, aggfunc="sum", observed=True, sort=False)
        if group
        else table.set_index(x)[[y]]
    )
    wide = wide.fillna(0)
    fig, ax = plt.subplots()
    wide.plot(kind="barh" if horizontal else "bar", ax=ax, width=0.75, legend=bool(group), rot=0)
    for bars in ax.containers:
        labels = [f"{v:g}" if v else "" for v in bars.datavalues]
        ax.bar_label(bars, labels=labels, padding=2, fontsize=9)
    ax.set_title(title)
    value_axis_label = f"{value_label}（{unit}）" if unit else value_label
    (ax.set_xlabel if horizontal else ax.set_ylabel)(value_axis_label)
    (ax.set_ylabel if horizontal else ax.set_xlabel)("")
    if group:
        ax.legend(title=None)
    if source:
        fig.text(0.01, 0.01, f"数据来源：{source}", fontsize=8, color="#555555")
    fig.tight_layout(rect=(0, 0.04 if source else 0, 1, 1))
    fig.alt = _describe(wide, title, unit)
    plt.close(fig)  # the caller shows it; keep pyplot's global state clean
    return fig


def trend_chart(
    history: pd.DataFrame,
    *,
    title: str,
    indicators=(),
    highlight: int | None = None,
    source: str | None = None,
    panel: str = "indicator",
    value: str = "value",
    unit: str = "unit",
    columns: int = 3,
):
    """Small multiples: for each indicator, its value year by year, the ``highlight`` year in the strong colour.

    ``history`` has one row per year and indicator (see :func:`annual_review.data.load_history`);
    each panel is titled with the indicator and its unit and labels its bars (万 and 亿
    for large figures). Returns a Figure carrying its ``alt`` text.
    """
    import matplotlib.pyplot as plt

    from .numbers import scaled

    missing = [c for c in ("year", panel, value, unit) if c not in history.columns]
    if missing:
        raise ChartError(f"trend_chart: the table has no column {missing} (it has {list(history.columns)})")
    kept = set(history[panel])
    names = [n for n in (list(indicators) or list(dict.fromkeys(history[panel]))) if n in kept]
    if not names:
        raise ChartError(f"trend_chart: no rows for any of {list(indicators)}")
    apply_style()
    years = sorted(history["year"].unique())
    rows = math.ceil(len(names) / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(7.2, 2.3 * rows + 0.6), squeeze=False)
    described = []
    for ax, name in zip(axes.flat, names):
        series = history[history[panel] == name].set_index("year")
        values = [float(series.at[y, value]) if y in series.index else 0.0 for y in years]
        reported = [y in series.index for y in years]  # a year without the indicator gets "—", not a bar of 0
        colours = [PALETTE[0] if y == highlight else PALETTE[4] for y in years]
        bars = ax.bar([f"{y}年" for y in years], values, color=colours, width=0.6)
        ax.bar_label(bars, labels=[scaled(v) if r else "—" for v, r in zip(values, reported)], padding=2, fontsize=8)
        name_unit = str(series[unit].iloc[-1])
        ax.set_title(f"{name}（{name_unit}）", fontsize=9)
        ax.set_yticks([])
        ax.spines["left"].set_visible(False)
        ax.margins(y=0.25)
        ax.tick_params(axis="x", labelsize=8)
        described.append(f"{name}：" + "，".join(f"{y}年{scaled(v)}{name_unit}" for y, v, r in zip(years, values, reported) if r))
    for ax in list(axes.flat)[len(names):]:
        ax.set_visible(False)
    fig.suptitle(title, fontsize=12)
    if source:
        fig.text(0.01, 0.01, f"数据来源：{source}", fontsize=8, color="#555555")
    fig.tight_layout(rect=(0, 0.03 if source else 0, 1, 1))
    fig.alt = f"{title}。" + "；".join(described) + "。"
    plt.close(fig)
    return fig


def _describe(wide: pd.DataFrame, title: str, unit: str) -> str:
    parts = []
    for label, row in wide.iterrows():
        values = [f"{col}{v:g}{unit}" if len(wide.columns) > 1 else f"{v:g}{unit}" for col, v in row.items() if v]
        parts.append(f"{label}：{'，'.join(values) or '0' + unit}")
    return f"{title}。" + "；".join(parts) + "。"


def figure_png(fig) -> bytes:
    """The figure as PNG bytes; raise ChartError if any character would be drawn as a box."""
    buffer = io.BytesIO()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig.savefig(buffer, format="png", dpi=DPI)
    missing = sorted({str(w.message) for w in caught if "missing from" in str(w.message)})
    if missing:
        raise ChartError(
            "A chart uses characters its font cannot draw (they would print as boxes): "
            + "; ".join(missing)
            + ". Install a fuller Chinese font (see README, 'Fonts')."
        )
    return buffer.getvalue()


def check_glyphs(text: str = PROBE_TEXT) -> str:
    """Draw ``text`` with the report style; return the font family, or raise ChartError on missing glyphs."""
    import matplotlib.pyplot as plt

    family = apply_style()
    fig, ax = plt.subplots(figsize=(2, 1))
    ax.text(0, 0, text)
    ax.set_title(text)
    plt.close(fig)
    figure_png(fig)
    return family

"""Charts in one house style, drawn with matplotlib for print, Chinese included.

A notebook makes a chart in one call (:func:`bar_chart`) and shows it with
:func:`annual_review.notebook.elements.show_chart`. Charts are sized for the A4 text width
(16 cm) so their type prints at the size it is set in, drawn at 200 dpi, in the
tables-and-charts role's font; legends sit above the plot, never over the data;
count axes have whole-number ticks. Drawing fails, rather than printing boxes, when
a glyph is missing from the font, and :func:`overlaps` finds any label, legend or
title drawn over another (the build refuses such a chart).
"""

from __future__ import annotations

import io
import math
import warnings

import pandas as pd

from ..core import provenance
from ..core.exceptions import ChartError
from ..core.fonts import PROBE_TEXT, require_cjk_font

# Okabe–Ito: distinguishable by readers with the common colour-vision deficiencies.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
DPI = 200  # sharp in print at the A4 text width
WIDTH = 6.3  # inches: 16 cm, the A4 text width (210 mm less GB/T 9704's margins), so type prints at its set size


def apply_style() -> str:
    """Set matplotlib's fonts, sizes and colours for report charts; return the Chinese font family used."""
    import matplotlib
    from cycler import cycler

    font = require_cjk_font("figures")
    matplotlib.rcParams.update(
        {
            # One face for Chinese, digits and Latin alike: the tables-and-charts role's.
            "font.family": "sans-serif",
            "font.sans-serif": [font.family, "DejaVu Sans"],
            "axes.unicode_minus": False,  # CJK fonts often lack U+2212
            "axes.prop_cycle": cycler(color=PALETTE),
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.titlesize": 11,
            "axes.titlelocation": "left",
            "axes.labelsize": 9.5,
            "xtick.labelsize": 9,
            "ytick.labelsize": 9,
            "legend.fontsize": 9,
            "legend.frameon": False,
            "figure.figsize": (WIDTH, 3.3),
            "figure.dpi": DPI,
            "figure.constrained_layout.use": True,
        }
    )
    return font.family


def category_colours(table: pd.DataFrame, column: str, names) -> list[str]:
    """Each category's colour, the same in every chart of every year: its place among the column's declared
    categories (tables.yml), else a colour fixed by its name — never its position in this chart."""
    import zlib

    series = table[column]
    declared = list(series.cat.categories) if isinstance(series.dtype, pd.CategoricalDtype) else []
    return [PALETTE[declared.index(n) % len(PALETTE)] if n in declared
            else PALETTE[zlib.crc32(str(n).encode("utf-8")) % len(PALETTE)] for n in names]


def _every_step(table: pd.DataFrame, x: str, wide: pd.DataFrame) -> pd.DataFrame:
    """On an ordered axis (months), every step from the first to the last with data: no month skipped."""
    series = table[x]
    if not isinstance(series.dtype, pd.CategoricalDtype) or not series.cat.ordered or wide.empty:
        return wide
    steps = list(series.cat.categories)
    present = [steps.index(v) for v in wide.index if v in steps]
    return wide.reindex(steps[min(present): max(present) + 1]) if present else wide


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

    ``value_label`` and ``unit`` label the value axis (``出动人次（人次）``; money in the document's unit, 元 or
    万元, as its figures are drawn); ``source`` is printed under the chart. A category keeps its colour in every
    chart; an axis of months shows every month. Returns the matplotlib Figure with an ``alt`` attribute
    describing it in words for readers who cannot see it.
    """
    import matplotlib.pyplot as plt

    from ..core.numbers import MONEY_UNIT, figure_text, money_rule, shown_unit

    missing = [c for c in (x, y, group) if c and c not in table.columns]
    if missing:
        raise ChartError(f"bar_chart: the table has no column {missing} (it has {list(table.columns)})")
    if table.empty:
        raise ChartError(f"bar_chart: nothing to draw for {title!r}: the table has no rows (is the register filled in?)")
    apply_style()
    wide = (
        table.pivot_table(index=x, columns=group, values=y, aggfunc="sum", observed=True, sort=False)
        if group
        else table.set_index(x)[[y]]
    )
    if isinstance(table[x].dtype, pd.CategoricalDtype):
        wide = wide.reindex([c for c in table[x].cat.categories if c in wide.index])
    wide = _every_step(table, x, wide).fillna(0)  # a combination with no rows counted nothing: zero
    scale = 10_000 if unit == MONEY_UNIT and money_rule() == "万元" else 1
    colours = category_colours(table, group, wide.columns) if group else [PALETTE[0]]
    fig, ax = plt.subplots()
    (wide / scale).plot(kind="barh" if horizontal else "bar", ax=ax, width=0.75, legend=False, rot=0, color=colours)
    for bars, column in zip(ax.containers, wide.columns):
        ax.bar_label(bars, labels=[figure_text(v, unit) for v in wide[column]], padding=2, fontsize=8)
    ax.set_title(title)
    value_axis_label = f"{value_label}（{shown_unit(unit)}）" if unit else value_label
    (ax.set_xlabel if horizontal else ax.set_ylabel)(value_axis_label)
    (ax.set_ylabel if horizontal else ax.set_xlabel)("")
    value_axis = ax.xaxis if horizontal else ax.yaxis
    if all(float(v).is_integer() for v in (wide / scale).to_numpy().ravel()):
        from matplotlib.ticker import MaxNLocator

        value_axis.set_major_locator(MaxNLocator(integer=True))  # counts: no 2.5 人次
    ax.margins(**({"x": 0.12} if horizontal else {"y": 0.15}))  # room for the value labels inside the plot
    if group:
        # Above the plot, never over a bar: one row under the title.
        fig.legend(*ax.get_legend_handles_labels(), loc="outside upper right", ncol=len(wide.columns), title=None)
    if source:
        fig.text(0.01, 0.005, f"数据来源：{source}", fontsize=7.5, color="#555555", va="bottom")
        fig.get_layout_engine().set(rect=(0, 0.05, 1, 0.95))
    fig.alt = _describe(wide, title, unit)
    # Where its bars come from (register, year, filter, rows counted): a draft lists it with the figures' sources.
    fig.provenance = provenance.describe(table, value_label, int(table.attrs.get(provenance.ROWS, len(table))))
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
    columns: int = 4,
):
    """Small multiples: for each indicator, its value year by year, the ``highlight`` year in the strong colour.

    ``history`` has one row per year and indicator (see :func:`annual_review.notebook.figures.load_history`);
    each panel is titled with the indicator and its unit and labels its bars (万 and 亿
    for large figures). Returns a Figure carrying its ``alt`` text.
    """
    import matplotlib.pyplot as plt

    from ..core.numbers import BRACKETED, MONEY_UNIT, figure_text, labelled, scaled, shown_unit

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
    fig, axes = plt.subplots(rows, columns, figsize=(WIDTH, 1.6 * rows + 0.55), squeeze=False)
    described = []
    for ax, name in zip(axes.flat, names):
        series = history[history[panel] == name].set_index("year")
        values = [float(series.at[y, value]) if y in series.index else 0.0 for y in years]
        reported = [y in series.index for y in years]  # a year without the indicator gets "—", not a bar of 0
        colours = [PALETTE[0] if y == highlight else PALETTE[4] for y in years]
        bars = ax.bar([f"{y}年" for y in years], values, color=colours, width=0.6)
        name_unit = str(series[unit].iloc[-1])

        def said(v: float) -> str:  # money by the document's rule, other large figures in 万 and 亿
            return figure_text(v, name_unit) if name_unit == MONEY_UNIT else scaled(v)

        ax.bar_label(bars, labels=[said(v) if r else "—" for v, r in zip(values, reported)], padding=2, fontsize=7.5)
        heading = labelled(name, name_unit)
        room = WIDTH * 72 / columns / 8.5 * 0.9  # characters a panel's title may take on one line
        if len(heading) > room and BRACKETED.search(heading):  # the unit under the name, whole
            heading = heading[: BRACKETED.search(heading).start()] + "\n" + BRACKETED.search(heading).group()
        ax.set_title(heading, fontsize=8.5, loc="center")
        ax.set_yticks([])
        ax.spines["left"].set_visible(False)
        ax.margins(y=0.25)
        ax.tick_params(axis="x", labelsize=8)
        described.append(f"{name}：" + "，".join(f"{y}年{said(v)}{shown_unit(name_unit)}"
                                                 for y, v, r in zip(years, values, reported) if r))
    for ax in list(axes.flat)[len(names):]:
        ax.set_visible(False)
    fig.suptitle(title, fontsize=11)
    if source:
        fig.text(0.01, 0.005, f"数据来源：{source}", fontsize=7.5, color="#555555", va="bottom")
        fig.get_layout_engine().set(rect=(0, 0.04, 1, 0.96))
    fig.alt = f"{title}。" + "；".join(described) + "。"
    fig.provenance = provenance.describe(history, "、".join(names), len(history))
    fig.wide = True  # small multiples: shown at a legible width on a phone, scrolled sideways
    plt.close(fig)
    return fig


def _describe(wide: pd.DataFrame, title: str, unit: str) -> str:
    from ..core.numbers import figure_text, shown_unit

    shown = shown_unit(unit)
    parts = []
    for label, row in wide.iterrows():
        values = [f"{col}{figure_text(v, unit)}{shown}" if len(wide.columns) > 1 else f"{figure_text(v, unit)}{shown}"
                  for col, v in row.items()]
        parts.append(f"{label}：{'，'.join(values)}")
    return f"{title}。" + "；".join(parts) + "。"


def _agg(fig):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    return fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)


def overlaps(fig, drawn: bool = False) -> list[str]:
    """What is drawn over what: value labels over each other or over the legend, the legend over bars, titles over text.

    Uses matplotlib's renderer: the boxes compared are those the reader sees (``drawn``: the figure's canvas has just
    been drawn, its layout done; it is not drawn again).
    """
    from matplotlib.patches import Rectangle

    canvas = _agg(fig)
    if not drawn:
        canvas.draw()
    renderer = canvas.get_renderer()

    def box(artist):
        return artist.get_window_extent(renderer).expanded(0.98, 0.98)  # touching is not overlapping

    found = []
    legends = [lg for lg in [fig.legends, *[[ax.get_legend()] for ax in fig.axes]] for lg in lg if lg is not None]
    for ax in fig.axes:
        if not ax.get_visible():
            continue
        labels = [t for t in ax.texts if t.get_visible() and t.get_text()]
        bars = [p for p in ax.patches if isinstance(p, Rectangle) and p.get_visible() and p.get_height() and p.get_width()]
        title = ax.title if ax.title.get_text() else None
        for i, a in enumerate(labels):
            for b in labels[i + 1:]:
                if box(a).overlaps(box(b)):
                    found.append(f"value labels {a.get_text()!r} and {b.get_text()!r} overlap")
            if title is not None and box(a).overlaps(box(title)):
                found.append(f"value label {a.get_text()!r} runs into the title")
        for legend in legends:
            area = box(legend)
            found += [f"the legend covers a bar in {ax.get_title()!r}" for p in bars[:1] if any(area.overlaps(box(q)) for q in bars)]
            found += [f"the legend covers the value label {t.get_text()!r}" for t in labels if area.overlaps(box(t))]
            if title is not None and area.overlaps(box(title)):
                found.append(f"the legend covers the title {title.get_text()!r}")
    return list(dict.fromkeys(found))


def figure_png(fig) -> bytes:
    """The figure as PNG bytes; raise ChartError if a character would be drawn as a box or text drawn over text."""
    from PIL import Image

    canvas = _agg(fig)
    if fig.dpi != DPI:
        fig.set_dpi(DPI)
    buffer = io.BytesIO()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        # Drawn once, laid out then: the overlap check reads that drawing, and the PNG is its pixels (savefig would
        # lay it out and draw it twice more).
        canvas.draw()
        image = Image.frombuffer("RGBA", canvas.get_width_height(), canvas.buffer_rgba(), "raw", "RGBA", 0, 1)
        if image.getchannel("A").getextrema() == (255, 255):
            image = image.convert("RGB")  # opaque, as charts are: a tenth smaller, and encoded in half the time
        image.save(buffer, format="png", compress_level=3, dpi=(DPI, DPI))
    missing = sorted({str(w.message) for w in caught if "missing from" in str(w.message)})
    if missing:
        raise ChartError(
            "A chart uses characters its font cannot draw (they would print as boxes): "
            + "; ".join(missing)
            + ". Install a fuller Chinese font (see README, 'Fonts')."
        )
    drawn_over = overlaps(fig, drawn=True)
    if drawn_over:
        raise ChartError(f"A chart would be drawn with text over text or data ({fig.alt.split('。')[0] if hasattr(fig, 'alt') else 'chart'}): "
                         + "; ".join(drawn_over))
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

"""Charts draw Chinese with a real font, and refuse to print boxes."""

import pandas as pd
import pytest

from annual_review.notebook import charts
from annual_review.core.exceptions import ChartError
from annual_review.core.fonts import find_cjk_font


def test_a_chinese_font_is_found():
    font = find_cjk_font()
    assert font is not None and font.path.is_file()


def test_chart_draws_chinese_and_describes_itself():
    table = pd.DataFrame({"组织层级": ["区级", "镇街级"], "次数": [3, 24]})
    fig = charts.bar_chart(table, x="组织层级", y="次数", title="治理行动次数", value_label="行动次数", unit="次", source="登记表")
    png = charts.figure_png(fig)
    assert png.startswith(b"\x89PNG")
    assert fig.alt == "治理行动次数。区级：3次；镇街级：24次。"


def test_a_character_no_font_can_draw_fails_instead_of_printing_a_box():
    table = pd.DataFrame({"x": ["\U00013000"], "y": [1]})  # an Egyptian hieroglyph: in no CJK or Latin font here
    fig = charts.bar_chart(table, x="x", y="y", title="t", value_label="v", unit="")
    with pytest.raises(ChartError, match="would print as boxes"):
        charts.figure_png(fig)


def test_a_missing_column_is_named():
    with pytest.raises(ChartError, match=r"no column \['count'\]"):
        charts.bar_chart(pd.DataFrame({"a": [1]}), x="a", y="count", title="t", value_label="v", unit="")


def _history():
    return pd.DataFrame({
        "year": [2019, 2020, 2021, 2020, 2021],
        "indicator": ["批准数", "批准数", "批准数", "承诺书", "承诺书"],
        "value": [26, 29, 23, 8, 12],
        "unit": ["所", "所", "所", "份", "份"],
    })


def test_trend_chart_has_a_panel_per_indicator_and_says_every_value():
    fig = charts.trend_chart(_history(), title="主要指标历年变化", highlight=2021, source="主要指标汇总")
    assert charts.figure_png(fig).startswith(b"\x89PNG")
    assert len([ax for ax in fig.axes if ax.get_visible()]) == 2
    # A year without the indicator gets no bar value in words (not "0").
    assert fig.alt == "主要指标历年变化。批准数：2019年26所，2020年29所，2021年23所；承诺书：2020年8份，2021年12份。"


def _money(monkeypatch, rule: str) -> None:
    """The document's money rule, as a build tells its kernels."""
    import json

    from annual_review.core.context import CONTEXT_ENV

    monkeypatch.setenv(CONTEXT_ENV, json.dumps({"body": "", "params": {}, "money": rule}))


def test_trend_chart_writes_money_by_the_documents_rule(monkeypatch):
    history = pd.DataFrame({"year": [2020, 2021], "indicator": ["资助金额"] * 2, "value": [697530, 731200], "unit": ["元"] * 2})
    _money(monkeypatch, "元")
    fig = charts.trend_chart(history, title="t")
    assert "2020年697,530元，2021年731,200元" in fig.alt
    assert [t.get_text() for t in fig.axes[0].texts] == ["697,530", "731,200"]
    assert fig.axes[0].get_title() == "资助金额（元）"
    _money(monkeypatch, "万元")
    fig = charts.trend_chart(history, title="t")
    assert "2020年69.75万元，2021年73.12万元" in fig.alt  # 69.753 → two places
    assert [t.get_text() for t in fig.axes[0].texts] == ["69.75", "73.12"]  # the panel says 万元: the bars say 69.75
    assert fig.axes[0].get_title() == "资助金额（万元）"


def test_trend_chart_writes_other_large_figures_in_wan():
    history = pd.DataFrame({"year": [2020, 2021], "indicator": ["出动"] * 2, "value": [123456, 98765], "unit": ["人次"] * 2})
    fig = charts.trend_chart(history, title="t")
    assert [t.get_text() for t in fig.axes[0].texts] == ["12.35万", "9.88万"]


def test_bar_chart_money_axis_matches_its_figures(monkeypatch):
    table = pd.DataFrame({"学期": ["春季", "秋季"], "金额": [369281, 328249]})
    _money(monkeypatch, "万元")
    fig = charts.bar_chart(table, x="学期", y="金额", title="资助金额", value_label="资助金额", unit="元")
    assert fig.axes[0].get_ylabel() == "资助金额（万元）"
    assert [t.get_text() for t in fig.axes[0].texts] == ["36.93", "32.82"]
    assert fig.axes[0].patches[0].get_height() == pytest.approx(36.9281)
    assert fig.alt == "资助金额。春季：36.93万元；秋季：32.82万元。"


def test_a_category_keeps_its_colour_whatever_the_charts_order():
    levels = pd.CategoricalDtype(["区级", "镇街级"])
    first = pd.DataFrame({"月": ["1月", "1月"], "层级": pd.Series(["区级", "镇街级"], dtype=levels), "次": [1, 2]})
    second = pd.DataFrame({"月": ["2月", "2月"], "层级": pd.Series(["镇街级", "区级"], dtype=levels), "次": [3, 4]})

    def colour_of(fig, name):
        legend = fig.legends[0]
        return next(h.get_facecolor() for h, t in zip(legend.legend_handles, legend.get_texts()) if t.get_text() == name)

    figs = [charts.bar_chart(t, x="月", y="次", group="层级", title="t", value_label="次", unit="次") for t in (first, second)]
    assert colour_of(figs[0], "区级") == colour_of(figs[1], "区级") != colour_of(figs[0], "镇街级")
    assert colour_of(figs[0], "镇街级") == colour_of(figs[1], "镇街级")


def test_a_month_axis_shows_every_month_and_zero_as_zero():
    months = pd.CategoricalDtype([f"{m}月" for m in range(1, 13)], ordered=True)
    table = pd.DataFrame({"月": pd.Series(["1月", "4月", "5月"], dtype=months), "次": [2, 1, 3]})
    fig = charts.bar_chart(table, x="月", y="次", title="各月次数", value_label="次数", unit="次")
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["1月", "2月", "3月", "4月", "5月"]
    assert [t.get_text() for t in fig.axes[0].texts] == ["2", "0", "0", "1", "3"]  # zero is 0, never left blank
    assert fig.alt == "各月次数。1月：2次；2月：0次；3月：0次；4月：1次；5月：3次。"


def test_trend_chart_colours_the_report_year_apart_from_the_palette():
    fig = charts.trend_chart(_history(), title="t", indicators=["批准数"], highlight=2021)
    bars = fig.axes[0].patches
    colours = [bar.get_facecolor() for bar in bars]
    assert colours[0] == colours[1] != colours[2]  # 2019 and 2020 alike, 2021 stands out


def test_trend_chart_names_what_is_missing():
    with pytest.raises(ChartError, match="no rows for any of"):
        charts.trend_chart(_history(), title="t", indicators=["不存在的指标"])
    with pytest.raises(ChartError, match=r"no column \['unit'\]"):
        charts.trend_chart(_history().drop(columns="unit"), title="t")

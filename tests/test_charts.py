"""Charts draw Chinese with a real font, and refuse to print boxes."""

import pandas as pd
import pytest

from annual_review import charts
from annual_review.exceptions import ChartError
from annual_review.fonts import find_cjk_font


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


def test_trend_chart_writes_large_values_in_wan():
    history = pd.DataFrame({"year": [2020, 2021], "indicator": ["资助金额"] * 2, "value": [697530, 731200], "unit": ["元"] * 2})
    fig = charts.trend_chart(history, title="t")
    assert "2020年69.75万元，2021年73.12万元" in fig.alt
    labels = [t.get_text() for t in fig.axes[0].texts]
    assert labels == ["69.75万", "73.12万"]


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

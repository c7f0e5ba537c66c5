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

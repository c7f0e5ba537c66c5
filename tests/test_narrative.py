"""Narrative files: figures filled in from data, points numbered, nothing from data run as markup."""

import pandas as pd
import pytest

from annual_review.core.exceptions import NarrativeError
from annual_review.notebook.narrative import number_points, render_text, to_html


def test_placeholders_take_figures_and_phrasing_filters():
    text = "全年资助{{ aided | more(100) }}人次,资助资金共{{ paid | nearly(100000, '万') }}元。"
    assert render_text(text, {"aided": 2618, "paid": 697530}).strip() == "全年资助2600多人次,资助资金共近70万元。"


def test_each_phrases_every_row_of_a_table_in_order():
    approvals = pd.DataFrame({"count": [1, 17], "school_type": ["民办幼儿园", "民办教育培训机构"], "stage": ["筹设", "设立"]})
    text = '审批了{{ approvals | each("{count}所{school_type}{stage}", ",") }}。'
    assert render_text(text, {"approvals": approvals}).strip() == "审批了1所民办幼儿园筹设,17所民办教育培训机构设立。"


def test_a_missing_figure_names_the_file_line_and_placeholder():
    with pytest.raises(NarrativeError) as caught:
        render_text("第一行\n共{{ inspections }}次", {"year": 2020}, source="data/2020/narrative/x.md")
    message = str(caught.value)
    assert "data/2020/narrative/x.md" in message and "line 2" in message and "inspections" in message


def test_a_broken_placeholder_names_the_file_and_line():
    with pytest.raises(NarrativeError, match=r"x\.md, line 1"):
        render_text("共{{ inspections 次", {}, source="x.md")


def test_points_are_numbered_one_shi_two_shi_and_restart_after_other_text():
    markdown = "引言。\n\n1. 甲。\n2. 乙。\n\n另一段。\n\n1. 丙。\n"
    lines = [line for line in number_points(markdown).splitlines() if line]
    assert lines == ["引言。", "一是甲。", "二是乙。", "另一段。", "一是丙。"]


def test_headings_are_marked_with_their_depth_for_the_report_to_number():
    html = to_html("# 甲方面。\n\n正文。\n\n## 乙\n")
    assert 'data-depth="1"' in html and "甲方面。" in html and 'data-depth="2"' in html


def test_markup_in_data_or_narrative_is_shown_as_text():
    html = to_html(render_text("{{ name }} and <b>粗体</b>", {"name": "<script>alert(1)</script>"}))
    assert "<script>" not in html and "<b>" not in html
    assert "&lt;script&gt;" in html and "&lt;b&gt;" in html


def test_html_that_would_fetch_something_is_refused_in_a_narrative():
    with pytest.raises(NarrativeError, match="an HTML tag that would fetch or link"):
        render_text("看 <img src=x onerror=alert(1)>", {})


def test_table_cells_from_data_are_shown_as_text():
    from annual_review.notebook.elements import table_html

    table = pd.DataFrame({"单位": ['<script>alert(1)</script>', '<img src=x onerror="alert(2)">'], "次数": [1, 2]})
    html = table_html(table, caption="<b>标题</b>")
    assert "<script" not in html and "<img" not in html and "<b>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "&lt;img src=x onerror=&quot;alert(2)&quot;&gt;" in html

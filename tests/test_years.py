"""Several years side by side (issue #6): 2019, 2020 and 2021 built together and read against each other.

Every expected phrase is worked out by hand from the totals the registers hold
(data/README.md lists them): 2019 is the first year, so it compares with nothing;
2020 is compared with 2019 and 2021 with 2020.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from conftest import run_cli, squash, visible_text


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("years")
    result = run_cli("build", "--all", "--format", "html", "--output-dir", str(out))
    assert result.returncode == 0, result.stdout + result.stderr
    html = {year: (out / str(year) / "report.html").read_text(encoding="utf-8") for year in (2019, 2020, 2021)}
    return {"html": html, "text": {year: squash(visible_text(page)) for year, page in html.items()}, "stdout": result.stdout}


class _Tables(HTMLParser):
    """Each table's caption and rows of cell texts; each image's alt text."""

    def __init__(self):
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.alts: list[str] = []
        self.current = ""  # the caption of the table being read
        self._caption = self._row = self._cell = None

    def handle_starttag(self, tag, attrs):
        if tag == "caption":
            self._caption = ""
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._cell = ""
        elif tag == "img":
            self.alts.append(dict(attrs).get("alt") or "")

    def handle_endtag(self, tag):
        if tag == "caption":
            self.current = self._caption.strip()
            self.tables[self.current] = []
            self._caption = None
        elif tag in ("td", "th"):
            self._row.append(self._cell.strip())
            self._cell = None
        elif tag == "tr":
            self.tables[self.current].append(self._row)

    def handle_data(self, data):
        if self._caption is not None:
            self._caption += data
        if self._cell is not None:
            self._cell += data


def tables(html: str) -> _Tables:
    parser = _Tables()
    parser.feed(html)
    return parser


# The 2021 narrative's year-over-year phrases, each worked out from 2021's and 2020's totals.
PHRASES_2021 = [
    "共23所，较上年减少6所、下降20.7%",  # approvals 23 against 29: 6 / 29 = 20.69%
    "全年资助幼儿2700多人次，较上年增加132人次、增长5%",  # 2750 against 2618: 132 / 2618 = 5.04%
    "发放资助资金73万余元，较上年增加33,670元、增长4.8%",  # 731200 against 697530: 33670 / 697530 = 4.83%; money in 元 with separators
    "为424名大学生办理了生源地信用助学贷款，与上年持平",  # 424 both years
    "全区开展常态化治理行动4次，较上年增加1次、增长33.3%",  # 4 against 3
    "各镇（街）开展常态化管理行动30次，较上年增加6次、增长25%",  # 30 against 24
    "累计出动182人次，较上年增加26人次、增长16.7%",  # 182 against 156: 26 / 156 = 16.67%
    "发出责令整改通知书3份，较上年减少2份、下降40%",  # 3 against 5
    "承诺书》12份，较上年增加4份、增长50%",  # 12 against 8
]


@pytest.mark.parametrize("phrase", PHRASES_2021)
def test_2021_reads_each_figure_against_2020(built, phrase):
    assert phrase in built["text"][2021]


def test_2021_compares_in_tables_too(built):
    found = tables(built["html"][2021]).tables
    assert found["2021年民办学校行政许可与上年比较"] == [
        ["项目", "2021年", "2020年", "较上年"],
        ["批准民办学校筹设（所）", "1", "2", "减少1所、下降50%"],  # 1 + 1 筹设 in 2020
        ["批准民办学校设立（所）", "22", "27", "减少5所、下降18.5%"],  # 5 / 27 = 18.52%
        ["合计（所）", "23", "29", "减少6所、下降20.7%"],
    ]


def test_2020_is_compared_with_2019_including_a_figure_2019_did_not_keep(built):
    found = tables(built["html"][2020]).tables
    rows = {row[0]: row[1:] for row in found["2020年校外培训机构治理与上年比较"][1:]}
    assert rows["责令整改通知书（份）"] == ["5", "7", "减少2份、下降28.6%"]  # 2 / 7 = 28.57%
    # 2019 kept no pledges (its register has no such column; the form came in 2020): no figure, not 0, and no change.
    assert rows["规范培训业务承诺书（份）"] == ["8", "—", "—"]
    aid = {row[0]: row[1:] for row in found["2020年资助与助学贷款与上年比较"][1:]}
    assert aid["学前教育资助（人次）"] == ["2618", "2405", "增加213人次、增长8.9%"]  # 213 / 2405 = 8.86%
    assert aid["生源地信用助学贷款办理（人）"] == ["424", "398", "增加26人、增长6.5%"]  # 26 / 398 = 6.53%


def test_a_new_indicator_has_no_false_change(built):
    # 2019's key figures do not list the pledges (the form came in 2020): shown as "—", not as a change from 0.
    overview = {row[0]: row[1:] for row in tables(built["html"][2020]).tables["2020年主要指标"][1:]}
    assert overview["规范培训业务承诺书份数（份）"] == ["8", "—", "—"]
    assert overview["民办学校筹设设立批准数（所）"] == ["29", "26", "增加3所、增长11.5%"]  # 3 / 26 = 11.54%


def test_the_first_year_builds_without_any_comparison(built):
    text, found = built["text"][2019], tables(built["html"][2019])
    for word in ("较上年", "与上年", "持平", "2018年", "增长", "下降"):
        assert word not in text
    assert not [caption for caption in found.tables if "与上年比较" in caption]
    assert found.tables["2019年主要指标"][0] == ["项目", "2019年"]
    # Its narrative asks for a change in aid (the same template as later years); with no 2018 it says nothing.
    assert "全年资助幼儿2400多人次，发放资助资金65万余元" in text
    # No trend chart from a single year: only the three section charts.
    assert len(found.alts) == 3 and not any("历年" in alt for alt in found.alts)


# Which section table holds each headline figure, and where: (caption, row label, column).
SECTION_FIGURES = {
    "民办学校筹设设立批准数（所）": ("2021年民办学校行政许可审批情况", "合计", "批准数量（所）"),
    "学前教育资助人次": ("2021年学前教育资助情况", "合计", "资助人次"),  # its unit is its last word: said once
    "学前教育资助金额（元）": ("2021年学前教育资助情况", "合计", "资助金额（元）"),
    "助学贷款办理人数（人）": ("2021年生源地信用助学贷款办理情况", "合计", "办理人数"),
    "治理行动出动人次": ("2021年校外培训机构常态化治理行动情况", "合计", "出动人次"),
    "责令整改通知书份数（份）": ("2021年校外培训机构常态化治理行动情况", "合计", "责令整改通知书（份）"),
    "规范培训业务承诺书份数（份）": ("2021年校外培训机构常态化治理行动情况", "合计", "承诺书（份）"),
}


def test_the_overview_agrees_with_the_sections(built):
    found = tables(built["html"][2021]).tables
    overview = {row[0]: row[1:] for row in found["2021年主要指标"][1:]}
    assert list(overview) == list(SECTION_FIGURES)  # the headline indicators report.yml names, in its order
    for indicator, (caption, row_label, column) in SECTION_FIGURES.items():
        header, *rows = found[caption]
        row = next(r for r in rows if r[0] == row_label)
        assert overview[indicator][0] == row[header.index(column)], indicator


def test_the_overview_figures_are_this_year_and_last(built):
    overview = {row[0]: row[1:] for row in tables(built["html"][2021]).tables["2021年主要指标"][1:]}
    assert overview["学前教育资助金额（元）"] == ["731,200", "697,530", "增加33,670元、增长4.8%"]
    assert overview["助学贷款办理人数（人）"] == ["424", "424", "持平"]


def test_trend_chart_covers_every_year_with_alt_text(built):
    alts = tables(built["html"][2021]).alts
    trend = [alt for alt in alts if alt.startswith("主要指标历年变化")]
    assert len(trend) == 1
    assert "民办学校筹设设立批准数：2019年26所，2020年29所，2021年23所" in trend[0]
    assert "学前教育资助金额：2019年652,300元，2020年697,530元，2021年731,200元" in trend[0]
    assert "规范培训业务承诺书份数：2020年8份，2021年12份" in trend[0]  # no bar made up for 2019


def test_the_overview_comes_first_without_a_number(built):
    text = built["text"][2021]
    body = text.index("一、主要工作措施和成效。（一）加强党对法治政府建设的领导。一是")  # the part itself, not the contents
    assert text.index("主要指标2021年主要指标") < body
    assert not re.search(r"[一二三四五六七八九十]、主要指标", text)


def test_2021_follows_up_2020s_next_steps(built):
    text = built["text"][2021]
    assert "二、上年度工作措施落实情况" in text and "三、主要存在问题。" in text
    assert "2020年度报告确定的下一阶段工作措施共6项，其中已完成3项，正在推进2项，尚未启动1项。" in text
    follow_up = tables(built["html"][2021]).tables["2020年度报告所列下一阶段工作措施落实情况"]
    assert [row[0] for row in follow_up[1:]][0] == "加强行政问责规范化、制度化建设。"  # 2020's first next step
    assert len(follow_up) == 1 + 6


def test_the_build_says_which_parts_a_year_leaves_out(built):
    # 2019 and 2020 keep no follow-up list (the published 2020 report has no such part); 2021 does.
    for year in (2019, 2020):
        assert f"Left out for {year}: '上年度工作措施落实情况' (its table 'follow_up' has no rows)" in built["stdout"]
    assert "Left out for 2021" not in built["stdout"]
    assert "上年度工作措施落实情况" not in built["text"][2020]


def test_each_report_says_which_years_data_are_illustrative(built):
    footer = {year: squash(visible_text(page.split('<footer', 1)[1])) for year, page in built["html"].items()}
    assert "2019年数据为示例数据" in footer[2019] and "2020年" not in footer[2019]
    assert "2020年的合计数取自该局已公开发布的2020年度报告" in footer[2020]
    assert "2019年数据为示例数据" in footer[2020]  # 2020 is compared with it
    assert "2021年数据为示例数据" in footer[2021] and "2019年数据为示例数据" in footer[2021]  # the trend reads 2019


def test_comparison_table_without_a_previous_year_keeps_only_this_year():
    from annual_review.notebook.elements import comparison_table

    table = comparison_table([("批准", "所", 26, None), ("资助", "人次", 2405, None)], 2019)
    assert list(table.columns) == ["项目", "2019年"]
    assert table.values.tolist() == [["批准（所）", 26], ["资助（人次）", 2405]]


def test_comparison_table_marks_a_new_indicator_and_a_zero_base():
    from annual_review.notebook.elements import comparison_table

    from annual_review.notebook.elements import table_html

    table = comparison_table([("承诺书", "份", 8, None), ("整改通知书", "份", 5, 7), ("新表", "份", 3, 0)], 2020)
    shown = tables(table_html(table, caption="比较")).tables["比较"]
    assert shown[1:] == [
        ["承诺书（份）", "8", "—", "—"],  # no figure last year: "—", never 0, and no change
        ["整改通知书（份）", "5", "7", "减少2份、下降28.6%"],
        ["新表（份）", "3", "0", "增加3份"],  # zero last year: 0, and a change without a rate
    ]


def test_a_bad_earlier_year_is_refused_before_any_section_runs(tmp_path):
    """The 2020 report reads 2019's registers: a mistake there stops the build as one in 2020 would."""
    import shutil

    from conftest import CONFIG, DATA, NOTEBOOKS

    shutil.copytree(DATA, tmp_path / "data")
    shutil.copytree(NOTEBOOKS, tmp_path / "notebooks")
    shutil.copy(CONFIG, tmp_path / "report.yml")
    loans = tmp_path / "data" / "2019" / "student_loans.csv"
    rows = loans.read_text(encoding="utf-8").splitlines()
    rows[3] = rows[3].rsplit(",", 1)[0] + ",八千"  # spreadsheet row 4: a number written in words
    loans.write_text("\n".join(rows) + "\n", encoding="utf-8")
    result = run_cli("build", "--year", "2020", "--format", "html", "--output-dir", str(tmp_path / "out"), cwd=tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "student_loans.csv" in result.stderr and "2019" in result.stderr and "八千" in result.stderr
    assert "row 4" in result.stderr or "第4行" in result.stderr
    assert not (tmp_path / "out" / "2020" / "sections").exists()  # no section ran
    # Mistakes in the report year and in the year before are listed together.
    (tmp_path / "data" / "2020" / "key_figures.csv").write_text("indicator,value,unit\n民办学校筹设设立批准数,-1,所\n", encoding="utf-8")
    result = run_cli("build", "--year", "2020", "--format", "html", "--output-dir", str(tmp_path / "out"), cwd=tmp_path)
    assert result.returncode == 2
    assert "data/2020 (发现" in result.stderr and "data/2019 (发现" in result.stderr

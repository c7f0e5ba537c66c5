"""Registers as offices shape them, second pass (issue #19): subtotal and total rows however they are labelled,
headers of two rows, a row of units, a sign-off line, other CSV separators, sheet names with stray spaces — each read
to the published figures (2618 children aided with 697,530 元) or refused naming the real cause.

The subtotal rows are written the way a clerk fills them in: the block's sum under each column, the category cells
filled in too (which is what made a reader count them as data before).
"""

from __future__ import annotations

import re

import csv
import io

import openpyxl
import pytest

from conftest import DATA
from test_inputs import data_dir, validate  # noqa: F401 - the same fixture and command as the bad-input corpus
from test_registers import AID, aid_read_whole, folder

YEAR = 2020


def aid_rows() -> list[list[str]]:
    """The shipped register's header and rows, sorted by term (spring first) as an office sorts it."""
    rows = list(csv.reader(io.StringIO((DATA / "2020" / "preschool_aid.csv").read_text(encoding="utf-8"))))
    return [rows[0], *sorted(rows[1:], key=lambda r: r[1] != "春季学期")]


def block_sum(rows: list[list[str]]) -> list[str]:
    return [str(sum(int(r[3]) for r in rows)), str(sum(int(r[4]) for r in rows))]


def with_totals(shape: str) -> list[list[str]]:
    """The register with subtotal or total rows as ``shape`` places and labels them."""
    header, *rows = aid_rows()
    spring = [r for r in rows if r[1] == "春季学期"]
    autumn = [r for r in rows if r[1] == "秋季学期"]
    if shape == "term subtotals and a total":  # categories filled in: a careless reader counts these rows as data
        return [header, *spring, ["春季学期小计", "春季学期", "持有相关证件家庭的幼儿", *block_sum(spring)],
                *autumn, ["秋季学期小计", "秋季学期", "贫困家庭的幼儿", *block_sum(autumn)],
                ["合计", "", "", *block_sum(rows)]]
    if shape == "全年合计":
        return [header, *rows, ["全年合计", "", "", *block_sum(rows)]]
    if shape == "本页小计 every 20 rows":
        out = [header]
        for start in range(0, len(rows), 20):
            page = rows[start:start + 20]
            out += [*page, ["本页小计", "", "", *block_sum(page)]]
        return out + [["总计", "", "", *block_sum(rows)]]
    if shape == "合计 first under the header":  # as statistical tables lay it out
        return [header, ["合计", "", "", *block_sum(rows)], *rows]
    raise ValueError(shape)


def write(data_dir, rows: list[list[str]], form: str, *, separator: str = ",") -> None:
    """The register as a CSV file, or as a sheet of the year's workbook (numbers as numbers)."""
    path = folder(data_dir) / "preschool_aid.csv"
    if form == "csv":
        buffer = io.StringIO()
        csv.writer(buffer, delimiter=separator, lineterminator="\n").writerows(rows)
        path.write_text(buffer.getvalue(), encoding="utf-8")
        return
    path.unlink()
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = AID
    for row in rows:
        sheet.append([int(v) if v.isdigit() else v for v in row])
    book.save(folder(data_dir) / "tables.xlsx")


# Each shape's rows left out, with the rows each adds up, as the spreadsheet numbers them (the header is row 1; 24
# spring rows, then 24 autumn rows).
SHAPES = {
    "term subtotals and a total": ["row 26 (春季学期小计, a 小计) equals the sum of rows 2–25",
                                   "row 51 (秋季学期小计, a 小计) equals the sum of rows 27–50",
                                   "row 52 (合计) equals the sum of rows 2–25, 27–50"],
    "全年合计": ["row 50 (全年合计, a 合计) equals the sum of rows 2–49"],
    "本页小计 every 20 rows": ["row 22 (本页小计, a 小计) equals the sum of rows 2–21",
                           "row 43 (本页小计, a 小计) equals the sum of rows 23–42",
                           "row 52 (本页小计, a 小计) equals the sum of rows 44–51",
                           "row 53 (总计, a 合计) equals the sum of rows 2–21, 23–42, 44–51"],
    "合计 first under the header": ["row 2 (合计) equals the sum of rows 3–50"],
}


@pytest.mark.parametrize("form", ["csv", "xlsx"])
@pytest.mark.parametrize("shape", list(SHAPES))
def test_subtotal_and_total_rows_however_labelled_are_checked_and_left_out(data_dir, capsys, shape, form):
    write(data_dir, with_totals(shape), form)
    output = aid_read_whole(data_dir, capsys)  # 2618 and 697,530: not 5236 and 1,395,060
    for note in SHAPES[shape]:
        assert f"{note}; left out of the data" in output, note


def test_a_subtotal_with_a_wrong_figure_is_refused_naming_the_rows_it_adds_and_itself(data_dir, capsys):
    rows = with_totals("term subtotals and a total")
    rows[25][3] = "1300"  # 春季学期小计: the spring rows (spreadsheet rows 2–25) add up to 1260
    assert rows[25][0] == "春季学期小计"
    write(data_dir, rows, "csv")
    code, output = validate(data_dir, capsys)
    assert code == 2
    assert ("preschool_aid.csv, row 26, column D「children」资助人次: '1300': 小计行与所加各行之和不符："
            "第26行“春季学期小计”为 1300，而第2–25行（24行数据）之和为 1260") in output
    assert "taken as the subtotal: row 26 '春季学期小计'; added: rows 2–25" in output
    # The 合计 (row 52) still adds up: 2618 over the data rows, the subtotal rows left out of it.
    assert "row 52" not in output.split("note:")[0]


def test_a_total_under_the_header_is_checked_against_the_rows_below(data_dir, capsys):
    rows = with_totals("合计 first under the header")
    rows[1][3] = "2600"
    write(data_dir, rows, "csv")
    code, output = validate(data_dir, capsys)
    assert code == 2
    assert "第2行“合计”为 2600，而第3–50行（48行数据）之和为 2618" in output  # not "no rows 之和为 0"


def test_a_two_row_header_with_merged_groups_is_read(data_dir, capsys):
    header, *rows = aid_rows()
    write(data_dir, [["幼儿园", "学期", "资助对象类别", "资助情况", ""], ["", "", "", "人次", "金额"], *rows], "xlsx")
    path = folder(data_dir) / "tables.xlsx"
    book = openpyxl.load_workbook(path)
    sheet = book[AID]
    for cells in ("D1:E1", "A1:A2", "B1:B2", "C1:C2"):
        sheet.merge_cells(cells)
    book.save(path)
    output = aid_read_whole(data_dir, capsys)
    assert "rows 1–2 are a two-row header; its columns are named by row 2, grouped under 资助情况" in output


def test_a_units_row_is_checked_against_the_declared_units(data_dir, capsys):
    header, *rows = aid_rows()
    write(data_dir, [header, ["", "", "", "（人次）", "（元）"], *rows], "csv")
    output = aid_read_whole(data_dir, capsys)
    assert "row 2 gives the columns' units (（人次） （元）); they agree with tables.yml; left out of the data" in output
    write(data_dir, [header, ["", "", "", "（人次）", "（万元）"], *rows], "csv")
    code, output = validate(data_dir, capsys)
    assert code == 2
    assert "preschool_aid.csv, row 2, column E「amount_yuan」: '（万元）': 单位与声明不符：应为“元”" in output
    assert "the units row says 万元, but tables.yml declares 元" in output


def test_a_sign_off_line_is_noted_and_left_out(data_dir, capsys):
    header, *rows = aid_rows()
    write(data_dir, [header, *rows, ["填表人：王某", "", "审核人：李某", "", "填报日期：2021年1月5日"]], "xlsx")
    output = aid_read_whole(data_dir, capsys)
    assert "row 50 is a sign-off line (填表人…); left out of the data" in output
    assert "王某" not in output  # a name stays in the register, never in the build's output


@pytest.mark.parametrize("separator, said", [(";", "semicolon"), ("\t", "tab")])
def test_semicolon_and_tab_separated_files_are_read_and_said(data_dir, capsys, separator, said):
    write(data_dir, aid_rows(), "csv", separator=separator)
    output = aid_read_whole(data_dir, capsys)
    assert f"preschool_aid.csv: read as {said}-separated" in output


@pytest.mark.parametrize("name", [AID + " ", "\u3000" + AID, AID.replace("资助", "资助\u3000")])
def test_a_sheet_name_with_spaces_of_any_width_is_found_and_said(data_dir, capsys, name):
    write(data_dir, aid_rows(), "xlsx")
    path = folder(data_dir) / "tables.xlsx"
    book = openpyxl.load_workbook(path)
    book[AID].title = name
    book.save(path)
    output = aid_read_whole(data_dir, capsys)
    assert f"sheet {name!r} read as table 'preschool_aid' ({AID}); its name has spaces around or inside it" in output


def test_a_value_under_a_blank_header_is_refused(data_dir, capsys):
    header, *rows = aid_rows()
    write(data_dir, [[*header, ""], *[[*r, "已核"] if i == 3 else [*r, ""] for i, r in enumerate(rows)]], "csv")
    code, output = validate(data_dir, capsys)
    assert code == 2
    assert "preschool_aid.csv, row 5, column F: '已核': 此列没有列名" in output


def test_rules_may_name_columns_by_label_with_the_clerks_signs(data_dir, capsys):
    declarations = data_dir / "tables.yml"
    declarations.write_text(declarations.read_text(encoding="utf-8").replace(
        "  tutoring_inspections:\n", "  tutoring_inspections:\n    rules: ['责令整改通知书 + 规范培训业务承诺书 ≤ 出动人次', '出动人次 ≥ 1']\n"),
        encoding="utf-8")
    assert validate(data_dir, capsys)[0] == 0
    path = folder(data_dir) / "tutoring_inspections.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    fields = lines[2].split(",")  # row 3: ZL2020-02, 12 deployed
    fields[5] = "20"
    lines[2] = ",".join(fields)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    code, output = validate(data_dir, capsys)
    assert code == 2
    assert ("tutoring_inspections.csv, row 3: 责令整改通知书 = 20，规范培训业务承诺书 = 1，出动人次 = 12："
            "不满足规则 责令整改通知书 + 规范培训业务承诺书 ≤ 出动人次") in output


# --- shares, in the report's words ---------------------------------------------------------------------------

@pytest.mark.parametrize("part, whole, shown", [(1, 8, "12.5%"), (2999, 3000, "99.9%"), (3000, 3000, "100%"),
                                                (1, 3000, "0.03%"), (0, 5, "0%"), (424, 424, "100%")])
def test_a_share_is_written_as_reports_write_it(part, whole, shown):
    import annual_review as ar

    assert str(ar.rate(part, whole)) == shown


def test_a_share_past_its_whole_or_negative_is_refused_and_a_zero_base_said_in_words():
    import annual_review as ar

    with pytest.raises(ValueError, match=r"the part \(1024\) is more than the whole \(1000\)"):
        ar.rate(1024, 1000)
    assert str(ar.rate(1024, 1000, may_exceed=True)) == "102.4%"
    with pytest.raises(ValueError, match="a share cannot be negative"):
        ar.rate(-2, 100)
    nothing = ar.rate(0, 0)
    assert str(nothing) == "" and "the whole is 0" in nothing.note
    assert str(ar.rate(0, 0, zero="无可比基数")) == "无可比基数"


def test_a_share_of_two_figures_says_its_change_in_percentage_points():
    import annual_review as ar

    # District actions among all actions: 2021 4 of 34 (11.8%), 2020 3 of 27 (11.1%): up 0.65 points, written 0.7.
    district = ar.figure(DATA, 2021, "tutoring_inspections", where={"organiser_level": "区级"}, unit="次")
    every = ar.figure(DATA, 2021, "tutoring_inspections", unit="次")
    share = ar.rate(district, every)
    assert str(share) == "11.8%" and share.change == "较上年提高0.7个百分点"
    from annual_review.notebook.narrative import render_text

    text = render_text("区级行动占{{ district | rate(every) }}{{ district | rate(every) | change }}。",
                       {"district": district, "every": every})
    assert text.strip() == "区级行动占11.8%较上年提高0.7个百分点。"


def test_a_narratives_zero_base_is_a_note_for_the_build_not_an_error(tmp_path):
    from annual_review.notebook.narrative import render_narrative

    (tmp_path / "2021" / "narrative").mkdir(parents=True)
    (tmp_path / "2021" / "narrative" / "x.md").write_text("网办率{{ online | rate(all, zero='无') }}。\n", encoding="utf-8")
    notes: list[str] = []
    html = render_narrative(tmp_path, 2021, "x", {"online": 0, "all": 0}, notes)
    assert "网办率无。" in html
    assert len(notes) == 1 and "x.md: rate: the whole is 0" in notes[0]


def test_an_empty_optional_cell_is_shown_empty_and_no_figure_as_a_dash():
    import pandas as pd

    from annual_review.notebook.elements import table_html

    follow_up = pd.DataFrame({"item": ["加强培训"], "status": ["推进中"], "progress": [None]})
    markup = table_html(follow_up, caption="落实情况")
    assert "None" not in markup and "nan" not in markup and '<td class="ar-text"></td>' in markup
    figures = pd.DataFrame({"项目": ["承诺书", "通知书"], "数量": [float("nan"), 0.0]})
    markup = table_html(figures, caption="数量")
    assert '<td class="ar-num">—</td>' in markup and '<td class="ar-num">0</td>' in markup


def test_a_year_that_kept_no_figure_is_attributed_to_no_register():
    """Issue #22: in a comparison table the "—" of a year without the figure has no source (it once borrowed the
    row's, this year's register)."""
    from annual_review.core import provenance
    from annual_review.notebook.elements import comparison_table, table_html

    loans = provenance.figure(424, "生源地信用助学贷款办理登记 2021，共424行")
    aid = provenance.figure(2618, "学前教育资助发放登记 2021，资助人次合计，共48行")
    table = comparison_table([("助学贷款办理人数", "人", loans, None),
                              ("学前教育资助人次", "人次", aid, provenance.figure(2500, "学前教育资助发放登记 2020，共45行"))],
                             2021)
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", table_html(table, caption="主要指标"))[1:]
    cells = re.findall(r"<td[^>]*>.*?</td>", rows[0])
    assert 'data-source="生源地信用助学贷款办理登记 2021，共424行">424</td>' in cells[1]
    assert cells[2].endswith(">—</td>") and "data-source" not in cells[2]  # 2020: no figure, no register
    assert cells[3].endswith(">—</td>") and "data-source" not in cells[3]  # nor the change it cannot show
    assert 'data-source="学前教育资助发放登记 2020，共45行">2500</td>' in rows[1]

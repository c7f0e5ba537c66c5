"""The data-entry workbook and the new-year scaffold, as staff would use them."""

import re
import shutil

import openpyxl
import pytest

from annual_review.registers import reading as data
from annual_review.apps.scaffold import plan_items
from annual_review.registers.schemas import table_specs
from conftest import CONFIG, DATA, NOTEBOOKS, copy_2020_data, run_cli, visible_text

YEAR = 2020


@pytest.fixture
def data_dir(tmp_path):
    return copy_2020_data(tmp_path / "data")


def test_template_has_a_sheet_per_table_with_notes_lists_and_formats(data_dir):
    for path in (data_dir / "2020").glob("*.csv"):
        path.unlink()
    result = run_cli("template", "--year", "2020", "--data-dir", str(data_dir))
    assert result.returncode == 0, result.stderr
    book = openpyxl.load_workbook(data_dir / "2020" / "tables.xlsx")
    assert book.sheetnames[0] == "填写说明"
    assert "annual-review validate --year 2020" in "".join(str(c.value) for c in book["填写说明"]["A"])
    sheet = book["校外培训机构常态化治理行动登记"]
    assert [c.value for c in sheet[1]] == ["行动编号", "行动日期", "组织层级", "组织单位", "出动人次", "责令整改通知书", "规范培训业务承诺书"]
    assert all(c.comment is not None for c in sheet[1])
    assert "人次" in sheet["E1"].comment.text and "示例" in sheet["E1"].comment.text
    rules = {str(v.sqref): v for v in sheet.data_validations.dataValidation}
    assert rules["C2:C5000"].type == "list"  # organiser_level: a drop-down of 区级 / 镇街级
    assert rules["B2:B5000"].type == "date" and "2020" in rules["B2:B5000"].formula1
    assert rules["E2:E5000"].type == "whole"
    assert sheet.column_dimensions["B"].number_format == "yyyy-mm-dd"
    lists = book["_lists"]
    assert lists.sheet_state == "hidden"
    assert "镇街级" in [c.value for col in lists.iter_cols() for c in col]


def test_template_never_overwrites(data_dir):
    (data_dir / "2020" / "tables.xlsx").write_bytes(b"earlier work")
    result = run_cli("template", "--year", "2020", "--data-dir", str(data_dir))
    assert result.returncode == 2 and "already exists" in result.stderr
    assert (data_dir / "2020" / "tables.xlsx").read_bytes() == b"earlier work"


def _report_body(html: str) -> str:
    return re.sub(r"生成时间：.*", "", visible_text(html))


def test_template_round_trip_filled_by_program_builds_the_same_report(tmp_path, built_2020):
    data_dir = tmp_path / "data"
    shutil.copytree(DATA, data_dir)  # every year: the 2020 report reads 2019's figures too
    values = {name: data.load_table(DATA, YEAR, name) for name in table_specs(DATA) if name != "follow_up"}
    for path in (data_dir / "2020").glob("*.csv"):
        path.unlink()
    assert run_cli("template", "--year", "2020", "--data-dir", str(data_dir)).returncode == 0
    # Fill it in as a clerk would: type each value into the cells under the header.
    path = data_dir / "2020" / "tables.xlsx"
    book = openpyxl.load_workbook(path)
    specs = table_specs(DATA)
    for name, table in values.items():
        sheet = book[specs[name].title]
        for i, record in enumerate(table.itertuples(index=False), 2):
            for j, value in enumerate(record, 1):
                sheet.cell(row=i, column=j, value=value.date() if hasattr(value, "date") else (value.item() if hasattr(value, "item") else value))
    book.save(path)

    assert run_cli("validate", "--year", "2020", "--data-dir", str(data_dir)).returncode == 0
    result = run_cli("build", "--year", "2020", "--data-dir", str(data_dir), "--output-dir", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    rebuilt = (tmp_path / "out" / "2020" / "report.html").read_text(encoding="utf-8")
    assert _report_body(rebuilt) == _report_body(built_2020["html"])


def test_plan_items_are_last_years_next_steps():
    items = plan_items((DATA / "2020" / "narrative" / "next-steps.md").read_text(encoding="utf-8"))
    # 三、下一阶段工作措施 lists six measures (一)…(六) in the 2020 report.
    assert len(items) == 6
    assert items[0] == "加强行政问责规范化、制度化建设。"
    assert items[-1] == "加强对工作人员的法治教育。"


def test_new_year_starts_from_last_year(data_dir):
    result = run_cli("new-year", "2021", "--data-dir", str(data_dir))
    assert result.returncode == 0, result.stderr
    folder = data_dir / "2021"
    assert (folder / "narrative" / "opening.md").read_text(encoding="utf-8") == (
        data_dir / "2020" / "narrative" / "opening.md"
    ).read_text(encoding="utf-8")
    assert (folder / "licence_decisions.csv").read_text(encoding="utf-8").strip() == (
        "decision_no,decided_on,applicant,school_type,stage,decision"
    )
    follow_up = (folder / "follow_up.csv").read_text(encoding="utf-8").splitlines()
    assert follow_up[0] == "item,status,progress" and len(follow_up) == 7
    # The statuses are for staff to fill in: until they do, validation says so, row by row.
    result = run_cli("validate", "--year", "2021", "--data-dir", str(data_dir))
    assert result.returncode == 2
    assert "follow_up.csv, row 2, column B「status」落实情况" in result.stderr and "已完成、推进中、未启动" in result.stderr
    # And it never overwrites a year that exists.
    again = run_cli("new-year", "2021", "--data-dir", str(data_dir))
    assert again.returncode == 2 and "already exists" in again.stderr


def test_the_new_years_report_reports_on_last_years_plans(tmp_path):
    """new-year 2021 → staff record what became of each 2020 measure → the 2021 report has a part on it."""
    project = tmp_path / "project"
    copy_2020_data(project / "data")
    shutil.copytree(NOTEBOOKS, project / "notebooks")
    shutil.copy(CONFIG, project / "report.yml")
    assert run_cli("new-year", "2021", cwd=project).returncode == 0
    for path in (project / "data" / "2020").glob("*.csv"):  # the registers: 2020's rows, dated 2021
        (project / "data" / "2021" / path.name).write_text(path.read_text(encoding="utf-8").replace("2020-", "2021-"), encoding="utf-8")
    follow_up = project / "data" / "2021" / "follow_up.csv"
    lines = follow_up.read_text(encoding="utf-8").splitlines()
    statuses = ["已完成", "推进中", "已完成", "未启动", "推进中", "已完成"]
    follow_up.write_text("\n".join([lines[0], *(f"{line[:-2]},{s},有进展" for line, s in zip(lines[1:], statuses))]) + "\n", encoding="utf-8")

    # Last year's words, carried over and untouched, and the provenance stub: a final build refuses each by name.
    refused = run_cli("build", "--year", "2021", cwd=project)
    assert refused.returncode == 2 and "Unfinished text; nothing was published" in refused.stderr
    narratives = [p for p in sorted((project / "data" / "2021" / "narrative").glob("*.md")) if p.stem != "follow-up"]
    for path in narratives:  # (follow-up.md is new: its draft sentence counts what the follow-up list says)
        assert f"{path.relative_to(project)}, line 1: carried over from 2020" in refused.stderr, path.name
    assert "data/2021/provenance.md, line 1: a stub still to fill in" in refused.stderr
    assert not (project / "outputs" / "2021").exists()
    # The author edits the opening, keeps the other parts' wording on purpose, and says where the figures come from.
    for path in narratives:
        text = path.read_text(encoding="utf-8")
        if path.stem == "opening":
            path.write_text("今年，" + text, encoding="utf-8")
        else:
            path.write_text("\n\n".join(p + " {# 保留 #}" for p in text.strip().split("\n\n")) + "\n", encoding="utf-8")
    (project / "data" / "2021" / "provenance.md").write_text("2021年数据取自本单位登记台账。\n", encoding="utf-8")

    result = run_cli("build", "--year", "2021", cwd=project)

    assert result.returncode == 0, result.stderr
    text = visible_text((project / "outputs" / "2021" / "report.html").read_text(encoding="utf-8"))
    assert "二、上年度工作措施落实情况" in text
    # Six measures in the 2020 report's 三、下一阶段工作措施; three marked done, two under way, one not started.
    assert "2020年度报告确定的下一阶段工作措施共6项，其中已完成3项，正在推进2项，尚未启动1项。" in text
    assert "三、主要存在问题" in text  # the parts after it renumber

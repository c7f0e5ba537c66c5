"""Any body, every year, from one config (issue #13): init, year-aware outlines, the 2019 rules checked, the figure API.

Expected values are written by hand: headings from the 2019 rules' wording with the year
in them, year-over-year phrases from the registers' totals (data/README.md), the rules'
deadline from the rules (before 1 April of the following year).
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import nbformat
import pandas as pd
import pytest

import annual_review as ar
from annual_review.build import rules
from annual_review.core.config import load_config
from annual_review.core.exceptions import AnnualReviewError, ConfigError, DataError
from annual_review.notebook.narrative import render_text
from conftest import CONFIG, DATA, NOTEBOOKS, REPO, run_cli, squash, visible_text

FIVE = ["一、2023年推进法治政府建设的主要举措和成效", "（一）行政执法", "二、2023年推进法治政府建设存在的不足和原因",
        "三、党政主要负责人履行推进法治建设第一责任人职责，加强法治政府建设的有关情况",
        "四、2024年推进法治政府建设的主要安排", "五、其他需要报告的情况"]


def headings(html: str) -> list[str]:
    """The report's headings (a draft's appendix of sources aside)."""
    found = [squash(visible_text(h)) for h in re.findall(r"<h[23][^>]*>.*?</h[23]>", html, flags=re.S)]
    return [h for h in found if not h.startswith("附：")]


def second_year(root: Path) -> None:
    """2024 started from 2023 with new-year, then filled in as a clerk would."""
    result = run_cli("new-year", "2024", cwd=root)
    assert result.returncode == 0, result.stderr
    (root / "data" / "2024" / "enforcement_cases.csv").write_text(
        "case_no,decided_on,kind\nEX-2024-001,2024-02-01,行政处罚\nEX-2024-002,2024-03-01,行政许可\n", encoding="utf-8")
    (root / "data" / "2024" / "follow_up.csv").write_text(
        "item,status,progress\n……（第一项安排）,已完成,\n……（第二项安排）,推进中,\n", encoding="utf-8")


@pytest.mark.parametrize("outline", ["five-item", "three-part"])
def test_a_new_body_goes_from_init_to_a_two_year_report_with_one_config(tmp_path, outline):
    root = tmp_path / "county"
    result = run_cli("init", str(root), "--body", "某某县教育局", "--outline", outline, "--year", "2023")
    assert result.returncode == 0, result.stderr
    second_year(root)
    # Its stubs are not a report: a final build refuses every one, by file and line; a draft builds them marked.
    final = run_cli("build", "--all", "--format", "html", cwd=root)
    assert final.returncode == 2 and "Unfinished text; nothing was published" in final.stderr
    stubs = ["measures", "shortcomings", "plans"] + (["leaders_duty", "other"] if outline == "five-item" else [])
    for year in (2023, 2024):
        for stub in stubs:
            assert f"data/{year}/narrative/{stub}.md, line 2: a stub still to fill in: “【待填写" in final.stderr, (year, stub)
        assert f"data/{year}/provenance.md, line 1: a stub still to fill in" in final.stderr
    assert not (root / "outputs" / "2023" / "report.html").exists()
    result = run_cli("build", "--all", "--format", "html", "--draft", cwd=root)
    assert result.returncode == 0, result.stdout + result.stderr
    html = {year: (root / "outputs" / str(year) / "report.html").read_text(encoding="utf-8") for year in (2023, 2024)}
    follow_up = "上年度工作措施落实情况"  # from the second year on: new-year carried 2023's plans into follow_up.csv
    if outline == "five-item":
        assert headings(html[2023]) == FIVE
        later = [h.replace("2024年", "2025年").replace("2023年", "2024年") for h in FIVE]
        assert headings(html[2024]) == later[:2] + [f"二、{follow_up}"] + [
            f"{n}{h.split('、', 1)[1]}" for n, h in zip(["三、", "四、", "五、", "六、"], later[2:])]
    else:
        assert headings(html[2023]) == ["一、主要工作措施和成效", "（一）行政执法", "二、主要存在问题", "三、下一阶段工作措施"]
        assert headings(html[2024]) == ["一、主要工作措施和成效", "（一）行政执法", f"二、{follow_up}", "三、主要存在问题",
                                        "四、下一阶段工作措施"]
    text = squash(visible_text(re.sub(r'<sup class="ar-fig-ref">.*?</sup>', "", html[2024])))  # (a draft's figure numbers aside)
    # 3 cases in 2023 (the example rows), 2 in 2024: 减少1件、下降33.3%.
    assert "全年办结行政执法案件2件，较上年减少1件、下降33.3%，其中行政处罚案件1件。" in text
    assert re.search(r'<p class="ar-unfinished" data-anchor="2024/narrative/\w+\.md:2">某某县教育局2024年【待填写：本部分的内容】。</p>',
                     html[2024])  # {{ body }} in the stub
    assert "某某县教育局2024年法治政府建设年度报告" in text


def test_a_part_whose_table_empties_leaves_the_report_and_its_executed_notebooks(tmp_path):
    """On warm kernels (a preview), a rebuild starts the sections whose inputs changed while their data is checked; a
    part the checked data then leaves out (its table emptied) is in neither the report nor the notebooks beside it,
    and comes back with its rows."""
    from annual_review.build.builder import build_year
    from annual_review.build.engine import KernelPool
    from annual_review.build.plan import BuildOptions

    root = tmp_path / "county"
    assert run_cli("init", str(root), "--body", "某某县教育局", "--outline", "three-part", "--year", "2023").returncode == 0
    second_year(root)
    config, lines = load_config(root / "report.yml"), []
    options = BuildOptions(formats=("html",), draft=True, log=lines.append)
    follow_up = root / "data" / "2024" / "follow_up.csv"
    rows = follow_up.read_text(encoding="utf-8")
    out = root / "outputs"
    sections, report = out / "2024" / "sections", out / "2024" / "report.html"
    with KernelPool(1, config.notebooks_dir) as kernels:
        build_year(config, 2024, root / "data", out, options, runner=kernels.start())
        with_rows = {p.name for p in sections.iterdir()}
        follow_up.write_text("item,status,progress\n", encoding="utf-8")  # every row deleted, the header kept
        build_year(config, 2024, root / "data", out, options, runner=kernels)
        assert "Left out for 2024: '上年度工作措施落实情况' (its table 'follow_up' has no rows)" in lines
        assert headings(report.read_text(encoding="utf-8")) == ["一、主要工作措施和成效", "（一）行政执法", "二、主要存在问题",
                                                                "三、下一阶段工作措施"]
        gone = with_rows - {p.name for p in sections.iterdir()}
        assert len(gone) == 1 and "follow" in gone.pop()
        follow_up.write_text(rows, encoding="utf-8")
        build_year(config, 2024, root / "data", out, options, runner=kernels)
    assert "二、上年度工作措施落实情况" in headings(report.read_text(encoding="utf-8"))
    assert {p.name for p in sections.iterdir()} == with_rows


def test_the_projects_notebooks_follow_the_house_rules(tmp_path):
    from test_notebooks import test_first_code_cell_holds_typed_commented_parameters, test_no_functions_or_classes_in_notebooks

    root = tmp_path / "body"
    assert run_cli("init", str(root), "--body", "某局", "--year", "2023").returncode == 0
    for notebook in sorted((root / "notebooks").glob("*.ipynb")):
        test_first_code_cell_holds_typed_commented_parameters(notebook)
        test_no_functions_or_classes_in_notebooks(notebook)


def test_init_refuses_a_folder_in_use(tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "keep.txt").write_text("mine", encoding="utf-8")
    result = run_cli("init", str(tmp_path / "x"), "--body", "某局")
    assert result.returncode == 2 and "not empty; nothing was written" in result.stderr


# --- the 2019 rules --------------------------------------------------------------------------------

def test_check_on_the_seed_warns_that_leaders_duty_is_missing():
    result = run_cli("check", "--year", "2020")
    assert result.returncode == 0
    lines = [line for line in result.stdout.splitlines() if "half-width" not in line]
    assert any("no section covers the required item “党政主要负责人履行推进法治建设第一责任人职责情况” (leaders_duty)" in line
               for line in lines)
    assert not any("(measures)" in line or "(shortcomings)" in line or "(plans)" in line for line in lines)
    assert "reminder: the 2020 report must be published before 1 April 2021 (by 2021-03-31;" in result.stdout


def test_check_on_a_five_item_project_finds_every_item_covered_and_every_stub(tmp_path):
    root = tmp_path / "body"
    assert run_cli("init", str(root), "--body", "某局", "--year", "2023").returncode == 0
    result = run_cli("check", "--year", "2023", cwd=root)
    assert result.returncode == 2  # its stubs are not finished text
    assert [line for line in result.stdout.splitlines() if line.startswith("warning")] == []  # the 2019 rules: covered
    errors = [line for line in result.stdout.splitlines() if line.startswith("error")]
    assert len(errors) == 6  # five parts' stubs and the provenance note's
    assert all("a stub still to fill in: “【待填写" in line for line in errors)


def test_an_empty_required_item_is_named(tmp_path):
    root = tmp_path / "body"
    assert run_cli("init", str(root), "--body", "某局", "--year", "2023").returncode == 0
    (root / "data" / "2023" / "narrative" / "leaders_duty.md").write_text("\n", encoding="utf-8")
    found = rules.check(load_config(root / "report.yml"), root / "data", 2023, today=dt.date(2024, 3, 1))
    assert any("“党政主要负责人履行推进法治建设第一责任人职责情况” (leaders_duty) is empty" in line for line in found)
    assert found[-1] == "reminder: the 2023 report must be published before 1 April 2024 (by 2024-03-31; 30 day(s) left)"


def test_covers_names_only_the_rules_items(tmp_path):
    config = tmp_path / "report.yml"
    config.write_text(CONFIG.read_text(encoding="utf-8").replace("covers: plans", "covers: plan").replace(
        "notebooks: notebooks", f"notebooks: {NOTEBOOKS}"), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"covers \['plan'\]: each must be one of"):
        load_config(config, trusted=(NOTEBOOKS,))


# --- year-aware config -----------------------------------------------------------------------------

def test_titles_and_headings_name_the_year_and_nothing_else(tmp_path):
    config = tmp_path / "report.yml"
    text = CONFIG.read_text(encoding="utf-8").replace("notebooks: notebooks", f"notebooks: {NOTEBOOKS}")
    config.write_text(text.replace("heading: 下一阶段工作措施", 'heading: "{next_year}年工作安排"'), encoding="utf-8")
    loaded = load_config(config, trusted=(NOTEBOOKS,))
    plans = next(s for s in loaded.all_sections() if "plans" in s.covers)
    assert loaded.heading(plans, 2020) == "2021年工作安排" and loaded.heading(plans, 2023) == "2024年工作安排"
    assert loaded.index_title() == "广州市从化区教育局法治政府建设情况报告"  # the title without its year
    config.write_text(text.replace("heading: 下一阶段工作措施", 'heading: "{years}年工作安排"'), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"names \['years'\]; it may name \{year\}, \{prev_year\}, \{next_year\} and \{body\}"):
        load_config(config, trusted=(NOTEBOOKS,))


def test_the_body_and_params_reach_notebooks_and_narratives(tmp_path):
    from conftest import small_project

    root = small_project(tmp_path, [("甲", "narrative.ipynb", {})], config="params: {contact_office: 法制科}\n")
    (root / "data" / "2021" / "narrative" / "item1.md").write_text(
        "{{ body }}{{ year }}年工作，{{ next_year }}年继续；由{{ params.get('contact_office') }}负责。\n", encoding="utf-8")
    assert run_cli("build", "--format", "html", "--output-dir", str(tmp_path / "out"), cwd=root).returncode == 0
    text = squash(visible_text((tmp_path / "out" / "2021" / "report.html").read_text(encoding="utf-8")))
    assert "某局2021年工作，2022年继续；由法制科负责。" in text


# --- the figure API --------------------------------------------------------------------------------

def test_a_figure_gives_this_year_last_year_and_the_change_in_one_call():
    approved = ar.figure(DATA, 2021, "licence_decisions", where={"decision": "批准"}, label="批准", unit="所")
    assert (approved.now, approved.last) == (23, 29)  # data/README.md: 1 + 22 and 2 + 27
    assert approved.change == "较上年减少6所、下降20.7%"
    loans = ar.figure(DATA, 2021, "student_loans", unit="人")
    assert (loans.now, loans.last, loans.change) == (424, 424, "与上年持平")
    first = ar.figure(DATA, 2019, "student_loans", unit="人")
    assert (first.now, first.last, first.change) == (398, None, "")  # 2019 is the first year
    assert tuple(approved) == ("批准", "所", 23, 29)  # a row of show_changes as it is
    assert render_text("共{{ f }}所{{ f | change(prefix='，') }}，上年{{ f.last }}所", {"f": approved}) == \
        "共23所，较上年减少6所、下降20.7%，上年29所\n"


def test_where_takes_lists_ranges_and_functions():
    inspections = ar.load_table(DATA, 2020, "tutoring_inspections")
    assert ar.total(inspections, where={"organiser_level": ["区级", "镇街级"]}) == 27  # 3 + 24
    assert ar.total(inspections, "staff_deployed", where={"organiser_level": ["区级"]}) == \
        ar.total(inspections, "staff_deployed", where={"organiser_level": "区级"})
    ranged = ar.total(inspections, where={"rectification_notices": range(1, 100)})
    assert ranged == int((inspections["rectification_notices"] >= 1).sum())
    with pytest.raises(DataError, match="must give True or False"):
        ar.select(inspections, where={"organiser_level": len})


@pytest.mark.parametrize("call, message", [
    (lambda t: ar.total(t, "staff"), "total: no column 'staff'"),
    (lambda t: ar.tally(t, by=["level"]), "tally: no column ['level']"),
    (lambda t: ar.select(t, where={"level": "区级"}), "no column ['level']"),
    (lambda t: ar.select(t, where=["区级"]), "where= must map column names"),
    (lambda t: ar.figure(DATA, 2020, "tutoring_inspections", "staff"), "figure: table 'tutoring_inspections' has no column 'staff'"),
    (lambda t: ar.headline(pd.DataFrame({"year": [2020], "name": ["x"], "v": [1], "u": ["个"]}), 2020), "headline: the table has no column"),
])
def test_wrong_column_names_are_plain_errors(call, message):
    with pytest.raises(AnnualReviewError) as caught:
        call(ar.load_table(DATA, 2020, "tutoring_inspections"))
    assert message in str(caught.value)


def test_comparison_tables_and_trends_take_other_column_names_and_labels():
    from annual_review.notebook.charts import trend_chart
    from annual_review.notebook.elements import comparison_table

    table = comparison_table([("案件", "件", 12, 10)], 2023, labels={"item": "指标", "change": "同比"})
    assert list(table.columns) == ["指标", "2023年", "2022年", "同比"]
    assert table.iloc[0].tolist() == ["案件（件）", 12, 10, "增加2件、增长20%"]
    history = pd.DataFrame({"year": [2022, 2023], "指标": ["案件", "案件"], "数": [10, 12], "单位": ["件", "件"]})
    fig = trend_chart(history, title="历年", panel="指标", value="数", unit="单位")
    assert fig.alt == "历年。案件：2022年10件，2023年12件。"
    assert ar.headline(history, 2023, label="指标", value="数", unit="单位") == [("案件", "件", 12, 10)]


def test_the_shipped_notebooks_use_the_figure_helper_and_got_shorter():
    for name in ("10-party-leadership.ipynb", "50-dispute-resolution.ipynb", "70-tutoring-governance.ipynb"):
        source = "".join(c.source for c in nbformat.read(NOTEBOOKS / name, as_version=4).cells if c.cell_type == "code")
        assert "ar.figure(" in source and "_last_year" not in source and "load_previous" not in source


# --- new-year for any outline ----------------------------------------------------------------------

def test_new_year_takes_the_plans_from_the_section_that_covers_them(tmp_path):
    root = tmp_path / "body"
    assert run_cli("init", str(root), "--body", "某局", "--year", "2023").returncode == 0
    (root / "data" / "2023" / "narrative" / "plans.md").write_text("1. 完善行政执法公示制度。\n2. 开展普法宣传。\n", encoding="utf-8")
    result = run_cli("new-year", "2024", cwd=root)
    assert result.returncode == 0 and "warning" not in result.stdout
    follow_up = (root / "data" / "2024" / "follow_up.csv").read_text(encoding="utf-8").splitlines()
    assert follow_up[1:] == ["完善行政执法公示制度。,,", "开展普法宣传。,,"]
    assert "【待填写：2024年各登记表的数据来源" in (root / "data" / "2024" / "provenance.md").read_text(encoding="utf-8")


def test_new_year_warns_when_there_is_nothing_to_carry_forward(tmp_path):
    root = tmp_path / "body"
    assert run_cli("init", str(root), "--body", "某局", "--year", "2023").returncode == 0
    (root / "data" / "2023" / "narrative" / "plans.md").write_text("明年继续努力。\n", encoding="utf-8")
    result = run_cli("new-year", "2024", cwd=root)
    assert result.returncode == 0 and "plans.md: no plan items found" in result.stdout
    result = run_cli("new-year", "2025", "--plans", "nowhere", cwd=root)
    assert "nowhere.md: no such narrative" in result.stdout


# --- small fixes -----------------------------------------------------------------------------------

def test_papermill_reads_every_parameters_cell_cleanly():
    from papermill.translators import PythonTranslator

    from annual_review.core.parameters import declared_parameters

    templates = Path(ar.__file__).parent / "templates" / "project"
    for notebook in [*sorted(NOTEBOOKS.glob("*.ipynb")), *sorted(templates.glob("*.ipynb"))]:
        cell = next(c for c in nbformat.read(notebook, as_version=4).cells if "parameters" in c.metadata.get("tags", []))
        assert {p.name for p in PythonTranslator.inspect(cell)} == set(declared_parameters(notebook)), notebook.name
    result = run_cli("check", "--year", "2020")
    assert "Papermill cannot read" not in result.stdout


def test_limits_are_written_as_a_clerk_reads_them(tmp_path):
    from annual_review.registers.schemas import table_specs

    column = table_specs(DATA)["preschool_aid"].column("amount_yuan")
    assert "不大于1万亿" in column.expectation() and "e+" not in column.expectation()


def test_the_index_is_headed_by_the_configs_title(built_2020):
    index = (built_2020["out"] / "index.html").read_text(encoding="utf-8")
    assert "<h1>广州市从化区教育局法治政府建设情况报告</h1>" in index
    assert str(REPO)  # (the config's title pattern with its year left out)

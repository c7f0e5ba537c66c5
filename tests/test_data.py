"""Loading the tables a bureau keeps, typed as tables.yml declares, with every problem named."""

import shutil

import pandas as pd
import pytest

import annual_review as ar
from annual_review.registers import checking
from annual_review.registers import reading as data
from annual_review.core.exceptions import DataError
from conftest import DATA


@pytest.fixture
def data_dir(tmp_path):
    """A writable copy of the shipped data."""
    target = tmp_path / "data"
    shutil.copytree(DATA, target)
    return target


def test_the_2020_registers_add_up_to_the_published_figures():
    # 2020 report: 审批了1所九年一贯制民办学校筹设,1所民办幼儿园筹设,10所民办幼儿园设立,17所民办教育培训机构设立
    licences = ar.load_table(DATA, 2020, "licence_decisions")
    approvals = ar.tally(licences, by=["stage", "school_type"], where={"decision": "批准"})
    assert [tuple(r) for r in approvals.itertuples(index=False)] == [
        ("筹设", "九年一贯制民办学校", 1),
        ("筹设", "民办幼儿园", 1),
        ("设立", "民办幼儿园", 10),
        ("设立", "民办教育培训机构", 17),
    ]
    # 全年资助…2600多人次,资助资金共近70万元; 共为424多个各类大学生办理了助学贷款
    aid = ar.load_table(DATA, 2020, "preschool_aid")
    assert 2600 < ar.total(aid, "children") < 2700
    assert 600_000 < ar.total(aid, "amount_yuan") < 700_000
    assert ar.total(ar.load_table(DATA, 2020, "student_loans")) >= 424
    # 全区开展常态化治理行动3次,各镇(街)开展常态化管理行动24次,累计出动150多人次,整改通知书5份,承诺书8份
    inspections = ar.load_table(DATA, 2020, "tutoring_inspections")
    assert ar.total(inspections, where={"organiser_level": "区级"}) == 3
    assert ar.total(inspections, where={"organiser_level": "镇街级"}) == 24
    assert 150 <= ar.total(inspections, "staff_deployed") < 160
    assert ar.total(inspections, "rectification_notices") == 5
    assert ar.total(inspections, "pledges_signed") == 8
    assert ar.months_of(inspections, "held_on")[0] == 1 and ar.months_of(inspections, "held_on")[-1] == 10


def test_columns_are_typed_as_declared():
    inspections = ar.load_table(DATA, 2020, "tutoring_inspections")
    assert pd.api.types.is_datetime64_any_dtype(inspections["held_on"])
    assert pd.api.types.is_integer_dtype(inspections["staff_deployed"])
    assert list(inspections["organiser_level"].cat.categories) == ["区级", "镇街级"]


def test_years_are_the_folders_present(data_dir):
    assert ar.available_years(data_dir) == [2019, 2020, 2021]
    assert ar.resolve_year(data_dir) == 2021
    assert ar.resolve_year(data_dir, 0) == 2021
    assert ar.resolve_year(data_dir, 2020) == 2020
    with pytest.raises(DataError, match="no data for 2018"):
        ar.resolve_year(data_dir, 2018)


def test_every_bad_cell_is_reported_at_once_with_its_spreadsheet_row(data_dir):
    path = data_dir / "2020" / "tutoring_inspections.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    row2 = lines[1].split(",")
    row2[4] = "-3"  # staff_deployed: a negative count
    row2[2] = "省级"  # organiser_level: not a declared category
    lines[1] = ",".join(row2)
    row5 = lines[4].split(",")
    row5[1] = "2020/13/01"  # held_on: not a date
    lines[4] = ",".join(row5)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(DataError) as caught:
        ar.load_table(data_dir, 2020, "tutoring_inspections")
    problems = caught.value.problems
    assert len(problems) == 3
    assert any("row 2" in p and "staff_deployed" in p and "'-3'" in p for p in problems)
    assert any("row 2" in p and "organiser_level" in p and "省级" in p and "区级" in p for p in problems)
    assert any("row 5" in p and "held_on" in p and "YYYY-MM-DD" in p for p in problems)
    assert all(str(path) in p for p in problems)


def test_a_missing_column_names_the_expected_header(data_dir):
    path = data_dir / "2020" / "student_loans.csv"
    text = path.read_text(encoding="utf-8").replace("study_level", "level", 1)
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataError) as caught:
        ar.load_table(data_dir, 2020, "student_loans")
    message = str(caught.value)
    assert "missing column 「学历层次」" in message
    assert "column C「level」" in message and "did you mean 'study_level'" in message


def test_duplicate_keys_are_reported(data_dir):
    path = data_dir / "2020" / "licence_decisions.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    path.write_text("\n".join([*lines, lines[1]]) + "\n", encoding="utf-8")
    with pytest.raises(DataError) as caught:
        ar.load_table(data_dir, 2020, "licence_decisions")
    problems = caught.value.problems
    assert len(problems) == 2
    assert "row 2:" in problems[0] and f"row {len(lines) + 1}:" in problems[1]
    assert all("appears on more than one row" in p and "从教许〔2020〕1号" in p for p in problems)


def test_a_missing_file_is_named(data_dir):
    (data_dir / "2020" / "preschool_aid.csv").unlink()
    with pytest.raises(DataError, match=r"preschool_aid\.csv: .*missing: table 'preschool_aid'"):
        ar.load_table(data_dir, 2020, "preschool_aid")


def test_tally_keeps_the_declared_category_order_and_sums():
    aid = ar.load_table(DATA, 2020, "preschool_aid")
    by_category = ar.tally(aid, by=["family_category"], sums=["children"], count=None)
    assert list(by_category["family_category"]) == ["持有相关证件家庭的幼儿", "贫困家庭的幼儿"]
    assert by_category["children"].sum() == ar.total(aid, "children")


def test_data_readme_documents_every_declared_table_and_column():
    readme = (DATA / "README.md").read_text(encoding="utf-8")
    assert "illustrative" in readme and "published report" in readme
    for spec in data.table_specs(DATA).values():
        heading = f"### `{spec.file}`"
        assert heading in readme
        section = readme.split(heading, 1)[1].split("\n### ", 1)[0]
        for column in spec.columns:
            row = next((line for line in section.splitlines() if line.startswith(f"| `{column.name}` |")), None)
            assert row is not None, f"{spec.file}: column {column.name} is not documented"
            assert column.label in row and (column.unit or "—") in row


# Reading a year against the one before (issue #6).


def test_last_years_table_or_none_in_a_first_year():
    loans_2019 = ar.load_previous(DATA, 2020, "student_loans")
    assert len(loans_2019) == 398  # 2019's register (data/README.md)
    assert ar.load_previous(DATA, 2019, "student_loans") is None  # no 2018 folder
    assert ar.total(None) is None and ar.total(None, "amount_yuan") is None


def test_an_optional_table_a_year_does_not_keep_is_none_not_an_empty_year():
    assert ar.load_previous(DATA, 2021, "follow_up") is None  # 2020 kept no follow-up list


def test_history_has_a_year_column_and_stops_at_the_year():
    history = ar.load_history(DATA, 2020, "key_figures")
    assert sorted(history["year"].unique()) == [2019, 2020]
    assert list(history.columns[:2]) == ["year", "indicator"]
    with pytest.raises(DataError, match="no year up to 2020 keeps table 'follow_up'"):
        ar.load_history(DATA, 2020, "follow_up")  # the first follow-up list is 2021's


def test_headline_figures_with_last_year_and_new_indicators():
    history = ar.load_history(DATA, 2021, "key_figures")
    rows = ar.headline(history, 2020, ["助学贷款办理人数", "规范培训业务承诺书份数"])
    assert rows == [("助学贷款办理人数", "人", 424, 398), ("规范培训业务承诺书份数", "份", 8, None)]
    # 2019 did not keep the pledges: its overview leaves them out rather than show a zero.
    assert [r[0] for r in ar.headline(history, 2019, ["规范培训业务承诺书份数", "助学贷款办理人数"])] == ["助学贷款办理人数"]
    assert ar.headline(history, 2019, ["助学贷款办理人数"]) == [("助学贷款办理人数", "人", 398, None)]
    with pytest.raises(DataError, match="'民办学校批准数'"):
        ar.headline(history, 2021, ["民办学校批准数"])  # a misspelt indicator in the config


def test_a_register_started_later_is_not_asked_of_earlier_years(data_dir):
    """`since:` in tables.yml: 2019 need not keep a register begun in 2020, and has nothing to compare."""
    declarations = data_dir / "tables.yml"
    declarations.write_text(declarations.read_text(encoding="utf-8").replace(
        "  student_loans:\n    file: student_loans.csv\n", "  student_loans:\n    since: 2020\n    file: student_loans.csv\n"),
        encoding="utf-8")
    (data_dir / "2019" / "student_loans.csv").unlink()
    (data_dir / "2019" / "key_figures.csv").write_text(
        "\n".join(line for line in (data_dir / "2019" / "key_figures.csv").read_text(encoding="utf-8").splitlines()
                  if not line.startswith("助学贷款办理人数")) + "\n", encoding="utf-8")
    assert checking.validate_year(data_dir, 2019)[1] == []
    assert ar.load_previous(data_dir, 2020, "student_loans") is None
    # From 2020 on it is required as before.
    (data_dir / "2020" / "student_loans.csv").unlink()
    assert any("student_loans.csv" in str(p) for p in checking.validate_year(data_dir, 2020)[1])


def test_since_must_be_a_year(data_dir):
    declarations = data_dir / "tables.yml"
    declarations.write_text(declarations.read_text(encoding="utf-8").replace(
        "  student_loans:\n", "  student_loans:\n    since: 二〇二〇\n"), encoding="utf-8")
    with pytest.raises(DataError, match="'since' must be a year"):
        ar.load_table(data_dir, 2020, "student_loans")

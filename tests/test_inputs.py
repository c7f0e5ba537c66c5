"""Data as offices really save it: encodings, workbooks, typing slips — each loaded the same or refused plainly."""

from __future__ import annotations

import re
import shutil
import zipfile
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from annual_review.apps import cli
from annual_review.registers import reading as data
from annual_review.registers.rows import total
from annual_review.registers.schemas import table_specs
from annual_review.registers.workbook import write_workbook
from conftest import DATA, FIXTURES, copy_2020_data

YEAR = 2020
TABLES = ["licence_decisions", "preschool_aid", "student_loans", "tutoring_inspections", "key_figures"]


@pytest.fixture
def data_dir(tmp_path):
    return copy_2020_data(tmp_path / "data")


def validate(data_dir: Path, capsys) -> tuple[int, str]:
    code = cli.main(["validate", "--data-dir", str(data_dir), "--year", str(YEAR)])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def csv_path(data_dir: Path, name: str) -> Path:
    return data_dir / str(YEAR) / f"{name}.csv"


def edit_csv(data_dir: Path, name: str, edit) -> None:
    path = csv_path(data_dir, name)
    lines = path.read_text(encoding="utf-8").splitlines()
    path.write_text("\n".join(edit(lines)) + "\n", encoding="utf-8")


def set_cell(data_dir: Path, name: str, row: int, column: str, value: str) -> None:
    """Put ``value`` in spreadsheet row ``row`` (header = 1) of ``column``."""

    def edit(lines):
        header = lines[0].split(",")
        fields = lines[row - 1].split(",")
        fields[header.index(column)] = value
        lines[row - 1] = ",".join(fields)
        return lines

    edit_csv(data_dir, name, edit)


def to_workbook(data_dir: Path) -> Path:
    """The year's CSV tables moved into one workbook, as the entry template would hold them."""
    tables = {name: data.load_table(data_dir, YEAR, name) for name in TABLES}
    path = write_workbook(data.workbook_path(data_dir, YEAR), table_specs(data_dir), YEAR, tables)
    for name in TABLES:
        csv_path(data_dir, name).unlink()
    return path


def with_sheet(data_dir: Path, title: str, change) -> None:
    path = to_workbook(data_dir)
    book = openpyxl.load_workbook(path)
    change(book, book[title])
    book.save(path)


def set_cached_formula(path: Path, sheet_index: int, cell: str, formula: str, cached: str | None) -> None:
    """Give a cell a formula and (as Excel would have saved it) its computed value; openpyxl cannot compute."""
    with zipfile.ZipFile(path) as source:
        members = {n: source.read(n) for n in source.namelist()}
    name = f"xl/worksheets/sheet{sheet_index}.xml"
    xml = members[name].decode("utf-8")
    value = f"<v>{cached}</v>" if cached is not None else ""
    xml, count = re.subn(rf'<c r="{cell}"([^>]*?)(?:/>|>.*?</c>)', rf'<c r="{cell}"><f>{formula}</f>{value}</c>', xml, count=1)
    assert count == 1
    members[name] = xml.encode("utf-8")
    with zipfile.ZipFile(path, "w") as target:
        for n, content in members.items():
            target.writestr(n, content)


# --- the same data, however it was saved -------------------------------------------------------


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030", "gbk"])
def test_csv_in_each_encoding_loads_to_identical_tables(data_dir, encoding):
    for name in TABLES:
        path = csv_path(data_dir, name)
        path.write_bytes(path.read_text(encoding="utf-8").encode(encoding))
    for name in TABLES:  # (the rows' numbers too: each row is on the same line as in the shipped file)
        pd.testing.assert_frame_equal(data.load_table(data_dir, YEAR, name), data.load_table(DATA, YEAR, name))


def test_a_workbook_loads_to_identical_tables(data_dir):
    to_workbook(data_dir)
    for name in TABLES:  # (the rows' numbers too: each row is on the same line as in the shipped file)
        pd.testing.assert_frame_equal(data.load_table(data_dir, YEAR, name), data.load_table(DATA, YEAR, name))


# --- what is normalised (documented in data/README.md) ------------------------------------------


def _aid_children(data_dir):
    return total(data.load_table(data_dir, YEAR, "preschool_aid"), "children")


def _first(d):
    return pd.read_csv(csv_path(d, "preschool_aid"))["children"].iloc[0]


@pytest.mark.parametrize(
    "case, change",
    [
        ("full-width digits", lambda d: set_cell(d, "preschool_aid", 2, "children", "".join(chr(ord(c) + 0xFEE0) for c in str(_first(d))))),
        ("surrounding spaces", lambda d: set_cell(d, "preschool_aid", 2, "children", f"  {_first(d)}\u3000")),
        ("thousands separator", lambda d: set_cell(d, "key_figures", 4, "value", '"697,530"')),
        ("blank rows", lambda d: edit_csv(d, "preschool_aid", lambda lines: [lines[0], "", ",,,,", *lines[1:], ""])),
        ("reordered columns", lambda d: _reorder(csv_path(d, "preschool_aid"))),
        ("Chinese column labels", lambda d: edit_csv(d, "preschool_aid", lambda l: ["幼儿园,学期,资助对象类别,资助人次（人次）,资助金额", *l[1:]])),
        ("slash and 年月日 dates", lambda d: (set_cell(d, "student_loans", 2, "handled_on", "2020/7/1"),
                                       set_cell(d, "student_loans", 3, "handled_on", "2020年7月1日"))),
    ],
)
def test_normalised_inputs_load_to_the_same_figures(data_dir, capsys, case, change):
    change(data_dir)
    code, output = validate(data_dir, capsys)
    assert code == 0, output
    assert _aid_children(data_dir) == _aid_children(DATA)
    for name in TABLES:
        changed, shipped = data.load_table(data_dir, YEAR, name), data.load_table(DATA, YEAR, name)
        pd.testing.assert_frame_equal(changed.reset_index(drop=True), shipped.reset_index(drop=True))
        # Each row keeps its number in the file: two blank lines put below the header move the rows down by two.
        shift = 2 if case == "blank rows" and name == "preschool_aid" else 0
        assert list(changed.index) == [n + shift for n in shipped.index] and changed.index.name == "行"


def _reorder(path: Path) -> None:
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame[list(reversed(frame.columns))].to_csv(path, index=False)


# --- the corpus of bad inputs --------------------------------------------------------------------


def _drop_column(name, column):
    def change(d):
        frame = pd.read_csv(csv_path(d, name), dtype=str, keep_default_na=False)
        frame.drop(columns=[column]).to_csv(csv_path(d, name), index=False)

    return change


def _rename_column(name, old, new):
    return lambda d: edit_csv(d, name, lambda lines: [lines[0].replace(old, new), *lines[1:]])


def _write_bytes(name, content: bytes):
    return lambda d: csv_path(d, name).write_bytes(content)


def _header_merged(book, sheet):
    sheet.merge_cells("A1:B1")


def _remove_sheet(book, sheet):
    book.remove(sheet)


def _formula_without_value(d):
    path = to_workbook(d)
    set_cached_formula(path, 4, "D2", "10*4", None)  # 学前教育资助发放登记: children in row 2


BAD = [
    # (case, change, fragments the message must hold)
    ("missing file", lambda d: csv_path(d, "student_loans").unlink(), ["student_loans.csv", "missing: table 'student_loans'"]),
    ("missing column", _drop_column("preschool_aid", "children"), ["preschool_aid.csv", "row 1", "missing column 「资助人次」"]),
    ("renamed column", _rename_column("student_loans", "study_level", "study_levl"),
     ["column C「study_levl」", "did you mean 'study_level'", "missing column 「学历层次」"]),
    ("extra column", lambda d: edit_csv(d, "key_figures", lambda l: [l[0] + ",note", *[x + "," for x in l[1:]]]),
     ["key_figures.csv", "column D「note」", "not a declared column"]),
    ("duplicate column", lambda d: edit_csv(d, "key_figures", lambda l: [l[0] + ",unit", *[x + ",份" for x in l[1:]]]),
     ["column D「unit」", "appears twice"]),
    ("wrong type", lambda d: set_cell(d, "tutoring_inspections", 3, "staff_deployed", "五"),
     ["tutoring_inspections.csv, row 3, column E「staff_deployed」出动人次: '五'", "whole number"]),
    ("decimal in a count", lambda d: set_cell(d, "tutoring_inspections", 4, "pledges_signed", "1.5"),
     ["row 4, column G「pledges_signed」规范培训业务承诺书: '1.5'", "whole number"]),
    ("negative count", lambda d: set_cell(d, "preschool_aid", 5, "children", "-40"),
     ["preschool_aid.csv, row 5, column D「children」资助人次: '-40'", "≥ 0"]),
    ("huge number", lambda d: set_cell(d, "preschool_aid", 6, "amount_yuan", "99999999999999999"),
     ["row 6, column E「amount_yuan」资助金额", "不大于"]),
    ("not a number at all", lambda d: set_cell(d, "preschool_aid", 6, "amount_yuan", "inf"), ["row 6, column E「amount_yuan」资助金额: 'inf'"]),
    ("date outside the year", lambda d: set_cell(d, "licence_decisions", 7, "decided_on", "2019-12-31"),
     ["licence_decisions.csv, row 7, column B「decided_on」决定日期: '2019-12-31'", "outside the report year 2020"]),
    ("impossible date", lambda d: set_cell(d, "licence_decisions", 8, "decided_on", "2020-02-30"),
     ["row 8, column B「decided_on」决定日期: '2020-02-30'", "YYYY-MM-DD"]),
    ("unknown category", lambda d: set_cell(d, "tutoring_inspections", 9, "organiser_level", "省级"),
     ["row 9, column C「organiser_level」组织层级: '省级'", "区级、镇街级"]),
    ("blank required cell", lambda d: set_cell(d, "licence_decisions", 10, "applicant", ""),
     ["row 10, column C「applicant」申请举办的学校或机构", "required"]),
    ("duplicate key", lambda d: edit_csv(d, "student_loans", lambda l: [*l, l[1]]),
     ["student_loans.csv, row 2:", "row 426:", "appears on more than one row"]),
    ("empty file", _write_bytes("key_figures", b""), ["key_figures.csv", "empty"]),
    ("header only, totals no longer match", lambda d: edit_csv(d, "preschool_aid", lambda l: l[:1]),
     ["key_figures.csv, row 3: 主要指标汇总 第3行 学前教育资助人次 = 2618，但学前教育资助发放登记 资助人次合计 0",
      "学前教育资助人次与资助发放登记一致", "must be equal"]),
    ("total does not match its breakdown", lambda d: set_cell(d, "key_figures", 8, "value", "150"),
     ["key_figures.csv, row 8: 主要指标汇总 第8行 治理行动出动人次 = 150，但校外培训机构常态化治理行动登记 出动人次合计 156"]),
    ("GBK file with an invalid byte", _write_bytes("key_figures", "indicator,value,unit\n学前教育资助人次,2618,人次\n".encode("gbk") + b"\xff\xfe,1,\n"),
     ["key_figures.csv", "row 3", "0xFF", "GB18030"]),
    ("UTF-16 file", _write_bytes("key_figures", "indicator,value,unit\n".encode("utf-16")), ["key_figures.csv", "UTF-16", "CSV UTF-8"]),
    ("value beyond the last column", lambda d: edit_csv(d, "key_figures", lambda l: [*l[:2], l[2] + ",多余", *l[3:]]),
     ["key_figures.csv, row 3, column D: '多余'", "beyond the last named column"]),
    ("merged header cells in Excel", lambda d: with_sheet(d, "学前教育资助发放登记", _header_merged),
     ["tables.xlsx, sheet '学前教育资助发放登记', row 1", "merged cells A1:B1"]),
    ("missing sheet", lambda d: with_sheet(d, "生源地信用助学贷款办理登记", _remove_sheet),
     ["tables.xlsx", "缺少“生源地信用助学贷款办理登记”", "neither a sheet of tables.xlsx nor student_loans.csv"]),
    ("formula with no saved result", _formula_without_value,
     ["tables.xlsx, sheet '学前教育资助发放登记', row 2, column D: '=10*4'", "no saved result"]),
    ("both a workbook and a CSV", lambda d: (to_workbook(d), shutil.copy(DATA / "2020" / "key_figures.csv", csv_path(d, "key_figures"))),
     ["key_figures.csv", "also sheet '主要指标汇总' of tables.xlsx", "keep one"]),
    ("not a workbook", lambda d: (to_workbook(d), data.workbook_path(d, YEAR).write_bytes(b"PK\x03\x04 not really")),
     ["tables.xlsx", "not a workbook Excel, WPS or LibreOffice saved"]),
    ("no folder for the year", lambda d: shutil.rmtree(d / "2020"), ["no year folders (such as 2020/)"]),
    ("malformed tables.yml", lambda d: (d / "tables.yml").write_text("tables: [oops\n", encoding="utf-8"), ["tables.yml", "not valid YAML"]),
    # Registers as offices keep them (issue #11): each refused in words a clerk understands.
    ("Excel error value in a text column", lambda d: set_cell(d, "licence_decisions", 3, "applicant", "#N/A"),
     ["licence_decisions.csv, row 3, column C「applicant」申请举办的学校或机构: '#N/A': Excel 错误值"]),
    ("Excel error value in a number column", lambda d: set_cell(d, "preschool_aid", 4, "amount_yuan", "#DIV/0!"),
     ["preschool_aid.csv, row 4, column E「amount_yuan」资助金额: '#DIV/0!'", "formula behind it failed"]),
    ("Excel error value in a workbook", lambda d: with_sheet(d, "主要指标汇总", lambda b, s: s.cell(row=3, column=2, value="#REF!")),
     ["tables.xlsx, sheet '主要指标汇总', row 3, column B「数值」: '#REF!': Excel 错误值"]),
    ("date as an Excel serial number", lambda d: set_cell(d, "tutoring_inspections", 5, "held_on", "43900"),
     ["tutoring_inspections.csv, row 5, column B「held_on」行动日期: '43900'", "43900 = 2020-03-10", "format the cell as a date"]),
    ("a total row that does not add up", lambda d: edit_csv(d, "preschool_aid", lambda l: [*l, "合计,,,2000,697530"]),
     ["preschool_aid.csv, row 50, column D「children」资助人次: '2000'", "合计行与所加各行之和不符：第50行“合计”为 2000，而第2–49行（48行数据）之和为 2618",
      "taken as the total: row 50 '合计'; added: rows 2–49"]),
    ("a subtotal that does not add up", lambda d: edit_csv(d, "preschool_aid", lambda l: [*l[:5], "小计,,,255,68210", *l[5:]]),
     ["preschool_aid.csv, row 6, column D「children」资助人次: '255'", "小计行与所加各行之和不符：第6行“小计”为 255，而第2–5行（4行数据）之和为 256"]),
    ("a rule broken within a row", lambda d: (_add_rule(d, "tutoring_inspections", "rectification_notices <= staff_deployed"),
                                              set_cell(d, "tutoring_inspections", 6, "rectification_notices", "99")),
     ["tutoring_inspections.csv, row 6: ", "责令整改通知书 = 99，出动人次 = ", "不满足规则 rectification_notices <= staff_deployed"]),
    ("a rule that is code, not a comparison", lambda d: _add_rule(d, "student_loans", "__import__('os').system('x')"),
     ["tables.yml: table 'student_loans'", "must compare two sides"]),
    ("two visible sheets for one table", lambda d: with_sheet(d, "学前教育资助发放登记", lambda b, s: setattr(b.copy_worksheet(s), "title", "preschool_aid")),
     ["tables.xlsx", "two visible sheets could both be table 'preschool_aid'", "'学前教育资助发放登记', 'preschool_aid'"]),
    ("the only sheet for a table is hidden", lambda d: with_sheet(d, "生源地信用助学贷款办理登记", lambda b, s: setattr(s, "sheet_state", "hidden")),
     ["tables.xlsx", "sheet '生源地信用助学贷款办理登记' is hidden, so it was not read"]),
    ("two workbooks for one year", lambda d: (to_workbook(d), shutil.copy(data.workbook_path(d, YEAR), d / "2020" / "tables.xlsm")),
     ["two workbooks for one year: tables.xlsx, tables.xlsm"]),
    ("cells merged across columns in the data", lambda d: with_sheet(d, "学前教育资助发放登记", lambda b, s: s.merge_cells("A5:B5")),
     ["sheet '学前教育资助发放登记', row 5, column A「幼儿园」", "merged across columns: unmerge them"]),
    ("a workbook saved with a .csv name", lambda d: shutil.copy(FIXTURES / "workbooks" / "tables-2020.xls", csv_path(d, "key_figures")),
     ["key_figures.csv", "a spreadsheet workbook named .csv"]),
    ("a damaged .xls", lambda d: (d / "2020" / "tables.xls").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1 damaged"),
     ["tables.xls", "the workbook cannot be read"]),
    ("a table kept in neither place", lambda d: (to_workbook(d), _remove_sheet_named(d, "主要指标汇总"), (d / "2020" / "key_figures.xls").write_bytes(b"x")),
     ["缺少“主要指标汇总”", "neither a sheet of tables.xlsx nor key_figures.csv", "found key_figures.xls"]),
    ("the same column twice once line breaks are ignored",
     lambda d: edit_csv(d, "key_figures", lambda l: [l[0] + ',"数\n值"', *[x + ",1" for x in l[1:]]]),
     ["key_figures.csv, row 1, column D「数值」", "appears twice"]),
    ("a header cell that is not a column and not a notes column", _rename_column("student_loans", "amount_yuan", "金额备注"),
     ["column D「金额备注」", "or a notes column: 备注"]),
    # Registers as offices shape them, second pass (issue #19): the real cause named, in the clerk's words.
    ("a named subtotal row that does not add up",
     lambda d: edit_csv(d, "preschool_aid", lambda l: [*l[:5], "春季学期小计,春季学期,贫困家庭的幼儿,255,68210", *l[5:]]),
     ["preschool_aid.csv, row 6, column D「children」资助人次: '255'", "第6行“春季学期小计”为 255，而第2–5行（4行数据）之和为 256",
      "taken as the subtotal: row 6 '春季学期小计'; added: rows 2–5"]),
    ("a total first under the header that does not add up", lambda d: edit_csv(d, "preschool_aid", lambda l: [l[0], "合计,,,2600,697530", *l[1:]]),
     ["第2行“合计”为 2600，而第3–50行（48行数据）之和为 2618"]),
    ("a units row that contradicts tables.yml", lambda d: edit_csv(d, "preschool_aid", lambda l: [l[0], ",,,（人次）,（万元）", *l[1:]]),
     ["preschool_aid.csv, row 2, column E「amount_yuan」: '（万元）'", "the units row says 万元, but tables.yml declares 元"]),
    ("a value under a column with no header", lambda d: edit_csv(d, "key_figures", lambda l: [l[0] + ",", *[x + ",x" for x in l[1:]]]),
     ["key_figures.csv, row 2, column D: 'x'", "a value under a column with no header"]),
    ("a rule in the clerk's words, broken", lambda d: (_add_rule(d, "tutoring_inspections", "责令整改通知书 ≤ 出动人次"),
                                                     set_cell(d, "tutoring_inspections", 6, "rectification_notices", "99")),
     ["tutoring_inspections.csv, row 6: 责令整改通知书 = 99，出动人次 = ", "不满足规则 责令整改通知书 ≤ 出动人次"]),
    ("a rule naming no column", lambda d: _add_rule(d, "student_loans", "办结件数 ≤ 受理件数"),
     ["tables.yml: table 'student_loans'", "names '办结件数', which is not a column", "受理编号（loan_no）"]),
]


def _add_rule(d: Path, table: str, rule: str) -> None:
    path = d / "tables.yml"
    quoted = "'" + rule.replace("'", "''") + "'"  # a YAML single-quoted string
    path.write_text(path.read_text(encoding="utf-8").replace(f"  {table}:\n", f"  {table}:\n    rules: [{quoted}]\n"),
                    encoding="utf-8")


def _remove_sheet_named(d: Path, title: str) -> None:
    path = data.workbook_path(d, YEAR)
    book = openpyxl.load_workbook(path)
    book.remove(book[title])
    book.save(path)


@pytest.mark.parametrize("case, change, fragments", BAD, ids=[case for case, _, _ in BAD])
def test_bad_input_is_refused_with_a_plain_message(data_dir, capsys, case, change, fragments):
    change(data_dir)
    code, output = validate(data_dir, capsys)
    assert code == 2, output
    assert "Traceback" not in output
    for fragment in fragments:
        assert fragment in output, f"{fragment!r} not in:\n{output}"


def test_every_problem_is_listed_at_once(data_dir, capsys):
    set_cell(data_dir, "tutoring_inspections", 3, "staff_deployed", "-1")
    set_cell(data_dir, "licence_decisions", 4, "stage", "审批")
    csv_path(data_dir, "student_loans").unlink()
    code, output = validate(data_dir, capsys)
    assert code == 2
    # The three, and the headline figure the bad count no longer adds up to (checked with what could be read).
    assert "4 problem(s)" in output
    assert "tutoring_inspections.csv, row 3" in output and "licence_decisions.csv, row 4" in output
    assert "student_loans.csv" in output and "出动人次合计 143（该表另有问题" in output


def test_formulas_with_saved_results_are_read_as_their_values(data_dir, capsys):
    path = to_workbook(data_dir)
    first = int(pd.read_csv(DATA / "2020" / "preschool_aid.csv")["children"].iloc[0])
    set_cached_formula(path, 4, "D2", f"{first - 6}+6", str(first))  # as Excel saves =40+6 → 46
    code, output = validate(data_dir, capsys)
    assert code == 0, output
    assert _aid_children(data_dir) == _aid_children(DATA)


def test_columns_are_named_by_the_letters_excel_shows():
    """A problem names its column as Excel's header shows it: A … Z, then AA, and XFD, a sheet's last column."""
    from annual_review.registers.layout import letters

    assert [letters(i) for i in (0, 4, 25, 26, 27, 51, 52, 701, 702, 16383)] == [
        "A", "E", "Z", "AA", "AB", "AZ", "BA", "ZZ", "AAA", "XFD"]
